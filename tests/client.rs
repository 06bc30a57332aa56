//! The async client over both transports, against real tmux on private
//! sockets.

mod common;

use common::panes::{active_pane, type_line};
use common::tmux::TmuxServer;
use common::wait::until_async;
use std::process::Command;
use std::time::Duration;
use tmux_wire::client::{
    Client, ClientError, ClientEvent, CloseReason, ConnectOptions, TransportChoice,
};
use tmux_wire::protocol::Notification;
use tmux_wire::transport::{Ending, TransportKind};

/// Every wait in these tests is bounded: a hang is a failure, not a stall.
const LIMIT: Duration = Duration::from_secs(20);

async fn within<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(LIMIT, fut)
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish within {LIMIT:?}"))
}

async fn connect(server: &TmuxServer, transport: TransportChoice) -> Client {
    let opts = ConnectOptions::attach("t")
        .socket_path(server.socket())
        .transport(transport)
        .tmux(common::tmux::program());
    within("connect", Client::connect(&opts))
        .await
        .expect("connect")
}

/// The pid of the server on the test socket.
fn server_pid(server: &TmuxServer) -> i32 {
    tmux(server, &["display-message", "-p", "#{pid}"])
        .trim()
        .parse()
        .unwrap()
}

/// Wait until the server runs a child whose command line holds `needle`
/// (a `run-shell` command has begun).
async fn child_running(server_pid: i32, needle: &str) {
    let holds = |pid: &str| {
        let ppid = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|stat| {
                let rest = stat.get(stat.rfind(')')? + 2..)?.to_string();
                rest.split_whitespace().nth(1)?.parse::<i32>().ok()
            });
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        ppid == Some(server_pid)
            && String::from_utf8_lossy(&cmdline)
                .replace('\0', " ")
                .contains(needle)
    };
    let found = || {
        std::fs::read_dir("/proc").unwrap().flatten().any(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.chars().all(|c| c.is_ascii_digit()) && holds(&name)
        })
    };
    until_async(
        "the command to start",
        LIMIT,
        || std::future::ready(found()),
    )
    .await
}

