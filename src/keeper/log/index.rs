//! The log's index, and cursors: a position in everything a process has
//! printed, across rotations.
//!
//! Beside `NAME.log` lies `NAME.log.index`: a first line naming the log
//! (`tmux-wire log index 1 LOGID`, LOGID random, made with the log), then
//! one line per log file, `INODE.BORN START`, START being where the file
//! begins in the whole output. The sink writes a file's line when it makes
//! the file, and knows its START then: the previous file's START plus its
//! size. So when the oldest files have rotated away, a reader still knows
//! where what is left begins, and how much of what it asked for is gone.
//!
//! A [`Cursor`] is `LOGID:OFFSET`, OFFSET counting bytes from the first the
//! process printed; `LOGID:OFFSET~` is one inside a line whose start was
//! rotated away (a read from it skips to the start of the next line, and
//! counts what it skips as missed). A cursor of another log (another name's, or one
//! removed and made again under the same name) is refused, never read as
//! if it were this one's, and the refusal says whose it is when a log
//! beside this one has its id.

use super::{open_append, open_read, rotated, FileId, Position};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// How the first line of an index starts.
const MAGIC: &str = "tmux-wire log index 1 ";

/// The index of the log at `log`.
pub fn index_path(log: &Path) -> PathBuf {
    let mut s = log.as_os_str().to_owned();
    s.push(".index");
    PathBuf::from(s)
}

/// A place in a process's whole output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// Which log (random, made with the log).
    pub log: String,
    /// Bytes from the first byte the process printed.
    pub offset: u64,
    /// The cursor is inside a line whose start was rotated away (a read
    /// that found no line begun after a gap ends here): reading from it
    /// skips to the start of the next line, counting what it skips as
    /// missed. Written as a `~` after the offset.
    pub mid_line: bool,
}

impl Cursor {
    /// The cursor at `offset` of the log `log`, at the start of a line or
    /// inside one whose start is kept.
    pub fn new(log: String, offset: u64) -> Cursor {
        Cursor {
            log,
            offset,
            mid_line: false,
        }
    }
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mark = if self.mid_line { "~" } else { "" };
        write!(f, "{}:{}{mark}", self.log, self.offset)
    }
}

impl std::str::FromStr for Cursor {
    type Err = String;
    fn from_str(s: &str) -> Result<Cursor, String> {
        let bad = || format!("bad cursor {s:?}: a cursor reads LOGID:OFFSET, as a read printed it");
        let (log, offset) = s.split_once(':').ok_or_else(bad)?;
        let (offset, mid_line) = match offset.strip_suffix('~') {
            Some(offset) => (offset, true),
            None => (offset, false),
        };
        if log.is_empty() || !log.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        // Log ids are written in lowercase; one typed in uppercase is the
        // same id.
        Ok(Cursor {
            log: log.to_ascii_lowercase(),
            offset: offset.parse().map_err(|_| bad())?,
            mid_line,
        })
    }
}

/// What an index says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Index {
    pub(crate) log: String,
    /// Each file, and where it begins; in the order they were made.
    pub(crate) files: Vec<(FileId, u64)>,
}

