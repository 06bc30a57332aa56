//! The connection's logic without I/O: what to write, whom to answer, when
//! to pause a pane, and when the connection is over.
//!
//! The [`Engine`] is fed what happens (bytes read, a command asked for, the
//! transport's end, a reader falling behind, time passing) and answers with
//! [`Action`]s and bytes to write. It owns no socket, no task and no clock,
//! so every decision is unit-tested by feeding it events (below); the tokio
//! actor in `actor.rs` only moves bytes and delivers actions.
//!
//! Pairing: tmux answers the control lines of one client in order, one
//! `flags=1` block per line, so the oldest waiter takes each reply. The
//! initial command's reply (`flags=0`) attaches the connection; before it
//! comes, a line outside any block is tmux refusing that command.
//!
//! Flow control: the engine knows which panes have a reader behind (the
//! actor tells it after each delivery and drain) and which panes it paused.
//! A pane is paused when a reader falls behind, continued once none is, and
//! continued at once when tmux paused it (`pause-after`) while every reader
//! keeps up.

use super::{ClientError, ClientEvent, CloseReason};
use crate::protocol::{Assembler, Command, Event, Notification, PaneId, Reply};
use bytes::Bytes;
use std::collections::{HashSet, VecDeque};
use std::time::{Duration, Instant};

/// After the transport reports the end, how long to keep reading what tmux
/// wrote before it.
pub(crate) const DRAIN_AFTER_END: Duration = Duration::from_secs(2);
/// How many bytes may wait to be written before the engine takes no more
/// commands: the request queue then fills, and callers wait for the socket.
pub(crate) const WRITE_HIGH_WATER: usize = 64 * 1024;
/// How many lines of a refusal of the initial command are kept.
const MAX_REJECTED_LINES: usize = 16;

/// What the I/O shell must do next.
#[derive(Debug)]
pub(crate) enum Action<W> {
    /// Answer a waiter.
    Resolve(W, Result<Reply, ClientError>),
    /// Broadcast an event.
    Event(ClientEvent),
    /// Offer a pane's output to its readers, then report with
    /// [`Engine::readers`] whether one of them is behind.
    Output(PaneId, Bytes),
    /// tmux paused the pane: tell its readers.
    Paused(PaneId),
    /// tmux continued the pane: tell its readers.
    Continued(PaneId),
    /// The connection is over, for this reason: close the readers and the
    /// event stream. Nothing follows.
    Closed(CloseReason),
}

/// Who waits for a reply.
#[derive(Debug)]
enum Waiter<W> {
    User(W),
    /// A command the engine sent itself (flow control); its reply is
    /// dropped unless it is an error.
    Internal,
}

/// Where the connection is in its life.
#[derive(Debug)]
enum Phase<W> {
    /// The initial command has not been answered.
    Attaching(Attaching<W>),
    /// Attached; commands are taken.
    Open,
    /// We closed our input; tmux detaches us and closes the stream.
    Detaching,
    /// The transport reported the end; what tmux wrote before it is still
    /// read, until the stream closes or `until`.
    Draining {
        reason: CloseReason,
        until: Instant,
        attaching: Option<Attaching<W>>,
    },
    /// Over; nothing more happens.
    Closed,
}

#[derive(Debug)]
struct Attaching<W> {
    initial: W,
    /// Lines outside any block: tmux's refusal of the initial command.
    rejected: Vec<String>,
}

/// The sans-IO core of one control connection; `W` is whatever the shell
/// uses to answer a caller (a oneshot sender; a number in tests).
#[derive(Debug)]
pub(crate) struct Engine<W> {
    phase: Phase<W>,
    /// Waiters for `flags=1` replies, oldest first.
    pending: VecDeque<Waiter<W>>,
    asm: Assembler,
    /// Bytes to write, in order.
    out: Vec<u8>,
    /// Panes we asked tmux to pause and have not asked to continue.
    paused_by_us: HashSet<PaneId>,
    /// Panes one of whose readers is behind.
    behind: HashSet<PaneId>,
    actions: VecDeque<Action<W>>,
    /// The stream closed: once what is buffered is handled, close with
    /// this reason.
    closing: Option<CloseReason>,
    /// Why the connection closed, once it has.
    closed: Option<CloseReason>,
}

