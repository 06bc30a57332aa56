//! Waiting for a pane's process to exit, and reading how it ended.
//!
//! tmux tells control clients nothing when a process exits (pane
//! subscriptions even stop at the death), so [`wait_exit`] uses one of two
//! strategies, chosen once per wait:
//!
//! - **Local** (Linux, the server in our pid namespace): a pidfd on the
//!   pane's process wakes the wait the moment the kernel reports the exit,
//!   and the status is read from the zombie (`/proc/PID/stat`) before tmux
//!   reaps it. See [`crate::os`].
//! - **Via the server** (anywhere else, or when the local view fails): a
//!   global `pane-died` hook entry (index 4242, beside a user's own)
//!   runs `wait-for -S tmux-wire-pane-died`, and a second control connection
//!   waits in `wait-for` on that channel.
//!
//! Both install [`exit_reporting`] first, so the status stays queryable with
//! [`exit_status`] after the wait.

use super::pids::local_pids;
use super::{gone, WatchError};
use crate::client::commands::{self, OptionValue};
use crate::client::{Client, ClientError, ClientEvent, ErrorKind, QUIET_ATTACH_FLAGS};
use crate::os::process::{process_ending, process_running, LocalPane};
use crate::os::reaper;
use crate::os::ExitStatus;
use crate::protocol::{version_at_least, Command, FormatQuery, Notification, PaneId, Reply};
use std::sync::LazyLock;
use std::time::Duration;
use tokio::time::Instant;

impl ExitStatus {
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
        crate::os::process::signal_number(&name).map(ExitStatus::Signaled)
    }
}

/// The wait channel the exit hook signals.
pub(crate) const EXIT_CHANNEL: &str = "tmux-wire-pane-died";
/// The index of tmux-wire's entry in the global `pane-died` hook array, so
/// that it adds to a user's hooks instead of replacing them.
pub(crate) const EXIT_HOOK_INDEX: u32 = 4242;

/// The commands that make a server report exits to [`wait_exit`]: the
/// global hook entry, and `remain-on-exit` on `pane` so the status (and
/// the pane's last screen) is kept after the exit. Idempotent. A process
/// that is started after these ran never escapes the wait; the keeper runs
/// them before it starts the real command.
pub fn exit_reporting(pane: PaneId) -> [Command; 2] {
    let hook = format!("pane-died[{EXIT_HOOK_INDEX}]");
    let signal = format!("wait-for -S {EXIT_CHANNEL}");
    [
        commands::set_global_hook(&hook, &signal),
        commands::set_pane_option(pane, "remain-on-exit", "on"),
    ]
}

/// A pane whose `remain-on-exit` [`report_exits`] turned on, to put back
/// with [`ExitReporting::restore`] (or by tmux, if this process is gone
/// before it can: see [`report_exits`]).
#[derive(Debug)]
pub struct ExitReporting {
    pane: PaneId,
    /// This wait's entry in the global `client-detached` hook.
    hook: String,
}

/// The pane option that keeps a pane's own `remain-on-exit` from before any
/// tmux-wire wait changed it (`-` when it had none), set by the first of
/// several waits that overlap.
const SAVED_REMAIN: &str = "@tmux-wire-remain-on-exit";
/// The pane option that counts the tmux-wire waits on a pane; the last to
/// end puts `remain-on-exit` back.
const WAITS: &str = "@tmux-wire-waits";
/// Where the indexes of the waits' entries in the `client-detached` hook
/// begin (clear of a user's own, which are numbered from 0).
const DETACHED_HOOK_BASE: u64 = 1_000_000;

/// The waits of this process, numbered (see [`hook_index`]).
static WAITS_HERE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// How many indexes each client pid has (see [`hook_index`]).
const PER_PID: u64 = 100;

