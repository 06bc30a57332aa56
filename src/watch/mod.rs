//! Event-driven waits on a pane: for a pattern, or for quiet.
//!
//! Nothing here polls. A wait subscribes to the pane's output stream first
//! and only then looks at what is already on the screen, so output printed
//! in between is seen at least once and never missed. After that it wakes
//! only when tmux sends output (or when a timer it set runs out).
//!
//! Text is matched as a person sees it, line by line ([`ready`]: escape
//! sequences dropped, carriage returns overwriting the line, `^` and `$`
//! per line), from a starting point the caller chooses, and never in the
//! echo of text the caller just typed.
//!
//! [`wait_exit`] waits for a pane's process to exit and returns its status.
//! tmux tells control clients nothing when a process exits, so the wait
//! makes tmux tell it: one global `pane-died` hook entry (index
//! [`EXIT_HOOK_INDEX`]) runs `wait-for -S` on the channel [`EXIT_CHANNEL`],
//! and the wait keeps a second control connection blocked in `wait-for` on
//! that channel. The hook fires within the server's event loop iteration
//! that reaps the process, so the wake-up takes milliseconds; see
//! [`wait_exit`] for why nothing can slip between looking and waiting.

pub mod ready;

pub(crate) use ready::screen_rows;
pub use ready::{arm_for, wait_for, ArmedReady, Found, LineMatch, Since};

use crate::client::{Client, ClientError, ClientEvent, PaneEvent, QUIET_ATTACH_FLAGS};
use crate::protocol::{version_at_least, FormatError, FormatQuery, Notification, PaneId, Reply};
use std::sync::LazyLock;
use std::time::Duration;
use thiserror::Error;
use tokio::time::Instant;

/// Errors of the waits.
#[derive(Debug, Error)]
pub enum WatchError {
    /// The time ran out first.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// The connection ended first.
    #[error("the connection closed: {0}")]
    Closed(String),
    /// A command the wait needed failed.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The pane went away without an exit status to report: it was killed,
    /// or it exited while `remain-on-exit` was off.
    #[error("pane {0} is gone and its exit status was not kept")]
    PaneGone(PaneId),
    /// Reading or watching a log failed.
    #[error("{0}")]
    Log(String),
    /// tmux answered a query with something other than what was asked.
    #[error(transparent)]
    Answer(#[from] FormatError),
}

/// What [`wait_idle`] saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idle {
    /// The pane's foreground command when it went quiet
    /// (`#{pane_current_command}`, asked once).
    pub current_command: String,
}

/// A wait for quiet that is armed: the pane's output is followed from
/// here on. Then [`ArmedIdle::wait`].
pub struct ArmedIdle<'c> {
    client: &'c Client,
    pane: PaneId,
    output: crate::client::PaneOutput,
    armed_at: Instant,
}

/// Arm a wait for quiet on `pane`: what it prints from now on counts as
/// activity (text typed after this, and its echo, too).
pub async fn arm_idle(client: &Client, pane: PaneId) -> Result<ArmedIdle<'_>, WatchError> {
    Ok(ArmedIdle {
        client,
        pane,
        output: client.pane_output(pane).await?,
        armed_at: Instant::now(),
    })
}

impl ArmedIdle<'_> {
    /// Wait until the pane has printed nothing for `quiet` (counted from
    /// when it was armed, or its last output). With `require_shell`, a
    /// quiet period only counts if the pane's foreground process is a shell
    /// again (asked once per quiet period, not polled); a program that is
    /// quiet but still running keeps the wait going.
    pub async fn wait(
        mut self,
        quiet: Duration,
        require_shell: bool,
        timeout: Duration,
    ) -> Result<Idle, WatchError> {
        let deadline = Instant::now() + timeout;
        let mut quiet_until = self.armed_at + quiet;
        loop {
            if quiet_until > deadline {
                // Even a quiet pane would not be idle in time; wait out the
                // clock while still draining output.
                quiet_until = deadline;
            }
            match tokio::time::timeout_at(quiet_until, self.output.next()).await {
                Err(_) if Instant::now() >= deadline => return Err(WatchError::Timeout(timeout)),
                Err(_) => {
                    let current_command = current_command(self.client, self.pane).await?;
                    if !require_shell || is_shell(&current_command) {
                        return Ok(Idle { current_command });
                    }
                    quiet_until = Instant::now() + quiet;
                }
                Ok(None) => {
                    return Err(WatchError::Closed(
                        self.client.closed_reason().unwrap_or_default(),
                    ))
                }
                Ok(Some(PaneEvent::Closed(reason))) => return Err(WatchError::Closed(reason)),
                // Any output, or a gap in it, means the pane is not quiet.
                Ok(Some(_)) => quiet_until = Instant::now() + quiet,
            }
        }
    }
}

