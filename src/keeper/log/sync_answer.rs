//! The log writer's side of the sync channel (see `log::sync` for the
//! reader's): the FIFO it reads requests from, and the answers.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// The writer's side of the sync channel (see the keeper's `log::sync`): the FIFO
/// readers write requests into, and the answer file it replaces after
/// each sync.
pub struct SyncChannel {
    /// Opened for reading and writing, so it never reads end of file.
    pub(super) fifo: File,
    /// The log.
    log: PathBuf,
    answer: PathBuf,
    /// The last requests served, with what had been received then.
    served: std::collections::VecDeque<(String, u64)>,
    /// Requests seen, answered once the input that was there when they
    /// were seen is read: these bytes more.
    pub(super) pending: Option<(Vec<String>, u64)>,
    /// Input ended while draining.
    pub(super) ended: bool,
    /// Bytes of a request not yet ended by its newline.
    partial: Vec<u8>,
}

/// How many served requests the answer file names.
const SERVED_KEPT: usize = 64;

impl SyncChannel {
    /// Make (0600) or reuse the FIFO of the log at `log`; one that is not
    /// a FIFO, not ours, linked elsewhere or open to others is refused.
    pub fn open(log: &Path) -> io::Result<SyncChannel> {
        use std::os::unix::fs::OpenOptionsExt;
        let path = super::sync::fifo_path(log);
        super::make_fifo_if_missing(&path)?;
        let fifo = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(crate::os::O_NOFOLLOW | crate::os::O_NONBLOCK)
            .open(&path)
            .map_err(|e| super::refused_link(&path, e))?;
        super::check_ours_as(
            &path,
            &fifo,
            "a sync channel",
            ("a FIFO", |t| {
                use std::os::unix::fs::FileTypeExt;
                t.is_fifo()
            }),
        )?;
        let channel = SyncChannel {
            fifo,
            log: log.to_path_buf(),
            answer: super::sync::answer_path(log),
            served: Default::default(),
            pending: None,
            ended: false,
            partial: Vec::new(),
        };
        // The answer file with no answer yet says it listens: readers
        // wait for a writer until then (see `log::sync`). One that cannot
        // be written (a full disk) leaves the reply FIFOs, which answer
        // all the same; the next answer writes it again.
        if let Err(e) = channel.write_answers() {
            ::log::warn!("the sync answer file of {}: {e}", log.display());
        }
        Ok(channel)
    }

    /// The requests in the FIFO now (a request is a line of 16 hex
    /// digits; anything else is dropped).
    pub(super) fn take_requests(&mut self) -> Vec<String> {
        let mut buf = [0u8; 4096];
        loop {
            match (&self.fifo).read(&mut buf) {
                Ok(0) => break,
                Ok(n) => self.partial.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        let Some(end) = memchr::memrchr(b'\n', &self.partial) else {
            if self.partial.len() > 64 {
                self.partial.clear();
            }
            return Vec::new();
        };
        let lines: Vec<u8> = self.partial.drain(..=end).collect();
        lines
            .split(|&b| b == b'\n')
            .filter(|l| l.len() == 16 && l.iter().all(u8::is_ascii_hexdigit))
            .map(|l| String::from_utf8_lossy(l).into_owned())
            .collect()
    }

    /// Say that `requests` are served, `received` bytes of input being in
    /// the log (or counted as lost): replace the answer file.
    pub(super) fn answer(&mut self, requests: Vec<String>, received: u64) -> io::Result<()> {
        for request in &requests {
            self.reply(request, received);
        }
        for request in requests {
            if self.served.len() == SERVED_KEPT {
                self.served.pop_front();
            }
            self.served.push_back((request, received));
        }
        self.write_answers()
    }

    /// Replace the answer file: the header, then the requests served.
    fn write_answers(&self) -> io::Result<()> {
        let mut text = format!("{} {}\n", super::sync::ANSWER_HEADER, std::process::id());
        for (request, received) in &self.served {
            text.push_str(&format!("{request} {received}\n"));
        }
        let mut temp = self.answer.as_os_str().to_owned();
        temp.push(".new");
        let temp = PathBuf::from(temp);
        std::fs::remove_file(&temp).or_else(super::ignore_missing)?;
        use std::os::unix::fs::OpenOptionsExt;
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(crate::os::O_NOFOLLOW)
            .open(&temp)?;
        file.write_all(text.as_bytes())?;
        drop(file);
        std::fs::rename(&temp, &self.answer)
    }

    /// Answer `request` in its reader's FIFO, if the reader made one and
    /// still holds it open (a reader of a tmux-wire before the reply FIFOs
    /// reads the answer file only; one that is gone left nobody to tell).
    fn reply(&self, request: &str, received: u64) {
        let path = super::sync::reply_path(&self.log, request);
        let Ok(mut fifo) = super::open_fifo_to_write(&path) else {
            return;
        };
        let fifo_kind = ("a FIFO", is_fifo as fn(&std::fs::FileType) -> bool);
        if let Err(e) = super::check_ours_as(&path, &fifo, "a sync reply", fifo_kind) {
            ::log::warn!("{e}");
            return;
        }
        let answer = format!(
            "{} {}\n{request} {received}\n",
            super::sync::ANSWER_HEADER,
            std::process::id()
        );
        // Short, into an empty pipe: written whole, never blocking.
        if let Err(e) = fifo.write_all(answer.as_bytes()) {
            ::log::debug!("sync reply {}: {e}", path.display());
        }
    }
}

fn is_fifo(t: &std::fs::FileType) -> bool {
    use std::os::unix::fs::FileTypeExt;
    t.is_fifo()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn requests_are_read_whole_and_answers_name_them() {
        use super::super::sync::{answer_path, fifo_path, sync, Synced};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.log");
        let mut channel = SyncChannel::open(&path).unwrap();
        let mut fifo = OpenOptions::new()
            .write(true)
            .open(fifo_path(&path))
            .unwrap();
        // A request, something that is not one, and half of the next.
        fifo.write_all(b"0123456789abcdef\nnot a request\n0000")
            .unwrap();
        assert_eq!(channel.take_requests(), ["0123456789abcdef"]);
        fifo.write_all(b"000000000001\n").unwrap();
        assert_eq!(channel.take_requests(), ["0000000000000001"]);
        channel.answer(vec!["0123456789abcdef".into()], 8).unwrap();
        let answer = std::fs::read_to_string(answer_path(&path)).unwrap();
        assert!(answer.ends_with("0123456789abcdef 8\n"), "{answer}");
        // A FIFO nobody reads (an older writer's, or a writer gone): no
        // channel, so readers fall back to a quiet window.
        drop(channel);
        drop(fifo);
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
        assert!(matches!(sync(&path, deadline).await, Synced::NoChannel));
    }

    #[test]
    fn a_sync_channel_that_is_not_ours_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.log");
        // A regular file where the FIFO belongs.
        std::fs::write(super::super::sync::fifo_path(&path), "").unwrap();
        let err = SyncChannel::open(&path).err().unwrap();
        assert!(err.to_string().contains("not a FIFO"), "{err}");
        std::fs::remove_file(super::super::sync::fifo_path(&path)).unwrap();
        // A link to one.
        let other = dir.path().join("other");
        rustix::fs::mkfifoat(rustix::fs::CWD, &other, rustix::fs::Mode::RWXU).unwrap();
        std::os::unix::fs::symlink(&other, super::super::sync::fifo_path(&path)).unwrap();
        let err = SyncChannel::open(&path).err().unwrap();
        assert!(err.to_string().contains("symbolic link"), "{err}");
    }
}
