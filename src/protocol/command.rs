//! Building control-mode command lines: the one place that quotes.
//!
//! tmux parses every control-mode input line with its full command parser
//! (`cmd-parse.y`), so each argument must be quoted such that the parser reads
//! back exactly that argument:
//!
//! - Words made only of `A-Z a-z 0-9 _ - . / : @ , +` go bare.
//! - Anything else goes in single quotes, inside which tmux expands nothing
//!   (no `$`, `~`, `\`, `#`, `;`, `{`, `%` processing).
//! - A single quote cannot appear inside single quotes, so an argument that
//!   contains one goes in double quotes, with `\`, `"`, `$` and `~` escaped by
//!   a backslash (tmux expands `~` at the start of a quoted part, and `$VAR`
//!   and backslash escapes anywhere inside double quotes).
//! - LF and CR cannot be on the line (a line ends at LF), so an argument
//!   with either goes in double quotes too, written as the parser's `\n`
//!   and `\r` escapes.
//!
//! Refused, with [`ProtocolError::BadArgument`]: NUL (tmux reads C strings)
//! and invalid UTF-8 (it breaks tmux's parser); send such data with
//! `send-keys -H`. A command name of the form `NAME=value` is refused too:
//! tmux reads it as an environment assignment, which produces no reply
//! block and would break reply pairing.

use super::error::ProtocolError;
use std::fmt;

/// A tmux command: its name and arguments, each checked to be sendable.
///
/// ```
/// use tmux_wire::protocol::Command;
/// let cmd = Command::new("display-message").arg("-p").arg("#{session_name} it's");
/// assert_eq!(cmd.to_line().unwrap(), "display-message -p \"#{session_name} it's\"\n");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    argv: Vec<Vec<u8>>,
}

impl Command {
    /// A command with just its name.
    pub fn new(name: impl AsRef<[u8]>) -> Self {
        Command {
            argv: vec![name.as_ref().to_vec()],
        }
    }

    /// A command from a whole argv (the first element is the name).
    pub fn from_argv<I, S>(argv: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<[u8]>,
    {
        Command {
            argv: argv.into_iter().map(|a| a.as_ref().to_vec()).collect(),
        }
    }

    /// Append one argument.
    pub fn arg(mut self, arg: impl AsRef<[u8]>) -> Self {
        self.argv.push(arg.as_ref().to_vec());
        self
    }

    /// Append several arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<[u8]>,
    {
        self.argv
            .extend(args.into_iter().map(|a| a.as_ref().to_vec()));
        self
    }

    /// The argv as given.
    pub fn argv(&self) -> &[Vec<u8>] {
        &self.argv
    }

    /// `list-commands -F '#{version}' list-commands`: the server's version.
    /// It needs no session on any version (`display-message` does before
    /// 3.2, on a server with none), and names only itself.
    pub fn version_query() -> Command {
        Command::from_argv(["list-commands", "-F", "#{version}", "list-commands"])
    }

    /// The argv as strings (for an initial command, which a connection
    /// takes as text); invalid UTF-8 is replaced.
    pub fn to_strings(&self) -> Vec<String> {
        self.argv
            .iter()
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect()
    }

    /// The control-mode input line for this command, ending in `\n`.
    pub fn to_line(&self) -> Result<String, ProtocolError> {
        let mut line = String::new();
        self.write_quoted(&mut line)?;
        line.push('\n');
        Ok(line)
    }

    fn write_quoted(&self, out: &mut String) -> Result<(), ProtocolError> {
        let Some(name) = self.argv.first() else {
            return Err(ProtocolError::EmptyCommand);
        };
        if is_assignment(name) {
            return Err(ProtocolError::BadArgument {
                index: 0,
                reason:
                    "a command name of the form NAME=value is an environment assignment to tmux"
                        .into(),
            });
        }
        for (index, arg) in self.argv.iter().enumerate() {
            if index > 0 {
                out.push(' ');
            }
            push_quoted(out, index, arg)?;
        }
        Ok(())
    }
}

/// Several commands on one line, separated by ` ; `.
///
/// Note that tmux drops the rest of such a line, with no reply block, once
/// one of its commands fails; send one command per line when replies must
/// be paired one-to-one.
pub fn command_list_line(commands: &[Command]) -> Result<String, ProtocolError> {
    if commands.is_empty() {
        return Err(ProtocolError::EmptyCommand);
    }
    let mut line = String::new();
    for (i, cmd) in commands.iter().enumerate() {
        if i > 0 {
            line.push_str(" ; ");
        }
        cmd.write_quoted(&mut line)?;
    }
    line.push('\n');
    Ok(line)
}

impl fmt::Display for Command {
    /// The quoted line without `\n`, or a marker when it cannot be sent.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut line = String::new();
        match self.write_quoted(&mut line) {
            Ok(()) => f.write_str(&line),
            Err(e) => write!(f, "<unsendable command: {e}>"),
        }
    }
}

