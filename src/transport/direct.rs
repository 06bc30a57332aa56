//! The direct transport: the server's Unix socket, no tmux client process.
//!
//! 1. Probe the server version with an fd-free plain client
//!    ([`super::plain::probe_version`]); it decides the imsg header layout.
//!    The answer is remembered per server process (its pid and start
//!    time, and the socket), in this process and in a private file that
//!    later tmux-wire processes check against the same key before they
//!    trust it (`probe_cache.rs`), so one-shot calls skip the probe.
//! 2. Connect again and identify as a control client (`CONTROL|UTF8` only)
//!    with the full mandatory set: TERM, FEATURES, TTYNAME "", CWD,
//!    CLIENTPID, STDIN and STDOUT (each in its own `sendmsg` carrying one end
//!    of a socketpair with `SCM_RIGHTS`), ENVIRON, and then FLAGS, LONGFLAGS,
//!    DONE and MSG_COMMAND (the attach command) in a single write, so the
//!    server never holds a half-identified control client (tmux 3.3a crashes
//!    if another control client leaves at that moment).
//! 3. Keep the other end of the socketpair: it is the control stream.
//! 4. A task answers the server on the socket: file-stream requests are
//!    refused with EBADF (so server-side commands never hang), DETACH,
//!    DETACHKILL and EXEC get EXITING, and EXIT, EXITED, SHUTDOWN or EOF end
//!    the session. The socket is closed as soon as the session ends, so we
//!    never keep a server alive.
//!
//! Every outgoing message is built by [`Message::encode`]; fd passing goes
//! through rustix's safe `sendmsg`, so this module has no `unsafe`.

use super::plain::{identify_messages, probe_server};
use super::{ControlPipe, Ending, TransportError, TransportInfo, TransportKind};
use crate::protocol::{
    Decoder, HeaderLayout, Message, CLIENT_CONTROL, CLIENT_UTF8, MAX_PAYLOAD_LEN,
};
use crate::server::{check_path_len, connect_failure};
use rustix::net::{sendmsg, SendAncillaryBuffer, SendAncillaryMessage, SendFlags};
use std::io::{IoSlice, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixStream as StdUnixStream;
use std::path::Path;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;

/// Options of a direct connection: the default, then the builder methods.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DirectOptions {
    /// How long the version probe may take.
    pub probe_timeout: Duration,
    /// Working directory sent to the server (default: ours).
    pub cwd: Option<std::path::PathBuf>,
    /// Send our environment (`IDENTIFY_ENVIRON`) as the tmux client does.
    pub send_environment: bool,
    /// Reuse the version an earlier probe of the same server process found
    /// (in this process, or in another tmux-wire process: see the module
    /// docs) instead of probing again.
    pub reuse_probe: bool,
}

impl DirectOptions {
    /// Let the version probe take at most this long.
    pub fn probe_timeout(mut self, timeout: Duration) -> Self {
        self.probe_timeout = timeout;
        self
    }

    /// Send this working directory to the server.
    pub fn cwd(mut self, cwd: impl Into<std::path::PathBuf>) -> Self {
        self.cwd = Some(cwd.into());
        self
    }

    /// Send no environment (the server's own is used for what the
    /// client's would give).
    pub fn without_environment(mut self) -> Self {
        self.send_environment = false;
        self
    }

    /// Probe the server's version again even if an earlier probe of the
    /// same server process is remembered.
    pub fn probe_again(mut self) -> Self {
        self.reuse_probe = false;
        self
    }
}

impl Default for DirectOptions {
    fn default() -> Self {
        DirectOptions {
            probe_timeout: Duration::from_secs(5),
            cwd: None,
            send_environment: true,
            reuse_probe: true,
        }
    }
}

/// Connect to the server on `socket` and run `command` (an argv that
/// attaches, such as `["attach-session", "-t", "work"]`) as a control
/// client.
pub async fn connect(
    socket: &Path,
    command: &[&str],
    opts: &DirectOptions,
) -> Result<ControlPipe, TransportError> {
    check_command(command)?;
    let sock = connect_socket_async(socket).await?;
    let (version, probed) = version_of(socket, &sock, opts).await?;
    if !passes_fds(&version) {
        return Err(super::ProbeError::TooOld { version }.into());
    }
    let layout = HeaderLayout::for_server_version(&version);
    let how = if probed {
        "answered the probe"
    } else {
        "answered an earlier probe (same server process)"
    };
    let reason = format!("server {version} {how}; imsg header layout {layout:?}");
    let mut pipe = identify(sock, command, layout, opts)?;
    pipe.info = TransportInfo {
        kind: TransportKind::Direct,
        server_version: Some(version),
        layout: Some(layout),
        reason,
    };
    Ok(pipe)
}

