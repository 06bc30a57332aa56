//! The command-line builder against a real tmux 3.3a parser: arbitrary
//! arguments are quoted, sent over a control connection, stored by tmux in
//! paste buffers and written back to files byte for byte.

mod common;

use common::tmux::{ControlClient, TmuxServer};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use tmux_wire::protocol::{command_list_line, Command};

/// Store each value in its own buffer with one line of `;`-separated
/// commands, save the buffers to files, and return what tmux wrote.
fn round_trip(tmux: &mut ControlClient, dir: &std::path::Path, values: &[String]) -> Vec<Vec<u8>> {
    // `set-buffer` ignores empty data, so each buffer starts with "X" and the
    // value is appended to it.
    let mut cmds = Vec::new();
    for (i, v) in values.iter().enumerate() {
        let name = format!("tw{i}");
        cmds.push(Command::new("set-buffer").args(["-b", &name, "--", "X"]));
        cmds.push(Command::new("set-buffer").args(["-a", "-b", &name, "--", v]));
    }
    let line = command_list_line(&cmds).expect("sendable");
    tmux.send_raw(&line);
    for _ in 0..cmds.len() {
        let reply = tmux.next_reply_with_flags(1);
        assert!(
            reply.ok,
            "tmux refused {line:?}: {:?}",
            String::from_utf8_lossy(&reply.output())
        );
    }
    let mut out = Vec::new();
    for i in 0..values.len() {
        let path = dir.join(format!("buf{i}"));
        let reply = tmux.run_line(
            &Command::new("save-buffer")
                .arg("-b")
                .arg(format!("tw{i}"))
                .arg(path.to_str().unwrap())
                .to_line()
                .unwrap(),
        );
        assert!(reply.ok);
        // save-buffer may finish after its block; a later command runs after it.
        assert!(tmux.replies_until_sync().is_empty());
        let mut bytes = std::fs::read(&path).expect("tmux wrote the buffer");
        assert_eq!(bytes.remove(0), b'X');
        out.push(bytes);
    }
    out
}

#[test]
fn hand_picked_arguments_round_trip() {
    let server = TmuxServer::start();
    let mut tmux = server.control_client();
    let values: Vec<String> = [
        "",
        "plain",
        "two words",
        "it's",
        "\"dq\"",
        "'",
        "''",
        "\\",
        "\\'",
        "$HOME",
        "${HOME}",
        "~",
        "~root",
        "~/x",
        "#{session_name}",
        "# comment",
        ";",
        "a;b",
        "a\\;",
        "x ;",
        "{",
        "}",
        "{ a }",
        "%",
        "%1",
        "%if 1",
        "%endif",
        "-",
        "--",
        "-a",
        "FOO=bar",
        "\t tab",
        "é ü 日本 🎉",
        "\u{1b}[31m",
        "\u{7f}",
        "a\"b'c$d~e\\f",
        "line\nbreak",
        "\r\n",
        "a\\nb",
        "\n'\n",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let got = round_trip(&mut tmux, server.dir(), &values);
    for (v, g) in values.iter().zip(&got) {
        assert_eq!(g, v.as_bytes(), "{v:?}");
    }
}

/// Strings of anything sendable, weighted towards what tmux's parser treats
/// specially.
fn arg() -> impl Strategy<Value = String> {
    let special = prop::sample::select(vec![
        "'", "\"", "\\", "$", "~", "#", ";", "{", "}", "%", " ", "\t", "=", "-", "#{", "\\;", "é",
        "🎉", "\u{1b}", "\u{7f}", "\u{1}", "a", "Z", "0", "\n", "\r", "\\n",
    ]);
    prop_oneof![
        prop::collection::vec(special, 0..12).prop_map(|v| v.concat()),
        "[^\u{0}]{0,24}",
    ]
}

#[test]
fn arbitrary_arguments_round_trip() {
    let server = TmuxServer::start();
    let tmux = std::cell::RefCell::new(server.control_client());
    let mut runner = TestRunner::new(Config {
        cases: 200,
        ..Config::default()
    });
    runner
        .run(&prop::collection::vec(arg(), 1..4), |values| {
            let got = round_trip(&mut tmux.borrow_mut(), server.dir(), &values);
            for (v, g) in values.iter().zip(&got) {
                prop_assert_eq!(g.as_slice(), v.as_bytes(), "{:?}", v);
            }
            Ok(())
        })
        .unwrap();
}

/// The command name is quoted by the same rules: tmux reports an unknown
/// name back verbatim in its error, so the name must arrive unchanged.
#[test]
fn arbitrary_command_names_round_trip() {
    let server = TmuxServer::start();
    let tmux = std::cell::RefCell::new(server.control_client());
    let mut runner = TestRunner::new(Config {
        cases: 100,
        ..Config::default()
    });
    runner
        .run(&arg(), |suffix| {
            // A prefix no tmux command starts with (tmux accepts unique prefixes).
            let name = format!("zz-tw {suffix}");
            let mut tmux = tmux.borrow_mut();
            tmux.send_raw(&Command::new(&name).arg("x").to_line().unwrap());
            let replies = tmux.replies_until_sync();
            prop_assert_eq!(replies.len(), 1);
            prop_assert!(!replies[0].ok);
            let want = format!("unknown command: {name}");
            let got = String::from_utf8_lossy(&replies[0].output()).into_owned();
            prop_assert!(
                got.ends_with(&want),
                "{:?} does not end with {:?}",
                got,
                want
            );
            Ok(())
        })
        .unwrap();
}
