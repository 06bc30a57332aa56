//! The helpers: what the tmux server runs for the keeper while no caller
//! is there. The log writer (`pipe-pane`), `restart-due` (a restart
//! policy's `pane-died` hook), `restart` and `expire` (tmux's timers,
//! `run-shell -d`). They run as a program the keeper is told of
//! ([`Keeper::helper_program`]; by default the current executable), called
//! as
//!
//! ```text
//! PROGRAM __tmux-wire-helper VERSION [-S SOCKET] COMMAND ARGS...
//! ```
//!
//! which that program hands to [`helper_main`] first thing in its `main`
//! (the `tmux-wire` binary does; so can any program that embeds the
//! keeper). `VERSION` is [`HELPER_VERSION`]: a helper of another format
//! refuses. [`Keeper::start`] first asks the program
//! (`... VERSION hello`) and refuses to start anything with a program that
//! does not answer as a helper of the same format
//! ([`KeeperError::HelperUnusable`]).
//!
//! A helper's failure is kept in `NAME.helper-errors` beside the log, one
//! line each, where `status` reads the last ([`ProcessInfo::error`]): the
//! helper writes its own there; the shell line tmux runs writes there when
//! the program could not run at all, or failed without saying why (the log
//! writer's shell sends its standard error there, so the file is there,
//! maybe empty, while a log writer runs). Nothing
//! reaches tmux, which would show a failed `run-shell`'s output in a pane.
//!
//! [`ProcessInfo::error`]: super::ProcessInfo::error

use super::command::{format_escape, sh_quote};
use super::{log, Keeper, KeeperError};
use crate::protocol::{Command, PaneId};
use crate::server::SocketSpec;
use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

/// The first argument of a helper invocation, which no program's own
/// arguments are expected to begin with.
pub const HELPER_ARG: &str = "__tmux-wire-helper";

/// The format of helper invocations (their arguments, and what they read
/// and write on a session). A helper asked for another refuses, and
/// [`Keeper::start`] refuses a program that speaks another.
pub const HELPER_VERSION: u32 = 1;

/// How long a program may take to answer `hello`.
const HELLO_WITHIN: Duration = Duration::from_secs(10);

/// A helper's error file beyond this size starts again.
const ERRORS_MAX: u64 = 64 << 10;

/// Programs that answered `hello` to a keeper and its clones (path and
/// modification time).
pub(super) type CheckedHelpers = std::sync::Arc<Mutex<Vec<(PathBuf, Option<SystemTime>)>>>;

/// Run the helper this process was started as, if it was: returns `None`
/// when the arguments are not a helper invocation (the program goes on
/// with its own work), else the helper's exit status, which `main` returns.
///
/// A program that embeds the keeper calls this first thing in `main`, so
/// that the tmux server can run it as the keeper's helpers (log writer,
/// restarts, time limits); see the module docs of [`crate::keeper`].
///
/// ```no_run
/// fn main() -> std::process::ExitCode {
///     if let Some(code) = tmux_wire::keeper::helper_main() {
///         return code;
///     }
///     // ... the program's own work, which may use `Keeper` ...
///     std::process::ExitCode::SUCCESS
/// }
/// ```
pub fn helper_main() -> Option<ExitCode> {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let (first, rest) = args.split_first()?;
    if first != HELPER_ARG {
        return None;
    }
    let Some((version, rest)) = rest.split_first() else {
        eprintln!("{HELPER_ARG}: no format version given");
        return Some(ExitCode::from(2));
    };
    let version = version.to_string_lossy();
    if rest.first().is_some_and(|c| c == "hello") {
        // Answered whatever was asked: the asker tells the formats apart.
        println!("tmux-wire-helper {HELPER_VERSION}");
        return Some(if version == HELPER_VERSION.to_string() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(3)
        });
    }
    if version != HELPER_VERSION.to_string() {
        eprintln!(
            "this program runs tmux-wire helpers of format {HELPER_VERSION}, not {version} \
             (a keeper of another tmux-wire version installed this helper)"
        );
        return Some(ExitCode::from(3));
    }
    Some(run(rest))
}