impl Index {
    /// Read the index of `log`; `None` when there is none.
    pub(crate) fn read(log: &Path) -> io::Result<Option<Index>> {
        let mut text = String::new();
        match open_read(&index_path(log)) {
            Ok(mut f) => {
                f.read_to_string(&mut text)?;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        }
        let mut lines = text.lines();
        let Some(id) = lines.next().and_then(|l| l.strip_prefix(MAGIC)) else {
            return Err(io::Error::other(format!(
                "{} is not a tmux-wire log index",
                index_path(log).display()
            )));
        };
        let files = lines
            .filter_map(|l| {
                let (file, start) = l.split_once(' ')?;
                let (inode, born) = file.split_once('.')?;
                Some((
                    FileId {
                        inode: inode.parse().ok()?,
                        born: born.parse().ok()?,
                    },
                    start.parse().ok()?,
                ))
            })
            .collect();
        Ok(Some(Index {
            log: id.trim().to_string(),
            files,
        }))
    }

    /// Where `file` begins, if the index knows it (the latest line for it:
    /// an inode number can come back for a later file).
    pub(crate) fn start_of(&self, file: &FileId) -> Option<u64> {
        self.files
            .iter()
            .rev()
            .find(|(f, _)| f.is(file))
            .map(|&(_, s)| s)
    }

    /// The index of `log` as readers see it: what the file says, plus the
    /// current file if the writer has not written its line yet (it follows
    /// the last file the index knows). Readers never write the index.
    pub(crate) fn for_reading(log: &Path) -> io::Result<Index> {
        let mut index = Index::read(log)?.ok_or_else(|| {
            io::Error::other(
                "the log has no index (its writer is from an older tmux-wire); cursors start with the next run",
            )
        })?;
        let current = FileId::of(&open_read(log)?.metadata()?);
        if index.start_of(&current).is_none() {
            let (last, start) = *index
                .files
                .last()
                .ok_or_else(|| io::Error::other("the log's index lists no file"))?;
            let size = existing_size(log, &last).ok_or_else(|| io::Error::other(ROTATED_PAST))?;
            index.files.push((current, start + size));
        }
        Ok(index)
    }
}

/// Append a line to the index (one write, so lines never interleave).
fn append(log: &Path, line: &str) -> io::Result<()> {
    open_append(&index_path(log))?.write_all(line.as_bytes())
}

/// A log's id: 8 hex digits that tell two logs of one name apart.
fn new_log_id() -> String {
    crate::keeper::unique_hex()[..8].to_string()
}

/// Make sure the current log file is in the index, and return where it
/// begins. A log without an index (new, or written by an older tmux-wire)
/// gets one: its files, oldest first, begin where the one before ends.
/// A current file the index does not know, after files it does (the log
/// was removed and made again under the same name), starts a new index.
pub(crate) fn register_current(log: &Path) -> io::Result<u64> {
    let current = FileId::of(&open_read(log)?.metadata()?);
    if let Some(index) = Index::read(log)? {
        if let Some(start) = index.start_of(&current) {
            return Ok(start);
        }
        // A file made by rotation is registered by the sink; one it does
        // not know follows the last it knows, if that still exists.
        if let Some(&(last, start)) = index.files.last() {
            if let Some(size) = existing_size(log, &last) {
                let begins = start + size;
                append(
                    log,
                    &format!("{}.{} {begins}\n", current.inode, current.born),
                )?;
                return Ok(begins);
            }
        }
    }
    // A new index: the files there are, oldest first.
    let mut files = existing_files(log);
    files.reverse();
    let mut text = format!("{MAGIC}{}\n", new_log_id());
    let mut begins = 0;
    let mut current_start = 0;
    for (id, size) in files {
        text.push_str(&format!("{}.{} {begins}\n", id.inode, id.born));
        if id.is(&current) {
            current_start = begins;
        }
        begins += size;
    }
    // Made whole beside it, then renamed over: a reader or writer never
    // sees half of it.
    let path = index_path(log);
    let mut partial = path.as_os_str().to_owned();
    partial.push(format!(".new{}", std::process::id()));
    let partial = PathBuf::from(partial);
    let _ = std::fs::remove_file(&partial);
    open_append(&partial)?.write_all(text.as_bytes())?;
    std::fs::rename(&partial, &path)?;
    Ok(current_start)
}

/// The sink made `file` by rotation; the file before it began at `start`
/// and ended with `size` bytes.
pub(crate) fn register_rotated(log: &Path, file: FileId, begins: u64) -> io::Result<()> {
    append(log, &format!("{}.{} {begins}\n", file.inode, file.born))
}

/// The log's files there are, newest first: (identity, size).
fn existing_files(log: &Path) -> Vec<(FileId, u64)> {
    (0..=super::MAX_KEEP)
        .map(|i| {
            if i == 0 {
                log.to_path_buf()
            } else {
                rotated(log, i)
            }
        })
        .map_while(|p| std::fs::symlink_metadata(p).ok())
        .map(|m| (FileId::of(&m), m.len()))
        .collect()
}

fn existing_size(log: &Path, file: &FileId) -> Option<u64> {
    existing_files(log)
        .into_iter()
        .find(|(f, _)| f.is(file))
        .map(|(_, size)| size)
}

/// Where a cursor is in the files there are now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Located {
    /// Where to read from.
    pub position: Position,
    /// Bytes between the cursor and `position`, never to be read: those
    /// rotated away, and the rest of the line they cut (reading goes on
    /// at the start of a line, never inside one).
    pub missed: u64,
    /// No line had begun after the bytes rotated away (or the cursor is
    /// marked so: [`Cursor::mid_line`]): `position` is inside the line
    /// they cut (the end of the log when it was located), and a reader
    /// skips to the start of the next line first.
    pub mid_line: bool,
}

