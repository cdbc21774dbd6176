//! The per-process marker secret, generated once and kept in proxy-wasm
//! shared data so that every VM with the same `vm_id` (every worker thread,
//! every placement) issues and verifies markers with the same key.

use crate::core::marker::SECRET_LEN;
use proxy_wasm::hostcalls;

const KEY: &str = "asset_gate.marker_secret.v1";

/// The shared secret, creating it when this is the first VM to ask.
/// Read on every use rather than cached: if two VMs race to create it, the
/// value that stays in shared data is the one everybody uses.
pub fn marker_secret() -> Option<Vec<u8>> {
    if let Some(s) = stored() {
        return Some(s);
    }
    let mut fresh = [0u8; SECRET_LEN];
    if getrandom::fill(&mut fresh).is_err() {
        log::error!("asset-gate: no randomness available for the marker secret");
        return None;
    }
    if let Err(status) = hostcalls::set_shared_data(KEY, Some(&fresh), None) {
        log::error!("asset-gate: cannot store the marker secret: {status:?}");
        return None;
    }
    stored()
}

fn stored() -> Option<Vec<u8>> {
    match hostcalls::get_shared_data(KEY) {
        Ok((Some(bytes), _)) if bytes.len() == SECRET_LEN => Some(bytes),
        _ => None,
    }
}
