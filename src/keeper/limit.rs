//! `start --kill-after`: a run's time limit, kept by the tmux server.
//!
//! The start asks tmux for `run-shell -b -d SECONDS 'PROGRAM ... expire
//! NAME --run RUN ...'` (a helper, see `keeper/helper.rs`): tmux's own
//! timer, so no process waits meanwhile (and none needs to be alive when
//! the limit comes). Then `expire` runs as a
//! child of the server: if the same run is still going, it marks the
//! session (`@tmux-wire-expired`, which `status` shows), interrupts the
//! process (C-c), waits the grace period, and then signals it (SIGTERM,
//! then SIGKILL). The session stays, with the process's status, until it
//! is stopped or started again.

use super::record::{self, Limit};
use super::{Keeper, KeeperError};
use crate::client::{commands, Client};
use crate::protocol::PaneId;
use crate::watch::{self, WatchError};
use std::time::Duration;

impl Keeper {
    /// Schedule the end of the run that begins at `run` (a log position) of
    /// `name`, `limit.after` from now, with `limit.grace` between C-c and
    /// the signals. (The limit itself is in the record, written by the
    /// start, for the runs a restart policy starts again.)
    pub(super) async fn schedule_expiry(
        &self,
        client: &Client,
        name: &str,
        run: &str,
        limit: Limit,
    ) -> Result<(), KeeperError> {
        let grace_ms = format!("{}ms", limit.grace.as_millis());
        let run_shell = self.helper_command(
            Some(limit.after),
            name,
            "expire",
            &["--run", run, "--grace", &grace_ms],
        )?;
        client.command(run_shell).await?;
        Ok(())
    }

    /// End `name`'s run that began at `run` for running too long (what the
    /// timer of `Keeper::schedule_expiry` runs): nothing if that run is
    /// over or another has begun. Returns whether it acted.
    pub(super) async fn expire(
        &self,
        name: &str,
        run: &str,
        grace: Duration,
    ) -> Result<bool, KeeperError> {
        let info = match self.find(name).await {
            Ok((info, _)) => info,
            Err(KeeperError::NotFound { .. }) => return Ok(false),
            Err(e) => return Err(e),
        };
        if info.run_start.map(|r| r.to_string()).as_deref() != Some(run) {
            return Ok(false);
        }
        let (client, pane) = self.pane_without_output(name).await?.into_parts();
        if watch::exit_status(&client, pane).await?.is_some() {
            return Ok(false);
        }
        // The limit, as recorded at the start (in whole seconds, up).
        let (recorded, _) = self.read_record(&client, name).await?;
        let limit = recorded.kill_after.unwrap_or(Limit {
            after: Duration::ZERO,
            grace,
        });
        client.command(record::set_expired(name, limit)).await?;
        self.interrupt_then_kill(&client, name, pane, grace).await?;
        Ok(true)
    }

    /// C-c, `grace` to exit, then SIGTERM and SIGKILL to its process group.
    async fn interrupt_then_kill(
        &self,
        client: &Client,
        name: &str,
        pane: PaneId,
        grace: Duration,
    ) -> Result<(), KeeperError> {
        client.command(commands::send_keys(pane, ["C-c"])).await?;
        match watch::wait_exit(client, pane, grace).await {
            Ok(_) => return Ok(()),
            Err(WatchError::Timeout(_)) => {}
            Err(e) => return Err(e.into()),
        }
        match watch::local_pids(client, pane).await {
            Some((_, pid)) => {
                let process = crate::os::process::ProcessExit::open(Some(pid));
                super::stop::terminate_now(pid, &process).await;
            }
            // Not ours to signal (another pid namespace): end the session.
            None => {
                client
                    .command(commands::kill_session(commands::session(name)))
                    .await?;
            }
        }
        Ok(())
    }
}
