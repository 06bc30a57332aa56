//! The `tmux-wire` command: keep named processes alive in tmux and wait on
//! them without polling; run tmux commands over a control connection; and
//! decode captured control-mode streams.

use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use std::ffi::OsString;
use std::io::{self, IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use tmux_wire::client::{Client, PaneEvent, TransportChoice};
use tmux_wire::keeper::{self, Keeper, KeeperError, StartSpec};
use tmux_wire::protocol::{Assembler, Event};
use tmux_wire::server::SocketSpec;
use tmux_wire::watch;

/// `println!` that ends the program quietly when stdout is closed (a
/// reader such as `head` went away) instead of panicking.
macro_rules! out {
    ($($arg:tt)*) => {
        emit(&format!($($arg)*))
    };
}

const AFTER_HELP: &str = "\
Examples:
  # Start a web server on the dedicated socket and wait until it listens
  tmux-wire start web --ready 'Serving HTTP' --timeout 30s -- python3 -m http.server 8000
  tmux-wire ls
  tmux-wire logs web -n 20
  tmux-wire send web --enter 'echo hello'
  tmux-wire keys web C-c
  tmux-wire wait build --exit --timeout 10m
  tmux-wire stop web --grace 5s

The socket: tmux-wire's own ($TMUX_WIRE_SOCKET, else
${TMUX_TMPDIR:-/tmp}/tmux-wire-UID/default) unless -S PATH or -L NAME.

