//! Stream framing and command-block assembly.
//!
//! [`Assembler`] is a sans-IO state machine: feed it byte chunks exactly as
//! they were read (split anywhere, any size), then pull [`Event`]s. It never
//! panics and never loses a byte: what it cannot make sense of comes out as
//! [`Event::Invalid`] or, at the end of the stream, [`Event::Truncated`].
//!
//! Rules, from `tmux-protocol.md` section 6:
//! - Lines end in `\n`. There is no length limit; each byte is scanned once,
//!   so a 16 MiB line costs the same per byte as short ones.
//! - `-CC` streams: a leading `ESC P1000p` is dropped, and so is the
//!   `ESC \` the tmux client writes after `%exit`. When the first line ends
//!   in `\r` (a `-CC` client on a tty, whose ONLCR turns `\n` into `\r\n`)
//!   CRLF mode is on and one trailing `\r` is removed from every line.
//!   Otherwise a `\r` inside a block is content (tmux keeps it), a trailing
//!   `\r` outside blocks is ignored, and a guard line is still recognised
//!   with one.
//! - Block content is not escaped. Inside a block only the `%end`/`%error`
//!   whose time, number and flags equal the open `%begin` closes it; every
//!   other line is content and [`Reply::lines`] keeps it exactly.
//!
//! ## Notifications inside a block
//!
//! tmux 3.2 to 3.7 write `%pause`, `%continue`, `%message` and
//! `%config-error` inside the block of the command that caused them
//! (master defers them). A consumer must see them when they happen (flow
//! control depends on `%pause`/`%continue`), so by default a block line that
//! parses as one of those four is also surfaced at once as an
//! [`Event::Notification`], before the block's [`Event::Reply`]. The reply's
//! lines are never changed: [`Reply::surfaced`] lists the positions of the
//! lines that were surfaced, and [`Reply::content`] gives the lines without
//! them. Because block content is unescaped, command output that happens to
//! look exactly like one of those lines (`show-buffer` of a buffer holding
//! `%pause %1`) is surfaced too; [`Assembler::without_block_notifications`]
//! turns surfacing off, for servers that defer them (master) or callers that
//! print untrusted data.

use super::error::{display_line, ProtocolError};
use super::escape::unescape_slice;
use super::line::{data_line, parse_line, Guard, Line, Notification};
use bytes::Buf;
use bytes::{Bytes, BytesMut};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// The `-CC` DCS introducer tmux writes before the first line.
const DCS_INTRO: &[u8] = b"\x1bP1000p";
/// The string terminator the tmux client writes after `%exit` in `-CC` mode.
const DCS_END: &[u8] = b"\x1b\\";

/// A finished command block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    /// Server time when the command started.
    pub time: u64,
    /// Server-global command number.
    pub number: u64,
    /// 1 for commands this client typed, 0 for the initial command and others.
    pub flags: u32,
    /// `true` for `%end`, `false` for `%error` (then `lines` hold the message).
    pub ok: bool,
    /// The block's lines exactly as tmux wrote them (unescaped, raw
    /// bytes), without `\n`.
    pub lines: Vec<Bytes>,
    /// Indexes into `lines` of the lines that were also surfaced as
    /// notifications (see the module docs), ascending.
    pub surfaced: Vec<usize>,
}

impl Reply {
    /// The guard fields of this block.
    pub fn guard(&self) -> Guard {
        Guard {
            time: self.time,
            number: self.number,
            flags: self.flags,
        }
    }

    /// The lines that were not surfaced as notifications: the command's own
    /// output on tmux 3.2 to 3.7.
    pub fn content(&self) -> Vec<Bytes> {
        let mut surfaced = self.surfaced.iter().peekable();
        let mut out =
            Vec::with_capacity(self.lines.len() - self.surfaced.len().min(self.lines.len()));
        for (i, line) in self.lines.iter().enumerate() {
            if surfaced.peek() == Some(&&i) {
                surfaced.next();
            } else {
                out.push(line.clone());
            }
        }
        out
    }

    /// [`Reply::content`] joined with `\n`, as one byte string.
    pub fn output(&self) -> Vec<u8> {
        self.content().join(&b'\n')
    }

