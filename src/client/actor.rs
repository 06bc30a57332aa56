//! The I/O shell around the [`Engine`]: one tokio task per connection that
//! reads the control stream, writes what the engine has queued (waiting for
//! the socket, so the request queue's bound is a real bound), takes requests
//! from the handles, and carries out the engine's actions.

use super::engine::{Action, Engine};
use super::pane::{Readers, Subscriber};
use super::{ClientError, ClientEvent, CloseReason};
use crate::protocol::{PaneId, Reply};
use crate::transport::{ControlPipe, Ending};
use bytes::BytesMut;
use std::collections::HashMap;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot, watch};

/// Where a command's reply goes; and, if a reader waits for it, who gets
/// the pane's output from the moment the reply came on.
pub(crate) struct ReplySender {
    tx: oneshot::Sender<Result<Reply, ClientError>>,
    then: Option<(PaneId, Subscriber)>,
}

impl ReplySender {
    pub(crate) fn new(tx: oneshot::Sender<Result<Reply, ClientError>>) -> Self {
        ReplySender { tx, then: None }
    }

    /// A reply after which `subscriber` reads `pane`'s output: what tmux
    /// sent before it (before it ran the command) is not given to it.
    pub(crate) fn then_reading(
        tx: oneshot::Sender<Result<Reply, ClientError>>,
        pane: PaneId,
        subscriber: Subscriber,
    ) -> Self {
        ReplySender {
            tx,
            then: Some((pane, subscriber)),
        }
    }
}

pub(crate) enum Request {
    /// One or more command lines, written in one piece.
    Command {
        lines: String,
        replies: Vec<ReplySender>,
    },
    Subscribe {
        pane: PaneId,
        subscriber: Subscriber,
    },
    /// Close our input: tmux detaches this client.
    Detach,
}

/// Read buffer size.
const READ_CHUNK: usize = 64 * 1024;

pub(crate) struct Actor {
    pub(crate) engine: Engine<ReplySender>,
    pub(crate) events: super::Events,
    pub(crate) panes: HashMap<PaneId, Readers>,
    pub(crate) closed: watch::Sender<Option<CloseReason>>,
}

