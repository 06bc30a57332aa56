//! Restart policies, carried out by the tmux server's own hooks.
//!
//! `start --restart on-failure|always` records the policy on the session
//! (`@tmux-wire-restart`: `WHEN:MAX:DELAY_MS`), the command to run again in
//! a spec file beside the log (`NAME.spec`: directory, arguments and
//! environment, NUL-separated, private like the log), and a session hook:
//!
//! ```text
//! pane-died[0]    run-shell -b 'PROGRAM __tmux-wire-helper 1 -S SOCK restart-due NAME ...'
//! pane-died[4242] wait-for -S tmux-wire-pane-died   (the exit waits')
//! ```
//!
//! When the process dies, tmux runs `restart-due`, which records the exit
//! (`@tmux-wire-exits`, the last ten), and, if the policy says so and fewer
//! than MAX restarts were made, asks tmux for `run-shell -b -d DELAY
//! 'PROGRAM ... restart NAME --run RUN'`, DELAY doubling with each
//! restart (at most 5 minutes). No process waits meanwhile: tmux's timer
//! runs `restart`, which respawns the pane (same pane, same log, a new run
//! marked in it) unless the run was stopped or started anew in between. A
//! `stop` turns the policy off first; a run ended by `--kill-after` is not
//! restarted.

use super::command::format_escape;
use super::record::{self, RestartPolicy, RestartWhen, RunExit};
use super::{hooks, log, Keeper, KeeperError};
use crate::client::{commands, Client};
use crate::protocol::Command;
use crate::watch::ExitStatus;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::Duration;

/// How many exits are kept.
const EXITS_KEPT: usize = 10;
/// The longest delay between restarts.
const MAX_DELAY: Duration = Duration::from_secs(300);

impl RestartPolicy {
    /// Whether an exit with `status` is restarted.
    pub(super) fn applies(self, status: ExitStatus) -> bool {
        match self.when {
            RestartWhen::Always => true,
            RestartWhen::OnFailure => status != ExitStatus::Exited(0),
        }
    }

    /// The delay before restart number `n` (0 for the first).
    pub fn delay_before(self, n: u32) -> Duration {
        self.delay
            .checked_mul(1u32.checked_shl(n.min(31)).unwrap_or(u32::MAX))
            .unwrap_or(MAX_DELAY)
            .min(MAX_DELAY)
    }
}

/// What a run needs to be run again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Spec {
    pub(super) cwd: String,
    pub(super) argv: Vec<String>,
    pub(super) env: Vec<(String, String)>,
}

impl Spec {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut field = |s: &str| {
            out.extend_from_slice(s.as_bytes());
            out.push(0);
        };
        field("tmux-wire spec 1");
        field(&self.cwd);
        field(&self.argv.len().to_string());
        for a in &self.argv {
            field(a);
        }
        for (k, v) in &self.env {
            field(&format!("{k}={v}"));
        }
        out
    }

    fn decode(data: &[u8]) -> Option<Spec> {
        let mut fields = data
            .split(|&b| b == 0)
            .map(|f| String::from_utf8(f.to_vec()).ok());
        if fields.next()?? != "tmux-wire spec 1" {
            return None;
        }
        let cwd = fields.next()??;
        let argc: usize = fields.next()??.parse().ok()?;
        let argv = (0..argc)
            .map(|_| fields.next().flatten())
            .collect::<Option<Vec<_>>>()?;
        let env = fields
            .flatten()
            .filter(|f| !f.is_empty())
            .map(|f| {
                f.split_once('=')
                    .map(|(k, v)| (k.to_string(), v.to_string()))
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Spec { cwd, argv, env })
    }
}

impl Keeper {
    pub(super) fn spec_path(&self, name: &str) -> PathBuf {
        self.log_path(name).with_extension("spec")
    }

