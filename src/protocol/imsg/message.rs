//! [`Message`]: every message of the socket protocol, its type table,
//! and the one encoder.

use super::{HeaderLayout, HEADER_LEN, MAX_MESSAGE_LEN, PID_FIELD, PROTOCOL_VERSION};
use crate::protocol::error::ProtocolError;
use serde::{Deserialize, Serialize};

/// The message types (`enum msgtype` in tmux.h), each declared once: its
/// constant in [`msg`], its number, its name, and the [`Message`] variant
/// that carries it (types without one decode as [`Message::Other`]). From
/// this one table come the constants, [`Message::typ`], [`Message::kind`],
/// [`msg::name`] and the check that refuses `Other` for a type that has its
/// own variant.
macro_rules! message_types {
    ($( $(#[$doc:meta])* $name:ident = $number:literal $(=> $variant:ident)? ;)*) => {
        /// Message type numbers (`enum msgtype` in tmux.h).
        #[allow(missing_docs)]
        pub mod msg {
            $( $(#[$doc])* pub const $name: u32 = $number; )*

            /// The tmux name of a message type number (`IDENTIFY_FLAGS`),
            /// `None` for a number tmux does not define.
            ///
            /// ```
            /// use tmux_wire::protocol::msg;
            /// assert_eq!(msg::name(msg::IDENTIFY_FLAGS), Some("IDENTIFY_FLAGS"));
            /// assert_eq!(msg::name(4242), None);
            /// ```
            pub fn name(typ: u32) -> Option<&'static str> {
                match typ {
                    $( $name => Some(stringify!($name)), )*
                    _ => None,
                }
            }
        }

        impl Message {
            /// The message type number.
            pub fn typ(&self) -> u32 {
                match self {
                    $($( Message::$variant { .. } => msg::$name, )?)*
                    Message::Other { typ, .. } => *typ,
                }
            }

            /// A short name for errors and logs (`OTHER` for [`Message::Other`]).
            pub fn kind(&self) -> &'static str {
                match self {
                    $($( Message::$variant { .. } => stringify!($name), )?)*
                    Message::Other { .. } => "OTHER",
                }
            }
        }

        /// The variant of its own that `typ` has, if any (then `Other` may
        /// not carry it).
        pub(super) fn variant_of(typ: u32) -> Option<&'static str> {
            match typ {
                $($( msg::$name => Some(stringify!($variant)), )?)*
                _ => None,
            }
        }
    };
}

message_types! {
    VERSION = 12 => Version;
    IDENTIFY_FLAGS = 100 => IdentifyFlags;
    IDENTIFY_TERM = 101 => IdentifyTerm;
    IDENTIFY_TTYNAME = 102 => IdentifyTtyName;
    /// Unused since tmux 2.x.
    IDENTIFY_OLDCWD = 103;
    IDENTIFY_STDIN = 104 => IdentifyStdin;
    IDENTIFY_ENVIRON = 105 => IdentifyEnviron;
    IDENTIFY_DONE = 106 => IdentifyDone;
    IDENTIFY_CLIENTPID = 107 => IdentifyClientPid;
    IDENTIFY_CWD = 108 => IdentifyCwd;
    IDENTIFY_FEATURES = 109 => IdentifyFeatures;
    IDENTIFY_STDOUT = 110 => IdentifyStdout;
    IDENTIFY_LONGFLAGS = 111 => IdentifyLongFlags;
    IDENTIFY_TERMINFO = 112 => IdentifyTerminfo;
    COMMAND = 200 => Command;
    DETACH = 201 => Detach;
    DETACHKILL = 202 => DetachKill;
    EXIT = 203 => Exit;
    EXITED = 204 => Exited;
    EXITING = 205 => Exiting;
    LOCK = 206 => Lock;
    READY = 207 => Ready;
    RESIZE = 208 => Resize;
    /// `tmux -c`; never used by control clients.
    SHELL = 209;
    SHUTDOWN = 210 => Shutdown;
    /// 211 to 213 relayed stdio in tmux 3.0 and older; from a server they
    /// now only mean "this server is too old for this client".
    OLDSTDERR = 211;
    OLDSTDIN = 212;
    OLDSTDOUT = 213;
    SUSPEND = 214 => Suspend;
    UNLOCK = 215 => Unlock;
    WAKEUP = 216 => Wakeup;
    EXEC = 217 => Exec;
    FLAGS = 218 => Flags;
    READ_OPEN = 300 => ReadOpen;
    READ = 301 => Read;
    READ_DONE = 302 => ReadDone;
    WRITE_OPEN = 303 => WriteOpen;
    WRITE = 304 => Write;
    WRITE_READY = 305 => WriteReady;
    WRITE_CLOSE = 306 => WriteClose;
    READ_CANCEL = 307 => ReadCancel;
    WRITE_DONE = 308 => WriteDone;
}

/// Every message of sections 2.1 and 2.4. Strings are bytes without their
/// terminating NUL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Message {
    /// S: protocol version mismatch.
    Version,
    /// C: client flags, low 32 bits.
    IdentifyFlags(i32),
    /// C: `$TERM` (mandatory for tmux <= 3.5).
    IdentifyTerm(Vec<u8>),
    /// C: tty name, "" when not a tty (mandatory in every version).
    IdentifyTtyName(Vec<u8>),
    /// C: the control input fd follows in SCM_RIGHTS.
    IdentifyStdin,
    /// C: one `NAME=value` environment entry.
    IdentifyEnviron(Vec<u8>),
    /// C: end of identification.
    IdentifyDone,
    /// C: the client's pid.
    IdentifyClientPid(i32),
    /// C: working directory for new sessions and windows.
    IdentifyCwd(Vec<u8>),
    /// C: terminal feature bits (send 0).
    IdentifyFeatures(i32),
    /// C: the control output fd follows in SCM_RIGHTS (3.2+).
    IdentifyStdout,
    /// C: client flags, 64 bits (3.2+).
    IdentifyLongFlags(u64),
    /// C: one terminfo `capname=value` entry.
    IdentifyTerminfo(Vec<u8>),
    /// C: a command to run, as an argv.
    Command(Vec<Vec<u8>>),
    /// S: detached from the named session; answer `Exiting`.
    Detach(Vec<u8>),
    /// S: detached with `-P`; answer `Exiting`.
    DetachKill(Vec<u8>),
    /// S: the client should close; optional status and reason.
    Exit {
        /// Exit status (absent in an empty payload).
        retval: Option<i32>,
        /// Reason such as `too far behind`.
        message: Option<Vec<u8>>,
    },
    /// S: answer to `Exiting`; close the socket.
    Exited,
    /// C: "I am leaving".
    Exiting,
    /// S: lock command (never sent to control clients).
    Lock(Vec<u8>),
    /// S: attached (never sent to control clients).
    Ready,
    /// C: terminal resized (do not send from a control client).
    Resize,
    /// S: the server is exiting.
    Shutdown,
    /// S: `suspend-client`.
    Suspend,
    /// C: answer to `Lock`.
    Unlock,
    /// C: after SIGCONT.
    Wakeup,
    /// S: `detach-client -E`: command and shell.
    Exec {
        /// The command to exec.
        command: Vec<u8>,
        /// The shell to run it with.
        shell: Vec<u8>,
    },
    /// S: the client's flags changed.
    Flags(u64),
    /// S: the server wants to read a client-side file.
    ReadOpen {
        /// Stream number.
        stream: i32,
        /// Client fd to read (0 for stdin), or -1 with a path.
        fd: i32,
        /// Path, may be empty.
        path: Vec<u8>,
    },
    /// C: data for a read stream.
    Read {
        /// Stream number.
        stream: i32,
        /// The data.
        data: Vec<u8>,
    },
    /// C: a read stream is finished (error 0) or refused (an errno).
    ReadDone {
        /// Stream number.
        stream: i32,
        /// errno, 0 for success.
        error: i32,
    },
    /// S: the server wants to write a client-side file.
    WriteOpen {
        /// Stream number.
        stream: i32,
        /// Client fd (1 stdout, 2 stderr), or -1 with a path.
        fd: i32,
        /// open(2) flags.
        flags: i32,
        /// Path, may be empty.
        path: Vec<u8>,
    },
    /// S: data for a write stream.
    Write {
        /// Stream number.
        stream: i32,
        /// The data.
        data: Vec<u8>,
    },
    /// C: a write stream is open (error 0) or refused (an errno).
    WriteReady {
        /// Stream number.
        stream: i32,
        /// errno, 0 for success.
        error: i32,
    },
    /// S: a write stream is finished.
    WriteClose {
        /// Stream number.
        stream: i32,
    },
    /// S: stop reading a stream (3.4+).
    ReadCancel {
        /// Stream number.
        stream: i32,
    },
    /// C: a write stream was written (master, with CLIENT_WRITE_ACK only).
    WriteDone {
        /// Stream number.
        stream: i32,
        /// errno, 0 for success.
        error: i32,
    },
    /// Any other type, kept whole (receivers ignore unknown types).
    Other {
        /// Message type.
        typ: u32,
        /// Raw payload.
        payload: Vec<u8>,
    },
}

