//! What an agent relies on, through the real binary on private sockets:
//! waits that never answer with stale text or the echo of what was typed,
//! logs that read as the screen did and lose nothing, and nothing of the
//! user's harmed.

mod common;

use common::cli::Socket;
use std::io::{BufRead, Read};
use std::process::Stdio;

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
    assert_eq!(found["ready"], "DONE-2");
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
    assert_eq!(found["ready"], "RESULT-42", "{found}");

    // --from start reads the whole run; --from now only what comes next.
    let found = s.json(&["wait", "sh1", "--ready", "^v 1$", "--from", "start"]);
    assert_eq!(found["ready"], "v 1");
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
    assert_eq!(found["ready"], ">>> ");
    let found = s.json(&["wait", "py", "--ready", r">>>\s*$", "--timeout", "20s"]);
    assert_eq!(found["ready"], ">>> ", "no blank rows below the prompt");
    let found = s.json(&[
        "send",
        "py",
        "--enter",
        "print('all ' + 'done')",
        "--then-ready",
        "done$",
    ]);
    assert_eq!(found["ready"], "done");
    let found = s.json(&[
        "send",
        "py",
        "--enter",
        "print('y' * 3 + '!')",
        "--then-ready",
        "^yyy",
    ]);
    assert_eq!(found["ready"], "yyy");
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
        .cmd(&["logs", "seqi", "-n", "0", "--follow"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = nix::unistd::Pid::from_raw(follower.id() as i32);
    let stdout = follower.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut expected = 1u32;
        let mut lines = std::io::BufReader::new(stdout).lines();
        // Only the echo of what is typed may come before the numbers.
        for line in lines.by_ref() {
            let line = line.unwrap();
            if line == "1" {
                break;
            }
        }
        for line in lines {
            let line = line.unwrap();
            expected += 1;
            if expected > N {
                assert_eq!(line, "SEQ-END");
                return expected;
            }
            assert_eq!(line, expected.to_string(), "lines lost or repeated");
        }
        expected
    });
    s.ok(&["send", "seqi", "--enter", "go"]);
    // Stop the follower while the flood goes on, then let it go on.
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGSTOP).unwrap();
    s.ok(&["wait", "seqi", "--ready", "^SEQ-END$", "--timeout", "120s"]);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGCONT).unwrap();
    s.ok(&["send", "seqi", "--enter", "stop"]);
    let seen = reader.join().unwrap();
    assert_eq!(seen, N + 1, "the follower stopped before the end");
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

#[test]
fn logs_follow_fails_when_the_server_goes_away() {
    require_tmux!(3, 2, common::tmux::ATTACH_NEEDS);
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
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(follower.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    assert!(first.contains("run of sleep 300"), "{first}");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(server),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let status = follower.wait().unwrap();
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert_eq!(status.code(), Some(1), "{rest}");
    let end: serde_json::Value = serde_json::from_str(rest.lines().last().unwrap()).unwrap();
    assert!(
        end["error"].as_str().unwrap().contains("server went away"),
        "{end}"
    );
}
