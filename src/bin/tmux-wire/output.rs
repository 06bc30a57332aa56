//! Printing: lines and JSON documents on stdout (a closed stdout ends the
//! program quietly), the spinner on stderr, and the small text formats.

use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

/// `println!` that ends the program quietly when stdout is closed (a
/// reader such as `head` went away) instead of panicking.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::output::emit(&format!($($arg)*))
    };
}
pub(crate) use out;

/// Print one line on stdout; a closed stdout ends the program (exit 0).
pub fn emit(line: &str) {
    emit_all([line]);
}

/// Print lines on stdout in one write (a batch of a log being followed:
/// one system call for all, not one per line); see [`emit`].
pub fn emit_all(lines: impl IntoIterator<Item = impl AsRef<str>>) {
    let mut text = String::new();
    for line in lines {
        text.push_str(line.as_ref());
        text.push('\n');
    }
    if let Err(e) = io::stdout().lock().write_all(text.as_bytes()) {
        if e.kind() == io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("tmux-wire: writing output: {e}");
        std::process::exit(1);
    }
}

/// Print bytes on stdout as they are; a closed stdout ends the program
/// (exit 0), see [`emit`].
pub fn emit_bytes(bytes: &[u8]) {
    let mut stdout = io::stdout().lock();
    if let Err(e) = stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        if e.kind() == io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("tmux-wire: writing output: {e}");
        std::process::exit(1);
    }
}

/// Print one `--json` document (see `docs`) on a line of its own, with
/// its `"version"`. Keys come out in sorted order, as they always have.
pub fn print_doc<T: Serialize>(doc: &T) {
    emit(&doc_line(doc));
}

/// A `--json` document as [`print_doc`] prints it, without the newline.
pub fn doc_line<T: Serialize>(doc: &T) -> String {
    serde_json::to_value(crate::contract::Versioned::new(doc))
        .unwrap_or_default()
        .to_string()
}

/// A spinner on a terminal (elapsed time and a message), nothing otherwise.
pub fn spinner(json: bool, what: &str) -> Option<ProgressBar> {
    if json || !io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {elapsed} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_message(what.to_string());
    bar.enable_steady_tick(Duration::from_millis(100));
    Some(bar)
}

/// A pid, or `-`.
pub fn show_pid(pid: Option<u32>) -> String {
    pid.map_or_else(|| "-".into(), |p| p.to_string())
}

/// A path, or `-`.
pub fn show_path(p: &Option<PathBuf>) -> String {
    p.as_ref()
        .map_or_else(|| "-".into(), |p| p.display().to_string())
}

/// "3m ago" for a Unix time.
pub fn ago(secs: u64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(secs);
    let d = now.saturating_sub(secs);
    match d {
        0..=59 => format!("{d}s ago"),
        60..=3599 => format!("{}m ago", d / 60),
        3600..=86399 => format!("{}h ago", d / 3600),
        _ => format!("{}d ago", d / 86400),
    }
}

/// `N bytes`, or that the count is unknown.
pub fn show_bytes(bytes: Option<u64>) -> String {
    match bytes {
        Some(1) => "1 byte".into(),
        Some(n) => format!("{n} bytes"),
        None => "an unknown number of bytes (the log's index does not say)".into(),
    }
}

/// `at least N line(s)`: the lines of bytes rotated away are not counted.
pub fn show_lines(lines: u64) -> String {
    let s = if lines == 1 { "" } else { "s" };
    format!("at least {lines} line{s}; the lines rotated away cannot be counted")
}
