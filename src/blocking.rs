//! Blocking work off the async runtime: a look into `/proc`, a read of a
//! log, a connect to a socket, the tmux binary run to start a server. The
//! library never blocks a runtime thread; such work runs on tokio's
//! blocking pool (which a `current_thread` runtime has too).

/// Run `work` on tokio's blocking pool and return what it returns. A
/// panic in it is resumed here, as if it had run inline.
pub(crate) async fn off_runtime<T, F>(work: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    match tokio::task::spawn_blocking(work).await {
        Ok(value) => value,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        // Cancelled: the runtime shuts down, and this task ends with it.
        Err(_) => std::future::pending().await,
    }
}
