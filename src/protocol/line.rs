//! The control-mode line parser: one line in (without its `\n`), one typed
//! value out.
//!
//! Built with nom over bytes. Fields that run to the end of the line (names,
//! values, messages) keep their spaces. Names are decoded as UTF-8 lossily:
//! tmux `vis`-encodes session and window names and sends UTF-8 to clients
//! that set `CLIENT_UTF8`, so a replacement character only appears if tmux
//! itself sent invalid UTF-8 in a name. Pane data is never decoded as text.

use super::error::{display_line, ProtocolError};
use super::escape::{unescape_owned, unescape_slice};
use super::ids::{PaneId, SessionId, WindowId};
use bytes::Bytes;
use nom::branch::alt;
use nom::bytes::complete::{tag, take_till, take_till1, take_while1};
use nom::combinator::{all_consuming, eof, map, map_opt, opt, rest, value};
use nom::sequence::preceded;
use nom::{IResult, Parser};
use serde::{Deserialize, Serialize};

/// The three fields that open and close a command block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Guard {
    /// `time(NULL)` on the server when the command started.
    pub time: u64,
    /// Server-global command number: unique and increasing.
    pub number: u64,
    /// 1 for commands this control client typed, 0 otherwise.
    pub flags: u32,
}

/// One parsed control-mode line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Line {
    /// `%begin TIME NUMBER FLAGS`
    Begin(Guard),
    /// `%end TIME NUMBER FLAGS`
    End(Guard),
    /// `%error TIME NUMBER FLAGS`
    Error(Guard),
    /// Any other `%` line.
    Notification(Notification),
}

/// Every notification tmux 3.2 through master emits, plus [`Notification::Unknown`]
/// for the ones it may add later. Each variant's doc shows its wire format;
/// the fields are named after the parts of that format.
#[allow(missing_docs)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Notification {
    /// `%output %P DATA`: pane output, already unescaped.
    Output { pane: PaneId, data: Bytes },
    /// `%extended-output %P AGE [reserved...] : DATA` (with `pause-after`).
    ExtendedOutput {
        pane: PaneId,
        age_ms: u64,
        data: Bytes,
    },
    /// `%pause %P`: tmux stopped sending this pane's output.
    Pause { pane: PaneId },
    /// `%continue %P`: output of a paused pane resumes (what came between is lost).
    Continue { pane: PaneId },
    /// `%window-add @W`
    WindowAdd { window: WindowId },
    /// `%window-close @W`
    WindowClose { window: WindowId },
    /// `%window-renamed @W NAME`
    WindowRenamed { window: WindowId, name: String },
    /// `%unlinked-window-add @W`
    UnlinkedWindowAdd { window: WindowId },
    /// `%unlinked-window-close @W`
    UnlinkedWindowClose { window: WindowId },
    /// `%unlinked-window-renamed @W NAME`
    UnlinkedWindowRenamed { window: WindowId, name: String },
    /// `%window-pane-changed @W %P`: the active pane changed.
    WindowPaneChanged { window: WindowId, pane: PaneId },
    /// `%layout-change @W LAYOUT VISIBLE_LAYOUT FLAGS`; tmux before 3.2 sends
    /// fewer fields, which then come out empty.
    LayoutChange {
        window: WindowId,
        layout: String,
        visible_layout: String,
        flags: String,
    },
    /// `%session-changed $S NAME`: this client is now attached to S.
    SessionChanged { session: SessionId, name: String },
    /// `%session-renamed $S NAME`
    SessionRenamed { session: SessionId, name: String },
    /// `%sessions-changed`: a session was created or destroyed.
    SessionsChanged,
    /// `%session-window-changed $S @W`: a session's current window changed.
    SessionWindowChanged {
        session: SessionId,
        window: WindowId,
    },
    /// `%client-session-changed CLIENT $S NAME`: another client switched session.
    ClientSessionChanged {
        client: String,
        session: SessionId,
        name: String,
    },
    /// `%client-detached CLIENT`
    ClientDetached { client: String },
    /// `%pane-mode-changed %P`
    PaneModeChanged { pane: PaneId },
    /// `%subscription-changed NAME $S @W IDX %P [reserved...] : VALUE`;
    /// positions tmux leaves as `-` are `None`.
    SubscriptionChanged {
        name: String,
        session: SessionId,
        window: Option<WindowId>,
        window_index: Option<u32>,
        pane: Option<PaneId>,
        value: Bytes,
    },
    /// `%paste-buffer-changed NAME`
    PasteBufferChanged { name: String },
    /// `%paste-buffer-deleted NAME`
    PasteBufferDeleted { name: String },
    /// `%config-error FILE:LINE: MESSAGE`
    ConfigError { message: Bytes },
    /// `%message TEXT`
    Message { text: Bytes },
    /// `%exit [REASON]` (written by tmux client processes, never by the server).
    Exit { reason: Option<String> },
    /// A `%name` this parser does not know; `rest` is everything after the
    /// first space.
    Unknown { name: String, rest: Bytes },
}

