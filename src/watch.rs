//! Event-driven waits on a pane: for a pattern, or for quiet.
//!
//! Nothing here polls. A wait subscribes to the pane's output stream first
//! and only then looks at what is already on the screen, so output printed
//! in between is seen at least once and never missed. After that it wakes
//! only when tmux sends output (or when a timer it set runs out).
//!
//! Text is matched as a person sees it: escape sequences are removed with
//! `strip-ansi-escapes` (a `vte` parser, kept across chunks, so a sequence or
//! a UTF-8 character split between two `%output` lines is handled), carriage
//! returns and other control characters are dropped, and a match may span
//! any number of chunks (the last [`WINDOW`] bytes of text are searched).
//!
//! Waiting for a pane's process to exit, with its status, is not here yet
//! (see the issue note: a `pane-died` hook did not fire reliably on 3.3a).

use crate::client::{Client, ClientError, PaneEvent};
use crate::protocol::PaneId;
use regex::Regex;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use thiserror::Error;
use tokio::time::Instant;

/// How much recent text a pattern is matched against.
pub const WINDOW: usize = 64 * 1024;

/// Errors of the waits.
#[derive(Debug, Error)]
pub enum WatchError {
    /// The time ran out first.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// The connection ended first.
    #[error("the connection closed: {0}")]
    Closed(String),
    /// A command the wait needed failed.
    #[error(transparent)]
    Client(#[from] ClientError),
}

/// What [`wait_for`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The text the pattern matched.
    pub matched: String,
    /// Whether it was already on the screen when the wait began (or after
    /// a gap in the output), rather than in new output.
    pub on_screen: bool,
}

/// Plain text from a pane's output bytes, as a person would read it.
struct Text {
    stripper: strip_ansi_escapes::Writer<Sink>,
    sink: Sink,
}

/// Where the stripper writes; shared so the text can be taken out.
#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Text {
    fn new() -> Text {
        let sink = Sink::default();
        Text {
            stripper: strip_ansi_escapes::Writer::new(sink.clone()),
            sink,
        }
    }

    /// Feed output bytes; returns the visible text they add.
    fn push(&mut self, data: &[u8]) -> String {
        // Writing into memory cannot fail; flush passes on a partial line.
        let _ = self.stripper.write_all(data);
        let _ = self.stripper.flush();
        let bytes = self
            .sink
            .0
            .lock()
            .map(|mut b| std::mem::take(&mut *b))
            .unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

/// Keep at most [`WINDOW`] bytes of recent text, cut at a char boundary.
fn trim_window(window: &mut String) {
    if window.len() > WINDOW {
        let mut cut = window.len() - WINDOW;
        while !window.is_char_boundary(cut) {
            cut += 1;
        }
        window.drain(..cut);
    }
}

/// The screen as the start of the match window: without the blank lines
/// below the cursor, so new output joins the last line shown.
fn seed(mut snapshot: String) -> String {
    let end = snapshot.trim_end_matches(['\n', ' ']).len();
    snapshot.truncate(end);
    trim_window(&mut snapshot);
    snapshot
}

/// What the pane shows now, screen and recent history, as plain text.
async fn screen(client: &Client, pane: PaneId) -> Result<String, WatchError> {
    let target = pane.to_string();
    let reply = client
        .command([
            "capture-pane",
            "-p",
            "-J",
            "-S",
            "-200",
            "-t",
            target.as_str(),
        ])
        .await?;
    Ok(String::from_utf8_lossy(&reply.output()).into_owned())
}

/// Wait until `pattern` matches the pane's text: what is on the screen when
/// the wait begins, or what the pane prints afterwards.
///
/// ```no_run
/// # async fn demo(client: tmux_wire::client::Client, pane: tmux_wire::protocol::PaneId) {
/// use std::time::Duration;
/// let ready = regex::Regex::new(r"Serving HTTP on \S+ port \d+").unwrap();
/// let found = tmux_wire::watch::wait_for(&client, pane, &ready, Duration::from_secs(30)).await.unwrap();
/// println!("ready: {}", found.matched);
/// # }
/// ```
pub async fn wait_for(
    client: &Client,
    pane: PaneId,
    pattern: &Regex,
    timeout: Duration,
) -> Result<Found, WatchError> {
    let deadline = Instant::now() + timeout;
    // Subscribe first, then look: nothing printed in between is missed.
    let mut output = client.pane_output(pane).await?;
    let found_on = |text: &str, on_screen: bool| {
        pattern.find(text).map(|m| Found {
            matched: m.as_str().to_string(),
            on_screen,
        })
    };
    let snapshot = screen(client, pane).await?;
    if let Some(found) = found_on(&snapshot, true) {
        return Ok(found);
    }
    // New output continues the screen's last line (a prompt, or half a line
    // printed before the wait began), so the window starts with the screen.
    let mut window = seed(snapshot);
    let mut text = Text::new();
    loop {
        let event = match tokio::time::timeout_at(deadline, output.next()).await {
            Err(_) => return Err(WatchError::Timeout(timeout)),
            Ok(None) => {
                return Err(WatchError::Closed(
                    client.closed_reason().unwrap_or_default(),
                ))
            }
            Ok(Some(event)) => event,
        };
        match event {
            PaneEvent::Output(data) => {
                window.push_str(&text.push(&data));
                if let Some(found) = found_on(&window, false) {
                    return Ok(found);
                }
                trim_window(&mut window);
            }
            // Output in the gap was not delivered; what it left on the
            // screen still counts.
            PaneEvent::Resumed => {
                let snapshot = screen(client, pane).await?;
                if let Some(found) = found_on(&snapshot, true) {
                    return Ok(found);
                }
                window = seed(snapshot);
            }
            PaneEvent::Paused => {}
            PaneEvent::Closed(reason) => return Err(WatchError::Closed(reason)),
        }
    }
}

/// What [`wait_idle`] saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idle {
    /// The pane's foreground command when it went quiet
    /// (`#{pane_current_command}`, asked once).
    pub current_command: String,
}

