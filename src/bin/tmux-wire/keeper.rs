//! The named processes: `start`, `ls`, `status`, `logs`, `send`, `keys`,
//! `wait`, `stop`, `kill-all`, `clean`, and the internal `log-sink`.
//!
//! Presentation first; below it, in functions of their own, two pieces of
//! logic that belong to the keeper library and are due to move there: the
//! log follower ([`follow_log`]) and the spinner's view of a pane
//! ([`show_last_line`]).

use crate::args::{From, LogsArgs, SendArgs, StartArgs, WaitArgs};
use crate::docs;
use crate::output::{ago, out, print_doc, show_path, show_pid, spinner};
use crate::signals::interruptible;
use crate::{output, Failure};
use indicatif::ProgressBar;
use std::io;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;
use tmux_wire::client::{Client, PaneEvent};
use tmux_wire::keeper::{self, Followed, Keeper, StartSpec, WaitFrom};
use tmux_wire::protocol::PaneId;

pub async fn start(keeper: &Keeper, json: bool, args: StartArgs) -> Result<(), Failure> {
    let StartArgs {
        name,
        cwd,
        env,
        ready,
        timeout,
        limit,
        restart,
        argv,
    } = args;
    let what = format!("starting {name}");
    let bar = ready.as_ref().and_then(|_| spinner(json, &what));
    let started = keeper
        .start(
            &name,
            &argv,
            &StartSpec {
                cwd,
                env,
                ready,
                timeout: Some(timeout),
                kill_after: limit.kill_after,
                kill_grace: Some(limit.kill_grace),
                restart: restart.policy(),
            },
        )
        .await;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let started = started?;
    if started.already_running && (limit.kill_after.is_some() || restart.restart.is_some()) {
        eprintln!(
            "tmux-wire: {name} already runs: --kill-after and --restart apply to a new run and were not set (stop it first)"
        );
    }
    if json {
        print_doc(&started);
    } else if let (true, Some(asked)) = (started.already_running, &started.requested_command) {
        out!(
            "{name} is already running another command (pid {}): `{}`, not `{asked}`; nothing changed (stop it first to run the new one)",
            show_pid(started.process.pid),
            started.process.command
        );
    } else if started.already_running {
        out!(
            "{name} is already running (pid {}); nothing changed",
            show_pid(started.process.pid)
        );
    } else {
        out!(
            "{name} started (pid {}); log {}",
            show_pid(started.process.pid),
            show_path(&started.process.log)
        );
        if let Some(m) = &started.ready {
            out!("ready: {m}");
        }
    }
    Ok(())
}

pub async fn ls(keeper: &Keeper, json: bool) -> Result<(), Failure> {
    let list = keeper.list().await?;
    if json {
        print_doc(&docs::Processes { processes: &list });
    } else if list.is_empty() {
        out!("no processes on {}", keeper.socket().display());
    } else {
        out!(
            "{:<16} {:<18} {:>8}  {:<20} COMMAND",
            "NAME",
            "STATE",
            "PID",
            "STARTED"
        );
        for p in list {
            out!(
                "{:<16} {:<18} {:>8}  {:<20} {}",
                p.name,
                p.state.to_string(),
                show_pid(p.pid),
                p.started.map(ago).unwrap_or_default(),
                p.command
            );
        }
    }
    Ok(())
}

pub async fn status(keeper: &Keeper, json: bool, name: &str) -> Result<(), Failure> {
    let p = keeper.status(name).await?;
    if json {
        print_doc(&p);
    } else {
        out!(
            "name:    {}\nstate:   {}\npid:     {}\ncommand: {}\ncwd:     {}\nstarted: {}\nlog:     {}",
            p.name,
            p.state,
            show_pid(p.pid),
            p.command,
            p.cwd,
            p.started.map(ago).unwrap_or_default(),
            show_path(&p.log)
        );
        if let Some(waiting) = p.waiting_for_input {
            let says = if waiting {
                "waiting for input (blocked reading its terminal)"
            } else {
                "not waiting for input"
            };
            out!("input:   {says}");
        }
        if let Some(n) = p.restarts {
            let exits: Vec<String> = p.exits.iter().map(|e| e.to_string()).collect();
            out!(
                "restarts: {n} (last exits, oldest first: {})",
                exits.join("; ")
            );
        }
        if let Some(error) = &p.error {
            out!("error:   {error}");
        }
        if let Some(limit) = p.killed_after {
            out!("limit:   stopped because it ran longer than {limit}s (start --kill-after)");
        }
        if let Some(writer) = &p.log_writer {
            out!("writer:  {writer}");
        }
    }
    Ok(())
}