    /// [`Reply::output`] as text, with invalid UTF-8 replaced and the
    /// surrounding white space trimmed: the answer of a one-value query.
    ///
    /// ```
    /// # use tmux_wire::protocol::Reply;
    /// let reply = Reply { time: 0, number: 1, flags: 1, ok: true, lines: vec!["%3 ".into()], surfaced: vec![] };
    /// assert_eq!(reply.text(), "%3");
    /// ```
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.output()).trim().to_string()
    }

    /// [`Reply::text`] parsed as a `T` (a number, a [`crate::protocol::PaneId`]).
    ///
    /// ```
    /// # use tmux_wire::protocol::{PaneId, Reply};
    /// let reply = Reply { time: 0, number: 1, flags: 1, ok: true, lines: vec!["%3".into()], surfaced: vec![] };
    /// assert_eq!(reply.parse::<PaneId>().unwrap(), PaneId(3));
    /// assert!(reply.parse::<u32>().is_err());
    /// ```
    pub fn parse<T: std::str::FromStr>(&self) -> Result<T, AnswerError> {
        let text = self.text();
        text.parse().map_err(|_| AnswerError {
            answer: text,
            expected: std::any::type_name::<T>(),
        })
    }
}

/// An answer that is not the value asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("tmux answered {answer:?} where a {expected} was expected")]
pub struct AnswerError {
    /// What tmux answered.
    pub answer: String,
    /// The type asked for.
    pub expected: &'static str,
}

/// What the assembler yields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Event {
    /// A notification, in stream order.
    Notification(Notification),
    /// A complete command block.
    Reply(Reply),
    /// A line outside any block that is not valid control-mode output
    /// (garbage, an empty line, `%end` with no open block, a known
    /// notification with bad arguments). The stream continues.
    Invalid {
        /// The raw line, without its `\n`.
        line: Bytes,
        /// Why it was rejected.
        error: ProtocolError,
    },
    /// The stream ended (see [`Assembler::finish`]) in the middle of a block
    /// or a line. Everything received is here.
    Truncated {
        /// The open block's guard, if a block was open.
        open_block: Option<Guard>,
        /// Complete lines of the open block received so far.
        lines: Vec<Bytes>,
        /// Bytes of a last line that never got its `\n`.
        partial_line: Bytes,
    },
}

#[derive(Debug)]
struct OpenBlock {
    guard: Guard,
    /// `TIME NUMBER FLAGS` exactly as the `%begin` line had them; tmux
    /// repeats them after `%end ` or `%error `.
    fields: Vec<u8>,
    lines: Vec<Bytes>,
    surfaced: Vec<usize>,
}

/// The control-mode stream assembler. See the module documentation.
///
/// ```
/// use tmux_wire::protocol::{Assembler, Event};
/// let mut asm = Assembler::new();
/// asm.feed(b"%begin 1 2 1\nhel");
/// assert!(asm.next_event().is_none());
/// asm.feed(b"lo\n%end 1 2 1\n%sessions-changed\n");
/// let Some(Event::Reply(reply)) = asm.next_event() else { panic!() };
/// assert_eq!(reply.output(), b"hello");
/// assert!(matches!(asm.next_event(), Some(Event::Notification(_))));
/// assert!(asm.next_event().is_none());
/// ```
#[derive(Debug)]
pub struct Assembler {
    buf: BytesMut,
    /// Bytes of `buf` already searched for `\n` without success.
    scanned: usize,
    /// `buf` is (the rest of) a buffer handed over by `feed_buf`, whose
    /// memory the caller may want back for its next read.
    borrowed: bool,
    /// The scanned part of the held line contains a backslash.
    backslash_seen: bool,
    /// Buffers handed over by [`Assembler::feed_buf`] after `buf`, not yet
    /// looked at. Only the part of one that completes a line held in `buf`
    /// is ever copied.
    queue: VecDeque<BytesMut>,
    open: Option<OpenBlock>,
    /// No line has been taken yet (the DCS introducer may still come).
    at_start: bool,
    /// The stream began with the `-CC` DCS introducer.
    dcs: bool,
    /// Lines end in `\r\n` (decided by the first line).
    crlf: bool,
    surface_in_block: bool,
}

impl Default for Assembler {
    fn default() -> Self {
        Self::new()
    }
}

