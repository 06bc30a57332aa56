//! One control connection as a tokio actor, and a cheap cloneable handle.
//!
//! The actor owns the control stream: it writes command lines in the order
//! they were asked for, feeds what tmux writes into the protocol
//! [`Assembler`], pairs each `flags=1` reply with the oldest command still
//! waiting (tmux answers one control line with one block, in order), and
//! broadcasts everything else as [`ClientEvent`]s.
//!
//! When the session ends for any reason (detach, `kill-server`, the server
//! killed, the socket closed) every pending command resolves at once with
//! [`ClientError::Closed`] carrying the reason, and the event stream ends
//! with [`ClientEvent::Closed`]. Dropping the last handle closes the control
//! stream, which makes tmux detach the client cleanly.
//!
//! Pairing assumes one block per command line, which holds for every
//! simple command. Commands that queue other commands (`if-shell`,
//! `source-file`, `run-shell` callbacks, `confirm-before`, menus and prompts)
//! make extra blocks; those arrive as [`ClientEvent::UnpairedReply`] only
//! when nothing is waiting, so avoid them on a pipelined connection.

mod pane;

pub use pane::{PaneEvent, PaneOutput};

use crate::protocol::{Assembler, Command, Event, Notification, PaneId, ProtocolError, Reply};
use crate::server::SocketSpec;
use crate::transport::{direct, process, ControlPipe, Ending, TransportError, TransportInfo};
use bytes::BytesMut;
use pane::{Offer, Subscriber, PANE_QUEUE};
use std::collections::VecDeque;
use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{broadcast, mpsc, oneshot, watch};

/// Errors of the client layer.
#[derive(Debug, Clone, Error)]
pub enum ClientError {
    /// tmux answered the command with `%error`.
    #[error("tmux: {message}")]
    Command {
        /// tmux's message (the block's lines).
        message: String,
        /// The whole reply.
        reply: Box<Reply>,
    },
    /// The command could not be put on a control line.
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    /// Connecting failed.
    #[error(transparent)]
    Transport(Arc<TransportError>),
    /// tmux refused a command before running it: a parse error or an
    /// unknown command given as the initial command, which tmux reports on
    /// a line of its own (outside any reply block) before it ends the
    /// connection.
    #[error("tmux: {message}")]
    Rejected {
        /// tmux's message, exactly as it wrote it.
        message: String,
    },
    /// The session is over; the reason says why.
    #[error("connection closed: {0}")]
    Closed(String),
}

impl ClientError {
    /// tmux's own message, for an error tmux reported
    /// ([`ClientError::Command`], [`ClientError::Rejected`]).
    pub fn tmux_message(&self) -> Option<&str> {
        match self {
            ClientError::Command { message, .. } | ClientError::Rejected { message } => {
                Some(message)
            }
            _ => None,
        }
    }
}

impl From<TransportError> for ClientError {
    fn from(e: TransportError) -> Self {
        ClientError::Transport(Arc::new(e))
    }
}

/// What a connection reports besides command replies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientEvent {
    /// A notification, in stream order.
    Notification(Notification),
    /// A reply no command was waiting for (see the module docs).
    UnpairedReply(Reply),
    /// A line tmux sent that is not valid control-mode output.
    Invalid(String),
    /// The session ended; nothing follows.
    Closed(String),
}

/// Which transport to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TransportChoice {
    /// Direct, unless the probe says the server needs the process transport.
    #[default]
    Auto,
    /// The server socket, spoken to directly.
    Direct,
    /// A child `tmux -C`.
    Process,
}

/// How to connect.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// Which server.
    pub socket: SocketSpec,
    /// Which transport.
    pub transport: TransportChoice,
    /// The initial command; it must attach (default: `attach-session -f
    /// ATTACH_FLAGS`, to the most recently used session).
    pub command: Vec<String>,
    /// The tmux program for the process transport (default `tmux`, or
    /// `$TMUX_WIRE_TMUX`).
    pub tmux: Option<std::path::PathBuf>,
    /// How long the version probe may take.
    pub probe_timeout: Duration,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            socket: SocketSpec::default(),
            transport: TransportChoice::Auto,
            command: ["attach-session", "-f", ATTACH_FLAGS]
                .map(String::from)
                .to_vec(),
            tmux: None,
            probe_timeout: Duration::from_secs(5),
        }
    }
}

