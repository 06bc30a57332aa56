//! The record of a kept process: what the keeper keeps on the tmux
//! session it started, as user options, typed and versioned. This module
//! owns every option name, reads the whole record in one query
//! ([`Keeper::read_record`], or as part of `list-panes`: [`FIELDS`]) and
//! writes it in one batch ([`Record::write`]); the steps that change a
//! field later (a restart, an input, an expiry, a log writer's failure)
//! do so through the setters here. The option names are those of earlier
//! versions: tmux's hooks and helpers of an older tmux-wire still running
//! refer to them.
//!
//! Versions: [`VERSION_OPTION`] holds the layout's version ([`VERSION`]).
//! A session whose record has none but carries the keeper's options was
//! started by a tmux-wire from before versions and reads as version 1
//! (the layout is the same). A record of a higher version than this build
//! knows is refused ([`KeeperError::NewerRecord`]): a newer tmux-wire
//! started it.

mod codec;

pub(super) use codec::{FieldError, Limit, LogError, RunExit};
pub use codec::{RestartPolicy, RestartWhen};

use super::{log, Keeper, KeeperError};
use crate::client::{commands, Client};
use crate::protocol::{Command, FormatQuery, PaneId};
use crate::watch::WatchError;
use std::path::PathBuf;
use std::sync::LazyLock;

/// The layout of the record this build reads and writes.
pub(super) const VERSION: u32 = 1;

/// The option that holds the record's version.
pub(super) const VERSION_OPTION: &str = "@tmux-wire-record";
const COMMAND: &str = "@tmux-wire-command";
const CWD: &str = "@tmux-wire-cwd";
const STARTED: &str = "@tmux-wire-started";
const LOG: &str = "@tmux-wire-log";
/// Where the current run begins in the log ([`log::Position`]).
const RUN: &str = "@tmux-wire-run";
/// Where the last text tmux-wire typed begins in the log.
const INPUT: &str = "@tmux-wire-input";
/// That text's lines as its echo is recognised (whitespace removed, lines
/// separated by spaces).
const ECHO: &str = "@tmux-wire-echo";
/// The run's time limit (`start --kill-after`: `AFTER_MS:GRACE_MS`).
const KILL_AFTER: &str = "@tmux-wire-kill-after";
/// What the run's readiness pattern matched (`start --ready`).
const READY: &str = "@tmux-wire-ready";
/// Set (to the limit, seconds) when the run was stopped for running longer.
const EXPIRED: &str = "@tmux-wire-expired";
/// The restart policy (`WHEN:MAX:DELAY_MS`, or `off`).
const RESTART: &str = "@tmux-wire-restart";
/// Restarts made so far.
const RESTARTS: &str = "@tmux-wire-restarts";
/// The last exits, newest last (`RUN exited N` / `RUN signaled N`,
/// `;`-separated).
const EXITS: &str = "@tmux-wire-exits";
/// The run a start replaced in a new session of the same name, and how it
/// ended: the event stream tells that end when it did not see it.
const REPLACED: &str = "@tmux-wire-replaced";
/// The last failure of a helper tmux ran, as a `tmux-wire` before the
/// helpers' error file recorded it (still read on sessions it started).
const HELPER_ERROR: &str = "@tmux-wire-error";
/// A pane option: why the pane's log writer cannot write (`UNIX-TIME
/// REASON`); unset while it writes.
const LOG_ERROR: &str = "@tmux-wire-log-error";
/// On a session the keeper did not start (pane options): the row of the
/// pane's history and screen where the cursor was before tmux-wire last
/// typed there ([`crate::watch::input_row`]), and how that text's echo
/// reads (as [`ECHO`]). They stay on the pane (tmux does nothing with them).
const INPUT_ROW: &str = "@tmux-wire-input-row";
const INPUT_ECHO: &str = "@tmux-wire-input-echo";

