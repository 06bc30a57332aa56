//! What a terminal's program is waiting for, seen in `/proc`: whether a
//! process sleeps reading its terminal, where a shell waits at its
//! prompt, and what typed input waits to be read. Elsewhere (other
//! systems, a server in another namespace) these give `None`.
//!
//! Only the waits for input use some of it; the rest is the keeper's
//! (feature `keeper`).
#![cfg_attr(not(feature = "keeper"), allow(dead_code))]

use crate::os::process::process_running;
use crate::os::procfs::stat_fields as proc_stat;

/// System call numbers that wait for input on a file descriptor: those
/// whose first argument is the fd, and those whose first argument is a
/// count of fds (the select family: fds 0 to count - 1).
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
mod syscalls {
    pub(super) const READ_FD: &[i64] = &[0, 17, 19]; // read, pread64, readv
    pub(super) const SELECT: &[i64] = &[23, 270]; // select, pselect6
    pub(super) const POLL: &[i64] = &[7, 271]; // poll, ppoll
}
#[cfg(all(target_os = "linux", target_arch = "aarch64"))]
mod syscalls {
    pub(super) const READ_FD: &[i64] = &[63, 65, 67]; // read, readv, pread64
    pub(super) const SELECT: &[i64] = &[72]; // pselect6
    pub(super) const POLL: &[i64] = &[73]; // ppoll
}

/// Whether the foreground program of the terminal that process `pid` (a
/// pane's process) runs on is blocked waiting to read that terminal:
/// some process of the terminal's foreground process group sleeps in a
/// `read` of the terminal, or in a `select`/`poll` that includes it
/// (`/proc/PID/stat`, `/proc/PID/syscall`, `/proc/PID/fd`). `None` where
/// this cannot be seen: not Linux on x86_64 or aarch64, another pid
/// namespace, or `/proc/PID/syscall` not readable (ptrace restrictions).
pub(crate) fn reading_terminal(pid: i32) -> Option<bool> {
    #[cfg(all(
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    ))]
    {
        let fields = proc_stat(pid)?;
        // After the state: ppid, pgrp, session, tty_nr, tpgid.
        let tty: u64 = fields.get(4)?.parse().ok()?;
        let foreground: i32 = fields.get(5)?.parse().ok()?;
        if tty == 0 || foreground <= 0 {
            return Some(false);
        }
        let (major, minor) = ((tty >> 8) & 0xfff, (tty & 0xff) | ((tty >> 12) & 0xfff00));
        // Processes this side cannot look into (another user's, `sudo`):
        // the answer is unknown only if no process could be looked at.
        let (mut unknown, mut seen) = (false, false);
        for other in crate::os::procfs::pids()? {
            let Some(stat) = proc_stat(other) else {
                continue;
            };
            if stat.get(2).and_then(|g| g.parse::<i32>().ok()) != Some(foreground) {
                continue;
            }
            // `/dev/tty` (5:0) is the terminal of a process whose own
            // terminal is this one (getpass, ssh and gpg prompts read it).
            let own_tty = stat.get(4).and_then(|t| t.parse::<u64>().ok()) == Some(tty);
            match blocked_on_terminal(other, major, minor, own_tty) {
                Some(true) => return Some(true),
                Some(false) => seen = true,
                None => unknown = true,
            }
        }
        if unknown && !seen {
            None
        } else {
            Some(false)
        }
    }
    #[cfg(not(all(
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    )))]
    {
        let _ = pid;
        None
    }
}

