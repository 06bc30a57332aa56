//! Starting a process: a session around a placeholder, then its log pipe,
//! exit reporting and options, then the real command (see the module docs
//! of [`crate::keeper`]); and telling a start still under way from one whose
//! starter died.

use super::command::{check_runnable, environment, format_escape, shell_words};
use super::record::{self, Limit, Record, RunExit};
use super::{
    log, parse_pane_id, unix_now, validate_name, Keeper, KeeperError, ProcessInfo, State, WaitFrom,
    PANE_ID,
};
use crate::client::{commands, ErrorKind, QUIET_ATTACH_FLAGS};
use crate::protocol::PaneId;
use crate::server::{self, ServerError, StartOptions};
use crate::watch;
use regex::Regex;
use serde::Serialize;
use std::ffi::OsString;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What a new session runs until the real command replaces it; the
/// starter (pid and start time, see [`starter_token`]) follows
/// [`PLACEHOLDER_MARK`], so a session whose starter died before it finished
/// is recognised.
const PLACEHOLDER: [&str; 3] = ["sh", "-c", "exec sleep 2147483647"];
const PLACEHOLDER_MARK: &str = "tmux-wire-starting";

/// How to start a process: the default, then the builder methods.
///
/// ```
/// use std::time::Duration;
/// use tmux_wire::keeper::StartSpec;
/// let spec = StartSpec::default()
///     .cwd("/srv/app")
///     .env("PORT", "8000")
///     .ready(regex::Regex::new("Listening on").unwrap())
///     .timeout(Duration::from_secs(60));
/// # let _ = spec;
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct StartSpec {
    /// Working directory (default: the caller's).
    pub cwd: Option<PathBuf>,
    /// Variables set on top of the caller's environment.
    pub env: Vec<(String, String)>,
    /// Wait until the output matches this.
    pub ready: Option<Regex>,
    /// How long to wait for `ready` (default 30 s).
    pub timeout: Option<Duration>,
    /// Stop the run when it has run this long, even with no tmux-wire
    /// alive then (interrupt, [`StartSpec::kill_grace`], then signals; see
    /// `keeper/limit.rs`). `status` then says so.
    pub kill_after: Option<Duration>,
    /// Between the interrupt and the signals of `kill_after` (default 5 s).
    pub kill_grace: Option<Duration>,
    /// Start it again when it ends, as this says (see `keeper/restart.rs`).
    pub restart: Option<super::RestartPolicy>,
}

impl StartSpec {
    /// How long to wait for `ready`.
    pub fn ready_timeout(&self) -> Duration {
        self.timeout.unwrap_or(Duration::from_secs(30))
    }

    /// Run it in `dir`.
    pub fn cwd(mut self, dir: impl Into<PathBuf>) -> StartSpec {
        self.cwd = Some(dir.into());
        self
    }

    /// Set `name` to `value` in its environment (on top of the caller's).
    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> StartSpec {
        self.env.push((name.into(), value.into()));
        self
    }

    /// Return from the start once a line of its output matches `pattern`
    /// (waiting at most [`StartSpec::timeout`]).
    pub fn ready(mut self, pattern: Regex) -> StartSpec {
        self.ready = Some(pattern);
        self
    }

    /// Wait this long at most for the `ready` pattern (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> StartSpec {
        self.timeout = Some(timeout);
        self
    }

    /// Stop the run once it has run this long.
    pub fn kill_after(mut self, limit: Duration) -> StartSpec {
        self.kill_after = Some(limit);
        self
    }

    /// Between the interrupt and the signals of `kill_after`.
    pub fn kill_grace(mut self, grace: Duration) -> StartSpec {
        self.kill_grace = Some(grace);
        self
    }

    /// Start it again when it ends, as `policy` says.
    pub fn restart(mut self, policy: super::RestartPolicy) -> StartSpec {
        self.restart = Some(policy);
        self
    }
}

