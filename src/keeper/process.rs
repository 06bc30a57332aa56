//! A handle for one kept process ([`KeptProcess`]): one connection to its
//! session, and every keeper operation on it as a method.
//!
//! A handle is made once ([`Keeper::process`]): the server is looked at,
//! its version checked and the connection attached then, and never again
//! for what the handle does after that. Whatever the keeper recorded on
//! the session is read again, on that connection, by each operation that
//! needs it fresh (a `send` records where its input begins; a restart
//! begins a new run), so a handle kept for long never acts on old facts.

use super::{
    log, Executed, Found, KeeperError, LogFollow, LogWriter, Output, Page, ProcessInfo, ReadFrom,
    StopReport, WaitFrom,
};
use super::{validate_name, Keeper, LineForm};
use crate::client::{Client, PaneEvent, ATTACH_FLAGS};
use crate::protocol::PaneId;
use crate::watch::{self, ExitStatus, WatchError};
use regex::Regex;
use std::time::Duration;

/// One kept process (or any session on the keeper's socket), reached
/// through one connection to its session: like the client's
/// [`Pane`](crate::client::Pane), a handle to call operations on.
///
/// ```no_run
/// # async fn demo() -> Result<(), tmux_wire::keeper::KeeperError> {
/// use std::time::Duration;
/// use tmux_wire::keeper::{Input, Keeper, WaitFrom};
/// use tmux_wire::server::SocketSpec;
///
/// let keeper = Keeper::new(&SocketSpec::WireDefault)?;
/// let web = keeper.process("web").await?;
/// web.send(&Input::text("reload").enter()).await?;
/// let ready = regex::Regex::new("listening").unwrap();
/// let found = web
///     .wait_ready(&ready, WaitFrom::LastInput, Duration::from_secs(10))
///     .await?;
/// println!("{}", found.matched);
/// # Ok(()) }
/// ```
///
/// The connection does not receive the process's output (tmux sends none
/// to it): a wait on a process the keeper started reads its log instead.
/// A wait that needs the pane's output (a session started elsewhere, which
/// has no log) opens a second connection for its own time.
///
/// Every wait takes its time limit as a [`Duration`], or `None` to wait as
/// long as it takes (`exec` too).
#[derive(Debug, Clone)]
pub struct KeptProcess {
    pub(super) keeper: Keeper,
    pub(super) name: String,
    pub(super) client: Client,
    pub(super) pane: PaneId,
}

impl Keeper {
    /// A handle for the process `name`: one connection to its session
    /// (the server is looked at and its version checked now, once).
    /// [`KeeperError::NotFound`] if there is no such session.
    pub async fn process(&self, name: &str) -> Result<KeptProcess, KeeperError> {
        validate_name(name)?;
        let (client, pane) = self.pane_without_output(name).await?.into_parts();
        Ok(KeptProcess {
            keeper: self.clone(),
            name: name.to_string(),
            client,
            pane,
        })
    }
}

/// Input to type into a process: text (any bytes), then Enter and the end
/// of file if asked.
///
/// ```
/// use tmux_wire::keeper::Input;
/// let line = Input::text("print(1)").enter();
/// let eof = Input::default().eof();
/// # let _ = (line, eof);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Input {
    text: Vec<u8>,
    enter: bool,
    eof: bool,
}

impl Input {
    /// Type these bytes exactly (printable text literally, control bytes
    /// and invalid UTF-8 as raw bytes).
    pub fn text(text: impl Into<Vec<u8>>) -> Input {
        Input {
            text: text.into(),
            ..Input::default()
        }
    }

    /// Then press Enter.
    pub fn enter(mut self) -> Input {
        self.enter = true;
        self
    }

    /// Then end the input (Ctrl-D: a line with text is ended first, so
    /// the reader gets it, then the end of file).
    pub fn eof(mut self) -> Input {
        self.eof = true;
        self
    }

    /// How many bytes of text it types (without Enter and Ctrl-D).
    pub fn len(&self) -> usize {
        self.text.len()
    }

    /// Whether it types no text.
    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// The bytes to type, and whether Enter follows them as a key. With
    /// the end of file, Enter goes in the same typing as the text (a
    /// carriage return), so a wait after it starts before all of it.
    pub(super) fn typed(&self) -> (Vec<u8>, bool) {
        let mut text = self.text.clone();
        if !self.eof {
            return (text, self.enter);
        }
        if self.enter {
            text.push(b'\r');
        }
        // Ctrl-D ends a line that has text (the reader gets it without a
        // newline); at the start of a line it is the end of file.
        if !matches!(text.last(), None | Some(b'\n' | b'\r')) {
            text.push(0x04);
        }
        text.push(0x04);
        (text, false)
    }
}