/// Whether `pid` sleeps waiting to read the terminal `major:minor`.
#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
fn blocked_on_terminal(pid: i32, major: u64, minor: u64, own_tty: bool) -> Option<bool> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let is_terminal = |fd: i64| {
        std::fs::metadata(format!("/proc/{pid}/fd/{fd}")).is_ok_and(|m| {
            let dev = m.rdev();
            let (ma, mi) = (
                u64::from(rustix::fs::major(dev)),
                u64::from(rustix::fs::minor(dev)),
            );
            m.file_type().is_char_device()
                && ((ma == major && mi == minor) || (own_tty && ma == 5 && mi == 0))
        })
    };
    let text = match std::fs::read_to_string(format!("/proc/{pid}/syscall")) {
        Ok(text) => text,
        // It exited meanwhile: not waiting.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Some(false),
        Err(_) => return None,
    };
    let mut words = text.split_whitespace();
    let number: i64 = match words.next()?.parse() {
        Ok(n) => n,
        // "running", or -1 (not in a system call): not waiting.
        Err(_) => return Some(false),
    };
    let arg =
        |w: Option<&str>| w.and_then(|a| i64::from_str_radix(a.trim_start_matches("0x"), 16).ok());
    let first = arg(words.next());
    let second = arg(words.next());
    if syscalls::READ_FD.contains(&number) {
        return Some(first.is_some_and(is_terminal));
    }
    if syscalls::SELECT.contains(&number) {
        // The read set: `count` bits at the second argument (NULL: none).
        let (count, set) = (first?.clamp(0, 1024), second?);
        if set == 0 || count == 0 {
            return Some(false);
        }
        let mut mem = std::fs::File::open(format!("/proc/{pid}/mem")).ok()?;
        use std::io::{Read, Seek, SeekFrom};
        mem.seek(SeekFrom::Start(set as u64)).ok()?;
        let mut bits = vec![0u8; (count as usize).div_ceil(64) * 8];
        mem.read_exact(&mut bits).ok()?;
        return Some(
            (0..count).any(|fd| bits[fd as usize / 8] & (1 << (fd % 8)) != 0 && is_terminal(fd)),
        );
    }
    if syscalls::POLL.contains(&number) {
        let (array, count) = (first?, second?.clamp(0, 1024));
        // The pollfd array: { int fd; short events; short revents; }.
        let mut mem = std::fs::File::open(format!("/proc/{pid}/mem")).ok()?;
        use std::io::{Read, Seek, SeekFrom};
        mem.seek(SeekFrom::Start(array as u64)).ok()?;
        let mut buf = vec![0u8; count as usize * 8];
        mem.read_exact(&mut buf).ok()?;
        return Some(buf.chunks(8).any(|p| {
            let fd = i32::from_ne_bytes([p[0], p[1], p[2], p[3]]);
            let events = i16::from_ne_bytes([p[4], p[5]]);
            // POLLIN or POLLPRI on the terminal.
            fd >= 0 && events & 0x3 != 0 && is_terminal(i64::from(fd))
        }));
    }
    Some(false)
}

/// The terminal (`major`, `minor`) and foreground process group of
/// process `pid`'s terminal, and `pid`'s own process group; `None` where
/// `/proc` cannot say or it has no terminal.
#[cfg(target_os = "linux")]
fn terminal_of(pid: i32) -> Option<((u64, u64), i32, i32)> {
    let fields = proc_stat(pid)?;
    // After the state: ppid, pgrp, session, tty_nr, tpgid.
    let group: i32 = fields.get(2)?.parse().ok()?;
    let tty: u64 = fields.get(4)?.parse().ok()?;
    let foreground: i32 = fields.get(5)?.parse().ok()?;
    if tty == 0 || foreground <= 0 {
        return None;
    }
    let (major, minor) = ((tty >> 8) & 0xfff, (tty & 0xff) | ((tty >> 12) & 0xfff00));
    Some(((major, minor), foreground, group))
}

/// Whether process `pid` itself (a pane's shell, not a program it runs)
/// is in the foreground of its terminal and sleeps reading it: a shell at
/// a prompt (or in a `read` of its own). `None` where this cannot be seen
/// (see [`reading_terminal`]).
pub(crate) fn itself_reading_terminal(pid: i32) -> Option<bool> {
    #[cfg(all(
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    ))]
    {
        let Some(((major, minor), foreground, group)) = terminal_of(pid) else {
            return process_running(pid).then_some(false);
        };
        if foreground != group {
            return Some(false);
        }
        blocked_on_terminal(pid, major, minor, true)
    }
    #[cfg(not(all(
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    )))]
    {
        let _ = pid;
        None
    }
}

/// Where and how a shell waits for its terminal: the system call it
/// sleeps in, at which stack pointer and instruction, and the terminal's
/// settings then. Two equal ones mean the same wait: the same line editor
/// at the same prompt (a `read` of the shell's own sleeps deeper or
/// shallower in the stack, and most set the terminal otherwise). See
/// [`waiting_place`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WaitPlace {
    /// System call number, stack pointer, instruction pointer.
    call: (i64, u64, u64),
    /// The terminal's flags (input, output, control, local) and control
    /// characters.
    flags: (u64, u64, u64, u64),
    chars: Vec<u8>,
    /// Whether the terminal is in canonical mode (`ICANON`): the program
    /// waiting has no line editor of its own.
    pub canonical: bool,
}