impl Message {
    /// Whether this message travels with a file descriptor (STDIN/STDOUT).
    /// Such a message must be sent in its own `sendmsg` with exactly one fd.
    pub fn carries_fd(&self) -> bool {
        matches!(self, Message::IdentifyStdin | Message::IdentifyStdout)
    }

    /// Encode header and payload for `layout`. This is the only encoder;
    /// it refuses what tmux would reject (or crash on): strings with a NUL
    /// inside, a message over 16384 bytes, a command with an argument
    /// containing NUL, `Other` messages with a known type number.
    ///
    /// ```
    /// use tmux_wire::protocol::{HeaderLayout, Message};
    /// let bytes = Message::Command(vec![b"attach".to_vec()]).encode(HeaderLayout::A).unwrap();
    /// # #[cfg(target_endian = "little")]
    /// assert_eq!(bytes[..8], [0xc8, 0, 0, 0, 0x1b, 0, 0, 0]);
    /// ```
    pub fn encode(&self, layout: HeaderLayout) -> Result<Vec<u8>, ProtocolError> {
        let mut payload = Vec::new();
        self.encode_payload(&mut payload)?;
        let len = HEADER_LEN + payload.len();
        if len > MAX_MESSAGE_LEN {
            return Err(self.encode_error(format!(
                "{len} bytes is over the {MAX_MESSAGE_LEN}-byte message limit"
            )));
        }
        let mut out = Vec::with_capacity(len);
        out.extend_from_slice(&self.typ().to_ne_bytes());
        let fd = self.carries_fd();
        match layout {
            HeaderLayout::A => {
                out.extend_from_slice(&(len as u16).to_ne_bytes());
                out.extend_from_slice(&u16::from(fd).to_ne_bytes());
            }
            HeaderLayout::B => {
                let mark = if fd { 0x8000_0000 } else { 0 };
                out.extend_from_slice(&(len as u32 | mark).to_ne_bytes());
            }
        }
        out.extend_from_slice(&PROTOCOL_VERSION.to_ne_bytes());
        out.extend_from_slice(&PID_FIELD.to_ne_bytes());
        out.extend_from_slice(&payload);
        Ok(out)
    }

