//! The text encodings of a [`super::Record`]'s fields, each with its
//! decoder: what tmux keeps is text, what the keeper reads is typed. Every
//! decoder returns a [`FieldError`] for a value it cannot read (never a
//! panic); [`super::Record`] documents what it takes instead.

use crate::watch::ExitStatus;
use std::time::Duration;

/// A value of a record's option that does not read as its field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{option} holds {value:?}, which is not {expected}")]
pub struct FieldError {
    /// The option.
    pub option: &'static str,
    /// Its value.
    pub value: String,
    /// What it should be.
    pub expected: &'static str,
}

impl FieldError {
    fn new(option: &'static str, value: &str, expected: &'static str) -> FieldError {
        FieldError {
            option,
            value: value.to_string(),
            expected,
        }
    }
}

/// When a process is started again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestartWhen {
    /// After a non-zero exit or a signal.
    OnFailure,
    /// After any exit.
    Always,
}

impl std::str::FromStr for RestartWhen {
    type Err = String;
    fn from_str(s: &str) -> Result<RestartWhen, String> {
        match s {
            "on-failure" => Ok(RestartWhen::OnFailure),
            "always" => Ok(RestartWhen::Always),
            _ => Err(format!("{s:?}: say on-failure or always")),
        }
    }
}

/// A restart policy: [`RestartPolicy::new`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RestartPolicy {
    /// When.
    pub when: RestartWhen,
    /// At most this many restarts (then it stays ended).
    pub max: u32,
    /// The delay before the first restart; it doubles with each one (at
    /// most 5 minutes).
    pub delay: Duration,
}

impl RestartPolicy {
    /// Restart `when` it ends so, at most `max` times, after `delay`
    /// (doubled before each further restart).
    pub fn new(when: RestartWhen, max: u32, delay: Duration) -> RestartPolicy {
        RestartPolicy { when, max, delay }
    }
}

/// `WHEN:MAX:DELAY_MS`; `off` for none (a policy a stop turned off).
pub(in crate::keeper) fn encode_restart(policy: Option<RestartPolicy>) -> String {
    let Some(policy) = policy else {
        return "off".into();
    };
    let when = match policy.when {
        RestartWhen::OnFailure => "on-failure",
        RestartWhen::Always => "always",
    };
    format!("{when}:{}:{}", policy.max, policy.delay.as_millis())
}

/// The policy of [`encode_restart`]'s text; `off` and no value are none.
pub(in crate::keeper) fn decode_restart(
    option: &'static str,
    s: &str,
) -> Result<Option<RestartPolicy>, FieldError> {
    if s.is_empty() || s == "off" {
        return Ok(None);
    }
    let bad = || FieldError::new(option, s, "a restart policy (WHEN:MAX:DELAY_MS, or off)");
    let mut parts = s.split(':');
    let when = parts.next().and_then(|w| w.parse().ok()).ok_or_else(bad)?;
    let max = parts.next().and_then(|m| m.parse().ok()).ok_or_else(bad)?;
    let delay: u64 = parts.next().and_then(|d| d.parse().ok()).ok_or_else(bad)?;
    if parts.next().is_some() {
        return Err(bad());
    }
    Ok(Some(RestartPolicy {
        when,
        max,
        delay: Duration::from_millis(delay),
    }))
}

/// A run's time limit (`start --kill-after`): how long it may run, and
/// the grace between the interrupt and the signals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::keeper) struct Limit {
    pub(in crate::keeper) after: Duration,
    pub(in crate::keeper) grace: Duration,
}

impl Limit {
    /// The limit in whole seconds, rounded up (what `status` shows).
    pub(in crate::keeper) fn whole_seconds(self) -> u64 {
        self.after.as_secs_f64().ceil() as u64
    }
}

/// `AFTER_MS:GRACE_MS`.
pub(in crate::keeper) fn encode_limit(limit: Limit) -> String {
    format!("{}:{}", limit.after.as_millis(), limit.grace.as_millis())
}

pub(in crate::keeper) fn decode_limit(
    option: &'static str,
    s: &str,
) -> Result<Option<Limit>, FieldError> {
    if s.is_empty() {
        return Ok(None);
    }
    let bad = || FieldError::new(option, s, "a time limit (AFTER_MS:GRACE_MS)");
    let (after, grace) = s.trim().split_once(':').ok_or_else(bad)?;
    let ms = |v: &str| {
        v.parse::<u64>()
            .map(Duration::from_millis)
            .map_err(|_| bad())
    };
    Ok(Some(Limit {
        after: ms(after)?,
        grace: ms(grace)?,
    }))
}

