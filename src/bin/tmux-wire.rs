//! The `tmux-wire` command. For now it decodes captured control-mode
//! streams; the process keeper CLI replaces this later.

use std::io::{self, Read, Write};
use std::process::ExitCode;
use tmux_wire::protocol::{Assembler, Event};

const USAGE: &str = "\
tmux-wire: a pure-Rust tmux control-mode client

Usage:
  tmux-wire decode [--json] [--client PREFIX] [FILE]

  decode   Read a control-mode stream (the output of `tmux -C` or `-CC`) from
           FILE or standard input and print one line per event: each reply
           block with its lines, each notification, and anything invalid.
           --json          one JSON document per line instead of text
           --client PREFIX keep only lines starting with PREFIX and strip it
                           (for multi-client captures such as `obs| `)

Examples:
  tmux-wire decode tests/fixtures/control-samples-3.3a.bin --client 'obs| '
  tmux -C attach -t work | tmux-wire decode --json

Exit status: 0 when every line decoded, 1 when some line was invalid or the
stream ended inside a block or line, 2 on a usage error.
";

/// A failure and the exit status it maps to.
enum Failure {
    /// Bad command line: exit 2.
    Usage(String),
    /// Anything else (unreadable file, broken output): exit 1.
    Other(String),
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(code) => code,
        Err(Failure::Usage(msg)) => {
            eprintln!("tmux-wire: {msg}\n\n{USAGE}");
            ExitCode::from(2)
        }
        Err(Failure::Other(msg)) => {
            eprintln!("tmux-wire: {msg}");
            ExitCode::from(1)
        }
    }
}

fn run(args: &[String]) -> Result<ExitCode, Failure> {
    let usage = |m: String| Failure::Usage(m);
    let mut json = false;
    let mut client: Option<String> = None;
    let mut file: Option<String> = None;
    let mut it = args.iter();
    match it.next().map(String::as_str) {
        Some("decode") => {}
        Some("-h" | "--help" | "help") => {
            print!("{USAGE}");
            return Ok(ExitCode::SUCCESS);
        }
        Some(other) => return Err(usage(format!("unknown command {other:?}"))),
        None => return Err(usage("missing command".into())),
    }
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--json" => json = true,
            "--client" => match it.next() {
                Some(prefix) => client = Some(prefix.clone()),
                None => return Err(usage("--client needs a PREFIX".into())),
            },
            "-h" | "--help" => {
                print!("{USAGE}");
                return Ok(ExitCode::SUCCESS);
            }
            s if s.starts_with('-') && s != "-" => {
                return Err(usage(format!("unknown option {s:?}")))
            }
            s if file.is_some() => return Err(usage(format!("more than one FILE given ({s:?})"))),
            s => file = Some(s.to_string()),
        }
    }
    let mut input = Vec::new();
    match file.as_deref() {
        None | Some("-") => io::stdin()
            .read_to_end(&mut input)
            .map_err(|e| Failure::Other(format!("reading standard input: {e}")))?,
        Some(path) => {
            input =
                std::fs::read(path).map_err(|e| Failure::Other(format!("reading {path}: {e}")))?;
            input.len()
        }
    };
    if let Some(prefix) = &client {
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
            serde_json::to_writer(&mut out, event)
                .map_err(io::Error::from)
                .and_then(|()| writeln!(out))
        } else {
            writeln!(out, "{}", describe(event))
        };
        if let Err(e) = written {
            if e.kind() == io::ErrorKind::BrokenPipe {
                break;
            }
            return Err(Failure::Other(format!("writing output: {e}")));
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
    }
}