impl Assembler {
    /// A new assembler that lifts in-block notifications (module docs).
    pub fn new() -> Self {
        Assembler {
            buf: BytesMut::new(),
            scanned: 0,
            borrowed: false,
            backslash_seen: false,
            queue: VecDeque::new(),
            open: None,
            at_start: true,
            dcs: false,
            crlf: false,
            surface_in_block: true,
        }
    }

    /// A new assembler that does not surface notification-like lines inside
    /// blocks as notifications (module docs).
    pub fn without_block_notifications() -> Self {
        Assembler {
            surface_in_block: false,
            ..Self::new()
        }
    }

    /// Append bytes read from the stream.
    pub fn feed(&mut self, chunk: &[u8]) {
        if self.queue.is_empty() {
            self.buf.extend_from_slice(chunk);
        } else {
            self.queue.push_back(BytesMut::from(chunk));
        }
    }

    /// Append a buffer the caller read into. Its lines are handed out as
    /// views into it, without copying; only the bytes that complete a line
    /// begun in an earlier buffer are copied.
    ///
    /// ```
    /// use bytes::BytesMut;
    /// use tmux_wire::protocol::{Assembler, Event};
    /// let mut read_buf = BytesMut::from(&b"%sessions-changed\n"[..]);
    /// let mut asm = Assembler::new();
    /// asm.feed_buf(read_buf.split());
    /// assert!(matches!(asm.next_event(), Some(Event::Notification(_))));
    /// ```
    pub fn feed_buf(&mut self, chunk: BytesMut) {
        if self.buf.is_empty() && self.queue.is_empty() {
            self.adopt(chunk);
        } else if !chunk.is_empty() {
            self.queue.push_back(chunk);
        }
    }

    /// Bytes held that have not become events yet (the partial last line;
    /// block content is counted in [`Assembler::open_block_bytes`]).
    pub fn buffered_len(&self) -> usize {
        self.buf.len() + self.queue.iter().map(BytesMut::len).sum::<usize>()
    }

    /// Bytes of content held for the currently open block.
    pub fn open_block_bytes(&self) -> usize {
        self.open
            .as_ref()
            .map_or(0, |b| b.lines.iter().map(Bytes::len).sum())
    }

    /// Whether a command block is open.
    pub fn in_block(&self) -> bool {
        self.open.is_some()
    }

    /// The next complete event, or `None` until more bytes are fed.
    pub fn next_event(&mut self) -> Option<Event> {
        loop {
            let (span, backslash) = self.next_line()?;
            if let Some(event) = self.on_line(span, backslash) {
                return Some(event);
            }
        }
    }