impl<W> Engine<W> {
    /// A connection whose initial command is already on its way (the
    /// transport sent it); `initial` gets its reply.
    pub(crate) fn new(initial: W) -> Self {
        Engine {
            phase: Phase::Attaching(Attaching {
                initial,
                rejected: Vec::new(),
            }),
            pending: VecDeque::new(),
            asm: Assembler::new(),
            out: Vec::new(),
            paused_by_us: HashSet::new(),
            behind: HashSet::new(),
            actions: VecDeque::new(),
            closing: None,
            closed: None,
        }
    }

    /// The next thing to do. Events read are handled one at a time, as
    /// the actions of the previous one are taken, so the shell's report on
    /// a pane's readers ([`Engine::readers`]) after an [`Action::Output`]
    /// is in when the next event (a `%pause`, say) is decided.
    pub(crate) fn poll_action(&mut self) -> Option<Action<W>> {
        loop {
            if let Some(action) = self.actions.pop_front() {
                return Some(action);
            }
            if self.is_closed() {
                return None;
            }
            if let Some(event) = self.asm.next_event() {
                self.on_event(event);
            } else if let Some(reason) = self.closing.take() {
                if let Some(event) = self.asm.finish() {
                    self.on_event(event);
                }
                self.close(reason);
            } else {
                return None;
            }
        }
    }

    /// Handle every event read so far.
    fn pump(&mut self) {
        while let Some(event) = self.asm.next_event() {
            self.on_event(event);
        }
    }

    /// Whether new commands are taken now: input open, and less than
    /// [`WRITE_HIGH_WATER`] waiting to be written.
    pub(crate) fn takes_commands(&self) -> bool {
        self.input_open() && self.out.len() < WRITE_HIGH_WATER
    }

    fn input_open(&self) -> bool {
        matches!(self.phase, Phase::Attaching(_) | Phase::Open)
    }

    /// Bytes waiting to be written.
    pub(crate) fn to_write(&self) -> &[u8] {
        &self.out
    }

    /// `n` bytes of [`Engine::to_write`] were written.
    pub(crate) fn wrote(&mut self, n: usize) {
        self.out.drain(..n.min(self.out.len()));
    }

    /// Whether the shell should close our side of the stream now: we
    /// detached and everything before it is written.
    pub(crate) fn should_shut_down(&self) -> bool {
        self.out.is_empty() && !self.input_open()
    }

