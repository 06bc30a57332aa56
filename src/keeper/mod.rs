//! The process keeper: named, long-running processes kept in tmux, one
//! session each (the name is the session name), on tmux-wire's dedicated
//! socket unless told otherwise.
//!
//! A process started here belongs to the tmux server, not to the caller, so
//! it outlives the shell or agent that started it. Everything it prints is
//! kept in a log file next to the socket (`pipe-pane` into a rotating
//! writer, see [`log`]), so output survives tmux's scrollback and the time
//! no client is connected. Waits are the event-driven ones of
//! [`crate::watch`].
//!
//! How a process is started, so that nothing it does is missed:
//! 1. `new-session -d` creates the session around a placeholder (`sleep`),
//!    which fails with "duplicate session" if the name is taken: the check
//!    and the creation are one step, so two racing starts make one process.
//! 2. On the placeholder's pane: `remain-on-exit on` (the status is kept),
//!    the `pane-died` hook of [`crate::watch::exit_reporting`], and the log
//!    pipe.
//! 3. `respawn-pane -k` replaces the placeholder with the real command, in
//!    the caller's directory and with the caller's environment. From its
//!    first byte, its output goes to the log and its exit is reported.

pub mod keys;
pub mod log;
mod ready;

pub use ready::WaitFrom;

use crate::client::{
    Client, ClientError, ConnectOptions, TransportChoice, ATTACH_FLAGS, QUIET_ATTACH_FLAGS,
};
use crate::protocol::{version_at_least, FormatQuery, PaneId, Reply};
use crate::server::{self, ProbeError, ServerError, SocketSpec, SocketState, StartOptions};
use crate::transport::direct::{self, DirectOptions};
use crate::transport::{TransportError, TransportInfo};
use crate::watch::{self, ExitStatus, WatchError};
use regex::Regex;
use serde::Serialize;
use std::ffi::OsString;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use thiserror::Error;

/// Before input is typed, the log is taken as up to date once it stayed
/// unchanged this long, or after [`INPUT_SETTLE_AT_MOST`] (a process that
/// prints all the time).
const INPUT_SETTLE: Duration = Duration::from_millis(20);
const INPUT_SETTLE_AT_MOST: Duration = Duration::from_millis(500);

/// How long [`Keeper::wait_exit_on`] waits at most for the log to settle.
const LOG_SETTLE_AT_MOST: Duration = Duration::from_secs(5);

/// A stop that finds no session reports the outcome of another stop that
/// ended it at most this long ago (see [`Keeper::stop`]).
const RECENT_STOP: Duration = Duration::from_secs(5);

/// After a process exits, its log is complete once it stayed unchanged
/// this long (see [`Keeper::wait_exit_on`]).
pub const LOG_SETTLE: Duration = Duration::from_millis(100);

/// A session whose output stayed quiet this long reads as `idle` in
/// [`Keeper::list`].
pub const IDLE_AFTER: Duration = Duration::from_secs(30);

/// What a new session runs until the real command replaces it; the
/// starter (pid and start time, see [`starter_token`]) follows
/// [`PLACEHOLDER_MARK`], so a session whose starter died before it finished
/// is recognised.
const PLACEHOLDER: [&str; 3] = ["sh", "-c", "exec sleep 2147483647"];
const PLACEHOLDER_MARK: &str = "tmux-wire-starting";

/// The user options the keeper stores on its sessions.
const OPT_COMMAND: &str = "@tmux-wire-command";
const OPT_CWD: &str = "@tmux-wire-cwd";
const OPT_STARTED: &str = "@tmux-wire-started";
const OPT_LOG: &str = "@tmux-wire-log";
/// Where the current run begins in the log ([`log::Position`]).
const OPT_RUN: &str = "@tmux-wire-run";
/// Where the last text tmux-wire typed begins in the log.
const OPT_INPUT: &str = "@tmux-wire-input";
/// That text's lines as its echo is recognised (whitespace removed, lines
/// separated by spaces).
const OPT_ECHO: &str = "@tmux-wire-echo";

/// Errors of the keeper.
#[derive(Debug, Error)]
pub enum KeeperError {
    /// The name cannot be a tmux session name.
    #[error("bad name {name:?}: {reason}")]
    BadName {
        /// The name.
        name: String,
        /// Why not.
        reason: &'static str,
    },
    /// No such process.
    #[error("no process named {name:?}{}", known_names(known))]
    NotFound {
        /// The name asked for.
        name: String,
        /// The names that exist.
        known: Vec<String>,
    },
    /// The server or its socket.
    #[error(transparent)]
    Server(#[from] ServerError),
    /// tmux refused a command.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// A wait failed or timed out.
    #[error(transparent)]
    Watch(#[from] WatchError),
    /// The process exited before it printed the readiness pattern.
    #[error("{name} {status} before it was ready; last output:\n{tail}")]
    ExitedBeforeReady {
        /// The name.
        name: String,
        /// How it ended.
        status: ExitStatus,
        /// Its last lines.
        tail: String,
    },
    /// A signal ended the wait.
    #[error("interrupted by {0}")]
    Interrupted(&'static str),
    /// The process ended while a wait for something else went on.
    #[error("{name} {status}; it has ended")]
    EndedWhileWaiting {
        /// The name.
        name: String,
        /// How it ended.
        status: ExitStatus,
    },
    /// `start --ready`: the process runs, but did not print the pattern in
    /// time. It is left running.
    #[error(
        "{name} did not print what --ready waits for within {timeout:?}; it is still \
         running (end it with `tmux-wire stop {name}`); last output:\n{tail}"
    )]
    NotReady {
        /// The name.
        name: String,
        /// How long the wait was.
        timeout: Duration,
        /// Its last lines.
        tail: String,
    },
    /// The command cannot be run: not found (127) or not executable (126),
    /// as a shell would say. Nothing was started.
    #[error("{program}: {reason}")]
    CannotRun {
        /// The program.
        program: String,
        /// Why.
        reason: &'static str,
        /// The shell's status for it: 127 or 126.
        code: u8,
    },
    /// A key name tmux does not know.
    #[error("unknown key {key:?}{}", close_keys(close))]
    UnknownKey {
        /// The name given.
        key: String,
        /// Known names close to it.
        close: Vec<String>,
    },
    /// The process has exited: there is nothing to type into.
    #[error("{name} is not running ({status}); nothing would read the input")]
    NotRunning {
        /// The name.
        name: String,
        /// How it ended.
        status: ExitStatus,
    },
    /// The server is older than the keeper supports.
    #[error(
        "tmux {version} is too old for tmux-wire's keeper: it needs tmux 3.2 or newer \
         (it attaches with `-f ignore-size,pause-after`, which 3.2 introduced, so that \
         watching never resizes windows and a slow reader is paused, never dropped); \
         `tmux-wire cmd` still works with this server"
    )]
    TooOld {
        /// The server's version.
        version: String,
    },
    /// A file of the keeper (log, directory).
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The command line to start is empty or cannot be passed to tmux.
    #[error("bad command: {0}")]
    BadCommand(String),
}

fn close_keys(close: &[String]) -> String {
    if close.is_empty() {
        "; keys are C-, M-, S- plus a character or a name such as Enter, Escape, Tab, \
         Space, BSpace, Up, Down, Left, Right, Home, End, PageUp, PageDown, F1..F12"
            .into()
    } else {
        format!("; did you mean {}?", close.join(", "))
    }
}

fn known_names(known: &[String]) -> String {
    if known.is_empty() {
        " (no processes are running)".into()
    } else {
        format!(" (running: {})", known.join(", "))
    }
}

impl KeeperError {
    /// Whether this error is a wait running out of time.
    pub fn is_timeout(&self) -> bool {
        matches!(
            self,
            KeeperError::Watch(WatchError::Timeout(_)) | KeeperError::NotReady { .. }
        )
    }

    /// The exit status the CLI gives for this error: 124 for a timeout,
    /// 127 or 126 for a command that cannot be run, 128 + the signal for
    /// an interrupted wait, else 1.
    pub fn exit_code(&self) -> u8 {
        match self {
            KeeperError::CannotRun { code, .. } => *code,
            KeeperError::Interrupted("SIGINT") => 130,
            KeeperError::Interrupted("SIGTERM") => 143,
            e if e.is_timeout() => 124,
            _ => 1,
        }
    }
}

/// Check that `name` can be a session name: tmux reads `.` and `:` in a
/// target as window and pane separators, and an empty name or control
/// characters cannot be typed back; `/` would escape the log directory.
pub fn validate_name(name: &str) -> Result<(), KeeperError> {
    let bad = |reason| {
        Err(KeeperError::BadName {
            name: name.to_string(),
            reason,
        })
    };
    if name.is_empty() {
        return bad("a name cannot be empty");
    }
    if name.len() > 100 {
        return bad("a name may be at most 100 bytes");
    }
    if name.contains(['.', ':']) {
        return bad("tmux reads '.' and ':' in a target as window and pane separators");
    }
    if name.contains('/') {
        return bad("'/' cannot be part of a log file name");
    }
    if name.chars().any(char::is_control) {
        return bad("control characters are not allowed");
    }
    if name.starts_with('-') {
        return bad("a name cannot start with '-'");
    }
    if name.contains(['#', '%', '$', '\\']) {
        return bad("tmux rewrites '#', '%', '$' and '\\' in session names and commands");
    }
    Ok(())
}