/// What [`Keeper::start`] did.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Started {
    /// Whether the name was already running (then nothing was changed).
    pub already_running: bool,
    /// The process as it is now.
    pub process: ProcessInfo,
    /// The text the readiness pattern matched, if one was given.
    pub ready: Option<String>,
    /// When the name was already running another command than the one
    /// asked for: the one asked for (the running one is `process.command`).
    /// Nothing was changed.
    pub requested_command: Option<String>,
}

impl Keeper {
    /// Start `argv` as `name` unless it is running; see the module docs.
    /// A name whose process has exited is started again in its session.
    pub async fn start(
        &self,
        name: &str,
        argv: &[OsString],
        spec: &StartSpec,
    ) -> Result<Started, KeeperError> {
        validate_name(name)?;
        let argv: Vec<String> = argv
            .iter()
            .map(|a| {
                a.to_str()
                    .map(str::to_string)
                    .ok_or_else(|| KeeperError::BadCommand(format!("{a:?} is not UTF-8")))
            })
            .collect::<Result<_, _>>()?;
        if argv.is_empty() {
            return Err(KeeperError::BadCommand("no command given".into()));
        }

        // Refuse what cannot be passed or run before anything is created.
        let env = environment(&spec.env)?;
        let cwd = match &spec.cwd {
            Some(dir) => std::fs::canonicalize(dir).map_err(|source| KeeperError::Io {
                what: format!("working directory {}", dir.display()),
                source,
            })?,
            None => std::env::current_dir().map_err(|source| KeeperError::Io {
                what: "current directory".into(),
                source,
            })?,
        };
        if !cwd.is_dir() {
            return Err(KeeperError::BadCommand(format!(
                "the working directory {} is not a directory",
                cwd.display()
            )));
        }
        check_runnable(&argv, &cwd, &env)?;
        // Its log writer, restarts and time limit need the helper program.
        self.checked_helper().await?;
        let cwd = cwd.to_string_lossy().into_owned();
        // A socket directory that does not exist yet is made, as private as
        // the default one.
        if let Some(dir) = self.socket.parent().filter(|d| !d.as_os_str().is_empty()) {
            if !dir.exists() {
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(dir)
                    .map_err(|source| ServerError::Directory {
                        path: dir.to_path_buf(),
                        source,
                    })?;
                server::ensure_private_dir(dir)?;
            }
        }
        let started_server = server::start_server_async(
            &self.socket,
            &StartOptions {
                tmux: self.tmux.clone(),
                config: None,
            },
        )
        .await?;
        if let Err(e) = self.require_version().await {
            // Leave no empty server behind on a refusal.
            if started_server {
                let _ = self.once(commands::kill_server()).await;
            }
            return Err(e);
        }
        // Logs of names long gone (see `Keeper::log_max_age`).
        self.prune_old_logs().await;
        // The run this start replaces, and how it ended, if it did.
        let mut replaced: Option<Option<RunExit>> = None;
        let pane: PaneId = loop {
            let placeholder = PLACEHOLDER
                .into_iter()
                .chain([PLACEHOLDER_MARK, &starter_token()])
                .map(str::to_string)
                .collect::<Vec<_>>();
            let created = self
                .once(commands::new_session(
                    name,
                    &format_escape(&cwd),
                    PANE_ID.format(),
                    placeholder,
                ))
                .await;
            match created {
                Ok(reply) => break parse_pane_id(&reply)?,
                Err(KeeperError::Client(e)) if e.is(ErrorKind::Duplicate) && replaced.is_none() => {
                    let current = self.settled_status(name).await?;
                    if matches!(
                        current.state,
                        State::Running | State::Idle | State::Exiting | State::Starting
                    ) {
                        // Another start may still be setting it up: with a
                        // readiness pattern, wait for it like the first one.
                        let ready = match &spec.ready {
                            Some(pattern) => {
                                let timeout = spec.ready_timeout();
                                Some(
                                    self.process(name)
                                        .await?
                                        .wait_ready(pattern, WaitFrom::RunStart, timeout)
                                        .await?
                                        .matched,
                                )
                            }
                            None => None,
                        };
                        let process = if ready.is_some() {
                            self.status(name).await?
                        } else {
                            current
                        };
                        let asked = shell_words(&argv);
                        return Ok(Started {
                            already_running: true,
                            requested_command: (process.command != asked).then_some(asked),
                            process,
                            ready,
                        });
                    }
                    // It exited, or its starter died before it finished:
                    // start it again in a new session of the same name (its
                    // log goes on).
                    self.once(commands::kill_session(commands::session(name)))
                        .await?;
                    let ended = match current.state {
                        State::Exited { code } => Some(watch::ExitStatus::Exited(code)),
                        State::Killed { signal } => Some(watch::ExitStatus::Signaled(signal)),
                        _ => None,
                    };
                    replaced = Some(current.run_start.zip(ended).map(|(run, exit)| RunExit {
                        run: run.to_string(),
                        exit,
                    }));
                }
                Err(e) => return Err(e),
            }
        };
        let replaced = replaced.flatten();
        match self.set_up(name, pane, &argv, &cwd, spec, replaced).await {
            Ok(started) => Ok(started),
            // It runs; it did not say it is ready in time. Keep it, say so.
            Err(e) if e.is_timeout() => Err(KeeperError::NotReady {
                name: name.to_string(),
                timeout: spec.ready_timeout(),
                tail: self
                    .logs(name, 10, super::LineForm::Rendered)
                    .map(|(lines, _)| lines)
                    .unwrap_or_default()
                    .join("\n"),
            }),
            Err(e) => {
                // Leave no placeholder behind to pass for a live process,
                // and none of the keeper's hooks if nothing else is kept.
                let _ = self
                    .once(commands::kill_session(commands::session(name)))
                    .await;
                self.uninstall_if_unused().await;
                Err(e)
            }
        }
    }

