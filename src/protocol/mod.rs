//! The sans-IO protocol core: bytes in, values out.
//!
//! Nothing here does I/O or imports tokio, rustix or sockets; this is what the
//! fuzzers and the parser benchmark drive.
//!
//! - [`parse_line`]: one control-mode line to a typed [`Line`].
//! - [`unescape`] / [`escape`]: `%output` data.
//! - [`Assembler`]: a byte stream to [`Event`]s (notifications and replies).
//! - [`Command`]: an argv to a control-mode input line tmux reads back exactly.
//! - [`Message`], [`Decoder`], [`HeaderLayout`]: the imsg socket protocol.
//! - [`Layout`]: window layout strings.
//! - [`FormatQuery`]: format answers (`-F`, `display-message -p`), read
//!   the same way in every tmux version's output dialect.

mod assembler;
mod command;
pub(crate) mod error;
mod escape;
mod format;
mod ids;
mod imsg;
mod layout;
mod line;

pub use assembler::{AnswerError, Assembler, Event, Reply};
pub use command::{command_list_line, Command};
pub use error::ProtocolError;
pub use escape::{escape, unescape, unescape_owned, unescape_slice};
pub use format::{FormatError, FormatQuery};
pub use ids::{PaneId, SessionId, WindowId};
pub use imsg::{
    msg, version_at_least, Decoder, Frame, HeaderLayout, Message, CLIENT_CONTROL, CLIENT_UTF8,
    HEADER_LEN, MAX_MESSAGE_LEN, MAX_PAYLOAD_LEN, PROTOCOL_VERSION,
};
pub use layout::{checksum as layout_checksum, Cell, CellKind, Layout};
pub use line::{parse_line, parse_line_bytes, Guard, Line, Notification};
