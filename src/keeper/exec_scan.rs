//! What `exec` reads back: the log after the typed line, scanned once as
//! it comes for the markers around the command's output and its status
//! (see [`super::exec`] for how the line is typed).

use super::log::Follower;

/// The log after the typed line, scanned once, as it comes: where the
/// markers are, and the command's output between them (its last `keep`
/// bytes). A marker may straddle two reads: of what was scanned, only the
/// bytes that may begin one are looked at again.
pub(super) struct Scan {
    begin: Vec<u8>,
    end: Vec<u8>,
    /// The first half of the nonce: in the echo of the typed line.
    echo: Vec<u8>,
    keep: usize,
    /// The echo was seen (or the begin marker, which comes after it).
    pub(super) echo_seen: bool,
    /// An end marker came with no begin marker before it.
    pub(super) end_without_begin: bool,
    phase: Phase,
}

/// Where a [`Scan`] is.
enum Phase {
    /// Before the begin marker: the last bytes, which may begin a marker.
    Before(Vec<u8>),
    /// After it: the output so far (at most about twice `keep`, trimmed
    /// to `keep` when over), how much of its front was dropped, and from
    /// where an end marker may begin in it.
    Output {
        kept: Vec<u8>,
        dropped: u64,
        from: usize,
    },
    /// After the end marker: the output, and the status read so far.
    Status {
        output: Vec<u8>,
        dropped: u64,
        status: Vec<u8>,
    },
    /// The status is read: the output, and the code (`None`: the status
    /// did not read as one, so the exec never finishes by its marker).
    Done {
        output: Vec<u8>,
        dropped: u64,
        code: Option<i32>,
    },
}

/// The longest status the end marker carries (`-2147483648`).
const STATUS_AT_MOST: usize = 16;

impl Scan {
    pub(super) fn new(begin: &[u8], end: &[u8], echo: &[u8], keep: usize) -> Scan {
        Scan {
            begin: begin.to_vec(),
            end: end.to_vec(),
            echo: echo.to_vec(),
            keep,
            echo_seen: false,
            end_without_begin: false,
            phase: Phase::Before(Vec::new()),
        }
    }

    /// Scan the next bytes of the log.
    pub(super) fn push(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        match &mut self.phase {
            Phase::Before(carry) => {
                carry.extend_from_slice(bytes);
                let find = |what: &[u8]| memchr::memmem::find(carry, what);
                self.echo_seen |= find(&self.echo).is_some();
                let begin = find(&self.begin);
                // An end marker after the begin marker is the output's.
                if begin.is_none() {
                    self.end_without_begin |= find(&self.end).is_some();
                }
                if let Some(at) = begin {
                    let rest = carry.split_off(at + self.begin.len());
                    self.echo_seen = true;
                    self.phase = Phase::Output {
                        kept: Vec::new(),
                        dropped: 0,
                        from: 0,
                    };
                    self.push(&rest);
                    return;
                }
                let longest = self.begin.len().max(self.end.len()).max(self.echo.len());
                let keep_from = carry.len().saturating_sub(longest.saturating_sub(1));
                carry.drain(..keep_from);
            }
            Phase::Output {
                kept,
                dropped,
                from,
            } => {
                kept.extend_from_slice(bytes);
                if let Some(at) = memchr::memmem::find(&kept[*from..], &self.end) {
                    let at = *from + at;
                    let status = kept.split_off(at + self.end.len());
                    kept.truncate(at);
                    self.phase = Phase::Status {
                        output: std::mem::take(kept),
                        dropped: *dropped,
                        status: Vec::new(),
                    };
                    self.push(&status);
                    return;
                }
                // An end marker may begin in the last bytes only.
                *from = kept.len().saturating_sub(self.end.len().saturating_sub(1));
                // Trimmed when twice over: each byte is moved once, at most.
                if kept.len() > self.keep.saturating_mul(2).max(self.end.len()) {
                    let cut = kept.len() - self.keep.max(self.end.len());
                    kept.drain(..cut);
                    *dropped += cut as u64;
                    *from -= cut.min(*from);
                }
            }
            Phase::Status {
                output,
                dropped,
                status,
            } => {
                let room = STATUS_AT_MOST + 1 - status.len().min(STATUS_AT_MOST + 1);
                status.extend_from_slice(&bytes[..bytes.len().min(room)]);
                let code = match memchr::memchr(0x07, status) {
                    Some(close) => std::str::from_utf8(&status[..close])
                        .ok()
                        .and_then(|code| code.parse().ok()),
                    None if status.len() > STATUS_AT_MOST => None,
                    None => return,
                };
                self.phase = Phase::Done {
                    output: std::mem::take(output),
                    dropped: *dropped,
                    code,
                };
            }
            Phase::Done { .. } => {}
        }
    }