    /// Everything after the session exists: options, hook, log pipe, the
    /// real command, readiness. `replaced`: the run this start replaced
    /// and how it ended (the record's `replaced`: the event stream tells
    /// that end when it did not see it before the new run).
    async fn set_up(
        &self,
        name: &str,
        pane: PaneId,
        argv: &[String],
        cwd: &str,
        spec: &StartSpec,
        replaced: Option<RunExit>,
    ) -> Result<Started, KeeperError> {
        // No pane output on this connection: the readiness wait reads the
        // log, and tmux 3.2a crashes when a pane dies (a command that
        // exits at once) while output for a control client is pending.
        let client = self.attach_with(name, QUIET_ATTACH_FLAGS).await?;
        let log_path = self.log_path(name);
        // Beside the socket, so as private as the socket's directory must
        // be: nobody else may plant a file or a link there.
        server::ensure_private_dir(log_path.parent().unwrap_or(Path::new(".")))?;
        // What an earlier run's helpers failed at is not this run's.
        let _ = std::fs::remove_file(self.helper_errors_path(name));
        let now = unix_now();
        let display = shell_words(argv);
        let sink = self.sink_command(pane, &log_path)?;
        // Where this run begins, marked in the log (restarts of a name go
        // on in the same log); the sink appends from there.
        let run = log::mark_run(&log_path, &display, now).map_err(|source| KeeperError::Io {
            what: format!("writing {}", log_path.display()),
            source,
        })?;
        client.commands(watch::exit_reporting(pane)).await?;
        log::sync::prepare_channel(&log_path).map_err(|source| KeeperError::Io {
            what: format!("making the sync channel of {}", log_path.display()),
            source,
        })?;
        client.command(commands::pipe_output(pane, &sink)).await?;
        let respawn =
            commands::respawn_pane(pane, &format_escape(cwd), &environment(&spec.env)?, argv);
        // The record first, in one batch (with the session's hooks of a
        // restart policy): a racing start that sees it waits in the log
        // like this one, and compares commands with the same display; a
        // look that finds the new run finds what it replaced; until the
        // real command replaces the placeholder, the pane's start command
        // still names this start (see `settled_status`).
        let limit = spec.kill_after.map(|after| Limit {
            after,
            grace: spec.kill_grace.unwrap_or(Duration::from_secs(5)),
        });
        let kept = Record {
            version: record::VERSION,
            command: display.clone(),
            cwd: cwd.to_string(),
            started: Some(now),
            log: Some(log_path.clone()),
            run: Some(run),
            input: Some(run),
            kill_after: limit,
            restart: spec.restart,
            restarts: spec.restart.map(|_| 0),
            replaced,
            ..Record::default()
        };
        let mut batch = kept.write(name);
        match spec.restart {
            Some(_) => {
                let again = super::restart::Spec {
                    cwd: cwd.to_string(),
                    argv: argv.to_vec(),
                    env: environment(&spec.env)?,
                };
                batch.extend(self.restart_spec_and_hooks(name, &again)?);
            }
            // An earlier run's, with its environment: not needed now.
            None => {
                let _ = std::fs::remove_file(self.spec_path(name));
            }
        }
        client.commands(batch).await?;
        let run = run.to_string();
        client.command(respawn).await?;
        log::sync::until_listening(&log_path).await;
        if let Some(limit) = limit {
            self.schedule_expiry(&client, name, &run, limit).await?;
        }
        self.signal_events(&client).await;
        let ready = match &spec.ready {
            None => None,
            Some(pattern) => {
                let timeout = spec.ready_timeout();
                let matched = self
                    .wait_ready_on(&client, name, pane, pattern, WaitFrom::RunStart, timeout)
                    .await?
                    .matched;
                client.command(record::set_ready(name, &matched)).await?;
                self.signal_events(&client).await;
                Some(matched)
            }
        };
        drop(client);
        Ok(Started {
            already_running: false,
            process: self.status(name).await?,
            ready,
            requested_command: None,
        })
    }