/// The cursor at the end of the log now.
#[cfg(test)]
pub fn end_cursor(log: &Path) -> io::Result<Cursor> {
    let meta = open_read(log)?.metadata()?;
    let index = Index::for_reading(log)?;
    let start = index
        .start_of(&FileId::of(&meta))
        .ok_or_else(|| io::Error::other("the log rotated meanwhile; read it again"))?;
    Ok(Cursor::new(index.log, start + meta.len()))
}

/// The cursor of a [`Position`] in the log.
pub fn cursor_at(log: &Path, position: &Position) -> io::Result<Cursor> {
    let index = Index::for_reading(log)?;
    let start = index.start_of(&position.file).ok_or_else(|| {
        io::Error::other(format!(
            "the log's index does not know the file of position {position}"
        ))
    })?;
    Ok(Cursor::new(index.log, start + position.offset))
}

/// Why `cursor` is not one of the log at `log` (whose id is `id`): it is
/// another name's, if a log beside this one has its id; otherwise of a log
/// no longer there.
fn another_log(log: &Path, cursor: &Cursor, id: &str) -> String {
    let name_of = |p: &Path| {
        let file = p.file_name()?.to_str()?;
        Some(file.strip_suffix(".log").unwrap_or(file).to_string())
    };
    let this = name_of(log).unwrap_or_else(|| log.display().to_string());
    let dir = log.parent().filter(|d| !d.as_os_str().is_empty());
    let owner = dir
        .and_then(|d| std::fs::read_dir(d).ok())
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let path = e.path();
            let log = PathBuf::from(path.to_str()?.strip_suffix(".index")?);
            let index = Index::read(&log).ok()??;
            (index.log == cursor.log).then(|| name_of(&log)).flatten()
        })
        .next();
    match owner {
        Some(other) => format!(
            "cursor {cursor} is a cursor of {other}'s output, not of {this}'s (each name's log has its own id; {this}'s is {id})"
        ),
        None => format!(
            "cursor {cursor} is not a cursor of {this}'s log (its id is {id}): it is of a log no longer kept, another name's or an earlier log of {this} removed and started anew"
        ),
    }
}

/// Where reading goes on after `gone` bytes rotated away before the start
/// of `oldest`: the start of the first line that begins in what is kept.
fn after_gap(log: &Path, oldest: FileId, gone: u64) -> io::Result<Located> {
    let start = Position {
        file: oldest,
        offset: 0,
    };
    let mut follower = super::Follower::new(log, start, true).skipping_to_a_line(Some(gone));
    loop {
        follower.advance()?;
        if let Some(missed) = follower.take_missed() {
            return Ok(Located {
                position: missed.resume,
                missed: missed.bytes.unwrap_or(gone),
                mid_line: false,
            });
        }
        if follower.caught_up() {
            break;
        }
    }
    let missed = follower.missed_at_end();
    Ok(Located {
        position: follower.position().unwrap_or(start),
        missed: missed.and_then(|m| m.bytes).unwrap_or(gone),
        mid_line: true,
    })
}

