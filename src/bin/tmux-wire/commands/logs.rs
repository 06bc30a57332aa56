//! `logs`: the last lines of a process's log, a page of it, or the
//! log followed as it grows.

use crate::arg_groups::NameArg;
use crate::contract::{self, Exit, Kind, Line, Writer};
use crate::failure::Failure;
use crate::output::{self, print_doc, show_bytes, show_lines};
use clap::Args;
use schemars::JsonSchema;
use serde::Serialize;
use std::process::ExitCode;
use tmux_wire::keeper::{self, Followed, Keeper, LineForm};
use tmux_wire::watch::ExitStatus;

/// Print the last lines of a process's log, a page of it, or follow it.
#[derive(Args)]
#[command(
    after_help = "Cursors, poll --cursor, wait --from and logs --offset together: docs/cli.md#cursors-offsets-and---from"
)]
pub struct LogsArgs {
    #[command(flatten)]
    pub target: NameArg,
    /// How many lines (the last ones).
    #[arg(short = 'n', default_value = "50", conflicts_with_all = ["offset", "limit"])]
    pub lines: usize,
    /// Keep printing new output until the process ends (Ctrl-C stops).
    /// A follower that falls so far behind that the log rotates away what
    /// it has not read says what it missed (bytes, at least how many
    /// lines, the cursor it goes on at: the start of a line) where it
    /// happened, and exits 1 at the end. A log writer that stops is
    /// started again at once and said where it happened (the log's gap
    /// line follows); one that cannot be started again ends it, exit 74.
    #[arg(long, conflicts_with_all = ["offset", "limit"])]
    pub follow: bool,
    /// Page by line: start at line N of all the log keeps (0 is the
    /// oldest; default: the last page).
    #[arg(long, value_name = "N")]
    pub offset: Option<usize>,
    /// Page by line: at most N lines (default 200 with --offset).
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Keep escape sequences.
    #[arg(long)]
    pub raw: bool,
}

/// `logs`: its lines (`logs`), a page (`--offset`/`--limit`), and what
/// `--follow` prints, one document per line: `line`, `missed` (the reader
/// fell behind the kept log), `log_writer` (the writer stopped and was
/// started again), and last `exited` or `gone`.
#[derive(Serialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LogsDoc {
    Logs {
        lines: Vec<Line>,
        /// Where a `poll` goes on (processes with a log).
        #[serde(skip_serializing_if = "Option::is_none", default)]
        cursor: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        log_writer: Option<Writer>,
    },
    LogPage {
        lines: Vec<Line>,
        offset: usize,
        limit: usize,
        total: usize,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        log_writer: Option<Writer>,
    },
    Line {
        line: Line,
    },
    /// Output the follower never got: `bytes` exactly (null when the
    /// log's index cannot say), the lines at least, and the cursor where
    /// it went on.
    Missed {
        bytes: Option<u64>,
        lines_at_least: u64,
        cursor: Option<String>,
    },
    LogWriter {
        log_writer: Writer,
    },
    /// The process ended; `code` is the shell's view.
    Exited {
        exit: Exit,
        code: i32,
    },
    /// Its pane went away without a status.
    Gone {
        reason: String,
    },
}

impl LogsDoc {
    pub fn exited(status: ExitStatus) -> Self {
        LogsDoc::Exited {
            exit: status.into(),
            code: status.code(),
        }
    }
}

pub async fn run(keeper: &Keeper, json: bool, args: LogsArgs) -> Result<ExitCode, Failure> {
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
            keeper
                .log_page(&name, offset, limit, LineForm::Rendered)
                .await?
                .into()
        };
        if json {
            print_doc(&LogsDoc::LogPage {
                lines: page.lines.iter().map(|l| contract::Line::new(l)).collect(),
                offset: page.offset,
                limit,
                total: page.total,
                log_writer: writer.as_ref().map(contract::Writer::from),
            });
            return Ok(ExitCode::SUCCESS);
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
        return Ok(ExitCode::SUCCESS);
    }
    if !follow {
        // With --raw, the bytes as the process wrote them; the lines and
        // the cursor (where `poll` goes on: before a line not ended yet,
        // shown here, and by `poll` again, whole) from one read.
        let (last, cursor) = if raw {
            keeper.last_lines_bytes(&name, lines).await?
        } else {
            let (last, cursor) = keeper.last_lines(&name, lines, LineForm::Rendered).await?;
            (last.into_iter().map(String::into_bytes).collect(), cursor)
        };
        if json {
            print_doc(&LogsDoc::Logs {
                lines: last.iter().map(|l| contract::Line::new(l)).collect(),
                cursor: cursor.map(|c| c.to_string()),
                log_writer: writer.as_ref().map(contract::Writer::from),
            });
        } else {
            print_lines(false, &last);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let followed = match keeper.process(&name).await {
        Ok(process) if raw => process.follow_logs_bytes(lines).await,
        Ok(process) => process
            .follow_logs(lines, LineForm::Rendered)
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
                let (last, _) = keeper
                    .logs_or_history(&name, lines, LineForm::Rendered)
                    .await?;
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
            print_doc(&LogsDoc::Missed {
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
            print_doc(&LogsDoc::LogWriter {
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
                    print_doc(&LogsDoc::exited(status));
                } else {
                    eprintln!("tmux-wire: {name} {status}");
                }
            }
            Some(Followed::Gone) => {
                let why = format!("{name} ended: its pane was killed and its status was not kept");
                if json {
                    print_doc(&LogsDoc::Gone {
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
    Ok(ExitCode::SUCCESS)
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

/// Lines in one write: as they are (bytes exactly as they are), or a
/// `{"type": "line", "line": LINE}` document each (LINE a string, or
/// `{"bytes": BASE64}` when it is not UTF-8).
fn print_lines(json: bool, lines: &[impl AsRef<[u8]>]) {
    if json {
        output::emit_all(lines.iter().map(|line| {
            output::doc_line(&LogsDoc::Line {
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

/// The form of lines `--raw` asks for.
pub fn form_of(raw: bool) -> LineForm {
    if raw {
        LineForm::Raw
    } else {
        LineForm::Rendered
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::tests::v;
    use serde_json::json;

    /// What `logs --follow --json` prints besides lines.
    #[test]
    fn the_follow_documents() {
        assert_eq!(
            v(&LogsDoc::Missed {
                bytes: Some(2013),
                lines_at_least: 1,
                cursor: Some("9f3a1c2e:3003".into()),
            }),
            json!({"version": 1, "type": "missed", "bytes": 2013, "lines_at_least": 1,
                   "cursor": "9f3a1c2e:3003"})
        );
        assert_eq!(
            v(&LogsDoc::LogWriter {
                log_writer: Writer::from(&keeper::LogWriter::Restarted {
                    reason: "the log writer is gone".into()
                }),
            }),
            json!({"version": 1, "type": "log_writer",
                   "log_writer": {"type": "restarted", "reason": "the log writer is gone"}})
        );
        assert_eq!(
            v(&LogsDoc::exited(ExitStatus::Exited(3))),
            json!({"version": 1, "type": "exited", "exit": {"type": "exited", "code": 3}, "code": 3})
        );
    }
}
