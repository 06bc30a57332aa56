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
}

#[derive(Default)]
struct Line {
    cells: Vec<char>,
    col: usize,
    done: Vec<String>,
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
        }
    }

    /// Lines that go on from a line already showing `text`, with the
    /// cursor at its end (the last line of a screen a wait starts from).
    pub fn continuing(text: &str) -> Lines {
        let cells: Vec<char> = text.chars().collect();
        Lines {
            parser: vte::Parser::new(),
            line: Line {
                col: cells.len(),
                cells,
                done: Vec::new(),
            },
        }
    }

    /// Feed output bytes (split anywhere: an escape sequence or a UTF-8
    /// character may continue in the next call); returns the lines they
    /// ended, in order.
    pub fn push(&mut self, data: &[u8]) -> Vec<String> {
        self.parser.advance(&mut self.line, data);
        std::mem::take(&mut self.line.done)
    }

    /// The line being written, as it shows now (empty if none).
    pub fn current(&self) -> String {
        self.line.cells.iter().collect()
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
            std::mem::take(&mut self.line.cells).into_iter().collect()
        })
    }
}

impl Line {
    fn end(&mut self) {
        self.done.push(self.cells.drain(..).collect());
        self.col = 0;
    }

    fn put(&mut self, c: char) {
        if self.col >= MAX_LINE {
            self.end();
        }
        if self.col < self.cells.len() {
            self.cells[self.col] = c;
        } else {
            self.cells.resize(self.col, ' ');
            self.cells.push(c);
        }
        self.col += 1;
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
        self.put(c);
    }

    fn execute(&mut self, byte: u8) {
        match byte {
            b'\n' | 0x0b | 0x0c => self.end(),
            b'\r' => self.col = 0,
            0x08 => self.col = self.col.saturating_sub(1),
            b'\t' => {
                let next = (self.col / 8 + 1) * 8;
                if next > self.cells.len() {
                    self.cells.resize(next.min(MAX_LINE), ' ');
                }
                self.col = next.min(MAX_LINE);
            }
            _ => {}
        }
    }

    fn csi_dispatch(&mut self, params: &vte::Params, intermediates: &[u8], _: bool, action: char) {
        if !intermediates.is_empty() {
            return;
        }
        match action {
            // Erase in line: 0 to the end, 1 to the start, 2 all.
            'K' => match params.iter().next().and_then(|p| p.first()).copied() {
                Some(1) => {
                    let upto = (self.col + 1).min(self.cells.len());
                    self.cells[..upto].fill(' ');
                }
                Some(2) => self.cells.clear(),
                _ => self.cells.truncate(self.col),
            },
            'C' => self.col = (self.col + first(params, 1)).min(MAX_LINE),
            'D' => self.col = self.col.saturating_sub(first(params, 1)),
            'G' => self.col = (first(params, 1) - 1).min(MAX_LINE),
            _ => {}
        }
        // What was erased at the end of the line is not there any more.
        while self.cells.last() == Some(&' ') && self.cells.len() > self.col {
            self.cells.pop();
        }
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

    #[test]
    fn a_line_without_end_is_cut_at_the_limit() {
        let mut lines = Lines::new();
        let out = lines.push(&vec![b'x'; MAX_LINE + 10]);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].len(), MAX_LINE);
        assert_eq!(lines.current().len(), 10);
    }
}
