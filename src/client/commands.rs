//! tmux commands as typed values: the one place the layers above build the
//! argv of a tmux command. Each function returns a
//! [`Command`] for [`Client::command`](super::Client::command)
//! (or a batch for [`Client::enqueue_together`](super::Client::enqueue_together));
//! answers are read with [`Reply::text`](crate::protocol::Reply::text),
//! [`Reply::parse`](crate::protocol::Reply::parse) or a
//! [`FormatQuery`](crate::protocol::FormatQuery), and failures classified
//! with [`ClientError::kind`](super::ClientError::kind).
//!
//! Targets are anything that prints as a tmux target: a [`PaneId`], a
//! [`SessionId`](crate::protocol::SessionId), or [`session`] for a session
//! by exact name.
//!
//! ```no_run
//! # async fn demo(client: tmux_wire::client::Client) -> Result<(), Box<dyn std::error::Error>> {
//! use tmux_wire::client::commands;
//! use tmux_wire::protocol::PaneId;
//! let pane: PaneId = client.command(commands::display(commands::session("web"), "#{pane_id}")).await?.parse()?;
//! let screen = client.command(commands::capture(pane)).await?.content();
//! # Ok(()) }
//! ```

use crate::protocol::{Command, PaneId};
use std::fmt::Display;

/// The target of the session named exactly `name`: `=NAME:`, the one form
/// of it every command is given.
///
/// - The `=` makes tmux match the name exactly: without it a prefix or a
///   pattern matches too (`-t web` finds `web2` when there is no `web`).
/// - The `:` ends the session part. A command whose target is a window or
///   a pane (`set-option`, `display-message`, `capture-pane`, `send-keys`)
///   reads a bare `=NAME` as a window or pane and fails; one whose target
///   is a session (`kill-session`, `attach-session`, `has-session`,
///   `list-panes -s`) takes `=NAME:` as that session (an empty window part
///   is no window).
pub fn session(name: &str) -> String {
    format!("={name}:")
}

fn targeted(name: &str, target: impl Display) -> Command {
    Command::new(name).arg("-t").arg(target.to_string())
}

/// `display-message -p -t TARGET FORMAT`: expand a format. When the target
/// is gone tmux may answer for the current pane instead, so a format that
/// must describe the target should carry its id (`#{pane_id}`).
pub fn display(target: impl Display, format: &str) -> Command {
    Command::new("display-message")
        .arg("-p")
        .arg("-t")
        .arg(target.to_string())
        .arg(format)
}

/// `capture-pane -p -t PANE`: the visible screen, one line per row.
pub fn capture(pane: PaneId) -> Command {
    targeted("capture-pane", pane).arg("-p")
}

/// `capture-pane -p -J -S -LINES -t PANE`: the screen and up to `lines` of
/// history, wrapped lines joined.
pub fn capture_joined(pane: PaneId, lines: u32) -> Command {
    Command::new("capture-pane")
        .arg("-p")
        .arg("-J")
        .arg("-S")
        .arg(format!("-{lines}"))
        .arg("-t")
        .arg(pane.to_string())
}

/// `capture-pane -p -J -S - -t PANE`: the whole history and the screen,
/// wrapped lines joined.
pub fn capture_joined_all(pane: PaneId) -> Command {
    Command::new("capture-pane")
        .arg("-p")
        .arg("-J")
        .arg("-S")
        .arg("-")
        .arg("-t")
        .arg(pane.to_string())
}

/// `capture-pane -p -J -S START -t PANE`: from row `start` of the screen
/// (negative: of the history above it, -1 the newest) to the end of the
/// screen, wrapped lines joined.
pub fn capture_joined_from(pane: PaneId, start: i64) -> Command {
    Command::new("capture-pane")
        .arg("-p")
        .arg("-J")
        .arg("-S")
        .arg(start.to_string())
        .arg("-t")
        .arg(pane.to_string())
}

/// `send-keys -t PANE KEY...`: press keys by tmux name (`Enter`, `C-c`).
pub fn send_keys<K: AsRef<[u8]>>(pane: PaneId, keys: impl IntoIterator<Item = K>) -> Command {
    targeted("send-keys", pane).args(keys)
}

/// Characters per `send-keys -l` command.
const LITERAL_CHUNK: usize = 512;
/// Bytes per `send-keys -H` command.
const HEX_CHUNK: usize = 128;

