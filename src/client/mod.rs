//! One control connection: a sans-IO engine, a thin tokio actor, and a
//! cheap cloneable handle.
//!
//! The engine (`engine.rs`) holds every decision: it pairs each `flags=1`
//! reply with the oldest command still waiting (tmux answers one control
//! line with one block, in order), pauses and continues panes whose readers
//! fall behind, and knows where the connection is in its life. The actor
//! (`actor.rs`) only moves bytes: it reads the control stream into the
//! engine, writes what the engine queued (taking no new command while 64
//! KiB wait for the socket), and carries out the engine's actions. The
//! [`Client`] handle talks to the actor over a bounded queue.
//!
//! When the session ends for any reason (detach, `kill-server`, the server
//! killed, the socket closed) the replies tmux wrote before the end still
//! answer their commands, and every other pending command resolves with
//! [`ClientError::Closed`] carrying the reason as soon as the stream is
//! drained (at most 2 s after the end), and the event stream ends
//! with [`ClientEvent::Closed`]. Dropping the last handle closes the control
//! stream, which makes tmux detach the client cleanly.
//!
//! Pairing assumes one block per command line, which holds for every
//! simple command. Commands that queue other commands (`if-shell`,
//! `source-file`, `run-shell` callbacks, `confirm-before`, menus and prompts)
//! make extra blocks; those arrive as [`ClientEvent::UnpairedReply`] only
//! when nothing is waiting, so avoid them on a pipelined connection.

mod actor;
pub mod commands;
mod engine;
mod error;
mod pane;

pub use error::{ClientError, CloseReason, ErrorKind};
pub use pane::{Pane, PaneEvent, PaneOutput};

use crate::protocol::{Command, Notification, PaneId, Reply};
use crate::server::SocketSpec;
use crate::transport::plain::{PlainError, ProbeError};
use crate::transport::{direct, process, ControlPipe, TransportError, TransportInfo};
use actor::{Actor, ReplySender, Request};
use engine::Engine;
use pane::{Subscriber, PANE_QUEUE};
use std::collections::HashMap;
use std::ffi::OsString;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, oneshot, watch};

/// What a connection reports besides command replies.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientEvent {
    /// A notification, in stream order.
    Notification(Notification),
    /// A reply no command was waiting for (see the module docs).
    UnpairedReply(Reply),
    /// A line tmux sent that is not valid control-mode output.
    Invalid(String),
    /// The session ended; nothing follows.
    Closed(CloseReason),
}

/// Which transport to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TransportChoice {
    /// Direct, unless the probe says the server needs the process transport.
    #[default]
    Auto,
    /// The server socket, spoken to directly.
    Direct,
    /// A child `tmux -C`.
    Process,
}

/// How to connect: [`ConnectOptions::attach`] or
/// [`ConnectOptions::command`], then the builder methods.
///
/// ```
/// use tmux_wire::client::{ConnectOptions, TransportChoice};
/// let options = ConnectOptions::attach("work")
///     .socket_path("/tmp/demo.sock")
///     .transport(TransportChoice::Direct)
///     .probe_timeout(std::time::Duration::from_secs(2));
/// # let _ = options;
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
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
            command: Command::new("attach-session")
                .arg("-f")
                .arg(ATTACH_FLAGS)
                .to_strings(),
            tmux: None,
            probe_timeout: Duration::from_secs(5),
        }
    }
}

impl ConnectOptions {
    /// Attach to `session`, with the client flags of [`ATTACH_FLAGS`].
    pub fn attach(session: &str) -> Self {
        ConnectOptions {
            command: commands::attach(session, ATTACH_FLAGS).to_strings(),
            ..Default::default()
        }
    }

    /// Run `argv` as the initial command instead (it must attach, such as
    /// `["new-session", "-A", "-s", "work"]`).
    pub fn command<S: Into<String>>(argv: impl IntoIterator<Item = S>) -> Self {
        ConnectOptions {
            command: argv.into_iter().map(Into::into).collect(),
            ..Default::default()
        }
    }

    /// Use the socket at `path`.
    pub fn socket_path(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.socket = SocketSpec::Path(path.into());
        self
    }

    /// Use this socket.
    pub fn socket(mut self, socket: SocketSpec) -> Self {
        self.socket = socket;
        self
    }

    /// Run this tmux program for the process transport.
    pub fn tmux(mut self, program: impl Into<std::path::PathBuf>) -> Self {
        self.tmux = Some(program.into());
        self
    }