/// The record's options, in the order [`Record::from_fields`] reads them
/// (the last one is the active pane's).
pub(super) const FIELDS: &[&str] = &[
    VERSION_OPTION,
    COMMAND,
    CWD,
    STARTED,
    LOG,
    RUN,
    INPUT,
    ECHO,
    KILL_AFTER,
    READY,
    EXPIRED,
    RESTART,
    RESTARTS,
    EXITS,
    REPLACED,
    HELPER_ERROR,
    LOG_ERROR,
];

/// What the keeper keeps of a process it started. A field whose value
/// cannot be read is taken as not set (and logged): a record is never
/// refused for one bad field, only for a newer version.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Record {
    /// The layout's version; 0 for a session the keeper did not start.
    pub(super) version: u32,
    /// The command line, as shown.
    pub(super) command: String,
    /// The directory it was started in.
    pub(super) cwd: String,
    /// When the current run started, seconds since the Unix epoch.
    pub(super) started: Option<u64>,
    /// The log file.
    pub(super) log: Option<PathBuf>,
    /// Where the current run begins in the log.
    pub(super) run: Option<log::Position>,
    /// Where the last input begins (none: the run's start).
    pub(super) input: Option<log::Position>,
    /// How that input's echo reads.
    pub(super) echo: String,
    pub(super) kill_after: Option<Limit>,
    pub(super) ready: Option<String>,
    /// The limit (seconds) a run was stopped for running longer than.
    pub(super) expired: Option<u64>,
    /// The restart policy; none also when a stop turned it off.
    pub(super) restart: Option<RestartPolicy>,
    pub(super) restarts: Option<u32>,
    /// The last exits (at most ten), oldest first.
    pub(super) exits: Vec<RunExit>,
    pub(super) replaced: Option<RunExit>,
    pub(super) helper_error: Option<String>,
    /// The (active) pane's log writer's failure.
    pub(super) log_error: Option<LogError>,
}

/// Why a record cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum RecordError {
    /// A newer tmux-wire wrote it (its version).
    Newer(u32),
    /// Its version is not a number.
    BadVersion(String),
}

impl RecordError {
    /// The keeper's error for `name`'s record.
    pub(super) fn for_name(&self, name: &str) -> KeeperError {
        KeeperError::NewerRecord {
            name: name.to_string(),
            version: match self {
                RecordError::Newer(v) => v.to_string(),
                RecordError::BadVersion(v) => format!("{v:?}"),
            },
            known: VERSION,
        }
    }
}

/// A field's value, or none (logged) if it does not read.
fn lenient<T>(read: Result<Option<T>, FieldError>) -> Option<T> {
    read.unwrap_or_else(|e| {
        ::log::warn!("{e}; taken as not set");
        None
    })
}