pub async fn logs(keeper: &Keeper, json: bool, args: LogsArgs) -> Result<(), Failure> {
    let LogsArgs {
        name,
        lines,
        follow,
        raw,
        offset,
        limit,
    } = args;
    // Whether what the log holds is all the process printed (in the
    // document with --json, except for a follow, which says it on stderr).
    let writer = keeper.log_writer_problem(&name).await.ok().flatten();
    if let (true, Some(writer)) = (!json || follow, &writer) {
        eprintln!("tmux-wire: {name}'s log writer is {writer}");
    }
    if offset.is_some() || limit.is_some() {
        let limit = limit.unwrap_or(200);
        let page = keeper.log_page(&name, offset, limit, raw).await?;
        if json {
            print_doc(&docs::LogPage {
                lines: &page.lines,
                offset: page.offset,
                limit,
                total: page.total,
                log_writer: writer,
            });
            return Ok(());
        }
        for line in &page.lines {
            out!("{line}");
        }
        let shown_to = page.offset + page.lines.len();
        let mut hint = format!(
            "tmux-wire: lines {}-{shown_to} of {}",
            (page.offset + 1).min(shown_to),
            page.total
        );
        if page.offset > 0 {
            let earlier = page.offset.saturating_sub(limit);
            hint.push_str(&format!(
                "; earlier: tmux-wire logs {name} --offset {earlier} --limit {limit}"
            ));
        }
        if shown_to < page.total {
            hint.push_str(&format!(
                "; later: tmux-wire logs {name} --offset {shown_to} --limit {limit}"
            ));
        }
        eprintln!("{hint}");
        return Ok(());
    }
    if !follow {
        let (last, end) = keeper.logs_or_history(&name, lines, raw, false).await?;
        if json {
            // The cursor is where `poll` goes on: before a line not ended
            // yet (shown here, and by `poll` again, whole).
            let cursor = match end {
                Some(_) => {
                    let (_, whole) = keeper.logs_or_history(&name, 0, raw, true).await?;
                    whole
                        .map(|end| keeper.cursor_of(&name, &end))
                        .transpose()?
                        .map(|c| c.to_string())
                }
                None => None,
            };
            print_doc(&docs::Lines {
                lines: &last,
                cursor,
                log_writer: writer,
            });
        } else {
            for line in &last {
                print_line(json, line);
            }
        }
        return Ok(());
    }
    let (last, following) = match keeper.follow_logs(&name, lines, raw).await {
        Ok(f) => f,
        Err(keeper::KeeperError::NoLog { .. }) => {
            // What tmux still holds, then why there is no more.
            let (last, _) = keeper.logs_or_history(&name, lines, raw, true).await?;
            for line in &last {
                print_line(json, line);
            }
            return Err(Failure::Error(format!(
                "{name} has no log to follow (tmux-wire did not start it); the lines above are what tmux still holds"
            )));
        }
        Err(e) => return Err(e.into()),
    };
    for line in &last {
        print_line(json, line);
    }
    // Ctrl-C ends the follow; stdout is written a read's lines at a time.
    // What the reader missed (it fell behind the kept log) is said where
    // it happened, and makes the exit status 1 at the end.
    let missed = std::cell::Cell::new(Tally::default());
    let on_missed = |gap: &keeper::log::Missed| {
        let mut tally = missed.get();
        tally.add(gap);
        missed.set(tally);
        if json {
            print_doc(&docs::MissedLine {
                missed: docs::Missed {
                    bytes: gap.bytes,
                    lines_at_least: gap.lines_at_least,
                    cursor: gap.cursor.as_ref().map(|c| c.to_string()),
                },
            });
        } else {
            let at = gap
                .cursor
                .as_ref()
                .map_or(String::new(), |c| format!(" (cursor {c})"));
            eprintln!(
                "tmux-wire: missed {} of {name}'s output ({}): the log rotated it away before it was read; going on at the start of the next line{at}",
                show_bytes(gap.bytes),
                show_lines(gap.lines_at_least),
            );
        }
    };
    // A log writer that stopped and was started again: said where it
    // happened (the gap line follows in the log).
    let on_writer = |writer: &keeper::LogWriter| {
        if json {
            print_doc(&docs::WriterLine { log_writer: writer });
        } else {
            eprintln!("tmux-wire: {name}'s log writer is {writer}");
        }
    };
    let ended = tokio::select! {
        ended = following.run(|lines| print_lines(json, lines), on_missed, on_writer) => Some(ended?),
        _ = tokio::signal::ctrl_c() => None,
    };
    {
        match ended {
            None => {}
            Some(Followed::Exited(status)) => {
                if json {
                    print_doc(&docs::End {
                        end: docs::Ending::exit(status),
                    });
                } else {
                    eprintln!("tmux-wire: {name} {status}");
                }
            }
            Some(Followed::Gone) => {
                let why = format!("{name} ended: its pane was killed and its status was not kept");
                if json {
                    print_doc(&docs::End {
                        end: docs::Ending::Gone { gone: &why },
                    });
                } else {
                    eprintln!("tmux-wire: {why}");
                }
            }
        }
    }
    let missed = missed.get();
    if missed.gaps > 0 {
        return Err(Failure::Error(format!(
            "the output above is not all {name} printed: {} ({}) missed in {} gap(s), rotated out of the log before they were read (a reader that falls behind by more than the kept log files loses what they held; see TMUX_WIRE_LOG_MAX_BYTES and TMUX_WIRE_LOG_KEEP)",
            show_bytes(missed.bytes),
            show_lines(missed.lines_at_least),
            missed.gaps,
        )));
    }
    Ok(())
}