Exit status: 0 success; 1 failure (one line on stderr: not found, tmux
error, ...); 2 usage error; 124 a wait timed out; 126/127 `start` of a
command that is not executable / not found.
With --json every command prints one JSON document on stdout (an error
prints {\"error\": MESSAGE}); `logs --follow --json` prints JSON lines.";

#[derive(Parser)]
#[command(name = "tmux-wire", version, about = "Keep processes alive in tmux and know without polling when they are ready, idle or done", after_help = AFTER_HELP)]
struct Cli {
    /// Socket path of the tmux server.
    #[arg(
        short = 'S',
        global = true,
        value_name = "PATH",
        conflicts_with = "label"
    )]
    socket: Option<PathBuf>,
    /// Socket name in tmux's directory (like tmux -L).
    #[arg(short = 'L', global = true, value_name = "NAME")]
    label: Option<String>,
    /// Print one JSON document (see README for the shapes).
    #[arg(long, global = true)]
    json: bool,
    /// How to reach the server (see the values; `process` can crash
    /// tmux servers up to 3.6a under connection churn).
    #[arg(long, global = true, value_enum, default_value = "auto")]
    transport: Transport,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Transport {
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
enum Command {
    /// Start NAME running CMD unless it already runs (then change nothing).
    #[command(
        after_help = "Examples:\n  tmux-wire start web --ready 'Serving HTTP' -- python3 -m http.server 8000\n  tmux-wire start job --cwd ~/src --env RUST_LOG=debug -- cargo build"
    )]
    Start {
        /// The name (a tmux session name: no '.', ':', '/' or control characters).
        name: String,
        /// Working directory (default: the current one).
        #[arg(long, value_name = "DIR")]
        cwd: Option<PathBuf>,
        /// Set a variable on top of the current environment (repeatable).
        #[arg(long = "env", value_name = "K=V", value_parser = parse_env)]
        env: Vec<(String, String)>,
        /// Wait until the output matches this regular expression.
        #[arg(long, value_name = "REGEX")]
        ready: Option<regex::Regex>,
        /// How long to wait for --ready (e.g. 500ms, 30s, 2m).
        #[arg(long, value_name = "DUR", value_parser = parse_duration, default_value = "30s")]
        timeout: Duration,
        /// The command and its arguments (after --).
        #[arg(last = true, required = true, value_name = "CMD")]
        argv: Vec<OsString>,
    },
    /// List processes: name, state, pid, command, cwd, started, log.
    #[command(alias = "list")]
    Ls,
    /// Show one process.
    Status { name: String },
    /// Print the last lines of a process's log.
    Logs {
        name: String,
        /// How many lines.
        #[arg(short = 'n', default_value = "50")]
        lines: usize,
        /// Keep printing new output until the process ends (Ctrl-C stops).
        #[arg(long)]
        follow: bool,
        /// Keep escape sequences.
        #[arg(long)]
        raw: bool,
    },
    /// Type TEXT into the process exactly (any characters, any length).
    #[command(
        after_help = "Examples:\n  tmux-wire send repl --enter 'print(\"a; b\")'\n  tmux-wire send sh1 --enter 'make test; echo EXIT=$?' --then-ready '^EXIT=\\d+$' --timeout 10m\n  tmux-wire send repl --enter 'load()' --then-idle 2s\n\nWith --then-ready the wait is armed before the text is typed, and only what\nthe process prints after it counts: neither older output nor the terminal's\necho of the typed text can match. A process that has exited is an error."
    )]
    Send {
        name: String,
        text: String,
        /// Press Enter after the text.
        #[arg(long)]
        enter: bool,
        /// Then wait until a line printed after the text matches REGEX
        /// (per line, as in grep; the echo of the text never matches).
        #[arg(long, value_name = "REGEX", conflicts_with = "then_idle")]
        then_ready: Option<regex::Regex>,
        /// Then wait until the process printed nothing for DUR.
        #[arg(long, value_name = "DUR", value_parser = parse_duration)]
        then_idle: Option<Duration>,
        /// Give up the --then-* wait after this long (exit 124).
        #[arg(long, value_name = "DUR", value_parser = parse_duration, default_value = "30s")]
        timeout: Duration,
    },
    /// Press keys by name: C-c, Enter, Up, Escape, F1 ...
    #[command(after_help = "Example:\n  tmux-wire keys web C-c")]
    Keys {
        name: String,
        #[arg(required = true)]
        keys: Vec<String>,
    },
    /// Wait until the process is ready, idle, or has exited.
    #[command(
        group(clap::ArgGroup::new("until").required(true)),
        after_help = "Examples:\n  tmux-wire wait web --ready 'Listening on'\n  tmux-wire wait build --exit --timeout 10m   # prints how it ended; exit 0\n  tmux-wire wait repl --idle 2s\n\n--ready matches each line on its own, as grep does ('^' and '$' are the\nline's ends), in the text a person sees (escape sequences removed). By\ndefault (--from input) it reads from the last text tmux-wire typed into the\nprocess, skipping its echo, or from the start of the run if nothing was\ntyped: a banner printed before the wait counts, output from before a\n`send` does not. --from start reads the whole run, --from now only what\ncomes next. A process that exits first ends the wait with exit 1 and its\nstatus. Sessions tmux-wire did not start have no log: there what the pane\nshows counts (--from now: only new output)."
    )]
    Wait {
        name: String,
        /// Until the output matches this regular expression.
        #[arg(long, value_name = "REGEX", group = "until")]
        ready: Option<regex::Regex>,
        /// Until no output for this long.
        #[arg(long, value_name = "DUR", value_parser = parse_duration, group = "until")]
        idle: Option<Duration>,
        /// Until the process exits; prints its status.
        #[arg(long, group = "until")]
        exit: bool,
        /// Where --ready starts reading: input (default), start or now.
        #[arg(long, value_name = "FROM", value_parser = parse_from, default_value = "input")]
        from: keeper::WaitFrom,
        /// Give up after this long (exit 124).
        #[arg(long, value_name = "DUR", value_parser = parse_duration, default_value = "30s")]
        timeout: Duration,
    },
    /// Interrupt (C-c), wait up to --grace, then kill the session.
    Stop {
        name: String,
        #[arg(long, value_name = "DUR", value_parser = parse_duration, default_value = "10s")]
        grace: Duration,
    },
    /// Stop every process on the socket.
    KillAll {
        #[arg(long, value_name = "DUR", value_parser = parse_duration, default_value = "10s")]
        grace: Duration,
    },
    /// Remove the socket file if no server answers on it.
    Clean,
    /// Run one tmux command over a control connection and print its output.
    #[command(after_help = "Example:\n  tmux-wire cmd list-windows -a")]
    Cmd {
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        argv: Vec<String>,
    },
    /// tmux-wire's version, the server's, the transport and header layout.
    Version,
    /// Decode a captured control-mode stream (from FILE or stdin).
    Decode(DecodeArgs),
    /// (internal) The log writer tmux pipes a pane's output into.
    #[command(hide = true)]
    LogSink {
        #[arg(long)]
        max_bytes: u64,
        #[arg(long)]
        keep: u32,
        path: PathBuf,
    },
}

