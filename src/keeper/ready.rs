//! Waiting for a kept process to print a pattern: matched line by line in
//! its log ([`crate::watch::LineMatch`]), from a starting point in the log,
//! and woken by the log's own changes.
//!
//! The log is the whole of what the process printed since it started, so a
//! wait can begin at the start of the current run (a banner printed before
//! anyone waited counts), at the last input tmux-wire typed (nothing
//! printed before it counts, nor its echo), or now; none of these depends
//! on what is still on tmux's screen.

use super::log::{Follower, LogWatch, Position, FLOOD_PACE, GAP_MARK};
use super::LogWriter;
use crate::watch::{ExitStatus, LineMatch, WatchError};
use std::future::Future;
use std::path::Path;
use std::time::Duration;
use tokio::time::Instant;

/// Where a wait on a kept process starts reading its output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum WaitFrom {
    /// The start of the current run: everything it printed counts.
    RunStart,
    /// The last text tmux-wire typed into it (`send`), or the start of the
    /// run if nothing was typed since: what it printed before, and the
    /// echo of what was typed, never count.
    #[default]
    LastInput,
    /// Only what it prints from now on, from the next whole line: a line
    /// it is in the middle of (after a prompt) began before and does not
    /// count, not even its rest.
    Now,
    /// A position in its log, from an earlier answer.
    At(Position),
    /// The start of the first line that begins after a position in its
    /// log (one inside a line whose start was rotated away:
    /// [`super::log::Located::mid_line`]).
    LineAfter(Position),
    /// Where a cursor is ([`super::Keeper::position_of`]): the bytes after
    /// it that were rotated away count as missed
    /// ([`Found::missed`], [`super::KeeperError::MissedThenFailed`]), with
    /// all of the line they cut that the wait skips.
    Located(super::log::Located),
}

/// What a wait in a log passed over: bytes after its start that were
/// rotated out of the log before it read them, and the rest of the lines
/// they cut (it reads on at the start of a line, never inside one).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WaitMissed {
    /// The bytes, exactly (those the log's index cannot count, in a log
    /// an older tmux-wire wrote, are not in it).
    pub bytes: u64,
    /// How many lines they were at least (some in part): one per gap.
    pub lines_at_least: u64,
}

impl WaitMissed {
    /// Whether anything was missed.
    pub fn any(&self) -> bool {
        self.bytes > 0 || self.lines_at_least > 0
    }

    /// One more gap passed over.
    fn add(&mut self, bytes: Option<u64>, lines_at_least: u64) {
        self.bytes += bytes.unwrap_or(0);
        self.lines_at_least += lines_at_least.max(1);
    }
}

/// A match of a wait for a pattern, and what the wait missed before it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Found {
    /// The text that matched.
    pub matched: String,
    /// What the wait passed over ([`WaitMissed`]); nothing for a wait on
    /// a pane (a session started elsewhere has no log).
    pub missed: WaitMissed,
}

/// How a wait in a log ended, short of an error.
pub(crate) enum LogWait {
    /// The pattern matched this text.
    Matched(String),
    /// The process exited first (and did not print it before it did).
    Exited(ExitStatus),
    /// The log writer does not write what the process prints (and the
    /// log holds no match).
    Writer(LogWriter),
    /// The time ran out; with the last gap line read, if the log has one
    /// where the match could have been, and the writer's state then if it
    /// does not write.
    TimedOut {
        gap: Option<String>,
        writer: Option<LogWriter>,
    },
}

/// After the process exits, tmux has read all it wrote; the log writer is
/// done once the log stopped changing for this long.
const SETTLE: Duration = Duration::from_millis(300);

/// Match `matcher` against the log at `path` from `from` (or from the start
/// of the first line after it, with `skip_line`, `missed_before` bytes
/// before `from` counted as missed already; without it they are counted
/// as a gap before `from`), until it matches,
/// `exited` resolves (then what the writer still adds is read first), or
/// `timeout` runs out. Unless the log holds a match already, the log
/// writer is looked at (`writer`: its state if it does not write) at once,
/// when `writer_gone` resolves, and whenever the log changed without
/// anything new to read (a failing writer touches the log when it starts
/// failing): a wait does not go on for output that cannot reach the log.
/// However it ends, what it missed on the way comes with it: gaps it
/// passed over, and one it is still skipping (no line began after it).
pub(crate) async fn wait_in_log(
    path: &Path,
    (from, skip_line, missed_before): (Position, bool, u64),
    matcher: LineMatch,
    exited: impl Future<Output = Result<ExitStatus, WatchError>>,
    timeout: Duration,
    writer: impl AsyncFnMut() -> Option<LogWriter>,
    writer_gone: impl Future<Output = ()>,
) -> Result<(LogWait, WaitMissed), WatchError> {
    let mut missed = WaitMissed::default();
    let waited = wait_counting(
        path,
        (from, skip_line, missed_before),
        matcher,
        exited,
        timeout,
        writer,
        writer_gone,
        &mut missed,
    )
    .await?;
    Ok((waited, missed))
}

