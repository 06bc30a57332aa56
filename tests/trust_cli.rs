//! What an agent relies on, through the real binary on private sockets:
//! waits that never answer with stale text or the echo of what was typed,
//! logs that read as the screen did and lose nothing, and nothing of the
//! user's harmed.

mod common;

use common::cli::Socket;
use common::wait::until;
use std::io::{BufRead, Read};
use std::process::Stdio;
use std::time::Duration;

/// No wait in these tests lasts longer: a hang is a failure.
const LIMIT: Duration = Duration::from_secs(30);

fn lines_of(doc: &serde_json::Value) -> Vec<String> {
    doc["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap().to_string())
        .collect()
}

/// The output lines of a log, without the marks that begin each run.
fn output_lines(s: &Socket, name: &str) -> Vec<String> {
    lines_of(&s.json(&["logs", name, "-n", "100000"]))
        .into_iter()
        .filter(|l| !l.starts_with("--- tmux-wire: run of"))
        .collect()
}

#[test]
fn a_wait_after_send_is_not_satisfied_by_the_echo_or_older_output() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let s = Socket::new();
    s.ok(&["start", "sh1", "--", "sh"]);
    s.ok(&[
        "send",
        "sh1",
        "--enter",
        "for i in $(seq 1 30); do echo v $i; done",
    ]);
    s.ok(&["wait", "sh1", "--ready", "^v 30$"]);

    // The typed line holds DONE-2, and so will the output, 2 s later.
    s.ok(&["send", "sh1", "--enter", "sleep 2; echo DONE-2"]);
    let found = s.json(&["wait", "sh1", "--ready", "DONE-2"]);
    assert_eq!(found["matched"], "DONE-2");
    // It answered for the output: the output is there.
    let lines = output_lines(&s, "sh1");
    assert!(lines.iter().any(|l| l == "DONE-2"), "{lines:?}");

    // `v 20` was printed long before this send; only the new one counts.
    s.ok(&["send", "sh1", "--enter", "sleep 1; echo v 20"]);
    s.ok(&["wait", "sh1", "--ready", "^v 20$"]);
    let lines = output_lines(&s, "sh1");
    assert_eq!(
        lines.iter().filter(|l| *l == "v 20").count(),
        2,
        "{lines:?}"
    );

    // In one call: armed, typed, waited; the echo never matches.
    let found = s.json(&[
        "send",
        "sh1",
        "--enter",
        "sleep 1; echo RESULT-$((6*7))",
        "--then-ready",
        r"RESULT-\S+",
    ]);
    assert_eq!(found["then"]["matched"], "RESULT-42", "{found}");

    // --from start reads the whole run; --from now only what comes next.
    let found = s.json(&["wait", "sh1", "--ready", "^v 1$", "--from", "start"]);
    assert_eq!(found["matched"], "v 1");
    let out = s.run(&[
        "wait",
        "sh1",
        "--ready",
        "^v 1$",
        "--from",
        "now",
        "--timeout",
        "1s",
    ]);
    assert_eq!(out.status.code(), Some(124));
}

#[test]
fn anchors_work_per_line_as_in_grep() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let s = Socket::new();
    s.ok(&["start", "py", "--", "python3", "-i", "-q"]);
    // The idle prompt, with its trailing space and nothing after it.
    let found = s.json(&["wait", "py", "--ready", ">>> $", "--timeout", "20s"]);
    assert_eq!(found["matched"], ">>> ");
    let found = s.json(&["wait", "py", "--ready", r">>>\s*$", "--timeout", "20s"]);
    assert_eq!(found["matched"], ">>> ", "no blank rows below the prompt");
    let found = s.json(&[
        "send",
        "py",
        "--enter",
        "print('all ' + 'done')",
        "--then-ready",
        "done$",
    ]);
    assert_eq!(found["then"]["matched"], "done");
    let found = s.json(&[
        "send",
        "py",
        "--enter",
        "print('y' * 3 + '!')",
        "--then-ready",
        "^yyy",
    ]);
    assert_eq!(found["then"]["matched"], "yyy");
}

#[test]
fn logs_read_as_the_screen_did() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let s = Socket::new();
    s.ok(&[
        "start",
        "crlf",
        "--",
        "printf",
        r"one\r\ntwo\r\nthree\rTHREE\r\nfour\n",
    ]);
    s.ok(&["wait", "crlf", "--exit"]);
    assert_eq!(output_lines(&s, "crlf"), ["one", "two", "THREE", "four"]);
    let text = s.ok(&["logs", "crlf"]);
    assert!(text.ends_with("one\ntwo\nTHREE\nfour\n"), "{text:?}");
    // Any count, the largest too.
    let all = s.json(&["logs", "crlf", "-n", "18446744073709551615"]);
    assert_eq!(lines_of(&all).len(), 5);

    // A second run of the name: each run begins with its mark, in the
    // rendered and the raw log alike.
    s.ok(&["start", "crlf", "--", "sh", "-c", "echo again"]);
    s.ok(&["wait", "crlf", "--exit"]);
    for raw in [false, true] {
        let mut args = vec!["logs", "crlf"];
        if raw {
            args.push("--raw");
        }
        let lines = lines_of(&s.json(&args));
        let marks: Vec<&String> = lines
            .iter()
            .filter(|l| l.starts_with("--- tmux-wire: run of "))
            .collect();
        assert_eq!(marks.len(), 2, "{lines:?}");
        assert!(
            marks[0].contains("printf") && marks[1].contains("sh -c"),
            "{marks:?}"
        );
        assert!(marks[1].contains(" UTC ---"), "{marks:?}");
        assert_eq!(lines.last().unwrap(), "again");
    }
}

/// A flood through a follower that is stopped for a while: every line
/// arrives, once, in order, and the follower says how the process ended.
#[test]
fn logs_follow_loses_nothing_under_a_flood() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let s = Socket::new();
    const N: u32 = 1_500_000;
    s.ok(&[
        "start",
        "seqi",
        "--",
        "sh",
        "-c",
        &format!("read go; seq 1 {N}; echo SEQ-END; read stop"),
    ]);
    let mut follower = s
        .cmd(&["logs", "seqi", "-n", "1", "--follow"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = rustix::process::Pid::from_raw(follower.id() as i32).unwrap();
    let stdout = follower.stdout.take().unwrap();
    let mut lines = std::io::BufReader::new(stdout).lines();
    // Its first line (the mark of the run) says it is following.
    let first = lines.next().unwrap().unwrap();
    assert!(first.starts_with("--- tmux-wire: run of"), "{first}");
    let (all_read, all_read_rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut expected = 1u32;
        // Only the echo of what is typed may come before the numbers.
        for line in lines.by_ref() {
            let line = line.unwrap();
            if line == "1" {
                break;
            }
        }
        for line in lines.by_ref() {
            let line = line.unwrap();
            expected += 1;
            if expected > N {
                assert_eq!(line, "SEQ-END");
                break;
            }
            assert_eq!(line, expected.to_string(), "lines lost or repeated");
        }
        let _ = all_read.send(expected);
        // Read to the end: a follower whose reader went away stops quietly.
        lines.for_each(drop);
        expected
    });
    s.ok(&["send", "seqi", "--enter", "go"]);
    // Stop the follower while the flood goes on, then let it go on.
    rustix::process::kill_process(pid, rustix::process::Signal::STOP).unwrap();
    s.ok(&["wait", "seqi", "--ready", "^SEQ-END$", "--timeout", "120s"]);
    rustix::process::kill_process(pid, rustix::process::Signal::CONT).unwrap();
    let seen = all_read_rx
        .recv_timeout(std::time::Duration::from_secs(120))
        .unwrap_or(0);
    assert_eq!(seen, N + 1, "the follower stopped before the end");
    // Memory stayed flat: the peak resident size of the follower.
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let peak_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    assert!(peak_kib < 32 * 1024, "the follower grew to {peak_kib} KiB");
    s.ok(&["send", "seqi", "--enter", "stop"]);
    assert_eq!(reader.join().unwrap(), N + 1);
    let status = follower.wait().unwrap();
    let mut err = String::new();
    follower
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(status.success(), "{err}");
    assert!(err.contains("seqi exited with code 0"), "{err}");
}

