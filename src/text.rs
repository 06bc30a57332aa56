//! Pane output as a person reads it: bytes in, lines out.
//!
//! [`Lines`] is a terminal one line tall. Printable characters overwrite the
//! line at the cursor; a carriage return goes back to the start of the line
//! (so `50%\r100%` shows `100%`, and CR LF, which the pty writes for every
//! newline, ends a line without emptying it); a line feed ends the line;
//! backspace moves back; a tab moves to the next multiple of 8; `CSI K`
//! erases to the end, to the start or the whole line, and `CSI C`, `D`, `G`
//! move within it. Every other escape sequence (colours, titles, modes) is
//! dropped, and so is what moves between lines (cursor up, clearing the
//! screen), which a stream of lines cannot show.
//!
//! ```
//! use tmux_wire::text::Lines;
//! let mut lines = Lines::new();
//! let done = lines.push(b"one\r\r\ntwo\r\nthree\rTHREE\r\n\x1b[32mfour\x1b[0m 50%\r");
//! assert_eq!(done, ["one", "two", "THREE"]);
//! // A progress line is redrawn from its start; what it shows last stays.
//! assert_eq!(lines.push(b"four 100%\r\n"), ["four 100%"]);
//! ```

/// A line longer than this (in characters) is ended where it reaches it,
/// so that output without newlines cannot grow memory without bound.
pub const MAX_LINE: usize = 1 << 20;

/// Lines from output bytes; see the module docs.
pub struct Lines {
    parser: vte::Parser,
    line: Line,
    /// The parser is known to be in its ground state (not in an escape
    /// sequence, no UTF-8 character begun): plain text is then taken here,
    /// a run at a time, instead of through the parser a character at a
    /// time; the parser gets the rest (see [`Lines::push`]).
    ground: bool,
}

#[derive(Default)]
struct Line {
    cells: Cells,
    col: usize,
    done: Vec<String>,
    /// Since the parser was last given a byte: it printed a character,
    /// or dispatched an escape or control sequence (both leave it in its
    /// ground state; see [`Lines::push`]).
    printed: bool,
    dispatched: bool,
}

/// The line being written, one character per cell. Output is mostly
/// ASCII, so a line holds bytes until a wider character comes: printing
/// then costs a byte store, and an ended line is copied out as it is
/// (a flood of output is rendered at memory speed, not char by char).
enum Cells {
    /// Only ASCII so far: one byte per cell.
    Ascii(Vec<u8>),
    /// Any characters.
    Chars(Vec<char>),
}

impl Default for Cells {
    fn default() -> Self {
        Cells::Ascii(Vec::new())
    }
}

impl Cells {
    fn from_text(text: &str) -> Cells {
        if text.is_ascii() {
            Cells::Ascii(text.as_bytes().to_vec())
        } else {
            Cells::Chars(text.chars().collect())
        }
    }