impl ConnectOptions {
    /// Attach to `session`, with the client flags of [`ATTACH_FLAGS`].
    pub fn attach(session: &str) -> Self {
        ConnectOptions {
            command: ["attach-session", "-f", ATTACH_FLAGS, "-t", session]
                .map(String::from)
                .to_vec(),
            ..Default::default()
        }
    }

    /// Use the socket at `path`.
    pub fn socket_path(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.socket = SocketSpec::Path(path.into());
        self
    }

    /// Use this transport.
    pub fn transport(mut self, choice: TransportChoice) -> Self {
        self.transport = choice;
        self
    }
}

/// Client flags for attaching: `ignore-size` so attaching never resizes
/// the session's windows (to 80x24 or otherwise), and `pause-after=10` so a
/// pane whose output waited 10 s in tmux is paused (and reported) instead
/// of the whole connection being dropped as "too far behind".
pub const ATTACH_FLAGS: &str = "ignore-size,pause-after=10";

/// Client flags for a connection that needs no pane output (it waits for
/// hooks or notifications): `ignore-size`, and `no-output`, so tmux sends
/// it no `%output` at all (3.2 and later).
pub const QUIET_ATTACH_FLAGS: &str = "ignore-size,no-output";

enum Request {
    /// One or more command lines, written in one piece.
    Command {
        lines: String,
        replies: Vec<oneshot::Sender<Result<Reply, ClientError>>>,
    },
    Subscribe {
        pane: PaneId,
        subscriber: Subscriber,
    },
    /// Close our input: tmux detaches this client.
    Detach,
}

/// Who waits for a reply.
enum Waiter {
    User(oneshot::Sender<Result<Reply, ClientError>>),
    /// A command the actor sent itself (flow control); its reply is dropped.
    Internal,
}

/// A handle to one control connection; clone it freely.
///
/// ```no_run
/// # async fn demo() -> Result<(), tmux_wire::client::ClientError> {
/// use tmux_wire::client::{Client, ConnectOptions};
/// let client = Client::connect(&ConnectOptions::attach("work").socket_path("/tmp/demo.sock")).await?;
/// let reply = client.command(["display-message", "-p", "#{session_name}"]).await?;
/// assert_eq!(reply.output(), b"work");
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    requests: mpsc::Sender<Request>,
    drained: mpsc::UnboundedSender<PaneId>,
    events: broadcast::Sender<ClientEvent>,
    closed: watch::Receiver<Option<String>>,
    info: Arc<TransportInfo>,
    /// How this connection was made (with the socket resolved), so a
    /// second one can be opened to the same server; `None` for
    /// [`Client::from_pipe`].
    origin: Option<Arc<ConnectOptions>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

/// How many commands may wait to be written before `command` waits too.
const REQUEST_QUEUE: usize = 4096;
/// Events kept for a slow receiver before it is told it lagged.
const EVENT_QUEUE: usize = 4096;
/// How many lines of a refusal of the initial command are kept.
const MAX_REJECTED_LINES: usize = 16;
/// After the transport reports the end, how long to keep draining output.
const DRAIN_AFTER_END: Duration = Duration::from_secs(2);

impl Client {
    /// Connect as `opts` says and wait for the initial command to attach.
    pub async fn connect(opts: &ConnectOptions) -> Result<Client, ClientError> {
        let (client, _) = Client::connect_with_reply(opts).await?;
        Ok(client)
    }

