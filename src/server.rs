//! Finding, checking and starting tmux servers.
//!
//! - Socket paths follow tmux's own rules (`-S PATH`, `-L LABEL` under
//!   `$TMUX_TMPDIR` or `/tmp` in `tmux-UID/`, `$TMUX`), plus tmux-wire's
//!   dedicated default: `$TMUX_WIRE_SOCKET`, else
//!   `${TMUX_TMPDIR:-/tmp}/tmux-wire-UID/default`.
//! - A socket directory we create is made 0700. Like tmux, a directory that is
//!   not a real directory owned by us, or that gives any permission to
//!   others, is refused.
//! - [`socket_state`] tells apart no socket, a stale socket, permission denied
//!   and a live server; [`remove_stale_socket`] removes a socket only after
//!   checking that nothing listens on it.
//! - [`start_server`] executes the tmux binary once, daemonised by tmux
//!   itself, when no server listens.
//! - These block (a connect, a child process); async code calls their
//!   `_async` forms, which run them on tokio's blocking pool.

use std::ffi::OsString;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use thiserror::Error;

/// Longest socket path the platform accepts (`sun_path` less its NUL).
#[cfg(any(target_os = "linux", target_os = "android"))]
pub const MAX_SOCKET_PATH: usize = 107;
/// Longest socket path the platform accepts (`sun_path` less its NUL).
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub const MAX_SOCKET_PATH: usize = 103;

