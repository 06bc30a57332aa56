//! The keeper as a Rust program uses it: a handle for a kept process
//! ([`KeptProcess`]) and what it does, against a real tmux server on a
//! private socket in a temp dir (killed on drop). The server is started
//! with `-v`, so its log names every connection it accepts: the count of
//! what a handle's operations open.

mod common;

use regex::Regex;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tmux_wire::keeper::{
    ExecOutcome, FailureKind, Input, Keeper, KeeperError, KeptProcess, LifecycleEvent, LineForm,
    OnServerGone, ReadFrom, RestartPolicy, RestartWhen, StartSpec, State, Stopped, WaitFrom,
};
use tmux_wire::server::SocketSpec;
use tmux_wire::watch::ExitStatus;

/// No wait in these tests lasts longer: a hang is a failure.
const LIMIT: Duration = Duration::from_secs(30);

/// A tmux server (with a session `t`) whose log, in its temp dir, says
/// each connection it accepts.
struct Server {
    dir: tempfile::TempDir,
    socket: PathBuf,
}

impl Server {
    fn start() -> Server {
        let dir = tempfile::Builder::new()
            .prefix("tmux-wire-api")
            .tempdir()
            .unwrap();
        let socket = dir.path().join("sock");
        // `-v`: the server writes tmux-server-PID.log in its directory.
        // No configuration: the keeper's commands run as they do on the
        // server it starts itself (a `default-shell` of `/bin/sh` would
        // put a `sh -c` that does not exec in front of each).
        let status = common::tmux::command()
            .arg("-v")
            .arg("-S")
            .arg(&socket)
            .args(["-f", "/dev/null", "new-session", "-d", "-s", "t"])
            .current_dir(dir.path())
            .env_remove("ENV")
            .status()
            .unwrap();
        assert!(status.success(), "starting tmux failed: {status}");
        Server { dir, socket }
    }

    /// A keeper on this server whose helpers are the built binary.
    fn keeper(&self) -> Keeper {
        Keeper::new(&SocketSpec::Path(self.socket.clone()))
            .unwrap()
            .helper_program(env!("CARGO_BIN_EXE_tmux-wire"))
    }