/// The spellings of the helpers before [`HELPER_ARG`] (`tmux-wire [-S
/// SOCKET] log-sink|restart-due|restart|expire ...`), which hooks and
/// timers set by an older `tmux-wire` still run: for the `tmux-wire`
/// binary only (a program's own arguments could look like these).
#[doc(hidden)]
pub fn legacy_helper_main() -> Option<ExitCode> {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let command = match args.first() {
        Some(s) if s == "-S" => args.get(2),
        first => first,
    }?;
    ["log-sink", "restart-due", "restart", "expire"]
        .iter()
        .any(|c| command == c)
        .then(|| run(&args))
}

/// A helper's command line (after the format version).
#[derive(Debug, PartialEq)]
enum Invocation {
    LogSink {
        pane: Option<String>,
        limits: log::Limits,
        path: PathBuf,
    },
    RestartDue {
        name: String,
    },
    Restart {
        name: String,
        run: String,
    },
    Expire {
        name: String,
        run: String,
        grace: Duration,
    },
}

/// `[-S SOCKET] COMMAND ARGS...`: the socket and the invocation.
fn parse(args: &[OsString]) -> Result<(Option<PathBuf>, Invocation), String> {
    let mut socket = None;
    let mut command = None;
    let mut positional: Vec<&OsStr> = Vec::new();
    let mut flags: Vec<(&str, String)> = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |flag: &str| {
            args.next()
                .and_then(|v| v.to_str())
                .map(str::to_string)
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match arg.to_str() {
            Some("-S") if command.is_none() => {
                socket = Some(PathBuf::from(args.next().ok_or("-S needs a value")?))
            }
            Some(flag @ ("--pane" | "--max-bytes" | "--keep" | "--run" | "--grace"))
                if command.is_some() =>
            {
                flags.push((flag, value(flag)?));
            }
            Some(c) if command.is_none() => command = Some(c.to_string()),
            _ if command.is_some() => positional.push(arg),
            _ => return Err(format!("{arg:?} is not a helper command")),
        }
    }
    let flag = |name: &str| flags.iter().rev().find(|(f, _)| *f == name).map(|(_, v)| v);
    let need = |name: &str| flag(name).ok_or_else(|| format!("{name} is missing"));
    let one = |what: &str| match positional.as_slice() {
        [one] => one
            .to_str()
            .map(str::to_string)
            .ok_or_else(|| format!("the {what} is not UTF-8")),
        _ => Err(format!("one {what} expected")),
    };
    let invocation = match command.as_deref() {
        Some("log-sink") => Invocation::LogSink {
            pane: flag("--pane").cloned(),
            limits: log::Limits {
                max_bytes: need("--max-bytes")?
                    .parse()
                    .map_err(|_| "--max-bytes: not a number")?,
                keep: need("--keep")?
                    .parse()
                    .map_err(|_| "--keep: not a number")?,
            },
            path: match positional.as_slice() {
                [path] => PathBuf::from(path),
                _ => return Err("one log file expected".into()),
            },
        },
        Some("restart-due") => Invocation::RestartDue { name: one("name")? },
        Some("restart") => Invocation::Restart {
            name: one("name")?,
            run: need("--run")?.clone(),
        },
        Some("expire") => Invocation::Expire {
            name: one("name")?,
            run: need("--run")?.clone(),
            grace: need("--grace")?
                .strip_suffix("ms")
                .and_then(|ms| ms.parse().ok())
                .map(Duration::from_millis)
                .ok_or("--grace: say MILLISECONDSms")?,
        },
        Some(other) => return Err(format!("{other:?} is not a helper command")),
        None => return Err("no helper command given".into()),
    };
    Ok((socket, invocation))
}

