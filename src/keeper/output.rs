//! Reading a process's output: the tail of its log, or what tmux still
//! holds of a session the keeper did not start.

use super::{log, validate_name, Keeper, KeeperError};
use crate::client::commands::{self, Escapes};
use crate::server;
use crate::watch;

/// How lines of output are given: as a person reads them on the screen
/// (escape sequences applied, then dropped; see [`crate::text::Lines`]), or
/// raw, as the process wrote them (escape sequences kept; text that is not
/// UTF-8 replaced).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LineForm {
    /// As a person reads them.
    #[default]
    Rendered,
    /// As the process wrote them.
    Raw,
}

impl LineForm {
    pub(crate) fn is_raw(self) -> bool {
        self == LineForm::Raw
    }
}

impl Keeper {
    /// `name`'s log file, if it has one: the name checked, and the log's
    /// directory ours and private.
    pub(super) fn log_file_of(
        &self,
        name: &str,
    ) -> Result<Option<std::path::PathBuf>, KeeperError> {
        validate_name(name)?;
        let path = self.log_path(name);
        if let Some(dir) = path.parent().filter(|d| d.exists()) {
            server::check_private_dir(dir)?;
        }
        // The log, or its index while the writer is between renaming the
        // log and making the next file (the read waits that out).
        let there = std::fs::symlink_metadata(&path).is_ok() || log::index_path(&path).exists();
        Ok(there.then_some(path))
    }

