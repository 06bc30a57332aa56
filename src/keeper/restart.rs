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
use super::{log, Keeper, KeeperError, OPT_KILL_AFTER};
use crate::client::{commands, Client};
use crate::protocol::Command;
use crate::watch::{ExitStatus, EXIT_CHANNEL};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::Duration;

/// The policy (`WHEN:MAX:DELAY_MS`, or `off`).
pub(super) const OPT_RESTART: &str = "@tmux-wire-restart";
/// Restarts made so far.
pub(super) const OPT_RESTARTS: &str = "@tmux-wire-restarts";
/// The last exits, newest last: `exited N` / `signaled N`, `;`-separated.
pub(super) const OPT_EXITS: &str = "@tmux-wire-exits";
/// The last failure of a helper tmux ran (restart-due, restart, expire),
/// as a `tmux-wire` before the helpers' error file recorded it (`status`
/// still reads it on sessions it started).
pub(super) const OPT_HELPER_ERROR: &str = "@tmux-wire-error";
/// How many exits are kept.
const EXITS_KEPT: usize = 10;
/// The longest delay between restarts.
const MAX_DELAY: Duration = Duration::from_secs(300);

/// When a process is started again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestartWhen {
    /// After a non-zero exit or a signal.
    OnFailure,
    /// After any exit.
    Always,
}

/// A restart policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestartPolicy {
    /// When.
    pub when: RestartWhen,
    /// At most this many restarts (then it stays ended).
    pub max: u32,
    /// The delay before the first restart; it doubles with each one.
    pub delay: Duration,
}

impl RestartPolicy {
    fn to_option(self) -> String {
        let when = match self.when {
            RestartWhen::OnFailure => "on-failure",
            RestartWhen::Always => "always",
        };
        format!("{when}:{}:{}", self.max, self.delay.as_millis())
    }

    fn from_option(s: &str) -> Option<RestartPolicy> {
        let mut parts = s.split(':');
        let when = match parts.next()? {
            "on-failure" => RestartWhen::OnFailure,
            "always" => RestartWhen::Always,
            _ => return None,
        };
        Some(RestartPolicy {
            when,
            max: parts.next()?.parse().ok()?,
            delay: Duration::from_millis(parts.next()?.parse().ok()?),
        })
    }

