//! The client layer's error, and tmux's error texts classified once.

use crate::protocol::{AnswerError, ProtocolError, Reply};
use crate::server::ServerError;
use crate::transport::plain::{PlainError, ProbeError};
use crate::transport::{Ending, TransportError};
use std::sync::Arc;
use thiserror::Error;

/// Errors of the client layer.
#[derive(Debug, Clone, Error)]
#[non_exhaustive]
pub enum ClientError {
    /// tmux answered the command with `%error`.
    #[error("tmux: {message}")]
    Command {
        /// tmux's message (the block's lines).
        message: String,
        /// The whole reply.
        reply: Box<Reply>,
    },
    /// The command could not be put on a control line.
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    /// Connecting failed.
    #[error(transparent)]
    Transport(Arc<TransportError>),
    /// tmux refused a command before running it: a parse error or an
    /// unknown command given as the initial command, which tmux reports on
    /// a line of its own (outside any reply block) before it ends the
    /// connection.
    #[error("tmux: {message}")]
    Rejected {
        /// tmux's message, exactly as it wrote it.
        message: String,
    },
    /// tmux's answer is not what was asked for.
    #[error(transparent)]
    Answer(#[from] AnswerError),
    /// The session is over; the reason says why.
    #[error("connection closed: {0}")]
    Closed(CloseReason),
    /// [`Client::connect_again`](super::Client::connect_again) on a client
    /// made from a pipe: it has no address to connect to.
    #[error("this client was made from a pipe and cannot reconnect")]
    NoAddress,
}

/// Why a connection closed: how the transport saw the session end, or,
/// where it said nothing, what this side saw.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReason {
    /// The transport's word: the server's exit (a killed session too), a
    /// detach, a shutdown, a server gone without a goodbye, the `tmux -C`
    /// child's exit ([`Ending`]).
    Ended(Ending),
    /// This side closed it (its last handle dropped, or it detached) before
    /// tmux had attached it.
    DetachedBeforeAttaching,
    /// Our input is closed (this side detached) and the connection's end
    /// is not known yet: no command can be sent any more. (Once the end is
    /// known, a command gets that reason instead.)
    InputClosed,
    /// Writing to tmux failed, and the transport said nothing more.
    WriteFailed,
    /// The control stream ended or could not be read, and the transport
    /// said nothing.
    StreamClosed,
    /// The connection's task is gone without a word (it is not running).
    Lost,
}

impl CloseReason {
    /// How the transport saw the session end, if it said.
    pub fn ending(&self) -> Option<&Ending> {
        match self {
            CloseReason::Ended(ending) => Some(ending),
            _ => None,
        }
    }

    /// Whether the connection closed because its server ends: told to
    /// (`kill-server`, SIGTERM: [`Ending::Shutdown`]) or killed, with no
    /// goodbye ([`Ending::ServerGone`]). A killed session or a detach is
    /// not.
    pub fn server_ended(&self) -> bool {
        matches!(
            self,
            CloseReason::Ended(Ending::Shutdown | Ending::ServerGone)
        )
    }
}

impl std::fmt::Display for CloseReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CloseReason::Ended(ending) => ending.fmt(f),
            CloseReason::DetachedBeforeAttaching => f.write_str("detached before attaching"),
            CloseReason::InputClosed => f.write_str("the control stream is closed"),
            CloseReason::WriteFailed => f.write_str("writing to tmux failed"),
            CloseReason::StreamClosed => f.write_str("the control stream closed"),
            CloseReason::Lost => f.write_str("connection closed"),
        }
    }
}

/// What kind of failure a [`ClientError`] is, for callers that decide what
/// to do next. tmux's messages are matched here and nowhere else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A target does not exist: `can't find session|window|pane|client: X`,
    /// or `no such session|window|pane: X` (option commands).
    NotFound,
    /// The server has no session to attach to or to take as the current
    /// one (`no sessions`, `no current target`, `no current session`).
    NoSessions,
    /// `new-session -s` with a name in use (`duplicate session: X`).
    Duplicate,
    /// `set-option -o` of an option that is set (`already set: X`).
    AlreadySet,
    /// tmux does not know the command (`unknown command: X`, `ambiguous
    /// command: X`): an older tmux, or a typo.
    UnknownCommand,
    /// The command's arguments are wrong (`unknown flag`, `command X: ...`,
    /// `too many arguments`, `missing argument`, a parse error).
    Usage,
    /// No server listens on the socket.
    NoServer,
    /// The server cannot be spoken to (a version the direct transport does
    /// not support, a socket that is not safe to use, a probe that failed).
    Unreachable,
    /// The connection ended before the answer.
    Closed,
    /// The command cannot be written as a control line.
    Invalid,
    /// tmux answered something other than what was asked for.
    UnexpectedAnswer,
    /// Any other error tmux reported; its message says what.
    Other,
}

