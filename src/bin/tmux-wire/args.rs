//! The command line: every command, argument and flag, with its help.

use clap::{Args, Parser, Subcommand};
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;
use tmux_wire::keeper::WaitFrom;

use crate::arg_groups::{LimitArgs, NameArg, NewNameArg, SpawnArgs, TimeoutArg};
use crate::commands::{clean, events, kill_all, prune, shutdown, stop};

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
    /// Start NAME running CMD unless it already runs (then change nothing).
    #[command(
        after_help = "Examples:\n  tmux-wire start web --ready 'Serving HTTP' -- python3 -m http.server --bind 127.0.0.1 8000\n  tmux-wire start job --cwd ~/src --env RUST_LOG=debug -- cargo build"
    )]
    Start(StartArgs),
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
    /// List processes: name, state, pid, command, cwd, started, log.
    #[command(alias = "list")]
    Ls,
    /// Show one process.
    Status {
        #[command(flatten)]
        target: NameArg,
    },
    /// Print the last lines of a process's log, a page of it, or follow it.
    #[command(
        after_help = "Cursors, poll --cursor, wait --from and logs --offset together: docs/cli.md#cursors-offsets-and---from"
    )]
    Logs(LogsArgs),
    /// Type TEXT, a file or standard input into the process exactly (any
    /// bytes, any length).
    #[command(
        after_help = "Examples:\n  tmux-wire send repl --enter 'print(\"a; b\")'\n  tmux-wire send sh1 --enter 'make test; echo EXIT=$?' --then-ready '^EXIT=\\d+$' --timeout 10m\n  tmux-wire send repl --enter 'load()' --then-idle 2s\n\nWith --then-ready the wait is armed before the text is typed, and only what\nthe process prints after it counts: neither older output nor the terminal's\necho of the typed text can match. A process that has exited is an error."
    )]
    Send(SendArgs),
    /// Press keys by name: C-c, Enter, Up, Escape, F1 ...
    #[command(after_help = "Example:\n  tmux-wire keys web C-c")]
    Keys {
        #[command(flatten)]
        target: NameArg,
        /// Key names as tmux knows them (C-c, Enter, Up, M-x, F1 ...),
        /// pressed in order; a name tmux does not know is refused.
        #[arg(required = true, value_name = "KEY")]
        keys: Vec<String>,
    },
    /// Wait until the process is ready, idle, waiting for input, or has
    /// exited.
    #[command(
        after_help = "Examples:\n  tmux-wire wait web --ready 'Listening on'\n  tmux-wire wait build --exit --timeout 10m   # prints how it ended; exit 0\n  tmux-wire wait repl --idle 2s\n\n--ready matches each line on its own, as grep does ('^' and '$' are the\nline's ends), in the text a person sees (escape sequences removed). By\ndefault (--from input) it reads from the last text tmux-wire typed into the\nprocess, skipping its echo, or from the start of the run if nothing was\ntyped: a banner printed before the wait counts, output from before a\n`send` does not. --from start reads the whole run, --from now only what\ncomes next. A process that exits first ends the wait with exit 1 and its\nstatus. A wait whose log does not get the output (its log writer cannot\nwrite, or was gone) fails at once with exit 74 and says why. A wait that\nfalls behind its log (output rotated away before it read it) says how much\nit missed however it ends: on stderr, or missed_bytes with --json (in the\nerror document too).\nSessions tmux-wire did not start have no log: there what the pane shows\ncounts (--from now: only new output).\n\nCursors, poll --cursor, wait --from and logs --offset together: docs/cli.md#cursors-offsets-and---from"
    )]
    Wait(WaitArgs),
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

// `start`'s arguments.
#[derive(Args)]
pub struct StartArgs {
    #[command(flatten)]
    pub target: NewNameArg,
    #[command(flatten)]
    pub spawn: SpawnArgs,
    /// Wait until the output matches this regular expression.
    #[arg(long, value_name = "REGEX")]
    pub ready: Option<regex::Regex>,
    #[command(flatten)]
    pub timeout: TimeoutArg,
    #[command(flatten)]
    pub limit: LimitArgs,
    #[command(flatten)]
    pub restart: RestartArgs,
    /// The command and its arguments (after --).
    #[arg(last = true, required = true, value_name = "CMD")]
    pub argv: Vec<OsString>,
}

// The restart policy of `start`.
#[derive(Args)]
pub struct RestartArgs {
    /// Start it again when it ends: after a failure (non-zero exit or a
    /// signal) or always. tmux's own hooks and timers do it, so it works
    /// while no tmux-wire runs; `stop` ends it for good.
    #[arg(long, value_name = "WHEN")]
    pub restart: Option<tmux_wire::keeper::RestartWhen>,
    /// At most this many restarts (then it stays ended).
    #[arg(long, value_name = "N", default_value = "5", requires = "restart")]
    pub max_restarts: u32,
    /// Before the first restart; doubles with each one (at most 5m).
    #[arg(long, value_name = "DUR", value_parser = parse_duration, default_value = "1s", requires = "restart")]
    pub restart_delay: Duration,
}

