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
    /// Dropped in a pause the reader was told of and is not behind in:
    /// output tmux sent before it paused the pane, reaching us after the
    /// reader drained (the pane is being continued).
    InPause,
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
        if self.is_overflowed() {
            return Offer::Overflowed;
        }
        if self.told_paused {
            return Offer::InPause;
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

/// The readers of one pane, as the actor keeps them: output offered to
/// each without waiting, tmux's pauses and continues passed on, and
/// whether one is behind (the engine pauses the pane then). No I/O.
#[derive(Debug, Default)]
pub(crate) struct Readers(Vec<Subscriber>);

impl Readers {
    /// A reader more, from now on.
    pub(crate) fn push(&mut self, reader: Subscriber) {
        self.0.push(reader);
    }

    /// Whether no reader is left.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Offer a chunk of output to every reader, forget the gone ones, and
    /// say whether one is behind.
    pub(crate) fn offer(&mut self, data: &Bytes) -> bool {
        let mut behind = false;
        self.0.retain_mut(|r| match r.offer(data) {
            Offer::Delivered | Offer::InPause => true,
            Offer::Overflowed => {
                behind = true;
                true
            }
            Offer::Gone => false,
        });
        behind
    }

    /// Whether one is behind (asked when one drained or went); the gone
    /// ones are forgotten (one that went while behind holds nothing up).
    pub(crate) fn behind(&mut self) -> bool {
        self.0.retain(|r| !r.tx.is_closed());
        self.0.iter().any(Subscriber::is_overflowed)
    }

    /// tmux paused the pane: tell every reader.
    pub(crate) fn paused(&mut self) {
        self.0.iter_mut().for_each(Subscriber::mark_paused);
    }

    /// tmux continued the pane: tell every reader that was told it paused.
    pub(crate) fn continued(&mut self) {
        self.0.iter_mut().for_each(Subscriber::mark_resumed);
    }

    /// The connection ended: tell every reader why.
    pub(crate) fn close(&self, reason: &super::CloseReason) {
        self.0.iter().for_each(|r| r.close(reason));
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

impl Drop for PaneOutput {
    /// The actor hears that a reader went: one that went while behind
    /// holds the pane paused no longer, and a pane with no reader left is
    /// continued if it was paused.
    fn drop(&mut self) {
        self.rx.close();
        let _ = self.drained.send(self.pane);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader of pane %1: the actor's side and the stream, and where the
    /// stream says it drained.
    fn reader() -> (Subscriber, PaneOutput, mpsc::UnboundedReceiver<PaneId>) {
        let (tx, rx) = mpsc::channel(PANE_QUEUE);
        let shared = Arc::new(Shared::default());
        let (drained, drained_rx) = mpsc::unbounded_channel();
        let output = PaneOutput {
            pane: PaneId(1),
            rx,
            shared: shared.clone(),
            drained,
        };
        (Subscriber::new(tx, shared), output, drained_rx)
    }

    fn chunk(n: usize) -> Bytes {
        Bytes::from(n.to_string())
    }

    /// Offer chunks until one is not delivered; how many were.
    fn fill(readers: &mut Readers) -> usize {
        let mut n = 0;
        while !readers.offer(&chunk(n)) {
            n += 1;
            assert!(n <= PANE_QUEUE, "never behind");
        }
        n
    }

    /// Read what is queued now, without waiting (through `next`, which
    /// tells when the stream drained).
    async fn read_queued(output: &mut PaneOutput) -> Vec<PaneEvent> {
        let mut got = Vec::new();
        while output.queued() > 0 {
            got.push(output.next().await.unwrap());
        }
        got
    }

    fn marks(events: &[PaneEvent]) -> Vec<&PaneEvent> {
        events
            .iter()
            .filter(|e| !matches!(e, PaneEvent::Output(_)))
            .collect()
    }

    #[tokio::test]
    async fn a_reader_behind_is_told_paused_and_resumed_around_what_it_missed() {
        let (sub, mut output, mut drained) = reader();
        let mut readers = Readers::default();
        readers.push(sub);
        let delivered = fill(&mut readers);
        assert_eq!(delivered, PANE_QUEUE - RESERVED);
        // Still behind: dropped, not queued.
        assert!(readers.offer(&chunk(0)));
        assert_eq!(output.queued(), delivered + 1);
        // tmux says it paused the pane (the engine asked): told once.
        readers.paused();
        assert_eq!(output.queued(), delivered + 1);
        // Reading half the queue says it drained, once.
        let mut got = Vec::new();
        while drained.try_recv().is_err() {
            got.push(output.next().await.unwrap());
        }
        assert_eq!(output.queued(), PANE_QUEUE / 2);
        assert!(!readers.behind());
        readers.continued();
        readers.continued();
        assert!(!readers.offer(&chunk(7)));
        got.extend(read_queued(&mut output).await);
        assert!(drained.try_recv().is_err());
        let outputs: Vec<&PaneEvent> = got
            .iter()
            .filter(|e| matches!(e, PaneEvent::Output(_)))
            .collect();
        assert_eq!(outputs.len(), delivered + 1);
        assert_eq!(
            got[delivered..],
            [
                PaneEvent::Paused,
                PaneEvent::Resumed,
                PaneEvent::Output(chunk(7))
            ]
        );
    }

    #[tokio::test]
    async fn output_that_comes_after_a_drain_and_before_the_continue_pauses_nothing() {
        let (sub, mut output, mut drained) = reader();
        let mut readers = Readers::default();
        readers.push(sub);
        fill(&mut readers);
        while drained.try_recv().is_err() {
            output.next().await.unwrap();
        }
        assert!(!readers.behind());
        // Output tmux sent before it paused the pane reaches the actor
        // after the engine asked to continue it: it falls in the gap the
        // reader was told of, and nobody is behind.
        assert!(!readers.offer(&chunk(1)), "paused again for nobody");
        readers.paused();
        readers.continued();
        assert!(!readers.offer(&chunk(2)));
        let got = read_queued(&mut output).await;
        assert_eq!(
            marks(&got),
            [&PaneEvent::Paused, &PaneEvent::Resumed],
            "{got:?}"
        );
        assert_eq!(got.last(), Some(&PaneEvent::Output(chunk(2))));
    }

    #[tokio::test]
    async fn a_reader_dropped_while_behind_holds_no_pane_paused() {
        let (slow, slow_output, mut drained) = reader();
        let (fast, mut fast_output, _) = reader();
        let mut readers = Readers::default();
        readers.push(slow);
        readers.push(fast);
        // The fast one keeps up, the slow one falls behind.
        let mut n = 0;
        while !readers.offer(&chunk(n)) {
            read_queued(&mut fast_output).await;
            n += 1;
        }
        readers.paused();
        // The slow one goes without reading: the actor hears of it, and
        // nobody is behind any more.
        drop(slow_output);
        assert_eq!(drained.try_recv(), Ok(PaneId(1)));
        assert!(!readers.behind());
        readers.continued();
        assert!(!readers.offer(&chunk(9)));
        let got = read_queued(&mut fast_output).await;
        assert_eq!(
            got,
            [
                PaneEvent::Output(chunk(n)),
                PaneEvent::Paused,
                PaneEvent::Resumed,
                PaneEvent::Output(chunk(9))
            ]
        );
        // The last reader going leaves none.
        drop(fast_output);
        assert!(!readers.behind());
        assert!(readers.is_empty());
    }

    #[tokio::test]
    async fn several_readers_of_one_pane_keep_it_paused_until_the_last_drains() {
        let (a, mut a_output, mut a_drained) = reader();
        let (b, mut b_output, mut b_drained) = reader();
        let mut readers = Readers::default();
        readers.push(a);
        readers.push(b);
        let delivered = fill(&mut readers);
        assert_eq!(delivered, PANE_QUEUE - RESERVED);
        readers.paused();
        while a_drained.try_recv().is_err() {
            a_output.next().await.unwrap();
        }
        assert!(readers.behind(), "b is still behind");
        while b_drained.try_recv().is_err() {
            b_output.next().await.unwrap();
        }
        assert!(!readers.behind());
        readers.continued();
        for output in [&mut a_output, &mut b_output] {
            let got = read_queued(output).await;
            assert_eq!(marks(&got), [&PaneEvent::Paused, &PaneEvent::Resumed]);
        }
    }

    #[tokio::test]
    async fn a_pause_by_tmux_reaches_a_reader_that_keeps_up() {
        let (sub, mut output, _drained) = reader();
        let mut readers = Readers::default();
        readers.push(sub);
        assert!(!readers.offer(&chunk(1)));
        readers.paused();
        readers.paused();
        readers.continued();
        assert!(!readers.offer(&chunk(2)));
        assert_eq!(
            read_queued(&mut output).await,
            [
                PaneEvent::Output(chunk(1)),
                PaneEvent::Paused,
                PaneEvent::Resumed,
                PaneEvent::Output(chunk(2))
            ]
        );
    }

    #[tokio::test]
    async fn the_end_reaches_a_full_queue() {
        let (sub, mut output, _drained) = reader();
        let mut readers = Readers::default();
        readers.push(sub);
        fill(&mut readers);
        readers.paused();
        readers.close(&crate::client::CloseReason::Ended(
            crate::transport::Ending::Shutdown,
        ));
        drop(readers);
        let got = read_queued(&mut output).await;
        assert_eq!(
            got[got.len() - 2..],
            [
                PaneEvent::Paused,
                PaneEvent::Closed(crate::client::CloseReason::Ended(
                    crate::transport::Ending::Shutdown
                ))
            ]
        );
        assert_eq!(output.next().await, None);
    }
}
