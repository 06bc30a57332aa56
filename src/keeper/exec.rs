//! `exec`: run one command line in a kept interactive shell and return its
//! output and exit status.
//!
//! The line typed is
//!
//! ```text
//!  printf '\033]7717;tw;%s%s;b\007' NONCE1 NONCE2; eval 'LINE'; printf '\033]7717;tw;%s%s;e;%d\007' NONCE1 NONCE2 "$?"
//! ```
//!
//! The two `printf`s print OSC sequences, which tmux swallows (nothing shows
//! on the screen) but which reach the log byte for byte: the output is what
//! lies between them, and the status is in the second. The nonce is
//! random per exec and typed in two halves, so the echo of the typed line
//! (`... NONCE1 NONCE2 ...`) never reads as a marker (`...NONCE1NONCE2...`),
//! nor does a command that prints marker-like text. `eval` runs the line in
//! the shell itself (a `cd` or `export` stays), and a line with a syntax
//! error still ends with its status (2). The leading space keeps the line
//! out of the history of shells that ignore such lines.
//!
//! Only POSIX shells (sh, bash, zsh, dash, ksh, ash) are typed into: a
//! session whose foreground program is anything else (a REPL, an editor,
//! `fish`, or a shell that is running a command) is refused before
//! anything is typed.

use super::log::{Follower, LogWatch};
use super::{validate_name, Keeper, KeeperError};
use crate::text::Lines;
use crate::watch::{self, ExitStatus};
use serde::Serialize;
use std::time::Duration;

/// What an exec gave.
#[derive(Debug, Clone, Serialize)]
pub struct Executed {
    /// The session.
    pub name: String,
    /// The command's output, as a person reads it.
    pub lines: Vec<String>,
    /// Its exit status, as the shell's `$?`.
    pub code: i32,
}

/// Shells `exec` types into.
fn is_posix_shell(command: &str) -> bool {
    matches!(
        crate::watch::program_name(command),
        "sh" | "bash" | "zsh" | "dash" | "ksh" | "mksh" | "ash" | "yash"
    )
}

/// `s` single-quoted for a POSIX shell.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The line to type to run the command in `file`, and the two markers to
/// look for. Only this short, printable line is typed: the command itself
/// is read from the file, so no tab, control character, newline or length
/// of it meets the terminal's line discipline or the shell's line editor.
fn exec_line(file: &str, nonce: &str) -> (String, Vec<u8>, Vec<u8>) {
    let (a, b) = nonce.split_at(nonce.len() / 2);
    let file = quote(file);
    let line = format!(
        r#" printf '\033]7717;tw;%s%s;b\007' {a} {b}; eval "$(cat {file})"; printf '\033]7717;tw;%s%s;e;%d\007' {a} {b} "$?"; rm -f {file}"#
    );
    let begin = format!("\x1b]7717;tw;{nonce};b\x07").into_bytes();
    let end = format!("\x1b]7717;tw;{nonce};e;").into_bytes();
    (line, begin, end)
}

