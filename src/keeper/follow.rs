//! Following a kept process's log to its end (`logs --follow`).

use super::{log, Keeper, KeeperError, KeptProcess, LogWriter, State};
use crate::client::{Client, ClientError, CloseReason, ErrorKind};
use crate::protocol::PaneId;
use crate::watch::{self, ExitStatus, WatchError};
use std::time::Duration;

/// The signal a process gets when its terminal closes.
const SIGHUP: i32 = 1;
/// How long after a death by SIGHUP a server that is ending says goodbye.
const GOODBYE_WITHIN: Duration = Duration::from_secs(3);

/// How following a log ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Followed {
    /// The process exited, and the log holds all it wrote.
    Exited(ExitStatus),
    /// Its pane was killed and its status was not kept.
    Gone,
}

/// A log being followed: made by [`KeptProcess::follow_logs`], run by
/// [`LogFollow::run`].
pub struct LogFollow {
    client: Client,
    pane: PaneId,
    name: String,
    follower: log::Follower,
    changes: log::LogWatch,
    socket: std::path::PathBuf,
    /// The tmux server's pid, where it is a process of this system.
    server: Option<rustix::process::Pid>,
    /// The keeper, to look at the log writer and start it again.
    keeper: Keeper,
    /// The end of the log writer's process (a pidfd), where it can be seen.
    writer: crate::os::process::ProcessExit,
    /// Whether the log writer is still to be watched (the process runs).
    watch_writer: bool,
    /// When to look at it next, where its end cannot be watched.
    next_look: tokio::time::Instant,
}

/// How often the log writer is looked at where its process cannot be
/// watched (no pidfd: a server of another system or pid namespace, or a
/// writer not yet started); otherwise its end wakes the follower at once.
const WRITER_LOOK: Duration = Duration::from_secs(1);

impl Keeper {
    /// The last `n` lines of `process`'s log, and a follow of what comes
    /// after them, as text or as bytes. The log's changes are watched
    /// before it is read, so nothing written in between is missed. Only a
    /// process tmux-wire started has a log to follow. (The handle's
    /// [`KeptProcess::follow_logs`] and [`KeptProcess::follow_logs_bytes`].)
    pub(super) async fn follow_logs_of<L: log::RenderedLine + LastLines>(
        &self,
        process: &KeptProcess,
        n: usize,
        raw: bool,
    ) -> Result<(Vec<L>, LogFollow), KeeperError> {
        let (client, name, pane) = (process.client.clone(), process.name(), process.pane);
        let server = watch::local_pids(&client, pane)
            .await
            .map(|(server, _)| server);
        let changes = log::LogWatch::new(&self.log_path(name)).paced(log::FLOOD_PACE);
        let (last, end) = L::last_lines(self, name, n, raw).await?;
        let Some(end) = end else {
            return Err(KeeperError::NoLog {
                name: name.to_string(),
            });
        };
        let writer = crate::os::process::ProcessExit::open(
            super::writer::writer_pid(server, &self.log_path(name)).await,
        );
        let follow = LogFollow {
            client,
            pane,
            name: name.to_string(),
            follower: log::Follower::new(&self.log_path(name), end, raw),
            changes,
            socket: self.socket().to_path_buf(),
            server,
            keeper: self.clone(),
            writer,
            watch_writer: true,
            next_look: tokio::time::Instant::now() + WRITER_LOOK,
        };
        Ok((last, follow))
    }
}

/// The last lines before a follow, as text or as bytes.
pub(super) trait LastLines: Sized {
    async fn last_lines(
        keeper: &Keeper,
        name: &str,
        n: usize,
        raw: bool,
    ) -> Result<(Vec<Self>, Option<log::Position>), KeeperError>;
}

impl LastLines for String {
    async fn last_lines(
        keeper: &Keeper,
        name: &str,
        n: usize,
        raw: bool,
    ) -> Result<(Vec<Self>, Option<log::Position>), KeeperError> {
        keeper.logs_or_history_in(name, n, raw, true).await
    }
}

impl LastLines for Vec<u8> {
    async fn last_lines(
        keeper: &Keeper,
        name: &str,
        n: usize,
        _raw: bool,
    ) -> Result<(Vec<Self>, Option<log::Position>), KeeperError> {
        keeper.logs_or_history_bytes_in(name, n, true).await
    }
}

