//! The `--json` documents: the CLI's own contract with programs (README,
//! "`--json`: the contract for programs"; docs/json.md; one JSON Schema
//! per document in docs/schemas/, generated from these types).
//!
//! Here: what every document has ([`Versioned`]), the values several
//! commands' documents share (a process, an exit, a stop, a wait, the log
//! writer, lines and bytes), and the error document with its [`Kind`]s. A
//! document only one command prints is in that command's module
//! (`commands/`); `schemas` lists them all.
//!
//! These types are the contract, not the library's: library values are
//! converted into them, so that a field renamed in the library cannot
//! change what a program reads. The rules, the same for every document:
//! - Every document is an object with `"version": 1` ([`VERSION`]) and
//!   `"type"`, which names its shape (`"start"`, `"error"`, `"exited"`,
//!   ...). Where a value inside takes one of several shapes (an exit
//!   status, how a stop ended, what the log writer does), it carries
//!   `"type"` the same way. A `state` is a plain value, never a key that
//!   decides which other keys appear.
//! - Every failure is the [`ErrorDoc`] document (`"type": "error"`) with a
//!   `kind` from the closed list [`Kind`].
//! - Lines that can carry any byte (`poll --raw`, `logs --raw`, `cmd`,
//!   `exec --raw`) are [`Line`]s: a string when they are UTF-8, else
//!   `{"bytes": BASE64}`; `decode`'s bytes are [`Data`]. Nothing is
//!   replaced.

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Serialize, Serializer};
use std::borrow::Cow;
use std::path::Path;
use tmux_wire::keeper::{self, FailureKind};

use tmux_wire::watch::ExitStatus;

/// The contract's version, in every document as `"version"`. It goes up
/// when a document changes in a way a program could trip over (a field
/// renamed or removed, a value of another type); fields are added
/// without it.
pub const VERSION: u32 = 1;

/// `"version": 1` (the schema says exactly 1).
#[derive(Debug, Clone, Copy)]
pub struct Version1;

impl Serialize for Version1 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u32(VERSION)
    }
}

impl JsonSchema for Version1 {
    fn schema_name() -> Cow<'static, str> {
        "ContractVersion".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        schemars::json_schema!({"type": "integer", "const": VERSION})
    }
}

/// A document as it is printed: the version, then the document's own
/// keys (its `"type"` among them).
#[derive(Serialize, JsonSchema)]
pub struct Versioned<T> {
    pub version: Version1,
    #[serde(flatten)]
    pub doc: T,
}

impl<T> Versioned<T> {
    pub fn new(doc: T) -> Self {
        Versioned {
            version: Version1,
            doc,
        }
    }
}

/// Bytes as text when they are UTF-8, otherwise base64 (standard alphabet,
/// padded): `{"text": "..."}` or `{"bytes": "..."}`.
#[derive(Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Data {
    /// The bytes are this UTF-8 text.
    Text(String),
    /// The bytes, base64.
    Bytes(String),
}

impl Data {
    pub fn new(bytes: &[u8]) -> Data {
        match std::str::from_utf8(bytes) {
            Ok(text) => Data::Text(text.to_string()),
            Err(_) => Data::Bytes(base64(bytes)),
        }
    }
}

/// A line of output: a plain string when it is UTF-8, otherwise
/// `{"bytes": BASE64}` (the bytes as they are).
#[derive(Debug, PartialEq, Eq)]
pub struct Line(pub Data);

impl Line {
    pub fn new(bytes: &[u8]) -> Line {
        Line(Data::new(bytes))
    }

    /// A line that is text already.
    pub fn text(text: impl Into<String>) -> Line {
        Line(Data::Text(text.into()))
    }
}

impl Serialize for Line {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match &self.0 {
            Data::Text(text) => s.serialize_str(text),
            bytes => bytes.serialize(s),
        }
    }
}

impl JsonSchema for Line {
    fn schema_name() -> Cow<'static, str> {
        "Line".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        schemars::json_schema!({
            "description": "A line: a string when it is UTF-8, else {\"bytes\": BASE64}.",
            "anyOf": [
                {"type": "string"},
                {
                    "type": "object",
                    "properties": {"bytes": {"type": "string"}},
                    "required": ["bytes"],
                    "additionalProperties": false
                }
            ]
        })
    }
}

/// Lines that are text already.
pub fn text_lines(lines: &[String]) -> Vec<Line> {
    lines.iter().map(|l| Line::text(l.as_str())).collect()
}

/// Standard base64 with padding.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// For `skip_serializing_if`: a count left out when it is 0.
pub fn is_zero(n: &u64) -> bool {
    *n == 0
}

