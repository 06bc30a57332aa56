//! Throughput of the full stream assembler beside a baseline that only
//! splits the same bytes into lines with memchr, in one run.
//!
//! Per input, side by side:
//! - `memchr-lines`: the baseline, which only finds the line ends.
//! - `assembler`: the same bytes, already in memory, handed over in 64 KiB
//!   buffers with `feed_buf` (no copy), every event taken.
//! - `assembler+reads`: the transport's whole read loop: each 64 KiB read
//!   copied into one reused buffer (standing for the kernel's copy in
//!   `read(2)`), then as above. `reads-only` times that copy alone.
//!
//! Inputs (built in memory, about 8 MiB each):
//! - `output-plain`: `%output` lines of 64..4000 printable bytes, no escapes
//!   (mean about 2 KB: tmux 3.3a printing a large file to a pane sent
//!   `%output` lines of 2.0 KB on average, median 1.7 KB, at most 5.9 KB).
//! - `output-escaped`: `%output` lines of coloured text with CRLF line ends,
//!   escaped the way tmux escapes them (`\033[31m`, `\015\012`).
//! - `capture-mix`: the reference captures (blocks, notifications, output)
//!   repeated.
//! - `long-line/N`: one `%output` line of N MiB, to show the cost per byte
//!   does not grow with the line length.
//!
//! Beside the peers (groups `peers-*`): three workloads of about 2 MiB
//! each, parsed by us and by the two Rust control-mode crates, in one run:
//! - `peers-plain`: `%output` lines of 200 printable bytes.
//! - `peers-escaped`: a coloured build log with CRLF line ends, one to three
//!   log lines per `%output`, escaped as tmux escapes them.
//! - `peers-mix`: reply blocks (`%begin`, three lines, `%end`) among
//!   `%output`, `%layout-change`, `%window-renamed` and `%session-changed`.
//!
//! Per workload: `parse_line` (our per-line parser, every line, already
//! split), `Assembler` (our stream assembler as the transport drives it,
//! 64 KiB reads copied into a reused buffer, every event taken), and with
//! the peers compiled in: libtmux 0.1.2's per-line parser (`Line::parse`,
//! reachable only as `__fuzz_parse_control_line`; it unescapes `%output`)
//! on the same split lines, and tmuxctl 0.1.0's `Engine::feed` on the same
//! bytes in the 8 KiB reads its own clients make.
//!
//! Run: `cargo bench --bench parse` (ours only), or with the peers:
//! `cargo bench --manifest-path benches/peers/Cargo.toml --ignore-rust-version`
//! and then `python3 benches/peer_ratios.py` for the ratios.

use bytes::BytesMut;
use criterion::{
    black_box, criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput,
};
use std::time::Duration;
use tmux_wire::protocol::{escape, parse_line, Assembler};

const READ_SIZE: usize = 64 * 1024;
const TARGET_SIZE: usize = 8 * 1024 * 1024;

/// A small deterministic generator so every run measures the same bytes.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next() as usize) % (hi - lo)
    }
}

fn output_plain() -> Vec<u8> {
    let mut rng = Lcg(1);
    let mut out = Vec::with_capacity(TARGET_SIZE + 4096);
    while out.len() < TARGET_SIZE {
        out.extend_from_slice(format!("%output %{} ", rng.range(0, 8)).as_bytes());
        let len = rng.range(64, 4000);
        out.extend(
            (0..len)
                .map(|_| b' ' + (rng.next() % 94) as u8)
                .filter(|&b| b != b'\\'),
        );
        out.push(b'\n');
    }
    out
}