impl Notification {
    /// The pane this notification is about, if it is about exactly one pane.
    pub fn pane(&self) -> Option<PaneId> {
        match self {
            Notification::Output { pane, .. }
            | Notification::ExtendedOutput { pane, .. }
            | Notification::Pause { pane }
            | Notification::Continue { pane }
            | Notification::PaneModeChanged { pane }
            | Notification::WindowPaneChanged { pane, .. } => Some(*pane),
            Notification::SubscriptionChanged { pane, .. } => *pane,
            _ => None,
        }
    }
}

type Res<'a, T> = IResult<&'a [u8], T>;

fn sp(i: &[u8]) -> Res<'_, &[u8]> {
    tag(&b" "[..]).parse(i)
}

fn digits_u64(i: &[u8]) -> Res<'_, u64> {
    map_opt(take_while1(|b: u8| b.is_ascii_digit()), |d: &[u8]| {
        super::ids::parse_u64(d).map(|(n, _)| n)
    })
    .parse(i)
}

fn digits_u32(i: &[u8]) -> Res<'_, u32> {
    map_opt(digits_u64, |n| u32::try_from(n).ok()).parse(i)
}

fn pane(i: &[u8]) -> Res<'_, PaneId> {
    map(preceded(tag(&b"%"[..]), digits_u32), PaneId).parse(i)
}

fn window(i: &[u8]) -> Res<'_, WindowId> {
    map(preceded(tag(&b"@"[..]), digits_u32), WindowId).parse(i)
}

fn session(i: &[u8]) -> Res<'_, SessionId> {
    map(preceded(tag(&b"$"[..]), digits_u32), SessionId).parse(i)
}

fn word(i: &[u8]) -> Res<'_, &[u8]> {
    take_till1(|b| b == b' ').parse(i)
}

/// A `-` placeholder or a value.
fn dash_or<'a, T: Clone>(
    p: impl Parser<&'a [u8], Output = T, Error = nom::error::Error<&'a [u8]>>,
) -> impl Parser<&'a [u8], Output = Option<T>, Error = nom::error::Error<&'a [u8]>> {
    alt((value(None, tag(&b"-"[..])), map(p, Some)))
}

/// ` TIME NUMBER FLAGS` and nothing else, the arguments of `%begin`,
/// `%end` and `%error`: a third of the lines of a command-heavy stream, so
/// read by hand.
fn guard(args: &[u8]) -> Option<Guard> {
    fn field(i: &[u8]) -> Option<(u64, &[u8])> {
        super::ids::parse_u64(i.strip_prefix(b" ")?)
    }
    let (time, rest) = field(args)?;
    let (number, rest) = field(rest)?;
    let (flags, rest) = field(rest)?;
    rest.is_empty().then_some(Guard {
        time,
        number,
        flags: u32::try_from(flags).ok()?,
    })
}