/// Errors of the server layer.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The socket directory is not safe to use.
    #[error("socket directory {} is unsafe: {reason}", path.display())]
    UnsafeDirectory {
        /// The directory.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The socket directory could not be created or read.
    #[error("cannot use socket directory {}: {source}", path.display())]
    Directory {
        /// The directory.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// The socket path does not fit `sun_path`.
    #[error("socket path {} is {len} bytes, longer than the {max} a Unix socket path may have", path.display())]
    PathTooLong {
        /// The path.
        path: PathBuf,
        /// Its length in bytes.
        len: usize,
        /// The platform limit.
        max: usize,
    },
    /// No server: the socket file does not exist.
    #[error("no tmux server is running on {} (no socket file)", path.display())]
    NotRunning {
        /// The socket path.
        path: PathBuf,
    },
    /// The socket's directory does not exist.
    #[error("no tmux server is running on {}: its directory {} does not exist", path.display(), path.parent().unwrap_or(Path::new("")).display())]
    NoDirectory {
        /// The socket path.
        path: PathBuf,
    },
    /// Something that is not a socket is at the socket path.
    #[error("{} is not a socket (it is {kind}); refusing to use or remove it", path.display())]
    NotASocket {
        /// The path.
        path: PathBuf,
        /// What it is.
        kind: &'static str,
    },
    /// The socket file exists but nothing listens on it.
    #[error("stale socket {}: no server listens on it (it can be removed)", path.display())]
    Stale {
        /// The socket path.
        path: PathBuf,
    },
    /// The socket belongs to someone else.
    #[error("permission denied connecting to {}", path.display())]
    PermissionDenied {
        /// The socket path.
        path: PathBuf,
    },
    /// Something else went wrong with the socket.
    #[error("cannot connect to {}: {source}", path.display())]
    Connect {
        /// The socket path.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// The tmux binary could not be executed.
    #[error("cannot run tmux ({}): {source}; install tmux or set $TMUX_WIRE_TMUX", program.display())]
    TmuxNotFound {
        /// The program that was tried.
        program: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// tmux ran but failed to start a server.
    #[error("starting a tmux server on {} failed ({status}): {stderr}", path.display())]
    StartFailed {
        /// The socket path.
        path: PathBuf,
        /// How tmux exited.
        status: std::process::ExitStatus,
        /// What it printed.
        stderr: String,
    },
}

/// How a socket path is chosen.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SocketSpec {
    /// tmux-wire's dedicated default socket (see the module docs).
    #[default]
    WireDefault,
    /// tmux's own default: the first field of `$TMUX` if set, else the
    /// `default` label.
    TmuxDefault,
    /// `-L LABEL`: `DIR/tmux-UID/LABEL`.
    Label(String),
    /// `-S PATH`: used as given.
    Path(PathBuf),
}

impl SocketSpec {
    /// The socket path for this spec, creating and checking its directory
    /// where tmux would (labels and the dedicated default).
    pub fn resolve(&self) -> Result<PathBuf, ServerError> {
        let path = match self {
            SocketSpec::Path(p) => p.clone(),
            SocketSpec::Label(label) => label_path(label)?,
            SocketSpec::TmuxDefault => match std::env::var_os("TMUX").filter(|v| !v.is_empty()) {
                Some(tmux) => PathBuf::from(first_field(&tmux)),
                None => label_path("default")?,
            },
            SocketSpec::WireDefault => wire_default_path()?,
        };
        check_path_len(&path)?;
        Ok(path)
    }
}

/// `socket_path` out of `$TMUX` = `socket_path,server_pid,session_index`.
fn first_field(tmux: &std::ffi::OsStr) -> OsString {
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    let bytes = tmux.as_bytes();
    let end = bytes.iter().position(|&b| b == b',').unwrap_or(bytes.len());
    OsString::from_vec(bytes[..end].to_vec())
}

/// The directory tmux puts per-user socket directories in: the first of
/// `$TMUX_TMPDIR` and `/tmp` that exists, resolved with `realpath`.
pub fn tmpdir() -> Result<PathBuf, ServerError> {
    let candidates = std::env::var_os("TMUX_TMPDIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .into_iter()
        .chain(std::iter::once(PathBuf::from("/tmp")));
    let mut last_error = None;
    for dir in candidates {
        match std::fs::canonicalize(&dir) {
            Ok(real) => return Ok(real),
            Err(e) => last_error = Some((dir, e)),
        }
    }
    let (path, source) = last_error.expect("/tmp is always a candidate");
    Err(ServerError::Directory { path, source })
}

fn uid() -> u32 {
    rustix::process::getuid().as_raw()
}

/// `DIR/tmux-UID/LABEL`, with `tmux-UID` created and checked as tmux does.
pub fn label_path(label: &str) -> Result<PathBuf, ServerError> {
    let dir = tmpdir()?.join(format!("tmux-{}", uid()));
    ensure_private_dir(&dir)?;
    Ok(dir.join(label))
}

/// `$TMUX_WIRE_SOCKET`, else `${TMUX_TMPDIR:-/tmp}/tmux-wire-UID/default`
/// (directory created and checked).
pub fn wire_default_path() -> Result<PathBuf, ServerError> {
    if let Some(path) = std::env::var_os("TMUX_WIRE_SOCKET").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    Ok(wire_dir()?.join("default"))
}

/// tmux-wire's own per-user directory, `${TMUX_TMPDIR:-/tmp}/tmux-wire-UID`
/// (created and checked as [`ensure_private_dir`] does).
pub fn wire_dir() -> Result<PathBuf, ServerError> {
    let dir = tmpdir()?.join(format!("tmux-wire-{}", uid()));
    ensure_private_dir(&dir)?;
    Ok(dir)
}

/// Create `dir` with mode 0700 if it is missing, then refuse it unless it is
/// a directory (not a symlink) owned by us that gives no permission to
/// others. Group permissions are allowed, as tmux allows them.
pub fn ensure_private_dir(dir: &Path) -> Result<(), ServerError> {
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(source) => {
            return Err(ServerError::Directory {
                path: dir.to_path_buf(),
                source,
            })
        }
    }
    check_private_dir(dir)
}

/// The checks of [`ensure_private_dir`] on a directory that exists: a
/// directory (not a symlink) owned by us that gives no permission to
/// others.
pub fn check_private_dir(dir: &Path) -> Result<(), ServerError> {
    let meta = std::fs::symlink_metadata(dir).map_err(|source| ServerError::Directory {
        path: dir.to_path_buf(),
        source,
    })?;
    let unsafe_dir = |reason: String| {
        Err(ServerError::UnsafeDirectory {
            path: dir.to_path_buf(),
            reason,
        })
    };
    if meta.file_type().is_symlink() {
        return unsafe_dir("it is a symbolic link".into());
    }
    if !meta.is_dir() {
        return unsafe_dir("it is not a directory".into());
    }
    if meta.uid() != uid() {
        return unsafe_dir(format!(
            "it is owned by uid {}, not by us (uid {})",
            meta.uid(),
            uid()
        ));
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o007 != 0 {
        return unsafe_dir(format!(
            "its mode {mode:03o} gives permissions to others (fix: chmod o-rwx)"
        ));
    }
    Ok(())
}

/// Refuse a path that does not fit a Unix socket address.
pub fn check_path_len(path: &Path) -> Result<(), ServerError> {
    use std::os::unix::ffi::OsStrExt;
    let len = path.as_os_str().as_bytes().len();
    if len > MAX_SOCKET_PATH {
        return Err(ServerError::PathTooLong {
            path: path.to_path_buf(),
            len,
            max: MAX_SOCKET_PATH,
        });
    }
    Ok(())
}

/// What is at a socket path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SocketState {
    /// No file (ENOENT).
    Missing,
    /// Something that is not a socket (a regular file, a directory, ...).
    NotASocket(&'static str),
    /// A file nobody listens on (ECONNREFUSED).
    Stale,
    /// Not ours to connect to (EACCES).
    PermissionDenied,
    /// A server accepted a connection.
    Alive,
}

/// Connect once to find out what is at `path`. The connection is closed at
/// once; a live tmux server just sees a client that left.
pub fn socket_state(path: &Path) -> Result<SocketState, ServerError> {
    use std::os::unix::fs::FileTypeExt;
    check_path_len(path)?;
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        let kind = meta.file_type();
        let what = if kind.is_socket() {
            None
        } else if kind.is_symlink() {
            Some("a symbolic link")
        } else if kind.is_dir() {
            Some("a directory")
        } else if kind.is_file() {
            Some("a regular file")
        } else {
            Some("a special file")
        };
        if let Some(what) = what {
            return Ok(SocketState::NotASocket(what));
        }
    }
    match UnixStream::connect(path) {
        Ok(_) => Ok(SocketState::Alive),
        Err(e) => match rustix::io::Errno::from_io_error(&e) {
            Some(rustix::io::Errno::NOENT) => Ok(SocketState::Missing),
            Some(rustix::io::Errno::CONNREFUSED) => Ok(SocketState::Stale),
            Some(rustix::io::Errno::ACCESS | rustix::io::Errno::PERM) => {
                Ok(SocketState::PermissionDenied)
            }
            _ => Err(ServerError::Connect {
                path: path.to_path_buf(),
                source: e,
            }),
        },
    }
}

/// [`socket_state`] for async callers: run on tokio's blocking pool (the
/// connect blocks while the server's listen queue is full, and the look at
/// the file is a system call too).
pub async fn socket_state_async(path: &Path) -> Result<SocketState, ServerError> {
    let path = path.to_path_buf();
    crate::blocking::off_runtime(move || socket_state(&path)).await
}

/// Why connecting to `path` failed: no server, a stale socket, permission
/// denied (as [`socket_state`] tells them apart), or the OS error itself.
pub fn connect_failure(path: &Path, source: io::Error) -> ServerError {
    match socket_state(path)
        .ok()
        .and_then(|state| state_error(path, state))
    {
        Some(err) => err,
        None => ServerError::Connect {
            path: path.to_path_buf(),
            source,
        },
    }
}

/// The error to report for a socket that is not [`SocketState::Alive`].
pub fn state_error(path: &Path, state: SocketState) -> Option<ServerError> {
    let path = path.to_path_buf();
    match state {
        SocketState::Alive => None,
        SocketState::Missing
            if path
                .parent()
                .is_some_and(|d| !d.as_os_str().is_empty() && !d.exists()) =>
        {
            Some(ServerError::NoDirectory { path })
        }
        SocketState::Missing => Some(ServerError::NotRunning { path }),
        SocketState::NotASocket(kind) => Some(ServerError::NotASocket { path, kind }),
        SocketState::Stale => Some(ServerError::Stale { path }),
        SocketState::PermissionDenied => Some(ServerError::PermissionDenied { path }),
    }
}

/// Remove the socket at `path` if, and only if, nothing listens on it.
/// Returns whether a file was removed.
pub fn remove_stale_socket(path: &Path) -> Result<bool, ServerError> {
    match socket_state(path)? {
        SocketState::Stale => match std::fs::remove_file(path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(source) => Err(ServerError::Connect {
                path: path.to_path_buf(),
                source,
            }),
        },
        SocketState::Missing | SocketState::Alive => Ok(false),
        SocketState::NotASocket(kind) => Err(ServerError::NotASocket {
            path: path.to_path_buf(),
            kind,
        }),
        SocketState::PermissionDenied => Err(ServerError::PermissionDenied {
            path: path.to_path_buf(),
        }),
    }
}

/// How to start a server.
#[derive(Debug, Clone, Default)]
pub struct StartOptions {
    /// The tmux binary: this, else `$TMUX_WIRE_TMUX`, else `tmux` on `PATH`.
    pub tmux: Option<PathBuf>,
    /// Configuration file; `None` starts with none (`-f /dev/null`).
    pub config: Option<PathBuf>,
}

impl StartOptions {
    /// The tmux program these options name.
    pub fn program(&self) -> PathBuf {
        self.tmux
            .clone()
            .or_else(|| {
                std::env::var_os("TMUX_WIRE_TMUX")
                    .filter(|v| !v.is_empty())
                    .map(PathBuf::from)
            })
            .unwrap_or_else(|| PathBuf::from("tmux"))
    }
}

/// Make sure a server listens on `path`, starting one if none does.
///
/// The tmux binary runs once, as `tmux -S PATH -f CONFIG start-server ;
/// set-option -g exit-empty off`: tmux forks and daemonises the server
/// itself (it belongs to no caller's process group), and `exit-empty off`
/// keeps it up with no session. tmux serialises concurrent starts on the
/// same socket with its own lock (`PATH.lock`), so racing callers end with
/// one server; a stale socket file is left to tmux too, which removes it
/// under that lock. (Removing it here would race with a server another
/// caller is starting: between its `bind` and its `listen`, a connect is
/// refused as by a stale socket, and its socket file would be taken from
/// under it.) Returns whether this call started the server.
pub fn start_server(path: &Path, opts: &StartOptions) -> Result<bool, ServerError> {
    match socket_state(path)? {
        SocketState::Alive => return Ok(false),
        SocketState::PermissionDenied => {
            return Err(ServerError::PermissionDenied {
                path: path.to_path_buf(),
            })
        }
        SocketState::NotASocket(kind) => {
            return Err(ServerError::NotASocket {
                path: path.to_path_buf(),
                kind,
            })
        }
        SocketState::Stale | SocketState::Missing => {}
    }
    let program = opts.program();
    let config = opts
        .config
        .clone()
        .unwrap_or_else(|| PathBuf::from("/dev/null"));
    let output = Command::new(&program)
        .arg("-S")
        .arg(path)
        .arg("-f")
        .arg(&config)
        .args(["start-server", ";", "set-option", "-g", "exit-empty", "off"])
        .env_remove("TMUX")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|source| ServerError::TmuxNotFound {
            program: program.clone(),
            source,
        })?;
    if !output.status.success() {
        return Err(ServerError::StartFailed {
            path: path.to_path_buf(),
            status: output.status,
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        });
    }
    Ok(true)
}

/// [`start_server`] for async callers: run on tokio's blocking pool (it
/// waits for the tmux binary, which daemonises the server and exits).
pub async fn start_server_async(path: &Path, opts: &StartOptions) -> Result<bool, ServerError> {
    let (path, opts) = (path.to_path_buf(), opts.clone());
    crate::blocking::off_runtime(move || start_server(&path, &opts)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tmux_env_first_field() {
        assert_eq!(
            first_field("/tmp/tmux-0/default,123,0".as_ref()),
            OsString::from("/tmp/tmux-0/default")
        );
        assert_eq!(first_field("/x".as_ref()), OsString::from("/x"));
    }

    #[test]
    fn long_paths_are_refused() {
        let long = PathBuf::from(format!("/tmp/{}", "x".repeat(200)));
        assert!(matches!(
            check_path_len(&long),
            Err(ServerError::PathTooLong { len: 205, .. })
        ));
        assert!(matches!(
            socket_state(&long),
            Err(ServerError::PathTooLong { .. })
        ));
        assert!(check_path_len(Path::new("/tmp/tmux-0/default")).is_ok());
    }

    #[test]
    fn private_dir_rules() {
        let base = tempfile::tempdir().unwrap();
        let dir = base.path().join("sock-dir");
        ensure_private_dir(&dir).unwrap();
        assert_eq!(
            std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
        // Group access is allowed, like tmux.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o770)).unwrap();
        ensure_private_dir(&dir).unwrap();
        // Any access for others is refused.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o701)).unwrap();
        let err = ensure_private_dir(&dir).unwrap_err();
        assert!(
            err.to_string().contains("gives permissions to others"),
            "{err}"
        );
        // A symlink to a good directory is refused.
        let good = base.path().join("good");
        ensure_private_dir(&good).unwrap();
        let link = base.path().join("link");
        std::os::unix::fs::symlink(&good, &link).unwrap();
        assert!(ensure_private_dir(&link)
            .unwrap_err()
            .to_string()
            .contains("symbolic link"));
        // A file is refused.
        let file = base.path().join("file");
        std::fs::write(&file, b"").unwrap();
        assert!(ensure_private_dir(&file)
            .unwrap_err()
            .to_string()
            .contains("not a directory"));
    }

    #[test]
    fn states_of_a_socket_path() {
        let base = tempfile::tempdir().unwrap();
        let path = base.path().join("sock");
        assert_eq!(socket_state(&path).unwrap(), SocketState::Missing);
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        assert_eq!(socket_state(&path).unwrap(), SocketState::Alive);
        assert!(
            !remove_stale_socket(&path).unwrap(),
            "a live socket is never removed"
        );
        drop(listener); // the file stays, nobody listens
        assert_eq!(socket_state(&path).unwrap(), SocketState::Stale);
        assert!(remove_stale_socket(&path).unwrap());
        assert!(!path.exists());
        assert!(!remove_stale_socket(&path).unwrap());
    }
}