/// What a run gave within the time it was given
/// ([`KeptProcess::outcome_within`]).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RunOutcome {
    /// How it ended, if it has.
    pub exit: Option<ExitStatus>,
    /// Its output from the start of the run: every line once it has ended;
    /// while it runs, the last lines asked for (and the line not ended
    /// yet in [`Output::partial`]). The cursor goes on after all of it.
    pub output: Output,
}

/// Keeps passing the last line a process printed on; stops when dropped
/// ([`KeptProcess::on_last_line`]).
#[derive(Debug)]
pub struct LastLineWatch(tokio::task::JoinHandle<()>);

impl Drop for LastLineWatch {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl KeptProcess {
    /// Its name (the session's).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its pane.
    pub fn pane(&self) -> PaneId {
        self.pane
    }

    /// The connection the handle works through.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The keeper it belongs to.
    pub fn keeper(&self) -> &Keeper {
        &self.keeper
    }

    /// The connection, the name and the pane, for the keeper's own steps.
    pub(super) fn parts(&self) -> (&Client, &str, PaneId) {
        (&self.client, &self.name, self.pane)
    }

    /// The process as [`Keeper::list`] shows it, and whether it waits
    /// for input (where that can be seen).
    pub async fn status(&self) -> Result<ProcessInfo, KeeperError> {
        self.keeper.status_via(&self.name, Some(&self.client)).await
    }

    /// Type `input` exactly: any bytes, any length (printable text goes as
    /// `send-keys -l`, control bytes and invalid UTF-8 as `send-keys -H`,
    /// in order), then Enter and the end of file if asked. A process that
    /// has exited is an error ([`KeeperError::NotRunning`]): nothing reads
    /// what would be typed; so is a line longer than its terminal keeps
    /// when its program reads line by line ([`KeeperError::LineTooLong`]).
    /// For a process the keeper started, where the input begins in the log
    /// is recorded first, so that a wait from [`WaitFrom::LastInput`] (the
    /// default) starts there.
    pub async fn send(&self, input: &Input) -> Result<(), KeeperError> {
        let (text, enter) = input.typed();
        self.keeper.send_text_to(self, &text, enter).await
    }

    /// Type `input`, then wait until a line of what the process prints
    /// after it matches `pattern` (the echo of the input never counts).
    pub async fn send_then_ready(
        &self,
        input: &Input,
        pattern: &Regex,
        timeout: impl Into<Option<Duration>>,
    ) -> Result<Found, KeeperError> {
        let (text, enter) = input.typed();
        let timeout = watch::limit(timeout);
        self.keeper
            .send_then_ready_to(self, &text, enter, pattern, timeout)
            .await
    }

    /// Type `input`, then wait until the process printed nothing for
    /// `quiet`.
    pub async fn send_then_idle(
        &self,
        input: &Input,
        quiet: Duration,
        timeout: impl Into<Option<Duration>>,
    ) -> Result<watch::Idle, KeeperError> {
        let (text, enter) = input.typed();
        let timeout = watch::limit(timeout);
        self.keeper
            .send_then_idle_to(self, &text, enter, quiet, timeout)
            .await
    }

    /// Send key names (`C-c`, `Enter`, `Up`, ...); a name tmux does not
    /// know is refused before anything is sent.
    pub async fn send_keys(&self, keys: &[String]) -> Result<(), KeeperError> {
        self.keeper.send_keys_to(self, keys).await
    }

    /// Wait for `pattern` in a line of its output, from `from`, unless the
    /// process exits first (then [`KeeperError::ExitedBeforeReady`] with
    /// its last lines). A process the keeper started is matched in its
    /// log; a session started elsewhere has no log, so there what the pane
    /// shows counts: from the echo of the last text tmux-wire typed
    /// ([`WaitFrom::LastInput`], found by its content,
    /// [`watch::Since::Input`]; the whole screen if nothing was typed), or
    /// only the next lines it prints ([`WaitFrom::Now`]). Either way
    /// [`WaitFrom::Now`] starts at the next whole line: a line already
    /// begun is not read.
    ///
    /// A wait in a log that falls behind it (output rotated away before
    /// the wait read it, or after a cursor it starts from) says what it
    /// missed: with the match ([`Found::missed`]), or around the error it
    /// ends with ([`KeeperError::MissedThenFailed`]).
    ///
    /// A wait on a session the keeper did not start turns its pane's
    /// `remain-on-exit` on while it runs, and puts it back when it ends.
    /// Dropped before it ends (a caller's timeout, a task aborted, the
    /// host's own Ctrl-C handling), it puts the pane back from a task of
    /// its own; [`Keeper::restored`] awaits that. The library catches no
    /// signal: a host that ends on a signal and wants the pane put back
    /// first catches it, drops the wait, and awaits [`Keeper::restored`]
    /// (the CLI does so). The same holds for the other waits.
    pub async fn wait_ready(
        &self,
        pattern: &Regex,
        from: WaitFrom,
        timeout: impl Into<Option<Duration>>,
    ) -> Result<Found, KeeperError> {
        let (client, name, pane) = self.parts();
        let timeout = watch::limit(timeout);
        self.keeper
            .wait_ready_on(client, name, pane, pattern, from, timeout)
            .await
    }

