//! What the command line says about itself: shell completions and the man
//! page, both generated from the definitions in `args`.

use crate::args::Cli;
use crate::contract::Kind;
use crate::failure::Failure;
use clap::Args;
use clap::CommandFactory;
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// Print a completion script for SHELL (bash, zsh, fish, elvish,
/// powershell).
#[derive(Args)]
#[command(
    after_help = "Install (then open a new shell):\n  tmux-wire completions bash > ~/.local/share/bash-completion/completions/tmux-wire\n  tmux-wire completions zsh > ~/.zfunc/_tmux-wire     # with fpath+=(~/.zfunc) before compinit\n  tmux-wire completions fish > ~/.config/fish/completions/tmux-wire.fish"
)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Print the manual page (roff), or write every page into a directory.
#[derive(Args)]
#[command(
    after_help = "Install every page (tmux-wire.1, tmux-wire-start.1, ...):\n  mkdir -p ~/.local/share/man/man1\n  tmux-wire man --dir ~/.local/share/man/man1\nor only the main one:\n  tmux-wire man > ~/.local/share/man/man1/tmux-wire.1"
)]
pub struct ManArgs {
    /// The command whose page to print (default: tmux-wire's own, which
    /// lists the commands).
    #[arg(value_name = "COMMAND", conflicts_with = "dir")]
    pub command: Option<String>,
    /// Write the pages of tmux-wire and of every command into DIR
    /// (tmux-wire.1, tmux-wire-start.1, ...) instead of printing one.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// `completions SHELL`: the completion script on stdout.
pub fn completions(args: CompletionsArgs) -> Result<ExitCode, Failure> {
    let shell = args.shell;
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "tmux-wire", &mut script);
    write_all(&script)
}

/// `man [COMMAND]`: a manual page (roff) on stdout; `man --dir DIR`: every
/// page, written into DIR.
pub fn man(args: ManArgs) -> Result<ExitCode, Failure> {
    let (page, dir) = (args.command.as_deref(), args.dir.as_deref());
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
                Kind::Io,
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
                    Kind::BadInput,
                    format!("no command {name:?} (see tmux-wire --help)"),
                )
            })?,
    };
    let mut text = Vec::new();
    pages(command)
        .render(&mut text)
        .map_err(|e| Failure::new(Kind::Io, format!("rendering the man page: {e}")))?;
    write_all(&text)
}

fn write_all(bytes: &[u8]) -> Result<ExitCode, Failure> {
    let mut stdout = io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        Err(e) => Err(Failure::new(Kind::Io, format!("writing output: {e}"))),
    }
}
