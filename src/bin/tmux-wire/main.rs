//! The `tmux-wire` command: keep named processes alive in tmux and wait on
//! them without polling; run tmux commands over a control connection; and
//! decode captured control-mode streams.
//!
//! `args` declares the command line, `docs` the `--json` documents,
//! `output` prints; one file per group of commands: `keeper` (the named
//! processes), `cmd` (`cmd`, `version`), `decode`, `manual` (completions,
//! man page); `signals`, the CLI's own SIGINT/SIGTERM around waits.

mod arg_groups;
mod args;
mod cmd;
mod decode;
mod docs;
mod hints;
mod keeper;
mod manual;
mod output;
mod run;
mod signals;

use args::{Cli, Command, Transport};
use clap::Parser;
use output::print_doc;
use std::process::ExitCode;
use tmux_wire::client::TransportChoice;
use tmux_wire::keeper::{Keeper, KeeperError};
use tmux_wire::server::SocketSpec;

/// How a command failed: what the error document (`docs::ErrorDoc`) and
/// the line on stderr say, and the exit status.
pub struct Failure {
    /// What kind of failure, for programs (`"kind"`).
    pub kind: docs::Kind,
    /// What happened.
    pub message: String,
    /// What to do about it, in the CLI's terms.
    pub hint: Option<String>,
    /// The exit status.
    pub code: u8,
    /// The message is tmux's own, printed as tmux prints it.
    pub tmux: bool,
    /// A wait in a log missed this much of it before it failed (the
    /// command said so on stderr already; the error document says it too).
    pub missed: tmux_wire::keeper::WaitMissed,
}

impl Failure {
    /// A failure of this kind, exit 1.
    pub fn new(kind: docs::Kind, message: impl Into<String>) -> Failure {
        Failure {
            kind,
            message: message.into(),
            hint: None,
            code: 1,
            tmux: false,
            missed: Default::default(),
        }
    }

    /// With this hint.
    pub fn hint(mut self, hint: impl Into<String>) -> Failure {
        self.hint = Some(hint.into());
        self
    }
}

impl From<KeeperError> for Failure {
    fn from(e: KeeperError) -> Self {
        let hint = hints::of(&e);
        let (missed, e) = match e {
            KeeperError::MissedThenFailed { missed, source } => (missed, *source),
            e => (Default::default(), e),
        };
        Failure {
            kind: e.kind().into(),
            message: e.to_string(),
            hint,
            code: e.exit_code(),
            tmux: false,
            missed,
        }
    }
}

impl From<tmux_wire::client::ClientError> for Failure {
    fn from(e: tmux_wire::client::ClientError) -> Self {
        KeeperError::from(e).into()
    }
}

impl From<tmux_wire::watch::WatchError> for Failure {
    fn from(e: tmux_wire::watch::WatchError) -> Self {
        KeeperError::from(e).into()
    }
}

