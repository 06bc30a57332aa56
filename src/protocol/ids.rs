//! Typed tmux object ids: `$S` sessions, `@W` windows, `%P` panes.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, $sigil:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub u32);

        impl $name {
            /// The sigil tmux writes before the number.
            pub const PREFIX: u8 = $prefix;

            /// Parse `<sigil><digits>` from the start of `input`, returning the id and
            /// the bytes after it. `None` if the sigil or digits are missing or the
            /// number does not fit a `u32`.
            pub fn parse_prefix(input: &[u8]) -> Option<(Self, &[u8])> {
                let rest = input.strip_prefix(&[$prefix])?;
                let (n, rest) = parse_u32(rest)?;
                Some(($name(n), rest))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}{}", $prefix as char, self.0)
            }
        }

        impl FromStr for $name {
            type Err = crate::protocol::ProtocolError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match Self::parse_prefix(s.as_bytes()) {
                    Some((id, rest)) if rest.is_empty() => Ok(id),
                    _ => Err(crate::protocol::ProtocolError::MalformedLine {
                        reason: concat!("expected an id like ", $sigil, "12").into(),
                        line: crate::protocol::error::display_line(s.as_bytes()),
                    }),
                }
            }
        }
    };
}

id_type!(
    /// A session id, written `$N` by tmux.
    ///
    /// ```
    /// use tmux_wire::protocol::SessionId;
    /// assert_eq!("$3".parse::<SessionId>().unwrap(), SessionId(3));
    /// assert_eq!(SessionId(3).to_string(), "$3");
    /// ```
    SessionId,
    b'$',
    "$"
);
id_type!(
    /// A window id, written `@N` by tmux.
    WindowId,
    b'@',
    "@"
);
id_type!(
    /// A pane id, written `%N` by tmux.
    PaneId,
    b'%',
    "%"
);

/// Parse one or more ASCII digits as a `u32`; `None` on no digits or overflow.
pub(crate) fn parse_u32(input: &[u8]) -> Option<(u32, &[u8])> {
    let (n, rest) = parse_u64(input)?;
    Some((u32::try_from(n).ok()?, rest))
}

/// Parse one or more ASCII digits as a `u64`; `None` on no digits or overflow.
pub(crate) fn parse_u64(input: &[u8]) -> Option<(u64, &[u8])> {
    let digits = input.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 {
        return None;
    }
    let mut n: u64 = 0;
    for &b in &input[..digits] {
        n = n.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some((n, &input[digits..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_displays() {
        assert_eq!(
            PaneId::parse_prefix(b"%12 x"),
            Some((PaneId(12), &b" x"[..]))
        );
        assert_eq!(WindowId::parse_prefix(b"@0"), Some((WindowId(0), &b""[..])));
        assert_eq!(PaneId::parse_prefix(b"@1"), None);
        assert_eq!(PaneId::parse_prefix(b"%"), None);
        assert_eq!(PaneId::parse_prefix(b"%99999999999"), None);
        assert_eq!("@7".parse::<WindowId>().unwrap().to_string(), "@7");
        assert!("@7x".parse::<WindowId>().is_err());
        assert!("".parse::<SessionId>().is_err());
    }
}
