//! Durable logs: the writer tmux pipes a pane's output into, with size
//! rotation, and the reader behind `logs`.
//!
//! `pipe-pane -O` runs `tmux-wire log-sink --max-bytes N --keep K FILE` as
//! a child of the tmux server, so it keeps writing while no client is
//! connected. The sink appends to FILE; when FILE reaches N bytes it becomes
//! FILE.1 (FILE.1 becomes FILE.2, and so on up to FILE.K; the oldest is
//! dropped), so a chatty process holds at most (K + 1) x N bytes of disk.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::text::Lines;

mod index;
pub use index::{cursor_at, end_cursor, index_path, locate, Cursor, Located};

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
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK)
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
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| refused_link(path, e))?;
    check_ours(path, &file)?;
    Ok(file)
}

/// `O_NOFOLLOW` on a symbolic link fails with ELOOP; say what it means.
fn refused_link(path: &Path, e: io::Error) -> io::Error {
    if e.raw_os_error() == Some(nix::libc::ELOOP) {
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
    use std::os::unix::fs::MetadataExt;
    let meta = file.metadata()?;
    let why = if !meta.is_file() {
        Some("it is not a regular file".to_string())
    } else if meta.uid() != nix::unistd::geteuid().as_raw() {
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
            "refusing to use {} as a log: {why}",
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

/// Standard input for [`sink`], reminding the tmux server that started the
/// sink to reap its children after each half second without input (the
/// backstop of `crate::reaper`).
///
/// tmux packages built with libutempter lose the SIGCHLD of a pane's
/// process now and then (see `crate::reaper`): the pane then reads
/// dead with no status, and its `pane-died` hook (a restart policy's) does
/// not fire until the server gets another SIGCHLD. With no tmux-wire client
/// alive, nobody would send one; the sink, a child of the server that
/// lives as long as the pane, does. A SIGCHLD's only effect on tmux is a
/// `waitpid` for what has exited.
pub struct NudgingStdin {
    stdin: io::Stdin,
    server: Option<nix::unistd::Pid>,
}

impl NudgingStdin {
    /// Standard input; the parent is reminded only if it is a tmux process.
    pub fn new() -> NudgingStdin {
        let parent = nix::unistd::getppid();
        NudgingStdin {
            stdin: io::stdin(),
            server: crate::watch::local::is_tmux(parent).then_some(parent),
        }
    }
}

impl Default for NudgingStdin {
    fn default() -> Self {
        NudgingStdin::new()
    }
}

impl Read for NudgingStdin {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        use std::os::fd::AsFd;
        if let Some(server) = self.server {
            loop {
                let mut fds = [PollFd::new(self.stdin.as_fd(), PollFlags::POLLIN)];
                let backstop =
                    u16::try_from(crate::reaper::BACKSTOP.as_millis()).unwrap_or(u16::MAX);
                match poll(&mut fds, PollTimeout::from(backstop)) {
                    Ok(0) => crate::reaper::remind(Some(server)),
                    Ok(_) => break,
                    Err(nix::errno::Errno::EINTR) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        self.stdin.read(buf)
    }
}

/// Copy `input` into `path` until end of input, rotating as [`Limits`] say.
pub fn sink(input: impl Read, path: &Path, limits: Limits) -> io::Result<()> {
    sink_reporting(input, path, limits, |_| {})
}

/// [`sink`] that never stops reading its input, so the process whose
/// output it is never waits for it: what it cannot write (a full disk, an
/// I/O error, a log it cannot open) it counts and drops, and it tries
/// again with each new input; once a write works again, a line marks the
/// gap in the log ([`gap_line`]) before the output goes on. `report` is
/// told when writing stops (`Some(reason)`) and when it works again
/// (`None`). Only a failure to read its input ends it with an error.
pub fn sink_reporting(
    mut input: impl Read,
    path: &Path,
    limits: Limits,
    mut report: impl FnMut(Option<&str>),
) -> io::Result<()> {
    limits
        .check()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let mut out = LogFile::new(path, limits);
    let mut gaps = Gaps::default();
    let mut buf = vec![0u8; 64 * 1024];
    let mut shown = Shown::new();
    let mut failing = false;
    loop {
        // Named idle while it waits: everything read so far is written (or
        // counted as lost).
        shown.idle(true);
        let read = input.read(&mut buf);
        shown.idle(false);
        let n = match read {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let changed = match gaps.put(&mut out, &buf[..n]) {
            Ok(()) if failing => {
                failing = false;
                report(None);
                true
            }
            Err(e) if !failing => {
                failing = true;
                ::log::warn!("log {}: {e}", path.display());
                report(Some(&e.to_string()));
                true
            }
            _ => false,
        };
        if changed {
            // Readers of the log wake on its changes, and look at the
            // writer when nothing new came: closing a file opened for
            // writing is a change, also when nothing could be written.
            use std::os::unix::fs::OpenOptionsExt;
            drop(
                OpenOptions::new()
                    .append(true)
                    .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK)
                    .open(path),
            );
        }
    }
}

/// The line that marks where output is missing from a log; the
/// [`GAP_MARK`] begins it.
pub fn gap_line(what: &str) -> String {
    format!("{GAP_MARK} {what} ---")
}

/// How a line that marks a gap in a log begins ([`gap_line`]).
pub const GAP_MARK: &str = "--- tmux-wire: gap in the log:";

/// What [`sink_reporting`] keeps of its failures to write: bytes lost since
/// the last gap line, and the gap line being written. Writes through any
/// [`Write`] (the log: [`LogFile`]).
#[derive(Debug, Default)]
struct Gaps {
    /// Whether the last byte written ended a line (or nothing was written).
    mid_line: bool,
    /// Bytes not written since the last gap line, and the first failure's
    /// reason.
    lost: u64,
    reason: Option<String>,
    /// The rest of a gap line partly written (written before anything
    /// else); how many lost bytes it names, and whether any of it is out.
    pending: Vec<u8>,
    pending_lost: u64,
    pending_started: bool,
}

impl Gaps {
    /// Write `data` to `out`, a gap line first if one is due; what cannot
    /// be written is counted as lost, and the error returned.
    fn put(&mut self, out: &mut impl Write, data: &[u8]) -> io::Result<()> {
        let result = match self.flush(out) {
            // `data` was not tried: all of it is lost.
            Err(e) => {
                self.lost += data.len() as u64;
                Err(e)
            }
            Ok(()) => match self.write(out, data) {
                (_, None) => Ok(()),
                (n, Some(e)) => {
                    self.lost += (data.len() - n) as u64;
                    Err(e)
                }
            },
        };
        if let Err(e) = &result {
            self.reason.get_or_insert_with(|| e.to_string());
        }
        result
    }

    /// Write the gap line, if bytes were lost; an error if it could not be
    /// written whole.
    fn flush(&mut self, out: &mut impl Write) -> io::Result<()> {
        loop {
            if self.pending.is_empty() {
                if self.lost == 0 {
                    self.reason = None;
                    return Ok(());
                }
                let reason = self.reason.as_deref().unwrap_or("unknown error");
                let mut line = Vec::new();
                if self.mid_line {
                    line.push(b'\n');
                }
                line.extend_from_slice(
                    gap_line(&format!(
                        "{} bytes of output could not be written ({reason})",
                        self.lost
                    ))
                    .as_bytes(),
                );
                line.push(b'\n');
                self.pending = line;
                self.pending_lost = self.lost;
                self.pending_started = false;
                self.lost = 0;
            }
            let pending = std::mem::take(&mut self.pending);
            let (n, error) = self.write(out, &pending);
            self.pending_started |= n > 0;
            match error {
                None => {}
                Some(e) if !self.pending_started => {
                    // Nothing of it is out: made again next time, counting
                    // the bytes lost meanwhile too.
                    self.lost += self.pending_lost;
                    return Err(e);
                }
                Some(e) => {
                    self.pending = pending[n..].to_vec();
                    return Err(e);
                }
            }
        }
    }

    /// Write all of `data` unless an error stops it: how much was written,
    /// and the error.
    fn write(&mut self, out: &mut impl Write, mut data: &[u8]) -> (usize, Option<io::Error>) {
        let mut written = 0;
        while !data.is_empty() {
            match out.write(data) {
                Ok(0) => return (written, Some(io::ErrorKind::WriteZero.into())),
                Ok(n) => {
                    self.mid_line = data[n - 1] != b'\n';
                    written += n;
                    data = &data[n..];
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return (written, Some(e)),
            }
        }
        (written, None)
    }
}

/// A log as the sink writes it: opened when first needed (and again after
/// a failure), rotated as [`Limits`] say. A write goes up to the end of the
/// current file at most.
struct LogFile {
    path: PathBuf,
    limits: Limits,
    /// The current file, and its size; `None` until it is (re)opened.
    file: Option<(File, u64)>,
    /// Where the current file begins in the whole output (see `index`).
    begins: u64,
}

impl LogFile {
    fn new(path: &Path, limits: Limits) -> LogFile {
        LogFile {
            path: path.to_path_buf(),
            limits,
            file: None,
            begins: 0,
        }
    }

    /// Open the log if it is not open, and rotate it if it is full.
    fn ready(&mut self, max: u64) -> io::Result<(&mut File, &mut u64)> {
        if self.file.is_none() {
            let file = open_append(&self.path)?;
            let size = file.metadata()?.len();
            // An index that cannot be kept costs cursors, never the log
            // (where the file begins is then what was known before).
            let known = self.begins;
            self.begins = index::register_current(&self.path).unwrap_or_else(|e| {
                ::log::warn!("log index of {}: {e}", self.path.display());
                known
            });
            self.file = Some((file, size));
        }
        if let Some((file, size)) = &self.file {
            if *size >= max {
                // What the file holds, also what others appended (the run
                // marker, a sink of an earlier run still draining).
                let ended = file.metadata().map_or(*size, |m| m.len());
                self.file = None;
                rotate(&self.path, self.limits.keep)?;
                let file = open_append(&self.path)?;
                self.begins += ended;
                if let Err(e) =
                    index::register_rotated(&self.path, FileId::of(&file.metadata()?), self.begins)
                {
                    ::log::warn!("log index of {}: {e}", self.path.display());
                }
                self.file = Some((file, 0));
            }
        }
        let (file, size) = self.file.as_mut().expect("opened above");
        Ok((file, size))
    }
}

impl Write for LogFile {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let max = self.limits.max_bytes.max(1);
        let (file, size) = self.ready(max)?;
        let room = usize::try_from(max - *size).unwrap_or(usize::MAX);
        let n = file.write(&data[..room.min(data.len())])?;
        *size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The name a log writer has while it waits for input with everything it
/// read written (`/proc/PID/comm`); [`writers_caught_up`] looks for it.
const IDLE_NAME: &str = "tmux-wire-idle";

/// What the writer shows of its state in its process name (Linux).
struct Shown {
    /// The name it had, shown while it writes.
    #[cfg(target_os = "linux")]
    busy: Option<std::ffi::CString>,
}

impl Shown {
    fn new() -> Shown {
        Shown {
            #[cfg(target_os = "linux")]
            busy: nix::sys::prctl::get_name().ok(),
        }
    }

    fn idle(&mut self, idle: bool) {
        #[cfg(target_os = "linux")]
        {
            let idle_name = c"tmux-wire-idle";
            debug_assert_eq!(idle_name.to_bytes(), IDLE_NAME.as_bytes());
            if let Some(busy) = &self.busy {
                let _ = nix::sys::prctl::set_name(if idle { idle_name } else { busy });
            }
        }
        #[cfg(not(target_os = "linux"))]
        let _ = idle;
    }
}

/// Whether every log writer of `path` (a child of the tmux server
/// `server` running `log-sink ... PATH`) has written all the output tmux
/// gave it: it sleeps waiting for more ([`writer_idle`]). False where that
/// cannot be seen (not Linux, a server in another pid namespace, no writer
/// found, a writer started by a tmux-wire that did not name itself).
///
/// tmux writes what it read from a pane into the writer's socket in the
/// event-loop iteration after the read, so once a command sent after some
/// output was answered, that output is in the socket or beyond; with the
/// writer asleep in its read, it is in the log.
pub(crate) fn writers_caught_up(path: &Path, server: nix::unistd::Pid) -> bool {
    #[cfg(target_os = "linux")]
    {
        // A pid that only looks local (a server in another pid namespace
        // whose pid a local process happens to have) says nothing.
        if !crate::watch::local::is_tmux(server) {
            return false;
        }
        let children = format!("/proc/{server}/task/{server}/children");
        let Ok(children) = std::fs::read_to_string(children) else {
            return false;
        };
        let mut writers = 0;
        for child in children.split_ascii_whitespace() {
            let Ok(cmdline) = std::fs::read(format!("/proc/{child}/cmdline")) else {
                continue;
            };
            let args: Vec<&[u8]> = cmdline
                .strip_suffix(b"\0")
                .unwrap_or(&cmdline)
                .split(|&b| b == 0)
                .collect();
            use std::os::unix::ffi::OsStrExt;
            // The writer itself (not the shell about to become it).
            let writes_this_log = args.get(1) != Some(&&b"-c"[..])
                && sink_path(&args) == Some(path.as_os_str().as_bytes());
            if !writes_this_log {
                continue;
            }
            if !writer_idle(child) {
                return false;
            }
            writers += 1;
        }
        writers > 0
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (path, server);
        false
    }
}

/// The log a process with these arguments writes, if it is a log writer:
/// `PROGRAM [-S SOCKET] log-sink ... FILE`, or the shell that is about to
/// become one (`sh -c "exec PROGRAM ... log-sink ... 'FILE'"`, as
/// `pipe-pane` runs it).
pub(crate) fn sink_path<'a>(args: &[&'a [u8]]) -> Option<&'a [u8]> {
    let last = *args.last()?;
    if args.len() == 3 && args[1] == b"-c" {
        // The shell: its command ends with the quoted path.
        let command = last;
        memchr::memmem::find(command, b" log-sink ")?;
        let quoted = command.strip_suffix(b"'")?;
        let open = memchr::memrchr(b'\'', quoted)?;
        return Some(&quoted[open + 1..]);
    }
    let sub = match args.get(1) {
        Some(&b"-S") => args.get(3),
        _ => args.get(1),
    };
    (sub == Some(&&b"log-sink"[..]) && args.len() > 2).then_some(last)
}

/// Whether the log writer `pid` waits for input with nothing in its pipe.
/// Its name says it is in the read that waits for input (named idle just
/// before it, named busy as soon as the read returns), and its state says
/// it sleeps there: it found nothing to read, and nothing came since (the
/// output tmux writes into its socket wakes it, and a woken process is
/// runnable, `R`, at once). A writer woken by anything else (its nudge
/// every 500 ms) only makes this false for a moment.
#[cfg(target_os = "linux")]
fn writer_idle(pid: &str) -> bool {
    // Name and state from one read of `stat`, as they were at one moment.
    pid.parse()
        .ok()
        .and_then(crate::procfs::stat)
        .is_some_and(|stat| stat.name == IDLE_NAME && stat.fields.first().is_some_and(|s| s == "S"))
}

fn rotate(path: &Path, keep: u32) -> io::Result<()> {
    if keep == 0 {
        return std::fs::remove_file(path).or_else(ignore_missing);
    }
    for n in (1..keep).rev() {
        std::fs::rename(rotated(path, n), rotated(path, n + 1)).or_else(ignore_missing)?;
    }
    std::fs::rename(path, rotated(path, 1)).or_else(ignore_missing)
}

fn ignore_missing(e: io::Error) -> io::Result<()> {
    if e.kind() == io::ErrorKind::NotFound {
        Ok(())
    } else {
        Err(e)
    }
}

/// The last `n` lines of the log at `path` (reading into rotated files if
/// the current one is short), and where a [`Follower`] goes on. Without
/// `raw`, lines read as a person sees them ([`crate::text::Lines`]); with
/// `raw`, as the process wrote them (only the carriage returns before each
/// newline, which the terminal adds, removed). A last line without its
/// newline yet is included, and the position is the end of the log; with
/// `whole_lines` it is left out, and the position is its start, so that a
/// follower prints it once, whole.
pub fn tail(
    path: &Path,
    n: usize,
    raw: bool,
    whole_lines: bool,
) -> io::Result<(Vec<String>, Position)> {
    if std::fs::symlink_metadata(path).is_err() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            "no log (only processes started by tmux-wire have one)",
        ));
    }
    // Newest first: FILE, FILE.1, FILE.2 ...
    let mut data: Vec<u8> = Vec::new();
    let mut end = None;
    for index in 0.. {
        let p = if index == 0 {
            path.to_path_buf()
        } else {
            rotated(path, index)
        };
        let mut file = match open_read(&p) {
            Ok(file) => file,
            Err(e) if index == 0 => return Err(e),
            Err(_) => break,
        };
        // Enough bytes for n lines of a generous width; more only if needed.
        let meta = file.metadata()?;
        let want = (n as u64).saturating_add(1).saturating_mul(4096);
        let start = meta.len().saturating_sub(want);
        file.seek(SeekFrom::Start(start))?;
        let mut chunk = Vec::new();
        file.read_to_end(&mut chunk)?;
        if index == 0 {
            end = Some(Position {
                file: FileId::of(&meta),
                offset: start + chunk.len() as u64,
            });
        }
        chunk.extend_from_slice(&data);
        data = chunk;
        let lines = data.iter().filter(|&&b| b == b'\n').count();
        if lines > n || start > 0 {
            break;
        }
    }
    let mut end = end.expect("the current file was read");
    let mut render = Render::new(raw);
    let mut lines = render.push(&data);
    if whole_lines {
        let partial = data.len() - memchr::memrchr(b'\n', &data).map_or(0, |i| i + 1);
        end.offset -= (partial as u64).min(end.offset);
    } else {
        lines.extend(render.finish());
    }
    let skip = lines.len().saturating_sub(n);
    Ok((lines.split_off(skip), end))
}

/// Lines `offset..offset + limit` of everything the log at `path` still
/// holds (its rotated files, oldest first, then the current one), or
/// without an offset the last `limit`, in one pass; with the offset of the
/// first line and how many lines that is in all. A last line without its
/// newline yet counts.
pub fn page(
    path: &Path,
    offset: Option<usize>,
    limit: usize,
    raw: bool,
) -> io::Result<(Vec<String>, usize, usize)> {
    let mut files: Vec<PathBuf> = (1..=MAX_KEEP)
        .map(|i| rotated(path, i))
        .take_while(|p| std::fs::symlink_metadata(p).is_ok())
        .collect();
    files.reverse();
    files.push(path.to_path_buf());
    let mut render = Render::new(raw);
    let mut total = 0;
    let mut out = std::collections::VecDeque::new();
    let mut take = |lines: Vec<String>, total: &mut usize| {
        for line in lines {
            match offset {
                Some(offset) if *total >= offset && out.len() < limit => out.push_back(line),
                Some(_) => {}
                // The last `limit`: keep a window that slides to the end.
                None if limit > 0 => {
                    if out.len() == limit {
                        out.pop_front();
                    }
                    out.push_back(line);
                }
                None => {}
            }
            *total += 1;
        }
    };
    let mut buf = vec![0u8; READ_CHUNK];
    for (i, p) in files.iter().enumerate() {
        let mut file = match open_read(p) {
            Ok(f) => f,
            // Rotated away while reading: its lines are gone.
            Err(e) if e.kind() == io::ErrorKind::NotFound && i + 1 < files.len() => continue,
            Err(e) => return Err(e),
        };
        loop {
            let n = file.read(&mut buf)?;
            if n == 0 {
                break;
            }
            take(render.push(&buf[..n]), &mut total);
        }
    }
    take(render.finish().into_iter().collect(), &mut total);
    let first = offset.unwrap_or(total - out.len());
    Ok((out.into(), first, total))
}

/// `bytes` of a log as lines, as a person reads them, or `raw`; a last
/// line without its newline is included.
pub fn render_lines(bytes: &[u8], raw: bool) -> Vec<String> {
    let mut render = Render::new(raw);
    let mut lines = render.push(bytes);
    lines.extend(render.finish());
    lines
}

/// Bytes to lines, rendered or raw.
enum Render {
    Seen(Box<Lines>),
    Raw(Vec<u8>),
}

impl Render {
    fn new(raw: bool) -> Render {
        if raw {
            Render::Raw(Vec::new())
        } else {
            Render::Seen(Box::default())
        }
    }

    fn push(&mut self, data: &[u8]) -> Vec<String> {
        match self {
            Render::Seen(lines) => lines.push(data),
            Render::Raw(partial) => {
                partial.extend_from_slice(data);
                let Some(last) = memchr::memrchr(b'\n', partial) else {
                    return Vec::new();
                };
                let rest = partial.split_off(last + 1);
                let done = std::mem::replace(partial, rest);
                done[..done.len() - 1]
                    .split(|&b| b == b'\n')
                    .map(raw_line)
                    .collect()
            }
        }
    }

    fn current(&self) -> String {
        match self {
            Render::Seen(lines) => lines.current(),
            Render::Raw(partial) => raw_line(partial),
        }
    }

    fn finish(&mut self) -> Option<String> {
        match self {
            Render::Seen(lines) => lines.finish(),
            Render::Raw(partial) => {
                (!partial.is_empty()).then(|| raw_line(&std::mem::take(partial)))
            }
        }
    }
}

/// A line as the process wrote it, without the carriage returns the
/// terminal puts before its newline.
fn raw_line(line: &[u8]) -> String {
    let mut end = line.len();
    while end > 0 && line[end - 1] == b'\r' {
        end -= 1;
    }
    String::from_utf8_lossy(&line[..end]).into_owned()
}

/// Output a reader never got: it was rotated out of the log before it was
/// read (the reader fell more than the kept files behind the writer).
///
/// The writer rotates at a byte count, not at a line's end, so a gap cuts
/// lines: the piece of a line before it and the piece after it are
/// dropped with it, and reading goes on at the start of the first line
/// that begins after the gap, never inside one. `bytes` counts all of
/// that, exactly. Lines only as a lower bound: the log and its index keep
/// bytes, not lines, so the lines the bytes rotated away held were never
/// counted; each missed byte belongs to a line, and the piece dropped
/// after the gap ends one, so a gap is at least one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missed {
    /// The bytes missed, exactly; `None` when the log's index cannot say
    /// (a log an older tmux-wire wrote).
    pub bytes: Option<u64>,
    /// At least this many lines were missed, wholly or in part.
    pub lines_at_least: u64,
    /// Where reading goes on: the start of the first line after the gap.
    pub resume: Position,
    /// The same as a cursor (`None` when the index cannot say).
    pub cursor: Option<Cursor>,
}

