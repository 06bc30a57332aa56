//! Drain a pane's output through the library ([`Client`] and
//! [`Pane::output`](tmux_wire::client::Pane::output)) and count the bytes:
//! the library half of `benches/flood.py`.
//!
//! ```text
//! cargo run --release --example drain -- SOCKET SESSION BYTES
//! ```
//!
//! Attaches to SESSION on the server at SOCKET, subscribes to its active
//! pane's output, prints `subscribed` (so a caller can start the producer
//! only then), and counts output bytes until BYTES have come or the stream
//! ends (or the pane's process has exited and its output stayed quiet for
//! a second: run it with `remain-on-exit` on, so that tmux keeps the
//! pane and sends all of its output). Then it prints `bytes N paused P`: P is how many times the stream
//! said output was dropped (the reader fell behind); 0 means nothing was
//! lost.

use std::io::Write;
use std::time::Duration;
use tmux_wire::client::{Client, ConnectOptions, PaneEvent};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [socket, session, bytes] = args.as_slice() else {
        return Err("usage: drain SOCKET SESSION BYTES".into());
    };
    let want: u64 = bytes.parse()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let client = Client::connect(&ConnectOptions::attach(session).socket_path(socket)).await?;
        let pane = client.active_pane().await?;
        let mut output = pane.output().await?;
        println!("subscribed");
        std::io::stdout().flush()?;
        let (mut got, mut paused) = (0u64, 0u64);
        while got < want {
            // Quiet for a second: done if the pane's process has exited
            // (the session keeps the pane: `remain-on-exit`).
            let Ok(item) = tokio::time::timeout(Duration::from_secs(1), output.next()).await else {
                let dead = client
                    .command([
                        "display-message",
                        "-p",
                        "-t",
                        &pane.id().to_string(),
                        "#{pane_dead}",
                    ])
                    .await?;
                if dead.output() == b"1" {
                    break;
                }
                continue;
            };
            match item {
                Some(PaneEvent::Output(data)) => got += data.len() as u64,
                Some(PaneEvent::Paused) => paused += 1,
                Some(PaneEvent::Resumed) => {}
                Some(PaneEvent::Closed(_)) | None => break,
            }
        }
        println!("bytes {got} paused {paused}");
        Ok(())
    })
}