/// The `#{version}` of the server on `socket`: probed once per server
/// process and remembered (see [`DirectOptions::reuse_probe`]), so asking
/// before a [`connect`] costs that connection no second probe.
pub async fn server_version(socket: &Path, opts: &DirectOptions) -> Result<String, TransportError> {
    let sock = connect_socket_async(socket).await?;
    Ok(version_of(socket, &sock, opts).await?.0)
}

/// The version of the server `sock` is connected to, and whether it was
/// probed now (rather than remembered).
async fn version_of(
    socket: &Path,
    sock: &StdUnixStream,
    opts: &DirectOptions,
) -> Result<(String, bool), TransportError> {
    let pid = peer_pid(sock)
        .map_err(|e| TransportError::io("reading the server socket's peer credentials", e))?;
    let key = pid.map(|pid| (socket.to_path_buf(), pid));
    if let (Some(key), true) = (&key, opts.reuse_probe) {
        if let Some(version) = probed_version(key) {
            return Ok((version, false));
        }
    }
    // Another tmux-wire process may have probed this server process.
    let process = pid.and_then(|pid| super::probe_cache::ServerProcess::of(socket, pid));
    if let (Some(process), true) = (&process, opts.reuse_probe) {
        if let Some(version) = super::probe_cache::recall(process) {
            if let Some(key) = key {
                remember_version(key, &version);
            }
            return Ok((version, false));
        }
    }
    let answer = probe_server(socket, opts.probe_timeout).await?;
    // Remembered only when the process that answered is the one listening
    // on the socket: with systemd socket activation systemd listens, the
    // key would outlive the tmux server, and a restarted server of another
    // version would be taken for the old one (a wrong header layout can
    // crash tmux up to 3.5). The probe's own connection is a new one, so
    // this also catches a server replaced between the two.
    if answer.pid.is_some() && answer.pid == pid {
        if let Some(key) = key {
            remember_version(key, &answer.version);
        }
        if let Some(process) = &process {
            super::probe_cache::remember(process, &answer.version);
        }
    }
    Ok((answer.version, true))
}

/// Versions already probed by this process, per server: the socket path
/// and the pid of the process listening on it (`SO_PEERCRED`). A restarted
/// server is a new process and is probed again, even when its socket file
/// reuses the old inode (it does, on tmpfs). Other processes find the
/// answer in [`super::probe_cache`].
type ServerKey = (std::path::PathBuf, i32);
type ProbeCache = std::sync::Mutex<std::collections::HashMap<ServerKey, String>>;

fn probe_cache() -> &'static ProbeCache {
    static CACHE: std::sync::OnceLock<ProbeCache> = std::sync::OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// The pid of the process listening on the socket `sock` is connected to
/// (0 for a process in a pid namespace this one cannot see).
///
/// tokio reads it: rustix's credentials hold a `Pid`, which cannot be 0,
/// and std's are not stable. tokio takes only a nonblocking socket, and
/// that mode belongs to the socket, not to the copy of its fd, so `sock`
/// is made blocking again before this returns; an error if it cannot be.
/// `None` where the pid cannot be read.
fn peer_pid(sock: &StdUnixStream) -> std::io::Result<Option<i32>> {
    let Ok(copy) = sock.try_clone() else {
        return Ok(None);
    };
    let pid = copy
        .set_nonblocking(true)
        .and_then(|()| tokio::net::UnixStream::from_std(copy))
        .and_then(|copy| copy.peer_cred())
        .ok()
        .and_then(|cred| cred.pid());
    sock.set_nonblocking(false)?;
    Ok(pid)
}

fn probed_version(key: &ServerKey) -> Option<String> {
    probe_cache().lock().ok()?.get(key).cloned()
}

fn remember_version(key: ServerKey, version: &str) {
    if let Ok(mut cache) = probe_cache().lock() {
        cache.insert(key, version.to_string());
    }
}

fn check_command(command: &[&str]) -> Result<(), TransportError> {
    if command.is_empty() {
        return Err(TransportError::Unsupported {
            reason: "an empty initial command would make the server run its default command".into(),
        });
    }
    Ok(())
}

