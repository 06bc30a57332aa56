//! `exec`: run one command line in a kept interactive shell and return its
//! output and exit status.
//!
//! The line typed is (bash's own part first, see below)
//!
//! ```text
//!  printf '\033]7717;tw;%s%s;b\007' NONCE1 NONCE2; eval "$(cat 'FILE'; rm -f 'FILE')"; printf '\033]7717;tw;%s%s;e;%d\007' NONCE1 NONCE2 "$?"
//! ```
//!
//! The two `printf`s print OSC sequences, which tmux swallows (nothing shows
//! on the screen) but which reach the log byte for byte: the output is what
//! lies between them, and the status is in the second. The nonce is
//! random per exec and typed in two halves, so the echo of the typed line
//! (`... NONCE1 NONCE2 ...`) never reads as a marker (`...NONCE1NONCE2...`),
//! nor does a command that prints marker-like text. `eval` runs the line in
//! the shell itself (a `cd` or `export` stays), and a line with a syntax
//! error still ends with its status (2). The command is read from FILE, a
//! private file beside the log, which the line removes once read.
//!
//! What makes it safe to do in a shell someone else uses too:
//! - One exec at a time per shell: an `flock` on `NAME.exec.lock` beside
//!   the log, which the kernel releases when the exec ends in any way
//!   (killed too). The others wait for their turn within their own
//!   timeout, woken by the holder's close of the file (inotify).
//! - The shell must be at its prompt: its foreground program a POSIX shell
//!   (sh, bash, zsh, dash, ksh, ash), and, where `/proc` shows it (Linux),
//!   the shell itself asleep reading its terminal. A shell finishing its
//!   prompt (`PROMPT_COMMAND`) gets a moment; a program in the foreground,
//!   or a shell busy with a loop of its own, is refused untyped.
//! - The line being edited is cleared first: `End C-u a BSpace` in bash
//!   (whatever readline's mode: emacs, vi insert, or vi command mode with
//!   the cursor anywhere, it leaves an empty line in insert mode, as a new
//!   prompt would), `C-u` elsewhere (the terminal's kill character).
//! - bash's history does not keep the line: its first part deletes the
//!   history's last entry if that is this very line (`history 1` shows
//!   the nonce), so a `HISTCONTROL` without `ignorespace`, `histappend`
//!   and `PROMPT_COMMAND='history -a'` see nothing of it, and an entry of
//!   the user's is never removed. The leading space keeps it out of zsh's
//!   history with `histignorespace`; dash has none.
//! - A shell that is back at its prompt before the end marker came is not
//!   waited on until the timeout. Back at its prompt means (Linux): asleep
//!   reading its terminal in the very wait it was in at the prompt just
//!   before the line was typed (after the clearing keys): the same system
//!   call at the same stack pointer and instruction, the terminal set the
//!   same, and that setting not canonical (a line editor: bash's readline,
//!   zsh's ZLE); nothing typed left unread; the log settled. A `read` of
//!   the shell's own is not taken for it (seen in bash): a plain `read`, `select` and
//!   `read -n` leave the terminal otherwise (canonical, or echoing), and
//!   `read -e` (readline, set as at the prompt) waits at another depth of
//!   the stack. Where the prompt is canonical (dash, sh, ksh without
//!   editing, `bash --noediting`) it cannot be told from a `read`, so
//!   nothing is concluded: exec waits for the end marker or its timeout,
//!   as it does when the line changed the terminal's settings (`stty`),
//!   which readline then starts from. When it is back: after the begin marker,
//!   the command was interrupted (Ctrl-C); before it, the line did not
//!   run: the shell was not at its primary prompt (a continuation prompt,
//!   an open quote) or it was interrupted first. Then the line typed sits
//!   in the shell's unfinished command; if a Ctrl-C there reaches the
//!   shell alone (its foreground process group holds nothing else), exec
//!   clears it with one and says so, else it says how to.

