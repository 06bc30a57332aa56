//! The keeper through the real `tmux-wire` binary, each test on its own
//! private socket in a temp dir (the server is killed on drop).

mod common;

use common::cli::{Socket, BIN};
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn a_dev_server_from_start_to_stop() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let s = Socket::new();
    let port = free_port().to_string();
    let started = s.json(&[
        "start",
        "web",
        "--ready",
        r"Serving HTTP on \S+ port \d+",
        "--timeout",
        "30s",
        "--",
        "python3",
        "-m",
        "http.server",
        "--bind",
        "127.0.0.1",
        &port,
    ]);
    assert_eq!(started["already_running"], false);
    assert!(started["ready"]
        .as_str()
        .unwrap()
        .starts_with("Serving HTTP"));
    // It serves.
    use std::io::{Read, Write};
    let mut conn =
        std::net::TcpStream::connect(("127.0.0.1", port.parse::<u16>().unwrap())).unwrap();
    conn.write_all(b"GET /tw-probe HTTP/1.0\r\n\r\n").unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.0 404"), "{answer}");
    // The request is in the log (the access line may take a moment).
    s.ok(&[
        "wait",
        "web",
        "--ready",
        "GET /tw-probe",
        "--timeout",
        "20s",
    ]);
    let logs = s.json(&["logs", "web", "-n", "20"]);
    assert!(logs["lines"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l.as_str().unwrap().contains("GET /tw-probe")));
    // Listed, with its details.
    let list = s.json(&["ls"]);
    let web = &list["processes"][0];
    assert_eq!(web["name"], "web");
    assert_eq!(web["state"], "running");
    assert!(web["pid"].as_u64().unwrap() > 1);
    assert_eq!(
        web["command"],
        format!("python3 -m http.server --bind 127.0.0.1 {port}")
    );
    assert!(web["log"].as_str().unwrap().ends_with("s.logs/web.log"));
    // Stopped by C-c.
    let stopped = s.json(&["stop", "web", "--grace", "10s"]);
    assert_eq!(stopped["stopped"]["type"], "interrupted", "{stopped}");
    assert_eq!(s.json(&["ls"])["processes"].as_array().unwrap().len(), 0);
}

#[test]
fn start_is_idempotent() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let s = Socket::new();
    let first = s.json(&["start", "idem", "--", "sleep", "60"]);
    assert_eq!(first["already_running"], false);
    let second = s.json(&["start", "idem", "--", "sleep", "99"]);
    assert_eq!(second["already_running"], true);
    assert_eq!(second["process"]["pid"], first["process"]["pid"]);
    assert_eq!(second["process"]["command"], "sleep 60");
}

#[test]
fn racing_starts_make_one_process_and_all_wait_for_it() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let s = Socket::new();
    let racers: Vec<_> = (0..4)
        .map(|_| {
            s.cmd(&[
                "--json",
                "start",
                "race",
                "--ready",
                "READY-9",
                "--timeout",
                "30s",
                "--",
                "sh",
                "-c",
                "sleep 0.3; echo READY-$((3*3)); sleep 300",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
        })
        .collect();
    let docs: Vec<serde_json::Value> = racers
        .into_iter()
        .map(|r| {
            let out = r.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            serde_json::from_slice(&out.stdout).unwrap()
        })
        .collect();
    let created = docs
        .iter()
        .filter(|d| d["already_running"] == false)
        .count();
    assert_eq!(created, 1, "{docs:?}");
    for d in &docs {
        assert_eq!(d["ready"], "READY-9", "{d}");
        assert_eq!(d["process"]["pid"], docs[0]["process"]["pid"], "{docs:?}");
    }
}

#[test]
fn the_process_survives_its_caller() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let s = Socket::new();
    let marker = s.dir.path().join("started");
    // The caller: a shell in its own session and process group that starts
    // the process, says so, and waits; then it is SIGKILLed, group and all.
    let script = format!(
        "'{BIN}' -S '{}' start survivor -- sleep 300 && touch '{}' && sleep 300",
        s.path.display(),
        marker.display()
    );
    let mut caller = Command::new("setsid")
        .args(["sh", "-c", &script])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    common::wait::until(
        "start to return",
        std::time::Duration::from_secs(30),
        || marker.exists(),
    );
    let pgid = rustix::process::Pid::from_raw(caller.id() as i32).unwrap();
    rustix::process::kill_process_group(pgid, rustix::process::Signal::KILL).unwrap();
    caller.wait().unwrap();
    let status = s.json(&["status", "survivor"]);
    assert_eq!(status["state"], "running", "{status}");
    let pid = status["pid"].as_u64().unwrap() as i32;
    assert!(
        rustix::process::test_kill_process(rustix::process::Pid::from_raw(pid).unwrap()).is_ok()
    );
}

