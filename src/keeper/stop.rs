//! Stopping a process: interrupt, a grace period, then its session killed
//! (and a process that outlives that signalled); stops of one name take
//! turns and share their outcome.

use super::{is_missing, log, validate_name, Keeper, KeeperError, KeptProcess};
use crate::client::{commands, ClientError, ErrorKind};
use crate::protocol::FormatQuery;
use crate::server;
use crate::watch::{self, ExitStatus, WatchError};
use serde::Serialize;
use std::path::Path;
use std::sync::LazyLock;
use std::time::Duration;

/// A stop that finds no session reports the outcome of another stop that
/// ended it at most this long ago (see [`Keeper::stop`]).
const RECENT_STOP: Duration = Duration::from_secs(5);

/// How [`Keeper::stop`] ended a process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "how")]
#[non_exhaustive]
pub enum Stopped {
    /// It had already exited.
    AlreadyExited {
        /// How.
        status: ExitStatus,
    },
    /// It exited after the interrupt (C-c).
    Interrupted {
        /// How.
        status: ExitStatus,
    },
    /// It did not exit within the grace period; the session was killed
    /// (and a process that outlived that got SIGTERM, then SIGKILL).
    Killed,
    /// It ended after the interrupt, and took its pane or session with it
    /// before tmux could keep its status.
    Ended,
}

/// What [`Keeper::stop`] did: how the process ended, and what went wrong
/// on the side without stopping it (the stop's record beside the log could
/// not be written on a full disk, say).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct StopReport {
    /// How it ended.
    pub stopped: Stopped,
    /// What could not be done besides.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

impl From<Stopped> for StopReport {
    fn from(stopped: Stopped) -> StopReport {
        StopReport {
            stopped,
            warning: None,
        }
    }
}

impl Stopped {
    /// One line for the stop's record beside the logs: `killed`, `ended`,
    /// or `already_exited|interrupted exited|signaled N`.
    fn record(&self) -> String {
        let with = |how: &str, status: &ExitStatus| match status {
            ExitStatus::Exited(code) => format!("{how} exited {code}"),
            ExitStatus::Signaled(signal) => format!("{how} signaled {signal}"),
        };
        match self {
            Stopped::AlreadyExited { status } => with("already_exited", status),
            Stopped::Interrupted { status } => with("interrupted", status),
            Stopped::Killed => "killed".into(),
            Stopped::Ended => "ended".into(),
        }
    }

    /// Read [`Stopped::record`]; `None` for anything else.
    fn from_record(line: &str) -> Option<Stopped> {
        let words: Vec<&str> = line.split_whitespace().collect();
        let status = |how: &str, n: &str| -> Option<ExitStatus> {
            let n = n.parse().ok()?;
            match how {
                "exited" => Some(ExitStatus::Exited(n)),
                "signaled" => Some(ExitStatus::Signaled(n)),
                _ => None,
            }
        };
        match words[..] {
            ["killed"] => Some(Stopped::Killed),
            ["ended"] => Some(Stopped::Ended),
            ["already_exited", how, n] => Some(Stopped::AlreadyExited {
                status: status(how, n)?,
            }),
            ["interrupted", how, n] => Some(Stopped::Interrupted {
                status: status(how, n)?,
            }),
            _ => None,
        }
    }
}

impl Keeper {
    /// Interrupt `name` (C-c), wait up to `grace` for it to exit, then kill
    /// its session; the session is gone afterwards either way.
    ///
    /// Stops of one name run one at a time (a lock file beside its log):
    /// one does the work and records how it went; a stop that was waiting
    /// for that same session then reports the same outcome. Files beside
    /// the log that cannot be written (a full disk) do not keep it from
    /// stopping the process: the report says what could not be done.
    pub async fn stop(&self, name: &str, grace: Duration) -> Result<StopReport, KeeperError> {
        self.stop_via(name, grace, None).await
    }

