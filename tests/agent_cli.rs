//! The agent's process contract through the real binary, each test on its
//! own private socket: run with a yield, cursors across log rotation,
//! paged logs, input from stdin, exec in a shell, kill-after, housekeeping.

mod common;

use common::cli::Socket;
use common::wait::until;
use serde_json::Value;
use std::io::Write;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// No wait in these tests lasts longer: a hang is a failure.
const LIMIT: Duration = Duration::from_secs(30);

/// Run plain tmux on the socket (not tmux-wire); stdout.
fn tmux(s: &Socket, args: &[&str]) -> String {
    let out = common::tmux::command()
        .arg("-S")
        .arg(&s.path)
        .args(args)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn json_of(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn run_answers_within_the_yield_or_gives_a_cursor() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let s = Socket::new();
    // Beaten: the output, and the process's own status.
    let out = s.run(&[
        "run",
        "quick",
        "--",
        "sh",
        "-c",
        "echo one; echo two; exit 3",
    ]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "one\ntwo\n");
    let out = s.run(&[
        "--json",
        "run",
        "quick",
        "--",
        "sh",
        "-c",
        "echo again; kill -TERM $$",
    ]);
    assert_eq!(out.status.code(), Some(143));
    let doc = json_of(&out);
    assert_eq!(doc["state"], "exited");
    assert_eq!(
        doc["exit"],
        serde_json::json!({"type": "signaled", "signal": 15})
    );
    assert_eq!(doc["output"], serde_json::json!(["again"]));

    // Not beaten: a tail, a cursor, and exit 75; the cursor goes on exactly
    // after the tail.
    let out = s.run(&[
        "--json",
        "run",
        "slow",
        "--yield",
        "300ms",
        "--",
        "sh",
        "-c",
        "echo first; read x; echo second; read y; exit 4",
    ]);
    assert_eq!(
        out.status.code(),
        Some(75),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc = json_of(&out);
    assert_eq!(doc["state"], "running");
    assert_eq!(doc["tail"], serde_json::json!(["first"]));
    assert!(doc["exit"].is_null() && doc["output"].is_null());
    let cursor = doc["cursor"].as_str().unwrap().to_string();
    // Nothing new yet.
    let poll = s.json(&["poll", "slow", "--cursor", &cursor]);
    assert_eq!(poll["lines"], serde_json::json!([]));
    assert_eq!(poll["state"], "running");
    s.ok(&["send", "slow", "--enter", "go"]);
    // A wait can start at a cursor: "first", before it, does not count.
    let out = s.run(&[
        "wait",
        "slow",
        "--ready",
        "^first$",
        "--from",
        &cursor,
        "--timeout",
        "300ms",
    ]);
    assert_eq!(out.status.code(), Some(124));
    s.ok(&["wait", "slow", "--ready", "^second$", "--from", &cursor]);
    let poll = s.json(&["poll", "slow", "--cursor", &cursor]);
    // The echo of what was typed, then the new line; never "first" again.
    assert_eq!(poll["lines"], serde_json::json!(["go", "second"]));
    let cursor = poll["cursor"].as_str().unwrap().to_string();
    s.ok(&["send", "slow", "--enter", "end"]);
    let out = s.run(&["wait", "slow", "--exit", "--exit-code"]);
    assert_eq!(
        out.status.code(),
        Some(4),
        "wait --exit-code gives the process's own code"
    );
    let poll = s.json(&["poll", "slow", "--cursor", &cursor]);
    assert_eq!(poll["lines"], serde_json::json!(["end"]));
    assert_eq!(poll["state"], "exited");
    assert_eq!(poll["code"], 4);
    // A cursor of another log, or garbage, is refused with the reason.
    let out = s.run(&["poll", "slow", "--cursor", "00000000:0"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a cursor of slow's log"));
    let out = s.run(&["poll", "slow", "--cursor", "nonsense"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn polls_see_every_line_once_across_log_rotations() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let s = Socket::new();
    // 4 KiB files, 63 kept (the most there can be): rotating every ~400
    // lines, nothing lost.
    let env = [
        ("TMUX_WIRE_LOG_MAX_BYTES", "4096"),
        ("TMUX_WIRE_LOG_KEEP", "63"),
    ];
    // Four batches of 1000 lines, each let out by a line typed in (not
    // echoed), so the polls see the log grow and rotate between them.
    let start = s
        .cmd(&[
            "start",
            "counter",
            "--",
            "sh",
            "-c",
            "stty -echo; for b in 0 1 2 3; do i=0; while [ $i -lt 1000 ]; do echo line-$b-$i; i=$((i+1)); done; read x; done; printf 'no newline'; sleep 300",
        ])
        .envs(env)
        .output()
        .unwrap();
    assert!(
        start.status.success(),
        "{}",
        String::from_utf8_lossy(&start.stderr)
    );
    let mut seen: Vec<String> = Vec::new();
    let mut cursor: Option<String> = None;
    let mut polls = 0;
    let mut batch = 0;
    let started = Instant::now();
    let partial = loop {
        let mut args = vec!["poll", "counter"];
        if let Some(c) = &cursor {
            args.extend(["--cursor", c.as_str()]);
        }
        let doc = s.json(&args);
        assert_eq!(doc["missed_bytes"], 0);
        seen.extend(
            doc["lines"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l.as_str().unwrap().to_string()),
        );
        cursor = Some(doc["cursor"].as_str().unwrap().to_string());
        polls += 1;
        if batch < 4
            && seen
                .last()
                .is_some_and(|l| *l == format!("line-{batch}-999"))
        {
            batch += 1;
            s.ok(&["send", "counter", "--enter", "next"]);
        }
        if batch == 4 {
            if let Some(p) = doc["partial"].as_str() {
                break p.to_string();
            }
        }
        assert!(started.elapsed() < LIMIT, "polling did not finish");
    };
    assert!(polls >= 4);
    // Every line once, in order.
    let expected: Vec<String> = (0..4)
        .flat_map(|b| (0..1000).map(move |i| format!("line-{b}-{i}")))
        .collect();
    assert_eq!(seen, expected);
    assert_eq!(partial, "no newline");
    let rotated = std::fs::read_dir(s.path.with_extension("logs"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("counter.log.")
        })
        .count();
    assert!(rotated > 5, "the log rotated {rotated} times only");

    // With few files kept, an old cursor says how much is gone, never
    // pretending: what it reads starts where the kept log starts.
    let first = s.json(&["poll", "counter"]);
    let env_small = [
        ("TMUX_WIRE_LOG_MAX_BYTES", "4096"),
        ("TMUX_WIRE_LOG_KEEP", "1"),
    ];
    let start = s
        .cmd(&[
            "start",
            "small",
            "--",
            "sh",
            "-c",
            "i=0; while [ $i -lt 4000 ]; do echo line-$i; i=$((i+1)); done; echo END; sleep 300",
        ])
        .envs(env_small)
        .output()
        .unwrap();
    assert!(start.status.success());
    s.ok(&["wait", "small", "--ready", "^END$", "--from", "start"]);
    let doc = s.json(&["poll", "small"]);
    let missed = doc["missed_bytes"].as_u64().unwrap();
    let lines = doc["lines"].as_array().unwrap();
    assert!(missed > 30_000, "missed {missed}");
    // What was read plus what was missed is the whole output.
    let read: u64 = lines
        .iter()
        .map(|l| l.as_str().unwrap().len() as u64 + 1)
        .sum();
    let header = s.run(&["logs", "small", "--offset", "0", "--limit", "1"]);
    assert!(header.status.success());
    assert!(read + missed >= 4000 * 9, "read {read} + missed {missed}");
    assert_eq!(lines.last().unwrap(), "END");
    assert!(first["cursor"].is_string());
}

#[test]
fn logs_page_by_line_with_the_total_and_a_hint() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let s = Socket::new();
    s.ok(&[
        "start",
        "pages",
        "--",
        "sh",
        "-c",
        "i=1; while [ $i -le 500 ]; do echo row-$i; i=$((i+1)); done; echo DONE; sleep 300",
    ]);
    s.ok(&["wait", "pages", "--ready", "^DONE$", "--from", "start"]);
    // Line 0 is the run's header.
    let page = s.json(&["logs", "pages", "--offset", "1", "--limit", "100"]);
    assert_eq!(page["offset"], 1);
    assert_eq!(page["total"], 502);
    let lines = page["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 100);
    assert_eq!(
        (lines[0].as_str(), lines[99].as_str()),
        (Some("row-1"), Some("row-100"))
    );
    // Default: the last page, and a hint how to get the one before.
    let out = s.run(&["logs", "pages", "--limit", "200"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().count(), 200);
    assert_eq!(text.lines().last(), Some("DONE"));
    let hint = String::from_utf8_lossy(&out.stderr);
    assert!(
        hint.contains("lines 303-502 of 502") && hint.contains("--offset 102 --limit 200"),
        "{hint}"
    );
    // Past the end: nothing, and still the total.
    let page = s.json(&["logs", "pages", "--offset", "9999", "--limit", "10"]);
    assert_eq!(page["lines"], serde_json::json!([]));
    assert_eq!(page["total"], 502);
    // Every read can give a cursor.
    let tail = s.json(&["logs", "pages", "-n", "1"]);
    assert!(tail["cursor"].as_str().unwrap().contains(':'));
}

#[test]
fn a_megabyte_of_invalid_utf8_from_stdin_arrives_byte_exact() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let s = Socket::new();
    let out_file = s.dir.path().join("received");
    // Every byte value, most of them not UTF-8, in a pseudo-random order.
    let mut x: u32 = 12345;
    let data: Vec<u8> = (0..1 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 7) as u8
        })
        .collect();
    let script = format!(
        "stty raw -echo && echo RAW-READY && head -c {} > '{}' && echo GOT-ALL; sleep 300",
        data.len(),
        out_file.display()
    );
    s.ok(&["start", "sink", "--", "sh", "-c", &script]);
    s.ok(&["wait", "sink", "--ready", "RAW-READY", "--from", "start"]);
    let mut send = s
        .cmd(&["--json", "send", "sink", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    send.stdin.take().unwrap().write_all(&data).unwrap();
    let out = send.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(json_of(&out)["bytes"], data.len());
    s.ok(&["wait", "sink", "--ready", "GOT-ALL", "--timeout", "120s"]);
    let got = std::fs::read(&out_file).unwrap();
    assert_eq!(got.len(), data.len());
    assert!(got == data, "the bytes differ");

    // --file, and --eof: the reader sees the end of its input (a line
    // without a newline takes two Ctrl-D, as at a terminal).
    let copy = s.dir.path().join("copy");
    let script = format!("cat > '{}'; echo GOT-EOF; sleep 300", copy.display());
    s.ok(&["start", "cat", "--", "sh", "-c", &script]);
    let input = s.dir.path().join("input");
    std::fs::write(&input, "first line\nno newline").unwrap();
    s.ok(&["send", "cat", "--file", input.to_str().unwrap(), "--eof"]);
    // (The echo of "no newline" and GOT-EOF share a line, which a wait
    // from the input takes for the echo: read the whole run.)
    s.ok(&["wait", "cat", "--ready", "GOT-EOF$", "--from", "start"]);
    assert_eq!(
        std::fs::read_to_string(&copy).unwrap(),
        "first line\nno newline"
    );
}

#[test]
fn exec_runs_a_line_in_bash_and_dash() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    for shell in [&["bash", "--norc", "--noprofile"][..], &["dash"][..]] {
        if std::process::Command::new("which")
            .arg(shell[0])
            .output()
            .map_or(true, |o| !o.status.success())
        {
            eprintln!("SKIPPED exec in {}: not installed", shell[0]);
            continue;
        }
        let s = Socket::new();
        let mut start = vec!["start", "sh1", "--"];
        start.extend_from_slice(shell);
        s.ok(&start);
        // `false`: its status, no output.
        let out = s.run(&["exec", "sh1", "--", "false"]);
        assert_eq!(out.status.code(), Some(1), "{}: false", shell[0]);
        assert_eq!(String::from_utf8_lossy(&out.stdout), "");
        // Output, with the shell's state kept between execs.
        let out = s.run(&["exec", "sh1", "--", "cd /tmp && echo 'it''s' here"]);
        assert_eq!(out.status.code(), Some(0));
        assert_eq!(String::from_utf8_lossy(&out.stdout), "its here\n");
        // Long lines and tabs reach the shell as written: the command is
        // read from a file, not typed.
        let long = format!("echo {}", "A".repeat(5000));
        let out = s.run(&["exec", "sh1", "--", &long]);
        assert_eq!(out.status.code(), Some(0));
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim_end(),
            "A".repeat(5000)
        );
        let out = s.run(&["exec", "sh1", "--", "printf '%s' 'a\tb' | od -c | head -1"]);
        assert!(
            String::from_utf8_lossy(&out.stdout).contains(r"a  \t   b"),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        let doc = s.json(&["exec", "sh1", "--", "pwd"]);
        assert_eq!(doc["lines"], serde_json::json!(["/tmp"]));
        assert_eq!(doc["code"], 0);
        // A command that prints marker-like text itself does not end it.
        let out = s.run(&[
            "exec",
            "sh1",
            "--",
            r"printf '\033]7717;tw;0123456789abcdef;e;0\007'; echo after; (exit 5)",
        ]);
        assert_eq!(
            out.status.code(),
            Some(5),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("after"));
        // Nothing of it shows on the screen: no marker, no nonce.
        let screen = tmux(&s, &["capture-pane", "-p", "-t", "=sh1:"]);
        assert!(
            !screen.contains("7717;tw;") || screen.contains("printf"),
            "{screen}"
        );
        // A program that is not a shell at its prompt is refused, untouched.
        s.ok(&["send", "sh1", "--enter", "sleep 300"]);
        until("sleep in the foreground", LIMIT, || {
            tmux(
                &s,
                &["display", "-p", "-t", "=sh1:", "#{pane_current_command}"],
            )
            .trim()
                == "sleep"
        });
        let out = s.run(&["exec", "sh1", "--", "echo nope"]);
        assert_eq!(out.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&out.stderr).contains("not a shell at its prompt"));
        s.ok(&["keys", "sh1", "C-c"]);
        until("the shell back", LIMIT, || {
            tmux(
                &s,
                &["display", "-p", "-t", "=sh1:", "#{pane_current_command}"],
            )
            .trim()
                == shell[0]
        });
        // `exit 7`: the shell itself ends, with that status.
        let out = s.run(&["exec", "sh1", "--", "exit 7"]);
        assert_eq!(
            out.status.code(),
            Some(7),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn kill_after_is_carried_out_by_tmux_alone() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let s = Socket::new();
    s.ok(&[
        "start",
        "limited",
        "--kill-after",
        "1s",
        "--kill-grace",
        "1s",
        "--",
        "sh",
        "-c",
        "trap '' INT; echo up; sleep 300",
    ]);
    // No tmux-wire runs now but the log writer: tmux's timer does the rest.
    let others = || {
        std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter(|e| {
                let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
                let argv: Vec<String> = cmdline
                    .split(|&b| b == 0)
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect();
                argv[0].ends_with("/tmux-wire")
                    && argv.iter().any(|a| a == s.path.to_str().unwrap())
                    && !argv.iter().any(|a| a == "log-sink")
            })
            .count()
    };
    assert_eq!(others(), 0, "a tmux-wire process is still running");
    until("the process to be stopped", LIMIT, || {
        tmux(&s, &["display", "-p", "-t", "=limited:", "#{pane_dead}"]).trim() == "1"
    });
    let status = s.json(&["status", "limited"]);
    assert_eq!(status["killed_after"], 1);
    // It ignored C-c, so the signals ended it.
    assert_eq!(status["state"], "killed", "{status}");
    let text = s.ok(&["status", "limited"]);
    assert!(text.contains("ran longer than 1s"), "{text}");
    // A later run of the name is not touched by the earlier timer.
    s.ok(&[
        "start",
        "quick",
        "--kill-after",
        "300s",
        "--",
        "sleep",
        "300",
    ]);
    assert!(s.json(&["status", "quick"])["killed_after"].is_null());
}

#[test]
fn kill_all_shutdown_and_prune() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let s = Socket::new();
    for name in ["a", "b", "c"] {
        s.ok(&["start", name, "--", "sh", "-c", "trap '' INT; sleep 300"]);
    }
    // Every one ignores C-c: each is killed after its grace, all at once.
    let doc = s.json(&["kill-all", "--grace", "1s"]);
    let stopped = doc["stopped"].as_array().unwrap();
    assert_eq!(stopped.len(), 3);
    assert!(
        stopped.iter().all(|x| x["stopped"]["type"] == "killed"),
        "{doc}"
    );
    // Their logs stay until pruned; a running name's log is kept.
    s.ok(&["start", "keep", "--", "sleep", "300"]);
    let logs = s.path.with_extension("logs");
    assert!(logs.join("a.log").exists());
    // The command file an exec killed before typing leaves behind goes
    // with its name; another name's stays.
    let leftover = logs.join("a.exec.0123456789abcdef");
    std::fs::write(&leftover, "echo x").unwrap();
    std::fs::write(logs.join("keep.exec.0123456789abcdef"), "echo x").unwrap();
    let doc = s.json(&["prune"]);
    assert_eq!(doc["pruned"], serde_json::json!(["a", "b", "c"]));
    assert!(!logs.join("a.log").exists() && !logs.join("a.log.index").exists());
    assert!(!leftover.exists(), "a leftover exec command file was kept");
    std::fs::remove_file(logs.join("keep.exec.0123456789abcdef"))
        .expect("another name's file kept");
    assert!(logs.join("keep.log").exists());
    // Past the configured age, a start prunes by itself.
    s.ok(&["stop", "keep", "--grace", "1s"]);
    let old = std::process::Command::new("touch")
        .args(["-d", "3 days ago"])
        .arg(logs.join("keep.log"))
        .arg(logs.join("keep.log.index"))
        .arg(logs.join("keep.stopped"))
        .arg(logs.join("keep.stop"))
        .status()
        .unwrap();
    assert!(old.success());
    let start = s
        .cmd(&["start", "next", "--", "sleep", "300"])
        .env("TMUX_WIRE_LOG_MAX_AGE", "2d")
        .output()
        .unwrap();
    assert!(start.status.success());
    assert!(!logs.join("keep.log").exists(), "an old log was not pruned");
    assert!(logs.join("next.log").exists());
    // shutdown: everything stopped, the server gone, the socket removed.
    let doc = s.json(&["shutdown", "--grace", "1s"]);
    assert_eq!(doc["stopped"].as_array().unwrap().len(), 1);
    assert!(!s.path.exists());
    let out = common::tmux::command()
        .arg("-S")
        .arg(&s.path)
        .arg("ls")
        .output()
        .unwrap();
    assert!(!out.status.success(), "the server is still there");
}

#[test]
fn restart_on_failure_with_a_count_and_a_growing_delay_without_us() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let s = Socket::new();
    // Each run notes when it began (ns) in a file, and fails.
    let began_file = s.dir.path().join("began");
    let script = format!("date +%s%N >> '{}'; exit 3", began_file.display());
    s.ok(&[
        "start",
        "flaky",
        "--restart",
        "on-failure",
        "--max-restarts",
        "3",
        "--restart-delay",
        "200ms",
        "--",
        "sh",
        "-c",
        &script,
    ]);
    // From here only tmux acts: wait with plain tmux until the last exit
    // is recorded (3 restarts, 4 exits).
    until("three restarts and four exits", LIMIT, || {
        let exits = tmux(
            &s,
            &["show-options", "-v", "-t", "=flaky:", "@tmux-wire-exits"],
        );
        exits.trim().split(';').filter(|e| !e.is_empty()).count() == 4
    });
    let status = s.json(&["status", "flaky"]);
    assert_eq!(status["restarts"], 3);
    assert_eq!(status["state"], "exited");
    assert_eq!(status["exits"].as_array().unwrap().len(), 4);
    assert!(status["exits"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| *e == serde_json::json!({"type": "exited", "code": 3})));
    // The delays grew: at least 200, 400, 800 ms between the runs.
    let began: Vec<u128> = std::fs::read_to_string(&began_file)
        .unwrap()
        .lines()
        .map(|l| l.trim().parse().unwrap())
        .collect();
    assert_eq!(began.len(), 4, "{began:?}");
    // Each run is marked in the log.
    let page = s.json(&["logs", "flaky", "--offset", "0", "--limit", "100"]);
    let marks = page["lines"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l.as_str().unwrap().starts_with("--- tmux-wire: run of"))
        .count();
    assert_eq!(marks, 4, "{page}");
    for (i, want_ms) in [200u128, 400, 800].into_iter().enumerate() {
        let gap_ms = (began[i + 1] - began[i]) / 1_000_000;
        assert!(
            gap_ms >= want_ms,
            "restart {} came after {gap_ms} ms",
            i + 1
        );
    }
    // A clean exit is not a failure; and `stop` is final.
    s.ok(&[
        "start",
        "clean",
        "--restart",
        "on-failure",
        "--restart-delay",
        "100ms",
        "--",
        "true",
    ]);
    until("the clean exit recorded", LIMIT, || {
        !tmux(
            &s,
            &["show-options", "-v", "-t", "=clean:", "@tmux-wire-exits"],
        )
        .trim()
        .is_empty()
    });
    assert_eq!(s.json(&["status", "clean"])["restarts"], 0);
    s.ok(&[
        "start",
        "always",
        "--restart",
        "always",
        "--restart-delay",
        "100ms",
        "--",
        "sh",
        "-c",
        "echo up; sleep 300",
    ]);
    s.ok(&["stop", "always", "--grace", "2s"]);
    assert!(!s.names().contains(&"always".to_string()));
}

#[test]
fn wait_input_sees_a_program_reading_its_terminal() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let s = Socket::new();
    s.ok(&["start", "py", "--", "python3", "-i"]);
    s.ok(&[
        "start",
        "reader",
        "--",
        "sh",
        "-c",
        "echo asking; read x; echo got-$x; sleep 300",
    ]);
    s.ok(&["start", "sleeper", "--", "sleep", "300"]);
    s.ok(&["wait", "py", "--input", "--timeout", "20s"]);
    s.ok(&["wait", "reader", "--input", "--timeout", "20s"]);
    assert_eq!(s.json(&["status", "py"])["waiting_for_input"], true);
    assert_eq!(s.json(&["status", "reader"])["waiting_for_input"], true);
    // A server waiting in select() on its socket (fds 0-2 are the
    // terminal, but not in its read set) is not waiting for input either.
    s.ok(&[
        "start",
        "server",
        "--",
        "python3",
        "-c",
        "import socket, select\ns = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()\nprint('LISTENING', flush=True)\nselect.select([s], [], [])",
    ]);
    s.ok(&["wait", "server", "--ready", "LISTENING", "--from", "start"]);
    let out = s.run(&["wait", "server", "--input", "--timeout", "1500ms"]);
    assert_eq!(
        out.status.code(),
        Some(124),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(s.json(&["status", "server"])["waiting_for_input"], false);
    // A process that only sleeps never waits for input.
    let out = s.run(&["wait", "sleeper", "--input", "--timeout", "1500ms"]);
    assert_eq!(out.status.code(), Some(124));
    assert_eq!(s.json(&["status", "sleeper"])["waiting_for_input"], false);
    // Once it has its input, it no longer waits.
    s.ok(&["send", "reader", "--enter", "yes"]);
    s.ok(&["wait", "reader", "--ready", "^got-yes$"]);
    assert_eq!(s.json(&["status", "reader"])["waiting_for_input"], false);
}

#[test]
fn big_output_is_never_cut_short_and_cursors_join_lines() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let s = Socket::new();
    // More than one read holds (4 MiB): `run` still prints all of it.
    let out = s.run(&[
        "--json",
        "run",
        "big",
        "--yield",
        "60s",
        "--",
        "sh",
        "-c",
        "seq 1 600000; echo LAST",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let doc = json_of(&out);
    let lines = doc["output"].as_array().unwrap();
    assert_eq!(lines.len(), 600_001);
    assert_eq!(lines[0], "1");
    assert_eq!(lines[600_000], "LAST");

    // A line longer than a read: polls go on through it, cut but whole
    // when joined.
    s.ok(&[
        "start",
        "wide",
        "--",
        "sh",
        "-c",
        "head -c 5000000 /dev/zero | tr '\\0' x; echo; echo END; sleep 300",
    ]);
    s.ok(&[
        "wait",
        "wide",
        "--ready",
        "^END$",
        "--from",
        "start",
        "--timeout",
        "60s",
    ]);
    let mut joined = String::new();
    let mut cursor: Option<String> = None;
    let mut rest = Vec::new();
    for _ in 0..10 {
        let mut args = vec!["poll", "wide"];
        if let Some(c) = &cursor {
            args.extend(["--cursor", c.as_str()]);
        }
        let doc = s.json(&args);
        let lines: Vec<String> = doc["lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap().to_string())
            .collect();
        let next = doc["cursor"].as_str().unwrap().to_string();
        assert_ne!(Some(&next), cursor.as_ref(), "a poll made no progress");
        cursor = Some(next);
        if doc["cut"] == true {
            joined.push_str(&lines.concat());
        } else {
            let mut lines = lines.into_iter();
            if let Some(first) = lines.next() {
                joined.push_str(&first);
            }
            rest.extend(lines);
            break;
        }
    }
    assert_eq!(joined.len(), 5_000_000);
    assert!(joined.bytes().all(|b| b == b'x'));
    assert_eq!(rest, ["END"]);

    // The cursor `logs` gives sits before a line not ended yet, so a poll
    // from it gives that line whole.
    let release = s.dir.path().join("release");
    let script = format!(
        "printf 'hello wor'; while [ ! -e '{}' ]; do sleep 0.05; done; echo ld; echo next; sleep 300",
        release.display()
    );
    s.ok(&["start", "half", "--", "sh", "-c", &script]);
    let mut logs = Value::Null;
    until("the half line in the log", LIMIT, || {
        logs = s.json(&["logs", "half", "-n", "5"]);
        logs["lines"]
            .as_array()
            .unwrap()
            .last()
            .is_some_and(|l| l == "hello wor")
    });
    let cursor = logs["cursor"].as_str().unwrap().to_string();
    std::fs::write(&release, "").unwrap();
    s.ok(&["wait", "half", "--ready", "^next$", "--from", "start"]);
    let poll = s.json(&["poll", "half", "--cursor", &cursor]);
    assert_eq!(poll["lines"], serde_json::json!(["hello world", "next"]));
}

/// `events` on `s`, and its documents as they come.
fn event_stream(s: &Socket) -> (std::process::Child, std::sync::mpsc::Receiver<Value>) {
    let mut stream = s.cmd(&["events"]).stdout(Stdio::piped()).spawn().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<Value>();
    let stdout = stream.stdout.take().unwrap();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if tx.send(serde_json::from_str(&line).unwrap()).is_err() {
                return;
            }
        }
    });
    (stream, rx)
}

#[test]
fn the_event_stream_tells_every_lifecycle_event_and_the_server_end() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let s = Socket::new();
    // A server with one process before the stream begins.
    s.ok(&["start", "before", "--", "sleep", "300"]);
    let (mut stream, rx) = event_stream(&s);
    // The stream is under way once its hooks are set.
    until("the stream's hooks", LIMIT, || {
        tmux(&s, &["show-hooks", "-g", "session-created"]).contains("tmux-wire-events")
    });
    s.ok(&[
        "start",
        "web",
        "--ready",
        "^UP$",
        "--",
        "sh",
        "-c",
        "echo UP; sleep 300",
    ]);
    s.ok(&[
        "start",
        "flaky",
        "--restart",
        "on-failure",
        "--max-restarts",
        "1",
        "--restart-delay",
        "200ms",
        "--",
        "sh",
        "-c",
        "sleep 0.3; exit 2",
    ]);
    s.ok(&[
        "start",
        "lim",
        "--kill-after",
        "1s",
        "--kill-grace",
        "300ms",
        "--",
        "sleep",
        "300",
    ]);
    let mut seen: Vec<Value> = Vec::new();
    let wanted = |seen: &[Value], event: &str, name: &str| {
        seen.iter()
            .filter(|e| e["type"] == event && e["name"] == name)
            .count()
    };
    let started = Instant::now();
    while !(wanted(&seen, "exited", "flaky") == 2
        && wanted(&seen, "killed_after", "lim") == 1
        && wanted(&seen, "exited", "lim") == 1)
    {
        let left = LIMIT.saturating_sub(started.elapsed());
        match rx.recv_timeout(left) {
            Ok(event) => seen.push(event),
            Err(_) => panic!("events so far: {seen:#?}"),
        }
    }
    for name in ["web", "flaky", "lim"] {
        assert!(wanted(&seen, "started", name) >= 1, "{name}: {seen:#?}");
    }
    assert_eq!(wanted(&seen, "started", "before"), 0, "{seen:#?}");
    let ready = seen.iter().find(|e| e["type"] == "ready").unwrap();
    assert_eq!(
        (ready["name"].as_str(), ready["matched"].as_str()),
        (Some("web"), Some("UP"))
    );
    let restarted = seen.iter().find(|e| e["type"] == "restarted").unwrap();
    assert_eq!(
        (restarted["name"].as_str(), restarted["restarts"].as_u64()),
        (Some("flaky"), Some(1))
    );
    let exit = seen
        .iter()
        .find(|e| e["type"] == "exited" && e["name"] == "flaky")
        .unwrap();
    assert_eq!(exit["code"], 2);
    assert_eq!(
        seen.iter().find(|e| e["type"] == "killed_after").unwrap()["after"],
        1
    );
    // The server is killed: the stream says so, last, and ends.
    tmux(&s, &["kill-server"]);
    let last = loop {
        match rx.recv_timeout(LIMIT) {
            Ok(event) if event["type"] == "server_gone" => break event,
            Ok(_) => {}
            Err(_) => panic!("no server_gone"),
        }
    };
    assert!(last["reason"].is_string());
    let status = stream.wait().unwrap();
    assert!(status.success());
    assert!(
        rx.recv_timeout(Duration::from_secs(1)).is_err(),
        "an event after server_gone"
    );
}

#[test]
fn a_stop_between_two_looks_of_the_event_stream_still_reports_the_exit() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let s = Socket::new();
    s.ok(&["start", "a", "--restart", "always", "--", "sleep", "300"]);
    let (mut stream, rx) = event_stream(&s);
    // The stream is live once it reports a start (one made before its
    // first look is not news to it).
    let started = (0..20).any(|i| {
        s.ok(&["start", &format!("probe{i}"), "--", "sleep", "300"]);
        rx.recv_timeout(Duration::from_secs(1))
            .is_ok_and(|e| e["type"] == "started")
    });
    assert!(started, "the stream reported no start");
    let next = || rx.recv_timeout(Duration::from_secs(20)).unwrap();
    // The stream is held still while the process is interrupted and its
    // session removed: its next look finds the name gone.
    let pid = rustix::process::Pid::from_raw(stream.id() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::STOP).unwrap();
    let stopped = s.json(&["stop", "a"]);
    rustix::process::kill_process(pid, rustix::process::Signal::CONT).unwrap();
    assert_eq!(stopped["stopped"]["type"], "interrupted", "{stopped}");
    let (first, second) = (next(), next());
    assert_eq!(
        (&first["type"], &first["name"], &first["code"]),
        (&Value::from("exited"), &Value::from("a"), &Value::from(130)),
        "{first}"
    );
    assert_eq!(
        (&second["type"], &second["name"]),
        (&Value::from("gone"), &Value::from("a"))
    );
    stream.kill().unwrap();
    stream.wait().unwrap();
}

#[test]
fn a_run_replaced_by_start_between_two_looks_of_the_event_stream_still_reports_its_exit() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let s = Socket::new();
    // The stream needs a server.
    s.ok(&["start", "probe", "--", "sleep", "300"]);
    let (mut stream, rx) = event_stream(&s);
    until("the stream's hooks", LIMIT, || {
        tmux(&s, &["show-hooks", "-g", "session-created"]).contains("tmux-wire-events")
    });
    // A run without a restart policy that ends when told to.
    let release = s.dir.path().join("release");
    let script = format!(
        "while [ ! -e '{}' ]; do sleep 0.05; done; exit 3",
        release.display()
    );
    s.ok(&["start", "a", "--", "sh", "-c", &script]);
    let next = || match rx.recv_timeout(LIMIT) {
        Ok(event) => event,
        Err(_) => panic!("no event within {LIMIT:?}"),
    };
    let first = next();
    assert_eq!(
        (&first["type"], &first["name"]),
        (&Value::from("started"), &Value::from("a")),
        "{first}"
    );
    // The stream is held still while the run ends and `start` replaces
    // it: its next look finds another run of the name.
    let pid = rustix::process::Pid::from_raw(stream.id() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::STOP).unwrap();
    std::fs::write(&release, "").unwrap();
    until("a's run to end", LIMIT, || {
        s.json(&["status", "a"])["state"] == "exited"
    });
    let again = s.json(&["start", "a", "--", "sleep", "300"]);
    assert_eq!(again["already_running"], false, "{again}");
    rustix::process::kill_process(pid, rustix::process::Signal::CONT).unwrap();
    // Then another name, so that whatever the stream says of `a` in
    // between is known.
    s.ok(&["start", "b", "--", "sleep", "300"]);
    let mut seen = Vec::new();
    while !(seen.last()).is_some_and(|e: &Value| e["type"] == "started" && e["name"] == "b") {
        seen.push(next());
    }
    let of_a: Vec<(&str, Option<i64>)> = seen
        .iter()
        .filter(|e| e["name"] == "a")
        .map(|e| (e["type"].as_str().unwrap(), e["code"].as_i64()))
        .collect();
    assert_eq!(of_a, [("exited", Some(3)), ("started", None)], "{seen:#?}");
    stream.kill().unwrap();
    stream.wait().unwrap();
}