/// The `send-keys` commands that type `text` into `pane` exactly, any
/// bytes: printable text literally (`-l --`, in pieces of at most 512
/// characters), control characters and invalid UTF-8 as raw bytes (`-H`),
/// in order. Send them together ([`Client::enqueue_together`](super::Client::enqueue_together))
/// so nothing comes between them.
pub fn send_text(pane: PaneId, text: &[u8]) -> Vec<Command> {
    let literal = |s: &str| targeted("send-keys", pane).arg("-l").arg("--").arg(s);
    let mut out = Vec::new();
    let mut hex: Vec<u8> = Vec::new();
    let flush_hex = |hex: &mut Vec<u8>, out: &mut Vec<Command>| {
        for chunk in hex.chunks(HEX_CHUNK) {
            out.push(
                targeted("send-keys", pane)
                    .arg("-H")
                    .args(chunk.iter().map(|b| format!("{b:02x}"))),
            );
        }
        hex.clear();
    };
    for piece in text.utf8_chunks() {
        let mut run = String::new();
        for c in piece.valid().chars() {
            if c.is_control() {
                if !run.is_empty() {
                    flush_hex(&mut hex, &mut out);
                    out.extend(chunks(&run).map(literal));
                    run.clear();
                }
                let mut buf = [0u8; 4];
                hex.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            } else {
                if run.is_empty() {
                    flush_hex(&mut hex, &mut out);
                }
                run.push(c);
            }
        }
        if !run.is_empty() {
            flush_hex(&mut hex, &mut out);
            out.extend(chunks(&run).map(literal));
        }
        hex.extend_from_slice(piece.invalid());
    }
    flush_hex(&mut hex, &mut out);
    out
}

/// `s` in pieces of at most [`LITERAL_CHUNK`] characters.
fn chunks(s: &str) -> impl Iterator<Item = &str> {
    let mut rest = s;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let end = rest
            .char_indices()
            .nth(LITERAL_CHUNK)
            .map_or(rest.len(), |(i, _)| i);
        let (head, tail) = rest.split_at(end);
        rest = tail;
        Some(head)
    })
}

/// `set-option -t TARGET NAME VALUE` (a session option with a session
/// target: [`session`]).
pub fn set_option(target: impl Display, name: &str, value: &str) -> Command {
    targeted("set-option", target).arg(name).arg(value)
}

/// `set-option -p -t PANE NAME VALUE`.
pub fn set_pane_option(pane: PaneId, name: &str, value: &str) -> Command {
    Command::new("set-option")
        .arg("-p")
        .arg("-t")
        .arg(pane.to_string())
        .arg(name)
        .arg(value)
}

/// `set-option -p -o -t PANE NAME VALUE`: only if the pane has no value of
/// its own yet (otherwise [`ErrorKind::AlreadySet`](super::ErrorKind::AlreadySet)).
pub fn set_pane_option_once(pane: PaneId, name: &str, value: &str) -> Command {
    Command::new("set-option")
        .arg("-p")
        .arg("-o")
        .arg("-t")
        .arg(pane.to_string())
        .arg(name)
        .arg(value)
}

/// `set-option -p -F -t PANE NAME FORMAT`: the value is `format` expanded.
pub fn set_pane_option_format(pane: PaneId, name: &str, format: &str) -> Command {
    Command::new("set-option")
        .arg("-p")
        .arg("-F")
        .arg("-t")
        .arg(pane.to_string())
        .arg(name)
        .arg(format)
}

/// `set-option -p -u -t PANE NAME`: drop the pane's own value.
pub fn unset_pane_option(pane: PaneId, name: &str) -> Command {
    Command::new("set-option")
        .arg("-p")
        .arg("-u")
        .arg("-t")
        .arg(pane.to_string())
        .arg(name)
}

/// Which value of an option to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptionValue {
    /// The target's own value; empty when it has none (`-q`: since 3.3
    /// reading an unset user option is otherwise an error).
    Own,
    /// The value in force, inherited if the target has none of its own
    /// (`-A`).
    InForce,
}

/// `show-options -p -v (-q|-A) -t PANE NAME`.
pub fn show_pane_option(pane: PaneId, name: &str, which: OptionValue) -> Command {
    Command::new("show-options")
        .arg("-p")
        .arg("-v")
        .arg(match which {
            OptionValue::Own => "-q",
            OptionValue::InForce => "-A",
        })
        .arg("-t")
        .arg(pane.to_string())
        .arg(name)
}

/// `set-hook -g HOOK COMMAND` (a hook with an index, `pane-died[42]`,
/// adds to the hook's other entries).
pub fn set_global_hook(hook: &str, command: &str) -> Command {
    Command::new("set-hook").arg("-g").arg(hook).arg(command)
}

/// `show-hooks -g HOOK`: a global hook's entries, one a line
/// (`client-detached[42] display-message x`).
pub fn show_global_hook(hook: &str) -> Command {
    Command::new("show-hooks").arg("-g").arg(hook)
}

/// `set-hook -g -u HOOK`: remove a global hook (one entry with an index,
/// `client-detached[42]`).
pub fn unset_global_hook(hook: &str) -> Command {
    Command::new("set-hook").arg("-g").arg("-u").arg(hook)
}

/// `set-option -g -F NAME FORMAT`: a global (server-wide session) option,
/// the value `format` expanded.
pub fn set_global_option_format(name: &str, format: &str) -> Command {
    Command::new("set-option")
        .arg("-g")
        .arg("-F")
        .arg(name)
        .arg(format)
}

/// `show-options -g -v -q NAME`: a global option's value (empty if unset).
pub fn show_global_option(name: &str) -> Command {
    Command::new("show-options")
        .arg("-g")
        .arg("-v")
        .arg("-q")
        .arg(name)
}

