//! [`KeeperError`], the keeper's one error type, its [`FailureKind`] (what
//! a caller branches on), and the exit status a command line gives for it.
//!
//! The messages say what happened in the keeper's own terms; they name no
//! command-line syntax (a program embedding the keeper has none). The CLI
//! adds its hints (`tmux-wire stop NAME`, `--cwd`) beside them.

use crate::client::{ClientError, ErrorKind};
use crate::server::ServerError;
use crate::transport::plain::{PlainError, ProbeError};
use crate::transport::TransportError;
use crate::watch::{ExitStatus, WatchError};
use std::time::Duration;
use thiserror::Error;

/// Errors of the keeper.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum KeeperError {
    /// The name cannot be a tmux session name.
    #[error("bad name {name:?}: {reason}")]
    BadName {
        /// The name.
        name: String,
        /// Why not.
        reason: &'static str,
    },
    /// No such process.
    #[error("no process named {name:?}{}", known_names(known))]
    NotFound {
        /// The name asked for.
        name: String,
        /// The names that exist.
        known: Vec<String>,
    },
    /// The server or its socket.
    #[error(transparent)]
    Server(#[from] ServerError),
    /// tmux refused a command.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// A wait failed or timed out.
    #[error(transparent)]
    Watch(#[from] WatchError),
    /// The process exited before it printed the readiness pattern.
    #[error("{name} {status} before it was ready; last output:\n{tail}")]
    ExitedBeforeReady {
        /// The name.
        name: String,
        /// How it ended.
        status: ExitStatus,
        /// Its last lines.
        tail: String,
    },
    /// `logs --follow` of a process tmux-wire did not start: tmux keeps no
    /// log of it.
    #[error("{name} has no log to follow (tmux-wire did not start it)")]
    NoLog {
        /// The name.
        name: String,
    },
    /// `exec` into a session whose foreground program is not a POSIX shell.
    #[error("{name} runs `{command}`, not a shell at its prompt: exec types only into sh, bash, zsh, dash or ksh waiting for a command")]
    NotAShell {
        /// The name.
        name: String,
        /// Its foreground program.
        command: String,
    },
    /// `exec`'s command did not finish in time; it goes on running.
    #[error(
        "{name}: the command did not finish within {timeout:?}; it is still running (its output goes on in the log)"
    )]
    ExecTimeout {
        /// The name.
        name: String,
        /// How long was waited.
        timeout: Duration,
    },
    /// `exec` waited its whole timeout for its turn: other execs of the
    /// same shell held it. Nothing was typed.
    #[error(
        "{name}: other execs kept the shell busy for all of {timeout:?}; nothing was typed (execs of one shell take turns)"
    )]
    ExecBusy {
        /// The name.
        name: String,
        /// How long was waited.
        timeout: Duration,
    },
    /// `exec` found the shell in a state it cannot run a line in, or the
    /// line did not run; `reason` says which and what was done about it.
    #[error("{name}: {reason}")]
    ExecRefused {
        /// The name.
        name: String,
        /// What happened.
        reason: String,
    },
    /// A cursor that cannot be read from.
    #[error("cannot read from cursor {cursor}: {reason}")]
    BadCursor {
        /// The cursor given.
        cursor: String,
        /// Why not.
        reason: String,
    },
    /// The server went away while a log was followed.
    #[error("the tmux server went away ({reason}); the log of {name} ends here")]
    ServerGone {
        /// The name followed.
        name: String,
        /// Why the connection ended.
        reason: crate::client::CloseReason,
    },
    /// A signal ended the wait: made by a caller that catches signals
    /// (the CLI does, around its waits; the library catches none, see
    /// [`Keeper::restored`](super::Keeper::restored)).
    #[error("interrupted by {0}")]
    Interrupted(&'static str),
    /// The process ended while a wait for something else went on.
    #[error("{name} {status}; it has ended")]
    EndedWhileWaiting {
        /// The name.
        name: String,
        /// How it ended.
        status: ExitStatus,
    },
    /// A start with a readiness pattern: the process runs, but did not
    /// print the pattern in time. It is left running.
    #[error(
        "{name} did not print the readiness pattern within {timeout:?}; it is still \
         running; last output:\n{tail}"
    )]
    NotReady {
        /// The name.
        name: String,
        /// How long the wait was.
        timeout: Duration,
        /// Its last lines.
        tail: String,
    },
    /// The command cannot be run: not found (127) or not executable (126),
    /// as a shell would say. Nothing was started.
    #[error("{program}: {reason}")]
    CannotRun {
        /// The program.
        program: String,
        /// Why.
        reason: &'static str,
        /// The shell's status for it: 127 or 126.
        code: u8,
    },
    /// A key name tmux does not know.
    #[error("unknown key {key:?}{}", close_keys(close))]
    UnknownKey {
        /// The name given.
        key: String,
        /// Known names close to it.
        close: Vec<String>,
    },
    /// The process has exited: there is nothing to type into.
    #[error("{name} is not running ({status}); nothing would read the input")]
    NotRunning {
        /// The name.
        name: String,
        /// How it ended.
        status: ExitStatus,
    },
    /// A line of the input is longer than the terminal of a program that
    /// reads it line by line keeps: the kernel would drop the rest of it.
    #[error(
        "{name}: a line of {length} bytes cannot be typed whole: the program reads its \
         terminal line by line (canonical mode), where the kernel keeps at most {limit} \
         bytes of a line and silently drops the rest; nothing was typed. Send shorter \
         lines, or have the program read raw input (`stty raw -echo`, as a program \
         reading binary from a terminal does)"
    )]
    LineTooLong {
        /// The name.
        name: String,
        /// The longest line, in bytes.
        length: usize,
        /// What the terminal keeps of a line.
        limit: usize,
    },
    /// The server is older than the keeper supports.
    #[error(
        "tmux {version} is too old for tmux-wire's keeper: it needs tmux 3.2 or newer \
         (it attaches with `-f ignore-size,pause-after`, which 3.2 introduced, so that \
         watching never resizes windows and a slow reader is paused, never dropped); \
         single tmux commands still work with this server"
    )]
    TooOld {
        /// The server's version.
        version: String,
    },
    /// The program the keeper's helpers run as ([`super::Keeper::helper_program`])
    /// does not run them (it is missing, is not a helper, or runs helpers
    /// of another format). Nothing was started.
    #[error(
        "{} cannot run the keeper's helpers (log writer, restarts, time limits): \
         {reason}. Call tmux_wire::keeper::helper_main() first thing in the program's \
         main, or point Keeper::helper_program at a tmux-wire binary of the same \
         version (helper format {})",
        program.display(),
        super::HELPER_VERSION
    )]
    HelperUnusable {
        /// The program (absolute where it was found).
        program: std::path::PathBuf,
        /// Why it cannot.
        reason: String,
    },
    /// The process's record was written by a newer tmux-wire (a layout
    /// this one does not know): nothing is read or changed.
    #[error(
        "{name} was started by a newer tmux-wire (its record is version {version}; \
         this one knows up to version {known}): use that tmux-wire for it"
    )]
    NewerRecord {
        /// The name.
        name: String,
        /// The record's version, as found.
        version: String,
        /// The newest this build knows.
        known: u32,
    },
    /// A file of the keeper (log, directory).
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The command line to start is empty or cannot be passed to tmux.
    #[error("bad command: {0}")]
    BadCommand(String),
    /// A wait in a log that fell behind it ended with `source`: what it
    /// missed on the way (bytes rotated away before it read them) comes
    /// with the error. The exit status is the one of `source`.
    #[error("{source}")]
    MissedThenFailed {
        /// What the wait passed over.
        missed: super::WaitMissed,
        /// How the wait ended.
        source: Box<KeeperError>,
    },
    /// A wait in the log cannot see what the process prints: its log
    /// writer does not write it (exit 74, as EX_IOERR).
    #[error("{name}: {what}; its log writer is {writer}")]
    LogWriter {
        /// The name.
        name: String,
        /// What could not be done.
        what: String,
        /// What the writer does.
        writer: super::LogWriter,
    },
}

