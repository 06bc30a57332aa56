//! The one error type of the protocol layer.

use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use thiserror::Error;

/// Everything the sans-IO protocol layer can reject.
///
/// Each variant carries enough context to print a one-line reason that a
/// person can act on. Nothing in this layer panics on input; bad input
/// becomes one of these.
#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ProtocolError {
    /// A control-mode line could not be parsed.
    #[error("malformed control-mode line ({reason}): {line}")]
    MalformedLine {
        /// What was wrong with it.
        reason: Cow<'static, str>,
        /// The line, lossily decoded and shortened for display.
        line: String,
    },

    /// An argument cannot be put on a control-mode command line.
    #[error("argument {index} cannot be sent as a tmux command argument: {reason}")]
    BadArgument {
        /// Zero-based position in the argv.
        index: usize,
        /// What was wrong with it.
        reason: Cow<'static, str>,
    },

    /// An empty command was given (no command name).
    #[error("empty command: a command needs at least its name")]
    EmptyCommand,

    /// An imsg message could not be encoded; nothing was produced.
    #[error("cannot encode imsg {kind}: {reason}")]
    Encode {
        /// The message kind.
        kind: Cow<'static, str>,
        /// Why.
        reason: String,
    },

    /// An imsg header announced an impossible length: the stream is lost.
    #[error("imsg header declares length {len}, outside 16..=16384: the stream cannot be resynchronised")]
    BadFrameLength {
        /// The declared length (after removing the fd mark).
        len: u32,
    },

    /// An imsg frame had a payload that does not fit its message type.
    #[error("imsg type {typ} has a malformed payload: {reason}")]
    BadPayload {
        /// The message type number.
        typ: u32,
        /// What was wrong.
        reason: Cow<'static, str>,
    },

    /// A layout string could not be parsed.
    #[error("malformed layout string at byte {offset}: {reason}")]
    BadLayout {
        /// Byte offset where parsing failed.
        offset: usize,
        /// What was expected.
        reason: Cow<'static, str>,
    },

    /// A layout string parsed but its checksum does not match.
    #[error("layout checksum mismatch: string says {stated:04x}, body sums to {computed:04x}")]
    LayoutChecksum {
        /// The checksum written in the string.
        stated: u16,
        /// The checksum of the body.
        computed: u16,
    },
}

/// Shorten and lossily decode a line for an error message.
pub(crate) fn display_line(line: &[u8]) -> String {
    const MAX: usize = 120;
    let shown = &line[..line.len().min(MAX)];
    let mut s = match std::str::from_utf8(shown) {
        Ok(text) => text.to_owned(),
        Err(_) => String::from_utf8_lossy(shown).into_owned(),
    };
    if line.len() > MAX {
        s.push_str(&format!("... ({} bytes)", line.len()));
    }
    s
}
