//! [`KeeperError`], the keeper's one error type, and what the CLI makes of
//! it (exit codes).

use crate::client::ClientError;
use crate::server::ServerError;
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
        "{name}: the command did not finish within {timeout:?}; it is still running (see `logs`)"
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
        reason: String,
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
    /// `start --ready`: the process runs, but did not print the pattern in
    /// time. It is left running.
    #[error(
        "{name} did not print what --ready waits for within {timeout:?}; it is still \
         running (end it with `tmux-wire stop {name}`); last output:\n{tail}"
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
         `tmux-wire cmd` still works with this server"
    )]
    TooOld {
        /// The server's version.
        version: String,
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
