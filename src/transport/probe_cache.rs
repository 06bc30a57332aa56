//! The version probe's answer, remembered for other tmux-wire processes.
//!
//! A one-shot call (`tmux-wire ls`, `cmd`, `send`) is a process of its
//! own, so the in-process memory of [`super::direct`] never helps it: each
//! would open a second connection only to ask the server's version. The
//! answer belongs to the server *process* (its binary cannot change while
//! it runs), so it is kept in a file named after that process and trusted
//! only for it:
//!
//! - The key is the boot (`/proc/sys/kernel/random/boot_id`), the pid of
//!   the process listening on the socket (`SO_PEERCRED` of our own
//!   connection), its start time (`/proc/PID/stat` field 22, so a reused
//!   pid is another key), and the socket's path, device and inode. The
//!   file must hold exactly this key, in this order, and then a version of
//!   the characters tmux versions are made of; anything else (an old
//!   format, a forged or damaged file, another server) is not used and
//!   the server is probed again. A wrong layout can crash a tmux 3.5 or
//!   older server, so there is no guessing.
//! - The files live in `${TMUX_TMPDIR:-/tmp}/tmux-wire-UID/probes`: created
//!   0700, and used only while it and its parent are directories (not
//!   symbolic links) owned by us that nobody else may write to. A file is
//!   opened without following a symbolic link and used only if it is a
//!   regular file of ours with one link that nobody else may read or write.
//!   New files are written whole under a temporary name and renamed.
//! - Where any of this cannot be seen (no `/proc`, a server in another pid
//!   namespace, whose pid reads 0) nothing is remembered.
//! - Writing one removes the files of server processes that are gone.
//!
//! Every failure here only means a probe: nothing is reported.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// The first line of a file; a later format gets another.
const FORMAT: &str = "tmux-wire probe 1";
/// Files larger than this are not ours.
const MAX_FILE: u64 = 4096;
/// Longest version string taken from a file.
const MAX_VERSION: usize = 64;

/// One server process, as far as this side can tell it from any other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ServerProcess {
    boot: String,
    pid: i32,
    start: u64,
    socket: PathBuf,
    dev: u64,
    ino: u64,
}

impl ServerProcess {
    /// The process with pid `pid` listening on `socket`; `None` where it
    /// cannot be told apart from others (no `/proc`, pid 0, a socket path
    /// holding a newline).
    pub(super) fn of(socket: &Path, pid: i32) -> Option<ServerProcess> {
        if pid <= 0 || socket.as_os_str().as_bytes().contains(&b'\n') {
            return None;
        }
        let boot = read_small(Path::new("/proc/sys/kernel/random/boot_id"))?;
        let boot = boot.trim();
        if boot.is_empty() || !boot.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') {
            return None;
        }
        let start = crate::os::procfs::start_time(pid)?;
        let meta = std::fs::symlink_metadata(socket).ok()?;
        Some(ServerProcess {
            boot: boot.to_string(),
            pid,
            start,
            socket: socket.to_path_buf(),
            dev: meta.dev(),
            ino: meta.ino(),
        })
    }

    /// The file's name: the process (the rest of the key is inside).
    fn file_name(&self) -> String {
        format!("{}-{}", self.pid, self.start)
    }

    /// The file's contents before the version.
    fn key(&self) -> Vec<u8> {
        let mut key = format!(
            "{FORMAT}\nboot {}\npid {}\nstart {}\ndev {}\nino {}\nsocket ",
            self.boot, self.pid, self.start, self.dev, self.ino
        )
        .into_bytes();
        key.extend_from_slice(self.socket.as_os_str().as_bytes());
        key.extend_from_slice(b"\nversion ");
        key
    }
}

/// A small file, whole, in one read where it fits (files in `/proc` have
/// no size).
fn read_small(path: &Path) -> Option<String> {
    let mut file = File::open(path).ok()?;
    let mut buf = Vec::with_capacity(1024);
    (&mut file).take(MAX_FILE).read_to_end(&mut buf).ok()?;
    String::from_utf8(buf).ok()
}