/// The pane's foreground command (`#{pane_current_command}`).
pub async fn current_command(client: &Client, pane: PaneId) -> Result<String, WatchError> {
    let query = FormatQuery::new(&["pane_current_command"]);
    let target = pane.to_string();
    let reply = client
        .command(["display-message", "-p", "-t", &target, query.format()])
        .await?;
    Ok(query.parse_one(&reply.content())?.remove(0))
}

/// Wait until the pane has printed nothing for `quiet`: [`arm_idle`], then
/// [`ArmedIdle::wait`].
pub async fn wait_idle(
    client: &Client,
    pane: PaneId,
    quiet: Duration,
    require_shell: bool,
    timeout: Duration,
) -> Result<Idle, WatchError> {
    arm_idle(client, pane)
        .await?
        .wait(quiet, require_shell, timeout)
        .await
}

/// How a pane's process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "how", content = "value")]
pub enum ExitStatus {
    /// It exited with this code.
    Exited(i32),
    /// A signal killed it (the signal's number).
    Signaled(i32),
}

impl ExitStatus {
    /// The shell's view of it: the code, or 128 + the signal.
    pub fn code(self) -> i32 {
        match self {
            ExitStatus::Exited(code) => code,
            ExitStatus::Signaled(signal) => 128 + signal,
        }
    }

    /// Read `#{pane_dead_status}` and `#{pane_dead_signal}`: tmux fills one
    /// of them only once it has reaped the process (a pane whose pty closed
    /// first reads `pane_dead` 1 with both empty: not finished yet). The
    /// signal is a number on Linux and a name (`TERM`) where libc has
    /// signal names.
    pub fn from_formats(status: &str, signal: &str) -> Option<ExitStatus> {
        if let Ok(code) = status.trim().parse() {
            return Some(ExitStatus::Exited(code));
        }
        let signal = signal.trim();
        if signal.is_empty() {
            return None;
        }
        if let Ok(number) = signal.parse() {
            return Some(ExitStatus::Signaled(number));
        }
        let name = signal.to_ascii_uppercase();
        let name = if name.starts_with("SIG") {
            name
        } else {
            format!("SIG{name}")
        };
        name.parse::<nix::sys::signal::Signal>()
            .ok()
            .map(|s| ExitStatus::Signaled(s as i32))
    }
}

impl std::fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExitStatus::Exited(code) => write!(f, "exited with code {code}"),
            ExitStatus::Signaled(signal) => match nix::sys::signal::Signal::try_from(*signal) {
                Ok(s) => write!(f, "killed by signal {signal} ({})", s.as_str()),
                Err(_) => write!(f, "killed by signal {signal}"),
            },
        }
    }
}

/// How often [`wait_exit`] reminds the server to reap (see [`nudge`]).
const BACKSTOP: Duration = Duration::from_secs(1);

/// The wait channel the exit hook signals.
pub const EXIT_CHANNEL: &str = "tmux-wire-pane-died";
/// The index of tmux-wire's entry in the global `pane-died` hook array, so
/// that it adds to a user's hooks instead of replacing them.
pub const EXIT_HOOK_INDEX: u32 = 4242;

