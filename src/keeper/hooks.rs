//! What the keeper installs on a tmux server beyond its sessions, and
//! taking it away again: one owner, so that a server left with no kept
//! process carries none of it.
//!
//! The keeper's machinery on the server:
//! - global hook entries at [`EVENTS_HOOK_INDEX`] on `session-created`,
//!   `session-closed` and `pane-died`, which count in [`EVENTS_COUNT`]
//!   (a global user option) and signal the wait channel
//!   [`EVENTS_CHANNEL`] (the event stream's, see `keeper/events.rs`);
//! - the exit waits' global `pane-died` entry at
//!   [`crate::watch::EXIT_HOOK_INDEX`] ([`crate::watch::exit_reporting`],
//!   which signals [`crate::watch::EXIT_CHANNEL`]): the watch layer
//!   installs it for every wait, the keeper for its sessions at their
//!   start; the watch layer's per-wait `client-detached` entries remove
//!   themselves (see `watch/exit.rs`) and are not the keeper's;
//! - per-session `pane-died` entries of a session with a restart policy
//!   ([`session_hooks`]): they go with the session.
//!
//! Wait channels hold nothing once nobody waits on them and no signal is
//! pending; tmux lists none, and a signal left pending costs the next
//! waiter one more look.
//!
//! Removing works with no tmux-wire process alive and with several at
//! once: each keeper step that can leave the server without a kept process
//! (a stop, a start that failed, the end of an event stream) runs
//! [`Keeper::uninstall_if_unused`], one tmux command whose condition tmux
//! evaluates as it removes, so nothing comes between the look and the
//! removal. An event stream that finds its hooks removed by another
//! process installs them again and looks again ([`Machinery`], read at
//! each look and each backstop tick): an event is delayed by at most a
//! backstop, never lost.

use super::Keeper;
use crate::client::commands;
use crate::protocol::{Command, FormatQuery};
use crate::transport::plain;
use crate::watch::{EXIT_CHANNEL, EXIT_HOOK_INDEX};
use std::sync::LazyLock;
use std::time::Duration;

/// The wait channel that says "look again".
pub(crate) const EVENTS_CHANNEL: &str = "tmux-wire-events";
/// The index of tmux-wire's entries in the global hooks it sets.
pub(crate) const EVENTS_HOOK_INDEX: u32 = 4243;
/// The global option that counts the times "look again" was said: tmux
/// forgets a signal of [`EVENTS_CHANNEL`] when a second one follows while
/// nobody waits (`wait-for -S` without a waiter toggles the channel), so
/// the stream also compares this count, every backstop tick.
const EVENTS_COUNT: &str = "@tmux-wire-events";
/// The hooks whose entries at [`EVENTS_HOOK_INDEX`] say "look again".
const EVENT_HOOKS: [&str; 3] = ["session-created", "session-closed", "pane-died"];
/// How long a live server takes at most to answer.
pub(super) const ANSWER_WITHIN: Duration = Duration::from_secs(5);

/// What the hooks and the keeper's own steps run to say "look again":
/// count, then signal.
pub(super) fn events_signal() -> String {
    format!(
        "set-option -gF {EVENTS_COUNT} '#{{e|+:#{{{EVENTS_COUNT}}},1}}' ; wait-for -S {EVENTS_CHANNEL}"
    )
}

/// The same, as commands of a batch.
pub(super) fn signal_events() -> [Command; 2] {
    [
        commands::set_global_option_format(
            EVENTS_COUNT,
            &format!("#{{e|+:#{{{EVENTS_COUNT}}},1}}"),
        ),
        Command::from_argv(["wait-for", "-S", EVENTS_CHANNEL]),
    ]
}

/// The global hook entries that make tmux say "look again".
pub(super) fn event_hooks() -> Vec<Command> {
    EVENT_HOOKS
        .into_iter()
        .map(|hook| {
            commands::set_global_hook(&format!("{hook}[{EVENTS_HOOK_INDEX}]"), &events_signal())
        })
        .collect()
}

/// The hooks of `name`'s session when it has a restart policy:
/// `restart_due` (the helper's command line) when its process dies, and,
/// since a session's hook hides the global one, the exit waits' and the
/// event stream's entries again.
pub(super) fn session_hooks(name: &str, restart_due: &str) -> [Command; 3] {
    let session = commands::session(name);
    let entry = |index: u32, command: &str| {
        Command::new("set-hook")
            .arg("-t")
            .arg(&session)
            .arg(format!("pane-died[{index}]"))
            .arg(command)
    };
    [
        entry(0, restart_due),
        entry(EXIT_HOOK_INDEX, &format!("wait-for -S {EXIT_CHANNEL}")),
        entry(EVENTS_HOOK_INDEX, &events_signal()),
    ]
}