use super::exec_scan::{read_all, Scan};
use super::log::{Follower, LogWatch};
use super::{Keeper, KeeperError, KeptProcess};
use crate::client::{commands, Client};
use crate::os::terminal as local;
use crate::protocol::PaneId;
use crate::text::Lines;
use crate::watch::{self, ExitStatus};
use serde::Serialize;
use std::path::Path;
use std::time::Duration;
use tokio::time::Instant;

/// What an exec gave.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Executed {
    /// The session.
    pub name: String,
    /// The command's output, as a person reads it.
    pub lines: Vec<String>,
    /// Its exit status, as the shell's `$?` (130 when interrupted).
    pub code: i32,
    /// How it ended.
    pub outcome: Outcome,
    /// The command's output as it wrote it: every byte, only the carriage
    /// return the terminal adds before each newline removed.
    #[serde(skip)]
    pub output: Vec<u8>,
    /// Bytes of the output dropped from its front: exec keeps the last
    /// [`EXEC_KEEP`] bytes (from the start of a line); 0 when it kept all.
    #[serde(rename = "dropped_bytes", skip_serializing_if = "is_zero")]
    pub dropped: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// How much of a command's output [`KeptProcess::exec`](super::KeptProcess::exec) keeps: its last 8 MiB,
/// from the start of a line ([`Executed::dropped`] says what went). Read
/// from the log once, as it comes: the markers are looked for in the new
/// bytes only.
pub const EXEC_KEEP: usize = 8 << 20;

/// How an exec's command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Outcome {
    /// It finished; `code` is its status.
    Finished,
    /// The shell went back to its prompt before the command finished (a
    /// Ctrl-C); `code` is 130, what the shell's `$?` then says.
    Interrupted,
    /// The shell itself ended (the command ran `exit`); `code` is its
    /// status.
    ShellExited,
}

/// Shells `exec` types into.
fn is_posix_shell(command: &str) -> bool {
    matches!(
        crate::watch::program_name(command),
        "sh" | "bash" | "zsh" | "dash" | "ksh" | "mksh" | "ash" | "yash"
    )
}

/// `s` single-quoted for a POSIX shell.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The line to type to run the command in `file`, and the two markers to
/// look for. Only this short, printable line is typed: the command itself
/// is read from the file, so no tab, control character, newline or length
/// of it meets the terminal's line discipline or the shell's line editor.
/// For bash, it begins by taking itself out of the history.
pub(super) fn exec_line(file: &str, nonce: &str, bash: bool) -> (String, Vec<u8>, Vec<u8>) {
    let (a, b) = nonce.split_at(nonce.len() / 2);
    let file = quote(file);
    let history = if bash {
        format!(" case $(history 1 2>/dev/null) in *'{a} {b}'*) history -d -1 2>/dev/null;; esac;")
    } else {
        String::new()
    };
    let line = format!(
        r#"{history} printf '\033]7717;tw;%s%s;b\007' {a} {b}; eval "$(cat {file}; rm -f {file})"; printf '\033]7717;tw;%s%s;e;%d\007' {a} {b} "$?""#
    );
    let begin = format!("\x1b]7717;tw;{nonce};b\x07").into_bytes();
    let end = format!("\x1b]7717;tw;{nonce};e;").into_bytes();
    (line, begin, end)
}

/// The keys that clear the line being edited before the line is typed
/// (see the module docs).
fn clearing_keys(shell: &str) -> &'static [&'static str] {
    if crate::watch::program_name(shell) == "bash" {
        &["End", "C-u", "a", "BSpace"]
    } else {
        &["C-u"]
    }
}

