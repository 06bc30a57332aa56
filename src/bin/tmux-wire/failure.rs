//! How a command failed: [`Failure`], what the error document and the
//! line on stderr say (`main` reports it), made from the library's errors
//! with the CLI's hints (`hints`).

use crate::{contract, hints};
use tmux_wire::keeper::KeeperError;

/// How a command failed: what the error document (`contract::ErrorDoc`) and
/// the line on stderr say, and the exit status.
pub struct Failure {
    /// What kind of failure, for programs (`"kind"`).
    pub kind: contract::Kind,
    /// What happened.
    pub message: String,
    /// What to do about it, in the CLI's terms.
    pub hint: Option<String>,
    /// The exit status.
    pub code: u8,
    /// The message is tmux's own, printed as tmux prints it.
    pub tmux: bool,
    /// A wait in a log missed this much of it before it failed (the
    /// command said so on stderr already; the error document says it too).
    pub missed: tmux_wire::keeper::WaitMissed,
}

impl Failure {
    /// A failure of this kind, exit 1.
    pub fn new(kind: contract::Kind, message: impl Into<String>) -> Failure {
        Failure {
            kind,
            message: message.into(),
            hint: None,
            code: 1,
            tmux: false,
            missed: Default::default(),
        }
    }

    /// With this hint.
    pub fn hint(mut self, hint: impl Into<String>) -> Failure {
        self.hint = Some(hint.into());
        self
    }
}

impl From<KeeperError> for Failure {
    fn from(e: KeeperError) -> Self {
        let hint = hints::of(&e);
        let (missed, e) = match e {
            KeeperError::MissedThenFailed { missed, source } => (missed, *source),
            e => (Default::default(), e),
        };
        Failure {
            kind: e.kind().into(),
            message: e.to_string(),
            hint,
            code: e.exit_code(),
            tmux: false,
            missed,
        }
    }
}

impl From<tmux_wire::client::ClientError> for Failure {
    fn from(e: tmux_wire::client::ClientError) -> Self {
        KeeperError::from(e).into()
    }
}

impl From<tmux_wire::watch::WatchError> for Failure {
    fn from(e: tmux_wire::watch::WatchError) -> Self {
        KeeperError::from(e).into()
    }
}
