//! The `--json` documents, one type each (README, "`--json`: the contract
//! for programs"). `start` prints the keeper's [`Started`] and `status` its
//! [`ProcessInfo`] as they are (with `"error"`, the last failure of a
//! helper tmux ran for the process, when there is one); everything else is
//! built here.
//!
//! Bytes that come from a pane or from tmux are [`Data`]: `{"text": STR}`
//! when they are UTF-8, else `{"bytes": BASE64}`; nothing is replaced.

use serde::{Serialize, Serializer};
use std::path::Path;
use tmux_wire::keeper::{LogWriter, ProcessInfo, StopReport, Stopped};
use tmux_wire::protocol::{Event, Guard, Notification};
use tmux_wire::watch::ExitStatus;

/// Bytes as text when they are UTF-8, otherwise base64 (standard alphabet,
/// padded): `{"text": "..."}` or `{"bytes": "..."}`.
#[derive(Debug, PartialEq, Eq, Serialize)]
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

/// A line of `cmd`'s output: a plain string when it is UTF-8 (as it has
/// always been), otherwise `{"bytes": BASE64}`.
#[derive(Debug, PartialEq, Eq)]
pub struct OutputLine(pub Data);

impl Serialize for OutputLine {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match &self.0 {
            Data::Text(text) => s.serialize_str(text),
            bytes => bytes.serialize(s),
        }
    }
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

/// Any failure: `{"error": MESSAGE, "exit_code": N}`. A wait in a log
/// (`wait --ready`, `send --then-ready`) that fell behind the log before
/// it failed adds `missed_bytes` (exact) and `missed_lines_at_least`, as
/// [`WaitedFrom`] does.
#[derive(Serialize)]
pub struct Error<'a> {
    pub error: &'a str,
    pub exit_code: u8,
    #[serde(skip_serializing_if = "is_zero")]
    pub missed_bytes: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub missed_lines_at_least: u64,
}

/// `ls`: `{"processes": [PROCESS...]}` (each as `status` gives it, with
/// `"error"` when a helper tmux ran for it failed).
#[derive(Serialize)]
pub struct Processes<'a> {
    pub processes: &'a [ProcessInfo],
}

/// `logs`: `{"lines": [STR...], "cursor": CURSOR}` (the cursor, where a
/// `poll` goes on, for processes with a log), and `"log_writer"` when the
/// log writer does not write all the process prints.
#[derive(Serialize)]
pub struct Lines<'a> {
    pub lines: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_writer: Option<LogWriter>,
}

/// `run`: how it went within the yield.
#[derive(Serialize)]
pub struct Ran<'a> {
    pub name: &'a str,
    /// `exited` or `running`.
    pub state: &'static str,
    pub exit: Option<ExitStatus>,
    pub code: Option<i32>,
    /// All it printed (when it exited within the yield).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<&'a [String]>,
    /// Its last lines (when it still runs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tail: Option<&'a [String]>,
    /// Where `poll` goes on.
    pub cursor: &'a str,
    /// Bytes of the run rotated out of the log before they were read, and
    /// the lines they were, at least (see [`Missed`]).
    pub missed_bytes: u64,
    pub missed_lines_at_least: u64,
    /// What the log writer does, when it does not write all it prints.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_writer: Option<&'a LogWriter>,
}

/// `exec`: `{"name", "lines": [STR...], "code": N, "outcome":
/// "finished"|"interrupted"|"shell_exited"}`, with `--raw` also `"output"`:
/// every byte the command wrote, a string or `{"bytes": BASE64}`.
#[derive(Serialize)]
pub struct Exec<'a> {
    #[serde(flatten)]
    pub executed: &'a tmux_wire::keeper::Executed,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<OutputLine>,
}

/// `logs --offset/--limit`: a page.
#[derive(Serialize)]
pub struct LogPage<'a> {
    pub lines: &'a [String],
    pub offset: usize,
    pub limit: usize,
    pub total: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_writer: Option<LogWriter>,
}

