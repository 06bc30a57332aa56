//! A process this side can see: whether it runs, its end through a pidfd
//! (Linux), the exit status of its zombie, and how it ended
//! ([`ExitStatus`]).

use crate::os::procfs::stat_fields as proc_stat;
use rustix::process::{Pid, Signal};

/// How a pane's process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "how", content = "value")]
pub enum ExitStatus {
    /// It exited with this code.
    Exited(i32),
    /// A signal killed it (the signal's number).
    Signaled(i32),
}

impl ExitStatus {
    /// The shell's view of it: the code, or 128 + the signal.
    pub fn code(self) -> i32 {
        match self {
            ExitStatus::Exited(code) => code,
            ExitStatus::Signaled(signal) => 128 + signal,
        }
    }
}

impl std::fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExitStatus::Exited(code) => write!(f, "exited with code {code}"),
            ExitStatus::Signaled(signal) => match signal_name(*signal) {
                Some(name) => write!(f, "killed by signal {signal} ({name})"),
                None => write!(f, "killed by signal {signal}"),
            },
        }
    }
}

/// The name of signal `number` (`SIGTERM`), if it is one of the named
/// signals of this system.
pub(crate) fn signal_name(number: i32) -> Option<&'static str> {
    Some(match Signal::from_named_raw(number)? {
        Signal::HUP => "SIGHUP",
        Signal::INT => "SIGINT",
        Signal::QUIT => "SIGQUIT",
        Signal::ILL => "SIGILL",
        Signal::TRAP => "SIGTRAP",
        Signal::ABORT => "SIGABRT",
        Signal::BUS => "SIGBUS",
        Signal::FPE => "SIGFPE",
        Signal::KILL => "SIGKILL",
        Signal::USR1 => "SIGUSR1",
        Signal::SEGV => "SIGSEGV",
        Signal::USR2 => "SIGUSR2",
        Signal::PIPE => "SIGPIPE",
        Signal::ALARM => "SIGALRM",
        Signal::TERM => "SIGTERM",
        #[cfg(all(
            any(target_os = "linux", target_os = "android"),
            not(any(
                target_arch = "mips",
                target_arch = "mips64",
                target_arch = "sparc",
                target_arch = "sparc64"
            ))
        ))]
        Signal::STKFLT => "SIGSTKFLT",
        Signal::CHILD => "SIGCHLD",
        Signal::CONT => "SIGCONT",
        Signal::STOP => "SIGSTOP",
        Signal::TSTP => "SIGTSTP",
        Signal::TTIN => "SIGTTIN",
        Signal::TTOU => "SIGTTOU",
        Signal::URG => "SIGURG",
        Signal::XCPU => "SIGXCPU",
        Signal::XFSZ => "SIGXFSZ",
        Signal::VTALARM => "SIGVTALRM",
        Signal::PROF => "SIGPROF",
        Signal::WINCH => "SIGWINCH",
        Signal::IO => "SIGIO",
        #[cfg(any(target_os = "linux", target_os = "android"))]
        Signal::POWER => "SIGPWR",
        Signal::SYS => "SIGSYS",
        _ => return None,
    })
}

/// The number of the signal named `name` (`SIGTERM`, as [`signal_name`]
/// gives it), if it is one of the named signals of this system.
pub(crate) fn signal_number(name: &str) -> Option<i32> {
    // The named signals' numbers are below 32 on every system.
    (1..32).find(|&number| signal_name(number) == Some(name))
}

/// Whether `pid` is a tmux process of this system.
pub(crate) fn is_tmux(pid: Pid) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.starts_with("tmux"))
}

/// Whether `process` is a child of `server` and `server` a tmux process of
/// this system: a pane's process this side can look at. A pid that only
/// looks local (a server in another namespace whose pid a local process
/// happens to have) is not.
pub(crate) fn local_child(server: Pid, process: i32) -> bool {
    proc_stat(process)
        .and_then(|f| f.get(1)?.parse::<i32>().ok())
        .is_some_and(|parent| parent == server.as_raw_pid())
        && is_tmux(server)
}

/// A pane's process seen from here, with a pidfd open on it.
pub(crate) struct LocalPane {
    /// The tmux server.
    pub(crate) server: Pid,
    process: i32,
    exit: ProcessExit,
}

impl LocalPane {
    /// The pane's process, if this side can watch it: a pidfd could be
    /// opened (Linux 5.3 and later, the process not yet reaped); the pids
    /// from `watch::local_pids`.
    pub(crate) fn open(server: Pid, process: i32) -> Option<LocalPane> {
        if !local_child(server, process) {
            return None;
        }
        let exit = ProcessExit::open(Some(process));
        exit.is_open().then_some(LocalPane {
            server,
            process,
            exit,
        })
    }

    /// Resolves once the process has exited.
    pub(crate) async fn exited(&self) {
        self.exit.exited().await
    }

