//! The lifecycle events of every process on the socket, as they happen:
//! started, ready, exited, restarted, stopped for running too long,
//! waiting for input; and the end of the server.
//!
//! Nothing is polled. tmux itself says when to look: global hook entries
//! (index [`super::EVENTS_HOOK_INDEX`], installed and removed by `keeper/hooks.rs`) on `session-created`, `session-closed`
//! and `pane-died` signal the wait channel [`EVENTS_CHANNEL`], and so do
//! the keeper's own steps that change a process without such a hook (a
//! start's respawn and readiness, a restart, an expiry). The stream waits
//! on the channel as a plain tmux client (`wait-for`, no control
//! connection and no session needed), and on each wake-up compares the
//! list of processes with the last one. A signal that comes while it is
//! comparing is kept by tmux for the next `wait-for`, so none is lost.
//! Waiting for input is seen per running process when its log goes quiet
//! ([`crate::watch::input`]).

mod changes;

pub use changes::LifecycleEvent;

use super::hooks::{Machinery, ANSWER_WITHIN, EVENTS_CHANNEL};
use super::info::{ProcessInfo, State};
use super::{log, Keeper, KeeperError, Stopped};
use crate::client::{ClientError, CloseReason, ErrorKind};
use crate::protocol::Command;
use crate::server::{self, SocketState};
use crate::transport::{plain, Ending};
use crate::watch::{self, ExitStatus};
use changes::{changes, Seen};
use std::collections::HashMap;
use std::time::Duration;

/// How many looks in a row may meet a target gone under them (a session
/// killed while it was listed) before the stream fails with that error.
const TARGETS_GONE_AT_MOST: u32 = 10;

/// How often the stream compares the machinery ([`Machinery`]) while it
/// waits: a "look again" tmux forgot, or hooks another process removed.
const BACKSTOP: Duration = Duration::from_secs(1);

/// What a stream of lifecycle events does when the server goes away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnServerGone {
    /// End, after [`LifecycleEvent::ServerGone`].
    #[default]
    Stop,
    /// Go on for ever: wait for a server on the socket again and follow it
    /// too ([`LifecycleEvent::ServerBack`]).
    WaitForNext,
}

impl Keeper {
    /// Pass every lifecycle event on the socket to `emit`, from now on,
    /// until the server goes away ([`LifecycleEvent::ServerGone`], then
    /// `Ok`), or for ever, following each server that comes back on the
    /// socket, as `on_gone` says. Processes that run when it begins are
    /// not reported as started.
    pub async fn events(
        &self,
        on_gone: OnServerGone,
        mut emit: impl FnMut(LifecycleEvent),
    ) -> Result<(), KeeperError> {
        let follow_server = on_gone == OnServerGone::WaitForNext;
        let mut first = true;
        loop {
            match server::socket_state_async(&self.socket).await? {
                SocketState::Alive => {
                    if !first {
                        emit(LifecycleEvent::ServerBack);
                    }
                    let (reason, ending) = self.events_of_one_server(first, &mut emit).await?;
                    emit(LifecycleEvent::ServerGone { reason, ending });
                }
                _ if first && !follow_server => {
                    self.require_server().await?;
                }
                _ => {}
            }
            first = false;
            if !follow_server {
                return Ok(());
            }
            // Wait for a server to come back: the socket's directory says
            // when something changes there.
            let mut changes = log::LogWatch::new(&self.socket);
            while server::socket_state_async(&self.socket).await? != SocketState::Alive {
                let _ = tokio::time::timeout(Duration::from_secs(1), changes.changed()).await;
            }
        }
    }