/// Removes the command file when the exec is over, however it ends (the
/// line's own `rm -f` does it too, unless the shell exits first).
struct RemoveOnDrop(std::path::PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The answer, with `output` rendered as a person reads it.
fn executed(name: &str, output: &[u8], code: i32) -> Executed {
    let mut lines = Lines::new();
    let mut out = lines.push(output);
    out.extend(lines.finish());
    Executed {
        name: name.to_string(),
        lines: out,
        code,
    }
}

/// The output between the markers and the status, once the end marker
/// (with its status and terminator) is in `seen`.
fn parse(seen: &[u8], begin: &[u8], end: &[u8]) -> Option<(Vec<u8>, i32)> {
    let start = memchr::memmem::find(seen, begin)? + begin.len();
    let stop = start + memchr::memmem::find(&seen[start..], end)?;
    let rest = &seen[stop + end.len()..];
    let close = memchr::memchr(0x07, rest)?;
    let code = std::str::from_utf8(&rest[..close]).ok()?.parse().ok()?;
    Some((seen[start..stop].to_vec(), code))
}

impl Keeper {
    /// Run `command` (a shell command line) in `name`'s shell and wait up
    /// to `timeout` for it to finish; see the module docs. A timeout leaves
    /// the command running.
    pub async fn exec(
        &self,
        name: &str,
        command: &str,
        timeout: Duration,
    ) -> Result<Executed, KeeperError> {
        validate_name(name)?;
        if command.contains('\0') {
            return Err(KeeperError::BadCommand(
                "a command line cannot hold NUL".into(),
            ));
        }
        let (client, pane) = self.pane_without_output(name).await?.into_parts();
        if let Some(status) = watch::exit_status(&client, pane).await? {
            return Err(KeeperError::NotRunning {
                name: name.to_string(),
                status,
            });
        }
        let path = self.log_path(name);
        if self.kept(&client, name).await?.is_none() {
            return Err(KeeperError::NoLog {
                name: name.to_string(),
            });
        }
        let current = watch::current_command(&client, pane).await?;
        if !is_posix_shell(&current) {
            return Err(KeeperError::NotAShell {
                name: name.to_string(),
                command: current,
            });
        }
        let nonce = super::unique_hex();
        // The command goes in a file beside the log (private like it).
        let file = path.with_file_name(format!("{name}.exec.{nonce}"));
        super::log::open_append(&file)
            .and_then(|mut f| std::io::Write::write_all(&mut f, command.as_bytes()))
            .map_err(|source| KeeperError::Io {
                what: format!("writing {}", file.display()),
                source,
            })?;
        let _remove = RemoveOnDrop(file.clone());
        let (line, begin, end) = exec_line(&file.to_string_lossy(), &nonce);
        // Watch, then note where the log ends, then type: the markers come
        // after that point. Ctrl-U first clears what may be on the line.
        let mut changes = LogWatch::new(&path);
        let from = self.log_end(name)?;
        let mut typed = vec![0x15];
        typed.extend_from_slice(line.as_bytes());
        self.send_text(name, &typed, true).await?;
        let mut follower = Follower::new(&path, from, true);
        let io = |source| KeeperError::Io {
            what: format!("reading {}", path.display()),
            source,
        };
        let deadline = tokio::time::Instant::now() + timeout;
        let exited = watch::wait_exit(&client, pane, timeout);
        let mut exited = std::pin::pin!(exited);
        let mut seen = Vec::new();
        loop {
            loop {
                seen.extend(follower.read_bytes().map_err(io)?);
                if follower.caught_up() {
                    break;
                }
            }
            if let Some((output, code)) = parse(&seen, &begin, &end) {
                return Ok(executed(name, &output, code));
            }
            tokio::select! {
                // The deadline first: the exit wait shares it.
                biased;
                changed = changes.changed() => changed.map_err(io)?,
                () = tokio::time::sleep_until(deadline) => {
                    return Err(KeeperError::ExecTimeout {
                        name: name.to_string(),
                        timeout,
                    });
                }
                status = &mut exited => {
                    // The shell itself ended (the line ran `exit 7`, say):
                    // its status is the command's, and its output is what
                    // the log holds after the first marker once it settles.
                    let status: ExitStatus = status?;
                    let settle = tokio::time::Instant::now() + Duration::from_secs(5);
                    super::log::settle(&path, super::wait::LOG_SETTLE, settle).await;
                    loop {
                        seen.extend(follower.read_bytes().map_err(io)?);
                        if follower.caught_up() {
                            break;
                        }
                    }
                    let Some(at) = memchr::memmem::find(&seen, &begin) else {
                        return Err(KeeperError::EndedWhileWaiting {
                            name: name.to_string(),
                            status,
                        });
                    };
                    return Ok(executed(name, &seen[at + begin.len()..], status.code()));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_echo_never_reads_as_a_marker() {
        let nonce = "0123456789abcdef";
        let (line, begin, end) = exec_line("/l/sh1.exec.x", nonce);
        assert!(line.starts_with(' '));
        assert!(line.contains(r#"eval "$(cat '/l/sh1.exec.x')""#));
        assert!(line.bytes().all(|b| (0x20..0x7f).contains(&b)));
        // The typed line holds the nonce only in halves.
        assert!(!line.contains(nonce));
        // Echo, output, status: only the real markers count.
        let mut seen = line.clone().into_bytes();
        seen.extend_from_slice(b"\r\n");
        seen.extend_from_slice(&begin);
        seen.extend_from_slice(b"out\r\n\x1b]7717;tw;ffff;e;0\x07more\r\n");
        seen.extend_from_slice(&end);
        seen.extend_from_slice(b"1\x07$ ");
        let (output, code) = parse(&seen, &begin, &end).unwrap();
        assert_eq!(code, 1);
        assert_eq!(output, b"out\r\n\x1b]7717;tw;ffff;e;0\x07more\r\n");
        // Not yet finished: nothing.
        assert!(parse(&seen[..seen.len() - 4], &begin, &end).is_none());
        assert_ne!(crate::keeper::unique_hex(), crate::keeper::unique_hex());
    }

    #[test]
    fn posix_shells_only() {
        assert!(is_posix_shell("bash") && is_posix_shell("-zsh") && is_posix_shell("/bin/dash"));
        assert!(!is_posix_shell("fish") && !is_posix_shell("python3") && !is_posix_shell("vim"));
    }
}