    /// Iterate over all events available now.
    pub fn events(&mut self) -> impl Iterator<Item = Event> + '_ {
        std::iter::from_fn(move || self.next_event())
    }

    /// The stream has ended: returns [`Event::Truncated`] if a block was open
    /// or bytes of an unfinished line remain, and resets the assembler for a
    /// new stream. Call [`Assembler::next_event`] until `None` first.
    pub fn finish(&mut self) -> Option<Event> {
        let mut partial = self.buf.split();
        for chunk in self.queue.drain(..) {
            partial.extend_from_slice(&chunk);
        }
        let mut partial = partial.freeze();
        let open = self.open.take();
        // What the tmux client writes after %exit in -CC mode, or a stream
        // that stopped right after the DCS introducer.
        let framing = (self.dcs && open.is_none() && partial.as_ref() == DCS_END)
            || (self.at_start && partial.as_ref() == DCS_INTRO);
        if framing {
            partial = Bytes::new();
        }
        *self = Assembler {
            surface_in_block: self.surface_in_block,
            ..Self::new()
        };
        if open.is_none() && partial.is_empty() {
            return None;
        }
        let (open_block, lines) = match open {
            Some(b) => (Some(b.guard), b.lines),
            None => (None, Vec::new()),
        };
        Some(Event::Truncated {
            open_block,
            lines,
            partial_line: partial,
        })
    }

    /// Make a caller's buffer the one lines are cut from (nothing is held).
    fn adopt(&mut self, chunk: BytesMut) {
        self.buf = chunk;
        self.borrowed = true;
        self.scanned = 0;
        self.backslash_seen = false;
    }

    /// Find the end of the line held in `buf`, scanning only bytes not
    /// scanned before, and note whether the line holds a backslash (one
    /// pass finds both; lines without one need no unescaping scan later).
    fn find_line_end(&mut self) -> Option<usize> {
        let from = self.scanned;
        if !self.backslash_seen {
            match memchr::memchr2(b'\n', b'\\', &self.buf[from..]) {
                Some(off) if self.buf[from + off] == b'\n' => return Some(from + off),
                Some(off) => {
                    self.backslash_seen = true;
                    self.scanned = from + off + 1;
                }
                None => {
                    self.scanned = self.buf.len();
                    return None;
                }
            }
        }
        let from = self.scanned;
        match memchr::memchr(b'\n', &self.buf[from..]) {
            Some(off) => Some(from + off),
            None => {
                self.scanned = self.buf.len();
                None
            }
        }
    }

    /// Waiting for more input while holding the unfinished last line of a
    /// caller's buffer: copy that line out (at most once per buffer, so the
    /// cost stays linear), so the caller's next read can reuse the memory
    /// instead of allocating.
    fn release_borrowed(&mut self) {
        if std::mem::take(&mut self.borrowed) {
            self.buf = BytesMut::from(&self.buf[..]);
        }
    }

    /// The next line's place in `buf` (framing removed), and whether it
    /// may hold a backslash. The line stays in `buf` until [`Span::take`]
    /// or [`Span::skip`]: a line that becomes only ids and names is parsed
    /// where it lies, without the reference count a [`Bytes`] view costs.
    fn next_line(&mut self) -> Option<(Span, bool)> {
        let end = loop {
            if let Some(end) = self.find_line_end() {
                break end;
            }
            let Some(mut chunk) = self.queue.pop_front() else {
                self.release_borrowed();
                return None;
            };
            if self.buf.is_empty() {
                self.adopt(chunk);
                continue;
            }
            // Complete the held line with the head of the next buffer and keep
            // the rest of that buffer for the lines after it.
            match memchr::memchr(b'\n', &chunk) {
                Some(nl) => {
                    self.buf.extend_from_slice(&chunk.split_to(nl + 1));
                    if !chunk.is_empty() {
                        self.queue.push_front(chunk);
                    }
                }
                None => self.buf.extend_from_slice(&chunk),
            }
        };
        self.scanned = 0;
        let backslash = std::mem::take(&mut self.backslash_seen);
        let mut span = Span {
            start: 0,
            end,
            next: end + 1,
        };
        if self.at_start {
            self.at_start = false;
            if self.buf[..end].starts_with(DCS_INTRO) {
                self.dcs = true;
                span.start = DCS_INTRO.len();
            }
            self.crlf = self.buf[span.start..end].ends_with(b"\r");
        }
        if self.crlf {
            span.strip_cr(&self.buf);
        }
        // The -CC terminator of one client session followed by more data
        // (a capture of several sessions): framing, never block content.
        if self.dcs && self.open.is_none() && self.buf[span.start..span.end].starts_with(DCS_END) {
            span.start += DCS_END.len();
        }
        Some((span, backslash))
    }

    fn on_line(&mut self, mut span: Span, backslash: bool) -> Option<Event> {
        if let Some(block) = self.open.as_mut() {
            let line = &self.buf[span.start..span.end];
            if let Some(ok) = closes(line, &block.fields) {
                span.skip(&mut self.buf);
                let b = self.open.take().expect("checked above");
                return Some(Event::Reply(Reply {
                    time: b.guard.time,
                    number: b.guard.number,
                    flags: b.guard.flags,
                    ok,
                    lines: b.lines,
                    surfaced: b.surfaced,
                }));
            }
            let surfaced = if self.surface_in_block {
                in_block_notification(line)
            } else {
                None
            };
            if surfaced.is_some() {
                block.surfaced.push(block.lines.len());
            }
            block.lines.push(span.take(&mut self.buf));
            return surfaced.map(Event::Notification);
        }
        span.strip_cr(&self.buf);
        let line = &self.buf[span.start..span.end];
        if let Some((header, at)) = data_line(line) {
            // Escaped data is decoded straight out of the buffer into its
            // own; data without escapes is handed out as a view.
            let data = if backslash {
                let data = Bytes::from(unescape_slice(&line[at..]));
                span.skip(&mut self.buf);
                data
            } else {
                span.start += at;
                span.take(&mut self.buf)
            };
            return Some(Event::Notification(header.with(data)));
        }
        if is_guard_end(line) {
            let error = ProtocolError::MalformedLine {
                reason: "block end without an open %begin".into(),
                line: display_line(line),
            };
            let line = span.take(&mut self.buf);
            return Some(Event::Invalid { line, error });
        }
        // Other lines become ids and names (copied out as `String`s), so
        // they are parsed in place; the few byte fields are copied.
        match parse_line(line) {
            Ok(Line::Begin(guard)) => {
                let fields = line.strip_prefix(b"%begin ").unwrap_or_default();
                self.open = Some(OpenBlock {
                    guard,
                    fields: fields.to_vec(),
                    lines: Vec::with_capacity(4),
                    surfaced: Vec::new(),
                });
                span.skip(&mut self.buf);
                None
            }
            Ok(Line::Notification(n)) => {
                span.skip(&mut self.buf);
                Some(Event::Notification(n))
            }
            Ok(Line::End(_) | Line::Error(_)) => unreachable!("is_guard_end caught it"),
            Err(error) => {
                let line = span.take(&mut self.buf);
                Some(Event::Invalid { line, error })
            }
        }
    }
}

