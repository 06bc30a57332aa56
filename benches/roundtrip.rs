//! Command round trips against a real tmux server, side by side in one run:
//!
//! - `sequential/*`: one `display-message -p x` and its reply, one at a time,
//!   over the direct transport, over the process transport (a `tmux -C`
//!   child), tmux's own floor (the same line through a `tmux -C` child with
//!   blocking reads and no parsing), and the way most libraries do it:
//!   spawning `tmux display -p` per command.
//! - `pipelined/*`: 1000 commands in flight at once, over the direct
//!   transport, beside tmux's own ceiling: the same 1000 lines written at
//!   once into a `tmux -C` client's stdin, timed to the last `%end`.
//! - `connect/*`: identify + attach over the direct transport (the version
//!   probed once per server is reused), the same with a fresh probe every
//!   time, and spawning a `tmux -C attach` client until its attach reply.
//!
//! Run: `cargo bench --bench roundtrip` (needs tmux on PATH).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tmux_wire::client::{Client, ConnectOptions, TransportChoice};

mod common;

use common::Server;

const PIPELINED: usize = 1000;

fn options(socket: &Path, transport: TransportChoice) -> ConnectOptions {
    ConnectOptions::attach("bench")
        .socket_path(socket)
        .transport(transport)
}

/// A `tmux -C attach` child driven by hand, for tmux's own ceiling.
fn raw_control_client(
    socket: &Path,
) -> (
    std::process::Child,
    std::process::ChildStdin,
    std::process::ChildStdout,
) {
    let mut child = Command::new("tmux")
        .arg("-S")
        .arg(socket)
        .args(["-C", "attach", "-f", "ignore-size", "-t", "bench"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    read_until_ends(&mut stdout, 1, b"%end ");
    (child, stdin, stdout)
}

/// Read until `count` lines starting with `prefix` were seen.
fn read_until_ends(stdout: &mut impl Read, count: usize, prefix: &[u8]) {
    let mut seen = 0;
    let mut buf = vec![0u8; 1 << 16];
    let mut at_line_start = true;
    let mut carry: Vec<u8> = Vec::new();
    while seen < count {
        let n = stdout.read(&mut buf).unwrap();
        assert!(n > 0, "tmux -C closed");
        for &b in &buf[..n] {
            if at_line_start {
                carry.push(b);
                if carry.len() == prefix.len() {
                    if carry == prefix {
                        seen += 1;
                    }
                    at_line_start = false;
                    carry.clear();
                }
            }
            if b == b'\n' {
                at_line_start = true;
                carry.clear();
            }
        }
    }
}

fn bench(c: &mut Criterion) {
    let server = Server::start(&[]);
    // One thread for the caller and the connection tasks, as for a task on a
    // runtime worker; with criterion's `block_on` on a multi-thread runtime,
    // every reply would also pay a wake-up across threads.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let direct = rt
        .block_on(Client::connect(&options(
            &server.socket,
            TransportChoice::Direct,
        )))
        .unwrap();
    let process = rt
        .block_on(Client::connect(&options(
            &server.socket,
            TransportChoice::Process,
        )))
        .unwrap();

    let mut g = c.benchmark_group("sequential");
    g.throughput(Throughput::Elements(1));
    g.bench_function("direct", |b| {
        b.to_async(&rt).iter(|| async {
            direct
                .command(["display-message", "-p", "x"])
                .await
                .unwrap()
        })
    });
    g.bench_function("process", |b| {
        b.to_async(&rt).iter(|| async {
            process
                .command(["display-message", "-p", "x"])
                .await
                .unwrap()
        })
    });
    // tmux's own floor: one line into a `tmux -C` client's stdin, blocking
    // reads until its `%end`, no async runtime and no parsing.
    let (mut floor, mut floor_in, mut floor_out) = raw_control_client(&server.socket);
    g.bench_function("tmux-floor", |b| {
        b.iter(|| {
            floor_in.write_all(b"display-message -p x\n").unwrap();
            floor_in.flush().unwrap();
            read_until_ends(&mut floor_out, 1, b"%end ");
        })
    });
    drop(floor_in);
    let _ = floor.wait();
    g.bench_function("spawn-per-command", |b| {
        b.iter(|| {
            let out = Command::new("tmux")
                .arg("-S")
                .arg(&server.socket)
                .args(["display-message", "-p", "x"])
                .output()
                .unwrap();
            assert_eq!(out.stdout, b"x\n");
        })
    });
    g.finish();

    let mut g = c.benchmark_group("pipelined");
    g.throughput(Throughput::Elements(PIPELINED as u64));
    g.sample_size(20);
    g.bench_function("direct", |b| {
        b.to_async(&rt).iter(|| async {
            let tasks: Vec<_> = (0..PIPELINED)
                .map(|_| {
                    let client = direct.clone();
                    tokio::spawn(
                        async move { client.command(["display-message", "-p", "x"]).await },
                    )
                })
                .collect();
            for t in tasks {
                t.await.unwrap().unwrap();
            }
        })
    });
    let (mut raw, mut raw_in, mut raw_out) = raw_control_client(&server.socket);
    let batch = "display-message -p x\n".repeat(PIPELINED);
    g.bench_function("tmux-ceiling", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let start = Instant::now();
                raw_in.write_all(batch.as_bytes()).unwrap();
                raw_in.flush().unwrap();
                read_until_ends(&mut raw_out, PIPELINED, b"%end ");
                total += start.elapsed();
            }
            total
        })
    });
    g.finish();
    drop(raw_in);
    let _ = raw.wait();

    let mut g = c.benchmark_group("connect");
    g.sample_size(30);
    g.bench_function("direct", |b| {
        b.to_async(&rt).iter(|| async {
            let client = Client::connect(&options(&server.socket, TransportChoice::Direct))
                .await
                .unwrap();
            drop(client);
        })
    });
    g.bench_function("direct-probe-every-time", |b| {
        let opts = tmux_wire::transport::direct::DirectOptions::default().probe_again();
        let attach = ["attach-session", "-f", "ignore-size", "-t", "bench"];
        b.to_async(&rt).iter(|| async {
            let pipe = tmux_wire::transport::direct::connect(&server.socket, &attach, &opts)
                .await
                .unwrap();
            drop(Client::from_pipe(pipe).await.unwrap());
        })
    });
    g.bench_function("spawn-tmux-C-attach", |b| {
        b.iter(|| {
            let (mut child, stdin, _out) = raw_control_client(&server.socket);
            drop(stdin);
            let _ = child.wait();
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4));
    targets = bench
}
criterion_main!(benches);
