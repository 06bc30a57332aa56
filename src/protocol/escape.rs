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
/// longer than the input, so it is written into a buffer of that size; runs
/// between escapes are found with memchr and copied whole, which keeps text
/// with sparse escapes (a CRLF per line) near memcpy speed.
fn unescape_from(data: &[u8], first: usize) -> Vec<u8> {
    let mut out = vec![0u8; data.len()];
    out[..first].copy_from_slice(&data[..first]);
    let (mut read, mut write) = (first, first);
    while read < data.len() {
        // `data[read]` is a backslash here.
        let (byte, used) = match octal_at(data, read + 1) {
            Some(byte) => (byte, 4),
            None => (b'\\', 1),
        };
        out[write] = byte;
        write += 1;
        read += used;
        let run = memchr::memchr(b'\\', &data[read..]).unwrap_or(data.len() - read);
        out[write..write + run].copy_from_slice(&data[read..read + run]);
        write += run;
        read += run;
    }
    out.truncate(write);
    out
}

/// The byte written as three octal digits at `at`; the first digit is at
/// most 3 so the value fits a byte.
#[inline]
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

        #[test]
        fn never_panics_and_never_grows(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            let out = unescape_slice(&data);
            prop_assert!(out.len() <= data.len());
        }
    }
}