/// `shutdown`: `{"stopped": [STOP...], "socket": PATH, "server_ended":
/// BOOL, "socket_removed": BOOL}` (whether a server answered and was
/// ended; whether a socket file was there to remove).
#[derive(Serialize)]
pub struct Shutdown<'a> {
    pub stopped: Vec<Stop<'a>>,
    pub socket: &'a Path,
    pub server_ended: bool,
    pub socket_removed: bool,
}

/// `events`: one per line, the event and when it was seen.
#[derive(Serialize)]
pub struct TimedEvent {
    pub time: f64,
    #[serde(flatten)]
    pub event: tmux_wire::keeper::LifecycleEvent,
}

/// `prune`: `{"pruned": [NAME...]}`.
#[derive(Serialize)]
pub struct Pruned<'a> {
    pub pruned: &'a [String],
}

/// `logs --follow`: one per line, `{"line": STR}`.
#[derive(Serialize)]
pub struct LogLine<'a> {
    pub line: &'a str,
}

/// `logs --follow`, where the reader fell behind the kept log:
/// `{"missed": {"bytes": N|null, "lines_at_least": N, "cursor": CURSOR|null}}`,
/// between the lines before the gap and those after it.
#[derive(Serialize)]
pub struct MissedLine {
    pub missed: Missed,
}

/// `logs --follow`, where the log writer stopped and was started again:
/// `{"log_writer": WRITER}` (`{"state": "restarted", "reason": STR}`),
/// before the log's gap line and the lines after it. One that cannot be
/// started again ends the follow with the error document (exit 74).
#[derive(Serialize)]
pub struct WriterLine<'a> {
    pub log_writer: &'a LogWriter,
}

/// Output a reader never got: `bytes` exactly (null when the log's index
/// cannot say), the lines only as a lower bound (the lines of bytes
/// rotated away were never counted), and the cursor where reading went on
/// (the start of a line).
#[derive(Serialize)]
pub struct Missed {
    pub bytes: Option<u64>,
    pub lines_at_least: u64,
    pub cursor: Option<String>,
}

/// `logs --follow`, last: `{"end": {"exit": EXIT, "code": N}}` or
/// `{"end": {"gone": WHY}}`.
#[derive(Serialize)]
pub struct End<'a> {
    pub end: Ending<'a>,
}

#[derive(Serialize)]
#[serde(untagged)]
pub enum Ending<'a> {
    /// The process exited; `code` is the shell's view (128 + a signal).
    Exit { exit: ExitStatus, code: i32 },
    /// Its pane went away without a status.
    Gone { gone: &'a str },
}

impl Ending<'_> {
    pub fn exit(status: ExitStatus) -> Self {
        Ending::Exit {
            exit: status,
            code: status.code(),
        }
    }
}

/// `wait`'s document: how it ended, and when bytes after its start were
/// rotated away before it read them (after a `--from CURSOR`, or while it
/// waited), `missed_bytes` (exact, with the rest of the lines they cut)
/// and `missed_lines_at_least`; see [`Missed`]. A wait that fails says
/// the same in its [`Error`] document.
#[derive(Serialize)]
pub struct WaitedFrom {
    #[serde(flatten)]
    pub waited: Waited,
    #[serde(skip_serializing_if = "is_zero")]
    pub missed_bytes: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub missed_lines_at_least: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// How a wait ended: `wait`'s document, and what `send --then-*` adds to
/// its own.
#[derive(Serialize)]
#[serde(untagged)]
pub enum Waited {
    /// `{"ready": MATCHED-TEXT}`
    Ready { ready: String },
    /// `{"idle": true, "current_command": STR}`
    Idle { idle: bool, current_command: String },
    /// `{"exit": EXIT, "code": N}`
    Exit { exit: ExitStatus, code: i32 },
    /// `{"input": true}`
    Input { input: bool },
}

impl Waited {
    pub fn idle(current_command: String) -> Self {
        Waited::Idle {
            idle: true,
            current_command,
        }
    }