fn close_keys(close: &[String]) -> String {
    if close.is_empty() {
        "; keys are C-, M-, S- plus a character or a name such as Enter, Escape, Tab, \
         Space, BSpace, Up, Down, Left, Right, Home, End, PageUp, PageDown, F1..F12"
            .into()
    } else {
        format!("; did you mean {}?", close.join(", "))
    }
}

fn known_names(known: &[String]) -> String {
    if known.is_empty() {
        " (no processes are running)".into()
    } else {
        format!(" (running: {})", known.join(", "))
    }
}

impl KeeperError {
    /// Whether this error is a wait running out of time.
    pub fn is_timeout(&self) -> bool {
        if let KeeperError::MissedThenFailed { source, .. } = self {
            return source.is_timeout();
        }
        matches!(
            self,
            KeeperError::Watch(WatchError::Timeout(_))
                | KeeperError::NotReady { .. }
                | KeeperError::ExecTimeout { .. }
                | KeeperError::ExecBusy { .. }
        )
    }

    /// The exit status the CLI gives for this error: 124 for a timeout,
    /// 127 or 126 for a command that cannot be run, 128 + the signal for
    /// an interrupted wait, 74 for a wait the log writer cannot serve,
    /// else 1.
    pub fn exit_code(&self) -> u8 {
        match self {
            KeeperError::CannotRun { code, .. } => *code,
            KeeperError::MissedThenFailed { source, .. } => source.exit_code(),
            KeeperError::LogWriter { .. } => 74,
            KeeperError::Interrupted("SIGINT") => 130,
            KeeperError::Interrupted("SIGTERM") => 143,
            e if e.is_timeout() => 124,
            _ => 1,
        }
    }
}