fn tmux(server: &TmuxServer, args: &[&str]) -> String {
    let out = common::tmux::command()
        .arg("-S")
        .arg(server.socket())
        .args(args)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_over_both_transports() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let server = TmuxServer::start();
    for (choice, kind) in [
        (TransportChoice::Direct, TransportKind::Direct),
        (TransportChoice::Process, TransportKind::Process),
    ] {
        let client = connect(&server, choice).await;
        assert_eq!(client.info().kind, kind);
        let reply = within(
            "command",
            client.command(["display-message", "-p", "#{session_name} é"]),
        )
        .await
        .unwrap();
        assert_eq!(reply.output(), "t é".as_bytes());
        let err = within("command", client.command(["no-such-command"]))
            .await
            .unwrap_err();
        match err {
            ClientError::Command { message, .. } => {
                assert!(message.contains("unknown command"), "{message}")
            }
            other => panic!("{other:?}"),
        }
        // Wait until this client has left before the next one identifies:
        // tmux 3.3a crashes when a control client leaves while a `tmux -C`
        // client is between its identify messages (see README).
        within("detach", client.detach()).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_picks_direct_and_says_why() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let server = TmuxServer::start();
    let client = connect(&server, TransportChoice::Auto).await;
    let info = client.info();
    assert_eq!(info.kind, TransportKind::Direct);
    let version = info.server_version.clone().unwrap();
    assert_eq!(version, common::tmux::version());
    // The header layout changed in 3.6.
    let layout = if tmux_wire::protocol::version_at_least(&version, 3, 6) {
        tmux_wire::protocol::HeaderLayout::B
    } else {
        tmux_wire::protocol::HeaderLayout::A
    };
    assert_eq!(info.layout, Some(layout));
    assert!(info.reason.contains(&version), "{}", info.reason);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_pipelined_commands_from_eight_tasks_pair_correctly() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let server = TmuxServer::start();
    let client = connect(&server, TransportChoice::Direct).await;
    let tasks: Vec<_> = (0..8)
        .map(|t| {
            let client = client.clone();
            tokio::spawn(async move {
                let mut in_flight = Vec::new();
                for i in 0..125 {
                    let client = client.clone();
                    in_flight.push(tokio::spawn(async move {
                        let tag = format!("task{t}-cmd{i}");
                        let reply = client
                            .command(["display-message", "-p", tag.as_str()])
                            .await
                            .unwrap();
                        assert_eq!(reply.output(), tag.as_bytes());
                    }));
                }
                for f in in_flight {
                    f.await.unwrap();
                }
            })
        })
        .collect();
    within("1000 commands", async {
        for t in tasks {
            t.await.unwrap();
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn window_and_session_events_arrive_typed() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let server = TmuxServer::start();
    let client = connect(&server, TransportChoice::Direct).await;
    let mut events = client.events();
    let id = within(
        "new-window",
        client.command(["new-window", "-P", "-F", "#{window_id}"]),
    )
    .await
    .unwrap();
    let window: tmux_wire::protocol::WindowId = id.parse().unwrap();
    within(
        "rename",
        client.command(["rename-window", "-t", &window.to_string(), "renamed win"]),
    )
    .await
    .unwrap();
    within(
        "rename-session",
        client.command(["rename-session", "-t", "t", "t2"]),
    )
    .await
    .unwrap();
    within(
        "kill-window",
        client.command(["kill-window", "-t", &window.to_string()]),
    )
    .await
    .unwrap();
    let (mut added, mut renamed, mut closed, mut session_renamed) = (false, false, false, false);
    within("events", async {
        while !(added && renamed && closed && session_renamed) {
            match events.recv().await.unwrap() {
                ClientEvent::Notification(Notification::WindowAdd { window: w }) if w == window => {
                    added = true
                }
                ClientEvent::Notification(Notification::WindowRenamed { window: w, name })
                    if w == window && name == "renamed win" =>
                {
                    renamed = true
                }
                // tmux up to 3.7 reports a window closed in our own session as unlinked.
                ClientEvent::Notification(
                    Notification::WindowClose { window: w }
                    | Notification::UnlinkedWindowClose { window: w },
                ) if w == window => closed = true,
                ClientEvent::Notification(Notification::SessionRenamed { name, .. })
                    if name == "t2" =>
                {
                    session_renamed = true
                }
                _ => {}
            }
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pane_output_is_byte_exact_for_all_256_byte_values() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    use tmux_wire::client::PaneEvent;
    let server = TmuxServer::start();
    let client = connect(&server, TransportChoice::Direct).await;
    let pane = active_pane(&client).await;
    let mut output = within("subscribe", client.pane_output(pane)).await.unwrap();
    // The tty would translate some bytes, so the program switches it to raw
    // mode first, then prints all 256 byte values between markers.
    let script = "stty raw -echo; printf 'START'; python3 -c 'import sys; sys.stdout.buffer.write(bytes(range(256)))'; printf 'END'; stty sane";
    type_line(&client, pane, script).await;
    let mut seen = Vec::new();
    within("output", async {
        loop {
            match output.next().await.expect("stream open") {
                PaneEvent::Output(data) => seen.extend_from_slice(&data),
                other => panic!("unexpected {other:?}"),
            }
            if let Some(start) = find(&seen, b"START\x00") {
                if find(&seen[start..], b"END").is_some() {
                    break;
                }
            }
        }
    })
    .await;
    let start = find(&seen, b"START\x00").unwrap() + 5;
    let all: Vec<u8> = (0..=255).collect();
    assert_eq!(&seen[start..start + 256], &all[..], "pane bytes differ");
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_server_mid_command_gives_errors_not_hangs() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    for choice in [TransportChoice::Direct, TransportChoice::Process] {
        let server = TmuxServer::start();
        let client = connect(&server, choice).await;
        let pane = active_pane(&client).await;
        let mut output = within("subscribe", client.pane_output(pane)).await.unwrap();
        // run-shell waits; the command after it queues behind it.
        let waiting = {
            let client = client.clone();
            tokio::spawn(async move {
                let _ = client.command(["run-shell", "sleep 30.1"]).await;
                client.command(["display-message", "-p", "never"]).await
            })
        };
        child_running(server_pid(&server), "sleep 30.1").await;
        tmux(&server, &["kill-server"]);
        let result = within("pending command", waiting).await.unwrap();
        assert!(matches!(result, Err(ClientError::Closed(_))), "{result:?}");
        let reason = within("close", client.wait_closed()).await;
        let after = within(
            "command after close",
            client.command(["display-message", "-p", "x"]),
        )
        .await;
        assert!(matches!(after, Err(ClientError::Closed(_))), "{after:?}");
        // The pane stream ends with the reason, then nothing.
        let last = within("pane stream end", async {
            loop {
                match output.next().await {
                    Some(tmux_wire::client::PaneEvent::Closed(reason)) => break reason,
                    Some(_) => continue,
                    None => panic!("stream ended without Closed"),
                }
            }
        })
        .await;
        assert_eq!(last, reason);
        assert!(within("after Closed", output.next()).await.is_none());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_of_the_server_mid_command_gives_errors_not_hangs() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let server = TmuxServer::start();
    let client = connect(&server, TransportChoice::Direct).await;
    let pid = server_pid(&server);
    let waiting = {
        let client = client.clone();
        tokio::spawn(async move {
            let _ = client.command(["run-shell", "sleep 30.2"]).await;
            client.command(["display-message", "-p", "never"]).await
        })
    };
    child_running(pid, "sleep 30.2").await;
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(pid).unwrap(),
        rustix::process::Signal::KILL,
    )
    .unwrap();
    let result = within("pending command", waiting).await.unwrap();
    match result {
        // Typed: the server is gone, not a detach or a session's end.
        Err(ClientError::Closed(reason)) => {
            assert_eq!(reason, CloseReason::Ended(Ending::ServerGone), "{reason}");
            assert!(reason.server_ended());
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_exits_after_our_client_leaves() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let server = TmuxServer::start();
    let client = connect(&server, TransportChoice::Direct).await;
    let pid = server_pid(&server);
    // kill-server from our own connection: the server must not wait for us.
    let _ = within("kill-server", client.command(["kill-server"])).await;
    within("close", client.wait_closed()).await;
    until_async("the server to exit", LIMIT, || {
        std::future::ready(
            rustix::process::test_kill_process(rustix::process::Pid::from_raw(pid).unwrap())
                .is_err()
                || is_zombie(pid),
        )
    })
    .await;
}

fn is_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            s.rsplit(')')
                .next()
                .is_some_and(|rest| rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(true)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_client_detaches_it() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let server = TmuxServer::start();
    let client = connect(&server, TransportChoice::Direct).await;
    let before = tmux(&server, &["list-clients", "-F", "#{client_name}"]);
    assert_eq!(before.lines().count(), 1, "{before}");
    drop(client);
    until_async("the client to detach", LIMIT, || {
        std::future::ready(
            tmux(&server, &["list-clients", "-F", "#{client_name}"])
                .trim()
                .is_empty(),
        )
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attaching_to_a_missing_session_is_an_error() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let server = TmuxServer::start();
    for choice in [TransportChoice::Direct, TransportChoice::Process] {
        let opts = ConnectOptions::attach("nosuch")
            .socket_path(server.socket())
            .transport(choice)
            .tmux(common::tmux::program());
        let err = within("connect", Client::connect(&opts)).await.unwrap_err();
        assert!(err.to_string().contains("can't find session"), "{err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_server_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let opts = ConnectOptions::attach("t").socket_path(dir.path().join("none"));
    let err = within("connect", Client::connect(&opts)).await.unwrap_err();
    assert!(
        err.to_string().contains("no tmux server is running"),
        "{err}"
    );
}

/// The direct transport runs no process when the server is up: a child
/// test process connects and runs a command under `strace -f -e execve`,
/// and the only exec seen is the child's own start.
#[test]
fn direct_transport_executes_no_process() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    if Command::new("strace").arg("-V").output().is_err() {
        panic!("strace is needed for this test (.ci/run installs it)");
    }
    let server = TmuxServer::start();
    let trace = server.dir().join("trace");
    let out = Command::new("strace")
        .args(["-f", "-e", "trace=execve", "-o"])
        .arg(&trace)
        .arg(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "connect_and_run_one_command",
            "--ignored",
            "--nocapture",
        ])
        .env("TMUX_WIRE_TEST_SOCKET", server.socket())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let trace = std::fs::read_to_string(&trace).unwrap();
    let execs: Vec<&str> = trace.lines().filter(|l| l.contains("execve(")).collect();
    assert_eq!(
        execs.len(),
        1,
        "only the test binary itself may be executed:\n{}",
        execs.join("\n")
    );
}

#[test]
#[ignore = "run by direct_transport_executes_no_process"]
fn connect_and_run_one_command() {
    // No version gate: its parent has one, and it must run no tmux itself.
    let socket = std::env::var_os("TMUX_WIRE_TEST_SOCKET").expect("socket");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let opts = ConnectOptions::attach("t")
            .socket_path(socket)
            .transport(TransportChoice::Direct);
        let client = Client::connect(&opts).await.unwrap();
        let reply = client
            .command(["display-message", "-p", "#{session_name}"])
            .await
            .unwrap();
        assert_eq!(reply.output(), b"t");
    });
}

/// The process transport takes any command prefix, so `ssh HOST tmux -C`
/// works; `env` stands in for ssh here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_transport_runs_behind_a_command_prefix() {
    let server = TmuxServer::start();
    let prefix: Vec<std::ffi::OsString> = vec![
        "env".into(),
        "TMUX_WIRE_VIA=env".into(),
        common::tmux::program().into(),
        "-S".into(),
        server.socket().into(),
        "-C".into(),
    ];
    let pipe =
        tmux_wire::transport::process::spawn(&prefix, &["attach-session", "-t", "t"]).unwrap();
    assert!(
        pipe.info.reason.contains("env TMUX_WIRE_VIA=env "),
        "{}",
        pipe.info.reason
    );
    let client = within("attach", Client::from_pipe(pipe)).await.unwrap();
    let reply = within(
        "command",
        client.command(["display-message", "-p", "#{client_termname}"]),
    )
    .await;
    assert!(reply.is_ok(), "{reply:?}");
}

/// A dropped process-transport client leaves no tmux -C child behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_transport_child_is_reaped_when_dropped() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let server = TmuxServer::start();
    let client = connect(&server, TransportChoice::Process).await;
    let clients = tmux(&server, &["list-clients", "-F", "#{client_pid}"]);
    let pid: i32 = clients.trim().parse().unwrap();
    drop(client);
    // Gone entirely: neither running nor a zombie waiting to be reaped.
    until_async("the child to exit", LIMIT, || {
        std::future::ready(!std::path::Path::new(&format!("/proc/{pid}")).exists())
    })
    .await;
}

/// A reader that stops reading: memory stays bounded, the stream says where
/// output was skipped (Paused ... Resumed), and output flows again once the
/// reader catches up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_pane_reader_is_bounded_and_told_about_gaps() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    use tmux_wire::client::PaneEvent;
    let server = TmuxServer::start();
    let client = connect(&server, TransportChoice::Direct).await;
    let pane = active_pane(&client).await;
    let mut output = within("subscribe", client.pane_output(pane)).await.unwrap();
    let target = pane.to_string();
    // About 50 MB: far more than a pane stream holds (1024 chunks of at most
    // a few KiB), however tmux happens to slice it.
    type_line(&client, pane, "yes 0123456789abcdef | head -c 50000000").await;
    // Do not read until the stream is full; the connection itself stays
    // responsive meanwhile, and the queue never grows past its bound.
    within("the stream to fill up", async {
        while output.queued() + 3 < output.capacity() {
            tokio::time::sleep(Duration::from_millis(50)).await;
            client
                .command(["display-message", "-p", "alive"])
                .await
                .unwrap();
            assert!(
                output.queued() <= output.capacity(),
                "queue bound exceeded: {}",
                output.queued()
            );
        }
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(output.queued() <= output.capacity());
    // Now read: the gap is announced, then output resumes.
    let (mut paused, mut resumed) = (false, false);
    within("gap markers", async {
        while !(paused && resumed) {
            match output.next().await.expect("stream open") {
                PaneEvent::Paused => paused = true,
                PaneEvent::Resumed => {
                    assert!(paused, "Resumed without Paused");
                    resumed = true;
                }
                PaneEvent::Output(_) => {}
                PaneEvent::Closed(reason) => panic!("closed: {reason}"),
            }
        }
    })
    .await;
    // From here on read everything, in a task of its own, and keep track of
    // whether output is flowing.
    #[derive(Default)]
    struct Seen {
        flowing: bool,
        tail: Vec<u8>,
    }
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Seen {
        flowing: true,
        ..Default::default()
    }));
    let reader = {
        let seen = seen.clone();
        tokio::spawn(async move {
            while let Some(event) = output.next().await {
                let mut seen = seen.lock().unwrap();
                match event {
                    PaneEvent::Output(data) => {
                        seen.tail.extend_from_slice(&data);
                        let keep = seen.tail.len().saturating_sub(4096);
                        seen.tail.drain(..keep);
                    }
                    PaneEvent::Paused => seen.flowing = false,
                    PaneEvent::Resumed => seen.flowing = true,
                    PaneEvent::Closed(_) => break,
                }
            }
        })
    };
    // Once the flood is over (the shell is in the foreground again) and
    // output flows, what the pane prints next arrives in full.
    until_async("the flood to end and output to flow", LIMIT, || {
        let (client, target, seen) = (&client, &target, &seen);
        async move {
            let cmd = client
                .command([
                    "display-message",
                    "-p",
                    "-t",
                    target,
                    "#{pane_current_command}",
                ])
                .await
                .unwrap();
            cmd.output() == b"sh" && seen.lock().unwrap().flowing
        }
    })
    .await;
    type_line(&client, pane, "echo AFTER-$((40+2))").await;
    within("marker output", async {
        while find(&seen.lock().unwrap().tail, b"AFTER-42").is_none() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    reader.abort();
}

/// Control clients coming and going while others identify must never take
/// the server down. (tmux 3.3a writes `%client-detached` to every client
/// flagged CONTROL, including one still identifying, and crashes on it; the
/// direct transport sends its flags together with IDENTIFY_DONE so no such
/// moment exists. This sequence crashed the server within ten connections
/// before that.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_churn_never_crashes_the_server() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let server = TmuxServer::start();
    let socket = server.socket().to_path_buf();
    let tasks: Vec<_> = (0..3)
        .map(|_| {
            let socket = socket.clone();
            tokio::spawn(async move {
                for _ in 0..60 {
                    let opts = ConnectOptions::attach("t")
                        .socket_path(&socket)
                        .transport(TransportChoice::Direct);
                    let client = Client::connect(&opts).await.expect("connect during churn");
                    drop(client);
                }
            })
        })
        .collect();
    within("churn", async {
        for t in tasks {
            t.await.unwrap();
        }
    })
    .await;
    assert_eq!(
        tmux(&server, &["display-message", "-p", "#{session_name}"]).trim(),
        "t",
        "the server must still be up"
    );
}

/// The version is probed once per server; a restarted server (a new socket
/// file) is probed again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_probe_is_reused_for_the_same_server_only() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let server = TmuxServer::start();
    let first = connect(&server, TransportChoice::Direct).await;
    let second = connect(&server, TransportChoice::Direct).await;
    assert!(
        second.info().reason.contains("earlier probe"),
        "{}",
        second.info().reason
    );
    drop((first, second));
    tmux(&server, &["kill-server"]);
    until_async("the old server to be gone", LIMIT, || {
        std::future::ready(
            tmux_wire::server::socket_state(server.socket()).unwrap()
                != tmux_wire::server::SocketState::Alive,
        )
    })
    .await;
    let restarted = common::tmux::command()
        .arg("-S")
        .arg(server.socket())
        .args(["-f", "/dev/null", "new-session", "-d", "-s", "t", "/bin/sh"])
        .status()
        .unwrap();
    assert!(restarted.success());
    let third = connect(&server, TransportChoice::Direct).await;
    assert!(
        third.info().reason.contains("answered the probe"),
        "{}",
        third.info().reason
    );
}

/// `detach` ends the session for every clone and says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn detach_waits_for_the_end_and_reports_it() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let server = TmuxServer::start();
    let client = connect(&server, TransportChoice::Direct).await;
    let other = client.clone();
    let reason = within("detach", client.detach()).await;
    assert!(
        matches!(reason, CloseReason::Ended(Ending::Exit { .. })),
        "{reason}"
    );
    assert!(!reason.server_ended());
    let after = within(
        "command after detach",
        other.command(["display-message", "-p", "x"]),
    )
    .await;
    assert!(matches!(after, Err(ClientError::Closed(_))), "{after:?}");
    assert!(tmux(&server, &["list-clients"]).trim().is_empty());
}

/// `auto` reaches every version: directly from 3.2 on, through `tmux -C`
/// before (the fallback); either way tmux's refusals arrive in its own
/// words. Runs on every tmux the suite is pointed at.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_reaches_every_version_and_keeps_tmux_refusals() {
    let server = TmuxServer::start();
    let once = |argv: &[&str]| {
        ConnectOptions::command(argv.iter().copied())
            .socket_path(server.socket())
            .tmux(common::tmux::program())
    };
    let version = common::tmux::version();
    let (reply, info) = within(
        "run_once",
        Client::run_once(&once(&[
            "display-message",
            "-p",
            "-t",
            "t",
            "#{session_name}",
        ])),
    )
    .await
    .unwrap();
    assert_eq!(reply.output(), b"t");
    let expected = if tmux_wire::protocol::version_at_least(version, 3, 2) {
        TransportKind::Direct
    } else {
        TransportKind::Process
    };
    assert_eq!(info.kind, expected, "{}", info.reason);
    assert_eq!(info.server_version.as_deref(), Some(version));

    // tmux cannot parse these: it writes its message on a line of its own
    // and ends the client.
    for (argv, message) in [
        (&["no-such-command"][..], "unknown command: no-such-command"),
        (&["FOO=bar"][..], "unknown command: FOO=bar"),
    ] {
        let err = within("run_once", Client::run_once(&once(argv)))
            .await
            .unwrap_err();
        match err {
            ClientError::Rejected { message: got } => assert_eq!(got, message),
            other => panic!("{argv:?}: {other:?}"),
        }
    }
    // This one runs and fails: an %error block.
    let err = within(
        "run_once",
        Client::run_once(&once(&["list-panes", "-t", "ghost"])),
    )
    .await
    .unwrap_err();
    match err {
        ClientError::Command { message, .. } => {
            assert!(message.contains("can't find"), "{message}")
        }
        other => panic!("{other:?}"),
    }
}
