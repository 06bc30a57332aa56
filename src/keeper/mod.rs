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

// One file per job: `start` (with `command`, what a start runs),
// `inventory` (list, status), `output` (logs), `send` (input), `wait`
// (ready, exit, idle; the log wait itself is `ready`), `stop`; `error`
// holds `KeeperError`. This file: the `Keeper`, its connections, and what
// it records on its sessions.
mod command;
mod error;
mod events;
mod exec;
mod exec_scan;
mod follow;
mod helper;
mod hooks;
mod housekeeping;
mod info;
mod inventory;
pub mod keys;
mod limit;
pub mod log;
mod output;
mod process;
mod read;
mod ready;
mod record;
mod restart;
mod send;
mod start;
mod stop;
mod wait;
mod writer;

pub use command::check_env;
pub use error::{FailureKind, KeeperError};
pub use events::{LifecycleEvent, OnServerGone};
pub use exec::{Executed, Outcome as ExecOutcome, EXEC_KEEP};
pub use follow::{Followed, LogFollow};
#[doc(hidden)]
pub use helper::legacy_helper_main;
pub use helper::{helper_main, HELPER_ARG, HELPER_VERSION};
pub use housekeeping::ShutDown;
pub use housekeeping::LOG_MAX_AGE;
pub use info::{ProcessInfo, State, IDLE_AFTER};
pub use output::LineForm;
pub use process::{Input, KeptProcess, LastLineWatch, RunOutcome};
pub use read::{Output, Page, PageBytes, RawLines, ReadFrom};
pub use ready::{Found, WaitFrom, WaitMissed};
pub use record::{RestartPolicy, RestartWhen};
pub use start::{StartSpec, Started};
pub use stop::{StopReport, Stopped};
pub use wait::LOG_SETTLE;
pub use writer::LogWriter;

use crate::client::{
    commands, Client, ClientError, ConnectOptions, ErrorKind, Pane, TransportChoice, ATTACH_FLAGS,
    QUIET_ATTACH_FLAGS,
};
use crate::protocol::{version_at_least, Command, FormatQuery, PaneId, Reply};
use crate::server::{self, ServerError, SocketSpec, SocketState};
use crate::transport::direct::{self, DirectOptions};
use crate::transport::plain::{PlainError, ProbeError};
use crate::transport::{TransportError, TransportInfo};
use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Where and how the keeper talks to tmux.
#[derive(Debug, Clone)]
pub struct Keeper {
    socket: PathBuf,
    transport: TransportChoice,
    tmux: Option<PathBuf>,
    /// The program tmux runs as the helpers (`None`: this one).
    helper_program: Option<PathBuf>,
    /// Whether this process runs as a helper (its program need not be
    /// asked whether it is one).
    helper_known: bool,
    log_limits: log::Limits,
    log_max_age: Option<Duration>,
    /// What dropped waits put back ([`Keeper::restored`]).
    restores: wait::Restores,
    /// Helper programs that answered as helpers of this format.
    checked_helpers: helper::CheckedHelpers,
}

impl Keeper {
    /// A keeper on `socket` (resolved now: the default is tmux-wire's own
    /// private socket).
    pub fn new(socket: &SocketSpec) -> Result<Keeper, KeeperError> {
        Ok(Keeper {
            socket: socket.resolve()?,
            transport: TransportChoice::Auto,
            tmux: None,
            helper_program: None,
            helper_known: false,
            log_limits: log::Limits::default(),
            log_max_age: Some(housekeeping::LOG_MAX_AGE),
            restores: wait::Restores::default(),
            checked_helpers: helper::CheckedHelpers::default(),
        })
    }

    /// Use this transport.
    pub fn transport(mut self, transport: TransportChoice) -> Self {
        self.transport = transport;
        self
    }