fn connect_socket(socket: &Path) -> Result<StdUnixStream, TransportError> {
    check_path_len(socket)?;
    StdUnixStream::connect(socket).map_err(|e| connect_failure(socket, e).into())
}

/// [`connect_socket`] on tokio's blocking pool (a connect blocks while the
/// server's listen queue is full; a failure is looked into with another).
async fn connect_socket_async(socket: &Path) -> Result<StdUnixStream, TransportError> {
    let socket = socket.to_path_buf();
    crate::blocking::off_runtime(move || connect_socket(&socket)).await
}

/// [`connect`] with a known header layout, skipping the probe.
pub fn connect_with_layout(
    socket: &Path,
    command: &[&str],
    layout: HeaderLayout,
    opts: &DirectOptions,
) -> Result<ControlPipe, TransportError> {
    check_command(command)?;
    let sock = connect_socket(socket)?;
    identify(sock, command, layout, opts)
}

/// Identify as a control client on a connected socket and run `command`.
fn identify(
    sock: StdUnixStream,
    command: &[&str],
    layout: HeaderLayout,
    opts: &DirectOptions,
) -> Result<ControlPipe, TransportError> {
    let (ours, theirs) = StdUnixStream::pair()
        .map_err(|e| TransportError::io("creating the control socketpair", e))?;

    let cwd = match &opts.cwd {
        Some(c) => c.clone(),
        None => std::env::current_dir().unwrap_or_else(|_| "/".into()),
    };
    // Everything but the client flags goes first; the flags, DONE and the
    // command go last in one write (see `identify_messages` for why).
    let mut head = Vec::new();
    let mut last = Vec::new();
    for m in identify_messages(CLIENT_CONTROL | CLIENT_UTF8, &cwd) {
        let is_flags = matches!(m, Message::IdentifyFlags(_) | Message::IdentifyLongFlags(_));
        (if is_flags { &mut last } else { &mut head }).extend(m.encode(layout)?);
    }
    let mut environ = Vec::new();
    if opts.send_environment {
        for (k, v) in std::env::vars_os() {
            let mut entry = k.as_bytes().to_vec();
            entry.push(b'=');
            entry.extend_from_slice(v.as_bytes());
            // tmux ignores what cannot be an entry; we skip what cannot be sent.
            if entry.len() < MAX_PAYLOAD_LEN && !entry.contains(&0) {
                environ.extend(Message::IdentifyEnviron(entry).encode(layout)?);
            }
        }
    }
    last.extend(Message::IdentifyDone.encode(layout)?);
    let argv = command.iter().map(|a| a.as_bytes().to_vec()).collect();
    last.extend(Message::Command(argv).encode(layout)?);

    let send_err = |e| TransportError::io("identifying to the server", e);
    (&sock).write_all(&head).map_err(send_err)?;
    let stdin = Message::IdentifyStdin.encode(layout)?;
    send_with_fd(&sock, &stdin, theirs.as_fd()).map_err(send_err)?;
    let stdout = Message::IdentifyStdout.encode(layout)?;
    send_with_fd(&sock, &stdout, theirs.as_fd()).map_err(send_err)?;
    (&sock).write_all(&environ).map_err(send_err)?;
    (&sock).write_all(&last).map_err(send_err)?;
    // The server holds its own copies now; ours must go so that EOF works.
    drop(theirs);

    let to_tokio = |s: StdUnixStream, what: &str| {
        s.set_nonblocking(true)
            .and_then(|()| tokio::net::UnixStream::from_std(s))
            .map_err(|e| TransportError::io(format!("registering the {what} with tokio"), e))
    };
    let sock = to_tokio(sock, "server socket")?;
    let control = to_tokio(ours, "control stream")?;
    let (ending_tx, ending) = oneshot::channel();
    tokio::spawn(answer_server(sock, layout, ending_tx));
    let (reader, writer) = control.into_split();
    Ok(ControlPipe {
        reader: Box::new(reader),
        writer: Box::new(writer),
        ending,
        info: TransportInfo {
            kind: TransportKind::Direct,
            server_version: None,
            layout: Some(layout),
            reason: format!("imsg header layout {layout:?} given by the caller"),
        },
    })
}

/// tmux 3.2 and newer use the fds a control client passes; 3.1 relayed
/// control I/O over the socket instead, which this transport does not
/// speak. Development builds (`next-*`, `master`) are new.
fn passes_fds(version: &str) -> bool {
    crate::protocol::version_at_least(version, 3, 2)
}

