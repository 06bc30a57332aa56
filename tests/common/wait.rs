//! The one bounded wait of the tests: look at the thing itself until it is
//! as wanted, sleeping briefly between looks (1 ms, doubling up to 50 ms;
//! never a busy spin), and fail naming what was awaited and what was seen
//! last. No sleep stands in for an event: the look is the event.

#![allow(dead_code)]

use std::fmt::Debug;
use std::future::Future;
use std::time::{Duration, Instant};

/// The first pause between two looks.
const FIRST_PAUSE: Duration = Duration::from_millis(1);
/// The longest pause between two looks.
const LONGEST_PAUSE: Duration = Duration::from_millis(50);

/// The pauses between looks, until `within` from now has passed.
struct Pauses {
    started: Instant,
    within: Duration,
    next: Duration,
}

impl Pauses {
    fn new(within: Duration) -> Pauses {
        Pauses {
            started: Instant::now(),
            within,
            next: FIRST_PAUSE,
        }
    }

    /// How long to sleep before the next look; `None` once time is up.
    fn next(&mut self) -> Option<Duration> {
        let left = self.within.checked_sub(self.started.elapsed())?;
        let pause = self.next.min(left);
        self.next = (self.next * 2).min(LONGEST_PAUSE);
        Some(pause)
    }
}

/// Look until `look` gives `Ok`, for at most `within`; `Err(last seen)`
/// once time is up.
pub fn poll<T, E>(within: Duration, mut look: impl FnMut() -> Result<T, E>) -> Result<T, E> {
    let mut pauses = Pauses::new(within);
    loop {
        let seen = look();
        if seen.is_ok() {
            return seen;
        }
        match pauses.next() {
            Some(pause) => std::thread::sleep(pause),
            None => return seen,
        }
    }
}

/// Look until `look` gives `Ok`; its `Err` says what it saw instead.
/// Panics after `within`, naming `what` and the last thing seen.
pub fn until_ok<T, E: Debug>(
    what: &str,
    within: Duration,
    look: impl FnMut() -> Result<T, E>,
) -> T {
    poll(within, look).unwrap_or_else(|seen| gave_up(what, within, seen))
}

/// Look with `look` until `done` holds for what it sees; what it saw
/// then. Panics after `within`, naming `what` and the last thing seen.
pub fn until_value<T: Debug>(
    what: &str,
    within: Duration,
    mut look: impl FnMut() -> T,
    mut done: impl FnMut(&T) -> bool,
) -> T {
    until_ok(what, within, || {
        let seen = look();
        if done(&seen) {
            Ok(seen)
        } else {
            Err(seen)
        }
    })
}

/// Until `check` holds. Panics after `within`, naming `what`.
pub fn until(what: &str, within: Duration, mut check: impl FnMut() -> bool) {
    until_ok(what, within, || check().then_some(()).ok_or(NotYet));
}

/// Whether `check` came to hold within `within` (for a wait whose end is
/// not an error: a view that some systems do not give, say).
pub fn held_within(within: Duration, mut check: impl FnMut() -> bool) -> bool {
    poll(within, || check().then_some(()).ok_or(NotYet)).is_ok()
}

/// [`until_ok`] for async tests: `look` is awaited, the pauses are
/// tokio's.
pub async fn until_ok_async<T, E: Debug, F: Future<Output = Result<T, E>>>(
    what: &str,
    within: Duration,
    mut look: impl FnMut() -> F,
) -> T {
    let mut pauses = Pauses::new(within);
    loop {
        let seen = look().await;
        let seen = match seen {
            Ok(value) => return value,
            Err(seen) => seen,
        };
        match pauses.next() {
            Some(pause) => tokio::time::sleep(pause).await,
            None => gave_up(what, within, seen),
        }
    }
}

/// [`until`] for async tests.
pub async fn until_async<F: Future<Output = bool>>(
    what: &str,
    within: Duration,
    mut check: impl FnMut() -> F,
) {
    until_ok_async(what, within, || {
        let held = check();
        async move { held.await.then_some(()).ok_or(NotYet) }
    })
    .await
}

/// What a yes/no look saw until it held.
#[derive(Debug)]
struct NotYet;

fn gave_up<E: Debug>(what: &str, within: Duration, seen: E) -> ! {
    panic!("gave up waiting for: {what} (after {within:?}; last seen: {seen:?})")
}