/// A gap a read stopped at: the bytes rotated away (`None`: unknown) and
/// the file after them.
struct Gap {
    gone: Option<u64>,
    next: (File, FileId),
}

/// How much one [`Follower::read_new`] reads at most, so a follower that
/// fell behind catches up in bounded steps.
pub const READ_CHUNK: usize = 1 << 20;

/// Reads a log from a [`Position`] on, in whole lines, across rotations:
/// it keeps the file open, so when the writer rotates (the file becomes
/// FILE.1 and a new FILE starts) it first finishes the old file, then goes
/// on with the next newer one from its start.
///
/// A reader that falls so far behind that the files after the one it
/// reads were rotated away (or whose start was) does not join what is
/// left to what it read: the log's index says exactly how many bytes are
/// gone, the pieces of the two lines the gap cuts are dropped, reading
/// goes on at the start of the next line, and [`Follower::take_missed`]
/// says what was missed.
pub struct Follower {
    path: PathBuf,
    from: Position,
    /// The file being read, and which it is.
    file: Option<(File, FileId)>,
    offset: u64,
    /// What the last read got: `buf[..filled]` (made on the first read,
    /// [`READ_CHUNK`] long, and reused).
    buf: Vec<u8>,
    filled: usize,
    raw: bool,
    render: Render,
    caught_up: bool,
    missed: bool,
    /// Bytes read since the last newline: the piece of the line being
    /// read.
    tail: u64,
    /// The last read stopped at a gap: the next read drops the piece of
    /// the line before it, and goes on in the file after the gap.
    gap: Option<Gap>,
    /// After a gap, reading skips to the start of the next line: the bytes
    /// dropped so far (`None`: unknown).
    skipping: Option<Option<u64>>,
    /// What the last read passed over.
    passed: Option<Missed>,
}

