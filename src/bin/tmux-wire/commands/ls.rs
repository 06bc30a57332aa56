//! `ls`: every process on the socket.

use crate::contract::Process;
use crate::failure::Failure;
use crate::output::{ago, out, print_doc, show_pid};
use clap::Args;
use schemars::JsonSchema;
use serde::Serialize;
use std::process::ExitCode;
use tmux_wire::keeper::Keeper;

/// List processes: name, state, pid, command, cwd, started, log.
#[derive(Args)]
#[command(alias = "list")]
pub struct LsArgs;

/// `ls`.
#[derive(Serialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LsDoc {
    Ls { processes: Vec<Process> },
}

pub async fn run(keeper: &Keeper, json: bool, _: LsArgs) -> Result<ExitCode, Failure> {
    let list = keeper.list().await?;
    if json {
        print_doc(&LsDoc::Ls {
            processes: list.iter().map(Process::from).collect(),
        });
    } else if list.is_empty() {
        out!("no processes on {}", keeper.socket().display());
    } else {
        out!(
            "{:<16} {:<18} {:>8}  {:<20} COMMAND",
            "NAME",
            "STATE",
            "PID",
            "STARTED"
        );
        for p in list {
            out!(
                "{:<16} {:<18} {:>8}  {:<20} {}",
                p.name,
                p.state.to_string(),
                show_pid(p.pid),
                p.started.map(ago).unwrap_or_default(),
                p.command
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
