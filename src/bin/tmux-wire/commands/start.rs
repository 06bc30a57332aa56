//! `start`: run NAME's command in a new tmux session, unless it runs.

use crate::arg_groups::{LimitArgs, NewNameArg, SpawnArgs, TimeoutArg};
use crate::args::parse_duration;
use crate::contract::Process;
use crate::failure::Failure;
use crate::output::{out, print_doc, show_path, show_pid, spinner};
use clap::Args;
use schemars::JsonSchema;
use serde::Serialize;
use std::ffi::OsString;
use std::process::ExitCode;
use std::time::Duration;
use tmux_wire::keeper::{self, Keeper, StartSpec};

/// Start NAME running CMD unless it already runs (then change nothing).
#[derive(Args)]
#[command(
    after_help = "Examples:\n  tmux-wire start web --ready 'Serving HTTP' -- python3 -m http.server --bind 127.0.0.1 8000\n  tmux-wire start job --cwd ~/src --env RUST_LOG=debug -- cargo build"
)]
pub struct StartArgs {
    #[command(flatten)]
    pub target: NewNameArg,
    #[command(flatten)]
    pub spawn: SpawnArgs,
    /// Wait until the output matches this regular expression.
    #[arg(long, value_name = "REGEX")]
    pub ready: Option<regex::Regex>,
    #[command(flatten)]
    pub timeout: TimeoutArg,
    #[command(flatten)]
    pub limit: LimitArgs,
    #[command(flatten)]
    pub restart: RestartArgs,
    /// The command and its arguments (after --).
    #[arg(last = true, required = true, value_name = "CMD")]
    pub argv: Vec<OsString>,
}

// The restart policy.
#[derive(Args)]
pub struct RestartArgs {
    /// Start it again when it ends: after a failure (non-zero exit or a
    /// signal) or always. tmux's own hooks and timers do it, so it works
    /// while no tmux-wire runs; `stop` ends it for good.
    #[arg(long, value_name = "WHEN")]
    pub restart: Option<tmux_wire::keeper::RestartWhen>,
    /// At most this many restarts (then it stays ended).
    #[arg(long, value_name = "N", default_value = "5", requires = "restart")]
    pub max_restarts: u32,
    /// Before the first restart; doubles with each one (at most 5m).
    #[arg(long, value_name = "DUR", value_parser = parse_duration, default_value = "1s", requires = "restart")]
    pub restart_delay: Duration,
}

impl RestartArgs {
    pub fn policy(&self) -> Option<tmux_wire::keeper::RestartPolicy> {
        self.restart.map(|when| {
            tmux_wire::keeper::RestartPolicy::new(when, self.max_restarts, self.restart_delay)
        })
    }
}

/// `start`.
#[derive(Serialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StartDoc {
    Start {
        /// The name ran already: nothing changed.
        already_running: bool,
        /// What `--ready` matched.
        ready: Option<String>,
        /// The name runs another command than this one asked for.
        requested_command: Option<String>,
        process: Process,
    },
}

impl From<&keeper::Started> for StartDoc {
    fn from(s: &keeper::Started) -> StartDoc {
        StartDoc::Start {
            already_running: s.already_running,
            ready: s.ready.clone(),
            requested_command: s.requested_command.clone(),
            process: Process::from(&s.process),
        }
    }
}

pub async fn run(keeper: &Keeper, json: bool, args: StartArgs) -> Result<ExitCode, Failure> {
    let StartArgs {
        target: NewNameArg { name },
        spawn: SpawnArgs { cwd, env },
        ready,
        timeout: TimeoutArg { timeout },
        limit,
        restart,
        argv,
    } = args;
    let what = format!("starting {name}");
    let bar = ready.as_ref().and_then(|_| spinner(json, &what));
    let mut spec = StartSpec::default()
        .timeout(timeout)
        .kill_grace(limit.kill_grace);
    (spec.cwd, spec.env, spec.ready) = (cwd, env, ready);
    (spec.kill_after, spec.restart) = (limit.kill_after, restart.policy());
    let started = keeper.start(&name, &argv, &spec).await;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let started = started?;
    if started.already_running && (limit.kill_after.is_some() || restart.restart.is_some()) {
        eprintln!(
            "tmux-wire: {name} already runs: --kill-after and --restart apply to a new run and were not set (stop it first)"
        );
    }
    if json {
        print_doc(&StartDoc::from(&started));
    } else if let (true, Some(asked)) = (started.already_running, &started.requested_command) {
        out!(
            "{name} is already running another command (pid {}): `{}`, not `{asked}`; nothing changed (stop it first to run the new one)",
            show_pid(started.process.pid),
            started.process.command
        );
    } else if started.already_running {
        out!(
            "{name} is already running (pid {}); nothing changed",
            show_pid(started.process.pid)
        );
    } else {
        out!(
            "{name} started (pid {}); log {}",
            show_pid(started.process.pid),
            show_path(&started.process.log)
        );
        if let Some(m) = &started.ready {
            out!("ready: {m}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
