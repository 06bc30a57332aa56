//! A tmux server on a private socket in a temp dir for the benchmarks,
//! killed on drop.

use std::path::PathBuf;
use std::process::{Command, Stdio};

#[allow(dead_code)] // each bench uses a different part
pub struct Server {
    pub dir: tempfile::TempDir,
    pub socket: PathBuf,
}

impl Server {
    /// A server with no config and one detached session `bench` running
    /// `command` (the default shell when empty).
    pub fn start(command: &[&str]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("bench");
        let ok = Command::new("tmux")
            .arg("-S")
            .arg(&socket)
            .args([
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-s",
                "bench",
                "-x",
                "120",
                "-y",
                "40",
            ])
            .args(command)
            .status()
            .expect("tmux must be installed")
            .success();
        assert!(ok, "starting tmux failed");
        Server { dir, socket }
    }

    /// Run `tmux -S SOCKET ARGS...` and return its standard output.
    #[allow(dead_code)]
    pub fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            .stderr(Stdio::null())
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
    }
}