/// How a run (named by where it begins in the log) ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(in crate::keeper) struct RunExit {
    /// The run: its log position, as recorded.
    pub(in crate::keeper) run: String,
    pub(in crate::keeper) exit: ExitStatus,
}

/// `exited N` / `signaled N`.
pub(in crate::keeper) fn exit_word(status: ExitStatus) -> String {
    match status {
        ExitStatus::Exited(code) => format!("exited {code}"),
        ExitStatus::Signaled(signal) => format!("signaled {signal}"),
    }
}

/// `RUN exited N` / `RUN signaled N`.
pub(in crate::keeper) fn encode_run_exit(exit: &RunExit) -> String {
    format!("{} {}", exit.run, exit_word(exit.exit))
}

pub(in crate::keeper) fn decode_run_exit(
    option: &'static str,
    s: &str,
) -> Result<RunExit, FieldError> {
    let bad = || FieldError::new(option, s, "a run's end (RUN exited N, or RUN signaled N)");
    let mut words = s.split(' ');
    let (Some(run), Some(how), Some(n), None) =
        (words.next(), words.next(), words.next(), words.next())
    else {
        return Err(bad());
    };
    let n = n.parse().map_err(|_| bad())?;
    let exit = match how {
        "exited" => ExitStatus::Exited(n),
        "signaled" => ExitStatus::Signaled(n),
        _ => return Err(bad()),
    };
    if run.is_empty() || run.contains(';') {
        return Err(bad());
    }
    Ok(RunExit {
        run: run.to_string(),
        exit,
    })
}

/// The last exits, oldest first: [`encode_run_exit`]s, `;`-separated.
pub(in crate::keeper) fn encode_exits(exits: &[RunExit]) -> String {
    exits
        .iter()
        .map(encode_run_exit)
        .collect::<Vec<_>>()
        .join(";")
}

/// Every entry of [`encode_exits`]'s text; an entry that does not read is
/// an error (the record's reader leaves it out).
pub(in crate::keeper) fn decode_exits(
    option: &'static str,
    s: &str,
) -> Vec<Result<RunExit, FieldError>> {
    s.split(';')
        .filter(|e| !e.is_empty())
        .map(|e| decode_run_exit(option, e))
        .collect()
}

/// What a log writer that cannot write said: why, and since when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(in crate::keeper) struct LogError {
    pub(in crate::keeper) since: Option<u64>,
    pub(in crate::keeper) reason: String,
}

/// `UNIX-TIME REASON`.
pub(in crate::keeper) fn encode_log_error(error: &LogError) -> String {
    match error.since {
        Some(since) => format!("{since} {}", error.reason),
        None => error.reason.clone(),
    }
}

/// The text of [`encode_log_error`]; a value without a time is all reason.
pub(in crate::keeper) fn decode_log_error(s: &str) -> Option<LogError> {
    if s.is_empty() {
        return None;
    }
    Some(match s.split_once(' ') {
        Some((time, reason)) if time.parse::<u64>().is_ok() => LogError {
            since: time.parse().ok(),
            reason: reason.to_string(),
        },
        _ => LogError {
            since: None,
            reason: s.to_string(),
        },
    })
}

/// A number, or nothing for no value.
pub(in crate::keeper) fn decode_number<T: std::str::FromStr>(
    option: &'static str,
    s: &str,
) -> Result<Option<T>, FieldError> {
    match s {
        "" => Ok(None),
        s => s
            .parse()
            .map(Some)
            .map_err(|_| FieldError::new(option, s, "a number")),
    }
}

