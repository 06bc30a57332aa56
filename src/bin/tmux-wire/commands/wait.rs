//! `wait`: until a process is ready, idle, waiting for input, or has
//! exited; and what a wait in a log missed (for `send --then-ready` too).

use crate::arg_groups::{NameArg, TimeoutArg};
use crate::args::parse_duration;
use crate::contract::{is_zero, Waited};
use crate::failure::Failure;
use crate::output::{out, print_doc, show_bytes, show_lines, spinner};
use crate::signals::interruptible;
use clap::Args;
use schemars::JsonSchema;
use serde::Serialize;
use std::process::ExitCode;
use std::time::Duration;
use tmux_wire::keeper::{self, Keeper, WaitFrom};

/// Wait until the process is ready, idle, waiting for input, or has
/// exited.
#[derive(Args)]
#[command(
    after_help = "Examples:\n  tmux-wire wait web --ready 'Listening on'\n  tmux-wire wait build --exit --timeout 10m   # prints how it ended; exit 0\n  tmux-wire wait repl --idle 2s\n\n--ready matches each line on its own, as grep does ('^' and '$' are the\nline's ends), in the text a person sees (escape sequences removed). By\ndefault (--from input) it reads from the last text tmux-wire typed into the\nprocess, skipping its echo, or from the start of the run if nothing was\ntyped: a banner printed before the wait counts, output from before a\n`send` does not. --from start reads the whole run, --from now only what\ncomes next. A process that exits first ends the wait with exit 1 and its\nstatus. A wait whose log does not get the output (its log writer cannot\nwrite, or was gone) fails at once with exit 74 and says why. A wait that\nfalls behind its log (output rotated away before it read it) says how much\nit missed however it ends: on stderr, or missed_bytes with --json (in the\nerror document too).\nSessions tmux-wire did not start have no log: there what the pane shows\ncounts (--from now: only new output).\n\nCursors, poll --cursor, wait --from and logs --offset together: docs/cli.md#cursors-offsets-and---from"
)]
#[command(group(clap::ArgGroup::new("until").required(true)))]
pub struct WaitArgs {
    #[command(flatten)]
    pub target: NameArg,
    /// Until the output matches this regular expression.
    #[arg(long, value_name = "REGEX", group = "until")]
    pub ready: Option<regex::Regex>,
    /// Until no output for this long.
    #[arg(long, value_name = "DUR", value_parser = parse_duration, group = "until")]
    pub idle: Option<Duration>,
    /// Until the process exits; prints its status.
    #[arg(long, group = "until")]
    pub exit: bool,
    /// Until its program waits for input: blocked reading its terminal
    /// (Linux; checked when its output goes quiet, and after each second
    /// of silence).
    #[arg(long, group = "until")]
    pub input: bool,
    /// With --exit: exit with the process's own code (128 + N for signal N).
    #[arg(long, requires = "exit")]
    pub exit_code: bool,
    /// Where --ready starts reading: input (default: after the last `send`,
    /// its echo skipped), start, now (the next whole line), or a cursor
    /// from `poll`, `run` or `logs`.
    #[arg(long, value_name = "FROM", value_parser = parse_from, default_value = "input")]
    pub from: WaitStart,
    #[command(flatten)]
    pub timeout: TimeoutArg,
}

/// Where `wait --ready` starts.
#[derive(Clone, Debug)]
pub enum WaitStart {
    /// A place the keeper knows.
    Mode(WaitFrom),
    /// A cursor from an earlier read.
    Cursor(tmux_wire::keeper::log::Cursor),
}

/// `input`, `start`, `now`, or a cursor.
fn parse_from(s: &str) -> Result<WaitStart, String> {
    match s {
        "input" => Ok(WaitStart::Mode(WaitFrom::LastInput)),
        "start" => Ok(WaitStart::Mode(WaitFrom::RunStart)),
        "now" => Ok(WaitStart::Mode(WaitFrom::Now)),
        _ => s
            .parse()
            .map(WaitStart::Cursor)
            .map_err(|_| format!("{s:?}: say input, start, now, or a cursor (LOGID:OFFSET)")),
    }
}

/// `wait`: how it ended, and when bytes after its start were rotated away
/// before it read them, `missed_bytes` and `missed_lines_at_least`.
#[derive(Serialize, JsonSchema)]
pub struct WaitDoc {
    #[serde(flatten)]
    pub waited: Waited,
    #[serde(skip_serializing_if = "is_zero", default)]
    pub missed_bytes: u64,
    #[serde(skip_serializing_if = "is_zero", default)]
    pub missed_lines_at_least: u64,
}

pub async fn run(keeper: &Keeper, json: bool, args: WaitArgs) -> Result<ExitCode, Failure> {
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
    let result: Result<(Waited, String), Failure> = if let Some(pattern) = ready {
        // A process that exits first ends the wait with its status.
        interruptible(keeper, process.wait_ready(&pattern, from, timeout))
            .await
            .map(|found| {
                missed = found.missed;
                let text = format!("ready: {}", found.matched);
                (
                    Waited::Ready {
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
                    Waited::Idle {
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
                    code = super::run::exit_code(s.code());
                }
                (Waited::exit(s), format!("{name} {s}"))
            })
            .map_err(Failure::from)
    } else if input {
        interruptible(keeper, process.wait_input(timeout))
            .await
            .map(|()| (Waited::Input, format!("{name} is waiting for input")))
            .map_err(Failure::from)
    } else {
        unreachable!("clap requires one of --ready, --idle, --exit, --input");
    };
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let (doc, text) = result?;
    if json {
        print_doc(&WaitDoc {
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
pub fn say_missed_while_waiting(name: &str, missed: &keeper::WaitMissed) {
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
pub fn say_missed_then_failed(json: bool, name: &str, e: keeper::KeeperError) -> Failure {
    if let keeper::KeeperError::MissedThenFailed { missed, .. } = &e {
        if !json {
            say_missed_while_waiting(name, missed);
        }
    }
    Failure::from(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::tests::v;
    use serde_json::json;
    use tmux_wire::watch::ExitStatus;

    /// `wait`'s document: how it ended, `type` at the top.
    #[test]
    fn the_wait_document() {
        assert_eq!(
            v(&WaitDoc {
                waited: Waited::exit(ExitStatus::Signaled(15)),
                missed_bytes: 0,
                missed_lines_at_least: 0,
            }),
            json!({"version": 1, "type": "exited",
                   "exit": {"type": "signaled", "signal": 15}, "code": 143})
        );
        assert_eq!(
            v(&WaitDoc {
                waited: Waited::Input,
                missed_bytes: 0,
                missed_lines_at_least: 0,
            }),
            json!({"version": 1, "type": "input"})
        );
    }
}
