//! What the event stream tells: the events ([`LifecycleEvent`]), and
//! which of them lie between two looks at a process ([`changes`]).

use crate::keeper::info::{ProcessInfo, State};
use crate::keeper::LogWriter;
use crate::watch::ExitStatus;
use serde::Serialize;

/// One lifecycle event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "event")]
#[non_exhaustive]
pub enum LifecycleEvent {
    /// A process started (or a session appeared on the socket).
    Started {
        /// Its name.
        name: String,
        /// Its pid.
        pid: Option<u32>,
        /// Its command line.
        command: String,
    },
    /// Its readiness pattern (`start --ready`) matched.
    Ready {
        /// Its name.
        name: String,
        /// What matched.
        matched: String,
    },
    /// It ended.
    Exited {
        /// Its name.
        name: String,
        /// How.
        exit: ExitStatus,
        /// The shell's view of it (128 + N for signal N).
        code: i32,
    },
    /// Its restart policy started it again.
    Restarted {
        /// Its name.
        name: String,
        /// How many restarts so far.
        restarts: u32,
    },
    /// `--kill-after` stopped it for running longer than this many seconds.
    KilledAfter {
        /// Its name.
        name: String,
        /// The limit, in seconds.
        after: u64,
    },
    /// Its program is blocked reading its terminal.
    WaitingForInput {
        /// Its name.
        name: String,
    },
    /// Its session is gone (stopped, killed).
    Gone {
        /// Its name.
        name: String,
    },
    /// Its log writer's state changed: it cannot write (`failing`), it is
    /// gone (`stopped`), it was started again (`restarted`), or it writes
    /// again (`writing`).
    LogWriter {
        /// Its name.
        name: String,
        /// What the writer does now.
        log_writer: LogWriter,
    },
    /// The server went away; nothing follows (unless following a new one).
    ServerGone {
        /// Why, in words.
        reason: String,
        /// How the connection to it ended: a shutdown it was told to make
        /// (`kill-server`, SIGTERM) or a server gone without a word (killed,
        /// crashed), as the transport saw it (serialized as its words).
        #[serde(serialize_with = "as_words")]
        ending: crate::client::CloseReason,
    },
    /// A server answers on the socket again (with
    /// [`OnServerGone::WaitForNext`](super::OnServerGone::WaitForNext)).
    ServerBack,
}

/// What the stream remembers of a process.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Seen {
    run: Option<String>,
    pub(super) ended: bool,
    restarts: u32,
    killed_after: Option<u64>,
    ready: Option<String>,
    /// When the stream looked: a stop recorded after it is about this run.
    pub(super) looked: std::time::SystemTime,
    /// The log writer's state, by kind (a restarted writer writes).
    writer: Option<&'static str>,
}

impl Seen {
    pub(super) fn of(p: &ProcessInfo) -> Seen {
        Seen {
            run: p.run_start.map(|r| r.to_string()),
            ended: matches!(p.state, State::Exited { .. } | State::Killed { .. }),
            restarts: p.restarts.unwrap_or(0),
            killed_after: p.killed_after,
            ready: p.ready.clone(),
            looked: std::time::SystemTime::now(),
            writer: p.log_writer.as_ref().map(|w| match w {
                LogWriter::Failing { .. } => "failing",
                LogWriter::Stopped { .. } => "stopped",
                _ => "writing",
            }),
        }
    }
}

