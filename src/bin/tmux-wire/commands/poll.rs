//! `poll`: what a process printed since a cursor (or its run's start),
//! a new cursor, and its exit status once it has ended.

use crate::arg_groups::NameArg;
use crate::contract::{text_lines, writer, Exit, Line, RunState, Writer};
use crate::failure::Failure;
use crate::output::{out, print_doc};
use clap::Args;
use schemars::JsonSchema;
use serde::Serialize;
use std::process::ExitCode;
use tmux_wire::keeper::{self, Keeper, ReadFrom};

/// Print what a process printed since a cursor (or its run's start),
/// a new cursor, and its exit status once it has ended.
#[derive(Args)]
#[command(
    after_help = "Example (a loop that sees every byte once):\n  c=$(tmux-wire --json poll job | jq -r .cursor)\n  tmux-wire --json poll job --cursor \"$c\"\n\nA cursor is a place in everything the process printed, across log\nrotations; if the bytes after it were rotated away the answer says how many\n(missed_bytes, exact; missed_lines_at_least, as lines rotated away cannot be\ncounted) and begins at the start of the next line, never inside one; while\nno line has begun after them, it gives the bytes missed so far and a cursor\nending in ~ (inside the cut line: the next poll goes on skipping it). Text\nmode prints the lines on stdout and the cursor and state on stderr.\n\nCursors, poll --cursor, wait --from and logs --offset together: docs/cli.md#cursors-offsets-and---from"
)]
pub struct PollArgs {
    #[command(flatten)]
    pub target: NameArg,
    /// Where to start: a cursor an earlier `poll`, `run` or `logs` gave
    /// (default: the start of the current run).
    #[arg(long, value_name = "CURSOR")]
    pub cursor: Option<tmux_wire::keeper::log::Cursor>,
    /// Keep escape sequences.
    #[arg(long)]
    pub raw: bool,
}

/// `poll`: what is new since a cursor.
#[derive(Serialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PollDoc {
    Poll {
        name: String,
        state: RunState,
        exit: Option<Exit>,
        code: Option<i32>,
        lines: Vec<Line>,
        /// The line not ended yet, read again next time.
        partial: Option<Line>,
        /// The last line is a piece of one longer than a read.
        cut: bool,
        cursor: String,
        missed_bytes: u64,
        missed_lines_at_least: u64,
        /// More is there already after `cursor`.
        more: bool,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        log_writer: Option<Writer>,
    },
}

impl PollDoc {
    /// A read by cursor; with `raw`, its lines are the bytes as the
    /// process wrote them.
    pub fn of(read: &keeper::Output, raw: bool) -> PollDoc {
        let (lines, partial) = match (&read.raw_lines, raw) {
            (Some(raw), true) => (
                raw.lines.iter().map(|l| Line::new(l)).collect(),
                raw.partial.as_deref().map(Line::new),
            ),
            _ => (
                text_lines(&read.lines),
                read.partial.as_deref().map(Line::text),
            ),
        };
        PollDoc::Poll {
            name: read.name.clone(),
            state: if read.exit.is_some() {
                RunState::Exited
            } else {
                RunState::Running
            },
            exit: read.exit.map(Exit::from),
            code: read.code,
            lines,
            partial,
            cut: read.cut,
            cursor: read.cursor.clone(),
            missed_bytes: read.missed_bytes,
            missed_lines_at_least: read.missed_lines_at_least,
            more: read.more,
            log_writer: writer(read.log_writer.as_ref()),
        }
    }
}

pub async fn run(keeper: &Keeper, json: bool, args: PollArgs) -> Result<ExitCode, Failure> {
    let from = match args.cursor {
        Some(cursor) => ReadFrom::Cursor(cursor),
        None => ReadFrom::RunStart,
    };
    let read = keeper
        .read_output(&args.target.name, &from, super::logs::form_of(args.raw))
        .await?;
    if json {
        print_doc(&PollDoc::of(&read, args.raw));
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

/// On stderr, bytes after a cursor that were rotated away (`run` says it
/// too).
pub fn warn_missed(missed: u64) {
    if missed > 0 {
        eprintln!(
            "tmux-wire: missed {missed} bytes after the cursor (at least 1 line; the lines rotated away cannot be counted): rotated out of the log before this read, they are lost; the lines below begin at the start of the next line kept"
        );
    }
}
