//! Per-VM state that the root context and every HTTP context share
//! (configuration, credentials, caches, metric ids), and its refresh from
//! what the pollers store in proxy-wasm shared data.

use crate::clock;
use crate::metrics::{source_code, Metrics};
use asset_gate_core::augment::provider;
use asset_gate_core::config::Config;
use asset_gate_core::credentials::{self, CredentialStore};
use asset_gate_core::gateway::consent::Consent;
use asset_gate_core::gateway::decision_cache::DecisionCache;
use asset_gate_core::sigv4::SigningKeyCache;
use proxy_wasm::hostcalls;
use std::cell::{Cell, RefCell};

/// A value read from shared data, kept with the CAS version it was read at,
/// so that it is parsed once per change rather than once per request.
pub struct Cached<T> {
    pub cas: u32,
    pub value: T,
}

/// A request held for its body (`signing.body: "hash"`) that has had no
/// body callback yet. Without `allow_on_headers_stop_iteration` in the
/// plugin's configuration, the proxy-wasm host turns a held request
/// (StopIteration) into StopAllIteration: Envoy buffers the body and never
/// calls the filter with it, and the request hangs until a timeout. The
/// setting cannot be read from inside the module, so the placement's root
/// context answers such a request from its tick.
pub struct Held {
    pub context_id: u32,
    pub since_ms: u64,
    /// What Envoy had received of the request when it was held.
    pub received: u64,
}

/// State shared by the root context and every HTTP context of one VM.
pub struct Shared {
    pub config: Config,
    pub credentials: RefCell<CredentialStore>,
    pub key_cache: RefCell<SigningKeyCache>,
    /// Flow D's cached consents (per VM; see `gateway::decision_cache` in the core).
    pub decisions: RefCell<DecisionCache<Consent>>,
    pub metrics: Metrics,
    /// Shared-data key of the header provider's last good answer.
    pub headers_key: Option<String>,
    /// Parsed headers: (fetched at ms, headers).
    pub headers: RefCell<Option<Cached<provider::CacheEntry>>>,
    /// Shared-data key of the credentials endpoint's last good answer.
    pub credentials_key: Option<String>,
    pub credentials_cas: RefCell<Option<u32>>,
    /// `metrics::source_code` of the source the credentials came from.
    pub credentials_source: Cell<u64>,
    /// This placement's requests held for their body that have had no
    /// body callback yet (`storage::answer_withheld_bodies` watches them).
    pub held: RefCell<Vec<Held>>,
    /// This placement has handed a held request its body: Envoy's
    /// setting is on, and its requests are watched no more.
    pub delivers_bodies: Cell<bool>,
}

impl Shared {
    /// Adopts what the poller (of whichever VM) last stored in shared data:
    /// provider headers and endpoint credentials, parsed once per change.
    /// Called on every tick, so requests only read this VM's copies.
    /// Records the credentials gauges (every tick, so expiry counts down).
    pub fn record_credentials_gauges(&self) {
        if self.config.signing.is_none() {
            return;
        }
        let now = clock::now_secs();
        let store = self.credentials.borrow();
        let usable = store.usable(now).is_some();
        let expires_in = match (usable, store.expires_at()) {
            (true, Some(e)) => e.saturating_sub(now),
            _ => 0,
        };
        self.metrics
            .set_credentials(expires_in, usable, self.credentials_source.get());
    }

    pub fn refresh_caches(&self) {
        if let Some(key) = &self.headers_key {
            if let Ok((Some(bytes), Some(cas))) = hostcalls::get_shared_data(key) {
                let mut cache = self.headers.borrow_mut();
                if cache.as_ref().map(|c| c.cas) != Some(cas) {
                    *cache = provider::decode_cache(&bytes).map(|value| Cached { cas, value });
                }
            }
        }
        if let Some(key) = &self.credentials_key {
            if let Ok((Some(bytes), Some(cas))) = hostcalls::get_shared_data(key) {
                if *self.credentials_cas.borrow() != Some(cas) {
                    let now = clock::now_secs();
                    if let Some((source, c)) = credentials::parse_stored(&bytes, now) {
                        if self.credentials.borrow_mut().set(c) {
                            self.credentials_source.set(source_code(source));
                        }
                    }
                    *self.credentials_cas.borrow_mut() = Some(cas);
                }
            }
        }
    }
}
