//! `prune`: remove the logs of names that no longer run.

use crate::args::parse_duration;
use crate::failure::Failure;
use crate::output::{out, print_doc};
use clap::Args;
use schemars::JsonSchema;
use serde::Serialize;
use std::process::ExitCode;
use std::time::Duration;
use tmux_wire::keeper::Keeper;

/// Remove the logs of names that no longer run (each `start` also
/// removes those older than $TMUX_WIRE_LOG_MAX_AGE, default 7d).
#[derive(Args)]
pub struct PruneArgs {
    /// Only logs last written longer ago than this (e.g. 12h, 7d).
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub older_than: Option<Duration>,
}

/// `prune`.
#[derive(Serialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PruneDoc {
    Prune { pruned: Vec<String> },
}

pub async fn run(keeper: &Keeper, json: bool, args: PruneArgs) -> Result<ExitCode, Failure> {
    let pruned = keeper.prune_logs(args.older_than).await?;
    if json {
        print_doc(&PruneDoc::Prune {
            pruned: pruned.clone(),
        });
    } else if pruned.is_empty() {
        out!("no logs to prune");
    } else {
        for name in &pruned {
            out!("removed the logs of {name}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