impl Follower {
    /// Follow the log at `path` from `from`; lines rendered, or `raw`.
    pub fn new(path: &Path, from: Position, raw: bool) -> Follower {
        Follower {
            path: path.to_path_buf(),
            from,
            file: None,
            offset: from.offset,
            buf: Vec::new(),
            filled: 0,
            raw,
            render: Render::new(raw),
            caught_up: false,
            missed: false,
            tail: 0,
            gap: None,
            skipping: None,
            passed: None,
        }
    }

    /// Begin by skipping to the start of the next line, counting `missed`
    /// bytes before `from` as missed already (for a start just after a
    /// gap, inside a line the gap cut).
    pub fn skipping_to_a_line(mut self, missed: Option<u64>) -> Follower {
        self.skipping = Some(missed);
        self.missed = true;
        self
    }

    /// The name `file` has now, by age: 0 is the current file, 1 is
    /// FILE.1, ...
    fn index_of(&self, file: &FileId) -> Option<u32> {
        (0..=MAX_KEEP).find(|&i| {
            std::fs::symlink_metadata(self.name(i)).is_ok_and(|m| FileId::of(&m).is(file))
        })
    }

    fn name(&self, index: u32) -> PathBuf {
        if index == 0 {
            self.path.clone()
        } else {
            rotated(&self.path, index)
        }
    }