    /// [`Keeper::stop`], through `via`'s connection if given (a handle of
    /// the process: [`KeptProcess::stop`]).
    pub(super) async fn stop_via(
        &self,
        name: &str,
        grace: Duration,
        via: Option<&KeptProcess>,
    ) -> Result<StopReport, KeeperError> {
        validate_name(name)?;
        if via.is_none() {
            self.require_server().await?;
        }
        // Which session this stop is about, before waiting for the lock.
        let id = match self.session_id(name, via).await {
            Ok(Some(id)) => id,
            Ok(None) => {
                return match self.stopped_just_now(name).await? {
                    Some(how) => Ok(how.into()),
                    None => Err(self.not_found(name).await),
                }
            }
            Err(KeeperError::Client(e)) if is_missing(&e) => {
                // A stop that comes a moment after another one ended it (a
                // caller retrying, or the last of several at once) gets
                // that outcome; later, the name is simply not there.
                return match self.stopped_just_now(name).await? {
                    Some(how) => Ok(how.into()),
                    None => Err(self.not_found(name).await),
                };
            }
            Err(e) => return Err(e),
        };
        let dir = self
            .log_path(name)
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        // Stops take turns through a file beside the logs; where that
        // directory cannot be ours (a socket in someone else's directory),
        // the stop goes on alone.
        if server::ensure_private_dir(&dir).is_err() {
            return Ok(self.stop_now(name, grace, via).await?.into());
        }
        let io = |what: &str, source| KeeperError::Io {
            what: format!("{what} in {}", dir.display()),
            source,
        };
        let _lock = match self.stop_lock(&dir, name).await {
            Ok(lock) => lock,
            // No lock (a full disk may refuse even an empty file): the stop
            // goes on alone rather than leave the process running.
            Err(e) => {
                let how = self.stop_now(name, grace, via).await?;
                return Ok(StopReport {
                    stopped: how,
                    warning: Some(format!(
                        "stopped without taking turns with other stops: {e}"
                    )),
                });
            }
        };
        let record = dir.join(format!("{name}.stopped"));
        let still_there = match self.session_id(name, via).await {
            Ok(now) => now.as_ref() == Some(&id),
            Err(KeeperError::Client(e)) if is_missing(&e) => false,
            Err(e) => return Err(e),
        };
        if !still_there {
            // Another stop ended it while this one waited: its outcome.
            let recorded = log::open_read(&record).ok().and_then(|mut file| {
                let mut text = String::new();
                std::io::Read::read_to_string(&mut file, &mut text).ok()?;
                let (who, how) = text.split_once('\n')?;
                (who == id).then(|| Stopped::from_record(how))?
            });
            return match recorded {
                Some(how) => Ok(how.into()),
                None => Err(self.not_found(name).await),
            };
        }
        let how = self.stop_now(name, grace, via).await?;
        let text = format!("{id}\n{}", how.record());
        // Written whole, then renamed: a reader sees all of it or nothing.
        let partial = dir.join(format!("{name}.stopped.new"));
        let _ = std::fs::remove_file(&partial);
        let recorded = log::open_append(&partial)
            .and_then(|mut f| std::io::Write::write_all(&mut f, text.as_bytes()))
            .and_then(|()| std::fs::rename(&partial, &record));
        // The process is stopped either way: only stops that come a moment
        // later miss the record (they say the name is not there).
        let warning = recorded.err().map(|e| {
            let _ = std::fs::remove_file(&partial);
            io("recording how the stop went", e).to_string()
        });
        Ok(StopReport {
            stopped: how,
            warning,
        })
    }

    /// Which session `name` is now (server pid and session id), or `None`.
    /// (`display-message -t` answers with empty fields, not an error, when
    /// its target is missing; the name in the answer tells.)
    async fn session_id(
        &self,
        name: &str,
        via: Option<&KeptProcess>,
    ) -> Result<Option<String>, KeeperError> {
        let display = commands::display(commands::session(name), SESSION_ID.format());
        let reply = match via {
            Some(process) => process.client.command(display).await?,
            None => self.once(display).await?,
        };
        let fields = SESSION_ID
            .parse_one(&reply.content())
            .map_err(WatchError::from)?;
        Ok((fields[2] == name).then(|| format!("{} {}", fields[0], fields[1])))
    }

    /// A stop that finds no session: if another stop ended it a moment ago
    /// (a caller retrying, or the last of several at once), its outcome.
    async fn stopped_just_now(&self, name: &str) -> Result<Option<Stopped>, KeeperError> {
        Ok(self
            .settled_stop_record(name)
            .await?
            .filter(|(written, _)| written.elapsed().is_ok_and(|age| age <= RECENT_STOP))
            .map(|(_, how)| how))
    }

    /// The record of the last stop of `name` that ended a session (when it
    /// was written, and how the stop went), once a stop under way has
    /// finished: it is written under the lock.
    pub(super) async fn settled_stop_record(
        &self,
        name: &str,
    ) -> Result<Option<(std::time::SystemTime, Stopped)>, KeeperError> {
        let path = self.log_path(name);
        // Only a directory of ours holds records to trust.
        let Some(dir) = path
            .parent()
            .filter(|d| d.is_dir() && server::check_private_dir(d).is_ok())
        else {
            return Ok(None);
        };
        drop(self.stop_lock(dir, name).await?);
        Ok(self.stop_record(name))
    }

    /// The lock that makes stops of `name` take turns (a file in the log
    /// directory `dir`), held until dropped.
    pub(super) async fn stop_lock(&self, dir: &Path, name: &str) -> Result<log::Lock, KeeperError> {
        let io = |what: &str, source| KeeperError::Io {
            what: format!("{what} in {}", dir.display()),
            source,
        };
        let lock_file = log::open_append(&dir.join(format!("{name}.stop")))
            .map_err(|e| io("opening the stop lock", e))?;
        log::Lock::wait(lock_file)
            .await
            .map_err(|e| io("taking the stop lock", e))
    }

