//! Layout strings: parsing never panics, and a parsed layout's checksum is
//! the one written in the string.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tmux_wire::protocol::{layout_checksum, Layout};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(layout) = Layout::parse(s) {
        assert_eq!(layout.checksum, layout_checksum(&data[5..]));
        assert!(!layout.panes().is_empty());
    }
});