/// The events between two looks at a process.
pub(super) fn changes(name: &str, before: Option<&Seen>, p: &ProcessInfo) -> Vec<LifecycleEvent> {
    let now = Seen::of(p);
    let name = name.to_string();
    let mut out = Vec::new();
    // A run not seen before: the first look, a restart, a start anew.
    let new_run = before.is_none_or(|b| b.run != now.run || (b.ended && !now.ended));
    // The run before ended and another began between two looks: its end
    // is in the record of exits (a restart policy's, or the one a `start`
    // that replaced it left).
    if let Some(b) = before.filter(|b| new_run && !b.ended && b.run != now.run) {
        if let Some((_, exit)) = p
            .exit_runs
            .iter()
            .find(|(run, _)| Some(run) == b.run.as_ref())
        {
            out.push(LifecycleEvent::Exited {
                name: name.clone(),
                exit: *exit,
                code: exit.code(),
            });
        }
    }
    if new_run {
        if now.restarts > before.map_or(now.restarts, |b| b.restarts) {
            out.push(LifecycleEvent::Restarted {
                name: name.clone(),
                restarts: now.restarts,
            });
        }
        out.push(LifecycleEvent::Started {
            name: name.clone(),
            pid: p.pid,
            command: p.command.clone(),
        });
    }
    if let Some(matched) = &now.ready {
        if new_run || before.is_some_and(|b| b.ready.as_ref() != Some(matched)) {
            out.push(LifecycleEvent::Ready {
                name: name.clone(),
                matched: matched.clone(),
            });
        }
    }
    if let Some(writer) = &p.log_writer {
        // Said when it changes, and for a new run when it does not write.
        let changed = match before {
            Some(b) if !new_run => b.writer != now.writer,
            _ => !writer.is_writing(),
        };
        if changed && now.writer.is_some() {
            out.push(LifecycleEvent::LogWriter {
                name: name.clone(),
                log_writer: writer.clone(),
            });
        }
    }
    if now.ended && (new_run || before.is_some_and(|b| !b.ended)) {
        let exit = match p.state {
            State::Exited { code } => ExitStatus::Exited(code),
            State::Killed { signal } => ExitStatus::Signaled(signal),
            _ => unreachable!("ended"),
        };
        if let Some(after) = now.killed_after {
            out.push(LifecycleEvent::KilledAfter {
                name: name.clone(),
                after,
            });
        }
        out.push(LifecycleEvent::Exited {
            name,
            exit,
            code: exit.code(),
        });
    }
    out
}

/// A close reason serialized as the words it displays.
fn as_words<S: serde::Serializer>(
    reason: &crate::client::CloseReason,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_str(reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn process(run: &str, state: State, restarts: u32, exits: &str) -> ProcessInfo {
        ProcessInfo {
            name: "p".into(),
            state,
            pane: "%1".into(),
            pid: Some(42),
            command: "cmd".into(),
            cwd: "/".into(),
            started: None,
            log: None,
            killed_after: None,
            run_start: run.parse().ok(),
            log_writer: None,
            restarts: Some(restarts),
            exits: runs(exits).into_iter().map(|(_, e)| e).collect(),
            exit_runs: runs(exits),
            waiting_for_input: None,
            ready: None,
            error: None,
            newer_record: None,
        }
    }

    /// The runs and exits of a text of `RUN exited N` entries.
    fn runs(text: &str) -> Vec<(String, ExitStatus)> {
        text.split(';')
            .filter(|e| !e.is_empty())
            .map(|e| {
                let (run, code) = e.split_once(" exited ").unwrap();
                (run.to_string(), ExitStatus::Exited(code.parse().unwrap()))
            })
            .collect()
    }

    fn kinds(events: &[LifecycleEvent]) -> Vec<&'static str> {
        events
            .iter()
            .map(|e| match e {
                LifecycleEvent::Started { .. } => "started",
                LifecycleEvent::Exited { .. } => "exited",
                LifecycleEvent::Restarted { .. } => "restarted",
                LifecycleEvent::Ready { .. } => "ready",
                _ => "other",
            })
            .collect()
    }

    #[test]
    fn every_run_starts_and_ends_once_even_between_two_looks() {
        let running = process("1.0:10", State::Running, 0, "");
        assert_eq!(kinds(&changes("p", None, &running)), ["started"]);
        let seen = Seen::of(&running);
        assert!(changes("p", Some(&seen), &running).is_empty());
        // Ended, then restarted, before the next look: all three, in order.
        let again = process("1.0:20", State::Running, 1, "1.0:10 exited 3");
        assert_eq!(
            kinds(&changes("p", Some(&seen), &again)),
            ["exited", "restarted", "started"]
        );
        // Ended, and replaced by a start (no restart policy) before the
        // next look: the new session tells how the run before it ended.
        let mut anew = process("1.0:30", State::Running, 0, "");
        anew.exit_runs = runs("1.0:10 exited 3");
        let events = changes("p", Some(&seen), &anew);
        assert_eq!(kinds(&events), ["exited", "started"]);
        assert!(matches!(events[0], LifecycleEvent::Exited { code: 3, .. }));
        // First seen already ended: it started and it ended.
        let ended = process("1.0:10", State::Exited { code: 1 }, 0, "");
        assert_eq!(kinds(&changes("p", None, &ended)), ["started", "exited"]);
        assert!(changes("p", Some(&Seen::of(&ended)), &ended).is_empty());
    }
}
