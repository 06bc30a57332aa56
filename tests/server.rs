//! Socket paths, stale sockets and starting servers, against real tmux on
//! private sockets.

mod common;

use std::path::Path;
use std::process::Command;
use tmux_wire::server::{
    remove_stale_socket, socket_state, start_server, ServerError, SocketSpec, SocketState,
    StartOptions,
};

fn kill_server(path: &Path) {
    let _ = common::tmux::command()
        .arg("-S")
        .arg(path)
        .arg("kill-server")
        .status();
}

/// Start servers with the tmux under test.
fn start_options() -> StartOptions {
    StartOptions {
        tmux: Some(common::tmux::program()),
        ..Default::default()
    }
}

/// Kills the server on drop, so a failing test leaves nothing behind.
struct Cleanup<'a>(&'a Path);
impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        kill_server(self.0);
    }
}

fn session_names(path: &Path) -> String {
    let out = common::tmux::command()
        .arg("-S")
        .arg(path)
        .args(["list-sessions", "-F", "#{session_name}"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The pid of the server listening on `sock`.
fn server_pid(sock: &Path) -> i32 {
    let out = common::tmux::command()
        .arg("-S")
        .arg(sock)
        // `list-commands` answers without a session on every version.
        .args(["list-commands", "-F", "#{pid}", "list-commands"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// Pids of live processes whose command line names `sock` after `-S`.
fn processes_using(sock: &Path) -> Vec<String> {
    let want = sock.as_os_str().as_encoded_bytes();
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
        if args.windows(2).any(|w| w[0] == b"-S" && w[1] == want) {
            pids.push(name);
        }
    }
    pids
}

#[test]
fn start_once_then_alive() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("s");
    let _cleanup = Cleanup(&sock);
    assert_eq!(socket_state(&sock).unwrap(), SocketState::Missing);
    assert!(start_server(&sock, &start_options()).unwrap());
    assert_eq!(socket_state(&sock).unwrap(), SocketState::Alive);
    // Already running: nothing is started.
    assert!(!start_server(&sock, &start_options()).unwrap());
    // The server has no session and stays up (exit-empty off).
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_eq!(socket_state(&sock).unwrap(), SocketState::Alive);
    assert_eq!(session_names(&sock), "", "no sessions yet");
}

#[test]
fn racing_starts_end_with_one_server_and_no_error() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("race");
    let _cleanup = Cleanup(&sock);
    let handles: Vec<_> = (0..6)
        .map(|_| {
            let sock = sock.clone();
            std::thread::spawn(move || start_server(&sock, &start_options()))
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    for r in &results {
        assert!(r.is_ok(), "{r:?}");
    }
    assert_eq!(socket_state(&sock).unwrap(), SocketState::Alive);
    // Exactly one tmux server process serves this socket.
    let pid = server_pid(&sock).to_string();
    // tmux starts its server as a daemon: the child it forks forks the
    // server and exits, and for a moment still shows the same command
    // line. Wait for that to end (bounded), then exactly one is left.
    common::wait::until_value(
        "exactly one process, the server, to serve the socket",
        std::time::Duration::from_secs(5),
        || processes_using(&sock),
        |using| *using == [pid.clone()],
    );
}

#[test]
fn stale_socket_is_detected_and_removed_only_when_dead() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("stale");
    let _cleanup = Cleanup(&sock);
    start_server(&sock, &start_options()).unwrap();
    assert!(
        !remove_stale_socket(&sock).unwrap(),
        "a live server's socket stays"
    );
    // SIGKILL leaves the socket file behind.
    let pid: i32 = server_pid(&sock);
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(pid).unwrap(),
        rustix::process::Signal::KILL,
    )
    .unwrap();
    common::wait::until_value(
        "the killed server's socket to be stale",
        std::time::Duration::from_secs(5),
        || socket_state(&sock).unwrap(),
        |state| *state == SocketState::Stale,
    );
    assert!(sock.exists());
    // Starting over a stale socket works.
    assert!(start_server(&sock, &start_options()).unwrap());
    assert_eq!(socket_state(&sock).unwrap(), SocketState::Alive);
}

#[test]
fn missing_tmux_binary_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("none");
    let opts = StartOptions {
        tmux: Some("/nonexistent/tmux".into()),
        config: None,
    };
    let err = start_server(&sock, &opts).unwrap_err();
    assert!(matches!(err, ServerError::TmuxNotFound { .. }));
    assert!(err.to_string().contains("install tmux"), "{err}");
}

#[test]
fn label_and_dedicated_default_live_in_private_directories() {
    let dir = tempfile::tempdir().unwrap();
    // Run in a child process so the environment change stays private.
    let exe = std::env::current_exe().unwrap();
    let out = Command::new(exe)
        .args([
            "--exact",
            "print_resolved_paths",
            "--nocapture",
            "--ignored",
        ])
        .env("TMUX_TMPDIR", dir.path())
        .env_remove("TMUX_WIRE_SOCKET")
        .env_remove("TMUX")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let real = std::fs::canonicalize(dir.path()).unwrap();
    let uid = rustix::process::getuid().as_raw();
    assert!(
        text.contains(&format!("wire={}/tmux-wire-{uid}/default", real.display())),
        "{text}"
    );
    assert!(
        text.contains(&format!("label={}/tmux-{uid}/work", real.display())),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "tmuxdefault={}/tmux-{uid}/default",
            real.display()
        )),
        "{text}"
    );
}

