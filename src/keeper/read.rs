//! Reading a process's output by cursor (`poll`, `run`) and by page
//! (`logs --offset --limit`).

use super::info::{ProcessInfo, State};
use super::log::{self, Cursor};
use super::wait::LOG_SETTLE;
use super::{validate_name, Keeper, KeeperError, LineForm};
use crate::client::{Client, QUIET_ATTACH_FLAGS};
use crate::protocol::PaneId;
use crate::server;
use crate::watch::ExitStatus;
use serde::Serialize;
use std::time::Duration;

/// How long a read of an ended process waits at most for its log to settle.
const SETTLE_AT_MOST: Duration = Duration::from_secs(5);
/// How many bytes one read returns at most; the cursor says where to go on.
pub const READ_AT_MOST: usize = 4 << 20;

/// Where a read of output starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadFrom {
    /// The start of the current run.
    RunStart,
    /// A cursor an earlier read returned.
    Cursor(Cursor),
}

/// What a read by cursor gives.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Output {
    /// The process.
    pub name: String,
    /// `running` until it has ended, then `exited` (see `exit`).
    pub state: &'static str,
    /// Its state in full when the read began.
    #[serde(skip)]
    pub process: State,
    /// How it ended, once it has.
    pub exit: Option<ExitStatus>,
    /// Its exit code (a signal's is 128 + the signal), once it has ended.
    pub code: Option<i32>,
    /// The lines printed after the start, as a person reads them (escape
    /// sequences applied). Only whole lines while the process runs, so
    /// that what successive reads return joins up exactly; once it has
    /// ended, its last line too.
    pub lines: Vec<String>,
    /// The line being written now (a prompt, say), not ended yet: shown
    /// here, and read again, whole, by the next read.
    pub partial: Option<String>,
    /// The last of `lines` is a piece of a line longer than a read (4 MiB):
    /// the next read goes on with the rest of it.
    pub cut: bool,
    /// Where the next read starts: just after what `lines` hold.
    pub cursor: String,
    /// Bytes after the start that this read cannot return: rotated out of
    /// the log before it, and the rest of the line they cut (the lines
    /// begin at the start of a line, never inside one). Counted exactly.
    pub missed_bytes: u64,
    /// How many lines those bytes were, at least (some of them, or all, in
    /// part or whole): 1 when any bytes were missed. The log keeps bytes,
    /// not lines, so the lines of bytes rotated away cannot be counted.
    pub missed_lines_at_least: u64,
    /// Whether there is more after `cursor` already (a read returns at
    /// most 4 MiB).
    pub more: bool,
    /// What its log writer does, when it does not write all the process
    /// prints (then what follows is missing from the log, and from reads).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_writer: Option<super::LogWriter>,
    /// A raw read's `lines` and `partial` as bytes, exactly as the process
    /// wrote them (in `lines` and `partial`, bytes that are not UTF-8 are
    /// replaced); `None` for a read that is not raw.
    #[serde(skip)]
    pub raw_lines: Option<RawLines>,
}

/// The lines of a raw read as bytes ([`Output::raw_lines`]).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct RawLines {
    /// `lines`, each the bytes as written (only the carriage returns
    /// before its newline removed).
    pub lines: Vec<Vec<u8>>,
    /// `partial`, as written.
    pub partial: Option<Vec<u8>>,
}

/// A page of the log with its lines as bytes
/// ([`Keeper::log_page_bytes`]).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PageBytes {
    /// The lines, each the bytes as the process wrote them.
    pub lines: Vec<Vec<u8>>,
    /// The number of the first, counting from 0 at the oldest line kept.
    pub offset: usize,
    /// How many lines the log holds in all.
    pub total: usize,
}

/// A page of the log.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Page {
    /// The lines.
    pub lines: Vec<String>,
    /// The number of the first, counting from 0 at the oldest line kept.
    pub offset: usize,
    /// How many lines the log holds in all.
    pub total: usize,
}

impl From<Page> for PageBytes {
    /// The page's lines as their UTF-8 bytes.
    fn from(page: Page) -> PageBytes {
        PageBytes {
            lines: page.lines.into_iter().map(String::into_bytes).collect(),
            offset: page.offset,
            total: page.total,
        }
    }
}

