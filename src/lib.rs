//! tmux-wire: a pure-Rust tmux control-mode client.
//!
//! The layers, bottom up: the sans-IO protocol core ([`protocol`]: the
//! control-mode line parser, `%output` unescaping, the stream assembler that
//! pairs `%begin`/`%end`/`%error` blocks, the command-line quoter, the imsg
//! codec of the server socket, layout strings, format answers); what this
//! process sees of the system for itself, with no tmux connection ([`os`]:
//! `/proc`, pidfds, terminals); socket paths, private directories and
//! starting a server ([`server`]); the transports, the plain client and the
//! version probe among them ([`transport`]); the async client ([`client`]);
//! pane output as a person reads it ([`text`]); event-driven waits
//! ([`watch`]); and the keeper of named processes (`keeper`, feature
//! `keeper`, on by default: without it the crate is the protocol and the
//! client alone).
//!
//! A complete program that decodes a captured control-mode stream:
//!
//! ```
//! use tmux_wire::protocol::{Assembler, Event, Notification};
//!
//! let stream: &[u8] = b"%begin 1 266 0\n%end 1 266 0\n%session-changed $0 main\n\
//!                       %output %0 hello\\015\\012\n%begin 1 271 1\n0: bash*\n%end 1 271 1\n";
//! let mut asm = Assembler::new();
//! for chunk in stream.chunks(7) {
//!     asm.feed(chunk);
//!     for event in asm.events() {
//!         match event {
//!             Event::Reply(r) => println!("reply #{}: {:?}", r.number, r.output()),
//!             Event::Notification(Notification::Output { pane, data }) => println!("{pane}: {data:?}"),
//!             Event::Notification(n) => println!("{n:?}"),
//!             Event::Invalid { error, .. } => eprintln!("{error}"),
//!             Event::Truncated { .. } => unreachable!("only finish() reports truncation"),
//!             _ => {} // kinds of events a later version may add
//!         }
//!     }
//! }
//! assert!(asm.finish().is_none());
//! ```
#![deny(unsafe_code)]
#![warn(missing_docs)]

mod blocking;
pub mod client;
#[cfg(feature = "keeper")]
pub mod keeper;
pub mod os;
pub mod protocol;
pub mod server;
pub mod text;
pub mod transport;
pub mod watch;

/// The README's examples, compiled (and run, unless `no_run`) as doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

/// The library guide's examples (docs/library.md), compiled (and run,
/// unless `no_run`) as doctests.
#[doc = include_str!("../docs/library.md")]
#[cfg(doctest)]
pub struct LibraryGuideDoctests;
