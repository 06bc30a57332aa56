//! Knowing that a log holds everything tmux read from a pane up to now:
//! a sync with the log writer, exact where a quiet window only guesses.
//!
//! The writer (a process of its own, fed by tmux through a socket) can lag
//! behind tmux by any time when it is not scheduled; a log that stayed
//! unchanged for a while says nothing then. So the writer also reads
//! requests from a FIFO beside the log, `NAME.sync` (made by the keeper
//! before it starts the writer, or by the writer if missing; mode 0600;
//! one that is not a FIFO, not ours, or linked elsewhere is refused, as
//! the log is). A reader writes a request (16 hex digits and a
//! newline, one atomic write); the writer then reads what its input socket
//! held when it saw the request (`FIONREAD`; where that cannot be asked,
//! until the socket is empty), writes all of it to the log, and answers: in the
//! reader's own FIFO `NAME.reply.REQUEST` if the reader made one (mode
//! 0600, opened for reading before the request was written; it is read as
//! the answer comes, and removed after), and in the answer file
//! `NAME.synced`, which it replaces. Both say `tmux-wire-synced 1 PID`,
//! then a line `REQUEST RECEIVED` (the answer file one for each of the last
//! requests served), RECEIVED being the bytes of input the writer had read
//! (all written, or counted as lost and marked) when it answered that
//! request. The reply FIFO wakes the reader at once; the answer file serves
//! readers and writers of a tmux-wire before the reply FIFOs, looked at
//! every [`GONE_LOOK`]. (Watching the answer file with inotify would wake
//! as soon, but closing an inotify instance waits for the kernel's grace
//! period, 10-15 ms, at each sync.)
//!
//! Everything tmux read from the pane before a moment is in the log once:
//! a sync, then a round trip to the tmux server (any command), then a
//! second sync that finds the writer had received no byte since the first.
//! Then the socket was empty from the first answer until the second
//! request was seen (a byte there would have been read before the second
//! answer), so it was writable in the server loop iteration that answered the round trip,
//! where libevent writes what tmux still buffers for it: had anything been
//! buffered, the second sync would have received it. If bytes did come in
//! between, round trip and sync again. For a pane tmux has marked dead one
//! sync suffices: tmux destroys a pane only once its buffer for the pipe
//! is empty and the pty has nothing more to read (`window_pane_destroy_ready`
//! since tmux 3.2), so all its output is in the socket or the log. "All"
//! is all tmux read: tmux (3.3a, 3.6a) was seen, now and then, to close a
//! pane whose pipe was backed up when its process ended with output still
//! unread in the pty (the pane's screen ends short too); no log can hold
//! that.
//!
//! A writer that does not answer in time (stopped, or gone with its FIFO
//! left behind and a request buffered), or a FIFO that is not ours, makes
//! the check fail: the caller must say that the log may be incomplete,
//! never answer short.
//!
//! The keeper makes the FIFO and removes the answer file before it starts
//! a writer ([`prepare_channel`]), and a writer writes the answer file's
//! first line as soon as it listens: a FIFO nobody holds open (`ENXIO`)
//! with no answer file is a writer that has not started yet (tmux starts
//! it; on a loaded machine that takes a while), and a sync waits for it
//! until its deadline rather than take a log the writer has not begun to
//! fill for a whole one. A log without a FIFO (a writer of a tmux-wire
//! before this channel), or whose writer listened and has ended (`ENXIO`
//! with an answer file: all it got is written), falls back to waiting
//! until the log stays unchanged for a quiet window, which is not exact.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::time::Instant;

use crate::client::{commands, Client, ClientError};
use crate::keeper::{KeeperError, LogWriter};
use crate::protocol::PaneId;

/// The first words of an answer file (and its format version).
pub(crate) const ANSWER_HEADER: &str = "tmux-wire-synced 1";

/// The FIFO readers ask the writer of the log at `log` for syncs through.
pub(crate) fn fifo_path(log: &Path) -> PathBuf {
    log.with_extension("sync")
}

/// The file the writer of the log at `log` answers syncs in.
pub(crate) fn answer_path(log: &Path) -> PathBuf {
    log.with_extension("synced")
}

