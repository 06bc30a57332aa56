//! The imsg codec of the tmux client/server socket (`tmux-protocol.md`
//! sections 1 to 3).
//!
//! Every message is a 16-byte header and a payload, all integers in host
//! byte order. Two header layouts exist and the protocol version (8) does not
//! say which one a server speaks, so the layout is a value chosen at run time
//! (see [`HeaderLayout::for_server_version`]):
//!
//! ```text
//! A (tmux <= 3.5): u32 type | u16 len | u16 flags (bit 0: fd) | u32 peerid | u32 pid
//! B (tmux >= 3.6): u32 type | u32 len (bit 31: fd)            | u32 peerid | u32 pid
//! ```
//!
//! A malformed message can kill a tmux <= 3.5 server and every session in
//! it, so [`Message::encode`] is the only way this crate builds outgoing
//! bytes, and it refuses anything section 2 does not allow. Decoding never
//! panics: a header with an impossible length is a [`ProtocolError`], and so
//! is a payload that does not fit its type.

mod decoder;
mod message;
#[cfg(test)]
mod tests;

pub use decoder::{Decoder, Frame};
#[cfg(test)]
use message::variant_of;
pub use message::{msg, Message};

use serde::{Deserialize, Serialize};

/// `PROTOCOL_VERSION`, 8 since tmux 1.9; sent in the low byte of `peerid`.
pub const PROTOCOL_VERSION: u32 = 8;
/// Size of the fixed header.
pub const HEADER_LEN: usize = 16;
/// Largest message, header included (`MAX_IMSGSIZE`).
pub const MAX_MESSAGE_LEN: usize = 16384;
/// Largest payload.
pub const MAX_PAYLOAD_LEN: usize = MAX_MESSAGE_LEN - HEADER_LEN;
/// `pid` field value tmux sends (and ignores).
const PID_FIELD: u32 = 0xFFFF_FFFF;

/// Client flag `CLIENT_CONTROL` (`-C`).
pub const CLIENT_CONTROL: u64 = 0x2000;
/// Client flag `CLIENT_UTF8`: without it tmux replaces non-ASCII output by `_`.
pub const CLIENT_UTF8: u64 = 0x10000;

/// Which imsg header layout a server uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum HeaderLayout {
    /// tmux 3.5 and older: `u16 len, u16 flags`.
    A,
    /// tmux 3.6 and newer: `u32 len` with bit 31 marking an fd.
    B,
}

impl HeaderLayout {
    /// The layout for a server that reported `#{version}` as `version`
    /// (`3.3a`, `3.6`, `next-3.8`, ...): B from 3.6 on and for `next-`
    /// development builds, A for everything older or unrecognised.
    ///
    /// ```
    /// use tmux_wire::protocol::HeaderLayout;
    /// assert_eq!(HeaderLayout::for_server_version("3.5a"), HeaderLayout::A);
    /// assert_eq!(HeaderLayout::for_server_version("3.6"), HeaderLayout::B);
    /// assert_eq!(HeaderLayout::for_server_version("next-3.8"), HeaderLayout::B);
    /// ```
    pub fn for_server_version(version: &str) -> HeaderLayout {
        if version_at_least(version, 3, 6) {
            HeaderLayout::B
        } else {
            HeaderLayout::A
        }
    }
}

/// Whether a server's `#{version}` (`3.3a`, `3.6`, `next-3.8`, `master`)
/// is `major.minor` or newer. Development builds (`next-*`, `master`) are
/// newer than every release; a version that cannot be read (OpenBSD's
/// `openbsd-7.6`, whose imsg layout is its own) is not.
///
/// ```
/// use tmux_wire::protocol::version_at_least;
/// assert!(version_at_least("3.2a", 3, 2));
/// assert!(!version_at_least("3.1c", 3, 2));
/// assert!(version_at_least("next-3.8", 3, 6));
/// assert!(!version_at_least("garbage", 1, 0));
/// ```
pub fn version_at_least(version: &str, major: u32, minor: u32) -> bool {
    let v = version.trim();
    if v.starts_with("next-") || v == "master" {
        return true;
    }
    let mut parts = v.split('.');
    match (
        parts.next().and_then(leading_number),
        parts.next().and_then(leading_number),
    ) {
        (Some(a), Some(b)) => (a, b) >= (major, minor),
        (Some(a), None) => a > major,
        _ => false,
    }
}

fn leading_number(s: &str) -> Option<u32> {
    let digits: String = s.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}