/// What kind of failure a [`KeeperError`] is: a small, closed list for
/// callers (and the CLI's error documents, `"kind"`) to branch on instead
/// of reading the message. New kinds may be added; a kind is never
/// renamed. [`FailureKind::as_str`] gives the name the CLI prints
/// (snake_case).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FailureKind {
    /// No process (session) of that name, or no such pane or target.
    NotFound,
    /// The process has exited: there is nothing to type into.
    NotRunning,
    /// The name is taken: it already runs.
    AlreadyRunning,
    /// The process ended (or its pane went away) before what was waited
    /// for happened.
    Exited,
    /// A wait ran out of time (the process goes on).
    Timeout,
    /// A signal ended the wait.
    Interrupted,
    /// No tmux server runs on the socket (no socket file, no directory,
    /// or a stale socket nothing listens on).
    NoServer,
    /// The server went away, or the connection to it closed, while the
    /// command was under way.
    ServerGone,
    /// The socket or its directory cannot be used: unsafe, not a socket,
    /// someone else's.
    Socket,
    /// The tmux program cannot be run.
    NoTmux,
    /// The tmux server is too old, or speaks a protocol tmux-wire does
    /// not.
    Version,
    /// An argument was refused: a name, a key, a command line, a line too
    /// long for the terminal, an environment variable.
    BadInput,
    /// A cursor that cannot be read from (malformed, of another name or
    /// log, past what the log knows).
    BadCursor,
    /// The command to start cannot be run (not found, not executable).
    CannotRun,
    /// `exec` into a session whose foreground program is not a shell.
    NotAShell,
    /// `exec` found the shell unable to run the line, or the line did not
    /// run; the message says what was done about it.
    Refused,
    /// The process has no log (tmux-wire did not start it).
    NoLog,
    /// The log writer does not write what the process prints.
    LogWriter,
    /// The program the keeper's helpers run as (the log writer, restarts,
    /// time limits) does not run them; nothing was started.
    Helper,
    /// What was asked cannot be seen from here (another system, another
    /// pid namespace, ptrace rules).
    Unsupported,
    /// tmux refused a command; the message is tmux's.
    Tmux,
    /// A file of the keeper, or the system, failed.
    Io,
    /// tmux answered something tmux-wire did not expect.
    Protocol,
}