    /// The output (from the start of a line when its front was dropped)
    /// and how many bytes of it went; empty before the begin marker.
    pub(super) fn output(&self) -> (&[u8], u64) {
        let (output, dropped) = match &self.phase {
            Phase::Before(_) => return (&[], 0),
            Phase::Output { kept, dropped, .. } => (kept, *dropped),
            Phase::Status {
                output, dropped, ..
            }
            | Phase::Done {
                output, dropped, ..
            } => (output, *dropped),
        };
        let mut start = output.len().saturating_sub(self.keep);
        if dropped > 0 || start > 0 {
            // What is kept begins with a whole line.
            // (Unless it is all one line.)
            start = memchr::memchr(b'\n', &output[start..]).map_or(start, |i| start + i + 1);
        }
        (&output[start..], dropped + start as u64)
    }

    /// The output and the status, once the end marker and its status came.
    pub(super) fn finished(&self) -> Option<((&[u8], u64), i32)> {
        match self.phase {
            Phase::Done {
                code: Some(code), ..
            } => Some((self.output(), code)),
            _ => None,
        }
    }

    /// Whether the begin marker came.
    pub(super) fn begun(&self) -> bool {
        !matches!(self.phase, Phase::Before(_))
    }
}

/// Read what the log holds after `follower`, to its end now, into `scan`.
pub(super) fn read_all(follower: &mut Follower, scan: &mut Scan) -> std::io::Result<()> {
    loop {
        scan.push(&follower.read_bytes()?);
        if follower.caught_up() {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keeper::exec::{exec_line, EXEC_KEEP};

    #[test]
    pub(super) fn the_echo_never_reads_as_a_marker() {
        let nonce = "0123456789abcdef";
        for bash in [false, true] {
            let (line, ..) = exec_line("/l/sh1.exec.x", nonce, bash);
            assert!(line.starts_with(' '));
            assert!(line.contains(r#"eval "$(cat '/l/sh1.exec.x'; rm -f '/l/sh1.exec.x')""#));
            assert!(line.bytes().all(|b| (0x20..0x7f).contains(&b)));
            // The typed line holds the nonce only in halves.
            assert!(!line.contains(nonce));
            // Nothing follows the end marker's printf.
            assert!(line.ends_with(r#""$?""#));
            assert_eq!(line.contains("history -d -1"), bash);
        }
        let (line, begin, end) = exec_line("/l/sh1.exec.x", nonce, true);
        // Echo, output, status: only the real markers count.
        let mut seen = line.clone().into_bytes();
        seen.extend_from_slice(b"\r\n");
        seen.extend_from_slice(&begin);
        seen.extend_from_slice(b"out\r\n\x1b]7717;tw;ffff;e;0\x07more\r\n");
        seen.extend_from_slice(&end);
        seen.extend_from_slice(b"1\x07$ ");
        let (output, code) = parse(&seen, &begin, &end).unwrap();
        assert_eq!(code, 1);
        assert_eq!(output, b"out\r\n\x1b]7717;tw;ffff;e;0\x07more\r\n");
        // Not yet finished: nothing.
        assert!(parse(&seen[..seen.len() - 4], &begin, &end).is_none());
        // The scan, in one piece, agrees.
        let mut scan = Scan::new(&begin, &end, b"01234567", EXEC_KEEP);
        scan.push(&seen);
        assert_eq!(scan.finished(), Some(((&output[..], 0), 1)));
        assert_ne!(crate::keeper::unique_hex(), crate::keeper::unique_hex());
    }

    /// The output between the markers and the status, once the end
    /// marker (with its status and terminator) is in `seen`: the scan of
    /// the whole buffer that exec made at each wake-up before, the model
    /// of [`Scan`].
    pub(super) fn parse(seen: &[u8], begin: &[u8], end: &[u8]) -> Option<(Vec<u8>, i32)> {
        let start = memchr::memmem::find(seen, begin)? + begin.len();
        let stop = start + memchr::memmem::find(&seen[start..], end)?;
        let rest = &seen[stop + end.len()..];
        let close = memchr::memchr(0x07, rest)?;
        let code = std::str::from_utf8(&rest[..close]).ok()?.parse().ok()?;
        Some((seen[start..stop].to_vec(), code))
    }

    /// `bytes` cut at pseudo-random points (pieces of 1 to `most` bytes).
    pub(super) fn pieces(bytes: &[u8], most: usize, mut seed: u64) -> Vec<&[u8]> {
        let mut out = Vec::new();
        let mut rest = bytes;
        while !rest.is_empty() {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let n = (1 + (seed % most as u64) as usize).min(rest.len());
            let (piece, after) = rest.split_at(n);
            out.push(piece);
            rest = after;
        }
        out
    }

    #[test]
    pub(super) fn the_scan_in_pieces_finds_what_a_scan_of_the_whole_finds() {
        let nonce = "00112233445566778899aabbccddeeff";
        let (line, begin, end) = exec_line("/l/s.exec.x", nonce, true);
        let echo = &nonce.as_bytes()[..nonce.len() / 2];
        let prefix = &begin[..begin.len() - 2];
        let mut streams: Vec<Vec<u8>> = Vec::new();
        let with = |parts: &[&[u8]]| parts.concat();
        let echoed = [line.as_bytes(), b"\r\n"].concat();
        // Finished, with marker-like text, a piece of a marker, and what
        // follows (the next prompt).
        streams.push(with(&[
            &echoed,
            &begin,
            b"a\r\n",
            prefix,
            b"\x1b]7717;tw;ffff;e;0\x07\r\n",
            &end,
            b"0\x07$ ",
        ]));
        streams.push(with(&[&echoed, &begin, &end, b"-3\x07"]));
        // Not finished yet: no status terminator, no end, no begin.
        streams.push(with(&[&echoed, &begin, b"out\r\n", &end, b"12"]));
        streams.push(with(&[&echoed, &begin, b"out, still going"]));
        streams.push(with(&[b"$ ", prefix]));
        // A status that is none, and one too long.
        streams.push(with(&[&begin, b"x", &end, b"1x\x07"]));
        streams.push(with(&[&begin, b"x", &end, b"11111111111111111111111\x07"]));
        // An end marker with no begin (the line joined an unfinished one).
        streams.push(with(&[&echoed, &end, b"0\x07"]));
        // A long output, markers across many reads.
        let long: Vec<u8> = (0..5000)
            .flat_map(|i| format!("line {i}\r\n").into_bytes())
            .collect();
        streams.push(with(&[&echoed, &begin, &long, &end, b"7\x07"]));
        for (n, stream) in streams.iter().enumerate() {
            let whole = parse(stream, &begin, &end);
            let began = memchr::memmem::find(stream, &begin);
            for most in [1, 2, 3, 7, 19, 64, 1000, usize::MAX / 2] {
                let mut scan = Scan::new(&begin, &end, echo, EXEC_KEEP);
                for piece in pieces(stream, most.min(stream.len()), 0x9e37_79b9 + n as u64) {
                    scan.push(piece);
                }
                let found = scan.finished().map(|((out, dropped), code)| {
                    assert_eq!(dropped, 0);
                    (out.to_vec(), code)
                });
                assert_eq!(found, whole, "stream {n}, pieces of at most {most}");
                assert_eq!(scan.begun(), began.is_some(), "stream {n}");
                if let Some(at) = began {
                    // Before the end: all that follows the begin marker.
                    if whole.is_none() && memchr::memmem::find(&stream[at..], &end).is_none() {
                        assert_eq!(scan.output().0, &stream[at + begin.len()..]);
                    }
                }
                let echo_in = memchr::memmem::find(stream, echo).is_some();
                assert_eq!(scan.echo_seen, echo_in || began.is_some(), "stream {n}");
                let end_first = began.is_none() && memchr::memmem::find(stream, &end).is_some();
                assert_eq!(scan.end_without_begin, end_first, "stream {n}");
            }
        }
    }

    #[test]
    pub(super) fn exec_keeps_the_last_lines_of_a_long_output_and_says_what_went() {
        let (_, begin, end) = exec_line("/l/s.exec.x", "0011223344556677", false);
        let output: Vec<u8> = (0..10_000)
            .flat_map(|i| format!("line {i}\n").into_bytes())
            .collect();
        let stream = [&begin[..], &output, &end, b"0\x07"].concat();
        for most in [1, 5, 300, 4096] {
            let mut scan = Scan::new(&begin, &end, b"00112233", 100);
            for piece in pieces(&stream, most, 7) {
                scan.push(piece);
                // Bounded all along: twice what it keeps, and a read.
                if let Phase::Output { kept, .. } = &scan.phase {
                    assert!(kept.len() <= 200 + most, "{}", kept.len());
                }
            }
            let ((kept, dropped), code) = scan.finished().unwrap();
            assert_eq!(code, 0);
            assert!(kept.len() <= 100 && !kept.is_empty(), "{}", kept.len());
            assert!(output.ends_with(kept));
            assert_eq!(dropped as usize + kept.len(), output.len());
            // From the start of a line.
            assert_eq!(output[output.len() - kept.len() - 1], b'\n');
            assert!(kept.starts_with(b"line "));
        }
        // A whole output is kept whole.
        let mut scan = Scan::new(&begin, &end, b"00112233", output.len());
        scan.push(&stream);
        assert_eq!(scan.finished(), Some(((&output[..], 0), 0)));
    }
}
