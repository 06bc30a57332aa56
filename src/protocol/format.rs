//! Answers to tmux formats (`list-panes -F`, `display-message -p`), read the
//! same way on every tmux version.
//!
//! tmux writes command output in two dialects:
//! - **raw** (3.2, 3.3, 3.6 and later): a format's result byte for byte;
//! - **visual** (3.4 and 3.5): control characters and bytes that are not
//!   valid UTF-8 as `\ooo` (or C-style `\r`, `\b`, ...), with `vis(3)`'s
//!   `VIS_NOSLASH`, so a backslash of the value itself is written raw.
//!
//! In the visual dialect, the text `\037` is therefore either the byte 0x1F
//! or a backslash followed by `037`. A [`FormatQuery`] makes every answer
//! unambiguous in both dialects: it asks tmux to double every backslash of
//! each field (`#{s/\\/\\\\/:FIELD}`) and separates fields with US (0x1F).
//! In the answer, `\\` is a backslash of the value, any other backslash
//! starts an escape of the visual dialect, and US arrives either raw or as
//! `\037`: both mean "next field". (A value holding the byte 0x1F itself
//! cannot be told from a separator in either dialect; it makes the field
//! count wrong, which is reported as an error, never read as other fields.)
//!
//! ```
//! use tmux_wire::protocol::FormatQuery;
//! let query = FormatQuery::new(&["session_name", "pane_id"]);
//! // tmux 3.3a writes the separator raw, 3.4 and 3.5a as four characters.
//! assert_eq!(query.parse_line(b"web\x1f%3").unwrap(), ["web", "%3"]);
//! assert_eq!(query.parse_line(b"web\\037%3").unwrap(), ["web", "%3"]);
//! // A backslash in a value arrives doubled, in either dialect.
//! assert_eq!(query.parse_line(b"C:\\\\037\\037%3").unwrap(), ["C:\\037", "%3"]);
//! ```

use bytes::Bytes;
use thiserror::Error;

/// The byte between fields (ASCII unit separator).
const SEPARATOR: u8 = 0x1f;

/// A format of one or more fields, and the reader of its answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatQuery {
    fields: Vec<String>,
    format: String,
}

/// An answer line that does not have the fields its query asked for.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("tmux answered {found} field(s) where {expected} were asked for: {line:?}")]
pub struct FormatError {
    /// How many fields the query has.
    pub expected: usize,
    /// How many the line held.
    pub found: usize,
    /// The line, lossily decoded.
    pub line: String,
}

impl FormatQuery {
    /// A query of these format variables, named without `#{}`:
    /// `["pane_id", "pane_pid", "@my-option"]`.
    pub fn new(fields: &[&str]) -> FormatQuery {
        let format = fields
            .iter()
            .map(|f| format!(r"#{{s/\\/\\\\/:{f}}}"))
            .collect::<Vec<_>>()
            .join("\x1f");
        FormatQuery {
            fields: fields.iter().map(|f| f.to_string()).collect(),
            format,
        }
    }

    /// The format to pass to `-F` or `display-message -p`.
    pub fn format(&self) -> &str {
        &self.format
    }

    /// How many fields each answer line has.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether the query has no field.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// One line of the answer, split into its fields (invalid UTF-8 is
    /// replaced, as everywhere tmux-wire shows text).
    pub fn parse_line(&self, line: &[u8]) -> Result<Vec<String>, FormatError> {
        let fields = split(line);
        if fields.len() != self.fields.len() {
            return Err(FormatError {
                expected: self.fields.len(),
                found: fields.len(),
                line: String::from_utf8_lossy(line).into_owned(),
            });
        }
        Ok(fields
            .into_iter()
            .map(|f| String::from_utf8_lossy(&f).into_owned())
            .collect())
    }

    /// Every line of a reply (`list-panes` answers one line per pane).
    pub fn parse_lines(&self, lines: &[Bytes]) -> Result<Vec<Vec<String>>, FormatError> {
        lines.iter().map(|l| self.parse_line(l)).collect()
    }

    /// The answer of a one-line query (`display-message -p`): its fields.
    /// An empty answer is an error like any other wrong field count.
    pub fn parse_one(&self, lines: &[Bytes]) -> Result<Vec<String>, FormatError> {
        match lines {
            [line] => self.parse_line(line),
            _ => Err(FormatError {
                expected: self.fields.len(),
                found: 0,
                line: lines
                    .iter()
                    .map(|l| String::from_utf8_lossy(l).into_owned())
                    .collect::<Vec<_>>()
                    .join("\n"),
            }),
        }
    }
}

/// Split an answer line at separators, decoding both dialects.
fn split(line: &[u8]) -> Vec<Vec<u8>> {
    let mut fields = vec![Vec::new()];
    let mut i = 0;
    while i < line.len() {
        let b = line[i];
        let (byte, used) = match b {
            b'\\' => unescape_at(line, i + 1),
            _ => (Some(b), 1),
        };
        match byte {
            Some(SEPARATOR) => fields.push(Vec::new()),
            Some(byte) => fields.last_mut().expect("one field").push(byte),
            // A backslash followed by nothing tmux writes: keep it.
            None => fields.last_mut().expect("one field").push(b'\\'),
        }
        i += used;
    }
    fields
}