#[test]
#[ignore = "run by label_and_dedicated_default_live_in_private_directories"]
fn print_resolved_paths() {
    println!(
        "wire={}",
        SocketSpec::WireDefault.resolve().unwrap().display()
    );
    println!(
        "label={}",
        SocketSpec::Label("work".into())
            .resolve()
            .unwrap()
            .display()
    );
    println!(
        "tmuxdefault={}",
        SocketSpec::TmuxDefault.resolve().unwrap().display()
    );
}

#[tokio::test]
async fn probe_reads_the_server_version_without_a_tmux_client() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("probe");
    let _cleanup = Cleanup(&sock);
    start_server(&sock, &start_options()).unwrap();
    let version =
        tmux_wire::transport::plain::probe_version(&sock, std::time::Duration::from_secs(5))
            .await
            .unwrap();
    assert_eq!(version, common::tmux::version());
    // The pid is the tmux server's own, which is what decides whether the
    // answer may be remembered (the listener may be systemd).
    let identity =
        tmux_wire::transport::plain::probe_server(&sock, std::time::Duration::from_secs(5))
            .await
            .unwrap();
    assert_eq!(identity.version, version);
    let out = common::tmux::command()
        .arg("-S")
        .arg(&sock)
        .args(["list-commands", "-F", "#{pid}", "list-commands"])
        .output()
        .unwrap();
    let server_pid: i32 = String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(identity.pid, Some(server_pid));
    let layout = if tmux_wire::protocol::version_at_least(&version, 3, 6) {
        tmux_wire::protocol::HeaderLayout::B
    } else {
        tmux_wire::protocol::HeaderLayout::A
    };
    assert_eq!(
        tmux_wire::protocol::HeaderLayout::for_server_version(&version),
        layout
    );
    // The probe leaves no client behind.
    let clients = common::tmux::command()
        .arg("-S")
        .arg(&sock)
        .args(["list-clients"])
        .output()
        .unwrap();
    assert!(clients.stdout.is_empty());
}

#[tokio::test]
async fn probe_errors_name_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing");
    let err =
        tmux_wire::transport::plain::probe_version(&missing, std::time::Duration::from_secs(5))
            .await
            .unwrap_err();
    assert!(
        err.to_string().contains("no tmux server is running"),
        "{err}"
    );
    let stale = dir.path().join("stale");
    drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
    let err = tmux_wire::transport::plain::probe_version(&stale, std::time::Duration::from_secs(5))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("stale socket"), "{err}");
    // A listener that never answers: the probe gives up at its deadline.
    let silent = dir.path().join("silent");
    let _listener = std::os::unix::net::UnixListener::bind(&silent).unwrap();
    let err =
        tmux_wire::transport::plain::probe_version(&silent, std::time::Duration::from_millis(200))
            .await
            .unwrap_err();
    assert!(err.to_string().contains("no answer within"), "{err}");
}

