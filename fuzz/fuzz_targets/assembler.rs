//! A stream in arbitrary chunks: the first byte picks the chunk sizes and
//! whether each chunk goes through `feed` or `feed_buf`. The events must
//! equal those of the same stream fed whole, and nothing may panic.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use tmux_wire::protocol::{Assembler, Event};

fn run(stream: &[u8], seed: u8, lift: bool) -> Vec<Event> {
    let mut asm = if lift { Assembler::new() } else { Assembler::without_block_notifications() };
    let mut events = Vec::new();
    if seed == 0 {
        asm.feed(stream);
        events.extend(asm.events());
    } else {
        let mut rest = stream;
        let mut i = 0usize;
        while !rest.is_empty() {
            let size = 1 + (usize::from(seed).wrapping_mul(i + 7) % 61);
            let (now, later) = rest.split_at(size.min(rest.len()));
            if (seed as usize + i) % 2 == 0 {
                asm.feed(now);
            } else {
                asm.feed_buf(BytesMut::from(now));
            }
            events.extend(asm.events());
            rest = later;
            i += 1;
        }
    }
    events.extend(asm.finish());
    events
}

fuzz_target!(|data: &[u8]| {
    let Some((&seed, stream)) = data.split_first() else { return };
    let lift = seed & 0x80 == 0;
    let whole = run(stream, 0, lift);
    let chunked = run(stream, seed | 1, lift);
    assert_eq!(whole, chunked);
    for e in &whole {
        if let Event::Reply(r) = e {
            assert!(r.surfaced.windows(2).all(|w| w[0] < w[1]));
            assert!(r.surfaced.iter().all(|&i| i < r.lines.len()));
            assert_eq!(r.content().len(), r.lines.len() - r.surfaced.len());
        }
    }
});
