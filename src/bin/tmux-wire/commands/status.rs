//! `status`: one process.

use crate::arg_groups::NameArg;
use crate::contract::Process;
use crate::failure::Failure;
use crate::output::{ago, out, print_doc, show_path, show_pid};
use clap::Args;
use schemars::JsonSchema;
use serde::Serialize;
use std::process::ExitCode;
use tmux_wire::keeper::Keeper;

/// Show one process.
#[derive(Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub target: NameArg,
}

/// `status`: the process's fields.
#[derive(Serialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StatusDoc {
    Status(Process),
}

pub async fn run(keeper: &Keeper, json: bool, args: StatusArgs) -> Result<ExitCode, Failure> {
    let name = &args.target.name;
    let p = keeper.status(name).await?;
    if json {
        print_doc(&StatusDoc::Status(Process::from(&p)));
    } else {
        out!(
            "name:    {}\nstate:   {}\npid:     {}\ncommand: {}\ncwd:     {}\nstarted: {}\nlog:     {}",
            p.name,
            p.state,
            show_pid(p.pid),
            p.command,
            p.cwd,
            p.started.map(ago).unwrap_or_default(),
            show_path(&p.log)
        );
        if let Some(waiting) = p.waiting_for_input {
            let says = if waiting {
                "waiting for input (blocked reading its terminal)"
            } else {
                "not waiting for input"
            };
            out!("input:   {says}");
        }
        if let Some(n) = p.restarts {
            let exits: Vec<String> = p.exits.iter().map(|e| e.to_string()).collect();
            out!(
                "restarts: {n} (last exits, oldest first: {})",
                exits.join("; ")
            );
        }
        if let Some(error) = &p.error {
            out!("error:   {error}");
        }
        if let Some(limit) = p.killed_after {
            out!("limit:   stopped because it ran longer than {limit}s (start --kill-after)");
        }
        if let Some(writer) = &p.log_writer {
            out!("writer:  {writer}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