#[derive(Args)]
struct DecodeArgs {
    /// Keep only lines starting with PREFIX, stripped (multi-client captures).
    #[arg(long, value_name = "PREFIX")]
    client: Option<String>,
    /// The capture (default: standard input).
    file: Option<String>,
}

fn parse_env(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("expected K=V, got {s:?}")),
    }
}

/// `input`, `start` or `now`.
fn parse_from(s: &str) -> Result<keeper::WaitFrom, String> {
    match s {
        "input" => Ok(keeper::WaitFrom::LastInput),
        "start" => Ok(keeper::WaitFrom::RunStart),
        "now" => Ok(keeper::WaitFrom::Now),
        _ => Err(format!("{s:?}: say input, start or now")),
    }
}

/// `500ms`, `30s`, `2m`, `1h`, or a plain number of seconds.
fn parse_duration(s: &str) -> Result<Duration, String> {
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
        _ => return Err(format!("bad unit in {s:?} (ms, s, m or h)")),
    };
    // At most a year: longer is surely a mistake, and far-off deadlines
    // overflow the clock.
    match Duration::try_from_secs_f64(secs) {
        Ok(d) if d <= Duration::from_secs(366 * 24 * 3600) => Ok(d),
        _ => Err(format!("bad duration {s:?} (at most a year)")),
    }
}

/// How a command failed.
enum Failure {
    /// Exit 1, with this line.
    Error(String),
    /// Exit 1, with tmux's own message, printed as tmux prints it.
    Tmux(String),
    /// This exit status (126, 127: the command cannot be run), this line.
    Code(u8, String),
    /// Exit 124.
    Timeout(String),
}

impl From<KeeperError> for Failure {
    fn from(e: KeeperError) -> Self {
        match e.exit_code() {
            124 => Failure::Timeout(e.to_string()),
            1 => Failure::Error(e.to_string()),
            code => Failure::Code(code, e.to_string()),
        }
    }
}

impl From<tmux_wire::client::ClientError> for Failure {
    fn from(e: tmux_wire::client::ClientError) -> Self {
        Failure::Error(e.to_string())
    }
}

