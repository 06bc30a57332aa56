//! The plain (not control-mode) client: one tmux command on the server's
//! socket, as `tmux COMMAND` runs it, without passing any file descriptor
//! ([`command`]); and the version probe built on it ([`probe_server`]),
//! whose answer picks the direct transport's imsg header layout.

use super::Ending;
use crate::server::{check_path_len, connect_failure, ServerError};
use std::io;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Errors of the plain client ([`command`]).
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum PlainError {
    /// The socket could not be reached.
    #[error(transparent)]
    Server(#[from] ServerError),
    /// Reading or writing the socket failed.
    #[error("tmux command on {}: {source}", path.display())]
    Io {
        /// The socket path.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// The server speaks another protocol version.
    #[error("protocol version mismatch: server speaks {server}, tmux-wire speaks 8")]
    VersionMismatch {
        /// The server's version.
        server: u32,
    },
    /// The server sent something the client cannot use, or the command
    /// could not be encoded.
    #[error("tmux command on {}: {reason}", path.display())]
    Protocol {
        /// The socket path.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The server is older than anything tmux-wire speaks (3.0 or earlier).
    #[error("tmux {version} is too old for the direct transport (it needs 3.2 or newer)")]
    TooOld {
        /// What the server is.
        version: String,
    },
    /// The connection ended before the command's exit:
    /// [`Ending::Shutdown`] when the server said it is shutting down,
    /// [`Ending::ServerGone`] when the socket closed without a word.
    #[error("tmux command on {}: {ending}", path.display())]
    Closed {
        /// The socket path.
        path: PathBuf,
        /// How it ended.
        ending: Ending,
    },
}

/// Errors of the version probe.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ProbeError {
    /// The plain client that asks failed ([`PlainError`]; its `TooOld` is
    /// [`ProbeError::TooOld`]).
    #[error(transparent)]
    Plain(PlainError),
    /// The server answered the version query with a failure, or with
    /// nothing.
    #[error("version probe on {}: the version query failed (status {status}) {message}", path.display())]
    Failed {
        /// The socket path.
        path: PathBuf,
        /// The query's exit status.
        status: i32,
        /// The server's message.
        message: String,
    },
    /// The server is older than anything tmux-wire speaks directly.
    #[error("tmux {version} is too old for the direct transport (it needs 3.2 or newer)")]
    TooOld {
        /// What the server is.
        version: String,
    },
    /// The server did not answer in time.
    #[error("version probe on {}: no answer within {timeout:?}", path.display())]
    Timeout {
        /// The socket path.
        path: PathBuf,
        /// How long we waited.
        timeout: std::time::Duration,
    },
}

impl From<PlainError> for ProbeError {
    fn from(e: PlainError) -> Self {
        match e {
            PlainError::TooOld { version } => ProbeError::TooOld { version },
            e => ProbeError::Plain(e),
        }
    }
}

/// Ask the server on `path` for its version (`#{version}`, e.g. `3.3a`,
/// `next-3.8`) the way a plain `tmux list-commands -F` client would, but
/// without passing any file descriptor: messages without an fd are the same
/// bytes in both imsg header layouts (on little-endian hosts), so this works
/// whatever the server's layout, and its answer decides the layout for the
/// real connection (`tmux-protocol.md` section 1.6).
pub async fn probe_version(
    path: &Path,
    timeout: std::time::Duration,
) -> Result<String, ProbeError> {
    Ok(probe_server(path, timeout).await?.version)
}

/// What [`probe_server`] learns of a server.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerIdentity {
    /// `#{version}`.
    pub version: String,
    /// `#{pid}`: the tmux server process that answered (`None` where the
    /// server did not say). It can differ from the process listening on the
    /// socket: with systemd socket activation, systemd listens, and a new
    /// tmux server (perhaps another version) answers after a restart.
    pub pid: Option<i32>,
}

/// [`probe_version`], also asking for the server's pid.
pub async fn probe_server(
    path: &Path,
    timeout: std::time::Duration,
) -> Result<ServerIdentity, ProbeError> {
    match tokio::time::timeout(timeout, probe_inner(path)).await {
        Ok(result) => result,
        Err(_) => Err(ProbeError::Timeout {
            path: path.to_path_buf(),
            timeout,
        }),
    }
}

async fn probe_inner(path: &Path) -> Result<ServerIdentity, ProbeError> {
    let query = crate::protocol::Command::from_argv([
        "list-commands",
        "-F",
        "#{version} #{pid}",
        "list-commands",
    ]);
    let (output, retval, message) = command(path, &query).await?;
    let text = String::from_utf8_lossy(&output).trim().to_string();
    if retval != 0 || text.is_empty() {
        return Err(ProbeError::Failed {
            path: path.to_path_buf(),
            status: retval,
            message,
        });
    }
    // A version has no space; a server that cannot expand #{pid} leaves
    // the version alone.
    Ok(match text.rsplit_once(' ') {
        Some((version, pid)) => ServerIdentity {
            version: version.trim().to_string(),
            pid: pid.parse().ok().filter(|&pid: &i32| pid > 0),
        },
        None => ServerIdentity {
            version: text,
            pid: None,
        },
    })
}

/// Run one tmux command as a plain (not control-mode) client without any
/// fd, as `tmux COMMAND` does, and return what it wrote on its stdout, its
/// exit status, and the server's message. It lasts as long as the command:
/// `wait-for CHANNEL` returns once the channel is signalled (or at once if
/// it was signalled while nobody waited).
pub async fn command(
    path: &Path,
    command: &crate::protocol::Command,
) -> Result<(Vec<u8>, i32, String), PlainError> {
    use crate::protocol::{Decoder, HeaderLayout, Message, CLIENT_UTF8};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    check_path_len(path)?;
    let io_err = |source| PlainError::Io {
        path: path.to_path_buf(),
        source,
    };
    let bad = |reason: String| PlainError::Protocol {
        path: path.to_path_buf(),
        reason,
    };
    let closed = |ending| PlainError::Closed {
        path: path.to_path_buf(),
        ending,
    };
    let mut sock = match tokio::net::UnixStream::connect(path).await {
        Ok(sock) => sock,
        // Why, found with a connect of its own (off the runtime).
        Err(e) => {
            let path = path.to_path_buf();
            return Err(
                crate::blocking::off_runtime(move || connect_failure(&path, e))
                    .await
                    .into(),
            );
        }
    };
    // Any layout will do: none of these messages carries an fd.
    let layout = HeaderLayout::A;
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    let mut out = Vec::new();
    for m in identify_messages(CLIENT_UTF8, &cwd)
        .iter()
        .chain([&Message::IdentifyDone])
    {
        out.extend(m.encode(layout).map_err(|e| bad(e.to_string()))?);
    }
    out.extend(
        Message::Command(command.argv().to_vec())
            .encode(layout)
            .map_err(|e| bad(e.to_string()))?,
    );
    sock.write_all(&out).await.map_err(io_err)?;

    let mut decoder = Decoder::new(layout);
    let mut output = Vec::new();
    let mut buf = vec![0u8; 16384];
    loop {
        while let Some(frame) = decoder.next_frame() {
            let frame = frame.map_err(|e| bad(e.to_string()))?;
            if frame.typ == crate::protocol::msg::VERSION
                || frame.protocol_version() != crate::protocol::PROTOCOL_VERSION
            {
                return Err(PlainError::VersionMismatch {
                    server: frame.protocol_version(),
                });
            }
            let reply = match Message::decode(&frame).map_err(|e| bad(e.to_string()))? {
                Message::WriteOpen { stream, .. } => Some(Message::WriteReady { stream, error: 0 }),
                Message::ReadOpen { stream, .. } => Some(Message::ReadDone {
                    stream,
                    error: rustix::io::Errno::BADF.raw_os_error(),
                }),
                Message::Write { stream: 1, data } => {
                    output.extend_from_slice(&data);
                    None
                }
                Message::Exit { retval, message } => {
                    let message = message
                        .map(|m| String::from_utf8_lossy(&m).into_owned())
                        .unwrap_or_default();
                    return Ok((output, retval.unwrap_or(0), message));
                }
                // kill-server: the server waits for its clients to leave
                // before it exits, so leave.
                Message::Shutdown | Message::Exited => {
                    return Err(closed(Ending::Shutdown));
                }
                Message::Other { typ, .. }
                    if (crate::protocol::msg::OLDSTDERR..=crate::protocol::msg::OLDSTDOUT)
                        .contains(&typ) =>
                {
                    return Err(PlainError::TooOld {
                        version: "3.0 or earlier".into(),
                    });
                }
                _ => None,
            };
            if let Some(reply) = reply {
                sock.write_all(&reply.encode(layout).map_err(|e| bad(e.to_string()))?)
                    .await
                    .map_err(io_err)?;
            }
        }
        let n = sock.read(&mut buf).await.map_err(io_err)?;
        if n == 0 {
            return Err(closed(Ending::ServerGone));
        }
        decoder.feed(&buf[..n]);
    }
}

/// The fd-free part of identification: TERM (mandatory up to 3.5),
/// features, tty name (mandatory in every version: the server crashes
/// without it), cwd, client pid, and last the client flags. The caller adds
/// the fd messages (for control clients) and environment before these, and
/// `IdentifyDone` right after them.
///
/// Why the flags come last: tmux up to at least 3.3a writes
/// `%client-detached` to every client flagged CONTROL, and one whose
/// identification is not finished has no control state yet, so the server
/// dereferences NULL and dies (observed on 3.3a when another control client
/// left while ours was identifying). With the flags in the same write as
/// `IdentifyDone`, tmux handles both in one read and the client is never a
/// half-identified control client between two events.
pub(crate) fn identify_messages(flags: u64, cwd: &Path) -> Vec<crate::protocol::Message> {
    use crate::protocol::Message;
    use std::os::unix::ffi::OsStrExt;
    vec![
        Message::IdentifyTerm(b"xterm-256color".to_vec()),
        Message::IdentifyFeatures(0),
        Message::IdentifyTtyName(Vec::new()),
        Message::IdentifyCwd(cwd.as_os_str().as_bytes().to_vec()),
        Message::IdentifyClientPid(std::process::id() as i32),
        Message::IdentifyFlags(flags as i32),
        Message::IdentifyLongFlags(flags),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{HeaderLayout, Message};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A server on `path` that reads the client's first write, answers
    /// `answer`, and hangs up.
    async fn one_answer(path: &Path, answer: Vec<u8>) -> tokio::task::JoinHandle<()> {
        let listener = tokio::net::UnixListener::bind(path).unwrap();
        tokio::spawn(async move {
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 4096];
            let _ = sock.read(&mut buf).await;
            let _ = sock.write_all(&answer).await;
        })
    }

    #[tokio::test]
    async fn a_connection_that_ends_says_how() {
        let dir = tempfile::tempdir().unwrap();
        let wait = crate::protocol::Command::from_argv(["wait-for", "x"]);
        let cases = [
            (Vec::new(), Ending::ServerGone),
            (
                Message::Shutdown.encode(HeaderLayout::A).unwrap(),
                Ending::Shutdown,
            ),
        ];
        for (i, (answer, want)) in cases.into_iter().enumerate() {
            let path = dir.path().join(format!("s{i}"));
            let server = one_answer(&path, answer).await;
            match command(&path, &wait).await {
                Err(PlainError::Closed { ending, .. }) => assert_eq!(ending, want),
                other => panic!("{other:?}"),
            }
            server.await.unwrap();
        }
        // The probe keeps it typed too.
        let path = dir.path().join("probe");
        let server = one_answer(&path, Vec::new()).await;
        match probe_server(&path, std::time::Duration::from_secs(5)).await {
            Err(ProbeError::Plain(PlainError::Closed { ending, .. })) => {
                assert_eq!(ending, Ending::ServerGone)
            }
            other => panic!("{other:?}"),
        }
        server.await.unwrap();
    }
}
