//! Argument groups several commands share, declared once and flattened
//! into each command's arguments (`#[command(flatten)]`): each option
//! has one wording and one default wherever it appears.

use crate::args::parse_duration;
use clap::Args;
use std::path::PathBuf;
use std::time::Duration;

/// The default of every `--timeout` (start, exec, send, wait).
pub const DEFAULT_TIMEOUT: &str = "30s";

// The NAME of a process that exists (poll, logs, status, send, keys, wait,
// stop).
#[derive(Args)]
pub struct NameArg {
    /// The process's name (as `ls` shows it).
    pub name: String,
}

// The NAME of a process to start (start, run).
#[derive(Args)]
pub struct NewNameArg {
    /// The name (a tmux session name: no '.', ':', '/' or control characters).
    pub name: String,
}

// How long a wait may take (start --ready, exec, send --then-*, wait).
#[derive(Args)]
pub struct TimeoutArg {
    /// Give up waiting after this long (exit 124; the process goes on).
    #[arg(long, value_name = "DUR", value_parser = parse_duration, default_value = DEFAULT_TIMEOUT)]
    pub timeout: Duration,
}

// How long a stop waits after C-c (stop, kill-all, shutdown).
#[derive(Args)]
pub struct GraceArg {
    /// How long to wait for a process to exit after C-c before killing its
    /// session (e.g. 500ms, 10s, 1m).
    #[arg(long, value_name = "DUR", value_parser = parse_duration, default_value = "10s")]
    pub grace: Duration,
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

// The time limit of a new process (start, run).
#[derive(Args)]
pub struct LimitArgs {
    /// Stop the process once it has run this long (C-c, then --kill-grace,
    /// then SIGTERM and SIGKILL), even if no tmux-wire runs then: tmux's
    /// own timer does it. `status` then says so.
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub kill_after: Option<Duration>,
    /// Between the C-c and the signals of --kill-after.
    #[arg(long, value_name = "DUR", value_parser = parse_duration, default_value = "5s")]
    pub kill_grace: Duration,
}