/// The index of a wait's own entry in the global `client-detached` hook,
/// with nothing kept on the server to number the waits: from the pid tmux
/// sees for the wait's connection (`client_pid`: no two live clients of a
/// server share it, and pids stay below 21,460,000 on Linux) and this
/// process's count of its waits (its connections share that pid), skipping
/// indexes already in use (`hooks`: the hook's entries as `show-hooks`
/// lists them). Below 2^31: tmux 3.3 and later refuse a larger index.
fn hook_index(client_pid: u64, hooks: &str) -> Option<u64> {
    let base = DETACHED_HOOK_BASE + (client_pid % 21_460_000) * PER_PID;
    (0..PER_PID).find_map(|_| {
        let here = WAITS_HERE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let index = base + here % PER_PID;
        let entry = format!("client-detached[{index}] ");
        (!hooks.lines().any(|l| l.starts_with(&entry))).then_some(index)
    })
}

/// A pane option's value as `show-options -p -v` gives it.
async fn pane_option(
    client: &Client,
    pane: PaneId,
    option: &str,
    which: OptionValue,
) -> Result<String, WatchError> {
    let reply = client
        .command(commands::show_pane_option(pane, option, which))
        .await
        .map_err(|e| gone(e, pane))?;
    Ok(reply.text())
}

/// Whether tmux's name for a client can stand in a match pattern as it is
/// (`client-PID`, or a tty's path).
fn plain_client_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
}

/// The command list of a wait's `client-detached` entry (`hook`): when no
/// client named `client` is attached to any session any more (the wait's
/// connection ended without [`ExitReporting::restore`]: its process was
/// killed), count the wait out of `pane`, and if it was the last, do what
/// `restore` does: put `remain-on-exit` back as it was (unset or a value of
/// the pane's own), and close the pane if its process has ended and tmux
/// would have closed it with that setting. The entry removes itself first.
/// tmux runs it whenever any client detaches; while the wait's client is
/// there it does nothing. Pure tmux commands (3.2 and later), so it needs
/// nothing of ours to run.
fn undo_when_gone(hook: &str, client: &str, pane: PaneId) -> String {
    let gone = "#{?#{m:*#,CLIENT#,*,#,#{S:#{session_attached_list}#,}},,1}";
    let closes = "#{&&:#{pane_dead},#{||:#{==:#{remain-on-exit},off},\
                  #{&&:#{==:#{remain-on-exit},failed},#{==:#{pane_dead_status},0}}}}";
    let text = [
        "if-shell -F 'GONE' {",
        " set-hook -gu 'HOOK' ;",
        " set-option -p -F -t PANE WAITS '#{e|-:#{WAITS},1}' ;",
        " if-shell -F -t PANE '#{e|<:#{WAITS},1}' {",
        "  if-shell -F -t PANE '#{==:#{SAVED},-}' { set-option -p -u -t PANE remain-on-exit } ;",
        "  if-shell -F -t PANE '#{&&:#{SAVED},#{!=:#{SAVED},-}}'",
        "   { set-option -p -F -t PANE remain-on-exit '#{SAVED}' } ;",
        "  set-option -p -u -t PANE SAVED ;",
        "  set-option -p -u -t PANE WAITS ;",
        "  if-shell -F -t PANE 'CLOSES' { kill-pane -t PANE }",
        " }",
        "}",
    ]
    .map(str::trim)
    .join(" ");
    // The client's name last: nothing replaces a word in it.
    text.replace("GONE", gone)
        .replace("CLOSES", closes)
        .replace("HOOK", hook)
        .replace("PANE", &pane.to_string())
        .replace("WAITS", WAITS)
        .replace("SAVED", SAVED_REMAIN)
        .replace("CLIENT", client)
}

