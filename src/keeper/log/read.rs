//! Reading a log at once: its last lines, a page of it, and lines as a
//! person reads them or as the process wrote them.

use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::{open_read, rotated, FileId, Position, MAX_KEEP, READ_CHUNK};
use crate::text::Lines;

/// The last `n` lines of the log at `path` (reading into rotated files if
/// the current one is short), and where a [`Follower`](super::Follower) goes on. Without
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
    let upto = if whole_lines { Upto::Whole } else { Upto::All };
    tail_as(path, n, raw, upto)
}

/// [`tail`] with the last line not ended yet included (as without
/// `whole_lines`), and the position where a reader of whole lines goes on
/// (as with it): the start of that line, or the end of the log. One read
/// gives both, so no line written in between is in neither.
#[cfg(test)]
pub fn tail_to_whole_end(path: &Path, n: usize, raw: bool) -> io::Result<(Vec<String>, Position)> {
    tail_as(path, n, raw, Upto::AllToWholeEnd)
}

/// [`tail_to_whole_end`] as text or as bytes (raw lines as written).
pub(crate) fn tail_to_whole_end_as<L: RenderedLine>(
    path: &Path,
    n: usize,
    raw: bool,
) -> io::Result<(Vec<L>, Position)> {
    tail_as(path, n, raw, Upto::AllToWholeEnd)
}

/// Which lines a tail returns, and where its position is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Upto {
    /// Whole lines; the position after the last of them.
    Whole,
    /// With a last line not ended yet; the end of the log.
    All,
    /// With a last line not ended yet; the position after the last whole
    /// line.
    AllToWholeEnd,
}

/// [`tail`] raw, each line the bytes as the process wrote them (only the
/// carriage returns before its newline removed): nothing replaced.
pub fn tail_bytes(
    path: &Path,
    n: usize,
    whole_lines: bool,
) -> io::Result<(Vec<Vec<u8>>, Position)> {
    let upto = if whole_lines { Upto::Whole } else { Upto::All };
    tail_as(path, n, true, upto)
}

