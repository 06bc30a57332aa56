//! The keeper's waits on a process: for a pattern (ready), its exit or
//! quiet (idle); in its log for a process the keeper started, in its pane
//! for a session started elsewhere (left as it was found afterwards).

use super::record::ScreenInput;
use super::{log, ready, Keeper, KeeperError, WaitFrom};
use crate::client::{Client, ATTACH_FLAGS};
use crate::protocol::PaneId;
use crate::watch::{self, ExitStatus, WatchError};
use regex::Regex;
use std::time::Duration;

/// After a process exits, a log whose writer has no sync channel (one of an
/// older tmux-wire) is taken as complete once it stayed unchanged this long
/// (see [`super::KeptProcess::wait_exit`]); a writer with one is asked instead.
pub const LOG_SETTLE: Duration = Duration::from_millis(100);

/// How long [`Keeper::wait_exit_on`] waits at most for the log writer to
/// confirm the end of the output (or the log to settle).
pub(super) const LOG_SETTLE_AT_MOST: Duration = Duration::from_secs(5);

impl Keeper {
    /// [`KeptProcess::wait_ready`](super::KeptProcess::wait_ready) on a
    /// connection to `name`'s session and its pane.
    pub(crate) async fn wait_ready_on(
        &self,
        client: &Client,
        name: &str,
        pane: PaneId,
        pattern: &Regex,
        from: WaitFrom,
        timeout: Duration,
    ) -> Result<ready::Found, KeeperError> {
        let kept = self.kept(client, name).await?;
        let mut matcher = watch::LineMatch::new(pattern.clone());
        let Some(kept) = kept else {
            let since = match from {
                WaitFrom::Now => watch::Since::Now,
                // Where tmux-wire last typed into it: the cursor's row then
                // (a hint), and how the echo of that text reads.
                WaitFrom::LastInput => match ScreenInput::read(client, pane).await? {
                    Some(input) => {
                        matcher.expect_echo(input.echo.replace(' ', "\n").as_bytes());
                        watch::Since::Input(input.row)
                    }
                    None => watch::Since::Screen,
                },
                _ => watch::Since::Screen,
            };
            // The pane's output is needed here: a connection that has it.
            let watching = client
                .connect_again(self.attach_command(name, ATTACH_FLAGS))
                .await?;
            let armed = watch::arm_with(&watching, pane, matcher, since).await?;
            let wait = self.await_pane(&watching, name, pane, armed, timeout);
            return self.leaving_as_found(client, name, pane, wait).await;
        };
        let mut missed_before = 0;
        let (start, echo) = match from {
            WaitFrom::RunStart => (kept.run, String::new()),
            WaitFrom::LastInput => (kept.input, kept.echo),
            WaitFrom::Now => {
                let (end, mid_line) = self.log_end_in_line(name)?;
                if mid_line {
                    matcher.skip_line_in_progress();
                }
                (end, String::new())
            }
            WaitFrom::At(position) | WaitFrom::LineAfter(position) => (position, String::new()),
            WaitFrom::Located(located) => {
                missed_before = located.missed;
                (located.position, String::new())
            }
        };
        matcher.expect_echo(echo.replace(' ', "\n").as_bytes());
        let skip_line = match from {
            WaitFrom::LineAfter(_) => true,
            WaitFrom::Located(located) => located.mid_line,
            _ => false,
        };
        self.await_log(
            client,
            name,
            pane,
            (start, skip_line, missed_before),
            matcher,
            timeout,
        )
        .await
    }

