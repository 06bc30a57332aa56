//! Argument groups several commands share, declared once and flattened
//! into each command's arguments (`#[command(flatten)]`).

use clap::Args;
use std::path::PathBuf;

/// The default of every `--timeout` (start, exec, send, wait).
pub const DEFAULT_TIMEOUT: &str = "30s";

// The NAME of a process that exists (status, keys, stop).
#[derive(Args)]
pub struct NameArg {
    /// The process's name (as `ls` shows it).
    pub name: String,
}

// Where and with what environment a new process starts (start, run).
#[derive(Args)]
pub struct SpawnArgs {
    /// Working directory (default: the current one).
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<PathBuf>,
    /// Set a variable on top of the current environment (repeatable).
    #[arg(long = "env", value_name = "K=V", value_parser = parse_env)]
    pub env: Vec<(String, String)>,
}

fn parse_env(s: &str) -> Result<(String, String), String> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| format!("expected K=V, got {s:?}"))?;
    tmux_wire::keeper::check_env(k, v)?;
    Ok((k.to_string(), v.to_string()))
}