/// Find `cursor` in the log: the position to read from, and how many of
/// the bytes after the cursor were rotated away (then the position is the
/// start of the next line: see [`Located`]). A cursor inside a line whose
/// start was rotated away ([`Cursor::mid_line`]) is located with
/// `mid_line`: the reader goes on skipping that line. A cursor of another log,
/// or past the end, is an error.
pub fn locate(log: &Path, cursor: &Cursor) -> io::Result<Located> {
    // The writer rotates by renaming the log, then making the next file
    // and its index line: a look in between finds a file missing, or one
    // the index does not know yet. That lasts microseconds: look again.
    let since = std::time::Instant::now();
    loop {
        match locate_once(log, cursor) {
            Err(e) if since.elapsed() < MID_ROTATION && mid_rotation(log, &e) => {
                std::thread::yield_now();
            }
            located => return located,
        }
    }
}

/// How long a look that met a rotation half done is made again.
const MID_ROTATION: std::time::Duration = std::time::Duration::from_millis(100);

/// Whether `error` may come from a look at `log` while its writer was
/// between renaming it and making the next file (its index is there).
fn mid_rotation(log: &Path, error: &io::Error) -> bool {
    (error.kind() == io::ErrorKind::NotFound || error.to_string().contains(ROTATED_PAST))
        && index_path(log).exists()
}

/// The error of an index that does not know the current file yet.
const ROTATED_PAST: &str = "the log rotated past what its index knows; read it again";

fn locate_once(log: &Path, cursor: &Cursor) -> io::Result<Located> {
    let index = Index::for_reading(log)?;
    if index.log != cursor.log {
        return Err(io::Error::other(another_log(log, cursor, &index.log)));
    }
    // Oldest first, with where each begins.
    let mut files: Vec<(FileId, u64, u64)> = existing_files(log)
        .into_iter()
        .filter_map(|(id, size)| Some((id, index.start_of(&id)?, size)))
        .collect();
    files.reverse();
    let Some(&(oldest, oldest_start, _)) = files.first() else {
        return Err(io::Error::other("the log has no files the index knows"));
    };
    if cursor.offset < oldest_start {
        return after_gap(log, oldest, oldest_start - cursor.offset);
    }
    for (i, &(id, start, size)) in files.iter().enumerate() {
        let last = i + 1 == files.len();
        if cursor.offset < start + size || (last && cursor.offset == start + size) {
            return Ok(Located {
                position: Position {
                    file: id,
                    offset: cursor.offset - start,
                },
                missed: 0,
                // Still inside the line the gap cut: go on skipping it.
                mid_line: cursor.mid_line,
            });
        }
    }
    let end = files.last().map_or(0, |&(_, s, n)| s + n);
    Err(io::Error::other(format!(
        "cursor {cursor} is past the end of the log ({}:{end})",
        index.log
    )))
}

#[cfg(test)]
mod tests {
    use super::super::{sink, Follower, Limits};
    use super::*;

    fn lines(from: u32, to: u32) -> Vec<u8> {
        (from..to)
            .flat_map(|i| format!("line {i:05}\n").into_bytes())
            .collect()
    }