/// A log position, or nothing for no value.
pub(in crate::keeper) fn decode_position(
    option: &'static str,
    s: &str,
) -> Result<Option<crate::keeper::log::Position>, FieldError> {
    match s {
        "" => Ok(None),
        s => s
            .parse()
            .map(Some)
            .map_err(|_| FieldError::new(option, s, "a log position (INODE.BORN:OFFSET)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const O: &str = "@opt";

    #[test]
    fn known_values_read_back() {
        let p = RestartPolicy {
            when: RestartWhen::OnFailure,
            max: 3,
            delay: Duration::from_millis(500),
        };
        assert_eq!(encode_restart(Some(p)), "on-failure:3:500");
        assert_eq!(decode_restart(O, "on-failure:3:500"), Ok(Some(p)));
        assert_eq!(decode_restart(O, "off"), Ok(None));
        assert_eq!(decode_restart(O, ""), Ok(None));
        assert_eq!(
            decode_limit(O, "1500:300"),
            Ok(Some(Limit {
                after: Duration::from_millis(1500),
                grace: Duration::from_millis(300)
            }))
        );
        let exits: Vec<RunExit> = decode_exits(O, "1.2:3 exited 1;1.2:9 signaled 15")
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(exits[0].exit, ExitStatus::Exited(1));
        assert_eq!(exits[1].exit, ExitStatus::Signaled(15));
        assert_eq!(encode_exits(&exits), "1.2:3 exited 1;1.2:9 signaled 15");
        assert_eq!(
            decode_log_error("1700000000 No space left on device"),
            Some(LogError {
                since: Some(1_700_000_000),
                reason: "No space left on device".into()
            })
        );
        // No time: all of it is the reason.
        assert_eq!(decode_log_error("broken").unwrap().since, None);
        assert_eq!(decode_log_error(""), None);
    }

    #[test]
    fn malformed_values_are_clear_errors() {
        for bad in [
            "sometimes:1:2",
            "always:x:2",
            "always:1",
            "always:1:2:3",
            "always",
        ] {
            let e = decode_restart(O, bad).unwrap_err();
            assert!(e.to_string().contains("restart policy"), "{e}");
            assert!(e.to_string().contains(bad), "{e}");
        }
        for bad in ["90", "a:b", "1:", ":1", "-1:2"] {
            assert!(decode_limit(O, bad).is_err(), "{bad}");
        }
        for bad in [
            "1.0:1 exited",
            "1.0:1 died 3",
            "1.0:1 exited x",
            "x exited 1 2",
            " exited 1",
        ] {
            assert!(decode_run_exit(O, bad).is_err(), "{bad}");
        }
        assert!(decode_number::<u32>(O, "-3").is_err());
        assert!(decode_position(O, "5:10").is_err());
        assert_eq!(decode_position(O, ""), Ok(None));
    }

    fn when() -> impl Strategy<Value = RestartWhen> {
        prop_oneof![Just(RestartWhen::OnFailure), Just(RestartWhen::Always)]
    }

    fn exit() -> impl Strategy<Value = ExitStatus> {
        prop_oneof![
            any::<i32>().prop_map(ExitStatus::Exited),
            any::<i32>().prop_map(ExitStatus::Signaled)
        ]
    }

    proptest! {
        #[test]
        fn restart_policies_round_trip(when in when(), max: u32, ms in 0u64..u64::MAX / 2) {
            let p = RestartPolicy { when, max, delay: Duration::from_millis(ms) };
            prop_assert_eq!(decode_restart(O, &encode_restart(Some(p))), Ok(Some(p)));
        }

        #[test]
        fn limits_round_trip(after in 0u64..u64::MAX / 2, grace in 0u64..u64::MAX / 2) {
            let l = Limit { after: Duration::from_millis(after), grace: Duration::from_millis(grace) };
            prop_assert_eq!(decode_limit(O, &encode_limit(l)), Ok(Some(l)));
        }

        #[test]
        fn exits_round_trip(
            exits in proptest::collection::vec(("[0-9]{1,5}\\.[0-9]{1,5}:[0-9]{1,6}", exit()), 0..12)
        ) {
            let exits: Vec<RunExit> = exits
                .into_iter()
                .map(|(run, exit)| RunExit { run, exit })
                .collect();
            let back: Vec<RunExit> = decode_exits(O, &encode_exits(&exits))
                .into_iter()
                .collect::<Result<_, _>>()
                .unwrap();
            prop_assert_eq!(back, exits);
        }

        #[test]
        fn log_errors_round_trip(since in proptest::option::of(any::<u64>()), reason in "[^ ][^\n]{0,40}") {
            let e = LogError { since, reason };
            // A reason that starts with a number reads as a time when
            // there is none: only errors with a time are written.
            prop_assume!(since.is_some() || e.reason.split(' ').next().is_none_or(|w| w.parse::<u64>().is_err()));
            prop_assert_eq!(decode_log_error(&encode_log_error(&e)), Some(e));
        }

        #[test]
        fn no_text_panics_a_decoder(s in "\\PC{0,40}") {
            let _ = decode_restart(O, &s);
            let _ = decode_limit(O, &s);
            let _ = decode_exits(O, &s);
            let _ = decode_log_error(&s);
            let _ = decode_number::<u64>(O, &s);
            let _ = decode_position(O, &s);
        }
    }
}
