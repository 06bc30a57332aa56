//! `%output` data escaping.
//!
//! tmux writes every byte below 0x20 and the backslash as `\ooo` (a backslash
//! and exactly three octal digits). Every other byte, DEL and bytes >= 0x80
//! included (valid UTF-8 or not), is written raw.

use bytes::Bytes;

/// Decode `%output` data into the bytes the pane produced.
///
/// Data without a backslash is returned without copying (the fast path).
/// A backslash that is not followed by three octal digits forming a value
/// below 0o400 cannot come from tmux; it is kept as is, so nothing is lost.
///
/// ```
/// use bytes::Bytes;
/// use tmux_wire::protocol::unescape;
/// assert_eq!(unescape(&Bytes::from_static(b"a\\015\\012b")), Bytes::from_static(b"a\r\nb"));
/// ```
pub fn unescape(data: &Bytes) -> Bytes {
    match memchr::memchr(b'\\', data) {
        None => data.clone(),
        Some(first) => Bytes::from(unescape_from(data, first)),
    }
}

/// [`unescape`] taking the data by value: without a backslash the same
/// buffer is handed back, untouched.
pub fn unescape_owned(data: Bytes) -> Bytes {
    match memchr::memchr(b'\\', &data) {
        None => data,
        Some(first) => Bytes::from(unescape_from(&data, first)),
    }
}

/// Decode into a fresh vector; convenience for callers holding a slice.
pub fn unescape_slice(data: &[u8]) -> Vec<u8> {
    match memchr::memchr(b'\\', data) {
        None => data.to_vec(),
        Some(first) => unescape_from(data, first),
    }
}

/// Decode `data`, whose first backslash is at `first`. The output is never
/// longer than the input, so a buffer of that capacity is reserved once.
///
/// Escape-heavy data (a coloured build log has an escape every few bytes)
/// is bound by the runs between escapes, most of them short: each run is
/// copied eight bytes at a time, a word at once, while the same word is
/// tested for a backslash (see [`backslashes`]); the bytes copied past the
/// backslash are taken back.
/// A run that goes on past 32 bytes is finished with memchr, which is
/// faster on long runs.
fn unescape_from(data: &[u8], first: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    out.extend_from_slice(&data[..first]);
    let mut read = first;
    // Here `data[read]` is a backslash; `out` never holds more bytes than
    // were read (an escape of four bytes becomes one), so the capacity
    // reserved above is never exceeded.
    while read < data.len() {
        let (byte, used) = match escape_at(data, read) {
            Some(byte) => (byte, 4),
            None => (b'\\', 1),
        };
        out.push(byte);
        read += used;
        let mut words = 0;
        loop {
            let Some(word) = data
                .get(read..read + 8)
                .and_then(|w| <[u8; 8]>::try_from(w).ok())
            else {
                let run = memchr::memchr(b'\\', &data[read..]).unwrap_or(data.len() - read);
                out.extend_from_slice(&data[read..read + run]);
                read += run;
                break;
            };
            out.extend_from_slice(&word);
            let found = backslashes(word);
            if found != 0 {
                // Keep the bytes before the backslash, take back the rest.
                let run = (found.trailing_zeros() / 8) as usize;
                out.truncate(out.len() - 8 + run);
                read += run;
                break;
            }
            read += 8;
            words += 1;
            if words == 4 {
                let run = memchr::memchr(b'\\', &data[read..]).unwrap_or(data.len() - read);
                out.extend_from_slice(&data[read..read + run]);
                read += run;
                break;
            }
        }
    }
    out
}

/// A word with the high bit set in the byte where `word`'s first backslash
/// is (little-endian order), zero if it holds none. Bytes after the first
/// backslash may be marked wrongly (a borrow runs on), which does not
/// matter: only the lowest mark is used.
#[inline]
fn backslashes(word: [u8; 8]) -> u64 {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    const BACKSLASHES: u64 = u64::from_ne_bytes([b'\\'; 8]);
    let zeroed = u64::from_le_bytes(word) ^ BACKSLASHES;
    zeroed.wrapping_sub(ONES) & !zeroed & HIGHS
}

