//! Waiting for a pattern in what a pane shows, line by line as in grep.
//!
//! Output is read as a person reads it ([`crate::text::Lines`]: escape
//! sequences dropped, a carriage return overwriting the line). The pattern
//! is matched against each line on its own, so `^` and `$` mean the start
//! and end of a line, and `\s*$` never runs into the rows below; the line
//! still being written (a prompt) is matched as it shows, too.
//!
//! A wait has a starting point ([`Since`]): what the pane shows when the
//! wait is armed counts, or only what comes after. And it can skip the
//! echo of text just typed ([`ArmedReady::skip_echo`]): a terminal echoes
//! what is typed, so a pattern that is part of a typed command would
//! otherwise match the command line itself.

use super::WatchError;
use crate::client::{commands, Client, CloseReason, PaneEvent, PaneOutput};
use crate::protocol::{FormatQuery, PaneId};
use crate::text::Lines;
use regex::Regex;
use std::collections::VecDeque;
use std::sync::LazyLock;
use std::time::Duration;
use tokio::time::Instant;

/// What [`wait_for`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The text the pattern matched.
    pub matched: String,
    /// Whether it was already on the screen when the wait was armed (or
    /// after a gap in the output), rather than in new output.
    pub on_screen: bool,
}

/// Where a wait starts reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Since {
    /// What the pane shows when the wait is armed (screen and the last 200
    /// lines of history) counts; new output continues its last line.
    Screen,
    /// Only what the pane prints after the wait is armed: the next line
    /// that begins after it (a line the cursor is in the middle of began
    /// before, and does not count; see [`LineMatch::skip_line_in_progress`]).
    Now,
    /// What the pane shows from the echo of the text typed last on: the
    /// echo expected ([`ArmedReady::skip_echo`], or the matcher given to
    /// [`arm_with`]) is looked for in the history and screen from the end
    /// backwards, and the wait starts at its last occurrence. Searched
    /// that way the start can only be late (a line the program printed
    /// after it that holds the same text), never early: no line from
    /// before the input counts, whatever tmux did to the rows in between
    /// (a full history drops a tenth of `history-limit` at once; a resize
    /// rewraps the lines). The row (from [`input_row`], taken before the
    /// text was typed) is only a hint for when the echo is not there: if
    /// the cursor is still on it, the echo is still to come and only what
    /// follows counts; otherwise the echo is gone (the screen cleared, or
    /// scrolled out of the history, or a program that does not echo) and
    /// what the screen shows counts (not the history above it). One case
    /// is early: the same text typed again, its echo not drawn yet when
    /// the wait reads the screen (a program that echoes late), is taken
    /// for the earlier one's echo.
    Input(u64),
}

/// Where the cursor of `pane` is, as a row of its history and screen
/// counted from the oldest (`history_size + cursor_y`): where text typed
/// now begins, the hint of [`Since::Input`].
pub async fn input_row(client: &Client, pane: PaneId) -> Result<u64, WatchError> {
    static ROW: LazyLock<FormatQuery> =
        LazyLock::new(|| FormatQuery::new(&["pane_id", "history_size", "cursor_y"]));
    let reply = client
        .command(commands::display(pane, ROW.format()))
        .await
        .map_err(|e| super::gone(e, pane))?;
    let fields = ROW.parse_one(&reply.content())?;
    if fields[0] != pane.to_string() {
        return Err(WatchError::PaneGone(pane));
    }
    Ok(fields[1].parse::<u64>().unwrap_or(0) + fields[2].parse::<u64>().unwrap_or(0))
}

/// A pattern matched line by line, skipping the echo of typed text; the
/// pure part of a wait (see the module docs).
#[derive(Debug, Clone)]
pub struct LineMatch {
    pattern: Regex,
    /// The typed lines whose echo has not been seen yet, squashed.
    echo: VecDeque<String>,
    /// The line being written began before the wait did: what ends it is
    /// not a line of its own (see [`LineMatch::skip_line_in_progress`]).
    in_progress: bool,
}

