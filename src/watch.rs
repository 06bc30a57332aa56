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
//! [`wait_exit`] learns of a pane's exit from tmux itself: a `pane-died`
//! hook on the pane signals a `wait-for` channel, and a command queued behind
//! `wait-for` on a connection of its own is answered the moment that happens
//! (milliseconds, not the once-a-second of `refresh-client -B`).

use crate::client::{Client, ClientError, ConnectOptions, PaneEvent};
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

/// How a pane's process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ExitStatus {
    /// It exited with this code.
    Code(i32),
    /// A signal killed it.
    Signal(i32),
}

impl std::fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExitStatus::Code(c) => write!(f, "exited with code {c}"),
            ExitStatus::Signal(s) => write!(f, "killed by signal {s}"),
        }
    }
}

/// `#{pane_dead} #{pane_dead_status} #{pane_dead_signal}` as a status, if dead.
fn dead_status(reply: &[u8]) -> Option<ExitStatus> {
    let text = String::from_utf8_lossy(reply);
    let mut fields = text.split(' ');
    if fields.next()? != "1" {
        return None;
    }
    let code = fields.next().and_then(|c| c.trim().parse().ok());
    let signal = fields.next().and_then(|s| s.trim().parse().ok());
    match (code, signal) {
        (_, Some(signal)) => Some(ExitStatus::Signal(signal)),
        (Some(code), None) => Some(ExitStatus::Code(code)),
        // Dead, but tmux recorded neither (it should not happen).
        (None, None) => Some(ExitStatus::Code(-1)),
    }
}

/// Wait until the pane's process exits and return how it ended. The pane is
/// kept after the exit (`remain-on-exit on` is set on it), so its output
/// stays readable and the status can be asked again: a pane that is already
/// dead answers at once.
///
/// `opts` names the server; the wait opens a connection of its own (a socket
/// with the direct transport, so cheap), because the command that waits
/// holds up every later command on its connection.
pub async fn wait_exit(
    opts: &ConnectOptions,
    pane: PaneId,
    timeout: Duration,
) -> Result<ExitStatus, WatchError> {
    static WAITS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let deadline = Instant::now() + timeout;
    let nonce = WAITS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let channel = format!("tmux-wire-exit-{}-{}-{nonce}", pane.0, std::process::id());
    let target = pane.to_string();
    let client = Client::connect(opts).await?;
    let result = tokio::time::timeout_at(deadline, exit_on(&client, pane, &channel)).await;
    let unhook = ["set-hook", "-p", "-u", "-t", target.as_str(), HOOK];
    match result {
        Ok(status) => {
            // The connection is free again: take the hook away on it.
            let _ = tokio::time::timeout(Duration::from_secs(2), client.command(unhook)).await;
            status
        }
        Err(_) => {
            // The connection may be held by `wait-for`: release the channel
            // and take the hook away from a second connection, before the
            // first one goes.
            if let Ok(cleanup) = Client::connect(opts).await {
                let _ = tokio::time::timeout(Duration::from_secs(2), async {
                    let _ = cleanup.command(unhook).await;
                    let _ = cleanup.command(["wait-for", "-S", channel.as_str()]).await;
                })
                .await;
            }
            Err(WatchError::Timeout(timeout))
        }
    }
}

/// The `pane-died` hook array entry tmux-wire uses. Hooks are per pane and
/// an exit is signalled on a channel unique to each wait, so one entry is
/// enough; users' own `pane-died` hooks (other entries) are left alone.
const HOOK: &str = "pane-died[4242]";

async fn exit_on(client: &Client, pane: PaneId, channel: &str) -> Result<ExitStatus, WatchError> {
    let target = pane.to_string();
    let target = target.as_str();
    const STATUS: &str = "#{pane_dead} #{pane_dead_status} #{pane_dead_signal}";
    client
        .command(["set-option", "-p", "-t", target, "remain-on-exit", "on"])
        .await?;
    let signal = format!("wait-for -S {channel}");
    client
        .command(["set-hook", "-p", "-t", target, HOOK, signal.as_str()])
        .await?;
    // Dead already (before the hook was set)?
    if let Some(status) = dead_status(
        &client
            .command(["display-message", "-p", "-t", target, STATUS])
            .await?
            .output(),
    ) {
        return Ok(status);
    }
    // `wait-for` answers at once but holds up the next command until the
    // hook signals the channel (tmux remembers a signal sent before the
    // wait, so an exit in between is not lost).
    let waited = client.enqueue(["wait-for", channel]).await?;
    let status = client
        .enqueue(["display-message", "-p", "-t", target, STATUS])
        .await?;
    waited.await?;
    dead_status(&status.await?.output())
        .ok_or_else(|| WatchError::Closed("the pane reported no exit status".into()))
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
    fn dead_statuses() {
        assert_eq!(dead_status(b"1 7 "), Some(ExitStatus::Code(7)));
        assert_eq!(dead_status(b"1  15"), Some(ExitStatus::Signal(15)));
        assert_eq!(dead_status(b"0  "), None);
        assert_eq!(dead_status(b""), None);
    }

    #[test]
    fn shells() {
        assert!(is_shell("bash") && is_shell("-zsh") && is_shell("/bin/sh"));
        assert!(!is_shell("python3") && !is_shell("vim") && !is_shell(""));
    }
}
