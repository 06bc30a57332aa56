//! `run`: start NAME running CMD, and answer within `--yield`: all it
//! printed and its status if it ended, else a tail and a cursor for
//! `poll`.

use super::poll::warn_missed;
use crate::arg_groups::{LimitArgs, NewNameArg, SpawnArgs};
use crate::args::parse_duration;
use crate::contract::{Exit, Kind, RunState, Writer};
use crate::failure::Failure;
use crate::output::{out, print_doc};
use clap::Args;
use schemars::JsonSchema;
use serde::Serialize;
use std::ffi::OsString;
use std::process::ExitCode;
use std::time::Duration;
use tmux_wire::keeper::{Keeper, StartSpec};
use tmux_wire::watch::ExitStatus;

/// `run`'s exit status while the process goes on: EX_TEMPFAIL, "try again
/// later" (with `poll` or `wait`).
pub const STILL_RUNNING: u8 = 75;

/// An exit status for a process's code (signals as 128 + N; out of range
/// as 255): `run`'s, and `exec`'s and `wait --exit --exit-code`'s too.
pub fn exit_code(code: i32) -> ExitCode {
    ExitCode::from(u8::try_from(code).unwrap_or(255))
}

/// Start NAME running CMD, and if it ends within --yield print its
/// output and exit with its status; else print a tail and a cursor.
#[derive(Args)]
#[command(
    after_help = "Examples:\n  tmux-wire run build --yield 30s -- make -j8\n  tmux-wire --json run tests --yield 10s -- cargo test\n\nThe process belongs to the tmux server: it goes on if the caller is killed.\nIf it ends within the yield: its whole output, then exit with its own code\n(128 + N for signal N). If not: the last lines and a cursor, and exit 75;\ngo on with `tmux-wire poll NAME --cursor CURSOR` or `wait NAME --exit`.\nWith --json: {\"type\": \"run\", \"name\", \"state\", \"exit\", \"code\", \"output\" | \"tail\", \"cursor\"}."
)]
pub struct RunArgs {
    #[command(flatten)]
    pub target: NewNameArg,
    /// How long to wait for the process to end before answering with a
    /// tail and a cursor.
    #[arg(long = "yield", value_name = "DUR", value_parser = parse_duration, default_value = "10s")]
    pub yield_for: Duration,
    /// How many lines the tail of a process still running shows.
    #[arg(long, value_name = "N", default_value = "20")]
    pub tail: usize,
    #[command(flatten)]
    pub spawn: SpawnArgs,
    #[command(flatten)]
    pub limit: LimitArgs,
    /// The command and its arguments (after --).
    #[arg(last = true, required = true, value_name = "CMD")]
    pub argv: Vec<OsString>,
}

/// `run`: how it went within the yield.
#[derive(Serialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RunDoc {
    Run {
        name: String,
        state: RunState,
        exit: Option<Exit>,
        code: Option<i32>,
        /// All it printed (when it exited within the yield).
        #[serde(skip_serializing_if = "Option::is_none", default)]
        output: Option<Vec<String>>,
        /// Its last lines (when it still runs).
        #[serde(skip_serializing_if = "Option::is_none", default)]
        tail: Option<Vec<String>>,
        /// Where `poll` goes on.
        cursor: String,
        missed_bytes: u64,
        missed_lines_at_least: u64,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        log_writer: Option<Writer>,
    },
}

pub async fn run(keeper: &Keeper, json: bool, args: RunArgs) -> Result<ExitCode, Failure> {
    let RunArgs {
        target: NewNameArg { name },
        yield_for,
        tail,
        spawn: SpawnArgs { cwd, env },
        limit,
        argv,
    } = args;
    let mut spec = StartSpec::default().kill_grace(limit.kill_grace);
    (spec.cwd, spec.env, spec.kill_after) = (cwd, env, limit.kill_after);
    let started = keeper.start(&name, &argv, &spec).await?;
    if started.already_running {
        return Err(Failure::new(
            Kind::AlreadyRunning,
            format!(
                "{name} is already running `{}` (pid {})",
                started.process.command,
                started.process.pid.map_or("-".into(), |p| p.to_string())
            ),
        )
        .hint(format!(
            "`tmux-wire poll {name}` reads it; `tmux-wire stop {name}` stops it"
        )));
    }
    let outcome = keeper
        .process(&name)
        .await?
        .outcome_within(yield_for, tail)
        .await?;
    let (ended, read) = (outcome.exit, outcome.output);
    if let (false, Some(writer)) = (json, &read.log_writer) {
        eprintln!("tmux-wire: {name}'s log writer is {writer}");
    }
    match ended {
        Some(status) => {
            if json {
                print_doc(&RunDoc::Run {
                    name: name.clone(),
                    state: RunState::Exited,
                    exit: Some(status.into()),
                    code: Some(status.code()),
                    output: Some(read.lines.clone()),
                    tail: None,
                    cursor: read.cursor.clone(),
                    missed_bytes: read.missed_bytes,
                    missed_lines_at_least: read.missed_lines_at_least,
                    log_writer: read.log_writer.as_ref().map(Writer::from),
                });
            } else {
                warn_missed(read.missed_bytes);
                for line in &read.lines {
                    out!("{line}");
                }
                if let ExitStatus::Signaled(_) = status {
                    eprintln!("tmux-wire: {name} {status}");
                }
            }
            Ok(exit_code(status.code()))
        }
        None => {
            let mut shown = read.lines.clone();
            shown.extend(read.partial.clone());
            let skip = shown.len().saturating_sub(tail);
            let last = &shown[skip..];
            if json {
                print_doc(&RunDoc::Run {
                    name: name.clone(),
                    state: RunState::Running,
                    exit: None,
                    code: None,
                    output: None,
                    tail: Some(last.to_vec()),
                    cursor: read.cursor.clone(),
                    missed_bytes: read.missed_bytes,
                    missed_lines_at_least: read.missed_lines_at_least,
                    log_writer: read.log_writer.as_ref().map(Writer::from),
                });
            } else {
                warn_missed(read.missed_bytes);
                for line in last {
                    out!("{line}");
                }
                eprintln!(
                    "tmux-wire: {name} is still running after {yield_for:?}; go on with: tmux-wire poll {name} --cursor {}",
                    read.cursor
                );
            }
            Ok(ExitCode::from(STILL_RUNNING))
        }
    }
}