    /// Run `opts.command` as a one-shot command and return its reply. Use
    /// it for commands that do not attach (`new-session -d`, `list-sessions`,
    /// `kill-server`): they need no session to exist, and tmux ends the
    /// connection once the command is done. `%error` becomes
    /// [`ClientError::Command`] with tmux's message, and a command tmux
    /// cannot parse [`ClientError::Rejected`]. Also returns what transport
    /// carried it.
    pub async fn run_once(opts: &ConnectOptions) -> Result<(Reply, TransportInfo), ClientError> {
        let (client, reply) = Client::connect_with_reply(opts).await?;
        Ok((reply, (*client.info).clone()))
    }

    /// Open another connection to the same server, as the same transport,
    /// with `command` as its initial command (it should attach). Fails for a
    /// client made with [`Client::from_pipe`], which has no address.
    pub async fn connect_again(&self, command: Vec<String>) -> Result<Client, ClientError> {
        let Some(origin) = &self.origin else {
            return Err(ClientError::Closed(
                "this client was made from a pipe and cannot reconnect".into(),
            ));
        };
        let mut opts = (**origin).clone();
        opts.command = command;
        if opts.transport == TransportChoice::Auto {
            // Keep what auto chose the first time.
            opts.transport = match self.info.kind {
                crate::transport::TransportKind::Direct => TransportChoice::Direct,
                crate::transport::TransportKind::Process => TransportChoice::Process,
            };
        }
        Client::connect(&opts).await
    }

    async fn connect_with_reply(opts: &ConnectOptions) -> Result<(Client, Reply), ClientError> {
        let socket = opts.socket.resolve().map_err(TransportError::from)?;
        let command: Vec<&str> = opts.command.iter().map(String::as_str).collect();
        let process = |reason: Option<String>| -> Result<ControlPipe, ClientError> {
            let tmux = crate::server::StartOptions {
                tmux: opts.tmux.clone(),
                config: None,
            }
            .program();
            let prefix: Vec<OsString> =
                vec![tmux.into(), "-S".into(), socket.clone().into(), "-C".into()];
            let mut pipe = process::spawn(&prefix, &command)?;
            if let Some(reason) = reason {
                pipe.info.reason = format!("{reason}; {}", pipe.info.reason);
            }
            Ok(pipe)
        };
        let direct_opts = direct::DirectOptions {
            probe_timeout: opts.probe_timeout,
            ..Default::default()
        };
        let pipe = match opts.transport {
            TransportChoice::Process => process(Some("process transport requested".into()))?,
            TransportChoice::Direct => direct::connect(&socket, &command, &direct_opts).await?,
            TransportChoice::Auto => match direct::connect(&socket, &command, &direct_opts).await {
                Ok(pipe) => pipe,
                // Only a server the direct transport cannot speak to falls
                // back; a missing server is an error either way.
                Err(TransportError::Probe(
                    e @ (crate::server::ProbeError::VersionMismatch { .. }
                    | crate::server::ProbeError::TooOld { .. }),
                )) => {
                    let mut pipe = process(Some(format!("direct transport unsupported ({e})")))?;
                    if let crate::server::ProbeError::TooOld { version } = e {
                        pipe.info.server_version = Some(version);
                    }
                    pipe
                }
                Err(e) => return Err(e.into()),
            },
        };
        log::info!(
            "{} transport to {}: {}",
            pipe.info.kind.as_str(),
            socket.display(),
            pipe.info.reason
        );
        let (mut client, reply) = Client::from_pipe_with_reply(pipe).await?;
        client.origin = Some(Arc::new(ConnectOptions {
            socket: SocketSpec::Path(socket),
            ..opts.clone()
        }));
        Ok((client, reply))
    }

    /// Run a connection over an open [`ControlPipe`]; waits for the reply
    /// to the initial command (`flags=0`).
    pub async fn from_pipe(pipe: ControlPipe) -> Result<Client, ClientError> {
        Ok(Client::from_pipe_with_reply(pipe).await?.0)
    }