/// What a follower missed in all.
#[derive(Debug, Clone, Copy, Default)]
struct Tally {
    /// Bytes, `None` once any gap's size was unknown.
    bytes: Option<u64>,
    lines_at_least: u64,
    gaps: u64,
}

impl Tally {
    fn add(&mut self, gap: &keeper::log::Missed) {
        self.bytes = match self.gaps {
            0 => gap.bytes,
            _ => self.bytes.zip(gap.bytes).map(|(a, b)| a + b),
        };
        self.lines_at_least += gap.lines_at_least;
        self.gaps += 1;
    }
}

/// `N bytes`, or that the count is unknown.
fn show_bytes(bytes: Option<u64>) -> String {
    match bytes {
        Some(1) => "1 byte".into(),
        Some(n) => format!("{n} bytes"),
        None => "an unknown number of bytes (the log's index does not say)".into(),
    }
}

/// `at least N line(s)`: the lines of bytes rotated away are not counted.
fn show_lines(lines: u64) -> String {
    let s = if lines == 1 { "" } else { "s" };
    format!("at least {lines} line{s}; the lines rotated away cannot be counted")
}

/// One line of a log: the line, or with `--json` `{"line": ...}`.
fn print_line(json: bool, line: &str) {
    print_lines(json, &[line]);
}

/// Lines in one write: as they are, or a `{"line": ...}` document each.
fn print_lines(json: bool, lines: &[impl AsRef<str>]) {
    if json {
        output::emit_all(lines.iter().map(|line| {
            output::doc_line(&docs::LogLine {
                line: line.as_ref(),
            })
        }));
    } else {
        output::emit_all(lines);
    }
}