/// Whether `version` looks like a tmux version (`3.3a`, `next-3.8`,
/// `openbsd-7.4`, `master`).
fn plausible(version: &str) -> bool {
    !version.is_empty()
        && version.len() <= MAX_VERSION
        && version
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'+'))
}

/// The directory of the files, if it is safe to use (see the module docs).
fn directory() -> Option<PathBuf> {
    let parent = crate::server::wire_dir().ok()?;
    let dir = parent.join("probes");
    crate::server::ensure_private_dir(&dir).ok()?;
    // ensure_private_dir allows group permissions, as tmux does for its
    // socket directories; nobody but us may write here.
    let uid = rustix::process::geteuid().as_raw();
    for d in [&parent, &dir] {
        let meta = std::fs::symlink_metadata(d).ok()?;
        if !meta.is_dir() || meta.uid() != uid || meta.mode() & 0o022 != 0 {
            return None;
        }
    }
    Some(dir)
}

/// The version remembered for `server`, if a file of ours holds exactly its
/// key.
pub(super) fn recall(server: &ServerProcess) -> Option<String> {
    recall_in(&directory()?, server)
}

fn recall_in(dir: &Path, server: &ServerProcess) -> Option<String> {
    let path = dir.join(server.file_name());
    let mut file = OpenOptions::new()
        .read(true)
        .custom_flags(crate::os::O_NOFOLLOW | crate::os::O_NONBLOCK)
        .open(path)
        .ok()?;
    let meta = file.metadata().ok()?;
    if !meta.is_file()
        || meta.uid() != rustix::process::geteuid().as_raw()
        || meta.nlink() != 1
        || meta.mode() & 0o077 != 0
        || meta.len() > MAX_FILE
    {
        return None;
    }
    let mut contents = Vec::new();
    (&mut file).take(MAX_FILE).read_to_end(&mut contents).ok()?;
    let version = contents.strip_prefix(server.key().as_slice())?;
    let version = std::str::from_utf8(version.strip_suffix(b"\n")?).ok()?;
    plausible(version).then(|| version.to_string())
}

/// Remember that `server` answered the probe with `version`.
pub(super) fn remember(server: &ServerProcess, version: &str) {
    if let Some(dir) = directory() {
        remember_in(&dir, server, version);
    }
}

fn remember_in(dir: &Path, server: &ServerProcess, version: &str) {
    if !plausible(version) {
        return;
    }
    forget_gone(dir);
    // Ours alone (create_new): a name no other writer uses at this moment.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let temporary = dir.join(format!(
        ".{}.{}.{nanos}.tmp",
        server.file_name(),
        std::process::id()
    ));
    let mut contents = server.key();
    contents.extend_from_slice(version.as_bytes());
    contents.push(b'\n');
    let written = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(crate::os::O_NOFOLLOW)
        .open(&temporary)
        .and_then(|mut f| f.write_all(&contents));
    let renamed = written.and_then(|()| std::fs::rename(&temporary, dir.join(server.file_name())));
    if renamed.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
}