    /// Run `wait` on `name`'s pane (a wait that may watch for the exit and
    /// so turns `remain-on-exit` on), and, for a session the keeper did not
    /// start, leave the pane as it was found afterwards
    /// ([`watch::ExitReporting`]), whatever the outcome.
    ///
    /// Dropped before it ends (a caller's timeout, a task aborted, the
    /// host's own Ctrl-C handling), the wait puts the pane back from a
    /// task of its own; [`Keeper::restored`] awaits that. The library
    /// catches no signal: a host that ends on a signal and wants the pane
    /// put back first catches it, drops the wait, and awaits
    /// [`Keeper::restored`] (the CLI does so).
    pub(crate) async fn leaving_as_found<T>(
        &self,
        client: &Client,
        name: &str,
        pane: PaneId,
        wait: impl std::future::Future<Output = Result<T, KeeperError>>,
    ) -> Result<T, KeeperError> {
        if self.kept(client, name).await?.is_some() {
            return wait.await;
        }
        // The change is made by a task of its own, so that a drop at any
        // point, even while tmux makes it, still puts it back.
        let changing = tokio::spawn({
            let client = client.clone();
            async move { watch::report_exits(&client, pane).await }
        });
        let mut guard = RestoreOnDrop {
            state: Undo::Changing(changing),
            client: client.clone(),
            restores: self.restores.clone(),
        };
        guard.changed().await?;
        let outcome = wait.await;
        let Undo::Changed(reporting) = std::mem::replace(&mut guard.state, Undo::Done) else {
            unreachable!("changed above");
        };
        // Put back in a task of its own, tracked as a dropped wait's is:
        // if this future is dropped while it runs (an interrupt, a caller's
        // timeout), it still ends, its failure is kept, and
        // `Keeper::restored` waits for it.
        let (told, answer) = tokio::sync::oneshot::channel();
        let task = tokio::spawn({
            let (client, restores) = (client.clone(), self.restores.clone());
            async move {
                let restored = reporting.restore(&client).await;
                if let Err(Err(e)) = told.send(restored) {
                    ::log::warn!("putting back what a dropped wait changed: {e}");
                    restores.failed(e.into());
                }
            }
        });
        self.restores.track(task);
        match answer.await {
            Ok(Err(e)) if outcome.is_ok() => Err(e.into()),
            Err(_) if outcome.is_ok() => Err(KeeperError::Io {
                what: "putting back what the wait changed on the pane".into(),
                source: std::io::Error::other("the task doing it ended without a word"),
            }),
            _ => outcome,
        }
    }

    /// Wait until what waits dropped before their end had changed on
    /// sessions the keeper did not start is put back (see
    /// [`KeptProcess::wait_ready`](super::KeptProcess::wait_ready)): the call for a host that drops a
    /// wait (on a signal, a timeout of its own) and then ends. Shared by
    /// this keeper and its clones; at once when nothing is left. The first
    /// error of a restore that failed, if any.
    ///
    /// ```no_run
    /// # async fn example(keeper: tmux_wire::keeper::Keeper) -> Result<(), tmux_wire::keeper::KeeperError> {
    /// let web = keeper.process("web").await?;
    /// let wait = web.wait_exit(std::time::Duration::from_secs(60));
    /// tokio::select! {
    ///     status = wait => println!("web: {}", status?),
    ///     _ = tokio::time::sleep(std::time::Duration::from_secs(5)) => {
    ///         // The wait is dropped here; put back what it changed.
    ///         keeper.restored().await?;
    ///     }
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn restored(&self) -> Result<(), KeeperError> {
        loop {
            let tasks = std::mem::take(&mut self.restores.lock().tasks);
            if tasks.is_empty() {
                break;
            }
            for task in tasks {
                if let Err(e) = task.await {
                    self.restores.failed(KeeperError::Io {
                        what: "putting back what a dropped wait changed".into(),
                        source: std::io::Error::other(e),
                    });
                }
            }
        }
        self.restores.lock().failed.take().map_or(Ok(()), Err)
    }

    /// [`KeptProcess::wait_exit`](super::KeptProcess::wait_exit) on a
    /// connection to `name`'s session and its pane; see
    /// [`Keeper::leaving_as_found`].
    pub(crate) async fn wait_exit_on(
        &self,
        client: &Client,
        name: &str,
        pane: PaneId,
        timeout: Duration,
    ) -> Result<ExitStatus, KeeperError> {
        let status = self
            .leaving_as_found(client, name, pane, async {
                Ok(watch::wait_exit(client, pane, timeout).await?)
            })
            .await?;
        let path = self.log_path(name);
        if std::fs::symlink_metadata(&path).is_ok() {
            // Bounded: a writer that keeps writing after the exit (it is
            // still catching up) gets at most this long.
            let deadline = tokio::time::Instant::now() + LOG_SETTLE_AT_MOST;
            log::sync::everything_logged_after_exit(
                &path,
                name,
                Some((client, pane)),
                LOG_SETTLE,
                deadline,
            )
            .await?;
        }
        Ok(status)
    }