    /// Wait until it printed nothing for `quiet`; an exit first is
    /// [`KeeperError::EndedWhileWaiting`].
    pub async fn wait_idle(
        &self,
        quiet: Duration,
        timeout: impl Into<Option<Duration>>,
    ) -> Result<watch::Idle, KeeperError> {
        let (client, name, pane) = self.parts();
        let timeout = watch::limit(timeout);
        self.keeper
            .wait_idle_on(client, name, pane, quiet, timeout)
            .await
    }

    /// Wait until it exits. For a process the keeper started, it returns
    /// once the log holds all the process wrote (a sync with its log
    /// writer says so; with a writer of an older tmux-wire, once the log
    /// stayed unchanged for [`super::LOG_SETTLE`] after the exit), so
    /// reading the log right after it misses nothing. A log writer that
    /// does not answer within 5 s is [`KeeperError::LogWriter`]: the log
    /// may not hold all the output.
    pub async fn wait_exit(
        &self,
        timeout: impl Into<Option<Duration>>,
    ) -> Result<ExitStatus, KeeperError> {
        let (client, name, pane) = self.parts();
        let timeout = watch::limit(timeout);
        self.keeper.wait_exit_on(client, name, pane, timeout).await
    }

    /// Wait until its program waits for input (blocked reading its
    /// terminal; see [`crate::watch::input`]), unless it exits first. The
    /// check runs when its output goes quiet: for a process the keeper
    /// started, its log's changes say so; for one started elsewhere, the
    /// pane's output (on a connection of its own, the session left as it
    /// was found).
    pub async fn wait_input(
        &self,
        timeout: impl Into<Option<Duration>>,
    ) -> Result<(), KeeperError> {
        let (client, name, pane) = self.parts();
        let timeout = watch::limit(timeout);
        self.keeper.wait_input_on(client, name, pane, timeout).await
    }

    /// Its output from `from` on, with a cursor for the next read (see
    /// [`Keeper::read_output`]).
    pub async fn read_output(
        &self,
        from: &ReadFrom,
        form: LineForm,
    ) -> Result<Output, KeeperError> {
        self.keeper
            .read_output_via(&self.name, Some(&self.client), from, form)
            .await
    }

    /// Give the run `yield_for` to end, then read its output from the
    /// start of the run: all of it if it ended (by then, or while it was
    /// read), else its last `tail` lines; the read goes on past the
    /// 4 MiB of one read until it has all there is, keeping only what it
    /// returns. The status read with the output is the one reported (it
    /// may have ended just after the yield).
    pub async fn outcome_within(
        &self,
        yield_for: Duration,
        tail: usize,
    ) -> Result<RunOutcome, KeeperError> {
        let ended = match self.wait_exit(yield_for).await {
            Ok(status) => Some(status),
            Err(KeeperError::Watch(WatchError::Timeout(_))) => None,
            Err(e) => return Err(e),
        };
        let mut read = self
            .read_output(&ReadFrom::RunStart, LineForm::Rendered)
            .await?;
        let keep_all = read.exit.is_some() || ended.is_some();
        while read.more {
            let cursor = read
                .cursor
                .parse()
                .map_err(|reason| KeeperError::BadCursor {
                    cursor: read.cursor.clone(),
                    reason,
                })?;
            let next = self
                .read_output(&ReadFrom::Cursor(cursor), LineForm::Rendered)
                .await?;
            let mut lines = std::mem::take(&mut read.lines);
            lines.extend(next.lines.iter().cloned());
            if !keep_all {
                let skip = lines.len().saturating_sub(tail);
                lines.drain(..skip);
            }
            read = Output {
                lines,
                missed_bytes: read.missed_bytes + next.missed_bytes,
                missed_lines_at_least: read.missed_lines_at_least + next.missed_lines_at_least,
                ..next
            };
        }
        let exit = read.exit.or(ended);
        if exit.is_none() {
            let skip = read.lines.len().saturating_sub(tail);
            read.lines.drain(..skip);
        }
        Ok(RunOutcome { exit, output: read })
    }

    /// The last `n` lines of its log in the `form` asked for (see
    /// [`Keeper::logs`]).
    pub fn logs(
        &self,
        n: usize,
        form: LineForm,
    ) -> Result<(Vec<String>, log::Position), KeeperError> {
        self.keeper.logs(&self.name, n, form)
    }

    /// Lines `offset..offset + limit` of its log (see [`Keeper::log_page`]).
    pub async fn log_page(
        &self,
        offset: Option<usize>,
        limit: usize,
        form: LineForm,
    ) -> Result<Page, KeeperError> {
        self.keeper.log_page(&self.name, offset, limit, form).await
    }