fn main() -> ExitCode {
    // What tmux runs for the keeper (log writer, restarts, time limits):
    // this binary is its own helper, in the library's spelling or in the
    // one hooks set by an older tmux-wire still use.
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
        Command::Decode(args) => decode::decode(json, &args),
        Command::Completions { shell } => manual::completions(shell),
        Command::Man { command, dir } => manual::man(command.as_deref(), dir.as_deref()),
        command => {
            let spec = match (socket, label) {
                (Some(path), _) => SocketSpec::Path(path),
                (None, Some(label)) => SocketSpec::Label(label),
                (None, None) => SocketSpec::WireDefault,
            };
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a tokio runtime");
            runtime.block_on(run(&spec, transport, json, command))
        }
    };
    match result {
        Ok(code) => code,
        Err(failure) => report(json, failure),
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
        print_doc(&docs::ErrorDoc::Error {
            kind: docs::Kind::BadInput,
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

/// `$TMUX_WIRE_LOG_MAX_AGE`: how long the logs of names gone are kept
/// (a duration such as 7d or 12h; `off` keeps them). Default 7 days.
fn log_max_age() -> Result<Option<std::time::Duration>, Failure> {
    match std::env::var("TMUX_WIRE_LOG_MAX_AGE") {
        Err(_) => Ok(Some(tmux_wire::keeper::LOG_MAX_AGE)),
        Ok(v) if v == "off" || v == "never" => Ok(None),
        Ok(v) => args::parse_duration(&v)
            .map(Some)
            .map_err(|e| Failure::new(docs::Kind::BadInput, format!("TMUX_WIRE_LOG_MAX_AGE: {e}"))),
    }
}

/// `$TMUX_WIRE_LOG_MAX_BYTES` (bytes per log file before it rotates,
/// default 8 MiB) and `$TMUX_WIRE_LOG_KEEP` (rotated files kept, default 2).
fn log_limits() -> Result<tmux_wire::keeper::log::Limits, Failure> {
    let mut limits = tmux_wire::keeper::log::Limits::default();
    if let Ok(v) = std::env::var("TMUX_WIRE_LOG_MAX_BYTES") {
        limits.max_bytes = v.parse().ok().filter(|&n| n > 0).ok_or_else(|| {
            Failure::new(
                docs::Kind::BadInput,
                format!("TMUX_WIRE_LOG_MAX_BYTES: {v:?} is not a positive number of bytes"),
            )
        })?;
    }
    if let Ok(v) = std::env::var("TMUX_WIRE_LOG_KEEP") {
        limits.keep = v.parse().map_err(|_| {
            Failure::new(
                docs::Kind::BadInput,
                format!("TMUX_WIRE_LOG_KEEP: {v:?} is not a number"),
            )
        })?;
        limits
            .check()
            .map_err(|e| Failure::new(docs::Kind::BadInput, format!("TMUX_WIRE_LOG_KEEP: {e}")))?;
    }
    Ok(limits)
}

/// The commands that talk to a server.
async fn run(
    spec: &SocketSpec,
    transport: Transport,
    json: bool,
    command: Command,
) -> Result<ExitCode, Failure> {
    let transport = match transport {
        Transport::Auto => TransportChoice::Auto,
        Transport::Direct => TransportChoice::Direct,
        Transport::Process => TransportChoice::Process,
    };
    let k = Keeper::new(spec)?
        .transport(transport)
        .log_max_age(log_max_age()?)
        .log_limits(log_limits()?);
    match command {
        Command::Run(args) => return run::run(&k, json, args).await,
        Command::Poll(args) => return run::poll(&k, json, args).await,
        Command::Exec(args) => return run::exec(&k, json, args).await,
        Command::Wait(args) => return keeper::wait(&k, json, args).await,
        Command::Events { follow_server } => keeper::events(&k, follow_server).await?,
        Command::Shutdown { grace } => keeper::shutdown(&k, json, grace.grace).await?,
        Command::Prune { older_than } => keeper::prune(&k, json, older_than).await?,
        Command::Start(args) => keeper::start(&k, json, args).await?,
        Command::Ls => keeper::ls(&k, json).await?,
        Command::Status { target } => keeper::status(&k, json, &target.name).await?,
        Command::Logs(args) => keeper::logs(&k, json, args).await?,
        Command::Send(args) => keeper::send(&k, json, args).await?,
        Command::Keys { target, keys } => keeper::keys(&k, json, &target.name, &keys).await?,
        Command::Stop { target, grace } => {
            keeper::stop(&k, json, &target.name, grace.grace).await?
        }
        Command::KillAll { grace } => keeper::kill_all(&k, json, grace.grace).await?,
        Command::Clean => keeper::clean(&k, json)?,
        Command::Cmd { argv } => cmd::cmd(&k, json, argv).await?,
        Command::Version => cmd::version(&k, json).await?,
        Command::Decode(_) | Command::Completions { .. } | Command::Man { .. } => {
            unreachable!("handled before the runtime starts")
        }
    }
    Ok(ExitCode::SUCCESS)
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
        print_doc(&docs::ErrorDoc::Error {
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
