//! The log writer of a kept process (`tmux-wire log-sink`, run by tmux's
//! `pipe-pane`): whether it writes, what it reported when it could not,
//! and starting it again when it is gone.
//!
//! The writer never stops reading (see [`log::sink_reporting`]): a write
//! that fails (a full disk, an I/O error) is counted, the failure is
//! recorded on the pane (the record's `log_error`, set through the server
//! by the writer itself), and once a write works again a gap line marks what is
//! missing. A writer that is gone (killed, or its pipe closed) is seen by
//! tmux's `#{pane_pipe}` (0 once tmux found the pipe closed, which it does
//! at the next output) and, where the server is a local process, by its
//! children; the keeper's next look at the process ([`Keeper::find`])
//! starts it again, after a gap line in the log.

use super::record::{self, LogError};
use super::{log, unix_now, Keeper, KeeperError, ProcessInfo, State};
use crate::client::commands;
use crate::protocol::{Command, PaneId};
use serde::Serialize;
use std::path::Path;

/// How long starting a log writer again may take at most.
const REVIVE_WITHIN: std::time::Duration = std::time::Duration::from_secs(5);

/// What the log writer of a kept process is doing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
#[non_exhaustive]
pub enum LogWriter {
    /// It writes what the process prints.
    Writing,
    /// It cannot write (a full disk, an I/O error): it reads on, so the
    /// process is not held up, and counts what it drops; once it can write
    /// again it marks the gap in the log and goes on.
    Failing {
        /// Why, as the system said it.
        reason: String,
        /// Since when, seconds since the Unix epoch.
        since: Option<u64>,
    },
    /// It is gone (killed, or its pipe was closed), and could not be
    /// started again.
    Stopped {
        /// What is known of why.
        reason: String,
    },
    /// It was gone and was started again just now; what the process
    /// printed in between is missing (a gap line in the log says where).
    Restarted {
        /// What had happened.
        reason: String,
    },
}

impl LogWriter {
    /// Whether all the process prints reaches its log.
    pub fn is_writing(&self) -> bool {
        matches!(self, LogWriter::Writing)
    }
}

impl std::fmt::Display for LogWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LogWriter::Writing => write!(f, "writing"),
            LogWriter::Failing { reason, since } => {
                write!(f, "failing")?;
                if let Some(since) = since {
                    write!(f, " since {}", log::utc_time(*since))?;
                }
                write!(
                    f,
                    ": {reason}; what the process prints meanwhile is not kept (the process is not held up; the gap is marked in the log once writing works again)"
                )
            }
            LogWriter::Stopped { reason } => write!(f, "stopped: {reason}"),
            LogWriter::Restarted { reason } => write!(
                f,
                "restarted: {reason}; started again now, what the process printed in between is missing (marked in the log)"
            ),
        }
    }
}

/// The writer's state from what a `list-panes` answer says of a kept
/// process: `pipe` is `#{pane_pipe}`, `error` what the writer recorded
/// of its failure, `seen` whether a writer process of its log runs (`None` where
/// that cannot be seen). Only a process that runs needs a writer; one that
/// ended has a state only if its writer failed.
pub(super) fn state_of(
    state: &State,
    pipe: &str,
    error: Option<&LogError>,
    seen: Option<bool>,
) -> Option<LogWriter> {
    let runs = matches!(state, State::Running | State::Idle);
    if runs && (pipe == "0" || seen == Some(false)) {
        let reason = match error {
            None => "the log writer is gone (it was killed, or its pipe was closed)".to_string(),
            Some(error) => format!("the log writer is gone, after it failed ({})", error.reason),
        };
        return Some(LogWriter::Stopped { reason });
    }
    if let Some(error) = error {
        return Some(LogWriter::Failing {
            reason: error.reason.clone(),
            since: error.since,
        });
    }
    runs.then_some(LogWriter::Writing)
}

/// The log files written by children of the tmux server `server` (its
/// `log-sink` processes, or the shell about to become one), with their
/// pids; `None` where that cannot be seen (not Linux, a server in another
/// pid namespace).
pub(super) fn writers_of(server: rustix::process::Pid) -> Option<Vec<(std::ffi::OsString, i32)>> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::ffi::OsStrExt;
        if !crate::os::process::is_tmux(server) {
            return None;
        }
        let children =
            std::fs::read_to_string(format!("/proc/{server}/task/{server}/children")).ok()?;
        let own = std::fs::read(format!("/proc/{server}/cmdline")).ok()?;
        let mut out = Vec::new();
        for child in children.split_ascii_whitespace() {
            let Ok(pid) = child.parse::<i32>() else {
                continue;
            };
            let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
                continue;
            };
            // Forked and not yet the program it runs, or in the middle of
            // an exec (no command line, and no zombie): it may be a writer
            // being started, so whether one runs cannot be told now.
            let zombie = || {
                crate::os::procfs::stat(pid)
                    .is_none_or(|stat| stat.fields.first().is_some_and(|s| s == "Z"))
            };
            if cmdline == own || (cmdline.is_empty() && !zombie()) {
                return None;
            }
            let args: Vec<&[u8]> = cmdline
                .strip_suffix(b"\0")
                .unwrap_or(&cmdline)
                .split(|&b| b == 0)
                .collect();
            if let Some(path) = log::sink_path(&args) {
                out.push((std::ffi::OsStr::from_bytes(path).to_os_string(), pid));
            }
        }
        Some(out)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = server;
        None
    }
}

