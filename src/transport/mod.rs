//! Byte pipes to a control session.
//!
//! - [`direct`]: the tmux server's own Unix socket and imsg protocol; no tmux
//!   client process runs.
//! - [`plain`]: a plain (not control-mode) client for one command, as
//!   `tmux COMMAND` runs it, and the version probe built on it.
//! - [`process`]: a child `tmux -C ...` (or any command prefix that ends in
//!   one, such as `ssh HOST tmux -C`), as a fallback and for remote servers.
//!
//! Either way the result is a [`ControlPipe`]: the control-mode text stream
//! in both directions, and a channel that says how the session ended.

pub mod direct;
pub mod plain;
mod probe_cache;
pub mod process;

use crate::protocol::{HeaderLayout, ProtocolError};
use crate::server::ServerError;
use plain::ProbeError;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use thiserror::Error;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::oneshot;

/// Which transport a connection uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum TransportKind {
    /// The server socket, spoken to directly.
    Direct,
    /// A child `tmux -C` process.
    Process,
}

impl TransportKind {
    /// `"direct"` or `"process"`.
    pub fn as_str(self) -> &'static str {
        match self {
            TransportKind::Direct => "direct",
            TransportKind::Process => "process",
        }
    }
}

/// What was chosen and why: shown by `Client::info` and `tmux-wire version`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransportInfo {
    /// The transport in use.
    pub kind: TransportKind,
    /// The server's `#{version}`, when it was probed.
    pub server_version: Option<String>,
    /// The imsg header layout, for the direct transport.
    pub layout: Option<HeaderLayout>,
    /// Why this transport was chosen.
    pub reason: String,
}

/// How a control session ended, as the transport saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Ending {
    /// The server sent `MSG_EXIT` (after an empty line, EOF on the control
    /// stream, a failed attach, the session being killed, ...).
    Exit {
        /// The status tmux gave (1 if any command of this client failed).
        retval: Option<i32>,
        /// A reason such as `too far behind` or `access not allowed`.
        reason: Option<String>,
    },
    /// The client was detached (`detach-client`, `attach -d` elsewhere).
    Detached {
        /// The session it was attached to.
        session: String,
    },
    /// The server is shutting down (`kill-server`, SIGTERM).
    Shutdown,
    /// The server speaks another protocol version.
    VersionMismatch {
        /// The server's protocol version.
        server: u32,
    },
    /// The connection broke without a goodbye: the server died or was
    /// killed.
    ServerGone,
    /// The `tmux -C` child exited (process transport).
    ProcessExited {
        /// Its exit code, if it exited normally.
        code: Option<i32>,
        /// What it wrote to stderr (the last 4 KiB).
        stderr: String,
    },
}

impl std::fmt::Display for Ending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ending::Exit {
                retval,
                reason: Some(r),
            } => write!(
                f,
                "server ended the session: {r} (status {})",
                retval.unwrap_or(0)
            ),
            Ending::Exit {
                retval,
                reason: None,
            } => write!(
                f,
                "server ended the session (status {})",
                retval.unwrap_or(0)
            ),
            Ending::Detached { session } => write!(f, "detached from session {session}"),
            Ending::Shutdown => write!(f, "the tmux server is shutting down"),
            Ending::VersionMismatch { server } => {
                write!(f, "protocol version mismatch (server {server}, client 8)")
            }
            Ending::ServerGone => write!(f, "server exited unexpectedly"),
            Ending::ProcessExited { code, stderr } => {
                match code {
                    Some(c) => write!(f, "tmux -C exited with status {c}")?,
                    None => write!(f, "tmux -C was killed by a signal")?,
                }
                if !stderr.trim().is_empty() {
                    write!(f, ": {}", stderr.trim())?;
                }
                Ok(())
            }
        }
    }
}

/// An open control session.
pub struct ControlPipe {
    /// Control-mode output from tmux.
    pub reader: Box<dyn AsyncRead + Send + Unpin>,
    /// Control-mode input to tmux (LF-terminated command lines).
    pub writer: Box<dyn AsyncWrite + Send + Unpin>,
    /// Resolves once with how the session ended.
    pub ending: oneshot::Receiver<Ending>,
    /// What was chosen and why.
    pub info: TransportInfo,
}

impl std::fmt::Debug for ControlPipe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControlPipe")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

/// Errors of the transport layer.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum TransportError {
    /// Finding or reaching the server failed.
    #[error(transparent)]
    Server(#[from] ServerError),
    /// The version probe failed.
    #[error(transparent)]
    Probe(#[from] ProbeError),
    /// A message could not be encoded (nothing was sent).
    #[error("refusing to send a malformed message: {0}")]
    Encode(#[from] ProtocolError),
    /// Socket or process I/O failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The tmux program for the process transport could not be run.
    #[error("cannot run {}: {source}", program.display())]
    Spawn {
        /// The program.
        program: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The direct transport does not support this server.
    #[error("the direct transport does not support this server: {reason}")]
    Unsupported {
        /// Why.
        reason: String,
    },
}

impl TransportError {
    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        TransportError::Io {
            what: what.into(),
            source,
        }
    }
}