    /// [`Keeper::events`] as a stream: a task of its own sends each event,
    /// then ends the channel (after an `Err` if the stream failed). Drop
    /// the receiver to stop it.
    ///
    /// ```no_run
    /// # async fn demo(keeper: tmux_wire::keeper::Keeper) {
    /// let mut events = keeper.event_stream(tmux_wire::keeper::OnServerGone::Stop);
    /// while let Some(Ok(event)) = events.recv().await {
    ///     println!("{event:?}");
    /// }
    /// # }
    /// ```
    pub fn event_stream(
        &self,
        on_gone: OnServerGone,
    ) -> tokio::sync::mpsc::UnboundedReceiver<Result<LifecycleEvent, KeeperError>> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let keeper = self.clone();
        tokio::spawn(async move {
            let sent = tx.clone();
            let emit = move |event| {
                let _ = sent.send(Ok(event));
            };
            tokio::select! {
                done = keeper.events(on_gone, emit) => {
                    if let Err(e) = done {
                        let _ = tx.send(Err(e));
                    }
                }
                () = tx.closed() => {}
            }
            // Its hooks stay only while a kept process needs them.
            if server::socket_state_async(&keeper.socket).await.ok() == Some(SocketState::Alive) {
                keeper.uninstall_if_unused().await;
            }
        });
        rx
    }

    /// The events of the server on the socket now, until it goes; returns
    /// why it went.
    async fn events_of_one_server(
        &self,
        quiet_start: bool,
        emit: &mut impl FnMut(LifecycleEvent),
    ) -> Result<(String, CloseReason), KeeperError> {
        if let Err(e) = self.install_event_hooks().await {
            return Ok((e.to_string(), ending_of(&e)));
        }
        let (input_tx, mut input_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
        let mut watchers: HashMap<String, (Option<u32>, tokio::task::JoinHandle<()>)> =
            HashMap::new();
        let mut seen: HashMap<String, Seen> = HashMap::new();
        // Names whose session went while their run was seen running, with
        // no end known: a `start` that replaces an ended run removes its
        // session before it makes the next, which then tells how the run
        // before it ended (see `changes`).
        let mut vanished: HashMap<String, Seen> = HashMap::new();
        // A task per log writer process, telling when it ends.
        let (writer_tx, mut writer_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
        let mut writer_watches = WriterWatches::default();
        let mut revived = std::collections::HashSet::new();
        // Whether the next look is one of ours, not tmux's.
        let mut own = false;
        let mut first = true;
        // Looks in a row that met a target gone under them.
        let mut targets_gone = 0;
        let wait = Command::from_argv(["wait-for", EVENTS_CHANNEL]);
        loop {
            // A server that is shutting down (kill-server wakes every
            // `wait-for`) holds a new client without answering until the
            // clients it has are gone: a live one answers in milliseconds.
            // Read before the list: whatever is said after it changes it.
            // Hooks another process removed (its last kept process went)
            // come back first.
            let mut machinery = self.machinery().await;
            if machinery.is_some_and(|m| !m.hooks) {
                if let Err(e) = self.install_event_hooks().await {
                    ::log::debug!("installing the event hooks again: {e}");
                }
                machinery = self.machinery().await;
            }
            let listed = tokio::time::timeout(ANSWER_WITHIN, self.list_with_server()).await;
            let own_look = std::mem::take(&mut own);
            let (mut list, server_pid) = match listed {
                Ok(Ok(list)) => {
                    targets_gone = 0;
                    list
                }
                // A look of our own (a log writer ended, or was started
                // again) may meet a server going away, which ends its
                // writers first: tmux's own wake-up says when it is gone.
                Ok(Err(_)) | Err(_) if own_look => {
                    if let Err(e) = plain::command(&self.socket, &wait).await {
                        abort_all(&mut watchers);
                        return Ok((e.to_string(), plain_ending(&e)));
                    }
                    continue;
                }
                // The connection closed under the look (a server that is
                // ending closes a new one at once, its socket still there),
                // or the socket is gone: the server's end.
                Ok(Err(e))
                    if e.kind() == super::FailureKind::ServerGone
                        || server::socket_state_async(&self.socket).await?
                            != SocketState::Alive =>
                {
                    abort_all(&mut watchers);
                    return Ok((e.to_string(), ending_of(&e)));
                }
                // A target that went during the look (a session killed
                // meanwhile): look again, a few times at most.
                Ok(Err(KeeperError::Client(e)))
                    if e.is(ErrorKind::NotFound) && targets_gone < TARGETS_GONE_AT_MOST =>
                {
                    targets_gone += 1;
                    ::log::debug!("the event stream's look: {e}; looking again");
                    continue;
                }
                Ok(Err(e)) => return Err(e),
                Err(_) => {
                    abort_all(&mut watchers);
                    return Ok((
                        "the server stopped answering (it is shutting down)".into(),
                        CloseReason::Ended(Ending::Shutdown),
                    ));
                }
            };
            for p in &list {
                // A start still setting up (its placeholder runs) is not a
                // process yet.
                if matches!(p.state, State::Starting | State::Abandoned) {
                    continue;
                }
                let gone_before = vanished.remove(&p.name);
                if !(first && quiet_start) {
                    let before = seen.get(&p.name).or(gone_before.as_ref());
                    for event in changes(&p.name, before, p) {
                        emit(event);
                    }
                }
                seen.insert(p.name.clone(), Seen::of(p));
                self.watch_input(p, &mut watchers, &input_tx);
            }
            // A writer that is gone comes back; its next state is told by
            // the look that follows, at once.
            // Once per loss: a writer that cannot be started at all is
            // told as stopped, not started again and again.
            let mut look_again = false;
            for p in list.iter_mut() {
                if !matches!(p.log_writer, Some(super::LogWriter::Stopped { .. })) {
                    revived.remove(&p.name);
                } else if revived.insert(p.name.clone()) {
                    self.revive_log_writer(p).await;
                    look_again = true;
                    let Some(writer @ super::LogWriter::Restarted { .. }) = &p.log_writer else {
                        // The server may be going away (its writers end
                        // with it): the next look tells, without waiting
                        // on it for the others.
                        break;
                    };
                    emit(LifecycleEvent::LogWriter {
                        name: p.name.clone(),
                        log_writer: writer.clone(),
                    });
                }
            }
            watch_writers(server_pid, &mut writer_watches.0, &writer_tx);
            let names: Vec<String> = seen.keys().cloned().collect();
            for name in names {
                if !list.iter().any(|p| p.name == name) {
                    let before = seen.remove(&name);
                    if let Some((_, task)) = watchers.remove(&name) {
                        task.abort();
                    }
                    // Its end fell between two looks, and its session went
                    // with it: a stop that kept the status recorded it.
                    if let Some(before) = before.filter(|b| !b.ended) {
                        if let Some(exit) = self.stopped_since(&name, before.looked).await {
                            emit(LifecycleEvent::Exited {
                                name: name.clone(),
                                exit,
                                code: exit.code(),
                            });
                        } else {
                            vanished.insert(name.clone(), before);
                        }
                    }
                    emit(LifecycleEvent::Gone { name });
                }
            }
            first = false;
            if look_again {
                own = true;
                continue;
            }
            // Until tmux says to look again, pass on input waits.
            let woke = plain::command(&self.socket, &wait);
            tokio::pin!(woke);
            let mut backstop = tokio::time::interval(BACKSTOP);
            backstop.tick().await;
            loop {
                tokio::select! {
                    woke = &mut woke => {
                        if let Err(e) = woke {
                            abort_all(&mut watchers);
                            return Ok((e.to_string(), plain_ending(&e)));
                        }
                        break;
                    }
                    _ = backstop.tick() => {
                        // A signal tmux forgot (see hooks::EVENTS_COUNT),
                        // or hooks that are gone.
                        let now = self.machinery().await;
                        if machinery.is_none() || now != machinery
                            || now.is_some_and(|m: Machinery| !m.hooks)
                        {
                            break;
                        }
                    }
                    Some(name) = input_rx.recv() => {
                        if seen.get(&name).is_some_and(|s| !s.ended) {
                            emit(LifecycleEvent::WaitingForInput { name });
                        }
                    }
                    // A log writer ended: look again.
                    Some(()) = writer_rx.recv() => {
                        own = true;
                        break;
                    }
                }
            }
        }
    }

    /// How `name`'s process ended, if a stop recorded after `since` saw it
    /// end (it interrupted the process, or found it exited); `None` for a
    /// stop that killed it, and where no stop ended it.
    async fn stopped_since(&self, name: &str, since: std::time::SystemTime) -> Option<ExitStatus> {
        let (written, how) = self.settled_stop_record(name).await.ok()??;
        match how {
            _ if written < since => None,
            Stopped::Interrupted { status } | Stopped::AlreadyExited { status } => Some(status),
            _ => None,
        }
    }

    /// Keep one input watcher per running process with a log (a new one
    /// for a new pid); none for ended ones.
    fn watch_input(
        &self,
        p: &ProcessInfo,
        watchers: &mut HashMap<String, (Option<u32>, tokio::task::JoinHandle<()>)>,
        tx: &tokio::sync::mpsc::UnboundedSender<String>,
    ) {
        let running = matches!(p.state, State::Running | State::Idle);
        let current = watchers.get(&p.name).map(|(pid, _)| *pid);
        if running && p.log.is_some() && current == Some(p.pid) {
            return;
        }
        if let Some((_, task)) = watchers.remove(&p.name) {
            task.abort();
        }
        let (true, Some(pid), Some(_)) = (running, p.pid, &p.log) else {
            return;
        };
        let Ok(pid) = i32::try_from(pid) else {
            return;
        };
        let path = self.log_path(&p.name);
        let name = p.name.clone();
        let tx = tx.clone();
        let task = tokio::spawn(async move {
            let mut changes = log::LogWatch::new(&path);
            loop {
                match watch::until_waiting_for_input(pid, &mut changes, None).await {
                    Ok(()) => {
                        if tx.send(name.clone()).is_err() {
                            return;
                        }
                        // Again only after it printed something.
                        if watch::input::Activity::printed(&mut changes).await.is_err() {
                            return;
                        }
                    }
                    // Not to be seen here (another system, ptrace rules).
                    Err(_) => return,
                }
            }
        });
        watchers.insert(p.name.clone(), (p.pid, task));
    }
}

/// The tasks of [`watch_writers`], ended when this is dropped.
#[derive(Default)]
struct WriterWatches(HashMap<i32, tokio::task::JoinHandle<()>>);

impl Drop for WriterWatches {
    fn drop(&mut self) {
        for (_, task) in self.0.drain() {
            task.abort();
        }
    }
}

/// Keep one task per log writer process of the server `server` (where
/// they can be seen) that sends on `tx` when it ends.
fn watch_writers(
    server: Option<rustix::process::Pid>,
    watches: &mut HashMap<i32, tokio::task::JoinHandle<()>>,
    tx: &tokio::sync::mpsc::UnboundedSender<()>,
) {
    let pids: Vec<i32> = server
        .and_then(super::writer::writers_of)
        .unwrap_or_default()
        .into_iter()
        .map(|(_, pid)| pid)
        .collect();
    watches.retain(|pid, task| {
        let keep = pids.contains(pid) && !task.is_finished();
        if !keep {
            task.abort();
        }
        keep
    });
    for pid in pids {
        watches.entry(pid).or_insert_with(|| {
            let tx = tx.clone();
            tokio::spawn(async move {
                let exit = crate::os::process::ProcessExit::open(Some(pid));
                if exit.is_open() {
                    exit.exited().await;
                    let _ = tx.send(());
                }
            })
        });
    }
}

fn abort_all(watchers: &mut HashMap<String, (Option<u32>, tokio::task::JoinHandle<()>)>) {
    for (_, (_, task)) in watchers.drain() {
        task.abort();
    }
}

/// How the connection ended, as an error that ended the event stream's
/// look says it; a server gone without a word where it says nothing of it
/// (the socket is gone, or the look could not be made).
fn ending_of(e: &KeeperError) -> CloseReason {
    match e {
        KeeperError::ServerGone { reason, .. }
        | KeeperError::Client(ClientError::Closed(reason)) => reason.clone(),
        KeeperError::Watch(watch::WatchError::Closed(reason)) => reason.clone(),
        _ => CloseReason::Ended(Ending::ServerGone),
    }
}

/// [`ending_of`] for the plain client that waits for tmux's signal.
fn plain_ending(e: &plain::PlainError) -> CloseReason {
    match e {
        plain::PlainError::Closed { ending, .. } => CloseReason::Ended(ending.clone()),
        _ => CloseReason::Ended(Ending::ServerGone),
    }
}