    pub fn exit(status: ExitStatus) -> Self {
        Waited::Exit {
            exit: status,
            code: status.code(),
        }
    }
}

/// `send`: `{"sent": BYTES}`, plus the wait's fields with `--then-*`.
#[derive(Serialize)]
pub struct Sent {
    pub sent: usize,
    #[serde(flatten)]
    pub then: Option<Waited>,
    /// What `--then-ready` missed (see [`WaitedFrom`]).
    #[serde(skip_serializing_if = "is_zero")]
    pub missed_bytes: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub missed_lines_at_least: u64,
}

/// `keys`: `{"sent": [KEY...]}`.
#[derive(Serialize)]
pub struct KeysSent<'a> {
    pub sent: &'a [String],
}

/// `stop`, and each entry of `kill-all`: `{"name": STR, "stopped": HOW}`,
/// and `"warning"` when something besides could not be done (the stop's
/// record not written on a full disk).
#[derive(Serialize)]
pub struct Stop<'a> {
    pub name: &'a str,
    pub stopped: &'a Stopped,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<&'a str>,
}

impl<'a> Stop<'a> {
    pub fn of(name: &'a str, report: &'a StopReport) -> Stop<'a> {
        Stop {
            name,
            stopped: &report.stopped,
            warning: report.warning.as_deref(),
        }
    }
}

/// `kill-all`: `{"stopped": [STOP...]}`.
#[derive(Serialize)]
pub struct StopAll<'a> {
    pub stopped: Vec<Stop<'a>>,
}

/// `clean`: `{"removed": BOOL, "socket": PATH}`.
#[derive(Serialize)]
pub struct Clean<'a> {
    pub removed: bool,
    pub socket: &'a Path,
}

/// `cmd`: `{"output": [LINE...]}`.
#[derive(Serialize)]
pub struct Output {
    pub output: Vec<OutputLine>,
}

/// `version`.
#[derive(Serialize)]
pub struct Version<'a> {
    pub tmux_wire: &'static str,
    pub server: &'a str,
    pub transport: &'static str,
    pub layout: Option<&'a str>,
    pub socket: &'a Path,
}

/// A session, window or pane id as tmux writes it (`$1`, `@2`, `%3`).
fn id<T: std::fmt::Display, S: Serializer>(id: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(id)
}

fn opt_id<T: std::fmt::Display, S: Serializer>(id: &Option<T>, s: S) -> Result<S::Ok, S::Error> {
    match id {
        Some(id) => s.collect_str(id),
        None => s.serialize_none(),
    }
}