impl ClientError {
    /// tmux's own message, for an error tmux reported
    /// ([`ClientError::Command`], [`ClientError::Rejected`]).
    pub fn tmux_message(&self) -> Option<&str> {
        match self {
            ClientError::Command { message, .. } | ClientError::Rejected { message } => {
                Some(message)
            }
            _ => None,
        }
    }

    /// The kind of failure.
    ///
    /// ```
    /// # use tmux_wire::client::{ClientError, ErrorKind};
    /// let e = ClientError::Rejected { message: "can't find session: web".into() };
    /// assert_eq!(e.kind(), ErrorKind::NotFound);
    /// ```
    pub fn kind(&self) -> ErrorKind {
        match self {
            ClientError::Command { message, .. } | ClientError::Rejected { message } => {
                classify(message)
            }
            ClientError::Protocol(_) => ErrorKind::Invalid,
            ClientError::Answer(_) => ErrorKind::UnexpectedAnswer,
            ClientError::Closed(_) => ErrorKind::Closed,
            ClientError::NoAddress => ErrorKind::Unreachable,
            ClientError::Transport(e) => match &**e {
                TransportError::Server(e)
                | TransportError::Probe(ProbeError::Plain(PlainError::Server(e)))
                    if matches!(
                        e,
                        ServerError::NotRunning { .. }
                            | ServerError::NoDirectory { .. }
                            | ServerError::Stale { .. }
                    ) =>
                {
                    ErrorKind::NoServer
                }
                _ => ErrorKind::Unreachable,
            },
        }
    }

    /// Whether the error is of `kind`.
    pub fn is(&self, kind: ErrorKind) -> bool {
        self.kind() == kind
    }
}

/// tmux's message to a kind; the texts are those of tmux 3.1 to 3.8
/// (`cmd-find.c`, `options.c`, `cmd.c`, `arguments.c`, `cmd-parse.y`).
fn classify(message: &str) -> ErrorKind {
    // A multi-line message (several errors) is classified by its first.
    let first = message.lines().next().unwrap_or("").trim();
    let starts = |prefixes: &[&str]| prefixes.iter().any(|p| first.starts_with(p));
    if starts(&[
        "can't find ",
        "no such session",
        "no such window",
        "no such pane",
    ]) {
        ErrorKind::NotFound
    } else if starts(&["no sessions", "no current target", "no current session"]) {
        ErrorKind::NoSessions
    } else if starts(&["duplicate session"]) {
        ErrorKind::Duplicate
    } else if starts(&["already set"]) {
        ErrorKind::AlreadySet
    } else if starts(&["unknown command", "ambiguous command"]) {
        ErrorKind::UnknownCommand
    } else if starts(&[
        "unknown flag",
        "command ",
        "too many arguments",
        "missing argument",
        "parse error",
        "syntax error",
    ]) {
        ErrorKind::Usage
    } else {
        ErrorKind::Other
    }
}

impl From<TransportError> for ClientError {
    fn from(e: TransportError) -> Self {
        ClientError::Transport(Arc::new(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tmux_texts_of_every_version() {
        for (text, kind) in [
            ("can't find session: web", ErrorKind::NotFound),
            ("can't find pane: %9", ErrorKind::NotFound),
            ("can't find window: 3", ErrorKind::NotFound),
            ("no such pane: %4", ErrorKind::NotFound),
            ("no sessions", ErrorKind::NoSessions),
            ("no current target", ErrorKind::NoSessions),
            ("no current session", ErrorKind::NoSessions),
            ("duplicate session: web", ErrorKind::Duplicate),
            ("already set: @x", ErrorKind::AlreadySet),
            ("unknown command: nope", ErrorKind::UnknownCommand),
            (
                "ambiguous command: s, could be: ...",
                ErrorKind::UnknownCommand,
            ),
            ("command display-message: unknown flag -Z", ErrorKind::Usage),
            ("unknown flag -Z", ErrorKind::Usage),
            ("parse error: syntax error", ErrorKind::Usage),
            ("create window failed: fork failed", ErrorKind::Other),
            // The name is the user's: it must not decide the kind.
            ("target pane has exited", ErrorKind::Other),
        ] {
            assert_eq!(classify(text), kind, "{text}");
        }
        assert_eq!(
            classify("can't find session: a\nno sessions"),
            ErrorKind::NotFound
        );
        assert_eq!(
            ClientError::Closed(CloseReason::Lost).kind(),
            ErrorKind::Closed
        );
    }
}