    /// [`KeptProcess::log_page`] raw, each line the bytes as the process
    /// wrote them: nothing replaced (see [`Keeper::log_page_bytes`]).
    pub async fn log_page_bytes(
        &self,
        offset: Option<usize>,
        limit: usize,
    ) -> Result<super::PageBytes, KeeperError> {
        self.keeper.log_page_bytes(&self.name, offset, limit).await
    }

    /// Where `cursor` is in its log now (see [`Keeper::position_of`]).
    pub async fn position_of(&self, cursor: &log::Cursor) -> Result<log::Located, KeeperError> {
        self.keeper.position_of(&self.name, cursor).await
    }

    /// The last `n` lines of its log, and a follow of what comes after
    /// them ([`LogFollow::run`]), through this handle's connection. The
    /// log's changes are watched before it is read, so nothing written in
    /// between is missed. Only a process tmux-wire started has a log to
    /// follow ([`KeeperError::NoLog`] otherwise).
    pub async fn follow_logs(
        &self,
        n: usize,
        form: LineForm,
    ) -> Result<(Vec<String>, LogFollow), KeeperError> {
        self.keeper.follow_logs_of(self, n, form.is_raw()).await
    }

    /// [`KeptProcess::follow_logs`] raw, each line the bytes as the process
    /// wrote them: nothing replaced. Follow with [`LogFollow::run_bytes`].
    pub async fn follow_logs_bytes(
        &self,
        n: usize,
    ) -> Result<(Vec<Vec<u8>>, LogFollow), KeeperError> {
        self.keeper.follow_logs_of(self, n, true).await
    }

    /// Why what it prints does not all reach its log now, if it does not
    /// (a writer that was gone is started again first).
    pub async fn log_writer_problem(&self) -> Result<Option<LogWriter>, KeeperError> {
        self.keeper
            .log_writer_problem_via(&self.name, &self.client)
            .await
    }

    /// Run `command` (a shell command line) in its shell, which must be a
    /// POSIX shell at its prompt, and wait up to `timeout` for it to
    /// finish: its output and status ([`Executed`]). The timeout counts
    /// from the call: waiting for the turn (one exec at a time per shell)
    /// is part of it. A timeout leaves the command running. How it is
    /// made safe in a shell someone else uses too: see `keeper/exec.rs`.
    pub async fn exec(
        &self,
        command: &str,
        timeout: impl Into<Option<Duration>>,
    ) -> Result<Executed, KeeperError> {
        self.keeper
            .exec_in(self, command, watch::limit(timeout))
            .await
    }

    /// Stop it (see [`Keeper::stop`]); the handle's connection ends with
    /// its session.
    pub async fn stop(self, grace: Duration) -> Result<StopReport, KeeperError> {
        self.keeper.stop_via(&self.name, grace, Some(&self)).await
    }

    /// Pass the last line it prints that is not blank (trimmed) to `on_line`
    /// each time that changes, until the returned watch is dropped. It
    /// reads the pane's output, on a connection of its own.
    pub async fn on_last_line(
        &self,
        mut on_line: impl FnMut(&str) + Send + 'static,
    ) -> Result<LastLineWatch, KeeperError> {
        let watching = self
            .client
            .connect_again(self.keeper.attach_command(&self.name, ATTACH_FLAGS))
            .await?;
        let mut output = watching.pane_output(self.pane).await?;
        let task = tokio::spawn(async move {
            // The connection lives as long as the task.
            let _watching = watching;
            let mut lines = crate::text::Lines::new();
            while let Some(event) = output.next().await {
                if let PaneEvent::Output(data) = event {
                    let ended = lines.push(&data);
                    let current = lines.current();
                    let last = std::iter::once(&current)
                        .chain(ended.iter().rev())
                        .find(|l| !l.trim().is_empty());
                    if let Some(last) = last {
                        on_line(last.trim());
                    }
                }
            }
        });
        Ok(LastLineWatch(task))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_types_enter_and_eof() {
        assert_eq!(Input::text("a").typed(), (b"a".to_vec(), false));
        assert_eq!(Input::text("a").enter().typed(), (b"a".to_vec(), true));
        // The end of file: the line ended first, then Ctrl-D.
        assert_eq!(
            Input::text("a").eof().typed(),
            (b"a\x04\x04".to_vec(), false)
        );
        assert_eq!(
            Input::text("a").enter().eof().typed(),
            (b"a\r\x04".to_vec(), false)
        );
        assert_eq!(Input::default().eof().typed(), (b"\x04".to_vec(), false));
        assert_eq!(
            Input::text("a\n").eof().typed(),
            (b"a\n\x04".to_vec(), false)
        );
    }
}