    /// When [`Engine::handle_timeout`] is due, if ever.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        match &self.phase {
            Phase::Draining { until, .. } => Some(*until),
            _ => None,
        }
    }

    /// Whether the connection is over (its [`Action::Closed`] is out).
    pub(crate) fn is_closed(&self) -> bool {
        matches!(self.phase, Phase::Closed)
    }

    /// Write one or more command lines in one piece; `waiters` get their
    /// replies in order (one per line). Once our input is closed they are
    /// answered at once with [`ClientError::Closed`], and the reason the
    /// connection ends (the server's shutdown, a failed write) where it is
    /// known: a caller that decides by it must not be told less.
    pub(crate) fn command(&mut self, lines: &str, waiters: impl IntoIterator<Item = W>) {
        if self.input_open() {
            self.out.extend_from_slice(lines.as_bytes());
            self.pending.extend(waiters.into_iter().map(Waiter::User));
        } else {
            let reason = match &self.phase {
                Phase::Draining { reason, .. } => Some(reason),
                _ => self.closed.as_ref(),
            }
            .cloned()
            .unwrap_or(CloseReason::InputClosed);
            for waiter in waiters {
                self.actions.push_back(Action::Resolve(
                    waiter,
                    Err(ClientError::Closed(reason.clone())),
                ));
            }
        }
    }

    /// Close our input (every handle is gone, or one asked to detach):
    /// tmux detaches the client and ends the stream.
    pub(crate) fn detach(&mut self, now: Instant) {
        self.close_input(CloseReason::DetachedBeforeAttaching, now);
    }

    /// Writing to tmux failed: nothing more can be sent; the read side
    /// tells why.
    pub(crate) fn write_failed(&mut self, now: Instant) {
        self.out.clear();
        self.close_input(CloseReason::WriteFailed, now);
        // Nothing more can reach tmux: the connection is over once what it
        // wrote is read, or after the drain if its side stays open.
        if matches!(self.phase, Phase::Detaching) {
            self.phase = Phase::Draining {
                reason: CloseReason::WriteFailed,
                until: now + DRAIN_AFTER_END,
                attaching: None,
            };
        }
    }

    /// Whether our input is closed: requests are then answered at once.
    pub(crate) fn input_closed(&self) -> bool {
        !self.input_open()
    }

    fn close_input(&mut self, reason: CloseReason, now: Instant) {
        match std::mem::replace(&mut self.phase, Phase::Closed) {
            // Nobody waits for the initial reply without a live handle, but
            // answer it all the same.
            Phase::Attaching(attaching) => {
                self.phase = Phase::Draining {
                    reason,
                    until: now + DRAIN_AFTER_END,
                    attaching: Some(attaching),
                }
            }
            Phase::Open => self.phase = Phase::Detaching,
            other => self.phase = other,
        }
    }

    /// Bytes tmux wrote; their events come out of [`Engine::poll_action`].
    pub(crate) fn receive(&mut self, bytes: bytes::BytesMut) {
        if !self.is_closed() && self.closing.is_none() {
            self.asm.feed_buf(bytes);
        }
    }

    /// The transport says the session is over (the server sent its exit,
    /// the child exited). No new command is taken; what tmux wrote before
    /// is read until the stream closes or [`DRAIN_AFTER_END`] has passed,
    /// and then the waiters whose replies did not come learn it.
    pub(crate) fn transport_ended(&mut self, reason: CloseReason, now: Instant) {
        // Replies read before the end still answer their commands, and so
        // do those tmux wrote before it that are not read yet: waiters are
        // answered when the stream is drained (`close`), at most
        // DRAIN_AFTER_END from now.
        self.pump();
        let attaching = match std::mem::replace(&mut self.phase, Phase::Closed) {
            Phase::Attaching(attaching) => Some(attaching),
            Phase::Open | Phase::Detaching => None,
            Phase::Draining { attaching, .. } => attaching,
            Phase::Closed => return,
        };
        self.phase = Phase::Draining {
            reason,
            until: now + DRAIN_AFTER_END,
            attaching,
        };
    }

    /// The reason the transport gave, if it has ended.
    pub(crate) fn end_reason(&self) -> Option<&CloseReason> {
        match &self.phase {
            Phase::Draining { reason, .. } => Some(reason),
            _ => None,
        }
    }

    /// Time passed; past the drain deadline the connection closes.
    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        if let Phase::Draining { reason, until, .. } = &self.phase {
            if now >= *until {
                let reason = reason.clone();
                self.close(reason);
            }
        }
    }

    /// The stream closed (or the read failed): what is buffered is
    /// handled, then the connection closes with the transport's reason, or
    /// `otherwise`.
    pub(crate) fn stream_closed(&mut self, otherwise: CloseReason) {
        if !self.is_closed() && self.closing.is_none() {
            self.closing = Some(self.end_reason().cloned().unwrap_or(otherwise));
        }
    }

    /// Whether one of `pane`'s readers is behind, after output was offered
    /// to them or one drained. Decides pausing and continuing.
    pub(crate) fn readers(&mut self, pane: PaneId, behind: bool) {
        if behind {
            self.behind.insert(pane);
            if self.paused_by_us.insert(pane) {
                self.set_pane_flow(pane, "pause");
            }
        } else {
            self.behind.remove(&pane);
            if self.paused_by_us.remove(&pane) {
                self.set_pane_flow(pane, "continue");
            }
        }
    }

    /// `pane` has no readers any more.
    pub(crate) fn unwatched(&mut self, pane: PaneId) {
        self.readers(pane, false);
    }

    fn close(&mut self, reason: CloseReason) {
        let attaching = match std::mem::replace(&mut self.phase, Phase::Closed) {
            Phase::Attaching(attaching) => Some(attaching),
            Phase::Draining { attaching, .. } => attaching,
            Phase::Open | Phase::Detaching | Phase::Closed => None,
        };
        self.out.clear();
        self.fail_pending(&reason);
        if let Some(Attaching { initial, rejected }) = attaching {
            let error = if rejected.is_empty() {
                ClientError::Closed(reason.clone())
            } else {
                ClientError::Rejected {
                    message: rejected.join("\n"),
                }
            };
            self.actions.push_back(Action::Resolve(initial, Err(error)));
        }
        self.closed = Some(reason.clone());
        self.actions.push_back(Action::Closed(reason));
    }

    fn fail_pending(&mut self, reason: &CloseReason) {
        for waiter in self.pending.drain(..) {
            if let Waiter::User(w) = waiter {
                self.actions
                    .push_back(Action::Resolve(w, Err(ClientError::Closed(reason.clone()))));
            }
        }
    }

    /// Flow control: `refresh-client -A '%P:pause'` or `continue`.
    fn set_pane_flow(&mut self, pane: PaneId, state: &str) {
        if !self.input_open() {
            return;
        }
        let line = Command::new("refresh-client")
            .arg("-A")
            .arg(format!("{pane}:{state}"))
            .to_line();
        if let Ok(line) = line {
            self.out.extend_from_slice(line.as_bytes());
            self.pending.push_back(Waiter::Internal);
        }
    }

    fn attaching(&mut self) -> Option<&mut Attaching<W>> {
        match &mut self.phase {
            Phase::Attaching(a) => Some(a),
            Phase::Draining { attaching, .. } => attaching.as_mut(),
            _ => None,
        }
    }

    fn on_event(&mut self, event: Event) {
        match event {
            Event::Reply(reply) if reply.flags == 0 && self.attaching().is_some() => {
                let attaching = match std::mem::replace(&mut self.phase, Phase::Closed) {
                    Phase::Attaching(a) => {
                        self.phase = Phase::Open;
                        a
                    }
                    Phase::Draining {
                        reason,
                        until,
                        attaching: Some(a),
                    } => {
                        self.phase = Phase::Draining {
                            reason,
                            until,
                            attaching: None,
                        };
                        a
                    }
                    _ => unreachable!("attaching() said there is an initial waiter"),
                };
                self.actions
                    .push_back(Action::Resolve(attaching.initial, reply_result(reply)));
            }
            Event::Reply(reply) if reply.flags == 1 => match self.pending.pop_front() {
                Some(Waiter::Internal) => {
                    if !reply.ok {
                        let why = String::from_utf8_lossy(&reply.output()).into_owned();
                        self.actions
                            .push_back(Action::Event(ClientEvent::Invalid(format!(
                                "flow control command failed: {why}"
                            ))));
                    }
                }
                Some(Waiter::User(w)) => {
                    self.actions
                        .push_back(Action::Resolve(w, reply_result(reply)));
                }
                None => self
                    .actions
                    .push_back(Action::Event(ClientEvent::UnpairedReply(reply))),
            },
            Event::Reply(reply) => self
                .actions
                .push_back(Action::Event(ClientEvent::UnpairedReply(reply))),
            Event::Notification(n) => {
                match &n {
                    Notification::Output { pane, data }
                    | Notification::ExtendedOutput { pane, data, .. } => {
                        self.actions.push_back(Action::Output(*pane, data.clone()));
                    }
                    Notification::Pause { pane } => {
                        self.actions.push_back(Action::Paused(*pane));
                        // Paused by tmux (pause-after) while every reader
                        // keeps up: go on.
                        if !self.behind.contains(pane) && !self.paused_by_us.contains(pane) {
                            self.set_pane_flow(*pane, "continue");
                        }
                    }
                    Notification::Continue { pane } => {
                        self.actions.push_back(Action::Continued(*pane));
                    }
                    _ => {}
                }
                self.actions
                    .push_back(Action::Event(ClientEvent::Notification(n)));
            }
            Event::Invalid { line, error } => {
                // Before the initial command is answered, a line outside
                // any block is tmux refusing that command (`cmdq_error`
                // writes it bare); keep it to report.
                if let Some(attaching) = self.attaching() {
                    if attaching.rejected.len() < MAX_REJECTED_LINES {
                        attaching
                            .rejected
                            .push(String::from_utf8_lossy(&line).into_owned());
                    }
                }
                self.actions
                    .push_back(Action::Event(ClientEvent::Invalid(error.to_string())));
            }
            Event::Truncated { .. } => self.actions.push_back(Action::Event(ClientEvent::Invalid(
                "the stream ended inside a line or block".into(),
            ))),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::Ending;

    fn detached() -> CloseReason {
        CloseReason::Ended(Ending::Detached {
            session: "s".into(),
        })
    }
    use bytes::BytesMut;

    /// An engine past the initial reply.
    fn open() -> Engine<u32> {
        let mut e = Engine::new(0);
        e.receive(BytesMut::from(&b"%begin 1 1 0\n%end 1 1 0\n"[..]));
        let Some(Action::Resolve(0, Ok(_))) = e.poll_action() else {
            panic!("the initial reply attaches");
        };
        e
    }

    fn feed(e: &mut Engine<u32>, s: &str) {
        e.receive(BytesMut::from(s.as_bytes()));
    }

    fn actions(e: &mut Engine<u32>) -> Vec<Action<u32>> {
        std::iter::from_fn(|| e.poll_action()).collect()
    }

    fn written(e: &mut Engine<u32>) -> String {
        let s = String::from_utf8(e.to_write().to_vec()).unwrap();
        e.wrote(s.len());
        s
    }

    fn resolved(actions: &[Action<u32>]) -> Vec<(u32, Result<String, String>)> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Resolve(w, r) => Some((
                    *w,
                    r.as_ref()
                        .map(|r| String::from_utf8_lossy(&r.output()).into_owned())
                        .map_err(|e| e.to_string()),
                )),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn replies_go_to_waiters_in_order_and_errors_stay_errors() {
        let mut e = open();
        e.command("a\nb\n", [1, 2]);
        e.command("c\n", [3]);
        assert_eq!(written(&mut e), "a\nb\nc\n");
        feed(
            &mut e,
            "%begin 5 10 1\none\n%end 5 10 1\n%begin 5 11 1\nbad\n%error 5 11 1\n%begin 5 12 1\n%end 5 12 1\n",
        );
        assert_eq!(
            resolved(&actions(&mut e)),
            [
                (1, Ok("one".into())),
                (2, Err("tmux: bad".into())),
                (3, Ok(String::new()))
            ]
        );
        // A reply nobody waits for is reported, not lost.
        feed(&mut e, "%begin 5 13 1\nextra\n%end 5 13 1\n");
        assert!(matches!(
            &actions(&mut e)[..],
            [Action::Event(ClientEvent::UnpairedReply(_))]
        ));
    }

    #[test]
    fn a_refused_initial_command_is_reported_in_tmux_words() {
        let mut e: Engine<u32> = Engine::new(0);
        feed(&mut e, "unknown command: nope\n");
        e.transport_ended(CloseReason::Ended(Ending::ServerGone), Instant::now());
        assert!(!e.takes_commands());
        e.stream_closed(CloseReason::StreamClosed);
        let got = actions(&mut e);
        assert_eq!(
            resolved(&got),
            [(0, Err("tmux: unknown command: nope".into()))]
        );
        assert!(
            matches!(got.last(), Some(Action::Closed(r)) if *r == CloseReason::Ended(Ending::ServerGone))
        );
        assert!(e.is_closed());
    }

    #[test]
    fn after_the_end_replies_still_read_answer_and_the_rest_fail_after_the_drain() {
        let mut e = open();
        e.command("x\ny\n", [6, 7]);
        written(&mut e);
        let t0 = Instant::now();
        e.transport_ended(detached(), t0);
        assert_eq!(resolved(&actions(&mut e)), []);
        // A reply tmux wrote before the end, read after it, still answers.
        feed(&mut e, "%begin 1 5 1\nsix\n%end 1 5 1\n");
        assert_eq!(resolved(&actions(&mut e)), [(6, Ok("six".into()))]);
        // Output written before the end is still delivered.
        feed(&mut e, "%output %1 hi\n");
        assert!(
            matches!(actions(&mut e)[0], Action::Output(p, ref d) if p == PaneId(1) && d == "hi")
        );
        // Commands are refused now, not written, with the end's reason.
        e.command("y\n", [8]);
        assert_eq!(
            resolved(&actions(&mut e)),
            [(8, Err("connection closed: detached from session s".into()))]
        );
        assert!(e.to_write().is_empty());
        assert_eq!(e.poll_timeout(), Some(t0 + DRAIN_AFTER_END));
        e.handle_timeout(t0 + DRAIN_AFTER_END / 2);
        assert!(!e.is_closed());
        e.handle_timeout(t0 + DRAIN_AFTER_END);
        let got = actions(&mut e);
        assert_eq!(
            resolved(&got),
            [(7, Err("connection closed: detached from session s".into()))]
        );
        assert!(matches!(got.last(), Some(Action::Closed(r)) if *r == detached()));
        // And once it is closed, too.
        e.command("z\n", [9]);
        assert_eq!(
            resolved(&actions(&mut e)),
            [(9, Err("connection closed: detached from session s".into()))]
        );
    }

    #[test]
    fn a_command_after_a_shutdown_says_the_server_ends() {
        let mut e = open();
        e.transport_ended(CloseReason::Ended(Ending::Shutdown), Instant::now());
        e.command("display-message -p x\n", [4]);
        let got = actions(&mut e);
        let [Action::Resolve(4, Err(ClientError::Closed(reason)))] = &got[..] else {
            panic!("{got:?}");
        };
        assert!(reason.server_ended(), "{reason:?}");
    }

    #[test]
    fn a_reader_behind_pauses_the_pane_until_it_drains() {
        let mut e = open();
        let pane = PaneId(3);
        e.readers(pane, true);
        e.readers(pane, true);
        assert_eq!(written(&mut e), "refresh-client -A '%3:pause'\n");
        e.readers(pane, false);
        assert_eq!(written(&mut e), "refresh-client -A '%3:continue'\n");
        // Nothing to continue when we paused nothing.
        e.readers(pane, false);
        assert_eq!(written(&mut e), "");
        // The flow-control replies are the engine's own; user replies still
        // pair with user commands.
        e.command("u\n", [9]);
        feed(
            &mut e,
            "%begin 1 2 1\n%end 1 2 1\n%begin 1 3 1\n%end 1 3 1\n%begin 1 4 1\nme\n%end 1 4 1\n",
        );
        assert_eq!(resolved(&actions(&mut e)), [(9, Ok("me".into()))]);
    }

    #[test]
    fn a_pause_by_tmux_is_continued_only_while_readers_keep_up() {
        let mut e = open();
        feed(&mut e, "%pause %2\n");
        assert!(matches!(actions(&mut e)[0], Action::Paused(p) if p == PaneId(2)));
        assert_eq!(written(&mut e), "refresh-client -A '%2:continue'\n");
        e.readers(PaneId(2), true);
        written(&mut e);
        feed(&mut e, "%pause %2\n");
        actions(&mut e);
        assert_eq!(written(&mut e), "", "a reader is behind: stay paused");
        feed(&mut e, "%continue %2\n");
        assert!(matches!(actions(&mut e)[0], Action::Continued(p) if p == PaneId(2)));
    }

    #[test]
    fn commands_wait_once_enough_is_unwritten() {
        let mut e = open();
        let line = format!("display-message -p {}\n", "x".repeat(1000));
        let mut n = 0;
        while e.takes_commands() {
            e.command(&line, [n]);
            n += 1;
        }
        assert!(e.to_write().len() >= WRITE_HIGH_WATER);
        e.wrote(e.to_write().len());
        assert!(e.takes_commands());
    }

    #[test]
    fn detaching_closes_input_after_what_is_queued() {
        let mut e = open();
        e.command("last\n", [1]);
        e.detach(Instant::now());
        assert!(!e.takes_commands() && !e.should_shut_down());
        assert_eq!(written(&mut e), "last\n");
        assert!(e.should_shut_down());
        feed(&mut e, "%begin 1 2 1\n%end 1 2 1\n%exit\n");
        e.stream_closed(CloseReason::StreamClosed);
        let got = actions(&mut e);
        assert_eq!(resolved(&got), [(1, Ok(String::new()))]);
        assert!(matches!(got.last(), Some(Action::Closed(r)) if *r == CloseReason::StreamClosed));
    }

    #[test]
    fn a_failed_write_sends_nothing_more() {
        let mut e = open();
        e.command("a\n", [1]);
        e.write_failed(Instant::now());
        assert!(e.to_write().is_empty() && !e.takes_commands() && e.should_shut_down());
        e.command("b\n", [2]);
        e.readers(PaneId(1), true);
        assert!(e.to_write().is_empty());
        assert_eq!(
            resolved(&actions(&mut e)),
            [(2, Err("connection closed: writing to tmux failed".into()))]
        );
    }
}