    async fn from_pipe_with_reply(pipe: ControlPipe) -> Result<(Client, Reply), ClientError> {
        let (requests, requests_rx) = mpsc::channel(REQUEST_QUEUE);
        let (events, _) = broadcast::channel(EVENT_QUEUE);
        let (closed_tx, closed) = watch::channel(None);
        let (initial_tx, initial_rx) = oneshot::channel();
        let info = Arc::new(pipe.info.clone());
        let (drained, drained_rx) = mpsc::unbounded_channel();
        let actor = Actor {
            events: events.clone(),
            pending: VecDeque::new(),
            initial: Some(initial_tx),
            lines: None,
            panes: HashMap::new(),
            paused_by_us: HashSet::new(),
            rejected: Vec::new(),
        };
        tokio::spawn(actor.run(pipe, requests_rx, drained_rx, closed_tx));
        match initial_rx.await {
            Ok(Ok(reply)) => Ok((
                Client {
                    requests,
                    drained,
                    events,
                    closed,
                    info,
                    origin: None,
                },
                reply,
            )),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(ClientError::Closed(
                "the connection ended before attaching".into(),
            )),
        }
    }

    /// What transport this connection uses, and why.
    pub fn info(&self) -> &TransportInfo {
        &self.info
    }

    /// Run one tmux command: `["display-message", "-p", "#{version}"]`, or a
    /// [`Command`]. Many may be in flight from many tasks; each gets its own
    /// reply. `%error` becomes [`ClientError::Command`] with tmux's message.
    pub async fn command<C: IntoCommand>(&self, command: C) -> Result<Reply, ClientError> {
        self.enqueue(command).await?.await
    }

    /// Queue a command and return its pending reply: commands queued one
    /// after another from one task are written in that order, which matters
    /// when a later command must run behind an earlier one (`wait-for`).
    pub async fn enqueue<C: IntoCommand>(
        &self,
        command: C,
    ) -> Result<impl std::future::Future<Output = Result<Reply, ClientError>> + '_, ClientError>
    {
        let mut pending = self.enqueue_together([command]).await?;
        Ok(pending.pop().expect("one command, one reply"))
    }

    /// Queue several commands in one write, and return their pending
    /// replies in order. tmux reads the lines together and runs them back
    /// to back, with no server event (a pane dying, output arriving) handled
    /// in between; [`crate::watch::wait_exit`] relies on that to look at a
    /// pane and start waiting in one step.
    pub async fn enqueue_together<C: IntoCommand>(
        &self,
        commands: impl IntoIterator<Item = C>,
    ) -> Result<Vec<impl std::future::Future<Output = Result<Reply, ClientError>> + '_>, ClientError>
    {
        let mut lines = String::new();
        let mut replies = Vec::new();
        let mut receivers = Vec::new();
        for command in commands {
            lines.push_str(&command.into_command().to_line()?);
            let (reply, rx) = oneshot::channel();
            replies.push(reply);
            receivers.push(rx);
        }
        self.request(Request::Command { lines, replies }).await?;
        Ok(receivers
            .into_iter()
            .map(|rx| async move { rx.await.unwrap_or_else(|_| Err(self.closed_error())) })
            .collect())
    }

    /// The output of one pane from now on, as a bounded stream (see
    /// [`PaneOutput`]: a reader that falls behind gets explicit
    /// `Paused`/`Resumed` items around what it missed, never a silent gap).
    /// tmux only sends output of panes in the attached session.
    pub async fn pane_output(&self, pane: PaneId) -> Result<PaneOutput, ClientError> {
        let (tx, rx) = mpsc::channel(PANE_QUEUE);
        let shared = Arc::new(pane::Shared::default());
        let subscriber = Subscriber::new(tx, shared.clone());
        self.request(Request::Subscribe { pane, subscriber })
            .await?;
        Ok(PaneOutput {
            pane,
            rx,
            shared,
            drained: self.drained.clone(),
        })
    }

    /// Every notification and other event from now on. A receiver that
    /// falls more than 4096 events behind gets `RecvError::Lagged(n)`: told,
    /// never silently skipped.
    pub fn events(&self) -> broadcast::Receiver<ClientEvent> {
        self.events.subscribe()
    }