/// Wait until the pane has printed nothing for `quiet`. With
/// `require_shell`, a quiet period only counts if the pane's foreground
/// process is a shell again (asked once per quiet period, not polled); a
/// program that is quiet but still running keeps the wait going.
pub async fn wait_idle(
    client: &Client,
    pane: PaneId,
    quiet: Duration,
    require_shell: bool,
    timeout: Duration,
) -> Result<Idle, WatchError> {
    let deadline = Instant::now() + timeout;
    let mut output = client.pane_output(pane).await?;
    let mut quiet_until = Instant::now() + quiet;
    loop {
        if quiet_until > deadline {
            // Even a quiet pane would not be idle in time; wait out the clock
            // while still draining output.
            quiet_until = deadline;
        }
        match tokio::time::timeout_at(quiet_until, output.next()).await {
            Err(_) if Instant::now() >= deadline => return Err(WatchError::Timeout(timeout)),
            Err(_) => {
                let target = pane.to_string();
                let reply = client
                    .command([
                        "display-message",
                        "-p",
                        "-t",
                        target.as_str(),
                        "#{pane_current_command}",
                    ])
                    .await?;
                let current_command = String::from_utf8_lossy(&reply.output()).trim().to_string();
                if !require_shell || is_shell(&current_command) {
                    return Ok(Idle { current_command });
                }
                quiet_until = Instant::now() + quiet;
            }
            Ok(None) => {
                return Err(WatchError::Closed(
                    client.closed_reason().unwrap_or_default(),
                ))
            }
            Ok(Some(PaneEvent::Closed(reason))) => return Err(WatchError::Closed(reason)),
            // Any output, or a gap in it, means the pane is not quiet.
            Ok(Some(_)) => quiet_until = Instant::now() + quiet,
        }
    }
}

/// Whether a `#{pane_current_command}` is an interactive shell.
pub fn is_shell(command: &str) -> bool {
    let name = command
        .rsplit('/')
        .next()
        .unwrap_or(command)
        .trim_start_matches('-');
    matches!(
        name,
        "sh" | "bash"
            | "zsh"
            | "fish"
            | "dash"
            | "ksh"
            | "mksh"
            | "tcsh"
            | "csh"
            | "ash"
            | "nu"
            | "elvish"
            | "xonsh"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_strips_escapes_across_chunks() {
        let mut t = Text::new();
        let mut all = String::new();
        for chunk in [&b"\x1b[3"[..], b"1mRE", b"D\x1b[0", b"m \xc3", b"\xa9t\r\n"] {
            all.push_str(&t.push(chunk));
        }
        assert_eq!(all, "RED \u{e9}t\n");
    }

    #[test]
    fn window_keeps_the_tail_on_a_char_boundary() {
        let mut w = "é".repeat(WINDOW);
        trim_window(&mut w);
        assert!(w.len() <= WINDOW && w.chars().all(|c| c == 'é'));
    }

    #[test]
    fn shells() {
        assert!(is_shell("bash") && is_shell("-zsh") && is_shell("/bin/sh"));
        assert!(!is_shell("python3") && !is_shell("vim") && !is_shell(""));
    }
}