fn text(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

impl Record {
    /// The record of `fields`, the values of [`FIELDS`] in order.
    pub(super) fn from_fields(fields: &[String]) -> Result<Record, RecordError> {
        let field = |name: &str| {
            FIELDS
                .iter()
                .position(|f| *f == name)
                .and_then(|i| fields.get(i))
                .map_or("", String::as_str)
        };
        let version = match field(VERSION_OPTION) {
            // Before versions: the keeper's options make it version 1.
            "" if field(LOG).is_empty() => 0,
            "" => 1,
            v => match v.parse::<u32>() {
                Ok(v) if v > VERSION => return Err(RecordError::Newer(v)),
                Ok(v) => v,
                Err(_) => return Err(RecordError::BadVersion(v.to_string())),
            },
        };
        Ok(Record {
            version,
            command: field(COMMAND).to_string(),
            cwd: field(CWD).to_string(),
            started: lenient(codec::decode_number(STARTED, field(STARTED))),
            log: text(field(LOG)).map(PathBuf::from),
            run: lenient(codec::decode_position(RUN, field(RUN))),
            input: lenient(codec::decode_position(INPUT, field(INPUT))),
            echo: field(ECHO).to_string(),
            kill_after: lenient(codec::decode_limit(KILL_AFTER, field(KILL_AFTER))),
            ready: text(field(READY)),
            expired: lenient(codec::decode_number(EXPIRED, field(EXPIRED))),
            restart: lenient(codec::decode_restart(RESTART, field(RESTART))),
            restarts: lenient(codec::decode_number(RESTARTS, field(RESTARTS))),
            exits: codec::decode_exits(EXITS, field(EXITS))
                .into_iter()
                .filter_map(|e| lenient(e.map(Some)))
                .collect(),
            replaced: match field(REPLACED) {
                "" => None,
                s => lenient(codec::decode_run_exit(REPLACED, s).map(Some)),
            },
            helper_error: text(field(HELPER_ERROR)),
            log_error: codec::decode_log_error(field(LOG_ERROR)),
        })
    }

    /// Whether the keeper started it (it has a log and a run).
    pub(super) fn is_kept(&self) -> bool {
        self.log.is_some() && self.run.is_some()
    }

    /// The log file's path as text (empty for none).
    pub(super) fn log_text(&self) -> String {
        self.log
            .as_ref()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// The batch that writes the whole record on `name`'s session (with
    /// this build's version), on a session that has none yet: fields that
    /// are not set are left unset. The pane's log error is the writer's,
    /// not written here.
    pub(super) fn write(&self, name: &str) -> Vec<Command> {
        let position = |p: Option<log::Position>| p.map(|p| p.to_string()).unwrap_or_default();
        let number = |n: Option<u64>| n.map(|n| n.to_string()).unwrap_or_default();
        let values = [
            (VERSION_OPTION, VERSION.to_string()),
            (COMMAND, self.command.clone()),
            (CWD, self.cwd.clone()),
            (STARTED, number(self.started)),
            (LOG, self.log_text()),
            (RUN, position(self.run)),
            (INPUT, position(self.input)),
            (ECHO, self.echo.clone()),
            (
                KILL_AFTER,
                self.kill_after.map(codec::encode_limit).unwrap_or_default(),
            ),
            (READY, self.ready.clone().unwrap_or_default()),
            (EXPIRED, number(self.expired)),
            (RESTART, restart_text(self.restart)),
            (
                RESTARTS,
                self.restarts.map(|n| n.to_string()).unwrap_or_default(),
            ),
            (EXITS, codec::encode_exits(&self.exits)),
            (
                REPLACED,
                self.replaced
                    .as_ref()
                    .map(codec::encode_run_exit)
                    .unwrap_or_default(),
            ),
            (HELPER_ERROR, self.helper_error.clone().unwrap_or_default()),
        ];
        let session = commands::session(name);
        values
            .iter()
            .filter(|(_, value)| !value.is_empty())
            .map(|(option, value)| commands::set_option(&session, option, value))
            .collect()
    }
}

/// A policy as written: none is `off` only where one was set (so a
/// record without a policy reads as before versions: empty).
fn restart_text(policy: Option<RestartPolicy>) -> String {
    policy
        .map(|p| codec::encode_restart(Some(p)))
        .unwrap_or_default()
}

/// Turn `name`'s restart policy off (a stop, before it ends the run).
pub(super) fn set_restart_off(name: &str) -> Command {
    commands::set_option(
        commands::session(name),
        RESTART,
        &codec::encode_restart(None),
    )
}

/// Record `name`'s last exits.
pub(super) fn set_exits(name: &str, exits: &[RunExit]) -> Command {
    commands::set_option(commands::session(name), EXITS, &codec::encode_exits(exits))
}

/// Record that `name`'s run was stopped for running longer than `limit`.
pub(super) fn set_expired(name: &str, limit: Limit) -> Command {
    let seconds = limit.whole_seconds().to_string();
    commands::set_option(commands::session(name), EXPIRED, &seconds)
}

/// Record what `name`'s readiness pattern matched.
pub(super) fn set_ready(name: &str, matched: &str) -> Command {
    commands::set_option(commands::session(name), READY, matched)
}

/// Record where the text tmux-wire types into `name` now begins in the
/// log, and how its echo reads.
pub(super) fn set_input(name: &str, at: log::Position, echo: &str) -> [Command; 2] {
    let session = commands::session(name);
    [
        commands::set_option(&session, INPUT, &at.to_string()),
        commands::set_option(&session, ECHO, echo),
    ]
}

/// A new run of `name` (a restart) that begins at `run`, started at
/// `started`, the `restarts`th: its input starts with it, and it is not
/// ready yet.
pub(super) fn set_new_run(
    name: &str,
    run: log::Position,
    started: u64,
    restarts: u32,
) -> Vec<Command> {
    let session = commands::session(name);
    let run = run.to_string();
    [
        (RUN, run.as_str()),
        (INPUT, run.as_str()),
        (ECHO, ""),
        (STARTED, &started.to_string()),
        (RESTARTS, &restarts.to_string()),
        (READY, ""),
    ]
    .iter()
    .map(|(option, value)| commands::set_option(&session, option, value))
    .collect()
}

/// Record on `pane` that its log writer cannot write (`Some`), or that it
/// writes again (`None`: the option is unset).
pub(super) fn set_log_error(pane: PaneId, error: Option<&LogError>) -> Command {
    match error {
        Some(error) => commands::set_pane_option(pane, LOG_ERROR, &codec::encode_log_error(error)),
        None => Command::new("set-option")
            .arg("-p")
            .arg("-u")
            .arg("-t")
            .arg(pane.to_string())
            .arg(LOG_ERROR),
    }
}

/// What tmux-wire last typed into a pane of a session it did not start:
/// the cursor's row before it (a hint) and how its echo reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ScreenInput {
    pub(super) row: u64,
    pub(super) echo: String,
}

impl ScreenInput {
    /// The batch that records it on `pane`.
    pub(super) fn write(&self, pane: PaneId) -> [Command; 2] {
        [
            commands::set_pane_option(pane, INPUT_ROW, &self.row.to_string()),
            commands::set_pane_option(pane, INPUT_ECHO, &self.echo),
        ]
    }

    /// What is recorded on `pane`, if anything (one query).
    pub(super) async fn read(
        client: &Client,
        pane: PaneId,
    ) -> Result<Option<ScreenInput>, KeeperError> {
        static QUERY: LazyLock<FormatQuery> =
            LazyLock::new(|| FormatQuery::new(&[INPUT_ROW, INPUT_ECHO]));
        let reply = client
            .command(commands::display(pane, QUERY.format()))
            .await?;
        let fields = QUERY
            .parse_one(&reply.content())
            .map_err(WatchError::from)?;
        let row = lenient(codec::decode_number(INPUT_ROW, &fields[0]));
        Ok(row.map(|row| ScreenInput {
            row,
            echo: fields[1].clone(),
        }))
    }
}

impl Keeper {
    /// `name`'s record, and the tmux server's pid (as the server gives it),
    /// in one query; a newer record is refused.
    pub(super) async fn read_record(
        &self,
        client: &Client,
        name: &str,
    ) -> Result<(Record, Option<i32>), KeeperError> {
        static QUERY: LazyLock<FormatQuery> =
            LazyLock::new(|| FormatQuery::new(&[FIELDS, &["pid"]].concat()));
        let reply = client
            .command(commands::display(commands::session(name), QUERY.format()))
            .await?;
        let mut fields = QUERY
            .parse_one(&reply.content())
            .map_err(WatchError::from)?;
        let pid = fields.pop().and_then(|p| p.parse().ok());
        let record = Record::from_fields(&fields).map_err(|e| e.for_name(name))?;
        Ok((record, pid))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::watch::ExitStatus;
    use std::time::Duration;

    /// The values `write` sets, by option, as `from_fields` reads them.
    fn written(record: &Record) -> Vec<String> {
        let sets: Vec<Vec<String>> = record.write("web").iter().map(|c| c.to_strings()).collect();
        FIELDS
            .iter()
            .map(|f| {
                sets.iter()
                    .find(|argv| argv.get(argv.len() - 2).map(String::as_str) == Some(*f))
                    .map(|argv| argv[argv.len() - 1].clone())
                    .unwrap_or_default()
            })
            .collect()
    }

    fn full() -> Record {
        Record {
            version: VERSION,
            command: "python3 -m http.server".into(),
            cwd: "/src".into(),
            started: Some(200),
            log: Some("/l/web.log".into()),
            run: "5.0:10".parse().ok(),
            input: "5.0:12".parse().ok(),
            echo: "ls -l".into(),
            kill_after: Some(Limit {
                after: Duration::from_millis(1500),
                grace: Duration::from_secs(5),
            }),
            ready: Some("listening".into()),
            expired: Some(2),
            restart: Some(RestartPolicy {
                when: RestartWhen::Always,
                max: 3,
                delay: Duration::from_millis(250),
            }),
            restarts: Some(1),
            exits: vec![RunExit {
                run: "5.0:1".into(),
                exit: ExitStatus::Signaled(9),
            }],
            replaced: Some(RunExit {
                run: "4.0:1".into(),
                exit: ExitStatus::Exited(4),
            }),
            helper_error: Some("restart failed".into()),
            log_error: None,
        }
    }

    #[test]
    fn a_written_record_reads_back() {
        let record = full();
        assert_eq!(Record::from_fields(&written(&record)), Ok(record));
        let empty = Record {
            version: VERSION,
            log: Some("/l/x.log".into()),
            ..Record::default()
        };
        assert_eq!(Record::from_fields(&written(&empty)), Ok(empty));
    }

    #[test]
    fn a_record_from_before_versions_reads_as_version_1() {
        let mut fields = written(&full());
        fields[0].clear();
        let record = Record::from_fields(&fields).unwrap();
        assert_eq!(record.version, 1);
        assert_eq!(record.restarts, Some(1));
        // No options at all: a session the keeper did not start.
        let none = Record::from_fields(&vec![String::new(); FIELDS.len()]).unwrap();
        assert_eq!((none.version, none.is_kept()), (0, false));
    }

    #[test]
    fn a_newer_record_is_refused_with_a_clear_error() {
        let mut fields = written(&full());
        fields[0] = (VERSION + 1).to_string();
        let e = Record::from_fields(&fields).unwrap_err();
        assert_eq!(e, RecordError::Newer(VERSION + 1));
        let e = e.for_name("web");
        assert_eq!(e.kind(), crate::keeper::FailureKind::Version);
        assert!(e.to_string().contains("newer tmux-wire"), "{e}");
        fields[0] = "x".into();
        assert!(Record::from_fields(&fields).is_err());
    }

    #[test]
    fn bad_fields_read_as_not_set() {
        let mut fields = written(&full());
        let at = |name| FIELDS.iter().position(|f| *f == name).unwrap();
        fields[at(RESTART)] = "sometimes".into();
        fields[at(KILL_AFTER)] = "90".into();
        fields[at(EXITS)] = "5.0:1 exited 1;junk".into();
        fields[at(RUN)] = "nowhere".into();
        fields[at(STARTED)] = "-1".into();
        let record = Record::from_fields(&fields).unwrap();
        assert_eq!(record.restart, None);
        assert_eq!(record.kill_after, None);
        assert_eq!(record.exits.len(), 1);
        assert_eq!((record.run, record.started), (None, None));
        // Short of fields (never from tmux): the missing ones are unset.
        assert_eq!(Record::from_fields(&[]).unwrap(), Record::default());
    }

    #[test]
    fn setters_name_the_records_options() {
        let limit = Limit {
            after: Duration::from_millis(1500),
            grace: Duration::ZERO,
        };
        assert_eq!(
            set_expired("web", limit).to_strings(),
            ["set-option", "-t", "=web:", EXPIRED, "2"]
        );
        assert_eq!(set_restart_off("web").to_strings()[4], "off");
        let pane: PaneId = "%3".parse().unwrap();
        assert_eq!(set_log_error(pane, None).to_strings()[2], "-u");
    }
}