impl Keeper {
    /// The output of `name` from `from` on, with a cursor for the next
    /// read and, once the process has ended, its status. The status is
    /// taken before the output is read, and for an ended process a sync
    /// with its log writer comes first (see [`KeptProcess::wait_exit`](super::KeptProcess::wait_exit)), so a
    /// read that reports the end holds all the output before it; a writer
    /// that does not answer is [`KeeperError::LogWriter`].
    pub async fn read_output(
        &self,
        name: &str,
        from: &ReadFrom,
        form: LineForm,
    ) -> Result<Output, KeeperError> {
        self.read_output_via(name, None, from, form).await
    }

    /// [`Keeper::read_output`], its state asked through `via` if given (a
    /// [`super::KeptProcess`]'s connection).
    pub(super) async fn read_output_via(
        &self,
        name: &str,
        via: Option<&Client>,
        from: &ReadFrom,
        form: LineForm,
    ) -> Result<Output, KeeperError> {
        let raw = form.is_raw();
        let (info, _) = self.find_via(name, via).await?;
        let path = self.kept_log(&info)?;
        let exit = exit_of(&info.state);
        if exit.is_some() {
            let deadline = tokio::time::Instant::now() + SETTLE_AT_MOST;
            // Through a connection of its own if it has none (an exit is
            // worth one): the pane may not be dead in tmux yet.
            let own = match via {
                Some(_) => None,
                None => self.attach_with(name, QUIET_ATTACH_FLAGS).await.ok(),
            };
            let pane = info.pane.parse::<PaneId>().ok();
            let tmux = via.or(own.as_ref()).zip(pane);
            log::sync::everything_logged_after_exit(&path, name, tmux, LOG_SETTLE, deadline)
                .await?;
        }
        let state = if exit.is_some() { "exited" } else { "running" };
        // Files (and a look again at a rotation half done): off the runtime.
        let read = {
            let (name, run, from) = (name.to_string(), info.run_start, from.clone());
            let ended = exit.is_some();
            crate::blocking::off_runtime(move || {
                read_log_again_mid_rotation(&name, &path, run, &from, ended, raw)
            })
            .await?
        };
        Ok(Output {
            name: name.to_string(),
            code: exit.map(ExitStatus::code),
            exit,
            state,
            process: info.state.clone(),
            lines: read.lines,
            partial: read.partial,
            cut: read.cut,
            cursor: read.cursor.to_string(),
            missed_bytes: read.missed,
            missed_lines_at_least: u64::from(read.missed > 0),
            more: read.more,
            log_writer: info.log_writer.filter(|w| !w.is_writing()),
            raw_lines: read.raw_lines,
        })
    }

    /// Lines `offset..offset + limit` of `name`'s log (all of it that is
    /// kept, across rotations), and the count of all its lines. Without an
    /// offset, the last `limit` lines.
    pub async fn log_page(
        &self,
        name: &str,
        offset: Option<usize>,
        limit: usize,
        form: LineForm,
    ) -> Result<Page, KeeperError> {
        let raw = form.is_raw();
        let Some(path) = self.log_file_of(name)? else {
            return Err(KeeperError::NoLog {
                name: name.to_string(),
            });
        };
        // One pass over all of the log.
        let (lines, offset, total) =
            Self::read_log_file(path, move |path| log::page(path, offset, limit, raw)).await?;
        Ok(Page {
            lines,
            offset,
            total,
        })
    }

    /// [`Keeper::log_page`] raw, each line the bytes as the process wrote
    /// them: nothing replaced.
    pub async fn log_page_bytes(
        &self,
        name: &str,
        offset: Option<usize>,
        limit: usize,
    ) -> Result<PageBytes, KeeperError> {
        let Some(path) = self.log_file_of(name)? else {
            return Err(KeeperError::NoLog {
                name: name.to_string(),
            });
        };
        // One pass over all of the log.
        let (lines, offset, total) =
            Self::read_log_file(path, move |path| log::page_bytes(path, offset, limit)).await?;
        Ok(PageBytes {
            lines,
            offset,
            total,
        })
    }

