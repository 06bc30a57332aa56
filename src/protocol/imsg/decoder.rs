//! Framing ([`Decoder`], [`Frame`]) and payload decoding ([`Message::decode`]).

use super::{msg, HeaderLayout, Message, HEADER_LEN, MAX_MESSAGE_LEN};
use crate::protocol::error::ProtocolError;
use bytes::{Buf, BytesMut};
use serde::{Deserialize, Serialize};

/// One decoded frame: header fields and raw payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Frame {
    /// Message type.
    pub typ: u32,
    /// The header says a file descriptor came with this message.
    pub has_fd: bool,
    /// `peerid`; its low byte is the protocol version.
    pub peerid: u32,
    /// The payload.
    pub payload: Vec<u8>,
}

impl Frame {
    /// The protocol version the peer claims (low byte of `peerid`).
    pub fn protocol_version(&self) -> u32 {
        self.peerid & 0xFF
    }
}

impl Message {
    /// Decode a frame's payload according to its type. Unknown types become
    /// [`Message::Other`]; a payload that does not fit its type is an error.
    pub fn decode(frame: &Frame) -> Result<Message, ProtocolError> {
        use Message as M;
        let typ = frame.typ;
        let p = Payload {
            typ,
            bytes: &frame.payload,
        };
        let m = match typ {
            msg::VERSION => p.empty(M::Version)?,
            msg::IDENTIFY_FLAGS => M::IdentifyFlags(p.only_i32()?),
            msg::IDENTIFY_TERM => M::IdentifyTerm(p.string()?),
            msg::IDENTIFY_TTYNAME => M::IdentifyTtyName(p.string()?),
            msg::IDENTIFY_STDIN => p.empty(M::IdentifyStdin)?,
            msg::IDENTIFY_ENVIRON => M::IdentifyEnviron(p.string()?),
            msg::IDENTIFY_DONE => p.empty(M::IdentifyDone)?,
            msg::IDENTIFY_CLIENTPID => M::IdentifyClientPid(p.only_i32()?),
            msg::IDENTIFY_CWD => M::IdentifyCwd(p.string()?),
            msg::IDENTIFY_FEATURES => M::IdentifyFeatures(p.only_i32()?),
            msg::IDENTIFY_STDOUT => p.empty(M::IdentifyStdout)?,
            msg::IDENTIFY_LONGFLAGS => M::IdentifyLongFlags(p.only_u64()?),
            msg::IDENTIFY_TERMINFO => M::IdentifyTerminfo(p.string()?),
            msg::COMMAND => {
                let (argc, rest) = p.i32_then()?;
                let argc = usize::try_from(argc).map_err(|_| p.bad("negative argc"))?;
                let argv = p.strings(rest)?;
                if argv.len() != argc {
                    return Err(p.bad("argc does not match the number of strings"));
                }
                M::Command(argv)
            }
            msg::DETACH => M::Detach(p.string()?),
            msg::DETACHKILL => M::DetachKill(p.string()?),
            msg::EXIT => match frame.payload.len() {
                0 => M::Exit {
                    retval: None,
                    message: None,
                },
                4 => M::Exit {
                    retval: Some(p.only_i32()?),
                    message: None,
                },
                _ => {
                    let (retval, rest) = p.i32_then()?;
                    M::Exit {
                        retval: Some(retval),
                        message: Some(p.c_string(rest)?),
                    }
                }
            },
            msg::EXITED => p.empty(M::Exited)?,
            msg::EXITING => p.empty(M::Exiting)?,
            msg::LOCK => M::Lock(p.string()?),
            msg::READY => p.empty(M::Ready)?,
            msg::RESIZE => p.empty(M::Resize)?,
            msg::SHUTDOWN => p.empty(M::Shutdown)?,
            msg::SUSPEND => p.empty(M::Suspend)?,
            msg::UNLOCK => p.empty(M::Unlock)?,
            msg::WAKEUP => p.empty(M::Wakeup)?,
            msg::EXEC => {
                let mut parts = p.strings(&frame.payload)?;
                if parts.len() != 2 {
                    return Err(p.bad("expected a command and a shell"));
                }
                let shell = parts.pop().unwrap_or_default();
                let command = parts.pop().unwrap_or_default();
                M::Exec { command, shell }
            }
            msg::FLAGS => M::Flags(p.only_u64()?),
            msg::READ_OPEN => {
                let (stream, rest) = p.i32_then()?;
                let (fd, rest) = p.i32_at(rest)?;
                M::ReadOpen {
                    stream,
                    fd,
                    path: p.opt_string(rest)?,
                }
            }
            msg::WRITE_OPEN => {
                let (stream, rest) = p.i32_then()?;
                let (fd, rest) = p.i32_at(rest)?;
                let (flags, rest) = p.i32_at(rest)?;
                M::WriteOpen {
                    stream,
                    fd,
                    flags,
                    path: p.opt_string(rest)?,
                }
            }
            msg::READ | msg::WRITE => {
                let (stream, data) = p.i32_then()?;
                let data = data.to_vec();
                if typ == msg::READ {
                    M::Read { stream, data }
                } else {
                    M::Write { stream, data }
                }
            }
            msg::READ_DONE | msg::WRITE_READY | msg::WRITE_DONE => {
                let (stream, rest) = p.i32_then()?;
                let (error, rest) = p.i32_at(rest)?;
                if !rest.is_empty() {
                    return Err(p.bad("trailing bytes after stream and error"));
                }
                match typ {
                    msg::READ_DONE => M::ReadDone { stream, error },
                    msg::WRITE_READY => M::WriteReady { stream, error },
                    _ => M::WriteDone { stream, error },
                }
            }
            msg::WRITE_CLOSE => M::WriteClose {
                stream: p.only_i32()?,
            },
            msg::READ_CANCEL => M::ReadCancel {
                stream: p.only_i32()?,
            },
            _ => M::Other {
                typ,
                payload: frame.payload.clone(),
            },
        };
        Ok(m)
    }
}