/// Remove the files of server processes that no longer run.
fn forget_gone(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            continue;
        };
        // A temporary file (`.PID-START.WRITER.NANOS.tmp`) left by a
        // writer that died before renaming it.
        if let Some(writer) = name
            .strip_prefix('.')
            .and_then(|n| n.strip_suffix(".tmp"))
            .and_then(|n| n.split('.').nth(1))
            .and_then(|w| w.parse::<i32>().ok())
        {
            if !Path::new(&format!("/proc/{writer}")).exists() {
                let _ = std::fs::remove_file(entry.path());
            }
            continue;
        }
        let Some((pid, start)) = name.split_once('-') else {
            continue;
        };
        let (Ok(pid), Ok(start)) = (pid.parse::<i32>(), start.parse::<u64>()) else {
            continue;
        };
        if crate::os::procfs::start_time(pid) != Some(start) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn this_process(socket: &Path) -> ServerProcess {
        ServerProcess::of(socket, std::process::id() as i32).expect("a Linux /proc")
    }

    #[test]
    fn temporary_files_of_dead_writers_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let dead = dir.path().join(".1-2.999999999.5.tmp");
        let alive = dir
            .path()
            .join(format!(".1-2.{}.5.tmp", std::process::id()));
        std::fs::write(&dead, "x").unwrap();
        std::fs::write(&alive, "x").unwrap();
        forget_gone(dir.path());
        assert!(!dead.exists());
        assert!(alive.exists());
    }

    #[test]
    fn versions_taken_from_a_file() {
        for good in ["3.3a", "next-3.8", "openbsd-7.4", "master", "3.2"] {
            assert!(plausible(good), "{good}");
        }
        for bad in ["", "3.3a\n", "3.3 a", "x".repeat(65).as_str(), "3.3a\0"] {
            assert!(!plausible(bad), "{bad:?}");
        }
    }

    #[test]
    fn the_key_names_the_process_and_the_socket() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("s");
        std::fs::write(&socket, b"").unwrap();
        let me = this_process(&socket);
        let key = String::from_utf8(me.key()).unwrap();
        assert!(key.starts_with("tmux-wire probe 1\nboot "), "{key}");
        assert!(key.contains(&format!("\npid {}\n", std::process::id())));
        assert!(key.ends_with(&format!("socket {}\nversion ", socket.display())));
        // Another pid, start, or socket file is another key.
        let other = std::fs::File::create(dir.path().join("t")).unwrap();
        drop(other);
        assert_ne!(this_process(&dir.path().join("t")).key(), me.key());
        assert!(ServerProcess::of(&socket, 0).is_none());
        assert!(ServerProcess::of(Path::new("/no\nsuch"), 1).is_none());
    }

    #[test]
    fn only_a_file_of_ours_with_exactly_the_key_is_trusted() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("s");
        std::fs::write(&socket, b"").unwrap();
        let me = this_process(&socket);
        let file = dir.path().join(me.file_name());
        assert_eq!(recall_in(dir.path(), &me), None);
        remember_in(dir.path(), &me, "3.3a");
        assert_eq!(recall_in(dir.path(), &me).as_deref(), Some("3.3a"));
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
        remember_in(dir.path(), &me, "3.6a");
        assert_eq!(recall_in(dir.path(), &me).as_deref(), Some("3.6a"));
        // No temporary file is left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
        // Readable by others: not ours alone, not used.
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(recall_in(dir.path(), &me), None);
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        // Another key (a socket file made again), or a damaged version.
        let mut forged = me.key();
        forged.extend_from_slice(b"3.3a\n");
        let other = ServerProcess {
            ino: me.ino + 1,
            ..me.clone()
        };
        std::fs::write(
            &file,
            other
                .key()
                .into_iter()
                .chain(*b"3.3a\n")
                .collect::<Vec<u8>>(),
        )
        .unwrap();
        assert_eq!(recall_in(dir.path(), &me), None);
        for bad in [&b"3.3a"[..], b"3.3a\nx\n", b"\n", b"3 3a\n"] {
            let mut contents = me.key();
            contents.extend_from_slice(bad);
            std::fs::write(&file, contents).unwrap();
            assert_eq!(recall_in(dir.path(), &me), None, "{bad:?}");
        }
        std::fs::write(&file, &forged).unwrap();
        assert_eq!(recall_in(dir.path(), &me).as_deref(), Some("3.3a"));
        // A symbolic link, or a second link, is not followed or used.
        let elsewhere = dir.path().join("elsewhere");
        std::fs::rename(&file, &elsewhere).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &file).unwrap();
        assert_eq!(recall_in(dir.path(), &me), None);
        std::fs::remove_file(&file).unwrap();
        std::fs::hard_link(&elsewhere, &file).unwrap();
        assert_eq!(recall_in(dir.path(), &me), None);
        // The files of processes that are gone are removed on a write.
        std::fs::remove_file(&file).unwrap();
        let gone = dir.path().join("999999999-1");
        std::fs::write(&gone, b"x").unwrap();
        remember_in(dir.path(), &me, "3.3a");
        assert!(!gone.exists());
        assert!(elsewhere.exists(), "other files are left alone");
    }
}
