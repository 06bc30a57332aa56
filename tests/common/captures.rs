//! Loading the reference captures in `tests/fixtures/` (copied from
//! `shared/reference/`).

#![allow(dead_code)]

use std::path::PathBuf;
use tmux_wire::protocol::{Assembler, Event};

pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

pub fn read_fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixture(name)).unwrap_or_else(|e| panic!("reading fixture {name}: {e}"))
}

/// The lines of one client (`obs| ` or `act| `) of a multi-client capture,
/// prefix removed, without the `<imsg ...>` annotations (those travel on the
/// socket, not in the control stream).
pub fn client_stream(capture: &[u8], prefix: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for line in capture.split_inclusive(|&b| b == b'\n') {
        if let Some(rest) = line.strip_prefix(prefix.as_bytes()) {
            if !rest.starts_with(b"<imsg ") {
                out.extend_from_slice(rest);
            }
        }
    }
    out
}

/// The control-mode lines of the section of `control-samples.txt` whose
/// `## ` title contains `title`, with the `{xx}` notation turned back into
/// bytes. Comment lines (`## `) and imsg annotations are left out.
pub fn txt_section(title: &str) -> Vec<u8> {
    let text = read_fixture("control-samples.txt");
    let text = String::from_utf8(text).expect("control-samples.txt is UTF-8");
    let mut lines = text.lines();
    lines
        .by_ref()
        .find(|l| l.starts_with("## ") && l.contains(title))
        .unwrap_or_else(|| panic!("no section titled {title:?}"));
    let mut out = Vec::new();
    for line in lines.skip_while(|l| l.starts_with("## ") || l.starts_with("=====")) {
        if line.starts_with("=====") {
            break;
        }
        if line.starts_with("## ") || line.starts_with("<imsg") || line.is_empty() {
            continue;
        }
        out.extend(decode_braces(line));
        out.push(b'\n');
    }
    out
}

/// The bytes of a section of `control-samples.txt` that holds one Python
/// bytes literal (`b'...'`), such as the `-CC` capture read from a pty.
pub fn txt_python_bytes(title: &str) -> Vec<u8> {
    let section = txt_section(title);
    let text = String::from_utf8(section).expect("ASCII literal");
    let literal = text
        .lines()
        .find_map(|l| l.strip_prefix("b'").and_then(|l| l.strip_suffix('\'')))
        .unwrap_or_else(|| panic!("no b'...' literal in section {title:?}"));
    let b = literal.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        let (byte, used) = match b.get(i + 1) {
            Some(b'x') => (
                u8::from_str_radix(&literal[i + 2..i + 4], 16).expect("hex escape"),
                4,
            ),
            Some(b'r') => (b'\r', 2),
            Some(b'n') => (b'\n', 2),
            Some(b't') => (b'\t', 2),
            Some(&c) => (c, 2),
            None => panic!("dangling backslash"),
        };
        out.push(byte);
        i += used;
    }
    out
}

/// `{c3}{a9}` -> bytes 0xc3 0xa9; everything else as is.
pub fn decode_braces(line: &str) -> Vec<u8> {
    let b = line.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'{' && i + 3 < b.len() && b[i + 3] == b'}' {
            if let Ok(byte) = u8::from_str_radix(&line[i + 1..i + 3], 16) {
                out.push(byte);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// Feed `stream` in the given chunk sizes (cycled; the whole at once when
/// empty) and collect every event, including the final `finish()`. Odd
/// chunk sizes go through `feed`, even ones through `feed_buf`, so both
/// paths see every split.
pub fn assemble(stream: &[u8], chunks: &[usize]) -> Vec<Event> {
    let mut asm = Assembler::new();
    let mut events = Vec::new();
    if chunks.is_empty() {
        asm.feed(stream);
        events.extend(asm.events());
    } else {
        let mut rest = stream;
        for size in chunks.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (now, later) = rest.split_at((*size).clamp(1, rest.len()));
            if size % 2 == 1 {
                asm.feed(now);
            } else {
                asm.feed_buf(bytes::BytesMut::from(now));
            }
            events.extend(asm.events());
            rest = later;
        }
    }
    events.extend(asm.finish());
    events
}

/// One line of text per event, for golden files and readable diffs.
pub fn summarize(event: &Event) -> String {
    match event {
        Event::Reply(r) => {
            let mut s = format!(
                "reply {} {} flags={} lines={:?}",
                r.number,
                if r.ok { "ok" } else { "error" },
                r.flags,
                r.lines
                    .iter()
                    .map(|l| String::from_utf8_lossy(l).into_owned())
                    .collect::<Vec<_>>()
            );
            if !r.surfaced.is_empty() {
                s.push_str(&format!(" surfaced={:?}", r.surfaced));
            }
            s
        }
        Event::Notification(n) => format!("{n:?}"),
        other => format!("{other:?}"),
    }
}
