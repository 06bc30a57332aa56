//! Input: typing text exactly (`send-keys -l` and `-H`) or key names into
//! a process, recording where the text begins in its log, and typing then
//! waiting for an answer.

use super::record::{self, ScreenInput};
use super::{keys, log, Keeper, KeeperError, KeptProcess};
use crate::client::{commands, Client, ATTACH_FLAGS};
use crate::protocol::{Command, PaneId};
use crate::watch;
use regex::Regex;
use std::time::Duration;

/// Before input is typed, the log is brought up to date by a sync with its
/// writer (`log::sync`), for at most [`INPUT_SETTLE_AT_MOST`] (a process
/// that prints all the time); a writer of an older tmux-wire, without the
/// sync channel, is taken as done once the log stayed unchanged this long.
const INPUT_SETTLE: Duration = Duration::from_millis(20);
const INPUT_SETTLE_AT_MOST: Duration = Duration::from_millis(500);

impl Keeper {
    /// Type `text` into `process`'s pane exactly: any bytes, any length
    /// (printable text goes as `send-keys -l`, control bytes and invalid
    /// UTF-8 as `send-keys -H`, in order), then Enter if `enter`.
    /// A process that has exited is an error ([`KeeperError::NotRunning`]):
    /// nothing reads what would be typed. For a process the keeper started,
    /// where the text begins in the log is recorded first, so that `wait`
    /// from [`WaitFrom::LastInput`](super::WaitFrom::LastInput) (the default) starts there.
    /// (The handle's [`KeptProcess::send`].)
    pub(super) async fn send_text_to(
        &self,
        process: &KeptProcess,
        text: &[u8],
        enter: bool,
    ) -> Result<(), KeeperError> {
        let (client, name, pane) = process.parts();
        self.require_running(client, name, pane).await?;
        self.require_whole_lines(client, name, pane, text).await?;
        self.record_input(client, name, pane, text).await?;
        self.type_text(client, pane, text, enter).await
    }

    /// Type `text` (see [`Keeper::send_text_to`]), then wait until a line of
    /// what the process prints after it matches `pattern`; the echo of the
    /// typed text never counts. The wait is armed before the text is typed.
    pub(super) async fn send_then_ready_to(
        &self,
        process: &KeptProcess,
        text: &[u8],
        enter: bool,
        pattern: &Regex,
        timeout: Duration,
    ) -> Result<super::Found, KeeperError> {
        let (client, name, pane) = process.parts();
        self.require_running(client, name, pane).await?;
        self.require_whole_lines(client, name, pane, text).await?;
        let mut matcher = watch::LineMatch::new(pattern.clone());
        matcher.expect_echo(text);
        match self.record_input(client, name, pane, text).await? {
            Some(start) => {
                self.type_text(client, pane, text, enter).await?;
                self.await_log(client, name, pane, (start, false, 0), matcher, timeout)
                    .await
            }
            None => {
                let watching = client
                    .connect_again(self.attach_command(name, ATTACH_FLAGS))
                    .await?;
                let mut armed = watch::arm_for(&watching, pane, pattern, watch::Since::Now).await?;
                armed.skip_echo(text);
                self.leaving_as_found(client, name, pane, async {
                    self.type_text(client, pane, text, enter).await?;
                    self.await_pane(&watching, name, pane, armed, timeout).await
                })
                .await
            }
        }
    }

    /// Type `text` (see [`Keeper::send_text_to`]), then wait until the process
    /// printed nothing for `quiet`. The wait is armed before the text is
    /// typed, so its echo and output count as activity.
    pub(super) async fn send_then_idle_to(
        &self,
        process: &KeptProcess,
        text: &[u8],
        enter: bool,
        quiet: Duration,
        timeout: Duration,
    ) -> Result<watch::Idle, KeeperError> {
        let (client, name, pane) = process.parts();
        self.require_running(client, name, pane).await?;
        self.require_whole_lines(client, name, pane, text).await?;
        if self.record_input(client, name, pane, text).await?.is_some() {
            // Armed before typing: the echo and the output count.
            let changes = log::LogWatch::new(&self.log_path(name));
            self.type_text(client, pane, text, enter).await?;
            return self
                .await_idle_in_log(client, name, pane, changes, quiet, timeout)
                .await;
        }
        // Not started here: the pane's output says when it is quiet.
        let watching = client
            .connect_again(self.attach_command(name, ATTACH_FLAGS))
            .await?;
        let armed = watch::arm_idle(&watching, pane).await?;
        self.leaving_as_found(client, name, pane, async move {
            self.type_text(client, pane, text, enter).await?;
            self.idle_or_exit(client, name, pane, armed, quiet, timeout)
                .await
        })
        .await
    }

    /// Refuse a process that has exited.
    async fn require_running(
        &self,
        client: &Client,
        name: &str,
        pane: PaneId,
    ) -> Result<(), KeeperError> {
        match watch::exit_status(client, pane).await? {
            Some(status) => Err(KeeperError::NotRunning {
                name: name.to_string(),
                status,
            }),
            None => Ok(()),
        }
    }

    /// Refuse input with a line longer than the pane's terminal keeps when
    /// its program reads line by line ([`crate::os::tty`]): the kernel would
    /// drop the rest of the line, and the program would read it cut short.
    /// The terminal's mode is read only when a line is that long; where it
    /// cannot be read (a server in another namespace), the text is typed.
    async fn require_whole_lines(
        &self,
        client: &Client,
        name: &str,
        pane: PaneId,
        text: &[u8],
    ) -> Result<(), KeeperError> {
        if !crate::os::tty::may_overflow(text) {
            return Ok(());
        }
        let Some(rules) = watch::pane_line_rules(client, pane).await else {
            return Ok(());
        };
        let length = rules.longest_line(text);
        if length > crate::os::tty::CANONICAL_LINE_MAX {
            return Err(KeeperError::LineTooLong {
                name: name.to_string(),
                length,
                limit: crate::os::tty::CANONICAL_LINE_MAX,
            });
        }
        Ok(())
    }

