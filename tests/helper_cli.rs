//! The keeper's helpers through the `tmux-wire` binary: a helper that
//! fails, or cannot even run, shows in `status`; the spellings hooks of an
//! older tmux-wire still run are accepted.

mod common;

use common::cli::{Socket, BIN};
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// `status --json` of `name` until `done` says yes (20 s at most).
fn until(s: &Socket, name: &str, done: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let status = s.json(&["status", name]);
        if done(&status) {
            return status;
        }
        assert!(Instant::now() < deadline, "not within 20 s: {status}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A `tmux-wire` that is gone when its restart hook comes
/// (removed, as an upgrade or a cleanup does): tmux's run of the helper
/// fails, and `status` says so instead of nothing; tmux shows nothing in
/// the pane.
#[test]
fn a_helper_that_cannot_run_shows_in_status() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let s = Socket::new();
    let bin = s.dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let copy = bin.join("tmux-wire");
    std::fs::copy(BIN, &copy).unwrap();
    let started = Command::new(&copy)
        .arg("-S")
        .arg(&s.path)
        .args(["--json", "start", "flaky", "--restart", "on-failure"])
        .args(["--", "sh", "-c", "read x; exit 1"])
        .env_remove("TMUX")
        .env("TMUX_WIRE_TMUX", common::tmux::program())
        .current_dir(s.dir.path())
        .output()
        .unwrap();
    assert!(started.status.success(), "{started:?}");
    std::fs::remove_file(&copy).unwrap();
    // The process fails: its restart hook runs the program that is gone.
    s.ok(&["send", "flaky", "--enter", "go"]);
    let status = until(&s, "flaky", |p| p["error"].is_string());
    let error = status["error"].as_str().unwrap();
    assert!(
        error.contains("restart-due") && error.contains("127"),
        "{status}"
    );
    let text = s.ok(&["status", "flaky"]);
    assert!(
        text.contains("error:   helper restart-due failed"),
        "{text}"
    );
    // tmux did not show the failure in a pane (view mode).
    let mode = common::tmux::command()
        .arg("-S")
        .arg(&s.path)
        .args(["display-message", "-p", "-t", "=flaky:", "#{pane_in_mode}"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&mode.stdout).trim(), "0");
}

/// A helper that runs and fails (the restart finds no spec to run again)
/// records why; `status` shows it, and the next `start` of the name starts
/// with none.
#[test]
fn a_helper_that_fails_shows_in_status_until_the_next_start() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let s = Socket::new();
    let start = "start flaky --restart on-failure --restart-delay 100ms --";
    let mut args: Vec<&str> = start.split(' ').collect();
    args.extend(["sh", "-c", "read x; exit 1"]);
    s.ok(&args);
    std::fs::remove_file(s.dir.path().join("s.logs/flaky.spec")).unwrap();
    s.ok(&["send", "flaky", "--enter", "go"]);
    let status = until(&s, "flaky", |p| p["error"].is_string());
    let error = status["error"].as_str().unwrap();
    assert!(
        error.starts_with("restart: reading") && error.contains("flaky.spec"),
        "{status}"
    );
    s.ok(&["start", "flaky", "--", "sleep", "300"]);
    let status = s.json(&["status", "flaky"]);
    assert!(status.get("error").is_none(), "{status}");
}

/// The log writer as an older tmux-wire's `pipe-pane` runs it
/// (`tmux-wire [-S SOCKET] log-sink ...`), and as the helper format does.
#[test]
fn log_sink_spellings_old_and_new_write_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("old.log");
    let new = dir.path().join("new.log");
    let spellings: [(&std::path::Path, Vec<&str>); 2] = [
        (&old, vec!["-S", "/nonexistent/s", "log-sink"]),
        (
            &new,
            vec![
                "__tmux-wire-helper",
                "1",
                "-S",
                "/nonexistent/s",
                "log-sink",
            ],
        ),
    ];
    for (log, args) in spellings {
        let mut sink = Command::new(BIN)
            .args(args)
            .args(["--max-bytes", "1000", "--keep", "1"])
            .arg(log)
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        sink.stdin.take().unwrap().write_all(b"hello\n").unwrap();
        assert!(sink.wait().unwrap().success());
        assert_eq!(std::fs::read_to_string(log).unwrap(), "hello\n");
    }
    // Another format is refused, and `hello` answers with its own.
    let other = Command::new(BIN)
        .args(["__tmux-wire-helper", "999", "restart-due", "x"])
        .output()
        .unwrap();
    assert!(!other.status.success());
    assert!(String::from_utf8_lossy(&other.stderr).contains("format 1, not 999"));
    let hello = Command::new(BIN)
        .args(["__tmux-wire-helper", "1", "hello"])
        .output()
        .unwrap();
    assert!(hello.status.success());
    assert_eq!(
        String::from_utf8_lossy(&hello.stdout),
        "tmux-wire-helper 1\n"
    );
}
