//! Following a log from a position, across rotations, saying what a
//! reader that fell behind missed.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use super::read::{Render, RenderedLine};
use super::{cursor_at, index, open_read, rotated, Cursor, FileId, Position, MAX_KEEP};

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
        self.read_new_as()
    }

    /// [`Follower::read_new`] as text or as bytes (raw lines exactly as
    /// written).
    pub(crate) fn read_new_as<L: RenderedLine>(&mut self) -> io::Result<Vec<L>> {
        self.read()?;
        Ok(L::push(&mut self.render, &self.buf[..self.filled]))
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
    #[cfg(test)]
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

    /// [`Follower::rest`] as text or as bytes.
    pub(crate) fn rest_as<L: RenderedLine>(&mut self) -> Option<L> {
        L::finish(&mut self.render)
    }
}

#[cfg(test)]
mod tests {
    use super::super::writer::rotate;
    use super::*;
    use crate::keeper::log::*;

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
}
