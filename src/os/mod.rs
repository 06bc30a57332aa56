//! What this process can see of the system for itself, with no tmux
//! connection: `/proc` (`procfs`), a process's end through a pidfd and its
//! exit status (`process`, [`ExitStatus`]), reminding a tmux server to reap
//! (`reaper`), what a terminal's program is waiting for (`terminal`), and
//! a terminal's line discipline ([`tty`]).
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
