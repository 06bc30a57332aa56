//! Durable logs: the writer tmux pipes a pane's output into, with size
//! rotation, and the reader behind `logs`.
//!
//! `pipe-pane -O` runs the log writer helper (`PROGRAM __tmux-wire-helper
//! VERSION log-sink ... FILE`, see [`super::helper_main`]) as a child of the
//! tmux server, so it keeps writing while no client is connected. The sink appends to FILE; when FILE reaches N bytes it becomes
//! FILE.1 (FILE.1 becomes FILE.2, and so on up to FILE.K; the oldest is
//! dropped), so a chatty process holds at most (K + 1) x N bytes of disk.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

mod caught_up;
mod follow;
mod index;
mod input;
mod read;
pub(crate) mod sync;
mod sync_answer;
mod watch;
mod writer;
pub(crate) use caught_up::sink_path;
pub use follow::Missed;
pub(crate) use follow::{Follower, READ_CHUNK};
pub(crate) use index::{cursor_at, index_path, locate};
pub use index::{Cursor, Located};
pub(crate) use input::NudgingStdin;
pub(crate) use read::{
    page, page_bytes, raw_lines, render_lines, tail, tail_bytes, tail_to_whole_end_as, RenderedLine,
};
pub(crate) use sync_answer::SyncChannel;
#[cfg(target_os = "linux")]
pub(crate) use watch::InotifyFd;
pub(crate) use watch::{settle, LogWatch, FLOOD_PACE};
#[cfg(test)]
pub(crate) use writer::sink;
pub(crate) use writer::sink_synced;
pub use writer::{gap_line, GAP_MARK};

/// Log size limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes per file before it rotates.
    pub max_bytes: u64,
    /// Rotated files kept.
    pub keep: u32,
}

/// The most rotated files a log keeps: readers look for `FILE.1` to
/// `FILE.63`, no further.
pub const MAX_KEEP: u32 = 63;

impl Limits {
    /// Whether these limits can be kept: at least one byte per file, at
    /// most [`MAX_KEEP`] rotated files; else why not.
    pub fn check(&self) -> Result<(), String> {
        if self.max_bytes == 0 {
            return Err("a log file must be allowed at least 1 byte".into());
        }
        if self.keep > MAX_KEEP {
            return Err(format!(
                "at most {MAX_KEEP} rotated log files can be kept, not {}",
                self.keep
            ));
        }
        Ok(())
    }
}

impl Default for Limits {
    /// 8 MiB per file, 2 rotated files: at most 24 MiB per process.
    fn default() -> Self {
        Limits {
            max_bytes: 8 << 20,
            keep: 2,
        }
    }
}

fn rotated(path: &Path, n: u32) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{n}"));
    PathBuf::from(s)
}

/// Open (creating, mode 0600) a log file for appending. The file must be
/// ours: a symbolic link is not followed (`O_NOFOLLOW`), and a file that is
/// not a regular file, belongs to someone else, has other links or gives
/// any permission to others is refused (someone who could write into the
/// log directory may have planted it).
pub(crate) fn open_append(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        // Non-blocking: a FIFO planted in its place must not hang us
        // before the checks (regular files ignore the flag).
        .custom_flags(crate::os::O_NOFOLLOW | crate::os::O_NONBLOCK)
        .open(path)
        .map_err(|e| refused_link(path, e))?;
    check_ours(path, &file)?;
    Ok(file)
}

/// Open a log file for reading, without following a symbolic link.
pub(crate) fn open_read(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(crate::os::O_NOFOLLOW | crate::os::O_NONBLOCK)
        .open(path)
        .map_err(|e| refused_link(path, e))?;
    check_ours(path, &file)?;
    Ok(file)
}

/// `read` (of the log at `path`), made again from the start when it met a
/// file missing (`missing` says which errors are that) while the log's
/// writer was between renaming the log and making the next file: that
/// lasts microseconds and is not an error of the log, so for up to 100 ms,
/// while the log's index says there is a log. Blocking: run it off the
/// async runtime.
pub(crate) fn again_mid_rotation<T, E>(
    path: &Path,
    missing: impl Fn(&E) -> bool,
    mut read: impl FnMut() -> Result<T, E>,
) -> Result<T, E> {
    let since = std::time::Instant::now();
    loop {
        match read() {
            Err(e)
                if missing(&e)
                    && since.elapsed() < std::time::Duration::from_millis(100)
                    && index_path(path).exists() =>
            {
                std::thread::sleep(std::time::Duration::from_micros(200));
            }
            read => return read,
        }
    }
}

/// `Ok` for a file not found (a removal or rename of what is not there
/// has nothing to do), else the error.
pub(crate) fn ignore_missing(e: io::Error) -> io::Result<()> {
    if not_found(&e) {
        Ok(())
    } else {
        Err(e)
    }
}

/// Whether an I/O error is a file not found.
pub(crate) fn not_found(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound
}

