//! `stop`: C-c, up to `--grace` for the exit, then the session killed;
//! and how a stop is said, for `kill-all` and `shutdown` too.

use crate::arg_groups::{GraceArg, NameArg};
use crate::contract::StopEntry;
use crate::failure::Failure;
use crate::output::{out, print_doc};
use clap::Args;
use schemars::JsonSchema;
use serde::Serialize;
use std::process::ExitCode;
use tmux_wire::keeper::{self, Keeper};

/// Interrupt (C-c), wait up to --grace, then kill the session.
#[derive(Args)]
pub struct StopArgs {
    #[command(flatten)]
    pub target: NameArg,
    #[command(flatten)]
    pub grace: GraceArg,
}

/// `stop`.
#[derive(Serialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StopDoc {
    Stop(StopEntry),
}

pub async fn run(keeper: &Keeper, json: bool, args: StopArgs) -> Result<ExitCode, Failure> {
    let name = &args.target.name;
    let report = keeper.stop(name, args.grace.grace).await?;
    if json {
        print_doc(&StopDoc::Stop(StopEntry::of(name, &report)));
    } else {
        print_stop(name, &report);
    }
    Ok(ExitCode::SUCCESS)
}

/// A stop in text: how it ended on stdout, a warning on stderr.
pub fn print_stop(name: &str, report: &keeper::StopReport) {
    out!("{name}: {}", describe_stop(&report.stopped));
    if let Some(warning) = &report.warning {
        eprintln!("tmux-wire: {name}: {warning}");
    }
}

fn describe_stop(how: &keeper::Stopped) -> String {
    match how {
        keeper::Stopped::AlreadyExited { status } => {
            format!("had already ended ({status}); session removed")
        }
        keeper::Stopped::Interrupted { status } => format!("{status} after C-c; session removed"),
        keeper::Stopped::Ended => "ended after C-c (its status was not kept)".into(),
        keeper::Stopped::Killed => {
            "did not exit after C-c within the grace period; session killed".into()
        }
        other => format!("{other:?}"),
    }
}