/// Removes the command file when the exec is over, however it ends (the
/// line's own `rm -f` does it too, unless the shell exits first).
struct RemoveOnDrop(std::path::PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The answer, with `output` (after `dropped` bytes that went) rendered
/// as a person reads it.
fn executed(name: &str, (output, dropped): (&[u8], u64), code: i32, outcome: Outcome) -> Executed {
    let mut lines = Lines::new();
    let mut out = lines.push(output);
    out.extend(lines.finish());
    Executed {
        name: name.to_string(),
        lines: out,
        code,
        outcome,
        output: without_terminal_cr(output),
        dropped,
    }
}

/// `bytes` without the carriage return the terminal puts before each
/// newline (`onlcr`): what the program wrote.
fn without_terminal_cr(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'\r' && bytes.get(i + 1) == Some(&b'\n') {
            continue;
        }
        out.push(b);
    }
    out
}

/// After output, the shell is looked at once it has been quiet this long.
const QUIET: Duration = Duration::from_millis(50);
/// Without output, the shell is looked at this often.
const BACKSTOP: Duration = Duration::from_millis(250);
/// How long a shell may take to come back to its prompt (an exec before
/// this one ending, a `PROMPT_COMMAND`) before it counts as busy.
const PROMPT_GRACE: Duration = Duration::from_secs(2);
/// A shell back at its prompt without a trace of the typed line in the
/// log counts as having read it after this long.
const NO_ECHO_GRACE: Duration = Duration::from_secs(2);

/// How long, at most, exec looks for the shell to settle at its prompt
/// after the clearing keys, to note where it waits there.
const PROMPT_NOTE: Duration = Duration::from_secs(1);

/// Whether the shell `pid` is back at the prompt where it waited before
/// the line was typed (`prompt`, see [`Keeper::prompt_place`]): asleep
/// reading its terminal in the very same wait (the same system call at
/// the same stack depth, the terminal set the same, by a line editor),
/// with nothing typed left unread. False where that cannot be seen.
fn back_at_prompt(pid: i32, prompt: &local::WaitPlace) -> bool {
    local::waiting_place(pid).is_some_and(|now| now == *prompt)
        && local::terminal_input_pending(pid).is_none_or(|n| n == 0)
}

