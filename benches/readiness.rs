//! Wake-up latency, side by side in one run: from the moment a pane's
//! process is told to print its ready line (or to exit) to the moment the
//! waiter knows.
//!
//! - `ready/event`: `watch::wait_for`, armed before the line is printed.
//! - `ready/poll-100ms`, `ready/poll-1s`: the shell recipe it replaces,
//!   `tmux capture-pane -p` (a new process each time) every 100 ms or 1 s
//!   until the line shows up. The line is printed at a random moment of the
//!   polling cycle, as it would be in real life.
//! - `exit/event`: `watch::wait_exit` (which also returns the status);
//!   `exit/poll-100ms`, `exit/poll-1s`: `tmux display-message -p
//!   '#{pane_dead}'` every 100 ms or 1 s. (Polling `#{pane_dead_status}`
//!   instead can hang for good on tmux built with libutempter, when the
//!   server loses the SIGCHLD; see `watch::wait_exit`.)
//!
//! The pane's process waits on a FIFO, so the bench decides when it prints;
//! writing the FIFO starts the clock. Each measured iteration is one wait.
//!
//! Run: `cargo bench --bench readiness` (needs tmux and sh on PATH).

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode};
use regex::Regex;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use tmux_wire::client::{Client, ConnectOptions, TransportChoice};
use tmux_wire::protocol::PaneId;
use tmux_wire::watch;

mod common;

use common::Server;

/// A FIFO in the server's temp dir.
fn fifo(server: &Server, name: &str) -> PathBuf {
    let path = server.dir.path().join(name);
    let ok = Command::new("mkfifo")
        .arg(&path)
        .status()
        .unwrap()
        .success();
    assert!(ok, "mkfifo failed");
    path
}

/// A new window whose process runs `script` with `$F` set to a FIFO;
/// returns the pane and the FIFO.
fn window(server: &Server, n: u64, script: &str) -> (PaneId, PathBuf) {
    let fifo = fifo(server, &format!("f{n}"));
    let cmd = format!("F='{}'; {script}", fifo.display());
    let pane = server.tmux(&[
        "new-window",
        "-d",
        "-P",
        "-F",
        "#{pane_id}",
        "sh",
        "-c",
        &cmd,
    ]);
    (pane.trim().parse().unwrap(), fifo)
}

/// Tell the pane's process to go on: the clock starts here.
fn trigger(fifo: &Path, line: &str) -> Instant {
    let start = Instant::now();
    std::fs::write(fifo, format!("{line}\n")).unwrap();
    start
}

/// A small xorshift, for the moment within a polling cycle.
struct Phase(u64);

impl Phase {
    fn next(&mut self, interval: Duration) -> Duration {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        interval.mul_f64((self.0 % 10_000) as f64 / 10_000.0)
    }
}

/// The shell recipe: poll `args` every `interval` until `done(output)`,
/// while the process is triggered at a random moment of the cycle.
fn poll_latency(
    server: &Server,
    interval: Duration,
    phase: &mut Phase,
    args: &[&str],
    fifo: &Path,
    line: &str,
    done: impl Fn(&str) -> bool,
) -> Duration {
    let offset = phase.next(interval);
    let (tx, rx) = std::sync::mpsc::channel();
    let fifo = fifo.to_path_buf();
    let line = line.to_string();
    let trigger_thread = std::thread::spawn(move || {
        std::thread::sleep(offset);
        tx.send(trigger(&fifo, &line)).unwrap();
    });
    loop {
        let out = server.tmux(args);
        if done(&out) {
            let found = Instant::now();
            trigger_thread.join().unwrap();
            let start = rx.recv().unwrap();
            // A poll that began before the trigger cannot have seen it.
            return found.saturating_duration_since(start);
        }
        std::thread::sleep(interval);
    }
}

fn bench(c: &mut Criterion) {
    let server = Server::start(&["sleep 100000"]);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = runtime
        .block_on(Client::connect(
            &ConnectOptions::attach("bench")
                .socket_path(&server.socket)
                .transport(TransportChoice::Direct),
        ))
        .unwrap();
    let mut n = 0u64;
    let mut phase = Phase(0x9e37_79b9_7f4a_7c15);
    // Opened read-write, the FIFO never blocks a writer and never reads EOF.
    let echo = "exec 3<>\"$F\"; while read l <&3; do echo \"READY-$l\"; done";

    let mut group = c.benchmark_group("ready");
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.measurement_time(Duration::from_secs(8));
    group.warm_up_time(Duration::from_secs(1));
    let (pane, fifo) = window(&server, 0, echo);
    group.bench_function("event", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                n += 1;
                let pattern = Regex::new(&format!("READY-{n}\\b")).unwrap();
                total += runtime.block_on(async {
                    let wait = watch::wait_for(&client, pane, &pattern, Duration::from_secs(10));
                    let mut wait = std::pin::pin!(wait);
                    // Let the wait subscribe and read the screen first.
                    tokio::select! {
                        r = &mut wait => panic!("matched before it was printed: {r:?}"),
                        () = tokio::time::sleep(Duration::from_millis(5)) => {}
                    }
                    let start = trigger(&fifo, &n.to_string());
                    wait.await.unwrap();
                    start.elapsed()
                });
            }
            total
        })
    });
    for (label, interval) in [("poll-100ms", 100), ("poll-1s", 1000)] {
        let target = pane.to_string();
        group.bench_function(label, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    n += 1;
                    let want = format!("READY-{n}\n");
                    total += poll_latency(
                        &server,
                        Duration::from_millis(interval),
                        &mut phase,
                        &["capture-pane", "-p", "-t", &target],
                        &fifo,
                        &n.to_string(),
                        |screen| screen.contains(&want),
                    );
                }
                total
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("exit");
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.measurement_time(Duration::from_secs(8));
    group.warm_up_time(Duration::from_secs(1));
    let exits = "exec 3<>\"$F\"; read l <&3; exit 3";
    group.bench_function("event", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                n += 1;
                let (pane, fifo) = window(&server, n, exits);
                total += runtime.block_on(async {
                    let wait = watch::wait_exit(&client, pane, Duration::from_secs(10));
                    let mut wait = std::pin::pin!(wait);
                    // Let the wait arm itself (hook, watcher connection).
                    tokio::select! {
                        _ = &mut wait => panic!("exited before it was told to"),
                        () = tokio::time::sleep(Duration::from_millis(20)) => {}
                    }
                    let start = trigger(&fifo, "go");
                    assert_eq!(wait.await.unwrap(), watch::ExitStatus::Exited(3));
                    start.elapsed()
                });
                let _ = server.tmux(&["kill-pane", "-t", &pane.to_string()]);
            }
            total
        })
    });
    for (label, interval) in [("poll-100ms", 100), ("poll-1s", 1000)] {
        group.bench_function(label, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    n += 1;
                    let (pane, fifo) = window(&server, n, exits);
                    let target = pane.to_string();
                    server.tmux(&["set-option", "-p", "-t", &target, "remain-on-exit", "on"]);
                    total += poll_latency(
                        &server,
                        Duration::from_millis(interval),
                        &mut phase,
                        &["display-message", "-p", "-t", &target, "#{pane_dead}"],
                        &fifo,
                        "go",
                        |dead| dead.trim() == "1",
                    );
                    let _ = server.tmux(&["kill-pane", "-t", &target]);
                }
                total
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
