//! What runs on the socket: [`Keeper::list`] and [`Keeper::status`], read
//! from one `list-panes` answer whose fields are read by name
//! ([`PaneRecord`]).

use super::info::{ProcessInfo, State, IDLE_AFTER};
use super::record::{self, Record, RecordError};
use super::start::{placeholder_starter, starter_alive};
use super::{unix_now, validate_name, Keeper, KeeperError};
use crate::client::{commands, Client, ClientError, ErrorKind, TransportChoice};
use crate::protocol::{FormatQuery, PaneId};
use crate::server::{self, SocketState};
use crate::watch::{self, ExitStatus};
use std::sync::LazyLock;
use std::time::Duration;

/// Declares [`PaneRecord`] and [`FIELDS`] from one list of
/// `field: "format variable"` pairs, so that the order of the query's
/// fields and the record's fields cannot drift apart.
macro_rules! pane_record {
    ($($field:ident: $variable:expr,)*) => {
        /// One pane of a `list-panes` answer, its fields by name (each the
        /// value of the format variable it is declared with), and what the
        /// keeper recorded on a session it started (`kept`).
        #[derive(Debug)]
        struct PaneRecord {
            $($field: String,)*
            kept: Result<Record, RecordError>,
        }

        /// The fields of a `list-panes` answer, in order (read through
        /// [`FormatQuery`], which knows every version's output dialect).
        const FIELDS: &[&str] = &[$($variable,)*];

        impl PaneRecord {
            /// The record of an answer line's fields, in [`FIELDS`] order
            /// and then the keeper's record's ([`record::FIELDS`]); `None`
            /// unless there are as many as both have.
            fn from_fields(fields: Vec<String>) -> Option<PaneRecord> {
                if fields.len() != FIELDS.len() + record::FIELDS.len() {
                    return None;
                }
                let kept = Record::from_fields(&fields[FIELDS.len()..]);
                // A struct expression evaluates its fields in the order
                // written: the order of the list above.
                let mut fields = fields.into_iter();
                Some(PaneRecord { $($field: fields.next()?,)* kept })
            }
        }
    };
}

pane_record! {
    session_name: "session_name",
    pane_id: "pane_id",
    pane_pid: "pane_pid",
    pane_dead: "pane_dead",
    pane_dead_status: "pane_dead_status",
    pane_dead_signal: "pane_dead_signal",
    window_activity: "window_activity",
    session_created: "session_created",
    pane_current_path: "pane_current_path",
    server_pid: "pid",
    pane_start_command: "pane_start_command",
    pane_pipe: "pane_pipe",
}

/// The `list-panes` query of [`FIELDS`] and the keeper's record.
static PANES: LazyLock<FormatQuery> =
    LazyLock::new(|| FormatQuery::new(&[FIELDS, record::FIELDS].concat()));

impl PaneRecord {
    /// The keeper's record of its session (an empty one for a newer
    /// record, which [`ProcessInfo::newer_record`] tells).
    fn kept(&self) -> &Record {
        static NONE: LazyLock<Record> = LazyLock::new(Record::default);
        self.kept.as_ref().unwrap_or(&NONE)
    }
}

impl PaneRecord {
    /// One line of an answer to [`PANES`]; `None` for a line whose fields
    /// cannot be told apart (a value holding the separator itself).
    fn parse(line: &[u8]) -> Option<PaneRecord> {
        PaneRecord::from_fields(PANES.parse_line(line).ok()?)
    }
}

impl Keeper {
    /// Every session on the socket, as processes (the first pane of each).
    /// No server means an empty list.
    pub async fn list(&self) -> Result<Vec<ProcessInfo>, KeeperError> {
        Ok(self.list_with_server().await?.0)
    }

    /// [`Keeper::list`], and the server's pid if it is a local process.
    pub(super) async fn list_with_server(
        &self,
    ) -> Result<(Vec<ProcessInfo>, Option<rustix::process::Pid>), KeeperError> {
        self.list_with_server_via(None).await
    }