    fn len(&self) -> usize {
        match self {
            Cells::Ascii(b) => b.len(),
            Cells::Chars(c) => c.len(),
        }
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn text(&self) -> String {
        match self {
            // Always valid (ASCII); `from_utf8` checks it fast.
            Cells::Ascii(b) => String::from_utf8(b.clone())
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
            Cells::Chars(c) => c.iter().collect(),
        }
    }

    /// The text, leaving the cells empty (an ASCII line's buffer is kept
    /// for the next line).
    fn take(&mut self) -> String {
        let text = self.text();
        match self {
            Cells::Ascii(b) => b.clear(),
            Cells::Chars(_) => *self = Cells::default(),
        }
        text
    }

    /// Characters as they are, from here on.
    fn chars(&mut self) -> &mut Vec<char> {
        if let Cells::Ascii(b) = self {
            *self = Cells::Chars(b.iter().map(|&b| char::from(b)).collect());
        }
        match self {
            Cells::Chars(c) => c,
            Cells::Ascii(_) => unreachable!("made wide above"),
        }
    }

    /// Put `c` in cell `col`, padding with spaces up to it.
    #[inline]
    fn put(&mut self, col: usize, c: char) {
        if let (Cells::Ascii(b), true) = (&mut *self, c.is_ascii()) {
            let c = c as u8;
            if col == b.len() {
                b.push(c);
            } else if col < b.len() {
                b[col] = c;
            } else {
                b.resize(col, b' ');
                b.push(c);
            }
            return;
        }
        let cells = self.chars();
        if col < cells.len() {
            cells[col] = c;
        } else {
            cells.resize(col, ' ');
            cells.push(c);
        }
    }

    /// Make the line `len` cells long at least, with spaces.
    fn pad(&mut self, len: usize) {
        match self {
            Cells::Ascii(b) if b.len() < len => b.resize(len, b' '),
            Cells::Chars(c) if c.len() < len => c.resize(len, ' '),
            _ => {}
        }
    }

    /// Blank the first `upto` cells.
    fn blank(&mut self, upto: usize) {
        let upto = upto.min(self.len());
        match self {
            Cells::Ascii(b) => b[..upto].fill(b' '),
            Cells::Chars(c) => c[..upto].fill(' '),
        }
    }

    fn truncate(&mut self, len: usize) {
        match self {
            Cells::Ascii(b) => b.truncate(len),
            Cells::Chars(c) => c.truncate(len),
        }
    }

    /// Drop the spaces at the end, keeping the first `keep` cells.
    fn trim_end(&mut self, keep: usize) {
        match self {
            Cells::Ascii(b) => {
                while b.len() > keep && b.last() == Some(&b' ') {
                    b.pop();
                }
            }
            Cells::Chars(c) => {
                while c.len() > keep && c.last() == Some(&' ') {
                    c.pop();
                }
            }
        }
    }
}

impl Default for Lines {
    fn default() -> Self {
        Lines::new()
    }
}

impl std::fmt::Debug for Lines {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lines")
            .field("current", &self.current())
            .finish_non_exhaustive()
    }
}

impl Lines {
    /// Nothing seen yet.
    pub fn new() -> Lines {
        Lines {
            parser: vte::Parser::new(),
            line: Line::default(),
            ground: true,
        }
    }

    /// Lines that go on from a line already showing `text`, with the
    /// cursor at its end (the last line of a screen a wait starts from).
    pub fn continuing(text: &str) -> Lines {
        let cells = Cells::from_text(text);
        Lines {
            parser: vte::Parser::new(),
            line: Line {
                col: cells.len(),
                cells,
                ..Line::default()
            },
            ground: true,
        }
    }

    /// Feed output bytes (split anywhere: an escape sequence or a UTF-8
    /// character may continue in the next call); returns the lines they
    /// ended, in order.
    pub fn push(&mut self, data: &[u8]) -> Vec<String> {
        // Text between escape sequences, valid UTF-8, is what the parser
        // would pass on as it is: in its ground state it is taken here, a
        // run at a time. Everything else goes through the parser a byte at
        // a time, until a byte shows it is back in its ground state: one it
        // printed (a printable ASCII byte only prints there; a byte of a
        // wider character may leave another begun), or one that ended an
        // escape or control sequence.
        let mut i = 0;
        while i < data.len() {
            if self.ground {
                let end = memchr::memchr(0x1b, &data[i..]).map_or(data.len(), |n| i + n);
                let run = &data[i..end];
                let text = match std::str::from_utf8(run) {
                    Ok(text) => text,
                    Err(e) => std::str::from_utf8(&run[..e.valid_up_to()]).unwrap_or_default(),
                };
                self.line.text(text);
                i += text.len();
                // An escape, or bytes that are not (yet) a character.
                self.ground = i == data.len();
            } else {
                let byte = data[i];
                self.line.printed = false;
                self.line.dispatched = false;
                self.parser.advance(&mut self.line, &[byte]);
                self.ground =
                    self.line.dispatched || (self.line.printed && byte.is_ascii() && byte != 0x1b);
                i += 1;
            }
        }
        std::mem::take(&mut self.line.done)
    }

    /// [`Lines::push`] through the parser alone, a byte at a time: what
    /// the fast path must equal. (Given more at once, vte 0.14.1 loses
    /// the ASCII that follows a UTF-8 character completed across two
    /// calls in the same call: `\xc3` then `\xa9a` shows `é`, not `éa`.
    /// The fast path does not: the parser only ever gets one byte.)
    #[cfg(test)]
    fn push_parsed(&mut self, data: &[u8]) -> Vec<String> {
        for &byte in data {
            self.parser.advance(&mut self.line, &[byte]);
        }
        std::mem::take(&mut self.line.done)
    }

