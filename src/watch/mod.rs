//! Event-driven waits on a pane: for a pattern, or for quiet.
//!
//! Nothing here polls. A wait subscribes to the pane's output stream first
//! and only then looks at what is already on the screen, so output printed
//! in between is seen at least once and never missed. After that it wakes
//! only when tmux sends output (or when a timer it set runs out).
//!
//! Text is matched as a person sees it, line by line ([`pattern`]: escape
//! sequences dropped, carriage returns overwriting the line, `^` and `$`
//! per line), from a starting point the caller chooses, and never in the
//! echo of text the caller just typed.
//!
//! [`wait_exit`] waits for a pane's process to exit and returns its status
//! ([`exit`] says how, and why nothing can slip between looking and
//! waiting). [`wait_idle`] waits for quiet.
//!
//! Every wait is two steps where a caller may need to know it is armed:
//! [`arm_for`] / [`arm_idle`] return once output is followed, and the
//! armed wait's `wait(timeout)` then awaits it.
//!
//! Every wait takes a time limit as a [`Duration`], or `None` to wait as
//! long as it takes (`timeout: impl Into<Option<Duration>>`); one that runs
//! out is [`WatchError::Timeout`].
//!
//! The files: `pattern.rs` (a line matching a pattern), `idle.rs` (quiet),
//! `exit.rs` (the exit and its status), `input.rs` (a program waiting for
//! input), `pids.rs` (the pids of a pane's process and its server, for the
//! looks at them in [`crate::os`] that only a process in the server's pid
//! namespace on Linux can take: pidfds and `/proc`).

pub mod exit;
mod idle;
pub mod input;
pub mod pattern;
mod pids;

pub use exit::{
    arm_exit, exit_reporting, exit_status, report_exits, wait_exit, ArmedExit, ExitReporting,
    ExitWatch,
};
pub use idle::{arm_idle, current_command, is_shell, wait_idle, ArmedIdle, Idle, IdleWhen};
pub use input::{until_waiting_for_input, waiting_for_input};
pub use pattern::{arm_for, arm_with, input_row, wait_for, ArmedReady, Found, LineMatch, Since};
// What the keeper uses of the waits' insides.
#[cfg(feature = "keeper")]
pub(crate) use {
    exit::{dead_signal_on_screen, reports_dead_signal, EXIT_CHANNEL, EXIT_HOOK_INDEX},
    idle::program_name,
    pattern::screen_rows,
    pids::{local_pids, pane_line_rules},
};

/// How a pane's process ended (defined with the look at the process itself).
pub use crate::os::ExitStatus;

use crate::client::{ClientError, CloseReason, ErrorKind};
use crate::protocol::{FormatError, PaneId};
use std::time::Duration;
use thiserror::Error;

/// The time a wait given no limit waits: long enough to be for ever, short
/// enough for any clock to add to now.
const NO_LIMIT: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// A wait's time limit: `timeout`, or for ever ([`NO_LIMIT`]) if it is
/// `None`.
pub(crate) fn limit(timeout: impl Into<Option<Duration>>) -> Duration {
    timeout.into().unwrap_or(NO_LIMIT)
}

/// Errors of the waits.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum WatchError {
    /// The time ran out first.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// The connection ended first.
    #[error("the connection closed: {0}")]
    Closed(CloseReason),
    /// A command the wait needed failed.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The pane went away without an exit status to report: it was killed,
    /// or it exited while `remain-on-exit` was off.
    #[error("pane {0} is gone and its exit status was not kept")]
    PaneGone(PaneId),
    /// Reading or watching a log failed.
    #[error("{0}")]
    Log(String),
    /// What was asked cannot be seen from here (another system, another
    /// pid namespace).
    #[error("{0}")]
    Unsupported(String),
    /// tmux answered a query with something other than what was asked.
    #[error(transparent)]
    Answer(#[from] FormatError),
}

/// A failed query about a pane that no longer exists means it is gone.
fn gone(e: ClientError, pane: PaneId) -> WatchError {
    if e.is(ErrorKind::NotFound) {
        WatchError::PaneGone(pane)
    } else {
        WatchError::Client(e)
    }
}

/// The waits as methods of a pane handle.
impl crate::client::Pane {
    /// [`arm_for`] on this pane.
    pub async fn arm_for(
        &self,
        pattern: &regex::Regex,
        since: Since,
    ) -> Result<ArmedReady<'_>, WatchError> {
        arm_for(self.client(), self.id(), pattern, since).await
    }

    /// [`wait_for`] on this pane: a line matching `pattern`, what is on
    /// the screen included.
    pub async fn wait_for(
        &self,
        pattern: &regex::Regex,
        timeout: impl Into<Option<Duration>>,
    ) -> Result<Found, WatchError> {
        wait_for(self.client(), self.id(), pattern, timeout).await
    }

    /// [`arm_idle`] on this pane.
    pub async fn arm_idle(&self) -> Result<ArmedIdle<'_>, WatchError> {
        arm_idle(self.client(), self.id()).await
    }

    /// [`wait_idle`] on this pane.
    pub async fn wait_idle(
        &self,
        quiet: Duration,
        when: IdleWhen,
        timeout: impl Into<Option<Duration>>,
    ) -> Result<Idle, WatchError> {
        wait_idle(self.client(), self.id(), quiet, when, timeout).await
    }

    /// [`arm_exit`] on this pane.
    pub async fn arm_exit(&self, how: ExitWatch) -> Result<ArmedExit, WatchError> {
        arm_exit(self.client(), self.id(), how).await
    }

    /// [`wait_exit`] on this pane.
    pub async fn wait_exit(
        &self,
        timeout: impl Into<Option<Duration>>,
    ) -> Result<ExitStatus, WatchError> {
        wait_exit(self.client(), self.id(), timeout).await
    }

    /// [`exit_status`] of this pane: `None` while it runs.
    pub async fn exit_status(&self) -> Result<Option<ExitStatus>, WatchError> {
        exit_status(self.client(), self.id()).await
    }
}
