//! A pane's terminal as the kernel's line discipline sees it: whether the
//! program reads it line by line (canonical mode), where lines end, and so
//! how long a line typed into it can be before the kernel drops the rest.
//!
//! In canonical mode Linux keeps at most [`CANONICAL_LINE_MAX`] bytes of a
//! line that has not ended; what is typed beyond that is thrown away until
//! the line ends (a newline, or EOF, EOL, EOL2), and the program reads the
//! line cut short with nothing to say so. A sender checks before typing.

use rustix::fs::{Mode, OFlags};
use rustix::termios::{self, InputModes, LocalModes, SpecialCodeIndex as Cc};
use std::path::Path;

/// The most bytes of one line a terminal in canonical mode keeps (Linux's
/// `N_TTY_BUF_SIZE` less one, left for the newline).
pub const CANONICAL_LINE_MAX: usize = 4095;

/// How a terminal in canonical mode splits what is typed into lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineRules {
    /// The bytes that end a line: newline, and EOF, EOL and EOL2 where set.
    ends: Vec<u8>,
    /// Carriage return ends a line too (`ICRNL` without `IGNCR`; tmux
    /// types Enter as a carriage return).
    cr_ends: bool,
}

impl LineRules {
    /// The rules of a terminal whose program reads it line by line with
    /// these settings, or `None` when it does not (raw or cbreak mode:
    /// no line limit).
    pub fn of(settings: &termios::Termios) -> Option<LineRules> {
        if !settings.local_modes.contains(LocalModes::ICANON) {
            return None;
        }
        let mut ends = vec![b'\n'];
        for cc in [Cc::VEOF, Cc::VEOL, Cc::VEOL2] {
            // 0 is _POSIX_VDISABLE on Linux: not set.
            let c = settings.special_codes[cc];
            if c != 0 {
                ends.push(c);
            }
        }
        let cr_ends = settings.input_modes.contains(InputModes::ICRNL)
            && !settings.input_modes.contains(InputModes::IGNCR);
        Some(LineRules { ends, cr_ends })
    }

    /// The length of the longest line of `text`, counting the bytes
    /// before each line end (a line still open at the end of `text`
    /// counts as it stands).
    pub fn longest_line(&self, text: &[u8]) -> usize {
        text.split(|b| self.ends.contains(b) || (self.cr_ends && *b == b'\r'))
            .map(<[u8]>::len)
            .max()
            .unwrap_or(0)
    }
}

/// Whether any line of `text` (split at newlines, which end a line in
/// every canonical mode) is longer than a canonical terminal keeps: the
/// check that decides whether the terminal's settings need to be read at
/// all. A terminal can only end lines at more bytes than newline, so a
/// text this says `false` for fits in any mode.
pub fn may_overflow(text: &[u8]) -> bool {
    text.split(|&b| b == b'\n')
        .any(|line| line.len() > CANONICAL_LINE_MAX)
}

/// The line rules of the terminal at `path` (a pane's `#{pane_tty}`), or
/// `None` if it is not in canonical mode. Opening the terminal neither
/// makes it ours (`O_NOCTTY`) nor waits; an error where it cannot be
/// opened or read.
pub fn line_rules(path: &Path) -> rustix::io::Result<Option<LineRules>> {
    let fd = rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::NOCTTY | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    Ok(LineRules::of(&termios::tcgetattr(&fd)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canonical() -> LineRules {
        LineRules {
            ends: vec![b'\n', 4],
            cr_ends: true,
        }
    }

    #[test]
    fn lines_end_at_newline_cr_and_eof() {
        let rules = canonical();
        assert_eq!(rules.longest_line(b""), 0);
        assert_eq!(rules.longest_line(b"abc"), 3);
        assert_eq!(rules.longest_line(b"ab\ncdef\rg"), 4);
        assert_eq!(rules.longest_line(b"abcde\x04fg"), 5);
        let no_cr = LineRules {
            ends: vec![b'\n'],
            cr_ends: false,
        };
        assert_eq!(no_cr.longest_line(b"ab\rcd\nx"), 5);
    }

    #[test]
    fn only_a_long_line_between_newlines_needs_a_look() {
        let long = vec![b'x'; CANONICAL_LINE_MAX + 1];
        assert!(may_overflow(&long));
        assert!(!may_overflow(&long[1..]));
        let mut split = long.clone();
        split[100] = b'\n';
        assert!(!may_overflow(&split));
        // A carriage return may or may not end the line: look.
        split[100] = b'\r';
        assert!(may_overflow(&split));
    }

    #[test]
    fn a_terminal_in_canonical_mode_is_read() {
        // A pty of our own, as tmux makes one for a pane.
        use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};
        use std::os::unix::ffi::OsStrExt;
        use std::os::unix::fs::OpenOptionsExt;
        let controller = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).expect("openpt");
        grantpt(&controller).expect("grantpt");
        unlockpt(&controller).expect("unlockpt");
        let name = ptsname(&controller, Vec::new()).expect("ptsname");
        let path = Path::new(std::ffi::OsStr::from_bytes(name.to_bytes())).to_path_buf();
        let terminal = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(crate::os::O_NOCTTY)
            .open(&path)
            .expect("open the terminal");
        let rules = line_rules(&path).expect("read").expect("canonical");
        assert_eq!(rules.longest_line(b"abc\r12345"), 5);
        let mut raw = termios::tcgetattr(&terminal).expect("tcgetattr");
        raw.make_raw();
        termios::tcsetattr(&terminal, termios::OptionalActions::Now, &raw).expect("tcsetattr");
        assert_eq!(line_rules(&path).expect("read"), None);
    }
}
