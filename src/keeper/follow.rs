//! Following a kept process's log to its end (`logs --follow`).

use super::{log, Keeper, KeeperError};
use crate::client::{Client, ClientError, ErrorKind};
use crate::protocol::PaneId;
use crate::watch::{self, ExitStatus, WatchError};
use std::time::Duration;

/// The signal a process gets when its terminal closes.
const SIGHUP: i32 = 1;

/// How following a log ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Followed {
    /// The process exited, and the log holds all it wrote.
    Exited(ExitStatus),
    /// Its pane was killed and its status was not kept.
    Gone,
}

/// A log being followed: made by [`Keeper::follow_logs`], run by
/// [`LogFollow::run`].
pub struct LogFollow {
    client: Client,
    pane: PaneId,
    name: String,
    follower: log::Follower,
    changes: log::LogWatch,
    socket: std::path::PathBuf,
    /// The tmux server's pid, where it is a process of this system.
    server: Option<nix::unistd::Pid>,
}

impl Keeper {
    /// The last `n` lines of `name`'s log, and a follow of what comes after
    /// them. The log's changes are watched before it is read, so nothing
    /// written in between is missed. Only a process tmux-wire started has a
    /// log to follow.
    pub async fn follow_logs(
        &self,
        name: &str,
        n: usize,
        raw: bool,
    ) -> Result<(Vec<String>, LogFollow), KeeperError> {
        let (client, pane) = self.pane_without_output(name).await?.into_parts();
        let server = watch::local_pids(&client, pane)
            .await
            .map(|(server, _)| server);
        let changes = log::LogWatch::new(&self.log_path(name)).paced(log::FLOOD_PACE);
        let (last, end) = self.logs_or_history(name, n, raw, true).await?;
        let Some(end) = end else {
            return Err(KeeperError::NoLog {
                name: name.to_string(),
            });
        };
        let follow = LogFollow {
            client,
            pane,
            name: name.to_string(),
            follower: log::Follower::new(&self.log_path(name), end, raw),
            changes,
            socket: self.socket().to_path_buf(),
            server,
        };
        Ok((last, follow))
    }
}

impl LogFollow {
    /// Pass the lines the process adds to its log to `on_lines` until it
    /// exits, then say how it ended. A reader that fell so far behind that
    /// the log rotated away what it had not read yet is told so: what it
    /// missed goes to `on_missed`, between the lines before it and the
    /// lines after it, which begin at the start of a line
    /// ([`log::Missed`]). Each call has the lines of one read
    /// (at most [`log::READ_CHUNK`] bytes), in order; a caller that
    /// buffers its output writes it out at the end of each call. The log is the source, so nothing is
    /// passed twice or lost (tmux 3.3a can drop the last `%output` of a
    /// pane that is dying), and the log directory's changes (inotify, or
    /// polling where there is none) say when to read: the log writer is a
    /// process of its own and can lag far behind tmux's output under a
    /// flood. Reads are bounded, so memory stays flat however far behind
    /// the reader is. Dropping the future stops following.
    pub async fn run(
        mut self,
        mut on_lines: impl FnMut(&[String]),
        mut on_missed: impl FnMut(&log::Missed),
    ) -> Result<Followed, KeeperError> {
        // After the exit, tmux has read all the process wrote; the writer is
        // done once the log stops changing for this long.
        const QUIET: Duration = Duration::from_millis(500);
        let forever = Duration::from_secs(100 * 365 * 24 * 3600);
        let exited = watch::wait_exit(&self.client, self.pane, forever);
        let mut exited = std::pin::pin!(exited);
        let io = |what: &str, source| KeeperError::Io {
            what: what.to_string(),
            source,
        };
        let mut end = None;
        loop {
            loop {
                let lines = self
                    .follower
                    .read_new()
                    .map_err(|e| io("reading the log", e))?;
                if let Some(missed) = self.follower.take_missed() {
                    on_missed(&missed);
                }
                if !lines.is_empty() {
                    on_lines(&lines);
                }
                if self.follower.caught_up() {
                    break;
                }
            }
            let changed = if end.is_some() {
                match tokio::time::timeout(QUIET, self.changes.changed()).await {
                    Ok(changed) => changed,
                    Err(_) => break,
                }
            } else {
                tokio::select! {
                    changed = self.changes.changed() => changed,
                    status = &mut exited => {
                        end = Some(status);
                        Ok(())
                    }
                }
            };
            changed.map_err(|e| io("watching the log", e))?;
        }
        // The log ended inside the line a gap cut: the rest is missed.
        if let Some(missed) = self.follower.missed_at_end() {
            on_missed(&missed);
        }
        if let Some(rest) = self.follower.rest() {
            on_lines(&[rest]);
        }
        let gone = |reason: String| KeeperError::ServerGone {
            name: self.name.clone(),
            reason,
        };
        // The connection also closes when the session is killed: then the
        // server lives on, and the pane went with its session.
        let server_lives = || {
            server_alive(&self.socket)
                && !self
                    .server
                    .is_some_and(|pid| watch::process_ending(pid.as_raw()))
        };
        // A server told to end (kill-server, SIGTERM) closes its panes'
        // terminals, reports their deaths by SIGHUP, then drops its
        // clients: such a death followed by that goodbye is the server's end.
        let server_ended = self
            .client
            .closed_reason()
            .filter(|reason| watch::closed_by_server_end(reason));
        match end.expect("the loop ends after the end") {
            Ok(ExitStatus::Signaled(SIGHUP)) if server_ended.is_some() => {
                Err(gone(server_ended.unwrap_or_default()))
            }
            Ok(status) => Ok(Followed::Exited(status)),
            Err(WatchError::PaneGone(_)) => Ok(Followed::Gone),
            Err(WatchError::Closed(reason) | WatchError::Client(ClientError::Closed(reason)))
                if server_lives() && !watch::closed_by_server_end(&reason) =>
            {
                Ok(Followed::Gone)
            }
            // Its session was the last: the server has none left.
            Err(WatchError::Client(e)) if e.is(ErrorKind::NoSessions) && server_lives() => {
                Ok(Followed::Gone)
            }
            Err(WatchError::Closed(reason) | WatchError::Client(ClientError::Closed(reason))) => {
                Err(gone(reason))
            }
            // Whatever failed, a server that is no longer there is the reason.
            Err(e) if !server_alive(&self.socket) => Err(gone(e.to_string())),
            Err(e) => Err(e.into()),
        }
    }
}

fn server_alive(socket: &std::path::Path) -> bool {
    crate::server::socket_state(socket).is_ok_and(|s| s == crate::server::SocketState::Alive)
}
