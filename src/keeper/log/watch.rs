//! Waking when a log changes (inotify, or a poll where there is none),
//! and waiting until it is quiet.

use std::io;
use std::path::{Path, PathBuf};

use super::{rotated, FileId};

/// Wakes when a log changes (it grows, rotates, or is made): inotify on
/// the log's directory on Linux, so a reader reads when the writer wrote,
/// not when tmux's output events happen to come (the writer can lag behind
/// them by seconds under a flood). Changes of other files in the directory
/// (other processes' logs) are ignored. Where inotify is missing or cannot
/// be had (another OS, the per-user limit used up), it wakes every 100 ms.
pub struct LogWatch {
    inner: Watching,
    /// See [`LogWatch::paced`]: the least time between two wake-ups, and
    /// when the last one was.
    pace: Option<(std::time::Duration, Option<tokio::time::Instant>)>,
}

/// How often a reader of a log that keeps growing wakes at most
/// ([`LogWatch::paced`]): each wake-up then reads what a flood wrote in
/// this time (hundreds of KiB) instead of each of the writer's writes.
pub const FLOOD_PACE: std::time::Duration = std::time::Duration::from_millis(5);

enum Watching {
    #[cfg(target_os = "linux")]
    Inotify {
        fd: tokio::io::unix::AsyncFd<InotifyFd>,
        /// The log's file name; `NAME.N` of a rotation counts too.
        name: std::ffi::OsString,
    },
    Poll {
        tick: tokio::time::Interval,
        path: PathBuf,
        /// What the log and its first rotation were at the last look.
        seen: Vec<Option<(FileId, u64)>>,
    },
}

/// An inotify instance that tokio can wait on (it owns the fd it lends).
#[cfg(target_os = "linux")]
pub(crate) struct InotifyFd(std::os::fd::OwnedFd);

#[cfg(target_os = "linux")]
impl InotifyFd {
    /// A new nonblocking inotify instance that watches `path` for
    /// `events`.
    pub(crate) fn watch(
        path: &Path,
        events: rustix::fs::inotify::WatchFlags,
    ) -> rustix::io::Result<InotifyFd> {
        use rustix::fs::inotify::{add_watch, init, CreateFlags};
        let fd = init(CreateFlags::NONBLOCK | CreateFlags::CLOEXEC)?;
        add_watch(&fd, path, events)?;
        Ok(InotifyFd(fd))
    }

    /// The events one read gives, each as the name of the file it is
    /// about (`None` for one about no named file, such as the queue's
    /// overflow); `Errno::AGAIN` when none are queued.
    pub(crate) fn read_events(&self) -> rustix::io::Result<Vec<Option<Vec<u8>>>> {
        let mut buf = [std::mem::MaybeUninit::uninit(); 4096];
        let mut reader = rustix::fs::inotify::Reader::new(&self.0, &mut buf);
        let mut names = Vec::new();
        loop {
            let event = reader.next()?;
            names.push(event.file_name().map(|n| n.to_bytes().to_vec()));
            if reader.is_buffer_empty() {
                return Ok(names);
            }
        }
    }
}

#[cfg(target_os = "linux")]
impl std::os::fd::AsRawFd for InotifyFd {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        std::os::fd::AsRawFd::as_raw_fd(&self.0)
    }
}

/// How often a [`LogWatch`] without inotify looks.
const POLL: std::time::Duration = std::time::Duration::from_millis(100);

impl LogWatch {
    /// Watch the log at `path` (in a tokio runtime).
    pub fn new(path: &Path) -> LogWatch {
        #[cfg(target_os = "linux")]
        if let Some(inner) = Self::inotify(path) {
            return LogWatch { inner, pace: None };
        }
        let mut tick = tokio::time::interval(POLL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        LogWatch {
            inner: Watching::Poll {
                tick,
                seen: Self::look(path),
                path: path.to_path_buf(),
            },
            pace: None,
        }
    }

    /// Wake at most once per `every` while the log keeps changing: a
    /// change after a quiet spell wakes at once, and while changes follow
    /// each other faster, [`LogWatch::changed`] returns `every` after its
    /// last return, counting all that came meanwhile. For readers that
    /// read all there is at each wake-up (a flood then costs a wake-up per
    /// `every`, not one per write); not for measuring quiet shorter than
    /// `every`.
    pub fn paced(mut self, every: std::time::Duration) -> LogWatch {
        self.pace = Some((every, None));
        self
    }

    /// The log's file and size, and its first rotation's, for polling.
    fn look(path: &Path) -> Vec<Option<(FileId, u64)>> {
        [path.to_path_buf(), rotated(path, 1)]
            .iter()
            .map(|p| {
                std::fs::symlink_metadata(p)
                    .ok()
                    .map(|m| (FileId::of(&m), m.len()))
            })
            .collect()
    }

    #[cfg(target_os = "linux")]
    fn inotify(path: &Path) -> Option<Watching> {
        use rustix::fs::inotify::WatchFlags;
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty())?;
        let name = path.file_name()?.to_os_string();
        let inotify = InotifyFd::watch(
            dir,
            WatchFlags::MODIFY
                | WatchFlags::CREATE
                | WatchFlags::MOVED_TO
                | WatchFlags::CLOSE_WRITE,
        )
        .ok()?;
        // Deprecated because a borrowed raw fd could be closed while
        // registered; here the `AsyncFd` owns the `InotifyFd`, which owns the
        // fd, so it stays open until the registration is dropped.
        #[allow(deprecated)]
        let fd = tokio::io::unix::AsyncFd::new(inotify).ok()?;
        Some(Watching::Inotify { fd, name })
    }