/// The FIFO a reader of the log at `log` gets the answer to `request` in.
pub(crate) fn reply_path(log: &Path, request: &str) -> PathBuf {
    log.with_extension(format!("reply.{request}"))
}

/// Whether `suffix` (what follows `NAME.` in a file name) is a reply
/// FIFO's, `reply.` and a request (16 hex digits): a reader killed while it
/// waited leaves its reply FIFO behind, which pruning removes.
pub(crate) fn is_reply_suffix(suffix: &str) -> bool {
    suffix
        .strip_prefix("reply.")
        .is_some_and(|r| r.len() == 16 && r.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Make the sync channel of the log at `log` ready for a writer about to
/// start: a new FIFO (mode 0600), and no answer file, so that readers wait
/// for this writer to listen rather than take the log as it is (see the
/// module's documentation). The FIFO is made anew: a writer of an earlier
/// run of the name may still hold the old one open (draining what its
/// pane left), and must not answer for this run.
pub(crate) fn prepare_channel(log: &Path) -> io::Result<()> {
    let fifo = fifo_path(log);
    std::fs::remove_file(&fifo).or_else(super::ignore_missing)?;
    super::make_fifo(&fifo)?;
    std::fs::remove_file(answer_path(log)).or_else(super::ignore_missing)
}

/// How often a sync looks again for a writer that has not started yet.
const START_LOOK: Duration = Duration::from_millis(10);

/// The least time a sync waits for its answer.
const SYNC_AT_LEAST: Duration = Duration::from_secs(1);
/// How often a sync waiting for its answer looks whether the writer ended.
const GONE_LOOK: Duration = Duration::from_millis(100);

/// What a sync found: which writer, and how many bytes it had received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Mark {
    writer: u32,
    received: u64,
}

/// How a sync went.
#[derive(Debug)]
pub(crate) enum Synced {
    /// The writer answered.
    Answered(Mark),
    /// There is no channel (see the module's documentation).
    NoChannel,
    /// The writer did not answer before the deadline; why.
    Silent(String),
}

/// Ask the writer of the log at `log` for a sync and wait (until
/// `deadline`) for its answer.
pub(crate) async fn sync(log: &Path, deadline: Instant) -> Synced {
    // Each sync has a time of its own, however much of the caller's went
    // on what came before it: a writer that answers is not taken for one
    // that does not.
    let deadline = deadline.max(Instant::now() + SYNC_AT_LEAST);
    let fifo = fifo_path(log);
    let request = format!("{:016x}", request_id());
    // Where the answer comes, made and opened before asking. Without it
    // (it cannot be made), the answer file is looked at.
    let mut reply = match Reply::make(log, &request) {
        Ok(reply) => Some(reply),
        Err(e) => {
            ::log::debug!("sync reply FIFO for {}: {e}", log.display());
            None
        }
    };
    let mut channel = loop {
        // Looked at before the FIFO: a writer opens the FIFO first, then
        // says it listens, so a FIFO found unopened after no answer file
        // was found is one whose writer has not listened yet.
        let listened = std::fs::symlink_metadata(answer_path(log)).is_ok();
        match super::open_fifo_to_write(&fifo) {
            Ok(file) => break file,
            // A FIFO no writer holds open, and no writer listened yet: one
            // about to start (see the module's documentation).
            Err(e) if super::nobody_reads(&e) && !listened => {
                if Instant::now() >= deadline {
                    return Synced::Silent(
                        "it has not opened its sync channel (it has not started, or cannot)".into(),
                    );
                }
                tokio::time::sleep(START_LOOK).await;
            }
            // No FIFO, or its writer has ended, or not ours: no channel.
            Err(_) => return Synced::NoChannel,
        }
    };
    // One that is not ours was put there by someone else: say so rather
    // than fall back to a guess.
    if let Err(e) = super::check_ours_as(&fifo, &channel, "a sync channel", ("a FIFO", is_fifo)) {
        return Synced::Silent(e.to_string());
    }
    // At most PIPE_BUF bytes: written whole or not at all.
    match channel.write(format!("{request}\n").as_bytes()) {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
            return Synced::Silent("it does not read sync requests (their pipe is full)".into())
        }
        // The writer closed its end: it has ended, all it got is written.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Synced::NoChannel,
        Err(e) => return Synced::Silent(format!("a sync request could not be written: {e}")),
    }
    drop(channel);
    loop {
        let look = deadline.min(Instant::now() + GONE_LOOK);
        match &mut reply {
            Some(fifo) => match tokio::time::timeout_at(look, fifo.answer(&request)).await {
                Ok(Some(mark)) => return Synced::Answered(mark),
                // Closed without our answer: the answer file may hold it.
                Ok(None) => reply = None,
                Err(_) => {}
            },
            None => tokio::time::sleep_until(look).await,
        }
        // A writer of a tmux-wire before the reply FIFOs answers in the
        // file only.
        if let Some(mark) = answer_to(log, &request) {
            return Synced::Answered(mark);
        }
        if Instant::now() >= deadline {
            return Synced::Silent(
                "it did not answer a sync in time (it may be stopped, or far behind)".into(),
            );
        }
        // A writer that ended after the request was written never answers
        // it: nobody holds the FIFO open any more (ENXIO), and all it got
        // is written.
        let gone = super::open_fifo_to_write(&fifo).is_err_and(|e| super::nobody_reads(&e));
        if gone && answer_to(log, &request).is_none() {
            return Synced::NoChannel;
        }
    }
}

