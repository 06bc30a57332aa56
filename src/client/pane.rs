//! Per-pane output streams with bounded memory and explicit gaps.
//!
//! Each [`PaneOutput`] has a bounded queue. The actor never waits for a
//! reader: when a reader's queue is nearly full the actor asks tmux to pause
//! the pane (`refresh-client -A '%P:pause'`), puts [`PaneEvent::Paused`] in
//! the queue (a slot is kept for it) and drops that pane's output for this
//! reader until it has drained half its queue. Then the actor asks tmux to
//! continue (`-A '%P:continue'`) and the reader gets [`PaneEvent::Resumed`]:
//! what the pane printed in between was not delivered, and the stream says
//! so instead of losing it silently.
//!
//! tmux may also pause a pane on its own (the connection attaches with
//! `pause-after`, so a pane whose output waited too long in tmux is paused
//! rather than the client being dropped as "too far behind"); such a pause
//! reaches readers the same way, and the actor continues the pane at once.

use crate::protocol::PaneId;
use bytes::Bytes;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::sync::mpsc;

/// Items of a pane's output stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaneEvent {
    /// Bytes the pane printed, exactly (unescaped, any byte values).
    Output(Bytes),
    /// tmux stopped sending this pane's output: this reader fell behind, or
    /// the connection did.
    Paused,
    /// Output flows again. What the pane printed since [`PaneEvent::Paused`]
    /// was not delivered.
    Resumed,
    /// The connection ended, for this reason; nothing follows.
    Closed(super::CloseReason),
}

/// Queue length of a pane stream, in chunks (tmux sends at most a few KiB
/// per chunk, so this bounds a reader's backlog to a few MiB).
pub(crate) const PANE_QUEUE: usize = 1024;
/// Slots kept free for the Paused, Resumed and Closed markers.
const RESERVED: usize = 3;

/// What the actor keeps per reader.
#[derive(Debug)]
pub(crate) struct Subscriber {
    pub(crate) tx: mpsc::Sender<PaneEvent>,
    pub(crate) shared: Arc<Shared>,
    /// This reader was told `Paused` and not yet `Resumed`.
    pub(crate) told_paused: bool,
}

/// State shared between the actor and one reader.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    /// The reader's queue filled up; it must drain before output resumes.
    pub(crate) overflowed: AtomicBool,
}

/// What happened when output was offered to a reader.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Offer {
    Delivered,
    /// Dropped because the reader is behind; the pane must be paused.
    Overflowed,
    /// The reader is gone.
    Gone,
}

impl Subscriber {
    pub(crate) fn new(tx: mpsc::Sender<PaneEvent>, shared: Arc<Shared>) -> Self {
        Subscriber {
            tx,
            shared,
            told_paused: false,
        }
    }

    pub(crate) fn is_overflowed(&self) -> bool {
        self.shared.overflowed.load(Ordering::Acquire)
    }

    /// Offer a chunk of output without ever waiting.
    pub(crate) fn offer(&mut self, data: &Bytes) -> Offer {
        if self.tx.is_closed() {
            return Offer::Gone;
        }
        if self.is_overflowed() || self.told_paused {
            return Offer::Overflowed;
        }
        if self.tx.capacity() <= RESERVED {
            self.shared.overflowed.store(true, Ordering::Release);
            self.mark_paused();
            return Offer::Overflowed;
        }
        match self.tx.try_send(PaneEvent::Output(data.clone())) {
            Ok(()) => Offer::Delivered,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.shared.overflowed.store(true, Ordering::Release);
                self.mark_paused();
                Offer::Overflowed
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Offer::Gone,
        }
    }

    /// Tell the reader output stopped (once).
    pub(crate) fn mark_paused(&mut self) {
        if !self.told_paused {
            self.told_paused = true;
            let _ = self.tx.try_send(PaneEvent::Paused);
        }
    }

    /// Tell the reader the connection ended (a slot is kept for it).
    pub(crate) fn close(&self, reason: &super::CloseReason) {
        let _ = self.tx.try_send(PaneEvent::Closed(reason.clone()));
    }

