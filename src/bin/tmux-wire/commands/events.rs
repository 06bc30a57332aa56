//! `events`: a JSON line per lifecycle event of every process on the
//! socket, as it happens.

use crate::contract::{Exit, Writer};
use crate::failure::Failure;
use crate::output::print_doc;
use clap::Args;
use schemars::JsonSchema;
use serde::Serialize;
use std::process::ExitCode;
use tmux_wire::keeper::{self, Keeper};

/// Print a JSON line per lifecycle event of every process on the
/// socket, as it happens, until the server goes away.
#[derive(Args)]
#[command(
    after_help = "Events (one JSON object per line, with \"version\": 1 and \"time\" in Unix seconds):\n  {\"type\":\"started\",\"name\",\"pid\",\"command\"}\n  {\"type\":\"ready\",\"name\",\"matched\"}\n  {\"type\":\"exited\",\"name\",\"exit\":{\"type\",\"code\"|\"signal\"},\"code\"}\n  {\"type\":\"restarted\",\"name\",\"restarts\"}\n  {\"type\":\"killed_after\",\"name\",\"after\"}\n  {\"type\":\"waiting_for_input\",\"name\"}\n  {\"type\":\"gone\",\"name\"}\n  {\"type\":\"log_writer\",\"name\",\"log_writer\":{\"type\",\"reason\"?}}\n  {\"type\":\"server_gone\",\"reason\"}   (the last one, unless --follow-server)\n  {\"type\":\"server_back\"}\n\ntmux's own hooks say when to look; nothing is polled."
)]
pub struct EventsArgs {
    /// When the server goes away, wait for one to come back on the
    /// socket and go on (ends only with Ctrl-C).
    #[arg(long)]
    pub follow_server: bool,
}

/// `events`: one document per event, with `time` (Unix seconds, when it
/// was seen). The last is `server_gone`, unless `--follow-server`.
#[derive(Serialize, JsonSchema)]
pub struct EventDoc {
    pub time: f64,
    #[serde(flatten)]
    pub event: Lifecycle,
}

/// A lifecycle event, by `"type"`.
#[derive(Serialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Lifecycle {
    Started {
        name: String,
        pid: Option<u32>,
        command: String,
    },
    Ready {
        name: String,
        matched: String,
    },
    Exited {
        name: String,
        exit: Exit,
        code: i32,
    },
    Restarted {
        name: String,
        restarts: u32,
    },
    KilledAfter {
        name: String,
        after: u64,
    },
    WaitingForInput {
        name: String,
    },
    Gone {
        name: String,
    },
    LogWriter {
        name: String,
        log_writer: Writer,
    },
    ServerGone {
        reason: String,
    },
    ServerBack,
}

impl From<keeper::LifecycleEvent> for Lifecycle {
    fn from(e: keeper::LifecycleEvent) -> Lifecycle {
        use keeper::LifecycleEvent as L;
        match e {
            L::Started { name, pid, command } => Lifecycle::Started { name, pid, command },
            L::Ready { name, matched } => Lifecycle::Ready { name, matched },
            L::Exited { name, exit, code } => Lifecycle::Exited {
                name,
                exit: exit.into(),
                code,
            },
            L::Restarted { name, restarts } => Lifecycle::Restarted { name, restarts },
            L::KilledAfter { name, after } => Lifecycle::KilledAfter { name, after },
            L::WaitingForInput { name } => Lifecycle::WaitingForInput { name },
            L::Gone { name } => Lifecycle::Gone { name },
            L::LogWriter { name, log_writer } => Lifecycle::LogWriter {
                name,
                log_writer: Writer::from(&log_writer),
            },
            L::ServerGone { reason, .. } => Lifecycle::ServerGone { reason },
            L::ServerBack => Lifecycle::ServerBack,
            other => Lifecycle::ServerGone {
                reason: format!("an event this build cannot show: {other:?}"),
            },
        }
    }
}

/// JSON lines on stdout as they happen; Ctrl-C ends.
pub async fn run(keeper: &Keeper, _json: bool, args: EventsArgs) -> Result<ExitCode, Failure> {
    let print = |event: keeper::LifecycleEvent| {
        print_doc(&EventDoc {
            time: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64()),
            event: event.into(),
        });
    };
    let on_gone = if args.follow_server {
        keeper::OnServerGone::WaitForNext
    } else {
        keeper::OnServerGone::Stop
    };
    tokio::select! {
        done = keeper.events(on_gone, print) => done?,
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::tests::v;
    use serde_json::json;

    #[test]
    fn an_event_is_one_document_with_its_time() {
        assert_eq!(
            v(&EventDoc {
                time: 1.5,
                event: Lifecycle::Exited {
                    name: "web".into(),
                    exit: Exit::Exited { code: 0 },
                    code: 0,
                },
            }),
            json!({"version": 1, "type": "exited", "time": 1.5, "name": "web",
                   "exit": {"type": "exited", "code": 0}, "code": 0})
        );
    }
}
