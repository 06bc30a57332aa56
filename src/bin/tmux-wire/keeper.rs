//! The named processes: `start`, `ls`, `status`, `logs`, `send`, `keys`,
//! `wait`, `stop`, `kill-all`, `clean`.
//! Presentation only: what happens is the keeper library's (most of it
//! through a handle of the process, [`keeper::KeptProcess`]).

use crate::arg_groups::{NameArg, NewNameArg, SpawnArgs, TimeoutArg};
use crate::args::{LogsArgs, SendArgs, StartArgs, WaitArgs, WaitStart};
use crate::contract;
use crate::contract::Kind;
use crate::failure::Failure;
use crate::output;
use crate::output::{ago, out, print_doc, show_path, show_pid, spinner};
use crate::signals::interruptible;
use std::io;
use std::path::Path;
use std::process::ExitCode;
use tmux_wire::keeper::{self, Followed, Keeper, StartSpec, WaitFrom};

pub async fn start(keeper: &Keeper, json: bool, args: StartArgs) -> Result<(), Failure> {
    let StartArgs {
        target: NewNameArg { name },
        spawn: SpawnArgs { cwd, env },
        ready,
        timeout: TimeoutArg { timeout },
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
        print_doc(&contract::StartDoc::from(&started));
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
        print_doc(&contract::LsDoc::Ls {
            processes: list.iter().map(contract::Process::from).collect(),
        });
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
        print_doc(&contract::StatusDoc::Status(contract::Process::from(&p)));
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
        target: NameArg { name },
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
        // With --raw, the bytes as the process wrote them.
        let page = if raw {
            keeper.log_page_bytes(&name, offset, limit).await?
        } else {
            let page = keeper.log_page(&name, offset, limit, raw).await?;
            keeper::PageBytes {
                lines: page.lines.into_iter().map(String::into_bytes).collect(),
                offset: page.offset,
                total: page.total,
            }
        };
        if json {
            print_doc(&contract::LogsDoc::LogPage {
                lines: page.lines.iter().map(|l| contract::Line::new(l)).collect(),
                offset: page.offset,
                limit,
                total: page.total,
                log_writer: writer.as_ref().map(contract::Writer::from),
            });
            return Ok(());
        }
        print_lines(false, &page.lines);
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
        // With --raw, the bytes as the process wrote them; the lines and
        // the cursor (where `poll` goes on: before a line not ended yet,
        // shown here, and by `poll` again, whole) from one read.
        let (last, cursor) = if raw {
            keeper.last_lines_bytes(&name, lines).await?
        } else {
            let (last, cursor) = keeper.last_lines(&name, lines, raw).await?;
            (last.into_iter().map(String::into_bytes).collect(), cursor)
        };
        if json {
            print_doc(&contract::LogsDoc::Logs {
                lines: last.iter().map(|l| contract::Line::new(l)).collect(),
                cursor: cursor.map(|c| c.to_string()),
                log_writer: writer.as_ref().map(contract::Writer::from),
            });
        } else {
            print_lines(false, &last);
        }
        return Ok(());
    }
    let followed = match keeper.process(&name).await {
        Ok(process) if raw => process.follow_logs_bytes(lines).await,
        Ok(process) => process
            .follow_logs(lines, raw)
            .await
            .map(|(last, f)| (last.into_iter().map(String::into_bytes).collect(), f)),
        Err(e) => Err(e),
    };
    let (last, following) = match followed {
        Ok(f) => f,
        Err(keeper::KeeperError::NoLog { .. }) => {
            // What tmux still holds, then why there is no more.
            let last: Vec<Vec<u8>> = if raw {
                keeper.logs_or_history_bytes(&name, lines).await?.0
            } else {
                let (last, _) = keeper.logs_or_history(&name, lines, raw, true).await?;
                last.into_iter().map(String::into_bytes).collect()
            };
            print_lines(json, &last);
            return Err(Failure::new(
                Kind::NoLog,
                format!(
                    "{name} has no log to follow (tmux-wire did not start it); the lines above are what tmux still holds"
                ),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    print_lines(json, &last);
    // Ctrl-C ends the follow; stdout is written a read's lines at a time.
    // What the reader missed (it fell behind the kept log) is said where
    // it happened, and makes the exit status 1 at the end.
    let missed = std::cell::Cell::new(Tally::default());
    let on_missed = |gap: &keeper::log::Missed| {
        let mut tally = missed.get();
        tally.add(gap);
        missed.set(tally);
        if json {
            print_doc(&contract::LogsDoc::Missed {
                bytes: gap.bytes,
                lines_at_least: gap.lines_at_least,
                cursor: gap.cursor.as_ref().map(|c| c.to_string()),
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
            print_doc(&contract::LogsDoc::LogWriter {
                log_writer: writer.into(),
            });
        } else {
            eprintln!("tmux-wire: {name}'s log writer is {writer}");
        }
    };
    let run = async {
        if raw {
            let print = |lines: &[Vec<u8>]| print_lines(json, lines);
            following.run_bytes(print, &on_missed, &on_writer).await
        } else {
            let print = |lines: &[String]| print_lines(json, lines);
            following.run(print, &on_missed, &on_writer).await
        }
    };
    let ended = tokio::select! {
        ended = run => Some(ended?),
        _ = tokio::signal::ctrl_c() => None,
    };
    {
        match ended {
            None => {}
            Some(Followed::Exited(status)) => {
                if json {
                    print_doc(&contract::LogsDoc::exited(status));
                } else {
                    eprintln!("tmux-wire: {name} {status}");
                }
            }
            Some(Followed::Gone) => {
                let why = format!("{name} ended: its pane was killed and its status was not kept");
                if json {
                    print_doc(&contract::LogsDoc::Gone {
                        reason: why.clone(),
                    });
                } else {
                    eprintln!("tmux-wire: {why}");
                }
            }
        }
    }
    let missed = missed.get();
    if missed.gaps > 0 {
        return Err(Failure::new(Kind::Missed, format!(
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

/// Lines in one write: as they are (bytes exactly as they are), or a
/// `{"type": "line", "line": LINE}` document each (LINE a string, or
/// `{"bytes": BASE64}` when it is not UTF-8).
fn print_lines(json: bool, lines: &[impl AsRef<[u8]>]) {
    if json {
        output::emit_all(lines.iter().map(|line| {
            output::doc_line(&contract::LogsDoc::Line {
                line: contract::Line::new(line.as_ref()),
            })
        }));
    } else {
        let mut bytes = Vec::new();
        for line in lines {
            bytes.extend_from_slice(line.as_ref());
            bytes.push(b'\n');
        }
        output::emit_bytes(&bytes);
    }
}

pub async fn send(keeper: &Keeper, json: bool, args: SendArgs) -> Result<(), Failure> {
    let SendArgs {
        target: NameArg { name },
        text,
        file,
        eof,
        enter,
        then_ready,
        then_idle,
        timeout: TimeoutArg { timeout },
    } = args;
    let text: Vec<u8> = match (text, file) {
        (Some(t), None) if t == "-" => read_input(None)?,
        (Some(t), None) => t.into_bytes(),
        (None, Some(path)) if path.as_os_str() == "-" => read_input(None)?,
        (None, Some(path)) => read_input(Some(&path))?,
        (None, None) => Vec::new(),
        (Some(_), Some(_)) => unreachable!("clap: TEXT conflicts with --file"),
    };
    let mut input = keeper::Input::text(text);
    if enter {
        input = input.enter();
    }
    if eof {
        input = input.eof();
    }
    let sent = input.len();
    let process = keeper.process(&name).await?;
    if let Some(pattern) = then_ready {
        let found = interruptible(keeper, process.send_then_ready(&input, &pattern, timeout))
            .await
            .map_err(|e| say_missed_then_failed(json, &name, e))?;
        if !json {
            say_missed_while_waiting(&name, &found.missed);
        }
        if json {
            print_doc(&contract::SendDoc::Send {
                bytes: sent,
                then: Some(contract::Waited::Ready {
                    matched: found.matched,
                }),
                missed_bytes: found.missed.bytes,
                missed_lines_at_least: found.missed.lines_at_least,
            });
        } else {
            out!("ready: {}", found.matched);
        }
    } else if let Some(quiet) = then_idle {
        let idle = interruptible(keeper, process.send_then_idle(&input, quiet, timeout)).await?;
        if json {
            print_doc(&contract::SendDoc::Send {
                bytes: sent,
                then: Some(contract::Waited::Idle {
                    current_command: idle.current_command,
                }),
                missed_bytes: 0,
                missed_lines_at_least: 0,
            });
        } else {
            out!("{name} is idle");
        }
    } else {
        process.send(&input).await?;
        if json {
            print_doc(&contract::SendDoc::Send {
                bytes: sent,
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
        Failure::new(
            Kind::Io,
            format!(
                "reading {}: {e}",
                file.map_or("standard input".into(), |p| p.display().to_string())
            ),
        )
    })?;
    Ok(data)
}

pub async fn keys(keeper: &Keeper, json: bool, name: &str, keys: &[String]) -> Result<(), Failure> {
    keeper.send_keys(name, keys).await?;
    if json {
        print_doc(&contract::KeysDoc::Keys {
            keys: keys.to_vec(),
        });
    }
    Ok(())
}

pub async fn wait(keeper: &Keeper, json: bool, args: WaitArgs) -> Result<ExitCode, Failure> {
    let WaitArgs {
        target: NameArg { name },
        ready,
        idle,
        exit,
        exit_code,
        input,
        from,
        timeout: TimeoutArg { timeout },
    } = args;
    // What was rotated away after a cursor is counted by the wait, with
    // all of the line it cut that the wait skips.
    let from = match from {
        WaitStart::Mode(from) => from,
        WaitStart::Cursor(cursor) => WaitFrom::Located(keeper.position_of(&name, &cursor).await?),
    };
    let bar = spinner(json, &format!("waiting for {name}"));
    let process = keeper.process(&name).await?;
    // The spinner shows the last line the process printed.
    let _progress = match &bar {
        Some(bar) => {
            let (bar, name) = (bar.clone(), name.clone());
            let show = move |last: &str| {
                let shown: String = last.chars().take(60).collect();
                bar.set_message(format!("waiting for {name}: {shown}"));
            };
            Some(process.on_last_line(show).await?)
        }
        None => None,
    };
    let mut code = ExitCode::SUCCESS;
    let mut missed = keeper::WaitMissed::default();
    let result: Result<(contract::Waited, String), Failure> = if let Some(pattern) = ready {
        // A process that exits first ends the wait with its status.
        interruptible(keeper, process.wait_ready(&pattern, from, timeout))
            .await
            .map(|found| {
                missed = found.missed;
                let text = format!("ready: {}", found.matched);
                (
                    contract::Waited::Ready {
                        matched: found.matched,
                    },
                    text,
                )
            })
            .map_err(|e| say_missed_then_failed(json, &name, e))
    } else if let Some(quiet) = idle {
        interruptible(keeper, process.wait_idle(quiet, timeout))
            .await
            .map(|i| {
                (
                    contract::Waited::Idle {
                        current_command: i.current_command,
                    },
                    format!("{name} is idle"),
                )
            })
            .map_err(Failure::from)
    } else if exit {
        interruptible(keeper, process.wait_exit(timeout))
            .await
            .map(|s| {
                if exit_code {
                    code = crate::run::exit_code(s.code());
                }
                (contract::Waited::exit(s), format!("{name} {s}"))
            })
            .map_err(Failure::from)
    } else if input {
        interruptible(keeper, process.wait_input(timeout))
            .await
            .map(|()| {
                (
                    contract::Waited::Input,
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
        print_doc(&contract::WaitDoc {
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
