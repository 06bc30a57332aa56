//! The log writer stops (killed, a full disk): it is seen at once, said by
//! `status`, `poll` and `wait`, it comes back with the gap marked, and
//! `stop` still works on a full disk. A second `shutdown` says what it
//! really did.

mod common;

use common::cli::Socket;
use std::time::{Duration, Instant};

const PRINTER: &str = r#"while read l; do if [ "$l" = big ]; then head -c 30000 /dev/zero | tr '\0' x; echo; fi; echo "got $l"; done"#;

/// The pid of the tmux server on `s`.
fn server_pid(s: &Socket) -> i32 {
    let out = common::tmux::command()
        .arg("-S")
        .arg(&s.path)
        .args(["display-message", "-p", "#{pid}"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

/// The pid of the log writer of `log` (a child of the server).
fn writer_pid(s: &Socket, log: &str) -> Option<i32> {
    let server = server_pid(s);
    let children =
        std::fs::read_to_string(format!("/proc/{server}/task/{server}/children")).unwrap();
    children.split_whitespace().find_map(|child| {
        let cmdline = std::fs::read(format!("/proc/{child}/cmdline")).ok()?;
        let args: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
        (args.contains(&&b"log-sink"[..]) && args.contains(&log.as_bytes()))
            .then(|| child.parse().unwrap())
    })
}

fn code(out: &std::process::Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

#[test]
fn a_killed_log_writer_is_seen_at_once_and_comes_back_with_the_gap_marked() {
    require_tmux!(3, 2, common::tmux::KEEPER_NEEDS);
    let s = Socket::new();
    s.ok(&["start", "web", "--", "sh", "-c", PRINTER]);
    s.ok(&["send", "web", "--enter", "one"]);
    s.ok(&["wait", "web", "--ready", "got one", "--timeout", "20s"]);
    let log = s.json(&["status", "web"])["log"]
        .as_str()
        .unwrap()
        .to_string();
    let pid = writer_pid(&s, &log).expect("a log writer runs");
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(pid).unwrap(),
        rustix::process::Signal::KILL,
    )
    .unwrap();
    common::wait::until_value(
        "the killed log writer to be gone",
        Duration::from_secs(10),
        || writer_pid(&s, &log),
        |now| *now != Some(pid),
    );
    // Printed while no writer runs: it never reaches the log.
    s.ok(&["send", "web", "--enter", "two"]);
    let started = Instant::now();
    let waited = s.run(&["wait", "web", "--ready", "got two", "--timeout", "15s"]);
    let stderr = String::from_utf8_lossy(&waited.stderr);
    assert_eq!(code(&waited), 74, "{stderr}");
    assert!(stderr.contains("log writer"), "{stderr}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the wait failed only after {:?}",
        started.elapsed()
    );
    // It was started again, and the gap is marked.
    let status = s.json(&["status", "web"]);
    assert_eq!(status["log_writer"]["type"], "writing", "{status}");
    let logs = s.ok(&["logs", "web", "-n", "20"]);
    assert!(
        logs.contains("--- tmux-wire: gap in the log: the log writer is gone"),
        "{logs}"
    );
    s.ok(&["send", "web", "--enter", "three"]);
    s.ok(&["wait", "web", "--ready", "got three", "--timeout", "20s"]);
    // Gone again: a log that gets nothing is no sign of idle.
    let pid = writer_pid(&s, &log).expect("the log writer runs again");
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(pid).unwrap(),
        rustix::process::Signal::KILL,
    )
    .unwrap();
    common::wait::until_value(
        "the killed log writer to be gone",
        Duration::from_secs(10),
        || writer_pid(&s, &log),
        |now| *now != Some(pid),
    );
    let idle = s.run(&["wait", "web", "--idle", "300ms", "--timeout", "15s"]);
    let stderr = String::from_utf8_lossy(&idle.stderr);
    assert_eq!(code(&idle), 74, "{stderr}");
    assert!(stderr.contains("log writer"), "{stderr}");
}

/// A tmpfs of `size` mounted on a new directory, unmounted on drop.
struct Mounted(tempfile::TempDir);

impl Mounted {
    fn new(size: &str) -> Option<Mounted> {
        let dir = tempfile::Builder::new()
            .prefix("tmux-wire-full")
            .tempdir()
            .unwrap();
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=700")])
            .arg("tmpfs")
            .arg(dir.path())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        mounted.then_some(Mounted(dir))
    }

    /// Fill it up; returns the file that fills it.
    fn fill(&self) -> std::path::PathBuf {
        use std::io::Write;
        let path = self.0.path().join("fill");
        let mut file = std::fs::File::create(&path).unwrap();
        let block = [0u8; 4096];
        while file.write_all(&block).is_ok() {}
        let _ = file.write_all(&[0]);
        path
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.0.path())
            .status();
    }
}

#[test]
fn a_full_disk_is_reported_never_blocks_the_process_and_stop_still_works() {
    require_tmux!(3, 2, common::tmux::KEEPER_NEEDS);
    let Some(disk) = Mounted::new("2m") else {
        // Past the harness's capture: a skip is never silent.
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            b"SKIPPED a_full_disk_is_reported_never_blocks_the_process_and_stop_still_works: cannot mount a tmpfs (not root?)\n",
        );
        return;
    };
    let mut s = Socket::new();
    s.path = disk.0.path().join("s");
    s.ok(&["start", "web", "--", "sh", "-c", PRINTER]);
    s.ok(&["send", "web", "--enter", "one"]);
    s.ok(&["wait", "web", "--ready", "got one", "--timeout", "20s"]);
    let fill = disk.fill();
    // More than the last page of the log can take.
    s.ok(&["send", "web", "--enter", "big"]);
    let status = common::wait::until_value(
        "the failing log writer in status",
        Duration::from_secs(15),
        || s.json(&["status", "web"]),
        |status| status["log_writer"]["type"] == "failing",
    );
    assert_eq!(status["state"], "running", "{status}");
    let reason = status["log_writer"]["reason"].as_str().unwrap();
    assert!(reason.contains("No space left"), "{status}");
    let poll = s.json(&["poll", "web"]);
    assert_eq!(poll["log_writer"]["type"], "failing", "{poll}");
    // The process is not held up: it answers what it reads.
    s.ok(&["send", "web", "--enter", "again"]);
    // A wait for what it printed fails at once, saying why.
    let started = Instant::now();
    let waited = s.run(&["wait", "web", "--ready", "got big", "--timeout", "15s"]);
    let stderr = String::from_utf8_lossy(&waited.stderr);
    assert_eq!(code(&waited), 74, "{stderr}");
    assert!(stderr.contains("No space left"), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(10));
    // Room again: the writer goes on, after a line that marks the gap.
    std::fs::remove_file(&fill).unwrap();
    s.ok(&["send", "web", "--enter", "three"]);
    s.ok(&["wait", "web", "--ready", "got three", "--timeout", "20s"]);
    let logs = s.ok(&["logs", "web", "-n", "5"]);
    assert!(
        logs.contains("bytes of output could not be written (No space left on device"),
        "{logs}"
    );
    assert_eq!(s.json(&["status", "web"])["log_writer"]["type"], "writing");
    // Full again: stop still stops it, and says what it could not record;
    // so does shutdown.
    s.ok(&["start", "web2", "--", "sh", "-c", PRINTER]);
    let _fill = disk.fill();
    let stopped = s.run(&["--json", "stop", "web", "--grace", "5s"]);
    assert_eq!(
        code(&stopped),
        0,
        "{}",
        String::from_utf8_lossy(&stopped.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&stopped.stdout).unwrap();
    assert!(
        doc["warning"]
            .as_str()
            .is_some_and(|w| w.contains("No space left")),
        "{doc}"
    );
    assert_eq!(s.names(), ["web2"]);
    let all = s.run(&["shutdown"]);
    let stderr = String::from_utf8_lossy(&all.stderr);
    assert_eq!(code(&all), 0, "{stderr}");
    assert!(
        stderr.contains("web2: recording how the stop went"),
        "{stderr}"
    );
    assert!(!s.path.exists());
}

#[test]
fn a_second_shutdown_says_there_was_nothing_to_shut_down() {
    require_tmux!(3, 2, common::tmux::KEEPER_NEEDS);
    let s = Socket::new();
    s.ok(&["start", "web", "--", "sleep", "100"]);
    let first = s.ok(&["shutdown"]);
    assert!(first.contains("server ended"), "{first}");
    let second = s.ok(&["shutdown"]);
    assert!(
        !second.contains("removed") && second.contains("nothing to shut down"),
        "{second}"
    );
    let doc = s.json(&["shutdown"]);
    assert_eq!(doc["server_ended"], false, "{doc}");
    assert_eq!(doc["socket_removed"], false, "{doc}");
}

/// The log writers of `log` that run (children of the server).
fn writer_count(s: &Socket, log: &str) -> usize {
    let server = server_pid(s);
    let children =
        std::fs::read_to_string(format!("/proc/{server}/task/{server}/children")).unwrap();
    children
        .split_whitespace()
        .filter(|child| {
            std::fs::read(format!("/proc/{child}/cmdline")).is_ok_and(|cmdline| {
                let args: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
                args.contains(&&b"log-sink"[..]) && args.contains(&log.as_bytes())
            })
        })
        .count()
}

/// Kill the log writer of `log` and wait until it is gone.
fn kill_writer(s: &Socket, log: &str) {
    let pid = writer_pid(s, log).expect("a log writer runs");
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(pid).unwrap(),
        rustix::process::Signal::KILL,
    )
    .unwrap();
    common::wait::until_value(
        "the killed log writer to be gone",
        Duration::from_secs(10),
        || writer_pid(s, log),
        |now| *now != Some(pid),
    );
}