    /// `read` of the log file `path`, off the async runtime (it may read
    /// all of the log).
    pub(super) async fn read_log_file<T: Send + 'static>(
        path: std::path::PathBuf,
        read: impl Fn(&std::path::Path) -> std::io::Result<T> + Send + 'static,
    ) -> Result<T, KeeperError> {
        let what = format!("reading {}", path.display());
        crate::blocking::off_runtime(move || {
            log::again_mid_rotation(&path, log::not_found, || read(&path))
        })
        .await
        .map_err(|source| KeeperError::Io { what, source })
    }

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

    /// The last `n` lines of `name`'s log, in the `form` asked for (as a
    /// person reads them, or as the process wrote them), and the end of
    /// the log as read (where following it goes on).
    pub fn logs(
        &self,
        name: &str,
        n: usize,
        form: LineForm,
    ) -> Result<(Vec<String>, log::Position), KeeperError> {
        let raw = form.is_raw();
        validate_name(name)?;
        let path = self.log_path(name);
        if let Some(dir) = path.parent().filter(|d| d.exists()) {
            server::check_private_dir(dir)?;
        }
        log::again_mid_rotation(&path, log::not_found, || log::tail(&path, n, raw, false)).map_err(
            |source| KeeperError::Io {
                what: format!("reading {}", path.display()),
                source,
            },
        )
    }

    /// [`Keeper::logs_or_history`] (not holding back a line not ended
    /// yet), and, for a log, the cursor where a read by cursor
    /// ([`Keeper::read_output`]) goes on: before a line not ended yet,
    /// which these lines show and that read shows again, whole.
    pub async fn last_lines(
        &self,
        name: &str,
        n: usize,
        form: LineForm,
    ) -> Result<(Vec<String>, Option<log::Cursor>), KeeperError> {
        match self.last_lines_as(name, n, form.is_raw()).await? {
            Some(found) => Ok(found),
            None => Ok((self.logs_or_history(name, n, form).await?.0, None)),
        }
    }

    /// [`Keeper::last_lines`] raw, each line the bytes as the process wrote
    /// them: nothing replaced.
    pub async fn last_lines_bytes(
        &self,
        name: &str,
        n: usize,
    ) -> Result<(Vec<Vec<u8>>, Option<log::Cursor>), KeeperError> {
        match self.last_lines_as(name, n, true).await? {
            Some(found) => Ok(found),
            None => Ok((self.logs_or_history_bytes(name, n).await?.0, None)),
        }
    }

    /// The lines and the cursor of a log from one read of it (so that no
    /// line written in between is in neither); `None` without a log.
    async fn last_lines_as<L: log::RenderedLine + Send + 'static>(
        &self,
        name: &str,
        n: usize,
        raw: bool,
    ) -> Result<Option<(Vec<L>, Option<log::Cursor>)>, KeeperError> {
        let Some(path) = self.log_file_of(name)? else {
            return Ok(None);
        };
        // Up to the whole log for a large `n`.
        let (lines, whole_end) = Self::read_log_file(path, move |path| {
            log::tail_to_whole_end_as::<L>(path, n, raw)
        })
        .await?;
        let cursor = self.cursor_of(name, &whole_end)?;
        Ok(Some((lines, Some(cursor))))
    }

    /// The last `n` lines of `name`: from its log, or, for a session the
    /// keeper did not start (no log), from what tmux still holds (the
    /// pane's history and screen, `capture-pane -J`, with `-e` for [`LineForm::Raw`]).
    /// The position is where following it goes on; `None` without a
    /// log.
    pub async fn logs_or_history(
        &self,
        name: &str,
        n: usize,
        form: LineForm,
    ) -> Result<(Vec<String>, Option<log::Position>), KeeperError> {
        self.logs_or_history_in(name, n, form.is_raw(), false).await
    }

    /// [`Keeper::logs_or_history`]; with `whole_lines`, a last line without
    /// its newline yet is left to the follower.
    pub(super) async fn logs_or_history_in(
        &self,
        name: &str,
        n: usize,
        raw: bool,
        whole_lines: bool,
    ) -> Result<(Vec<String>, Option<log::Position>), KeeperError> {
        if let Some(path) = self.log_file_of(name)? {
            // Up to the whole log for a large `n`.
            let (lines, end) =
                Self::read_log_file(path, move |path| log::tail(path, n, raw, whole_lines)).await?;
            return Ok((lines, Some(end)));
        }
        let (client, pane) = self.pane(name).await?.into_parts();
        let escapes = if raw { Escapes::Keep } else { Escapes::Strip };
        let reply = client
            .command(commands::capture_history(pane, escapes))
            .await?;
        let mut lines = watch::screen_rows(&reply);
        let skip = lines.len().saturating_sub(n);
        Ok((lines.split_off(skip), None))
    }

    /// [`Keeper::logs_or_history`] raw, each line the bytes as the process
    /// wrote them (from tmux's history: as tmux holds them, escape
    /// sequences included, trailing blanks removed): nothing replaced.
    pub async fn logs_or_history_bytes(
        &self,
        name: &str,
        n: usize,
    ) -> Result<(Vec<Vec<u8>>, Option<log::Position>), KeeperError> {
        self.logs_or_history_bytes_in(name, n, false).await
    }

    /// [`Keeper::logs_or_history_bytes`], with `whole_lines` as
    /// [`Keeper::logs_or_history`] has it.
    pub(super) async fn logs_or_history_bytes_in(
        &self,
        name: &str,
        n: usize,
        whole_lines: bool,
    ) -> Result<(Vec<Vec<u8>>, Option<log::Position>), KeeperError> {
        if let Some(path) = self.log_file_of(name)? {
            // Up to the whole log for a large `n`.
            let (lines, end) =
                Self::read_log_file(path, move |path| log::tail_bytes(path, n, whole_lines))
                    .await?;
            return Ok((lines, Some(end)));
        }
        let (client, pane) = self.pane(name).await?.into_parts();
        let reply = client
            .command(commands::capture_history(pane, Escapes::Keep))
            .await?;
        let mut lines: Vec<Vec<u8>> = reply
            .content()
            .iter()
            .map(|l| l.trim_ascii_end().to_vec())
            .collect();
        while lines.last().is_some_and(Vec::is_empty) {
            lines.pop();
        }
        let skip = lines.len().saturating_sub(n);
        Ok((lines.split_off(skip), None))
    }
}