/// The condition under which the server has nothing of the keeper's that
/// needs the machinery: no session with a record (`@tmux-wire-log`), none
/// being started (a placeholder whose start command carries
/// `tmux-wire-starting`), and no pane a wait of the watch layer counts
/// itself on (`@tmux-wire-waits`).
fn unused_condition() -> String {
    let kept =
        "#{S:#{?#{||:#{@tmux-wire-log},#{m:*tmux-wire-starting*,#{pane_start_command}}},1,}}";
    let waits = "#{S:#{W:#{P:#{?#{@tmux-wire-waits},1,}}}}";
    format!("#{{==:{kept}{waits},}}")
}

/// The one command that removes the machinery if [`unused_condition`]
/// holds, decided and done by tmux in one step.
pub(super) fn uninstall_if_unused() -> Command {
    let mut removals: Vec<String> = EVENT_HOOKS
        .iter()
        .map(|hook| format!("set-hook -gu '{hook}[{EVENTS_HOOK_INDEX}]'"))
        .collect();
    removals.push(format!("set-hook -gu 'pane-died[{EXIT_HOOK_INDEX}]'"));
    removals.push(format!("set-option -gu {EVENTS_COUNT}"));
    Command::new("if-shell")
        .arg("-F")
        .arg(unused_condition())
        .arg(removals.join(" ; "))
}

/// What an event stream sees of the machinery at a look: the count of
/// "look again", and whether its hooks are all there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Machinery {
    pub(super) count: u64,
    pub(super) hooks: bool,
}

/// The query of [`Machinery`]: the count and each event hook's entry.
static MACHINERY: LazyLock<FormatQuery> = LazyLock::new(|| {
    let mut fields = vec![EVENTS_COUNT.to_string()];
    fields.extend(
        EVENT_HOOKS
            .iter()
            .map(|hook| format!("{hook}[{EVENTS_HOOK_INDEX}]")),
    );
    let fields: Vec<&str> = fields.iter().map(String::as_str).collect();
    FormatQuery::new(&fields)
});

impl Keeper {
    /// Tell a running event stream to look again (a step that no tmux hook
    /// reports); harmless without one.
    pub(super) async fn signal_events(&self, client: &crate::client::Client) {
        let _ = client.commands(signal_events()).await;
    }

    /// Install the event hooks; the error of a server that is gone.
    pub(super) async fn install_event_hooks(&self) -> Result<(), super::KeeperError> {
        for hook in event_hooks() {
            self.once(hook).await?;
        }
        Ok(())
    }

    /// The machinery as it is now, in one plain command; `None` where it
    /// cannot be read. A server that is shutting down holds a new client
    /// without answering: no answer within [`ANSWER_WITHIN`] is `None`.
    pub(super) async fn machinery(&self) -> Option<Machinery> {
        let show = Command::new("display-message")
            .arg("-p")
            .arg(MACHINERY.format());
        let (out, status, _) =
            tokio::time::timeout(ANSWER_WITHIN, plain::command(&self.socket, &show))
                .await
                .ok()?
                .ok()?;
        if status != 0 {
            return None;
        }
        let line = out.split(|&b| b == b'\n').next()?;
        let fields = MACHINERY.parse_line(line).ok()?;
        let count = match fields[0].as_str() {
            "" => 0,
            n => n.parse().ok()?,
        };
        Some(Machinery {
            count,
            hooks: fields[1..].iter().all(|entry| !entry.is_empty()),
        })
    }

    /// Remove the machinery if no kept process needs it any more (see the
    /// module docs). Quiet: a server that is gone has nothing left, and a
    /// failure here changes nothing the caller asked for.
    pub(super) async fn uninstall_if_unused(&self) {
        if let Err(e) = self.once(uninstall_if_unused()).await {
            ::log::debug!("removing the keeper's hooks: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_uninstall_names_every_entry_and_option_it_installs() {
        let argv = uninstall_if_unused().to_strings();
        assert_eq!(&argv[..2], ["if-shell", "-F"]);
        for hook in event_hooks() {
            let entry = hook.to_strings()[2].clone();
            assert!(argv[3].contains(&format!("'{entry}'")), "{entry}");
        }
        assert!(argv[3].contains(&format!("pane-died[{EXIT_HOOK_INDEX}]")));
        assert!(argv[3].contains(EVENTS_COUNT));
        assert_eq!(MACHINERY.len(), 4);
    }
}
