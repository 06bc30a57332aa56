//! `/proc/PID/stat`, the one file several parts read about a process: the
//! watches (state, parent, terminal, exit status), the keeper (start time
//! of a starter) and the transport (start
//! time of a server, in a remembered probe's key). `None` where there is
//! no such file (another system, a pid that is gone).

use std::io::Read;

/// The parts of `/proc/PID/stat`.
pub(crate) struct Stat {
    /// The command name (field 2, without its parentheses; it may hold
    /// anything, spaces and parentheses included).
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) name: String,
    /// The fields from the third (the state) on: field N is `fields[N - 3]`.
    pub(crate) fields: Vec<String>,
}

/// Process `pid`'s `stat`, read in one read (name and state are from one
/// moment). A file in /proc has no size, so `fs::read_to_string` would
/// ask for it and then grow its buffer from 32 bytes, one read each time;
/// `status` reads every process's.
pub(crate) fn stat(pid: i32) -> Option<Stat> {
    let file = std::fs::File::open(format!("/proc/{pid}/stat")).ok()?;
    let mut stat = String::with_capacity(1024);
    file.take(64 * 1024).read_to_string(&mut stat).ok()?;
    // The name ends at the last ')'.
    let (open, close) = (stat.find('(')?, stat.rfind(')')?);
    Some(Stat {
        name: stat.get(open + 1..close)?.to_string(),
        fields: stat
            .get(close + 2..)?
            .split_whitespace()
            .map(str::to_string)
            .collect(),
    })
}

/// When process `pid` started (field 22: clock ticks after boot): with
/// the pid, it tells a process from a later one given the same pid.
pub(crate) fn start_time(pid: i32) -> Option<u64> {
    stat(pid)?.fields.get(19)?.parse().ok()
}

/// The fields of `/proc/PID/stat` from the third (the state) on
/// ([`stat`]).
pub(crate) fn stat_fields(pid: i32) -> Option<Vec<String>> {
    crate::os::procfs::stat(pid).map(|stat| stat.fields)
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn this_process() {
        let me = std::process::id() as i32;
        let mine = stat(me).unwrap();
        // The main thread's state (the test runs in another thread).
        assert!(["R", "S"].contains(&mine.fields[0].as_str()));
        assert!(!mine.name.is_empty());
        assert!(start_time(me).unwrap() > 0);
        assert!(stat(-1).is_none());
        assert_eq!(start_time(me), start_time(me));
    }
}

/// The pids of the processes in `/proc`; `None` where it cannot be read.
pub(crate) fn pids() -> Option<impl Iterator<Item = i32>> {
    Some(
        std::fs::read_dir("/proc")
            .ok()?
            .flatten()
            .filter_map(|entry| entry.file_name().to_str()?.parse().ok()),
    )
}