    /// Where `cursor` is in `name`'s log now (for a wait that starts
    /// there: [`super::WaitFrom::At`]).
    /// Bytes after the cursor that were rotated away come with it
    /// ([`log::Located::missed`]).
    pub async fn position_of(
        &self,
        name: &str,
        cursor: &Cursor,
    ) -> Result<log::Located, KeeperError> {
        validate_name(name)?;
        // It may look again for a while (a rotation half done): off the
        // runtime.
        let (path, looked_for) = (self.log_path(name), cursor.clone());
        crate::blocking::off_runtime(move || log::locate(&path, &looked_for))
            .await
            .map_err(|source| KeeperError::BadCursor {
                cursor: cursor.to_string(),
                reason: source.to_string(),
            })
    }

    /// The cursor of a position in `name`'s log.
    pub fn cursor_of(&self, name: &str, position: &log::Position) -> Result<Cursor, KeeperError> {
        let path = self.log_path(name);
        log::cursor_at(&path, position).map_err(|source| KeeperError::Io {
            what: format!("reading {}", log::index_path(&path).display()),
            source,
        })
    }

    /// The log of a process the keeper started (in a private directory).
    fn kept_log(&self, info: &ProcessInfo) -> Result<std::path::PathBuf, KeeperError> {
        let path = self.log_path(&info.name);
        // Between the rename of a rotation and the next file, only the
        // index says the log is there.
        if info.log.is_none() || !(path.exists() || log::index_path(&path).exists()) {
            return Err(KeeperError::NoLog {
                name: info.name.clone(),
            });
        }
        if let Some(dir) = path.parent().filter(|d| d.exists()) {
            server::check_private_dir(dir)?;
        }
        Ok(path)
    }
}

/// What [`read_log`] read.
struct LogRead {
    lines: Vec<String>,
    partial: Option<String>,
    /// The same lines as bytes, for a raw read.
    raw_lines: Option<RawLines>,
    cut: bool,
    cursor: Cursor,
    missed: u64,
    more: bool,
}

/// The reading of [`Keeper::read_output`], in files (blocking: run it off
/// the async runtime): from `from` (`run`, the run's start) in the log at
/// `path` of `name`, whose process has `ended` or not; made again from the
/// start when it met a file missing mid-rotation
/// ([`log::again_mid_rotation`]).
fn read_log_again_mid_rotation(
    name: &str,
    path: &std::path::Path,
    run: Option<log::Position>,
    from: &ReadFrom,
    ended: bool,
    raw: bool,
) -> Result<LogRead, KeeperError> {
    let missing =
        |e: &KeeperError| matches!(e, KeeperError::Io { source, .. } if log::not_found(source));
    log::again_mid_rotation(path, missing, || {
        read_log(name, path, run, from, ended, raw)
    })
}

