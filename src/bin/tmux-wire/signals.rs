//! The CLI's own signals: a wait interrupted by SIGINT or SIGTERM ends
//! with [`KeeperError::Interrupted`] (exit 130 or 143), after the library
//! has put back what the wait changed on a session tmux-wire did not start
//! ([`Keeper::restored`]). The library catches no signal itself.

use std::future::Future;
use tmux_wire::keeper::{Keeper, KeeperError};
use tokio::signal::unix::{signal, SignalKind};

/// `wait`, unless SIGINT or SIGTERM comes first: then the wait is dropped,
/// what it changed is put back, and the outcome is
/// [`KeeperError::Interrupted`]. The signals are caught from the call on.
pub async fn interruptible<T>(
    keeper: &Keeper,
    wait: impl Future<Output = Result<T, KeeperError>>,
) -> Result<T, KeeperError> {
    let why = {
        let mut wait = std::pin::pin!(wait);
        let (Ok(mut int), Ok(mut term)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) else {
            // No handler to be had: the signals keep their default action
            // (the process ends without putting anything back).
            return wait.await;
        };
        tokio::select! {
            outcome = &mut wait => return outcome,
            _ = int.recv() => "SIGINT",
            _ = term.recv() => "SIGTERM",
        }
        // The wait is dropped here, which starts putting back what it
        // changed.
    };
    if let Err(e) = keeper.restored().await {
        eprintln!("tmux-wire: {e}");
    }
    Err(KeeperError::Interrupted(why))
}