fn output_escaped() -> Vec<u8> {
    let mut rng = Lcg(2);
    let mut out = Vec::with_capacity(TARGET_SIZE + 8192);
    let words = [
        "build",
        "ok",
        "warning:",
        "src/main.rs:12",
        "error[E0308]",
        "compiling",
        "tmux",
        "=>",
    ];
    while out.len() < TARGET_SIZE {
        let mut pane = Vec::new();
        while pane.len() < rng.range(64, 1800) {
            pane.extend_from_slice(format!("\x1b[{}m", 30 + rng.range(0, 8)).as_bytes());
            pane.extend_from_slice(words[rng.range(0, words.len())].as_bytes());
            pane.extend_from_slice(b"\x1b[0m ");
            if rng.range(0, 4) == 0 {
                pane.extend_from_slice(b"\r\n");
            }
        }
        out.extend_from_slice(format!("%output %{} ", rng.range(0, 8)).as_bytes());
        out.extend(escape(&pane));
        out.push(b'\n');
    }
    out
}

fn capture_mix() -> Vec<u8> {
    // Named relative to this file, which the peers' crate compiles too.
    let captures: [&[u8]; 2] = [
        include_bytes!("../tests/fixtures/control-samples-3.3a.bin"),
        include_bytes!("../tests/fixtures/control-samples-master.bin"),
    ];
    let mut one = Vec::new();
    for capture in captures {
        for line in capture.split_inclusive(|&b| b == b'\n') {
            // Keep the observer's control stream: drop the prefix and imsg notes.
            if let Some(rest) = line.strip_prefix(b"obs| ") {
                if !rest.starts_with(b"<imsg") {
                    one.extend_from_slice(rest);
                }
            }
        }
    }
    let mut out = Vec::with_capacity(TARGET_SIZE + one.len());
    while out.len() < TARGET_SIZE {
        out.extend_from_slice(&one);
    }
    out
}

fn long_line(mib: usize) -> Vec<u8> {
    let mut out = b"%output %1 ".to_vec();
    let mut rng = Lcg(3);
    out.extend((0..mib * 1024 * 1024).map(|_| b'a' + (rng.next() % 26) as u8));
    out.push(b'\n');
    out
}

/// Take every event available now.
fn drain(asm: &mut Assembler) -> usize {
    let mut n = 0;
    while let Some(ev) = asm.next_event() {
        black_box(&ev);
        n += 1;
    }
    n
}

/// The assembler as the transport drives it: each read lands in one
/// reused buffer (the copy from `input` stands for the kernel's copy in
/// `read(2)`), which is split off and handed over with `feed_buf`; lines
/// are views into it, and the buffer's memory is reused once they drop.
fn assemble(input: &[u8]) -> usize {
    let mut asm = Assembler::new();
    let mut read_buf = BytesMut::with_capacity(2 * READ_SIZE);
    let mut n = 0;
    for read in input.chunks(READ_SIZE) {
        read_buf.reserve(READ_SIZE);
        read_buf.extend_from_slice(read);
        asm.feed_buf(read_buf.split());
        n += drain(&mut asm);
    }
    n
}

/// The assembler fed buffers that were read before timing started (so it
/// sees the same bytes in memory as the baseline): each `feed_buf` hands
/// over one 64 KiB piece of a single allocation, without copying.
fn assemble_preread(mut all: BytesMut) -> usize {
    let mut asm = Assembler::new();
    let mut n = 0;
    while !all.is_empty() {
        let read = all.split_to(READ_SIZE.min(all.len()));
        asm.feed_buf(read);
        n += drain(&mut asm);
    }
    n
}

/// `input` in one allocation, plus a one-byte piece of that allocation to
/// hand back to criterion, so the memory is released after timing stops
/// (as the baseline's input is never released while it is timed).
fn preread(input: &[u8]) -> (BytesMut, BytesMut) {
    let mut all = BytesMut::with_capacity(input.len() + 1);
    all.extend_from_slice(input);
    all.extend_from_slice(b"-");
    let keep = all.split_off(input.len());
    (all, keep)
}

/// Only the reads of [`assemble`], for reference.
fn reads_only(input: &[u8]) -> usize {
    let mut read_buf = BytesMut::with_capacity(2 * READ_SIZE);
    let mut n = 0;
    for read in input.chunks(READ_SIZE) {
        read_buf.extend_from_slice(read);
        n += black_box(&read_buf).len();
        read_buf.clear();
    }
    n
}

