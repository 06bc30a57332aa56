//! Reading a process's output: the tail of its log, or what tmux still
//! holds of a session the keeper did not start.

use super::{log, validate_name, Keeper, KeeperError};
use crate::client::commands;
use crate::server;
use crate::watch;

impl Keeper {
    /// Where `name`'s log ends now.
    pub(super) fn log_end(&self, name: &str) -> Result<log::Position, KeeperError> {
        let path = self.log_path(name);
        log::end_position(&path).map_err(|source| KeeperError::Io {
            what: format!("reading {}", path.display()),
            source,
        })
    }

    /// [`Keeper::log_end`], and whether it is in the middle of a line.
    pub(super) fn log_end_in_line(&self, name: &str) -> Result<(log::Position, bool), KeeperError> {
        let path = self.log_path(name);
        log::end_position_in_line(&path).map_err(|source| KeeperError::Io {
            what: format!("reading {}", path.display()),
            source,
        })
    }

    /// The last `n` lines of `name`'s log, as a person reads them
    /// ([`crate::text::Lines`]) or with `raw` as the process wrote them, and
    /// the end of the log as read (where a [`log::Follower`] goes on).
    pub fn logs(
        &self,
        name: &str,
        n: usize,
        raw: bool,
    ) -> Result<(Vec<String>, log::Position), KeeperError> {
        validate_name(name)?;
        let path = self.log_path(name);
        if let Some(dir) = path.parent().filter(|d| d.exists()) {
            server::check_private_dir(dir)?;
        }
        log::tail(&path, n, raw, false).map_err(|source| KeeperError::Io {
            what: format!("reading {}", path.display()),
            source,
        })
    }

    /// The last `n` lines of `name`: from its log, or, for a session the
    /// keeper did not start (no log), from what tmux still holds (the
    /// pane's history and screen, `capture-pane -J`, with `-e` for `raw`).
    /// The position is where a [`log::Follower`] goes on; `None` without a
    /// log. With `whole_lines`, a last line without its newline yet is left
    /// to the follower (see [`log::tail`]).
    pub async fn logs_or_history(
        &self,
        name: &str,
        n: usize,
        raw: bool,
        whole_lines: bool,
    ) -> Result<(Vec<String>, Option<log::Position>), KeeperError> {
        validate_name(name)?;
        let path = self.log_path(name);
        if std::fs::symlink_metadata(&path).is_ok() {
            if let Some(dir) = path.parent() {
                server::check_private_dir(dir)?;
            }
            // Up to the whole log for a large `n`: off the runtime.
            let tail = {
                let path = path.clone();
                crate::blocking::off_runtime(move || log::tail(&path, n, raw, whole_lines)).await
            };
            let (lines, end) = tail.map_err(|source| KeeperError::Io {
                what: format!("reading {}", path.display()),
                source,
            })?;
            return Ok((lines, Some(end)));
        }
        let (client, pane) = self.pane(name).await?.into_parts();
        let reply = client.command(commands::capture_history(pane, raw)).await?;
        let mut lines = watch::screen_rows(&reply);
        let skip = lines.len().saturating_sub(n);
        Ok((lines.split_off(skip), None))
    }
}
