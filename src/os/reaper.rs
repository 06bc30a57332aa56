//! Reminding a tmux server to reap its children (see [`nudge`]).

use nix::unistd::Pid;
use std::time::Duration;
use tokio::time::Instant;

/// After the kernel says the process exited, remind the server to reap
/// every [`NUDGE_EVERY`] for at most [`NUDGE_FOR`]. A SIGCHLD that arrives
/// while tmux runs utempter's helper (it does so when the pane's pty
/// closes, blocking for a few milliseconds) is lost too, so one reminder
/// right at the exit is not enough.
const NUDGE_EVERY: Duration = Duration::from_millis(1);
const NUDGE_FOR: Duration = Duration::from_millis(250);

/// Remind the server now, then every [`NUDGE_EVERY`] for [`NUDGE_FOR`], in
/// a task of its own: it goes on after the wait has returned, so that tmux
/// reaps soon and the status is queryable there too.
pub(crate) fn spawn_nudges(server: Pid) {
    nudge(Some(server));
    tokio::spawn(async move {
        let until = Instant::now() + NUDGE_FOR;
        while Instant::now() < until {
            tokio::time::sleep(NUDGE_EVERY).await;
            nudge(Some(server));
        }
    });
}

/// tmux built with libutempter (Debian's and Ubuntu's packages) can lose a
/// SIGCHLD: while utempter runs its helper (when a pane's pty closes, which
/// is also when its process exits) it has its own SIGCHLD handler in place
/// (tmux issue #311, seen here on 3.3a). The pane then reads dead with no
/// status, and the process stays a zombie until the server gets another
/// SIGCHLD. Sending one is the workaround tmux's maintainer gave; its only
/// effect is that the server reaps what has exited.
pub(crate) fn nudge(server: Option<Pid>) {
    if let Some(pid) = server {
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGCHLD);
    }
}