/// Run a helper: `[-S SOCKET] COMMAND ARGS...`.
fn run(args: &[OsString]) -> ExitCode {
    let (socket, invocation) = match parse(args) {
        Ok(parsed) => parsed,
        Err(e) => {
            eprintln!("tmux-wire helper: {e}");
            return ExitCode::from(2);
        }
    };
    let spec = socket.map_or(SocketSpec::WireDefault, SocketSpec::Path);
    if let Invocation::LogSink { pane, limits, path } = invocation {
        let socket = spec.resolve().ok();
        let written = log::NudgingStdin::new().and_then(|input| {
            log::sink_synced(input.with_sync(&path), &path, limits, |failure| {
                if let (Some(socket), Some(pane)) = (&socket, &pane) {
                    super::writer::report_log_writer(socket, pane, failure);
                }
            })
        });
        return match written {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                let line = format!("log writer: {}: {e}", path.display());
                record_failure(&errors_path(&path), &line);
                ExitCode::FAILURE
            }
        };
    }
    let keeper = match Keeper::new(&spec) {
        Ok(keeper) => keeper.running_as_helper(),
        Err(e) => {
            eprintln!("tmux-wire helper: {e}");
            return ExitCode::FAILURE;
        }
    };
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        eprintln!("tmux-wire helper: cannot start a runtime");
        return ExitCode::FAILURE;
    };
    let (name, failed) = runtime.block_on(async {
        match invocation {
            Invocation::RestartDue { name } => {
                let failed = keeper.restart_due(&name).await.err();
                (name, failed.map(|e| format!("restart: {e}")))
            }
            Invocation::Restart { name, run } => {
                let failed = keeper.restart_now(&name, &run).await.err();
                (name, failed.map(|e| format!("restart: {e}")))
            }
            Invocation::Expire { name, run, grace } => {
                let failed = keeper.expire(&name, &run, grace).await.err();
                (name, failed.map(|e| format!("kill-after: {e}")))
            }
            Invocation::LogSink { .. } => unreachable!("handled above"),
        }
    });
    match failed {
        None => ExitCode::SUCCESS,
        // Recorded where `status` reads it: done, as far as tmux goes.
        Some(line) if record_failure(&keeper.helper_errors_path(&name), &line) => ExitCode::SUCCESS,
        Some(line) => {
            eprintln!("{line}");
            ExitCode::FAILURE
        }
    }
}

/// The file of helper failures beside the log `log`.
fn errors_path(log: &Path) -> PathBuf {
    log.with_extension("helper-errors")
}

/// Add `line` (on one line) to the helper failures in `path`; whether it
/// was written.
fn record_failure(path: &Path, line: &str) -> bool {
    if std::fs::metadata(path).is_ok_and(|m| m.len() > ERRORS_MAX) {
        let _ = std::fs::remove_file(path);
    }
    let line = line.replace(['\n', '\r'], " ");
    log::open_append(path)
        .and_then(|mut f| f.write_all(format!("{}\n", line.trim_end()).as_bytes()))
        .is_ok()
}

/// The last failure recorded in the helper failures `path`, if any.
fn last_failure(path: &Path) -> Option<String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = log::open_read(path).ok()?;
    let len = file.metadata().ok()?.len();
    file.seek(SeekFrom::Start(len.saturating_sub(4096))).ok()?;
    let mut tail = Vec::new();
    file.take(4096).read_to_end(&mut tail).ok()?;
    let text = String::from_utf8_lossy(&tail);
    text.lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(str::to_string)
}

/// The last helper failure of each of `logs` (log paths) that has one,
/// read off the async runtime.
pub(super) async fn last_failures(logs: Vec<String>) -> Vec<(String, String)> {
    tokio::task::spawn_blocking(move || {
        logs.into_iter()
            .filter_map(|log| {
                let failure = last_failure(&errors_path(Path::new(&log)))?;
                Some((log, failure))
            })
            .collect()
    })
    .await
    .unwrap_or_default()
}

/// Why `program` cannot be the keeper's helper.
fn unusable(program: &Path, reason: impl Into<String>) -> KeeperError {
    KeeperError::HelperUnusable {
        program: program.to_path_buf(),
        reason: reason.into(),
    }
}