    /// [`KeptProcess::wait_idle`](super::KeptProcess::wait_idle) on a
    /// connection to `name`'s session and its pane.
    pub(crate) async fn wait_idle_on(
        &self,
        client: &Client,
        name: &str,
        pane: PaneId,
        quiet: Duration,
        timeout: Duration,
    ) -> Result<watch::Idle, KeeperError> {
        if self.kept(client, name).await?.is_some() {
            let changes = log::LogWatch::new(&self.log_path(name));
            return self
                .await_idle_in_log(client, name, pane, changes, quiet, timeout)
                .await;
        }
        // Not started here: the pane's output says when it is quiet.
        let watching = client
            .connect_again(self.attach_command(name, ATTACH_FLAGS))
            .await?;
        let armed = watch::arm_idle(&watching, pane).await?;
        let wait = self.idle_or_exit(client, name, pane, armed, quiet, timeout);
        self.leaving_as_found(client, name, pane, wait).await
    }

    /// [`KeptProcess::wait_input`](super::KeptProcess::wait_input) on a
    /// connection to `name`'s session and its pane.
    pub(crate) async fn wait_input_on(
        &self,
        client: &Client,
        name: &str,
        pane: PaneId,
        timeout: Duration,
    ) -> Result<(), KeeperError> {
        let Some((_, pid)) = watch::local_pids(client, pane).await else {
            return Err(WatchError::Unsupported(
                "cannot see whether the program reads its terminal: the tmux server is not a process of this system (another pid namespace?)".into(),
            )
            .into());
        };
        if self.kept(client, name).await?.is_some() {
            let mut changes = log::LogWatch::new(&self.log_path(name));
            let waiting =
                async { Ok(watch::until_waiting_for_input(pid, &mut changes, timeout).await?) };
            return self
                .unless_ended(client, name, pane, timeout, waiting)
                .await;
        }
        let watching = client
            .connect_again(self.attach_command(name, ATTACH_FLAGS))
            .await?;
        let mut output = watching.pane_output(pane).await?;
        let waiting =
            async { Ok(watch::until_waiting_for_input(pid, &mut output, timeout).await?) };
        let wait = self.unless_ended(client, name, pane, timeout, waiting);
        self.leaving_as_found(client, name, pane, wait).await
    }

    /// The rest of a pane idle wait (a session without a log): idle, or how
    /// the process ended first.
    pub(super) async fn idle_or_exit(
        &self,
        client: &Client,
        name: &str,
        pane: PaneId,
        armed: watch::ArmedIdle<'_>,
        quiet: Duration,
        timeout: Duration,
    ) -> Result<watch::Idle, KeeperError> {
        let idle = async { Ok(armed.wait(quiet, watch::IdleWhen::Quiet, timeout).await?) };
        self.unless_ended(client, name, pane, timeout, idle).await
    }

    /// `wait`, unless `name`'s process exits first
    /// ([`KeeperError::EndedWhileWaiting`]).
    async fn unless_ended<T>(
        &self,
        client: &Client,
        name: &str,
        pane: PaneId,
        timeout: Duration,
        wait: impl std::future::Future<Output = Result<T, KeeperError>>,
    ) -> Result<T, KeeperError> {
        tokio::select! {
            outcome = wait => outcome,
            Ok(status) = watch::wait_exit(client, pane, timeout) => {
                Err(KeeperError::EndedWhileWaiting { name: name.to_string(), status })
            }
        }
    }