impl LogFollow {
    /// Pass the lines the process adds to its log to `on_lines` until it
    /// exits, then say how it ended. A reader that fell so far behind that
    /// the log rotated away what it had not read yet is told so: what it
    /// missed goes to `on_missed`, between the lines before it and the
    /// lines after it, which begin at the start of a line
    /// ([`log::Missed`]). Each call has the lines of one read
    /// (at most 1 MiB), in order; a caller that
    /// buffers its output writes it out at the end of each call. The log is the source, so nothing is
    /// passed twice or lost (tmux 3.3a can drop the last `%output` of a
    /// pane that is dying), and the log directory's changes (inotify, or
    /// polling where there is none) say when to read: the log writer is a
    /// process of its own and can lag far behind tmux's output under a
    /// flood. Reads are bounded, so memory stays flat however far behind
    /// the reader is. Dropping the future stops following.
    ///
    /// The log writer is watched too (its process's end, where it can be
    /// seen, else a look every second): one that stops is started again
    /// at once, with a gap line in the log, and `on_writer` is told
    /// ([`LogWriter::Restarted`]) before the lines after it; one that
    /// cannot be started again ends the follow with
    /// [`KeeperError::LogWriter`], which says why.
    pub async fn run(
        self,
        on_lines: impl FnMut(&[String]),
        on_missed: impl FnMut(&log::Missed),
        on_writer: impl FnMut(&LogWriter),
    ) -> Result<Followed, KeeperError> {
        self.run_as(on_lines, on_missed, on_writer).await
    }

    /// [`LogFollow::run`] with the lines as bytes, exactly as the process
    /// wrote them (for a follow made raw: [`KeptProcess::follow_logs_bytes`]).
    pub async fn run_bytes(
        self,
        on_lines: impl FnMut(&[Vec<u8>]),
        on_missed: impl FnMut(&log::Missed),
        on_writer: impl FnMut(&LogWriter),
    ) -> Result<Followed, KeeperError> {
        self.run_as(on_lines, on_missed, on_writer).await
    }

    async fn run_as<L: log::RenderedLine>(
        mut self,
        mut on_lines: impl FnMut(&[L]),
        mut on_missed: impl FnMut(&log::Missed),
        mut on_writer: impl FnMut(&LogWriter),
    ) -> Result<Followed, KeeperError> {
        // After the exit, a sync with the writer says when the log holds
        // all the process wrote; a writer without one is taken as done once
        // the log stops changing for this long.
        const QUIET: Duration = Duration::from_millis(500);
        let client = self.client.clone();
        let exited = watch::wait_exit(&client, self.pane, None);
        let mut exited = std::pin::pin!(exited);
        let io = |what: &str, source| KeeperError::Io {
            what: what.to_string(),
            source,
        };
        let mut end = None;
        let mut synced = false;
        loop {
            loop {
                let lines: Vec<L> = self
                    .follower
                    .read_new_as()
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
                if synced {
                    break;
                }
                // Read once more after it, then end.
                synced = true;
                let deadline = tokio::time::Instant::now() + super::wait::LOG_SETTLE_AT_MOST;
                let path = self.keeper.log_path(&self.name);
                log::sync::everything_logged_after_exit(
                    &path,
                    &self.name,
                    Some((&client, self.pane)),
                    QUIET,
                    deadline,
                )
                .await?;
                Ok(())
            } else {
                let look = self.watch_writer && !self.writer.is_open();
                let writer_ended = tokio::select! {
                    changed = self.changes.changed() => {
                        changed.map_err(|e| io("watching the log", e))?;
                        false
                    }
                    status = &mut exited => {
                        end = Some(status);
                        false
                    }
                    () = self.writer.exited(), if self.watch_writer => true,
                    () = tokio::time::sleep_until(self.next_look), if look => true,
                };
                if writer_ended {
                    if let Some(writer) = self.look_at_writer().await? {
                        on_writer(&writer);
                    }
                }
                Ok(())
            };
            changed.map_err(|e| io("watching the log", e))?;
        }
        // The log ended inside the line a gap cut: the rest is missed.
        if let Some(missed) = self.follower.missed_at_end() {
            on_missed(&missed);
        }
        if let Some(rest) = self.follower.rest_as() {
            on_lines(&[rest]);
        }
        let gone = |reason: CloseReason| KeeperError::ServerGone {
            name: self.name.clone(),
            reason,
        };
        // A server told to end (kill-server, SIGTERM) closes its panes'
        // terminals, may report their deaths by SIGHUP, then drops its
        // clients: such a death followed by that goodbye is the server's
        // end. The goodbye is waited for (a death by SIGHUP that is the
        // process's own, its session kept, is said that much later).
        let server_ended = match end {
            // Or the pane went first: the server killed its sessions.
            Some(Ok(ExitStatus::Signaled(SIGHUP)) | Err(WatchError::PaneGone(_))) => {
                tokio::time::timeout(GOODBYE_WITHIN, self.client.wait_closed())
                    .await
                    .ok()
                    .filter(CloseReason::server_ended)
            }
            _ => None,
        };
        // The connection also closes when the session is killed: then the
        // server lives on, and the pane went with its session (looked at
        // once the goodbye was waited for).
        let alive = crate::server::socket_state_async(&self.socket)
            .await
            .is_ok_and(|s| s == crate::server::SocketState::Alive);
        let server_lives = alive
            && !self
                .server
                .is_some_and(|pid| crate::os::process::process_ending(pid.as_raw_pid()));
        match end.expect("the loop ends after the end") {
            Ok(ExitStatus::Signaled(SIGHUP)) if server_ended.is_some() => {
                Err(gone(server_ended.unwrap_or(CloseReason::Lost)))
            }
            Ok(status) => Ok(Followed::Exited(status)),
            Err(WatchError::PaneGone(_)) if server_ended.is_some() => {
                Err(gone(server_ended.unwrap_or(CloseReason::Lost)))
            }
            Err(WatchError::PaneGone(_)) => Ok(Followed::Gone),
            Err(WatchError::Closed(reason) | WatchError::Client(ClientError::Closed(reason)))
                if server_lives && !reason.server_ended() =>
            {
                Ok(Followed::Gone)
            }
            // Its session was the last: the server has none left.
            Err(WatchError::Client(e)) if e.is(ErrorKind::NoSessions) && server_lives => {
                Ok(Followed::Gone)
            }
            Err(WatchError::Closed(reason) | WatchError::Client(ClientError::Closed(reason))) => {
                Err(gone(reason))
            }
            // Whatever failed, a server that is no longer there is the
            // reason.
            Err(e) if !alive => {
                ::log::debug!("following {}: {e}, and the server is gone", self.name);
                Err(gone(CloseReason::Ended(
                    crate::transport::Ending::ServerGone,
                )))
            }
            Err(e) => Err(e.into()),
        }
    }
}