/// The baseline: only find the line ends.
fn split_lines(input: &[u8]) -> usize {
    memchr::memchr_iter(b'\n', black_box(input)).count()
}

const PEER_SIZE: usize = 2 * 1024 * 1024;

/// `%output` lines of 200 printable bytes (no backslash).
fn peers_plain() -> Vec<u8> {
    let mut rng = Lcg(4);
    let mut out = Vec::with_capacity(PEER_SIZE + 256);
    while out.len() < PEER_SIZE {
        out.extend_from_slice(format!("%output %{} ", rng.range(0, 8)).as_bytes());
        out.extend((0..200).map(|_| match b' ' + (rng.next() % 94) as u8 {
            b'\\' => b'/',
            b => b,
        }));
        out.push(b'\n');
    }
    out
}

/// A coloured build log, CRLF line ends, one to three log lines per
/// `%output`, escaped as tmux escapes them.
fn peers_escaped() -> Vec<u8> {
    let mut rng = Lcg(5);
    let mut out = Vec::with_capacity(PEER_SIZE + 1024);
    let mut n = 0;
    while out.len() < PEER_SIZE {
        let mut pane = Vec::new();
        for _ in 0..rng.range(1, 4) {
            n += 1;
            let log = match rng.range(0, 4) {
                0 => format!("\x1b[1m\x1b[32m   Compiling\x1b[0m crate-{n} v0.{}.{} (/home/dev/src/crate-{n})\r\n", n % 7, n % 13),
                1 => format!("\x1b[1m\x1b[33mwarning\x1b[0m\x1b[1m: unused variable: `item_{n}`\x1b[0m\r\n"),
                2 => format!("\x1b[1m\x1b[94m  --> \x1b[0msrc/module_{n}.rs:{}:{}\r\n", n % 400, n % 80),
                _ => format!("\x1b[1m\x1b[92m    Finished\x1b[0m `dev` profile [unoptimized + debuginfo] target(s) in {}.{}s\r\n", n % 60, n % 100),
            };
            pane.extend_from_slice(log.as_bytes());
        }
        out.extend_from_slice(format!("%output %{} ", rng.range(0, 8)).as_bytes());
        out.extend(escape(&pane));
        out.push(b'\n');
    }
    out
}

/// Reply blocks among notifications, as a client that lists windows while
/// panes print and windows change sees them.
fn peers_mix() -> Vec<u8> {
    let mut rng = Lcg(6);
    let mut out = Vec::with_capacity(PEER_SIZE + 1024);
    let mut number = 100;
    while out.len() < PEER_SIZE {
        number += 1;
        let t = 1_700_000_000 + number / 50;
        let w = rng.range(0, 9);
        out.extend_from_slice(format!("%begin {t} {number} 1\n").as_bytes());
        for i in 0..3 {
            out.extend_from_slice(
                format!(
                    "{i}: win{i}{} ({} panes) [120x30] [layout b25d,120x30,0,0,{i}] @{i}\n",
                    if i == 0 { "*" } else { "-" },
                    i + 1
                )
                .as_bytes(),
            );
        }
        out.extend_from_slice(format!("%end {t} {number} 1\n").as_bytes());
        out.extend_from_slice(
            format!(
                "%output %{w} $ cargo test -q --lib{}\\015\\012\n",
                " ".repeat(rng.range(0, 40))
            )
            .as_bytes(),
        );
        out.extend_from_slice(format!("%layout-change @{w} c6e5,120x30,0,0{{60x30,0,0,{w},59x30,61,0,{}}} c6e5,120x30,0,0{{60x30,0,0,{w},59x30,61,0,{}}} *\n", w + 1, w + 1).as_bytes());
        out.extend_from_slice(
            format!("%output %{w} running 12 tests from tests/suite_{number}.rs\n").as_bytes(),
        );
        out.extend_from_slice(format!("%window-renamed @{w} build-{number}\n").as_bytes());
        out.extend_from_slice(format!("%session-changed ${} work-{}\n", w % 3, w % 3).as_bytes());
    }
    out
}