/// Whether `pid` holds a pidfd (a wait watching a process's exit
/// locally has armed).
fn holds_a_pidfd(pid: u32) -> bool {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .into_iter()
        .flatten()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .any(|target| target.to_string_lossy().contains("pidfd"))
}

/// A server killed with SIGKILL takes the pane's process with it (SIGHUP,
/// when its terminal closes), and the kernel may report that death before
/// the connection's end: the follower still reports the server's death,
/// never the process's SIGHUP as its exit with status 0. Several rounds,
/// each with the exit watch armed, so the race shows.
#[test]
fn logs_follow_fails_when_the_server_goes_away() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    // Killed (SIGKILL), ended (SIGTERM), and told to end (kill-server):
    // each closes the pane's terminal, so its process dies of SIGHUP.
    for round in 0..18 {
        let s = Socket::new();
        s.ok(&["start", "quiet", "--", "sleep", "300"]);
        let server: i32 = s
            .ok(&["cmd", "display-message", "-p", "#{pid}"])
            .trim()
            .parse()
            .unwrap();
        let mut follower = s
            .cmd(&["--json", "logs", "quiet", "--follow"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = std::io::BufReader::new(follower.stdout.take().unwrap());
        let mut first = String::new();
        stdout.read_line(&mut first).unwrap();
        assert!(first.contains("run of sleep 300"), "{first}");
        // The exit watch is armed once the follower holds the pidfd of the
        // pane's process (where the local view is had at all).
        common::wait::held_within(Duration::from_secs(5), || holds_a_pidfd(follower.id()));
        let server = rustix::process::Pid::from_raw(server).unwrap();
        match round % 3 {
            0 => rustix::process::kill_process(server, rustix::process::Signal::KILL).unwrap(),
            1 => rustix::process::kill_process(server, rustix::process::Signal::TERM).unwrap(),
            _ => {
                common::tmux::command()
                    .arg("-S")
                    .arg(&s.path)
                    .arg("kill-server")
                    .status()
                    .unwrap();
            }
        }
        let status = follower.wait().unwrap();
        let mut rest = String::new();
        stdout.read_to_string(&mut rest).unwrap();
        let mut err = String::new();
        follower
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        assert_eq!(status.code(), Some(1), "round {round}: {rest}{err}");
        let end: serde_json::Value = serde_json::from_str(rest.lines().last().unwrap()).unwrap();
        assert!(
            end["error"].as_str().unwrap().contains("server went away"),
            "round {round}: {end}"
        );
        assert!(!rest.contains("SIGHUP"), "round {round}: {rest}");
    }
}

/// A session killed while the server lives on is the process's end (its
/// SIGHUP, or its pane gone with the session), not the server's: the
/// follower says so and exits 0.
#[test]
fn logs_follow_reports_a_killed_session_as_the_process_end() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    for round in 0..6 {
        let s = Socket::new();
        s.ok(&["start", "quiet", "--", "sleep", "300"]);
        let mut follower = s
            .cmd(&["--json", "logs", "quiet", "--follow"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = std::io::BufReader::new(follower.stdout.take().unwrap());
        let mut first = String::new();
        stdout.read_line(&mut first).unwrap();
        assert!(first.contains("run of sleep 300"), "{first}");
        common::wait::held_within(Duration::from_secs(5), || holds_a_pidfd(follower.id()));
        s.ok(&["cmd", "kill-session", "-t", "quiet"]);
        let status = follower.wait().unwrap();
        let mut rest = String::new();
        stdout.read_to_string(&mut rest).unwrap();
        assert!(status.success(), "round {round}: {rest}");
        let end: serde_json::Value = serde_json::from_str(rest.lines().last().unwrap()).unwrap();
        assert!(
            end["code"] == 129 || end["type"] == "gone" && end["reason"].is_string(),
            "round {round}: {rest}"
        );
    }
}

#[test]
fn nothing_the_user_owns_is_harmed() {
    use std::os::unix::fs::PermissionsExt;
    let s = Socket::new();
    // A regular file at the socket path is neither used nor removed.
    let precious = s.dir.path().join("f");
    std::fs::write(&precious, "precious\n").unwrap();
    let at = |path: &std::path::Path, args: &[&str]| {
        std::process::Command::new(common::cli::BIN)
            .arg("-S")
            .arg(path)
            .args(args)
            .env("TMUX_WIRE_TMUX", common::tmux::program())
            .env_remove("TMUX")
            .output()
            .unwrap()
    };
    for args in [&["clean"][..], &["ls"], &["start", "x", "--", "true"]] {
        let out = at(&precious, args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("is not a socket"), "{args:?}: {err}");
        assert!(!err.contains("clean"), "{args:?}: {err}");
    }
    assert_eq!(std::fs::read_to_string(&precious).unwrap(), "precious\n");

    // A symbolic link to a live server's socket is not followed.
    if common::tmux::supports(3, 2, common::tmux::KEEPER_NEEDS) {
        s.ok(&["start", "live", "--", "sleep", "300"]);
        let link = s.dir.path().join("link");
        std::os::unix::fs::symlink(&s.path, &link).unwrap();
        for args in [&["ls"][..], &["status", "live"]] {
            let out = at(&link, args);
            assert_eq!(out.status.code(), Some(1), "{args:?}");
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.contains("symbolic link"), "{args:?}: {err}");
        }
    }

    // A socket directory that does not exist: start makes it private, the
    // others say it is missing.
    let missing = s.dir.path().join("new/dir/sock");
    let out = at(&missing, &["ls"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not exist"));
    if common::tmux::supports(3, 2, common::tmux::KEEPER_NEEDS) {
        assert!(at(&missing, &["start", "m", "--", "sleep", "300"])
            .status
            .success());
        let mode = std::fs::metadata(missing.parent().unwrap())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
        let _ = common::tmux::command()
            .arg("-S")
            .arg(&missing)
            .arg("kill-server")
            .status();
    }

    // --cwd must be a directory.
    let out = s.run(&[
        "start",
        "c",
        "--cwd",
        precious.to_str().unwrap(),
        "--",
        "true",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a directory"));
}

#[test]
fn planted_logs_are_refused() {
    use std::os::unix::fs::PermissionsExt;
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let s = Socket::new();
    let victim = s.dir.path().join("victim");
    std::fs::write(&victim, "precious\n").unwrap();
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o600)).unwrap();
    let logs = s.dir.path().join("s.logs");
    // A log directory others may write to.
    std::fs::create_dir(&logs).unwrap();
    std::fs::set_permissions(&logs, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = s.run(&["start", "web", "--", "echo", "secret"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unsafe"));
    // A log that is a link to someone's file.
    std::fs::set_permissions(&logs, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::os::unix::fs::symlink(&victim, logs.join("web.log")).unwrap();
    let out = s.run(&["start", "web", "--", "echo", "secret"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("symbolic link"));
    // A log others may read.
    std::fs::remove_file(logs.join("web.log")).unwrap();
    std::fs::write(logs.join("web.log"), "").unwrap();
    std::fs::set_permissions(logs.join("web.log"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = s.run(&["start", "web", "--", "echo", "secret"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("644"));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    let listed = s.json(&["ls"]);
    assert_eq!(listed["processes"], serde_json::json!([]), "{listed}");
}

#[test]
fn every_outcome_is_reported() {
    use std::os::unix::fs::PermissionsExt;
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let s = Socket::new();
    // A command that cannot run: the shell's codes, nothing created.
    let out = s.run(&["start", "x", "--", "no-such-cmd", "arg1"]);
    assert_eq!(out.status.code(), Some(127));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-cmd: command not found"));
    let plain = s.dir.path().join("plain");
    std::fs::write(&plain, "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(&plain, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = s.run(&["start", "x", "--", "./plain"]);
    assert_eq!(out.status.code(), Some(126));
    assert_eq!(s.json(&["ls"])["processes"], serde_json::json!([]));

    // A variable with a newline is passed as it is.
    s.ok(&[
        "start",
        "env",
        "--env",
        "Q=line1\nline2",
        "--",
        "sh",
        "-c",
        "printf '<%s>\\n' \"$Q\"; sleep 300",
    ]);
    s.ok(&["wait", "env", "--ready", r"^line2>$", "--from", "start"]);
    let lines = output_lines(&s, "env");
    assert_eq!(lines[..2], ["<line1", "line2>"], "{lines:?}");

    // Unknown keys are refused, with the names meant.
    for (key, meant) in [("NotAKey", "keys are"), ("Entre", "Enter"), ("C-cc", "C-c")] {
        let out = s.run(&["keys", "env", key]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{key}: {err}");
        assert!(
            err.contains("unknown key") && err.contains(meant),
            "{key}: {err}"
        );
    }

    // A running name asked to run another command: said, not changed.
    let again = s.json(&["start", "env", "--", "sleep", "1"]);
    assert_eq!(again["already_running"], true);
    assert_eq!(again["requested_command"], "sleep 1");
    let text = s.ok(&["start", "env", "--", "sleep", "1"]);
    assert!(text.contains("another command"), "{text}");

    // --ready that times out: the process is kept, and that is said.
    let out = s.run(&[
        "start",
        "slow",
        "--ready",
        "never",
        "--timeout",
        "1s",
        "--",
        "sleep",
        "300",
    ]);
    assert_eq!(out.status.code(), Some(124));
    assert!(String::from_utf8_lossy(&out.stderr).contains("still running"));
    assert_eq!(s.json(&["status", "slow"])["state"], "running");

    // Typing into a process that has ended is an error.
    s.ok(&["start", "done", "--", "true"]);
    s.ok(&["wait", "done", "--exit"]);
    let out = s.run(&["send", "done", "hello"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not running"));

    // `wait` needs to know what for: a usage error.
    assert_eq!(s.run(&["wait", "slow"]).status.code(), Some(2));
}

#[test]
fn a_start_killed_halfway_does_not_block_the_name() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let s = Socket::new();
    // What a start killed right after creating the session leaves: its
    // placeholder, with a starter that no longer exists.
    s.ok(&["start", "other", "--", "sleep", "300"]);
    s.recipe(
        "half",
        &[
            "sh",
            "-c",
            "exec sleep 2147483647",
            "tmux-wire-starting",
            "999999999:1",
        ],
    );
    assert_eq!(s.json(&["status", "half"])["state"], "abandoned");
    let started = s.json(&[
        "start",
        "half",
        "--ready",
        "REAL",
        "--",
        "sh",
        "-c",
        "echo REAL; sleep 300",
    ]);
    assert_eq!(started["already_running"], false, "{started}");
    assert_eq!(started["process"]["state"], "running");

    // Starts killed at any point: the next start runs a real command.
    for delay in [0u64, 2, 4, 6, 8, 10, 15, 20] {
        let mut child = s
            .cmd(&["start", "k", "--", "sleep", "300"])
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay));
        let _ = child.kill();
        let _ = child.wait();
        let started = s.json(&["start", "k", "--", "sleep", "300"]);
        let command = started["process"]["command"].as_str().unwrap();
        assert!(!command.contains("tmux-wire-starting"), "{started}");
        assert_eq!(started["process"]["state"], "running", "{started}");
        s.ok(&["stop", "k", "--grace", "5s"]);
    }
}

#[test]
fn concurrent_stops_report_one_outcome() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let s = Socket::new();
    s.ok(&["start", "victim", "--", "sleep", "300"]);
    let stops: Vec<_> = (0..8)
        .map(|_| {
            s.cmd(&["--json", "stop", "victim", "--grace", "5s"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outcomes: Vec<String> = stops
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stdout)
            );
            String::from_utf8(out.stdout).unwrap()
        })
        .collect();
    assert!(outcomes.iter().all(|o| o == &outcomes[0]), "{outcomes:?}");
    assert!(outcomes[0].contains("interrupted"), "{}", outcomes[0]);
}

#[test]
fn waits_leave_sessions_started_elsewhere_as_they_were() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let s = Socket::new();
    let own_setting = |name: &str| {
        s.ok(&[
            "cmd",
            "show-options",
            "-p",
            "-v",
            "-t",
            &format!("={name}:"),
            "remain-on-exit",
        ])
    };
    // `wait NAME --exit` in the background, once armed (it has turned
    // remain-on-exit on).
    let armed_exit_wait = |name: &str| {
        let wait = s
            .cmd(&["wait", name, "--exit"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        common::wait::until_value(
            "the wait to arm (remain-on-exit on)",
            LIMIT,
            || own_setting(name),
            |setting| setting.trim() == "on",
        );
        wait
    };
    s.recipe("keep", &["sh -c 'echo UP; sleep 300'"]);
    s.ok(&["wait", "keep", "--ready", "UP"]);
    s.ok(&["wait", "keep", "--idle", "200ms"]);
    let out = s.run(&["wait", "keep", "--exit", "--timeout", "500ms"]);
    assert_eq!(out.status.code(), Some(124));
    assert_eq!(own_setting("keep"), "", "remain-on-exit was left set");

    // Its end is reported, and then the session goes, as it would have
    // without the wait (a recipe's `has-session || new` starts it again).
    s.recipe("gone", &["sh -c 'read x; exit 3'"]);
    let wait = armed_exit_wait("gone");
    s.ok(&["send", "gone", "--enter", "x"]);
    let out = wait.wait_with_output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("exited with code 3"));
    assert_eq!(s.names(), ["keep"]);

    // Waits that overlap: one ending does not undo what another needs, and
    // the last puts everything back.
    s.recipe("both", &["sh -c 'read x; exit 4'"]);
    let exit_wait = armed_exit_wait("both");
    s.ok(&["wait", "both", "--idle", "200ms"]);
    assert_eq!(
        own_setting("both").trim(),
        "on",
        "the idle wait undid the exit wait's setting"
    );
    s.ok(&["send", "both", "--enter", "x"]);
    let out = exit_wait.wait_with_output().unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("exited with code 4"),
        "{out:?}"
    );
    assert_eq!(s.names(), ["keep"]);
}

/// A wait on a session tmux-wire did not start, interrupted by SIGINT or
/// SIGTERM, puts the session back first and exits 130 or 143 (the CLI
/// catches the signals; the library has no handler of its own).
#[test]
fn an_interrupted_wait_puts_the_session_back_and_says_so() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let s = Socket::new();
    s.recipe("held", &["sh -c 'sleep 300'"]);
    let own_setting = || {
        s.ok(&[
            "cmd",
            "show-options",
            "-p",
            "-v",
            "-t",
            "=held:",
            "remain-on-exit",
        ])
        .trim()
        .to_string()
    };
    for (signal, name, code) in [
        (rustix::process::Signal::INT, "SIGINT", 130),
        (rustix::process::Signal::TERM, "SIGTERM", 143),
    ] {
        let wait = s
            .cmd(&["wait", "held", "--exit"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        common::wait::until("the wait to arm", Duration::from_secs(20), || {
            own_setting() == "on"
        });
        rustix::process::kill_process(
            rustix::process::Pid::from_raw(wait.id() as i32).unwrap(),
            signal,
        )
        .unwrap();
        let out = wait.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{name}: {stderr}");
        assert!(
            stderr.contains(&format!("interrupted by {name}")),
            "{stderr}"
        );
        assert_eq!(own_setting(), "", "{name}: remain-on-exit was left set");
    }
    assert_eq!(s.names(), ["held"]);
}

/// Another process's chatty log does not hold up waits on this one, a
/// command with a newline in it is listed like any other, and
/// `send --then-idle` says so when the process ends instead.
#[test]
fn neighbours_newlines_and_endings() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let s = Socket::new();
    s.ok(&[
        "start",
        "chatty",
        "--",
        "sh",
        "-c",
        "while :; do echo x; sleep 0.01; done",
    ]);
    s.ok(&[
        "start",
        "job",
        "--",
        "sh",
        "-c",
        "read x; echo done; exit 3",
    ]);
    s.ok(&["send", "job", "--enter", "go"]);
    let mut wait = s
        .cmd(&["--json", "wait", "job", "--exit", "--timeout", "20s"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let status = common::wait::until_ok("wait --exit to return", LIMIT, || {
        wait.try_wait().unwrap().ok_or("still running")
    });
    assert!(status.success());
    let mut out = String::new();
    wait.stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert!(out.contains("\"code\":3"), "{out}");
    assert_eq!(output_lines(&s, "job"), ["go", "done"]);

    s.ok(&[
        "start",
        "nl",
        "--",
        "sh",
        "-c",
        "echo one\necho two; sleep 300",
    ]);
    let status = s.json(&["status", "nl"]);
    assert_eq!(status["state"], "running", "{status}");
    assert_eq!(status["command"], "sh -c $'echo one\\necho two; sleep 300'");

    s.ok(&["start", "shell", "--", "sh"]);
    let idle = s.json(&[
        "send",
        "shell",
        "--enter",
        "echo hi",
        "--then-idle",
        "300ms",
    ]);
    assert_eq!(idle["then"]["type"], "idle", "{idle}");
    assert_eq!(idle["then"]["current_command"], "sh", "{idle}");
    let out = s.run(&["send", "shell", "--enter", "exit 5", "--then-idle", "2s"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("exited with code 5"));
}

#[test]
fn a_line_longer_than_a_canonical_terminal_keeps_is_refused_not_cut() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let s = Socket::new();
    // `cat` reads its terminal line by line: the kernel keeps 4095 bytes
    // of a line and drops the rest without a word.
    s.ok(&["start", "cat", "--", "cat"]);
    let long = "x".repeat(5000);
    let out = s.run(&["send", "cat", "--enter", &long]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("5000 bytes") && err.contains("4095"), "{err}");
    // Nothing of it was typed.
    s.ok(&["send", "cat", "--enter", "after"]);
    s.ok(&["wait", "cat", "--ready", "^after$"]);
    let lines = output_lines(&s, "cat");
    assert!(lines.iter().all(|l| !l.contains("xxx")), "{lines:?}");

    // A line that fits arrives whole (the echo, then cat's copy).
    let fits = "y".repeat(4095);
    s.ok(&["send", "cat", "--enter", &fits]);
    s.ok(&["wait", "cat", "--ready", "^after$", "--from", "start"]);
    s.ok(&["send", "cat", "--enter", "end"]);
    s.ok(&["wait", "cat", "--ready", "^end$"]);
    let lines = output_lines(&s, "cat");
    assert_eq!(lines.iter().filter(|l| **l == fits).count(), 2, "{lines:?}");

    // A program that reads raw input takes any length.
    s.ok(&[
        "start",
        "raw",
        "--ready",
        "^READY$",
        "--",
        "sh",
        "-c",
        "stty raw -echo; echo READY; head -c 5000 | wc -c",
    ]);
    s.ok(&["send", "raw", &long]);
    let found = s.json(&["wait", "raw", "--ready", r"^\s*5000\s*$"]);
    assert!(
        found["matched"].as_str().unwrap().contains("5000"),
        "{found}"
    );
}

#[test]
fn usage_errors_under_json_are_documents_and_env_names_are_checked() {
    let s = Socket::new();
    // A name with a space is a quoting slip: refused before anything runs.
    for bad in ["A B=1", "=1", "A\tB=1", "NOEQUALS"] {
        let out = s.run(&["--json", "start", "x", "--env", bad, "--", "true"]);
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {out:?}");
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{bad:?}: no JSON document on stdout ({e}): {out:?}"));
        assert_eq!(doc["exit_code"], 2, "{doc}");
        assert!(doc["error"].as_str().unwrap().contains("--env"), "{doc}");
    }
    assert!(!s.path.exists(), "nothing was started");
    // Any usage error, with --json anywhere before `--`.
    let out = s.run(&["wait", "x", "--json", "--ready"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(doc["error"].as_str().unwrap().contains("--ready"), "{doc}");
    // Without --json, stdout stays empty; --help is no error.
    let out = s.run(&["no-such-command"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let out = s.run(&["--json", "--help"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Usage"));
    // Names others use stay possible.
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let out = s.run(&[
        "start",
        "x",
        "--env",
        "spring.profiles.active=dev",
        "--env",
        "V=a b=c",
        "--",
        "true",
    ]);
    assert!(out.status.success(), "{out:?}");
}

/// A session's own `remain-on-exit` (empty when it has none).
fn own_remain(s: &Socket, name: &str) -> String {
    s.ok(&[
        "cmd",
        "show-options",
        "-p",
        "-v",
        "-t",
        &format!("={name}:"),
        "remain-on-exit",
    ])
    .trim()
    .to_string()
}

/// How many tmux-wire waits count themselves in on `name`'s pane.
fn waits_on(s: &Socket, name: &str) -> String {
    s.ok(&[
        "cmd",
        "show-options",
        "-p",
        "-v",
        "-q",
        "-t",
        &format!("={name}:"),
        "@tmux-wire-waits",
    ])
    .trim()
    .to_string()
}

/// A `wait NAME --exit` in the background, once it counts itself in
/// (`n` waits on the pane then).
fn armed_exit_wait(s: &Socket, name: &str, n: u32) -> std::process::Child {
    let wait = s
        .cmd(&["wait", name, "--exit"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    until("the wait never armed", LIMIT, || {
        own_remain(s, name) == "on" && waits_on(s, name) == n.to_string()
    });
    wait
}

/// Whether plain tmux still has a session `name`.
fn has_session(s: &Socket, name: &str) -> bool {
    common::tmux::command()
        .arg("-S")
        .arg(&s.path)
        .args(["has-session", "-t", &format!("={name}")])
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .success()
}

/// What tmux-wire left of itself on a pane (its `@tmux-wire-*` options
/// other than the input record) and among the global hooks.
fn leftovers(s: &Socket, name: &str) -> Vec<String> {
    let pane = s.ok(&["cmd", "show-options", "-p", "-t", &format!("={name}:")]);
    let hooks = s.ok(&["cmd", "show-hooks", "-g"]);
    pane.lines()
        .filter(|l| l.starts_with("@tmux-wire-") && !l.starts_with("@tmux-wire-input"))
        .chain(hooks.lines().filter(|l| l.starts_with("client-detached[")))
        .map(str::to_string)
        .collect()
}

/// A wait killed with SIGKILL cannot put anything back itself: tmux does,
/// when its connection ends, so the pane ends as tmux would have ended it.
#[test]
fn a_killed_wait_leaves_a_session_started_elsewhere_as_it_was() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let s = Socket::new();
    s.recipe("keep", &["sleep 300"]);

    // One wait, killed while the process runs; then the process ends.
    s.recipe("one", &["sh -c 'read x; exit 3'"]);
    let mut wait = armed_exit_wait(&s, "one", 1);
    wait.kill().unwrap();
    wait.wait().unwrap();
    until("remain-on-exit was not put back", LIMIT, || {
        own_remain(&s, "one").is_empty()
    });
    assert_eq!(leftovers(&s, "one"), Vec::<String>::new());
    s.ok(&["cmd", "send-keys", "-t", "=one:", "x", "Enter"]);
    until("the session stayed after its process ended", LIMIT, || {
        !has_session(&s, "one")
    });

    // A value of its own ("off", not unset) is put back as it was.
    s.recipe("off", &["sleep 300"]);
    s.ok(&[
        "cmd",
        "set-option",
        "-p",
        "-t",
        "=off:",
        "remain-on-exit",
        "off",
    ]);
    let mut wait = armed_exit_wait(&s, "off", 1);
    wait.kill().unwrap();
    wait.wait().unwrap();
    until("remain-on-exit was not put back to off", LIMIT, || {
        own_remain(&s, "off") == "off"
    });

    // A window's value is the window's: the pane has none of its own
    // again.
    s.recipe("win", &["sleep 300"]);
    s.ok(&[
        "cmd",
        "set-option",
        "-w",
        "-t",
        "=win:",
        "remain-on-exit",
        "on",
    ]);
    let mut wait = armed_exit_wait(&s, "win", 1);
    wait.kill().unwrap();
    wait.wait().unwrap();
    until("the killed wait was not counted out", LIMIT, || {
        waits_on(&s, "win").is_empty()
    });
    assert_eq!(own_remain(&s, "win"), "");
    let window = s.ok(&[
        "cmd",
        "show-options",
        "-w",
        "-v",
        "-t",
        "=win:",
        "remain-on-exit",
    ]);
    assert_eq!(window.trim(), "on");

    // Killed after the process ended (stopped until then, so it could not
    // put anything back itself): the dead pane is closed, as tmux would
    // have closed it.
    s.recipe("ended", &["sh -c 'read x; exit 0'"]);
    let mut wait = armed_exit_wait(&s, "ended", 1);
    let pid = rustix::process::Pid::from_raw(wait.id() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::STOP).unwrap();
    s.ok(&["cmd", "send-keys", "-t", "=ended:", "x", "Enter"]);
    until("the process did not end", LIMIT, || {
        s.ok(&[
            "cmd",
            "display-message",
            "-p",
            "-t",
            "=ended:",
            "#{pane_dead}",
        ])
        .trim()
            == "1"
    });
    wait.kill().unwrap();
    wait.wait().unwrap();
    until("the dead pane stayed", LIMIT, || !has_session(&s, "ended"));

    // Two waits that overlap: one killed, the other sees the end, and the
    // last one out puts it back.
    s.recipe("both", &["sh -c 'read x; exit 4'"]);
    let mut first = armed_exit_wait(&s, "both", 1);
    let second = armed_exit_wait(&s, "both", 2);
    first.kill().unwrap();
    first.wait().unwrap();
    until("the killed wait was not counted out", LIMIT, || {
        waits_on(&s, "both") == "1"
    });
    assert_eq!(
        own_remain(&s, "both"),
        "on",
        "the other wait still needs it"
    );
    s.ok(&["cmd", "send-keys", "-t", "=both:", "x", "Enter"]);
    let out = second.wait_with_output().unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("exited with code 4"),
        "{out:?}"
    );
    until("the session stayed after its process ended", LIMIT, || {
        !has_session(&s, "both")
    });

    // Both killed: the last one's end puts it back.
    s.recipe("two", &["sh -c 'read x; exit 5'"]);
    let mut first = armed_exit_wait(&s, "two", 1);
    let mut second = armed_exit_wait(&s, "two", 2);
    first.kill().unwrap();
    second.kill().unwrap();
    first.wait().unwrap();
    second.wait().unwrap();
    until("remain-on-exit was not put back", LIMIT, || {
        own_remain(&s, "two").is_empty()
    });
    assert_eq!(leftovers(&s, "two"), Vec::<String>::new());
    s.ok(&["cmd", "send-keys", "-t", "=two:", "x", "Enter"]);
    until("the session stayed after its process ended", LIMIT, || {
        !has_session(&s, "two")
    });
    assert!(has_session(&s, "keep"));
    let hooks = s.ok(&["cmd", "show-hooks", "-g"]);
    assert!(!hooks.contains("client-detached["), "{hooks}");
    // Nor anything of its own among the server's options.
    let global = s.ok(&["cmd", "show-options", "-g"]);
    assert!(!global.contains("@tmux-wire-"), "{global}");
}

/// `--from now` starts at the next whole line: the rest of the line being
/// written when the wait began is not a line of its own.
#[test]
fn from_now_starts_at_the_next_whole_line() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let s = Socket::new();
    s.ok(&["start", "sh1", "--", "sh"]);
    s.ok(&["wait", "sh1", "--ready", r"[#$] $", "--from", "start"]);
    // The log ends in the prompt: nothing after it is an empty line.
    let out = s.run(&[
        "wait",
        "sh1",
        "--ready",
        "^$",
        "--from",
        "now",
        "--timeout",
        "1s",
    ]);
    assert_eq!(out.status.code(), Some(124), "{out:?}");

    s.recipe("f", &["sh"]);
    for name in ["sh1", "f"] {
        // The typed command goes on the prompt's line: it is no line
        // that begins with it.
        let wait = s
            .cmd(&[
                "wait",
                name,
                "--ready",
                "^echo hi",
                "--from",
                "now",
                "--timeout",
                "2s",
            ])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        s.until_attached(name);
        s.ok(&[
            "cmd",
            "send-keys",
            "-t",
            &format!("={name}:"),
            "echo hi",
            "Enter",
        ]);
        let out = wait.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(124), "{name}: {out:?}");
        // A whole line after now does count.
        let wait = s
            .cmd(&[
                "--json", "wait", name, "--ready", "^LATER$", "--from", "now",
            ])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        s.until_attached(name);
        s.ok(&[
            "cmd",
            "send-keys",
            "-t",
            &format!("={name}:"),
            "sleep 0.5; echo LATER",
            "Enter",
        ]);
        let out = wait.wait_with_output().unwrap();
        assert!(out.status.success(), "{name}: {out:?}");
    }
}

/// On a session tmux-wire did not start, `--from input` (the default)
/// means what it means for a kept process: after the last `send`, its
/// echo skipped; and the cursor's empty row is no line.
#[test]
fn waits_on_sessions_started_elsewhere_read_as_on_kept_ones() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let s = Socket::new();
    s.recipe("f", &["sh"]);
    s.ok(&["wait", "f", "--ready", r"[#$] $"]);
    s.ok(&["send", "f", "--enter", "sleep 1; echo RESULT-$((6*7))"]);
    let found = s.json(&["wait", "f", "--ready", r"RESULT-\S+"]);
    assert_eq!(found["matched"], "RESULT-42", "{found}");
    // Output from before the send no longer counts.
    s.ok(&["send", "f", "--enter", "echo second"]);
    let out = s.run(&["wait", "f", "--ready", "^RESULT-42$", "--timeout", "1s"]);
    assert_eq!(out.status.code(), Some(124), "{out:?}");
    // --from start still reads the screen.
    s.ok(&["wait", "f", "--ready", "^RESULT-42$", "--from", "start"]);
    // The screen and its history cleared after the send: what follows
    // still counts (the prompt), what was cleared does not.
    s.ok(&[
        "send",
        "f",
        "--enter",
        r"printf '\033[H\033[2J\033[3J'; echo CLEARED",
    ]);
    s.ok(&["wait", "f", "--ready", "^CLEARED$", "--timeout", "5s"]);
    s.ok(&["wait", "f", "--ready", r"[#$] $", "--timeout", "5s"]);

    // The cursor below the last line, on an empty row: no line is blank.
    s.recipe("g", &["sh -c 'echo hello; read x'"]);
    s.ok(&["wait", "g", "--ready", "^hello$"]);
    let out = s.run(&["wait", "g", "--ready", "^$", "--timeout", "1s"]);
    assert_eq!(out.status.code(), Some(124), "{out:?}");
}

/// The bytes `seq` prints for the numbers `from..=to`, as the log holds
/// them (the terminal ends each line with CR LF).
fn seq_bytes(from: u64, to: u64) -> u64 {
    (from..=to).map(|k| k.to_string().len() as u64 + 2).sum()
}

/// The one gap in what a follower printed of `seq 1 n`: the numbers it
/// missed, `a..=b`; every other number once, in order.
fn the_gap(numbers: &[u64], n: u64) -> (u64, u64) {
    let mut gap = None;
    let mut expected = 1;
    for &k in numbers {
        if k != expected {
            assert!(k > expected, "{k} after {}: a line repeated", expected - 1);
            assert!(gap.is_none(), "a second gap before {k}");
            gap = Some((expected, k - 1));
        }
        expected = k + 1;
    }
    assert_eq!(expected, n + 1, "the follower stopped before the end");
    gap.expect("the follower missed nothing: it did not fall behind")
}

/// A follower stopped while the log rotates away what it has not read is
/// told exactly how many bytes it missed, where it goes on (the start of a
/// line, never a piece of one), and exits 1; in text (stderr) and in
/// `--json` (a `missed` document between the lines).
#[test]
fn logs_follow_says_what_a_reader_that_fell_behind_missed() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let s = Socket::new();
    const N: u64 = 200_000;
    let start = s
        .cmd(&[
            "start",
            "seqb",
            "--",
            "sh",
            "-c",
            &format!("stty -echo; read go; seq 1 {N}; echo SEQ-END; read stop"),
        ])
        .envs([
            ("TMUX_WIRE_LOG_MAX_BYTES", "65536"),
            ("TMUX_WIRE_LOG_KEEP", "1"),
        ])
        .output()
        .unwrap();
    assert!(start.status.success(), "{start:?}");
    let follow = |json: bool| {
        let mut args = vec!["logs", "seqb", "-n", "1", "--follow"];
        if json {
            args.insert(0, "--json");
        }
        let mut child = s
            .cmd(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        stdout.read_line(&mut first).unwrap();
        assert!(first.contains("tmux-wire: run of"), "{first}");
        // Read as it comes (a full pipe would stop the follower).
        let mut stderr = child.stderr.take().unwrap();
        let out = std::thread::spawn(move || {
            let mut out = String::new();
            stdout.read_to_string(&mut out).unwrap();
            out
        });
        let err = std::thread::spawn(move || {
            let mut err = String::new();
            stderr.read_to_string(&mut err).unwrap();
            err
        });
        (child, out, err)
    };
    let (mut text, text_out, text_err) = follow(false);
    let (mut json, json_out, _) = follow(true);
    let pids = [text.id(), json.id()].map(|p| rustix::process::Pid::from_raw(p as i32).unwrap());
    for pid in pids {
        rustix::process::kill_process(pid, rustix::process::Signal::STOP).unwrap();
    }
    // 1.3 MB while the followers are stopped; 128 KiB of it kept.
    s.ok(&["send", "seqb", "--enter", "go"]);
    s.ok(&["wait", "seqb", "--ready", "^SEQ-END$", "--timeout", "120s"]);
    for pid in pids {
        rustix::process::kill_process(pid, rustix::process::Signal::CONT).unwrap();
    }
    s.ok(&["send", "seqb", "--enter", "stop"]);

    // Text: the numbers, whole, with one gap; on stderr what it was.
    let status = text.wait().unwrap();
    let out = text_out.join().unwrap();
    let err = text_err.join().unwrap();
    assert_eq!(status.code(), Some(1), "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.last(), Some(&"SEQ-END"), "{err}");
    let numbers: Vec<u64> = lines[..lines.len() - 1]
        .iter()
        .map(|l| {
            l.parse()
                .unwrap_or_else(|_| panic!("not a whole line: {l:?}"))
        })
        .collect();
    let (a, b) = the_gap(&numbers, N);
    let bytes = seq_bytes(a, b);
    assert!(
        err.contains(&format!(
            "missed {bytes} bytes of seqb's output (at least 1 line"
        )),
        "lines {a}..={b} missed, {bytes} bytes:\n{err}"
    );
    assert!(err.contains("seqb exited with code 0"), "{err}");
    assert!(err.contains("is not all seqb printed"), "{err}");

    // JSON: the same, as documents in order.
    let status = json.wait().unwrap();
    let out = json_out.join().unwrap();
    assert_eq!(status.code(), Some(1), "{out}");
    let docs: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut numbers = Vec::new();
    let mut missed = None;
    for doc in &docs {
        if let Some(line) = doc["line"].as_str() {
            if line == "SEQ-END" {
                break;
            }
            numbers.push(line.parse().unwrap_or_else(|_| panic!("{line:?}")));
        } else if doc["type"] == "missed" {
            assert!(missed.is_none(), "two gaps: {out}");
            missed = Some((numbers.len(), doc.clone()));
        }
    }
    let (a, b) = the_gap(&numbers, N);
    let (at, missed) = missed.expect("a missed document");
    assert_eq!(numbers[at], b + 1, "the missed document comes at the gap");
    assert_eq!(missed["bytes"], seq_bytes(a, b), "{missed}");
    assert!(missed["lines_at_least"].as_u64().unwrap() >= 1, "{missed}");
    // Reading from its cursor goes on with the line after the gap.
    let cursor = missed["cursor"].as_str().unwrap();
    let poll = s.json(&["poll", "seqb", "--cursor", cursor]);
    assert_eq!(poll["missed_bytes"], 0);
    assert_eq!(poll["lines"][0], (b + 1).to_string());
    let n = docs.len();
    assert!(
        docs[n - 2]["type"] == "exited" && docs[n - 2]["code"] == 0,
        "{out}"
    );
    assert_eq!(docs[n - 1]["exit_code"], 1, "{out}");
}

/// Reads by cursor that start before what the log keeps say exactly what
/// is gone and begin at the start of a line; a cursor of another name is
/// refused as that.
#[test]
fn reads_by_cursor_past_a_rotation_begin_at_a_line() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let s = Socket::new();
    let start = s
        .cmd(&[
            "start",
            "small",
            "--",
            "sh",
            "-c",
            "i=0; while [ $i -lt 3000 ]; do printf 'line-%06d\\n' $i; i=$((i+1)); done; echo END; sleep 300",
        ])
        .envs([
            ("TMUX_WIRE_LOG_MAX_BYTES", "4096"),
            ("TMUX_WIRE_LOG_KEEP", "1"),
        ])
        .output()
        .unwrap();
    assert!(start.status.success(), "{start:?}");
    s.ok(&["wait", "small", "--ready", "^END$", "--from", "start"]);
    let whole = regex::Regex::new(r"^line-(\d{6})$").unwrap();
    let number = |line: &serde_json::Value| -> u64 {
        let line = line.as_str().unwrap();
        let m = whole
            .captures(line)
            .unwrap_or_else(|| panic!("not a whole line: {line:?}"));
        m[1].parse().unwrap()
    };
    // From the start of the run: 13 bytes a line ("line-000000\r\n").
    let poll = s.json(&["poll", "small"]);
    let lines = poll["lines"].as_array().unwrap();
    let first = number(&lines[0]);
    assert!(first > 0);
    assert_eq!(poll["missed_bytes"], first * 13, "{poll}");
    assert_eq!(poll["missed_lines_at_least"], 1, "{poll}");
    for (i, line) in lines[..lines.len() - 1].iter().enumerate() {
        assert_eq!(number(line), first + i as u64);
    }
    assert_eq!(lines.last().unwrap(), "END");
    // Text mode says so on stderr.
    let out = s.run(&["poll", "small"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("missed {} bytes", first * 13)),
        "{err}"
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.lines().next(),
        Some(format!("line-{first:06}").as_str())
    );
    // A wait from a cursor before the kept log sees whole lines only.
    let cursor = poll["cursor"].as_str().unwrap();
    let (log, _) = cursor.split_once(':').unwrap();
    let from = format!("{log}:0");
    let out = s.run(&[
        "--json", "wait", "small", "--ready", "^.*$", "--from", &from,
    ]);
    assert!(out.status.success(), "{out:?}");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["matched"], format!("line-{first:06}"), "{doc}");
    assert!(doc["missed_bytes"].as_u64().unwrap() > first * 13, "{doc}");
    assert_eq!(doc["missed_lines_at_least"], 1, "{doc}");
    let out = s.run(&["wait", "small", "--ready", "^.*$", "--from", &from]);
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("missed"));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("ready: line-{first:06}")
    );
    // Another name's cursor is refused as another name's.
    s.ok(&["start", "other", "--", "sh", "-c", "echo hi; sleep 300"]);
    let theirs = s.json(&["logs", "other"]);
    let theirs = theirs["cursor"].as_str().unwrap();
    let out = s.run(&["poll", "small", "--cursor", theirs]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("a cursor of other's output, not of small's"),
        "{err}"
    );
    assert!(!err.contains("started anew"), "{err}");
}

/// `--from input` on a session started elsewhere finds where the input
/// began by its echo, not by a row number: a full history (tmux drops a
/// tenth of `history-limit` at once) moves every row, and the wait still
/// starts at the echo.
#[test]
fn from_input_on_a_session_started_elsewhere_follows_its_echo() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let s = Socket::new();
    s.recipe("keep", &["sleep 300"]);
    s.ok(&["cmd", "set-option", "-g", "history-limit", "50"]);
    s.recipe("u", &["sh"]);
    s.ok(&["wait", "u", "--ready", r"[#$] $"]);
    // A history that is full: its top goes as the command prints.
    s.ok(&["cmd", "send-keys", "-t", "=u:", "seq 200", "Enter"]);
    s.ok(&["wait", "u", "--ready", "^200$", "--from", "start"]);
    s.ok(&["send", "u", "--enter", "echo hi-there2; seq 8"]);
    let found = s.json(&["wait", "u", "--ready", "^hi-there2$", "--timeout", "5s"]);
    assert_eq!(found["matched"], "hi-there2", "{found}");
    // Lines from before the input never count.
    let out = s.run(&["wait", "u", "--ready", "^199$", "--timeout", "1s"]);
    assert_eq!(out.status.code(), Some(124), "{out:?}");
}

/// A resize that rewraps the lines above the input moves its row: the
/// wait still starts at the echo, and an older line never counts.
#[test]
fn from_input_survives_a_resize_that_rewraps_the_lines_above() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let s = Socket::new();
    // Long lines, then one that must not count, then the input; a
    // narrower window wraps the long lines into more rows.
    s.recipe("w", &["sh"]);
    s.ok(&["cmd", "resize-window", "-t", "=w:", "-x", "80", "-y", "24"]);
    s.ok(&["wait", "w", "--ready", r"[#$] $"]);
    let long = "x".repeat(70);
    s.ok(&[
        "cmd",
        "send-keys",
        "-t",
        "=w:",
        &format!("for i in 1 2 3 4; do echo {long}; done; echo OLD-LINE"),
        "Enter",
    ]);
    s.ok(&["wait", "w", "--ready", "^OLD-LINE$", "--from", "start"]);
    s.ok(&["send", "w", "--enter", "echo sent"]);
    s.ok(&["wait", "w", "--ready", "^sent$", "--timeout", "5s"]);
    s.ok(&["cmd", "resize-window", "-t", "=w:", "-x", "20", "-y", "24"]);
    let out = s.run(&["wait", "w", "--ready", "^OLD-LINE$", "--timeout", "1s"]);
    assert_eq!(out.status.code(), Some(124), "{out:?}");
    let found = s.json(&["wait", "w", "--ready", "^sent$", "--timeout", "5s"]);
    assert_eq!(found["matched"], "sent", "{found}");
}

/// `tmux-wire ARGS`, stopped before it begins (a shell that stops itself,
/// then becomes tmux-wire), with its output piped: returned once stopped.
fn stopped_before_it_begins(s: &Socket, args: &[&str]) -> std::process::Child {
    let cmd = s.cmd(args);
    let mut sh = std::process::Command::new("sh");
    sh.arg("-c")
        .arg("kill -STOP $$; exec \"$@\"")
        .arg("sh")
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => sh.env(k, v),
            None => sh.env_remove(k),
        };
    }
    if let Some(dir) = cmd.get_current_dir() {
        sh.current_dir(dir);
    }
    let child = sh
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
    let stopped = rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::UNTRACED);
    assert!(
        matches!(stopped, Ok(Some((_, status))) if status.stopped()),
        "{stopped:?}"
    );
    child
}

/// A wait that falls behind the log (held up while the log rotates away
/// what it has not read) says exactly what it missed, however it ends: a
/// field of its document, or of the error document in `--json`, a line on
/// stderr in text; and the bytes are those a read from the same start
/// misses.
#[test]
fn a_wait_that_falls_behind_says_what_it_missed_when_it_fails() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let s = Socket::new();
    const N: u64 = 200_000;
    let start = s
        .cmd(&[
            "start",
            "seqw",
            "--",
            "sh",
            "-c",
            &format!("stty -echo; read go; seq 1 {N}; echo SEQ-END; read stop"),
        ])
        .envs([
            ("TMUX_WIRE_LOG_MAX_BYTES", "65536"),
            ("TMUX_WIRE_LOG_KEEP", "1"),
        ])
        .output()
        .unwrap();
    assert!(start.status.success(), "{start:?}");
    // From the start of the run: held up before they begin, what they
    // read first was rotated away.
    let wait = |json: bool, pattern: &str, timeout: &str| {
        let mut args = vec![
            "wait",
            "seqw",
            "--ready",
            pattern,
            "--from",
            "start",
            "--timeout",
            timeout,
        ];
        if json {
            args.insert(0, "--json");
        }
        stopped_before_it_begins(&s, &args)
    };
    let text = wait(false, "^100000$", "3s");
    let json = wait(true, "^100000$", "3s");
    // One that matches after the gap says it with the match.
    let found = wait(true, "^SEQ-END$", "120s");
    let pids = [text.id(), json.id(), found.id()]
        .map(|p| rustix::process::Pid::from_raw(p as i32).unwrap());
    s.ok(&["send", "seqw", "--enter", "go"]);
    s.ok(&["wait", "seqw", "--ready", "^SEQ-END$", "--timeout", "120s"]);
    for pid in pids {
        rustix::process::kill_process(pid, rustix::process::Signal::CONT).unwrap();
    }
    // What a read from the start of the run misses: the same bytes.
    let poll = s.json(&["poll", "seqw"]);
    let first: u64 = poll["lines"][0].as_str().unwrap().parse().unwrap();
    let missed = poll["missed_bytes"].as_u64().unwrap();
    assert_eq!(missed, seq_bytes(1, first - 1), "{poll}");
    assert!(first > 100_000, "{poll}");

    let out = found.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["matched"], "SEQ-END", "{doc}");
    assert_eq!(doc["missed_bytes"], missed, "{doc}");
    assert_eq!(doc["missed_lines_at_least"], 1, "{doc}");

    let out = json.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(124), "{out:?}");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["exit_code"], 124, "{doc}");
    assert_eq!(doc["missed_bytes"], missed, "{doc}");
    assert_eq!(doc["missed_lines_at_least"], 1, "{doc}");

    let out = text.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(124), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("missed {missed} bytes of seqw's output")),
        "{err}"
    );
}

/// A wait stopped while it waits, while the log rotates away what it has
/// not read, is told of the gap when it goes on: it ends (here at its
/// timeout) with at least the bytes rotated away after what it read.
#[test]
fn a_wait_stopped_while_it_waits_says_what_it_missed() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let s = Socket::new();
    let start = s
        .cmd(&[
            "start",
            "seqs",
            "--",
            "sh",
            "-c",
            "stty -echo; echo READY; read go; seq 1 200000; echo SEQ-END; read stop",
        ])
        .envs([
            ("TMUX_WIRE_LOG_MAX_BYTES", "65536"),
            ("TMUX_WIRE_LOG_KEEP", "1"),
        ])
        .output()
        .unwrap();
    assert!(start.status.success(), "{start:?}");
    s.ok(&["wait", "seqs", "--ready", "^READY$", "--from", "start"]);
    // Waiting from now on, the wait holds the current file open; it is
    // stopped then, before the output begins.
    let wait = s
        .cmd(&[
            "--json",
            "wait",
            "seqs",
            "--ready",
            "^100000$",
            "--from",
            "now",
            "--timeout",
            "3s",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = rustix::process::Pid::from_raw(wait.id() as i32).unwrap();
    // It waits once it has the log open.
    let log = s.path.with_extension("logs").join("seqs.log");
    let fds = format!("/proc/{}/fd", wait.id());
    let has_log_open = || {
        std::fs::read_dir(&fds)
            .into_iter()
            .flatten()
            .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
            .any(|p| p == log)
    };
    until("the wait to open the log", LIMIT, has_log_open);
    rustix::process::kill_process(pid, rustix::process::Signal::STOP).unwrap();
    s.ok(&["send", "seqs", "--enter", "go"]);
    s.ok(&["wait", "seqs", "--ready", "^SEQ-END$", "--timeout", "120s"]);
    rustix::process::kill_process(pid, rustix::process::Signal::CONT).unwrap();
    let out = wait.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(124), "{out:?}");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // 1.3 MB printed, 128 KiB kept, 64 KiB held open at most.
    let missed = doc["missed_bytes"].as_u64().unwrap_or(0);
    assert!(missed > 1_000_000, "{doc}");
    assert!(
        doc["missed_lines_at_least"].as_u64().unwrap_or(0) >= 1,
        "{doc}"
    );
}

/// A wait from a cursor whose line was rotated away, while no line has
/// begun since, counts all of that line it skips, the rest written after
/// the wait began too; its error document says so.
#[test]
fn a_wait_from_a_cursor_counts_all_of_the_cut_line_it_skips() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let s = Socket::new();
    let start = s
        .cmd(&[
            "start",
            "bar",
            "--",
            "sh",
            "-c",
            "stty -echo; read go; head -c 20000 /dev/zero | tr '\\0' x; printf DONE; \
             read more; printf yyyy; read stop",
        ])
        .envs([
            ("TMUX_WIRE_LOG_MAX_BYTES", "4096"),
            ("TMUX_WIRE_LOG_KEEP", "1"),
        ])
        .output()
        .unwrap();
    assert!(start.status.success(), "{start:?}");
    let before = s.json(&["poll", "bar"]);
    let cursor = before["cursor"].as_str().unwrap().to_string();
    s.ok(&["send", "bar", "--enter", "go"]);
    let ends_with = |tail: &str| {
        common::wait::until_value(
            &format!("the log to end with {tail}"),
            LIMIT,
            || lines_of(&s.json(&["logs", "bar", "-n", "1"])),
            |lines| lines.last().is_some_and(|l| l.ends_with(tail)),
        );
    };
    ends_with("DONE");
    // The wait begins inside the cut line; the rest of it comes while it
    // waits.
    let wait = s
        .cmd(&[
            "--json",
            "wait",
            "bar",
            "--ready",
            "^never$",
            "--from",
            &cursor,
            "--timeout",
            "3s",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = rustix::process::Pid::from_raw(wait.id() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::STOP).unwrap();
    s.ok(&["send", "bar", "--enter", "more"]);
    ends_with("DONEyyyy");
    rustix::process::kill_process(pid, rustix::process::Signal::CONT).unwrap();
    let out = wait.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(124), "{out:?}");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // All the process printed after the cursor: 20000 x, DONE, yyyy.
    assert_eq!(doc["missed_bytes"], 20008, "{doc}");
    assert_eq!(doc["missed_lines_at_least"], 1, "{doc}");
}

/// Polls from a cursor whose line was rotated away, while the process
/// prints without a newline (a progress bar), say what they missed so
/// far, every byte of it, and move on: the next poll goes on skipping the
/// cut line, and the lines begin at the start of the next one.
#[test]
fn polls_inside_a_cut_line_say_what_they_missed_so_far() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let s = Socket::new();
    let start = s
        .cmd(&[
            "start",
            "bar",
            "--",
            "sh",
            "-c",
            "stty -echo; read go; head -c 20000 /dev/zero | tr '\\0' x; printf DONE; \
             read more; printf yyyy; read nl; printf 'zz\\nAFTER\\n'; read stop",
        ])
        .envs([
            ("TMUX_WIRE_LOG_MAX_BYTES", "4096"),
            ("TMUX_WIRE_LOG_KEEP", "1"),
        ])
        .output()
        .unwrap();
    assert!(start.status.success(), "{start:?}");
    let before = s.json(&["poll", "bar"]);
    let c0 = before["cursor"].as_str().unwrap().to_string();
    let offset = |c: &str| -> u64 {
        let digits: String = c
            .rsplit(':')
            .next()
            .unwrap()
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().unwrap()
    };
    let ends_with = |tail: &str| {
        common::wait::until_value(
            &format!("the log to end with {tail}"),
            LIMIT,
            || lines_of(&s.json(&["logs", "bar", "-n", "1"])),
            |lines| lines.last().is_some_and(|l| l.ends_with(tail)),
        );
    };
    s.ok(&["send", "bar", "--enter", "go"]);
    ends_with("DONE");
    let poll = s.json(&["poll", "bar", "--cursor", &c0]);
    assert_eq!(poll["missed_bytes"], 20004, "{poll}");
    assert_eq!(poll["missed_lines_at_least"], 1, "{poll}");
    assert_eq!(poll["lines"], serde_json::json!([]), "{poll}");
    assert!(poll["partial"].is_null(), "{poll}");
    let c1 = poll["cursor"].as_str().unwrap().to_string();
    assert_eq!(offset(&c1), offset(&c0) + 20004, "{poll}");
    // The same again: nothing new, nothing missed twice.
    let again = s.json(&["poll", "bar", "--cursor", &c1]);
    assert_eq!(again["missed_bytes"], 0, "{again}");
    assert_eq!(again["cursor"], c1.as_str(), "{again}");
    // More of the cut line: missed too, never shown.
    s.ok(&["send", "bar", "--enter", "more"]);
    ends_with("DONEyyyy");
    let poll = s.json(&["poll", "bar", "--cursor", &c1]);
    assert_eq!(poll["missed_bytes"], 4, "{poll}");
    assert_eq!(poll["lines"], serde_json::json!([]), "{poll}");
    assert!(poll["partial"].is_null(), "{poll}");
    let c2 = poll["cursor"].as_str().unwrap().to_string();
    assert_eq!(offset(&c2), offset(&c0) + 20008, "{poll}");
    // Its end: the rest of it missed ("zz\r\n"), then whole lines.
    s.ok(&["send", "bar", "--enter", "nl"]);
    ends_with("AFTER");
    let poll = s.json(&["poll", "bar", "--cursor", &c2]);
    assert_eq!(poll["missed_bytes"], 4, "{poll}");
    assert_eq!(poll["lines"], serde_json::json!(["AFTER"]), "{poll}");
}