/// How to start a process.
#[derive(Debug, Clone, Default)]
pub struct StartSpec {
    /// Working directory (default: the caller's).
    pub cwd: Option<PathBuf>,
    /// Variables set on top of the caller's environment.
    pub env: Vec<(String, String)>,
    /// Wait until the output matches this.
    pub ready: Option<Regex>,
    /// How long to wait for `ready` (default 30 s).
    pub timeout: Option<Duration>,
}

impl StartSpec {
    /// How long to wait for `ready`.
    pub fn ready_timeout(&self) -> Duration {
        self.timeout.unwrap_or(Duration::from_secs(30))
    }
}

/// What [`Keeper::start`] did.
#[derive(Debug, Clone, Serialize)]
pub struct Started {
    /// Whether the name was already running (then nothing was changed).
    pub already_running: bool,
    /// The process as it is now.
    pub process: ProcessInfo,
    /// The text the readiness pattern matched, if one was given.
    pub ready: Option<String>,
    /// When the name was already running another command than the one
    /// asked for: the one asked for (the running one is `process.command`).
    /// Nothing was changed.
    pub requested_command: Option<String>,
}

/// The state of a kept process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum State {
    /// Running and printed something within [`IDLE_AFTER`].
    Running,
    /// Running, quiet for at least [`IDLE_AFTER`].
    Idle,
    /// Exited with a code.
    Exited {
        /// The code.
        code: i32,
    },
    /// Killed by a signal.
    Killed {
        /// The signal number.
        signal: i32,
    },
    /// Its pty closed and tmux has not reported a status yet.
    Exiting,
    /// A `start` is setting it up (its starter is alive).
    Starting,
    /// A `start` began it and died before it finished: nothing runs but a
    /// placeholder. The next `start` of the name replaces it.
    Abandoned,
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            State::Running => write!(f, "running"),
            State::Idle => write!(f, "idle"),
            State::Exited { code } => write!(f, "exited {code}"),
            State::Killed { signal } => write!(f, "killed by signal {signal}"),
            State::Exiting => write!(f, "exiting"),
            State::Starting => write!(f, "starting"),
            State::Abandoned => write!(f, "abandoned (its start was killed)"),
        }
    }
}

/// One kept process (or any session on the socket).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProcessInfo {
    /// The name (the session name).
    pub name: String,
    /// Its state.
    #[serde(flatten)]
    pub state: State,
    /// The pane it runs in.
    pub pane: String,
    /// Its process id (the pane's).
    pub pid: Option<u32>,
    /// The command line it was started with.
    pub command: String,
    /// The directory it was started in (or the pane's current one for
    /// sessions the keeper did not start).
    pub cwd: String,
    /// When it was started, seconds since the Unix epoch.
    pub started: Option<u64>,
    /// Its log file, for processes the keeper started.
    pub log: Option<PathBuf>,
}

/// How [`Keeper::stop`] ended a process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "how")]
pub enum Stopped {
    /// It had already exited.
    AlreadyExited {
        /// How.
        status: ExitStatus,
    },
    /// It exited after the interrupt (C-c).
    Interrupted {
        /// How.
        status: ExitStatus,
    },
    /// It did not exit within the grace period; the session was killed
    /// (and a process that outlived that got SIGTERM, then SIGKILL).
    Killed,
    /// It ended after the interrupt, and took its pane or session with it
    /// before tmux could keep its status.
    Ended,
}

/// Where and how the keeper talks to tmux.
#[derive(Debug, Clone)]
pub struct Keeper {
    socket: PathBuf,
    transport: TransportChoice,
    tmux: Option<PathBuf>,
    log_sink: Option<PathBuf>,
    log_limits: log::Limits,
}

/// The fields of a `list-panes` answer, in order (read through
/// [`FormatQuery`], which knows every version's output dialect).
const FIELDS: &[&str] = &[
    "session_name",
    "pane_id",
    "pane_pid",
    "pane_dead",
    "pane_dead_status",
    "pane_dead_signal",
    "window_activity",
    "session_created",
    "pane_current_path",
    "@tmux-wire-started",
    "@tmux-wire-log",
    "@tmux-wire-cwd",
    "@tmux-wire-command",
    "pid",
    "pane_start_command",
];

impl Keeper {
    /// A keeper on `socket` (resolved now: the default is tmux-wire's own
    /// private socket).
    pub fn new(socket: &SocketSpec) -> Result<Keeper, KeeperError> {
        Ok(Keeper {
            socket: socket.resolve()?,
            transport: TransportChoice::Auto,
            tmux: None,
            log_sink: None,
            log_limits: log::Limits::default(),
        })
    }

    /// Use this transport.
    pub fn transport(mut self, transport: TransportChoice) -> Self {
        self.transport = transport;
        self
    }

    /// The program that writes logs (run as `PROGRAM log-sink ...` by tmux):
    /// the `tmux-wire` binary. Default: this executable if it is
    /// `tmux-wire`, else `tmux-wire` on `PATH`.
    pub fn log_sink(mut self, program: impl Into<PathBuf>) -> Self {
        self.log_sink = Some(program.into());
        self
    }

    /// Size limits of the logs.
    pub fn log_limits(mut self, limits: log::Limits) -> Self {
        self.log_limits = limits;
        self
    }

    /// The socket in use.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Where the log of `name` is kept: a directory beside the socket, in
    /// the socket's directory.
    pub fn log_path(&self, name: &str) -> PathBuf {
        let file = self
            .socket
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_else(|| "tmux".into());
        let dir = self
            .socket
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        dir.join(format!("{file}.logs")).join(format!("{name}.log"))
    }

    /// Connection options for this keeper's server with `command` first.
    pub fn options(&self, command: Vec<String>) -> ConnectOptions {
        ConnectOptions {
            socket: SocketSpec::Path(self.socket.clone()),
            transport: self.transport,
            command,
            tmux: self.tmux.clone(),
            ..Default::default()
        }
    }

    /// The server must be running (for everything but `start`).
    fn require_server(&self) -> Result<(), KeeperError> {
        match server::socket_state(&self.socket)? {
            SocketState::Alive => Ok(()),
            state => Err(self.unavailable(state)),
        }
    }

    /// Why no server answers on the socket, in `state`.
    fn unavailable(&self, state: SocketState) -> KeeperError {
        server::state_error(&self.socket, state)
            .unwrap_or(ServerError::NotRunning {
                path: self.socket.clone(),
            })
            .into()
    }

    /// Run one command that does not attach.
    async fn once(&self, argv: &[&str]) -> Result<Reply, KeeperError> {
        Ok(self.once_with_info(argv).await?.0)
    }

    /// [`Keeper::once`], and what carried it (with the server's version).
    async fn once_with_info(&self, argv: &[&str]) -> Result<(Reply, TransportInfo), KeeperError> {
        let command = argv.iter().map(|s| s.to_string()).collect();
        Ok(Client::run_once(&self.options(command)).await?)
    }

    /// Refuse a server older than the keeper supports (see
    /// [`KeeperError::TooOld`]) before anything is changed on it. The
    /// version is probed once per server process and remembered, so the
    /// connection that follows does not probe again.
    async fn require_version(&self) -> Result<(), KeeperError> {
        let version = match direct::server_version(&self.socket, &DirectOptions::default()).await {
            Ok(version) => version,
            Err(TransportError::Probe(ProbeError::TooOld { version })) => version,
            // Another protocol version: the connection decides (auto falls
            // back to `tmux -C`, which speaks whatever its tmux speaks).
            Err(TransportError::Probe(ProbeError::VersionMismatch { .. })) => return Ok(()),
            Err(e) => return Err(ClientError::from(e).into()),
        };
        if version_at_least(&version, 3, 2) {
            Ok(())
        } else {
            Err(KeeperError::TooOld { version })
        }
    }

    /// The command that attaches to `name`'s session with `flags`.
    fn attach_command(&self, name: &str, flags: &str) -> Vec<String> {
        let target = session_target(name);
        ["attach-session", "-f", flags, "-t", target.as_str()]
            .map(String::from)
            .to_vec()
    }

    /// A control connection attached to `name`'s session.
    pub async fn attach(&self, name: &str) -> Result<Client, KeeperError> {
        self.attach_with(name, ATTACH_FLAGS).await
    }