/// The commands that make a server report exits to [`wait_exit`]: the
/// global hook entry, and `remain-on-exit` on `pane` so the status (and
/// the pane's last screen) is kept after the exit. Idempotent. A process
/// that is started after these ran never escapes the wait; the keeper runs
/// them before it starts the real command.
pub fn exit_reporting(pane: PaneId) -> [Vec<String>; 2] {
    let hook = format!("pane-died[{EXIT_HOOK_INDEX}]");
    let signal = format!("wait-for -S {EXIT_CHANNEL}");
    [
        ["set-hook", "-g", hook.as_str(), signal.as_str()]
            .map(String::from)
            .to_vec(),
        [
            "set-option",
            "-p",
            "-t",
            &pane.to_string(),
            "remain-on-exit",
            "on",
        ]
        .map(String::from)
        .to_vec(),
    ]
}

/// A pane whose `remain-on-exit` [`report_exits`] turned on, to put back
/// with [`ExitReporting::restore`].
#[derive(Debug)]
pub struct ExitReporting {
    pane: PaneId,
}

/// The pane option that keeps a pane's own `remain-on-exit` from before any
/// tmux-wire wait changed it (`-` when it had none), set by the first of
/// several waits that overlap.
const SAVED_REMAIN: &str = "@tmux-wire-remain-on-exit";
/// The pane option that counts the tmux-wire waits on a pane; the last to
/// end puts `remain-on-exit` back.
const WAITS: &str = "@tmux-wire-waits";

/// A pane option's value as `show-options -p -v` gives it: the pane's own
/// (empty if it has none; `-q`, since 3.3 reading an unset user option is
/// an error), or with `inherited` the value in force.
async fn pane_option(
    client: &Client,
    pane: PaneId,
    option: &str,
    inherited: bool,
) -> Result<String, WatchError> {
    let target = pane.to_string();
    let scope = if inherited { "-A" } else { "-q" };
    let reply = client
        .command(["show-options", "-p", "-v", scope, "-t", &target, option])
        .await
        .map_err(|e| gone(e, pane))?;
    Ok(String::from_utf8_lossy(&reply.output()).trim().to_string())
}

/// [`exit_reporting`] on `pane`, keeping its `remain-on-exit` first, for a
/// pane that is not ours to change for good (a session someone else
/// started: a shell recipe's `has-session || new` must still see its
/// session go when its process ends).
pub async fn report_exits(client: &Client, pane: PaneId) -> Result<ExitReporting, WatchError> {
    let target = pane.to_string();
    let own = pane_option(client, pane, "remain-on-exit", false).await?;
    let own = if own.is_empty() { "-".to_string() } else { own };
    let count = format!("#{{e|+:#{{?{WAITS},#{{{WAITS}}},0}},1}}");
    let [hook, remain] = exit_reporting(pane);
    // One write, so tmux runs them back to back. Only the first of
    // overlapping waits saves the value (`-o`: "already set" for the
    // others, which is fine); each counts itself in.
    let pending = client
        .enqueue_together([
            ["set-option", "-p", "-o", "-t", &target, SAVED_REMAIN, &own]
                .map(String::from)
                .to_vec(),
            ["set-option", "-p", "-F", "-t", &target, WAITS, &count]
                .map(String::from)
                .to_vec(),
            hook,
            remain,
        ])
        .await?;
    for (i, reply) in pending.into_iter().enumerate() {
        match reply.await {
            Ok(_) => {}
            Err(e) if i == 0 && e.tmux_message().is_some_and(|m| m.contains("already set")) => {}
            Err(e) => return Err(gone(e, pane)),
        }
    }
    Ok(ExitReporting { pane })
}