/// Skip `[reserved...] :` up to and including the first field that is a lone
/// colon, then one space; returns what follows (the data or value).
fn after_lone_colon(i: &[u8]) -> Res<'_, &[u8]> {
    let mut cur = i;
    loop {
        let (r, _) = sp(cur)?;
        let (r, field) = take_till(|b| b == b' ').parse(r)?;
        if field == b":" {
            // The data follows one space; data may be empty (and then the space may be missing).
            return match r.first() {
                None => Ok((r, r)),
                Some(b' ') => Ok((&r[r.len()..], &r[1..])),
                Some(_) => unreachable_colon(r),
            };
        }
        if r.is_empty() {
            return Err(nom::Err::Error(nom::error::Error::new(
                r,
                nom::error::ErrorKind::Char,
            )));
        }
        cur = r;
    }
}

fn unreachable_colon(r: &[u8]) -> Res<'_, &[u8]> {
    // take_till stopped at a space, so the next byte is a space or nothing.
    Err(nom::Err::Error(nom::error::Error::new(
        r,
        nom::error::ErrorKind::Char,
    )))
}

type SubscriptionFields<'a> = (
    SessionId,
    Option<WindowId>,
    Option<u32>,
    Option<PaneId>,
    &'a [u8],
);

/// ` NAME $S @W|- IDX|- %P|- [reserved...] : VALUE`. A subscription name
/// may contain spaces (`-B 'my sub:%*:fmt'`), so the name ends at the first
/// ` $` after which the fixed fields parse.
fn subscription(args: &[u8]) -> Option<(&[u8], SubscriptionFields<'_>)> {
    let body = args.strip_prefix(b" ")?;
    let fields = |i| {
        (
            session,
            preceded(sp, dash_or(window)),
            preceded(sp, dash_or(digits_u32)),
            preceded(sp, dash_or(pane)),
            after_lone_colon,
        )
            .parse(i)
            .map(|(_, f)| f)
    };
    memchr::memmem::find_iter(body, b" $").find_map(|at| {
        let name = &body[..at];
        (!name.is_empty()).then_some(())?;
        fields(&body[at + 1..]).ok().map(|f| (name, f))
    })
}

/// Everything after one space, or nothing at end of line.
fn opt_text(i: &[u8]) -> Res<'_, &[u8]> {
    alt((preceded(sp, rest), map(eof, |e: &[u8]| e))).parse(i)
}

/// Text tmux sent (a name, a layout): valid UTF-8 is copied as is; the
/// lossy decoding is only the fallback (it is several times slower).
fn text(b: &[u8]) -> String {
    match std::str::from_utf8(b) {
        Ok(s) => s.to_owned(),
        Err(_) => String::from_utf8_lossy(b).into_owned(),
    }
}

/// Parse one control-mode line (without the trailing `\n`; a trailing `\r`
/// is kept and becomes part of the last field).
///
/// Only the parts of the line the result holds are copied (for `%output`,
/// the data, unescaped in the same pass).
///
/// ```
/// use tmux_wire::protocol::{parse_line, Line, Notification, PaneId};
/// let line = parse_line(b"%output %3 hi\\015\\012").unwrap();
/// assert_eq!(
///     line,
///     Line::Notification(Notification::Output { pane: PaneId(3), data: "hi\r\n".into() })
/// );
/// ```
pub fn parse_line(line: &[u8]) -> Result<Line, ProtocolError> {
    if let Some((header, at)) = data_line(line) {
        let data = Bytes::from(unescape_slice(&line[at..]));
        return Ok(Line::Notification(header.with(data)));
    }
    parse_general(line, Source::Copied)
}

/// [`parse_line`] for a line held in [`Bytes`]: `%output` data without
/// escapes and the other byte fields are returned as views into `line`,
/// without copying.
pub fn parse_line_bytes(line: &Bytes) -> Result<Line, ProtocolError> {
    if let Some((header, at)) = data_line(line) {
        let data = unescape_owned(line.slice(at..));
        return Ok(Line::Notification(header.with(data)));
    }
    parse_general(line, Source::Shared(line))
}