    #[test]
    fn a_cursor_located_while_the_log_rotates_is_found_once_it_has() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("p.log");
        let limits = Limits {
            max_bytes: 1000,
            keep: 1,
        };
        sink(&lines(0, 50)[..], &log, limits).unwrap();
        let end = end_cursor(&log).unwrap();
        // The first half of a rotation: the log renamed, no next file yet.
        std::fs::rename(&log, dir.path().join("p.log.1")).unwrap();
        let writer = {
            let log = log.clone();
            std::thread::spawn(move || {
                std::thread::sleep(std::time::Duration::from_millis(5));
                sink(&lines(50, 60)[..], &log, limits).unwrap();
            })
        };
        let at = locate(&log, &end).unwrap();
        writer.join().unwrap();
        assert_eq!(at.missed, 0);
        let mut follower = Follower::new(&log, at.position, false);
        assert_eq!(follower.read_new().unwrap()[0], "line 00050");
    }

    #[test]
    fn cursors_count_every_byte_across_rotations_and_say_what_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("p.log");
        let limits = Limits {
            max_bytes: 1000,
            keep: 1,
        };
        // 100 lines of 11 bytes: one rotation, nothing lost yet.
        sink(&lines(0, 100)[..], &log, limits).unwrap();
        let end = end_cursor(&log).unwrap();
        assert_eq!(end.offset, 1100);
        let start = Cursor::new(end.log.clone(), 0);
        let at = locate(&log, &start).unwrap();
        assert_eq!(at.missed, 0);
        // A second sink (the next run) goes on counting.
        sink(&lines(100, 300)[..], &log, limits).unwrap();
        assert_eq!(end_cursor(&log).unwrap().offset, 3300);
        // The first 2000 bytes rotated away: reading from 0 says so, and
        // goes on at the start of a line. Byte 2000 is the last digit of
        // line 181 (11 bytes a line): its end is missed too.
        let at = locate(&log, &start).unwrap();
        assert_eq!(at.missed, 2002);
        assert!(!at.mid_line);
        let mut follower = Follower::new(&log, at.position, false);
        assert_eq!(
            follower.read_new().unwrap()[..2],
            ["line 00182", "line 00183"]
        );
        // Every cursor in between reads from exactly its byte.
        let mid = Cursor::new(end.log.clone(), 11 * 250);
        let at = locate(&log, &mid).unwrap();
        assert_eq!(at.missed, 0);
        let mut follower = Follower::new(&log, at.position, false);
        assert_eq!(follower.read_new().unwrap()[0], "line 00250");
        assert_eq!(cursor_at(&log, &at.position).unwrap(), mid);
        // Past the end, or of another log: refused.
        let past = Cursor::new(end.log.clone(), 4000);
        assert!(locate(&log, &past).is_err());
        let unknown: Cursor = "00000000:5".parse().unwrap();
        let why = locate(&log, &unknown).unwrap_err().to_string();
        assert!(why.contains("not a cursor of p's log"), "{why}");
        // Another name's cursor says whose it is.
        let other = dir.path().join("q.log");
        sink(&lines(0, 10)[..], &other, limits).unwrap();
        let theirs = end_cursor(&other).unwrap();
        let why = locate(&log, &theirs).unwrap_err().to_string();
        assert!(why.contains("a cursor of q's output, not of p's"), "{why}");
        assert!(!why.contains("started anew"), "{why}");
    }

    #[test]
    fn cursors_read_back() {
        let c: Cursor = "9f3a1c2e:10234".parse().unwrap();
        assert_eq!(c.to_string(), "9f3a1c2e:10234");
        let c: Cursor = "9f3a1c2e:10234~".parse().unwrap();
        assert!(c.mid_line);
        assert_eq!(c.to_string(), "9f3a1c2e:10234~");
        for bad in ["", "10234", "x:1", ":1", "ab:", "ab:-1", "ab:~", "ab:1~~"] {
            assert!(bad.parse::<Cursor>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_cursor_typed_in_uppercase_is_the_same_cursor() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("p.log");
        let limits = Limits {
            max_bytes: 1000,
            keep: 1,
        };
        sink(&lines(0, 10)[..], &log, limits).unwrap();
        let end = end_cursor(&log).unwrap();
        let upper: Cursor = format!("{}:{}", end.log.to_ascii_uppercase(), end.offset)
            .parse()
            .unwrap();
        assert_eq!(upper, end);
        assert_eq!(locate(&log, &upper).unwrap().missed, 0);
    }

    #[test]
    fn limits_keep_at_most_63_rotated_files() {
        let limits = |keep| Limits {
            max_bytes: 1000,
            keep,
        };
        assert!(limits(63).check().is_ok());
        assert!(limits(64).check().unwrap_err().contains("at most 63"));
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("p.log");
        let err = sink(&lines(0, 10)[..], &log, limits(64)).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    }
}