/// [`exit_reporting`] on `pane`, keeping its `remain-on-exit` first, for a
/// pane that is not ours to change for good (a session someone else
/// started: a shell recipe's `has-session || new` must still see its
/// session go when its process ends).
///
/// What it changes is undone by [`ExitReporting::restore`], and by tmux
/// itself if this process ends first, however it ends (SIGKILL too): an
/// entry of the global `client-detached` hook, which tmux runs when a
/// client's connection ends, counts the wait out once `client` is no longer
/// attached (see `undo_when_gone`). So `client` must be attached to a
/// session ([`WatchError::Unsupported`] otherwise), and be the connection
/// that lives as long as the wait. Overlapping waits on a pane are counted;
/// the last one out, whichever way it goes, puts the setting back.
pub async fn report_exits(client: &Client, pane: PaneId) -> Result<ExitReporting, WatchError> {
    let answers: Vec<String> = client
        .commands([
            commands::show_pane_option(pane, "remain-on-exit", OptionValue::Own),
            commands::display(pane, "#{client_name}"),
            commands::display(pane, "#{client_session}"),
            commands::display(pane, "#{client_pid}"),
            commands::show_global_hook("client-detached"),
        ])
        .await
        .map_err(|e| gone(e, pane))?
        .iter()
        .map(Reply::text)
        .collect();
    let [own, name, session, pid, hooks] = &answers[..] else {
        unreachable!("five commands");
    };
    if session.is_empty() || !plain_client_name(name) {
        return Err(WatchError::Unsupported(format!(
            "cannot leave {pane} as it was found if this process is killed: the connection ({name}) is not attached to a session"
        )));
    }
    let Ok(pid) = pid.trim().parse::<u64>() else {
        return Err(WatchError::Unsupported(format!(
            "tmux gave the pid of this wait's connection as {pid:?}, not a number"
        )));
    };
    let Some(index) = hook_index(pid, hooks) else {
        return Err(WatchError::Unsupported(format!(
            "cannot leave {pane} as it was found if this process is killed: {PER_PID} waits of this connection's process are on the server already"
        )));
    };
    let hook = format!("client-detached[{index}]");
    let own = if own.is_empty() { "-" } else { own.as_str() };
    let count = format!("#{{e|+:#{{?{WAITS},#{{{WAITS}}},0}},1}}");
    let [died, remain] = exit_reporting(pane);
    // One write, so tmux runs them back to back: the entry that undoes it
    // is there before anything changes. Only the first of overlapping
    // waits saves the value (`-o`: "already set" for the others, which is
    // fine); each counts itself in.
    let pending = client
        .enqueue_together([
            commands::set_global_hook(&hook, &undo_when_gone(&hook, name, pane)),
            commands::set_pane_option_once(pane, SAVED_REMAIN, own),
            commands::set_pane_option_format(pane, WAITS, &count),
            died,
            remain,
        ])
        .await?;
    for (i, reply) in pending.into_iter().enumerate() {
        match reply.await {
            Ok(_) => {}
            Err(e) if i == 1 && e.is(ErrorKind::AlreadySet) => {}
            Err(e) => return Err(gone(e, pane)),
        }
    }
    Ok(ExitReporting { pane, hook })
}