/// Where a line lies in the assembler's buffer.
#[derive(Debug, Clone, Copy)]
struct Span {
    /// The first byte of the line (after any framing).
    start: usize,
    /// One past the last byte of the line (before `\n` and any `\r` removed).
    end: usize,
    /// One past the line's `\n`.
    next: usize,
}

impl Span {
    /// The line as [`Bytes`], removed from `buf`.
    fn take(self, buf: &mut BytesMut) -> Bytes {
        let mut line = buf.split_to(self.next).freeze();
        line.truncate(self.end);
        line.advance(self.start);
        line
    }

    /// Drop the line from `buf`.
    fn skip(self, buf: &mut BytesMut) {
        buf.advance(self.next);
    }

    /// Leave out one trailing `\r`.
    fn strip_cr(&mut self, buf: &[u8]) {
        if self.end > self.start && buf[self.end - 1] == b'\r' {
            self.end -= 1;
        }
    }
}

/// Whether the line is named `%end` or `%error` (whatever its arguments).
fn is_guard_end(line: &[u8]) -> bool {
    let named =
        |name: &[u8]| line.starts_with(name) && matches!(line.get(name.len()), None | Some(b' '));
    named(b"%end") || named(b"%error")
}

/// `Some(ok)` if `line` is the `%end`/`%error` closing the block whose
/// `%begin` had `fields` (tmux repeats them byte for byte). One trailing
/// `\r` is accepted, as it is on the `%begin` line outside CRLF mode.
fn closes(line: &[u8], fields: &[u8]) -> Option<bool> {
    let line = line
        .strip_suffix(b"\r")
        .filter(|l| l.ends_with(fields))
        .unwrap_or(line);
    if line.strip_prefix(b"%end ") == Some(fields) {
        Some(true)
    } else if line.strip_prefix(b"%error ") == Some(fields) {
        Some(false)
    } else {
        None
    }
}