/// The byte an escape stands for, the backslash being just before `at`,
/// and how many bytes the escape takes with its backslash.
fn unescape_at(line: &[u8], at: usize) -> (Option<u8>, usize) {
    if let Some(&[a @ b'0'..=b'3', b @ b'0'..=b'7', c @ b'0'..=b'7']) = line.get(at..at + 3) {
        return (Some(((a - b'0') << 6) | ((b - b'0') << 3) | (c - b'0')), 4);
    }
    let byte = match line.get(at) {
        Some(b'\\') => b'\\',
        // vis(3)'s C style, used by 3.4 and 3.5 where it has one.
        Some(b'n') => b'\n',
        Some(b'r') => b'\r',
        Some(b't') => b'\t',
        Some(b'b') => 0x08,
        Some(b'a') => 0x07,
        Some(b'v') => 0x0b,
        Some(b'f') => 0x0c,
        Some(b's') => b' ',
        Some(b'0') => 0,
        _ => return (None, 1),
    };
    (Some(byte), 2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// How tmux 3.4 and 3.5a write a value (vis with
    /// `VIS_OCTAL|VIS_CSTYLE|VIS_NOSLASH`; space, tab and newline visible).
    fn visual(value: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for chunk in value.utf8_chunks() {
            for c in chunk.valid().chars() {
                match c {
                    '\r' => out.extend_from_slice(b"\\r"),
                    '\x08' => out.extend_from_slice(b"\\b"),
                    '\x07' => out.extend_from_slice(b"\\a"),
                    '\x0b' => out.extend_from_slice(b"\\v"),
                    '\x0c' => out.extend_from_slice(b"\\f"),
                    ' ' | '\t' | '\n' => out.push(c as u8),
                    c if (c as u32) < 0x20 || c == '\x7f' => {
                        out.extend_from_slice(format!("\\{:03o}", c as u32).as_bytes())
                    }
                    c => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
                }
            }
            for &b in chunk.invalid() {
                out.extend_from_slice(format!("\\{b:03o}").as_bytes());
            }
        }
        out
    }

    /// What the query's `s/\\/\\\\/` does to a value.
    fn doubled(value: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for &b in value {
            out.push(b);
            if b == b'\\' {
                out.push(b'\\');
            }
        }
        out
    }

    #[test]
    fn the_format_doubles_backslashes_of_each_field() {
        let q = FormatQuery::new(&["pane_id", "@tmux-wire-log"]);
        assert_eq!(
            q.format(),
            "#{s/\\\\/\\\\\\\\/:pane_id}\x1f#{s/\\\\/\\\\\\\\/:@tmux-wire-log}"
        );
        assert_eq!(q.len(), 2);
    }

    #[test]
    fn answers_of_both_dialects() {
        let q = FormatQuery::new(&["session_name", "pane_id", "pane_dead_status"]);
        // 3.3a, 3.6a and later: raw separators.
        assert_eq!(q.parse_line(b"web\x1f%0\x1f").unwrap(), ["web", "%0", ""]);
        // 3.4, 3.5a: the separator as text.
        assert_eq!(
            q.parse_line(b"web\\037%0\\0377").unwrap(),
            ["web", "%0", "7"]
        );
        // Too few or too many fields is an error, not a guess.
        assert!(q.parse_line(b"web\x1f%0").is_err());
        assert!(q.parse_one(&[]).is_err());
    }

    /// Real answers of `list-panes -a -F` with this query's format, one
    /// file per version, recorded from `tmux -C`: a session `rec` in
    /// `/tmp/rec/a\037b\c d` (the text `\037`, not the byte), and an option
    /// holding `x\037y`, a tab, the byte 0x01, `|` and two backslashes.
    #[test]
    fn recorded_answers_of_every_version() {
        macro_rules! recorded {
            ($($version:literal),*) => {
                [$(($version, &include_bytes!(concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/tests/fixtures/format-answers/list-panes-",
                    $version,
                    ".txt"
                ))[..])),*]
            };
        }
        let q = FormatQuery::new(&["session_name", "pane_current_path", "@v", "pane_dead"]);
        for (version, answer) in recorded!("3.3a", "3.4", "3.5a", "3.6a", "3.7c", "next-3.8") {
            let line = answer.strip_suffix(b"\n").expect("one line");
            assert_eq!(
                q.parse_line(line).unwrap(),
                ["rec", r"/tmp/rec/a\037b\c d", "x\\037y\tz\x01|\\\\e", "0"],
                "tmux {version}"
            );
        }
    }

    #[test]
    fn stray_backslashes_are_kept() {
        let q = FormatQuery::new(&["x"]);
        assert_eq!(q.parse_line(b"a\\").unwrap(), ["a\\"]);
        assert_eq!(q.parse_line(b"a\\q\\8").unwrap(), ["a\\q\\8"]);
    }

    proptest! {
        #[test]
        fn any_values_survive_either_dialect(
            values in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..24), 1..6)
        ) {
            // Values an answer line can carry: no newline (it ends the
            // line), no NUL (tmux strings end there), no US (the separator).
            let values: Vec<Vec<u8>> = values
                .into_iter()
                .map(|v| v.into_iter().filter(|&b| ![b'\n', 0, SEPARATOR].contains(&b)).collect())
                .collect();
            let names: Vec<String> = (0..values.len()).map(|i| format!("f{i}")).collect();
            let q = FormatQuery::new(&names.iter().map(String::as_str).collect::<Vec<_>>());
            let expected: Vec<String> =
                values.iter().map(|v| String::from_utf8_lossy(v).into_owned()).collect();
            let raw = values.iter().map(|v| doubled(v)).collect::<Vec<_>>().join(&SEPARATOR);
            prop_assert_eq!(q.parse_line(&raw).unwrap(), expected.clone());
            let vis = visual(&raw);
            prop_assert_eq!(q.parse_line(&vis).unwrap(), expected);
        }
    }
}
