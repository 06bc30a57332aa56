//! One line in: parsing never panics; every entry point agrees, including
//! the assembler's fast path for `%output` lines.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tmux_wire::protocol::{parse_line, parse_line_bytes, Assembler, Event, Line};

fuzz_target!(|data: &[u8]| {
    let parsed = parse_line(data);
    assert_eq!(parsed, parse_line_bytes(&bytes::Bytes::copy_from_slice(data)));

    // The same line through the assembler (which strips CR and the -CC
    // framing, so leave those out) must give the same notification.
    if data.iter().any(|&b| matches!(b, b'\n' | b'\r' | 0x1b)) {
        return;
    }
    let mut asm = Assembler::new();
    asm.feed(data);
    asm.feed(b"\n");
    let event = asm.next_event();
    match (&parsed, event) {
        (Ok(Line::Notification(n)), Some(Event::Notification(m))) => assert_eq!(n, &m),
        (Ok(Line::Begin(_)), None) => assert!(asm.in_block()),
        (Ok(Line::End(_) | Line::Error(_)), Some(Event::Invalid { .. })) => {}
        (Err(_), Some(Event::Invalid { line, .. })) => assert_eq!(line.as_ref(), data),
        (p, e) => panic!("parse_line gave {p:?} but the assembler gave {e:?}"),
    }
});
