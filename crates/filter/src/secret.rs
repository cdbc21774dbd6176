//! The per-process marker secret, generated once and kept in proxy-wasm
//! shared data so that every VM with the same `vm_id` (every worker thread,
//! every placement) issues and verifies markers with the same key; and the
//! markers this VM issued lately, which it recognises without their MAC.

use crate::logs;
use asset_gate_core::internal_redirect::marker::{Consent, MarkerKey, Recent, SECRET_LEN};
use proxy_wasm::hostcalls;
use std::cell::RefCell;
use std::rc::Rc;

thread_local! {
    /// This VM's copy of the keyed secret, once shared data had one.
    static KEYED: RefCell<Option<Rc<MarkerKey>>> = const { RefCell::new(None) };
    /// Markers issued by this VM's auth_backend placements, for its storage
    /// placements (every placement of a VM runs on its thread).
    static RECENT: RefCell<Recent> = RefCell::new(Recent::default());
}

/// Remembers a marker this VM just issued (see `internal_redirect::marker::Recent` in the core).
pub fn remember_issued(marker: String, path: &str, expires_at: u64, consent: Consent) {
    RECENT.with(|r| r.borrow_mut().remember(marker, path, expires_at, consent));
}

/// Runs `f` with the markers this VM issued lately.
pub fn with_recent<T>(f: impl FnOnce(&Recent) -> T) -> T {
    RECENT.with(|r| f(&r.borrow()))
}

/// The marker key, keyed into HMAC once per VM. A VM caches only a secret
/// it found already stored (not one it has just written), and the root
/// context asks for it at configure time on Envoy's main thread, before any
/// worker VM exists; so every VM ends up with the one secret in shared data.
pub fn marker_key() -> Option<Rc<MarkerKey>> {
    if let Some(k) = KEYED.with(|c| c.borrow().clone()) {
        return Some(k);
    }
    let (secret, found) = match stored() {
        Some(s) => (s, true),
        None => (marker_secret()?, false),
    };
    let key = Rc::new(MarkerKey::new(&secret));
    if found {
        KEYED.with(|c| *c.borrow_mut() = Some(Rc::clone(&key)));
    }
    Some(key)
}

const KEY: &str = "asset_gate.marker_secret.v1";

/// The shared secret, creating it when this is the first VM to ask.
/// Read on every use rather than cached: if two VMs race to create it, the
/// value that stays in shared data is the one everybody uses.
fn marker_secret() -> Option<Vec<u8>> {
    if let Some(s) = stored() {
        return Some(s);
    }
    let mut fresh = [0u8; SECRET_LEN];
    if getrandom::fill(&mut fresh).is_err() {
        log::error!("asset-gate: no randomness available for the marker secret");
        return None;
    }
    if let Err(status) = hostcalls::set_shared_data(KEY, Some(&fresh), None) {
        logs::failed(log::Level::Error, "store the marker secret", status);
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