/// One message and one fd in a single `sendmsg`, as both header layouts'
/// receivers require.
fn send_with_fd(sock: &StdUnixStream, message: &[u8], fd: BorrowedFd<'_>) -> std::io::Result<()> {
    let fds = [fd];
    let mut space = [std::mem::MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut cmsg = SendAncillaryBuffer::new(&mut space);
    // Sized for one fd by `cmsg_space!`: there is room.
    let pushed = cmsg.push(SendAncillaryMessage::ScmRights(&fds));
    debug_assert!(pushed, "no room for the fd in the control message");
    let iov = [IoSlice::new(message)];
    let sent = sendmsg(sock, &iov, &mut cmsg, SendFlags::empty())?;
    if sent != message.len() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::WriteZero,
            "short sendmsg of an fd-carrying message",
        ));
    }
    Ok(())
}

/// Answer the server on the imsg socket until the session ends, then close
/// the socket and report how it ended.
async fn answer_server(
    sock: tokio::net::UnixStream,
    layout: HeaderLayout,
    ending: oneshot::Sender<Ending>,
) {
    let (mut rd, mut wr) = sock.into_split();
    let mut decoder = Decoder::new(layout);
    let mut buf = vec![0u8; 65536];
    let mut detached: Option<String> = None;
    let result = 'session: loop {
        let n = match rd.read(&mut buf).await {
            Ok(0) | Err(_) => {
                break 'session detached
                    .take()
                    .map_or(Ending::ServerGone, |session| Ending::Detached { session })
            }
            Ok(n) => n,
        };
        decoder.feed(&buf[..n]);
        while let Some(frame) = decoder.next_frame() {
            let Ok(frame) = frame else {
                break 'session Ending::ServerGone;
            };
            if frame.protocol_version() != crate::protocol::PROTOCOL_VERSION {
                break 'session Ending::VersionMismatch {
                    server: frame.protocol_version(),
                };
            }
            // Undecodable payloads are ignored, as tmux's own client does.
            let Ok(message) = Message::decode(&frame) else {
                continue;
            };
            let reply = match message {
                Message::Exit { retval, message } => {
                    let reason = message
                        .map(|m| String::from_utf8_lossy(&m).into_owned())
                        .filter(|m| !m.is_empty());
                    break 'session Ending::Exit { retval, reason };
                }
                Message::Exited => {
                    break 'session detached.take().map_or(
                        Ending::Exit {
                            retval: None,
                            reason: None,
                        },
                        |session| Ending::Detached { session },
                    )
                }
                Message::Shutdown => break 'session Ending::Shutdown,
                Message::Version => {
                    break 'session Ending::VersionMismatch {
                        server: frame.peerid & 0xff,
                    }
                }
                Message::Detach(session) | Message::DetachKill(session) => {
                    detached = Some(String::from_utf8_lossy(&session).into_owned());
                    Some(Message::Exiting)
                }
                Message::Exec { .. } => {
                    detached.get_or_insert_with(String::new);
                    Some(Message::Exiting)
                }
                Message::WriteOpen { stream, .. } => Some(Message::WriteReady {
                    stream,
                    error: rustix::io::Errno::BADF.raw_os_error(),
                }),
                Message::ReadOpen { stream, .. } => Some(Message::ReadDone {
                    stream,
                    error: rustix::io::Errno::BADF.raw_os_error(),
                }),
                _ => None,
            };
            if let Some(reply) = reply {
                let Ok(bytes) = reply.encode(layout) else {
                    continue;
                };
                if wr.write_all(&bytes).await.is_err() {
                    break 'session Ending::ServerGone;
                }
            }
        }
    };
    // Closing the socket lets the server drop us (and exit if it is
    // shutting down); the control stream then reaches EOF.
    drop((rd, wr));
    let _ = ending.send(result);
}

#[cfg(test)]
mod tests {
    #[test]
    fn which_versions_pass_fds() {
        for (v, ok) in [
            ("3.2", true),
            ("3.2a", true),
            ("3.3a", true),
            ("3.6a", true),
            ("next-3.8", true),
            ("4.0", true),
            ("3.1c", false),
            ("3.0a", false),
            ("2.9", false),
            ("openbsd-7.4", false),
        ] {
            assert_eq!(super::passes_fds(v), ok, "{v}");
        }
    }
}