/// Ask `program` whether it runs helpers of [`HELPER_VERSION`].
async fn hello(program: &Path) -> Result<(), KeeperError> {
    let mut command = tokio::process::Command::new(program);
    command
        .arg(HELPER_ARG)
        .arg(HELPER_VERSION.to_string())
        .arg("hello")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    // At most a few KiB of what it says are read: a program that is no
    // helper may print without end (its pipes then close on it).
    let answer = async {
        use tokio::io::AsyncReadExt;
        const CAP: u64 = 4096;
        let mut child = command.spawn()?;
        let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
        let (out, err) = (child.stdout.take(), child.stderr.take());
        let read_out = async {
            if let Some(out) = out {
                out.take(CAP).read_to_end(&mut stdout).await?;
            }
            Ok::<_, std::io::Error>(())
        };
        let read_err = async {
            if let Some(err) = err {
                err.take(CAP).read_to_end(&mut stderr).await?;
            }
            Ok::<_, std::io::Error>(())
        };
        let (read_out, read_err) = tokio::join!(read_out, read_err);
        read_out?;
        read_err?;
        let status = child.wait().await?;
        Ok::<_, std::io::Error>(std::process::Output {
            status,
            stdout,
            stderr,
        })
    };
    let output = match tokio::time::timeout(HELLO_WITHIN, answer).await {
        Ok(Ok(output)) => output,
        Ok(Err(e)) => return Err(unusable(program, format!("it cannot be run: {e}"))),
        Err(_) => {
            return Err(unusable(
                program,
                format!("it did not answer within {HELLO_WITHIN:?}"),
            ))
        }
    };
    let answer = String::from_utf8_lossy(&output.stdout);
    let answer = answer.lines().next().unwrap_or("").trim();
    match answer.strip_prefix("tmux-wire-helper ") {
        Some(v) if v == HELPER_VERSION.to_string() && output.status.success() => Ok(()),
        Some(v) => Err(unusable(
            program,
            format!("it runs helpers of format {v}, this keeper needs format {HELPER_VERSION}"),
        )),
        None => {
            let said = String::from_utf8_lossy(&output.stderr);
            let said = said.lines().next().unwrap_or("").trim();
            Err(unusable(
                program,
                format!(
                    "it does not answer as a helper ({}{})",
                    output.status,
                    if said.is_empty() {
                        String::new()
                    } else {
                        format!(", saying {said:?}")
                    }
                ),
            ))
        }
    }
}

/// The absolute path of `program`: as it is when it has a `/`, else found
/// on `PATH` (an executable file).
fn resolve(program: &Path) -> Result<PathBuf, KeeperError> {
    use std::os::unix::fs::PermissionsExt;
    if program.as_os_str().is_empty() {
        return Err(unusable(program, "the path is empty"));
    }
    if program.as_os_str().as_encoded_bytes().contains(&b'/') {
        return std::path::absolute(program)
            .map_err(|e| unusable(program, format!("it cannot be found: {e}")));
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(program))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
        .and_then(|p| std::path::absolute(p).ok())
        .ok_or_else(|| unusable(program, "it is not found on PATH"))
}

impl Keeper {
    /// The program tmux runs as the keeper's helpers (log writer,
    /// restarts, time limits; see [`helper_main`]): one whose `main` calls
    /// [`helper_main`] first, or a `tmux-wire` binary of the same version.
    /// A name without `/` is looked for on `PATH` (now, not on the tmux
    /// server's). Default: the current executable. [`Keeper::start`] checks
    /// that it answers as a helper before it starts anything.
    pub fn helper_program(mut self, program: impl Into<PathBuf>) -> Self {
        self.helper_program = Some(program.into());
        self
    }

    /// The keeper of a helper: its program is this one, which runs as a
    /// helper (no need to ask it).
    fn running_as_helper(mut self) -> Self {
        self.helper_program = None;
        self.helper_known = true;
        self
    }