/// Where process `pid` (a pane's shell) waits for its terminal: `None`
/// unless it is itself asleep reading it (see [`itself_reading_terminal`])
/// and that can be seen whole (Linux, `/proc`, its standard input the
/// terminal).
pub(crate) fn waiting_place(pid: i32) -> Option<WaitPlace> {
    #[cfg(all(
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    ))]
    {
        use rustix::termios::{tcgetattr, LocalModes, SpecialCodeIndex as Cc};
        use std::os::unix::fs::OpenOptionsExt;
        let call = || -> Option<(i64, u64, u64)> {
            let text = std::fs::read_to_string(format!("/proc/{pid}/syscall")).ok()?;
            let words: Vec<&str> = text.split_whitespace().collect();
            // "NR ARG1..ARG6 SP PC" while in a system call.
            if words.len() != 9 {
                return None;
            }
            let hex = |w: &str| u64::from_str_radix(w.trim_start_matches("0x"), 16).ok();
            Some((words[0].parse().ok()?, hex(words[7])?, hex(words[8])?))
        };
        if itself_reading_terminal(pid) != Some(true) {
            return None;
        }
        let before = call()?;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(crate::os::O_NOCTTY | crate::os::O_NONBLOCK)
            .open(format!("/proc/{pid}/fd/0"))
            .ok()?;
        let settings = tcgetattr(&file).ok()?;
        // Still in the same wait: the settings read are this wait's.
        if itself_reading_terminal(pid) != Some(true) || call()? != before {
            return None;
        }
        Some(WaitPlace {
            call: before,
            flags: (
                u64::from(settings.input_modes.bits()),
                u64::from(settings.output_modes.bits()),
                u64::from(settings.control_modes.bits()),
                u64::from(settings.local_modes.bits()),
            ),
            // The control characters Linux has, in the order of their
            // indices (rustix lends them one at a time).
            chars: [
                Cc::VINTR,
                Cc::VQUIT,
                Cc::VERASE,
                Cc::VKILL,
                Cc::VEOF,
                Cc::VTIME,
                Cc::VMIN,
                Cc::VSWTC,
                Cc::VSTART,
                Cc::VSTOP,
                Cc::VSUSP,
                Cc::VEOL,
                Cc::VREPRINT,
                Cc::VDISCARD,
                Cc::VWERASE,
                Cc::VLNEXT,
                Cc::VEOL2,
            ]
            .map(|i| settings.special_codes[i])
            .to_vec(),
            canonical: settings.local_modes.contains(LocalModes::ICANON),
        })
    }
    #[cfg(not(all(
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    )))]
    {
        let _ = pid;
        None
    }
}

/// Whether process `pid` is alone in the foreground of its terminal: the
/// foreground process group is its own and holds no other process, so a
/// Ctrl-C typed there reaches it and nothing else. `None` where `/proc`
/// cannot say.
pub(crate) fn alone_in_foreground(pid: i32) -> Option<bool> {
    #[cfg(target_os = "linux")]
    {
        let (_, foreground, group) = terminal_of(pid)?;
        if foreground != group {
            return Some(false);
        }
        for other in crate::os::procfs::pids()? {
            if other == pid {
                continue;
            }
            let in_group = proc_stat(other)
                .and_then(|f| f.get(2)?.parse::<i32>().ok())
                .is_some_and(|g| g == group);
            if in_group {
                return Some(false);
            }
        }
        Some(true)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = pid;
        None
    }
}

/// How many bytes typed into the terminal of process `pid` (through its
/// standard input) wait to be read: complete lines in the terminal's
/// ordinary mode, any bytes in raw mode (`FIONREAD`). `None` where this
/// cannot be seen.
pub(crate) fn terminal_input_pending(pid: i32) -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // Opened anew through /proc: the pane's terminal, not made our
        // controlling terminal, and a read never blocks.
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(crate::os::O_NOCTTY | crate::os::O_NONBLOCK)
            .open(format!("/proc/{pid}/fd/0"))
            .ok()?;
        if !rustix::termios::isatty(&file) {
            return None;
        }
        rustix::io::ioctl_fionread(&file).ok()
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = pid;
        None
    }
}