// ---------------------------------------------------------------------------
// Values inside documents.
// ---------------------------------------------------------------------------

/// How a process ended (EXIT): `{"type": "exited", "code": N}` or
/// `{"type": "signaled", "signal": S}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Exit {
    /// It exited with this code.
    Exited { code: i32 },
    /// A signal killed it (its number).
    Signaled { signal: i32 },
}

impl From<ExitStatus> for Exit {
    fn from(status: ExitStatus) -> Exit {
        match status {
            ExitStatus::Exited(code) => Exit::Exited { code },
            ExitStatus::Signaled(signal) => Exit::Signaled { signal },
        }
    }
}

/// What the log writer does (WRITER).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Writer {
    /// It writes all the process prints.
    Writing,
    /// It cannot write (a full disk), since `since` (Unix seconds).
    Failing { reason: String, since: Option<u64> },
    /// It is gone and could not be started again.
    Stopped { reason: String },
    /// It was gone and was started again; what was printed in between is
    /// missing.
    Restarted { reason: String },
}

impl From<&keeper::LogWriter> for Writer {
    fn from(w: &keeper::LogWriter) -> Writer {
        match w {
            keeper::LogWriter::Writing => Writer::Writing,
            keeper::LogWriter::Failing { reason, since } => Writer::Failing {
                reason: reason.clone(),
                since: *since,
            },
            keeper::LogWriter::Stopped { reason } => Writer::Stopped {
                reason: reason.clone(),
            },
            keeper::LogWriter::Restarted { reason } => Writer::Restarted {
                reason: reason.clone(),
            },
            other => Writer::Stopped {
                reason: other.to_string(),
            },
        }
    }
}

/// The log writer's state, where there is one to say.
pub fn writer(w: Option<&keeper::LogWriter>) -> Option<Writer> {
    w.map(Writer::from)
}

/// A process's state: a plain value (how it ended is its `exit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProcessState {
    Running,
    Idle,
    Exited,
    Killed,
    Exiting,
    Starting,
    Abandoned,
    /// A state this version of the contract does not name.
    Unknown,
}

/// One process (PROCESS), in `ls`, `start` and `status`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Process {
    pub name: String,
    pub state: ProcessState,
    /// How it ended, once it has (`exited`, `killed`).
    pub exit: Option<Exit>,
    /// The shell's view of `exit`: the code, or 128 + the signal.
    pub code: Option<i32>,
    pub pane: String,
    pub pid: Option<u32>,
    pub command: String,
    pub cwd: String,
    /// Unix seconds.
    pub started: Option<u64>,
    pub log: Option<String>,
    /// Stopped by `--kill-after` after this many seconds (rounded up).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub killed_after: Option<u64>,
    /// Processes with a restart policy: restarts so far.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub restarts: Option<u32>,
    /// Processes with a restart policy: how the last runs ended, oldest
    /// first.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub exits: Vec<Exit>,
    /// What `start --ready` matched.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub ready: Option<String>,
    /// `status` only, where it can be seen.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub waiting_for_input: Option<bool>,
    /// The last failure of a helper tmux ran for it (a restart, a time
    /// limit, the log writer), or that one could not run at all.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub log_writer: Option<Writer>,
}

impl From<&keeper::ProcessInfo> for Process {
    fn from(p: &keeper::ProcessInfo) -> Process {
        use keeper::State as S;
        let (state, exit) = match &p.state {
            S::Running => (ProcessState::Running, None),
            S::Idle => (ProcessState::Idle, None),
            S::Exited { code } => (ProcessState::Exited, Some(ExitStatus::Exited(*code))),
            S::Killed { signal } => (ProcessState::Killed, Some(ExitStatus::Signaled(*signal))),
            S::Exiting => (ProcessState::Exiting, None),
            S::Starting => (ProcessState::Starting, None),
            S::Abandoned => (ProcessState::Abandoned, None),
            _ => (ProcessState::Unknown, None),
        };
        Process {
            name: p.name.clone(),
            state,
            exit: exit.map(Exit::from),
            code: exit.map(ExitStatus::code),
            pane: p.pane.clone(),
            pid: p.pid,
            command: p.command.clone(),
            cwd: p.cwd.clone(),
            started: p.started,
            log: p.log.as_ref().map(|l| l.display().to_string()),
            killed_after: p.killed_after,
            restarts: p.restarts,
            exits: p.exits.iter().map(|&e| Exit::from(e)).collect(),
            ready: p.ready.clone(),
            waiting_for_input: p.waiting_for_input,
            error: p.error.clone(),
            log_writer: writer(p.log_writer.as_ref()),
        }
    }
}

