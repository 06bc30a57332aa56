//! The command a start runs: whether it can run at all, the environment it
//! gets, and how it is quoted for tmux, for `sh` and for display.

use super::KeeperError;
use std::path::{Path, PathBuf};

/// Refuse a command that cannot be run, as the shell would (127: not
/// found, 126: not executable). A single argument with shell syntax in it
/// is a shell command line (tmux runs it with `sh -c`), whose words are the
/// shell's business; a bare word is looked up like a program.
pub(super) fn check_runnable(
    argv: &[String],
    cwd: &Path,
    env: &[(String, String)],
) -> Result<(), KeeperError> {
    use std::os::unix::fs::PermissionsExt;
    let program = &argv[0];
    let shell_line = argv.len() == 1
        && program
            .chars()
            .any(|c| c.is_whitespace() || "|&;<>()$`\\\"'*?[]#~=%{}".contains(c));
    if shell_line {
        return Ok(());
    }
    let candidates: Vec<PathBuf> = if program.contains('/') {
        vec![cwd.join(program)]
    } else {
        let path = env
            .iter()
            .find(|(k, _)| k == "PATH")
            .map(|(_, v)| v.as_str())
            .unwrap_or("/usr/local/bin:/usr/bin:/bin");
        path.split(':')
            .map(|dir| {
                if dir.is_empty() {
                    cwd.to_path_buf()
                } else {
                    cwd.join(dir)
                }
            })
            .map(|dir| dir.join(program))
            .collect()
    };
    let mut found_unexecutable = false;
    for candidate in candidates {
        match std::fs::metadata(&candidate) {
            Ok(meta) if meta.is_file() && meta.permissions().mode() & 0o111 != 0 => return Ok(()),
            Ok(_) => found_unexecutable = true,
            Err(_) => {}
        }
    }
    let (reason, code) = if found_unexecutable {
        ("not executable", 126)
    } else if program.contains('/') {
        ("no such file", 127)
    } else {
        ("command not found", 127)
    };
    Err(KeeperError::CannotRun {
        program: program.clone(),
        reason,
        code,
    })
}

/// Whether `name=value` can be set in a process's environment: a name
/// that is not empty and holds no `=`, whitespace, control character or
/// NUL (a name with a space, say, is a quoting slip that no shell could
/// read back), and a value without NUL (newlines are fine). The reason
/// where it cannot.
pub fn check_env(name: &str, value: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the name is empty".into());
    }
    if let Some(c) = name
        .chars()
        .find(|c| *c == '=' || c.is_whitespace() || c.is_control())
    {
        return Err(format!(
            "the name holds {c:?}: a name holds no '=', whitespace or control characters"
        ));
    }
    if value.contains('\0') {
        return Err("the value holds a NUL byte, which no environment can carry".into());
    }
    Ok(())
}

/// The caller's environment, without the variables that describe the
/// caller's own tmux, plus `overrides`. Every value tmux can carry goes
/// (newlines too: the command line writes them as `\n`); a caller's
/// variable that cannot (not UTF-8) is left out with a warning, and an
/// override that cannot is refused.
pub(super) fn environment(
    overrides: &[(String, String)],
) -> Result<Vec<(String, String)>, KeeperError> {
    for (k, v) in overrides {
        check_env(k, v)
            .map_err(|e| KeeperError::BadCommand(format!("environment variable {k:?}: {e}")))?;
    }
    let mut env: std::collections::BTreeMap<String, String> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .filter(|(k, _)| k != "TMUX" && k != "TMUX_PANE")
        .collect();
    for (k, v) in overrides {
        env.insert(k.clone(), v.clone());
    }
    Ok(env
        .into_iter()
        .filter(|(k, v)| {
            let ok = !k.is_empty() && !k.contains('=') && !format!("{k}{v}").contains('\0');
            if !ok {
                ::log::warn!("environment variable {k:?} not passed: tmux cannot take its value");
            }
            ok
        })
        .collect())
}

/// Escape `#` for arguments tmux expands as formats (`-c`, the pipe-pane
/// command).
pub(super) fn format_escape(s: &str) -> String {
    s.replace('#', "##")
}

/// Quote for `sh`.
pub(super) fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A command line for display, on one line: words quoted for `sh` where
/// needed, and a word with control characters (a newline) in `$'...'` with
/// them escaped, as bash writes it. (A newline stored raw in an option
/// would split tmux's one-line answers about the process.)
pub(super) fn shell_words(argv: &[String]) -> String {
    argv.iter()
        .map(|a| {
            if !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
            {
                a.clone()
            } else if a.chars().any(char::is_control) {
                let mut out = String::from("$'");
                for c in a.chars() {
                    match c {
                        '\n' => out.push_str("\\n"),
                        '\r' => out.push_str("\\r"),
                        '\t' => out.push_str("\\t"),
                        '\\' | '\'' => {
                            out.push('\\');
                            out.push(c);
                        }
                        c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
                        c => out.push(c),
                    }
                }
                out.push('\'');
                out
            } else {
                sh_quote(a)
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_commands_stay_on_one_line() {
        let argv: Vec<String> = ["sh", "-c", "echo a\necho 'b'\t", "x y"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            shell_words(&argv),
            "sh -c $'echo a\\necho \\'b\\'\\t' 'x y'"
        );
    }
}