/// A line without its whitespace: how a typed line is recognised in its
/// echo (a shell prompt before it, line editing that redraws it).
fn squash(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

impl LineMatch {
    /// Match `pattern`.
    pub fn new(pattern: Regex) -> LineMatch {
        LineMatch {
            pattern,
            echo: VecDeque::new(),
            in_progress: false,
        }
    }

    /// The wait begins in the middle of a line (after a prompt, or a
    /// progress line redrawn with `\r`): that line began before the wait
    /// and is not one it reads, so the next line that ends is skipped (as
    /// the echo, if it is) and the line being written is not matched until
    /// then. The rest of a line is not a line: `^` would match where the
    /// wait happened to begin, `^$` at once.
    pub fn skip_line_in_progress(&mut self) {
        self.in_progress = true;
    }

    /// Expect no more echo: the typed text was not echoed where it was
    /// looked for (a program that does not echo, or output since then).
    pub fn forget_echo(&mut self) {
        self.echo.clear();
    }

    /// Expect the echo of `typed`: each of its non-blank lines ends one
    /// line of output that contains it (whitespace aside), and that line
    /// never matches. Until the last one has been seen, the line still
    /// being written is not matched either (it may be the echo, half
    /// drawn).
    pub fn expect_echo(&mut self, typed: &[u8]) {
        for line in String::from_utf8_lossy(typed).split(['\n', '\r']) {
            let line = squash(line);
            if !line.is_empty() {
                self.echo.push_back(line);
            }
        }
    }

    /// Whether an echo is still expected.
    pub fn echo_pending(&self) -> bool {
        !self.echo.is_empty()
    }

    /// A line that ended: what the pattern matched in it, unless it is the
    /// echo.
    pub fn line(&mut self, line: &str) -> Option<String> {
        let began_before = std::mem::take(&mut self.in_progress);
        if let Some(echo) = self.echo.front() {
            if squash(line).contains(echo.as_str()) {
                self.echo.pop_front();
                return None;
            }
        }
        if began_before {
            return None;
        }
        self.find(line)
    }

    /// The line still being written: what the pattern matches in it now.
    /// An empty one is no line yet (the cursor on a row of its own after a
    /// newline): `^$` matches only an empty line that ended.
    pub fn current(&self, line: &str) -> Option<String> {
        if self.echo_pending() || self.in_progress || line.is_empty() {
            return None;
        }
        self.find(line)
    }

    fn find(&self, line: &str) -> Option<String> {
        self.pattern.find(line).map(|m| m.as_str().to_string())
    }
}

/// A wait for a pattern on a pane that is armed: from here on, nothing the
/// pane prints can be missed. Then [`ArmedReady::wait`].
pub struct ArmedReady<'c> {
    client: &'c Client,
    pane: PaneId,
    output: PaneOutput,
    lines: Lines,
    /// The matcher as the wait began, for reading the screen again.
    first: LineMatch,
    matcher: LineMatch,
    since: Since,
    /// Found in what the screen showed when armed.
    on_screen: Option<String>,
}

/// Arm a wait for `pattern` on `pane`: subscribe to its output first, then
/// (with [`Since::Screen`]) read what it shows, so nothing printed in
/// between is missed.
pub async fn arm_for<'c>(
    client: &'c Client,
    pane: PaneId,
    pattern: &Regex,
    since: Since,
) -> Result<ArmedReady<'c>, WatchError> {
    arm_with(client, pane, LineMatch::new(pattern.clone()), since).await
}

/// [`arm_for`] with a matcher set up already (an echo expected): what the
/// pane shows is read through it.
pub async fn arm_with(
    client: &Client,
    pane: PaneId,
    mut matcher: LineMatch,
    since: Since,
) -> Result<ArmedReady<'_>, WatchError> {
    let output = if since == Since::Now {
        // The cursor as the output read begins (tmux runs the query, and
        // the pane's output after its reply is what the wait reads): a
        // line the cursor is in the middle of then began before the wait.
        static CURSOR_X: LazyLock<FormatQuery> =
            LazyLock::new(|| FormatQuery::new(&["pane_id", "cursor_x"]));
        let (output, reply) = client
            .pane_output_after(pane, commands::display(pane, CURSOR_X.format()))
            .await
            .map_err(|e| super::gone(e, pane))?;
        let fields = CURSOR_X.parse_one(&reply.content())?;
        if fields[0] != pane.to_string() {
            return Err(WatchError::PaneGone(pane));
        }
        if fields[1] != "0" {
            matcher.skip_line_in_progress();
        }
        output
    } else {
        client.pane_output(pane).await?
    };
    let mut armed = ArmedReady {
        client,
        pane,
        output,
        lines: Lines::new(),
        first: matcher.clone(),
        matcher,
        since,
        on_screen: None,
    };
    if since != Since::Now {
        armed.read_screen().await?;
    }
    Ok(armed)
}

