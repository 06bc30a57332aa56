//! One tmux command over a control connection: `cmd` and `version`.

use crate::contract;
use crate::failure::Failure;
use crate::output::{out, print_doc};
use tmux_wire::client::Client;
use tmux_wire::keeper::Keeper;

pub async fn cmd(keeper: &Keeper, json: bool, argv: Vec<String>) -> Result<(), Failure> {
    // tmux's own refusal is printed as tmux prints it.
    let (reply, _) =
        Client::run_once(&keeper.options(argv))
            .await
            .map_err(|e| match e.tmux_message() {
                Some(message) => Failure {
                    tmux: true,
                    ..Failure::new(contract::Kind::Tmux, message)
                },
                None => e.into(),
            })?;
    let lines = reply.content();
    if json {
        let output = lines.iter().map(|l| contract::Line::new(l)).collect();
        print_doc(&contract::CmdDoc::Cmd { output });
    } else {
        // tmux's bytes as it gave them (not UTF-8 too), a line each.
        let mut text = Vec::new();
        for line in lines {
            text.extend_from_slice(&line);
            text.push(b'\n');
        }
        crate::output::emit_bytes(&text);
    }
    Ok(())
}

pub async fn version(keeper: &Keeper, json: bool) -> Result<(), Failure> {
    let command = tmux_wire::protocol::Command::version_query().to_strings();
    let (reply, info) = Client::run_once(&keeper.options(command)).await?;
    let server = reply.text();
    let layout = info.layout.map(|l| format!("{l:?}"));
    if json {
        print_doc(&contract::VersionDoc::Version {
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
    Ok(())
}
