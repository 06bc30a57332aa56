//! The log writer's input: standard input (the pane's output, from tmux),
//! with the reminders to the server to reap its children and the sync
//! requests readers send.

use std::io::{self, Read};
use std::path::Path;

use super::SyncChannel;

/// Standard input for the log writer, reminding the tmux server that started the
/// sink to reap its children after each half second without input (the
/// backstop of `crate::os::reaper`).
///
/// tmux packages built with libutempter lose the SIGCHLD of a pane's
/// process now and then (see `os::reaper`): the pane then reads
/// dead with no status, and its `pane-died` hook (a restart policy's) does
/// not fire until the server gets another SIGCHLD. With no tmux-wire client
/// alive, nobody would send one; the sink, a child of the server that
/// lives as long as the pane, does. A SIGCHLD's only effect on tmux is a
/// `waitpid` for what has exited.
///
/// Standard input is read through a file of its own (a duplicate of
/// descriptor 0), never through [`io::Stdin`]: that one buffers, and a byte
/// it read ahead into its buffer is in neither the socket (what `FIONREAD`
/// and `poll` see) nor the log, so a sync would say the log holds all while
/// it waits there.
pub struct NudgingStdin<R = std::fs::File> {
    pub(super) stdin: R,
    pub(super) server: Option<rustix::process::Pid>,
    /// Where readers ask for syncs, if it has a channel.
    pub(super) sync: Option<SyncChannel>,
}

impl NudgingStdin {
    /// Standard input, unbuffered; the parent is reminded only if it is a
    /// tmux process.
    pub fn new() -> io::Result<NudgingStdin> {
        use std::os::fd::AsFd;
        Ok(NudgingStdin {
            stdin: std::fs::File::from(io::stdin().as_fd().try_clone_to_owned()?),
            server: rustix::process::getppid()
                .filter(|&parent| crate::os::process::is_tmux(parent)),
            sync: None,
        })
    }
}

impl<R: Read + std::os::fd::AsFd> Read for NudgingStdin<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        use rustix::event::{poll, PollFd, PollFlags, Timespec};
        if let Some(server) = self.server {
            // Half a second, which a `Timespec` always holds.
            let backstop = Timespec::try_from(crate::os::reaper::BACKSTOP).ok();
            loop {
                let mut fds = [PollFd::from_borrowed_fd(self.stdin.as_fd(), PollFlags::IN)];
                match poll(&mut fds, backstop.as_ref()) {
                    Ok(0) => crate::os::reaper::remind(Some(server)),
                    Ok(_) => break,
                    Err(rustix::io::Errno::INTR) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        self.stdin.read(buf)
    }
}

impl<R> NudgingStdin<R> {
    /// Also answer readers' sync requests on the FIFO `NAME.sync` beside
    /// the log at `log` (see the keeper's `log::sync`), made if missing;
    /// without it (it cannot be made, or is not ours) the writer writes on
    /// and why is logged, and readers, finding nobody listening, wait until
    /// their deadline and then say the log may be incomplete.
    pub fn with_sync(mut self, log: &Path) -> NudgingStdin<R> {
        match SyncChannel::open(log) {
            Ok(sync) => self.sync = Some(sync),
            Err(e) => ::log::warn!("log sync channel of {}: {e}", log.display()),
        }
        self
    }
}

/// How many bytes `input` holds unread (`FIONREAD`: a pipe's or a
/// socket's); `None` where it cannot be asked.
pub(super) fn unread(input: &impl std::os::fd::AsFd) -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        rustix::io::ioctl_fionread(input).ok()
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = input;
        None
    }
}

/// What a [`Source`] gives next.
pub(super) enum Next {
    /// This many bytes of input in the buffer.
    Data(usize),
    /// End of input.
    End,
    /// Readers asked for a sync (these requests), and all input that was
    /// there when they were seen has been given.
    Sync(Vec<String>),
}

/// The input of a sink: plain bytes, or stdin with sync requests.
pub(super) trait Source {
    fn next(&mut self, buf: &mut [u8]) -> io::Result<Next>;