    /// Why the connection closed, once it has.
    pub fn closed_reason(&self) -> Option<String> {
        self.closed.borrow().clone()
    }

    /// Wait until the connection has closed; returns the reason.
    pub async fn wait_closed(&self) -> String {
        let mut closed = self.closed.clone();
        loop {
            if let Some(reason) = closed.borrow_and_update().clone() {
                return reason;
            }
            if closed.changed().await.is_err() {
                return closed
                    .borrow()
                    .clone()
                    .unwrap_or_else(|| "connection closed".into());
            }
        }
    }

    /// Detach now (for every clone of this handle) and wait until the
    /// session has ended; returns the reason. Dropping every handle also
    /// detaches, without waiting.
    pub async fn detach(self) -> String {
        // Already closed is fine: then the reason is there to return.
        let _ = self.request(Request::Detach).await;
        self.wait_closed().await
    }

    /// Hand a request to the actor; fails once the connection has closed.
    async fn request(&self, request: Request) -> Result<(), ClientError> {
        self.requests
            .send(request)
            .await
            .map_err(|_| self.closed_error())
    }

    fn closed_error(&self) -> ClientError {
        ClientError::Closed(
            self.closed_reason()
                .unwrap_or_else(|| "connection closed".into()),
        )
    }
}

/// Anything [`Client::command`] accepts.
pub trait IntoCommand {
    /// The command.
    fn into_command(self) -> Command;
}

impl IntoCommand for Command {
    fn into_command(self) -> Command {
        self
    }
}

impl<S: AsRef<[u8]>, const N: usize> IntoCommand for [S; N] {
    fn into_command(self) -> Command {
        Command::from_argv(self)
    }
}

impl<S: AsRef<[u8]>> IntoCommand for Vec<S> {
    fn into_command(self) -> Command {
        Command::from_argv(self)
    }
}

impl<S: AsRef<[u8]>> IntoCommand for &[S] {
    fn into_command(self) -> Command {
        Command::from_argv(self)
    }
}

struct Actor {
    events: broadcast::Sender<ClientEvent>,
    pending: VecDeque<Waiter>,
    initial: Option<oneshot::Sender<Result<Reply, ClientError>>>,
    /// Lines to the writer task; `None` once our input is closed.
    lines: Option<mpsc::UnboundedSender<String>>,
    panes: HashMap<PaneId, Vec<Subscriber>>,
    /// Panes we asked tmux to pause and have not asked to continue.
    paused_by_us: HashSet<PaneId>,
    /// Lines outside any block before the initial reply: tmux's message
    /// when it refuses the initial command.
    rejected: Vec<String>,
}

