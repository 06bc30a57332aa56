//! The one policy for children and SIGCHLD: when tmux-wire reminds a tmux
//! server to reap, and how its own children are reaped. (A leaf: it knows
//! processes, not tmux connections; it belongs with the other looks at
//! the OS.)
//!
//! **tmux's children.** tmux built with libutempter (Debian's and Ubuntu's
//! packages) can lose a SIGCHLD: while utempter runs its helper (when a
//! pane's pty closes, which is also when its process exits) it has its
//! own SIGCHLD handler in place (tmux issue #311, seen here on 3.3a). The
//! pane then reads dead with no status, its `pane-died` hook does not
//! fire, and the process stays a zombie until the server gets another
//! SIGCHLD. Sending one is the workaround tmux's maintainer gave; its only
//! effect is that the server `waitpid`s for what has exited. So a server
//! that is a tmux process of this system (never anything else) is sent
//! one ([`remind`]):
//! - [`after_exit`]: when this side sees that a pane's process has exited
//!   and tmux has not reaped it (its pidfd is readable, a look says
//!   `unreaped`, `list` says `exiting`): at once, then every
//!   [`AFTER_EXIT_EVERY`] for [`AFTER_EXIT_FOR`], since a reminder that
//!   lands while utempter's helper still runs is lost too;
//! - every [`BACKSTOP`] while something waits for an exit it cannot see
//!   (a wait through the server; the log writer, a child of the server,
//!   while its input is quiet, so that a restart policy's hook fires even
//!   with no tmux-wire client about).
//!
//! **Our own children.** tmux-wire never sets a SIGCHLD disposition or
//! handler, and never `waitpid`s for a process it did not start. The tmux
//! binary run to start a server is waited for where it runs (on the
//! blocking pool); a `tmux -C` of the process transport is a
//! `tokio::process` child, which tokio reaps (through a pidfd on Linux
//! 5.3 and later; elsewhere tokio installs its own SIGCHLD handler).

use rustix::process::{Pid, Signal};
use std::time::Duration;
use tokio::time::Instant;

/// After an exit tmux has not reaped: remind this often ...
pub(crate) const AFTER_EXIT_EVERY: Duration = Duration::from_millis(1);
/// ... for this long.
pub(crate) const AFTER_EXIT_FOR: Duration = Duration::from_millis(250);
/// While waiting for an exit that cannot be seen: remind this often.
pub(crate) const BACKSTOP: Duration = Duration::from_millis(500);

/// Send the tmux server `server` a SIGCHLD (see the module docs); nothing
/// for `None`. The caller has checked that it is a tmux process of this
/// system.
pub(crate) fn remind(server: Option<Pid>) {
    if let Some(pid) = server {
        let _ = rustix::process::kill_process(pid, Signal::CHILD);
    }
}

/// A pane's process of `server` has exited and tmux has not reaped it:
/// remind now, then every [`AFTER_EXIT_EVERY`] for [`AFTER_EXIT_FOR`], in
/// a task of its own (it goes on after the caller's wait has returned, so
/// that tmux reaps soon and the status is there for the next look too).
pub(crate) fn after_exit(server: Pid) {
    remind(Some(server));
    tokio::spawn(async move {
        let until = Instant::now() + AFTER_EXIT_FOR;
        while Instant::now() < until {
            tokio::time::sleep(AFTER_EXIT_EVERY).await;
            remind(Some(server));
        }
    });
}