/// Make a FIFO at `path` that only its owner may use (mode 0600). One
/// already there is an error ([`io::ErrorKind::AlreadyExists`]) the
/// caller may take as fine: whoever opens it checks that it is ours.
pub(crate) fn make_fifo(path: &Path) -> io::Result<()> {
    use rustix::fs::{mkfifoat, Mode, CWD};
    Ok(mkfifoat(CWD, path, Mode::RUSR | Mode::WUSR)?)
}

/// [`make_fifo`], a FIFO already there being fine.
pub(crate) fn make_fifo_if_missing(path: &Path) -> io::Result<()> {
    match make_fifo(path) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        made => made,
    }
}

/// Open the FIFO at `path` to write into it, without waiting for a reader
/// (then [`nobody_reads`]) and without following a symbolic link.
pub(crate) fn open_fifo_to_write(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .write(true)
        .custom_flags(crate::os::O_NOFOLLOW | crate::os::O_NONBLOCK)
        .open(path)
}

/// Whether opening a FIFO to write failed because nobody holds it open
/// to read (`ENXIO`).
pub(crate) fn nobody_reads(e: &io::Error) -> bool {
    rustix::io::Errno::from_io_error(e) == Some(rustix::io::Errno::NXIO)
}

/// An exclusive `flock` on a file (a lock file from [`open_append`]),
/// held while this lives: dropping it unlocks the file, and the kernel
/// drops the lock with the process, however that ends.
pub(crate) struct Lock(File);

impl Lock {
    /// Lock `file`, waiting while another holds a lock on it (on tokio's
    /// blocking pool, not the async runtime).
    pub(crate) async fn wait(file: File) -> io::Result<Lock> {
        tokio::task::spawn_blocking(move || {
            rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)?;
            Ok(Lock(file))
        })
        .await
        .map_err(io::Error::other)?
    }

    /// Lock `file` if nobody else holds a lock on it; else the file back,
    /// with why not (`Errno::WOULDBLOCK` while another holds one).
    pub(crate) fn try_take(file: File) -> Result<Lock, (File, rustix::io::Errno)> {
        match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => Ok(Lock(file)),
            Err(e) => Err((file, e)),
        }
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = rustix::fs::flock(&self.0, rustix::fs::FlockOperation::Unlock);
    }
}

/// `O_NOFOLLOW` on a symbolic link fails with ELOOP; say what it means.
fn refused_link(path: &Path, e: io::Error) -> io::Error {
    if rustix::io::Errno::from_io_error(&e) == Some(rustix::io::Errno::LOOP) {
        io::Error::other(format!(
            "{} is a symbolic link; refusing to use it as a log",
            path.display()
        ))
    } else {
        e
    }
}

/// The checks of [`open_append`], on the file as opened.
fn check_ours(path: &Path, file: &File) -> io::Result<()> {
    check_ours_as(path, file, "a log", ("a regular file", |t| t.is_file()))
}

/// The checks of [`open_append`] for a file used as `what`, of a type
/// `kind` accepts.
fn check_ours_as(
    path: &Path,
    file: &File,
    what: &str,
    (kind, is_kind): (&str, fn(&std::fs::FileType) -> bool),
) -> io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let meta = file.metadata()?;
    let why = if !is_kind(&meta.file_type()) {
        Some(format!("it is not {kind}"))
    } else if meta.uid() != rustix::process::geteuid().as_raw() {
        Some(format!("it belongs to uid {}, not to us", meta.uid()))
    } else if meta.nlink() != 1 {
        Some(format!("it has {} links", meta.nlink()))
    } else if meta.mode() & 0o077 != 0 {
        Some(format!(
            "its mode {:03o} lets others read or write it",
            meta.mode() & 0o777
        ))
    } else {
        None
    };
    match why {
        Some(why) => Err(io::Error::other(format!(
            "refusing to use {} as {what}: {why}",
            path.display()
        ))),
        None => Ok(()),
    }
}

/// A place in a log: the file, by identity (so it is found again after the
/// log rotates and the file changes its name), and a byte offset in it.
/// Written `INODE.BORN:OFFSET`; BORN (the file's birth time in ns, 0 where
/// the file system keeps none) tells a file from a later one that reuses a
/// deleted file's inode number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// Which file.
    pub file: FileId,
    /// The byte offset in it.
    pub offset: u64,
}

/// A log file's identity: inode and birth time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileId {
    /// The inode number.
    pub inode: u64,
    /// The birth time in nanoseconds since the epoch (0 if unknown).
    pub born: u64,
}

impl FileId {
    fn of(meta: &std::fs::Metadata) -> FileId {
        use std::os::unix::fs::MetadataExt;
        let born = meta
            .created()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos() as u64);
        FileId {
            inode: meta.ino(),
            born,
        }
    }

    /// Whether `other` is this file (a birth time of 0 is unknown, and
    /// matches any).
    fn is(&self, other: &FileId) -> bool {
        self.inode == other.inode && (self.born == 0 || other.born == 0 || self.born == other.born)
    }
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}:{}", self.file.inode, self.file.born, self.offset)
    }
}

