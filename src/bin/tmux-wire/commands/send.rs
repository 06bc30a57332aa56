//! `send`: type text, a file or standard input into a process, and
//! maybe wait for its answer (`--then-ready`, `--then-idle`).

use super::wait::{say_missed_then_failed, say_missed_while_waiting};
use crate::arg_groups::{NameArg, TimeoutArg};
use crate::args::parse_duration;
use crate::contract::{is_zero, Kind, Waited};
use crate::failure::Failure;
use crate::output::{out, print_doc};
use crate::signals::interruptible;
use clap::Args;
use schemars::JsonSchema;
use serde::Serialize;
use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;
use tmux_wire::keeper::{self, Keeper};

/// Type TEXT, a file or standard input into the process exactly (any
/// bytes, any length).
#[derive(Args)]
#[command(
    after_help = "Examples:\n  tmux-wire send repl --enter 'print(\"a; b\")'\n  tmux-wire send sh1 --enter 'make test; echo EXIT=$?' --then-ready '^EXIT=\\d+$' --timeout 10m\n  tmux-wire send repl --enter 'load()' --then-idle 2s\n\nWith --then-ready the wait is armed before the text is typed, and only what\nthe process prints after it counts: neither older output nor the terminal's\necho of the typed text can match. A process that has exited is an error."
)]
pub struct SendArgs {
    #[command(flatten)]
    pub target: NameArg,
    /// The text to type, exactly (quote it for the shell); `-` reads it
    /// from standard input.
    #[arg(required_unless_present_any = ["file", "eof"], conflicts_with = "file")]
    pub text: Option<String>,
    /// Type the contents of FILE (`-`: standard input): any bytes, any
    /// length.
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Then end the input, as Ctrl-D at a terminal does (twice if the
    /// line typed last has no newline, so the reader sees end of file).
    #[arg(long)]
    pub eof: bool,
    /// Press Enter after the text.
    #[arg(long)]
    pub enter: bool,
    /// Then wait until a line printed after the text matches REGEX
    /// (per line, as in grep; the echo of the text never matches).
    #[arg(long, value_name = "REGEX", conflicts_with = "then_idle")]
    pub then_ready: Option<regex::Regex>,
    /// Then wait until the process printed nothing for DUR.
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub then_idle: Option<Duration>,
    #[command(flatten)]
    pub timeout: TimeoutArg,
}

/// `send`.
#[derive(Serialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SendDoc {
    Send {
        /// How many bytes of text were typed (Enter and Ctrl-D not
        /// counted).
        bytes: usize,
        /// With `--then-ready`/`--then-idle`: how that wait ended.
        then: Option<Waited>,
        #[serde(skip_serializing_if = "is_zero", default)]
        missed_bytes: u64,
        #[serde(skip_serializing_if = "is_zero", default)]
        missed_lines_at_least: u64,
    },
}

pub async fn run(keeper: &Keeper, json: bool, args: SendArgs) -> Result<ExitCode, Failure> {
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
            print_doc(&SendDoc::Send {
                bytes: sent,
                then: Some(Waited::Ready {
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
            print_doc(&SendDoc::Send {
                bytes: sent,
                then: Some(Waited::Idle {
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
            print_doc(&SendDoc::Send {
                bytes: sent,
                then: None,
                missed_bytes: 0,
                missed_lines_at_least: 0,
            });
        }
    }
    Ok(ExitCode::SUCCESS)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::tests::v;
    use serde_json::json;

    /// `send`'s document, with and without a wait after it.
    #[test]
    fn the_send_document() {
        assert_eq!(
            v(&SendDoc::Send {
                bytes: 3,
                then: None,
                missed_bytes: 0,
                missed_lines_at_least: 0,
            }),
            json!({"version": 1, "type": "send", "bytes": 3, "then": null})
        );
        assert_eq!(
            v(&SendDoc::Send {
                bytes: 3,
                then: Some(Waited::Ready {
                    matched: "up".into()
                }),
                missed_bytes: 9,
                missed_lines_at_least: 1,
            }),
            json!({"version": 1, "type": "send", "bytes": 3,
                   "then": {"type": "ready", "matched": "up"},
                   "missed_bytes": 9, "missed_lines_at_least": 1})
        );
    }
}
