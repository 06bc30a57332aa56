//! `exec`: a command line in a kept shell session; its output, and its
//! status as the exit status.

use crate::arg_groups::TimeoutArg;
use crate::contract::{is_zero, Line};
use crate::failure::Failure;
use crate::output::{out, print_doc};
use clap::Args;
use schemars::JsonSchema;
use serde::Serialize;
use std::process::ExitCode;
use tmux_wire::keeper::{self, Keeper};

/// Run a command line in a kept shell session; print its output and
/// exit with its status.
#[derive(Args)]
#[command(
    after_help = "Example:\n  tmux-wire start sh1 -- bash\n  tmux-wire exec sh1 -- 'cd src && make test'\n\nThe session must be a POSIX shell (sh, bash, zsh, dash, ksh) waiting at\nits prompt; anything else is refused before anything is typed. Execs of\none shell take turns (the wait counts in --timeout). Markers printed as\ninvisible escape sequences around the command, with a random nonce that\nthe echo of the typed line never spells, delimit the output; the shell's\nown state (cd, export) carries over, and bash's history (bash 5 and\nlater) keeps nothing of it. A shell back at its prompt without the end marker is said at once:\ninterrupted (exit 130), or the line did not run (a continuation prompt;\nexit 1); that is seen only where a line editor holds the prompt (bash,\nzsh on Linux): a `read` is left alone, and with a canonical prompt (dash)\nexec waits for the end or --timeout. Lines are as the screen shows them; --raw keeps every byte. On\n--timeout (exit 124) the command goes on running."
)]
pub struct ExecArgs {
    // Not arg_groups::NameArg: the same NAME, said for what exec needs of
    // it (clap cannot re-word a flattened argument without moving it).
    /// The shell session's name (as `ls` shows it).
    pub name: String,
    #[command(flatten)]
    pub timeout: TimeoutArg,
    /// Print the output as the command wrote it, every byte (with --json:
    /// an "output" field, a string or {"bytes": BASE64}).
    #[arg(long)]
    pub raw: bool,
    /// The command line, as you would type it (after --; several
    /// arguments are joined with spaces).
    #[arg(last = true, required = true, value_name = "COMMAND-LINE")]
    pub line: Vec<String>,
}

/// How an exec's command ended.
#[derive(Debug, Clone, Copy, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExecOutcome {
    Finished,
    Interrupted,
    ShellExited,
}

/// `exec`.
#[derive(Serialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ExecDoc {
    Exec {
        name: String,
        lines: Vec<String>,
        code: i32,
        outcome: ExecOutcome,
        /// `--raw`: every byte the command wrote (after `dropped_bytes`).
        #[serde(skip_serializing_if = "Option::is_none", default)]
        output: Option<Line>,
        /// Bytes dropped from the front of a long output: exec keeps its
        /// last 8 MiB, from the start of a line. Only when some were.
        #[serde(skip_serializing_if = "is_zero", default)]
        dropped_bytes: u64,
    },
}

impl ExecDoc {
    pub fn of(done: &keeper::Executed, raw: bool) -> ExecDoc {
        ExecDoc::Exec {
            name: done.name.clone(),
            lines: done.lines.clone(),
            code: done.code,
            outcome: match done.outcome {
                keeper::ExecOutcome::Finished => ExecOutcome::Finished,
                keeper::ExecOutcome::Interrupted => ExecOutcome::Interrupted,
                _ => ExecOutcome::ShellExited,
            },
            output: raw.then(|| Line::new(&done.output)),
            dropped_bytes: done.dropped,
        }
    }
}

pub async fn run(keeper: &Keeper, json: bool, args: ExecArgs) -> Result<ExitCode, Failure> {
    let line = args.line.join(" ");
    let done = keeper
        .process(&args.name)
        .await?
        .exec(&line, args.timeout.timeout)
        .await?;
    if json {
        print_doc(&ExecDoc::of(&done, args.raw));
    } else if args.raw {
        crate::output::emit_bytes(&done.output);
    } else {
        for line in &done.lines {
            out!("{line}");
        }
    }
    if done.dropped > 0 && !json {
        eprintln!(
            "tmux-wire: {}: the first {} bytes of the output were dropped: exec keeps its last {} MiB",
            args.name,
            done.dropped,
            tmux_wire::keeper::EXEC_KEEP >> 20
        );
    }
    if done.outcome == keeper::ExecOutcome::Interrupted && !json {
        eprintln!(
            "tmux-wire: {}: interrupted: the shell returned to its prompt without finishing the command",
            args.name
        );
    }
    Ok(super::run::exit_code(done.code))
}
