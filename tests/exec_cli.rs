//! `exec` in a kept shell through the real binary, each test on its own
//! private socket, in bash and dash: parallel execs take turns, an
//! interrupt or a shell that is not at its prompt is seen and said, the
//! wrappers stay out of the history, and the raw form keeps every byte.

mod common;

use common::cli::Socket;
use common::wait::until;
use serde_json::Value;
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

/// No wait in these tests lasts longer: a hang is a failure.
const LIMIT: Duration = Duration::from_secs(30);

/// The shells to run each test in (those installed).
fn shells() -> Vec<&'static [&'static str]> {
    let mut found = Vec::new();
    for shell in [&["bash", "--norc", "--noprofile"][..], &["dash"][..]] {
        let there = std::process::Command::new("which")
            .arg(shell[0])
            .output()
            .is_ok_and(|o| o.status.success());
        if there {
            found.push(shell);
        } else {
            eprintln!("SKIPPED exec in {}: not installed", shell[0]);
        }
    }
    found
}

/// A socket with `sh1` running `shell` (extra `--env`s first).
fn shell_session(shell: &[&str], env: &[&str]) -> Socket {
    let s = Socket::new();
    let mut start = vec!["start", "sh1"];
    for e in env {
        start.extend_from_slice(&["--env", e]);
    }
    start.push("--");
    start.extend_from_slice(shell);
    s.ok(&start);
    s
}

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

/// The pane's foreground program.
fn current(s: &Socket) -> String {
    tmux(
        s,
        &["display", "-p", "-t", "=sh1:", "#{pane_current_command}"],
    )
    .trim()
    .to_string()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn spawn(s: &Socket, args: &[&str]) -> Child {
    s.cmd(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// An exec that must succeed with exactly `expected` on stdout.
fn exec_ok(s: &Socket, line: &str, expected: &str) {
    let out = s.run(&["exec", "sh1", "--timeout", "20s", "--", line]);
    assert_eq!(
        (out.status.code(), text(&out.stdout).as_str()),
        (Some(0), expected),
        "exec {line:?}: {}",
        text(&out.stderr)
    );
}

#[test]
fn parallel_execs_on_one_shell_take_turns() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    for shell in shells() {
        let s = shell_session(shell, &[]);
        for n in [2, 4, 4] {
            let started = Instant::now();
            let children: Vec<(usize, Child)> = (0..n)
                .map(|i| {
                    let line = format!("echo one-{i}; sleep 0.2; echo two-{i}");
                    let child = spawn(&s, &["exec", "sh1", "--timeout", "25s", "--", &line]);
                    (i, child)
                })
                .collect();
            for (i, child) in children {
                let out: Output = child.wait_with_output().unwrap();
                assert_eq!(
                    (out.status.code(), text(&out.stdout)),
                    (Some(0), format!("one-{i}\ntwo-{i}\n")),
                    "{}: exec {i} of {n}: {}",
                    shell[0],
                    text(&out.stderr)
                );
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "{}: {n} execs took {:?}",
                shell[0],
                started.elapsed()
            );
        }
        // Taking turns left the shell as it was: one more works.
        exec_ok(&s, "echo after", "after\n");
    }
}

#[test]
fn the_turn_passes_on_when_an_exec_is_killed() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    for shell in shells() {
        let s = shell_session(shell, &[]);
        exec_ok(&s, "echo ready", "ready\n");
        let mut first = spawn(
            &s,
            &["exec", "sh1", "--timeout", "25s", "--", "sleep 1; echo a"],
        );
        until("sleep in the foreground", LIMIT, || current(&s) == "sleep");
        // The second waits for its turn; SIGKILL gives the first no chance
        // to release anything itself.
        let second = spawn(&s, &["exec", "sh1", "--timeout", "25s", "--", "echo b"]);
        first.kill().unwrap();
        first.wait().unwrap();
        let started = Instant::now();
        let out = second.wait_with_output().unwrap();
        assert_eq!(
            (out.status.code(), text(&out.stdout)),
            (Some(0), "b\n".to_string()),
            "{}: {}",
            shell[0],
            text(&out.stderr)
        );
        assert!(started.elapsed() < Duration::from_secs(10), "{}", shell[0]);
    }
}

#[test]
fn an_interrupt_during_exec_is_seen_at_once() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    for shell in shells() {
        let s = shell_session(shell, &[]);
        exec_ok(&s, "echo ready", "ready\n");
        let timeout = if shell[0] == "dash" { "3s" } else { "25s" };
        let child = spawn(
            &s,
            &[
                "--json",
                "exec",
                "sh1",
                "--timeout",
                timeout,
                "--",
                "echo before; sleep 5; echo NOPE",
            ],
        );
        until("sleep in the foreground", LIMIT, || current(&s) == "sleep");
        s.ok(&["keys", "sh1", "C-c"]);
        let interrupted = Instant::now();
        let out = child.wait_with_output().unwrap();
        let took = interrupted.elapsed();
        if shell[0] == "dash" {
            // dash has no line editor: its prompt reads the terminal as a
            // `read` does (canonical), so being back there says nothing and
            // exec waits for its timeout, then says the command may still
            // run.
            assert_eq!(out.status.code(), Some(124), "{}", text(&out.stderr));
            assert!(
                text(&out.stderr).contains("did not finish"),
                "{}",
                text(&out.stderr)
            );
            exec_ok(&s, "echo again", "again\n");
            continue;
        }
        assert!(
            took < Duration::from_secs(3),
            "{}: exec took {took:?} after the interrupt",
            shell[0]
        );
        assert_eq!(out.status.code(), Some(130), "{}", text(&out.stderr));
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(doc["outcome"], "interrupted", "{doc}");
        assert_eq!(doc["code"], 130, "{doc}");
        assert_eq!(doc["lines"][0], "before", "{doc}");
        assert!(!doc.to_string().contains("NOPE"), "{doc}");
        // The shell is back and usable.
        exec_ok(&s, "echo again", "again\n");
    }
}