/// A reader's own FIFO for the answer to one request ([`reply_path`]),
/// open for reading; removed when dropped.
struct Reply {
    path: PathBuf,
    fifo: tokio::net::unix::pipe::Receiver,
    /// What was read from it so far (an answer is one short write).
    text: Vec<u8>,
}

impl Reply {
    fn make(log: &Path, request: &str) -> io::Result<Reply> {
        let path = reply_path(log, request);
        super::make_fifo(&path)?;
        match tokio::net::unix::pipe::OpenOptions::new().open_receiver(&path) {
            Ok(fifo) => Ok(Reply {
                path,
                fifo,
                text: Vec::new(),
            }),
            Err(e) => {
                let _ = std::fs::remove_file(&path);
                Err(e)
            }
        }
    }

    /// The writer's answer to `request`; `None` if the FIFO was closed
    /// without it (or cannot be read).
    async fn answer(&mut self, request: &str) -> Option<Mark> {
        let mut buf = [0u8; 512];
        loop {
            self.fifo.readable().await.ok()?;
            match self.fifo.try_read(&mut buf) {
                Ok(0) => return None,
                Ok(n) => {
                    self.text.extend_from_slice(&buf[..n]);
                    if self.text.len() > 64 * 1024 {
                        return None;
                    }
                    if let Some(mark) = std::str::from_utf8(&self.text)
                        .ok()
                        .and_then(|text| parse_answer(text, request))
                    {
                        return Some(mark);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return None,
            }
        }
    }
}

impl Drop for Reply {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn is_fifo(t: &std::fs::FileType) -> bool {
    use std::os::unix::fs::FileTypeExt;
    t.is_fifo()
}

/// A request id no other reader uses at the same time.
fn request_id() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}

/// The answer to `request` in the answer file of `log`, if it is there.
fn answer_to(log: &Path, request: &str) -> Option<Mark> {
    use std::io::Read;
    let path = answer_path(log);
    let mut text = String::new();
    super::open_read(&path)
        .ok()?
        .take(64 * 1024)
        .read_to_string(&mut text)
        .ok()?;
    parse_answer(&text, request)
}

fn parse_answer(text: &str, request: &str) -> Option<Mark> {
    let mut lines = text.lines();
    let writer = lines
        .next()?
        .strip_prefix(ANSWER_HEADER)?
        .strip_prefix(' ')?
        .parse()
        .ok()?;
    lines
        .rev()
        .find_map(|line| {
            let (id, received) = line.split_once(' ')?;
            (id == request).then(|| received.parse().ok())?
        })
        .map(|received| Mark { writer, received })
}

/// Wait until the log at `log` (of the kept process `name`) holds
/// everything tmux read from its pane before this call: exactly through
/// syncs with its writer and round trips on `tmux` (a connection and the
/// pane; `None` only for a pane tmux has marked dead, where one sync is
/// exact), see the module's documentation. Returns `true` once it does;
/// `false` if output kept coming until `deadline` (a process that prints
/// all the time). Without a sync channel (a writer of an older tmux-wire,
/// or one that listened and has ended), it waits instead until the log
/// stayed unchanged for `quiet` (or `deadline`), and returns whether it
/// did: not exact.
///
/// A writer that does not answer by `deadline`, or has not begun to
/// listen by then, is [`KeeperError::LogWriter`]: the log may not hold
/// everything.
pub(crate) async fn everything_logged(
    log: &Path,
    name: &str,
    tmux: Option<(&Client, PaneId)>,
    quiet: Duration,
    deadline: Instant,
) -> Result<bool, KeeperError> {
    Ok(match logged(log, name, tmux, quiet, deadline).await? {
        Logged::Exact => true,
        Logged::Moving => false,
        Logged::Quiet(quiet) => quiet,
    })
}

/// What [`logged`] found.
enum Logged {
    /// The log holds everything.
    Exact,
    /// Output kept coming until the deadline.
    Moving,
    /// No channel: whether the log stayed unchanged for the quiet window.
    Quiet(bool),
}

async fn logged(
    log: &Path,
    name: &str,
    tmux: Option<(&Client, PaneId)>,
    quiet: Duration,
    deadline: Instant,
) -> Result<Logged, KeeperError> {
    let silent = |reason: String| KeeperError::LogWriter {
        name: name.to_string(),
        what: "its log may not hold all of its output".to_string(),
        writer: LogWriter::Stopped { reason },
    };
    let mut mark = match sync(log, deadline).await {
        Synced::Answered(mark) => mark,
        Synced::NoChannel => return Ok(Logged::Quiet(super::settle(log, quiet, deadline).await)),
        Synced::Silent(reason) => return Err(silent(reason)),
    };
    let Some((client, pane)) = tmux else {
        return Ok(Logged::Exact);
    };
    loop {
        match client.command(commands::display(pane, "x")).await {
            // Answered, also when the pane is gone: the round trip is made.
            Ok(_) | Err(ClientError::Command { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        let next = match sync(log, deadline).await {
            Synced::Answered(next) => next,
            Synced::NoChannel => {
                return Ok(Logged::Quiet(super::settle(log, quiet, deadline).await))
            }
            Synced::Silent(reason) => return Err(silent(reason)),
        };
        if next == mark {
            return Ok(Logged::Exact);
        }
        if Instant::now() >= deadline {
            return Ok(Logged::Moving);
        }
        mark = next;
    }
}

/// [`everything_logged`] for a process that has exited: wait (until
/// `deadline`) until tmux marks its pane dead, or the pane or server is
/// gone, then one sync. The exit can be known before tmux has read all
/// the process wrote (a pidfd wakes at the exit, a status can be read
/// once tmux reaped it); a dead pane is one whose pty tmux read to its
/// end and whose output for the writer it passed on whole (see the
/// module's documentation). `tmux` is `None` only for a pane already seen
/// dead.
///
/// A pane still alive at `deadline` (tmux still holds output the writer
/// has not taken), or a writer that does not answer, is
/// [`KeeperError::LogWriter`]: the log may not hold everything.
pub(crate) async fn everything_logged_after_exit(
    log: &Path,
    name: &str,
    tmux: Option<(&Client, PaneId)>,
    quiet: Duration,
    deadline: Instant,
) -> Result<(), KeeperError> {
    if let Some((client, pane)) = tmux {
        if !until_dead(client, pane, deadline).await {
            // Alive still: run again (a restart policy's respawn), or kept
            // open by a child that still prints. Then everything tmux read
            // until now is what can be had: the check of a live pane.
            let deadline = deadline.max(Instant::now() + SYNC_AT_LEAST);
            return match logged(log, name, tmux, quiet, deadline).await? {
                Logged::Exact | Logged::Quiet(_) => Ok(()),
                Logged::Moving => Err(KeeperError::LogWriter {
                    name: name.to_string(),
                    what: "its log may not hold all of its output".to_string(),
                    writer: LogWriter::Stopped {
                        reason: "its pane still gives output the log writer has not taken (it may be stopped, or far behind)"
                            .into(),
                    },
                }),
            };
        }
    }
    // A quiet window, also one that ran out: as before the sync channel,
    // the log is taken as it is (a writer without a channel cannot tell
    // more).
    logged(log, name, None, quiet, deadline).await.map(drop)
}

/// How often [`until_dead`] looks.
const DEAD_LOOK: Duration = Duration::from_millis(5);

/// Wait until `pane` is dead or gone (or tmux cannot be asked: a server
/// gone has closed the writer's pipe too); false if it is still alive at
/// `deadline`. tmux tells nobody when a pane dies (its `pane-died` hook
/// aside, which the exit wait uses), so it looks every [`DEAD_LOOK`].
async fn until_dead(client: &Client, pane: PaneId, deadline: Instant) -> bool {
    loop {
        let look = client
            .command(commands::display(pane, "#{pane_id} #{pane_dead}"))
            .await;
        let alive = match look {
            Ok(reply) => reply.text() == format!("{pane} 0"),
            Err(_) => false,
        };
        if !alive {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep_until(deadline.min(Instant::now() + DEAD_LOOK)).await;
    }
}

/// How long [`until_listening`] waits at most.
const LISTENS_WITHIN: Duration = Duration::from_secs(5);

/// Wait (at most [`LISTENS_WITHIN`]) until the log writer just started for
/// the log at `log` answers syncs, so that a reader after this never takes
/// a writer still starting for one without a channel (and falls back to a
/// quiet window while nothing is written yet). One that does not is
/// logged; readers then fall back.
pub(crate) async fn until_listening(log: &Path) {
    let deadline = Instant::now() + LISTENS_WITHIN;
    loop {
        match sync(log, deadline).await {
            Synced::Answered(_) => return,
            Synced::Silent(why) => {
                ::log::warn!("the log writer of {}: {why}", log.display());
                return;
            }
            Synced::NoChannel if Instant::now() >= deadline => {
                ::log::warn!(
                    "the log writer of {} did not open its sync channel",
                    log.display()
                );
                return;
            }
            // Not made or not opened yet: the writer is starting.
            Synced::NoChannel => {
                tokio::time::sleep_until(deadline.min(Instant::now() + DEAD_LOOK)).await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_found_by_their_request() {
        let text = format!("{ANSWER_HEADER} 42\naaaaaaaaaaaaaaaa 10\nbbbbbbbbbbbbbbbb 20\n");
        assert_eq!(
            parse_answer(&text, "bbbbbbbbbbbbbbbb"),
            Some(Mark {
                writer: 42,
                received: 20
            })
        );
        assert_eq!(parse_answer(&text, "cccccccccccccccc"), None);
        assert_eq!(parse_answer("tmux-wire-synced 2 42\n", "x"), None);
        assert_eq!(parse_answer("", "x"), None);
    }

    #[tokio::test]
    async fn a_reader_gets_its_answer_in_its_reply_fifo_and_removes_it() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("x.log");
        let mut channel = super::super::SyncChannel::open(&log).unwrap();
        let request = "0123456789abcdef";
        let mut reply = Reply::make(&log, request).unwrap();
        assert!(is_reply_suffix(
            reply
                .path
                .file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .strip_prefix("x.")
                .unwrap()
        ));
        channel.answer(vec![request.into()], 8).unwrap();
        let mark = reply.answer(request).await.unwrap();
        assert_eq!(mark.received, 8);
        assert_eq!(mark.writer, std::process::id());
        // The answer file says it too, for readers without a reply FIFO.
        assert_eq!(answer_to(&log, request), Some(mark));
        let path = reply.path.clone();
        drop(reply);
        assert!(!path.exists(), "the reply FIFO is removed");
        // A request whose reader is gone (no FIFO) is answered in the file.
        channel.answer(vec!["00000000000000ff".into()], 9).unwrap();
        assert_eq!(
            answer_to(&log, "00000000000000ff").map(|m| m.received),
            Some(9)
        );
    }
}
