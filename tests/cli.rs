//! The `tmux-wire` binary as a person runs it.

use std::io::Write;
use std::process::{Command, Output, Stdio};

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
        .starts_with("{\"version\":1,\"type\":\"reply\",\"time\":1795311600,\"number\":319"));
}

fn tmux_wire_stdin(args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tmux-wire"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run tmux-wire");
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

/// One typed document per event: ids as tmux writes them, bytes as text
/// when UTF-8 and base64 otherwise, never serde's enum or byte-array forms.
#[test]
fn json_documents_are_typed() {
    let stream = b"%begin 1700000000 5 1\n0: bash* (1 panes)\n%end 1700000000 5 1\n\
%output %1 hi\\015\\012\n\
%output %1 \\377\\376\n\
%layout-change @2 b25d,80x24,0,0,0 b25d,80x24,0,0,0 *\n\
%session-changed $3 work\n\
%begin 1700000001 6 1\nparse error\n%error 1700000001 6 1\n";
    let out = tmux_wire_stdin(&["decode", "--json"], stream);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let docs: Vec<&str> = text.lines().collect();
    assert_eq!(
        docs,
        [
            r#"{"version":1,"type":"reply","time":1700000000,"number":5,"flags":1,"ok":true,"output":{"text":"0: bash* (1 panes)"}}"#,
            r#"{"version":1,"type":"output","pane":"%1","data":{"text":"hi\r\n"}}"#,
            r#"{"version":1,"type":"output","pane":"%1","data":{"bytes":"//4="}}"#,
            r#"{"version":1,"type":"layout-change","window":"@2","layout":"b25d,80x24,0,0,0","visible_layout":"b25d,80x24,0,0,0","flags":"*"}"#,
            r#"{"version":1,"type":"session-changed","session":"$3","name":"work"}"#,
            r#"{"version":1,"type":"reply","time":1700000001,"number":6,"flags":1,"ok":false,"output":{"text":"parse error"}}"#,
        ]
    );
    // A stream that ends inside a block says so, and exits 1.
    let out = tmux_wire_stdin(&["decode", "--json"], b"%begin 1 2 0\nhalf\n%out");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim_end(),
        r#"{"version":1,"type":"truncated","open_block":{"time":1,"number":2,"flags":0},"lines":[{"text":"half"}],"partial_line":{"text":"%out"}}"#
    );
}

#[test]
fn completions_for_each_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let out = tmux_wire(&["completions", shell]);
        assert_eq!(out.status.code(), Some(0), "{shell}");
        let script = String::from_utf8(out.stdout).unwrap();
        assert!(!script.is_empty(), "{shell}");
        assert!(script.contains("tmux-wire"), "{shell}: {script}");
        assert!(script.contains("kill-all"), "{shell}: {script}");
    }
    assert_eq!(tmux_wire(&["completions", "tcsh"]).status.code(), Some(2));
}

#[test]
fn man_page_is_roff() {
    let out = tmux_wire(&["man"]);
    assert_eq!(out.status.code(), Some(0));
    let page = String::from_utf8(out.stdout).unwrap();
    // roff from the first line: clap_mangen opens with two requests that
    // define a quote string, then the title.
    assert!(page.starts_with('.'), "{page}");
    let title = page.lines().position(|l| l.starts_with(".TH tmux-wire 1"));
    let first_section = page.lines().position(|l| l.starts_with(".SH"));
    assert!(title.is_some() && title < first_section, "{page}");
    assert!(page.contains("tmux\\-wire") || page.contains("tmux-wire"));
    assert!(page.contains("kill\\-all") || page.contains("kill-all"));
    // A command's own page, and every page written into a directory.
    let start = String::from_utf8(tmux_wire(&["man", "start"]).stdout).unwrap();
    assert!(start.contains(".TH tmux-wire-start 1"), "{start}");
    assert!(start.contains("\\-\\-ready"), "{start}");
    let dir = tempfile::tempdir().unwrap();
    let out = tmux_wire(&["man", "--dir", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    for page in ["tmux-wire.1", "tmux-wire-start.1", "tmux-wire-kill-all.1"] {
        assert!(dir.path().join(page).is_file(), "{page}");
    }
    assert!(!dir.path().join("tmux-wire-log-sink.1").exists());
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