/// The byte of the escape `\ooo` at `at` (where `data` holds a
/// backslash), tested and decoded as one 32-bit word: the first digit is
/// `0..=3` (so the value fits a byte), the others `0..=7`.
#[inline]
fn escape_at(data: &[u8], at: usize) -> Option<u8> {
    let word = data.get(at..at + 4)?;
    let word = u32::from_le_bytes(<[u8; 4]>::try_from(word).ok()?);
    // Byte by byte from the lowest: the backslash, then 0011_00xx,
    // 0011_0xxx, 0011_0xxx.
    const MASK: u32 = u32::from_le_bytes([0xff, 0xfc, 0xf8, 0xf8]);
    const WANT: u32 = u32::from_le_bytes([b'\\', b'0', b'0', b'0']);
    if word & MASK != WANT {
        return None;
    }
    let [_, a, b, c] = word.to_le_bytes();
    Some(((a & 3) << 6) | ((b & 7) << 3) | (c & 7))
}

/// The byte written as three octal digits at `at` (the simple decoder the
/// tests hold [`escape_at`] to).
#[cfg(test)]
fn octal_at(data: &[u8], at: usize) -> Option<u8> {
    match data.get(at..at + 3)? {
        &[a @ b'0'..=b'3', b @ b'0'..=b'7', c @ b'0'..=b'7'] => {
            Some(((a - b'0') << 6) | ((b - b'0') << 3) | (c - b'0'))
        }
        _ => None,
    }
}

/// Encode bytes the way tmux writes them in `%output` (the inverse of
/// [`unescape`]).
///
/// ```
/// use tmux_wire::protocol::escape;
/// assert_eq!(escape(b"a\\b\x1b"), b"a\\134b\\033".to_vec());
/// ```
pub fn escape(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    for &b in data {
        if b < 0x20 || b == b'\\' {
            out.extend_from_slice(&[
                b'\\',
                b'0' + (b >> 6),
                b'0' + ((b >> 3) & 7),
                b'0' + (b & 7),
            ]);
        } else {
            out.push(b);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn fast_path_shares_the_buffer() {
        let data = Bytes::from_static(b"plain text \xff\x7f");
        let out = unescape(&data);
        assert_eq!(out.as_ptr(), data.as_ptr());
    }

    #[test]
    fn captured_line_decodes() {
        let data = Bytes::from_static(
            b"tab\\011here bs\\134 nul?\\001 esc\\033[31mred\\033[0m utf8:\xc3\xa9 bad:\xff del:\x7f end\\015\\012",
        );
        assert_eq!(
            unescape(&data),
            Bytes::from_static(
                b"tab\there bs\\ nul?\x01 esc\x1b[31mred\x1b[0m utf8:\xc3\xa9 bad:\xff del:\x7f end\r\n"
            )
        );
    }

    #[test]
    fn stray_backslashes_are_kept() {
        for raw in [&b"\\"[..], b"a\\", b"\\01", b"\\8xx", b"\\777", b"\\\\012"] {
            let out = unescape_slice(raw);
            assert!(out.len() <= raw.len());
            // Whatever is not a valid escape survives byte for byte.
            assert!(!out.is_empty());
        }
        assert_eq!(unescape_slice(b"\\777"), b"\\777");
        assert_eq!(unescape_slice(b"x\\0"), b"x\\0");
        assert_eq!(unescape_slice(b"\\\\012"), b"\\\n");
    }

    proptest! {
        #[test]
        fn round_trip(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            let escaped = escape(&data);
            prop_assert!(escaped.iter().all(|&b| b >= 0x20));
            prop_assert_eq!(unescape(&Bytes::from(escaped.clone())).to_vec(), data.clone());
            prop_assert_eq!(unescape_slice(&escaped), data);
        }

        /// Dense and sparse escapes, at every alignment of the word copy.
        #[test]
        fn round_trip_escape_heavy(data in proptest::collection::vec(
            proptest::sample::select(vec![b'a', b'\\', b'\x1b', b'\n', b'\r', b'z', 0xff]), 0..200)) {
            let escaped = escape(&data);
            prop_assert_eq!(unescape_slice(&escaped), data);
        }

        /// Any bytes at all (valid escapes, stray backslashes, digits)
        /// decode as a byte-at-a-time reference decoder does.
        #[test]
        fn matches_a_simple_decoder(data in proptest::collection::vec(
            proptest::sample::select(vec![b'\\', b'0', b'1', b'3', b'4', b'7', b'8', b'x']), 0..120)) {
            let mut expected = Vec::new();
            let mut i = 0;
            while i < data.len() {
                match octal_at(&data, i + 1) {
                    Some(byte) if data[i] == b'\\' => { expected.push(byte); i += 4; }
                    _ => { expected.push(data[i]); i += 1; }
                }
            }
            prop_assert_eq!(unescape_slice(&data), expected);
        }

        #[test]
        fn never_panics_and_never_grows(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            let out = unescape_slice(&data);
            prop_assert!(out.len() <= data.len());
        }
    }
}
