//! `shutdown`: stop every process, end the server, remove its socket.

use super::stop::print_stop;
use crate::arg_groups::GraceArg;
use crate::contract::{self, StopEntry};
use crate::failure::Failure;
use crate::output::{out, print_doc};
use clap::Args;
use schemars::JsonSchema;
use serde::Serialize;
use std::process::ExitCode;
use tmux_wire::keeper::Keeper;

/// Stop every process, end the server, and remove its socket.
#[derive(Args)]
pub struct ShutdownArgs {
    #[command(flatten)]
    pub grace: GraceArg,
}

/// `shutdown`: the stops, and whether a server answered and was ended,
/// whether a socket file was there to remove.
#[derive(Serialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ShutdownDoc {
    Shutdown {
        stopped: Vec<StopEntry>,
        socket: String,
        server_ended: bool,
        socket_removed: bool,
    },
}

pub async fn run(keeper: &Keeper, json: bool, args: ShutdownArgs) -> Result<ExitCode, Failure> {
    let done = keeper.shutdown(args.grace.grace).await?;
    let socket = keeper.socket();
    if json {
        let stopped = done
            .stopped
            .iter()
            .map(|(name, report)| StopEntry::of(name, report))
            .collect();
        print_doc(&ShutdownDoc::Shutdown {
            stopped,
            socket: contract::path(socket),
            server_ended: done.server_ended,
            socket_removed: done.socket_removed,
        });
    } else {
        for (name, report) in &done.stopped {
            print_stop(name, report);
        }
        match (done.server_ended, done.socket_removed) {
            (true, true) => out!("server ended; removed {}", socket.display()),
            (true, false) => out!("server ended; its socket {} is gone", socket.display()),
            (false, true) => out!(
                "no server answered on {}; removed the stale socket",
                socket.display()
            ),
            (false, false) => out!("no server on {}; nothing to shut down", socket.display()),
        }
    }
    Ok(ExitCode::SUCCESS)
}