impl ExitReporting {
    /// Count this wait out; the last one puts the pane's `remain-on-exit`
    /// back as it was before any wait. If the process has exited meanwhile
    /// and, with the old setting, tmux would have closed the pane, close it
    /// now (its session goes with it if it was the last), as it would have
    /// happened without the waits.
    pub async fn restore(self, client: &Client) -> Result<(), WatchError> {
        let pane = self.pane;
        let less = format!("#{{e|-:#{{{WAITS}}},1}}");
        // Its hook entry goes in the same write: the wait is counted out
        // once, here or by tmux.
        let mut pending = client
            .enqueue_together([
                commands::unset_global_hook(&self.hook),
                commands::set_pane_option_format(pane, WAITS, &less),
                commands::show_pane_option(pane, WAITS, OptionValue::Own),
            ])
            .await?;
        let left = pending.pop().expect("three commands").await;
        let counted = pending.pop().expect("three commands").await;
        pending.pop().expect("three commands").await?;
        match (counted, left) {
            (Ok(_), Ok(left)) => {
                let left: i64 = left.parse().unwrap_or(0);
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
            // Not a pidfd (`LocalPane`): a process tmux
            // has reaped since the look above has none (then the status
            // is there to read).
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
        let saved = pane_option(client, self.pane, SAVED_REMAIN, OptionValue::Own).await?;
        let put_back = match saved.as_str() {
            // Put back already (a wait of an older tmux-wire).
            "" => None,
            "-" => Some(commands::unset_pane_option(pane, "remain-on-exit")),
            value => Some(commands::set_pane_option(pane, "remain-on-exit", value)),
        };
        let mut batch: Vec<Command> = put_back.into_iter().collect();
        batch.push(commands::unset_pane_option(pane, SAVED_REMAIN));
        batch.push(commands::unset_pane_option(pane, WAITS));
        client.commands(batch).await.map_err(|e| gone(e, pane))?;
        let Some(status) = status else {
            return Ok(());
        };
        let setting =
            pane_option(client, self.pane, "remain-on-exit", OptionValue::InForce).await?;
        let stays = match setting.as_str() {
            "on" => true,
            "failed" => status != ExitStatus::Exited(0),
            _ => false,
        };
        if !stays {
            match client.command(commands::kill_pane(pane)).await {
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
        .command(commands::capture(pane))
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

fn status_query(pane: PaneId) -> Command {
    commands::display(pane, STATUS.format())
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

/// Wait until the process in `pane` has exited, and return how. If it has
/// already exited (and the status was kept), this returns at once; the
/// status stays queryable with [`exit_status`] until the pane is killed.
///
/// First it installs [`exit_reporting`] for the pane (the global
/// `pane-died` hook entry and `remain-on-exit on`). A pane whose process
/// exits while `remain-on-exit` is off disappears with its status:
/// [`WatchError::PaneGone`]. Then it waits in one of two ways (see the
/// module docs): locally when it can see the process, otherwise via the
/// server. A window or session closing makes it look again, so a pane that
/// was killed gives `PaneGone` instead of waiting for the timeout (or
/// `Signaled(1)` when the kernel's word comes first: killing a pane sends
/// its process SIGHUP).
///
/// The process watched is the one the pane runs when the wait begins; a
/// wait begun before a `respawn-pane -k` reports the end of the process
/// that was replaced.
///
/// An in-band marker printed after the command was rejected: it needs a
/// wrapper shell around the user's command (changing its pid and its
/// signal status) and cannot see a process killed from outside with its
/// real signal.
pub async fn wait_exit(
    client: &Client,
    pane: PaneId,
    timeout: impl Into<Option<Duration>>,
) -> Result<ExitStatus, WatchError> {
    let timeout = super::limit(timeout);
    let deadline = Instant::now() + timeout;
    tokio::time::timeout_at(deadline, async {
        arm_exit(client, pane, ExitWatch::Auto)
            .await?
            .wait_until(deadline, timeout)
            .await
    })
    .await
    .unwrap_or(Err(WatchError::Timeout(timeout)))
}

/// How a wait for an exit learns of it (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ExitWatch {
    /// Locally where this process can see the pane's process, otherwise
    /// via the server.
    #[default]
    Auto,
    /// Via the server, even where the local view would do.
    ViaServer,
}

/// A wait for an exit that is armed: from here on the exit cannot be
/// missed, and its status is kept. Then [`ArmedExit::wait`].
pub struct ArmedExit {
    client: Client,
    pane: PaneId,
    events: tokio::sync::broadcast::Receiver<ClientEvent>,
    local: Option<LocalPane>,
    /// The server's pid, if it is a process we may signal.
    server: Option<rustix::process::Pid>,
}

/// Arm a wait for `pane`'s process to exit: install [`exit_reporting`] and
/// choose how to learn of the exit.
pub async fn arm_exit(
    client: &Client,
    pane: PaneId,
    how: ExitWatch,
) -> Result<ArmedExit, WatchError> {
    // The caller's client hears windows and sessions close; a watcher
    // connection cannot, since tmux holds its notifications behind the
    // open `wait-for`.
    let events = client.events();
    client
        .commands(exit_reporting(pane))
        .await
        .map_err(|e| gone(e, pane))?;
    let pids = local_pids(client, pane).await;
    let local = match how {
        ExitWatch::Auto => pids.and_then(|(server, process)| LocalPane::open(server, process)),
        ExitWatch::ViaServer => None,
    };
    Ok(ArmedExit {
        client: client.clone(),
        pane,
        events,
        local,
        server: pids.map(|(server, _)| server),
    })
}

impl ArmedExit {
    /// Wait until the process has exited, for at most `timeout`.
    pub async fn wait(
        self,
        timeout: impl Into<Option<Duration>>,
    ) -> Result<ExitStatus, WatchError> {
        let timeout = super::limit(timeout);
        self.wait_until(Instant::now() + timeout, timeout).await
    }

    async fn wait_until(
        mut self,
        deadline: Instant,
        timeout: Duration,
    ) -> Result<ExitStatus, WatchError> {
        tokio::time::timeout_at(deadline, async {
            let (client, pane) = (&self.client, self.pane);
            if let Some(local) = &self.local {
                if let Some(status) =
                    exit_seen_locally(client, pane, local, &mut self.events).await?
                {
                    return Ok(status);
                }
            }
            // No local view, or the process was reaped before its status
            // could be read here: tmux has it, or will tell.
            exit_via_server(client, pane, self.server, self.events).await
        })
        .await
        .unwrap_or(Err(WatchError::Timeout(timeout)))
    }
}

/// Whether an event may mean the pane went away (or the connection did).
fn may_be_gone(event: &Result<ClientEvent, tokio::sync::broadcast::error::RecvError>) -> bool {
    match event {
        Ok(ClientEvent::Notification(n)) => matches!(
            n,
            Notification::WindowClose { .. }
                | Notification::UnlinkedWindowClose { .. }
                | Notification::SessionsChanged
        ),
        Ok(ClientEvent::Closed(_)) | Err(_) => true,
        Ok(_) => false,
    }
}

/// Look again after [`may_be_gone`]: the status if there is one, an error
/// if the pane or the connection is gone, `None` to go on waiting.
async fn look_again(client: &Client, pane: PaneId) -> Result<Option<ExitStatus>, WatchError> {
    if let Some(status) = exit_status(client, pane).await? {
        return Ok(Some(status));
    }
    match client.closed_reason() {
        Some(reason) => Err(WatchError::Closed(reason)),
        None => Ok(None),
    }
}

/// Whether the server outlived the exit the kernel just reported: a
/// pane's process also dies when the server does (a server killed with
/// SIGKILL closes the pane's terminal, and the process gets SIGHUP), and
/// the kernel may report that death before the connection's end. So the
/// server is asked: an answer, an error too (the pane is gone), means it is
/// there and the exit is the process's own. A connection that closed
/// instead is the server's death only if the server is dying or gone (it
/// also closes when the pane's session is killed); a server killed cannot
/// answer, and its end closes the connection, so this never waits long.
async fn server_outlived_it(
    client: &Client,
    pane: PaneId,
    server: rustix::process::Pid,
) -> Result<(), WatchError> {
    match client.command(status_query(pane)).await {
        Err(ClientError::Closed(reason))
            if process_ending(server.as_raw_pid()) || reason.server_ended() =>
        {
            Err(WatchError::Closed(reason))
        }
        _ => Ok(()),
    }
}

/// The local strategy: tmux's answer if it has one, else the kernel's word
/// through the pidfd and the zombie's status. `None` when the process was
/// reaped before its status could be read.
async fn exit_seen_locally(
    client: &Client,
    pane: PaneId,
    local: &LocalPane,
    events: &mut tokio::sync::broadcast::Receiver<ClientEvent>,
) -> Result<Option<ExitStatus>, WatchError> {
    // The pidfd was opened before this look: an exit after it wakes it.
    if let Some(status) = exit_status(client, pane).await? {
        return Ok(Some(status));
    }
    loop {
        tokio::select! {
            () = local.exited() => {
                // Read the status before the reminders let tmux reap it;
                // tmux will hold the same one once it has.
                let status = local.zombie_status();
                reaper::after_exit(local.server);
                server_outlived_it(client, pane, local.server).await?;
                return Ok(status);
            }
            event = events.recv() => {
                if may_be_gone(&event) {
                    if let Some(status) = look_again(client, pane).await? {
                        return Ok(Some(status));
                    }
                }
            }
        }
    }
}

/// The strategy via the server. A second connection, attached to the
/// pane's session, gets three commands in one write: the status query,
/// `wait-for` [`EXIT_CHANNEL`], and the status query again. tmux runs the
/// first two in one pass of its command queue and handles exits only
/// between passes, so the exit is either in the first answer or signals
/// the channel afterwards; the third answer comes when it is signalled
/// (tmux 3.3a answers the `wait-for` itself at once, before it blocks). A
/// wake-up for another pane, or for a channel signalled earlier with nobody
/// waiting, only costs one more look.
///
/// `server` is the tmux server's pid when it is a process we may signal:
/// then a pane whose pty closed but whose process tmux has not reaped gets
/// reminders ([`reaper::after_exit`]), and the server one every
/// [`reaper::BACKSTOP`] while the wait goes on.
async fn exit_via_server(
    client: &Client,
    pane: PaneId,
    server: Option<rustix::process::Pid>,
    mut events: tokio::sync::broadcast::Receiver<ClientEvent>,
) -> Result<ExitStatus, WatchError> {
    // The watcher only runs `wait-for` and status queries: no output.
    let attach = commands::attach(pane, QUIET_ATTACH_FLAGS).to_strings();
    let watcher = client
        .connect_again(attach)
        .await
        .map_err(|e| gone(e, pane))?;
    loop {
        let mut pending = watcher
            .enqueue_together([
                status_query(pane),
                commands::wait_for(EXIT_CHANNEL),
                status_query(pane),
            ])
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
            if let Some(server) = server {
                reaper::after_exit(server);
            }
        }
        let mut after = std::pin::pin!(after);
        let mut backstop =
            tokio::time::interval_at(Instant::now() + reaper::BACKSTOP, reaper::BACKSTOP);
        loop {
            tokio::select! {
                _ = backstop.tick(), if server.is_some() => reaper::remind(server),
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
                    if may_be_gone(&event) {
                        // The watcher is blocked; ask on the caller's client.
                        if let Some(status) = look_again(client, pane).await? {
                            return Ok(status);
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hook_indexes_are_the_pids_own_and_skip_entries_in_use() {
        let first = hook_index(4_194_304, "client-detached\n").unwrap();
        let range = DETACHED_HOOK_BASE + 4_194_304 * PER_PID;
        assert!((range..range + PER_PID).contains(&first));
        // The largest pid Linux gives stays below tmux's limit (2^31).
        const { assert!(DETACHED_HOOK_BASE + 21_459_999 * PER_PID + PER_PID < 1 << 31) };
        // Every index of the pid in use but one: that one.
        let free = range + (first + 7 - range) % PER_PID;
        let hooks: String = (range..range + PER_PID)
            .filter(|&i| i != free)
            .map(|i| format!("client-detached[{i}] display-message x\n"))
            .collect();
        assert_eq!(hook_index(4_194_304, &hooks), Some(free));
        let all = format!("{hooks}client-detached[{free}] display-message x\n");
        assert_eq!(hook_index(4_194_304, &all), None);
    }

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
    fn the_undo_tmux_runs_for_a_killed_wait() {
        let hook = "client-detached[1000007]";
        let text = undo_when_gone(hook, "client-4321", PaneId(5));
        assert!(text.starts_with(
            "if-shell -F '#{?#{m:*#,client-4321#,*,#,#{S:#{session_attached_list}#,}},,1}' { set-hook -gu 'client-detached[1000007]' ;"
        ), "{text}");
        assert!(
            text.contains("set-option -p -u -t %5 remain-on-exit"),
            "{text}"
        );
        assert!(text.contains("{ kill-pane -t %5 }"), "{text}");
        for placeholder in ["GONE", "CLOSES", "HOOK", "PANE", "WAITS", "SAVED", "CLIENT"] {
            assert!(!text.contains(placeholder), "{placeholder} in {text}");
        }
        assert!(!text.contains('\n') && !text.contains("  "), "{text}");
        assert_eq!(text.matches('{').count(), text.matches('}').count());
        assert!(plain_client_name("client-4321") && plain_client_name("/dev/pts/3"));
        assert!(!plain_client_name("") && !plain_client_name("a,b") && !plain_client_name("x*"));
    }
}
