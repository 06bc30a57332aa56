//! The command line: every command, argument and flag, with its help.

use clap::{Args, Parser, Subcommand};
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use crate::arg_groups::{LimitArgs, NameArg, NewNameArg, SpawnArgs, TimeoutArg};
use crate::commands::{
    clean, events, keys, kill_all, logs, ls, prune, send, shutdown, start, status, stop, wait,
};

const AFTER_HELP: &str = "\
Examples:
  # Start a web server on the dedicated socket and wait until it listens
  tmux-wire start web --ready 'Serving HTTP' --timeout 30s -- python3 -m http.server --bind 127.0.0.1 8000
  tmux-wire ls
  tmux-wire logs web -n 20
  tmux-wire send web --enter 'echo hello'
  tmux-wire keys web C-c
  tmux-wire wait build --exit --timeout 10m
  tmux-wire stop web --grace 5s
  # Agents: run with a yield, then poll by cursor; one line in a kept shell
  tmux-wire --json run tests --yield 10s -- cargo test
  tmux-wire --json poll tests --cursor CURSOR
  tmux-wire exec sh1 -- 'cd src && make'

The socket: tmux-wire's own ($TMUX_WIRE_SOCKET, else
${TMUX_TMPDIR:-/tmp}/tmux-wire-UID/default) unless -S PATH or -L NAME.