/// The lines a stream gives, sent on as they come.
fn lines_of(stream: impl std::io::Read + Send + 'static) -> std::sync::mpsc::Receiver<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Lines from `rx` until one satisfies `done` (within `within`); all of
/// them, that one last.
fn until(
    rx: &std::sync::mpsc::Receiver<String>,
    within: Duration,
    what: &str,
    seen: &mut Vec<String>,
    done: impl Fn(&str) -> bool,
) {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                let found = done(&line);
                seen.push(line);
                if found {
                    return;
                }
            }
            Err(e) => panic!("{what}: not within {within:?} ({e}); seen: {seen:#?}"),
        }
    }
}

/// `logs --follow` (with `--json` or not) while its log writer is killed:
/// it says so at once, without anyone else looking, and goes on with the
/// gap marked once, after the writer was started again.
fn follow_through_a_killed_writer(json: bool) {
    let s = Socket::new();
    s.ok(&["start", "web", "--", "sh", "-c", PRINTER]);
    s.ok(&["send", "web", "--enter", "one"]);
    s.ok(&["wait", "web", "--ready", "got one", "--timeout", "20s"]);
    let log = s.json(&["status", "web"])["log"]
        .as_str()
        .unwrap()
        .to_string();
    let mut args = vec!["logs", "web", "-n", "5", "--follow"];
    if json {
        args.insert(0, "--json");
    }
    let mut follower = s
        .cmd(&args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let out = lines_of(follower.stdout.take().unwrap());
    let err = lines_of(follower.stderr.take().unwrap());
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    until(&out, Duration::from_secs(20), "got one", &mut stdout, |l| {
        l.contains("got one")
    });
    kill_writer(&s, &log);
    // Nobody else looks: the follower itself sees it, promptly.
    if json {
        until(
            &out,
            Duration::from_secs(5),
            "a log_writer document",
            &mut stdout,
            |l| {
                serde_json::from_str::<serde_json::Value>(l)
                    .is_ok_and(|d| d["log_writer"]["type"] == "restarted")
            },
        );
    } else {
        until(
            &err,
            Duration::from_secs(5),
            "a log writer line on stderr",
            &mut stderr,
            |l| l.contains("log writer") && l.contains("restarted"),
        );
    }
    // It goes on: the gap, then what the process prints now.
    s.ok(&["send", "web", "--enter", "three"]);
    until(
        &out,
        Duration::from_secs(20),
        "got three",
        &mut stdout,
        |l| l.contains("got three"),
    );
    assert_eq!(
        follower.try_wait().unwrap(),
        None,
        "the follow ended: {stdout:#?} {stderr:#?}"
    );
    let gaps = stdout
        .iter()
        .filter(|l| l.contains("--- tmux-wire: gap in the log: the log writer"))
        .count();
    assert_eq!(gaps, 1, "{stdout:#?}");
    assert_eq!(writer_count(&s, &log), 1);
    follower.kill().unwrap();
    follower.wait().unwrap();
}

#[test]
fn logs_follow_sees_a_killed_log_writer_at_once_and_goes_on_after_the_gap() {
    require_tmux!(3, 2, common::tmux::KEEPER_NEEDS);
    follow_through_a_killed_writer(false);
}

#[test]
fn logs_follow_json_says_the_log_writer_was_killed_and_goes_on_after_the_gap() {
    require_tmux!(3, 2, common::tmux::KEEPER_NEEDS);
    follow_through_a_killed_writer(true);
}

#[test]
fn concurrent_looks_start_a_killed_log_writer_once() {
    require_tmux!(3, 2, common::tmux::KEEPER_NEEDS);
    let s = Socket::new();
    s.ok(&["start", "web", "--", "sh", "-c", PRINTER]);
    s.ok(&["send", "web", "--enter", "one"]);
    s.ok(&["wait", "web", "--ready", "got one", "--timeout", "20s"]);
    let log = s.json(&["status", "web"])["log"]
        .as_str()
        .unwrap()
        .to_string();
    for round in 0..3 {
        kill_writer(&s, &log);
        let lookers: Vec<_> = (0..2)
            .map(|_| {
                s.cmd(&["--json", "status", "web"])
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for looker in lookers {
            let out = looker.wait_with_output().unwrap();
            assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
        }
        let word = format!("round{round}");
        s.ok(&["send", "web", "--enter", &word]);
        s.ok(&[
            "wait",
            "web",
            "--ready",
            &format!("got {word}"),
            "--timeout",
            "20s",
        ]);
        let logs = s.ok(&["logs", "web", "-n", "200"]);
        let gaps = logs
            .lines()
            .filter(|l| l.contains("--- tmux-wire: gap in the log: the log writer"))
            .count();
        assert_eq!(gaps, round + 1, "round {round}: {logs}");
        assert_eq!(writer_count(&s, &log), 1, "round {round}");
        // What it prints arrives once, in order.
        assert_eq!(
            logs.lines().filter(|l| *l == format!("got {word}")).count(),
            1,
            "{logs}"
        );
    }
}

#[test]
fn logs_follow_ends_non_zero_saying_why_when_the_log_writer_cannot_come_back() {
    require_tmux!(3, 2, common::tmux::KEEPER_NEEDS);
    let s = Socket::new();
    s.ok(&["start", "web", "--", "sh", "-c", PRINTER]);
    s.ok(&["send", "web", "--enter", "one"]);
    s.ok(&["wait", "web", "--ready", "got one", "--timeout", "20s"]);
    let log = s.json(&["status", "web"])["log"]
        .as_str()
        .unwrap()
        .to_string();
    let mut follower = s
        .cmd(&["--json", "logs", "web", "-n", "5", "--follow"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let out = lines_of(follower.stdout.take().unwrap());
    let mut stdout = Vec::new();
    until(&out, Duration::from_secs(20), "got one", &mut stdout, |l| {
        l.contains("got one")
    });
    // No revival can take its turn: the lock cannot be opened.
    let lock = std::path::Path::new(&log).with_file_name("web.writer.lock");
    std::fs::create_dir(&lock).unwrap();
    kill_writer(&s, &log);
    let status = common::wait::until_ok("the follow to end", Duration::from_secs(5), || {
        follower.try_wait().unwrap().ok_or(&stdout)
    });
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut follower.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(74), "{stderr}");
    assert!(
        stderr.contains("log writer") && stderr.contains("writer lock"),
        "{stderr}"
    );
}

/// Stop the log writer of `log`; returns its pid.
fn stop_writer(s: &Socket, log: &str) -> i32 {
    let pid = common::wait::until_value(
        "a log writer to run",
        Duration::from_secs(10),
        || writer_pid(s, log),
        |now| now.is_some(),
    )
    .unwrap();
    signal(pid, rustix::process::Signal::STOP);
    pid
}

fn signal(pid: i32, sig: rustix::process::Signal) {
    rustix::process::kill_process(rustix::process::Pid::from_raw(pid).unwrap(), sig).unwrap();
}

/// Wakes the stopped writer `pid` after `after` (from another thread):
/// the writer's delay is the condition under test.
fn resume_after(pid: i32, after: Duration) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        std::thread::sleep(after);
        signal(pid, rustix::process::Signal::CONT);
    })
}

/// The log path of `name`, once it runs.
fn log_of(s: &Socket, name: &str) -> String {
    s.json(&["status", name])["log"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A process that prints `lines` lines and LAST once the file `go` exists.
fn printer_after(go: &std::path::Path, lines: u32) -> String {
    format!(
        "while [ ! -e '{}' ]; do sleep 0.02; done; seq 1 {lines}; echo LAST",
        go.display()
    )
}

#[test]
fn run_with_a_log_writer_far_behind_still_returns_every_line() {
    require_tmux!(3, 2, common::tmux::KEEPER_NEEDS);
    let s = Socket::new();
    let dir = tempfile::tempdir().unwrap();
    let go = dir.path().join("go");
    let script = printer_after(&go, 3000);
    let run = s
        .cmd(&[
            "--json", "run", "big", "--yield", "60s", "--", "sh", "-c", &script,
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let log = common::wait::until_value(
        "big to run",
        Duration::from_secs(10),
        || {
            let out = s.run(&["--json", "status", "big"]);
            serde_json::from_slice::<serde_json::Value>(&out.stdout)
                .ok()
                .and_then(|v| v["log"].as_str().map(str::to_string))
        },
        |log| log.is_some(),
    )
    .unwrap();
    // The writer lags far behind the old quiet windows (100 ms, 500 ms):
    // the output (less than the writer's socket holds) and the exit reach
    // tmux while it sleeps.
    let pid = stop_writer(&s, &log);
    std::fs::write(&go, "").unwrap();
    let resumed = resume_after(pid, Duration::from_millis(1500));
    let out = run.wait_with_output().unwrap();
    resumed.join().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let lines: Vec<&str> = doc["output"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    // Every line in order, nothing missing between them; at the end, all
    // tmux read (see `assert_ends_as_shown`).
    let (last, numbers) = lines.split_last().unwrap();
    for (i, line) in numbers.iter().enumerate() {
        assert_eq!(*line, (i + 1).to_string(), "{stderr}");
    }
    assert!(
        *last == "LAST" || (numbers.len() + 1).to_string().starts_with(last),
        "{last}"
    );
    let tail = lines[lines.len().saturating_sub(3)..].join("\n");
    assert_ends_as_shown(&s, "big", &tail, ["2999", "3000", "LAST"]);
}

#[test]
fn wait_exit_with_a_log_writer_far_behind_still_logs_every_line() {
    require_tmux!(3, 2, common::tmux::KEEPER_NEEDS);
    let s = Socket::new();
    // More than the writer's socket holds, then a little: tmux holds the
    // rest while the writer sleeps.
    s.ok(&[
        "start",
        "big",
        "--",
        "sh",
        "-c",
        "read x; seq 1 200000; echo LAST",
    ]);
    let log = log_of(&s, "big");
    let pid = stop_writer(&s, &log);
    s.ok(&["send", "big", "--enter", "go"]);
    let resumed = resume_after(pid, Duration::from_millis(1500));
    let waited = s.run(&["wait", "big", "--exit", "--timeout", "60s"]);
    resumed.join().unwrap();
    assert_eq!(
        code(&waited),
        0,
        "{}",
        String::from_utf8_lossy(&waited.stderr)
    );
    let logs = s.ok(&["logs", "big", "-n", "3"]);
    assert_ends_as_shown(&s, "big", &logs, ["199999", "200000", "LAST"]);

    // Less than the socket holds: the pane is dead while all of it
    // still waits for the writer.
    s.ok(&[
        "start",
        "small",
        "--",
        "sh",
        "-c",
        "read x; seq 1 3000; echo LAST",
    ]);
    let log = log_of(&s, "small");
    let pid = stop_writer(&s, &log);
    s.ok(&["send", "small", "--enter", "go"]);
    let resumed = resume_after(pid, Duration::from_millis(1500));
    let waited = s.run(&["wait", "small", "--exit", "--timeout", "60s"]);
    // Read at once, not after the writer was seen resumed.
    let logs = s.ok(&["logs", "small", "-n", "3"]);
    resumed.join().unwrap();
    assert_eq!(
        code(&waited),
        0,
        "{}",
        String::from_utf8_lossy(&waited.stderr)
    );
    assert_ends_as_shown(&s, "small", &logs, ["2999", "3000", "LAST"]);
}

/// The last lines of `name`'s log (`logs`) are all tmux read from its pane:
/// what its screen shows last. That is all the process printed
/// (`printed`), but for tmux's own loss, now and then, with the pipe backed
/// up when the process ends: tmux 3.3a then closes the pane with the rest
/// unread (its screen ends short too, and stays so), which no log can
/// hold.
fn assert_ends_as_shown(s: &Socket, name: &str, logs: &str, printed: [&str; 3]) {
    let target = format!("={name}:");
    let screen = s.ok(&["cmd", "capture-pane", "-p", "-t", &target]);
    let shown: Vec<&str> = screen
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with("Pane is dead"))
        .collect();
    let last_shown = &shown[shown.len().saturating_sub(3)..];
    assert_eq!(logs.lines().collect::<Vec<_>>(), last_shown);
    if last_shown != printed {
        eprintln!(
            "tmux {} lost output of {name} before its pipe had it: {last_shown:?}",
            common::tmux::version()
        );
    }
}

#[test]
fn a_log_writer_that_stays_stopped_makes_the_end_of_output_an_error_not_a_short_answer() {
    require_tmux!(3, 2, common::tmux::KEEPER_NEEDS);
    let s = Socket::new();
    s.ok(&[
        "start",
        "small",
        "--",
        "sh",
        "-c",
        "read x; seq 1 3000; echo LAST",
    ]);
    let log = log_of(&s, "small");
    let pid = stop_writer(&s, &log);
    s.ok(&["send", "small", "--enter", "go"]);
    let waited = s.run(&["wait", "small", "--exit", "--timeout", "60s"]);
    let polled = s.run(&["poll", "small"]);
    signal(pid, rustix::process::Signal::CONT);
    let stderr = String::from_utf8_lossy(&waited.stderr);
    assert_eq!(code(&waited), 74, "{stderr}");
    assert!(stderr.contains("may not hold all"), "{stderr}");
    let stderr = String::from_utf8_lossy(&polled.stderr);
    assert_eq!(code(&polled), 74, "{stderr}");
    assert!(stderr.contains("may not hold all"), "{stderr}");
}

#[test]
fn input_sent_while_the_log_writer_lags_begins_after_the_output_before_it() {
    require_tmux!(3, 2, common::tmux::KEEPER_NEEDS);
    let s = Socket::new();
    s.ok(&["start", "echo", "--", "sh", "-c", PRINTER]);
    let log = log_of(&s, "echo");
    s.ok(&["send", "echo", "--enter", "zero"]);
    s.ok(&["wait", "echo", "--ready", "got zero", "--timeout", "20s"]);
    let pid = stop_writer(&s, &log);
    // Its answer reaches tmux, not the log, before the next input.
    s.ok(&["send", "echo", "--enter", "one"]);
    common::wait::until_value(
        "the answer on the screen",
        Duration::from_secs(10),
        || {
            let out = common::tmux::command()
                .arg("-S")
                .arg(&s.path)
                .args(["capture-pane", "-p", "-t", "echo"])
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout).into_owned()
        },
        |screen| screen.contains("got one"),
    );
    let resumed = resume_after(pid, Duration::from_millis(300));
    s.ok(&["send", "echo", "--enter", "two"]);
    resumed.join().unwrap();
    // The wait from the last input sees "got two", never "got one".
    let waited = s.run(&[
        "wait",
        "echo",
        "--ready",
        "got (one|two)",
        "--timeout",
        "20s",
    ]);
    let stdout = String::from_utf8_lossy(&waited.stdout);
    assert_eq!(
        code(&waited),
        0,
        "{}",
        String::from_utf8_lossy(&waited.stderr)
    );
    assert!(
        stdout.contains("got two") && !stdout.contains("got one"),
        "{stdout}"
    );
}