impl ExitReporting {
    /// Count this wait out; the last one puts the pane's `remain-on-exit`
    /// back as it was before any wait. If the process has exited meanwhile
    /// and, with the old setting, tmux would have closed the pane, close it
    /// now (its session goes with it if it was the last), as it would have
    /// happened without the waits.
    pub async fn restore(self, client: &Client) -> Result<(), WatchError> {
        let target = self.pane.to_string();
        let less = format!("#{{e|-:#{{{WAITS}}},1}}");
        let mut pending = client
            .enqueue_together([
                ["set-option", "-p", "-F", "-t", &target, WAITS, &less],
                ["show-options", "-p", "-v", "-q", "-t", &target, WAITS],
            ])
            .await?;
        let left = pending.pop().expect("two commands").await;
        let counted = pending.pop().expect("two commands").await;
        match (counted, left) {
            (Ok(_), Ok(left)) => {
                let left: i64 = String::from_utf8_lossy(&left.output())
                    .trim()
                    .parse()
                    .unwrap_or(0);
                if left > 0 {
                    // Other waits still depend on it.
                    return Ok(());
                }
            }
            (Err(e), _) | (_, Err(e)) => {
                return match gone(e, self.pane) {
                    WatchError::PaneGone(_) => Ok(()),
                    e => Err(e),
                }
            }
        }
        let mut status = match exit_status(client, self.pane).await {
            Ok(status) => status,
            Err(WatchError::PaneGone(_)) => return Ok(()),
            Err(e) => return Err(e),
        };
        // The wait may have learnt of the exit from the kernel before tmux
        // has reaped the process; let tmux catch up before deciding.
        if status.is_none() {
            if let Some((_, pid)) = local_pids(client, self.pane).await {
                if !process_running(pid) {
                    match wait_exit(client, self.pane, Duration::from_secs(5)).await {
                        Ok(exited) => status = Some(exited),
                        Err(WatchError::PaneGone(_)) => return Ok(()),
                        Err(_) => {}
                    }
                }
            }
        }
        let saved = pane_option(client, self.pane, SAVED_REMAIN, false).await?;
        let put_back = match saved.as_str() {
            // Put back already (a wait of an older tmux-wire).
            "" => None,
            "-" => Some(vec![
                "set-option",
                "-p",
                "-u",
                "-t",
                &target,
                "remain-on-exit",
            ]),
            value => Some(vec![
                "set-option",
                "-p",
                "-t",
                &target,
                "remain-on-exit",
                value,
            ]),
        };
        let mut commands: Vec<Vec<&str>> = put_back.into_iter().collect();
        commands.push(vec!["set-option", "-p", "-u", "-t", &target, SAVED_REMAIN]);
        commands.push(vec!["set-option", "-p", "-u", "-t", &target, WAITS]);
        for reply in client.enqueue_together(commands).await? {
            reply.await.map_err(|e| gone(e, self.pane))?;
        }
        let Some(status) = status else {
            return Ok(());
        };
        let setting = pane_option(client, self.pane, "remain-on-exit", true).await?;
        let stays = match setting.as_str() {
            "on" => true,
            "failed" => status != ExitStatus::Exited(0),
            _ => false,
        };
        if !stays {
            match client.command(["kill-pane", "-t", &target]).await {
                Ok(_) | Err(ClientError::Closed(_)) => {}
                Err(e) => return Err(gone(e, self.pane)),
            }
        }
        Ok(())
    }
}

/// Ask for a pane's exit status: `None` while it runs.
pub async fn exit_status(client: &Client, pane: PaneId) -> Result<Option<ExitStatus>, WatchError> {
    let reply = client
        .command(status_query(pane))
        .await
        .map_err(|e| gone(e, pane))?;
    Ok(settle(client, pane, parse_status(pane, &reply)?)
        .await?
        .status)
}

/// Whether a server's `#{pane_dead_signal}` exists (3.3 and later). A
/// version not known (a `tmux -C` connection never probed) may be older.
pub(crate) fn reports_dead_signal(version: Option<&str>) -> bool {
    version.is_some_and(|v| version_at_least(v, 3, 3))
}

/// The signal in tmux's `Pane is dead (signal NAME, TIME)`, if that is the
/// last line of a pane's screen (`capture-pane -p`); see [`settle`].
pub(crate) fn dead_signal_on_screen(lines: &[bytes::Bytes]) -> Option<ExitStatus> {
    let last = lines
        .iter()
        .rev()
        .map(|l| String::from_utf8_lossy(l).trim_end().to_string())
        .find(|l| !l.is_empty())?;
    let rest = last.strip_prefix("Pane is dead (signal ")?;
    let (name, _) = rest.split_once(',')?;
    ExitStatus::from_formats("", name)
}

