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

/// Log size limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes per file before it rotates.
    pub max_bytes: u64,
    /// Rotated files kept.
    pub keep: u32,
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

/// Open (creating, mode 0600) a log file for appending.
pub(crate) fn open_append(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
}

/// Copy `input` into `path` until end of input, rotating as [`Limits`] say.
pub fn sink(mut input: impl Read, path: &Path, limits: Limits) -> io::Result<()> {
    let max = limits.max_bytes.max(1);
    let mut file = open_append(path)?;
    let mut size = file.metadata()?.len();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let mut data = &buf[..n];
        while !data.is_empty() {
            if size >= max {
                drop(file);
                rotate(path, limits.keep)?;
                file = open_append(path)?;
                size = 0;
            }
            let room = usize::try_from(max - size).unwrap_or(usize::MAX);
            let (now, later) = data.split_at(room.min(data.len()));
            file.write_all(now)?;
            size += now.len() as u64;
            data = later;
        }
    }
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
/// the current one is short). Without `raw`, each line is what a person
/// sees: escape sequences removed, text after the last carriage return
/// (progress bars redraw the line), no other control characters.
pub fn tail(path: &Path, n: usize, raw: bool) -> io::Result<Vec<String>> {
    Ok(tail_with_offset(path, n, raw)?.0)
}

/// [`tail`], and the length of the current file when it was read (where a
/// [`Follower`] goes on).
pub fn tail_with_offset(path: &Path, n: usize, raw: bool) -> io::Result<(Vec<String>, u64)> {
    if !path.exists() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            "no log (only processes started by tmux-wire have one)",
        ));
    }
    // Newest first: FILE, FILE.1, FILE.2 ...
    let mut data: Vec<u8> = Vec::new();
    let mut index = 0;
    let mut offset = 0;
    loop {
        let p = if index == 0 {
            path.to_path_buf()
        } else {
            rotated(path, index)
        };
        let Ok(mut file) = File::open(&p) else { break };
        // Enough bytes for n lines of a generous width; more only if needed.
        let len = file.metadata()?.len();
        let want = (n as u64 + 1).saturating_mul(4096);
        let start = len.saturating_sub(want);
        file.seek(SeekFrom::Start(start))?;
        let mut chunk = Vec::new();
        file.read_to_end(&mut chunk)?;
        if index == 0 {
            offset = start + chunk.len() as u64;
        }
        chunk.extend_from_slice(&data);
        data = chunk;
        let lines = data.iter().filter(|&&b| b == b'\n').count();
        if lines > n || start > 0 {
            break;
        }
        index += 1;
    }
    let mut lines: Vec<String> = data
        .split(|&b| b == b'\n')
        .map(|line| render_line(line, raw))
        .collect();
    if lines.last().is_some_and(String::is_empty) {
        lines.pop();
    }
    let skip = lines.len().saturating_sub(n);
    Ok((lines.split_off(skip), offset))
}

/// One line of the log (without its `\n`) as printed: with `raw`, as the
/// process wrote it; else as a person sees it (escape sequences removed, a
/// carriage return starting the line over, no other control characters).
pub fn render_line(line: &[u8], raw: bool) -> String {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if raw {
        return String::from_utf8_lossy(line).into_owned();
    }
    let shown = line.rsplit(|&b| b == b'\r').next().unwrap_or(line);
    String::from_utf8_lossy(&strip_ansi_escapes::strip(shown))
        .chars()
        .filter(|c| !c.is_control() || *c == '\t')
        .collect()
}

/// Reads what is appended to a log from an offset on, in whole lines. It
/// keeps the file open, so when the writer rotates (the file becomes
/// FILE.1 and a new FILE starts) it first finishes the old file, then goes
/// on with the new one from its start.
pub struct Follower {
    path: PathBuf,
    file: Option<(File, u64)>,
    offset: u64,
    partial: Vec<u8>,
}

impl Follower {
    /// Follow `path` from `offset`.
    pub fn new(path: &Path, offset: u64) -> Follower {
        Follower {
            path: path.to_path_buf(),
            file: None,
            offset,
            partial: Vec::new(),
        }
    }

    /// The whole lines appended since the last call.
    pub fn read_new(&mut self, raw: bool) -> io::Result<Vec<String>> {
        use std::os::unix::fs::MetadataExt;
        if self.file.is_none() {
            let file = File::open(&self.path)?;
            let inode = file.metadata()?.ino();
            self.file = Some((file, inode));
        }
        while let Some((file, inode)) = self.file.as_mut() {
            file.seek(SeekFrom::Start(self.offset))?;
            let mut data = Vec::new();
            file.read_to_end(&mut data)?;
            self.offset += data.len() as u64;
            self.partial.extend_from_slice(&data);
            // Rotated: the name now holds a new file. The writer finished
            // this one before renaming it; take what it wrote since.
            match std::fs::metadata(&self.path) {
                Ok(meta) if meta.ino() != *inode => {
                    let mut last = Vec::new();
                    file.read_to_end(&mut last)?;
                    self.partial.extend_from_slice(&last);
                    let next = File::open(&self.path)?;
                    self.file = Some((next, meta.ino()));
                    self.offset = 0;
                }
                _ => break,
            }
        }
        let mut lines = Vec::new();
        while let Some(end) = self.partial.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=end).collect();
            lines.push(render_line(&line[..line.len() - 1], raw));
        }
        Ok(lines)
    }

    /// A last line without its newline, if any.
    pub fn rest(&mut self, raw: bool) -> Option<String> {
        (!self.partial.is_empty()).then(|| render_line(&std::mem::take(&mut self.partial), raw))
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
        let last = tail(&path, 3, false).unwrap();
        assert_eq!(last, ["line 9997", "line 9998", "line 9999"]);
    }

    #[test]
    fn a_follower_finishes_the_old_file_when_the_log_rotates() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("z.log");
        std::fs::write(&path, b"one\n").unwrap();
        let mut f = Follower::new(&path, 0);
        assert_eq!(f.read_new(false).unwrap(), ["one"]);
        // More is written, then the file rotates and a new one starts.
        let mut old = OpenOptions::new().append(true).open(&path).unwrap();
        old.write_all(b"two\nthr").unwrap();
        rotate(&path, 2).unwrap();
        old.write_all(b"ee\n").unwrap();
        std::fs::write(&path, b"four\n").unwrap();
        assert_eq!(f.read_new(false).unwrap(), ["two", "three", "four"]);
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"five")
            .unwrap();
        assert!(f.read_new(false).unwrap().is_empty());
        assert_eq!(f.rest(false).as_deref(), Some("five"));
    }

    #[test]
    fn tail_reads_as_a_person_would() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("y.log");
        std::fs::write(&path, b"\x1b[32mgreen\x1b[0m\r\n10%\r50%\r100%\nlast").unwrap();
        assert_eq!(tail(&path, 10, false).unwrap(), ["green", "100%", "last"]);
        assert_eq!(tail(&path, 1, true).unwrap(), ["last"]);
        assert_eq!(tail(&path, 3, true).unwrap()[0], "\x1b[32mgreen\x1b[0m");
    }
}
