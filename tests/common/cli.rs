//! The `tmux-wire` binary on a private socket in a temp dir (the server
//! is killed on drop), for tests that drive the CLI.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_tmux-wire");

pub struct Socket {
    pub dir: tempfile::TempDir,
    pub path: PathBuf,
}

impl Socket {
    pub fn new() -> Socket {
        let dir = tempfile::Builder::new()
            .prefix("tmux-wire-cli")
            .tempdir()
            .unwrap();
        let path = dir.path().join("s");
        Socket { dir, path }
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.arg("-S").arg(&self.path).args(args).env_remove("TMUX");
        // The tmux under test starts servers and carries `tmux -C`.
        c.env("TMUX_WIRE_TMUX", super::tmux::program());
        c.current_dir(self.dir.path());
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    /// Run, expect exit 0, return stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?}: {:?}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// A session made on this socket by plain tmux, as a shell recipe
    /// (`tmux new -d -s NAME CMD...`) makes it, not by tmux-wire.
    pub fn recipe(&self, name: &str, command: &[&str]) {
        let made = super::tmux::command()
            .arg("-S")
            .arg(&self.path)
            .args(["-f", "/dev/null", "new-session", "-d", "-s", name])
            .args(command)
            .status()
            .unwrap();
        assert!(made.success(), "tmux new-session -s {name}");
    }

    /// Wait until a client (a tmux-wire wait, say) is attached to
    /// `name`'s session.
    pub fn until_attached(&self, name: &str) {
        super::wait::until(
            &format!("a client attached to {name}"),
            std::time::Duration::from_secs(20),
            || {
                let out = super::tmux::command()
                    .arg("-S")
                    .arg(&self.path)
                    .args(["list-clients", "-t", &format!("={name}:")])
                    .output()
                    .unwrap();
                !out.stdout.is_empty()
            },
        );
    }

    /// The names `ls` lists.
    pub fn names(&self) -> Vec<String> {
        self.json(&["ls"])["processes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_string())
            .collect()
    }

    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        serde_json::from_str(&self.ok(&all)).unwrap()
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        let _ = super::tmux::command()
            .arg("-S")
            .arg(&self.path)
            .arg("kill-server")
            .stderr(Stdio::null())
            .status();
    }
}
