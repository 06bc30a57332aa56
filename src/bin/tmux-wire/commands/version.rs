//! `version`: tmux-wire's, the server's, the transport and the header
//! layout.

use crate::contract;
use crate::failure::Failure;
use crate::output::{out, print_doc};
use clap::Args;
use schemars::JsonSchema;
use serde::Serialize;
use std::process::ExitCode;
use tmux_wire::client::Client;
use tmux_wire::keeper::Keeper;

/// tmux-wire's version, the server's, the transport and header layout.
#[derive(Args)]
pub struct VersionArgs;

/// `version`.
#[derive(Serialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum VersionDoc {
    Version {
        tmux_wire: String,
        server: String,
        transport: String,
        layout: Option<String>,
        socket: String,
    },
}

pub async fn run(keeper: &Keeper, json: bool, _: VersionArgs) -> Result<ExitCode, Failure> {
    let command = tmux_wire::protocol::Command::version_query().to_strings();
    let (reply, info) = Client::run_once(&keeper.options(command)).await?;
    let server = reply.text();
    let layout = info.layout.map(|l| format!("{l:?}"));
    if json {
        print_doc(&VersionDoc::Version {
            tmux_wire: env!("CARGO_PKG_VERSION").into(),
            server: server.clone(),
            transport: info.kind.as_str().into(),
            layout: layout.clone(),
            socket: contract::path(keeper.socket()),
        });
    } else {
        out!(
            "tmux-wire {}\nserver    tmux {server}\ntransport {} ({})\nlayout    {}\nsocket    {}",
            env!("CARGO_PKG_VERSION"),
            info.kind.as_str(),
            info.reason,
            layout.as_deref().unwrap_or("-"),
            keeper.socket().display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