#[test]
fn a_continuation_prompt_is_said_and_does_not_break_later_execs() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    for shell in shells() {
        let s = shell_session(shell, &[]);
        exec_ok(&s, "echo ready", "ready\n");
        // An unfinished command line: the shell waits for its rest.
        s.ok(&["send", "sh1", "--enter", "echo \"unfinished"]);
        if shell[0] == "dash" {
            // dash's continuation prompt reads the terminal as a `read`
            // does (canonical, no line editor): exec cannot tell, and waits
            // for its timeout. The line sits in the unfinished command,
            // which a Ctrl-C (the user's) clears.
            let out = s.run(&["exec", "sh1", "--timeout", "3s", "--", "echo HIDDEN"]);
            assert_eq!(out.status.code(), Some(124), "{}", text(&out.stderr));
            assert!(!text(&out.stdout).contains("HIDDEN"));
            s.ok(&["keys", "sh1", "C-c"]);
            exec_ok(&s, "echo fine", "fine\n");
            exec_ok(&s, "echo fine2", "fine2\n");
            continue;
        }
        let started = Instant::now();
        let out = s.run(&["exec", "sh1", "--timeout", "20s", "--", "echo HIDDEN"]);
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{}: took {:?}",
            shell[0],
            started.elapsed()
        );
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
        let err = text(&out.stderr);
        assert!(err.contains("not at its prompt"), "{}: {err}", shell[0]);
        assert!(!text(&out.stdout).contains("HIDDEN"));
        // Later execs work.
        exec_ok(&s, "echo fine", "fine\n");
        exec_ok(&s, "echo fine2", "fine2\n");
    }
}

#[test]
fn vi_command_mode_and_a_half_typed_line_are_cleared_first() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let shell = &["bash", "--norc", "--noprofile"][..];
    if !shells().contains(&shell) {
        return;
    }
    let s = shell_session(shell, &[]);
    exec_ok(&s, "set -o vi", "");
    // Half a line, then command mode with the cursor inside it.
    s.ok(&["send", "sh1", "echo LEFTOVER *"]);
    s.ok(&["keys", "sh1", "Escape", "h", "h", "h"]);
    exec_ok(&s, "echo in-vi", "in-vi\n");
    s.ok(&["keys", "sh1", "Escape"]);
    exec_ok(&s, "echo in-vi-2", "in-vi-2\n");
    // Still in vi mode.
    exec_ok(&s, "set -o | grep '^vi ' | tr -s ' \t' ' '", "vi on\n");
    // An emacs line with the cursor at its start.
    exec_ok(&s, "set -o emacs", "");
    s.ok(&["send", "sh1", "echo LEFTOVER *"]);
    s.ok(&["keys", "sh1", "C-a"]);
    exec_ok(&s, "echo in-emacs", "in-emacs\n");
}