    /// [`Keeper::list_with_server`], asked through `via` if given (a
    /// connection of a [`super::KeptProcess`]) rather than a connection of
    /// its own.
    async fn list_with_server_via(
        &self,
        via: Option<&Client>,
    ) -> Result<(Vec<ProcessInfo>, Option<rustix::process::Pid>), KeeperError> {
        // A process that exited but that tmux has not reaped yet (it can
        // lose the SIGCHLD; see `crate::reaper`) reads `exiting`: remind
        // the server (once per list) and look again, a few times at most.
        let mut reminded = false;
        for _ in 0..20 {
            let (list, server) = self.list_once(via).await?;
            let Some(server) = server.filter(|_| list.iter().any(|p| p.state == State::Exiting))
            else {
                return Ok((list, server));
            };
            if !std::mem::replace(&mut reminded, true) {
                crate::os::reaper::after_exit(server);
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        self.list_once(via).await
    }

    async fn list_once(
        &self,
        via: Option<&Client>,
    ) -> Result<(Vec<ProcessInfo>, Option<rustix::process::Pid>), KeeperError> {
        // A `tmux -C` child would only say that it failed: look first. The
        // direct transport tells why it could not connect, so it is asked
        // after a failure only (one connection less for a one-shot `ls`),
        // or first when the path is a symbolic link, which connecting would
        // follow and the look refuses (only a socket is ever used there).
        let link =
            std::fs::symlink_metadata(&self.socket).is_ok_and(|m| m.file_type().is_symlink());
        if via.is_none()
            && (self.transport == TransportChoice::Process || link)
            && !self.socket_alive().await?
        {
            return Ok((Vec::new(), None));
        }
        let list = commands::list_all_panes(PANES.format());
        let answer = match via {
            Some(client) => match client.command(list).await {
                Ok(reply) => Ok((reply, client.info().clone())),
                Err(e) => Err(e.into()),
            },
            None => self.once_with_info(list).await,
        };
        let (reply, info) = match answer {
            Ok(answer) => answer,
            // A server with no session has nothing to list.
            Err(KeeperError::Client(e)) if e.is(ErrorKind::NoSessions) => {
                return Ok((Vec::new(), None))
            }
            Err(KeeperError::Client(e)) if is_unreachable(&e) => {
                return match self.socket_alive().await? {
                    false => Ok((Vec::new(), None)),
                    true => Err(e.into()),
                }
            }
            Err(e) => return Err(e),
        };
        let mut server = None;
        let now = unix_now();
        let mut records = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        for line in reply.content() {
            // A line whose fields cannot be told apart (a value holding the
            // separator itself) is left out rather than misread.
            let Some(record) = PaneRecord::parse(&line) else {
                ::log::warn!(
                    "list-panes answer left out: {:?}",
                    String::from_utf8_lossy(&line)
                );
                continue;
            };
            let (mut info, server_pid) = pane_info(&record, now);
            // The pane's own start command names a start still under way.
            if let Some(starter) = placeholder_starter(&record.pane_start_command) {
                if matches!(info.state, State::Running | State::Idle) {
                    info.state = if starter_alive(starter) {
                        State::Starting
                    } else {
                        State::Abandoned
                    };
                }
            }
            server = server.or(server_pid.and_then(crate::os::process::pid));
            records.push((record, info));
        }
        // Whether the log writers run, where only a look into /proc can
        // tell (a running process whose pipe tmux still counts open):
        // looked at once, off the async runtime.
        let logs: Vec<String> = records
            .iter()
            .filter(|(record, info)| {
                record.kept().log.is_some()
                    && record.pane_pipe != "0"
                    && matches!(info.state, State::Running | State::Idle)
            })
            .map(|(record, _)| record.kept().log_text())
            .collect();
        let running = match (server, logs.is_empty()) {
            (Some(server), false) => super::writer::writers_running(server, logs).await,
            _ => None,
        };
        // What the helpers tmux ran for them could not do.
        let kept: Vec<String> = records
            .iter()
            .filter(|(record, _)| record.kept().log.is_some())
            .map(|(record, _)| record.kept().log_text())
            .collect();
        let failures = match kept.is_empty() {
            true => Vec::new(),
            false => super::helper::last_failures(kept).await,
        };
        for (record, mut info) in records {
            let kept = record.kept();
            let log = kept.log_text();
            if let Some((_, failure)) = failures.iter().find(|(l, _)| *l == log) {
                info.error = Some(failure.clone());
            }
            if kept.log.is_some() {
                let seen = running.as_ref().map(|running| running.contains(&log));
                info.log_writer = super::writer::state_of(
                    &info.state,
                    &record.pane_pipe,
                    kept.log_error.as_ref(),
                    seen,
                );
                // A process that just ended closed its terminal, and tmux
                // the pipe with it, before tmux marked the pane dead: its
                // writer is done, not gone.
                if matches!(info.log_writer, Some(super::LogWriter::Stopped { .. }))
                    && ended_here(server, info.pid)
                {
                    info.log_writer = Some(super::LogWriter::Writing);
                }
            }
            if seen.insert(info.name.clone()) {
                out.push(info);
            }
        }
        if !watch::reports_dead_signal(info.server_version.as_deref()) {
            // Before 3.3 a signal's status is only on the pane's screen.
            for process in out.iter_mut().filter(|p| p.state == State::Exiting) {
                let Ok(pane) = process.pane.parse::<PaneId>() else {
                    continue;
                };
                let screen = match via {
                    Some(client) => client.command(commands::capture(pane)).await?,
                    None => self.once(commands::capture(pane)).await?,
                };
                if let Some(ExitStatus::Signaled(signal)) =
                    watch::dead_signal_on_screen(&screen.content())
                {
                    process.state = State::Killed { signal };
                }
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok((out, server))
    }

    /// Whether a server listens on the socket; `false` when none runs and
    /// nothing does (the socket file is missing, its directory is not);
    /// an error for anything else (a stale socket, a path that is wrong).
    async fn socket_alive(&self) -> Result<bool, KeeperError> {
        match server::socket_state_async(&self.socket).await? {
            // No server: nothing runs; unless the socket's very directory
            // is missing, which says the path is wrong.
            SocketState::Missing
                if self
                    .socket
                    .parent()
                    .is_none_or(|d| d.as_os_str().is_empty() || d.exists()) =>
            {
                Ok(false)
            }
            SocketState::Alive => Ok(true),
            state => Err(self.unavailable(state)),
        }
    }

    /// One process, with whether it waits for input.
    pub async fn status(&self, name: &str) -> Result<ProcessInfo, KeeperError> {
        self.status_via(name, None).await
    }

    /// [`Keeper::status`], asked through `via` if given.
    pub(super) async fn status_via(
        &self,
        name: &str,
        via: Option<&Client>,
    ) -> Result<ProcessInfo, KeeperError> {
        let (mut info, server) = self.find_via(name, via).await?;
        if matches!(info.state, State::Running | State::Idle) {
            // A look at every process in /proc: off the runtime.
            let pid = info.pid;
            info.waiting_for_input =
                crate::blocking::off_runtime(move || reading_terminal(pid, server)).await;
        }
        Ok(info)
    }

    /// One process as `list` sees it (no look into `/proc`), and the
    /// server's pid: for the keeper's own steps, which need its state and
    /// run, not whether it waits for input.
    pub(super) async fn find(
        &self,
        name: &str,
    ) -> Result<(ProcessInfo, Option<rustix::process::Pid>), KeeperError> {
        self.find_via(name, None).await
    }

    /// [`Keeper::find`], asked through `via` if given.
    pub(super) async fn find_via(
        &self,
        name: &str,
        via: Option<&Client>,
    ) -> Result<(ProcessInfo, Option<rustix::process::Pid>), KeeperError> {
        validate_name(name)?;
        let (all, server) = self.list_with_server_via(via).await?;
        if all.is_empty() && via.is_none() {
            // `list` finds nothing where no server runs: that is the
            // answer, not that the name is unknown.
            self.require_server().await?;
        }
        let known: Vec<String> = all.iter().map(|p| p.name.clone()).collect();
        let mut info = all
            .into_iter()
            .find(|p| p.name == name)
            .ok_or(KeeperError::NotFound {
                name: name.to_string(),
                known,
            })?;
        if let Some(version) = &info.newer_record {
            return Err(KeeperError::NewerRecord {
                name: name.to_string(),
                version: version.clone(),
                known: record::VERSION,
            });
        }
        // A log writer that is gone comes back (and says it did).
        self.revive_log_writer(&mut info).await;
        Ok((info, server))
    }

    /// Why what `name` prints does not all reach its log now, if it does
    /// not ([`Keeper::log_writer_problem`]), asked through `via`.
    pub(super) async fn log_writer_problem_via(
        &self,
        name: &str,
        via: &Client,
    ) -> Result<Option<super::LogWriter>, KeeperError> {
        let (info, _) = self.find_via(name, Some(via)).await?;
        Ok(info.log_writer.filter(|w| !w.is_writing()))
    }
}

/// Whether connecting failed because no server could be reached (rather
/// than the server refusing).
fn is_unreachable(error: &ClientError) -> bool {
    use crate::transport::plain::{PlainError, ProbeError};
    use crate::transport::TransportError;
    matches!(error, ClientError::Transport(e) if matches!(
        **e,
        TransportError::Server(_) | TransportError::Probe(ProbeError::Plain(PlainError::Server(_)))
    ))
}

/// Whether the program of pane process `pid` waits for input, if that
/// can be seen: it must be a child of a tmux server of this system.
fn reading_terminal(pid: Option<u32>, server: Option<rustix::process::Pid>) -> Option<bool> {
    let pid = i32::try_from(pid?).ok()?;
    if !crate::os::process::local_child(server?, pid) {
        return None;
    }
    watch::waiting_for_input(pid).ok()
}

/// One pane of a `list-panes` answer: the process, and the server's pid.
fn pane_info(pane: &PaneRecord, now: u64) -> (ProcessInfo, Option<i32>) {
    let status = ExitStatus::from_formats(&pane.pane_dead_status, &pane.pane_dead_signal);
    let activity: u64 = pane.window_activity.parse().unwrap_or(0);
    let state = match (pane.pane_dead == "1", status) {
        (_, Some(ExitStatus::Exited(code))) => State::Exited { code },
        (_, Some(ExitStatus::Signaled(signal))) => State::Killed { signal },
        (true, None) => State::Exiting,
        (false, None) if now.saturating_sub(activity) >= IDLE_AFTER.as_secs() => State::Idle,
        (false, None) => State::Running,
    };
    let nonempty = |s: &str| (!s.is_empty()).then(|| s.to_string());
    let kept = pane.kept();
    let info = ProcessInfo {
        name: pane.session_name.clone(),
        state,
        pane: pane.pane_id.clone(),
        pid: pane.pane_pid.parse().ok(),
        command: nonempty(&kept.command).unwrap_or_else(|| pane.pane_start_command.clone()),
        cwd: nonempty(&kept.cwd).unwrap_or_else(|| pane.pane_current_path.clone()),
        started: kept.started.or_else(|| pane.session_created.parse().ok()),
        log: kept.log.clone(),
        killed_after: kept.expired,
        restarts: kept.restarts,
        exits: kept.exits.iter().map(|e| e.exit).collect(),
        exit_runs: kept
            .replaced
            .iter()
            .chain(&kept.exits)
            .map(|e| (e.run.clone(), e.exit))
            .collect(),
        waiting_for_input: None,
        ready: kept.ready.clone(),
        error: kept.helper_error.clone(),
        run_start: kept.run,
        log_writer: None,
        newer_record: match &pane.kept {
            Err(RecordError::Newer(version)) => Some(version.to_string()),
            Err(RecordError::BadVersion(version)) => Some(format!("{version:?}")),
            Ok(_) => None,
        },
    };
    (info, pane.server_pid.parse().ok())
}

/// Whether the pane's process `pid` of the tmux server `server` is seen
/// here to have ended (a zombie, or gone): only for a server in this pid
/// namespace.
fn ended_here(server: Option<rustix::process::Pid>, pid: Option<u32>) -> bool {
    let (Some(server), Some(pid)) = (server, pid.and_then(|p| i32::try_from(p).ok())) else {
        return false;
    };
    crate::os::process::is_tmux(server) && !crate::os::process::process_running(pid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// An answer line whose fields are `values` by name (the others empty).
    fn line(values: &[(&str, &str)]) -> String {
        [FIELDS, record::FIELDS]
            .concat()
            .iter()
            .map(|f| {
                values
                    .iter()
                    .find(|(name, _)| name == f)
                    .map_or("", |(_, v)| *v)
            })
            .collect::<Vec<_>>()
            .join("\x1f")
    }

    #[test]
    fn pane_lines() {
        let line = line(&[
            ("session_name", "web"),
            ("pane_id", "%1"),
            ("pane_pid", "42"),
            ("pane_dead", "1"),
            ("pane_dead_status", "7"),
            ("window_activity", "0"),
            ("session_created", "100"),
            ("pane_current_path", "/tmp"),
            ("@tmux-wire-started", "200"),
            ("@tmux-wire-log", "/l/web.log"),
            ("@tmux-wire-cwd", "/src"),
            ("@tmux-wire-command", "python3 -m http.server"),
            ("pid", "99"),
            ("pane_start_command", "sleep 1"),
            ("@tmux-wire-run", "5.0:10"),
            ("@tmux-wire-expired", "30"),
            ("@tmux-wire-restarts", "2"),
            ("@tmux-wire-exits", "5.0:1 exited 1;5.0:9 signaled 9"),
            ("@tmux-wire-replaced", "4.0:1 exited 4"),
            ("pane_pipe", "1"),
        ]);
        let record = PaneRecord::parse(line.as_bytes()).unwrap();
        let (p, server) = pane_info(&record, 1000);
        assert_eq!(server, Some(99));
        assert_eq!(p.state, State::Exited { code: 7 });
        assert_eq!(p.started, Some(200));
        assert_eq!(p.command, "python3 -m http.server");
        assert_eq!(p.cwd, "/src");
        assert_eq!(
            (p.name.as_str(), p.pane.as_str(), p.pid),
            ("web", "%1", Some(42))
        );
        assert_eq!(p.log, Some(PathBuf::from("/l/web.log")));
        assert_eq!(p.killed_after, Some(30));
        assert_eq!(p.restarts, Some(2));
        assert_eq!(p.exits, [ExitStatus::Exited(1), ExitStatus::Signaled(9)]);
        // The run a start replaced is not one of the policy's exits.
        let runs: Vec<&str> = p.exit_runs.iter().map(|(run, _)| run.as_str()).collect();
        assert_eq!(runs, ["4.0:1", "5.0:1", "5.0:9"]);
        assert_eq!(p.run_start.map(|r| r.offset), Some(10));
        assert_eq!(p.newer_record, None);
    }

    #[test]
    fn a_newer_record_is_listed_but_not_read() {
        let line = line(&[
            ("session_name", "web"),
            ("@tmux-wire-record", "99"),
            ("@tmux-wire-log", "/l/web.log"),
            ("@tmux-wire-command", "future"),
            ("pane_start_command", "sleep 1"),
        ]);
        let (p, _) = pane_info(&PaneRecord::parse(line.as_bytes()).unwrap(), 0);
        assert_eq!(p.newer_record.as_deref(), Some("99"));
        assert_eq!((p.log, p.command.as_str()), (None, "sleep 1"));
    }

    #[test]
    fn pane_records_read_fields_by_name() {
        // Each value is the name of its format variable.
        let all = [FIELDS, record::FIELDS].concat();
        let record = PaneRecord::parse(all.join("\x1f").as_bytes()).unwrap();
        assert_eq!(record.session_name, "session_name");
        assert_eq!(record.pane_pid, "pane_pid");
        assert_eq!(record.pane_dead_signal, "pane_dead_signal");
        assert_eq!(record.server_pid, "pid");
        assert_eq!(record.pane_start_command, "pane_start_command");
        // A line short of a field, or with one more, is no record.
        assert!(PaneRecord::parse(all[1..].join("\x1f").as_bytes()).is_none());
        assert!(PaneRecord::parse(format!("{}\x1fx", all.join("\x1f")).as_bytes()).is_none());
        assert!(PaneRecord::from_fields(vec![String::new(); all.len() - 1]).is_none());
    }
}