#[allow(clippy::too_many_arguments)]
async fn wait_counting(
    path: &Path,
    (from, skip_line, missed_before): (Position, bool, u64),
    mut matcher: LineMatch,
    exited: impl Future<Output = Result<ExitStatus, WatchError>>,
    timeout: Duration,
    mut writer: impl AsyncFnMut() -> Option<LogWriter>,
    writer_gone: impl Future<Output = ()>,
    missed: &mut WaitMissed,
) -> Result<LogWait, WatchError> {
    let deadline = Instant::now() + timeout;
    let io =
        |what: &str, e: std::io::Error| WatchError::Log(format!("{what} {}: {e}", path.display()));
    // Watch first, then read: a change after the read still wakes us.
    let mut changes = LogWatch::new(path).paced(FLOOD_PACE);
    let mut follower = Follower::new(path, from, false);
    if skip_line {
        follower = follower.skipping_to_a_line(Some(missed_before));
    } else if missed_before > 0 {
        missed.add(Some(missed_before), 1);
    }
    // Everything up to the end of the log, and what the follower still
    // skips (a gap after which no line began) counted as missed.
    let read_all =
        |follower: &mut Follower, missed: &mut WaitMissed| -> Result<Vec<String>, WatchError> {
            let mut all = Vec::new();
            loop {
                let lines = follower.read_new().map_err(|e| io("reading the log", e))?;
                if let Some(gap) = follower.take_missed() {
                    missed.add(gap.bytes, gap.lines_at_least);
                }
                all.extend(lines);
                if follower.caught_up() {
                    return Ok(all);
                }
            }
        };
    let at_end = |follower: &mut Follower, missed: &mut WaitMissed| {
        if let Some(gap) = follower.missed_at_end() {
            missed.add(gap.bytes, gap.lines_at_least);
        }
    };
    let mut exited = std::pin::pin!(exited);
    let mut writer_gone = std::pin::pin!(writer_gone);
    let mut writer_looked_at = false;
    let mut gone = false;
    let mut end: Option<ExitStatus> = None;
    let mut gap: Option<String> = None;
    loop {
        let before = follower.position();
        loop {
            let lines = follower.read_new().map_err(|e| io("reading the log", e))?;
            if let Some(gap) = follower.take_missed() {
                missed.add(gap.bytes, gap.lines_at_least);
            }
            for line in &lines {
                if let Some(found) = matcher.line(line) {
                    return Ok(LogWait::Matched(found));
                }
                if line.starts_with(GAP_MARK) {
                    gap = Some(line.clone());
                }
            }
            if follower.caught_up() {
                break;
            }
        }
        if let Some(found) = matcher.current(&follower.current()) {
            return Ok(LogWait::Matched(found));
        }
        if let Some(status) = end {
            // The deadline holds after the exit too.
            let until = (Instant::now() + SETTLE).min(deadline);
            match tokio::time::timeout_at(until, changes.changed()).await {
                Ok(changed) => changed.map_err(|e| io("watching the log", e))?,
                // The exit came in time: what the log holds by the deadline
                // is what counts.
                Err(_) => {
                    // The last line, unfinished, is all there is.
                    if let Some(found) = follower.rest().and_then(|l| matcher.line(&l)) {
                        return Ok(LogWait::Matched(found));
                    }
                    at_end(&mut follower, missed);
                    return Ok(LogWait::Exited(status));
                }
            }
            continue;
        }
        if !writer_looked_at || follower.position() == before {
            writer_looked_at = true;
            if let Some(state) = writer().await {
                at_end(&mut follower, missed);
                return Ok(LogWait::Writer(state));
            }
        }
        let timed_out = tokio::select! {
            changed = changes.changed() => {
                changed.map_err(|e| io("watching the log", e))?;
                false
            }
            status = &mut exited => match status {
                Ok(status) => {
                    end = Some(status);
                    false
                }
                // The exit's watch has the same deadline.
                Err(WatchError::Timeout(_)) => true,
                Err(e) => return Err(e),
            },
            () = &mut writer_gone, if !gone => {
                gone = true;
                writer_looked_at = false;
                false
            }
            () = tokio::time::sleep_until(deadline) => true,
        };
        if timed_out {
            // What the log holds at the deadline is what the wait read
            // past: a reader held up (stopped, slow) reads it now, to
            // count what was rotated away before it could.
            let last = read_all(&mut follower, missed)?;
            for line in &last {
                if line.starts_with(GAP_MARK) {
                    gap = Some(line.clone());
                }
            }
            at_end(&mut follower, missed);
            return Ok(LogWait::TimedOut {
                gap,
                writer: writer().await,
            });
        }
    }
}