/// The notifications tmux 3.2-3.7 may write inside a block.
fn in_block_notification(line: &[u8]) -> Option<Notification> {
    const LIFTED: [&[u8]; 4] = [b"%pause ", b"%continue ", b"%message ", b"%config-error "];
    if !LIFTED.iter().any(|p| line.starts_with(p)) {
        return None;
    }
    match parse_line(line) {
        Ok(Line::Notification(n)) => Some(n),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::PaneId;

    fn all(input: &[u8]) -> Vec<Event> {
        let mut a = Assembler::new();
        a.feed(input);
        let mut v: Vec<Event> = a.events().collect();
        v.extend(a.finish());
        v
    }

    fn reply(e: &Event) -> &Reply {
        match e {
            Event::Reply(r) => r,
            other => panic!("expected a reply, got {other:?}"),
        }
    }

    #[test]
    fn fake_guard_inside_block_is_content() {
        let ev = all(b"%begin 1795311692 545 1\n%end 1795311688 999 1\n%error 1795311692 545 0\n%end 1795311692 545 1\n");
        assert_eq!(ev.len(), 1);
        let r = reply(&ev[0]);
        assert!(r.ok);
        assert_eq!(
            r.lines,
            vec![
                Bytes::from("%end 1795311688 999 1"),
                Bytes::from("%error 1795311692 545 0")
            ]
        );
    }

    #[test]
    fn error_block() {
        let ev = all(b"%begin 1 322 1\nparse error: unknown command: x\n%error 1 322 1\n");
        let r = reply(&ev[0]);
        assert!(!r.ok);
        assert_eq!(r.output(), b"parse error: unknown command: x");
    }

    #[test]
    fn in_block_notifications_are_surfaced_and_lines_kept() {
        let ev = all(b"%begin 1 296 1\nbefore\n%pause %0\nafter\n%end 1 296 1\n");
        assert_eq!(
            ev[0],
            Event::Notification(Notification::Pause { pane: PaneId(0) })
        );
        let r = reply(&ev[1]);
        let all = vec![
            Bytes::from("before"),
            Bytes::from("%pause %0"),
            Bytes::from("after"),
        ];
        assert_eq!(r.lines, all);
        assert_eq!(r.surfaced, vec![1]);
        assert_eq!(
            r.content(),
            vec![Bytes::from("before"), Bytes::from("after")]
        );
        assert_eq!(r.output(), b"before\nafter");

        let mut quiet = Assembler::without_block_notifications();
        quiet.feed(b"%begin 1 296 1\n%pause %0\n%end 1 296 1\n");
        let ev: Vec<_> = quiet.events().collect();
        assert_eq!(ev.len(), 1);
        assert_eq!(reply(&ev[0]).lines, vec![Bytes::from("%pause %0")]);
        assert!(reply(&ev[0]).surfaced.is_empty());
    }

    #[test]
    fn dcs_terminator_is_only_framing() {
        // Plain -C: a line starting with ESC \ is content, inside a block and out.
        let ev = all(b"%begin 1 2 1\n\x1b\\kept\n%end 1 2 1\n");
        assert_eq!(reply(&ev[0]).lines, vec![Bytes::from("\x1b\\kept")]);
        let ev = all(b"\x1b\\%sessions-changed\n");
        assert!(matches!(ev[0], Event::Invalid { .. }));
        // -CC: the terminator after %exit is dropped, at the end or mid-stream.
        let ev = all(b"\x1bP1000p%exit\r\n\x1b\\");
        assert_eq!(
            ev,
            vec![Event::Notification(Notification::Exit { reason: None })]
        );
        let ev = all(b"\x1bP1000p%exit\r\n\x1b\\%sessions-changed\r\n");
        assert_eq!(ev[1], Event::Notification(Notification::SessionsChanged));
    }

    #[test]
    fn dcs_without_crlf_keeps_carriage_returns() {
        // -CC over a socketpair: no tty, so no ONLCR; a CR in content is data.
        let ev = all(b"\x1bP1000p%begin 1 2 1\ncrlf-test\r\n%end 1 2 1\n");
        assert_eq!(reply(&ev[0]).lines, vec![Bytes::from("crlf-test\r")]);
    }

    #[test]
    fn guards_with_cr_close_outside_crlf_mode() {
        // A stream joined mid-way: CRLF mode is off, yet the guards carry \r.
        let ev = all(b"%sessions-changed\n%begin 1 2 1\r\nx\r\n%end 1 2 1\r\n%sessions-changed\n");
        assert_eq!(ev.len(), 3, "{ev:?}");
        assert_eq!(reply(&ev[1]).lines, vec![Bytes::from("x\r")]);
    }

    #[test]
    fn guard_fields_are_matched_as_written() {
        let ev = all(b"%begin 01 2 1\nx\n%end 1 2 1\n%end 01 2 1\n");
        assert_eq!(
            reply(&ev[0]).lines,
            vec![Bytes::from("x"), Bytes::from("%end 1 2 1")]
        );
    }

    #[test]
    fn other_percent_lines_in_blocks_are_content() {
        let ev = all(b"%begin 1 2 1\n%output %0 x\n%pause\n%begin 1 3 1\n%end 1 2 1\n");
        assert_eq!(ev.len(), 1);
        assert_eq!(reply(&ev[0]).lines.len(), 3);
    }

    #[test]
    fn control_control_stream() {
        let ev = all(b"\x1bP1000p%begin 1795311521 520 0\r\n%end 1795311521 520 0\r\n%session-changed $0 main2\r\n%begin 1795311522 524 1\r\ncc-test\r\n%end 1795311522 524 1\r\n%exit\r\n\x1b\\");
        assert_eq!(ev.len(), 4, "{ev:?}");
        assert!(reply(&ev[0]).lines.is_empty());
        assert_eq!(
            ev[1],
            Event::Notification(Notification::SessionChanged {
                session: crate::protocol::SessionId(0),
                name: "main2".into()
            })
        );
        assert_eq!(reply(&ev[2]).lines, vec![Bytes::from("cc-test")]);
        assert_eq!(
            ev[3],
            Event::Notification(Notification::Exit { reason: None })
        );
    }

    #[test]
    fn cr_in_plain_mode_block_is_content() {
        let ev = all(b"%begin 1 514 1\ncrlf-test\r\n%end 1 514 1\n");
        assert_eq!(reply(&ev[0]).lines, vec![Bytes::from("crlf-test\r")]);
    }

    #[test]
    fn garbage_and_orphans_are_reported_and_the_stream_goes_on() {
        let ev = all(b"junk\n\n%end 1 2 3\n%window-add x\n%sessions-changed\n");
        assert_eq!(ev.len(), 5);
        assert!(ev[..4].iter().all(|e| matches!(e, Event::Invalid { .. })));
        assert_eq!(ev[4], Event::Notification(Notification::SessionsChanged));
    }

    #[test]
    fn truncated_stream_keeps_everything() {
        let ev = all(b"%begin 1 2 1\nline one\nhalf a li");
        assert_eq!(
            ev,
            vec![Event::Truncated {
                open_block: Some(Guard {
                    time: 1,
                    number: 2,
                    flags: 1
                }),
                lines: vec![Bytes::from("line one")],
                partial_line: Bytes::from("half a li"),
            }]
        );
        assert_eq!(
            all(b"%sessions-changed"),
            vec![Event::Truncated {
                open_block: None,
                lines: vec![],
                partial_line: Bytes::from("%sessions-changed"),
            }]
        );
    }

    #[test]
    fn byte_at_a_time_equals_whole() {
        let input = b"%begin 1 2 1\nx\n%end 1 2 1\n%output %1 a\\012\n";
        let mut a = Assembler::new();
        let mut got = Vec::new();
        for b in input {
            a.feed(&[*b]);
            got.extend(a.events());
        }
        assert_eq!(got, all(input));
    }

    /// What a server could write: blocks with arbitrary content (including
    /// lines that look like guards of other blocks or notifications) and
    /// notifications between them.
    #[derive(Debug, Clone)]
    enum Item {
        Block {
            number: u64,
            ok: bool,
            lines: Vec<Vec<u8>>,
        },
        Output {
            pane: u32,
            data: Vec<u8>,
        },
        SessionsChanged,
    }

    fn content_line() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::prelude::*;
        prop_oneof![
            proptest::collection::vec(any::<u8>().prop_filter("no LF", |b| *b != b'\n'), 0..40),
            Just(b"%end 1 999999 1".to_vec()),
            Just(b"%error 1 999999 1".to_vec()),
            Just(b"%begin 1 5 1".to_vec()),
            Just(b"%pause %3".to_vec()),
            Just(b"%message hello there".to_vec()),
            Just(b"%output %1 looks like output".to_vec()),
            Just(b"".to_vec()),
        ]
    }

    fn item() -> impl proptest::strategy::Strategy<Value = Item> {
        use proptest::prelude::*;
        prop_oneof![
            (
                any::<bool>(),
                proptest::collection::vec(content_line(), 0..5)
            )
                .prop_map(|(ok, lines)| Item::Block {
                    number: 0,
                    ok,
                    lines
                }),
            (0u32..5, proptest::collection::vec(any::<u8>(), 0..300))
                .prop_map(|(pane, data)| Item::Output { pane, data }),
            Just(Item::SessionsChanged),
        ]
    }

    proptest::proptest! {
        #[test]
        fn interleavings_come_out_in_order_and_paired(
            mut items in proptest::collection::vec(item(), 0..30),
            cuts in proptest::collection::vec(1usize..200, 1..50),
            lift in proptest::prelude::any::<bool>(),
        ) {
            let mut stream = Vec::new();
            for (i, item) in items.iter_mut().enumerate() {
                match item {
                    Item::Block { number, ok, lines } => {
                        *number = 100 + i as u64;
                        stream.extend_from_slice(format!("%begin 1795311580 {number} 1\n").as_bytes());
                        for l in lines.iter() {
                            stream.extend_from_slice(l);
                            stream.push(b'\n');
                        }
                        let end = if *ok { "end" } else { "error" };
                        stream.extend_from_slice(format!("%{end} 1795311580 {number} 1\n").as_bytes());
                    }
                    Item::Output { pane, data } => {
                        stream.extend_from_slice(format!("%output %{pane} ").as_bytes());
                        stream.extend(crate::protocol::escape(data));
                        stream.push(b'\n');
                    }
                    Item::SessionsChanged => stream.extend_from_slice(b"%sessions-changed\n"),
                }
            }
            let mut asm = if lift { Assembler::new() } else { Assembler::without_block_notifications() };
            let mut events = Vec::new();
            let mut rest = &stream[..];
            for (i, cut) in cuts.iter().cycle().enumerate() {
                if rest.is_empty() { break; }
                let (now, later) = rest.split_at((*cut).min(rest.len()));
                if i % 2 == 0 { asm.feed(now) } else { asm.feed_buf(BytesMut::from(now)) }
                rest = later;
                events.extend(asm.events());
            }
            proptest::prop_assert!(asm.finish().is_none());

            // Surfaced notifications are checked through Reply::surfaced; drop them here.
            let mut got = events.into_iter().filter(|e| {
                !matches!(e, Event::Notification(Notification::Pause { .. } | Notification::Message { .. }))
            });
            for item in &items {
                let event = got.next();
                match (item, event) {
                    (Item::Block { number, ok, lines }, Some(Event::Reply(r))) => {
                        proptest::prop_assert_eq!(r.number, *number);
                        proptest::prop_assert_eq!(r.ok, *ok);
                        let all: Vec<Vec<u8>> = r.lines.iter().map(|l| l.to_vec()).collect();
                        proptest::prop_assert_eq!(&all, lines);
                        let looks_like: Vec<usize> = lines.iter().enumerate()
                            .filter(|(_, l)| lift && (l.starts_with(b"%pause ") || l.starts_with(b"%message ")))
                            .map(|(i, _)| i).collect();
                        proptest::prop_assert_eq!(&r.surfaced, &looks_like);
                    }
                    (Item::Output { pane, data }, Some(Event::Notification(Notification::Output { pane: p, data: d }))) => {
                        proptest::prop_assert_eq!(p, PaneId(*pane));
                        proptest::prop_assert_eq!(d.as_ref(), data.as_slice());
                    }
                    (Item::SessionsChanged, Some(Event::Notification(Notification::SessionsChanged))) => {}
                    (item, event) => proptest::prop_assert!(false, "{item:?} came out as {event:?}"),
                }
            }
            proptest::prop_assert!(got.next().is_none());
        }

        /// A line outside a block comes out as `parse_line` reads it (its
        /// trailing `\r` removed): the assembler parses most lines in place
        /// and pane data from its buffer, and must not differ.
        #[test]
        fn a_line_outside_blocks_is_what_parse_line_makes(
            name in proptest::sample::select(vec![
                "%output", "%extended-output", "%pause", "%window-renamed", "%layout-change",
                "%session-changed", "%subscription-changed", "%message", "%exit", "%sessions-changed",
                "%future", "%", "x",
            ]),
            tail in "[ %@$:0-9a-z\\\\-]{0,30}",
            cr in proptest::prelude::any::<bool>(),
        ) {
            let line = format!("{name}{tail}");
            // A first line in \r would turn CRLF mode on; start with another.
            let mut stream = b"%sessions-changed\n".to_vec();
            stream.extend_from_slice(line.as_bytes());
            if cr { stream.push(b'\r'); }
            stream.push(b'\n');
            let mut asm = Assembler::new();
            asm.feed(&stream);
            let events: Vec<Event> = asm.events().collect();
            proptest::prop_assert_eq!(events.len(), 2);
            match (parse_line(line.as_bytes()), &events[1]) {
                (Ok(Line::Notification(n)), Event::Notification(got)) => proptest::prop_assert_eq!(&n, got),
                (Err(e), Event::Invalid { line: got, error }) => {
                    proptest::prop_assert_eq!(got.as_ref(), line.as_bytes());
                    proptest::prop_assert_eq!(&e, error);
                }
                (expected, got) => proptest::prop_assert!(false, "{line:?}: {expected:?} but {got:?}"),
            }
        }
    }
}