/// `wait-for CHANNEL`: block this connection's queue until the channel is
/// signalled.
pub fn wait_for(channel: &str) -> Command {
    Command::new("wait-for").arg(channel)
}

/// `new-session -d -s NAME -c DIR -P -F FORMAT COMMAND...`: a detached
/// session running `command`, answering `format` for its pane. tmux
/// expands formats in `dir` (escape `#` as `##`).
pub fn new_session<S: AsRef<[u8]>>(
    name: &str,
    dir: &str,
    format: &str,
    command: impl IntoIterator<Item = S>,
) -> Command {
    Command::new("new-session")
        .args(["-d", "-s", name, "-c", dir, "-P", "-F", format])
        .args(command)
}

/// `respawn-pane -k -t PANE -c DIR [-e K=V]... COMMAND...`: kill what the
/// pane runs and run `command` there instead.
pub fn respawn_pane<S: AsRef<[u8]>>(
    pane: PaneId,
    dir: &str,
    env: &[(String, String)],
    command: impl IntoIterator<Item = S>,
) -> Command {
    let mut c = Command::new("respawn-pane")
        .arg("-k")
        .arg("-t")
        .arg(pane.to_string())
        .arg("-c")
        .arg(dir);
    for (key, value) in env {
        c = c.arg("-e").arg(format!("{key}={value}"));
    }
    c.args(command)
}

/// `pipe-pane -O -t PANE SHELL_COMMAND`: the pane's output from now on into
/// a shell command (formats in it are expanded).
pub fn pipe_output(pane: PaneId, shell_command: &str) -> Command {
    targeted("pipe-pane", pane).arg("-O").arg(shell_command)
}

/// `list-panes -s -t SESSION -F FORMAT`: the panes of one session.
pub fn list_session_panes(session: impl Display, format: &str) -> Command {
    Command::new("list-panes")
        .arg("-s")
        .arg("-t")
        .arg(session.to_string())
        .arg("-F")
        .arg(format)
}

/// `list-panes -a -F FORMAT`: every pane of the server.
pub fn list_all_panes(format: &str) -> Command {
    Command::new("list-panes").arg("-a").arg("-F").arg(format)
}

/// Whether a capture keeps the escape sequences of colours and
/// attributes (`capture-pane -e`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escapes {
    /// Text only.
    Strip,
    /// With the escape sequences.
    Keep,
}

/// `capture-pane -p -J -S - -t PANE` (`-e` to keep `escapes`): the whole
/// history and screen, wrapped lines joined.
pub fn capture_history(pane: PaneId, escapes: Escapes) -> Command {
    let c = Command::new("capture-pane").args(["-p", "-J", "-S", "-", "-t"]);
    let c = c.arg(pane.to_string());
    if escapes == Escapes::Keep {
        c.arg("-e")
    } else {
        c
    }
}

/// `kill-server`.
pub fn kill_server() -> Command {
    Command::new("kill-server")
}

/// `kill-pane -t PANE`.
pub fn kill_pane(pane: PaneId) -> Command {
    targeted("kill-pane", pane)
}

/// `kill-session -t TARGET`.
pub fn kill_session(target: impl Display) -> Command {
    targeted("kill-session", target)
}

/// `attach-session -f FLAGS -t TARGET`: the initial command of a
/// connection to one session.
pub fn attach(target: impl Display, flags: &str) -> Command {
    Command::new("attach-session")
        .arg("-f")
        .arg(flags)
        .arg("-t")
        .arg(target.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(c: Command) -> String {
        c.to_line().unwrap()
    }

    #[test]
    fn commands_read_as_tmux_takes_them() {
        let p = PaneId(4);
        assert_eq!(
            line(display(p, "#{pane_id}")),
            "display-message -p -t '%4' '#{pane_id}'\n"
        );
        assert_eq!(
            line(display(session("a b"), "x")),
            "display-message -p -t '=a b:' x\n"
        );
        assert_eq!(line(capture(p)), "capture-pane -t '%4' -p\n");
        assert_eq!(
            line(show_pane_option(p, "@x", OptionValue::Own)),
            "show-options -p -v -q -t '%4' @x\n"
        );
        assert_eq!(
            line(set_pane_option_once(p, "@x", "-")),
            "set-option -p -o -t '%4' @x -\n"
        );
        assert_eq!(
            attach("=w:", "no-output").to_strings(),
            ["attach-session", "-f", "no-output", "-t", "=w:"]
        );
    }

    #[test]
    fn text_becomes_literal_and_hex_in_order() {
        let pane = PaneId(3);
        let flat: Vec<String> = send_text(pane, b"a;b\tc\xff\n")
            .iter()
            .map(|c| c.to_strings()[3..].join(" "))
            .collect();
        assert_eq!(flat, ["-l -- a;b", "-H 09", "-l -- c", "-H ff 0a"]);
        let long = "é".repeat(LITERAL_CHUNK * 2 + 1);
        let cmds = send_text(pane, long.as_bytes());
        assert_eq!(cmds.len(), 3);
        assert_eq!(
            cmds.iter()
                .map(|c| c.to_strings()[5].clone())
                .collect::<String>(),
            long
        );
    }
}