fn tail_as<L: RenderedLine>(
    path: &Path,
    n: usize,
    raw: bool,
    upto: Upto,
) -> io::Result<(Vec<L>, Position)> {
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
    let mut lines = L::push(&mut render, &data);
    if upto != Upto::All {
        let partial = data.len() - memchr::memrchr(b'\n', &data).map_or(0, |i| i + 1);
        end.offset -= (partial as u64).min(end.offset);
    }
    if upto != Upto::Whole {
        lines.extend(L::finish(&mut render));
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
    page_as(path, offset, limit, raw)
}

/// [`page`] raw, each line the bytes as the process wrote them (only the
/// carriage returns before its newline removed): nothing replaced.
pub fn page_bytes(
    path: &Path,
    offset: Option<usize>,
    limit: usize,
) -> io::Result<(Vec<Vec<u8>>, usize, usize)> {
    page_as(path, offset, limit, true)
}

fn page_as<L: RenderedLine>(
    path: &Path,
    offset: Option<usize>,
    limit: usize,
    raw: bool,
) -> io::Result<(Vec<L>, usize, usize)> {
    let mut files: Vec<PathBuf> = (1..=MAX_KEEP)
        .map(|i| rotated(path, i))
        .take_while(|p| std::fs::symlink_metadata(p).is_ok())
        .collect();
    files.reverse();
    files.push(path.to_path_buf());
    let mut render = Render::new(raw);
    let mut total = 0;
    let mut out = std::collections::VecDeque::new();
    let mut take = |lines: Vec<L>, total: &mut usize| {
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
            take(L::push(&mut render, &buf[..n]), &mut total);
        }
    }
    take(L::finish(&mut render).into_iter().collect(), &mut total);
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

/// `bytes` of a log as raw lines, each the bytes as the process wrote
/// them (only the carriage returns before its newline removed); a last
/// line without its newline is included.
pub fn raw_lines(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut render = Render::new(true);
    let mut lines = render.push_bytes(bytes);
    lines.extend(render.finish_bytes());
    lines
}

/// A line as a reader gets it: text (raw lines that are not UTF-8 with
/// their bad bytes replaced), or bytes (rendered lines as UTF-8, raw ones
/// as they are).
pub(crate) trait RenderedLine: Sized {
    fn push(render: &mut Render, data: &[u8]) -> Vec<Self>;
    fn finish(render: &mut Render) -> Option<Self>;
}

impl RenderedLine for String {
    fn push(render: &mut Render, data: &[u8]) -> Vec<Self> {
        render.push(data)
    }

    fn finish(render: &mut Render) -> Option<Self> {
        render.finish()
    }
}

impl RenderedLine for Vec<u8> {
    fn push(render: &mut Render, data: &[u8]) -> Vec<Self> {
        render.push_bytes(data)
    }

    fn finish(render: &mut Render) -> Option<Self> {
        render.finish_bytes()
    }
}

/// Bytes to lines, rendered or raw.
pub(crate) enum Render {
    Seen(Box<Lines>),
    Raw(Vec<u8>),
}

impl Render {
    pub(super) fn new(raw: bool) -> Render {
        if raw {
            Render::Raw(Vec::new())
        } else {
            Render::Seen(Box::default())
        }
    }

    pub(super) fn push(&mut self, data: &[u8]) -> Vec<String> {
        match self {
            Render::Seen(lines) => lines.push(data),
            Render::Raw(_) => self.push_bytes(data).iter().map(|l| text(l)).collect(),
        }
    }

    /// [`Render::push`] as bytes: raw lines exactly as written.
    fn push_bytes(&mut self, data: &[u8]) -> Vec<Vec<u8>> {
        match self {
            Render::Seen(lines) => lines
                .push(data)
                .into_iter()
                .map(String::into_bytes)
                .collect(),
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

    pub(super) fn current(&self) -> String {
        match self {
            Render::Seen(lines) => lines.current(),
            Render::Raw(partial) => text(&raw_line(partial)),
        }
    }

    pub(super) fn finish(&mut self) -> Option<String> {
        match self {
            Render::Seen(lines) => lines.finish(),
            Render::Raw(_) => self.finish_bytes().map(|l| text(&l)),
        }
    }

    /// [`Render::finish`] as bytes.
    fn finish_bytes(&mut self) -> Option<Vec<u8>> {
        match self {
            Render::Seen(lines) => lines.finish().map(String::into_bytes),
            Render::Raw(partial) => {
                (!partial.is_empty()).then(|| raw_line(&std::mem::take(partial)))
            }
        }
    }
}

/// A line as the process wrote it, without the carriage returns the
/// terminal puts before its newline.
fn raw_line(line: &[u8]) -> Vec<u8> {
    let mut end = line.len();
    while end > 0 && line[end - 1] == b'\r' {
        end -= 1;
    }
    line[..end].to_vec()
}

/// A raw line as text for the readers that take text: bytes that are not
/// UTF-8 replaced (readers that must keep every byte take the lines as
/// bytes: [`tail_bytes`], [`page_bytes`], [`raw_lines`]).
fn text(line: &[u8]) -> String {
    String::from_utf8_lossy(line).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keeper::log::*;

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
        // Both in one read: the unfinished line shown, and the position
        // before it, where a reader of whole lines reads it again, whole.
        open_append(&path).unwrap().write_all(b"half").unwrap();
        let (shown, at) = tail_to_whole_end(&path, 2, false).unwrap();
        assert_eq!(shown, ["last line", "half"]);
        assert_eq!(at, tail(&path, 0, false, true).unwrap().1);
        let mut f = Follower::new(&path, at, false);
        open_append(&path).unwrap().write_all(b" done\n").unwrap();
        assert_eq!(f.read_new().unwrap(), ["half done"]);
    }
}