/// Complete a look on servers without `#{pane_dead_signal}` (before 3.3):
/// there a pane whose process a signal killed reads dead with no status
/// even once tmux has reaped it. tmux then writes `Pane is dead (signal
/// NAME, TIME)` as the last line of the pane (with `remain-on-exit`), after
/// the process is gone, so nothing the process printed can pass for it;
/// read the signal there. Before that line, the look stays unreaped.
async fn settle(client: &Client, pane: PaneId, look: Look) -> Result<Look, WatchError> {
    let version = client.info().server_version.as_deref();
    if look.status.is_some() || !look.unreaped || reports_dead_signal(version) {
        return Ok(look);
    }
    let reply = client
        .command(["capture-pane", "-p", "-t", &pane.to_string()])
        .await
        .map_err(|e| gone(e, pane))?;
    Ok(match dead_signal_on_screen(&reply.content()) {
        Some(status) => Look {
            status: Some(status),
            unreaped: false,
        },
        None => look,
    })
}

/// A pane's id and what tmux knows of its end.
static STATUS: LazyLock<FormatQuery> = LazyLock::new(|| {
    FormatQuery::new(&[
        "pane_id",
        "pane_dead",
        "pane_dead_status",
        "pane_dead_signal",
    ])
});

/// One look at a pane.
struct Look {
    status: Option<ExitStatus>,
    /// Its pty has closed but tmux has not reaped the process.
    unreaped: bool,
}

fn status_query(pane: PaneId) -> Vec<String> {
    [
        "display-message",
        "-p",
        "-t",
        &pane.to_string(),
        STATUS.format(),
    ]
    .map(String::from)
    .to_vec()
}

/// `display-message -t` falls back to the current pane when the target is
/// gone (its target may fail), so the answer names the pane it describes.
fn parse_status(pane: PaneId, reply: &Reply) -> Result<Look, WatchError> {
    let fields = STATUS.parse_one(&reply.content())?;
    let [id, dead, status, signal] = &fields[..] else {
        unreachable!("the query has four fields");
    };
    if *id != pane.to_string() {
        return Err(WatchError::PaneGone(pane));
    }
    let status = ExitStatus::from_formats(status, signal);
    Ok(Look {
        status,
        unreaped: dead == "1" && status.is_none(),
    })
}

/// The tmux server's pid and the pane's, if the server is a process we
/// may signal: a tmux process visible in our `/proc` (the same pid
/// namespace; then so is the pane's process).
pub(crate) async fn local_pids(client: &Client, pane: PaneId) -> Option<(nix::unistd::Pid, i32)> {
    let query = FormatQuery::new(&["pid", "pane_pid"]);
    let reply = client
        .command([
            "display-message",
            "-p",
            "-t",
            &pane.to_string(),
            query.format(),
        ])
        .await
        .ok()?;
    let fields = query.parse_one(&reply.content()).ok()?;
    let (server, process): (i32, i32) = (fields[0].parse().ok()?, fields[1].parse().ok()?);
    let comm = std::fs::read_to_string(format!("/proc/{server}/comm")).ok()?;
    comm.starts_with("tmux")
        .then_some((nix::unistd::Pid::from_raw(server), process))
}

/// The kernel's word that a process has exited: a pidfd, readable once it
/// has (Linux 5.3 and later; `None` elsewhere or if the pid is gone).
pub(crate) struct ProcessExit(Option<tokio::io::unix::AsyncFd<std::os::fd::OwnedFd>>);

impl ProcessExit {
    pub(crate) fn open(pid: Option<i32>) -> ProcessExit {
        let fd = pid
            .and_then(rustix::process::Pid::from_raw)
            .and_then(|pid| {
                rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::NONBLOCK).ok()
            })
            .and_then(|fd| {
                // Deprecated because a borrowed raw fd could be closed while
                // registered; this one is an `OwnedFd` the `AsyncFd` owns, so
                // it stays open until the registration is dropped.
                #[allow(deprecated)]
                tokio::io::unix::AsyncFd::new(fd).ok()
            });
        ProcessExit(fd)
    }

    /// Whether there is a pidfd to wait on.
    pub(crate) fn is_open(&self) -> bool {
        self.0.is_some()
    }

    /// Resolves once the process has exited; never without a pidfd.
    pub(crate) async fn exited(&self) {
        match &self.0 {
            Some(fd) => {
                let _ = fd.readable().await;
            }
            None => std::future::pending().await,
        }
    }
}

