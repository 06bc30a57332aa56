//! Waiting until a pane's program waits for input: blocked reading its
//! terminal (see `os::terminal::reading_terminal` for how that is seen).
//!
//! The check runs when the pane's output goes quiet ([`QUIET`] after its
//! last output: a program that prints a prompt and then reads), and, as a
//! backstop for a program that starts to read without printing anything,
//! after each [`BACKSTOP`] of silence. Nothing else wakes it.

use super::WatchError;
use crate::os::terminal::reading_terminal;
use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

/// Output quiet this long means the program may be waiting.
pub const QUIET: Duration = Duration::from_millis(50);
/// Without any output, look again this often.
pub const BACKSTOP: Duration = Duration::from_secs(1);

/// Whether the program of the pane whose process is `pid` waits for input
/// now; an error where this cannot be seen.
pub fn waiting_for_input(pid: i32) -> Result<bool, WatchError> {
    reading_terminal(pid).ok_or_else(|| {
        WatchError::Unsupported(
            "cannot see whether the program reads its terminal: this needs Linux (x86_64 or aarch64), the tmux server in this pid namespace, and /proc/PID/syscall readable".into(),
        )
    })
}

/// What says that a pane printed something: its output stream, or its
/// log's changes.
pub trait Activity {
    /// Resolves at the next output.
    fn printed(&mut self) -> impl Future<Output = Result<(), WatchError>>;
}

impl Activity for crate::client::PaneOutput {
    async fn printed(&mut self) -> Result<(), WatchError> {
        match self.next().await {
            Some(crate::client::PaneEvent::Closed(why)) => Err(WatchError::Closed(why)),
            None => Err(WatchError::Closed(crate::client::CloseReason::Lost)),
            Some(_) => Ok(()),
        }
    }
}

/// Wait until the program of the pane whose process is `pid` waits for
/// input; `activity` says when the pane printed something.
pub async fn until_waiting_for_input(
    pid: i32,
    activity: &mut impl Activity,
    timeout: impl Into<Option<Duration>>,
) -> Result<(), WatchError> {
    let timeout = super::limit(timeout);
    let deadline = Instant::now() + timeout;
    loop {
        // A look at every process in /proc: off the runtime.
        if crate::blocking::off_runtime(move || waiting_for_input(pid)).await? {
            return Ok(());
        }
        let next_look = async {
            match tokio::time::timeout(BACKSTOP, activity.printed()).await {
                // Silence: the backstop.
                Err(_) => Ok::<(), WatchError>(()),
                Ok(printed) => {
                    printed?;
                    // It prints: look once it has gone quiet.
                    loop {
                        match tokio::time::timeout(QUIET, activity.printed()).await {
                            Err(_) => return Ok(()),
                            Ok(printed) => printed?,
                        }
                    }
                }
            }
        };
        match tokio::time::timeout_at(deadline, next_look).await {
            Ok(result) => result?,
            Err(_) => return Err(WatchError::Timeout(timeout)),
        }
    }
}