fn is_bare(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'/' | b':' | b'@' | b',' | b'+')
}

/// tmux's `yylex_is_var` rule: `[A-Za-z_][A-Za-z0-9_]*=` starts an assignment.
fn is_assignment(word: &[u8]) -> bool {
    let Some(eq) = word.iter().position(|&b| b == b'=') else {
        return false;
    };
    let name = &word[..eq];
    match name.first() {
        Some(first) if first.is_ascii_alphabetic() || *first == b'_' => {
            name.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_')
        }
        _ => false,
    }
}

fn push_quoted(out: &mut String, index: usize, arg: &[u8]) -> Result<(), ProtocolError> {
    let bad = |reason: &'static str| ProtocolError::BadArgument {
        index,
        reason: reason.into(),
    };
    let text = std::str::from_utf8(arg)
        .map_err(|_| bad("not valid UTF-8 (send bytes with send-keys -H)"))?;
    if arg.contains(&0) {
        return Err(bad("contains a NUL byte"));
    }
    if !arg.is_empty() && arg.iter().all(|&b| is_bare(b)) {
        out.push_str(text);
    } else if !arg.iter().any(|b| matches!(b, b'\'' | b'\n' | b'\r')) {
        out.push('\'');
        out.push_str(text);
        out.push('\'');
    } else {
        out.push('"');
        for c in text.chars() {
            match c {
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\\' | '"' | '$' | '~' => {
                    out.push('\\');
                    out.push(c);
                }
                _ => out.push(c),
            }
        }
        out.push('"');
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(argv: &[&str]) -> String {
        Command::from_argv(argv).to_line().unwrap()
    }

    #[test]
    fn quoting() {
        assert_eq!(line(&["list-windows"]), "list-windows\n");
        assert_eq!(
            line(&["send-keys", "-t", "%1", "C-c"]),
            "send-keys -t '%1' C-c\n"
        );
        assert_eq!(
            line(&["display", "-p", "#{version}"]),
            "display -p '#{version}'\n"
        );
        assert_eq!(line(&["set-buffer", ""]), "set-buffer ''\n");
        assert_eq!(line(&["set-buffer", "a;b c"]), "set-buffer 'a;b c'\n");
        assert_eq!(
            line(&["set-buffer", "it's $HOME ~ \\ \""]),
            "set-buffer \"it's \\$HOME \\~ \\\\ \\\"\"\n"
        );
        assert_eq!(line(&["set", "@x", "FOO=bar"]), "set @x 'FOO=bar'\n");
        // Line ends go as the parser's escapes, on one line.
        assert_eq!(
            line(&["set-buffer", "a\nb\r'$"]),
            "set-buffer \"a\\nb\\r'\\$\"\n"
        );
    }

    #[test]
    fn refusals() {
        let err = |argv: &[&[u8]]| Command::from_argv(argv).to_line().unwrap_err();
        assert!(matches!(
            err(&[b"display", b"a\0b"]),
            ProtocolError::BadArgument { index: 1, .. }
        ));
        assert!(matches!(
            err(&[b"display", b"\xff"]),
            ProtocolError::BadArgument { index: 1, .. }
        ));
        assert!(matches!(
            err(&[b"FOO=bar"]),
            ProtocolError::BadArgument { index: 0, .. }
        ));
        assert_eq!(
            Command::from_argv(Vec::<&str>::new())
                .to_line()
                .unwrap_err(),
            ProtocolError::EmptyCommand
        );
        assert_eq!(
            command_list_line(&[]).unwrap_err(),
            ProtocolError::EmptyCommand
        );
        // `=` later in a name, or after a non-name prefix, is not an assignment.
        assert!(Command::new("1A=b").to_line().is_ok());
    }

    #[test]
    fn lists() {
        let l = command_list_line(&[
            Command::new("display").arg("-p").arg("a"),
            Command::new("display").arg("-p").arg(";"),
        ])
        .unwrap();
        assert_eq!(l, "display -p a ; display -p ';'\n");
    }
}
