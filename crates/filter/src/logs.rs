//! Log lines with a variable part, each kind formatted in one place: every
//! log macro with arguments costs the module its own formatting code, and
//! there are many such lines.

use proxy_wasm::types::Status;

/// Logs a host call that failed: `asset-gate: cannot <what>: <status>`.
#[inline(never)]
pub fn failed(level: log::Level, what: &str, status: Status) {
    log::log!(level, "asset-gate: cannot {what}: {status:?}");
}

/// Logs `<text><detail>` (`detail` is formatted only when the level is
/// logged).
#[inline(never)]
pub fn detail(level: log::Level, text: &str, detail: &dyn std::fmt::Display) {
    log::log!(level, "{text}{detail}");
}