impl Actor {
    pub(crate) async fn run(
        mut self,
        pipe: ControlPipe,
        mut requests: mpsc::Receiver<Request>,
        mut drained: mpsc::UnboundedReceiver<PaneId>,
    ) {
        let ControlPipe {
            mut reader,
            writer,
            mut ending,
            ..
        } = pipe;
        let mut read_buf = BytesMut::with_capacity(READ_CHUNK);
        let mut transport_ended = false;
        // Dropped once our side is closed: for a pipe (the process
        // transport) only closing the fd is an end of file.
        let mut writer = Some(writer);
        // Every handle is gone: nothing more will come.
        let mut requests_open = true;
        // The engine's clock is tokio's (a paused test clock included).
        let now = || tokio::time::Instant::now().into_std();
        while !self.engine.is_closed() {
            let deadline = self.engine.poll_timeout();
            let sleep = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d.into()).await,
                    None => std::future::pending().await,
                }
            };
            let to_write = self.engine.to_write();
            tokio::select! {
                read = reader.read_buf(&mut read_buf) => match read {
                    Ok(0) | Err(_) => {
                        let reason = match self.engine.end_reason() {
                            // Unused: the transport's reason stands.
                            Some(_) => CloseReason::StreamClosed,
                            // Give the transport a moment to say why.
                            None => match tokio::time::timeout(super::engine::DRAIN_AFTER_END, &mut ending).await {
                                Ok(Ok(e)) => CloseReason::Ended(e),
                                _ => CloseReason::StreamClosed,
                            },
                        };
                        self.engine.stream_closed(reason);
                    }
                    Ok(_) => {
                        self.engine.receive(read_buf.split());
                        read_buf.reserve(READ_CHUNK);
                    }
                },
                written = write_some(&mut writer, to_write), if !to_write.is_empty() => match written {
                    Ok(n) if n > 0 => self.engine.wrote(n),
                    // The server stopped reading; the read side will tell why.
                    _ => self.engine.write_failed(now()),
                },
                // Once our input is closed, requests are still taken, so
                // that the engine answers them at once instead of leaving
                // them queued until the stream ends.
                request = requests.recv(), if requests_open
                    && (self.engine.takes_commands() || self.engine.input_closed()) => match request {
                    Some(Request::Command { lines, replies }) => self.engine.command(&lines, replies),
                    Some(Request::Subscribe { pane, subscriber }) => {
                        self.panes.entry(pane).or_default().push(subscriber);
                    }
                    // Every handle is gone, or one asked: tmux detaches us.
                    Some(Request::Detach) => self.engine.detach(now()),
                    None => {
                        requests_open = false;
                        self.engine.detach(now());
                    }
                },
                Some(pane) = drained.recv() => self.drained(pane),
                end = &mut ending, if !transport_ended => {
                    transport_ended = true;
                    let end = end.unwrap_or(Ending::ServerGone);
                    self.engine.transport_ended(CloseReason::Ended(end), now());
                }
                () = sleep => self.engine.handle_timeout(now()),
            }
            if self.engine.should_shut_down() {
                if let Some(mut writer) = writer.take() {
                    // EOF on our side makes tmux detach the client.
                    let _ = writer.shutdown().await;
                }
            }
            self.carry_out();
        }
    }

    /// A reader of `pane` drained or went: pause or continue it as its
    /// readers now need.
    fn drained(&mut self, pane: PaneId) {
        let Some(readers) = self.panes.get_mut(&pane) else {
            return;
        };
        let behind = readers.behind();
        if readers.is_empty() {
            self.panes.remove(&pane);
            self.engine.unwatched(pane);
        } else {
            self.engine.readers(pane, behind);
        }
    }

    fn carry_out(&mut self) {
        while let Some(action) = self.engine.poll_action() {
            match action {
                Action::Resolve(reply, result) => {
                    // Output comes in stream order: a reader registered
                    // here gets exactly what tmux sent after this reply.
                    if let Some((pane, subscriber)) = reply.then {
                        self.panes.entry(pane).or_default().push(subscriber);
                    }
                    let _ = reply.tx.send(result);
                }
                Action::Event(event) => {
                    self.events.send(event);
                }
                Action::Output(pane, data) => self.offer(pane, &data),
                Action::Paused(pane) => {
                    if let Some(readers) = self.panes.get_mut(&pane) {
                        readers.paused();
                    }
                }
                Action::Continued(pane) => {
                    if let Some(readers) = self.panes.get_mut(&pane) {
                        readers.continued();
                    }
                }
                Action::Closed(reason) => {
                    for (_, readers) in self.panes.drain() {
                        readers.close(&reason);
                    }
                    let _ = self.closed.send(Some(reason.clone()));
                    self.events.send(ClientEvent::Closed(reason));
                }
            }
        }
    }

    /// Offer output to the pane's readers without waiting for any, then
    /// tell the engine whether one is behind.
    fn offer(&mut self, pane: PaneId, data: &bytes::Bytes) {
        let Some(readers) = self.panes.get_mut(&pane) else {
            return;
        };
        let behind = readers.offer(data);
        if readers.is_empty() {
            self.panes.remove(&pane);
            self.engine.unwatched(pane);
        } else {
            self.engine.readers(pane, behind);
        }
    }
}

/// Write what the socket takes now; an error once our side is closed.
async fn write_some(
    writer: &mut Option<Box<dyn tokio::io::AsyncWrite + Send + Unpin>>,
    bytes: &[u8],
) -> std::io::Result<usize> {
    match writer {
        Some(w) => w.write(bytes).await,
        None => Err(std::io::ErrorKind::BrokenPipe.into()),
    }
}
