//! What the keeper tells of a process: [`ProcessInfo`] and its [`State`]
//! (read by `keeper/inventory.rs`).

use crate::watch::ExitStatus;
use serde::Serialize;
use std::path::PathBuf;
use std::time::Duration;

/// A session whose output stayed quiet this long reads as `idle` in
/// [`super::Keeper::list`].
pub const IDLE_AFTER: Duration = Duration::from_secs(30);

/// The state of a kept process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
#[non_exhaustive]
pub enum State {
    /// Running and printed something within [`IDLE_AFTER`].
    Running,
    /// Running, quiet for at least [`IDLE_AFTER`].
    Idle,
    /// Exited with a code.
    Exited {
        /// The code.
        code: i32,
    },
    /// Killed by a signal.
    Killed {
        /// The signal number.
        signal: i32,
    },
    /// Its pty closed and tmux has not reported a status yet.
    Exiting,
    /// A `start` is setting it up (its starter is alive).
    Starting,
    /// A `start` began it and died before it finished: nothing runs but a
    /// placeholder. The next `start` of the name replaces it.
    Abandoned,
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            State::Running => write!(f, "running"),
            State::Idle => write!(f, "idle"),
            State::Exited { code } => write!(f, "exited {code}"),
            State::Killed { signal } => write!(f, "killed by signal {signal}"),
            State::Exiting => write!(f, "exiting"),
            State::Starting => write!(f, "starting"),
            State::Abandoned => write!(f, "abandoned (its start was killed)"),
        }
    }
}

/// One kept process (or any session on the socket).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ProcessInfo {
    /// The name (the session name).
    pub name: String,
    /// Its state.
    #[serde(flatten)]
    pub state: State,
    /// The pane it runs in.
    pub pane: String,
    /// Its process id (the pane's).
    pub pid: Option<u32>,
    /// The command line it was started with.
    pub command: String,
    /// The directory it was started in (or the pane's current one for
    /// sessions the keeper did not start).
    pub cwd: String,
    /// When it was started, seconds since the Unix epoch.
    pub started: Option<u64>,
    /// Its log file, for processes the keeper started.
    pub log: Option<PathBuf>,
    /// Set when `start --kill-after` stopped it for running longer than
    /// this many seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub killed_after: Option<u64>,
    /// How often a restart policy started it again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restarts: Option<u32>,
    /// How its last runs ended (at most ten, oldest first), for processes
    /// with a restart policy.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exits: Vec<ExitStatus>,
    /// The same, each with the run it ended (a log position); first, for
    /// any process, the run a `start` replaced, if it had ended.
    #[serde(skip)]
    pub exit_runs: Vec<(String, ExitStatus)>,
    /// Whether its program is blocked reading its terminal (waiting for
    /// input); `status` only, and only where that can be seen (Linux, the
    /// server in this pid namespace).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiting_for_input: Option<bool>,
    /// What its readiness pattern matched, once it did (`start --ready`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ready: Option<String>,
    /// The last failure of a helper tmux ran for it (its log writer, a
    /// restart, a time limit), including one that could not run at all;
    /// for the keeper's own processes, since their last `start`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Where its run begins in the log (the keeper's own processes).
    #[serde(skip)]
    pub run_start: Option<super::log::Position>,
    /// What its log writer does: for the keeper's own processes while they
    /// run, and after that only if the writer failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_writer: Option<super::LogWriter>,
    /// The version of its record when a newer tmux-wire started it (then
    /// nothing else of the record is read, and the keeper's steps refuse
    /// it: [`super::KeeperError::NewerRecord`]).
    #[serde(skip)]
    #[doc(hidden)]
    pub newer_record: Option<String>,
}
