//! `cmd`: one tmux command over a control connection.

use crate::contract::{Kind, Line};
use crate::failure::Failure;
use crate::output::print_doc;
use clap::Args;
use schemars::JsonSchema;
use serde::Serialize;
use std::process::ExitCode;
use tmux_wire::client::Client;
use tmux_wire::keeper::Keeper;

/// Run one tmux command over a control connection and print its output.
#[derive(Args)]
#[command(after_help = "Example:\n  tmux-wire cmd list-windows -a")]
pub struct CmdArgs {
    /// The tmux command and its arguments, as given to `tmux`
    /// (options after the command name are the command's own).
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "TMUX-COMMAND"
    )]
    pub argv: Vec<String>,
}

/// `cmd`: tmux's output, a line each.
#[derive(Serialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CmdDoc {
    Cmd { output: Vec<Line> },
}

pub async fn run(keeper: &Keeper, json: bool, args: CmdArgs) -> Result<ExitCode, Failure> {
    let argv = args.argv;
    // tmux's own refusal is printed as tmux prints it.
    let (reply, _) =
        Client::run_once(&keeper.options(argv))
            .await
            .map_err(|e| match e.tmux_message() {
                Some(message) => Failure {
                    tmux: true,
                    ..Failure::new(Kind::Tmux, message)
                },
                None => e.into(),
            })?;
    let lines = reply.content();
    if json {
        let output = lines.iter().map(|l| Line::new(l)).collect();
        print_doc(&CmdDoc::Cmd { output });
    } else {
        // tmux's bytes as it gave them (not UTF-8 too), a line each.
        let mut text = Vec::new();
        for line in lines {
            text.extend_from_slice(&line);
            text.push(b'\n');
        }
        crate::output::emit_bytes(&text);
    }
    Ok(ExitCode::SUCCESS)
}