impl ArmedReady<'_> {
    /// Do not let the echo of `typed` (about to be typed into the pane)
    /// satisfy the pattern; see [`LineMatch::expect_echo`].
    pub fn skip_echo(&mut self, typed: &[u8]) {
        self.matcher.expect_echo(typed);
        self.first.expect_echo(typed);
    }

    /// Match what the pane shows now; its last line is continued by what
    /// the pane prints next.
    async fn read_screen(&mut self) -> Result<(), WatchError> {
        static CURSOR: LazyLock<FormatQuery> = LazyLock::new(|| {
            FormatQuery::new(&["pane_id", "cursor_x", "cursor_y", "history_size"])
        });
        let pane = self.pane;
        // What was read before is read again from the start.
        self.matcher = self.first.clone();
        let whole = match self.since {
            Since::Input(_) => commands::capture_joined_all(pane),
            _ => commands::capture_joined(pane, 200),
        };
        // One write: the joined history and screen, the joined screen
        // alone, the cursor, and the visible rows as they are (one per
        // row), all of the same moment.
        let replies = self
            .client
            .commands([
                whole,
                commands::capture_joined_from(pane, 0),
                commands::display(pane, CURSOR.format()),
                commands::capture(pane),
            ])
            .await?;
        let [whole, screen, cursor, visible] = &replies[..] else {
            unreachable!("four commands, four replies");
        };
        let cursor = CURSOR.parse_one(&cursor.content())?;
        if cursor[0] != pane.to_string() {
            return Err(WatchError::PaneGone(pane));
        }
        let (x, y): (usize, usize) = (
            cursor[1].parse().unwrap_or(0),
            cursor[2].parse().unwrap_or(0),
        );
        let history: u64 = cursor[3].parse().unwrap_or(0);
        // capture-pane drops trailing spaces; the cursor's own row says how
        // far the line being written goes (a prompt's `>>> `).
        let cursor_row = visible
            .content()
            .get(y)
            .map(|row| String::from_utf8_lossy(row).trim_end().to_string())
            .unwrap_or_default();
        let (mut rows, current) = lines_shown(whole, &cursor_row, x);
        if let Since::Input(hint) = self.since {
            match echo_at(&rows, &current, &self.first.echo) {
                Some((start, seen)) => {
                    rows.drain(..start);
                    // Echo lines older than the ones found scrolled out.
                    self.matcher.echo.drain(..self.first.echo.len() - seen);
                }
                // Not echoed yet: only what follows counts.
                None if history + y as u64 == hint => rows.clear(),
                // Gone: what the screen shows counts.
                None => {
                    rows = lines_shown(screen, &cursor_row, x).0;
                    self.matcher.forget_echo();
                }
            }
        }
        for row in &rows {
            if let Some(found) = self.matcher.line(row) {
                self.on_screen.get_or_insert(found);
            }
        }
        self.lines = Lines::continuing(&current);
        if let Some(found) = self.matcher.current(&current) {
            self.on_screen.get_or_insert(found);
        }
        Ok(())
    }

    /// Wait until the pattern matches, for at most `timeout`.
    pub async fn wait(mut self, timeout: impl Into<Option<Duration>>) -> Result<Found, WatchError> {
        let timeout = super::limit(timeout);
        let deadline = Instant::now() + timeout;
        if let Some(matched) = self.on_screen.take() {
            return Ok(Found {
                matched,
                on_screen: true,
            });
        }
        loop {
            let event = match tokio::time::timeout_at(deadline, self.output.next()).await {
                Err(_) => return Err(WatchError::Timeout(timeout)),
                Ok(None) => {
                    return Err(WatchError::Closed(
                        self.client.closed_reason().unwrap_or(CloseReason::Lost),
                    ))
                }
                Ok(Some(event)) => event,
            };
            match event {
                PaneEvent::Output(data) => {
                    for line in self.lines.push(&data) {
                        if let Some(matched) = self.matcher.line(&line) {
                            return Ok(Found {
                                matched,
                                on_screen: false,
                            });
                        }
                    }
                    if let Some(matched) = self.matcher.current(&self.lines.current()) {
                        return Ok(Found {
                            matched,
                            on_screen: false,
                        });
                    }
                }
                // Output in the gap was not delivered. From the screen's
                // point of view what it left there still counts; a wait
                // for new output only cannot tell it from older lines.
                PaneEvent::Resumed if self.since != Since::Now => {
                    self.read_screen().await?;
                    if let Some(matched) = self.on_screen.take() {
                        return Ok(Found {
                            matched,
                            on_screen: true,
                        });
                    }
                }
                PaneEvent::Resumed | PaneEvent::Paused => {}
                PaneEvent::Closed(reason) => return Err(WatchError::Closed(reason)),
            }
        }
    }
}