#[test]
fn exit_codes_and_signals() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let s = Socket::new();
    s.ok(&["start", "seven", "--", "sh", "-c", "sleep 0.3; exit 7"]);
    let exit = s.json(&["wait", "seven", "--exit", "--timeout", "30s"]);
    assert_eq!(
        exit["exit"],
        serde_json::json!({"type": "exited", "code": 7})
    );
    assert_eq!(exit["code"], 7);
    // Still queryable afterwards.
    assert_eq!(s.json(&["status", "seven"])["state"], "exited");
    assert!(s
        .ok(&["wait", "seven", "--exit"])
        .contains("exited with code 7"));

    s.ok(&["start", "term", "--", "sleep", "300"]);
    let pid = s.json(&["status", "term"])["pid"].as_u64().unwrap() as i32;
    let waiter = s
        .cmd(&["--json", "wait", "term", "--exit", "--timeout", "30s"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // The wait is under way (its connection is attached); the exit is
    // kept from the start, so it is seen whenever it comes.
    s.until_attached("term");
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(pid).unwrap(),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    let out = waiter.wait_with_output().unwrap();
    assert!(out.status.success());
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        doc["exit"],
        serde_json::json!({"type": "signaled", "signal": 15})
    );
    assert_eq!(s.json(&["status", "term"])["state"], "killed");
}

#[test]
fn idle_and_timeouts() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let s = Socket::new();
    s.ok(&["start", "quiet", "--", "sh", "-c", "echo hello; sleep 300"]);
    s.ok(&["wait", "quiet", "--idle", "300ms", "--timeout", "30s"]);
    let out = s.run(&[
        "wait",
        "quiet",
        "--ready",
        "never-printed",
        "--timeout",
        "300ms",
    ]);
    assert_eq!(out.status.code(), Some(124));
    assert!(String::from_utf8_lossy(&out.stderr).contains("timed out"));
}

#[test]
fn text_arrives_byte_exact() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let s = Socket::new();
    let out_file = s.dir.path().join("received");
    let mut text =
        String::from("a;b ; c \"dq\" 'sq' $HOME `date` \\ tab\there émoji 🙂 #{pane_id} ~ %1\n");
    while text.len() < 100_000 {
        text.push_str("0123456789abcdefghijklmnopqrstuvwxyz;'\"`$\t🙂\n");
    }
    // The reader takes the tty raw (no line editing, no echo) and stores
    // exactly as many bytes as the text has.
    let reader = format!(
        "import tty,os; tty.setraw(0); n={}; d=[b'']; exec('while len(d[0])<n: d[0]+=os.read(0,n-len(d[0]))'); open('{}','wb').write(d[0])",
        text.len(),
        out_file.display()
    );
    s.ok(&["start", "reader", "--", "python3", "-c", &reader]);
    s.ok(&["wait", "reader", "--idle", "500ms", "--timeout", "30s"]);
    s.ok(&["send", "reader", &text]);
    s.ok(&["wait", "reader", "--exit", "--timeout", "60s"]);
    assert_eq!(std::fs::read(&out_file).unwrap(), text.as_bytes());
}

#[test]
fn logs_go_beyond_the_history_limit() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let s = Socket::new();
    // tmux keeps 2000 lines of history by default; print 5000.
    s.ok(&[
        "start",
        "chatty",
        "--",
        "sh",
        "-c",
        "seq 1 5000; echo DONE; sleep 300",
    ]);
    s.ok(&["wait", "chatty", "--ready", "DONE", "--timeout", "30s"]);
    let logs = s.json(&["logs", "chatty", "-n", "5001"]);
    let lines: Vec<&str> = logs["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert_eq!(lines.len(), 5001);
    assert_eq!(lines[0], "1");
    assert_eq!(lines[4999], "5000");
    let history = s.ok(&[
        "cmd",
        "display-message",
        "-p",
        "-t",
        "=chatty:",
        "#{history_limit}",
    ]);
    assert_eq!(history.trim(), "2000");
}

#[test]
fn bad_names_flags_and_unknown_names() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let s = Socket::new();
    for bad in ["a.b", "a:b", "", "x\u{1}y"] {
        let out = s.run(&["start", bad, "--", "true"]);
        assert_eq!(out.status.code(), Some(1), "{bad:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("bad name"));
    }
    assert_eq!(s.run(&["start", "x"]).status.code(), Some(2));
    assert_eq!(
        s.run(&["wait", "x", "--timeout", "soon"]).status.code(),
        Some(2)
    );
    assert_eq!(s.run(&["frobnicate"]).status.code(), Some(2));
    s.ok(&["start", "exists", "--", "sleep", "60"]);
    let out = s.run(&["status", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no process named \"nope\"") && err.contains("exists"),
        "{err}"
    );
}

