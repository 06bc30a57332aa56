//! Stopping everything, shutting the server down, and pruning the logs of
//! names that are gone.

use super::stop::StopReport;
use super::{Keeper, KeeperError};
use crate::client::{commands, ClientError, ErrorKind};
use crate::server::{self, SocketState};
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

/// How long the logs of names that no longer run are kept by default.
pub const LOG_MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);

impl Keeper {
    /// Stop every session on the socket, all at once (each with its own
    /// `grace`); in the order `list` gives them.
    pub async fn stop_all(
        &self,
        grace: Duration,
    ) -> Result<Vec<(String, StopReport)>, KeeperError> {
        let names: Vec<String> = self.list().await?.into_iter().map(|p| p.name).collect();
        let mut stops = tokio::task::JoinSet::new();
        for (i, name) in names.iter().enumerate() {
            let keeper = self.clone();
            let name = name.clone();
            stops.spawn(async move { (i, name.clone(), keeper.stop(&name, grace).await) });
        }
        let mut done = Vec::new();
        let mut first_error = None;
        while let Some(joined) = stops.join_next().await {
            let (i, name, result) = match joined {
                Ok(done) => done,
                Err(e) => {
                    // Keep draining: dropping the set would abort the
                    // other stops halfway.
                    first_error.get_or_insert(KeeperError::BadCommand(e.to_string()));
                    continue;
                }
            };
            match result {
                Ok(how) => done.push((i, name, how)),
                // Gone meanwhile (it exited and its session closed).
                Err(KeeperError::NotFound { .. }) => {}
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        if let Some(e) = first_error {
            return Err(e);
        }
        done.sort_by_key(|(i, _, _)| *i);
        Ok(done.into_iter().map(|(_, name, how)| (name, how)).collect())
    }

    /// Stop every process ([`Keeper::stop_all`]), end the server and remove
    /// its socket. Returns what was stopped, and what was found: a socket
    /// nobody answers on is removed too; no socket at all is fine.
    pub async fn shutdown(&self, grace: Duration) -> Result<ShutDown, KeeperError> {
        let state = server::socket_state_async(&self.socket).await?;
        let stopped = match state {
            SocketState::Alive => {
                let stopped = self.stop_all(grace).await?;
                match self.once(commands::kill_server()).await {
                    Ok(_) => {}
                    // It went on its own (exit-empty) or is going.
                    Err(KeeperError::Client(e))
                        if e.is(ErrorKind::Closed) || e.is(ErrorKind::NoServer) => {}
                    Err(KeeperError::Client(ClientError::Transport(_))) => {}
                    Err(e) => return Err(e),
                }
                stopped
            }
            _ => Vec::new(),
        };
        let removed = match std::fs::remove_file(&self.socket) {
            Ok(()) => true,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
            Err(source) => {
                return Err(KeeperError::Io {
                    what: format!("removing {}", self.socket.display()),
                    source,
                })
            }
        };
        Ok(ShutDown {
            stopped,
            server_ended: state == SocketState::Alive,
            socket_removed: removed,
        })
    }

    /// Remove the logs (and their rotated files, index and stop records) of
    /// names that do not run on the socket now, last written more than
    /// `older_than` ago (`None`: any). Returns the names whose logs went.
    pub async fn prune_logs(
        &self,
        older_than: Option<Duration>,
    ) -> Result<Vec<String>, KeeperError> {
        let dir = self
            .log_path("x")
            .parent()
            .map(PathBuf::from)
            .unwrap_or_default();
        if !dir.exists() {
            return Ok(Vec::new());
        }
        server::check_private_dir(&dir)?;
        let running: Vec<String> = match server::socket_state_async(&self.socket).await? {
            SocketState::Alive => self.list().await?.into_iter().map(|p| p.name).collect(),
            _ => Vec::new(),
        };
        let io = |source| KeeperError::Io {
            what: format!("reading {}", dir.display()),
            source,
        };
        let now = SystemTime::now();
        let mut pruned = Vec::new();
        for entry in std::fs::read_dir(&dir).map_err(io)? {
            let entry = entry.map_err(io)?;
            let file = entry.file_name().to_string_lossy().into_owned();
            let Some(name) = file.strip_suffix(".log") else {
                continue;
            };
            if running.iter().any(|r| r == name) || super::validate_name(name).is_err() {
                continue;
            }
            // Newest write of any of its files (the helpers' failures and
            // the sync channel do not count: a log writer opens or makes
            // them when it starts, and answers syncs in them).
            let files = files_of(&dir, name);
            let undated = ["helper-errors", "sync", "synced", "synced.new"]
                .map(|end| dir.join(format!("{name}.{end}")));
            let reply = |p: &PathBuf| {
                p.file_name()
                    .and_then(|f| f.to_str()?.strip_prefix(name)?.strip_prefix('.'))
                    .is_some_and(super::log::sync::is_reply_suffix)
            };
            let dated = || files.iter().filter(|p| !undated.contains(p) && !reply(p));
            let newest = dated()
                .filter_map(|p| std::fs::symlink_metadata(p).ok()?.modified().ok())
                .max();
            let old_enough = match (older_than, newest) {
                (None, _) => true,
                (Some(age), Some(t)) => now.duration_since(t).is_ok_and(|d| d > age),
                (Some(_), None) => false,
            };
            if !old_enough {
                continue;
            }
            // Look again just before removing: a start of the name may have
            // begun meanwhile (it writes the log before anything else).
            let running_now = match server::socket_state_async(&self.socket).await? {
                SocketState::Alive => self.list().await?.iter().any(|p| p.name == name),
                _ => false,
            };
            let written_since = dated().any(|p| {
                std::fs::symlink_metadata(p)
                    .and_then(|m| m.modified())
                    .is_ok_and(|t| Some(t) > newest)
            });
            if running_now || written_since {
                continue;
            }
            for p in files {
                match std::fs::remove_file(&p) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(source) => {
                        return Err(KeeperError::Io {
                            what: format!("removing {}", p.display()),
                            source,
                        })
                    }
                }
            }
            pruned.push(name.to_string());
        }
        pruned.sort();
        Ok(pruned)
    }

    /// [`Keeper::prune_logs`] past the configured age, as each start does;
    /// a failure is logged, not fatal.
    pub(super) async fn prune_old_logs(&self) {
        if let Some(age) = self.log_max_age {
            if let Err(e) = self.prune_logs(Some(age)).await {
                log::warn!("pruning old logs: {e}");
            }
        }
    }
}

/// What [`Keeper::shutdown`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShutDown {
    /// The processes it stopped, and how.
    pub stopped: Vec<(String, StopReport)>,
    /// Whether a server answered on the socket (it was ended).
    pub server_ended: bool,
    /// Whether a socket file was there to remove (the server's own, which
    /// it may have removed first, does not count).
    pub socket_removed: bool,
}

