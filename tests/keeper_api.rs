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
    ExecOutcome, Input, Keeper, KeeperError, KeptProcess, ReadFrom, StartSpec, State, Stopped,
    WaitFrom,
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
    let first = sh.read_output(&ReadFrom::RunStart, false).await.unwrap();
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
        .read_output(&ReadFrom::Cursor(cursor), false)
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
    let read = sh.read_output(&ReadFrom::RunStart, false).await.unwrap();
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