/// The exit status of a zombie child of `parent`, from `/proc/PID/stat`
/// (field 52, the `waitpid` status, Linux 3.5 and later). tmux reaps a
/// pane's process only after utempter's helper has run, a few milliseconds
/// after the exit; the kernel has the status from the start.
/// The fields of `/proc/PID/stat` from the third (the state) on: the
/// command name before them is in parentheses and may hold anything.
pub(crate) fn proc_stat(pid: i32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    Some(rest.split_whitespace().map(str::to_string).collect())
}

/// Whether process `pid` exists and has not exited (a zombie has).
fn process_running(pid: i32) -> bool {
    proc_stat(pid).is_some_and(|f| f.first().is_some_and(|state| state != "Z"))
}

fn zombie_status(pid: i32, parent: nix::unistd::Pid) -> Option<ExitStatus> {
    let fields = proc_stat(pid)?;
    let (state, ppid, status) = (fields.first()?, fields.get(1)?, fields.get(49)?);
    if *state != "Z" || ppid.parse::<i32>().ok()? != parent.as_raw() {
        return None;
    }
    let status: i32 = status.trim().parse().ok()?;
    Some(if status & 0x7f == 0 {
        ExitStatus::Exited((status >> 8) & 0xff)
    } else {
        ExitStatus::Signaled(status & 0x7f)
    })
}

/// After the kernel says the process exited, remind the server to reap
/// every [`NUDGE_EVERY`] for at most [`NUDGE_FOR`] (or until the status
/// comes). A SIGCHLD that arrives while tmux runs utempter's helper (it does
/// so when the pane's pty closes, blocking for a few milliseconds) is lost
/// too, so one reminder right at the exit is not enough.
const NUDGE_EVERY: Duration = Duration::from_millis(1);
const NUDGE_FOR: Duration = Duration::from_millis(250);

/// Remind the server now and then every [`NUDGE_EVERY`] for [`NUDGE_FOR`],
/// in a task of its own: it goes on after [`wait_exit`] has returned, so
/// that tmux reaps soon and the status is queryable there too.
fn spawn_nudges(server: Option<nix::unistd::Pid>) {
    if server.is_none() {
        return;
    }
    nudge(server);
    tokio::spawn(async move {
        let until = Instant::now() + NUDGE_FOR;
        while Instant::now() < until {
            tokio::time::sleep(NUDGE_EVERY).await;
            nudge(server);
        }
    });
}

/// tmux built with libutempter (Debian's and Ubuntu's packages) can lose a
/// SIGCHLD: while utempter runs its helper (when a pane's pty closes, which
/// is also when its process exits) it has its own SIGCHLD handler in place
/// (tmux issue #311, seen here on 3.3a). The pane then reads dead with no
/// status, and the process stays a zombie until the server gets another
/// SIGCHLD. Sending one is the workaround tmux's maintainer gave; its only
/// effect is that the server reaps what has exited.
pub(crate) fn nudge(server: Option<nix::unistd::Pid>) {
    if let Some(pid) = server {
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGCHLD);
    }
}

/// A failed query about a pane that no longer exists means it is gone.
fn gone(e: ClientError, pane: PaneId) -> WatchError {
    match &e {
        ClientError::Command { message, .. } if message.contains("can't find") => {
            WatchError::PaneGone(pane)
        }
        _ => WatchError::Client(e),
    }
}