#[test]
fn clean_removes_only_a_stale_socket() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let s = Socket::new();
    s.ok(&["start", "live", "--", "sleep", "60"]);
    assert_eq!(s.json(&["clean"])["removed"], false);
    assert!(Path::new(&s.path).exists());
    s.ok(&["kill-all", "--grace", "100ms"]);
    s.ok(&["cmd", "kill-server"]);
    // A socket file nobody listens on.
    let _ = std::fs::remove_file(&s.path);
    let listener = std::os::unix::net::UnixListener::bind(&s.path).unwrap();
    drop(listener);
    let out = s.run(&["ls"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("clean"));
    assert_eq!(s.json(&["clean"])["removed"], true);
    assert!(!s.path.exists());
}

/// `strace -f -e trace=execve` around a command: the programs it ran.
fn execs_of(s: &Socket, args: &[&str], during: impl FnOnce()) -> (Output, Vec<String>) {
    let trace = s
        .dir
        .path()
        .join(format!("trace-{}", args.join("_").replace('/', "")));
    let child = Command::new("strace")
        .args(["-f", "-qq", "-e", "trace=execve", "-o"])
        .arg(&trace)
        .arg(BIN)
        .arg("-S")
        .arg(&s.path)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("strace must be installed (.ci/run installs it)");
    during();
    let out = child.wait_with_output().unwrap();
    let execs = std::fs::read_to_string(&trace)
        .unwrap()
        .lines()
        .filter(|l| l.contains("execve("))
        .map(String::from)
        .collect();
    (out, execs)
}

#[test]
fn waiting_spawns_no_process() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let s = Socket::new();
    s.ok(&[
        "start",
        "waiter",
        "--",
        "sh",
        "-c",
        "read x; echo READY-OK; read y; exit 5",
    ]);
    // Once the wait is under way (its connection attached), type.
    let release = |s: &Socket| {
        s.until_attached("waiter");
        s.ok(&["send", "waiter", "--enter", "go"]);
    };
    let (out, execs) = execs_of(
        &s,
        &["wait", "waiter", "--ready", "READY-OK", "--timeout", "30s"],
        || release(&s),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(execs.len(), 1, "only tmux-wire itself may run: {execs:?}");
    let (out, execs) = execs_of(
        &s,
        &["wait", "waiter", "--exit", "--timeout", "30s"],
        || release(&s),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("exited with code 5"));
    assert_eq!(execs.len(), 1, "only tmux-wire itself may run: {execs:?}");
}