/// Every file of `name`'s log in `dir`: the log, its rotations, its index,
/// the stop's lock and record, the exec lock, leftover exec command files,
/// the log writer's lock, its sync FIFO and answers, and the helpers'
/// failures.
fn files_of(dir: &std::path::Path, name: &str) -> Vec<PathBuf> {
    let mut files = vec![
        dir.join(format!("{name}.log")),
        dir.join(format!("{name}.log.index")),
        dir.join(format!("{name}.spec")),
        dir.join(format!("{name}.stop")),
        dir.join(format!("{name}.stopped")),
        dir.join(format!("{name}.exec.lock")),
        dir.join(format!("{name}.writer.lock")),
        dir.join(format!("{name}.helper-errors")),
        dir.join(format!("{name}.sync")),
        dir.join(format!("{name}.synced")),
        dir.join(format!("{name}.synced.new")),
    ];
    files.extend(
        (1..64)
            .map(|i| dir.join(format!("{name}.log.{i}")))
            .take_while(|p| p.exists()),
    );
    // Command files an exec killed before it typed its line left behind
    // (`NAME.exec.NONCE`, 16 hex digits), and reply FIFOs of readers killed
    // while they waited for a sync (`NAME.reply.REQUEST`); a name holds no
    // '.', so no other name's files look like these.
    let prefix = format!("{name}.");
    if let Ok(entries) = std::fs::read_dir(dir) {
        files.extend(entries.flatten().map(|e| e.file_name()).filter_map(|f| {
            let suffix = f.to_str()?.strip_prefix(&prefix)?;
            let exec = suffix.strip_prefix("exec.").is_some_and(|nonce| {
                nonce.len() == 16 && nonce.bytes().all(|b| b.is_ascii_hexdigit())
            });
            (exec || super::log::sync::is_reply_suffix(suffix)).then(|| dir.join(&f))
        }));
    }
    files
}