    /// Idle for a process the keeper started: its log went `quiet` long
    /// unchanged (on a connection that needs no pane output), unless it
    /// exits first.
    pub(super) async fn await_idle_in_log(
        &self,
        client: &Client,
        name: &str,
        pane: PaneId,
        mut changes: log::LogWatch,
        quiet: Duration,
        timeout: Duration,
    ) -> Result<watch::Idle, KeeperError> {
        let deadline = tokio::time::Instant::now() + timeout;
        // A log that does not get the output is quiet whatever the process
        // does: that is no idle.
        let not_logged = |writer| KeeperError::LogWriter {
            name: name.to_string(),
            what: "its log does not show whether it is idle".into(),
            writer,
        };
        if let Some(writer) = self.log_writer_problem_via(name, client).await? {
            return Err(not_logged(writer));
        }
        let idle = async {
            if !changes.quiet_for(quiet, deadline).await {
                return Err(WatchError::Timeout(timeout).into());
            }
            if let Some(writer) = self.log_writer_problem_via(name, client).await? {
                return Err(not_logged(writer));
            }
            Ok(watch::Idle {
                current_command: watch::current_command(client, pane).await?,
            })
        };
        self.unless_ended(client, name, pane, timeout, idle).await
    }

    /// The rest of a log wait: the match, or how the process ended first,
    /// or why the log cannot show it (its writer does not write); with
    /// what it missed on the way (an error then comes as
    /// [`KeeperError::MissedThenFailed`]).
    pub(super) async fn await_log(
        &self,
        client: &Client,
        name: &str,
        pane: PaneId,
        start: (log::Position, bool, u64),
        matcher: watch::LineMatch,
        timeout: Duration,
    ) -> Result<ready::Found, KeeperError> {
        let exited = watch::wait_exit(client, pane, timeout);
        let path = self.log_path(name);
        // The writer's process, where it can be seen: its end is seen at once.
        let server = self.kept(client, name).await?.and_then(|kept| kept.server);
        let writer_pid = super::writer::writer_pid(server, &path).await;
        let writer_exit = crate::os::process::ProcessExit::open(writer_pid);
        let writer = async || {
            self.log_writer_problem_via(name, client)
                .await
                .ok()
                .flatten()
        };
        let (waited, missed) = ready::wait_in_log(
            &path,
            start,
            matcher,
            exited,
            timeout,
            writer,
            writer_exit.exited(),
        )
        .await?;
        let failed = |e: KeeperError| {
            if missed.any() {
                KeeperError::MissedThenFailed {
                    missed,
                    source: Box::new(e),
                }
            } else {
                e
            }
        };
        let ended = match waited {
            ready::LogWait::Matched(matched) => return Ok(ready::Found { matched, missed }),
            ready::LogWait::Exited(status) => Err(self.exited_before_ready(name, status)),
            ready::LogWait::Writer(writer) => Err(KeeperError::LogWriter {
                name: name.to_string(),
                what: "the wait cannot see what the process prints (no line in its log matches)"
                    .into(),
                writer,
            }),
            ready::LogWait::TimedOut {
                writer: Some(writer),
                ..
            } => Err(KeeperError::LogWriter {
                name: name.to_string(),
                what: format!("no line matched within {timeout:?}"),
                writer,
            }),
            ready::LogWait::TimedOut {
                gap: Some(gap),
                writer: None,
            } => Err(KeeperError::LogWriter {
                name: name.to_string(),
                what: format!(
                    "no line matched within {timeout:?}, and the log has a gap where it may have been: {gap}"
                ),
                writer: super::LogWriter::Writing,
            }),
            ready::LogWait::TimedOut {
                gap: None,
                writer: None,
            } => Err(WatchError::Timeout(timeout).into()),
        };
        ended.map_err(failed)
    }

    /// The rest of a pane wait (a session without a log): the match, or
    /// how the process ended first.
    pub(super) async fn await_pane(
        &self,
        client: &Client,
        name: &str,
        pane: PaneId,
        armed: watch::ArmedReady<'_>,
        timeout: Duration,
    ) -> Result<ready::Found, KeeperError> {
        tokio::select! {
            found = armed.wait(timeout) => Ok(ready::Found { matched: found?.matched, missed: Default::default() }),
            exited = watch::wait_exit(client, pane, timeout) => match exited {
                Ok(status) => Err(self.exited_before_ready(name, status)),
                Err(e) => Err(e.into()),
            },
        }
    }