    /// The absolute path of the helper program.
    fn helper_path(&self) -> Result<PathBuf, KeeperError> {
        match &self.helper_program {
            Some(program) => resolve(program),
            None => std::env::current_exe()
                .map_err(|e| unusable(Path::new(""), format!("this program's path: {e}"))),
        }
    }

    /// The helper program, once it answered as a helper of this format
    /// (asked once per program and modification time by this keeper and
    /// its clones, off the async runtime).
    pub(super) async fn checked_helper(&self) -> Result<PathBuf, KeeperError> {
        let program = self.helper_path()?;
        if self.helper_known {
            return Ok(program);
        }
        let modified = std::fs::metadata(&program)
            .map_err(|e| unusable(&program, format!("it cannot be run: {e}")))?
            .modified()
            .ok();
        let key = (program.clone(), modified);
        let known = |checked: &Vec<_>| checked.contains(&key);
        if self.checked_helpers.lock().is_ok_and(|c| known(&c)) {
            return Ok(program);
        }
        hello(&program).await?;
        if let Ok(mut checked) = self.checked_helpers.lock() {
            if !known(&checked) {
                checked.push(key);
            }
        }
        Ok(program)
    }

    /// Where the failures of `name`'s helpers are kept (beside its log).
    pub(super) fn helper_errors_path(&self, name: &str) -> PathBuf {
        errors_path(&self.log_path(name))
    }

    /// `PROGRAM __tmux-wire-helper VERSION -S SOCKET ARGS...`, quoted for
    /// `sh`, with the absolute socket (tmux runs it in the session's
    /// directory, not ours).
    fn helper_line(&self, args: &[&str]) -> Result<String, KeeperError> {
        let program = self.helper_path()?;
        let socket = std::path::absolute(&self.socket).unwrap_or_else(|_| self.socket.clone());
        let mut line = format!(
            "{} {HELPER_ARG} {HELPER_VERSION} -S {}",
            sh_quote(&program.to_string_lossy()),
            sh_quote(&socket.to_string_lossy())
        );
        for arg in args {
            line.push(' ');
            line.push_str(&sh_quote(arg));
        }
        Ok(line)
    }

    /// `run-shell -b [-d DELAY] '...'`: the helper `args` (a command, then
    /// `name`, then its own arguments) that tmux runs for `name`, after
    /// `delay` if given. It always exits 0 with no output: tmux shows a
    /// failed or talking `run-shell` in the current pane, in view mode,
    /// which then takes typed keys as copy-mode keys. The helper records
    /// its own failures; one that cannot run, or fails without recording,
    /// is recorded by the shell (see the module docs).
    pub(super) fn helper_command(
        &self,
        delay: Option<Duration>,
        name: &str,
        command: &str,
        args: &[&str],
    ) -> Result<Command, KeeperError> {
        let all: Vec<&str> = [command, name]
            .into_iter()
            .chain(args.iter().copied())
            .collect();
        let helper = self.helper_line(&all)?;
        let errors = sh_quote(&self.helper_errors_path(name).to_string_lossy());
        let line = format!(
            "{{ umask 077; e=$({helper} 2>&1 >/dev/null) || {{ c=$?; set -f; \
             {{ printf 'helper %s failed (exit %s):' {} \"$c\"; printf ' %s' $e; echo; }} >>{errors}; }}; \
             }} >/dev/null 2>&1; :",
            sh_quote(command)
        );
        let mut run_shell = Command::new("run-shell").arg("-b");
        if let Some(delay) = delay {
            run_shell = run_shell
                .arg("-d")
                .arg(format!("{:.3}", delay.as_secs_f64()));
        }
        // tmux expands formats in the shell command.
        Ok(run_shell.arg(format_escape(&line)))
    }

