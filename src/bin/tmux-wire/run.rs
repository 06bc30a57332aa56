//! The agent's process contract: `run` (start, and answer within a yield),
//! `poll` (what is new since a cursor) and `exec` (a command line in a
//! kept shell).

use crate::args::{ExecArgs, PollArgs, RunArgs};
use crate::docs;
use crate::output::{out, print_doc};
use crate::Failure;
use std::process::ExitCode;
use tmux_wire::keeper::{ExecOutcome, Keeper, KeeperError, ReadFrom, StartSpec};
use tmux_wire::watch::{ExitStatus, WatchError};

/// `run`'s exit status while the process goes on: EX_TEMPFAIL, "try again
/// later" (with `poll` or `wait`).
pub const STILL_RUNNING: u8 = 75;

/// An exit status for a process's code (signals as 128 + N; out of range
/// as 255).
pub fn exit_code(code: i32) -> ExitCode {
    ExitCode::from(u8::try_from(code).unwrap_or(255))
}

pub async fn run(keeper: &Keeper, json: bool, args: RunArgs) -> Result<ExitCode, Failure> {
    let RunArgs {
        name,
        yield_for,
        tail,
        cwd,
        env,
        limit,
        argv,
    } = args;
    let started = keeper
        .start(
            &name,
            &argv,
            &StartSpec {
                cwd,
                env,
                kill_after: limit.kill_after,
                kill_grace: Some(limit.kill_grace),
                ..Default::default()
            },
        )
        .await?;
    if started.already_running {
        return Err(Failure::Error(format!(
            "{name} is already running `{}` (pid {}); read it with `tmux-wire poll {name}`, or stop it first",
            started.process.command,
            started.process.pid.map_or("-".into(), |p| p.to_string())
        )));
    }
    let (client, pane) = keeper.pane_without_output(&name).await?.into_parts();
    let ended = match keeper.wait_exit_on(&client, &name, pane, yield_for).await {
        Ok(status) => Some(status),
        Err(KeeperError::Watch(WatchError::Timeout(_))) => None,
        Err(e) => return Err(e.into()),
    };
    drop(client);
    // All of the run's output (a read returns at most 4 MiB; go on while
    // there is more), keeping all of it only if it is to be printed.
    let mut read = keeper
        .read_output(&name, &ReadFrom::RunStart, false)
        .await?;
    let keep_all = read.exit.is_some() || ended.is_some();
    while read.more {
        let cursor = read.cursor.parse().map_err(Failure::Error)?;
        let next = keeper
            .read_output(&name, &ReadFrom::Cursor(cursor), false)
            .await?;
        let mut lines = std::mem::take(&mut read.lines);
        lines.extend(next.lines.iter().cloned());
        if !keep_all {
            let skip = lines.len().saturating_sub(tail);
            lines.drain(..skip);
        }
        read = tmux_wire::keeper::Output {
            lines,
            missed_bytes: read.missed_bytes + next.missed_bytes,
            missed_lines_at_least: read.missed_lines_at_least + next.missed_lines_at_least,
            ..next
        };
    }
    // The status read with the output is the one to report (it may have
    // ended just after the yield).
    let ended = read.exit.or(ended);
    if let (false, Some(writer)) = (json, &read.log_writer) {
        eprintln!("tmux-wire: {name}'s log writer is {writer}");
    }
    match ended {
        Some(status) => {
            if json {
                print_doc(&docs::Ran {
                    name: &name,
                    state: "exited",
                    exit: Some(status),
                    code: Some(status.code()),
                    output: Some(&read.lines),
                    tail: None,
                    cursor: &read.cursor,
                    missed_bytes: read.missed_bytes,
                    missed_lines_at_least: read.missed_lines_at_least,
                    log_writer: read.log_writer.as_ref(),
                });
            } else {
                warn_missed(read.missed_bytes);
                for line in &read.lines {
                    out!("{line}");
                }
                if let ExitStatus::Signaled(_) = status {
                    eprintln!("tmux-wire: {name} {status}");
                }
            }
            Ok(exit_code(status.code()))
        }
        None => {
            let mut shown = read.lines.clone();
            shown.extend(read.partial.clone());
            let skip = shown.len().saturating_sub(tail);
            let last = &shown[skip..];
            if json {
                print_doc(&docs::Ran {
                    name: &name,
                    state: "running",
                    exit: None,
                    code: None,
                    output: None,
                    tail: Some(last),
                    cursor: &read.cursor,
                    missed_bytes: read.missed_bytes,
                    missed_lines_at_least: read.missed_lines_at_least,
                    log_writer: read.log_writer.as_ref(),
                });
            } else {
                warn_missed(read.missed_bytes);
                for line in last {
                    out!("{line}");
                }
                eprintln!(
                    "tmux-wire: {name} is still running after {yield_for:?}; go on with: tmux-wire poll {name} --cursor {}",
                    read.cursor
                );
            }
            Ok(ExitCode::from(STILL_RUNNING))
        }
    }
}

pub async fn poll(keeper: &Keeper, json: bool, args: PollArgs) -> Result<ExitCode, Failure> {
    let from = match args.cursor {
        Some(cursor) => ReadFrom::Cursor(cursor),
        None => ReadFrom::RunStart,
    };
    let read = keeper.read_output(&args.name, &from, args.raw).await?;
    if json {
        print_doc(&read);
        return Ok(ExitCode::SUCCESS);
    }
    warn_missed(read.missed_bytes);
    for line in &read.lines {
        out!("{line}");
    }
    let name = &args.name;
    if let Some(writer) = &read.log_writer {
        eprintln!("tmux-wire: {name}'s log writer is {writer}");
    }
    if let Some(partial) = &read.partial {
        eprintln!("tmux-wire: the line not ended yet (read again next time): {partial}");
    }
    match read.exit {
        Some(status) => eprintln!("tmux-wire: {name} {status}; cursor {}", read.cursor),
        None if read.more => eprintln!(
            "tmux-wire: {name} is running; more is already there: tmux-wire poll {name} --cursor {}",
            read.cursor
        ),
        None => eprintln!(
            "tmux-wire: {name} is running; next: tmux-wire poll {name} --cursor {}",
            read.cursor
        ),
    }
    Ok(ExitCode::SUCCESS)
}

fn warn_missed(missed: u64) {
    if missed > 0 {
        eprintln!(
            "tmux-wire: missed {missed} bytes after the cursor (at least 1 line; the lines rotated away cannot be counted): rotated out of the log before this read, they are lost; the lines below begin at the start of the next line kept"
        );
    }
}

pub async fn exec(keeper: &Keeper, json: bool, args: ExecArgs) -> Result<ExitCode, Failure> {
    let line = args.line.join(" ");
    let done = keeper.exec(&args.name, &line, args.timeout).await?;
    if json {
        print_doc(&docs::Exec {
            executed: &done,
            output: args
                .raw
                .then(|| docs::OutputLine(docs::Data::new(&done.output))),
        });
    } else if args.raw {
        crate::output::emit_bytes(&done.output);
    } else {
        for line in &done.lines {
            out!("{line}");
        }
    }
    if done.dropped > 0 && !json {
        eprintln!(
            "tmux-wire: {}: the first {} bytes of the output were dropped: exec keeps its last {} MiB",
            args.name,
            done.dropped,
            tmux_wire::keeper::EXEC_KEEP >> 20
        );
    }
    if done.outcome == ExecOutcome::Interrupted && !json {
        eprintln!(
            "tmux-wire: {}: interrupted: the shell returned to its prompt without finishing the command",
            args.name
        );
    }
    Ok(exit_code(done.code))
}