/// `decode --json`: one document per event of the stream, `"type"` first.
/// Notifications are named as tmux names them (`%layout-change` is
/// `layout-change`); ids are tmux's strings; bytes are [`Data`].
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Decoded {
    /// A `%begin` ... `%end` or `%error` block.
    Reply {
        time: u64,
        number: u64,
        flags: u32,
        /// `false` for `%error`, whose message is then the output.
        ok: bool,
        /// The command's output: the block's lines joined with `\n`,
        /// without those also reported as notifications.
        output: Data,
        /// The block's lines that were also reported as notifications
        /// (tmux 3.2 to 3.7 put some there); absent when none were.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        surfaced: Vec<Data>,
    },
    Output {
        #[serde(serialize_with = "id")]
        pane: tmux_wire::protocol::PaneId,
        data: Data,
    },
    ExtendedOutput {
        #[serde(serialize_with = "id")]
        pane: tmux_wire::protocol::PaneId,
        age_ms: u64,
        data: Data,
    },
    Pause {
        #[serde(serialize_with = "id")]
        pane: tmux_wire::protocol::PaneId,
    },
    Continue {
        #[serde(serialize_with = "id")]
        pane: tmux_wire::protocol::PaneId,
    },
    WindowAdd {
        #[serde(serialize_with = "id")]
        window: tmux_wire::protocol::WindowId,
    },
    WindowClose {
        #[serde(serialize_with = "id")]
        window: tmux_wire::protocol::WindowId,
    },
    WindowRenamed {
        #[serde(serialize_with = "id")]
        window: tmux_wire::protocol::WindowId,
        name: String,
    },
    UnlinkedWindowAdd {
        #[serde(serialize_with = "id")]
        window: tmux_wire::protocol::WindowId,
    },
    UnlinkedWindowClose {
        #[serde(serialize_with = "id")]
        window: tmux_wire::protocol::WindowId,
    },
    UnlinkedWindowRenamed {
        #[serde(serialize_with = "id")]
        window: tmux_wire::protocol::WindowId,
        name: String,
    },
    WindowPaneChanged {
        #[serde(serialize_with = "id")]
        window: tmux_wire::protocol::WindowId,
        #[serde(serialize_with = "id")]
        pane: tmux_wire::protocol::PaneId,
    },
    LayoutChange {
        #[serde(serialize_with = "id")]
        window: tmux_wire::protocol::WindowId,
        layout: String,
        visible_layout: String,
        flags: String,
    },
    SessionChanged {
        #[serde(serialize_with = "id")]
        session: tmux_wire::protocol::SessionId,
        name: String,
    },
    SessionRenamed {
        #[serde(serialize_with = "id")]
        session: tmux_wire::protocol::SessionId,
        name: String,
    },
    SessionsChanged,
    SessionWindowChanged {
        #[serde(serialize_with = "id")]
        session: tmux_wire::protocol::SessionId,
        #[serde(serialize_with = "id")]
        window: tmux_wire::protocol::WindowId,
    },
    ClientSessionChanged {
        client: String,
        #[serde(serialize_with = "id")]
        session: tmux_wire::protocol::SessionId,
        name: String,
    },
    ClientDetached {
        client: String,
    },
    PaneModeChanged {
        #[serde(serialize_with = "id")]
        pane: tmux_wire::protocol::PaneId,
    },
    /// Positions tmux leaves as `-` are `null`.
    SubscriptionChanged {
        name: String,
        #[serde(serialize_with = "id")]
        session: tmux_wire::protocol::SessionId,
        #[serde(serialize_with = "opt_id")]
        window: Option<tmux_wire::protocol::WindowId>,
        window_index: Option<u32>,
        #[serde(serialize_with = "opt_id")]
        pane: Option<tmux_wire::protocol::PaneId>,
        value: Data,
    },
    PasteBufferChanged {
        name: String,
    },
    PasteBufferDeleted {
        name: String,
    },
    ConfigError {
        message: Data,
    },
    Message {
        text: Data,
    },
    Exit {
        reason: Option<String>,
    },
    /// A `%name` line tmux-wire does not know; `rest` is what follows the
    /// first space.
    Unknown {
        name: String,
        rest: Data,
    },
    /// A line that is not valid control-mode output.
    Invalid {
        line: Data,
        error: String,
    },
    /// The stream ended inside a block or a line.
    Truncated {
        open_block: Option<Block>,
        lines: Vec<Data>,
        partial_line: Data,
    },
}

/// The guard of a block: `{"time", "number", "flags"}`.
#[derive(Serialize)]
pub struct Block {
    pub time: u64,
    pub number: u64,
    pub flags: u32,
}

impl From<Guard> for Block {
    fn from(g: Guard) -> Self {
        Block {
            time: g.time,
            number: g.number,
            flags: g.flags,
        }
    }
}

impl From<&Event> for Decoded {
    fn from(event: &Event) -> Self {
        match event {
            Event::Reply(r) => Decoded::Reply {
                time: r.time,
                number: r.number,
                flags: r.flags,
                ok: r.ok,
                output: Data::new(&r.output()),
                surfaced: r
                    .surfaced
                    .iter()
                    .filter_map(|&i| r.lines.get(i))
                    .map(|l| Data::new(l))
                    .collect(),
            },
            Event::Notification(n) => Decoded::from(n),
            Event::Invalid { line, error } => Decoded::Invalid {
                line: Data::new(line),
                error: error.to_string(),
            },
            Event::Truncated {
                open_block,
                lines,
                partial_line,
            } => Decoded::Truncated {
                open_block: open_block.map(Block::from),
                lines: lines.iter().map(|l| Data::new(l)).collect(),
                partial_line: Data::new(partial_line),
            },
            other => Decoded::Invalid {
                line: Data::new(b""),
                error: format!("an event this build cannot show: {other:?}"),
            },
        }
    }
}