    async fn type_text(
        &self,
        client: &Client,
        pane: PaneId,
        text: &[u8],
        enter: bool,
    ) -> Result<(), KeeperError> {
        client
            .commands(send_text_commands(pane, text, enter))
            .await?;
        Ok(())
    }

    /// Send key names to `name`'s pane ([`KeptProcess::send_keys`] on a
    /// handle made for it). The names are checked before the session is
    /// looked for.
    pub async fn send_keys(&self, name: &str, keys: &[String]) -> Result<(), KeeperError> {
        check_keys(keys)?;
        self.process(name).await?.send_keys(keys).await
    }

    /// Send key names (`C-c`, `Enter`, `Up`, ...) to `process`'s pane. A
    /// name tmux does not know is refused ([`KeeperError::UnknownKey`]),
    /// before anything is sent; so is a process that has exited.
    pub(super) async fn send_keys_to(
        &self,
        process: &KeptProcess,
        keys: &[String],
    ) -> Result<(), KeeperError> {
        check_keys(keys)?;
        let (client, name, pane) = process.parts();
        self.require_running(client, name, pane).await?;
        client.command(commands::send_keys(pane, keys)).await?;
        Ok(())
    }

    /// Record the text about to be typed into a kept process (where it
    /// begins in the log, and how its echo reads), so that a later wait
    /// from [`WaitFrom::LastInput`](super::WaitFrom::LastInput) starts there. Returns that position.
    async fn record_input(
        &self,
        client: &Client,
        name: &str,
        pane: PaneId,
        text: &[u8],
    ) -> Result<Option<log::Position>, KeeperError> {
        let Some(_) = self.kept(client, name).await? else {
            self.record_input_on_screen(client, pane, text).await?;
            return Ok(None);
        };
        // What the process printed before this input may still be on its
        // way to the log (the writer is a process of its own): let it land
        // first, so that it is not taken for output after it: a sync with
        // the writer says when the log holds all tmux read before now. A
        // process still printing at the deadline, or a writer that does not
        // answer by then, leaves the log as it is.
        let path = self.log_path(name);
        let deadline = tokio::time::Instant::now() + INPUT_SETTLE_AT_MOST;
        let tmux = Some((client, pane));
        match log::sync::everything_logged(&path, name, tmux, INPUT_SETTLE, deadline).await {
            Ok(_) | Err(KeeperError::LogWriter { .. }) => {}
            Err(e) => return Err(e),
        }
        let at = self.log_end(name)?;
        client
            .commands(record::set_input(name, at, &echo_record(text)))
            .await?;
        Ok(Some(at))
    }
}

impl Keeper {
    /// For a session the keeper did not start (no log): record how the
    /// echo of the text about to be typed reads, and the cursor's row of
    /// the history and screen (a hint for when the echo is not found), as
    /// two user options of the pane, so that a wait from the input reads
    /// the screen from that echo on (see [`Keeper::wait_ready_on`] and
    /// [`watch::Since::Input`]).
    async fn record_input_on_screen(
        &self,
        client: &Client,
        pane: PaneId,
        text: &[u8],
    ) -> Result<(), KeeperError> {
        let row = watch::input_row(client, pane).await?;
        let input = ScreenInput {
            row,
            echo: echo_record(text),
        };
        client.commands(input.write(pane)).await?;
        Ok(())
    }
}

/// Refuse key names tmux does not know ([`KeeperError::UnknownKey`]).
pub(super) fn check_keys(keys: &[String]) -> Result<(), KeeperError> {
    for key in keys {
        keys::check(key).map_err(|close| KeeperError::UnknownKey {
            key: key.clone(),
            close,
        })?;
    }
    Ok(())
}

/// How the echo of `text` is recognised later: its last lines, whitespace
/// removed (so the record has none), separated by spaces, each at most 256
/// characters (their ends: an echo that holds the end holds it).
fn echo_record(text: &[u8]) -> String {
    let text = String::from_utf8_lossy(text);
    let lines: Vec<String> = text
        .split(['\n', '\r'])
        .map(|l| {
            l.chars()
                .filter(|c| !c.is_whitespace() && !c.is_control())
                .collect::<String>()
        })
        .filter(|l| !l.is_empty())
        .map(|l| {
            let skip = l.chars().count().saturating_sub(256);
            l.chars().skip(skip).collect()
        })
        .collect();
    let keep = lines.len().saturating_sub(8);
    lines[keep..].join(" ")
}

/// The `send-keys` commands that type `text` exactly
/// ([`commands::send_text`]), then press Enter if `enter`.
pub fn send_text_commands(pane: PaneId, text: &[u8], enter: bool) -> Vec<Command> {
    let mut out = commands::send_text(pane, text);
    if enter {
        out.push(commands::send_keys(pane, ["Enter"]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enter_comes_last() {
        let pane = PaneId(3);
        let cmds = send_text_commands(pane, b"a", true);
        let last = cmds.last().unwrap().to_strings();
        assert_eq!(last, ["send-keys", "-t", "%3", "Enter"]);
        assert_eq!(send_text_commands(pane, b"a", false).len(), 1);
    }
}