impl FailureKind {
    /// The kind's name, as the CLI's error documents give it
    /// (`not_found`, `timeout`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::NotFound => "not_found",
            FailureKind::NotRunning => "not_running",
            FailureKind::AlreadyRunning => "already_running",
            FailureKind::Exited => "exited",
            FailureKind::Timeout => "timeout",
            FailureKind::Interrupted => "interrupted",
            FailureKind::NoServer => "no_server",
            FailureKind::ServerGone => "server_gone",
            FailureKind::Socket => "socket",
            FailureKind::NoTmux => "no_tmux",
            FailureKind::Version => "version",
            FailureKind::BadInput => "bad_input",
            FailureKind::BadCursor => "bad_cursor",
            FailureKind::CannotRun => "cannot_run",
            FailureKind::NotAShell => "not_a_shell",
            FailureKind::Refused => "refused",
            FailureKind::NoLog => "no_log",
            FailureKind::LogWriter => "log_writer",
            FailureKind::Helper => "helper",
            FailureKind::Unsupported => "unsupported",
            FailureKind::Tmux => "tmux",
            FailureKind::Io => "io",
            FailureKind::Protocol => "protocol",
        }
    }
}

impl std::fmt::Display for FailureKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl KeeperError {
    /// What kind of failure this is.
    ///
    /// ```
    /// # use tmux_wire::keeper::{FailureKind, KeeperError};
    /// let e = KeeperError::NotFound { name: "web".into(), known: vec![] };
    /// assert_eq!(e.kind(), FailureKind::NotFound);
    /// ```
    pub fn kind(&self) -> FailureKind {
        use FailureKind as K;
        match self {
            KeeperError::BadName { .. }
            | KeeperError::UnknownKey { .. }
            | KeeperError::LineTooLong { .. }
            | KeeperError::BadCommand(_) => K::BadInput,
            KeeperError::NotFound { .. } => K::NotFound,
            KeeperError::Server(e) => server_kind(e),
            KeeperError::Client(e) => client_kind(e),
            KeeperError::Watch(e) => watch_kind(e),
            KeeperError::ExitedBeforeReady { .. } | KeeperError::EndedWhileWaiting { .. } => {
                K::Exited
            }
            KeeperError::NoLog { .. } => K::NoLog,
            KeeperError::NotAShell { .. } => K::NotAShell,
            KeeperError::ExecTimeout { .. }
            | KeeperError::ExecBusy { .. }
            | KeeperError::NotReady { .. } => K::Timeout,
            KeeperError::ExecRefused { .. } => K::Refused,
            KeeperError::BadCursor { .. } => K::BadCursor,
            KeeperError::ServerGone { .. } => K::ServerGone,
            KeeperError::Interrupted(_) => K::Interrupted,
            KeeperError::CannotRun { .. } => K::CannotRun,
            KeeperError::NotRunning { .. } => K::NotRunning,
            KeeperError::TooOld { .. } | KeeperError::NewerRecord { .. } => K::Version,
            KeeperError::Io { .. } => K::Io,
            KeeperError::MissedThenFailed { source, .. } => source.kind(),
            KeeperError::LogWriter { .. } => K::LogWriter,
            KeeperError::HelperUnusable { .. } => K::Helper,
        }
    }
}

fn server_kind(e: &ServerError) -> FailureKind {
    use FailureKind as K;
    match e {
        ServerError::NotRunning { .. }
        | ServerError::NoDirectory { .. }
        | ServerError::Stale { .. } => K::NoServer,
        ServerError::UnsafeDirectory { .. }
        | ServerError::NotASocket { .. }
        | ServerError::PermissionDenied { .. } => K::Socket,
        ServerError::PathTooLong { .. } => K::BadInput,
        ServerError::TmuxNotFound { .. } => K::NoTmux,
        ServerError::StartFailed { .. } => K::Tmux,
        _ => K::Io,
    }
}

