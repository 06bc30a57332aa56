//! The reference captures replayed through the assembler: every reply and
//! notification is compared with a reviewed golden file, and random
//! chunkings of the same bytes must give identical events.

mod common;

use common::captures::{
    assemble, client_stream, read_fixture, summarize, txt_python_bytes, txt_section,
};
use proptest::prelude::*;
use tmux_wire::protocol::{Event, Notification, PaneId};

/// Every capture stream: (golden file name, bytes).
fn streams() -> Vec<(&'static str, Vec<u8>)> {
    let c33 = read_fixture("control-samples-3.3a.bin");
    let cmaster = read_fixture("control-samples-master.bin");
    vec![
        ("3.3a-obs", client_stream(&c33, "obs| ")),
        ("3.3a-act", client_stream(&c33, "act| ")),
        ("master-obs", client_stream(&cmaster, "obs| ")),
        ("master-act", client_stream(&cmaster, "act| ")),
        (
            "3.3a-attach",
            txt_section("3.3a: real client `tmux -S sock -C attach`"),
        ),
        ("3.3a-new-session", txt_section("-C new-session -s ns1")),
        (
            "3.3a-control-control",
            txt_python_bytes("`tmux -CC attach` under a pty"),
        ),
        (
            "3.3a-failed-list",
            txt_section("one line with two commands"),
        ),
        ("3.3a-if-shell", txt_section("if-shell inserts")),
        (
            "3.3a-fake-guard",
            txt_section("command output is NOT escaped"),
        ),
        ("3.3a-cr", txt_section("CR is not stripped")),
        ("3.3a-pause-after", txt_section("pause-after flow control")),
        ("3.3a-subscriptions", txt_section("3.3a: subscriptions")),
        (
            "3.3a-client-detached",
            txt_section("another client detaching"),
        ),
        (
            "3.3a-attach-fails",
            txt_section("attach to a nonexistent session"),
        ),
        (
            "3.3a-no-attach",
            txt_section("initial command that does not attach"),
        ),
        (
            "3.3a-no-block",
            txt_section("lines that parse to no command"),
        ),
    ]
}

fn golden_path(name: &str) -> std::path::PathBuf {
    common::captures::fixture(&format!("expected/{name}.events"))
}

#[test]
fn captures_match_golden_files() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    for (name, bytes) in streams() {
        assert!(!bytes.is_empty(), "{name}: empty stream");
        let got: String = assemble(&bytes, &[])
            .iter()
            .map(|e| summarize(e) + "\n")
            .collect();
        let path = golden_path(name);
        if update {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &got).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (run with UPDATE_GOLDEN=1 and review)",
                path.display()
            )
        });
        assert_eq!(got, want, "{name}: events differ from {}", path.display());
    }
}

#[test]
fn captures_decode_without_invalid_lines() {
    for (name, bytes) in streams() {
        for e in assemble(&bytes, &[]) {
            assert!(
                !matches!(e, Event::Invalid { .. } | Event::Truncated { .. }),
                "{name}: {}",
                summarize(&e)
            );
        }
    }
}

/// Facts about the captures stated in tmux-protocol.md, checked directly.
#[test]
fn capture_facts() {
    let c33 = read_fixture("control-samples-3.3a.bin");
    let obs = assemble(&client_stream(&c33, "obs| "), &[]);

    // The byte-exact %output line: raw 0xff, DEL and UTF-8 survive, escapes decode.
    let want: &[u8] =
        b"tab\there bs\\ nul?\x01 esc\x1b[31mred\x1b[0m utf8:\xc3\xa9 bad:\xff del:\x7f end\r\n";
    assert!(obs.iter().any(|e| matches!(e,
        Event::Notification(Notification::Output { pane: PaneId(0), data }) if data.as_ref() == want)));

    // 3.3a writes %pause and %continue inside the block of refresh-client -A.
    let pos = |pred: &dyn Fn(&Event) -> bool| obs.iter().position(pred).unwrap();
    let pause = pos(&|e| matches!(e, Event::Notification(Notification::Pause { .. })));
    let pause_block = pos(&|e| matches!(e, Event::Reply(r) if r.number == 296));
    assert_eq!(
        pause + 1,
        pause_block,
        "the surfaced %pause comes right before its block"
    );
    let Event::Reply(r) = &obs[pause_block] else {
        unreachable!()
    };
    assert_eq!(r.lines, vec![bytes::Bytes::from("%pause %0")]);
    assert_eq!(r.surfaced, vec![0]);
    assert!(r.output().is_empty());

    // The failing command is the only error block; it carries tmux's message.
    let errors: Vec<_> = obs
        .iter()
        .filter_map(|e| match e {
            Event::Reply(r) if !r.ok => Some(r.output()),
            _ => None,
        })
        .collect();
    assert_eq!(
        errors,
        vec![b"parse error: unknown command: no-such-command".to_vec()]
    );

    // The capture-pane block keeps its raw bytes and a line that ends in spaces.
    let capture = obs
        .iter()
        .find_map(|e| match e {
            Event::Reply(r) if r.number == 291 => Some(r.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(capture.lines.len(), 4);
    assert!(capture.lines[2].windows(2).any(|w| w == b"\xc3\xa9"));

    // The fake guard is content.
    let fake = assemble(&txt_section("command output is NOT escaped"), &[]);
    assert_eq!(fake.len(), 1);
    let Event::Reply(r) = &fake[0] else { panic!() };
    assert_eq!(r.output(), b"%end 1795311688 999 1");

    // The .bin capture and the {xx} text of the same session agree.
    let cmaster = read_fixture("control-samples-master.bin");
    assert!(client_stream(&cmaster, "obs| ")
        .windows(3)
        .any(|w| w == b"\xef\xbf\xbd"));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn random_chunkings_give_identical_events(
        chunks in proptest::collection::vec(1usize..300, 1..40),
    ) {
        for (name, bytes) in streams() {
            let whole = assemble(&bytes, &[]);
            let chunked = assemble(&bytes, &chunks);
            prop_assert_eq!(&chunked, &whole, "{}", name);
        }
    }
}