    fn exited_before_ready(&self, name: &str, status: ExitStatus) -> KeeperError {
        KeeperError::ExitedBeforeReady {
            name: name.to_string(),
            status,
            tail: self
                .logs(name, 10, super::LineForm::Rendered)
                .map(|(lines, _)| lines)
                .unwrap_or_default()
                .join("\n"),
        }
    }
}

/// What a wait changed on a session tmux-wire did not start, put back by a
/// task of its own when the wait is dropped before it could do so itself
/// (a caller's timeout, a task aborted). tmux's own hook entry does it too,
/// but only once every connection of this process has ended, which in a
/// long-lived program may be never.
struct RestoreOnDrop {
    state: Undo,
    client: Client,
    restores: Restores,
}

/// The tasks that put back what dropped waits changed, and the first
/// error of those that failed, for [`Keeper::restored`]; shared by a
/// keeper and its clones.
#[derive(Debug, Clone, Default)]
pub(super) struct Restores(std::sync::Arc<std::sync::Mutex<Pending>>);

#[derive(Debug, Default)]
struct Pending {
    tasks: Vec<tokio::task::JoinHandle<()>>,
    failed: Option<KeeperError>,
}

impl Restores {
    fn lock(&self) -> std::sync::MutexGuard<'_, Pending> {
        // A panic while it was held leaves it good still.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Remember the first failure.
    fn failed(&self, e: KeeperError) {
        self.lock().failed.get_or_insert(e);
    }

    /// Keep `task` among those [`Keeper::restored`] waits for.
    fn track(&self, task: tokio::task::JoinHandle<()>) {
        let mut pending = self.lock();
        // Those done need no waiting for (a failure is kept apart).
        pending.tasks.retain(|task| !task.is_finished());
        pending.tasks.push(task);
    }
}

/// Where the change a wait makes stands.
enum Undo {
    /// Being made (by this task).
    Changing(tokio::task::JoinHandle<Result<watch::ExitReporting, watch::WatchError>>),
    /// Made: to be put back.
    Changed(watch::ExitReporting),
    /// Put back, or never made.
    Done,
}

impl RestoreOnDrop {
    /// Wait until the change is made.
    async fn changed(&mut self) -> Result<(), KeeperError> {
        if let Undo::Changing(task) = &mut self.state {
            let made = task.await;
            self.state = Undo::Done;
            let reporting = made.map_err(|e| KeeperError::Io {
                what: "changing the pane for the wait".into(),
                source: std::io::Error::other(e),
            })??;
            self.state = Undo::Changed(reporting);
        }
        Ok(())
    }
}

impl Drop for RestoreOnDrop {
    fn drop(&mut self) {
        let state = std::mem::replace(&mut self.state, Undo::Done);
        if matches!(state, Undo::Done) {
            return;
        }
        let client = self.client.clone();
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            ::log::warn!("a wait dropped outside a tokio runtime cannot put back what it changed on its pane (remain-on-exit)");
            return;
        };
        let restores = self.restores.clone();
        let task = runtime.spawn(async move {
            let reporting = match state {
                Undo::Changing(task) => match task.await {
                    Ok(Ok(reporting)) => reporting,
                    // Nothing was changed.
                    Ok(Err(_)) => return,
                    Err(e) => {
                        return restores.failed(KeeperError::Io {
                            what: "changing the pane for the wait".into(),
                            source: std::io::Error::other(e),
                        })
                    }
                },
                Undo::Changed(reporting) => reporting,
                Undo::Done => return,
            };
            if let Err(e) = reporting.restore(&client).await {
                ::log::warn!("putting back what a dropped wait changed: {e}");
                restores.failed(e.into());
            }
        });
        self.restores.track(task);
    }
}