#[test]
fn wrappers_stay_out_of_the_history() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let shell = &["bash", "--norc", "--noprofile"][..];
    if !shells().contains(&shell) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let hist = dir.path().join("history");
    let s = shell_session(shell, &[&format!("HISTFILE={}", hist.display())]);
    let has = |what: &str| std::fs::read_to_string(&hist).is_ok_and(|h| h.contains(what));
    s.ok(&[
        "send",
        "sh1",
        "--enter",
        "unset HISTCONTROL HISTIGNORE; set -o history; shopt -s histappend; PROMPT_COMMAND='history -a'; true MARK1",
    ]);
    until("the history file", LIMIT, || has("MARK1"));
    exec_ok(&s, "echo one", "one\n");
    exec_ok(&s, "cd /tmp", "");
    // What the shell's own history holds during an exec.
    let out = s.run(&["exec", "sh1", "--", "history 3"]);
    assert!(text(&out.stdout).contains("MARK1"), "{}", text(&out.stdout));
    assert!(!text(&out.stdout).contains("7717"), "{}", text(&out.stdout));
    s.ok(&["send", "sh1", "--enter", "true MARK2"]);
    until("the second mark", LIMIT, || has("MARK2"));
    // With ignorespace, nothing is saved, and nothing else is removed.
    s.ok(&[
        "send",
        "sh1",
        "--enter",
        "HISTCONTROL=ignorespace; true MARK3",
    ]);
    until("the third mark", LIMIT, || has("MARK3"));
    exec_ok(&s, "echo two", "two\n");
    let out = s.run(&["exec", "sh1", "--", "history 2"]);
    assert!(text(&out.stdout).contains("MARK3"), "{}", text(&out.stdout));
    s.ok(&["send", "sh1", "--enter", "true MARK4"]);
    until("the fourth mark", LIMIT, || has("MARK4"));
    let history = std::fs::read_to_string(&hist).unwrap();
    for line in history.lines() {
        assert!(
            !line.contains("7717") && !line.contains("exec."),
            "a wrapper in the history: {line}\n{history}"
        );
    }
    assert!(history.lines().count() <= 6, "{history}");
}

#[test]
fn the_raw_form_keeps_every_byte() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    for shell in shells() {
        let s = shell_session(shell, &[]);
        let line = r"printf 'a\001b\377c\033[31mred\tx\r\n'; printf 'end'";
        let want = b"a\x01b\xffc\x1b[31mred\tx\r\nend";
        let out = s.run(&["exec", "sh1", "--raw", "--", line]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert_eq!(out.stdout, want, "{}: {:?}", shell[0], text(&out.stdout));
        let doc = s.json(&["exec", "sh1", "--raw", "--", line]);
        let b64 = doc["output"]["bytes"].as_str().unwrap_or_default();
        assert_eq!(b64, base64(want), "{doc}");
        let doc = s.json(&["exec", "sh1", "--raw", "--", "printf 'h\\303\\251\\n'"]);
        assert_eq!(doc["output"], "hé\n", "{doc}");
        // The text form: lines as the screen shows them (control bytes and
        // escape sequences gone, a tab to the next tab stop, invalid UTF-8
        // as U+FFFD).
        let doc = s.json(&["exec", "sh1", "--", line]);
        assert_eq!(
            doc["lines"],
            serde_json::json!(["ab\u{fffd}cred x", "end"]),
            "{doc}"
        );
    }
}

