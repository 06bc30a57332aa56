//! Helpers for tests that drive panes through a `Client`.

#![allow(dead_code)]

use std::time::Duration;
use tmux_wire::client::Client;
use tmux_wire::protocol::PaneId;

/// No helper waits longer than this: a hang is a failure.
pub const LIMIT: Duration = Duration::from_secs(20);

async fn run(client: &Client, argv: &[&str]) -> tmux_wire::protocol::Reply {
    tokio::time::timeout(LIMIT, client.command(argv.to_vec()))
        .await
        .unwrap_or_else(|_| panic!("{argv:?} did not finish within {LIMIT:?}"))
        .unwrap_or_else(|e| panic!("{argv:?}: {e}"))
}

/// The active pane of the client's session.
pub async fn active_pane(client: &Client) -> PaneId {
    let reply = run(client, &["display-message", "-p", "#{pane_id}"]).await;
    reply.parse().unwrap()
}

/// Type `text` into the pane's shell and press Enter.
pub async fn type_line(client: &Client, pane: PaneId, text: &str) {
    let target = pane.to_string();
    run(client, &["send-keys", "-t", &target, "-l", text]).await;
    run(client, &["send-keys", "-t", &target, "Enter"]).await;
}