    /// Wait until the log changed since the last call (all changes that
    /// came meanwhile count as one).
    pub async fn changed(&mut self) -> io::Result<()> {
        self.next_change().await?;
        if let Some((every, last)) = &mut self.pace {
            if let Some(due) = last.map(|last| last + *every) {
                if tokio::time::Instant::now() < due {
                    tokio::time::sleep_until(due).await;
                    // What changed meanwhile is read after this return.
                    self.discard_changes()?;
                }
            }
            if let Some((_, last)) = &mut self.pace {
                *last = Some(tokio::time::Instant::now());
            }
        }
        Ok(())
    }

    /// Forget the changes reported so far (inotify's queue).
    fn discard_changes(&mut self) -> io::Result<()> {
        #[cfg(target_os = "linux")]
        if let Watching::Inotify { fd, .. } = &self.inner {
            loop {
                match fd.get_ref().read_events() {
                    Ok(_) => {}
                    Err(rustix::io::Errno::AGAIN) => break,
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(())
    }

    async fn next_change(&mut self) -> io::Result<()> {
        match &mut self.inner {
            #[cfg(target_os = "linux")]
            Watching::Inotify { fd, name } => loop {
                use std::os::unix::ffi::OsStrExt;
                let mut guard = fd.readable().await?;
                match guard.get_inner().read_events() {
                    Ok(events) => {
                        // A lost queue (IN_Q_OVERFLOW, no name) may have held
                        // ours.
                        let ours = events.iter().any(|e| {
                            e.as_ref().is_none_or(|n| {
                                let base = name.as_bytes();
                                n == base
                                    || (n.starts_with(base) && n.get(base.len()) == Some(&b'.'))
                            })
                        });
                        if ours {
                            return Ok(());
                        }
                    }
                    Err(rustix::io::Errno::AGAIN) => guard.clear_ready(),
                    Err(e) => return Err(e.into()),
                }
            },
            Watching::Poll { tick, path, seen } => loop {
                tick.tick().await;
                let now = Self::look(path);
                if now != *seen {
                    *seen = now;
                    return Ok(());
                }
            },
        }
    }
}

impl crate::watch::input::Activity for LogWatch {
    async fn printed(&mut self) -> Result<(), crate::watch::WatchError> {
        self.changed()
            .await
            .map_err(|e| crate::watch::WatchError::Log(format!("watching the log: {e}")))
    }
}

/// Wait until the log at `path` stopped changing for `quiet`, or until
/// `deadline`: after the process exited, tmux has read all it wrote, and
/// the log writer (a process of its own) is done once its file stays
/// unchanged. Returns whether it settled before the deadline.
pub async fn settle(
    path: &Path,
    quiet: std::time::Duration,
    deadline: tokio::time::Instant,
) -> bool {
    LogWatch::new(path).quiet_for(quiet, deadline).await
}

impl LogWatch {
    /// Wait until the log went `quiet` long without a change (counted from
    /// this call, or its last change), or until `deadline`; returns whether
    /// it was quiet before the deadline.
    pub async fn quiet_for(
        &mut self,
        quiet: std::time::Duration,
        deadline: tokio::time::Instant,
    ) -> bool {
        let changes = self;
        loop {
            let full = tokio::time::Instant::now() + quiet;
            let until = full.min(deadline);
            if tokio::time::timeout_at(until, changes.changed())
                .await
                .is_err()
            {
                // Quiet for the whole of `quiet`, or cut short by the deadline.
                return full <= deadline;
            }
        }
    }
}