/// The rows of a `capture-pane -p` answer as text, without the blank rows
/// below the last output (they are not output) and without the trailing
/// spaces tmux pads rows with.
pub(crate) fn screen_rows(capture: &crate::protocol::Reply) -> Vec<String> {
    let mut rows: Vec<String> = capture
        .content()
        .iter()
        .map(|l| String::from_utf8_lossy(l).trim_end().to_string())
        .collect();
    while rows.last().is_some_and(String::is_empty) {
        rows.pop();
    }
    rows
}

/// The lines of a joined capture that ended, and the line being written
/// (the last one if the cursor is on it, padded to the cursor's column
/// `x`; empty after a newline, the cursor on an empty row below).
fn lines_shown(
    capture: &crate::protocol::Reply,
    cursor_row: &str,
    x: usize,
) -> (Vec<String>, String) {
    let mut rows = screen_rows(capture);
    let mut current = String::new();
    if !cursor_row.is_empty() && rows.last().is_some_and(|l| l.ends_with(cursor_row)) {
        current = rows.pop().unwrap_or_default();
        let shown = cursor_row.chars().count();
        current.extend(std::iter::repeat_n(' ', x.saturating_sub(shown)));
    }
    (rows, current)
}

/// Where the echo of typed text is among `rows` and the line being written
/// after them (`current`, index `rows.len()`), searched from the end
/// backwards: the last line that holds the echo's last line, then before
/// it the last one that holds the line typed before that, and so on.
/// Returns the index where the echo begins and how many of its last
/// lines were found (older ones may have scrolled out of the history);
/// `None` if its last line is not there, or nothing is expected. Each
/// line found is at or after the true echo of that line, so the start is
/// never early.
fn echo_at(rows: &[String], current: &str, echo: &VecDeque<String>) -> Option<(usize, usize)> {
    let lines: Vec<&str> = rows
        .iter()
        .map(String::as_str)
        .chain(std::iter::once(current))
        .collect();
    let mut end = lines.len();
    let mut start = None;
    let mut seen = 0;
    for typed in echo.iter().rev() {
        let Some(at) = lines[..end]
            .iter()
            .rposition(|line| squash(line).contains(typed.as_str()))
        else {
            break;
        };
        start = Some(at);
        seen += 1;
        end = at;
    }
    start.map(|at| (at, seen))
}