impl RestartArgs {
    pub fn policy(&self) -> Option<tmux_wire::keeper::RestartPolicy> {
        self.restart.map(|when| tmux_wire::keeper::RestartPolicy {
            when,
            max: self.max_restarts,
            delay: self.restart_delay,
        })
    }
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

// `logs`'s arguments.
#[derive(Args)]
pub struct LogsArgs {
    #[command(flatten)]
    pub target: NameArg,
    /// How many lines (the last ones).
    #[arg(short = 'n', default_value = "50", conflicts_with_all = ["offset", "limit"])]
    pub lines: usize,
    /// Keep printing new output until the process ends (Ctrl-C stops).
    /// A follower that falls so far behind that the log rotates away what
    /// it has not read says what it missed (bytes, at least how many
    /// lines, the cursor it goes on at: the start of a line) where it
    /// happened, and exits 1 at the end. A log writer that stops is
    /// started again at once and said where it happened (the log's gap
    /// line follows); one that cannot be started again ends it, exit 74.
    #[arg(long, conflicts_with_all = ["offset", "limit"])]
    pub follow: bool,
    /// Page by line: start at line N of all the log keeps (0 is the
    /// oldest; default: the last page).
    #[arg(long, value_name = "N")]
    pub offset: Option<usize>,
    /// Page by line: at most N lines (default 200 with --offset).
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Keep escape sequences.
    #[arg(long)]
    pub raw: bool,
}

// `send`'s arguments.
#[derive(Args)]
pub struct SendArgs {
    #[command(flatten)]
    pub target: NameArg,
    /// The text to type, exactly (quote it for the shell); `-` reads it
    /// from standard input.
    #[arg(required_unless_present_any = ["file", "eof"], conflicts_with = "file")]
    pub text: Option<String>,
    /// Type the contents of FILE (`-`: standard input): any bytes, any
    /// length.
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Then end the input, as Ctrl-D at a terminal does (twice if the
    /// line typed last has no newline, so the reader sees end of file).
    #[arg(long)]
    pub eof: bool,
    /// Press Enter after the text.
    #[arg(long)]
    pub enter: bool,
    /// Then wait until a line printed after the text matches REGEX
    /// (per line, as in grep; the echo of the text never matches).
    #[arg(long, value_name = "REGEX", conflicts_with = "then_idle")]
    pub then_ready: Option<regex::Regex>,
    /// Then wait until the process printed nothing for DUR.
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub then_idle: Option<Duration>,
    #[command(flatten)]
    pub timeout: TimeoutArg,
}

// `wait`'s arguments.
#[derive(Args)]
#[command(group(clap::ArgGroup::new("until").required(true)))]
pub struct WaitArgs {
    #[command(flatten)]
    pub target: NameArg,
    /// Until the output matches this regular expression.
    #[arg(long, value_name = "REGEX", group = "until")]
    pub ready: Option<regex::Regex>,
    /// Until no output for this long.
    #[arg(long, value_name = "DUR", value_parser = parse_duration, group = "until")]
    pub idle: Option<Duration>,
    /// Until the process exits; prints its status.
    #[arg(long, group = "until")]
    pub exit: bool,
    /// Until its program waits for input: blocked reading its terminal
    /// (Linux; checked when its output goes quiet, and after each second
    /// of silence).
    #[arg(long, group = "until")]
    pub input: bool,
    /// With --exit: exit with the process's own code (128 + N for signal N).
    #[arg(long, requires = "exit")]
    pub exit_code: bool,
    /// Where --ready starts reading: input (default: after the last `send`,
    /// its echo skipped), start, now (the next whole line), or a cursor
    /// from `poll`, `run` or `logs`.
    #[arg(long, value_name = "FROM", value_parser = parse_from, default_value = "input")]
    pub from: WaitStart,
    #[command(flatten)]
    pub timeout: TimeoutArg,
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

/// Where `wait --ready` starts.
#[derive(Clone, Debug)]
pub enum WaitStart {
    /// A place the keeper knows.
    Mode(WaitFrom),
    /// A cursor from an earlier read.
    Cursor(tmux_wire::keeper::log::Cursor),
}

/// `input`, `start`, `now`, or a cursor.
fn parse_from(s: &str) -> Result<WaitStart, String> {
    match s {
        "input" => Ok(WaitStart::Mode(WaitFrom::LastInput)),
        "start" => Ok(WaitStart::Mode(WaitFrom::RunStart)),
        "now" => Ok(WaitStart::Mode(WaitFrom::Now)),
        _ => s
            .parse()
            .map(WaitStart::Cursor)
            .map_err(|_| format!("{s:?}: say input, start, now, or a cursor (LOGID:OFFSET)")),
    }
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