/// What comes before the data of a line carrying pane output.
#[derive(Debug, Clone, Copy)]
pub(crate) enum DataHeader {
    /// `%output %P`
    Output(PaneId),
    /// `%extended-output %P AGE [reserved...] :`
    Extended(PaneId, u64),
}

impl DataHeader {
    /// The notification, given the data (already unescaped).
    pub(crate) fn with(self, data: Bytes) -> Notification {
        match self {
            DataHeader::Output(pane) => Notification::Output { pane, data },
            DataHeader::Extended(pane, age_ms) => {
                Notification::ExtendedOutput { pane, age_ms, data }
            }
        }
    }
}

/// A well-formed `%output` or `%extended-output` line: its header and the
/// offset where its (still escaped) data begins. These are the hot lines,
/// so `%output`'s header is read by hand; anything else, a malformed one
/// included, is `None` and left to [`parse_general`].
#[inline]
pub(crate) fn data_line(line: &[u8]) -> Option<(DataHeader, usize)> {
    if let Some(args) = line.strip_prefix(b"%output ") {
        let (pane, rest) = PaneId::parse_prefix(args)?;
        return match rest.first() {
            None => Some((DataHeader::Output(pane), line.len())),
            Some(b' ') => Some((DataHeader::Output(pane), line.len() - rest.len() + 1)),
            Some(_) => None,
        };
    }
    let args = line.strip_prefix(b"%extended-output")?;
    let (_, (pane, age_ms, data)) = extended_output(args).ok()?;
    Some((DataHeader::Extended(pane, age_ms), line.len() - data.len()))
}

/// ` %P AGE [reserved...] : DATA`, the arguments of `%extended-output`.
fn extended_output(args: &[u8]) -> Res<'_, (PaneId, u64, &[u8])> {
    (
        preceded(sp, pane),
        preceded(sp, digits_u64),
        after_lone_colon,
    )
        .parse(args)
}

/// Where the byte fields of a parsed line come from: views into a line
/// held in [`Bytes`], or copies of a borrowed line. (Pane data is not
/// among them: [`data_line`] takes every well-formed data line first.)
#[derive(Clone, Copy)]
enum Source<'a> {
    Shared(&'a Bytes),
    Copied,
}

impl Source<'_> {
    /// `part` (a slice of the line) as [`Bytes`].
    fn bytes(self, part: &[u8]) -> Bytes {
        match self {
            Source::Shared(line) => line.slice_ref(part),
            Source::Copied => Bytes::copy_from_slice(part),
        }
    }
}