impl LogFollow {
    /// The log writer ended, or may have (no pidfd to say): look at it,
    /// start it again if it is gone, and watch the one that runs now.
    /// What the reader is to be told, if anything; an error if it cannot
    /// be started again.
    async fn look_at_writer(&mut self) -> Result<Option<LogWriter>, KeeperError> {
        let ended = self.writer.is_open();
        let info = match self.keeper.find_via(&self.name, Some(&self.client)).await {
            Ok((info, _)) => info,
            // Its end (or the server's) is the exit watch's to tell.
            Err(_) => {
                self.stop_watching_writer();
                return Ok(None);
            }
        };
        if !matches!(info.state, State::Running | State::Idle) {
            self.stop_watching_writer();
            return Ok(None);
        }
        let told = match info.log_writer {
            Some(stopped @ LogWriter::Stopped { .. }) => {
                return Err(KeeperError::LogWriter {
                    name: self.name.clone(),
                    what: "the follow cannot go on (what the process prints no longer reaches its log)".into(),
                    writer: stopped,
                });
            }
            Some(restarted @ LogWriter::Restarted { .. }) => Some(restarted),
            _ => None,
        };
        let pid = self.new_writer_pid().await;
        self.writer = crate::os::process::ProcessExit::open(pid);
        self.next_look = tokio::time::Instant::now() + WRITER_LOOK;
        Ok(match told {
            // Its process ended, and another caller started it again.
            None if ended && pid.is_some() => Some(LogWriter::Restarted {
                reason: "the log writer was gone (its process ended)".into(),
            }),
            told => told,
        })
    }

    /// The pid of the log writer that runs, once it runs: one just
    /// started may still be the shell that becomes it (a bounded wait).
    async fn new_writer_pid(&self) -> Option<i32> {
        self.server?;
        let path = self.keeper.log_path(&self.name);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        loop {
            if let Some(pid) = super::writer::writer_pid(self.server, &path).await {
                return Some(pid);
            }
            if tokio::time::Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn stop_watching_writer(&mut self) {
        self.watch_writer = false;
        self.writer = crate::os::process::ProcessExit::open(None);
    }
}