#[test]
fn logs_follow_prints_new_lines_until_the_process_exits() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let s = Socket::new();
    s.ok(&[
        "start",
        "talker",
        "--",
        "sh",
        "-c",
        "echo first; read x; echo second; echo third; exit 0",
    ]);
    s.ok(&["wait", "talker", "--ready", "first", "--timeout", "30s"]);
    let mut follower = s
        .cmd(&["--json", "logs", "talker", "-n", "5", "--follow"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // The log's last lines come once the follower is subscribed.
    use std::io::BufRead;
    let mut stdout = std::io::BufReader::new(follower.stdout.take().unwrap());
    let mut all = String::new();
    // The run's mark, then its first line.
    while !all.contains("first") {
        assert!(stdout.read_line(&mut all).unwrap() > 0, "{all}");
    }
    s.ok(&["send", "talker", "--enter", "go"]);
    std::io::Read::read_to_string(&mut stdout, &mut all).unwrap();
    assert!(follower.wait().unwrap().success());
    let mut docs: Vec<serde_json::Value> = all
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // It ends with how the process ended.
    let end = docs.pop().unwrap();
    assert_eq!(end["type"], "exited", "{end}");
    assert_eq!(end["code"], 0, "{end}");
    assert_eq!(end["exit"]["type"], "exited", "{end}");
    let lines: Vec<&str> = docs.iter().map(|d| d["line"].as_str().unwrap()).collect();
    assert!(
        lines[0].starts_with("--- tmux-wire: run of sh -c"),
        "{lines:?}"
    );
    // The terminal echoes what was typed; the log has it too.
    assert_eq!(lines[1..], ["first", "go", "second", "third"]);
}

#[test]
fn environment_cwd_keys_kill_and_version() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let s = Socket::new();
    let work = s.dir.path().join("work dir");
    std::fs::create_dir(&work).unwrap();
    // The caller's environment plus --env, in --cwd.
    let out = s
        .cmd(&[
            "start",
            "envy",
            "--cwd",
            work.to_str().unwrap(),
            "--env",
            "TW_OVERRIDE=over ride",
            "--",
            "sh",
            "-c",
            "echo \"caller=$TW_CALLER override=$TW_OVERRIDE pwd=$(pwd)\"; sleep 300",
        ])
        .env("TW_CALLER", "from-the-caller")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let expected = format!(
        "caller=from-the-caller override=over ride pwd={}",
        work.display()
    );
    s.ok(&["wait", "envy", "--ready", "pwd=", "--timeout", "30s"]);
    // After the mark that begins the run.
    assert_eq!(s.json(&["logs", "envy"])["lines"][1], expected.as_str());
    assert_eq!(s.json(&["status", "envy"])["cwd"], work.to_str().unwrap());

    // Keys by name: C-c ends `cat`.
    s.ok(&["start", "cat", "--", "cat"]);
    s.ok(&["keys", "cat", "C-c"]);
    let exit = s.json(&["wait", "cat", "--exit", "--timeout", "30s"]);
    assert_eq!(
        exit["exit"],
        serde_json::json!({"type": "signaled", "signal": 2})
    );

    // A process that ignores C-c (and the SIGHUP of its session's end) is
    // killed after the grace period.
    s.ok(&[
        "start",
        "stubborn",
        "--",
        "sh",
        "-c",
        "trap '' INT HUP; echo up; sleep 300",
    ]);
    s.ok(&["wait", "stubborn", "--ready", "up", "--timeout", "30s"]);
    let pid = s.json(&["status", "stubborn"])["pid"].as_u64().unwrap();
    let stopped = s.json(&["stop", "stubborn", "--grace", "300ms"]);
    assert_eq!(stopped["stopped"]["type"], "killed", "{stopped}");
    // Gone, or a zombie waiting for tmux to reap it.
    let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = state
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .next()
        .unwrap_or("");
    assert!(
        state.is_empty() || state == "Z",
        "process {pid} still runs ({state})"
    );

    let version = s.json(&["version"]);
    assert_eq!(version["tmux_wire"], env!("CARGO_PKG_VERSION"));
    assert_eq!(version["transport"], "direct");
    assert!(!version["server"].as_str().unwrap().is_empty());
}

