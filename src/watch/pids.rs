//! The pids of a pane's process and of its tmux server, asked of the
//! server, for the looks at them that only a process of the server's pid
//! namespace can take ([`crate::os`]).

use crate::client::{commands, Client};
use crate::os::process::is_tmux;
use crate::protocol::{FormatQuery, PaneId};
use rustix::process::Pid;

/// The tmux server's pid and the pane's, if the server is a process we
/// may signal: a tmux process visible in our `/proc` (the same pid
/// namespace; then so is the pane's process).
pub(crate) async fn local_pids(client: &Client, pane: PaneId) -> Option<(Pid, i32)> {
    let (server, process, _) = pane_pids_and(client, pane, &[]).await?;
    is_tmux(server).then_some((server, process))
}

/// The tmux server's pid, the pane's, and the values of the format
/// variables `more`, in one query.
async fn pane_pids_and(
    client: &Client,
    pane: PaneId,
    more: &[&str],
) -> Option<(Pid, i32, Vec<String>)> {
    let mut variables = vec!["pid", "pane_pid"];
    variables.extend_from_slice(more);
    let query = FormatQuery::new(&variables);
    let reply = client
        .command(commands::display(pane, query.format()))
        .await
        .ok()?;
    let mut fields = query.parse_one(&reply.content()).ok()?;
    let (server, process): (i32, i32) = (fields[0].parse().ok()?, fields[1].parse().ok()?);
    Some((
        crate::os::process::pid(server)?,
        process,
        fields.split_off(2),
    ))
}

/// How the terminal of `pane` splits typed input into lines, if its
/// program reads it line by line and this side can see it: the server is
/// a local tmux process and the pane's process its child (then the
/// pane's `/dev/pts` path names the same terminal here). `None` in raw
/// mode, and where it cannot be seen.
#[cfg(feature = "keeper")]
pub(crate) async fn pane_line_rules(
    client: &Client,
    pane: PaneId,
) -> Option<crate::os::tty::LineRules> {
    let (server, process, tty) = pane_pids_and(client, pane, &["pane_tty"]).await?;
    if !crate::os::process::local_child(server, process) {
        return None;
    }
    crate::os::tty::line_rules(std::path::Path::new(tty.first()?))
        .ok()
        .flatten()
}
