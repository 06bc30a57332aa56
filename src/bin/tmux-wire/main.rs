//! The `tmux-wire` command: keep named processes alive in tmux and wait on
//! them without polling; run tmux commands over a control connection; and
//! decode captured control-mode streams.
//!
//! Here: the command line parsed, each command handed to its handler
//! (one line each), and a failure reported. The rest:
//! - `args`: the top-level `Cli` and `Command` enum, and parsing shared by
//!   every command (durations); `arg_groups`: the argument groups several
//!   commands share (NAME, `--timeout`, `--grace`, `--cwd`/`--env`,
//!   `--kill-after`).
//! - `commands/`: one module per command (pueue's `client/commands/`
//!   shape), each with its arguments, its handler and the `--json`
//!   documents only it prints; `completions` and `man` share `manual`.
//! - `contract`: the documents and values several commands share, the
//!   error document and its kinds; `schemas` (tests): every document's
//!   JSON Schema against docs/schemas/.
//! - `connect`: the keeper the global options and `$TMUX_WIRE_LOG_*` ask
//!   for; `failure` and `hints`: a failure and what to do about it;
//!   `output`: printing; `signals`: the CLI's own SIGINT/SIGTERM around
//!   waits.
//!
//! The keeper's helpers (the log writer, restarts, time limits, which tmux
//! runs as this binary) are not commands: `main` hands them to the library
//! before the command line is parsed, so none is in `Command`.

mod arg_groups;
mod args;
mod commands;
mod connect;
mod contract;
mod failure;
mod hints;
mod output;
#[cfg(test)]
mod schemas;
mod signals;

use args::{Cli, Command};
use clap::Parser;
use failure::Failure;
use output::print_doc;
use std::process::ExitCode;
use tmux_wire::keeper::Keeper;

fn main() -> ExitCode {
    // What tmux runs for the keeper (log writer, restarts, time limits):
    // this binary is its own helper, in the library's spelling or in the
    // one hooks set by an older tmux-wire still use. These are not
    // commands of the command line: they are answered before it is parsed.
    if let Some(code) = tmux_wire::keeper::helper_main() {
        return code;
    }
    if let Some(code) = tmux_wire::keeper::legacy_helper_main() {
        return code;
    }
    let Cli {
        socket,
        label,
        json,
        transport,
        command,
    } = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    // The commands that need no server (and no runtime) first.
    let result = match command {
        Command::Decode(args) => commands::decode::run(json, args),
        Command::Completions(args) => commands::manual::completions(args),
        Command::Man(args) => commands::manual::man(args),
        command => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a tokio runtime");
            runtime.block_on(async {
                let keeper = connect::keeper(socket, label, transport)?;
                dispatch(&keeper, json, command).await
            })
        }
    };
    match result {
        Ok(code) => code,
        Err(failure) => report(json, failure),
    }
}

/// The commands that talk to a server: each to its handler.
async fn dispatch(k: &Keeper, json: bool, command: Command) -> Result<ExitCode, Failure> {
    use commands::*;
    match command {
        Command::Start(args) => start::run(k, json, args).await,
        Command::Run(args) => run::run(k, json, args).await,
        Command::Poll(args) => poll::run(k, json, args).await,
        Command::Exec(args) => exec::run(k, json, args).await,
        Command::Events(args) => events::run(k, json, args).await,
        Command::Ls(args) => ls::run(k, json, args).await,
        Command::Status(args) => status::run(k, json, args).await,
        Command::Logs(args) => logs::run(k, json, args).await,
        Command::Send(args) => send::run(k, json, args).await,
        Command::Keys(args) => keys::run(k, json, args).await,
        Command::Wait(args) => wait::run(k, json, args).await,
        Command::Stop(args) => stop::run(k, json, args).await,
        Command::KillAll(args) => kill_all::run(k, json, args).await,
        Command::Clean(args) => clean::run(k, json, args).await,
        Command::Shutdown(args) => shutdown::run(k, json, args).await,
        Command::Prune(args) => prune::run(k, json, args).await,
        Command::Cmd(args) => cmd::run(k, json, args).await,
        Command::Version(args) => version::run(k, json, args).await,
        Command::Decode(_) | Command::Completions(_) | Command::Man(_) => {
            unreachable!("handled before the runtime starts")
        }
    }
}

/// A command line clap refused, or `--help`/`--version`: clap prints it
/// as usual (exit 2 for an error). An error under `--json` also gets its
/// error document on stdout, so that a program reading stdout learns what
/// was wrong instead of finding nothing.
fn usage_error(e: clap::Error) -> ExitCode {
    let json = std::env::args_os()
        .skip(1)
        .take_while(|a| a != "--")
        .any(|a| a == "--json");
    if json && e.use_stderr() {
        let text = e.render().to_string();
        // The whole of clap's message (the missing arguments come on the
        // lines after the first), without the usage and tips after it.
        let message = text
            .lines()
            .take_while(|line| !line.is_empty() && !line.starts_with("Usage:"))
            .map(str::trim)
            .collect::<Vec<_>>()
            .join(" ");
        let message = message.trim_start_matches("error: ");
        print_doc(&contract::ErrorDoc::Error {
            kind: contract::Kind::BadInput,
            error: message.to_string(),
            hint: Some("tmux-wire --help, or tmux-wire COMMAND --help, lists the arguments".into()),
            exit_code: 2,
            missed_bytes: 0,
            missed_lines_at_least: 0,
        });
    }
    e.print().ok();
    ExitCode::from(if e.use_stderr() { 2 } else { 0 })
}

/// Say what failed (stderr, with the hint; with `--json` also the error
/// document on stdout) and give the exit status.
fn report(json: bool, failure: Failure) -> ExitCode {
    let Failure {
        kind,
        message,
        hint,
        code,
        tmux,
        missed,
    } = failure;
    if json {
        print_doc(&contract::ErrorDoc::Error {
            kind,
            error: message.clone(),
            hint: hint.clone(),
            exit_code: code,
            missed_bytes: missed.bytes,
            missed_lines_at_least: missed.lines_at_least,
        });
    }
    if tmux {
        eprintln!("{message}");
    } else {
        eprintln!("tmux-wire: {}", message.lines().next().unwrap_or(""));
        for line in message.lines().skip(1) {
            eprintln!("  {line}");
        }
        if let Some(hint) = hint {
            eprintln!("tmux-wire: hint: {hint}");
        }
    }
    ExitCode::from(code)
}