    /// Its exit status while it is a zombie of the server; `None` once
    /// tmux has reaped it (then tmux has the status).
    pub(crate) fn zombie_status(&self) -> Option<ExitStatus> {
        zombie_status(self.process, self.server)
    }
}

/// The process `raw` names, if it names one: pids of 0 and below name
/// process groups or every process to `kill`, never a process here (tmux
/// answers -1 for a pane whose fork failed).
pub(crate) fn pid(raw: i32) -> Option<rustix::process::Pid> {
    if raw > 0 {
        rustix::process::Pid::from_raw(raw)
    } else {
        None
    }
}

/// The kernel's word that a process has exited: a pidfd, readable once it
/// has (Linux 5.3 and later; `None` elsewhere or if the pid is gone).
pub(crate) struct ProcessExit(Option<tokio::io::unix::AsyncFd<std::os::fd::OwnedFd>>);

impl ProcessExit {
    #[cfg(target_os = "linux")]
    pub(crate) fn open(pid: Option<i32>) -> ProcessExit {
        let fd = pid
            .and_then(self::pid)
            .and_then(|pid| {
                rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::NONBLOCK).ok()
            })
            .and_then(|fd| {
                // Deprecated because a borrowed raw fd could be closed while
                // registered; this one is an `OwnedFd` the `AsyncFd` owns, so
                // it stays open until the registration is dropped.
                #[allow(deprecated)]
                tokio::io::unix::AsyncFd::new(fd).ok()
            });
        ProcessExit(fd)
    }

    /// No pidfds on this system.
    #[cfg(not(target_os = "linux"))]
    pub(crate) fn open(_pid: Option<i32>) -> ProcessExit {
        ProcessExit(None)
    }

    /// Whether there is a pidfd to wait on.
    pub(crate) fn is_open(&self) -> bool {
        self.0.is_some()
    }

    /// Resolves once the process has exited; never without a pidfd.
    pub(crate) async fn exited(&self) {
        match &self.0 {
            Some(fd) => {
                let _ = fd.readable().await;
            }
            None => std::future::pending().await,
        }
    }
}

/// Whether process `pid` exists and has not exited (a zombie has).
pub(crate) fn process_running(pid: i32) -> bool {
    proc_stat(pid).is_some_and(|f| f.first().is_some_and(|state| state != "Z"))
}

/// The exit status of a zombie child of `parent`, from `/proc/PID/stat`
/// (field 52, the `waitpid` status, Linux 3.5 and later). tmux reaps a
/// pane's process only after utempter's helper has run, a few milliseconds
/// after the exit; the kernel has the status from the start.
fn zombie_status(pid: i32, parent: Pid) -> Option<ExitStatus> {
    let fields = proc_stat(pid)?;
    let (state, ppid, status) = (fields.first()?, fields.get(1)?, fields.get(49)?);
    if *state != "Z" || ppid.parse::<i32>().ok()? != parent.as_raw_pid() {
        return None;
    }
    let status: i32 = status.trim().parse().ok()?;
    Some(if status & 0x7f == 0 {
        ExitStatus::Exited((status >> 8) & 0xff)
    } else {
        ExitStatus::Signaled(status & 0x7f)
    })
}

/// Whether process `pid` is gone, a zombie, or exiting (`PF_EXITING` in
/// the flags of `/proc/PID/stat`, set as the kernel begins to end it, before
/// it closes its files).
pub(crate) fn process_ending(pid: i32) -> bool {
    const PF_EXITING: u64 = 0x4;
    let Some(stat) = crate::os::procfs::stat(pid) else {
        return true;
    };
    let state = stat.fields.first().map_or("", String::as_str);
    let flags: u64 = stat.fields.get(6).and_then(|f| f.parse().ok()).unwrap_or(0);
    matches!(state, "Z" | "X" | "x") || flags & PF_EXITING != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_are_named_as_the_system_names_them() {
        assert_eq!(signal_name(9), Some("SIGKILL"));
        assert_eq!(signal_number("SIGTERM"), Some(15));
        assert_eq!(signal_name(0), None);
        assert_eq!(signal_number("TERM"), None);
        for number in 1..32 {
            if let Some(name) = signal_name(number) {
                assert_eq!(signal_number(name), Some(number), "{name}");
            }
        }
        let killed = ExitStatus::Signaled(9).to_string();
        assert_eq!(killed, "killed by signal 9 (SIGKILL)");
        assert_eq!(
            ExitStatus::from_formats("", "term"),
            Some(ExitStatus::Signaled(15))
        );
    }

    #[test]
    fn only_positive_pids_name_a_process() {
        // -1 would be every process to kill(2), 0 our own group, -N group N.
        assert!(pid(-1).is_none() && pid(0).is_none() && pid(i32::MIN).is_none());
        assert_eq!(pid(1).map(|p| p.as_raw_nonzero().get()), Some(1));
    }

    #[test]
    fn an_ending_process_is_told_from_a_live_one() {
        assert!(!process_ending(std::process::id() as i32));
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id() as i32;
        child.wait().unwrap();
        assert!(process_ending(pid));
    }
}
