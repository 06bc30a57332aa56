//! One module per command (as pueue's `client/commands/`), each with its
//! arguments (a clap `Args` struct, whose doc comment is the command's
//! line in `--help`), its handler `run`, and the `--json` documents only
//! it prints. What several commands share is elsewhere: argument groups
//! in `arg_groups`, documents and values in `contract`, printing in
//! `output`.
//!
//! Every handler takes the keeper, whether `--json` was given, and its
//! arguments, and gives the exit status or a [`Failure`](crate::failure::Failure)
//! (`decode`, `completions` and `man` need no keeper).

pub mod clean;
pub mod cmd;
pub mod decode;
pub mod events;
pub mod exec;
pub mod keys;
pub mod kill_all;
pub mod logs;
pub mod ls;
pub mod manual;
pub mod poll;
pub mod prune;
pub mod run;
pub mod send;
pub mod shutdown;
pub mod start;
pub mod status;
pub mod stop;
pub mod version;
pub mod wait;