/// Payload readers that report which type they were reading.
struct Payload<'a> {
    typ: u32,
    bytes: &'a [u8],
}

impl<'a> Payload<'a> {
    fn bad(&self, reason: &'static str) -> ProtocolError {
        ProtocolError::BadPayload {
            typ: self.typ,
            reason: reason.into(),
        }
    }

    fn empty(&self, m: Message) -> Result<Message, ProtocolError> {
        if self.bytes.is_empty() {
            Ok(m)
        } else {
            Err(self.bad("expected an empty payload"))
        }
    }

    fn i32_at(&self, b: &'a [u8]) -> Result<(i32, &'a [u8]), ProtocolError> {
        match b.split_first_chunk::<4>() {
            Some((head, rest)) => Ok((i32::from_ne_bytes(*head), rest)),
            None => Err(self.bad("payload too short for a 32-bit integer")),
        }
    }

    fn i32_then(&self) -> Result<(i32, &'a [u8]), ProtocolError> {
        self.i32_at(self.bytes)
    }

    fn only_i32(&self) -> Result<i32, ProtocolError> {
        let bytes: [u8; 4] = self
            .bytes
            .try_into()
            .map_err(|_| self.bad("expected exactly 4 bytes"))?;
        Ok(i32::from_ne_bytes(bytes))
    }

    fn only_u64(&self) -> Result<u64, ProtocolError> {
        let bytes: [u8; 8] = self
            .bytes
            .try_into()
            .map_err(|_| self.bad("expected exactly 8 bytes"))?;
        Ok(u64::from_ne_bytes(bytes))
    }

    /// Exactly one NUL-terminated string and nothing else.
    fn string(&self) -> Result<Vec<u8>, ProtocolError> {
        self.c_string(self.bytes)
    }

