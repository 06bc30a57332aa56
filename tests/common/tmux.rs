//! A real tmux server on a private socket in a temporary directory, one per
//! test, killed and removed on drop; and a `tmux -C` control client on it
//! whose stream is decoded by our own assembler.

#![allow(dead_code)]

use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;
use tmux_wire::protocol::{Assembler, Event, Reply};

/// The tmux the live tests run against: `$TMUX_WIRE_TEST_TMUX`, else
/// `tmux` on `PATH`. Every test that talks to a live server starts it (and
/// tells the code under test to use it) through this.
pub fn program() -> PathBuf {
    std::env::var_os("TMUX_WIRE_TEST_TMUX")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("tmux"))
}

/// A [`Command`] running [`program`], outside any tmux of the caller's.
pub fn command() -> Command {
    let mut command = Command::new(program());
    command.env_remove("TMUX");
    command
}

/// The version of [`program`] (`3.3a`, `next-3.8`), from `tmux -V`.
pub fn version() -> &'static str {
    static VERSION: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    VERSION.get_or_init(|| {
        let out = command()
            .arg("-V")
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", program().display()));
        // `tmux 3.3a`; before 3.3 the program's own name comes first.
        let text = String::from_utf8_lossy(&out.stdout);
        text.split_whitespace()
            .last()
            .unwrap_or_default()
            .to_string()
    })
}

/// Whether the tmux under test is `major.minor` or newer. When it is not,
/// the calling test is skipped, and says so on the terminal (past the test
/// harness's capture, so a skip is never silent): name, version, reason.
///
/// With [`STRICT_SKIPS`] set (CI sets it), a skip that
/// [`DECLARED_UNSUPPORTED`] does not declare fails the test instead: a
/// suite that ran nothing on a version it should run on must not pass.
pub fn supports(major: u32, minor: u32, why: &str) -> bool {
    if tmux_wire::protocol::version_at_least(version(), major, minor) {
        return true;
    }
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("a test");
    if strict_skips() && !declared_unsupported(version(), why) {
        panic!(
            "{test} would be skipped on tmux {:?} (needs tmux {major}.{minor}: {why}), \
             but that version is not declared unsupported for that \
             (tests/common/tmux.rs, DECLARED_UNSUPPORTED; {STRICT_SKIPS} is set)",
            version()
        );
    }
    let line = format!(
        "SKIPPED {test} on tmux {}: needs tmux {major}.{minor} ({why})\n",
        version()
    );
    let _ = std::io::stderr().write_all(line.as_bytes());
    false
}

/// The environment variable that turns a skip on a version not declared
/// unsupported into a failure (any non-empty value).
pub const STRICT_SKIPS: &str = "TMUX_WIRE_TEST_STRICT_SKIPS";

/// The tmux versions the live suites are known not to run on, each with
/// what it lacks (the `why` of `require_tmux!`): a test skipped on one of
/// these for one of these reasons is an expected skip. 3.1c (Debian 11)
/// has no `attach-session -f` and no `pause-after`: neither the direct
/// transport nor the keeper runs there; only the process transport and
/// one-shot commands do.
pub const DECLARED_UNSUPPORTED: &[(&str, &[&str])] = &[("3.1c", &[ATTACH_NEEDS, KEEPER_NEEDS])];

fn strict_skips() -> bool {
    std::env::var_os(STRICT_SKIPS).is_some_and(|v| !v.is_empty())
}

/// Whether `version` is declared unsupported for `why`.
pub fn declared_unsupported(version: &str, why: &str) -> bool {
    DECLARED_UNSUPPORTED
        .iter()
        .any(|(v, reasons)| *v == version && reasons.contains(&why))
}

/// Skip the calling test, saying why, unless the tmux under test is at
/// least `major.minor`.
#[macro_export]
macro_rules! require_tmux {
    ($major:expr, $minor:expr, $why:expr) => {
        if !$crate::common::tmux::supports($major, $minor, $why) {
            return;
        }
    };
}

/// What the direct transport and every attaching client need.
pub const ATTACH_NEEDS: &str = "the direct transport and attach-session -f";
/// What the keeper needs (it attaches, and waits on pane output).
pub const KEEPER_NEEDS: &str = "the keeper";

pub struct TmuxServer {
    dir: tempfile::TempDir,
    socket: PathBuf,
}

