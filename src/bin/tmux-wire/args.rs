//! The command line's top level: the global options, the `Command` enum
//! (each command's arguments and help are in its module in `commands/`,
//! the groups several share in `arg_groups`), and the parsing every
//! command shares (durations; cursors parse themselves, as the library's
//! `Cursor`).

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

use crate::commands::{
    clean, cmd, decode, events, exec, keys, kill_all, logs, ls, manual, poll, prune, run, send,
    shutdown, start, status, stop, version, wait,
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

Where reading starts (in full: docs/cli.md#cursors-offsets-and---from):
a cursor LOGID:OFFSET (from poll, run, logs --json) is a byte offset in
all the process printed, valid across log rotations: poll --cursor and
wait --ready --from CURSOR read on exactly there, and count what rotated
away as missed. --from input|start|now are places wait --ready finds at
each call: after the last text sent (its echo skipped), the run's start,
the next line. logs --offset N is a line number in what the log keeps now
(0 the oldest) that each rotation shifts: for paging, not for coming back.

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

/// The commands, in the order `--help` lists them; each variant's help
/// is its arguments struct's doc comment and `#[command]` attributes.
#[derive(Subcommand)]
pub enum Command {
    Start(start::StartArgs),
    Run(run::RunArgs),
    Poll(poll::PollArgs),
    Exec(exec::ExecArgs),
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
    Cmd(cmd::CmdArgs),
    Version(version::VersionArgs),
    Decode(decode::DecodeArgs),
    Completions(manual::CompletionsArgs),
    Man(manual::ManArgs),
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

    /// The keeper's helpers are answered before parsing (`main`): no
    /// command is hidden, so `--help`, the man pages and the completions
    /// show every command there is.
    #[test]
    fn no_hidden_commands() {
        let hidden: Vec<_> = Cli::command()
            .get_subcommands()
            .filter(|c| c.is_hide_set())
            .map(|c| c.get_name().to_string())
            .collect();
        assert!(hidden.is_empty(), "hidden commands: {hidden:?}");
    }

    /// NAME, --timeout and --grace read the same, with the same default,
    /// wherever they appear (arg_groups declares them once; exec's NAME
    /// says it is a shell's).
    #[test]
    fn shared_arguments_have_one_wording() {
        let command = Cli::command();
        // How many commands take it, in how many wordings: NAME is a new
        // process's (start, run), a shell's (exec) or any process's.
        for (id, commands, wordings) in [("timeout", 4, 1), ("grace", 3, 1), ("name", 10, 3)] {
            let mut seen = std::collections::BTreeMap::new();
            for sub in command.get_subcommands() {
                for arg in sub.get_arguments().filter(|a| a.get_id() == id) {
                    let said = format!(
                        "{:?} {:?}",
                        arg.get_help().map(ToString::to_string),
                        arg.get_default_values()
                    );
                    seen.entry(said)
                        .or_insert_with(Vec::new)
                        .push(sub.get_name());
                }
            }
            let uses: usize = seen.values().map(Vec::len).sum();
            assert_eq!((uses, seen.len()), (commands, wordings), "{id}: {seen:?}");
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