impl From<&Notification> for Decoded {
    fn from(n: &Notification) -> Self {
        use Notification as N;
        match n.clone() {
            N::Output { pane, data } => Decoded::Output {
                pane,
                data: Data::new(&data),
            },
            N::ExtendedOutput { pane, age_ms, data } => Decoded::ExtendedOutput {
                pane,
                age_ms,
                data: Data::new(&data),
            },
            N::Pause { pane } => Decoded::Pause { pane },
            N::Continue { pane } => Decoded::Continue { pane },
            N::WindowAdd { window } => Decoded::WindowAdd { window },
            N::WindowClose { window } => Decoded::WindowClose { window },
            N::WindowRenamed { window, name } => Decoded::WindowRenamed { window, name },
            N::UnlinkedWindowAdd { window } => Decoded::UnlinkedWindowAdd { window },
            N::UnlinkedWindowClose { window } => Decoded::UnlinkedWindowClose { window },
            N::UnlinkedWindowRenamed { window, name } => {
                Decoded::UnlinkedWindowRenamed { window, name }
            }
            N::WindowPaneChanged { window, pane } => Decoded::WindowPaneChanged { window, pane },
            N::LayoutChange {
                window,
                layout,
                visible_layout,
                flags,
            } => Decoded::LayoutChange {
                window,
                layout,
                visible_layout,
                flags,
            },
            N::SessionChanged { session, name } => Decoded::SessionChanged { session, name },
            N::SessionRenamed { session, name } => Decoded::SessionRenamed { session, name },
            N::SessionsChanged => Decoded::SessionsChanged,
            N::SessionWindowChanged { session, window } => {
                Decoded::SessionWindowChanged { session, window }
            }
            N::ClientSessionChanged {
                client,
                session,
                name,
            } => Decoded::ClientSessionChanged {
                client,
                session,
                name,
            },
            N::ClientDetached { client } => Decoded::ClientDetached { client },
            N::PaneModeChanged { pane } => Decoded::PaneModeChanged { pane },
            N::SubscriptionChanged {
                name,
                session,
                window,
                window_index,
                pane,
                value,
            } => Decoded::SubscriptionChanged {
                name,
                session,
                window,
                window_index,
                pane,
                value: Data::new(&value),
            },
            N::PasteBufferChanged { name } => Decoded::PasteBufferChanged { name },
            N::PasteBufferDeleted { name } => Decoded::PasteBufferDeleted { name },
            N::ConfigError { message } => Decoded::ConfigError {
                message: Data::new(&message),
            },
            N::Message { text } => Decoded::Message {
                text: Data::new(&text),
            },
            N::Exit { reason } => Decoded::Exit { reason },
            N::Unknown { name, rest } => Decoded::Unknown {
                name,
                rest: Data::new(&rest),
            },
            other => Decoded::Unknown {
                name: "unsupported".into(),
                rest: Data::new(format!("{other:?}").as_bytes()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use tmux_wire::protocol::{PaneId, Reply, WindowId};

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
        let v = |d: &Data| serde_json::to_value(d).unwrap();
        assert_eq!(v(&Data::new(b"hi\r\n")), json!({"text": "hi\r\n"}));
        assert_eq!(v(&Data::new(b"\xff")), json!({"bytes": "/w=="}));
        let line = |b: &[u8]| serde_json::to_value(OutputLine(Data::new(b))).unwrap();
        assert_eq!(line(b"0: bash"), json!("0: bash"));
        assert_eq!(line(b"\xe9t\xe9"), json!({"bytes": "6XTp"}));
    }

    #[test]
    fn decoded_events() {
        let doc = |e: &Event| serde_json::to_string(&Decoded::from(e)).unwrap();
        assert_eq!(
            doc(&Event::Notification(Notification::Output {
                pane: PaneId(1),
                data: bytes::Bytes::from_static(b"a\xffb"),
            })),
            r#"{"type":"output","pane":"%1","data":{"bytes":"Yf9i"}}"#
        );
        assert_eq!(
            doc(&Event::Notification(Notification::LayoutChange {
                window: WindowId(2),
                layout: "b25d,80x24,0,0,0".into(),
                visible_layout: "b25d,80x24,0,0,0".into(),
                flags: "*".into(),
            })),
            r#"{"type":"layout-change","window":"@2","layout":"b25d,80x24,0,0,0","visible_layout":"b25d,80x24,0,0,0","flags":"*"}"#
        );
        assert_eq!(
            doc(&Event::Reply(Reply {
                time: 1,
                number: 2,
                flags: 1,
                ok: true,
                lines: vec!["a".into(), "b".into()],
                surfaced: vec![],
            })),
            r#"{"type":"reply","time":1,"number":2,"flags":1,"ok":true,"output":{"text":"a\nb"}}"#
        );
        assert_eq!(
            doc(&Event::Notification(Notification::SessionsChanged)),
            r#"{"type":"sessions-changed"}"#
        );
    }

    /// The documents keep the shapes the README promises.
    #[test]
    fn command_documents() {
        fn v<T: Serialize>(doc: &T) -> serde_json::Value {
            serde_json::to_value(doc).unwrap()
        }
        assert_eq!(
            v(&Sent {
                sent: 3,
                then: None,
                missed_bytes: 0,
                missed_lines_at_least: 0,
            }),
            json!({"sent": 3})
        );
        assert_eq!(
            v(&Sent {
                sent: 3,
                then: Some(Waited::idle("bash".into())),
                missed_bytes: 0,
                missed_lines_at_least: 0,
            }),
            json!({"sent": 3, "idle": true, "current_command": "bash"})
        );
        assert_eq!(
            v(&Sent {
                sent: 3,
                then: Some(Waited::Ready { ready: "up".into() }),
                missed_bytes: 9,
                missed_lines_at_least: 1,
            }),
            json!({"sent": 3, "ready": "up", "missed_bytes": 9, "missed_lines_at_least": 1})
        );
        assert_eq!(
            v(&Waited::exit(ExitStatus::Signaled(15))),
            json!({"exit": {"how": "signaled", "value": 15}, "code": 143})
        );
        assert_eq!(
            v(&MissedLine {
                missed: Missed {
                    bytes: Some(2013),
                    lines_at_least: 1,
                    cursor: Some("9f3a1c2e:3003".into()),
                }
            }),
            json!({"missed": {"bytes": 2013, "lines_at_least": 1, "cursor": "9f3a1c2e:3003"}})
        );
        assert_eq!(
            v(&WriterLine {
                log_writer: &LogWriter::Restarted {
                    reason: "the log writer is gone".into()
                }
            }),
            json!({"log_writer": {"state": "restarted", "reason": "the log writer is gone"}})
        );
        let waited = |missed_bytes| WaitedFrom {
            waited: Waited::Ready { ready: "up".into() },
            missed_bytes,
            missed_lines_at_least: u64::from(missed_bytes > 0),
        };
        assert_eq!(v(&waited(0)), json!({"ready": "up"}));
        assert_eq!(
            v(&waited(7)),
            json!({"ready": "up", "missed_bytes": 7, "missed_lines_at_least": 1})
        );
        assert_eq!(
            v(&End {
                end: Ending::Gone { gone: "why" }
            }),
            json!({"end": {"gone": "why"}})
        );
        assert_eq!(
            v(&Error {
                error: "no",
                exit_code: 124,
                missed_bytes: 0,
                missed_lines_at_least: 0,
            }),
            json!({"error": "no", "exit_code": 124})
        );
        assert_eq!(
            v(&Error {
                error: "no",
                exit_code: 124,
                missed_bytes: 5,
                missed_lines_at_least: 2,
            }),
            json!({"error": "no", "exit_code": 124, "missed_bytes": 5, "missed_lines_at_least": 2})
        );
    }
}
