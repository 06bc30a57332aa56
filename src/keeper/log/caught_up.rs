//! Telling a log writer by its arguments.

/// The log a process with these arguments writes, if it is a log writer:
/// `PROGRAM [__tmux-wire-helper VERSION] [-S SOCKET] log-sink ... FILE`, or
/// the shell that is about to become one (`sh -c "exec ... PROGRAM ...
/// log-sink ... 'FILE'"`, as `pipe-pane` runs it).
pub(crate) fn sink_path<'a>(args: &[&'a [u8]]) -> Option<&'a [u8]> {
    let last = *args.last()?;
    if args.len() == 3 && args[1] == b"-c" {
        // The shell: its command ends with the quoted path, and names the
        // helper's command quoted (as the keeper writes it) or not.
        let command = last;
        memchr::memmem::find(command, b" 'log-sink' ")
            .or_else(|| memchr::memmem::find(command, b" log-sink "))?;
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