/// A fake server on a Unix socket that answers each of its first `conns`
/// clients with `frames` (raw bytes) once the client has sent something.
fn fake_server(path: &Path, frames: Vec<u8>, conns: usize) -> std::thread::JoinHandle<()> {
    let listener = std::os::unix::net::UnixListener::bind(path).unwrap();
    std::thread::spawn(move || {
        for _ in 0..conns {
            let Ok((mut conn, _)) = listener.accept() else {
                return;
            };
            let frames = frames.clone();
            // Detached: a connection that never speaks must not block the test.
            std::thread::spawn(move || {
                use std::io::{Read, Write};
                let mut buf = [0u8; 4096];
                conn.set_read_timeout(Some(std::time::Duration::from_secs(5)))
                    .unwrap();
                if conn.read(&mut buf).unwrap_or(0) > 0 {
                    let _ = conn.write_all(&frames);
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
            });
        }
    })
}

fn probe_answer(version: &str) -> Vec<u8> {
    use tmux_wire::protocol::{HeaderLayout, Message};
    let mut out = Vec::new();
    for m in [
        Message::WriteOpen {
            stream: 1,
            fd: 1,
            flags: 0,
            path: Vec::new(),
        },
        Message::Write {
            stream: 1,
            data: format!("{version}\n").into_bytes(),
        },
        Message::Exit {
            retval: Some(0),
            message: None,
        },
    ] {
        out.extend(m.encode(HeaderLayout::A).unwrap());
    }
    out
}

#[tokio::test]
async fn probe_and_layout_for_newer_servers_from_recorded_answers() {
    use tmux_wire::protocol::HeaderLayout;
    let dir = tempfile::tempdir().unwrap();
    for (i, (version, layout)) in [
        ("3.6a", HeaderLayout::B),
        ("next-3.8", HeaderLayout::B),
        ("3.5a", HeaderLayout::A),
    ]
    .into_iter()
    .enumerate()
    {
        let sock = dir.path().join(format!("fake{i}"));
        let server = fake_server(&sock, probe_answer(version), 1);
        let got =
            tmux_wire::transport::plain::probe_version(&sock, std::time::Duration::from_secs(5))
                .await
                .unwrap();
        assert_eq!(got, version);
        assert_eq!(HeaderLayout::for_server_version(&got), layout);
        server.join().unwrap();
    }
}

#[tokio::test]
async fn servers_the_direct_transport_cannot_speak_to_are_named() {
    use tmux_wire::protocol::{HeaderLayout, Message};
    use tmux_wire::transport::{direct, TransportError};
    let dir = tempfile::tempdir().unwrap();
    // tmux 3.1 answers the probe but relays control I/O differently.
    let old = dir.path().join("old");
    let server = fake_server(&old, probe_answer("3.1c"), 2);
    let err = direct::connect(&old, &["attach-session"], &direct::DirectOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            TransportError::Probe(tmux_wire::transport::plain::ProbeError::TooOld { .. })
        ),
        "{err}"
    );
    server.join().unwrap();
    // A protocol version mismatch: MSG_VERSION with the server's version.
    let other = dir.path().join("other");
    let mut frame = Message::Version.encode(HeaderLayout::A).unwrap();
    frame[8] = 7; // peerid: protocol 7
    let server = fake_server(&other, frame, 1);
    let err = tmux_wire::transport::plain::probe_version(&other, std::time::Duration::from_secs(5))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("protocol version mismatch: server speaks 7"),
        "{err}"
    );
    server.join().unwrap();
}

#[test]
fn only_declared_versions_may_skip_a_live_test() {
    use common::tmux::{declared_unsupported, ATTACH_NEEDS, KEEPER_NEEDS};
    assert!(declared_unsupported("3.1c", ATTACH_NEEDS));
    assert!(declared_unsupported("3.1c", KEEPER_NEEDS));
    assert!(!declared_unsupported("3.1c", "anything else"));
    for version in ["3.2a", "3.3a", "3.5a", "3.6a", "next-3.8", ""] {
        assert!(!declared_unsupported(version, ATTACH_NEEDS), "{version}");
    }
}
