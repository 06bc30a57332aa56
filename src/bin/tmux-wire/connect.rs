//! The keeper the global options (`-S`, `-L`, `--transport`) and the
//! environment (`$TMUX_WIRE_LOG_*`) ask for: what every command that
//! talks to a server is handed.

use crate::args::{self, Transport};
use crate::contract::Kind;
use crate::failure::Failure;
use std::path::PathBuf;
use tmux_wire::client::TransportChoice;
use tmux_wire::keeper::Keeper;
use tmux_wire::server::SocketSpec;

/// The keeper of the socket `-S PATH` or `-L NAME` names (else
/// tmux-wire's own), reached by `transport`, its logs kept as the
/// environment says.
pub fn keeper(
    socket: Option<PathBuf>,
    label: Option<String>,
    transport: Transport,
) -> Result<Keeper, Failure> {
    let spec = match (socket, label) {
        (Some(path), _) => SocketSpec::Path(path),
        (None, Some(label)) => SocketSpec::Label(label),
        (None, None) => SocketSpec::WireDefault,
    };
    let transport = match transport {
        Transport::Auto => TransportChoice::Auto,
        Transport::Direct => TransportChoice::Direct,
        Transport::Process => TransportChoice::Process,
    };
    Ok(Keeper::new(&spec)?
        .transport(transport)
        .log_max_age(log_max_age()?)
        .log_limits(log_limits()?))
}

/// `$TMUX_WIRE_LOG_MAX_AGE`: how long the logs of names gone are kept
/// (a duration such as 7d or 12h; `off` keeps them). Default 7 days.
fn log_max_age() -> Result<Option<std::time::Duration>, Failure> {
    match std::env::var("TMUX_WIRE_LOG_MAX_AGE") {
        Err(_) => Ok(Some(tmux_wire::keeper::LOG_MAX_AGE)),
        Ok(v) if v == "off" || v == "never" => Ok(None),
        Ok(v) => args::parse_duration(&v)
            .map(Some)
            .map_err(|e| Failure::new(Kind::BadInput, format!("TMUX_WIRE_LOG_MAX_AGE: {e}"))),
    }
}

/// `$TMUX_WIRE_LOG_MAX_BYTES` (bytes per log file before it rotates,
/// default 8 MiB) and `$TMUX_WIRE_LOG_KEEP` (rotated files kept, default 2).
fn log_limits() -> Result<tmux_wire::keeper::log::Limits, Failure> {
    let mut limits = tmux_wire::keeper::log::Limits::default();
    if let Ok(v) = std::env::var("TMUX_WIRE_LOG_MAX_BYTES") {
        limits.max_bytes = v.parse().ok().filter(|&n| n > 0).ok_or_else(|| {
            Failure::new(
                Kind::BadInput,
                format!("TMUX_WIRE_LOG_MAX_BYTES: {v:?} is not a positive number of bytes"),
            )
        })?;
    }
    if let Ok(v) = std::env::var("TMUX_WIRE_LOG_KEEP") {
        limits.keep = v.parse().map_err(|_| {
            Failure::new(
                Kind::BadInput,
                format!("TMUX_WIRE_LOG_KEEP: {v:?} is not a number"),
            )
        })?;
        limits
            .check()
            .map_err(|e| Failure::new(Kind::BadInput, format!("TMUX_WIRE_LOG_KEEP: {e}")))?;
    }
    Ok(limits)
}