pub async fn send(keeper: &Keeper, json: bool, args: SendArgs) -> Result<(), Failure> {
    let SendArgs {
        name,
        text,
        file,
        eof,
        enter,
        then_ready,
        then_idle,
        timeout,
    } = args;
    let mut text: Vec<u8> = match (text, file) {
        (Some(t), None) if t == "-" => read_input(None)?,
        (Some(t), None) => t.into_bytes(),
        (None, Some(path)) if path.as_os_str() == "-" => read_input(None)?,
        (None, Some(path)) => read_input(Some(&path))?,
        (None, None) => Vec::new(),
        (Some(_), Some(_)) => unreachable!("clap: TEXT conflicts with --file"),
    };
    let sent = text.len();
    // Enter, then end of file, go in the same typing as the text (a wait
    // after it then starts before all of it).
    let mut enter = enter;
    if eof {
        if std::mem::take(&mut enter) {
            text.push(b'\r');
        }
        // Ctrl-D ends a line that has text (the reader gets it without a
        // newline); at the start of a line it is the end of file.
        if !matches!(text.last(), None | Some(b'\n' | b'\r')) {
            text.push(0x04);
        }
        text.push(0x04);
    }
    let text = text;
    if let Some(pattern) = then_ready {
        let found = interruptible(
            keeper,
            keeper.send_then_ready(&name, &text, enter, &pattern, timeout),
        )
        .await
        .map_err(|e| say_missed_then_failed(json, &name, e))?;
        if !json {
            say_missed_while_waiting(&name, &found.missed);
        }
        if json {
            print_doc(&docs::Sent {
                sent,
                then: Some(docs::Waited::Ready {
                    ready: found.matched,
                }),
                missed_bytes: found.missed.bytes,
                missed_lines_at_least: found.missed.lines_at_least,
            });
        } else {
            out!("ready: {}", found.matched);
        }
    } else if let Some(quiet) = then_idle {
        let idle = interruptible(
            keeper,
            keeper.send_then_idle(&name, &text, enter, quiet, timeout),
        )
        .await?;
        if json {
            print_doc(&docs::Sent {
                sent,
                then: Some(docs::Waited::idle(idle.current_command)),
                missed_bytes: 0,
                missed_lines_at_least: 0,
            });
        } else {
            out!("{name} is idle");
        }
    } else {
        keeper.send_text(&name, &text, enter).await?;
        if json {
            print_doc(&docs::Sent {
                sent,
                then: None,
                missed_bytes: 0,
                missed_lines_at_least: 0,
            });
        }
    }
    Ok(())
}

/// The bytes of FILE, or of standard input.
fn read_input(file: Option<&Path>) -> Result<Vec<u8>, Failure> {
    use std::io::Read;
    let mut data = Vec::new();
    let read = match file {
        Some(path) => std::fs::File::open(path).and_then(|mut f| f.read_to_end(&mut data)),
        None => io::stdin().lock().read_to_end(&mut data),
    };
    read.map_err(|e| {
        Failure::Error(format!(
            "reading {}: {e}",
            file.map_or("standard input".into(), |p| p.display().to_string())
        ))
    })?;
    Ok(data)
}

pub async fn keys(keeper: &Keeper, json: bool, name: &str, keys: &[String]) -> Result<(), Failure> {
    keeper.send_keys(name, keys).await?;
    if json {
        print_doc(&docs::KeysSent { sent: keys });
    }
    Ok(())
}

