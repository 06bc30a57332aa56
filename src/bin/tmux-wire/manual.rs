//! What the command line says about itself: shell completions and the man
//! page, both generated from the definitions in `args`.

use crate::args::Cli;
use crate::failure::Failure;
use clap::CommandFactory;
use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;

/// `completions SHELL`: the completion script on stdout.
pub fn completions(shell: clap_complete::Shell) -> Result<ExitCode, Failure> {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "tmux-wire", &mut script);
    write_all(&script)
}

/// `man [COMMAND]`: a manual page (roff) on stdout; `man --dir DIR`: every
/// page, written into DIR.
pub fn man(page: Option<&str>, dir: Option<&Path>) -> Result<ExitCode, Failure> {
    let mut command = Cli::command().disable_help_subcommand(true);
    // Built, the commands know their full names (`tmux-wire-start`).
    command.build();
    let pages = |command: clap::Command| {
        let source = format!("tmux-wire {}", env!("CARGO_PKG_VERSION"));
        clap_mangen::Man::new(command).source(source)
    };
    if let Some(dir) = dir {
        let written = std::iter::once(&command)
            .chain(command.get_subcommands().filter(|c| !c.is_hide_set()))
            .try_for_each(|c| pages(c.clone()).generate_to(dir).map(drop));
        written.map_err(|e| {
            Failure::new(
                crate::contract::Kind::Io,
                format!("writing the man pages into {}: {e}", dir.display()),
            )
        })?;
        return Ok(ExitCode::SUCCESS);
    }
    let command = match page {
        None => command,
        Some(name) => command
            .find_subcommand(name)
            .filter(|c| !c.is_hide_set())
            .cloned()
            .ok_or_else(|| {
                Failure::new(
                    crate::contract::Kind::BadInput,
                    format!("no command {name:?} (see tmux-wire --help)"),
                )
            })?,
    };
    let mut text = Vec::new();
    pages(command).render(&mut text).map_err(|e| {
        Failure::new(
            crate::contract::Kind::Io,
            format!("rendering the man page: {e}"),
        )
    })?;
    write_all(&text)
}

fn write_all(bytes: &[u8]) -> Result<ExitCode, Failure> {
    let mut stdout = io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        Err(e) => Err(Failure::new(
            crate::contract::Kind::Io,
            format!("writing output: {e}"),
        )),
    }
}