/// Wait until the process in `pane` has exited, and return how. If it has
/// already exited (and the status was kept), this returns at once; the
/// status stays queryable with [`exit_status`] until the pane is killed.
///
/// How it works, and why it cannot miss the exit:
/// 1. It installs [`exit_reporting`] for the pane (the global `pane-died`
///    hook entry and `remain-on-exit on`). A pane whose process exits while
///    `remain-on-exit` is off disappears with its status:
///    [`WatchError::PaneGone`].
/// 2. It opens a second connection (a `wait-for` blocks its connection's
///    command queue) attached to the pane's session, and writes three
///    commands to it in one piece: the status query, `wait-for`
///    [`EXIT_CHANNEL`], and the status query again. tmux runs the first two
///    in one pass of its command queue, and handles exits only between
///    passes, so the exit is either in the first answer or signals the
///    channel afterwards. The third answer comes when the channel is
///    signalled (tmux 3.3a answers the `wait-for` itself at once, before
///    it blocks). A wake-up for another pane, or for a channel signalled
///    earlier with nobody waiting, only costs one more look.
/// 3. A window or session closing also triggers a look, so a pane that was
///    killed gives `PaneGone` instead of waiting for the timeout (or,
///    when the pidfd of step 4 sees it first, `Signaled(1)`: killing a pane
///    sends its process SIGHUP).
///
/// 4. tmux built with libutempter (Debian's and Ubuntu's packages) loses
///    the SIGCHLD of a pane's process now and then, and on this machine for
///    nearly every exit (see [`nudge`]): the process stays a zombie, with no
///    status and no hook. So `wait_exit` also watches the process itself
///    through a pidfd (the kernel says when it exits, no polling) and then
///    sends the server a SIGCHLD every millisecond until the status comes
///    (at most 250 ms; tmux is blocked in utempter's helper for the first
///    few), each costing tmux one `waitpid`; as a backstop
///    (no pidfd: another pid namespace, an old kernel) it sends one every
///    second while it waits. A signal is not a command: all it makes tmux do
///    is reap what has exited, which then fires the hook. A
///    `refresh-client -B` subscription cannot serve as the backstop: tmux
///    3.3a skips pane subscriptions once the pane's pty has closed.
///
/// The process watched is the one the pane runs when the wait begins; a
/// wait begun before a `respawn-pane -k` reports the end of the process
/// that was replaced.
///
/// The hook is tmux's own event: nothing is polled, and tmux reports it in
/// the same event-loop pass that reaps the child. The alternative, an
/// in-band marker printed after the command, needs a wrapper shell around
/// the user's command (changing its pid and its signal status) and cannot
/// see a process killed from outside with its real signal.
pub async fn wait_exit(
    client: &Client,
    pane: PaneId,
    timeout: Duration,
) -> Result<ExitStatus, WatchError> {
    let deadline = Instant::now() + timeout;
    tokio::time::timeout_at(deadline, exit_of(client, pane))
        .await
        .unwrap_or(Err(WatchError::Timeout(timeout)))
}