    fn c_string(&self, b: &[u8]) -> Result<Vec<u8>, ProtocolError> {
        match b.split_last() {
            Some((0, body)) if !body.contains(&0) => Ok(body.to_vec()),
            Some((0, _)) => Err(self.bad("NUL inside a string")),
            _ => Err(self.bad("string is not NUL-terminated")),
        }
    }

    fn opt_string(&self, b: &[u8]) -> Result<Vec<u8>, ProtocolError> {
        if b.is_empty() {
            Ok(Vec::new())
        } else {
            self.c_string(b)
        }
    }

    /// Consecutive NUL-terminated strings filling `b` exactly.
    fn strings(&self, b: &[u8]) -> Result<Vec<Vec<u8>>, ProtocolError> {
        if b.is_empty() {
            return Ok(Vec::new());
        }
        let Some(body) = b.strip_suffix(&[0]) else {
            return Err(self.bad("last string is not NUL-terminated"));
        };
        Ok(body.split(|&c| c == 0).map(<[u8]>::to_vec).collect())
    }
}

/// Reassembles frames from a byte stream split or coalesced anywhere.
///
/// ```
/// use tmux_wire::protocol::{Decoder, HeaderLayout, Message};
/// let bytes = Message::Exit { retval: Some(0), message: None }.encode(HeaderLayout::A).unwrap();
/// let mut d = Decoder::new(HeaderLayout::A);
/// d.feed(&bytes[..5]);
/// assert!(d.next_frame().is_none());
/// d.feed(&bytes[5..]);
/// let frame = d.next_frame().unwrap().unwrap();
/// assert_eq!(Message::decode(&frame).unwrap(), Message::Exit { retval: Some(0), message: None });
/// ```
#[derive(Debug)]
pub struct Decoder {
    layout: HeaderLayout,
    buf: BytesMut,
    broken: bool,
}

impl Decoder {
    /// A decoder for `layout`.
    pub fn new(layout: HeaderLayout) -> Self {
        Decoder {
            layout,
            buf: BytesMut::new(),
            broken: false,
        }
    }

    /// The layout in use.
    pub fn layout(&self) -> HeaderLayout {
        self.layout
    }

    /// Append received bytes.
    pub fn feed(&mut self, bytes: &[u8]) {
        if !self.broken {
            self.buf.extend_from_slice(bytes);
        }
    }

    /// Bytes received but not yet returned as frames.
    pub fn buffered_len(&self) -> usize {
        self.buf.len()
    }

    /// Whether a bad header made the stream unusable.
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    /// The next complete frame; `None` until more bytes arrive. After a bad
    /// header the error is returned once and the decoder yields nothing more
    /// (the framing is lost; the connection must be dropped).
    pub fn next_frame(&mut self) -> Option<Result<Frame, ProtocolError>> {
        if self.broken || self.buf.len() < HEADER_LEN {
            return None;
        }
        let h = &self.buf[..HEADER_LEN];
        let word = |at: usize| u32::from_ne_bytes([h[at], h[at + 1], h[at + 2], h[at + 3]]);
        let typ = word(0);
        let (len, has_fd) = match self.layout {
            HeaderLayout::A => {
                let len = u16::from_ne_bytes([h[4], h[5]]);
                let flags = u16::from_ne_bytes([h[6], h[7]]);
                (u32::from(len), flags & 1 != 0)
            }
            HeaderLayout::B => {
                let raw = word(4);
                (raw & 0x7FFF_FFFF, raw & 0x8000_0000 != 0)
            }
        };
        let peerid = word(8);
        let total = len as usize;
        if !(HEADER_LEN..=MAX_MESSAGE_LEN).contains(&total) {
            self.broken = true;
            self.buf.clear();
            return Some(Err(ProtocolError::BadFrameLength { len }));
        }
        if self.buf.len() < total {
            return None;
        }
        self.buf.advance(HEADER_LEN);
        let payload = self.buf.split_to(total - HEADER_LEN).to_vec();
        Some(Ok(Frame {
            typ,
            has_fd,
            peerid,
            payload,
        }))
    }
}