    /// How long the logs of names that no longer run are kept: each
    /// `start` removes older ones (default 7 days; `None` keeps them).
    pub fn log_max_age(mut self, age: Option<Duration>) -> Self {
        self.log_max_age = age;
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
    async fn require_server(&self) -> Result<(), KeeperError> {
        match server::socket_state_async(&self.socket).await? {
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
    async fn once(&self, command: Command) -> Result<Reply, KeeperError> {
        Ok(self.once_with_info(command).await?.0)
    }

    /// [`Keeper::once`], and what carried it (with the server's version).
    async fn once_with_info(
        &self,
        command: Command,
    ) -> Result<(Reply, TransportInfo), KeeperError> {
        Ok(Client::run_once(&self.options(command.to_strings())).await?)
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
            Err(TransportError::Probe(ProbeError::Plain(PlainError::VersionMismatch {
                ..
            }))) => return Ok(()),
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
        commands::attach(commands::session(name), flags).to_strings()
    }

    /// A control connection attached to `name`'s session.
    pub async fn attach(&self, name: &str) -> Result<Client, KeeperError> {
        self.attach_with(name, ATTACH_FLAGS).await
    }

    /// [`Keeper::attach`] with these client flags.
    async fn attach_with(&self, name: &str, flags: &str) -> Result<Client, KeeperError> {
        validate_name(name)?;
        self.require_server().await?;
        self.require_version().await?;
        let command = self.attach_command(name, flags);
        match Client::connect(&self.options(command)).await {
            Ok(client) => Ok(client),
            Err(e) if is_missing(&e) => Err(self.not_found(name).await),
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

    /// The pane of `name`, with a client attached to its session.
    pub async fn pane(&self, name: &str) -> Result<Pane, KeeperError> {
        self.pane_with(name, ATTACH_FLAGS).await
    }

    /// [`Keeper::pane`] on a connection tmux sends no `%output` to
    /// ([`QUIET_ATTACH_FLAGS`]): for watching the log, hooks and
    /// notifications without paying for every byte the process prints.
    pub async fn pane_without_output(&self, name: &str) -> Result<Pane, KeeperError> {
        self.pane_with(name, QUIET_ATTACH_FLAGS).await
    }

    async fn pane_with(&self, name: &str, flags: &str) -> Result<Pane, KeeperError> {
        let client = self.attach_with(name, flags).await?;
        let reply = client
            .command(commands::list_session_panes(
                commands::session(name),
                PANE_ID.format(),
            ))
            .await?;
        let pane = parse_pane_id(&reply)?;
        Ok(client.pane(pane))
    }

    /// What the keeper recorded on `name`'s session, if it started it
    /// (one query: [`Keeper::read_record`]).
    async fn kept(&self, client: &Client, name: &str) -> Result<Option<Kept>, KeeperError> {
        let (record, server) = self.read_record(client, name).await?;
        let Some(run) = record.run.filter(|_| record.is_kept()) else {
            return Ok(None);
        };
        Ok(Some(Kept {
            run,
            input: record.input.unwrap_or(run),
            echo: record.echo,
            server: server.and_then(crate::os::process::pid),
        }))
    }
}

/// What the keeper recorded on a session it started.
pub(super) struct Kept {
    /// Where the current run begins in the log.
    run: log::Position,
    /// Where the last input begins (the run's start if none since).
    input: log::Position,
    /// How that input's echo reads (`send::echo_record`).
    echo: String,
    /// The tmux server's pid (in its own pid namespace).
    server: Option<rustix::process::Pid>,
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

/// Whether tmux refused a command because the session (or any session)
/// is not there.
fn is_missing(error: &ClientError) -> bool {
    error.is(ErrorKind::NotFound) || error.is(ErrorKind::NoSessions)
}

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

/// 16 hex digits, different for every call in any process (the time, the
/// pid and a counter, mixed by splitmix64). Not a secret: it only has to
/// differ (an exec's nonce, a log's id).
pub(crate) fn unique_hex() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut x = t ^ (u64::from(std::process::id()) << 32) ^ COUNT.fetch_add(1, Ordering::Relaxed);
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    format!("{:016x}", x ^ (x >> 31))
}

/// Seconds since the Unix epoch, now.
fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