    /// Tell the reader output flows again, if it was told it stopped.
    pub(crate) fn mark_resumed(&mut self) {
        if self.told_paused && !self.is_overflowed() {
            self.told_paused = false;
            let _ = self.tx.try_send(PaneEvent::Resumed);
        }
    }
}

/// One pane's output, as a stream of [`PaneEvent`]s. When the connection
/// closes the last item is [`PaneEvent::Closed`] with the reason, then
/// `None`. Dropping it unsubscribes.
#[derive(Debug)]
pub struct PaneOutput {
    pub(crate) pane: PaneId,
    pub(crate) rx: mpsc::Receiver<PaneEvent>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) drained: mpsc::UnboundedSender<PaneId>,
}

impl PaneOutput {
    /// The pane this stream follows.
    pub fn pane(&self) -> PaneId {
        self.pane
    }

    /// Items waiting in this stream's queue (never more than its bound).
    pub fn queued(&self) -> usize {
        self.rx.len()
    }

    /// The most items this stream ever holds.
    pub fn capacity(&self) -> usize {
        PANE_QUEUE
    }

    /// The next item; `None` once the connection has closed and everything
    /// received was read.
    pub async fn next(&mut self) -> Option<PaneEvent> {
        let item = self.rx.recv().await;
        // Caught up far enough after an overflow: ask for output again.
        if self.shared.overflowed.load(Ordering::Acquire)
            && self.rx.len() <= PANE_QUEUE / 2
            && self.shared.overflowed.swap(false, Ordering::AcqRel)
        {
            let _ = self.drained.send(self.pane);
        }
        item
    }
}

/// A handle to one pane on a connection: what it shows, what it prints,
/// and typing into it. The waits of [`crate::watch`] are methods too
/// (`wait_for`, `wait_idle`, `wait_exit` and their `arm_*` steps). Cheap
/// to clone; made by [`Client::pane`](super::Client::pane) or
/// [`Client::active_pane`](super::Client::active_pane).
///
/// ```no_run
/// # async fn demo(client: tmux_wire::client::Client) -> Result<(), Box<dyn std::error::Error>> {
/// let pane = client.active_pane().await?;
/// let ready = regex::Regex::new(r"^\$ $")?;
/// pane.send_text(b"make test\n").await?;
/// let prompt = pane.wait_for(&ready, std::time::Duration::from_secs(60)).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Pane {
    pub(crate) client: super::Client,
    pub(crate) id: PaneId,
}

impl Pane {
    /// The pane's id (`%N`).
    pub fn id(&self) -> PaneId {
        self.id
    }

    /// The connection and the id, for code that passes them on.
    pub fn into_parts(self) -> (super::Client, PaneId) {
        (self.client, self.id)
    }

    /// The connection it is reached through.
    pub fn client(&self) -> &super::Client {
        &self.client
    }

    /// Its output from now on ([`Client::pane_output`](super::Client::pane_output)).
    pub async fn output(&self) -> Result<PaneOutput, super::ClientError> {
        self.client.pane_output(self.id).await
    }

    /// Type `text` exactly, any bytes: printable text literally, control
    /// characters and invalid UTF-8 as raw bytes, in one write so nothing
    /// comes in between. A `\n` arrives as LF, which shells and line-mode
    /// programs take as Enter.
    pub async fn send_text(&self, text: &[u8]) -> Result<(), super::ClientError> {
        self.client
            .commands(super::commands::send_text(self.id, text))
            .await?;
        Ok(())
    }

    /// Press keys by tmux name (`Enter`, `C-c`, `Up`).
    pub async fn send_keys<K: AsRef<[u8]>>(
        &self,
        keys: impl IntoIterator<Item = K>,
    ) -> Result<(), super::ClientError> {
        self.client
            .command(super::commands::send_keys(self.id, keys))
            .await
            .map(drop)
    }

    /// The visible screen, one line per row (`capture-pane -p`).
    pub async fn capture(&self) -> Result<Vec<Bytes>, super::ClientError> {
        Ok(self
            .client
            .command(super::commands::capture(self.id))
            .await?
            .content())
    }
}