#[test]
fn errors_a_person_can_act_on() {
    let s = Socket::new();
    // No tmux to start a server with.
    let out = s
        .cmd(&["start", "x", "--", "true"])
        .env("TMUX_WIRE_TMUX", "/nonexistent/tmux")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("install tmux"), "{err}");

    // The default socket in a directory others may write to.
    let tmp = tempfile::tempdir().unwrap();
    let uid = rustix::process::getuid().as_raw();
    let dir = tmp.path().join(format!("tmux-wire-{uid}"));
    std::fs::create_dir(&dir).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = Command::new(BIN)
        .args(["ls"])
        .env("TMUX_TMPDIR", tmp.path())
        .env_remove("TMUX_WIRE_SOCKET")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unsafe"), "{err}");

    // Waiting on a name that does not exist, with no server at all.
    let out = s.run(&["wait", "ghost", "--exit"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no tmux server"));
}

#[test]
fn an_exited_name_starts_again_and_a_failed_start_leaves_nothing() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let s = Socket::new();
    s.ok(&["start", "job", "--", "sh", "-c", "echo run-one; exit 3"]);
    s.ok(&["wait", "job", "--exit", "--timeout", "30s"]);
    let again = s.json(&[
        "start",
        "job",
        "--ready",
        "run-two",
        "--",
        "sh",
        "-c",
        "echo run-two; sleep 300",
    ]);
    assert_eq!(again["already_running"], false, "{again}");
    assert_eq!(again["process"]["state"], "running");
    // The log goes on across the restart.
    let lines = s.json(&["logs", "job"])["lines"].to_string();
    assert!(
        lines.contains("run-one") && lines.contains("run-two"),
        "{lines}"
    );

    // A command tmux cannot take (not UTF-8) is refused before anything is
    // created.
    use std::os::unix::ffi::OsStrExt;
    let out = s
        .cmd(&["start", "bad", "--", "echo"])
        .arg(std::ffi::OsStr::from_bytes(b"\xff"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not UTF-8"));
    assert_eq!(s.names(), ["job"]);

    // A reader that goes away is no error.
    let mut reader = s
        .cmd(&["logs", "job", "-n", "1000"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    drop(reader.stdout.take());
    let status = reader.wait().unwrap();
    assert!(status.success(), "{status:?}");

    // A wait for a line that never comes ends when the process does.
    s.ok(&["start", "short", "--", "sh", "-c", "sleep 0.5; exit 4"]);
    let out = s.run(&["wait", "short", "--ready", "never", "--timeout", "60s"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("exited with code 4"));
}

#[test]
fn sessions_a_shell_recipe_started_are_managed_too() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let s = Socket::new();
    s.recipe("recipe", &["sh -c 'echo from-the-recipe; sleep 300'"]);
    s.ok(&[
        "wait",
        "recipe",
        "--ready",
        "from-the-recipe",
        "--timeout",
        "30s",
    ]);
    let list = s.json(&["ls"]);
    assert_eq!(list["processes"][0]["name"], "recipe");
    assert_eq!(list["processes"][0]["state"], "running");
    assert!(list["processes"][0]["log"].is_null());
    // No log file: what tmux still holds.
    let logs = s.json(&["logs", "recipe"]);
    assert_eq!(logs["lines"], serde_json::json!(["from-the-recipe"]));
    let out = s.run(&["logs", "recipe", "--follow"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no log to follow"));
    let stopped = s.json(&["stop", "recipe", "--grace", "5s"]);
    assert_eq!(stopped["stopped"]["type"], "interrupted", "{stopped}");
}

/// `cmd` reports tmux's refusals in tmux's own words, on every version
/// (through `tmux -C` before 3.2); the keeper refuses a server older than
/// 3.2 before it changes anything.
#[test]
fn tmux_errors_in_its_own_words_and_old_servers_refused() {
    let s = Socket::new();
    s.recipe("kept", &["sleep 300"]);

    let out = s.run(&["cmd", "no-such-command"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "unknown command: no-such-command\n"
    );
    let out = s.run(&["--json", "cmd", "no-such-command"]);
    assert_eq!(out.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["error"], "unknown command: no-such-command");
    for argv in [
        &["cmd", "FOO=bar"][..],
        &["cmd", "list-panes", "-t", "ghost"],
    ] {
        let out = s.run(argv);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{argv:?}: {err}");
        assert!(!err.contains("attaching"), "{argv:?}: {err}");
        assert!(
            err.contains("unknown command: FOO=bar") || err.contains("can't find"),
            "{argv:?}: {err}"
        );
    }
    let shown = s.ok(&[
        "cmd",
        "display-message",
        "-p",
        "-t",
        "kept",
        "#{session_name}",
    ]);
    assert_eq!(shown, "kept\n");
    let version = s.json(&["version"]);
    assert_eq!(version["server"], common::tmux::version());

    if !tmux_wire::protocol::version_at_least(common::tmux::version(), 3, 2) {
        assert_eq!(version["transport"], "process");
        let out = s.run(&["start", "new", "--", "sleep", "300"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.contains("too old") && err.contains("3.2"), "{err}");
        let listed = s.json(&["ls"]);
        assert_eq!(listed["processes"].as_array().unwrap().len(), 1, "{listed}");
        assert_eq!(listed["processes"][0]["name"], "kept");
    }
}

/// Format answers read right in both output dialects, whatever a value
/// holds: a backslash, the text `\037` (what 3.4 and 3.5a write for the
/// separator byte), `|` and spaces.
#[test]
fn paths_and_commands_with_backslashes_read_back_exactly() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let s = Socket::new();
    let dir = s.dir.path().join(r"a\037b\c d|e");
    std::fs::create_dir(&dir).unwrap();
    let script = r"echo 'x\037y' >/dev/null; sleep 300";
    let started = s.json(&[
        "start",
        "odd",
        "--cwd",
        dir.to_str().unwrap(),
        "--",
        "sh",
        "-c",
        script,
    ]);
    let process = &started["process"];
    assert_eq!(process["state"], "running", "{started}");
    let canonical = dir.canonicalize().unwrap();
    assert_eq!(process["cwd"], canonical.to_str().unwrap(), "{started}");
    assert!(
        process["command"].as_str().unwrap().contains(r"x\037y"),
        "{started}"
    );
    let mut status = s.json(&["status", "odd"]);
    // The status document is the process with its version and type.
    let doc = status.as_object_mut().unwrap();
    assert_eq!(doc.remove("version"), Some(serde_json::json!(1)));
    assert_eq!(doc.remove("type"), Some(serde_json::json!("status")));
    assert_eq!(status, *process);
}