fn read_log(
    name: &str,
    path: &std::path::Path,
    run: Option<log::Position>,
    from: &ReadFrom,
    ended: bool,
    raw: bool,
) -> Result<LogRead, KeeperError> {
    let io = |source| KeeperError::Io {
        what: format!("reading {}", path.display()),
        source,
    };
    let start = match from {
        ReadFrom::RunStart => {
            let run =
                run.ok_or_else(|| KeeperError::BadCommand(format!("{name} has no run recorded")))?;
            log::cursor_at(path, &run).map_err(io)?
        }
        ReadFrom::Cursor(cursor) => cursor.clone(),
    };
    let locate = |cursor: &Cursor| {
        log::locate(path, cursor).map_err(|source| KeeperError::BadCursor {
            cursor: cursor.to_string(),
            reason: source.to_string(),
        })
    };
    let located = locate(&start)?;
    let mut follower = log::Follower::new(path, located.position, raw);
    if located.mid_line {
        // Rotated away, and no line had begun after it when it was
        // located: skip to the start of the next line first.
        follower = follower.skipping_to_a_line(Some(located.missed));
    }
    let mut bytes = Vec::new();
    let mut more = false;
    // Stopped at a gap with a piece of a line read before it.
    let mut at_gap = false;
    // Reached the end of the log still inside a line a gap cut.
    let mut in_cut_line = false;
    loop {
        bytes.extend(follower.read_bytes().map_err(io)?);
        if follower.at_gap() {
            if bytes.is_empty() {
                if follower.caught_up() {
                    // No line has begun after the gap yet: all up to
                    // here is missed, and the next read goes on
                    // skipping from here.
                    in_cut_line = true;
                    break;
                }
                // A gap before anything was read: go on past it.
                continue;
            }
            // The log rotated past the reader while it read: what it
            // read joins up to here; the next read from the cursor
            // says what is gone.
            more = true;
            at_gap = true;
            break;
        }
        if follower.caught_up() {
            break;
        }
        if bytes.len() >= READ_AT_MOST {
            more = true;
            break;
        }
    }
    // Where reading stopped, in the whole output; the bytes read end
    // there, so they began `bytes.len()` before it, and what lies
    // between the start and that was rotated away before it was read.
    let end = log::cursor_at(path, &follower.position().unwrap_or(located.position)).map_err(io)?;
    let first = end.offset.saturating_sub(bytes.len() as u64);
    let missed = first.saturating_sub(start.offset);
    let Split {
        whole,
        cut,
        partial,
    } = split(&bytes, at_gap, ended, more);
    let lines = log::render_lines(&bytes[..whole], raw);
    let raw_lines = raw.then(|| RawLines {
        lines: log::raw_lines(&bytes[..whole]),
        partial: partial.then(|| log::raw_lines(&bytes[whole..]).concat()),
    });
    let partial = partial.then(|| log::render_lines(&bytes[whole..], raw).concat());
    let cursor = Cursor {
        log: start.log.clone(),
        offset: first + whole as u64,
        mid_line: in_cut_line && !ended,
    };
    Ok(LogRead {
        lines,
        partial,
        raw_lines,
        cut,
        cursor,
        missed,
        more,
    })
}

/// How a read's bytes are returned: `bytes[..whole]` as lines (the last
/// one `cut`, a piece of a line that alone filled a read), the rest as
/// `partial` or not at all.
#[derive(Debug, PartialEq, Eq)]
struct Split {
    whole: usize,
    cut: bool,
    partial: bool,
}

/// Whole lines are taken; a line not ended yet is shown apart (`partial`)
/// and read again next time, unless the process has `ended` (then it is
/// all there will be), or it alone fills a read (then it is cut, and says
/// so, rather than never being passed), or the read stopped `at_gap`: the
/// piece of a line before a gap is never read whole, and the next read
/// from the cursor counts it as missed, so it is not shown at all.
fn split(bytes: &[u8], at_gap: bool, ended: bool, more: bool) -> Split {
    let last_line = memchr::memrchr(b'\n', bytes).map(|i| i + 1);
    let (whole, cut) = match last_line {
        _ if at_gap => (last_line.unwrap_or(0), false),
        _ if ended && !more => (bytes.len(), false),
        Some(whole) => (whole, false),
        None if more => (bytes.len(), true),
        None => (0, false),
    };
    Split {
        whole,
        cut,
        partial: whole < bytes.len() && !at_gap,
    }
}

/// How a process in `state` ended, if it has.
fn exit_of(state: &State) -> Option<ExitStatus> {
    match state {
        State::Exited { code } => Some(ExitStatus::Exited(*code)),
        State::Killed { signal } => Some(ExitStatus::Signaled(*signal)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_piece_of_a_line_before_a_gap_is_not_shown_as_partial() {
        let split_of = |bytes: &[u8], at_gap, ended, more| split(bytes, at_gap, ended, more);
        // Running, caught up: the line not ended is partial.
        assert_eq!(
            split_of(b"a\nb\npro", false, false, false),
            Split {
                whole: 4,
                cut: false,
                partial: true
            }
        );
        // Stopped at a gap: the piece before it is missed, not partial.
        assert_eq!(
            split_of(b"a\nb\npro", true, false, true),
            Split {
                whole: 4,
                cut: false,
                partial: false
            }
        );
        assert_eq!(
            split_of(b"pro", true, true, true),
            Split {
                whole: 0,
                cut: false,
                partial: false
            }
        );
        // Ended: all of it; a line alone filling a read: cut.
        assert_eq!(split_of(b"a\nb", false, true, false).whole, 3);
        assert!(split_of(b"long", false, false, true).cut);
    }
}
