//! The `tmux-wire` binary as a person runs it.

use std::process::{Command, Output};

fn tmux_wire(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tmux-wire"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run tmux-wire")
}

#[test]
fn decodes_one_client_of_a_capture() {
    let out = tmux_wire(&[
        "decode",
        "tests/fixtures/control-samples-3.3a.bin",
        "--client",
        "obs| ",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text
        .lines()
        .next()
        .unwrap()
        .starts_with("reply 268 ok (flags 0)"));
    assert!(text.contains(
        "reply 322 error (flags 1): [\"parse error: unknown command: no-such-command\"]"
    ));
    assert!(text.contains("notification SessionChanged { session: SessionId(0), name: \"work\" }"));
}

#[test]
fn json_output_is_one_document_per_event() {
    let out = tmux_wire(&[
        "decode",
        "--json",
        "tests/fixtures/control-samples-master.bin",
        "--client",
        "act| ",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 21);
    for line in text.lines() {
        assert!(line.starts_with("{\"") && line.ends_with('}'), "{line}");
    }
    assert!(text
        .lines()
        .next()
        .unwrap()
        .starts_with("{\"Reply\":{\"time\":1795311600,\"number\":319"));
}

#[test]
fn invalid_lines_exit_1_and_are_shown() {
    // Without --client the prefixes make every line invalid.
    let out = tmux_wire(&["decode", "tests/fixtures/control-samples-3.3a.bin"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("invalid \"obs| %begin"));
}

#[test]
fn usage_errors_exit_2_and_help_teaches() {
    for args in [
        &[][..],
        &["frobnicate"],
        &["decode", "--bogus"],
        &["decode", "a", "b"],
        &["decode", "--client"],
    ] {
        let out = tmux_wire(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("Usage:") || err.contains("--help"), "{err}");
    }
    let help = tmux_wire(&["--help"]);
    assert_eq!(help.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&help.stdout).contains("Examples:"));
}

#[test]
fn unreadable_file_exits_1_with_the_reason() {
    let out = tmux_wire(&["decode", "/nonexistent/capture"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("reading /nonexistent/capture") && err.contains("No such file"),
        "{err}"
    );
}
