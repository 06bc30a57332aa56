//! The log writer: what `log-sink` runs, appending a pane's output to
//! its log, rotating it by size, and marking in it what it could not
//! write.

use std::fs::{File, OpenOptions};
#[cfg(test)]
use std::io::Read;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

#[cfg(test)]
use super::input::{unread, Plain};
use super::input::{Next, Source};
use super::{ignore_missing, index, open_append, rotated, FileId, Limits, NudgingStdin};

/// Copy `input` into `path` until end of input, rotating as [`Limits`] say.
#[cfg(test)]
pub fn sink(input: impl Read, path: &Path, limits: Limits) -> io::Result<()> {
    sink_reporting(input, path, limits, |_| {})
}

/// [`sink_reporting`] from standard input, answering sync requests if it
/// has a channel for them ([`NudgingStdin::with_sync`]): what `log-sink`
/// runs.
pub fn sink_synced(
    input: NudgingStdin,
    path: &Path,
    limits: Limits,
    report: impl FnMut(Option<&str>),
) -> io::Result<()> {
    sink_from(input, path, limits, report)
}

/// [`sink`] that never stops reading its input, so the process whose
/// output it is never waits for it: what it cannot write (a full disk, an
/// I/O error, a log it cannot open) it counts and drops, and it tries
/// again with each new input; once a write works again, a line marks the
/// gap in the log ([`gap_line`]) before the output goes on. `report` is
/// told when writing stops (`Some(reason)`) and when it works again
/// (`None`). Only a failure to read its input ends it with an error.
#[cfg(test)]
pub fn sink_reporting(
    input: impl Read,
    path: &Path,
    limits: Limits,
    report: impl FnMut(Option<&str>),
) -> io::Result<()> {
    sink_from(Plain(input), path, limits, report)
}

fn sink_from(
    mut input: impl Source,
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
    let mut failing = false;
    // Bytes of input read, all written or counted as lost.
    let mut received = 0u64;
    loop {
        let read = input.next(&mut buf);
        let n = match read {
            Ok(Next::End) => return Ok(()),
            Ok(Next::Sync(requests)) => {
                if let Some(Err(e)) = input.answer(requests, received) {
                    ::log::warn!("log sync of {}: {e}", path.display());
                }
                continue;
            }
            Ok(Next::Data(n)) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        received += n as u64;
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
                    .custom_flags(crate::os::O_NOFOLLOW | crate::os::O_NONBLOCK)
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

pub(super) fn rotate(path: &Path, keep: u32) -> io::Result<()> {
    if keep == 0 {
        return std::fs::remove_file(path).or_else(ignore_missing);
    }
    for n in (1..keep).rev() {
        std::fs::rename(rotated(path, n), rotated(path, n + 1)).or_else(ignore_missing)?;
    }
    std::fs::rename(path, rotated(path, 1)).or_else(ignore_missing)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keeper::log::*;

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
                return Err(io::Error::from_raw_os_error(
                    rustix::io::Errno::NOSPC.raw_os_error(),
                ));
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
        assert_eq!(
            err.raw_os_error(),
            Some(rustix::io::Errno::NOSPC.raw_os_error())
        );
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

    /// A writer's input on a pipe, with a sync channel for the log at
    /// `path`: the input, the pipe's writing end, and the channel's FIFO
    /// opened for requests.
    fn synced_pipe(path: &Path) -> (NudgingStdin<File>, File, File) {
        let (read, write) = rustix::pipe::pipe().unwrap();
        let input = NudgingStdin {
            stdin: File::from(read),
            server: None,
            sync: None,
        }
        .with_sync(path);
        assert!(input.sync.is_some());
        let fifo = OpenOptions::new()
            .write(true)
            .open(super::super::sync::fifo_path(path))
            .unwrap();
        (input, File::from(write), fifo)
    }

    #[test]
    fn the_writer_answers_a_sync_only_once_the_input_before_it_is_in_the_log() {
        use super::super::sync::answer_path;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.log");
        let (input, mut write, mut fifo) = synced_pipe(&path);
        // Input and a request both waiting before the writer looks.
        write.write_all(b"one\n").unwrap();
        fifo.write_all(b"00000000000000aa\n").unwrap();
        let sink = {
            let path = path.clone();
            std::thread::spawn(move || sink_from(input, &path, Limits::default(), |_| {}))
        };
        let answered = |request: &str| {
            let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
            loop {
                let answer = std::fs::read_to_string(answer_path(&path)).unwrap_or_default();
                if let Some(line) = answer.lines().find(|l| l.starts_with(request)) {
                    // The answer is read before the log, so what it counts
                    // was written before it.
                    let log = std::fs::read_to_string(&path).unwrap();
                    return (line.to_string(), log);
                }
                assert!(std::time::Instant::now() < until, "no answer to {request}");
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        };
        let (line, log) = answered("00000000000000aa");
        assert_eq!(line, "00000000000000aa 4");
        assert_eq!(log, "one\n");
        write.write_all(b"two\n").unwrap();
        fifo.write_all(b"00000000000000bb\n").unwrap();
        let (line, log) = answered("00000000000000bb");
        assert_eq!(line, "00000000000000bb 8");
        assert_eq!(log, "one\ntwo\n");
        // Both requests are still named; the writer ends with its input.
        let answer = std::fs::read_to_string(answer_path(&path)).unwrap();
        assert!(
            answer.starts_with(super::super::sync::ANSWER_HEADER),
            "{answer}"
        );
        assert!(answer.contains("00000000000000aa 4\n"), "{answer}");
        drop(write);
        sink.join().unwrap().unwrap();
    }

    #[test]
    fn a_sync_during_a_flood_is_answered_once_what_was_there_is_in_the_log() {
        use super::super::sync::answer_path;
        use std::sync::atomic::{AtomicBool, Ordering};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.log");
        let (input, mut write, mut fifo) = synced_pipe(&path);
        // A full pipe, then the request, before the writer looks.
        if unread(&write).is_none() {
            return; // no FIONREAD here: the drain is "until empty"
        }
        let nonblocking = |file: &File, on: bool| {
            use rustix::fs::{fcntl_setfl, OFlags};
            let flags = if on {
                OFlags::NONBLOCK
            } else {
                OFlags::empty()
            };
            fcntl_setfl(file, flags).unwrap();
        };
        nonblocking(&write, true);
        let mut before = 0u64;
        while let Ok(n) = write.write(&[b'x'; 4096]) {
            before += n as u64;
        }
        nonblocking(&write, false);
        fifo.write_all(b"00000000000000cc\n").unwrap();
        // And output that never stops.
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let flood = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if write.write_all(&[b'y'; 4096]).is_err() {
                        break;
                    }
                }
            })
        };
        let sink = {
            let path = path.clone();
            std::thread::spawn(move || sink_from(input, &path, Limits::default(), |_| {}))
        };
        let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let line = loop {
            let answer = std::fs::read_to_string(answer_path(&path)).unwrap_or_default();
            if let Some(line) = answer.lines().find(|l| l.starts_with("00000000000000cc")) {
                break line.to_string();
            }
            assert!(
                std::time::Instant::now() < until,
                "no answer during the flood"
            );
            std::thread::sleep(std::time::Duration::from_millis(1));
        };
        // Exactly what the pipe held when the request was seen.
        assert_eq!(line, format!("00000000000000cc {before}"));
        stop.store(true, Ordering::Relaxed);
        flood.join().unwrap();
        sink.join().unwrap().unwrap();
    }
}