/// How a stop ended a process (STOPPED).
#[derive(Debug, Serialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum HowStopped {
    /// It had already ended.
    AlreadyExited { exit: Exit },
    /// It ended after C-c.
    Interrupted { exit: Exit },
    /// It did not end within the grace period: the session was killed.
    Killed,
    /// It ended after C-c and took its pane along before tmux kept its
    /// status.
    Ended,
}

/// One stop: in `stop` (the document itself), `kill-all` and `shutdown`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct StopEntry {
    pub name: String,
    pub stopped: HowStopped,
    /// What could not be done besides (the stop's record on a full disk).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub warning: Option<String>,
}

impl StopEntry {
    pub fn of(name: &str, report: &keeper::StopReport) -> StopEntry {
        let stopped = match &report.stopped {
            keeper::Stopped::AlreadyExited { status } => HowStopped::AlreadyExited {
                exit: (*status).into(),
            },
            keeper::Stopped::Interrupted { status } => HowStopped::Interrupted {
                exit: (*status).into(),
            },
            keeper::Stopped::Killed => HowStopped::Killed,
            _ => HowStopped::Ended,
        };
        StopEntry {
            name: name.to_string(),
            stopped,
            warning: report.warning.clone(),
        }
    }
}

/// How a wait ended (WAITED): `wait`'s document and `send --then-*`'s
/// `then`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Waited {
    /// A line matched; `matched` is what it matched.
    Ready { matched: String },
    /// No output for the quiet time; what runs in the foreground.
    Idle { current_command: String },
    /// The process ended; `code` is the shell's view (128 + a signal).
    Exited { exit: Exit, code: i32 },
    /// The program is blocked reading its terminal.
    Input,
}

impl Waited {
    pub fn exit(status: ExitStatus) -> Self {
        Waited::Exited {
            exit: status.into(),
            code: status.code(),
        }
    }
}

/// Whether a process still runs (`run`, `poll`).
#[derive(Debug, Clone, Copy, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    Running,
    Exited,
}

// ---------------------------------------------------------------------------
// Failures: the kinds, and the error document of every command.
// ---------------------------------------------------------------------------

/// An error's kind: what a program branches on. A closed list (new kinds
/// may come with a new version of the contract; none is renamed); each
/// kind's exit status is in docs/json.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// No process of that name (or no such tmux target). Exit 1.
    NotFound,
    /// The process has exited: nothing reads input. Exit 1.
    NotRunning,
    /// The name runs already (`run`), or tmux has a session of that name.
    /// Exit 1.
    AlreadyRunning,
    /// The process ended before what was waited for. Exit 1.
    Exited,
    /// A wait ran out of time; the process goes on. Exit 124.
    Timeout,
    /// A signal ended the wait. Exit 130 (SIGINT) or 143 (SIGTERM).
    Interrupted,
    /// No tmux server on the socket (none, or a stale socket). Exit 1.
    NoServer,
    /// The server went away while the command was under way. Exit 1.
    ServerGone,
    /// The socket or its directory cannot be used (unsafe, not a socket,
    /// someone else's). Exit 1.
    Socket,
    /// tmux cannot be run (not installed). Exit 1.
    NoTmux,
    /// The server's version is not supported here. Exit 1.
    Version,
    /// An argument was refused: the command line (exit 2), or a value
    /// checked later (a name, a key, a directory, a line too long; exit 1).
    BadInput,
    /// A cursor that cannot be read from. Exit 1.
    BadCursor,
    /// The command to start cannot be run: not found (127) or not
    /// executable (126).
    CannotRun,
    /// `exec` into something that is not a shell at its prompt. Exit 1.
    NotAShell,
    /// `exec`'s line did not run; the message says what was done. Exit 1.
    Refused,
    /// The process has no log (tmux-wire did not start it). Exit 1.
    NoLog,
    /// The log writer does not write what the process prints. Exit 74.
    LogWriter,
    /// The keeper's helper program (this binary, or the one it was told)
    /// does not run its helpers; nothing was started. Exit 1.
    Helper,
    /// `logs --follow` fell behind the kept log and missed output (said
    /// where, then this at the end). Exit 1.
    Missed,
    /// What was asked cannot be seen from here. Exit 1.
    Unsupported,
    /// tmux refused a command (the message is tmux's). Exit 1.
    Tmux,
    /// A file or the system failed. Exit 1.
    Io,
    /// tmux answered something unexpected. Exit 1.
    Protocol,
}

