//! Command building: never panics, and a line it builds is one LF-terminated
//! line with no CR or NUL.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tmux_wire::protocol::Command;

fuzz_target!(|data: &[u8]| {
    let argv: Vec<&[u8]> = data.split(|&b| b == 0xfe).collect();
    if let Ok(line) = Command::from_argv(&argv).to_line() {
        let body = line.strip_suffix('\n').expect("ends in LF");
        assert!(!body.bytes().any(|b| matches!(b, b'\n' | b'\r' | 0)));
    }
});