    /// When the last stop of `name` that ended a session was recorded, and
    /// how it went.
    fn stop_record(&self, name: &str) -> Option<(std::time::SystemTime, Stopped)> {
        let record = self
            .log_path(name)
            .with_file_name(format!("{name}.stopped"));
        let written = std::fs::symlink_metadata(&record).ok()?.modified().ok()?;
        let mut text = String::new();
        std::io::Read::read_to_string(&mut log::open_read(&record).ok()?, &mut text).ok()?;
        Some((written, Stopped::from_record(text.split_once('\n')?.1)?))
    }

    /// The stop itself, with the lock held (through `via`'s connection if
    /// given).
    async fn stop_now(
        &self,
        name: &str,
        grace: Duration,
        via: Option<&KeptProcess>,
    ) -> Result<Stopped, KeeperError> {
        // No output: tmux 3.2a crashes when a pane dies while output for it
        // waits to be sent to a control client (docs/tmux-versions.md).
        let (client, pane) = match via {
            Some(process) => (process.client.clone(), process.pane),
            None => self.pane_without_output(name).await?.into_parts(),
        };
        let target = commands::session(name);
        // A stopped process is not started again by its restart policy.
        self.restart_off_if_set(&client, name).await?;
        let how = match watch::exit_status(&client, pane).await? {
            Some(status) => Stopped::AlreadyExited { status },
            None => {
                // Keep the status (a session started elsewhere may not).
                client.commands(watch::exit_reporting(pane)).await?;
                client.command(commands::send_keys(pane, ["C-c"])).await?;
                match watch::wait_exit(&client, pane, grace).await {
                    Ok(status) => Stopped::Interrupted { status },
                    Err(WatchError::Timeout(_)) => Stopped::Killed,
                    // The pane, its session or the whole server went with it.
                    Err(WatchError::PaneGone(_) | WatchError::Closed(_)) => Stopped::Ended,
                    Err(WatchError::Client(ClientError::Closed(_))) => Stopped::Ended,
                    Err(e) => return Err(e.into()),
                }
            }
        };
        // The process, watched through a pidfd in case it outlives the
        // SIGHUP that killing its session sends.
        // (Only a server in our pid namespace has processes we may signal.)
        let survivor = match how {
            Stopped::Killed => watch::local_pids(&client, pane).await.map(|(_, pid)| pid),
            _ => None,
        };
        let process = crate::os::process::ProcessExit::open(survivor);
        // Killing the session we are attached to ends this connection.
        let kill = client.command(commands::kill_session(target)).await;
        match kill {
            Ok(_) => {}
            Err(e) if e.is(ErrorKind::Closed) || e.is(ErrorKind::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
        if let (Some(pid), true) = (survivor, process.is_open()) {
            terminate(pid, &process).await;
        }
        // What a restart would have needed (the caller's environment, too).
        let _ = std::fs::remove_file(self.spec_path(name));
        // The last kept process takes the keeper's hooks with it.
        self.uninstall_if_unused().await;
        Ok(how)
    }

    /// Remove the socket file if no server answers on it; returns whether
    /// one was removed. A live server is never touched.
    pub fn clean(&self) -> Result<bool, KeeperError> {
        Ok(server::remove_stale_socket(&self.socket)?)
    }
}

/// Which session, on which server: the server's pid and the session's id
/// (ids are not reused while a server runs).
static SESSION_ID: LazyLock<FormatQuery> =
    LazyLock::new(|| FormatQuery::new(&["pid", "session_id", "session_name"]));

/// A process that survived its session's end (it ignores SIGHUP): SIGTERM
/// to its process group, then SIGKILL if it is still there after 2 s.
async fn terminate(pid: i32, process: &crate::os::process::ProcessExit) {
    let gone = tokio::time::timeout(Duration::from_millis(500), process.exited()).await;
    if gone.is_ok() {
        return;
    }
    terminate_now(pid, process).await;
}

/// SIGTERM to the process group of `pid`, then SIGKILL if it has not
/// exited 2 s later.
pub(super) async fn terminate_now(pid: i32, process: &crate::os::process::ProcessExit) {
    use rustix::process::{kill_process_group, Signal};
    let Some(group) = crate::os::process::pid(pid) else {
        return;
    };
    let _ = kill_process_group(group, Signal::TERM);
    if tokio::time::timeout(Duration::from_secs(2), process.exited())
        .await
        .is_err()
    {
        let _ = kill_process_group(group, Signal::KILL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_read_back() {
        for how in [
            Stopped::Killed,
            Stopped::Ended,
            Stopped::AlreadyExited {
                status: ExitStatus::Exited(3),
            },
            Stopped::Interrupted {
                status: ExitStatus::Signaled(15),
            },
        ] {
            assert_eq!(Stopped::from_record(&how.record()), Some(how));
        }
        for bad in [
            "",
            "killed now",
            "interrupted exited x",
            "{\"how\":\"killed\"}",
        ] {
            assert_eq!(Stopped::from_record(bad), None, "{bad:?}");
        }
    }
}