/// Whether a log writer of `log` runs on this system (a look at every
/// process, not only the server's children): `/proc/PID/task/PID/children`
/// can miss a child while others come and go, so a writer it did not list
/// is looked for here before it counts as gone. A zombie has no command
/// line, so a writer that was killed does not count.
pub(super) fn writer_running(log: &std::ffi::OsStr) -> bool {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::ffi::OsStrExt;
        let Some(mut pids) = crate::os::procfs::pids() else {
            return false;
        };
        pids.any(|pid| {
            let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
                return false;
            };
            let args: Vec<&[u8]> = cmdline
                .strip_suffix(b"\0")
                .unwrap_or(&cmdline)
                .split(|&b| b == 0)
                .collect();
            log::sink_path(&args) == Some(log.as_bytes())
        })
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = log;
        false
    }
}

/// Which of `logs` have a log writer that runs, for the tmux server
/// `server`: its children first, then, for a log none of them writes,
/// every process ([`writer_running`]); `None` where that cannot be seen.
/// The looks into /proc run off the async runtime.
pub(super) async fn writers_running(
    server: rustix::process::Pid,
    logs: Vec<String>,
) -> Option<std::collections::HashSet<String>> {
    tokio::task::spawn_blocking(move || {
        let writers = writers_of(server)?;
        Some(
            logs.into_iter()
                .filter(|log| {
                    writers
                        .iter()
                        .any(|(path, _)| path.as_os_str() == log.as_str())
                        || writer_running(log.as_ref())
                })
                .collect(),
        )
    })
    .await
    .ok()
    .flatten()
}

/// The pid of the log writer of `log`, a child of the tmux server
/// `server`, if one runs and that can be seen (off the async runtime).
pub(super) async fn writer_pid(server: Option<rustix::process::Pid>, log: &Path) -> Option<i32> {
    let server = server?;
    let log = log.as_os_str().to_os_string();
    tokio::task::spawn_blocking(move || {
        writers_of(server)?
            .into_iter()
            .find(|(path, _)| *path == log)
            .map(|(_, pid)| pid)
    })
    .await
    .ok()
    .flatten()
}

impl Keeper {
    /// Start the log writer of `info` again if it is gone: a gap line in
    /// the log, the failure record cleared, a new `pipe-pane`. Its state
    /// then says so ([`LogWriter::Restarted`]), or why that failed.
    /// Revivals of one process take turns (an flock on a file beside its
    /// log, released by the kernel if the holder dies), and each looks
    /// again under the lock: a writer that another caller started just
    /// now is left alone (one gap line, one writer).
    pub(super) async fn revive_log_writer(&self, info: &mut ProcessInfo) {
        let Some(LogWriter::Stopped { reason }) = info.log_writer.clone() else {
            return;
        };
        let Ok(pane) = info.pane.parse::<PaneId>() else {
            return;
        };
        let path = self.log_path(&info.name);
        let mut fresh = None;
        let revived = async {
            let _turn = self.writer_lock(&path, &info.name).await?;
            let (all, _) = self.list_with_server().await?;
            match all.into_iter().find(|p| p.name == info.name) {
                Some(now) if matches!(now.log_writer, Some(LogWriter::Stopped { .. })) => {}
                // Started again by another caller, or the process ended.
                now => {
                    fresh = Some(now);
                    return Ok(());
                }
            }
            self.checked_helper().await?;
            let sink = self.sink_command(pane, &path)?;
            // The gap first, so that it comes before what the new writer
            // writes; a log that cannot take it gets the new writer's own.
            let gap = log::gap_line(&format!(
                "{reason}; what the process printed until {} is missing",
                log::utc_time(unix_now())
            ));
            if let Err(e) = log::append_line(&path, &gap) {
                ::log::warn!("marking the gap in {}: {e}", path.display());
            }
            let _ = self.once(record::set_log_error(pane, None)).await;
            // Readers wait for the new writer to listen.
            if let Err(e) = log::sync::prepare_channel(&path) {
                ::log::warn!("the sync channel of {}: {e}", path.display());
            }
            self.once(commands::pipe_output(pane, &sink)).await?;
            let _ = self
                .once(Command::from_argv([
                    "wait-for",
                    "-S",
                    super::hooks::EVENTS_CHANNEL,
                ]))
                .await;
            Ok::<(), KeeperError>(())
        };
        // Bounded: a server that is shutting down holds a new client
        // without answering.
        let revived = tokio::time::timeout(REVIVE_WITHIN, revived).await;
        if matches!(revived, Ok(Ok(()))) && fresh.is_none() {
            // A time of its own: a writer slow to open its sync channel is
            // not a server that did not answer.
            log::sync::until_listening(&path).await;
        }
        if let (Ok(Ok(())), Some(fresh)) = (&revived, fresh) {
            match fresh {
                Some(now) => *info = now,
                None => info.log_writer = None,
            }
            return;
        }
        info.log_writer = Some(match revived {
            Ok(Ok(())) => LogWriter::Restarted { reason },
            Ok(Err(e)) => LogWriter::Stopped {
                reason: format!("{reason}; starting it again failed: {e}"),
            },
            Err(_) => LogWriter::Stopped {
                reason: format!(
                    "{reason}; starting it again failed: the server did not answer within {REVIVE_WITHIN:?}"
                ),
            },
        });
    }

