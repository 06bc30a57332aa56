//! `kill-all`: stop every process on the socket.

use super::stop::print_stop;
use crate::arg_groups::GraceArg;
use crate::contract::StopEntry;
use crate::failure::Failure;
use crate::output::{out, print_doc};
use clap::Args;
use schemars::JsonSchema;
use serde::Serialize;
use std::process::ExitCode;
use tmux_wire::keeper::Keeper;

/// Stop every process on the socket.
#[derive(Args)]
pub struct KillAllArgs {
    #[command(flatten)]
    pub grace: GraceArg,
}

/// `kill-all`.
#[derive(Serialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum KillAllDoc {
    KillAll { stopped: Vec<StopEntry> },
}

pub async fn run(keeper: &Keeper, json: bool, args: KillAllArgs) -> Result<ExitCode, Failure> {
    let all = keeper.stop_all(args.grace.grace).await?;
    if json {
        let stopped = all
            .iter()
            .map(|(name, report)| StopEntry::of(name, report))
            .collect();
        print_doc(&KillAllDoc::KillAll { stopped });
    } else if all.is_empty() {
        out!("nothing to stop");
    } else {
        for (name, report) in &all {
            print_stop(name, report);
        }
    }
    Ok(ExitCode::SUCCESS)
}