    /// Open the file of age `index`.
    fn open(&self, index: u32) -> io::Result<(File, FileId)> {
        let file = open_read(&self.name(index))?;
        let id = FileId::of(&file.metadata()?);
        Ok((file, id))
    }

    /// The file the start is in, if it is still there: found by its name
    /// now, and opened; a rotation between the two (the name then holds a
    /// newer file) is seen by the file's id, and it is looked for again.
    fn open_start(&self) -> io::Result<Option<(File, FileId)>> {
        loop {
            let Some(index) = self.index_of(&self.from.file) else {
                return Ok(None);
            };
            match self.open(index) {
                Ok(opened) if opened.1.is(&self.from.file) => return Ok(Some(opened)),
                // Renamed away in between: look again.
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// The oldest file there is.
    fn oldest(&self) -> io::Result<(File, FileId)> {
        (1..=MAX_KEEP)
            .rev()
            .find_map(|i| self.open(i).ok())
            .map_or_else(|| self.open(0), Ok)
    }

    /// The file that follows `id`, a file that was renamed (it is final):
    /// the next newer one, or if `id` was rotated away altogether, the
    /// oldest there is (then also `true`). `None` while the file to go on
    /// with is not there yet (the current file was just renamed; its
    /// successor is made next).
    fn next_after(&self, id: &FileId) -> io::Result<Option<((File, FileId), bool)>> {
        loop {
            let index = self.index_of(id);
            let next = match index {
                Some(index) if index > 0 => self.open(index - 1),
                _ => self.oldest(),
            };
            match next {
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(e),
                // Unless the log rotated again in between (the name opened
                // may hold a newer file than the one after `id`): look again.
                Ok(next) if self.index_of(id) == index => return Ok(Some((next, index.is_none()))),
                Ok(_) => {}
            }
        }
    }

    /// The bytes between `offset` in `file` and the start of `next`,
    /// which follows it: what was rotated away between them, by the
    /// index. `None` when the index does not know both.
    fn gone_between(&self, file: &FileId, offset: u64, next: &FileId) -> Option<u64> {
        let index = match index::Index::for_reading(&self.path) {
            Ok(index) => index,
            Err(_) => index::Index::read(&self.path).ok()??,
        };
        let begins = index.start_of(file)?;
        let next = index.start_of(next)?;
        Some(next.saturating_sub(begins + offset))
    }

    /// The lines completed by what was appended since the last call; reads
    /// at most [`READ_CHUNK`] bytes (see [`Follower::caught_up`]). Lines
    /// after a gap come after [`Follower::take_missed`] says so.
    pub fn read_new(&mut self) -> io::Result<Vec<String>> {
        self.read()?;
        Ok(self.render.push(&self.buf[..self.filled]))
    }

    /// The bytes appended since the last call, as the process wrote them
    /// (escape sequences and all); at most [`READ_CHUNK`]. Not rendered:
    /// use it instead of [`Follower::read_new`], not with it. A read stops
    /// at a gap ([`Follower::at_gap`]); the bytes read after it begin at
    /// the start of a line, and the piece of line before it, returned
    /// already, is the caller's to drop.
    pub fn read_bytes(&mut self) -> io::Result<Vec<u8>> {
        self.read()?;
        Ok(self.buf[..self.filled].to_vec())
    }

    /// Read as [`Follower::read_bytes`] does, keeping nothing (to find
    /// where a line begins).
    pub(crate) fn advance(&mut self) -> io::Result<()> {
        self.read()
    }

    /// Whether the last read stopped at a gap (bytes rotated away before
    /// they were read), or is still skipping to the line after one.
    pub fn at_gap(&self) -> bool {
        self.gap.is_some() || self.skipping.is_some()
    }

    /// Read what was appended since the last call into `buf[..filled]`.
    fn read(&mut self) -> io::Result<()> {
        self.filled = 0;
        self.passed = None;
        if let Some(Gap { gone, next }) = self.gap.take() {
            // The piece of a line before the gap goes with it.
            self.skipping = Some(gone.map(|gone| gone + self.tail));
            self.tail = 0;
            self.render = Render::new(self.raw);
            self.file = Some(next);
            self.offset = 0;
        }
        if self.file.is_none() {
            let opened = match self.open_start()? {
                Some(opened) => opened,
                // Rotated away: go on from the oldest file there is.
                None => {
                    self.missed = true;
                    self.offset = 0;
                    let oldest = self.oldest()?;
                    match self.gone_between(&self.from.file, self.from.offset, &oldest.1) {
                        // The oldest file begins where the start was.
                        Some(0) => {}
                        gone => {
                            let before = self.skipping.take().unwrap_or(Some(0));
                            self.skipping = Some(before.zip(gone).map(|(a, b)| a + b));
                        }
                    }
                    oldest
                }
            };
            self.file = Some(opened);
        }
        if self.buf.is_empty() {
            self.buf = vec![0; READ_CHUNK];
        }
        loop {
            let id = self.file.as_ref().expect("opened above").1;
            if self.read_segment()? {
                self.caught_up = false;
                break;
            }
            // Done with this file unless it is still the current one. The
            // writer finishes a file before renaming it, so once the name
            // holds another file, what this one has is all it will have.
            let current = std::fs::symlink_metadata(&self.path).map(|m| FileId::of(&m));
            if current.as_ref().map_or(true, |c| c.is(&id)) {
                self.caught_up = true;
                break;
            }
            // Renamed, so final now; but the writer may have appended to it
            // between the read above and the rename. Take that first.
            if self.read_segment()? {
                self.caught_up = false;
                break;
            }
            let Some((opened, jumped)) = self.next_after(&id)? else {
                // The writer is between renaming the current file and
                // making the next: the new file's creation wakes the
                // reader, which goes on from here.
                self.caught_up = true;
                break;
            };
            if opened.1.is(&id) {
                self.caught_up = true;
                break;
            }
            let gone = match self.gone_between(&id, self.offset, &opened.1) {
                Some(gone) => Some(gone),
                None if jumped => None,
                None => Some(0),
            };
            if gone != Some(0) {
                self.missed = true;
                if let Some(skipped) = &mut self.skipping {
                    // Another gap while skipping: more of the same.
                    *skipped = skipped.zip(gone).map(|(a, b)| a + b);
                } else {
                    // Stop here: what was read before the gap is passed on
                    // first, and the position stays at its end.
                    self.gap = Some(Gap { gone, next: opened });
                    self.caught_up = false;
                    break;
                }
            }
            self.file = Some(opened);
            self.offset = 0;
        }
        let read = &self.buf[..self.filled];
        self.tail = match memchr::memrchr(b'\n', read) {
            Some(i) => (read.len() - i - 1) as u64,
            None => self.tail + read.len() as u64,
        };
        Ok(())
    }

    /// [`Follower::read_file`], and while skipping to a line, drop what
    /// it read up to and with the first newline.
    fn read_segment(&mut self) -> io::Result<bool> {
        let start = self.filled;
        let full = self.read_file()?;
        let Some(skipped) = self.skipping else {
            return Ok(full);
        };
        let got = &self.buf[start..self.filled];
        match memchr::memchr(b'\n', got) {
            Some(i) => {
                let dropped = i + 1;
                self.buf.copy_within(start + dropped..self.filled, start);
                self.filled -= dropped;
                self.skipping = None;
                let resume = Position {
                    file: self.file.as_ref().expect("a file is open").1,
                    offset: self.offset - (self.filled - start) as u64,
                };
                self.passed = Some(Missed {
                    bytes: skipped.map(|s| s + dropped as u64),
                    // The line the newline ends, at least.
                    lines_at_least: 1,
                    resume,
                    cursor: cursor_at(&self.path, &resume).ok(),
                });
            }
            None => {
                self.skipping = Some(skipped.map(|s| s + got.len() as u64));
                self.filled = start;
            }
        }
        Ok(full)
    }

    /// Read the open file from `offset` on into the rest of `buf`, until
    /// its end or until `buf` is full; returns whether it is full.
    fn read_file(&mut self) -> io::Result<bool> {
        use std::os::unix::fs::FileExt;
        let (file, _) = self.file.as_ref().expect("a file is open");
        while self.filled < self.buf.len() {
            match file.read_at(&mut self.buf[self.filled..], self.offset) {
                Ok(0) => return Ok(false),
                Ok(n) => {
                    self.filled += n;
                    self.offset += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    /// Whether the last [`Follower::read_new`] reached the end of the log.
    pub fn caught_up(&self) -> bool {
        self.caught_up
    }

    /// Whether any of the log after the start was rotated away before it
    /// was read (see [`Follower::take_missed`] for what).
    pub fn missed(&self) -> bool {
        self.missed
    }

    /// The gap the last read passed over, if it did: its lines, if any,
    /// all come after it.
    pub fn take_missed(&mut self) -> Option<Missed> {
        self.passed.take()
    }

    /// At the end (the process has ended, and the log holds all it
    /// wrote): a gap after which no line began, so that reading never
    /// went on; everything after the gap is missed.
    pub fn missed_at_end(&mut self) -> Option<Missed> {
        let gap = self.gap.take();
        let skipped = match (gap, self.skipping.take()) {
            (Some(Gap { gone, next }), _) => {
                self.file = Some(next);
                self.offset = 0;
                gone.map(|gone| gone + self.tail)
            }
            (None, Some(Some(0)) | None) => return None,
            (None, Some(skipped)) => skipped,
        };
        self.render = Render::new(self.raw);
        self.tail = 0;
        let resume = self.position()?;
        Some(Missed {
            bytes: skipped,
            lines_at_least: 1,
            resume,
            cursor: cursor_at(&self.path, &resume).ok(),
        })
    }

    /// Where reading stands: the end of what was read.
    pub fn position(&self) -> Option<Position> {
        self.file.as_ref().map(|(_, id)| Position {
            file: *id,
            offset: self.offset,
        })
    }

    /// The line being written, as it shows now (not returned by
    /// [`Follower::read_new`] until it ends).
    pub fn current(&self) -> String {
        self.render.current()
    }

    /// A last line without its newline, if any.
    pub fn rest(&mut self) -> Option<String> {
        self.render.finish()
    }
}

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
pub(crate) struct InotifyFd(pub(crate) nix::sys::inotify::Inotify);

#[cfg(target_os = "linux")]
impl std::os::fd::AsRawFd for InotifyFd {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsFd;
        self.0.as_fd().as_raw_fd()
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
        use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty())?;
        let name = path.file_name()?.to_os_string();
        let inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC).ok()?;
        inotify
            .add_watch(
                dir,
                AddWatchFlags::IN_MODIFY
                    | AddWatchFlags::IN_CREATE
                    | AddWatchFlags::IN_MOVED_TO
                    | AddWatchFlags::IN_CLOSE_WRITE,
            )
            .ok()?;
        // Deprecated because a borrowed raw fd could be closed while
        // registered; here the `AsyncFd` owns the `Inotify`, which owns the
        // fd, so it stays open until the registration is dropped.
        #[allow(deprecated)]
        let fd = tokio::io::unix::AsyncFd::new(InotifyFd(inotify)).ok()?;
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
                match fd.get_ref().0.read_events() {
                    Ok(_) => {}
                    Err(nix::errno::Errno::EAGAIN) => break,
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
                match guard.get_inner().0.read_events() {
                    Ok(events) => {
                        // A lost queue (IN_Q_OVERFLOW, no name) may have held
                        // ours.
                        let ours = events.iter().any(|e| {
                            e.name.as_ref().is_none_or(|n| {
                                let n = n.as_bytes();
                                let base = name.as_bytes();
                                n == base
                                    || (n.starts_with(base) && n.get(base.len()) == Some(&b'.'))
                            })
                        });
                        if ours {
                            return Ok(());
                        }
                    }
                    Err(nix::errno::Errno::EAGAIN) => guard.clear_ready(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sink_rotates_and_caps_the_disk() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.log");
        let data: Vec<u8> = (0..10_000u32)
            .flat_map(|i| format!("line {i}\n").into_bytes())
            .collect();
        sink(
            &data[..],
            &path,
            Limits {
                max_bytes: 10_000,
                keep: 2,
            },
        )
        .unwrap();
        let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        assert!(size(&path) <= 10_000);
        assert_eq!(size(&rotated(&path, 1)), 10_000);
        assert_eq!(size(&rotated(&path, 2)), 10_000);
        assert!(!rotated(&path, 3).exists());
        // The newest data is intact and in order.
        let (last, _) = tail(&path, 3, false, false).unwrap();
        assert_eq!(last, ["line 9997", "line 9998", "line 9999"]);
    }

    /// A disk that takes `room` more bytes, then fails with ENOSPC.
    struct Disk {
        data: Vec<u8>,
        room: usize,
    }

    impl Write for Disk {
        fn write(&mut self, data: &[u8]) -> io::Result<usize> {
            if self.room == 0 {
                return Err(io::Error::from_raw_os_error(nix::libc::ENOSPC));
            }
            let n = data.len().min(self.room);
            self.data.extend_from_slice(&data[..n]);
            self.room -= n;
            Ok(n)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_full_disk_costs_the_bytes_it_refuses_and_the_gap_is_marked() {
        let mut disk = Disk {
            data: Vec::new(),
            room: usize::MAX,
        };
        let mut gaps = Gaps::default();
        gaps.put(&mut disk, b"one\n").unwrap();
        // Full after "tw": the rest of the line and the next are lost.
        disk.room = 2;
        let err = gaps.put(&mut disk, b"two\nthree\n").unwrap_err();
        assert_eq!(err.raw_os_error(), Some(nix::libc::ENOSPC));
        gaps.put(&mut disk, b"four\n").unwrap_err();
        // A little room: a piece of the gap line gets out, no output.
        disk.room = 10;
        gaps.put(&mut disk, b"five\n").unwrap_err();
        // Room again: the rest of the gap line, a second one for what was
        // lost meanwhile, then the output.
        disk.room = usize::MAX;
        gaps.put(&mut disk, b"six\n").unwrap();
        let text = String::from_utf8(disk.data).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "one");
        assert_eq!(lines[1], "tw");
        assert_eq!(
            lines[2],
            "--- tmux-wire: gap in the log: 13 bytes of output could not be written (No space left on device (os error 28)) ---"
        );
        assert_eq!(
            lines[3],
            "--- tmux-wire: gap in the log: 5 bytes of output could not be written (No space left on device (os error 28)) ---"
        );
        assert_eq!(lines[4..], ["six"]);
        // Nothing pending once it writes again.
        assert_eq!((gaps.lost, gaps.pending.len()), (0, 0));
    }

    #[test]
    fn log_writers_are_told_by_their_arguments() {
        let path = |args: &[&str]| {
            let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
            sink_path(&args).map(|p| String::from_utf8_lossy(p).into_owned())
        };
        let log = "/t/s.logs/web.log";
        assert_eq!(
            path(&[
                "/b/tmux-wire",
                "log-sink",
                "--max-bytes",
                "1",
                "--keep",
                "2",
                log
            ])
            .as_deref(),
            Some(log)
        );
        assert_eq!(
            path(&["tmux-wire", "-S", "/t/s", "log-sink", "--pane", "%1", log]).as_deref(),
            Some(log)
        );
        // The shell that is about to become one.
        assert_eq!(
            path(&[
                "sh",
                "-c",
                "exec '/b/tmux-wire' -S '/t/s' log-sink --pane %1 --max-bytes 1 --keep 2 '/t/s.logs/web.log'"
            ])
            .as_deref(),
            Some(log)
        );
        for other in [
            &["sh", "-c", "sleep 300"][..],
            &["python3", "x.py", "log-sink"],
            &["tmux-wire", "log-sink"],
            &[],
        ] {
            assert_eq!(path(other), None, "{other:?}");
        }
    }

    #[test]
    fn a_sink_that_cannot_write_reads_all_its_input_and_says_so_once() {
        let dir = tempfile::tempdir().unwrap();
        // A log it cannot open: its directory is missing.
        let path = dir.path().join("missing").join("x.log");
        let data = vec![b'x'; 1 << 20];
        let mut reports = Vec::new();
        let mut input = &data[..];
        sink_reporting(&mut input, &path, Limits::default(), |r| {
            reports.push(r.map(str::to_string))
        })
        .unwrap();
        assert!(input.is_empty(), "all input read");
        assert_eq!(reports.len(), 1, "{reports:?}");
        assert!(
            reports[0].as_deref().unwrap().contains("No such file"),
            "{reports:?}"
        );
    }

    /// The start of the log's current file.
    fn start_of(path: &Path) -> Position {
        Position {
            offset: 0,
            ..end_position(path).unwrap()
        }
    }

    #[test]
    fn a_follower_finishes_the_old_file_when_the_log_rotates() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("z.log");
        open_append(&path).unwrap().write_all(b"one\n").unwrap();
        let start = start_of(&path);
        let mut f = Follower::new(&path, start, false);
        assert_eq!(f.read_new().unwrap(), ["one"]);
        // More is written, then the file rotates and a new one starts.
        let mut old = open_append(&path).unwrap();
        old.write_all(b"two\nthr").unwrap();
        rotate(&path, 2).unwrap();
        old.write_all(b"ee\n").unwrap();
        open_append(&path).unwrap().write_all(b"four\n").unwrap();
        assert_eq!(f.read_new().unwrap(), ["two", "three", "four"]);
        open_append(&path).unwrap().write_all(b"five").unwrap();
        assert!(f.read_new().unwrap().is_empty());
        assert!(f.caught_up());
        assert_eq!(f.current(), "five");
        assert_eq!(f.rest().as_deref(), Some("five"));
    }

    #[test]
    fn a_follower_reads_the_old_file_to_its_end_across_a_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.log");
        open_append(&path).unwrap().write_all(b"a\n").unwrap();
        let start = start_of(&path);
        let mut f = Follower::new(&path, start, false);
        assert_eq!(f.read_new().unwrap(), ["a"]);
        // Appended after that read, then rotated, then nothing new yet.
        open_append(&path).unwrap().write_all(b"b\n").unwrap();
        rotate(&path, 2).unwrap();
        open_append(&path).unwrap().write_all(b"").unwrap();
        assert_eq!(f.read_new().unwrap(), ["b"]);
        open_append(&path).unwrap().write_all(b"c\n").unwrap();
        assert_eq!(f.read_new().unwrap(), ["c"]);
    }

    #[test]
    fn a_follower_starts_in_a_rotated_file_and_says_when_it_was_gone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.log");
        open_append(&path).unwrap().write_all(b"a\nb\n").unwrap();
        let at_b = Position {
            offset: 2,
            ..end_position(&path).unwrap()
        };
        rotate(&path, 2).unwrap();
        open_append(&path).unwrap().write_all(b"c\n").unwrap();
        let mut f = Follower::new(&path, at_b, false);
        assert_eq!(f.read_new().unwrap(), ["b", "c"]);
        assert!(!f.missed());
        // Rotated twice more with one file kept: the start is gone.
        rotate(&path, 1).unwrap();
        open_append(&path).unwrap().write_all(b"d\n").unwrap();
        rotate(&path, 1).unwrap();
        open_append(&path).unwrap().write_all(b"e\n").unwrap();
        // Without an index to say where the oldest file begins, neither
        // how much is gone nor whether a line begins there is known: the
        // reader goes on at the next line that surely does.
        let mut g = Follower::new(&path, at_b, true);
        assert_eq!(g.read_new().unwrap(), ["e"]);
        assert!(g.missed());
        let missed = g.take_missed().unwrap();
        assert_eq!(missed.bytes, None);
        assert_eq!(missed.resume.offset, 2);
    }

    /// `line 00000\n`, 11 bytes a line.
    fn numbered(from: u32, to: u32) -> Vec<u8> {
        (from..to)
            .flat_map(|i| format!("line {i:05}\n").into_bytes())
            .collect()
    }

    #[test]
    fn a_follower_that_falls_behind_is_told_what_it_missed_and_resumes_at_a_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("behind.log");
        let limits = Limits {
            max_bytes: 1000,
            keep: 1,
        };
        sink(&numbered(0, 50)[..], &path, limits).unwrap();
        let mut f = Follower::new(&path, start_of(&path), false);
        let mut seen = f.read_new().unwrap();
        assert_eq!(seen.len(), 50);
        assert!(f.take_missed().is_none());
        // While the reader is stopped, the writer fills the file it reads
        // (bytes 0..1000) and two more; the two after it rotate away.
        sink(&numbered(50, 400)[..], &path, limits).unwrap();
        let mut missed = Vec::new();
        loop {
            let lines = f.read_new().unwrap();
            missed.extend(f.take_missed());
            seen.extend(lines);
            if f.caught_up() {
                break;
            }
        }
        // Bytes 990..1000 begin line 90; 1000..3000 are gone; 3000..3003
        // end line 272. Reading goes on at line 273, whole.
        let expected: Vec<String> = (0..90)
            .chain(273..400)
            .map(|i| format!("line {i:05}"))
            .collect();
        assert_eq!(seen, expected);
        assert_eq!(missed.len(), 1, "{missed:?}");
        let gap = &missed[0];
        assert_eq!(gap.bytes, Some(183 * 11));
        assert!(gap.lines_at_least >= 1);
        assert_eq!(cursor_at(&path, &gap.resume).unwrap().offset, 273 * 11);
        assert!(f.missed());
    }

    #[test]
    fn a_follower_whose_start_was_rotated_away_begins_at_a_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gone.log");
        let limits = Limits {
            max_bytes: 1000,
            keep: 1,
        };
        sink(&numbered(0, 50)[..], &path, limits).unwrap();
        let at_10 = Position {
            offset: 110,
            ..start_of(&path)
        };
        // Files 0..1000 and 1000..2000 rotate away; 2000.. is kept.
        sink(&numbered(50, 300)[..], &path, limits).unwrap();
        let mut f = Follower::new(&path, at_10, false);
        let lines = f.read_new().unwrap();
        // Byte 2000 is inside line 181 (1991..2002): line 182 is the first
        // whole one, and 110..2002 is missed.
        assert_eq!(lines[0], "line 00182");
        let missed = f.take_missed().unwrap();
        assert_eq!(missed.bytes, Some(2002 - 110));
        assert_eq!(missed.cursor.unwrap().offset, 2002);
        assert!(f.missed());
    }

    #[test]
    fn a_follower_reads_in_bounded_steps() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.log");
        let line = [b'x'; 99];
        let mut file = open_append(&path).unwrap();
        for _ in 0..30_000 {
            file.write_all(&line).unwrap();
            file.write_all(b"\n").unwrap();
        }
        let mut f = Follower::new(&path, start_of(&path), true);
        let mut total = 0;
        let mut reads = 0;
        loop {
            total += f.read_new().unwrap().len();
            reads += 1;
            if f.caught_up() {
                break;
            }
        }
        assert_eq!(total, 30_000);
        assert_eq!(reads, 3);
    }

    #[test]
    fn tail_reads_as_a_person_would() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("y.log");
        open_append(&path)
            .unwrap()
            .write_all(b"\x1b[32mgreen\x1b[0m\r\n10%\r50%\r100%\none\r\r\nlast")
            .unwrap();
        let seen = |n| tail(&path, n, false, false).unwrap().0;
        assert_eq!(seen(10), ["green", "100%", "one", "last"]);
        assert_eq!(tail(&path, 1, true, false).unwrap().0, ["last"]);
        assert_eq!(
            tail(&path, 4, true, false).unwrap().0[0],
            "\x1b[32mgreen\x1b[0m"
        );
        // Any count works, the largest too.
        assert_eq!(seen(usize::MAX).len(), 4);
        assert!(seen(0).is_empty());
        // For a follower: whole lines, and the unfinished one left to it.
        let (whole, from) = tail(&path, 10, false, true).unwrap();
        assert_eq!(whole, ["green", "100%", "one"]);
        let mut f = Follower::new(&path, from, false);
        assert!(f.read_new().unwrap().is_empty());
        open_append(&path).unwrap().write_all(b" line\n").unwrap();
        assert_eq!(f.read_new().unwrap(), ["last line"]);
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