    /// The lock that makes revivals of `name`'s log writer take turns (a
    /// file beside its log `log`), held until dropped.
    async fn writer_lock(&self, log: &Path, name: &str) -> Result<log::Lock, KeeperError> {
        let lock = log.with_file_name(format!("{name}.writer.lock"));
        let io = |what: &str, source| KeeperError::Io {
            what: format!("{what} {}", lock.display()),
            source,
        };
        let file = log::open_append(&lock).map_err(|e| io("opening the writer lock", e))?;
        log::Lock::wait(file)
            .await
            .map_err(|e| io("taking the writer lock", e))
    }

    /// Why what `name` prints does not all reach its log now, if it does
    /// not (a writer that was gone is started again first).
    pub async fn log_writer_problem(&self, name: &str) -> Result<Option<LogWriter>, KeeperError> {
        let (info, _) = self.find(name).await?;
        Ok(info.log_writer.filter(|w| !w.is_writing()))
    }
}

/// For the log writer (`log-sink --pane PANE`): record on its pane, through
/// the server on `socket`, that it cannot write (`Some(reason)`) or that it
/// writes again (`None`), and wake an event stream. Bounded (5 s) and
/// quiet: a writer that cannot say it still writes what it can.
pub(super) fn report_log_writer(socket: &Path, pane: &str, failure: Option<&str>) {
    let Ok(pane) = pane.parse::<PaneId>() else {
        return;
    };
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    let keeper = match Keeper::new(&crate::server::SocketSpec::Path(socket.to_path_buf())) {
        Ok(keeper) => keeper,
        Err(_) => return,
    };
    let failure = failure.map(|reason| LogError {
        since: Some(unix_now()),
        reason: reason.to_string(),
    });
    let command = record::set_log_error(pane, failure.as_ref());
    runtime.block_on(async {
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), async {
            if let Err(e) = keeper.once(command).await {
                ::log::warn!("recording the log writer's state: {e}");
            }
            let _ = keeper
                .once(Command::from_argv([
                    "wait-for",
                    "-S",
                    super::hooks::EVENTS_CHANNEL,
                ]))
                .await;
        })
        .await;
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states() {
        let running = State::Running;
        let error = |reason: &str, since| {
            Some(LogError {
                since: Some(since),
                reason: reason.into(),
            })
        };
        let full = error("No space left on device", 100);
        let io = error("Input/output error", 5);
        assert_eq!(
            state_of(&running, "1", None, Some(true)),
            Some(LogWriter::Writing)
        );
        assert_eq!(
            state_of(&running, "1", None, None),
            Some(LogWriter::Writing)
        );
        assert!(matches!(
            state_of(&running, "0", None, None),
            Some(LogWriter::Stopped { .. })
        ));
        assert!(matches!(
            state_of(&running, "1", None, Some(false)),
            Some(LogWriter::Stopped { .. })
        ));
        assert_eq!(
            state_of(&running, "1", full.as_ref(), Some(true)),
            Some(LogWriter::Failing {
                reason: "No space left on device".into(),
                since: Some(100)
            })
        );
        let ended = State::Exited { code: 0 };
        assert_eq!(state_of(&ended, "0", None, Some(false)), None);
        assert!(matches!(
            state_of(&ended, "1", io.as_ref(), None),
            Some(LogWriter::Failing { .. })
        ));
    }
}
