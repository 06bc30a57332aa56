//! The CLI's hints beside a library error: what to run about it, in this
//! command line's terms (the library's messages name no CLI syntax).

use tmux_wire::client::ClientError;
use tmux_wire::keeper::KeeperError;
use tmux_wire::server::ServerError;
use tmux_wire::transport::plain::{PlainError, ProbeError};
use tmux_wire::transport::TransportError;

/// The hint for `e`, if there is one.
pub fn of(e: &KeeperError) -> Option<String> {
    Some(match e {
        KeeperError::MissedThenFailed { source, .. } => return of(source),
        KeeperError::NotFound { .. } => "`tmux-wire ls` lists the names there are".into(),
        KeeperError::NotRunning { name, .. } => format!(
            "`tmux-wire start {name} -- CMD` runs it again; `tmux-wire stop {name}` removes it"
        ),
        KeeperError::NotReady { name, .. } => format!(
            "it is still running: `tmux-wire logs {name}` shows its output, `tmux-wire stop {name}` ends it"
        ),
        KeeperError::ExecTimeout { name, .. } => {
            format!("`tmux-wire logs {name}` shows its output; `tmux-wire keys {name} C-c` interrupts it")
        }
        KeeperError::ExecRefused { name, .. } => format!(
            "`tmux-wire keys {name} C-c` types a C-c; `tmux-wire status {name}` says what runs"
        ),
        KeeperError::BadCursor { .. } => {
            "`tmux-wire poll NAME` without --cursor reads from the start of the run".into()
        }
        KeeperError::NoLog { name } => {
            format!("`tmux-wire logs {name}` prints what tmux still holds of it")
        }
        KeeperError::HelperUnusable { program, .. } => format!(
            "tmux-wire is its own helper: {} did not answer as one (replaced or removed \
             since this command started?); reinstall tmux-wire",
            program.display()
        ),
        KeeperError::TooOld { .. } => "`tmux-wire cmd` still works with this server".into(),
        KeeperError::BadCommand(message) if message.starts_with("the working directory") => {
            "--cwd names the directory to start in".into()
        }
        KeeperError::Server(e) => return server(e),
        KeeperError::Client(e) | KeeperError::Watch(tmux_wire::watch::WatchError::Client(e)) => {
            return client(e)
        }
        _ => return None,
    })
}

fn client(e: &ClientError) -> Option<String> {
    match e {
        ClientError::Transport(t) => match &**t {
            TransportError::Server(e)
            | TransportError::Probe(ProbeError::Plain(PlainError::Server(e))) => server(e),
            _ => None,
        },
        _ => None,
    }
}

fn server(e: &ServerError) -> Option<String> {
    match e {
        ServerError::Stale { .. } => Some("`tmux-wire clean` removes the stale socket".into()),
        ServerError::NotRunning { .. } | ServerError::NoDirectory { .. } => {
            Some("`tmux-wire start NAME -- CMD` starts a server there".into())
        }
        _ => None,
    }
}