    /// Answer sync requests; `None` where there is no channel.
    fn answer(&mut self, requests: Vec<String>, received: u64) -> Option<io::Result<()>> {
        let _ = (requests, received);
        None
    }
}

#[cfg(test)]
pub(super) struct Plain<R>(pub(super) R);

#[cfg(test)]
impl<R: Read> Source for Plain<R> {
    fn next(&mut self, buf: &mut [u8]) -> io::Result<Next> {
        Ok(match self.0.read(buf)? {
            0 => Next::End,
            n => Next::Data(n),
        })
    }
}

impl<R: Read + std::os::fd::AsFd> Source for NudgingStdin<R> {
    fn answer(&mut self, requests: Vec<String>, received: u64) -> Option<io::Result<()>> {
        Some(self.sync.as_mut()?.answer(requests, received))
    }

    fn next(&mut self, buf: &mut [u8]) -> io::Result<Next> {
        use rustix::event::{poll, PollFd, PollFlags, Timespec};
        use std::os::fd::AsFd;
        let Some(sync) = self.sync.as_mut() else {
            return Ok(match self.read(buf)? {
                0 => Next::End,
                n => Next::Data(n),
            });
        };
        if let Some((requests, budget)) = sync.pending.take() {
            // Draining for a sync: what was in the pipe when the requests
            // were seen, without waiting for more (a flood would never let
            // a drain "until empty" end; the reader's second sync sees
            // what came after).
            if budget == 0 {
                return Ok(Next::Sync(requests));
            }
            let ready = loop {
                let mut fds = [PollFd::from_borrowed_fd(self.stdin.as_fd(), PollFlags::IN)];
                let zero = Timespec {
                    tv_sec: 0,
                    tv_nsec: 0,
                };
                match poll(&mut fds, Some(&zero)) {
                    Ok(n) => break n > 0,
                    Err(rustix::io::Errno::INTR) => {}
                    Err(e) => return Err(e.into()),
                }
            };
            if !ready {
                return Ok(Next::Sync(requests));
            }
            let most = usize::try_from(budget).unwrap_or(usize::MAX).min(buf.len());
            let n = self.stdin.read(&mut buf[..most])?;
            if n == 0 {
                sync.ended = true;
                return Ok(Next::Sync(requests));
            }
            sync.pending = Some((requests, budget - n as u64));
            return Ok(Next::Data(n));
        }
        if sync.ended {
            // Requests that came with the end are answered before it.
            let requests = sync.take_requests();
            if !requests.is_empty() {
                return Ok(Next::Sync(requests));
            }
            return Ok(Next::End);
        }
        // The reaper's backstop, as in `read`.
        let timeout = self
            .server
            .and_then(|_| Timespec::try_from(crate::os::reaper::BACKSTOP).ok());
        loop {
            let mut fds = [
                PollFd::from_borrowed_fd(self.stdin.as_fd(), PollFlags::IN),
                PollFd::from_borrowed_fd(sync.fifo.as_fd(), PollFlags::IN),
            ];
            let (input, asked) = match poll(&mut fds, timeout.as_ref()) {
                Ok(0) => {
                    if let Some(server) = self.server {
                        let _ =
                            rustix::process::kill_process(server, rustix::process::Signal::CHILD);
                    }
                    continue;
                }
                Ok(_) => {
                    let ready = |fd: &PollFd| !fd.revents().is_empty();
                    (ready(&fds[0]), ready(&fds[1]))
                }
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            };
            if asked {
                let requests = sync.take_requests();
                if !requests.is_empty() {
                    // Answered once what is in the pipe now is read (see
                    // above); where that cannot be known, once it is empty.
                    let budget = unread(&self.stdin).unwrap_or(u64::MAX);
                    sync.pending = Some((requests, budget));
                    return self.next(buf);
                }
            }
            if input {
                return Ok(match self.stdin.read(buf)? {
                    0 => {
                        // The end: what was asked meanwhile is answered
                        // first (see above).
                        sync.ended = true;
                        return self.next(buf);
                    }
                    n => Next::Data(n),
                });
            }
        }
    }
}
