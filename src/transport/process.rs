//! The process transport: a child `tmux -C ...` with piped stdio.
//!
//! The command prefix is configurable, so the same code drives a local
//! `tmux -S SOCKET -C` and a remote `ssh HOST tmux -C`. The child is killed
//! if the pipe's owner goes away without closing it, and it is always waited
//! for: a task owns it and reports its exit as the session's [`Ending`].

use super::{ControlPipe, Ending, TransportError, TransportInfo, TransportKind};
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Stdio;
use tokio::io::AsyncReadExt;
use tokio::sync::oneshot;

/// Start `prefix` followed by `command` (for example prefix
/// `["tmux", "-S", "/tmp/s", "-C"]` and command `["attach-session", "-t",
/// "work"]`, or prefix `["ssh", "host", "tmux", "-C"]`; arguments after an
/// `ssh` host are joined by ssh into a remote shell line, so quote them for
/// that shell).
pub fn spawn(prefix: &[OsString], command: &[&str]) -> Result<ControlPipe, TransportError> {
    let Some((program, prefix_args)) = prefix.split_first() else {
        return Err(TransportError::Unsupported {
            reason: "the process transport needs a command prefix such as `tmux -C`".into(),
        });
    };
    let mut child = tokio::process::Command::new(program)
        .args(prefix_args)
        .args(command)
        .env_remove("TMUX")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| TransportError::Spawn {
            program: PathBuf::from(program),
            source,
        })?;
    let (Some(stdin), Some(stdout), Some(mut stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return Err(TransportError::Unsupported {
            reason: "child stdio was not piped".into(),
        });
    };
    let (ending_tx, ending) = oneshot::channel();
    tokio::spawn(async move {
        let mut err = Vec::new();
        let _ = stderr.read_to_end(&mut err).await;
        let status = child.wait().await;
        let keep = err.len().saturating_sub(4096);
        let stderr = String::from_utf8_lossy(&err[keep..]).into_owned();
        let code = status.ok().and_then(|s| s.code());
        let _ = ending_tx.send(Ending::ProcessExited { code, stderr });
    });
    let shown: Vec<String> = prefix
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    Ok(ControlPipe {
        reader: Box::new(stdout),
        writer: Box::new(stdin),
        ending,
        info: TransportInfo {
            kind: TransportKind::Process,
            server_version: None,
            layout: None,
            reason: format!("child process `{}`", shown.join(" ")),
        },
    })
}