Exit status: 0 success; 1 failure (one line on stderr: not found, tmux
error, ...); 2 usage error; 74 a wait that the log cannot serve (its log
writer does not write: a full disk, a writer that was gone); 124 a wait
timed out; 126/127 `start` of a command that is not executable / not found;
130/143 a wait (`wait`, `send --then-*`) interrupted by SIGINT/SIGTERM, 130
an `exec` whose command was interrupted. `run` and `exec` exit with the
process's own status (128 + N for signal N), and so does `wait --exit
--exit-code`; `run` exits 75 while the process still runs after --yield.
(A process's own 1, 75 or 124 reads the same: use --json to tell.)
With --json every command prints one JSON document on stdout, with
\"version\": 1 and a \"type\" (an error: {\"type\": \"error\", \"kind\", \"error\":
MESSAGE, \"hint\", \"exit_code\"}; kinds in docs/json.md); `logs --follow
--json` and `events` print JSON lines.";

/// The heading the options every command takes are listed under.
const GLOBAL: &str = "Global options";

#[derive(Parser)]
#[command(name = "tmux-wire", version, about = "Keep processes alive in tmux and know without polling when they are ready, idle or done", after_help = AFTER_HELP)]
pub struct Cli {
    /// Socket path of the tmux server.
    #[arg(
        short = 'S',
        global = true,
        value_name = "PATH",
        conflicts_with = "label",
        help_heading = GLOBAL
    )]
    pub socket: Option<PathBuf>,
    /// Socket name in tmux's directory (like tmux -L).
    #[arg(short = 'L', global = true, value_name = "NAME", help_heading = GLOBAL)]
    pub label: Option<String>,
    /// Print one JSON document (docs/json.md gives the shapes).
    #[arg(long, global = true, help_heading = GLOBAL)]
    pub json: bool,
    /// How to reach the server (see the values; `process` can crash
    /// tmux servers up to 3.6a under connection churn).
    #[arg(long, global = true, value_enum, default_value = "auto", help_heading = GLOBAL)]
    pub transport: Transport,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Transport {
    /// Direct, or a `tmux -C` child for a server too old to speak to
    /// directly (before 3.2).
    Auto,
    /// The server's socket, spoken to directly; no tmux process runs.
    Direct,
    /// A `tmux -C` child per connection. Beware: tmux up to at least 3.6a
    /// can crash, taking every session with it, when a `tmux -C` client is
    /// still identifying while another control client leaves (seen on 3.3a
    /// under connection churn); the direct transport cannot trigger this.
    Process,
}

#[derive(Subcommand)]
pub enum Command {
    Start(start::StartArgs),
    /// Start NAME running CMD, and if it ends within --yield print its
    /// output and exit with its status; else print a tail and a cursor.
    #[command(
        after_help = "Examples:\n  tmux-wire run build --yield 30s -- make -j8\n  tmux-wire --json run tests --yield 10s -- cargo test\n\nThe process belongs to the tmux server: it goes on if the caller is killed.\nIf it ends within the yield: its whole output, then exit with its own code\n(128 + N for signal N). If not: the last lines and a cursor, and exit 75;\ngo on with `tmux-wire poll NAME --cursor CURSOR` or `wait NAME --exit`.\nWith --json: {\"type\": \"run\", \"name\", \"state\", \"exit\", \"code\", \"output\" | \"tail\", \"cursor\"}."
    )]
    Run(RunArgs),
    /// Print what a process printed since a cursor (or its run's start),
    /// a new cursor, and its exit status once it has ended.
    #[command(
        after_help = "Example (a loop that sees every byte once):\n  c=$(tmux-wire --json poll job | jq -r .cursor)\n  tmux-wire --json poll job --cursor \"$c\"\n\nA cursor is a place in everything the process printed, across log\nrotations; if the bytes after it were rotated away the answer says how many\n(missed_bytes, exact; missed_lines_at_least, as lines rotated away cannot be\ncounted) and begins at the start of the next line, never inside one; while\nno line has begun after them, it gives the bytes missed so far and a cursor\nending in ~ (inside the cut line: the next poll goes on skipping it). Text\nmode prints the lines on stdout and the cursor and state on stderr.\n\nCursors, poll --cursor, wait --from and logs --offset together: docs/cli.md#cursors-offsets-and---from"
    )]
    Poll(PollArgs),
    /// Run a command line in a kept shell session; print its output and
    /// exit with its status.
    #[command(
        after_help = "Example:\n  tmux-wire start sh1 -- bash\n  tmux-wire exec sh1 -- 'cd src && make test'\n\nThe session must be a POSIX shell (sh, bash, zsh, dash, ksh) waiting at\nits prompt; anything else is refused before anything is typed. Execs of\none shell take turns (the wait counts in --timeout). Markers printed as\ninvisible escape sequences around the command, with a random nonce that\nthe echo of the typed line never spells, delimit the output; the shell's\nown state (cd, export) carries over, and bash's history (bash 5 and\nlater) keeps nothing of it. A shell back at its prompt without the end marker is said at once:\ninterrupted (exit 130), or the line did not run (a continuation prompt;\nexit 1); that is seen only where a line editor holds the prompt (bash,\nzsh on Linux): a `read` is left alone, and with a canonical prompt (dash)\nexec waits for the end or --timeout. Lines are as the screen shows them; --raw keeps every byte. On\n--timeout (exit 124) the command goes on running."
    )]
    Exec(ExecArgs),
    Events(events::EventsArgs),
    Ls(ls::LsArgs),
    Status(status::StatusArgs),
    Logs(logs::LogsArgs),
    Send(send::SendArgs),
    Keys(keys::KeysArgs),
    Wait(wait::WaitArgs),
    Stop(stop::StopArgs),
    KillAll(kill_all::KillAllArgs),
    Clean(clean::CleanArgs),
    Shutdown(shutdown::ShutdownArgs),
    Prune(prune::PruneArgs),
    /// Run one tmux command over a control connection and print its output.
    #[command(after_help = "Example:\n  tmux-wire cmd list-windows -a")]
    Cmd {
        /// The tmux command and its arguments, as given to `tmux`
        /// (options after the command name are the command's own).
        #[arg(
            required = true,
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "TMUX-COMMAND"
        )]
        argv: Vec<String>,
    },
    /// tmux-wire's version, the server's, the transport and header layout.
    Version,
    /// Decode a captured control-mode stream (from FILE or stdin).
    Decode(DecodeArgs),
    /// Print a completion script for SHELL (bash, zsh, fish, elvish,
    /// powershell).
    #[command(
        after_help = "Install (then open a new shell):\n  tmux-wire completions bash > ~/.local/share/bash-completion/completions/tmux-wire\n  tmux-wire completions zsh > ~/.zfunc/_tmux-wire     # with fpath+=(~/.zfunc) before compinit\n  tmux-wire completions fish > ~/.config/fish/completions/tmux-wire.fish"
    )]
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), or write every page into a directory.
    #[command(
        after_help = "Install every page (tmux-wire.1, tmux-wire-start.1, ...):\n  mkdir -p ~/.local/share/man/man1\n  tmux-wire man --dir ~/.local/share/man/man1\nor only the main one:\n  tmux-wire man > ~/.local/share/man/man1/tmux-wire.1"
    )]
    Man {
        /// The command whose page to print (default: tmux-wire's own, which
        /// lists the commands).
        #[arg(value_name = "COMMAND", conflicts_with = "dir")]
        command: Option<String>,
        /// Write the pages of tmux-wire and of every command into DIR
        /// (tmux-wire.1, tmux-wire-start.1, ...) instead of printing one.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

// `run`'s arguments.
#[derive(Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub target: NewNameArg,
    /// How long to wait for the process to end before answering with a
    /// tail and a cursor.
    #[arg(long = "yield", value_name = "DUR", value_parser = parse_duration, default_value = "10s")]
    pub yield_for: Duration,
    /// How many lines the tail of a process still running shows.
    #[arg(long, value_name = "N", default_value = "20")]
    pub tail: usize,
    #[command(flatten)]
    pub spawn: SpawnArgs,
    #[command(flatten)]
    pub limit: LimitArgs,
    /// The command and its arguments (after --).
    #[arg(last = true, required = true, value_name = "CMD")]
    pub argv: Vec<OsString>,
}

// `poll`'s arguments.
#[derive(Args)]
pub struct PollArgs {
    #[command(flatten)]
    pub target: NameArg,
    /// Where to start: a cursor an earlier `poll`, `run` or `logs` gave
    /// (default: the start of the current run).
    #[arg(long, value_name = "CURSOR")]
    pub cursor: Option<tmux_wire::keeper::log::Cursor>,
    /// Keep escape sequences.
    #[arg(long)]
    pub raw: bool,
}

// `exec`'s arguments.
#[derive(Args)]
pub struct ExecArgs {
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

// `decode`'s arguments.
#[derive(Args)]
pub struct DecodeArgs {
    /// Keep only lines starting with PREFIX, stripped (multi-client captures).
    #[arg(long, value_name = "PREFIX")]
    pub client: Option<String>,
    /// The capture (default: standard input).
    pub file: Option<String>,
}

/// `500ms`, `30s`, `2m`, `1h`, or a plain number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("bad duration {s:?} (use e.g. 500ms, 30s, 2m)"))?;
    let secs = match unit {
        "ms" => value / 1000.0,
        "" | "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        "d" => value * 86400.0,
        _ => return Err(format!("bad unit in {s:?} (ms, s, m, h or d)")),
    };
    // At most a year: longer is surely a mistake, and far-off deadlines
    // overflow the clock.
    match Duration::try_from_secs_f64(secs) {
        Ok(d) if d <= Duration::from_secs(366 * 24 * 3600) => Ok(d),
        _ => Err(format!("bad duration {s:?} (at most a year)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_definitions_are_consistent() {
        Cli::command().debug_assert();
    }

    /// Every argument and flag of every command, hidden ones included,
    /// says what it is for.
    #[test]
    fn every_argument_has_help() {
        fn walk(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in command.get_arguments() {
                if arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("{path} {}", arg.get_id()));
                }
            }
            for sub in command.get_subcommands() {
                if sub.get_about().is_none() {
                    missing.push(format!("{path} {} (the command)", sub.get_name()));
                }
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut command = Cli::command();
        command.build();
        let mut missing = Vec::new();
        walk(&command, "tmux-wire", &mut missing);
        assert!(missing.is_empty(), "without help: {missing:?}");
        // The walk saw the subcommands' own arguments.
        let stop = command.find_subcommand("stop").unwrap();
        assert!(stop.get_arguments().any(|a| a.get_id() == "grace"));
    }

    /// The global options are declared once, on the top level.
    #[test]
    fn global_options_are_declared_once() {
        let command = Cli::command();
        for id in ["socket", "label", "json", "transport"] {
            let arg = command
                .get_arguments()
                .find(|a| a.get_id() == id)
                .unwrap_or_else(|| panic!("{id} is not a top-level option"));
            assert!(arg.is_global_set(), "{id} is not global");
        }
        for sub in command.get_subcommands() {
            for arg in sub.get_arguments() {
                let id = arg.get_id().as_str();
                assert!(
                    !["socket", "label", "json", "transport"].contains(&id),
                    "{} declares {id} again",
                    sub.get_name()
                );
            }
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("3d"), Ok(Duration::from_secs(3 * 86400)));
        assert!(parse_duration("3w").is_err());
        assert!(parse_duration("9000h").is_err());
    }
}
