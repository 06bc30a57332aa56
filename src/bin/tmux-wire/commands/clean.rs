//! `clean`: remove the socket file if no server answers on it.

use crate::contract;
use crate::failure::Failure;
use crate::output::{out, print_doc};
use clap::Args;
use schemars::JsonSchema;
use serde::Serialize;
use std::process::ExitCode;
use tmux_wire::keeper::Keeper;

/// Remove the socket file if no server answers on it.
#[derive(Args)]
pub struct CleanArgs;

/// `clean`.
#[derive(Serialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CleanDoc {
    Clean { removed: bool, socket: String },
}

pub async fn run(keeper: &Keeper, json: bool, _: CleanArgs) -> Result<ExitCode, Failure> {
    let removed = keeper.clean()?;
    if json {
        print_doc(&CleanDoc::Clean {
            removed,
            socket: contract::path(keeper.socket()),
        });
    } else if removed {
        out!("removed stale socket {}", keeper.socket().display());
    } else {
        out!("nothing to clean at {}", keeper.socket().display());
    }
    Ok(ExitCode::SUCCESS)
}
