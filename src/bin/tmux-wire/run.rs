//! The agent's process contract: `run` (start, and answer within a yield),
//! `poll` (what is new since a cursor) and `exec` (a command line in a
//! kept shell).

use crate::arg_groups::{NewNameArg, SpawnArgs};
use crate::args::{ExecArgs, PollArgs, RunArgs};
use crate::contract;
use crate::failure::Failure;
use crate::output::{out, print_doc};
use std::process::ExitCode;
use tmux_wire::keeper::{ExecOutcome, Keeper, ReadFrom, StartSpec};
use tmux_wire::watch::ExitStatus;

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
        target: NewNameArg { name },
        yield_for,
        tail,
        spawn: SpawnArgs { cwd, env },
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
        return Err(Failure::new(
            contract::Kind::AlreadyRunning,
            format!(
                "{name} is already running `{}` (pid {})",
                started.process.command,
                started.process.pid.map_or("-".into(), |p| p.to_string())
            ),
        )
        .hint(format!(
            "`tmux-wire poll {name}` reads it; `tmux-wire stop {name}` stops it"
        )));
    }
    let outcome = keeper
        .process(&name)
        .await?
        .outcome_within(yield_for, tail)
        .await?;
    let (ended, read) = (outcome.exit, outcome.output);
    if let (false, Some(writer)) = (json, &read.log_writer) {
        eprintln!("tmux-wire: {name}'s log writer is {writer}");
    }
    match ended {
        Some(status) => {
            if json {
                print_doc(&contract::RunDoc::Run {
                    name: name.clone(),
                    state: contract::RunState::Exited,
                    exit: Some(status.into()),
                    code: Some(status.code()),
                    output: Some(read.lines.clone()),
                    tail: None,
                    cursor: read.cursor.clone(),
                    missed_bytes: read.missed_bytes,
                    missed_lines_at_least: read.missed_lines_at_least,
                    log_writer: read.log_writer.as_ref().map(contract::Writer::from),
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
                print_doc(&contract::RunDoc::Run {
                    name: name.clone(),
                    state: contract::RunState::Running,
                    exit: None,
                    code: None,
                    output: None,
                    tail: Some(last.to_vec()),
                    cursor: read.cursor.clone(),
                    missed_bytes: read.missed_bytes,
                    missed_lines_at_least: read.missed_lines_at_least,
                    log_writer: read.log_writer.as_ref().map(contract::Writer::from),
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
    let read = keeper
        .read_output(&args.target.name, &from, args.raw)
        .await?;
    if json {
        print_doc(&contract::PollDoc::of(&read, args.raw));
        return Ok(ExitCode::SUCCESS);
    }
    warn_missed(read.missed_bytes);
    match &read.raw_lines {
        // --raw: the bytes as the process wrote them.
        Some(raw) => {
            let mut bytes = Vec::new();
            for line in &raw.lines {
                bytes.extend_from_slice(line);
                bytes.push(b'\n');
            }
            crate::output::emit_bytes(&bytes);
        }
        None => {
            for line in &read.lines {
                out!("{line}");
            }
        }
    }
    let name = &args.target.name;
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
    let done = keeper
        .process(&args.name)
        .await?
        .exec(&line, args.timeout.timeout)
        .await?;
    if json {
        print_doc(&contract::ExecDoc::of(&done, args.raw));
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