pub async fn wait(keeper: &Keeper, json: bool, args: WaitArgs) -> Result<ExitCode, Failure> {
    let WaitArgs {
        name,
        ready,
        idle,
        exit,
        exit_code,
        input,
        from,
        timeout,
    } = args;
    // What was rotated away after a cursor is counted by the wait, with
    // all of the line it cut that the wait skips.
    let from = match from {
        From::Mode(from) => from,
        From::Cursor(cursor) => WaitFrom::Located(keeper.position_of(&name, &cursor).await?),
    };
    let bar = spinner(json, &format!("waiting for {name}"));
    // Output only where it is needed (the spinner's last line; idle
    // on a session tmux-wire did not start opens its own):
    // tmux 3.2a crashes when a pane dies while output for it waits
    // to be sent to a control client.
    let (client, pane) = if bar.is_some() {
        keeper.pane(&name).await?
    } else {
        keeper.pane_without_output(&name).await?
    }
    .into_parts();
    let _progress = match &bar {
        Some(bar) => Some(show_last_line(&client, pane, bar.clone(), &name).await?),
        None => None,
    };
    let mut code = ExitCode::SUCCESS;
    let mut missed = keeper::WaitMissed::default();
    let result: Result<(docs::Waited, String), Failure> = if let Some(pattern) = ready {
        // A process that exits first ends the wait with its status.
        interruptible(
            keeper,
            keeper.wait_ready_on(&client, &name, pane, &pattern, from, timeout),
        )
        .await
        .map(|found| {
            missed = found.missed;
            let text = format!("ready: {}", found.matched);
            (
                docs::Waited::Ready {
                    ready: found.matched,
                },
                text,
            )
        })
        .map_err(|e| say_missed_then_failed(json, &name, e))
    } else if let Some(quiet) = idle {
        interruptible(
            keeper,
            keeper.wait_idle_on(&client, &name, pane, quiet, timeout),
        )
        .await
        .map(|i| {
            (
                docs::Waited::idle(i.current_command),
                format!("{name} is idle"),
            )
        })
        .map_err(Failure::from)
    } else if exit {
        interruptible(keeper, keeper.wait_exit_on(&client, &name, pane, timeout))
            .await
            .map(|s| {
                if exit_code {
                    code = crate::run::exit_code(s.code());
                }
                (docs::Waited::exit(s), format!("{name} {s}"))
            })
            .map_err(Failure::from)
    } else if input {
        interruptible(keeper, keeper.wait_input_on(&client, &name, pane, timeout))
            .await
            .map(|()| {
                (
                    docs::Waited::Input { input: true },
                    format!("{name} is waiting for input"),
                )
            })
            .map_err(Failure::from)
    } else {
        unreachable!("clap requires one of --ready, --idle, --exit, --input");
    };
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let (doc, text) = result?;
    if json {
        print_doc(&docs::WaitedFrom {
            waited: doc,
            missed_bytes: missed.bytes,
            missed_lines_at_least: missed.lines_at_least,
        });
    } else {
        say_missed_while_waiting(&name, &missed);
        out!("{text}");
    }
    Ok(code)
}

/// On stderr, what a wait in `name`'s log missed, if anything.
fn say_missed_while_waiting(name: &str, missed: &keeper::WaitMissed) {
    if missed.any() {
        eprintln!(
            "tmux-wire: missed {} of {name}'s output ({}): rotated out of the log before this wait read it; it read on at the start of the next line kept",
            show_bytes(Some(missed.bytes)),
            show_lines(missed.lines_at_least),
        );
    }
}

/// A failed wait in `name`'s log: what it missed first said on stderr
/// (text), and kept for the error document (`--json`).
fn say_missed_then_failed(json: bool, name: &str, e: keeper::KeeperError) -> Failure {
    if let keeper::KeeperError::MissedThenFailed { missed, .. } = &e {
        if !json {
            say_missed_while_waiting(name, missed);
        }
    }
    Failure::from(e)
}

pub async fn stop(keeper: &Keeper, json: bool, name: &str, grace: Duration) -> Result<(), Failure> {
    let report = keeper.stop(name, grace).await?;
    if json {
        print_doc(&docs::Stop::of(name, &report));
    } else {
        print_stop(name, &report);
    }
    Ok(())
}

/// A stop in text: how it ended on stdout, a warning on stderr.
fn print_stop(name: &str, report: &keeper::StopReport) {
    out!("{name}: {}", describe_stop(&report.stopped));
    if let Some(warning) = &report.warning {
        eprintln!("tmux-wire: {name}: {warning}");
    }
}

pub async fn kill_all(keeper: &Keeper, json: bool, grace: Duration) -> Result<(), Failure> {
    let all = keeper.stop_all(grace).await?;
    if json {
        let stopped = all
            .iter()
            .map(|(name, report)| docs::Stop::of(name, report))
            .collect();
        print_doc(&docs::StopAll { stopped });
    } else if all.is_empty() {
        out!("nothing to stop");
    } else {
        for (name, report) in &all {
            print_stop(name, report);
        }
    }
    Ok(())
}

/// `events`: JSON lines on stdout as they happen; Ctrl-C ends.
pub async fn events(keeper: &Keeper, follow_server: bool) -> Result<(), Failure> {
    let print = |event: keeper::LifecycleEvent| {
        print_doc(&docs::TimedEvent {
            time: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64()),
            event,
        });
    };
    tokio::select! {
        done = keeper.events(follow_server, print) => done?,
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(())
}

