//! Bytes a server (or anyone) might send on the socket, in both header
//! layouts and split anywhere: decoding never panics, and every message that
//! decodes re-encodes to one that decodes the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tmux_wire::protocol::{Decoder, HeaderLayout, Message};

fuzz_target!(|data: &[u8]| {
    let Some((&seed, stream)) = data.split_first() else { return };
    let layout = if seed & 1 == 0 { HeaderLayout::A } else { HeaderLayout::B };
    let step = 1 + usize::from(seed >> 1);
    let mut d = Decoder::new(layout);
    for chunk in stream.chunks(step) {
        d.feed(chunk);
        while let Some(frame) = d.next_frame() {
            let Ok(frame) = frame else { continue };
            let Ok(msg) = Message::decode(&frame) else { continue };
            if let Ok(bytes) = msg.encode(layout) {
                let mut again = Decoder::new(layout);
                again.feed(&bytes);
                let back = again.next_frame().expect("a whole frame").expect("valid frame");
                assert_eq!(Message::decode(&back).expect("decodes"), msg);
                assert_eq!(back.has_fd, msg.carries_fd());
            }
        }
    }
});