    /// Whether an exit with `status` is restarted.
    fn applies(self, status: ExitStatus) -> bool {
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

impl std::str::FromStr for RestartWhen {
    type Err = String;
    fn from_str(s: &str) -> Result<RestartWhen, String> {
        match s {
            "on-failure" => Ok(RestartWhen::OnFailure),
            "always" => Ok(RestartWhen::Always),
            _ => Err(format!("{s:?}: say on-failure or always")),
        }
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

    /// Record the policy, the spec and the hook of a run about to start.
    pub(super) async fn set_restart_policy(
        &self,
        client: &Client,
        name: &str,
        policy: RestartPolicy,
        spec: &Spec,
    ) -> Result<(), KeeperError> {
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
        let session = commands::session(name);
        let batch = [
            commands::set_option(&session, OPT_RESTART, &policy.to_option()),
            commands::set_option(&session, OPT_RESTARTS, "0"),
            commands::set_option(&session, OPT_EXITS, ""),
            Command::new("set-hook")
                .arg("-t")
                .arg(&session)
                .arg("pane-died[0]")
                .arg(hook.trim_end()),
            // A session's hook hides the global one: keep the exit waits'
            // and the event stream's.
            Command::new("set-hook")
                .arg("-t")
                .arg(&session)
                .arg(format!("pane-died[{}]", crate::watch::EXIT_HOOK_INDEX))
                .arg(format!("wait-for -S {EXIT_CHANNEL}")),
            Command::new("set-hook")
                .arg("-t")
                .arg(&session)
                .arg(format!("pane-died[{}]", super::EVENTS_HOOK_INDEX))
                .arg(super::events::events_signal()),
        ];
        client.commands(batch).await?;
        Ok(())
    }

    /// Turn `name`'s restart policy off (before a stop), if it has one
    /// (a session someone else started keeps its options untouched).
    pub(super) async fn restart_off_if_set(
        &self,
        client: &Client,
        name: &str,
    ) -> Result<(), KeeperError> {
        let policy = self.session_fields(client, name, &[OPT_RESTART]).await?;
        if RestartPolicy::from_option(&policy[0]).is_some() {
            client
                .command(commands::set_option(
                    commands::session(name),
                    OPT_RESTART,
                    "off",
                ))
                .await?;
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
        let session = commands::session(name);
        let fields = self
            .session_fields(&client, name, &[OPT_RESTART, OPT_RESTARTS, OPT_EXITS])
            .await?;
        let (policy, done, exits) = (&fields[0], &fields[1], &fields[2]);
        // Record this exit (once per run: the hook may fire again for it).
        let entry = format!("{} {}", run, exit_word(status));
        if exits.split(';').any(|e| e == entry) {
            return Ok(false);
        }
        let mut kept: Vec<&str> = exits.split(';').filter(|e| !e.is_empty()).collect();
        kept.push(&entry);
        let skip = kept.len().saturating_sub(EXITS_KEPT);
        client
            .command(commands::set_option(
                &session,
                OPT_EXITS,
                &kept[skip..].join(";"),
            ))
            .await?;
        let Some(policy) = RestartPolicy::from_option(policy) else {
            return Ok(false);
        };
        let done: u32 = done.parse().unwrap_or(0);
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
        let fields = self
            .session_fields(&client, name, &[OPT_RESTART, OPT_RESTARTS, OPT_KILL_AFTER])
            .await?;
        let Some(policy) = RestartPolicy::from_option(&fields[0]) else {
            return Ok(false);
        };
        let done: u32 = fields[1].parse().unwrap_or(0);
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
        })?
        .to_string();
        let session = commands::session(name);
        let batch = [
            commands::set_option(&session, super::OPT_RUN, &new_run),
            commands::set_option(&session, super::OPT_INPUT, &new_run),
            commands::set_option(&session, super::OPT_ECHO, ""),
            commands::set_option(&session, super::OPT_STARTED, &now.to_string()),
            commands::set_option(&session, OPT_RESTARTS, &(done + 1).to_string()),
            commands::set_option(&session, super::OPT_READY, ""),
        ];
        client.commands(batch).await?;
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
        if let Some((after, grace)) = super::limit::parse_limit(&fields[2]) {
            self.schedule_expiry(&client, name, &new_run, after, grace)
                .await?;
        }
        Ok(true)
    }

    /// Session options of `name`, in order (empty when unset).
    pub(super) async fn session_fields(
        &self,
        client: &Client,
        name: &str,
        options: &[&str],
    ) -> Result<Vec<String>, KeeperError> {
        let query = crate::protocol::FormatQuery::new(options);
        let reply = client
            .command(commands::display(commands::session(name), query.format()))
            .await?;
        Ok(query
            .parse_one(&reply.content())
            .map_err(crate::watch::WatchError::from)?)
    }
}

/// `exited N` / `signaled N`.
pub(super) fn exit_word(status: ExitStatus) -> String {
    match status {
        ExitStatus::Exited(code) => format!("exited {code}"),
        ExitStatus::Signaled(signal) => format!("signaled {signal}"),
    }
}

/// The exits recorded in `@tmux-wire-exits`, oldest first.
pub(super) fn recorded_exits(option: &str) -> Vec<ExitStatus> {
    recorded_runs(option).into_iter().map(|(_, e)| e).collect()
}

/// The same, with the run (its log position) each exit ended.
pub(super) fn recorded_runs(option: &str) -> Vec<(String, ExitStatus)> {
    option
        .split(';')
        .filter_map(|e| {
            let mut words = e.split_whitespace();
            let run = words.next()?.to_string();
            let how = words.next()?;
            let n = words.next()?.parse().ok()?;
            match how {
                "exited" => Some((run, ExitStatus::Exited(n))),
                "signaled" => Some((run, ExitStatus::Signaled(n))),
                _ => None,
            }
        })
        .collect()
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
        assert_eq!(RestartPolicy::from_option(&p.to_option()), Some(p));
        assert_eq!(RestartPolicy::from_option("off"), None);
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
        assert_eq!(
            recorded_exits("1.2:3 exited 1;1.2:9 signaled 15"),
            [ExitStatus::Exited(1), ExitStatus::Signaled(15)]
        );
    }
}