/// The exclusive lock that makes execs of one shell take turns, held
/// while it lives; the kernel drops it with the process, however that
/// ends.
struct Turn(#[allow(dead_code)] super::log::Lock);

/// Take the exec lock at `path`, waiting until `deadline` for the exec
/// that holds it; `None` if it was not free by then.
async fn take_turn(path: &Path, deadline: Instant) -> std::io::Result<Option<Turn>> {
    let mut file = super::log::open_append(path)?;
    // Watched before the first try: a release in between still wakes.
    let mut released = Releases::new(path);
    loop {
        match super::log::Lock::try_take(file) {
            Ok(lock) => return Ok(Some(Turn(lock))),
            Err((again, rustix::io::Errno::WOULDBLOCK)) => file = again,
            Err((_, e)) => return Err(e.into()),
        }
        if tokio::time::timeout_at(deadline, released.next())
            .await
            .is_err()
        {
            return Ok(None);
        }
    }
}

/// Wakes when the lock file may have been released: it was closed by
/// someone (inotify), or every 50 ms without inotify.
enum Releases {
    #[cfg(target_os = "linux")]
    Inotify(tokio::io::unix::AsyncFd<super::log::InotifyFd>),
    Poll(tokio::time::Interval),
}

impl Releases {
    fn new(path: &Path) -> Releases {
        #[cfg(target_os = "linux")]
        {
            use rustix::fs::inotify::WatchFlags;
            let watch = super::log::InotifyFd::watch(
                path,
                WatchFlags::CLOSE_WRITE | WatchFlags::CLOSE_NOWRITE,
            )
            .ok();
            // Deprecated because a borrowed raw fd could be closed while
            // registered; the `AsyncFd` owns the `InotifyFd`, which owns the
            // fd.
            #[allow(deprecated)]
            if let Some(fd) = watch.and_then(|i| tokio::io::unix::AsyncFd::new(i).ok()) {
                return Releases::Inotify(fd);
            }
        }
        let _ = path;
        Releases::Poll(tokio::time::interval(Duration::from_millis(50)))
    }

    async fn next(&mut self) {
        match self {
            #[cfg(target_os = "linux")]
            Releases::Inotify(fd) => loop {
                let Ok(mut guard) = fd.readable().await else {
                    return;
                };
                match guard.get_inner().read_events() {
                    Ok(_) => return,
                    Err(rustix::io::Errno::AGAIN) => guard.clear_ready(),
                    Err(_) => return,
                }
            },
            Releases::Poll(tick) => {
                tick.tick().await;
            }
        }
    }
}

impl Keeper {
    /// Run `command` (a shell command line) in `process`'s shell and wait
    /// up to `timeout` for it to finish; see the module docs. The timeout
    /// counts from the call: waiting for the turn is part of it. A timeout
    /// leaves the command running. (The handle's [`KeptProcess::exec`].)
    pub(super) async fn exec_in(
        &self,
        process: &KeptProcess,
        command: &str,
        timeout: Duration,
    ) -> Result<Executed, KeeperError> {
        if command.contains('\0') {
            return Err(KeeperError::BadCommand(
                "a command line cannot hold NUL".into(),
            ));
        }
        let deadline = Instant::now() + timeout;
        let (client, name, pane) = (process.client.clone(), process.name(), process.pane);
        if let Some(status) = watch::exit_status(&client, pane).await? {
            return Err(KeeperError::NotRunning {
                name: name.to_string(),
                status,
            });
        }
        let path = self.log_path(name);
        if self.kept(&client, name).await?.is_none() {
            return Err(KeeperError::NoLog {
                name: name.to_string(),
            });
        }
        let io = |what: &str, source| KeeperError::Io {
            what: format!("{what} {}", path.display()),
            source,
        };
        // One at a time: the lock file beside the log (private like it).
        let lock = path.with_file_name(format!("{name}.exec.lock"));
        let Some(_turn) = take_turn(&lock, deadline)
            .await
            .map_err(|e| io("taking the exec lock beside", e))?
        else {
            return Err(KeeperError::ExecBusy {
                name: name.to_string(),
                timeout,
            });
        };
        // The shell's own process, where /proc shows it.
        let shell = match watch::local_pids(&client, pane).await {
            Some((server, pid)) if crate::os::process::local_child(server, pid) => Some(pid),
            _ => None,
        };
        let current = self
            .until_at_prompt(&client, name, pane, shell, deadline)
            .await?;
        let nonce = super::unique_hex();
        // The command goes in a file beside the log (private like it).
        let file = path.with_file_name(format!("{name}.exec.{nonce}"));
        super::log::open_append(&file)
            .and_then(|mut f| std::io::Write::write_all(&mut f, command.as_bytes()))
            .map_err(|source| KeeperError::Io {
                what: format!("writing {}", file.display()),
                source,
            })?;
        let _remove = RemoveOnDrop(file.clone());
        let bash = watch::program_name(&current) == "bash";
        let (line, begin, end) = exec_line(&file.to_string_lossy(), &nonce, bash);
        let first_half = nonce.as_bytes()[..nonce.len() / 2].to_vec();
        // Watch, then note where the log ends, then type: the markers come
        // after that point. The line being edited is cleared first.
        let mut changes = LogWatch::new(&path);
        let from = self.log_end(name)?;
        client
            .command(commands::send_keys(pane, clearing_keys(&current)))
            .await?;
        // Where the shell waits at its prompt, if a line editor holds it.
        let prompt = match shell {
            Some(pid) => Self::prompt_place(&client, pane, pid, deadline).await?,
            None => None,
        };
        self.send_text_to(process, line.as_bytes(), true).await?;
        let typed = Instant::now();
        let mut follower = Follower::new(&path, from, true);
        let read_io = |source| io("reading", source);
        let timeout_left = deadline.saturating_duration_since(Instant::now());
        let exited = watch::wait_exit(&client, pane, timeout_left);
        let mut exited = std::pin::pin!(exited);
        let mut scan = Scan::new(&begin, &end, &first_half, EXEC_KEEP);
        // When to look whether the shell is back at its prompt.
        let mut look_at = typed + QUIET;
        loop {
            read_all(&mut follower, &mut scan).map_err(read_io)?;
            if let Some((output, code)) = scan.finished() {
                return Ok(executed(name, output, code, Outcome::Finished));
            }
            tokio::select! {
                // The deadline first: the exit wait shares it.
                biased;
                changed = changes.changed() => {
                    changed.map_err(read_io)?;
                    look_at = Instant::now() + QUIET;
                }
                () = tokio::time::sleep_until(deadline) => {
                    return Err(KeeperError::ExecTimeout {
                        name: name.to_string(),
                        timeout,
                    });
                }
                status = &mut exited => {
                    // The shell itself ended (the line ran `exit 7`, say):
                    // its status is the command's, and its output is what
                    // the log holds after the first marker once it settles.
                    let status: ExitStatus = status?;
                    let settle = Instant::now() + Duration::from_secs(5);
                    super::log::sync::everything_logged_after_exit(
                        &path,
                        name,
                        Some((&client, pane)),
                        super::wait::LOG_SETTLE,
                        settle,
                    )
                    .await?;
                    read_all(&mut follower, &mut scan).map_err(read_io)?;
                    if let Some((output, code)) = scan.finished() {
                        return Ok(executed(name, output, code, Outcome::Finished));
                    }
                    if !scan.begun() {
                        return Err(KeeperError::EndedWhileWaiting {
                            name: name.to_string(),
                            status,
                        });
                    }
                    return Ok(executed(name, scan.output(), status.code(), Outcome::ShellExited));
                }
                () = tokio::time::sleep_until(look_at), if prompt.is_some() => {
                    look_at = Instant::now() + BACKSTOP;
                    let (Some(pid), Some(prompt)) = (shell, prompt.as_ref()) else { continue };
                    // The typed line has reached the terminal (its echo,
                    // or a marker, is in the log), or long enough ago.
                    let delivered = scan.echo_seen || typed.elapsed() >= NO_ECHO_GRACE;
                    if !delivered || !back_at_prompt(pid, prompt) {
                        continue;
                    }
                    // What the shell printed before it went back may still
                    // be on its way to the log.
                    let settle = (Instant::now() + Duration::from_secs(2)).min(deadline);
                    let settled = match super::log::sync::everything_logged(
                        &path,
                        name,
                        Some((&client, pane)),
                        super::wait::LOG_SETTLE,
                        settle,
                    )
                    .await
                    {
                        // A writer that does not answer: not settled, look again.
                        Err(KeeperError::LogWriter { .. }) => false,
                        other => other?,
                    };
                    read_all(&mut follower, &mut scan).map_err(read_io)?;
                    if let Some((output, code)) = scan.finished() {
                        return Ok(executed(name, output, code, Outcome::Finished));
                    }
                    // Still being written (a flood catching up): look again.
                    if settled && back_at_prompt(pid, prompt) {
                        return self
                            .back_without_end(&client, name, pane, pid, &scan)
                            .await;
                    }
                }
            }
        }
    }

    /// Wait (at most [`PROMPT_GRACE`]) until `name`'s foreground program is
    /// a POSIX shell and, where that can be seen, the shell waits at its
    /// prompt; refuse otherwise. Returns the shell's name.
    async fn until_at_prompt(
        &self,
        client: &Client,
        name: &str,
        pane: PaneId,
        shell: Option<i32>,
        deadline: Instant,
    ) -> Result<String, KeeperError> {
        let give_up = (Instant::now() + PROMPT_GRACE).min(deadline);
        loop {
            let current = watch::current_command(client, pane).await?;
            let posix = is_posix_shell(&current);
            let waiting = shell.and_then(local::itself_reading_terminal);
            if posix && waiting != Some(false) {
                return Ok(current);
            }
            if Instant::now() >= give_up {
                return Err(if posix {
                    KeeperError::ExecRefused {
                        name: name.to_string(),
                        reason: format!(
                            "its shell ({current}) is busy, not waiting at its prompt (a loop or a builtin of its own still runs); nothing was typed"
                        ),
                    }
                } else {
                    KeeperError::NotAShell {
                        name: name.to_string(),
                        command: current,
                    }
                });
            }
            tokio::time::sleep(QUIET.min(give_up.saturating_duration_since(Instant::now()))).await;
        }
    }

    /// Where the shell `pid` waits at its prompt once the keys sent before
    /// have been read (bounded by [`PROMPT_NOTE`]): the same place seen
    /// twice in a row, and only where a line editor holds the terminal
    /// (not canonical). `None` otherwise: at a canonical prompt (dash, sh,
    /// `bash --noediting`) a `read` of the shell's own waits just as the
    /// prompt does, so nothing can be concluded from it.
    async fn prompt_place(
        client: &Client,
        pane: PaneId,
        pid: i32,
        deadline: Instant,
    ) -> Result<Option<local::WaitPlace>, KeeperError> {
        // A round trip: tmux has passed the keys on to the terminal.
        client.command(commands::display(pane, "")).await?;
        let give_up = (Instant::now() + PROMPT_NOTE).min(deadline);
        let mut last = None;
        loop {
            let now = local::waiting_place(pid)
                .filter(|_| local::terminal_input_pending(pid).is_some_and(|n| n == 0));
            if let (Some(a), Some(b)) = (&last, &now) {
                if a == b {
                    return Ok(now.filter(|p| !p.canonical));
                }
            }
            if Instant::now() >= give_up {
                return Ok(None);
            }
            last = now;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The shell went back to its prompt without the end marker: say what
    /// happened (see the module docs).
    async fn back_without_end(
        &self,
        client: &Client,
        name: &str,
        pane: PaneId,
        pid: i32,
        scan: &Scan,
    ) -> Result<Executed, KeeperError> {
        if scan.begun() {
            // Interrupted: its output up to the prompt the shell printed
            // (the last line, not ended).
            let (output, dropped) = scan.output();
            let cut = memchr::memrchr(b'\n', output).map_or(0, |i| i + 1);
            return Ok(executed(
                name,
                (&output[..cut], dropped),
                130,
                Outcome::Interrupted,
            ));
        }
        if scan.end_without_begin {
            return Err(KeeperError::ExecRefused {
                name: name.to_string(),
                reason: "the shell was not at its prompt: exec's line was joined to an unfinished command line typed before, and may have run in part; its output cannot be told".into(),
            });
        }
        // The line sits in an unfinished command (or was flushed by a
        // Ctrl-C): clear it, if a Ctrl-C reaches the shell alone.
        let alone = crate::blocking::off_runtime(move || local::alone_in_foreground(pid)).await;
        let cleared = alone == Some(true)
            && client
                .command(commands::send_keys(pane, ["C-c"]))
                .await
                .is_ok();
        let after = if cleared {
            "exec cleared that line with a Ctrl-C, so the shell is at its prompt again (what was typed before it is gone); run exec again"
                .to_string()
        } else {
            "exec's line waits in the shell's unfinished command; a C-c typed into the shell clears it (check first what runs in the foreground)"
                .to_string()
        };
        Err(KeeperError::ExecRefused {
            name: name.to_string(),
            reason: format!(
                "exec's line did not run: the shell was not at its prompt (it waited for the rest of an unfinished command line: a continuation `>` prompt, an open quote or here-document), or it was interrupted before the line ran; {after}"
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_terminal_carriage_returns_go() {
        assert_eq!(without_terminal_cr(b"a\r\n\r\r\nb\r"), b"a\n\r\nb\r");
    }

    #[test]
    fn posix_shells_only() {
        assert!(is_posix_shell("bash") && is_posix_shell("-zsh") && is_posix_shell("/bin/dash"));
        assert!(!is_posix_shell("fish") && !is_posix_shell("python3") && !is_posix_shell("vim"));
    }
}
