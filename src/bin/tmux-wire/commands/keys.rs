//! `keys`: press keys by name.

use crate::arg_groups::NameArg;
use crate::failure::Failure;
use crate::output::print_doc;
use clap::Args;
use schemars::JsonSchema;
use serde::Serialize;
use std::process::ExitCode;
use tmux_wire::keeper::Keeper;

/// Press keys by name: C-c, Enter, Up, Escape, F1 ...
#[derive(Args)]
#[command(after_help = "Example:\n  tmux-wire keys web C-c")]
pub struct KeysArgs {
    #[command(flatten)]
    pub target: NameArg,
    /// Key names as tmux knows them (C-c, Enter, Up, M-x, F1 ...),
    /// pressed in order; a name tmux does not know is refused.
    #[arg(required = true, value_name = "KEY")]
    pub keys: Vec<String>,
}

/// `keys`.
#[derive(Serialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum KeysDoc {
    Keys { keys: Vec<String> },
}

pub async fn run(keeper: &Keeper, json: bool, args: KeysArgs) -> Result<ExitCode, Failure> {
    let (name, keys) = (&args.target.name, &args.keys);
    keeper.send_keys(name, keys).await?;
    if json {
        print_doc(&KeysDoc::Keys {
            keys: keys.to_vec(),
        });
    }
    Ok(ExitCode::SUCCESS)
}
