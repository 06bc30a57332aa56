//! What this process can see of the system for itself, with no tmux
//! connection: `/proc` (`procfs`), a process's end through a pidfd and its
//! exit status (`process`, [`ExitStatus`]), reminding a tmux server to reap
//! (`reaper`), what a terminal's program is waiting for (`terminal`), and
//! a terminal's line discipline ([`tty`]). It also names the flags the
//! crate's files are opened with beyond what `OpenOptions` sets.
//!
//! The bottom layer beside [`crate::protocol`]: it imports nothing of the
//! crate's other layers. Elsewhere (other systems, a tmux server in
//! another pid namespace) its looks give `None`, and the layers above ask
//! the server instead.

pub(crate) mod process;
pub(crate) mod procfs;
pub(crate) mod reaper;
pub(crate) mod terminal;
pub mod tty;

pub use process::ExitStatus;

/// `O_NOFOLLOW`, for `OpenOptionsExt::custom_flags`: a symbolic link is
/// refused (ELOOP) rather than followed.
pub(crate) const O_NOFOLLOW: i32 = rustix::fs::OFlags::NOFOLLOW.bits() as i32;
/// `O_NONBLOCK`, for `OpenOptionsExt::custom_flags`: the open, and reads
/// and writes on what it opened, do not wait.
pub(crate) const O_NONBLOCK: i32 = rustix::fs::OFlags::NONBLOCK.bits() as i32;
/// `O_NOCTTY`, for `OpenOptionsExt::custom_flags`: a terminal opened does
/// not become this process's controlling terminal.
pub(crate) const O_NOCTTY: i32 = rustix::fs::OFlags::NOCTTY.bits() as i32;