    /// Let the version probe take at most this long.
    pub fn probe_timeout(mut self, timeout: Duration) -> Self {
        self.probe_timeout = timeout;
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
    events: Events,
    closed: watch::Receiver<Option<CloseReason>>,
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

/// The event channel of a connection, made when the first receiver asks
/// for it: tokio's broadcast channel fills all its [`EVENT_QUEUE`] slots at
/// once (half a megabyte), which a one-shot connection nobody listens to
/// should not pay for. An event sent while nobody listens reaches nobody
/// either way.
#[derive(Clone, Default)]
pub(crate) struct Events(Arc<std::sync::OnceLock<broadcast::Sender<ClientEvent>>>);

impl Events {
    pub(crate) fn send(&self, event: ClientEvent) {
        if let Some(events) = self.0.get() {
            let _ = events.send(event);
        }
    }

    fn subscribe(&self) -> broadcast::Receiver<ClientEvent> {
        self.0
            .get_or_init(|| broadcast::channel(EVENT_QUEUE).0)
            .subscribe()
    }
}

/// How many commands may wait to be written before `command` waits too.
const REQUEST_QUEUE: usize = 4096;
/// Events kept for a slow receiver before it is told it lagged.
const EVENT_QUEUE: usize = 4096;

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
            return Err(ClientError::NoAddress);
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
                    e @ (ProbeError::Plain(PlainError::VersionMismatch { .. })
                    | ProbeError::TooOld { .. }),
                )) => {
                    let mut pipe = process(Some(format!("direct transport unsupported ({e})")))?;
                    if let ProbeError::TooOld { version } = e {
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
        let events = Events::default();
        let (closed_tx, closed) = watch::channel(None);
        let (initial_tx, initial_rx) = oneshot::channel();
        let info = Arc::new(pipe.info.clone());
        let (drained, drained_rx) = mpsc::unbounded_channel();
        let actor = Actor {
            engine: Engine::new(ReplySender::new(initial_tx)),
            events: events.clone(),
            panes: HashMap::new(),
            closed: closed_tx,
        };
        tokio::spawn(actor.run(pipe, requests_rx, drained_rx));
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
            Err(_) => Err(ClientError::Closed(CloseReason::Lost)),
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
            replies.push(ReplySender::new(reply));
            receivers.push(rx);
        }
        self.request(Request::Command { lines, replies }).await?;
        Ok(receivers
            .into_iter()
            .map(|rx| async move { rx.await.unwrap_or_else(|_| Err(self.closed_error())) })
            .collect())
    }

    /// Run several commands in one write ([`Client::enqueue_together`]:
    /// tmux runs them back to back) and await every reply: the replies in
    /// order, or the error of the first command that failed (tmux ran the
    /// others all the same, and their replies were awaited too).
    ///
    /// ```no_run
    /// # async fn demo(client: tmux_wire::client::Client) -> Result<(), tmux_wire::client::ClientError> {
    /// use tmux_wire::client::commands;
    /// let web = commands::session("web");
    /// client.commands([
    ///     commands::set_option(&web, "@a", "1"),
    ///     commands::set_option(&web, "@b", "2"),
    /// ]).await?;
    /// # Ok(()) }
    /// ```
    pub async fn commands<C: IntoCommand>(
        &self,
        batch: impl IntoIterator<Item = C>,
    ) -> Result<Vec<Reply>, ClientError> {
        let mut replies = Vec::new();
        let mut failed = None;
        for reply in self.enqueue_together(batch).await? {
            match reply.await {
                Ok(reply) => replies.push(reply),
                Err(e) => {
                    failed.get_or_insert(e);
                }
            }
        }
        match failed {
            Some(e) => Err(e),
            None => Ok(replies),
        }
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

    /// A handle to pane `id` on this connection (no I/O: a pane that does
    /// not exist shows when it is used).
    pub fn pane(&self, id: PaneId) -> Pane {
        Pane {
            client: self.clone(),
            id,
        }
    }

    /// Run `command` and read `pane`'s output from the moment tmux ran it:
    /// what the reply tells (the cursor, say) is the state the first
    /// output item continues, with nothing printed in between lost or
    /// counted twice (output and replies come in one ordered stream).
    pub async fn pane_output_after<C: IntoCommand>(
        &self,
        pane: PaneId,
        command: C,
    ) -> Result<(PaneOutput, Reply), ClientError> {
        let (tx, rx) = mpsc::channel(PANE_QUEUE);
        let shared = Arc::new(pane::Shared::default());
        let subscriber = Subscriber::new(tx, shared.clone());
        let (reply, reply_rx) = oneshot::channel();
        self.request(Request::Command {
            lines: command.into_command().to_line()?,
            replies: vec![ReplySender::then_reading(reply, pane, subscriber)],
        })
        .await?;
        let reply = reply_rx
            .await
            .unwrap_or_else(|_| Err(self.closed_error()))?;
        let output = PaneOutput {
            pane,
            rx,
            shared,
            drained: self.drained.clone(),
        };
        Ok((output, reply))
    }

    /// The active pane of the attached session.
    pub async fn active_pane(&self) -> Result<Pane, ClientError> {
        let reply = self
            .command(Command::from_argv(["display-message", "-p", "#{pane_id}"]))
            .await?;
        Ok(self.pane(reply.parse()?))
    }

    /// Every notification and other event from now on. A receiver that
    /// falls more than 4096 events behind gets `RecvError::Lagged(n)`: told,
    /// never silently skipped.
    pub fn events(&self) -> broadcast::Receiver<ClientEvent> {
        self.events.subscribe()
    }

    /// Why the connection closed, once it has.
    pub fn closed_reason(&self) -> Option<CloseReason> {
        self.closed.borrow().clone()
    }

    /// Wait until the connection has closed; returns the reason.
    pub async fn wait_closed(&self) -> CloseReason {
        let mut closed = self.closed.clone();
        loop {
            if let Some(reason) = closed.borrow_and_update().clone() {
                return reason;
            }
            if closed.changed().await.is_err() {
                return closed.borrow().clone().unwrap_or(CloseReason::Lost);
            }
        }
    }

    /// Detach now (for every clone of this handle) and wait until the
    /// session has ended; returns the reason. Dropping every handle also
    /// detaches, without waiting.
    pub async fn detach(self) -> CloseReason {
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
        ClientError::Closed(self.closed_reason().unwrap_or(CloseReason::Lost))
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
