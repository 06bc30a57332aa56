//! A real tmux server on a private socket in a temporary directory, one per
//! test, killed and removed on drop; and a `tmux -C` control client on it
//! whose stream is decoded by our own assembler.

#![allow(dead_code)]

use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use tmux_wire::protocol::{Assembler, Event, Reply};

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
        let status = Command::new("tmux")
            .arg("-S")
            .arg(&socket)
            .args([
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-s",
                "t",
                "-x",
                "120",
                "-y",
                "40",
            ])
            .env_remove("TMUX")
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
        let mut child = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(["-C", "attach", "-t", "t"])
            .env_remove("TMUX")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn tmux -C");
        let stdin = BufWriter::new(child.stdin.take().unwrap());
        let stdout = child.stdout.take().unwrap();
        let mut c = ControlClient {
            child,
            stdin: Some(stdin),
            stdout,
            asm: Assembler::new(),
        };
        // The attach block (flags 0) comes first.
        let attach = c.next_reply_with_flags(0);
        assert!(attach.ok, "attach failed: {:?}", attach.output());
        c
    }
}

impl Drop for TmuxServer {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .arg("kill-server")
            .stderr(Stdio::null())
            .status();
    }
}

pub struct ControlClient {
    child: Child,
    stdin: Option<BufWriter<ChildStdin>>,
    stdout: ChildStdout,
    asm: Assembler,
}

impl ControlClient {
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

    /// The next reply with these flags; notifications are skipped.
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
            let mut buf = [0u8; 65536];
            let n = self.stdout.read(&mut buf).expect("read tmux -C");
            assert!(n > 0, "tmux -C closed its output while a reply was awaited");
            self.asm.feed(&buf[..n]);
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