impl From<watch::WatchError> for Failure {
    fn from(e: watch::WatchError) -> Self {
        KeeperError::from(e).into()
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.json;
    let result = if let Command::LogSink {
        max_bytes,
        keep,
        path,
    } = &cli.command
    {
        keeper::log::sink(
            io::stdin().lock(),
            path,
            keeper::log::Limits {
                max_bytes: *max_bytes,
                keep: *keep,
            },
        )
        .map(|()| ExitCode::SUCCESS)
        .map_err(|e| Failure::Error(format!("log {}: {e}", path.display())))
    } else if let Command::Decode(args) = &cli.command {
        decode(json, args)
    } else {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        runtime.block_on(run(cli))
    };
    match result {
        Ok(code) => code,
        Err(failure) => {
            let (code, message, prefix) = match failure {
                Failure::Error(m) => (1, m, "tmux-wire: "),
                Failure::Tmux(m) => (1, m, ""),
                Failure::Code(code, m) => (code, m, "tmux-wire: "),
                Failure::Timeout(m) => (124, m, "tmux-wire: "),
            };
            if json {
                out!("{}", json!({ "error": message, "exit_code": code }));
            }
            if prefix.is_empty() {
                eprintln!("{message}");
            } else {
                eprintln!("{prefix}{}", message.lines().next().unwrap_or(""));
                for line in message.lines().skip(1) {
                    eprintln!("  {line}");
                }
            }
            ExitCode::from(code)
        }
    }
}

fn emit(line: &str) {
    let mut stdout = io::stdout().lock();
    if let Err(e) = writeln!(stdout, "{line}") {
        if e.kind() == io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("tmux-wire: writing output: {e}");
        std::process::exit(1);
    }
}

fn print_json(value: serde_json::Value) {
    out!("{value}");
}

/// A spinner on a terminal (elapsed time and a message), nothing otherwise.
fn spinner(json: bool, what: &str) -> Option<ProgressBar> {
    if json || !io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {elapsed} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_message(what.to_string());
    bar.enable_steady_tick(Duration::from_millis(100));
    Some(bar)
}

async fn run(cli: Cli) -> Result<ExitCode, Failure> {
    let spec = match (&cli.socket, &cli.label) {
        (Some(path), _) => SocketSpec::Path(path.clone()),
        (None, Some(label)) => SocketSpec::Label(label.clone()),
        (None, None) => SocketSpec::WireDefault,
    };
    let transport = match cli.transport {
        Transport::Auto => TransportChoice::Auto,
        Transport::Direct => TransportChoice::Direct,
        Transport::Process => TransportChoice::Process,
    };
    let keeper = Keeper::new(&spec)?.transport(transport);
    let json = cli.json;
    match cli.command {
        Command::Start {
            name,
            cwd,
            env,
            ready,
            timeout,
            argv,
        } => {
            let what = format!("starting {name}");
            let bar = ready.as_ref().and_then(|_| spinner(json, &what));
            let started = keeper
                .start(
                    &name,
                    &argv,
                    &StartSpec {
                        cwd,
                        env,
                        ready,
                        timeout: Some(timeout),
                    },
                )
                .await;
            if let Some(bar) = bar {
                bar.finish_and_clear();
            }
            let started = started?;
            if json {
                print_json(serde_json::to_value(&started).unwrap_or_default());
            } else if let (true, Some(asked)) =
                (started.already_running, &started.requested_command)
            {
                out!(
                    "{name} is already running another command (pid {}): `{}`, not `{asked}`; nothing changed (stop it first to run the new one)",
                    show_pid(started.process.pid),
                    started.process.command
                );
            } else if started.already_running {
                out!(
                    "{name} is already running (pid {}); nothing changed",
                    show_pid(started.process.pid)
                );
            } else {
                out!(
                    "{name} started (pid {}); log {}",
                    show_pid(started.process.pid),
                    show_path(&started.process.log)
                );
                if let Some(m) = &started.ready {
                    out!("ready: {m}");
                }
            }
        }
        Command::Ls => {
            let list = keeper.list().await?;
            if json {
                print_json(json!({ "processes": list }));
            } else if list.is_empty() {
                out!("no processes on {}", keeper.socket().display());
            } else {
                out!(
                    "{:<16} {:<18} {:>8}  {:<20} COMMAND",
                    "NAME",
                    "STATE",
                    "PID",
                    "STARTED"
                );
                for p in list {
                    out!(
                        "{:<16} {:<18} {:>8}  {:<20} {}",
                        p.name,
                        p.state.to_string(),
                        show_pid(p.pid),
                        p.started.map(ago).unwrap_or_default(),
                        p.command
                    );
                }
            }
        }
        Command::Status { name } => {
            let p = keeper.status(&name).await?;
            if json {
                print_json(serde_json::to_value(&p).unwrap_or_default());
            } else {
                out!("name:    {}\nstate:   {}\npid:     {}\ncommand: {}\ncwd:     {}\nstarted: {}\nlog:     {}",
                    p.name, p.state, show_pid(p.pid), p.command, p.cwd,
                    p.started.map(ago).unwrap_or_default(), show_path(&p.log));
            }
        }
        Command::Logs {
            name,
            lines,
            follow,
            raw,
        } => {
            // Watch the log before reading it, so following misses nothing.
            let live = if follow {
                let (client, pane) = keeper.pane_without_output(&name).await?;
                let changes = keeper::log::LogWatch::new(&keeper.log_path(&name));
                Some((client, pane, changes))
            } else {
                None
            };
            let (last, end) = keeper.logs_or_history(&name, lines, raw, follow).await?;
            if json && !follow {
                print_json(json!({ "lines": last }));
            } else {
                for line in &last {
                    print_line(json, line);
                }
            }
            if let Some((client, pane, changes)) = live {
                let Some(end) = end else {
                    return Err(Failure::Error(format!(
                        "{name} has no log to follow (tmux-wire did not start it); the lines above are what tmux still holds"
                    )));
                };
                let follower = keeper::log::Follower::new(&keeper.log_path(&name), end, raw);
                follow_log(
                    keeper.socket(),
                    &client,
                    pane,
                    &name,
                    follower,
                    changes,
                    json,
                )
                .await?;
            }
        }
        Command::Send {
            name,
            text,
            enter,
            then_ready,
            then_idle,
            timeout,
        } => {
            let sent = text.len();
            if let Some(pattern) = then_ready {
                let found = keeper
                    .send_then_ready(&name, text.as_bytes(), enter, &pattern, timeout)
                    .await?;
                if json {
                    print_json(json!({ "sent": sent, "ready": found }));
                } else {
                    out!("ready: {found}");
                }
            } else if let Some(quiet) = then_idle {
                let idle = keeper
                    .send_then_idle(&name, text.as_bytes(), enter, quiet, timeout)
                    .await?;
                if json {
                    print_json(
                        json!({ "sent": sent, "idle": true, "current_command": idle.current_command }),
                    );
                } else {
                    out!("{name} is idle");
                }
            } else {
                keeper.send_text(&name, text.as_bytes(), enter).await?;
                if json {
                    print_json(json!({ "sent": sent }));
                }
            }
        }
        Command::Keys { name, keys } => {
            keeper.send_keys(&name, &keys).await?;
            if json {
                print_json(json!({ "sent": keys }));
            }
        }
        Command::Wait {
            name,
            ready,
            idle,
            exit,
            from,
            timeout,
        } => {
            let bar = spinner(json, &format!("waiting for {name}"));
            // Output only where it is needed (the spinner's last line; idle
            // on a session tmux-wire did not start opens its own):
            // tmux 3.2a crashes when a pane dies while output for it waits
            // to be sent to a control client.
            let (client, pane) = if bar.is_some() {
                keeper.pane(&name).await?
            } else {
                keeper.pane_without_output(&name).await?
            };
            let _progress = match &bar {
                Some(bar) => Some(show_last_line(&client, pane, bar.clone(), &name).await?),
                None => None,
            };
            let result: Result<(serde_json::Value, String), Failure> = if let Some(pattern) = ready
            {
                // A process that exits first ends the wait with its status.
                keeper
                    .wait_ready_on(&client, &name, pane, &pattern, from, timeout)
                    .await
                    .map(|m| (json!({ "ready": m }), format!("ready: {m}")))
                    .map_err(Failure::from)
            } else if let Some(quiet) = idle {
                keeper
                    .wait_idle_on(&client, &name, pane, quiet, timeout)
                    .await
                    .map(|i| {
                        (
                            json!({ "idle": true, "current_command": i.current_command }),
                            format!("{name} is idle"),
                        )
                    })
                    .map_err(Failure::from)
            } else if exit {
                keeper
                    .wait_exit_on(&client, &name, pane, timeout)
                    .await
                    .map(|s| {
                        (
                            json!({ "exit": s, "code": s.code() }),
                            format!("{name} {s}"),
                        )
                    })
                    .map_err(Failure::from)
            } else {
                unreachable!("clap requires one of --ready, --idle, --exit");
            };
            if let Some(bar) = bar {
                bar.finish_and_clear();
            }
            let (doc, text) = result?;
            if json {
                print_json(doc);
            } else {
                out!("{text}");
            }
        }
        Command::Stop { name, grace } => {
            let how = keeper.stop(&name, grace).await?;
            if json {
                print_json(json!({ "name": name, "stopped": how }));
            } else {
                out!("{name}: {}", describe_stop(&how));
            }
        }
        Command::KillAll { grace } => {
            let all = keeper.stop_all(grace).await?;
            if json {
                let list: Vec<_> = all
                    .iter()
                    .map(|(n, h)| json!({ "name": n, "stopped": h }))
                    .collect();
                print_json(json!({ "stopped": list }));
            } else if all.is_empty() {
                out!("nothing to stop");
            } else {
                for (name, how) in all {
                    out!("{name}: {}", describe_stop(&how));
                }
            }
        }
        Command::Clean => {
            let removed = keeper.clean()?;
            if json {
                print_json(json!({ "removed": removed, "socket": keeper.socket() }));
            } else if removed {
                out!("removed stale socket {}", keeper.socket().display());
            } else {
                out!("nothing to clean at {}", keeper.socket().display());
            }
        }
        Command::Cmd { argv } => {
            // tmux's own refusal is printed as tmux prints it.
            let (reply, _) = Client::run_once(&keeper.options(argv))
                .await
                .map_err(|e| match e.tmux_message() {
                    Some(message) => Failure::Tmux(message.to_string()),
                    None => e.into(),
                })?;
            let lines: Vec<String> = reply
                .content()
                .iter()
                .map(|l| String::from_utf8_lossy(l).into_owned())
                .collect();
            if json {
                print_json(json!({ "output": lines }));
            } else {
                for line in lines {
                    out!("{line}");
                }
            }
        }
        Command::Version => {
            // `list-commands` answers without a session on every version
            // (`display-message` needs one before 3.2).
            let command = ["list-commands", "-F", "#{version}", "list-commands"]
                .map(String::from)
                .to_vec();
            let (reply, info) = Client::run_once(&keeper.options(command)).await?;
            let server = String::from_utf8_lossy(&reply.output()).trim().to_string();
            let layout = info.layout.map(|l| format!("{l:?}"));
            if json {
                print_json(json!({
                    "tmux_wire": env!("CARGO_PKG_VERSION"),
                    "server": server,
                    "transport": info.kind.as_str(),
                    "layout": layout,
                    "socket": keeper.socket(),
                }));
            } else {
                out!("tmux-wire {}\nserver    tmux {server}\ntransport {} ({})\nlayout    {}\nsocket    {}",
                    env!("CARGO_PKG_VERSION"), info.kind.as_str(), info.reason,
                    layout.unwrap_or_else(|| "-".into()), keeper.socket().display());
            }
        }
        Command::Decode(_) | Command::LogSink { .. } => {
            unreachable!("handled before the runtime starts")
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Keep the spinner's message on the pane's last line of output; the task
/// ends when the returned guard is dropped.
async fn show_last_line(
    client: &Client,
    pane: tmux_wire::protocol::PaneId,
    bar: ProgressBar,
    name: &str,
) -> Result<AbortOnDrop, Failure> {
    let mut output = client.pane_output(pane).await?;
    let name = name.to_string();
    let task = tokio::spawn(async move {
        let mut lines = tmux_wire::text::Lines::new();
        while let Some(event) = output.next().await {
            if let PaneEvent::Output(data) = event {
                let ended = lines.push(&data);
                let current = lines.current();
                let last = std::iter::once(&current)
                    .chain(ended.iter().rev())
                    .find(|l| !l.trim().is_empty());
                if let Some(last) = last {
                    let shown: String = last.trim().chars().take(60).collect();
                    bar.set_message(format!("waiting for {name}: {shown}"));
                }
            }
        }
    });
    Ok(AbortOnDrop(task))
}

/// Aborts its task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn print_line(json: bool, line: &str) {
    if json {
        out!("{}", json!({ "line": line }));
    } else {
        out!("{line}");
    }
}

/// Print what the process adds to its log until it exits, then say how it
/// ended (Ctrl-C stops). The log is the source, so nothing is printed twice
/// or lost (tmux 3.3a can drop the last `%output` of a pane that is dying),
/// and the log directory's changes (inotify) say when to read: the log
/// writer is a process of its own and can lag far behind tmux's output
/// events under a flood. Reads are bounded, so memory stays flat however
/// far behind the reader is.
fn server_alive(socket: &std::path::Path) -> bool {
    tmux_wire::server::socket_state(socket)
        .is_ok_and(|s| s == tmux_wire::server::SocketState::Alive)
}

#[allow(clippy::too_many_arguments)]
async fn follow_log(
    socket: &std::path::Path,
    client: &Client,
    pane: tmux_wire::protocol::PaneId,
    name: &str,
    mut follower: keeper::log::Follower,
    mut changes: keeper::log::LogWatch,
    json: bool,
) -> Result<(), Failure> {
    // After the exit, tmux has read all the process wrote; the writer is
    // done once the log stops changing for this long.
    const QUIET: Duration = Duration::from_millis(500);
    let forever = Duration::from_secs(100 * 365 * 24 * 3600);
    let exited = watch::wait_exit(client, pane, forever);
    let mut exited = std::pin::pin!(exited);
    let mut end = None;
    loop {
        loop {
            let lines = follower
                .read_new()
                .map_err(|e| Failure::Error(format!("reading the log: {e}")))?;
            for line in &lines {
                print_line(json, line);
            }
            if follower.caught_up() {
                break;
            }
        }
        let _ = io::stdout().flush();
        let changed = if end.is_some() {
            match tokio::time::timeout(QUIET, changes.changed()).await {
                Ok(changed) => changed,
                Err(_) => break,
            }
        } else {
            tokio::select! {
                changed = changes.changed() => changed,
                status = &mut exited => {
                    end = Some(status);
                    Ok(())
                }
                _ = tokio::signal::ctrl_c() => return Ok(()),
            }
        };
        changed.map_err(|e| Failure::Error(format!("watching the log: {e}")))?;
    }
    if let Some(rest) = follower.rest() {
        print_line(json, &rest);
    }
    match end.expect("the loop ends after the end") {
        Ok(status) => {
            if json {
                print_json(json!({ "end": { "exit": status, "code": status.code() } }));
            } else {
                eprintln!("tmux-wire: {name} {status}");
            }
            Ok(())
        }
        Err(watch::WatchError::PaneGone(_)) => {
            let why = format!("{name} ended: its pane was killed and its status was not kept");
            if json {
                print_json(json!({ "end": { "gone": why } }));
            } else {
                eprintln!("tmux-wire: {why}");
            }
            Ok(())
        }
        Err(
            watch::WatchError::Closed(reason)
            | watch::WatchError::Client(tmux_wire::client::ClientError::Closed(reason)),
        ) => Err(Failure::Error(format!(
            "the tmux server went away ({reason}); the log of {name} ends here"
        ))),
        // Whatever failed, a server that is no longer there is the reason.
        Err(e) if !server_alive(socket) => Err(Failure::Error(format!(
            "the tmux server went away ({e}); the log of {name} ends here"
        ))),
        Err(e) => Err(e.into()),
    }
}

fn describe_stop(how: &keeper::Stopped) -> String {
    match how {
        keeper::Stopped::AlreadyExited { status } => {
            format!("had already ended ({status}); session removed")
        }
        keeper::Stopped::Interrupted { status } => format!("{status} after C-c; session removed"),
        keeper::Stopped::Ended => "ended after C-c (its status was not kept)".into(),
        keeper::Stopped::Killed => {
            "did not exit after C-c within the grace period; session killed".into()
        }
    }
}

fn show_pid(pid: Option<u32>) -> String {
    pid.map_or_else(|| "-".into(), |p| p.to_string())
}

fn show_path(p: &Option<PathBuf>) -> String {
    p.as_ref()
        .map_or_else(|| "-".into(), |p| p.display().to_string())
}

/// "3m ago" for a Unix time.
fn ago(secs: u64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(secs);
    let d = now.saturating_sub(secs);
    match d {
        0..=59 => format!("{d}s ago"),
        60..=3599 => format!("{}m ago", d / 60),
        3600..=86399 => format!("{}h ago", d / 3600),
        _ => format!("{}d ago", d / 86400),
    }
}

/// `decode`: one line (or JSON document) per event of a captured stream;
/// exit 1 if any line was invalid or the stream ended inside a block.
fn decode(json: bool, args: &DecodeArgs) -> Result<ExitCode, Failure> {
    let file = args.file.clone();
    let client = args.client.clone();
    let mut input = Vec::new();
    match file.as_deref() {
        None | Some("-") => io::stdin()
            .read_to_end(&mut input)
            .map_err(|e| Failure::Error(format!("reading standard input: {e}")))?,
        Some(path) => {
            input =
                std::fs::read(path).map_err(|e| Failure::Error(format!("reading {path}: {e}")))?;
            input.len()
        }
    };
    if let Some(prefix) = &client {
        input = select_client(&input, prefix.as_bytes());
    }

    let mut asm = Assembler::new();
    asm.feed(&input);
    let mut events: Vec<Event> = asm.events().collect();
    events.extend(asm.finish());
    let mut out = io::stdout().lock();
    let mut clean = true;
    for event in &events {
        clean &= !matches!(event, Event::Invalid { .. } | Event::Truncated { .. });
        let written = if json {
            serde_json::to_writer(&mut out, event)
                .map_err(io::Error::from)
                .and_then(|()| writeln!(out))
        } else {
            writeln!(out, "{}", describe(event))
        };
        if let Err(e) = written {
            if e.kind() == io::ErrorKind::BrokenPipe {
                break;
            }
            return Err(Failure::Error(format!("writing output: {e}")));
        }
    }
    Ok(if clean {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Keep the lines of one client of a multi-client capture, prefix removed.
fn select_client(input: &[u8], prefix: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    for line in input.split_inclusive(|&b| b == b'\n') {
        if let Some(rest) = line.strip_prefix(prefix) {
            // `<imsg ...>` annotations travel on the socket, not the stream.
            if !rest.starts_with(b"<imsg ") {
                out.extend_from_slice(rest);
            }
        }
    }
    out
}

fn describe(event: &Event) -> String {
    let show = |b: &[u8]| format!("{:?}", String::from_utf8_lossy(b));
    match event {
        Event::Reply(r) => {
            let lines: Vec<String> = r.lines.iter().map(|l| show(l)).collect();
            let status = if r.ok { "ok" } else { "error" };
            format!(
                "reply {} {} (flags {}): [{}]",
                r.number,
                status,
                r.flags,
                lines.join(", ")
            )
        }
        Event::Notification(n) => format!("notification {n:?}"),
        Event::Invalid { line, error } => format!("invalid {}: {error}", show(line)),
        Event::Truncated {
            open_block,
            lines,
            partial_line,
        } => format!(
            "truncated: open block {open_block:?}, {} lines, partial line {}",
            lines.len(),
            show(partial_line)
        ),
    }
}