    /// The status of `name` once a start that is still setting it up (the
    /// placeholder runs, the log option is not set yet) has finished; a
    /// start takes milliseconds, so this looks a few times, briefly.
    async fn settled_status(&self, name: &str) -> Result<ProcessInfo, KeeperError> {
        for _ in 0..250 {
            let current = self.status(name).await?;
            if current.state != State::Starting {
                return Ok(current);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.status(name).await
    }
}

/// Who is starting a session: this process's pid and start time (in
/// clock ticks since boot, from `/proc`; 0 where there is none), so that a
/// reused pid is not taken for it.
fn starter_token() -> String {
    let pid = std::process::id();
    format!("{pid}:{}", process_start_time(pid).unwrap_or(0))
}

/// The start time of process `pid` ([`crate::os::procfs::start_time`]).
fn process_start_time(pid: u32) -> Option<u64> {
    crate::os::procfs::start_time(i32::try_from(pid).ok()?)
}

/// The starter token in a placeholder's command line, if it is one.
pub(super) fn placeholder_starter(command: &str) -> Option<&str> {
    let rest = command.split_once(PLACEHOLDER_MARK)?.1;
    rest.split_whitespace().next()
}

/// Whether the starter a token names is still alive.
pub(super) fn starter_alive(token: &str) -> bool {
    let Some((pid, start)) = token.split_once(':') else {
        return false;
    };
    let (Ok(pid), Ok(start)) = (pid.parse::<u32>(), start.parse::<u64>()) else {
        return false;
    };
    match process_start_time(pid) {
        Some(now) => start == 0 || now == start,
        // No /proc (another OS): whether the pid exists at all.
        None if start == 0 => i32::try_from(pid)
            .ok()
            .and_then(crate::os::process::pid)
            .is_some_and(|pid| rustix::process::test_kill_process(pid).is_ok()),
        None => false,
    }
}