    /// How many connections the server has accepted so far.
    fn connections(&self) -> usize {
        server_log(self.dir.path())
            .map(|text| text.matches(" new client ").count())
            .unwrap_or(0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = common::tmux::command()
            .arg("-S")
            .arg(&self.socket)
            .arg("kill-server")
            .stderr(std::process::Stdio::null())
            .status();
    }
}

/// The text of the server's log in `dir`.
fn server_log(dir: &Path) -> Option<String> {
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .find(|e| e.file_name().to_string_lossy().starts_with("tmux-server-"))
        .and_then(|e| std::fs::read_to_string(e.path()).ok())
}

fn re(pattern: &str) -> Regex {
    Regex::new(pattern).unwrap()
}

fn argv(words: &[&str]) -> Vec<OsString> {
    words.iter().map(OsString::from).collect()
}

/// `sh1`: a POSIX shell kept by `keeper`, and a handle for it once it
/// shows its prompt.
async fn shell(keeper: &Keeper) -> KeptProcess {
    let spec = StartSpec::default().ready(re(r"^[$#] $")).timeout(LIMIT);
    let started = keeper.start("sh1", &argv(&["sh"]), &spec).await.unwrap();
    assert!(!started.already_running);
    keeper.process("sh1").await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handle_sends_waits_polls_execs_and_stops() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let server = Server::start();
    let keeper = server.keeper();
    let sh = shell(&keeper).await;
    assert_eq!(sh.name(), "sh1");
    let status = sh.status().await.unwrap();
    assert!(
        matches!(status.state, State::Running | State::Idle),
        "{status:?}"
    );
    assert_eq!(status.pane, sh.pane().to_string());

    // Send, then wait for what it prints after the input (its echo, which
    // holds the pattern's text too, does not count).
    sh.send(&Input::text("echo hello-$((6*7))").enter())
        .await
        .unwrap();
    let found = sh
        .wait_ready(&re("^hello-42$"), WaitFrom::LastInput, LIMIT)
        .await
        .unwrap();
    assert_eq!(found.matched, "hello-42");

    // Poll from the start of the run, then from its cursor: only what
    // came after it.
    let first = sh
        .read_output(&ReadFrom::RunStart, LineForm::Rendered)
        .await
        .unwrap();
    assert!(first.lines.iter().any(|l| l == "hello-42"), "{first:?}");
    assert_eq!(first.exit, None);
    let cursor = first.cursor.parse().unwrap();
    let found = sh
        .send_then_ready(
            &Input::text("echo second-$((1+1))").enter(),
            &re("^second-2$"),
            LIMIT,
        )
        .await
        .unwrap();
    assert_eq!(found.matched, "second-2");
    let next = sh
        .read_output(&ReadFrom::Cursor(cursor), LineForm::Rendered)
        .await
        .unwrap();
    assert!(next.lines.iter().any(|l| l == "second-2"), "{next:?}");
    assert!(!next.lines.iter().any(|l| l == "hello-42"), "{next:?}");

    // A command line in the shell: its output and status.
    let done = sh.exec("printf 'a\\nb\\n'; false", LIMIT).await.unwrap();
    assert_eq!(done.lines, ["a", "b"]);
    assert_eq!((done.code, done.outcome), (1, ExecOutcome::Finished));

    // Its end, then the stop that finds it ended; then the name is gone.
    sh.send(&Input::text("exit 3").enter()).await.unwrap();
    assert_eq!(sh.wait_exit(LIMIT).await.unwrap(), ExitStatus::Exited(3));
    let report = sh.stop(Duration::from_secs(5)).await.unwrap();
    assert_eq!(
        report.stopped,
        Stopped::AlreadyExited {
            status: ExitStatus::Exited(3)
        }
    );
    match keeper.process("sh1").await {
        Err(KeeperError::NotFound { name, known }) => {
            assert_eq!(name, "sh1");
            assert_eq!(known, ["t"]);
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_name_has_no_handle() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let server = Server::start();
    let keeper = server.keeper();
    match keeper.process("nope").await {
        Err(KeeperError::NotFound { name, known }) => {
            assert_eq!(name, "nope");
            assert_eq!(known, ["t"]);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        keeper.process("a:b").await,
        Err(KeeperError::BadName { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handle_works_through_its_one_connection() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let server = Server::start();
    let keeper = server.keeper();
    let sh = shell(&keeper).await;
    let before = server.connections();
    assert!(before > 0, "the server's log names no connection");

    let done = sh.exec("echo via-exec", LIMIT).await.unwrap();
    assert_eq!(done.lines, ["via-exec"]);
    sh.send(&Input::text("echo via-send").enter())
        .await
        .unwrap();
    sh.wait_ready(&re("^via-send$"), WaitFrom::LastInput, LIMIT)
        .await
        .unwrap();
    let status = sh.status().await.unwrap();
    assert!(matches!(status.state, State::Running | State::Idle));
    let read = sh
        .read_output(&ReadFrom::RunStart, LineForm::Rendered)
        .await
        .unwrap();
    assert!(read.lines.iter().any(|l| l == "via-send"));
    assert_eq!(
        server.connections(),
        before,
        "exec, send, wait, status and read opened connections of their own"
    );

    // The count does see a connection: a new handle opens one (and looks
    // at the server and its version first).
    let again = keeper.process("sh1").await.unwrap();
    assert!(server.connections() > before);
    drop(again);
}

/// What `tmux ARGS` prints on the test's server.
fn tmux_out(server: &Server, args: &[&str]) -> String {
    let out = common::tmux::command()
        .arg("-S")
        .arg(&server.socket)
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "tmux {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The lines of the server's global hooks and options that are tmux-wire's.
fn ours(server: &Server) -> Vec<String> {
    [
        &["show-hooks", "-g"][..],
        &["show-hooks", "-gw"],
        &["show-options", "-g"],
        &["show-options", "-gw"],
        &["show-options", "-s"],
    ]
    .iter()
    .flat_map(|args| {
        tmux_out(server, args)
            .lines()
            .filter(|l| l.contains("tmux-wire") || l.contains("[4242]") || l.contains("[4243]"))
            .map(str::to_string)
            .collect::<Vec<_>>()
    })
    .collect()
}

/// The next event of `events` about `name`, within [`LIMIT`].
async fn next_about(
    events: &mut tokio::sync::mpsc::UnboundedReceiver<Result<LifecycleEvent, KeeperError>>,
    name: &str,
) -> LifecycleEvent {
    tokio::time::timeout(LIMIT, async {
        loop {
            let event = events.recv().await.unwrap().unwrap();
            let about = match &event {
                LifecycleEvent::Started { name, .. }
                | LifecycleEvent::Exited { name, .. }
                | LifecycleEvent::Gone { name } => name.clone(),
                _ => continue,
            };
            if about == name {
                return event;
            }
        }
    })
    .await
    .expect("no event in time")
}

/// Until an event stream's hooks are set (polled: nothing tells).
async fn until_hooks(server: &Server) {
    let deadline = tokio::time::Instant::now() + LIMIT;
    while !tmux_out(server, &["show-hooks", "-g", "session-created"]).contains("tmux-wire-events") {
        assert!(tokio::time::Instant::now() < deadline, "no hooks in time");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_left_with_no_kept_process_carries_nothing_of_ours() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let server = Server::start();
    let keeper = server.keeper();
    // An event stream (its global hooks and count), a restart policy (its
    // session hooks) and a time limit, an exit wait (its global entry).
    let mut events = keeper.event_stream(OnServerGone::Stop);
    until_hooks(&server).await;
    let policy = StartSpec::default()
        .restart(RestartPolicy::new(
            RestartWhen::OnFailure,
            1,
            Duration::from_millis(100),
        ))
        .kill_after(Duration::from_secs(600));
    keeper
        .start("kept", &argv(&["sleep", "600"]), &policy)
        .await
        .unwrap();
    assert!(matches!(
        next_about(&mut events, "kept").await,
        LifecycleEvent::Started { .. }
    ));
    keeper
        .start(
            "brief",
            &argv(&["sh", "-c", "exit 4"]),
            &StartSpec::default(),
        )
        .await
        .unwrap();
    let brief = keeper.process("brief").await.unwrap();
    // No time limit: it waits as long as it takes.
    assert_eq!(brief.wait_exit(None).await.unwrap(), ExitStatus::Exited(4));
    assert!(!ours(&server).is_empty(), "nothing installed?");
    drop(events);
    // While a kept process remains, its machinery stays.
    keeper.stop("brief", Duration::from_secs(5)).await.unwrap();
    let left = ours(&server);
    assert!(
        left.iter().any(|l| l.starts_with("pane-died[4242]")),
        "{left:?}"
    );
    keeper.stop("kept", Duration::from_secs(5)).await.unwrap();
    assert_eq!(ours(&server), Vec::<String>::new());
    // The session that is not the keeper's is still there.
    assert_eq!(
        tmux_out(&server, &["list-sessions", "-F", "#S"]).trim(),
        "t"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_outlives_the_end_of_another_and_the_removal_of_its_hooks() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let server = Server::start();
    let keeper = server.keeper();
    // Each stream under way (its hooks set): the first one's removed by
    // hand before the second begins (the first sets them again too).
    let mut first = keeper.event_stream(OnServerGone::Stop);
    until_hooks(&server).await;
    tmux_out(&server, &["set-hook", "-gu", "session-created[4243]"]);
    let mut second = keeper.event_stream(OnServerGone::Stop);
    until_hooks(&server).await;
    keeper
        .start("x", &argv(&["sleep", "600"]), &StartSpec::default())
        .await
        .unwrap();
    for events in [&mut first, &mut second] {
        assert!(matches!(
            next_about(events, "x").await,
            LifecycleEvent::Started { .. }
        ));
    }
    // One stream ends; the last kept process is stopped: the hooks go.
    drop(first);
    keeper.stop("x", Duration::from_secs(5)).await.unwrap();
    assert!(matches!(
        next_about(&mut second, "x").await,
        LifecycleEvent::Exited { .. }
    ));
    assert!(matches!(
        next_about(&mut second, "x").await,
        LifecycleEvent::Gone { .. }
    ));
    // The other stream still tells a start and an exit.
    keeper
        .start(
            "y",
            &argv(&["sh", "-c", "read line; exit 3"]),
            &StartSpec::default(),
        )
        .await
        .unwrap();
    assert!(matches!(
        next_about(&mut second, "y").await,
        LifecycleEvent::Started { .. }
    ));
    let y = keeper.process("y").await.unwrap();
    y.send(&Input::text("go").enter()).await.unwrap();
    assert!(matches!(
        next_about(&mut second, "y").await,
        LifecycleEvent::Exited { code: 3, .. }
    ));
    drop(y);
    drop(second);
    keeper.stop("y", Duration::from_secs(5)).await.unwrap();
    assert_eq!(ours(&server), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_of_a_newer_tmux_wire_are_refused_and_older_ones_read() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let server = Server::start();
    let keeper = server.keeper();
    keeper
        .start("r", &argv(&["sleep", "600"]), &StartSpec::default())
        .await
        .unwrap();
    let set = |value: Option<&str>| {
        let mut args = vec!["set-option", "-t", "=r:"];
        match value {
            Some(v) => args.extend(["@tmux-wire-record", v]),
            None => args.extend(["-u", "@tmux-wire-record"]),
        }
        tmux_out(&server, &args);
    };
    assert_eq!(
        tmux_out(
            &server,
            &["show-options", "-t", "=r:", "-v", "@tmux-wire-record"]
        )
        .trim(),
        "1"
    );
    // Started by a tmux-wire from before versions: read as it was.
    set(None);
    let status = keeper.status("r").await.unwrap();
    assert!(
        status.log.is_some() && status.run_start.is_some(),
        "{status:?}"
    );
    // Started by a newer one: refused, and saying so.
    set(Some("2"));
    let e = keeper.status("r").await.unwrap_err();
    assert_eq!(e.kind(), FailureKind::Version, "{e}");
    assert!(e.to_string().contains("newer tmux-wire"), "{e}");
    let refused = match keeper.process("r").await {
        Err(e) => e,
        Ok(r) => r.send(&Input::text("x")).await.unwrap_err(),
    };
    assert_eq!(refused.kind(), FailureKind::Version, "{refused}");
    set(Some("1"));
    keeper.stop("r", Duration::from_secs(5)).await.unwrap();
}

/// A log writer slow to start (a loaded machine: the writer is a process
/// tmux starts, and it makes its sync channel once it runs) is waited for:
/// a run that ended meanwhile is answered with all it printed, or with an
/// error that says the log may be short, never with less than it printed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_writer_slow_to_start_is_waited_for_not_guessed() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let server = Server::start();
    // The helper, with the log writer's start held back past the time a
    // start waits for it to listen (5 s).
    let slow = server.dir.path().join("slow-helper");
    std::fs::write(
        &slow,
        format!(
            "#!/bin/sh\n[ \"$5\" = log-sink ] && sleep 6\nexec '{}' \"$@\"\n",
            env!("CARGO_BIN_EXE_tmux-wire")
        ),
    )
    .unwrap();
    std::fs::set_permissions(&slow, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let keeper = server.keeper().helper_program(&slow);
    keeper
        .start(
            "quick",
            &argv(&["sh", "-c", "echo one; echo two; exit 3"]),
            &StartSpec::default(),
        )
        .await
        .unwrap();
    let quick = keeper.process("quick").await.unwrap();
    match quick.outcome_within(LIMIT, 20).await {
        Ok(outcome) => {
            assert_eq!(outcome.exit, Some(ExitStatus::Exited(3)));
            assert_eq!(outcome.output.lines, ["one", "two"], "{outcome:?}");
        }
        Err(e) => assert!(matches!(e, KeeperError::LogWriter { .. }), "{e}"),
    }
}

/// The stream's last event says how the server went, typed: a server
/// told to end (`kill-server`) is the server's end (its shutdown, or its
/// socket closing under the look), not a detach or a closed stream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_told_to_end_is_reported_as_the_servers_end() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let server = Server::start();
    let keeper = server.keeper();
    let mut events = keeper.event_stream(OnServerGone::Stop);
    until_hooks(&server).await;
    tmux_out(&server, &["kill-server"]);
    let gone = tokio::time::timeout(LIMIT, async {
        loop {
            match events.recv().await {
                Some(Ok(LifecycleEvent::ServerGone { reason, ending })) => break (reason, ending),
                Some(Ok(_)) => {}
                other => panic!("the stream ended without server_gone: {other:?}"),
            }
        }
    })
    .await
    .expect("no server_gone in time");
    assert!(gone.1.server_ended(), "{gone:?}");
}
