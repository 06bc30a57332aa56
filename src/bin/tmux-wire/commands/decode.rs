//! `decode`: a captured control-mode stream, one line (or JSON document)
//! per event.

use crate::contract::{Data, Kind, Versioned};
use crate::failure::Failure;
use clap::Args;
use schemars::JsonSchema;
use serde::{Serialize, Serializer};
use std::io::{self, Read, Write};
use std::process::ExitCode;
use tmux_wire::protocol::{Assembler, Event, Guard, Notification};

/// Decode a captured control-mode stream (from FILE or stdin).
#[derive(Args)]
pub struct DecodeArgs {
    /// Keep only lines starting with PREFIX, stripped (multi-client captures).
    #[arg(long, value_name = "PREFIX")]
    pub client: Option<String>,
    /// The capture (default: standard input).
    pub file: Option<String>,
}

/// Exit 1 if any line was invalid or the stream ended inside a block.
pub fn run(json: bool, args: DecodeArgs) -> Result<ExitCode, Failure> {
    let mut input = Vec::new();
    match args.file.as_deref() {
        None | Some("-") => io::stdin()
            .read_to_end(&mut input)
            .map_err(|e| Failure::new(Kind::Io, format!("reading standard input: {e}")))?,
        Some(path) => {
            input = std::fs::read(path)
                .map_err(|e| Failure::new(Kind::Io, format!("reading {path}: {e}")))?;
            input.len()
        }
    };
    if let Some(prefix) = &args.client {
        input = select_client(&input, prefix.as_bytes());
    }

    let mut asm = Assembler::new();
    asm.feed(&input);
    let mut events: Vec<Event> = asm.events().collect();
    events.extend(asm.finish());
    let mut out = io::stdout().lock();
    let mut clean = true;
    for event in &events {
        clean &= !matches!(event, Event::Invalid { .. } | Event::Truncated { .. });
        let written = if json {
            serde_json::to_writer(&mut out, &Versioned::new(Decoded::from(event)))
                .map_err(io::Error::from)
                .and_then(|()| writeln!(out))
        } else {
            writeln!(out, "{}", describe(event))
        };
        if let Err(e) = written {
            if e.kind() == io::ErrorKind::BrokenPipe {
                break;
            }
            return Err(Failure::new(Kind::Io, format!("writing output: {e}")));
        }
    }
    Ok(if clean {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Keep the lines of one client of a multi-client capture, prefix removed.
fn select_client(input: &[u8], prefix: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    for line in input.split_inclusive(|&b| b == b'\n') {
        if let Some(rest) = line.strip_prefix(prefix) {
            // `<imsg ...>` annotations travel on the socket, not the stream.
            if !rest.starts_with(b"<imsg ") {
                out.extend_from_slice(rest);
            }
        }
    }
    out
}

/// One event as a line of text.
fn describe(event: &Event) -> String {
    let show = |b: &[u8]| format!("{:?}", String::from_utf8_lossy(b));
    match event {
        Event::Reply(r) => {
            let lines: Vec<String> = r.lines.iter().map(|l| show(l)).collect();
            let status = if r.ok { "ok" } else { "error" };
            format!(
                "reply {} {} (flags {}): [{}]",
                r.number,
                status,
                r.flags,
                lines.join(", ")
            )
        }
        Event::Notification(n) => format!("notification {n:?}"),
        Event::Invalid { line, error } => format!("invalid {}: {error}", show(line)),
        Event::Truncated {
            open_block,
            lines,
            partial_line,
        } => format!(
            "truncated: open block {open_block:?}, {} lines, partial line {}",
            lines.len(),
            show(partial_line)
        ),
        other => format!("{other:?}"),
    }
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
#[derive(Serialize, JsonSchema)]
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
        #[serde(skip_serializing_if = "Vec::is_empty", default)]
        surfaced: Vec<Data>,
    },
    Output {
        #[serde(serialize_with = "id")]
        #[schemars(with = "String")]
        pane: tmux_wire::protocol::PaneId,
        data: Data,
    },
    ExtendedOutput {
        #[serde(serialize_with = "id")]
        #[schemars(with = "String")]
        pane: tmux_wire::protocol::PaneId,
        age_ms: u64,
        data: Data,
    },
    Pause {
        #[serde(serialize_with = "id")]
        #[schemars(with = "String")]
        pane: tmux_wire::protocol::PaneId,
    },
    Continue {
        #[serde(serialize_with = "id")]
        #[schemars(with = "String")]
        pane: tmux_wire::protocol::PaneId,
    },
    WindowAdd {
        #[serde(serialize_with = "id")]
        #[schemars(with = "String")]
        window: tmux_wire::protocol::WindowId,
    },
    WindowClose {
        #[serde(serialize_with = "id")]
        #[schemars(with = "String")]
        window: tmux_wire::protocol::WindowId,
    },
    WindowRenamed {
        #[serde(serialize_with = "id")]
        #[schemars(with = "String")]
        window: tmux_wire::protocol::WindowId,
        name: String,
    },
    UnlinkedWindowAdd {
        #[serde(serialize_with = "id")]
        #[schemars(with = "String")]
        window: tmux_wire::protocol::WindowId,
    },
    UnlinkedWindowClose {
        #[serde(serialize_with = "id")]
        #[schemars(with = "String")]
        window: tmux_wire::protocol::WindowId,
    },
    UnlinkedWindowRenamed {
        #[serde(serialize_with = "id")]
        #[schemars(with = "String")]
        window: tmux_wire::protocol::WindowId,
        name: String,
    },
    WindowPaneChanged {
        #[serde(serialize_with = "id")]
        #[schemars(with = "String")]
        window: tmux_wire::protocol::WindowId,
        #[serde(serialize_with = "id")]
        #[schemars(with = "String")]
        pane: tmux_wire::protocol::PaneId,
    },
    LayoutChange {
        #[serde(serialize_with = "id")]
        #[schemars(with = "String")]
        window: tmux_wire::protocol::WindowId,
        layout: String,
        visible_layout: String,
        flags: String,
    },
    SessionChanged {
        #[serde(serialize_with = "id")]
        #[schemars(with = "String")]
        session: tmux_wire::protocol::SessionId,
        name: String,
    },
    SessionRenamed {
        #[serde(serialize_with = "id")]
        #[schemars(with = "String")]
        session: tmux_wire::protocol::SessionId,
        name: String,
    },
    SessionsChanged,
    SessionWindowChanged {
        #[serde(serialize_with = "id")]
        #[schemars(with = "String")]
        session: tmux_wire::protocol::SessionId,
        #[serde(serialize_with = "id")]
        #[schemars(with = "String")]
        window: tmux_wire::protocol::WindowId,
    },
    ClientSessionChanged {
        client: String,
        #[serde(serialize_with = "id")]
        #[schemars(with = "String")]
        session: tmux_wire::protocol::SessionId,
        name: String,
    },
    ClientDetached {
        client: String,
    },
    PaneModeChanged {
        #[serde(serialize_with = "id")]
        #[schemars(with = "String")]
        pane: tmux_wire::protocol::PaneId,
    },
    /// Positions tmux leaves as `-` are `null`.
    SubscriptionChanged {
        name: String,
        #[serde(serialize_with = "id")]
        #[schemars(with = "String")]
        session: tmux_wire::protocol::SessionId,
        #[serde(serialize_with = "opt_id")]
        #[schemars(with = "Option<String>")]
        window: Option<tmux_wire::protocol::WindowId>,
        window_index: Option<u32>,
        #[serde(serialize_with = "opt_id")]
        #[schemars(with = "Option<String>")]
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
#[derive(Serialize, JsonSchema)]
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
    use crate::contract::tests::v;
    use serde_json::json;
    use tmux_wire::protocol::{PaneId, Reply, WindowId};

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
            v(&Decoded::from(&Event::Notification(
                Notification::SessionsChanged
            ))),
            json!({"version": 1, "type": "sessions-changed"})
        );
    }
}