async fn exit_of(client: &Client, pane: PaneId) -> Result<ExitStatus, WatchError> {
    // The caller's client hears windows and sessions close; the watcher
    // cannot, since tmux holds its notifications behind the open `wait-for`.
    let mut events = client.events();
    for command in exit_reporting(pane) {
        client.command(command).await.map_err(|e| gone(e, pane))?;
    }
    let pids = local_pids(client, pane).await;
    let server = pids.map(|(server, _)| server);
    let process = ProcessExit::open(pids.map(|(_, process)| process));
    let mut process_running = true;
    let target = pane.to_string();
    // The watcher only runs `wait-for` and status queries: no output.
    let attach = [
        "attach-session",
        "-f",
        QUIET_ATTACH_FLAGS,
        "-t",
        target.as_str(),
    ]
    .map(String::from)
    .to_vec();
    let watcher = client
        .connect_again(attach)
        .await
        .map_err(|e| gone(e, pane))?;
    let wait = ["wait-for", EXIT_CHANNEL].map(String::from).to_vec();
    loop {
        // tmux 3.3a writes `%end` for a `wait-for` at once and only then
        // blocks the queue, so the wake-up is the answer to the command
        // queued behind it.
        let mut pending = watcher
            .enqueue_together([status_query(pane), wait.clone(), status_query(pane)])
            .await?;
        let after = pending.pop().expect("three commands");
        let before = pending.remove(0);
        let look = parse_status(pane, &before.await.map_err(|e| gone(e, pane))?)?;
        let look = settle(client, pane, look).await?;
        if let Some(status) = look.status {
            return Ok(status);
        }
        if look.unreaped {
            log::debug!("{pane} closed but not reaped; sending SIGCHLD to the server");
            nudge(server);
        }
        let mut after = std::pin::pin!(after);
        let mut backstop = tokio::time::interval_at(Instant::now() + BACKSTOP, BACKSTOP);
        loop {
            tokio::select! {
                _ = backstop.tick() => nudge(server),
                () = process.exited(), if process_running => {
                    process_running = false;
                    // Read the status before the reminders let tmux reap it.
                    let zombie = pids.and_then(|(server, pid)| zombie_status(pid, server));
                    spawn_nudges(server);
                    // Otherwise tmux, once reminded, signals the channel.
                    if let Some(status) = zombie {
                        // tmux will hold the same status once it reaps.
                        return Ok(status);
                    }
                }
                result = &mut after => match result {
                    Ok(reply) => match settle(client, pane, parse_status(pane, &reply)?).await?.status {
                        Some(status) => return Ok(status),
                        // Another pane died: look again.
                        None => break,
                    },
                    // The watcher's session ended: one last look.
                    Err(e) => return match exit_status(client, pane).await? {
                        Some(status) => Ok(status),
                        None => Err(gone(e, pane)),
                    },
                },
                event = events.recv() => {
                    let look = match event {
                        Ok(ClientEvent::Notification(n)) => matches!(
                            n,
                            Notification::WindowClose { .. }
                                | Notification::UnlinkedWindowClose { .. }
                                | Notification::SessionsChanged
                        ),
                        Ok(ClientEvent::Closed(_)) | Err(_) => true,
                        Ok(_) => false,
                    };
                    if look {
                        // The watcher is blocked; ask on the caller's client.
                        if let Some(status) = exit_status(client, pane).await? {
                            return Ok(status);
                        }
                        if let Some(reason) = client.closed_reason() {
                            return Err(WatchError::Closed(reason));
                        }
                    }
                }
            }
        }
    }
}

/// Whether a `#{pane_current_command}` is an interactive shell.
pub fn is_shell(command: &str) -> bool {
    let name = command
        .rsplit('/')
        .next()
        .unwrap_or(command)
        .trim_start_matches('-');
    matches!(
        name,
        "sh" | "bash"
            | "zsh"
            | "fish"
            | "dash"
            | "ksh"
            | "mksh"
            | "tcsh"
            | "csh"
            | "ash"
            | "nu"
            | "elvish"
            | "xonsh"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signal_tmux_3_2_writes_on_a_dead_pane() {
        let screen = |lines: &[&str]| -> Vec<bytes::Bytes> {
            lines
                .iter()
                .map(|l| bytes::Bytes::from(l.to_string()))
                .collect()
        };
        let dead = screen(&[
            "$ sleep 100",
            "",
            "Pane is dead (signal TERM, Wed Dec  2 04:01:02 2026)",
            "",
            "",
        ]);
        assert_eq!(dead_signal_on_screen(&dead), Some(ExitStatus::Signaled(15)));
        // The same text earlier on the screen is the process's, not tmux's.
        let printed = screen(&["Pane is dead (signal TERM, x)", "still running"]);
        assert_eq!(dead_signal_on_screen(&printed), None);
        assert_eq!(
            dead_signal_on_screen(&screen(&["Pane is dead (status 3, x)"])),
            None
        );
        assert!(reports_dead_signal(Some("3.3a")));
        assert!(!reports_dead_signal(Some("3.2a")) && !reports_dead_signal(None));
    }

    #[test]
    fn shells() {
        assert!(is_shell("bash") && is_shell("-zsh") && is_shell("/bin/sh"));
        assert!(!is_shell("python3") && !is_shell("vim") && !is_shell(""));
    }
}