fn client_kind(e: &ClientError) -> FailureKind {
    use FailureKind as K;
    if let ClientError::Transport(t) = e {
        return match &**t {
            TransportError::Server(e)
            | TransportError::Probe(ProbeError::Plain(PlainError::Server(e))) => server_kind(e),
            TransportError::Probe(ProbeError::TooOld { .. })
            | TransportError::Probe(ProbeError::Plain(PlainError::VersionMismatch { .. }))
            | TransportError::Probe(ProbeError::Plain(PlainError::TooOld { .. }))
            | TransportError::Unsupported { .. } => K::Version,
            TransportError::Probe(ProbeError::Timeout { .. }) => K::Timeout,
            TransportError::Probe(ProbeError::Plain(PlainError::Protocol { .. })) => K::Protocol,
            TransportError::Probe(ProbeError::Plain(PlainError::Closed { .. })) => K::ServerGone,
            TransportError::Spawn { .. } => K::NoTmux,
            TransportError::Encode(_) => K::BadInput,
            _ => K::Io,
        };
    }
    match e.kind() {
        ErrorKind::NotFound | ErrorKind::NoSessions => K::NotFound,
        ErrorKind::Duplicate => K::AlreadyRunning,
        ErrorKind::NoServer => K::NoServer,
        ErrorKind::Closed => K::ServerGone,
        ErrorKind::Invalid => K::BadInput,
        ErrorKind::UnexpectedAnswer => K::Protocol,
        ErrorKind::Unreachable => K::Socket,
        _ => K::Tmux,
    }
}

fn watch_kind(e: &WatchError) -> FailureKind {
    use FailureKind as K;
    match e {
        WatchError::Timeout(_) => K::Timeout,
        WatchError::Closed(_) => K::ServerGone,
        WatchError::Client(e) => client_kind(e),
        WatchError::PaneGone(_) => K::Exited,
        WatchError::Log(_) => K::Io,
        WatchError::Unsupported(_) => K::Unsupported,
        WatchError::Answer(_) => K::Protocol,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_of_nested_errors() {
        let timeout = KeeperError::Watch(WatchError::Timeout(Duration::from_secs(1)));
        assert_eq!(timeout.kind(), FailureKind::Timeout);
        let missed = KeeperError::MissedThenFailed {
            missed: Default::default(),
            source: Box::new(timeout),
        };
        assert_eq!(missed.kind(), FailureKind::Timeout);
        let stale = KeeperError::Server(ServerError::Stale {
            path: "/tmp/x".into(),
        });
        assert_eq!(stale.kind(), FailureKind::NoServer);
        let refused = KeeperError::Client(ClientError::Rejected {
            message: "can't find session: web".into(),
        });
        assert_eq!(refused.kind(), FailureKind::NotFound);
        assert_eq!(FailureKind::BadInput.as_str(), "bad_input");
        assert_eq!(
            serde_json::to_value(FailureKind::NotAShell).unwrap(),
            serde_json::json!("not_a_shell")
        );
    }

    /// The messages name no command-line syntax: the CLI adds its hints.
    #[test]
    fn messages_free_of_cli_syntax() {
        let name = "web".to_string();
        for e in [
            KeeperError::NotReady {
                name: name.clone(),
                timeout: Duration::from_secs(1),
                tail: String::new(),
            },
            KeeperError::TooOld {
                version: "3.1".into(),
            },
            KeeperError::ExecTimeout {
                name: name.clone(),
                timeout: Duration::from_secs(1),
            },
            KeeperError::Server(ServerError::Stale {
                path: "/tmp/x".into(),
            }),
        ] {
            let text = e.to_string();
            assert!(!text.contains("tmux-wire "), "{text}");
            assert!(!text.contains("--"), "{text}");
        }
    }
}
