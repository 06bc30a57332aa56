//! `%output` data escaping.
//!
//! tmux writes every byte below 0x20 and the backslash as `\ooo` (a backslash
//! and exactly three octal digits). Every other byte, DEL and bytes >= 0x80
//! included (valid UTF-8 or not), is written raw.

use bytes::{Bytes, BytesMut};

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
        Some(first) => {
            let mut out = BytesMut::with_capacity(data.len());
            unescape_into(data, first, &mut out);
            out.freeze()
        }
    }
}

/// Decode into a fresh vector; convenience for callers holding a slice.
pub fn unescape_slice(data: &[u8]) -> Vec<u8> {
    let mut out = BytesMut::with_capacity(data.len());
    match memchr::memchr(b'\\', data) {
        None => return data.to_vec(),
        Some(first) => unescape_into(data, first, &mut out),
    }
    out.to_vec()
}

fn unescape_into(data: &[u8], first: usize, out: &mut BytesMut) {
    let mut start = 0;
    let mut at = first;
    loop {
        out.extend_from_slice(&data[start..at]);
        match octal_at(data, at + 1) {
            Some(byte) => {
                out.extend_from_slice(&[byte]);
                start = at + 4;
            }
            None => {
                out.extend_from_slice(b"\\");
                start = at + 1;
            }
        }
        match memchr::memchr(b'\\', &data[start..]) {
            Some(off) => at = start + off,
            None => {
                out.extend_from_slice(&data[start..]);
                return;
            }
        }
    }
}

fn octal_at(data: &[u8], at: usize) -> Option<u8> {
    let digits = data.get(at..at + 3)?;
    let mut value: u32 = 0;
    for &d in digits {
        if !(b'0'..=b'7').contains(&d) {
            return None;
        }
        value = value * 8 + u32::from(d - b'0');
    }
    u8::try_from(value).ok()
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