fn parse_general(line: &[u8], source: Source<'_>) -> Result<Line, ProtocolError> {
    let bad = |reason: &'static str| ProtocolError::MalformedLine {
        reason: reason.into(),
        line: display_line(line),
    };
    let Some(body) = line.strip_prefix(b"%") else {
        return Err(bad(if line.is_empty() {
            "empty line outside a command block"
        } else {
            "line outside a command block does not start with %"
        }));
    };
    let name_len = memchr::memchr(b' ', body).unwrap_or(body.len());
    let (name, args) = body.split_at(name_len);
    if name.is_empty() {
        return Err(bad("missing notification name after %"));
    }
    let fail = |_: nom::Err<nom::error::Error<&[u8]>>| bad(expected_shape(name));

    use Notification as N;
    let n = match name {
        b"begin" => {
            return guard(args)
                .map(Line::Begin)
                .ok_or_else(|| bad(expected_shape(name)))
        }
        b"end" => {
            return guard(args)
                .map(Line::End)
                .ok_or_else(|| bad(expected_shape(name)))
        }
        b"error" => {
            return guard(args)
                .map(Line::Error)
                .ok_or_else(|| bad(expected_shape(name)))
        }
        // Every well-formed one was taken by `data_line` before this.
        b"output" | b"extended-output" => return Err(bad(expected_shape(name))),
        b"pause" => N::Pause {
            pane: one(args, pane).map_err(fail)?,
        },
        b"continue" => N::Continue {
            pane: one(args, pane).map_err(fail)?,
        },
        b"pane-mode-changed" => N::PaneModeChanged {
            pane: one(args, pane).map_err(fail)?,
        },
        b"window-add" => N::WindowAdd {
            window: one(args, window).map_err(fail)?,
        },
        b"window-close" => N::WindowClose {
            window: one(args, window).map_err(fail)?,
        },
        b"unlinked-window-add" => N::UnlinkedWindowAdd {
            window: one(args, window).map_err(fail)?,
        },
        b"unlinked-window-close" => N::UnlinkedWindowClose {
            window: one(args, window).map_err(fail)?,
        },
        b"window-renamed" => {
            let (window, name) = id_and_text(args, window).map_err(fail)?;
            N::WindowRenamed { window, name }
        }
        b"unlinked-window-renamed" => {
            let (window, name) = id_and_text(args, window).map_err(fail)?;
            N::UnlinkedWindowRenamed { window, name }
        }
        b"session-changed" => {
            let (session, name) = id_and_text(args, session).map_err(fail)?;
            N::SessionChanged { session, name }
        }
        b"session-renamed" => {
            let (session, name) = id_and_text(args, session).map_err(fail)?;
            N::SessionRenamed { session, name }
        }
        b"window-pane-changed" => {
            let (_, (window, pane)) = all_consuming((preceded(sp, window), preceded(sp, pane)))
                .parse(args)
                .map_err(fail)?;
            N::WindowPaneChanged { window, pane }
        }
        b"session-window-changed" => {
            let (_, (session, window)) =
                all_consuming((preceded(sp, session), preceded(sp, window)))
                    .parse(args)
                    .map_err(fail)?;
            N::SessionWindowChanged { session, window }
        }
        b"layout-change" => {
            let (_, (window, layout, visible, flags)) = all_consuming((
                preceded(sp, window),
                preceded(sp, word),
                opt(preceded(sp, word)),
                opt_text,
            ))
            .parse(args)
            .map_err(fail)?;
            N::LayoutChange {
                window,
                layout: text(layout),
                visible_layout: visible.map(text).unwrap_or_default(),
                flags: text(flags),
            }
        }
        b"sessions-changed" => {
            all_consuming(eof).parse(args).map_err(fail)?;
            N::SessionsChanged
        }
        b"client-session-changed" => {
            let (_, (client, session, name)) =
                (preceded(sp, word), preceded(sp, session), opt_text)
                    .parse(args)
                    .map_err(fail)?;
            N::ClientSessionChanged {
                client: text(client),
                session,
                name: text(name),
            }
        }
        b"client-detached" => N::ClientDetached {
            client: text(one(args, word).map_err(fail)?),
        },
        b"subscription-changed" => {
            let (name, (session, window, window_index, pane, v)) =
                subscription(args).ok_or_else(|| bad(expected_shape(name)))?;
            N::SubscriptionChanged {
                name: text(name),
                session,
                window,
                window_index,
                pane,
                value: source.bytes(v),
            }
        }
        b"paste-buffer-changed" => N::PasteBufferChanged {
            name: text(opt_text(args).map_err(fail)?.1),
        },
        b"paste-buffer-deleted" => N::PasteBufferDeleted {
            name: text(opt_text(args).map_err(fail)?.1),
        },
        b"config-error" => N::ConfigError {
            message: source.bytes(opt_text(args).map_err(fail)?.1),
        },
        b"message" => N::Message {
            text: source.bytes(opt_text(args).map_err(fail)?.1),
        },
        b"exit" => {
            let reason = opt_text(args).map_err(fail)?.1;
            N::Exit {
                reason: (!reason.is_empty()).then(|| text(reason)),
            }
        }
        _ => N::Unknown {
            name: text(name),
            rest: args
                .strip_prefix(b" ")
                .map(|r| source.bytes(r))
                .unwrap_or_default(),
        },
    };
    Ok(Line::Notification(n))
}

