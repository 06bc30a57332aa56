//! Waiting for quiet: a pane that printed nothing for a while, and
//! optionally is back at a shell.

use super::WatchError;
use crate::client::{commands, Client, CloseReason, PaneEvent};
use crate::protocol::{FormatQuery, PaneId};
use std::time::Duration;
use tokio::time::Instant;

/// What [`wait_idle`] saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idle {
    /// The pane's foreground command when it went quiet
    /// (`#{pane_current_command}`, asked once).
    pub current_command: String,
}

/// What counts as idle for [`wait_idle`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IdleWhen {
    /// The pane printed nothing for the quiet time.
    #[default]
    Quiet,
    /// That, and its foreground process is a shell again (asked once per
    /// quiet period, not polled): a program that is quiet but still runs
    /// keeps the wait going.
    AtShell,
}

/// A wait for quiet that is armed: the pane's output is followed from
/// here on. Then [`ArmedIdle::wait`].
pub struct ArmedIdle<'c> {
    client: &'c Client,
    pane: PaneId,
    output: crate::client::PaneOutput,
    armed_at: Instant,
}

/// Arm a wait for quiet on `pane`: what it prints from now on counts as
/// activity (text typed after this, and its echo, too).
pub async fn arm_idle(client: &Client, pane: PaneId) -> Result<ArmedIdle<'_>, WatchError> {
    Ok(ArmedIdle {
        client,
        pane,
        output: client.pane_output(pane).await?,
        armed_at: Instant::now(),
    })
}

impl ArmedIdle<'_> {
    /// Wait until the pane has printed nothing for `quiet` (counted from
    /// when it was armed, or its last output), and is at a shell again if
    /// `when` asks for that ([`IdleWhen`]).
    pub async fn wait(
        mut self,
        quiet: Duration,
        when: IdleWhen,
        timeout: impl Into<Option<Duration>>,
    ) -> Result<Idle, WatchError> {
        let timeout = super::limit(timeout);
        let deadline = Instant::now() + timeout;
        let mut quiet_until = self.armed_at + quiet;
        loop {
            if quiet_until > deadline {
                // Even a quiet pane would not be idle in time; wait out the
                // clock while still draining output.
                quiet_until = deadline;
            }
            match tokio::time::timeout_at(quiet_until, self.output.next()).await {
                Err(_) if Instant::now() >= deadline => return Err(WatchError::Timeout(timeout)),
                Err(_) => {
                    let current_command = current_command(self.client, self.pane).await?;
                    if when == IdleWhen::Quiet || is_shell(&current_command) {
                        return Ok(Idle { current_command });
                    }
                    quiet_until = Instant::now() + quiet;
                }
                Ok(None) => {
                    return Err(WatchError::Closed(
                        self.client.closed_reason().unwrap_or(CloseReason::Lost),
                    ))
                }
                Ok(Some(PaneEvent::Closed(reason))) => return Err(WatchError::Closed(reason)),
                // Any output, or a gap in it, means the pane is not quiet.
                Ok(Some(_)) => quiet_until = Instant::now() + quiet,
            }
        }
    }
}

/// The pane's foreground command (`#{pane_current_command}`).
pub async fn current_command(client: &Client, pane: PaneId) -> Result<String, WatchError> {
    let query = FormatQuery::new(&["pane_current_command"]);
    let reply = client
        .command(commands::display(pane, query.format()))
        .await?;
    Ok(query.parse_one(&reply.content())?.remove(0))
}

/// Wait until the pane has printed nothing for `quiet`: [`arm_idle`], then
/// [`ArmedIdle::wait`].
pub async fn wait_idle(
    client: &Client,
    pane: PaneId,
    quiet: Duration,
    when: IdleWhen,
    timeout: impl Into<Option<Duration>>,
) -> Result<Idle, WatchError> {
    arm_idle(client, pane)
        .await?
        .wait(quiet, when, timeout)
        .await
}

/// The program's name in a `#{pane_current_command}`: no directory, and
/// no `-` of a login shell.
pub(crate) fn program_name(command: &str) -> &str {
    command
        .rsplit('/')
        .next()
        .unwrap_or(command)
        .trim_start_matches('-')
}

/// Whether a `#{pane_current_command}` is an interactive shell.
pub fn is_shell(command: &str) -> bool {
    matches!(
        program_name(command),
        "sh" | "bash"
            | "zsh"
            | "fish"
            | "dash"
            | "ksh"
            | "mksh"
            | "tcsh"
            | "csh"
            | "ash"
            | "nu"
            | "elvish"
            | "xonsh"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shells() {
        assert!(is_shell("bash") && is_shell("-zsh") && is_shell("/bin/sh"));
        assert!(!is_shell("python3") && !is_shell("vim") && !is_shell(""));
    }
}