/// The lines of `input` without their `\n`.
fn split(input: &[u8]) -> Vec<&[u8]> {
    let mut lines = Vec::new();
    let mut start = 0;
    for end in memchr::memchr_iter(b'\n', input) {
        lines.push(&input[start..end]);
        start = end + 1;
    }
    lines
}

/// Our per-line parser on every line (block content comes out as errors,
/// as it would for any per-line parser outside a block).
fn ours_per_line(lines: &[&[u8]]) -> usize {
    lines
        .iter()
        .map(|line| black_box(parse_line(black_box(line))).is_ok() as usize)
        .sum()
}

#[cfg(peers)]
fn libtmux_per_line(lines: &[&[u8]]) -> usize {
    for line in lines {
        libtmux::control::__fuzz_parse_control_line(black_box(line));
    }
    lines.len()
}

/// tmuxctl's engine fed as its own clients feed it: reads of 8 KiB (its
/// `feed` removes each line from the front of its buffer, so the cost of a
/// read grows with the square of its size; at our 64 KiB it runs about
/// half as fast).
#[cfg(peers)]
fn tmuxctl_feed(input: &[u8]) -> usize {
    const TMUXCTL_READ: usize = 8 * 1024;
    let mut engine = tmuxctl::Engine::new();
    input
        .chunks(TMUXCTL_READ)
        .map(|read| black_box(engine.feed(read)).len())
        .sum()
}

fn bench_peers(c: &mut Criterion) {
    for (name, input) in [
        ("peers-plain", peers_plain()),
        ("peers-escaped", peers_escaped()),
        ("peers-mix", peers_mix()),
    ] {
        let lines = split(&input);
        let mut g = c.benchmark_group(name);
        g.throughput(Throughput::Bytes(input.len() as u64));
        g.bench_function("tmux-wire parse_line", |b| b.iter(|| ours_per_line(&lines)));
        g.bench_function("tmux-wire Assembler", |b| {
            b.iter(|| assemble(black_box(&input)))
        });
        #[cfg(peers)]
        g.bench_function("libtmux Line::parse", |b| {
            b.iter(|| libtmux_per_line(&lines))
        });
        #[cfg(peers)]
        g.bench_function("tmuxctl Engine::feed", |b| {
            b.iter(|| tmuxctl_feed(black_box(&input)))
        });
        g.finish();
    }
}

fn bench(c: &mut Criterion) {
    let inputs = [
        ("output-plain", output_plain()),
        ("output-escaped", output_escaped()),
        ("capture-mix", capture_mix()),
    ];
    for (name, input) in &inputs {
        let mut g = c.benchmark_group(*name);
        g.throughput(Throughput::Bytes(input.len() as u64));
        g.bench_function("assembler", |b| {
            b.iter_batched(
                || preread(input),
                |(all, keep)| (assemble_preread(all), keep),
                BatchSize::LargeInput,
            )
        });
        g.bench_function("assembler+reads", |b| b.iter(|| assemble(black_box(input))));
        g.bench_function("reads-only", |b| b.iter(|| reads_only(black_box(input))));
        g.bench_function("memchr-lines", |b| b.iter(|| split_lines(black_box(input))));
        g.finish();
    }

    let mut g = c.benchmark_group("long-line");
    g.sample_size(10);
    for mib in [1, 4, 16, 64] {
        let input = long_line(mib);
        g.throughput(Throughput::Bytes(input.len() as u64));
        g.bench_with_input(
            BenchmarkId::new("assembler", format!("{mib}MiB")),
            &input,
            |b, i| b.iter(|| assert_eq!(assemble(black_box(i)), 1)),
        );
        g.bench_with_input(
            BenchmarkId::new("memchr-lines", format!("{mib}MiB")),
            &input,
            |b, i| b.iter(|| split_lines(black_box(i))),
        );
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4)).sample_size(30);
    targets = bench_peers, bench
}
criterion_main!(benches);