    fn encode_error(&self, reason: String) -> ProtocolError {
        ProtocolError::Encode {
            kind: self.kind().into(),
            reason,
        }
    }

    fn encode_payload(&self, out: &mut Vec<u8>) -> Result<(), ProtocolError> {
        use Message as M;
        let string = |out: &mut Vec<u8>, s: &[u8]| -> Result<(), ProtocolError> {
            if s.contains(&0) {
                return Err(self.encode_error("a string contains a NUL byte".into()));
            }
            out.extend_from_slice(s);
            out.push(0);
            Ok(())
        };
        let int = |out: &mut Vec<u8>, v: i32| out.extend_from_slice(&v.to_ne_bytes());
        match self {
            M::Version
            | M::IdentifyStdin
            | M::IdentifyDone
            | M::IdentifyStdout
            | M::Exited
            | M::Exiting
            | M::Ready
            | M::Resize
            | M::Shutdown
            | M::Suspend
            | M::Unlock
            | M::Wakeup => {}
            M::IdentifyFlags(v) | M::IdentifyClientPid(v) | M::IdentifyFeatures(v) => int(out, *v),
            M::IdentifyLongFlags(v) | M::Flags(v) => out.extend_from_slice(&v.to_ne_bytes()),
            M::IdentifyTerm(s)
            | M::IdentifyTtyName(s)
            | M::IdentifyEnviron(s)
            | M::IdentifyCwd(s)
            | M::IdentifyTerminfo(s)
            | M::Detach(s)
            | M::DetachKill(s)
            | M::Lock(s) => string(out, s)?,
            M::Command(argv) => {
                let argc = i32::try_from(argv.len())
                    .map_err(|_| self.encode_error("too many arguments".into()))?;
                int(out, argc);
                for arg in argv {
                    string(out, arg)?;
                }
            }
            M::Exit { retval, message } => match (retval, message) {
                (None, None) => {}
                (Some(r), None) => int(out, *r),
                (Some(r), Some(m)) => {
                    int(out, *r);
                    string(out, m)?;
                }
                (None, Some(_)) => return Err(self.encode_error("a message needs a retval".into())),
            },
            M::Exec { command, shell } => {
                string(out, command)?;
                string(out, shell)?;
            }
            M::ReadOpen { stream, fd, path } => {
                int(out, *stream);
                int(out, *fd);
                if !path.is_empty() {
                    string(out, path)?;
                }
            }
            M::WriteOpen {
                stream,
                fd,
                flags,
                path,
            } => {
                int(out, *stream);
                int(out, *fd);
                int(out, *flags);
                if !path.is_empty() {
                    string(out, path)?;
                }
            }
            M::Read { stream, data } | M::Write { stream, data } => {
                int(out, *stream);
                out.extend_from_slice(data);
            }
            M::ReadDone { stream, error }
            | M::WriteReady { stream, error }
            | M::WriteDone { stream, error } => {
                int(out, *stream);
                int(out, *error);
            }
            M::WriteClose { stream } | M::ReadCancel { stream } => int(out, *stream),
            M::Other { typ, payload } => {
                if variant_of(*typ).is_some() {
                    return Err(
                        self.encode_error(format!("type {typ} has its own variant; use it"))
                    );
                }
                out.extend_from_slice(payload);
            }
        }
        Ok(())
    }
}