impl TmuxServer {
    /// Start a server with one detached session `t`, empty config.
    pub fn start() -> TmuxServer {
        let dir = tempfile::Builder::new()
            .prefix("tmux-wire-test")
            .tempdir()
            .expect("temp dir");
        let socket = dir.path().join("sock");
        // Panes run a plain, non-login /bin/sh: the user's login shell and
        // its profile (pyenv, prompts, ...) are not ours to depend on, and a
        // profile left waiting on a lock would hang every test.
        let config = dir.path().join("tmux.conf");
        std::fs::write(
            &config,
            "set -g default-shell /bin/sh\nset -g default-command /bin/sh\n",
        )
        .unwrap();
        let status = command()
            .arg("-S")
            .arg(&socket)
            .arg("-f")
            .arg(&config)
            .args(["new-session", "-d", "-s", "t", "-x", "120", "-y", "40"])
            .env_remove("TMUX")
            .env_remove("ENV")
            .status()
            .expect("tmux must be installed to run the integration tests");
        assert!(status.success(), "starting tmux failed: {status}");
        TmuxServer { dir, socket }
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A `tmux -C attach -t t` child whose output we decode.
    pub fn control_client(&self) -> ControlClient {
        let child = command()
            .arg("-S")
            .arg(&self.socket)
            .args(["-C", "attach", "-t", "t"])
            .env_remove("TMUX")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn tmux -C");
        let mut c = ControlClient::new(child);
        // The attach block (flags 0) comes first.
        let attach = c.next_reply_with_flags(0);
        assert!(attach.ok, "attach failed: {:?}", attach.output());
        c
    }
}

impl Drop for TmuxServer {
    fn drop(&mut self) {
        let _ = command()
            .arg("-S")
            .arg(&self.socket)
            .arg("kill-server")
            .stderr(Stdio::null())
            .status();
    }
}

/// How long a test waits for tmux before failing (never hanging).
const REPLY_TIMEOUT: Duration = Duration::from_secs(20);

pub struct ControlClient {
    child: Child,
    stdin: Option<BufWriter<ChildStdin>>,
    /// Chunks read from tmux's stdout by a thread; closed at EOF.
    output: mpsc::Receiver<Vec<u8>>,
    asm: Assembler,
    sync: u64,
}

impl ControlClient {
    fn new(mut child: Child) -> ControlClient {
        let stdin = BufWriter::new(child.stdin.take().unwrap());
        let mut stdout: ChildStdout = child.stdout.take().unwrap();
        let (tx, output) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 65536];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        ControlClient {
            child,
            stdin: Some(stdin),
            output,
            asm: Assembler::new(),
            sync: 0,
        }
    }

    /// Write raw input (one or more `\n`-terminated lines).
    pub fn send_raw(&mut self, line: &str) {
        let w = self.stdin.as_mut().expect("client open");
        w.write_all(line.as_bytes()).unwrap();
        w.flush().unwrap();
    }

    /// Send a line and return the next `flags=1` reply.
    pub fn run_line(&mut self, line: &str) -> Reply {
        self.send_raw(line);
        self.next_reply_with_flags(1)
    }

    /// The next reply with these flags; notifications are skipped. Fails the
    /// test if tmux sends nothing for [`REPLY_TIMEOUT`] or closes.
    pub fn next_reply_with_flags(&mut self, flags: u32) -> Reply {
        loop {
            while let Some(event) = self.asm.next_event() {
                match event {
                    Event::Reply(r) if r.flags == flags => return r,
                    Event::Invalid { line, error } => {
                        panic!("invalid line from tmux {line:?}: {error}")
                    }
                    _ => {}
                }
            }
            match self.output.recv_timeout(REPLY_TIMEOUT) {
                Ok(chunk) => self.asm.feed(&chunk),
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    panic!("no reply from tmux within {REPLY_TIMEOUT:?}")
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    panic!("tmux -C closed its output while a reply was awaited")
                }
            }
        }
    }

    /// Send a marker command and return every reply before the marker's own:
    /// the replies still owed for earlier lines, however many there are.
    pub fn replies_until_sync(&mut self) -> Vec<Reply> {
        self.sync += 1;
        let marker = format!("tmux-wire-sync-{}", self.sync);
        self.send_raw(&format!("display-message -p {marker}\n"));
        let mut before = Vec::new();
        loop {
            let r = self.next_reply_with_flags(1);
            if r.lines.len() == 1 && r.lines[0].as_ref() == marker.as_bytes() {
                return before;
            }
            before.push(r);
        }
    }
}
impl Drop for ControlClient {
    fn drop(&mut self) {
        drop(self.stdin.take()); // EOF: the client detaches
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