impl Actor {
    async fn run(
        mut self,
        pipe: ControlPipe,
        mut requests: mpsc::Receiver<Request>,
        mut drained: mpsc::UnboundedReceiver<PaneId>,
        closed: watch::Sender<Option<String>>,
    ) {
        let ControlPipe {
            mut reader,
            writer,
            ending,
            ..
        } = pipe;
        let (lines_tx, lines_rx) = mpsc::unbounded_channel::<String>();
        let writer_task = tokio::spawn(write_lines(writer, lines_rx));
        self.lines = Some(lines_tx);
        let mut asm = Assembler::new();
        let mut read_buf = BytesMut::with_capacity(64 * 1024);
        let mut ending = ending;
        let mut ended: Option<Ending> = None;
        let mut drain_deadline = None;
        let reason = loop {
            let deadline = async {
                match drain_deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                read = reader.read_buf(&mut read_buf) => match read {
                    Ok(0) | Err(_) => {
                        while let Some(event) = asm.next_event() {
                            self.on_event(event);
                        }
                        if let Some(event) = asm.finish() {
                            self.on_event(event);
                        }
                        break match &ended {
                            Some(e) => e.to_string(),
                            None => match tokio::time::timeout(DRAIN_AFTER_END, &mut ending).await {
                                Ok(Ok(e)) => e.to_string(),
                                _ => "the control stream closed".to_string(),
                            },
                        };
                    }
                    Ok(_) => {
                        asm.feed_buf(read_buf.split());
                        while let Some(event) = asm.next_event() {
                            self.on_event(event);
                        }
                        read_buf.reserve(64 * 1024);
                    }
                },
                request = requests.recv(), if self.lines.is_some() && ended.is_none() => match request {
                    Some(Request::Command { lines, replies }) => {
                        if self.send_line(lines) {
                            self.pending.extend(replies.into_iter().map(Waiter::User));
                        } else {
                            for reply in replies {
                                let _ = reply.send(Err(ClientError::Closed("the control stream is closed".into())));
                            }
                        }
                    }
                    Some(Request::Subscribe { pane, subscriber }) => {
                        self.panes.entry(pane).or_default().push(subscriber);
                    }
                    // Every handle is gone: close our input, tmux detaches us.
                    Some(Request::Detach) | None => self.lines = None,
                },
                Some(pane) = drained.recv() => self.resume_if_drained(pane),
                end = &mut ending, if ended.is_none() => {
                    let end = end.unwrap_or(Ending::ServerGone);
                    // Nothing more will be answered; say so now, then drain.
                    self.fail_pending(&end.to_string());
                    ended = Some(end);
                    drain_deadline = Some(tokio::time::Instant::now() + DRAIN_AFTER_END);
                }
                () = deadline => {
                    break ended.as_ref().map_or_else(|| "connection closed".to_string(), Ending::to_string);
                }
            }
        };
        self.lines = None;
        for reader in self.panes.drain().flat_map(|(_, readers)| readers) {
            reader.close(&reason);
        }
        writer_task.abort();
        self.fail_pending(&reason);
        if let Some(initial) = self.initial.take() {
            let error = if self.rejected.is_empty() {
                ClientError::Closed(reason.clone())
            } else {
                ClientError::Rejected {
                    message: self.rejected.join("\n"),
                }
            };
            let _ = initial.send(Err(error));
        }
        let _ = closed.send(Some(reason.clone()));
        let _ = self.events.send(ClientEvent::Closed(reason));
    }

    fn fail_pending(&mut self, reason: &str) {
        for waiter in self.pending.drain(..) {
            if let Waiter::User(reply) = waiter {
                let _ = reply.send(Err(ClientError::Closed(reason.to_string())));
            }
        }
    }

    fn send_line(&mut self, line: String) -> bool {
        self.lines.as_ref().is_some_and(|tx| tx.send(line).is_ok())
    }

    /// Flow control: `refresh-client -A '%P:pause'` or `continue`.
    fn set_pane_flow(&mut self, pane: PaneId, state: &str) {
        let line = Command::new("refresh-client")
            .arg("-A")
            .arg(format!("{pane}:{state}"))
            .to_line();
        if let Ok(line) = line {
            if self.send_line(line) {
                self.pending.push_back(Waiter::Internal);
            }
        }
    }

    fn on_output(&mut self, pane: PaneId, data: &bytes::Bytes) {
        let Some(readers) = self.panes.get_mut(&pane) else {
            return;
        };
        let mut behind = false;
        readers.retain_mut(|r| match r.offer(data) {
            Offer::Delivered => true,
            Offer::Overflowed => {
                behind = true;
                true
            }
            Offer::Gone => false,
        });
        if readers.is_empty() {
            self.panes.remove(&pane);
        }
        if behind && self.paused_by_us.insert(pane) {
            self.set_pane_flow(pane, "pause");
        } else if !behind {
            self.resume_if_drained(pane);
        }
    }

    /// Continue a pane we paused once none of its readers is behind.
    fn resume_if_drained(&mut self, pane: PaneId) {
        let behind = self
            .panes
            .get(&pane)
            .is_some_and(|rs| rs.iter().any(Subscriber::is_overflowed));
        if !behind && self.paused_by_us.remove(&pane) {
            self.set_pane_flow(pane, "continue");
        }
    }