pub async fn shutdown(keeper: &Keeper, json: bool, grace: Duration) -> Result<(), Failure> {
    let done = keeper.shutdown(grace).await?;
    let socket = keeper.socket();
    if json {
        let stopped = done
            .stopped
            .iter()
            .map(|(name, report)| docs::Stop::of(name, report))
            .collect();
        print_doc(&docs::Shutdown {
            stopped,
            socket,
            server_ended: done.server_ended,
            socket_removed: done.socket_removed,
        });
    } else {
        for (name, report) in &done.stopped {
            print_stop(name, report);
        }
        match (done.server_ended, done.socket_removed) {
            (true, true) => out!("server ended; removed {}", socket.display()),
            (true, false) => out!("server ended; its socket {} is gone", socket.display()),
            (false, true) => out!(
                "no server answered on {}; removed the stale socket",
                socket.display()
            ),
            (false, false) => out!("no server on {}; nothing to shut down", socket.display()),
        }
    }
    Ok(())
}

pub async fn prune(
    keeper: &Keeper,
    json: bool,
    older_than: Option<Duration>,
) -> Result<(), Failure> {
    let pruned = keeper.prune_logs(older_than).await?;
    if json {
        print_doc(&docs::Pruned { pruned: &pruned });
    } else if pruned.is_empty() {
        out!("no logs to prune");
    } else {
        for name in &pruned {
            out!("removed the logs of {name}");
        }
    }
    Ok(())
}

pub fn clean(keeper: &Keeper, json: bool) -> Result<(), Failure> {
    let removed = keeper.clean()?;
    if json {
        print_doc(&docs::Clean {
            removed,
            socket: keeper.socket(),
        });
    } else if removed {
        out!("removed stale socket {}", keeper.socket().display());
    } else {
        out!("nothing to clean at {}", keeper.socket().display());
    }
    Ok(())
}

/// `log-sink`: the log writer tmux pipes a pane's output into. With the
/// socket and its pane, it records there when it cannot write.
pub fn log_sink(
    socket: Option<&Path>,
    pane: Option<&str>,
    max_bytes: u64,
    keep: u32,
    path: &Path,
) -> Result<ExitCode, Failure> {
    keeper::log::sink_reporting(
        keeper::log::NudgingStdin::new(),
        path,
        keeper::log::Limits { max_bytes, keep },
        |failure| {
            if let (Some(socket), Some(pane)) = (socket, pane) {
                keeper::report_log_writer(socket, pane, failure);
            }
        },
    )
    .map(|()| ExitCode::SUCCESS)
    .map_err(|e| Failure::Error(format!("log {}: {e}", path.display())))
}

fn describe_stop(how: &keeper::Stopped) -> String {
    match how {
        keeper::Stopped::AlreadyExited { status } => {
            format!("had already ended ({status}); session removed")
        }
        keeper::Stopped::Interrupted { status } => format!("{status} after C-c; session removed"),
        keeper::Stopped::Ended => "ended after C-c (its status was not kept)".into(),
        keeper::Stopped::Killed => {
            "did not exit after C-c within the grace period; session killed".into()
        }
        other => format!("{other:?}"),
    }
}

// ---------------------------------------------------------------------------
// Keeper logic still living in the CLI (to move into the keeper library).
// ---------------------------------------------------------------------------

/// Keep the spinner's message on the pane's last line of output; the task
/// ends when the returned guard is dropped.
async fn show_last_line(
    client: &Client,
    pane: PaneId,
    bar: ProgressBar,
    name: &str,
) -> Result<AbortOnDrop, Failure> {
    let mut output = client.pane_output(pane).await?;
    let name = name.to_string();
    let task = tokio::spawn(async move {
        let mut lines = tmux_wire::text::Lines::new();
        while let Some(event) = output.next().await {
            if let PaneEvent::Output(data) = event {
                let ended = lines.push(&data);
                let current = lines.current();
                let last = std::iter::once(&current)
                    .chain(ended.iter().rev())
                    .find(|l| !l.trim().is_empty());
                if let Some(last) = last {
                    let shown: String = last.trim().chars().take(60).collect();
                    bar.set_message(format!("waiting for {name}: {shown}"));
                }
            }
        }
    });
    Ok(AbortOnDrop(task))
}

/// Aborts its task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