    /// The `pipe-pane` shell command that runs the log writer of `pane`
    /// into `log_path` (escaped for tmux, which expands formats in it).
    /// What the shell or the writer says on the way out goes to the
    /// helper failures.
    pub(super) fn sink_command(
        &self,
        pane: PaneId,
        log_path: &Path,
    ) -> Result<String, KeeperError> {
        let pane = pane.to_string();
        let max_bytes = self.log_limits.max_bytes.to_string();
        let keep = self.log_limits.keep.to_string();
        let helper = self.helper_line(&[
            "log-sink",
            "--pane",
            &pane,
            "--max-bytes",
            &max_bytes,
            "--keep",
            &keep,
            &log_path.to_string_lossy(),
        ])?;
        let sink = format!(
            "umask 077; exec 2>>{} {helper}",
            sh_quote(&errors_path(log_path).to_string_lossy())
        );
        // tmux expands formats and strftime escapes in the pipe command.
        Ok(format_escape(&sink).replace('%', "%%"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shell tmux runs for `pipe-pane` with the keeper's sink command
    /// (tmux expands `##` to `#` and `%%` to `%`) is told for the writer of
    /// its log: between the fork and the writer's exec, a look at the
    /// server's children must not take it for a writer that is gone (and
    /// start a second one).
    #[test]
    fn the_shell_about_to_become_a_log_writer_is_told_for_one() {
        let keeper = Keeper::new(&SocketSpec::Path("/t/s#1".into()))
            .unwrap()
            .helper_program("/b/my app");
        let log = keeper.log_path("web");
        let command = keeper
            .sink_command(PaneId(3), &log)
            .unwrap()
            .replace("##", "#")
            .replace("%%", "%");
        let argv: Vec<&[u8]> = vec![b"sh", b"-c", command.as_bytes()];
        assert_eq!(
            log::sink_path(&argv),
            Some(log.as_os_str().as_encoded_bytes()),
            "{command}"
        );
    }

    fn args(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    #[test]
    fn invocations_read_back() {
        let (socket, sink) = parse(&args(&[
            "-S",
            "/t/s",
            "log-sink",
            "--pane",
            "%1",
            "--max-bytes",
            "10",
            "--keep",
            "2",
            "/t/s.logs/web.log",
        ]))
        .unwrap();
        assert_eq!(socket, Some(PathBuf::from("/t/s")));
        assert_eq!(
            sink,
            Invocation::LogSink {
                pane: Some("%1".into()),
                limits: log::Limits {
                    max_bytes: 10,
                    keep: 2
                },
                path: "/t/s.logs/web.log".into()
            }
        );
        assert_eq!(
            parse(&args(&["restart-due", "web"])).unwrap(),
            (None, Invocation::RestartDue { name: "web".into() })
        );
        assert_eq!(
            parse(&args(&[
                "-S", "/s", "expire", "web", "--run", "1.2:3", "--grace", "250ms"
            ]))
            .unwrap()
            .1,
            Invocation::Expire {
                name: "web".into(),
                run: "1.2:3".into(),
                grace: Duration::from_millis(250)
            }
        );
        for bad in [
            &["restart", "web"][..],
            &["expire", "web", "--run", "1", "--grace", "5s"],
            &["log-sink", "x.log"],
            &["restart-due"],
            &["restart-due", "a", "b"],
            &["hello"],
            &["-S"],
            &[],
        ] {
            assert!(parse(&args(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn failures_are_kept_one_line_each_and_the_last_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("web.helper-errors");
        assert_eq!(last_failure(&path), None);
        assert!(record_failure(&path, "restart: one"));
        assert!(record_failure(&path, "kill-after: two\nlines"));
        assert_eq!(
            last_failure(&path).as_deref(),
            Some("kill-after: two lines")
        );
    }

    #[test]
    fn bare_names_are_found_on_path() {
        let sh = resolve(Path::new("sh")).unwrap();
        assert!(sh.is_absolute() && sh.ends_with("sh"), "{sh:?}");
        assert!(resolve(Path::new("no-such-program-tmux-wire")).is_err());
        assert!(resolve(Path::new("rel/prog")).unwrap().is_absolute());
    }
}