/// ` ID` and nothing else.
fn one<'a, T>(
    args: &'a [u8],
    p: impl Parser<&'a [u8], Output = T, Error = nom::error::Error<&'a [u8]>>,
) -> Result<T, nom::Err<nom::error::Error<&'a [u8]>>> {
    all_consuming(preceded(sp, p)).parse(args).map(|(_, v)| v)
}

/// ` ID NAME...` where the name runs to the end of the line.
fn id_and_text<'a, T>(
    args: &'a [u8],
    p: impl Parser<&'a [u8], Output = T, Error = nom::error::Error<&'a [u8]>>,
) -> Result<(T, String), nom::Err<nom::error::Error<&'a [u8]>>> {
    (preceded(sp, p), opt_text)
        .parse(args)
        .map(|(_, (id, name))| (id, text(name)))
}

/// The argument shape of each known notification, for error messages.
fn expected_shape(name: &[u8]) -> &'static str {
    match name {
        b"begin" | b"end" | b"error" => "expected three numbers: TIME NUMBER FLAGS",
        b"output" => "expected %PANE DATA",
        b"extended-output" => "expected %PANE AGE [...] : DATA",
        b"pause" | b"continue" | b"pane-mode-changed" => "expected one %PANE",
        b"window-add" | b"window-close" | b"unlinked-window-add" | b"unlinked-window-close" => {
            "expected one @WINDOW"
        }
        b"window-renamed" | b"unlinked-window-renamed" => "expected @WINDOW NAME",
        b"session-changed" | b"session-renamed" => "expected $SESSION NAME",
        b"window-pane-changed" => "expected @WINDOW %PANE",
        b"session-window-changed" => "expected $SESSION @WINDOW",
        b"layout-change" => "expected @WINDOW LAYOUT [VISIBLE_LAYOUT [FLAGS]]",
        b"sessions-changed" => "expected no arguments",
        b"client-session-changed" => "expected CLIENT $SESSION NAME",
        b"client-detached" => "expected one CLIENT name",
        b"subscription-changed" => "expected NAME $S @W|- IDX|- %P|- [...] : VALUE",
        _ => "unexpected arguments",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Notification as N;

    fn n(line: &str) -> Notification {
        match parse_line(line.as_bytes()) {
            Ok(Line::Notification(n)) => n,
            other => panic!("{line:?} gave {other:?}"),
        }
    }

    #[test]
    fn guards() {
        let g = Guard {
            time: 1795310533,
            number: 266,
            flags: 0,
        };
        assert_eq!(
            parse_line(b"%begin 1795310533 266 0").unwrap(),
            Line::Begin(g)
        );
        assert_eq!(parse_line(b"%end 1795310533 266 0").unwrap(), Line::End(g));
        assert_eq!(
            parse_line(b"%error 1795310533 266 0").unwrap(),
            Line::Error(g)
        );
        for bad in [
            "%begin",
            "%begin 1 2",
            "%begin 1 2 3 4",
            "%end 1 2 x",
            "%begin 1 2 3 ",
            "%end 1 2 99999999999",
        ] {
            assert!(parse_line(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_notification_kind() {
        assert_eq!(
            n("%output %0 a\\134b"),
            N::Output {
                pane: PaneId(0),
                data: "a\\b".into()
            }
        );
        assert_eq!(
            n("%output %0 "),
            N::Output {
                pane: PaneId(0),
                data: Bytes::new()
            }
        );
        assert_eq!(
            n("%output %7 ends in space "),
            N::Output {
                pane: PaneId(7),
                data: "ends in space ".into()
            }
        );
        assert_eq!(
            n("%extended-output %0 12 : echo x\\015"),
            N::ExtendedOutput {
                pane: PaneId(0),
                age_ms: 12,
                data: "echo x\r".into()
            }
        );
        assert_eq!(
            n("%extended-output %0 12 future fields : a : b"),
            N::ExtendedOutput {
                pane: PaneId(0),
                age_ms: 12,
                data: "a : b".into()
            }
        );
        assert_eq!(n("%pause %0"), N::Pause { pane: PaneId(0) });
        assert_eq!(n("%continue %4"), N::Continue { pane: PaneId(4) });
        assert_eq!(
            n("%window-add @2"),
            N::WindowAdd {
                window: WindowId(2)
            }
        );
        assert_eq!(
            n("%window-close @2"),
            N::WindowClose {
                window: WindowId(2)
            }
        );
        assert_eq!(
            n("%window-renamed @0 renamed win"),
            N::WindowRenamed {
                window: WindowId(0),
                name: "renamed win".into()
            }
        );
        assert_eq!(
            n("%unlinked-window-add @3"),
            N::UnlinkedWindowAdd {
                window: WindowId(3)
            }
        );
        assert_eq!(
            n("%unlinked-window-close @3"),
            N::UnlinkedWindowClose {
                window: WindowId(3)
            }
        );
        assert_eq!(
            n("%unlinked-window-renamed @0 a  b "),
            N::UnlinkedWindowRenamed {
                window: WindowId(0),
                name: "a  b ".into()
            }
        );
        assert_eq!(
            n("%window-pane-changed @0 %3"),
            N::WindowPaneChanged {
                window: WindowId(0),
                pane: PaneId(3)
            }
        );
        assert_eq!(
            n("%layout-change @0 b25d,80x24,0,0,0 b25d,80x24,0,0,0 *"),
            N::LayoutChange {
                window: WindowId(0),
                layout: "b25d,80x24,0,0,0".into(),
                visible_layout: "b25d,80x24,0,0,0".into(),
                flags: "*".into()
            }
        );
        assert_eq!(
            n("%layout-change @1 b25d,80x24,0,0,0 b25d,80x24,0,0,0 "),
            N::LayoutChange {
                window: WindowId(1),
                layout: "b25d,80x24,0,0,0".into(),
                visible_layout: "b25d,80x24,0,0,0".into(),
                flags: "".into()
            }
        );
        assert_eq!(
            n("%layout-change @1 b25d,80x24,0,0,0"),
            N::LayoutChange {
                window: WindowId(1),
                layout: "b25d,80x24,0,0,0".into(),
                visible_layout: "".into(),
                flags: "".into()
            }
        );
        assert_eq!(
            n("%session-changed $0 work"),
            N::SessionChanged {
                session: SessionId(0),
                name: "work".into()
            }
        );
        assert_eq!(
            n("%session-renamed $1 spare 2"),
            N::SessionRenamed {
                session: SessionId(1),
                name: "spare 2".into()
            }
        );
        assert_eq!(n("%sessions-changed"), N::SessionsChanged);
        assert_eq!(
            n("%session-window-changed $0 @4"),
            N::SessionWindowChanged {
                session: SessionId(0),
                window: WindowId(4)
            }
        );
        assert_eq!(
            n("%client-session-changed client-29781 $2 cc2"),
            N::ClientSessionChanged {
                client: "client-29781".into(),
                session: SessionId(2),
                name: "cc2".into()
            }
        );
        assert_eq!(
            n("%client-detached client-1693"),
            N::ClientDetached {
                client: "client-1693".into()
            }
        );
        assert_eq!(
            n("%pane-mode-changed %0"),
            N::PaneModeChanged { pane: PaneId(0) }
        );
        assert_eq!(
            n("%subscription-changed wname $0 @0 0 - : renamed win"),
            N::SubscriptionChanged {
                name: "wname".into(),
                session: SessionId(0),
                window: Some(WindowId(0)),
                window_index: Some(0),
                pane: None,
                value: "renamed win".into()
            }
        );
        assert_eq!(
            n("%subscription-changed s $1 - - - : "),
            N::SubscriptionChanged {
                name: "s".into(),
                session: SessionId(1),
                window: None,
                window_index: None,
                pane: None,
                value: "".into()
            }
        );
        assert_eq!(
            n("%subscription-changed sub2 $0 @0 0 %0 : bash"),
            N::SubscriptionChanged {
                name: "sub2".into(),
                session: SessionId(0),
                window: Some(WindowId(0)),
                window_index: Some(0),
                pane: Some(PaneId(0)),
                value: "bash".into()
            }
        );
        assert_eq!(
            n("%paste-buffer-changed b1"),
            N::PasteBufferChanged { name: "b1".into() }
        );
        assert_eq!(
            n("%paste-buffer-deleted b1"),
            N::PasteBufferDeleted { name: "b1".into() }
        );
        assert_eq!(
            n("%config-error /home/user/badconf.conf:2: unknown command: bogus-option-line"),
            N::ConfigError {
                message: "/home/user/badconf.conf:2: unknown command: bogus-option-line".into()
            }
        );
        assert_eq!(
            n("%message a message"),
            N::Message {
                text: "a message".into()
            }
        );
        assert_eq!(n("%exit"), N::Exit { reason: None });
        assert_eq!(
            n("%exit too far behind"),
            N::Exit {
                reason: Some("too far behind".into())
            }
        );
        assert_eq!(
            n("%future-thing a b"),
            N::Unknown {
                name: "future-thing".into(),
                rest: "a b".into()
            }
        );
        assert_eq!(
            n("%future"),
            N::Unknown {
                name: "future".into(),
                rest: Bytes::new()
            }
        );
    }

    #[test]
    fn subscription_names_may_hold_spaces() {
        assert_eq!(
            n("%subscription-changed my sub $2 @1 3 %4 : v a l"),
            N::SubscriptionChanged {
                name: "my sub".into(),
                session: SessionId(2),
                window: Some(WindowId(1)),
                window_index: Some(3),
                pane: Some(PaneId(4)),
                value: "v a l".into()
            }
        );
        // A name holding " $" and a value holding " : " still split right.
        assert_eq!(
            n("%subscription-changed a $b $0 - - - : x : y"),
            N::SubscriptionChanged {
                name: "a $b".into(),
                session: SessionId(0),
                window: None,
                window_index: None,
                pane: None,
                value: "x : y".into()
            }
        );
    }

    #[test]
    fn raw_text_is_kept_as_bytes() {
        let Ok(Line::Notification(N::Message { text })) = parse_line(b"%message \xff") else {
            panic!()
        };
        assert_eq!(text.as_ref(), b"\xff");
    }

    #[test]
    fn bad_lines_are_errors() {
        for bad in [
            "",
            "garbage",
            "%",
            "% x",
            "%output",
            "%output 0 x",
            "%output %x y",
            "%pause %0 extra",
            "%window-add 2",
            "%sessions-changed now",
            "%extended-output %0 12 no colon",
            "%extended-output %0 x : d",
            "%subscription-changed n $0 @0 0 -",
            "%window-pane-changed @0",
        ] {
            let err = parse_line(bad.as_bytes()).unwrap_err();
            assert!(!err.to_string().is_empty());
        }
    }

    #[test]
    fn output_without_escapes_is_not_copied() {
        let line = Bytes::from_static(b"%output %1 plain");
        let Line::Notification(N::Output { data, .. }) = parse_line_bytes(&line).unwrap() else {
            panic!()
        };
        assert_eq!(data.as_ptr(), line[11..].as_ptr());
    }

    proptest::proptest! {
        #[test]
        fn never_panics(line in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64)) {
            let _ = parse_line(&line);
        }

        #[test]
        fn never_panics_on_known_names(name in proptest::sample::select(vec![
            "%begin ", "%end ", "%output ", "%extended-output ", "%subscription-changed ",
            "%layout-change ", "%client-session-changed ", "%window-renamed ", "%exit",
        ]), tail in "[ %@$:0-9a-z-]{0,24}") {
            let _ = parse_line(format!("{name}{tail}").as_bytes());
        }
    }
}
