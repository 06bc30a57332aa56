//! Whether the log writers of a log have written all tmux gave them
//! (seen from their process names and states, on Linux).

use std::path::Path;

use super::writer::IDLE_NAME;

/// Whether every log writer of `path` (a child of the tmux server
/// `server` running `log-sink ... PATH`) has written all the output tmux
/// gave it: it sleeps waiting for more ([`writer_idle`]). False where that
/// cannot be seen (not Linux, a server in another pid namespace, no writer
/// found, a writer started by a tmux-wire that did not name itself).
///
/// tmux writes what it read from a pane into the writer's socket in the
/// event-loop iteration after the read, so once a command sent after some
/// output was answered, that output is in the socket or beyond; with the
/// writer asleep in its read, it is in the log.
pub(crate) fn writers_caught_up(path: &Path, server: nix::unistd::Pid) -> bool {
    #[cfg(target_os = "linux")]
    {
        // A pid that only looks local (a server in another pid namespace
        // whose pid a local process happens to have) says nothing.
        if !crate::os::process::is_tmux(server) {
            return false;
        }
        let children = format!("/proc/{server}/task/{server}/children");
        let Ok(children) = std::fs::read_to_string(children) else {
            return false;
        };
        let mut writers = 0;
        for child in children.split_ascii_whitespace() {
            let Ok(cmdline) = std::fs::read(format!("/proc/{child}/cmdline")) else {
                continue;
            };
            let args: Vec<&[u8]> = cmdline
                .strip_suffix(b"\0")
                .unwrap_or(&cmdline)
                .split(|&b| b == 0)
                .collect();
            use std::os::unix::ffi::OsStrExt;
            // The writer itself (not the shell about to become it).
            let writes_this_log = args.get(1) != Some(&&b"-c"[..])
                && sink_path(&args) == Some(path.as_os_str().as_bytes());
            if !writes_this_log {
                continue;
            }
            if !writer_idle(child) {
                return false;
            }
            writers += 1;
        }
        writers > 0
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (path, server);
        false
    }
}

/// The log a process with these arguments writes, if it is a log writer:
/// `PROGRAM [__tmux-wire-helper VERSION] [-S SOCKET] log-sink ... FILE`, or
/// the shell that is about to become one (`sh -c "exec ... PROGRAM ...
/// log-sink ... 'FILE'"`, as `pipe-pane` runs it).
pub(crate) fn sink_path<'a>(args: &[&'a [u8]]) -> Option<&'a [u8]> {
    let last = *args.last()?;
    if args.len() == 3 && args[1] == b"-c" {
        // The shell: its command ends with the quoted path.
        let command = last;
        memchr::memmem::find(command, b" log-sink ")?;
        let quoted = command.strip_suffix(b"'")?;
        let open = memchr::memrchr(b'\'', quoted)?;
        return Some(&quoted[open + 1..]);
    }
    // `PROGRAM __tmux-wire-helper VERSION [-S SOCKET] log-sink ...`, or as
    // a tmux-wire before the helper format ran it.
    let args = match args {
        [_, helper, _, rest @ ..] if *helper == crate::keeper::HELPER_ARG.as_bytes() => rest,
        [_, rest @ ..] => rest,
        [] => return None,
    };
    let sub = match args.first() {
        Some(&b"-S") => args.get(2),
        first => first,
    };
    (sub == Some(&&b"log-sink"[..]) && args.len() > 1).then_some(last)
}

/// Whether the log writer `pid` waits for input with nothing in its pipe.
/// Its name says it is in the read that waits for input (named idle just
/// before it, named busy as soon as the read returns), and its state says
/// it sleeps there: it found nothing to read, and nothing came since (the
/// output tmux writes into its socket wakes it, and a woken process is
/// runnable, `R`, at once). A writer woken by anything else (its nudge
/// every 500 ms) only makes this false for a moment.
#[cfg(target_os = "linux")]
fn writer_idle(pid: &str) -> bool {
    // Name and state from one read of `stat`, as they were at one moment.
    pid.parse()
        .ok()
        .and_then(crate::os::procfs::stat)
        .is_some_and(|stat| stat.name == IDLE_NAME && stat.fields.first().is_some_and(|s| s == "S"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_writers_are_told_by_their_arguments() {
        let path = |args: &[&str]| {
            let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
            sink_path(&args).map(|p| String::from_utf8_lossy(p).into_owned())
        };
        let log = "/t/s.logs/web.log";
        assert_eq!(
            path(&[
                "/b/tmux-wire",
                "log-sink",
                "--max-bytes",
                "1",
                "--keep",
                "2",
                log
            ])
            .as_deref(),
            Some(log)
        );
        assert_eq!(
            path(&["tmux-wire", "-S", "/t/s", "log-sink", "--pane", "%1", log]).as_deref(),
            Some(log)
        );
        assert_eq!(
            path(&[
                "/b/app",
                "__tmux-wire-helper",
                "1",
                "-S",
                "/t/s",
                "log-sink",
                "--pane",
                "%1",
                log
            ])
            .as_deref(),
            Some(log)
        );
        // The shell that is about to become one.
        assert_eq!(
            path(&[
                "sh",
                "-c",
                "exec 2>>'/t/s.logs/web.helper-errors' '/b/app' __tmux-wire-helper 1 -S '/t/s' log-sink --pane %1 --max-bytes 1 --keep 2 '/t/s.logs/web.log'"
            ])
            .as_deref(),
            Some(log)
        );
        assert_eq!(
            path(&[
                "sh",
                "-c",
                "exec '/b/tmux-wire' -S '/t/s' log-sink --pane %1 --max-bytes 1 --keep 2 '/t/s.logs/web.log'"
            ])
            .as_deref(),
            Some(log)
        );
        for other in [
            &["sh", "-c", "sleep 300"][..],
            &["python3", "x.py", "log-sink"],
            &["tmux-wire", "log-sink"],
            &[],
        ] {
            assert_eq!(path(other), None, "{other:?}");
        }
    }
}