impl From<FailureKind> for Kind {
    fn from(kind: FailureKind) -> Kind {
        use FailureKind as F;
        match kind {
            F::NotFound => Kind::NotFound,
            F::NotRunning => Kind::NotRunning,
            F::AlreadyRunning => Kind::AlreadyRunning,
            F::Exited => Kind::Exited,
            F::Timeout => Kind::Timeout,
            F::Interrupted => Kind::Interrupted,
            F::NoServer => Kind::NoServer,
            F::ServerGone => Kind::ServerGone,
            F::Socket => Kind::Socket,
            F::NoTmux => Kind::NoTmux,
            F::Version => Kind::Version,
            F::BadInput => Kind::BadInput,
            F::BadCursor => Kind::BadCursor,
            F::CannotRun => Kind::CannotRun,
            F::NotAShell => Kind::NotAShell,
            F::Refused => Kind::Refused,
            F::NoLog => Kind::NoLog,
            F::LogWriter => Kind::LogWriter,
            F::Helper => Kind::Helper,
            F::Unsupported => Kind::Unsupported,
            F::Tmux => Kind::Tmux,
            F::Io => Kind::Io,
            _ => Kind::Protocol,
        }
    }
}

/// Any failure of any command: `{"version", "type": "error", "kind",
/// "error": MESSAGE, "hint": STR|null, "exit_code": N}`. A wait in a log
/// (`wait --ready`, `send --then-ready`) that fell behind the log before
/// it failed adds `missed_bytes` (exact) and `missed_lines_at_least`.
#[derive(Serialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ErrorDoc {
    Error {
        kind: Kind,
        error: String,
        /// What to do about it, in the CLI's terms (a command to run).
        hint: Option<String>,
        exit_code: u8,
        #[serde(skip_serializing_if = "is_zero", default)]
        missed_bytes: u64,
        #[serde(skip_serializing_if = "is_zero", default)]
        missed_lines_at_least: u64,
    },
}

/// A path as a document gives it.
pub fn path(p: &Path) -> String {
    p.display().to_string()
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use serde_json::json;

    /// A document as `--json` prints it, as a JSON value.
    pub fn v<T: Serialize>(doc: &T) -> serde_json::Value {
        serde_json::to_value(Versioned::new(doc)).unwrap()
    }

    #[test]
    fn base64_as_the_standard_says() {
        // RFC 4648, section 10.
        for (plain, coded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), coded);
        }
        assert_eq!(base64(&[0xff, 0xfe, 0x80]), "//6A");
    }

    #[test]
    fn data_is_text_or_bytes() {
        let d = |d: &Data| serde_json::to_value(d).unwrap();
        assert_eq!(d(&Data::new(b"hi\r\n")), json!({"text": "hi\r\n"}));
        assert_eq!(d(&Data::new(b"\xff")), json!({"bytes": "/w=="}));
        let line = |b: &[u8]| serde_json::to_value(Line::new(b)).unwrap();
        assert_eq!(line(b"0: bash"), json!("0: bash"));
        assert_eq!(line(b"\xe9t\xe9"), json!({"bytes": "6XTp"}));
    }

    /// The error document keeps the shape docs/json.md promises:
    /// `version`, then `type`, then `kind`.
    #[test]
    fn the_error_document() {
        assert_eq!(
            v(&ErrorDoc::Error {
                kind: Kind::Timeout,
                error: "no".into(),
                hint: None,
                exit_code: 124,
                missed_bytes: 0,
                missed_lines_at_least: 0,
            }),
            json!({"version": 1, "type": "error", "kind": "timeout", "error": "no",
                   "hint": null, "exit_code": 124})
        );
    }

    /// Every library failure kind has its own contract kind.
    #[test]
    fn every_failure_kind_is_named() {
        use FailureKind as F;
        for kind in [
            F::NotFound,
            F::NotRunning,
            F::AlreadyRunning,
            F::Exited,
            F::Timeout,
            F::Interrupted,
            F::NoServer,
            F::ServerGone,
            F::Socket,
            F::NoTmux,
            F::Version,
            F::BadInput,
            F::BadCursor,
            F::CannotRun,
            F::NotAShell,
            F::Refused,
            F::NoLog,
            F::LogWriter,
            F::Unsupported,
            F::Tmux,
            F::Io,
            F::Protocol,
        ] {
            assert_eq!(
                serde_json::to_value(Kind::from(kind)).unwrap(),
                json!(kind.as_str()),
                "{kind:?}"
            );
        }
    }
}