    fn on_pause(&mut self, pane: PaneId) {
        if let Some(readers) = self.panes.get_mut(&pane) {
            readers.iter_mut().for_each(Subscriber::mark_paused);
        }
        let behind = self
            .panes
            .get(&pane)
            .is_some_and(|rs| rs.iter().any(Subscriber::is_overflowed));
        // tmux paused it on its own (pause-after) while we keep up: go on.
        if !behind && !self.paused_by_us.contains(&pane) {
            self.set_pane_flow(pane, "continue");
        }
    }

    fn on_continue(&mut self, pane: PaneId) {
        if let Some(readers) = self.panes.get_mut(&pane) {
            readers.iter_mut().for_each(Subscriber::mark_resumed);
        }
    }

    fn on_event(&mut self, event: Event) {
        match event {
            Event::Reply(reply) if reply.flags == 0 && self.initial.is_some() => {
                if let Some(initial) = self.initial.take() {
                    let _ = initial.send(reply_result(reply));
                }
            }
            Event::Reply(reply) if reply.flags == 1 => match self.pending.pop_front() {
                Some(Waiter::Internal) => {
                    if !reply.ok {
                        let why = String::from_utf8_lossy(&reply.output()).into_owned();
                        let _ = self.events.send(ClientEvent::Invalid(format!(
                            "flow control command failed: {why}"
                        )));
                    }
                }
                Some(Waiter::User(waiting)) => {
                    let _ = waiting.send(reply_result(reply));
                }
                None => {
                    let _ = self.events.send(ClientEvent::UnpairedReply(reply));
                }
            },
            Event::Reply(reply) => {
                let _ = self.events.send(ClientEvent::UnpairedReply(reply));
            }
            Event::Notification(n) => {
                match &n {
                    Notification::Output { pane, data }
                    | Notification::ExtendedOutput { pane, data, .. } => {
                        self.on_output(*pane, data)
                    }
                    Notification::Pause { pane } => self.on_pause(*pane),
                    Notification::Continue { pane } => self.on_continue(*pane),
                    _ => {}
                }
                let _ = self.events.send(ClientEvent::Notification(n));
            }
            Event::Invalid { line, error } => {
                // Before the initial command is answered, a line outside
                // any block is tmux refusing that command (`cmdq_error`
                // writes it bare); keep it to report.
                if self.initial.is_some() && self.rejected.len() < MAX_REJECTED_LINES {
                    self.rejected
                        .push(String::from_utf8_lossy(&line).into_owned());
                }
                let _ = self.events.send(ClientEvent::Invalid(error.to_string()));
            }
            Event::Truncated { .. } => {
                let _ = self.events.send(ClientEvent::Invalid(
                    "the stream ended inside a line or block".into(),
                ));
            }
        }
    }
}

/// A reply as the result of its command: `%error` becomes
/// [`ClientError::Command`] with tmux's message.
fn reply_result(reply: Reply) -> Result<Reply, ClientError> {
    if reply.ok {
        Ok(reply)
    } else {
        Err(ClientError::Command {
            message: String::from_utf8_lossy(&reply.output()).into_owned(),
            reply: Box::new(reply),
        })
    }
}

/// Write command lines in order; when the channel closes, close the
/// stream (EOF makes tmux detach the client).
async fn write_lines(
    mut writer: Box<dyn tokio::io::AsyncWrite + Send + Unpin>,
    mut lines: mpsc::UnboundedReceiver<String>,
) {
    let mut batch = Vec::new();
    while let Some(line) = lines.recv().await {
        batch.clear();
        batch.extend_from_slice(line.as_bytes());
        // Coalesce what is already queued into one write.
        while let Ok(more) = lines.try_recv() {
            batch.extend_from_slice(more.as_bytes());
        }
        if writer.write_all(&batch).await.is_err() {
            return;
        }
    }
    let _ = writer.shutdown().await;
}
