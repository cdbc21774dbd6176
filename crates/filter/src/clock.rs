//! The host clock, read through proxy-wasm (a failed read gives 0, never a
//! trap; no marker is issued or accepted at 0: `marker::clock_usable`).

use proxy_wasm::hostcalls;
use std::time::Duration;

/// How often a root context ticks when it has something to watch (shared
/// poll records, requests held for their body): one period, so that a
/// context arming the tick never slows another's.
pub const TICK: Duration = Duration::from_millis(250);

/// Milliseconds since the epoch.
pub fn now_ms() -> u64 {
    hostcalls::get_current_time()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_millis() as u64)
}

/// Seconds since the epoch.
pub fn now_secs() -> u64 {
    now_ms() / 1000
}