    /// The line being written, as it shows now (empty if none).
    pub fn current(&self) -> String {
        self.line.cells.text()
    }

    /// Whether the line being written has anything on it.
    pub fn has_current(&self) -> bool {
        !self.line.cells.is_empty()
    }

    /// Take the line being written, if it has anything on it (the end of
    /// the output came without a newline).
    pub fn finish(&mut self) -> Option<String> {
        self.has_current().then(|| {
            self.line.col = 0;
            self.line.cells.take()
        })
    }
}

impl Line {
    fn end(&mut self) {
        self.done.push(self.cells.take());
        self.col = 0;
    }

    #[inline]
    fn put(&mut self, c: char) {
        if self.col >= MAX_LINE {
            self.end();
        }
        self.cells.put(self.col, c);
        self.col += 1;
    }

    /// Text as the parser passes it on in its ground state: each control
    /// character executed, every other character printed; runs of
    /// printable ASCII written at once.
    fn text(&mut self, text: &str) {
        let bytes = text.as_bytes();
        let mut k = 0;
        while k < bytes.len() {
            let start = k;
            while k < bytes.len() && (0x20..=0x7f).contains(&bytes[k]) {
                k += 1;
            }
            self.ascii(&bytes[start..k]);
            let Some(c) = text.get(k..).and_then(|rest| rest.chars().next()) else {
                break;
            };
            match c {
                '\x00'..='\x1f' | '\u{80}'..='\u{9f}' => vte::Perform::execute(self, c as u8),
                _ => self.put(c),
            }
            k += c.len_utf8();
        }
    }

    /// Printable ASCII characters, as [`Line::put`] one by one would.
    fn ascii(&mut self, run: &[u8]) {
        if run.is_empty() {
            return;
        }
        match &mut self.cells {
            Cells::Ascii(b) if self.col + run.len() <= MAX_LINE => {
                if self.col > b.len() {
                    b.resize(self.col, b' ');
                }
                let over = (b.len() - self.col).min(run.len());
                b[self.col..self.col + over].copy_from_slice(&run[..over]);
                b.extend_from_slice(&run[over..]);
                self.col += run.len();
            }
            _ => {
                for &c in run {
                    self.put(char::from(c));
                }
            }
        }
    }
}

/// The first parameter of a CSI sequence, or `default` if it is absent or 0.
fn first(params: &vte::Params, default: usize) -> usize {
    match params.iter().next().and_then(|p| p.first()) {
        Some(&n) if n > 0 => usize::from(n),
        _ => default,
    }
}

impl vte::Perform for Line {
    fn print(&mut self, c: char) {
        self.printed = true;
        self.put(c);
    }

    fn execute(&mut self, byte: u8) {
        match byte {
            b'\n' | 0x0b | 0x0c => self.end(),
            b'\r' => self.col = 0,
            0x08 => self.col = self.col.saturating_sub(1),
            b'\t' => {
                let next = ((self.col / 8 + 1) * 8).min(MAX_LINE);
                self.cells.pad(next);
                self.col = next;
            }
            _ => {}
        }
    }

    fn esc_dispatch(&mut self, _: &[u8], _: bool, _: u8) {
        self.dispatched = true;
    }