impl std::str::FromStr for Position {
    type Err = String;
    fn from_str(s: &str) -> Result<Position, String> {
        let bad = || format!("bad log position {s:?} (INODE.BORN:OFFSET)");
        let (file, offset) = s.split_once(':').ok_or_else(bad)?;
        let (inode, born) = file.split_once('.').ok_or_else(bad)?;
        Ok(Position {
            file: FileId {
                inode: inode.parse().map_err(|_| bad())?,
                born: born.parse().map_err(|_| bad())?,
            },
            offset: offset.parse().map_err(|_| bad())?,
        })
    }
}

/// The end of the log at `path` now: where what is written next begins.
pub fn end_position(path: &Path) -> io::Result<Position> {
    let meta = open_read(path)?.metadata()?;
    Ok(Position {
        file: FileId::of(&meta),
        offset: meta.len(),
    })
}

/// [`end_position`], and whether the log ends in the middle of a line (its
/// last byte is not a newline): what is written next continues a line
/// that began before.
pub fn end_position_in_line(path: &Path) -> io::Result<(Position, bool)> {
    use std::os::unix::fs::FileExt;
    let file = open_read(path)?;
    let meta = file.metadata()?;
    let position = Position {
        file: FileId::of(&meta),
        offset: meta.len(),
    };
    if meta.len() == 0 {
        return Ok((position, false));
    }
    let mut last = [0u8];
    file.read_exact_at(&mut last, meta.len() - 1)?;
    Ok((position, last[0] != b'\n'))
}

/// Append the line that marks where a run begins (`--- tmux-wire: run of
/// COMMAND started at TIME ---`), on a line of its own, and return where
/// the run's own output will begin.
pub fn mark_run(path: &Path, command: &str, unix_time: u64) -> io::Result<Position> {
    append_line(
        path,
        &format!(
            "--- tmux-wire: run of {command} started at {} ---",
            utc_time(unix_time)
        ),
    )?;
    index::register_current(path)?;
    end_position(path)
}

/// Append `line` to the log at `path` on a line of its own (a newline
/// first if the log does not end with one).
pub fn append_line(path: &Path, line: &str) -> io::Result<()> {
    let mut file = open_append(path)?;
    let len = file.metadata()?.len();
    let mut bytes = Vec::new();
    if len > 0 {
        let mut last = [0u8];
        let mut reader = open_read(path)?;
        reader.seek(SeekFrom::Start(len - 1))?;
        reader.read_exact(&mut last)?;
        if last[0] != b'\n' {
            bytes.push(b'\n');
        }
    }
    bytes.extend_from_slice(line.as_bytes());
    bytes.push(b'\n');
    file.write_all(&bytes)
}

/// `2026-12-02 04:00:00 UTC` for seconds since the Unix epoch.
pub fn utc_time(unix_time: u64) -> String {
    let days = (unix_time / 86_400) as i64;
    let secs = unix_time % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_that_meets_a_rotation_half_done_is_made_again() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("web.log");
        let missing = || io::Error::from(io::ErrorKind::NotFound);
        // No index: no log at all, said at once.
        let mut tries = 0;
        let read = again_mid_rotation(&log, not_found, || {
            tries += 1;
            Err::<(), _>(missing())
        });
        assert!(read.is_err() && tries == 1);
        // With its index, the file missing for a moment is waited out.
        std::fs::write(index_path(&log), "").unwrap();
        let mut tries = 0;
        let read = again_mid_rotation(&log, not_found, || {
            tries += 1;
            if tries < 3 {
                Err(missing())
            } else {
                Ok(tries)
            }
        });
        assert_eq!(read.unwrap(), 3);
    }

    #[test]
    fn planted_files_are_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("victim");
        std::fs::write(&target, b"precious\n").unwrap();
        let link = dir.path().join("web.log");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let err = open_append(&link).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert_eq!(std::fs::read(&target).unwrap(), b"precious\n");
        let open = dir.path().join("open.log");
        std::fs::write(&open, b"").unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o666)).unwrap();
        let err = open_append(&open).unwrap_err();
        assert!(err.to_string().contains("666"), "{err}");
        let hard = dir.path().join("hard.log");
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::hard_link(&target, &hard).unwrap();
        assert!(open_append(&hard)
            .unwrap_err()
            .to_string()
            .contains("links"));
    }

    #[test]
    fn run_marks_and_times() {
        assert_eq!(utc_time(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc_time(1_796_184_000), "2026-12-02 04:00:00 UTC");
        assert_eq!(utc_time(951_782_400), "2000-02-29 00:00:00 UTC");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.log");
        open_append(&path).unwrap().write_all(b"half").unwrap();
        let run = mark_run(&path, "sh -c x", 0).unwrap();
        open_append(&path).unwrap().write_all(b"out\n").unwrap();
        assert_eq!(
            tail(&path, 10, true, false).unwrap().0,
            [
                "half",
                "--- tmux-wire: run of sh -c x started at 1970-01-01 00:00:00 UTC ---",
                "out"
            ]
        );
        let mut f = Follower::new(&path, run, false);
        assert_eq!(f.read_new().unwrap(), ["out"]);
    }
}