/// Wait until `pattern` matches a line the pane shows when the wait begins
/// or prints afterwards ([`Since::Screen`]).
///
/// ```no_run
/// # async fn demo(client: tmux_wire::client::Client, pane: tmux_wire::protocol::PaneId) {
/// use std::time::Duration;
/// let ready = regex::Regex::new(r"Serving HTTP on \S+ port \d+").unwrap();
/// let found = tmux_wire::watch::wait_for(&client, pane, &ready, Duration::from_secs(30)).await.unwrap();
/// println!("ready: {}", found.matched);
/// # }
/// ```
pub async fn wait_for(
    client: &Client,
    pane: PaneId,
    pattern: &Regex,
    timeout: impl Into<Option<Duration>>,
) -> Result<Found, WatchError> {
    arm_for(client, pane, pattern, Since::Screen)
        .await?
        .wait(timeout)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matcher(pattern: &str) -> LineMatch {
        LineMatch::new(Regex::new(pattern).unwrap())
    }

    #[test]
    fn anchors_are_per_line() {
        let mut m = matcher(r">>> $");
        assert_eq!(m.current(">>> ").as_deref(), Some(">>> "));
        assert_eq!(m.line(">>> print(1)"), None);
        let mut m = matcher(r"done$");
        assert_eq!(m.line("all done").as_deref(), Some("done"));
        assert_eq!(m.line("done and more"), None);
        let mut m = matcher(r"^yyy");
        assert_eq!(m.line("yyy!").as_deref(), Some("yyy"));
        assert_eq!(m.line("xyyy"), None);
        // A pattern never runs past its line.
        assert_eq!(matcher(r">>>\s*$").current(">>> ").as_deref(), Some(">>> "));
    }

    #[test]
    fn the_echo_of_typed_text_never_matches() {
        let mut m = matcher("DONE-2");
        m.expect_echo(b"sleep 3; echo DONE-2\n");
        assert!(m.echo_pending());
        // Half drawn, then whole: the echo, after the shell's prompt.
        assert_eq!(m.current("$ sleep 3; echo DO"), None);
        assert_eq!(m.line("$ sleep 3; echo DONE-2"), None);
        assert!(!m.echo_pending());
        assert_eq!(m.line("DONE-2").as_deref(), Some("DONE-2"));
        // Output before the echo still counts; blank typed lines expect
        // nothing.
        let mut m = matcher("x");
        m.expect_echo(b"\n  \nprint(1)\n");
        assert_eq!(m.line("x").as_deref(), Some("x"));
        assert_eq!(m.line(">>> print( 1 )"), None);
        assert!(!m.echo_pending());
    }

    #[test]
    fn a_line_begun_before_the_wait_is_not_read() {
        // The wait began after a prompt: what ends that line is not a
        // line of its own, and the empty line being written is no line.
        let mut m = matcher("^$");
        m.skip_line_in_progress();
        assert_eq!(m.current(""), None);
        let mut m = matcher("^echo hi");
        m.skip_line_in_progress();
        assert_eq!(m.current("echo hi"), None);
        assert_eq!(m.line("echo hi"), None);
        assert_eq!(m.line("echo hi!").as_deref(), Some("echo hi"));
        // That line may be the echo of what was typed: both are done.
        let mut m = matcher(">>> $");
        m.expect_echo(b"print(1)\n");
        m.skip_line_in_progress();
        assert_eq!(m.line("print(1)"), None);
        assert!(!m.echo_pending());
        assert_eq!(m.current(">>> ").as_deref(), Some(">>> "));
        // An empty line counts once it ended.
        let mut m = matcher("^$");
        assert_eq!(m.current(""), None);
        assert_eq!(m.line("").as_deref(), Some(""));
    }

    #[test]
    fn the_echo_is_found_from_the_end_backwards() {
        let rows: Vec<String> = ["$ echo a", "a", "$ echo a", "$ print(1)", "1", "echo a"]
            .map(String::from)
            .to_vec();
        let echo = |lines: &[&str]| lines.iter().map(|l| squash(l)).collect::<VecDeque<_>>();
        // The last occurrence: late if the output repeats it, never early.
        assert_eq!(echo_at(&rows, "$ ", &echo(&["echo a"])), Some((5, 1)));
        // Each line typed before, before the one after it.
        assert_eq!(
            echo_at(&rows, "$ ", &echo(&["echo a", "print(1)"])),
            Some((2, 2))
        );
        // An older line scrolled out: from the ones still there.
        assert_eq!(
            echo_at(&rows, "$ ", &echo(&["gone", "print(1)"])),
            Some((3, 1))
        );
        // The line being written may hold it; nothing expected, or the
        // last line missing, is not found.
        assert_eq!(echo_at(&rows, "$ ls -l", &echo(&["ls -l"])), Some((6, 1)));
        assert_eq!(echo_at(&rows, "$ ", &echo(&[])), None);
        assert_eq!(echo_at(&rows, "$ ", &echo(&["print(1)", "gone"])), None);
    }
}
