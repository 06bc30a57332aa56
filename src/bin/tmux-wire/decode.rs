//! `decode`: a captured control-mode stream, one line (or JSON document)
//! per event.

use crate::args::DecodeArgs;
use crate::contract::{Decoded, Kind, Versioned};
use crate::failure::Failure;
use std::io::{self, Read, Write};
use std::process::ExitCode;
use tmux_wire::protocol::{Assembler, Event};

/// Exit 1 if any line was invalid or the stream ended inside a block.
pub fn decode(json: bool, args: &DecodeArgs) -> Result<ExitCode, Failure> {
    let mut input = Vec::new();
    match args.file.as_deref() {
        None | Some("-") => io::stdin()
            .read_to_end(&mut input)
            .map_err(|e| Failure::new(Kind::Io, format!("reading standard input: {e}")))?,
        Some(path) => {
            input = std::fs::read(path)
                .map_err(|e| Failure::new(Kind::Io, format!("reading {path}: {e}")))?;
            input.len()
        }
    };
    if let Some(prefix) = &args.client {
        input = select_client(&input, prefix.as_bytes());
    }

    let mut asm = Assembler::new();
    asm.feed(&input);
    let mut events: Vec<Event> = asm.events().collect();
    events.extend(asm.finish());
    let mut out = io::stdout().lock();
    let mut clean = true;
    for event in &events {
        clean &= !matches!(event, Event::Invalid { .. } | Event::Truncated { .. });
        let written = if json {
            serde_json::to_writer(&mut out, &Versioned::new(Decoded::from(event)))
                .map_err(io::Error::from)
                .and_then(|()| writeln!(out))
        } else {
            writeln!(out, "{}", describe(event))
        };
        if let Err(e) = written {
            if e.kind() == io::ErrorKind::BrokenPipe {
                break;
            }
            return Err(Failure::new(Kind::Io, format!("writing output: {e}")));
        }
    }
    Ok(if clean {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Keep the lines of one client of a multi-client capture, prefix removed.
fn select_client(input: &[u8], prefix: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    for line in input.split_inclusive(|&b| b == b'\n') {
        if let Some(rest) = line.strip_prefix(prefix) {
            // `<imsg ...>` annotations travel on the socket, not the stream.
            if !rest.starts_with(b"<imsg ") {
                out.extend_from_slice(rest);
            }
        }
    }
    out
}

/// One event as a line of text.
fn describe(event: &Event) -> String {
    let show = |b: &[u8]| format!("{:?}", String::from_utf8_lossy(b));
    match event {
        Event::Reply(r) => {
            let lines: Vec<String> = r.lines.iter().map(|l| show(l)).collect();
            let status = if r.ok { "ok" } else { "error" };
            format!(
                "reply {} {} (flags {}): [{}]",
                r.number,
                status,
                r.flags,
                lines.join(", ")
            )
        }
        Event::Notification(n) => format!("notification {n:?}"),
        Event::Invalid { line, error } => format!("invalid {}: {error}", show(line)),
        Event::Truncated {
            open_block,
            lines,
            partial_line,
        } => format!(
            "truncated: open block {open_block:?}, {} lines, partial line {}",
            lines.len(),
            show(partial_line)
        ),
        other => format!("{other:?}"),
    }
}