    /// [`Keeper::attach`] with these client flags.
    async fn attach_with(&self, name: &str, flags: &str) -> Result<Client, KeeperError> {
        validate_name(name)?;
        self.require_server()?;
        self.require_version().await?;
        let command = self.attach_command(name, flags);
        match Client::connect(&self.options(command)).await {
            Ok(client) => Ok(client),
            Err(e) if tmux_says(&e, &["can't find", "no sessions"]) => {
                Err(self.not_found(name).await)
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn not_found(&self, name: &str) -> KeeperError {
        let known = self
            .list()
            .await
            .map(|l| l.into_iter().map(|p| p.name).collect())
            .unwrap_or_default();
        KeeperError::NotFound {
            name: name.to_string(),
            known,
        }
    }

    /// Every session on the socket, as processes (the first pane of each).
    /// No server means an empty list.
    pub async fn list(&self) -> Result<Vec<ProcessInfo>, KeeperError> {
        // A process that exited but that tmux has not reaped yet (it can
        // lose the SIGCHLD; see `watch::wait_exit`) reads `exiting`: remind
        // the server and look again, a few times at most.
        for _ in 0..20 {
            let (list, server) = self.list_once().await?;
            if !list.iter().any(|p| p.state == State::Exiting) || server.is_none() {
                return Ok(list);
            }
            watch::nudge(server);
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        Ok(self.list_once().await?.0)
    }

    async fn list_once(&self) -> Result<(Vec<ProcessInfo>, Option<nix::unistd::Pid>), KeeperError> {
        match server::socket_state(&self.socket)? {
            // No server: nothing runs; unless the socket's very directory
            // is missing, which says the path is wrong.
            SocketState::Missing
                if self
                    .socket
                    .parent()
                    .is_none_or(|d| d.as_os_str().is_empty() || d.exists()) =>
            {
                return Ok((Vec::new(), None))
            }
            SocketState::Alive => {}
            state => return Err(self.unavailable(state)),
        }
        let query = FormatQuery::new(FIELDS);
        let (reply, info) = match self
            .once_with_info(&["list-panes", "-a", "-F", query.format()])
            .await
        {
            Ok(answer) => answer,
            // A server with no session has nothing to list.
            Err(KeeperError::Client(e)) if tmux_says(&e, &["no sessions", "no current target"]) => {
                return Ok((Vec::new(), None))
            }
            Err(e) => return Err(e),
        };
        let mut server = None;
        let now = unix_now();
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        for line in reply.content() {
            // A line whose fields cannot be told apart (a value holding the
            // separator itself) is left out rather than misread.
            let Ok(fields) = query.parse_line(&line) else {
                ::log::warn!(
                    "list-panes answer left out: {:?}",
                    String::from_utf8_lossy(&line)
                );
                continue;
            };
            let (mut info, server_pid) = pane_info(&fields, now);
            // The pane's own start command names a start still under way.
            if let Some(starter) = placeholder_starter(&fields[14]) {
                if matches!(info.state, State::Running | State::Idle) {
                    info.state = if starter_alive(starter) {
                        State::Starting
                    } else {
                        State::Abandoned
                    };
                }
            }
            server = server.or(server_pid.map(nix::unistd::Pid::from_raw));
            if seen.insert(info.name.clone()) {
                out.push(info);
            }
        }
        if !watch::reports_dead_signal(info.server_version.as_deref()) {
            // Before 3.3 a signal's status is only on the pane's screen.
            for process in out.iter_mut().filter(|p| p.state == State::Exiting) {
                let screen = self
                    .once(&["capture-pane", "-p", "-t", &process.pane])
                    .await?;
                if let Some(ExitStatus::Signaled(signal)) =
                    watch::dead_signal_on_screen(&screen.content())
                {
                    process.state = State::Killed { signal };
                }
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok((out, server))
    }

    /// One process.
    pub async fn status(&self, name: &str) -> Result<ProcessInfo, KeeperError> {
        validate_name(name)?;
        let all = self.list().await?;
        let known: Vec<String> = all.iter().map(|p| p.name.clone()).collect();
        all.into_iter()
            .find(|p| p.name == name)
            .ok_or(KeeperError::NotFound {
                name: name.to_string(),
                known,
            })
    }

    /// Start `argv` as `name` unless it is running; see the module docs.
    /// A name whose process has exited is started again in its session.
    pub async fn start(
        &self,
        name: &str,
        argv: &[OsString],
        spec: &StartSpec,
    ) -> Result<Started, KeeperError> {
        validate_name(name)?;
        let argv: Vec<String> = argv
            .iter()
            .map(|a| {
                a.to_str()
                    .map(str::to_string)
                    .ok_or_else(|| KeeperError::BadCommand(format!("{a:?} is not UTF-8")))
            })
            .collect::<Result<_, _>>()?;
        if argv.is_empty() {
            return Err(KeeperError::BadCommand("no command given".into()));
        }

        // Refuse what cannot be passed or run before anything is created.
        let env = environment(&spec.env)?;
        let cwd = match &spec.cwd {
            Some(dir) => std::fs::canonicalize(dir).map_err(|source| KeeperError::Io {
                what: format!("working directory {}", dir.display()),
                source,
            })?,
            None => std::env::current_dir().map_err(|source| KeeperError::Io {
                what: "current directory".into(),
                source,
            })?,
        };
        if !cwd.is_dir() {
            return Err(KeeperError::BadCommand(format!(
                "--cwd {}: not a directory",
                cwd.display()
            )));
        }
        check_runnable(&argv, &cwd, &env)?;
        let cwd = cwd.to_string_lossy().into_owned();
        // A socket directory that does not exist yet is made, as private as
        // the default one.
        if let Some(dir) = self.socket.parent().filter(|d| !d.as_os_str().is_empty()) {
            if !dir.exists() {
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(dir)
                    .map_err(|source| ServerError::Directory {
                        path: dir.to_path_buf(),
                        source,
                    })?;
                server::ensure_private_dir(dir)?;
            }
        }
        let started_server = server::start_server(
            &self.socket,
            &StartOptions {
                tmux: self.tmux.clone(),
                config: None,
            },
        )?;
        if let Err(e) = self.require_version().await {
            // Leave no empty server behind on a refusal.
            if started_server {
                let _ = self.once(&["kill-server"]).await;
            }
            return Err(e);
        }
        let mut replaced = false;
        let pane: PaneId = loop {
            let created = self
                .once(&[
                    "new-session",
                    "-d",
                    "-s",
                    name,
                    "-c",
                    &format_escape(&cwd),
                    "-P",
                    "-F",
                    PANE_ID.format(),
                    PLACEHOLDER[0],
                    PLACEHOLDER[1],
                    PLACEHOLDER[2],
                    PLACEHOLDER_MARK,
                    &starter_token(),
                ])
                .await;
            match created {
                Ok(reply) => break parse_pane_id(&reply)?,
                Err(KeeperError::Client(e))
                    if tmux_says(&e, &["duplicate session"]) && !replaced =>
                {
                    let current = self.settled_status(name).await?;
                    if matches!(
                        current.state,
                        State::Running | State::Idle | State::Exiting | State::Starting
                    ) {
                        // Another start may still be setting it up: with a
                        // readiness pattern, wait for it like the first one.
                        let ready = match &spec.ready {
                            Some(pattern) => {
                                let timeout = spec.ready_timeout();
                                Some(
                                    self.wait_ready(name, pattern, WaitFrom::RunStart, timeout)
                                        .await?,
                                )
                            }
                            None => None,
                        };
                        let process = if ready.is_some() {
                            self.status(name).await?
                        } else {
                            current
                        };
                        let asked = shell_words(&argv);
                        return Ok(Started {
                            already_running: true,
                            requested_command: (process.command != asked).then_some(asked),
                            process,
                            ready,
                        });
                    }
                    // It exited, or its starter died before it finished:
                    // start it again in a new session of the same name (its
                    // log goes on).
                    let target = session_target(name);
                    self.once(&["kill-session", "-t", &target]).await?;
                    replaced = true;
                }
                Err(e) => return Err(e),
            }
        };
        match self.set_up(name, pane, &argv, &cwd, spec).await {
            Ok(started) => Ok(started),
            // It runs; it did not say it is ready in time. Keep it, say so.
            Err(e) if e.is_timeout() => Err(KeeperError::NotReady {
                name: name.to_string(),
                timeout: spec.ready_timeout(),
                tail: self
                    .logs(name, 10, false)
                    .map(|(lines, _)| lines)
                    .unwrap_or_default()
                    .join("\n"),
            }),
            Err(e) => {
                // Leave no placeholder behind to pass for a live process.
                let target = session_target(name);
                let _ = self.once(&["kill-session", "-t", &target]).await;
                Err(e)
            }
        }
    }

    /// Everything after the session exists: options, hook, log pipe, the
    /// real command, readiness.
    async fn set_up(
        &self,
        name: &str,
        pane: PaneId,
        argv: &[String],
        cwd: &str,
        spec: &StartSpec,
    ) -> Result<Started, KeeperError> {
        let program = self.log_sink_program()?;
        let target = session_target(name);
        let client = self.attach(name).await?;
        let log_path = self.log_path(name);
        // Beside the socket, so as private as the socket's directory must
        // be: nobody else may plant a file or a link there.
        server::ensure_private_dir(log_path.parent().unwrap_or(Path::new(".")))?;
        let pane_s = pane.to_string();
        let now = unix_now();
        let started = now.to_string();
        let display = shell_words(argv);
        let sink = format!(
            "exec {} log-sink --max-bytes {} --keep {} {}",
            sh_quote(&program.to_string_lossy()),
            self.log_limits.max_bytes,
            self.log_limits.keep,
            sh_quote(&log_path.to_string_lossy())
        );
        // Where this run begins, marked in the log (restarts of a name go
        // on in the same log); the sink appends from there.
        let run = log::mark_run(&log_path, &display, now)
            .map_err(|source| KeeperError::Io {
                what: format!("writing {}", log_path.display()),
                source,
            })?
            .to_string();
        for command in watch::exit_reporting(pane) {
            client.command(command).await?;
        }
        // tmux expands formats and strftime escapes in the pipe command.
        let sink = format_escape(&sink).replace('%', "%%");
        client
            .command(["pipe-pane", "-O", "-t", pane_s.as_str(), sink.as_str()])
            .await?;
        let cwd_arg = format_escape(cwd);
        let mut respawn: Vec<String> = [
            "respawn-pane",
            "-k",
            "-t",
            pane_s.as_str(),
            "-c",
            cwd_arg.as_str(),
        ]
        .map(String::from)
        .to_vec();
        for (key, value) in environment(&spec.env)? {
            respawn.push("-e".into());
            respawn.push(format!("{key}={value}"));
        }
        respawn.extend(argv.iter().cloned());
        // The options first: a racing start that sees them waits in the log
        // like this one, and compares commands with the same display; until
        // the real command replaces the placeholder, the pane's start
        // command still names this start (see `settled_status`).
        let log_s = log_path.to_string_lossy().into_owned();
        let session = format!("{target}:");
        let settings = [
            (OPT_COMMAND, display.as_str()),
            (OPT_CWD, cwd),
            (OPT_STARTED, started.as_str()),
            (OPT_LOG, log_s.as_str()),
            (OPT_RUN, run.as_str()),
            (OPT_INPUT, run.as_str()),
            (OPT_ECHO, ""),
        ]
        .map(|(option, value)| {
            // A trailing ':' makes `=NAME` a session target for set-option.
            ["set-option", "-t", session.as_str(), option, value].map(String::from)
        });
        for reply in client.enqueue_together(settings).await? {
            reply.await?;
        }
        client.command(respawn).await?;
        let ready = match &spec.ready {
            None => None,
            Some(pattern) => {
                let timeout = spec.ready_timeout();
                Some(
                    self.wait_ready_on(&client, name, pane, pattern, WaitFrom::RunStart, timeout)
                        .await?,
                )
            }
        };
        drop(client);
        Ok(Started {
            already_running: false,
            process: self.status(name).await?,
            ready,
            requested_command: None,
        })
    }

    /// The status of `name` once a start that is still setting it up (the
    /// placeholder runs, the log option is not set yet) has finished; a
    /// start takes milliseconds, so this looks a few times, briefly.
    async fn settled_status(&self, name: &str) -> Result<ProcessInfo, KeeperError> {
        for _ in 0..250 {
            let current = self.status(name).await?;
            if current.state != State::Starting {
                return Ok(current);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.status(name).await
    }

    /// Wait for `pattern` in a line of `name`'s output, from `from`, unless
    /// the process exits first (then [`KeeperError::ExitedBeforeReady`]
    /// with its last lines).
    pub async fn wait_ready(
        &self,
        name: &str,
        pattern: &Regex,
        from: WaitFrom,
        timeout: Duration,
    ) -> Result<String, KeeperError> {
        let (client, pane) = self.pane_without_output(name).await?;
        self.wait_ready_on(&client, name, pane, pattern, from, timeout)
            .await
    }

    /// [`Keeper::wait_ready`] on a connection the caller already has to
    /// `name`'s session (from [`Keeper::pane`]). A process the keeper
    /// started is matched in its log; a session started elsewhere has no
    /// log and no record of input, so there what the pane shows counts
    /// (for [`WaitFrom::Now`], only what it prints from now on).
    pub async fn wait_ready_on(
        &self,
        client: &Client,
        name: &str,
        pane: PaneId,
        pattern: &Regex,
        from: WaitFrom,
        timeout: Duration,
    ) -> Result<String, KeeperError> {
        let kept = self.kept(client, name).await?;
        let Some(kept) = kept else {
            let since = match from {
                WaitFrom::Now => watch::Since::Now,
                _ => watch::Since::Screen,
            };
            // The pane's output is needed here: a connection that has it.
            let watching = client
                .connect_again(self.attach_command(name, ATTACH_FLAGS))
                .await?;
            let armed = watch::arm_for(&watching, pane, pattern, since).await?;
            let wait = self.await_pane(&watching, name, pane, armed, timeout);
            return self.leaving_as_found(client, name, pane, wait).await;
        };
        let (start, echo) = match from {
            WaitFrom::RunStart => (kept.run, String::new()),
            WaitFrom::LastInput => (kept.input, kept.echo),
            WaitFrom::Now => (self.log_end(name)?, String::new()),
            WaitFrom::At(position) => (position, String::new()),
        };
        let mut matcher = watch::LineMatch::new(pattern.clone());
        matcher.expect_echo(echo.replace(' ', "\n").as_bytes());
        self.await_log(client, name, pane, start, matcher, timeout)
            .await
    }

    /// Run `wait` on `name`'s pane (a wait that may watch for the exit and
    /// so turns `remain-on-exit` on), and, for a session the keeper did not
    /// start, leave the pane as it was found afterwards
    /// ([`watch::ExitReporting`]), whatever the outcome.
    pub async fn leaving_as_found<T>(
        &self,
        client: &Client,
        name: &str,
        pane: PaneId,
        wait: impl std::future::Future<Output = Result<T, KeeperError>>,
    ) -> Result<T, KeeperError> {
        if self.kept(client, name).await?.is_some() {
            return wait.await;
        }
        // Interrupted (Ctrl-C, or a harness's SIGTERM): put it back first.
        // The handlers are in place before anything is changed.
        let signals = Signals::new();
        let reporting = watch::report_exits(client, pane).await?;
        let outcome = tokio::select! {
            outcome = wait => outcome,
            why = signals.recv() => Err(KeeperError::Interrupted(why)),
        };
        match reporting.restore(client).await {
            Err(e) if outcome.is_ok() => Err(e.into()),
            _ => outcome,
        }
    }

    /// Wait until `name`'s process exits; see [`Keeper::leaving_as_found`].
    /// For a process the keeper started, it returns once the log holds all
    /// the process wrote (the log stayed unchanged for [`LOG_SETTLE`] after
    /// the exit), so `logs` right after it misses nothing.
    pub async fn wait_exit_on(
        &self,
        client: &Client,
        name: &str,
        pane: PaneId,
        timeout: Duration,
    ) -> Result<ExitStatus, KeeperError> {
        let status = self
            .leaving_as_found(client, name, pane, async {
                Ok(watch::wait_exit(client, pane, timeout).await?)
            })
            .await?;
        let path = self.log_path(name);
        if std::fs::symlink_metadata(&path).is_ok() {
            // Bounded: a writer that keeps writing after the exit (it is
            // still catching up) gets at most this long.
            let deadline = tokio::time::Instant::now() + LOG_SETTLE_AT_MOST;
            log::settle(&path, LOG_SETTLE, deadline).await;
        }
        Ok(status)
    }

    /// Wait until `name`'s process printed nothing for `quiet`; an exit
    /// first is [`KeeperError::EndedWhileWaiting`].
    pub async fn wait_idle_on(
        &self,
        client: &Client,
        name: &str,
        pane: PaneId,
        quiet: Duration,
        timeout: Duration,
    ) -> Result<watch::Idle, KeeperError> {
        if self.kept(client, name).await?.is_some() {
            let changes = log::LogWatch::new(&self.log_path(name));
            return self
                .await_idle_in_log(client, name, pane, changes, quiet, timeout)
                .await;
        }
        // Not started here: the pane's output says when it is quiet.
        let watching = client
            .connect_again(self.attach_command(name, ATTACH_FLAGS))
            .await?;
        let armed = watch::arm_idle(&watching, pane).await?;
        let wait = self.idle_or_exit(client, name, pane, armed, quiet, timeout);
        self.leaving_as_found(client, name, pane, wait).await
    }

    /// The rest of a pane idle wait (a session without a log): idle, or how
    /// the process ended first.
    async fn idle_or_exit(
        &self,
        client: &Client,
        name: &str,
        pane: PaneId,
        armed: watch::ArmedIdle<'_>,
        quiet: Duration,
        timeout: Duration,
    ) -> Result<watch::Idle, KeeperError> {
        let idle = async { Ok(armed.wait(quiet, false, timeout).await?) };
        self.unless_ended(client, name, pane, timeout, idle).await
    }

    /// `wait`, unless `name`'s process exits first
    /// ([`KeeperError::EndedWhileWaiting`]).
    async fn unless_ended<T>(
        &self,
        client: &Client,
        name: &str,
        pane: PaneId,
        timeout: Duration,
        wait: impl std::future::Future<Output = Result<T, KeeperError>>,
    ) -> Result<T, KeeperError> {
        tokio::select! {
            outcome = wait => outcome,
            Ok(status) = watch::wait_exit(client, pane, timeout) => {
                Err(KeeperError::EndedWhileWaiting { name: name.to_string(), status })
            }
        }
    }

    /// Idle for a process the keeper started: its log went `quiet` long
    /// unchanged (on a connection that needs no pane output), unless it
    /// exits first.
    async fn await_idle_in_log(
        &self,
        client: &Client,
        name: &str,
        pane: PaneId,
        mut changes: log::LogWatch,
        quiet: Duration,
        timeout: Duration,
    ) -> Result<watch::Idle, KeeperError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let idle = async {
            if !changes.quiet_for(quiet, deadline).await {
                return Err(WatchError::Timeout(timeout).into());
            }
            Ok(watch::Idle {
                current_command: watch::current_command(client, pane).await?,
            })
        };
        self.unless_ended(client, name, pane, timeout, idle).await
    }

    /// The rest of a log wait: the match, or how the process ended first.
    async fn await_log(
        &self,
        client: &Client,
        name: &str,
        pane: PaneId,
        start: log::Position,
        matcher: watch::LineMatch,
        timeout: Duration,
    ) -> Result<String, KeeperError> {
        let exited = watch::wait_exit(client, pane, timeout);
        match ready::wait_in_log(&self.log_path(name), start, matcher, exited, timeout).await? {
            ready::LogWait::Matched(found) => Ok(found),
            ready::LogWait::Exited(status) => Err(self.exited_before_ready(name, status)),
        }
    }

    /// The rest of a pane wait (a session without a log): the match, or
    /// how the process ended first.
    async fn await_pane(
        &self,
        client: &Client,
        name: &str,
        pane: PaneId,
        armed: watch::ArmedReady<'_>,
        timeout: Duration,
    ) -> Result<String, KeeperError> {
        tokio::select! {
            found = armed.wait(timeout) => Ok(found?.matched),
            exited = watch::wait_exit(client, pane, timeout) => match exited {
                Ok(status) => Err(self.exited_before_ready(name, status)),
                Err(e) => Err(e.into()),
            },
        }
    }

    fn exited_before_ready(&self, name: &str, status: ExitStatus) -> KeeperError {
        KeeperError::ExitedBeforeReady {
            name: name.to_string(),
            status,
            tail: self
                .logs(name, 10, false)
                .map(|(lines, _)| lines)
                .unwrap_or_default()
                .join("\n"),
        }
    }

    /// Where `name`'s log ends now.
    fn log_end(&self, name: &str) -> Result<log::Position, KeeperError> {
        let path = self.log_path(name);
        log::end_position(&path).map_err(|source| KeeperError::Io {
            what: format!("reading {}", path.display()),
            source,
        })
    }

    /// What the keeper recorded on `name`'s session, if it started it.
    async fn kept(&self, client: &Client, name: &str) -> Result<Option<Kept>, KeeperError> {
        static KEPT: LazyLock<FormatQuery> =
            LazyLock::new(|| FormatQuery::new(&[OPT_LOG, OPT_RUN, OPT_INPUT, OPT_ECHO]));
        let target = format!("{}:", session_target(name));
        let reply = client
            .command(["display-message", "-p", "-t", &target, KEPT.format()])
            .await?;
        let fields = KEPT.parse_one(&reply.content()).map_err(WatchError::from)?;
        let (Ok(run), false) = (fields[1].parse::<log::Position>(), fields[0].is_empty()) else {
            return Ok(None);
        };
        Ok(Some(Kept {
            run,
            input: fields[2].parse().unwrap_or(run),
            echo: fields[3].clone(),
        }))
    }

    /// Record the text about to be typed into a kept process (where it
    /// begins in the log, and how its echo reads), so that a later wait
    /// from [`WaitFrom::LastInput`] starts there. Returns that position.
    async fn record_input(
        &self,
        client: &Client,
        name: &str,
        text: &[u8],
    ) -> Result<Option<log::Position>, KeeperError> {
        if self.kept(client, name).await?.is_none() {
            return Ok(None);
        }
        // What the process printed before this input may still be on its
        // way to the log (the writer is a process of its own): let it land
        // first, briefly, so that it is not taken for output after it.
        let deadline = tokio::time::Instant::now() + INPUT_SETTLE_AT_MOST;
        log::settle(&self.log_path(name), INPUT_SETTLE, deadline).await;
        let at = self.log_end(name)?;
        let echo = echo_record(text);
        let session = format!("{}:", session_target(name));
        let position = at.to_string();
        let pending = client
            .enqueue_together([
                [
                    "set-option",
                    "-t",
                    session.as_str(),
                    OPT_INPUT,
                    position.as_str(),
                ],
                [
                    "set-option",
                    "-t",
                    session.as_str(),
                    OPT_ECHO,
                    echo.as_str(),
                ],
            ])
            .await?;
        for reply in pending {
            reply.await?;
        }
        Ok(Some(at))
    }

    fn log_sink_program(&self) -> Result<PathBuf, KeeperError> {
        if let Some(p) = &self.log_sink {
            return Ok(p.clone());
        }
        if let Ok(exe) = std::env::current_exe() {
            if exe.file_name().is_some_and(|f| f == "tmux-wire") {
                return Ok(exe);
            }
        }
        Ok(PathBuf::from("tmux-wire"))
    }

    /// The pane of `name`, with a client attached to its session.
    pub async fn pane(&self, name: &str) -> Result<(Client, PaneId), KeeperError> {
        self.pane_with(name, ATTACH_FLAGS).await
    }

    /// [`Keeper::pane`] on a connection tmux sends no `%output` to
    /// ([`QUIET_ATTACH_FLAGS`]): for watching the log, hooks and
    /// notifications without paying for every byte the process prints.
    pub async fn pane_without_output(&self, name: &str) -> Result<(Client, PaneId), KeeperError> {
        self.pane_with(name, QUIET_ATTACH_FLAGS).await
    }

    async fn pane_with(&self, name: &str, flags: &str) -> Result<(Client, PaneId), KeeperError> {
        let client = self.attach_with(name, flags).await?;
        let target = session_target(name);
        let reply = client
            .command([
                "list-panes",
                "-s",
                "-t",
                target.as_str(),
                "-F",
                PANE_ID.format(),
            ])
            .await?;
        let pane = parse_pane_id(&reply)?;
        Ok((client, pane))
    }

    /// The last `n` lines of `name`'s log, as a person reads them
    /// ([`crate::text::Lines`]) or with `raw` as the process wrote them, and
    /// the end of the log as read (where a [`log::Follower`] goes on).
    pub fn logs(
        &self,
        name: &str,
        n: usize,
        raw: bool,
    ) -> Result<(Vec<String>, log::Position), KeeperError> {
        validate_name(name)?;
        let path = self.log_path(name);
        if let Some(dir) = path.parent().filter(|d| d.exists()) {
            server::check_private_dir(dir)?;
        }
        log::tail(&path, n, raw, false).map_err(|source| KeeperError::Io {
            what: format!("reading {}", path.display()),
            source,
        })
    }

    /// The last `n` lines of `name`: from its log, or, for a session the
    /// keeper did not start (no log), from what tmux still holds (the
    /// pane's history and screen, `capture-pane -J`, with `-e` for `raw`).
    /// The position is where a [`log::Follower`] goes on; `None` without a
    /// log. With `whole_lines`, a last line without its newline yet is left
    /// to the follower (see [`log::tail`]).
    pub async fn logs_or_history(
        &self,
        name: &str,
        n: usize,
        raw: bool,
        whole_lines: bool,
    ) -> Result<(Vec<String>, Option<log::Position>), KeeperError> {
        validate_name(name)?;
        let path = self.log_path(name);
        if std::fs::symlink_metadata(&path).is_ok() {
            if let Some(dir) = path.parent() {
                server::check_private_dir(dir)?;
            }
            let (lines, end) =
                log::tail(&path, n, raw, whole_lines).map_err(|source| KeeperError::Io {
                    what: format!("reading {}", path.display()),
                    source,
                })?;
            return Ok((lines, Some(end)));
        }
        let (client, pane) = self.pane(name).await?;
        let target = pane.to_string();
        let mut capture = vec!["capture-pane", "-p", "-J", "-S", "-", "-t", target.as_str()];
        if raw {
            capture.push("-e");
        }
        let reply = client.command(capture).await?;
        let mut lines = watch::screen_rows(&reply);
        let skip = lines.len().saturating_sub(n);
        Ok((lines.split_off(skip), None))
    }

    /// Type `text` into `name`'s pane exactly: any bytes, any length
    /// (printable text goes as `send-keys -l`, control bytes and invalid
    /// UTF-8 as `send-keys -H`, in order), then Enter if `enter`.
    /// A process that has exited is an error ([`KeeperError::NotRunning`]):
    /// nothing reads what would be typed. For a process the keeper started,
    /// where the text begins in the log is recorded first, so that `wait`
    /// from [`WaitFrom::LastInput`] (the default) starts there.
    pub async fn send_text(&self, name: &str, text: &[u8], enter: bool) -> Result<(), KeeperError> {
        let (client, pane) = self.pane_without_output(name).await?;
        self.require_running(&client, name, pane).await?;
        self.record_input(&client, name, text).await?;
        self.type_text(&client, pane, text, enter).await
    }

    /// Type `text` (see [`Keeper::send_text`]), then wait until a line of
    /// what the process prints after it matches `pattern`; the echo of the
    /// typed text never counts. The wait is armed before the text is typed.
    pub async fn send_then_ready(
        &self,
        name: &str,
        text: &[u8],
        enter: bool,
        pattern: &Regex,
        timeout: Duration,
    ) -> Result<String, KeeperError> {
        let (client, pane) = self.pane_without_output(name).await?;
        self.require_running(&client, name, pane).await?;
        let mut matcher = watch::LineMatch::new(pattern.clone());
        matcher.expect_echo(text);
        match self.record_input(&client, name, text).await? {
            Some(start) => {
                self.type_text(&client, pane, text, enter).await?;
                self.await_log(&client, name, pane, start, matcher, timeout)
                    .await
            }
            None => {
                let watching = client
                    .connect_again(self.attach_command(name, ATTACH_FLAGS))
                    .await?;
                let mut armed = watch::arm_for(&watching, pane, pattern, watch::Since::Now).await?;
                armed.skip_echo(text);
                let client = &client;
                self.leaving_as_found(client, name, pane, async {
                    self.type_text(client, pane, text, enter).await?;
                    self.await_pane(&watching, name, pane, armed, timeout).await
                })
                .await
            }
        }
    }

    /// Type `text` (see [`Keeper::send_text`]), then wait until the process
    /// printed nothing for `quiet`. The wait is armed before the text is
    /// typed, so its echo and output count as activity.
    pub async fn send_then_idle(
        &self,
        name: &str,
        text: &[u8],
        enter: bool,
        quiet: Duration,
        timeout: Duration,
    ) -> Result<watch::Idle, KeeperError> {
        let (client, pane) = self.pane_without_output(name).await?;
        self.require_running(&client, name, pane).await?;
        if self.record_input(&client, name, text).await?.is_some() {
            // Armed before typing: the echo and the output count.
            let changes = log::LogWatch::new(&self.log_path(name));
            self.type_text(&client, pane, text, enter).await?;
            return self
                .await_idle_in_log(&client, name, pane, changes, quiet, timeout)
                .await;
        }
        // Not started here: the pane's output says when it is quiet.
        let watching = client
            .connect_again(self.attach_command(name, ATTACH_FLAGS))
            .await?;
        let armed = watch::arm_idle(&watching, pane).await?;
        let client = &client;
        self.leaving_as_found(client, name, pane, async move {
            self.type_text(client, pane, text, enter).await?;
            self.idle_or_exit(client, name, pane, armed, quiet, timeout)
                .await
        })
        .await
    }

    /// Refuse a process that has exited.
    async fn require_running(
        &self,
        client: &Client,
        name: &str,
        pane: PaneId,
    ) -> Result<(), KeeperError> {
        match watch::exit_status(client, pane).await? {
            Some(status) => Err(KeeperError::NotRunning {
                name: name.to_string(),
                status,
            }),
            None => Ok(()),
        }
    }

    async fn type_text(
        &self,
        client: &Client,
        pane: PaneId,
        text: &[u8],
        enter: bool,
    ) -> Result<(), KeeperError> {
        let commands = send_text_commands(pane, text, enter);
        let mut pending = Vec::new();
        for command in commands {
            pending.push(client.enqueue(command).await?);
        }
        for reply in pending {
            reply.await?;
        }
        Ok(())
    }

    /// Send key names (`C-c`, `Enter`, `Up`, ...) to `name`'s pane. A
    /// name tmux does not know is refused ([`KeeperError::UnknownKey`]),
    /// before anything is sent; so is a process that has exited.
    pub async fn send_keys(&self, name: &str, keys: &[String]) -> Result<(), KeeperError> {
        for key in keys {
            keys::check(key).map_err(|close| KeeperError::UnknownKey {
                key: key.clone(),
                close,
            })?;
        }
        let (client, pane) = self.pane_without_output(name).await?;
        self.require_running(&client, name, pane).await?;
        let mut command = vec!["send-keys".to_string(), "-t".into(), pane.to_string()];
        command.extend(keys.iter().cloned());
        client.command(command).await?;
        Ok(())
    }

    /// Interrupt `name` (C-c), wait up to `grace` for it to exit, then kill
    /// its session; the session is gone afterwards either way.
    ///
    /// Stops of one name run one at a time (a lock file beside its log):
    /// one does the work and records how it went; a stop that was waiting
    /// for that same session then reports the same outcome.
    pub async fn stop(&self, name: &str, grace: Duration) -> Result<Stopped, KeeperError> {
        validate_name(name)?;
        self.require_server()?;
        // Which session this stop is about, before waiting for the lock.
        let id = match self.session_id(name).await {
            Ok(Some(id)) => id,
            Ok(None) => {
                return match self.stopped_just_now(name).await? {
                    Some(how) => Ok(how),
                    None => Err(self.not_found(name).await),
                }
            }
            Err(KeeperError::Client(e)) if tmux_says(&e, &["can't find", "no sessions"]) => {
                // A stop that comes a moment after another one ended it (a
                // caller retrying, or the last of several at once) gets
                // that outcome; later, the name is simply not there.
                return match self.stopped_just_now(name).await? {
                    Some(how) => Ok(how),
                    None => Err(self.not_found(name).await),
                };
            }
            Err(e) => return Err(e),
        };
        let dir = self
            .log_path(name)
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        // Stops take turns through a file beside the logs; where that
        // directory cannot be ours (a socket in someone else's directory),
        // the stop goes on alone.
        if server::ensure_private_dir(&dir).is_err() {
            return self.stop_now(name, grace).await;
        }
        let io = |what: &str, source| KeeperError::Io {
            what: format!("{what} in {}", dir.display()),
            source,
        };
        let _lock = self.stop_lock(&dir, name).await?;
        let record = dir.join(format!("{name}.stopped"));
        let still_there = match self.session_id(name).await {
            Ok(now) => now.as_ref() == Some(&id),
            Err(KeeperError::Client(e)) if tmux_says(&e, &["can't find", "no sessions"]) => false,
            Err(e) => return Err(e),
        };
        if !still_there {
            // Another stop ended it while this one waited: its outcome.
            let recorded = log::open_read(&record).ok().and_then(|mut file| {
                let mut text = String::new();
                std::io::Read::read_to_string(&mut file, &mut text).ok()?;
                let (who, how) = text.split_once('\n')?;
                (who == id).then(|| serde_json::from_str::<Stopped>(how).ok())?
            });
            return match recorded {
                Some(how) => Ok(how),
                None => Err(self.not_found(name).await),
            };
        }
        let how = self.stop_now(name, grace).await?;
        let text = format!("{id}\n{}", serde_json::to_string(&how).unwrap_or_default());
        // Written whole, then renamed: a reader sees all of it or nothing.
        let partial = dir.join(format!("{name}.stopped.new"));
        let _ = std::fs::remove_file(&partial);
        log::open_append(&partial)
            .and_then(|mut f| std::io::Write::write_all(&mut f, text.as_bytes()))
            .and_then(|()| std::fs::rename(&partial, &record))
            .map_err(|e| io("recording how the stop went", e))?;
        Ok(how)
    }

    /// Which session `name` is now (server pid and session id), or `None`.
    /// (`display-message -t` answers with empty fields, not an error, when
    /// its target is missing; the name in the answer tells.)
    async fn session_id(&self, name: &str) -> Result<Option<String>, KeeperError> {
        let target = format!("{}:", session_target(name));
        let reply = self
            .once(&["display-message", "-p", "-t", &target, SESSION_ID.format()])
            .await?;
        let fields = SESSION_ID
            .parse_one(&reply.content())
            .map_err(WatchError::from)?;
        Ok((fields[2] == name).then(|| format!("{} {}", fields[0], fields[1])))
    }

    /// A stop that finds no session: if another stop ended it a moment ago
    /// (a caller retrying, or the last of several at once), its outcome.
    /// It may be finishing: the record is written under the lock.
    async fn stopped_just_now(&self, name: &str) -> Result<Option<Stopped>, KeeperError> {
        let path = self.log_path(name);
        // Only a directory of ours holds records to trust.
        let Some(dir) = path
            .parent()
            .filter(|d| d.is_dir() && server::check_private_dir(d).is_ok())
        else {
            return Ok(None);
        };
        drop(self.stop_lock(dir, name).await?);
        Ok(self.recent_stop(name))
    }

    /// The lock that makes stops of `name` take turns (a file in the log
    /// directory `dir`), held until dropped.
    async fn stop_lock(
        &self,
        dir: &Path,
        name: &str,
    ) -> Result<nix::fcntl::Flock<std::fs::File>, KeeperError> {
        let io = |what: &str, source| KeeperError::Io {
            what: format!("{what} in {}", dir.display()),
            source,
        };
        let lock_file = log::open_append(&dir.join(format!("{name}.stop")))
            .map_err(|e| io("opening the stop lock", e))?;
        tokio::task::spawn_blocking(move || {
            nix::fcntl::Flock::lock(lock_file, nix::fcntl::FlockArg::LockExclusive)
                .map_err(|(_, errno)| std::io::Error::from(errno))
        })
        .await
        .map_err(|e| io("taking the stop lock", std::io::Error::other(e)))?
        .map_err(|e| io("taking the stop lock", e))
    }

    /// How the last stop of `name` went, if it ended a session within the
    /// last [`RECENT_STOP`].
    fn recent_stop(&self, name: &str) -> Option<Stopped> {
        let record = self
            .log_path(name)
            .with_file_name(format!("{name}.stopped"));
        let age = std::fs::symlink_metadata(&record)
            .ok()?
            .modified()
            .ok()?
            .elapsed()
            .ok()?;
        if age > RECENT_STOP {
            return None;
        }
        let mut text = String::new();
        std::io::Read::read_to_string(&mut log::open_read(&record).ok()?, &mut text).ok()?;
        serde_json::from_str(text.split_once('\n')?.1).ok()
    }

    /// The stop itself, with the lock held.
    async fn stop_now(&self, name: &str, grace: Duration) -> Result<Stopped, KeeperError> {
        // No output: tmux 3.2a crashes when a pane dies while output for it
        // waits to be sent to a control client (docs/tmux-versions.md).
        let (client, pane) = self.pane_without_output(name).await?;
        let target = session_target(name);
        let how = match watch::exit_status(&client, pane).await? {
            Some(status) => Stopped::AlreadyExited { status },
            None => {
                // Keep the status (a session started elsewhere may not).
                for command in watch::exit_reporting(pane) {
                    client.command(command).await?;
                }
                client
                    .command(["send-keys", "-t", &pane.to_string(), "C-c"])
                    .await?;
                match watch::wait_exit(&client, pane, grace).await {
                    Ok(status) => Stopped::Interrupted { status },
                    Err(WatchError::Timeout(_)) => Stopped::Killed,
                    // The pane, its session or the whole server went with it.
                    Err(WatchError::PaneGone(_) | WatchError::Closed(_)) => Stopped::Ended,
                    Err(WatchError::Client(ClientError::Closed(_))) => Stopped::Ended,
                    Err(e) => return Err(e.into()),
                }
            }
        };
        // The process, watched through a pidfd in case it outlives the
        // SIGHUP that killing its session sends.
        // (Only a server in our pid namespace has processes we may signal.)
        let survivor = match how {
            Stopped::Killed => watch::local_pids(&client, pane).await.map(|(_, pid)| pid),
            _ => None,
        };
        let process = watch::ProcessExit::open(survivor);
        // Killing the session we are attached to ends this connection.
        let kill = client
            .command(["kill-session", "-t", target.as_str()])
            .await;
        match kill {
            Ok(_) | Err(ClientError::Closed(_)) => {}
            Err(ClientError::Command { message, .. }) if message.contains("can't find") => {}
            Err(e) => return Err(e.into()),
        }
        if let (Some(pid), true) = (survivor, process.is_open()) {
            terminate(pid, &process).await;
        }
        Ok(how)
    }

    /// Stop every session on the socket.
    pub async fn stop_all(&self, grace: Duration) -> Result<Vec<(String, Stopped)>, KeeperError> {
        let mut out = Vec::new();
        for process in self.list().await? {
            match self.stop(&process.name, grace).await {
                Ok(how) => out.push((process.name, how)),
                Err(KeeperError::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// Remove the socket file if no server answers on it; returns whether
    /// one was removed. A live server is never touched.
    pub fn clean(&self) -> Result<bool, KeeperError> {
        Ok(server::remove_stale_socket(&self.socket)?)
    }
}

/// Who is starting a session: this process's pid and start time (in
/// clock ticks since boot, from `/proc`; 0 where there is none), so that a
/// reused pid is not taken for it.
fn starter_token() -> String {
    let pid = std::process::id();
    format!("{pid}:{}", process_start_time(pid).unwrap_or(0))
}

/// The start time of process `pid` (field 22 of `/proc/PID/stat`).
fn process_start_time(pid: u32) -> Option<u64> {
    watch::proc_stat(i32::try_from(pid).ok()?)?
        .get(19)?
        .parse()
        .ok()
}

/// The starter token in a placeholder's command line, if it is one.
fn placeholder_starter(command: &str) -> Option<&str> {
    let rest = command.split_once(PLACEHOLDER_MARK)?.1;
    rest.split_whitespace().next()
}

/// Whether the starter a token names is still alive.
fn starter_alive(token: &str) -> bool {
    let Some((pid, start)) = token.split_once(':') else {
        return false;
    };
    let (Ok(pid), Ok(start)) = (pid.parse::<u32>(), start.parse::<u64>()) else {
        return false;
    };
    match process_start_time(pid) {
        Some(now) => start == 0 || now == start,
        // No /proc (another OS): whether the pid exists at all.
        None if start == 0 => {
            nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), None).is_ok()
        }
        None => false,
    }
}

/// Refuse a command that cannot be run, as the shell would (127: not
/// found, 126: not executable). A single argument with shell syntax in it
/// is a shell command line (tmux runs it with `sh -c`), whose words are the
/// shell's business; a bare word is looked up like a program.
fn check_runnable(
    argv: &[String],
    cwd: &Path,
    env: &[(String, String)],
) -> Result<(), KeeperError> {
    use std::os::unix::fs::PermissionsExt;
    let program = &argv[0];
    let shell_line = argv.len() == 1
        && program
            .chars()
            .any(|c| c.is_whitespace() || "|&;<>()$`\\\"'*?[]#~=%{}".contains(c));
    if shell_line {
        return Ok(());
    }
    let candidates: Vec<PathBuf> = if program.contains('/') {
        vec![cwd.join(program)]
    } else {
        let path = env
            .iter()
            .find(|(k, _)| k == "PATH")
            .map(|(_, v)| v.as_str())
            .unwrap_or("/usr/local/bin:/usr/bin:/bin");
        path.split(':')
            .map(|dir| {
                if dir.is_empty() {
                    cwd.to_path_buf()
                } else {
                    cwd.join(dir)
                }
            })
            .map(|dir| dir.join(program))
            .collect()
    };
    let mut found_unexecutable = false;
    for candidate in candidates {
        match std::fs::metadata(&candidate) {
            Ok(meta) if meta.is_file() && meta.permissions().mode() & 0o111 != 0 => return Ok(()),
            Ok(_) => found_unexecutable = true,
            Err(_) => {}
        }
    }
    let (reason, code) = if found_unexecutable {
        ("not executable", 126)
    } else if program.contains('/') {
        ("no such file", 127)
    } else {
        ("command not found", 127)
    };
    Err(KeeperError::CannotRun {
        program: program.clone(),
        reason,
        code,
    })
}

/// What the keeper recorded on a session it started.
struct Kept {
    /// Where the current run begins in the log.
    run: log::Position,
    /// Where the last input begins (the run's start if none since).
    input: log::Position,
    /// How that input's echo reads ([`echo_record`]).
    echo: String,
}

/// How the echo of `text` is recognised later: its last lines, whitespace
/// removed (so the record has none), separated by spaces, each at most 256
/// characters (their ends: an echo that holds the end holds it).
fn echo_record(text: &[u8]) -> String {
    let text = String::from_utf8_lossy(text);
    let lines: Vec<String> = text
        .split(['\n', '\r'])
        .map(|l| {
            l.chars()
                .filter(|c| !c.is_whitespace() && !c.is_control())
                .collect::<String>()
        })
        .filter(|l| !l.is_empty())
        .map(|l| {
            let skip = l.chars().count().saturating_sub(256);
            l.chars().skip(skip).collect()
        })
        .collect();
    let keep = lines.len().saturating_sub(8);
    lines[keep..].join(" ")
}

/// SIGINT and SIGTERM, caught from when this is made.
struct Signals(Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>);

impl Signals {
    fn new() -> Signals {
        use tokio::signal::unix::{signal, SignalKind};
        Signals(
            signal(SignalKind::interrupt())
                .ok()
                .zip(signal(SignalKind::terminate()).ok()),
        )
    }

    /// Resolves when one arrives, with its name.
    async fn recv(mut self) -> &'static str {
        let Some((int, term)) = self.0.as_mut() else {
            return std::future::pending().await;
        };
        tokio::select! {
            _ = int.recv() => "SIGINT",
            _ = term.recv() => "SIGTERM",
        }
    }
}

/// Whether tmux refused a command with a message holding one of `texts`.
fn tmux_says(error: &ClientError, texts: &[&str]) -> bool {
    error
        .tmux_message()
        .is_some_and(|m| texts.iter().any(|t| m.contains(t)))
}

/// A process that survived its session's end (it ignores SIGHUP): SIGTERM
/// to its process group, then SIGKILL if it is still there after 2 s.
async fn terminate(pid: i32, process: &watch::ProcessExit) {
    use nix::sys::signal::{killpg, Signal};
    let group = nix::unistd::Pid::from_raw(pid);
    let gone = tokio::time::timeout(Duration::from_millis(500), process.exited()).await;
    if gone.is_ok() {
        return;
    }
    let _ = killpg(group, Signal::SIGTERM);
    if tokio::time::timeout(Duration::from_secs(2), process.exited())
        .await
        .is_err()
    {
        let _ = killpg(group, Signal::SIGKILL);
    }
}

/// The caller's environment, without the variables that describe the
/// caller's own tmux, plus `overrides`. Every value tmux can carry goes
/// (newlines too: the command line writes them as `\n`); a caller's
/// variable that cannot (not UTF-8) is left out with a warning, and an
/// override that cannot is refused.
fn environment(overrides: &[(String, String)]) -> Result<Vec<(String, String)>, KeeperError> {
    for (k, v) in overrides {
        if k.is_empty() || k.contains(['=', '\0']) || v.contains('\0') {
            return Err(KeeperError::BadCommand(format!(
                "--env {k:?}: a name must be non-empty without '=' or NUL, a value without NUL"
            )));
        }
    }
    let mut env: std::collections::BTreeMap<String, String> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .filter(|(k, _)| k != "TMUX" && k != "TMUX_PANE")
        .collect();
    for (k, v) in overrides {
        env.insert(k.clone(), v.clone());
    }
    Ok(env
        .into_iter()
        .filter(|(k, v)| {
            let ok = !k.is_empty() && !k.contains('=') && !format!("{k}{v}").contains('\0');
            if !ok {
                ::log::warn!("environment variable {k:?} not passed: tmux cannot take its value");
            }
            ok
        })
        .collect())
}

/// Which session, on which server: the server's pid and the session's id
/// (ids are not reused while a server runs).
static SESSION_ID: LazyLock<FormatQuery> =
    LazyLock::new(|| FormatQuery::new(&["pid", "session_id", "session_name"]));

/// The format whose answer is a pane's id.
static PANE_ID: LazyLock<FormatQuery> = LazyLock::new(|| FormatQuery::new(&["pane_id"]));

/// The pane id on the first line of an answer to [`PANE_ID`].
fn parse_pane_id(reply: &Reply) -> Result<PaneId, KeeperError> {
    let lines = reply.content();
    let id = lines
        .first()
        .and_then(|line| PANE_ID.parse_line(line).ok())
        .and_then(|fields| fields[0].parse().ok());
    id.ok_or_else(|| {
        KeeperError::BadCommand(format!(
            "tmux gave no pane id ({:?})",
            String::from_utf8_lossy(&reply.output())
        ))
    })
}

/// One pane of a `list-panes` answer with [`FIELDS`]: the process, and the
/// server's pid.
fn pane_info(f: &[String], now: u64) -> (ProcessInfo, Option<i32>) {
    let status = ExitStatus::from_formats(&f[4], &f[5]);
    let activity: u64 = f[6].parse().unwrap_or(0);
    let state = match (f[3] == "1", status) {
        (_, Some(ExitStatus::Exited(code))) => State::Exited { code },
        (_, Some(ExitStatus::Signaled(signal))) => State::Killed { signal },
        (true, None) => State::Exiting,
        (false, None) if now.saturating_sub(activity) >= IDLE_AFTER.as_secs() => State::Idle,
        (false, None) => State::Running,
    };
    let nonempty = |s: &str| (!s.is_empty()).then(|| s.to_string());
    let info = ProcessInfo {
        name: f[0].to_string(),
        state,
        pane: f[1].to_string(),
        pid: f[2].parse().ok(),
        command: nonempty(&f[12]).unwrap_or_else(|| f[14].clone()),
        cwd: nonempty(&f[11]).unwrap_or_else(|| f[8].clone()),
        started: f[9].parse().ok().or_else(|| f[7].parse().ok()),
        log: nonempty(&f[10]).map(PathBuf::from),
    };
    (info, f[13].parse().ok())
}

/// How many characters one `send-keys -l` carries, and how many bytes one
/// `send-keys -H`.
const LITERAL_CHUNK: usize = 512;
const HEX_CHUNK: usize = 128;

/// The `send-keys` commands that type `text` exactly.
pub fn send_text_commands(pane: PaneId, text: &[u8], enter: bool) -> Vec<Vec<String>> {
    let target = pane.to_string();
    let literal = |s: &str| -> Vec<String> {
        ["send-keys", "-t", target.as_str(), "-l", "--", s]
            .map(String::from)
            .to_vec()
    };
    let mut out = Vec::new();
    let mut hex: Vec<u8> = Vec::new();
    let flush_hex = |hex: &mut Vec<u8>, out: &mut Vec<Vec<String>>| {
        for chunk in hex.chunks(HEX_CHUNK) {
            let mut command: Vec<String> = ["send-keys", "-t", target.as_str(), "-H"]
                .map(String::from)
                .to_vec();
            command.extend(chunk.iter().map(|b| format!("{b:02x}")));
            out.push(command);
        }
        hex.clear();
    };
    for piece in text.utf8_chunks() {
        let mut run = String::new();
        for c in piece.valid().chars() {
            if c.is_control() {
                if !run.is_empty() {
                    flush_hex(&mut hex, &mut out);
                    out.extend(chunks(&run).map(literal));
                    run.clear();
                }
                let mut buf = [0u8; 4];
                hex.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            } else {
                if run.is_empty() {
                    flush_hex(&mut hex, &mut out);
                }
                run.push(c);
            }
        }
        if !run.is_empty() {
            flush_hex(&mut hex, &mut out);
            out.extend(chunks(&run).map(literal));
        }
        hex.extend_from_slice(piece.invalid());
    }
    flush_hex(&mut hex, &mut out);
    if enter {
        out.push(
            ["send-keys", "-t", target.as_str(), "Enter"]
                .map(String::from)
                .to_vec(),
        );
    }
    out
}

/// `s` in pieces of at most [`LITERAL_CHUNK`] characters.
fn chunks(s: &str) -> impl Iterator<Item = &str> {
    let mut rest = s;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let end = rest
            .char_indices()
            .nth(LITERAL_CHUNK)
            .map_or(rest.len(), |(i, _)| i);
        let (head, tail) = rest.split_at(end);
        rest = tail;
        Some(head)
    })
}

/// The exact-match target of session `name`.
fn session_target(name: &str) -> String {
    format!("={name}")
}

/// Seconds since the Unix epoch, now.
fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Escape `#` for arguments tmux expands as formats (`-c`, the pipe-pane
/// command).
fn format_escape(s: &str) -> String {
    s.replace('#', "##")
}

/// Quote for `sh`.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A command line for display, on one line: words quoted for `sh` where
/// needed, and a word with control characters (a newline) in `$'...'` with
/// them escaped, as bash writes it. (A newline stored raw in an option
/// would split tmux's one-line answers about the process.)
fn shell_words(argv: &[String]) -> String {
    argv.iter()
        .map(|a| {
            if !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
            {
                a.clone()
            } else if a.chars().any(char::is_control) {
                let mut out = String::from("$'");
                for c in a.chars() {
                    match c {
                        '\n' => out.push_str("\\n"),
                        '\r' => out.push_str("\\r"),
                        '\t' => out.push_str("\\t"),
                        '\\' | '\'' => {
                            out.push('\\');
                            out.push(c);
                        }
                        c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
                        c => out.push(c),
                    }
                }
                out.push('\'');
                out
            } else {
                sh_quote(a)
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_commands_stay_on_one_line() {
        let argv: Vec<String> = ["sh", "-c", "echo a\necho 'b'\t", "x y"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            shell_words(&argv),
            "sh -c $'echo a\\necho \\'b\\'\\t' 'x y'"
        );
    }

    #[test]
    fn names() {
        for good in ["web", "dev-server_2", "émoji🙂", "a b"] {
            validate_name(good).unwrap();
        }
        for bad in [
            "", ".", "a:b", "a.b", "x\u{7}", "a/b", "-x", "a$b", "cpu%d", "#x", "a\\b",
        ] {
            assert!(validate_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn text_becomes_literal_and_hex_in_order() {
        let pane: PaneId = "%3".parse().unwrap();
        let cmds = send_text_commands(pane, b"a;b\tc\xff\n", true);
        let flat: Vec<String> = cmds.iter().map(|c| c[3..].join(" ")).collect();
        assert_eq!(
            flat,
            ["-l -- a;b", "-H 09", "-l -- c", "-H ff 0a", "Enter"].map(String::from)
        );
        let long = "é".repeat(LITERAL_CHUNK * 2 + 1);
        let cmds = send_text_commands(pane, long.as_bytes(), false);
        assert_eq!(cmds.len(), 3);
        assert_eq!(cmds.iter().map(|c| c[5].clone()).collect::<String>(), long);
    }

    #[test]
    fn pane_lines() {
        let line = [
            "web",
            "%1",
            "42",
            "1",
            "7",
            "",
            "0",
            "100",
            "/tmp",
            "200",
            "/l/web.log",
            "/src",
            "python3 -m http.server",
            "99",
            "sleep 1",
        ]
        .join("\x1f");
        let fields = FormatQuery::new(FIELDS)
            .parse_line(line.as_bytes())
            .unwrap();
        let (p, server) = pane_info(&fields, 1000);
        assert_eq!(server, Some(99));
        assert_eq!(p.state, State::Exited { code: 7 });
        assert_eq!(p.started, Some(200));
        assert_eq!(p.command, "python3 -m http.server");
        assert_eq!(p.cwd, "/src");
    }
}