    fn csi_dispatch(&mut self, params: &vte::Params, intermediates: &[u8], _: bool, action: char) {
        self.dispatched = true;
        if !intermediates.is_empty() {
            return;
        }
        match action {
            // Erase in line: 0 to the end, 1 to the start, 2 all.
            'K' => match params.iter().next().and_then(|p| p.first()).copied() {
                Some(1) => self.cells.blank(self.col + 1),
                Some(2) => self.cells.truncate(0),
                _ => self.cells.truncate(self.col),
            },
            'C' => self.col = (self.col + first(params, 1)).min(MAX_LINE),
            'D' => self.col = self.col.saturating_sub(first(params, 1)),
            'G' => self.col = (first(params, 1) - 1).min(MAX_LINE),
            _ => {}
        }
        // What was erased at the end of the line is not there any more.
        self.cells.trim_end(self.col);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(data: &[u8]) -> Vec<String> {
        let mut lines = Lines::new();
        let mut out = lines.push(data);
        out.extend(lines.finish());
        out
    }

    #[test]
    fn carriage_returns_as_a_terminal_shows_them() {
        // printf 'one\r\ntwo\r\nthree\rTHREE\r\nfour\n' through a pty.
        assert_eq!(
            all(b"one\r\r\ntwo\r\r\nthree\rTHREE\r\r\nfour\r\n"),
            ["one", "two", "THREE", "four"]
        );
        // A shorter rewrite leaves the rest, as on a screen.
        assert_eq!(all(b"abcdef\rXY\n"), ["XYcdef"]);
        // Unless the program erases it.
        assert_eq!(all(b"abcdef\rXY\x1b[K\n"), ["XY"]);
        assert_eq!(all(b"10%\r\x1b[2K\r100%"), ["100%"]);
    }

    #[test]
    fn escapes_split_anywhere_are_dropped() {
        let mut lines = Lines::new();
        let mut out = Vec::new();
        for chunk in [
            &b"\x1b[3"[..],
            b"1mRE",
            b"D\x1b[0",
            b"m \xc3",
            b"\xa9t\r",
            b"\n",
        ] {
            out.extend(lines.push(chunk));
        }
        assert_eq!(out, ["RED \u{e9}t"]);
        assert_eq!(all(b"\x1b]0;title\x07x\x1b(B\n"), ["x"]);
    }

    #[test]
    fn tabs_backspace_and_moves() {
        assert_eq!(all(b"a\tb\n"), ["a       b"]);
        assert_eq!(all(b"abc\x08\x08X\n"), ["aXc"]);
        assert_eq!(all(b"abc\x1b[2DX\x1b[5GY\n"), ["aXc Y"]);
        assert_eq!(all(b"\n\n"), ["", ""]);
    }

    #[test]
    fn the_current_line_shows_what_is_on_it() {
        let mut lines = Lines::new();
        assert!(lines.push(b">>> ").is_empty());
        assert_eq!(lines.current(), ">>> ");
        assert!(lines.has_current());
        assert_eq!(lines.finish().as_deref(), Some(">>> "));
        assert!(!lines.has_current());
    }

    /// Bytes that matter to the parser: text, controls, the pieces of
    /// escape sequences, UTF-8 (whole, cut, invalid), C1 controls.
    fn byte() -> impl proptest::strategy::Strategy<Value = u8> {
        proptest::sample::select(vec![
            b'a', b'Z', b' ', b'~', 0x7f, b'\r', b'\n', b'\t', 0x08, 0x0b, 0x1b, b'[', b'0', b'1',
            b'2', b';', b'?', b'K', b'C', b'D', b'G', b'm', b']', 0x07, b'\\', b'P', b'(', 0x18,
            0x1a, 0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80, 0x9c, 0xff,
        ])
    }

    proptest::proptest! {
        #[test]
        fn the_fast_path_reads_as_the_parser(
            data in proptest::collection::vec(byte(), 0..300),
            cuts in proptest::collection::vec(0usize..300, 0..8),
        ) {
            let mut cuts: Vec<usize> = cuts.into_iter().filter(|&c| c <= data.len()).collect();
            cuts.push(0);
            cuts.push(data.len());
            cuts.sort_unstable();
            let (mut fast, mut parsed) = (Lines::new(), Lines::new());
            let (mut a, mut b) = (Vec::new(), Vec::new());
            for w in cuts.windows(2) {
                a.extend(fast.push(&data[w[0]..w[1]]));
                b.extend(parsed.push_parsed(&data[w[0]..w[1]]));
                proptest::prop_assert_eq!(fast.current(), parsed.current());
            }
            proptest::prop_assert_eq!(a, b);
        }
    }

    #[test]
    fn a_character_cut_between_reads_loses_nothing() {
        let mut lines = Lines::new();
        assert!(lines.push(b"ab\xc3").is_empty());
        assert_eq!(lines.push(b"\xa9cd\r\n"), ["ab\u{e9}cd"]);
    }

    #[test]
    fn a_line_without_end_is_cut_at_the_limit() {
        let mut lines = Lines::new();
        let out = lines.push(&vec![b'x'; MAX_LINE + 10]);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].len(), MAX_LINE);
        assert_eq!(lines.current().len(), 10);
    }
}