/// An exec that prints tens of MB finishes, with its last 8 MiB (from the
/// start of a line) and how many bytes went before them. The log is made
/// large enough to hold it all without a rotation.
#[test]
fn a_long_output_keeps_its_end_and_says_what_went() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let shell = shells()[0];
    let s = Socket::new();
    let mut start = s.cmd(&["start", "sh1", "--"]);
    start
        .args(shell)
        .env("TMUX_WIRE_LOG_MAX_BYTES", (64u64 << 20).to_string());
    let started = start.output().unwrap();
    assert!(started.status.success(), "{}", text(&started.stderr));
    let last = 3_000_000u64;
    let line = format!("seq 1 {last}");
    let out = s.run(&["--json", "exec", "sh1", "--timeout", "180s", "--", &line]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["outcome"], "finished");
    let lines: Vec<u64> = doc["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap().parse().unwrap())
        .collect();
    // The end, whole lines in order, at most 8 MiB of them (each line
    // ends in CR LF in the log).
    assert_eq!(lines.last(), Some(&last));
    let first = lines[0];
    assert!(lines.iter().zip(first..).all(|(&n, want)| n == want));
    let digits = |n: u64| n.to_string().len() as u64;
    let kept: u64 = lines.iter().map(|&n| digits(n) + 2).sum();
    assert!(kept <= 8 << 20 && kept > (8 << 20) - 16, "{kept}");
    // What went: every byte before the first line kept.
    let before: u64 = (1..first).map(|n| digits(n) + 2).sum();
    assert_eq!(doc["dropped_bytes"], before, "first line kept: {first}");
    // The text form says so on stderr.
    let out = s.run(&["exec", "sh1", "--timeout", "180s", "--", &line]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains(&format!(
            "the first {before} bytes of the output were dropped"
        )),
        "{}",
        text(&out.stderr)
    );
    // A short one after it is whole, with nothing dropped.
    let doc = s.json(&["exec", "sh1", "--", "echo after"]);
    assert_eq!(doc["lines"], serde_json::json!(["after"]), "{doc}");
    assert!(doc.get("dropped_bytes").is_none(), "{doc}");
}

fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The pane's screen as plain text.
fn screen(s: &Socket) -> String {
    tmux(s, &["capture-pane", "-p", "-t", "=sh1:"])
}

#[test]
fn a_read_of_the_terminal_is_not_taken_for_an_interrupt() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
    let bash = &["bash", "--norc", "--noprofile"][..];
    for shell in shells() {
        let s = shell_session(shell, &[]);
        exec_ok(&s, "echo ready", "ready\n");
        // bash's own reads that time out by themselves: plain (canonical,
        // as dash's prompt), with readline (`-e`, as bash's prompt), one
        // key without echo (cbreak). Each waits its 2 s, then the line
        // goes on: exec waits for it, never says "interrupted".
        if shell == bash {
            for read in ["read -t 2 x", "read -e -t 2 x", "read -s -n 1 -t 2 x"] {
                let started = Instant::now();
                let line = format!("{read}; echo got:$?");
                let out = s.run(&["--json", "exec", "sh1", "--timeout", "20s", "--", &line]);
                let doc: Value = serde_json::from_slice(&out.stdout)
                    .unwrap_or_else(|_| panic!("{read}: {}", text(&out.stderr)));
                assert_eq!(doc["outcome"], "finished", "{read}: {doc}");
                // Timed out: status above 128.
                assert!(doc.to_string().contains("got:142"), "{read}: {doc}");
                assert!(started.elapsed() >= Duration::from_secs(2), "{read}: {doc}");
            }
        }
        // A read answered while exec waits: the answer reaches the read,
        // the exec gets the line's output, and the next exec works.
        let child = spawn(
            &s,
            &[
                "--json",
                "exec",
                "sh1",
                "--timeout",
                "25s",
                "--",
                "printf 'ASK-''ME '; read x; echo got:$x",
            ],
        );
        until("the read's question", LIMIT, || {
            screen(&s).contains("ASK-ME")
        });
        // Time for exec to look at the shell in its read (it looks 50 ms
        // after the log goes quiet, then every 250 ms): a wrong "back at
        // its prompt" would end it now.
        let asked = Instant::now();
        while asked.elapsed() < Duration::from_secs(1) {
            std::thread::sleep(Duration::from_millis(50));
        }
        s.ok(&["send", "sh1", "--enter", "hello"]);
        let out = child.wait_with_output().unwrap();
        let doc: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|_| panic!("{}: {}", shell[0], text(&out.stderr)));
        assert_eq!(doc["outcome"], "finished", "{}: {doc}", shell[0]);
        assert_eq!(doc["code"], 0, "{}: {doc}", shell[0]);
        assert_eq!(
            doc["lines"],
            serde_json::json!(["ASK-ME hello", "got:hello"]),
            "{}: {doc}",
            shell[0]
        );
        exec_ok(&s, "echo after", "after\n");
    }
}