    /// Write the spec of a run about to start with a restart policy, and
    /// return its session's hooks ([`hooks::session_hooks`]), for the
    /// start's batch (its record holds the policy).
    pub(super) fn restart_spec_and_hooks(
        &self,
        name: &str,
        spec: &Spec,
    ) -> Result<[Command; 3], KeeperError> {
        let path = self.spec_path(name);
        let io = |source| KeeperError::Io {
            what: format!("writing {}", path.display()),
            source,
        };
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(e)),
        }
        log::open_append(&path)
            .and_then(|mut f| f.write_all(&spec.encode()))
            .map_err(io)?;
        let hook = self
            .helper_command(None, name, "restart-due", &[])?
            .to_line()
            .map_err(crate::client::ClientError::from)?;
        Ok(hooks::session_hooks(name, hook.trim_end()))
    }

    /// Turn `name`'s restart policy off (before a stop), if it has one
    /// (a session someone else started keeps its options untouched).
    pub(super) async fn restart_off_if_set(
        &self,
        client: &Client,
        name: &str,
    ) -> Result<(), KeeperError> {
        let (recorded, _) = self.read_record(client, name).await?;
        if recorded.restart.is_some() {
            client.command(record::set_restart_off(name)).await?;
        }
        Ok(())
    }

    /// What tmux's `pane-died` hook runs: record the exit, and schedule a
    /// restart if the policy says so. Returns whether one was scheduled.
    pub(super) async fn restart_due(&self, name: &str) -> Result<bool, KeeperError> {
        let (client, pane) = match self.pane_without_output(name).await {
            Ok(pane) => pane.into_parts(),
            Err(KeeperError::NotFound { .. }) => return Ok(false),
            Err(e) => return Err(e),
        };
        // The hook may come when the pane's terminal closed, before tmux has
        // reaped the process: wait for its status (see `watch::wait_exit`).
        let status = match crate::watch::wait_exit(&client, pane, Duration::from_secs(10)).await {
            Ok(status) => status,
            Err(crate::watch::WatchError::PaneGone(_)) => return Ok(false),
            Err(e) => return Err(e.into()),
        };
        let (info, _) = self.find(name).await?;
        let Some(run) = info.run_start else {
            return Ok(false);
        };
        let (recorded, _) = self.read_record(&client, name).await?;
        // Record this exit (once per run: the hook may fire again for it).
        let entry = RunExit {
            run: run.to_string(),
            exit: status,
        };
        let mut exits = recorded.exits;
        if exits.contains(&entry) {
            return Ok(false);
        }
        exits.push(entry);
        let skip = exits.len().saturating_sub(EXITS_KEPT);
        client
            .command(record::set_exits(name, &exits[skip..]))
            .await?;
        let Some(policy) = recorded.restart else {
            return Ok(false);
        };
        let done = recorded.restarts.unwrap_or(0);
        if !policy.applies(status) || done >= policy.max || info.killed_after.is_some() {
            return Ok(false);
        }
        let delay = policy.delay_before(done);
        let run = run.to_string();
        client
            .command(self.helper_command(Some(delay), name, "restart", &["--run", &run])?)
            .await?;
        Ok(true)
    }

    /// What the timer of [`Keeper::restart_due`] runs: start the run again
    /// in the same pane, unless it was stopped, started anew or its policy
    /// turned off meanwhile. Returns whether it restarted.
    pub(super) async fn restart_now(&self, name: &str, run: &str) -> Result<bool, KeeperError> {
        // Stops and restarts of a name take turns (the stop's lock): a stop
        // that turned the policy off is seen below, and a stop that comes
        // later finds the new run.
        let dir = self
            .spec_path(name)
            .parent()
            .map(PathBuf::from)
            .unwrap_or_default();
        let _lock = self.stop_lock(&dir, name).await?;
        let info = match self.find(name).await {
            Ok((info, _)) => info,
            Err(KeeperError::NotFound { .. }) => return Ok(false),
            Err(e) => return Err(e),
        };
        let dead = matches!(
            info.state,
            super::State::Exited { .. } | super::State::Killed { .. }
        );
        if !dead || info.run_start.map(|r| r.to_string()).as_deref() != Some(run) {
            return Ok(false);
        }
        let (client, pane) = self.pane_without_output(name).await?.into_parts();
        let (recorded, _) = self.read_record(&client, name).await?;
        let Some(policy) = recorded.restart else {
            return Ok(false);
        };
        let done = recorded.restarts.unwrap_or(0);
        if done >= policy.max {
            return Ok(false);
        }
        let path = self.spec_path(name);
        let mut data = Vec::new();
        log::open_read(&path)
            .and_then(|mut f| f.read_to_end(&mut data))
            .map_err(|source| KeeperError::Io {
                what: format!("reading {}", path.display()),
                source,
            })?;
        let spec = Spec::decode(&data).ok_or_else(|| {
            KeeperError::BadCommand(format!("{} is not a tmux-wire spec", path.display()))
        })?;
        let log_path = self.log_path(name);
        let now = super::unix_now();
        let display = super::command::shell_words(&spec.argv);
        let new_run = log::mark_run(
            &log_path,
            &format!("{display} (restart {} of {})", done + 1, policy.max),
            now,
        )
        .map_err(|source| KeeperError::Io {
            what: format!("writing {}", log_path.display()),
            source,
        })?;
        client
            .commands(record::set_new_run(name, new_run, now, done + 1))
            .await?;
        let new_run = new_run.to_string();
        // Respawn from a connection that is not attached: an attached
        // control client holds back tmux's buffer of the pane's output,
        // and tmux 3.3a, respawning a pane whose buffer is not drained,
        // skips that much of the new process's output in the pipe to the
        // log.
        drop(client);
        self.once(commands::respawn_pane(
            pane,
            &format_escape(&spec.cwd),
            &spec.env,
            &spec.argv,
        ))
        .await?;
        let (client, _) = self.pane_without_output(name).await?.into_parts();
        self.signal_events(&client).await;
        if let Some(limit) = recorded.kill_after {
            self.schedule_expiry(&client, name, &new_run, limit).await?;
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_specs_and_exits_read_back() {
        let p = RestartPolicy {
            when: RestartWhen::OnFailure,
            max: 3,
            delay: Duration::from_millis(500),
        };
        assert!(p.applies(ExitStatus::Exited(1)) && p.applies(ExitStatus::Signaled(9)));
        assert!(!p.applies(ExitStatus::Exited(0)));
        assert_eq!(p.delay_before(0), Duration::from_millis(500));
        assert_eq!(p.delay_before(2), Duration::from_secs(2));
        assert_eq!(p.delay_before(40), MAX_DELAY);
        let spec = Spec {
            cwd: "/tmp/a b".into(),
            argv: vec!["sh".into(), "-c".into(), "echo 'x=y'\nexit 3".into()],
            env: vec![("A".into(), "1=2".into()), ("PATH".into(), "/bin".into())],
        };
        assert_eq!(Spec::decode(&spec.encode()), Some(spec));
        assert_eq!(Spec::decode(b"other"), None);
    }
}
