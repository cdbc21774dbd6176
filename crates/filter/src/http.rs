//! What every role's HTTP context uses, written once: header map reads,
//! marker checks, local replies, and header augmentation (which every role
//! applies to the request after its own work). Only `Result`-returning host
//! calls are used, so no input can trap the VM.

use crate::clock;
use crate::logs;
use crate::metrics::{Counter, Metrics};
use crate::secret::{marker_key, with_recent};
use crate::shared::{Cached, Shared};
use asset_gate_core::answers::{Answer, Refusal};
use asset_gate_core::augment::poll::is_stale;
use asset_gate_core::augment::provider;
use asset_gate_core::config::{FailurePolicy, Injection};
use asset_gate_core::internal_redirect::marker::{self, Consent, MarkerError};
use asset_gate_core::primitives::header_map::{self, Header};
use proxy_wasm::hostcalls;
use proxy_wasm::types::{Action, MapType};

/// The nginx-style header a backend uses to hand a request to storage.
pub const ACCEL_HEADER: &str = "x-accel-redirect";

/// nginx's control headers (`X-Accel-Redirect`, `-Buffering`, `-Charset`,
/// `-Expires`, `-Limit-Rate`, ...): none ever reaches a client.
pub fn is_accel_control(name: &str) -> bool {
    name.starts_with("x-accel-")
}

/// Removes the named headers from `map` where `present` (the map as read)
/// has them: one host call per header actually there.
pub fn remove_present(
    map: MapType,
    present: &[Header],
    mut drop: impl FnMut(&str) -> bool,
) -> Result<(), proxy_wasm::types::Status> {
    let mut done: Vec<&str> = Vec::new();
    for &(k, _) in present {
        if !done.contains(&k) && drop(k) {
            hostcalls::remove_map_value(map, k)?;
            done.push(k);
        }
    }
    Ok(())
}

/// A header map as Envoy serialised it: one host call, one buffer, read in
/// place through [`RawMap::pairs`] (the SDK's `get_map_bytes` would copy
/// every name and value, and trap on a status it does not expect).
#[derive(Default)]
pub struct RawMap(Vec<u8>);

#[link(wasm_import_module = "env")]
extern "C" {
    fn proxy_get_header_map_pairs(map_type: u32, data: *mut *mut u8, size: *mut usize) -> u32;
}

impl RawMap {
    /// Reads a whole header map, logging a failure.
    pub fn read(map: MapType) -> Option<RawMap> {
        let mut data: *mut u8 = std::ptr::null_mut();
        let mut size: usize = 0;
        // SAFETY: on success the host hands over a buffer of `size` bytes it
        // allocated through the SDK's `proxy_on_memory_allocate` (a `Vec<u8>`
        // of that capacity, forgotten), which this `Vec` now owns and frees,
        // as the SDK's own `get_map_bytes` does.
        let status = unsafe { proxy_get_header_map_pairs(map as u32, &mut data, &mut size) };
        if status != 0 {
            log::warn!("asset-gate: cannot read headers (status {status})");
            return None;
        }
        if data.is_null() {
            return Some(RawMap(Vec::new()));
        }
        Some(RawMap(unsafe { Vec::from_raw_parts(data, size, size) }))
    }

    /// The map's headers, borrowed from the buffer, in Envoy's order.
    pub fn pairs(&self) -> Option<HeaderMap<'_>> {
        let pairs = header_map::parse(&self.0);
        if pairs.is_none() {
            log::warn!("asset-gate: the host's header map is malformed");
        }
        pairs
    }
}

pub type HeaderMap<'a> = Vec<Header<'a>>;

/// The first value of `name`, if it is UTF-8.
pub fn header<'a>(headers: &[Header<'a>], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| *k == name)
        .and_then(|&(_, v)| std::str::from_utf8(v).ok())
}

/// Every value of `name`, in order.
pub fn values<'a>(headers: &'a [Header<'a>], name: &'a str) -> impl Iterator<Item = &'a [u8]> {
    headers
        .iter()
        .filter(move |(k, _)| *k == name)
        .map(|&(_, v)| v)
}

/// Whether the request's `name` headers carry a marker this process issued
/// for exactly the request's path and this placement's `audience`, still
/// valid at `now`; what it consents to.
pub fn verify_marker(
    headers: &[Header],
    name: &str,
    audience: &str,
    now: u64,
) -> Result<Consent, MarkerError> {
    let path = header(headers, ":path").unwrap_or_default();
    let subject = marker::subject(audience, path);
    let key = marker_key();
    with_recent(|recent| {
        marker::verify_request(values(headers, name), key.as_deref(), recent, &subject, now)
    })
}

/// Ends the request here with one of the catalogued answers, as a short
/// plain text, bumping the answer's counter: the one way a role answers
/// a request itself.
pub fn refuse(metrics: &Metrics, refusal: impl Into<Refusal>) -> Action {
    let refusal = refusal.into();
    send(metrics, refusal.answer, &refusal.detail)
}

/// Sends `answer` with its variable part, bumping its counter and naming
/// it in the request's filter state (access logs).
fn send(metrics: &Metrics, answer: Answer, detail: &str) -> Action {
    if let Some(c) = answer.counter() {
        metrics.inc(c);
    }
    set_answer_property(answer.id().as_bytes());
    let headers = vec![("content-type", "text/plain; charset=utf-8")];
    let body = answer.body(detail);
    if let Err(s) = hostcalls::send_http_response(answer.status(), headers, Some(body.as_bytes())) {
        logs::failed(log::Level::Warn, "send local reply", s);
    }
    Action::Pause
}

#[link(wasm_import_module = "env")]
extern "C" {
    fn proxy_set_property(path: *const u8, path_size: usize, value: *const u8, size: usize) -> u32;
}

/// The property naming what asset-gate did with a request: a local
/// answer's id (`no_marker`), or `storage_error:<Code>`. Envoy keeps a
/// property in the filter state as `wasm.` + its name, where access logs
/// read it (`%FILTER_STATE(wasm.asset_gate_answer:PLAIN)%`; from an
/// upstream placement too, whose filter state is the downstream request's).
pub const ANSWER_PROPERTY: &str = "asset_gate_answer";

/// Sets [`ANSWER_PROPERTY`]. The SDK's `set_property` traps on any status
/// but `Ok`; a property the host will not keep is only logged.
pub fn set_answer_property(value: &[u8]) {
    let path = ANSWER_PROPERTY.as_bytes();
    // SAFETY: both buffers are valid for their lengths during the call;
    // the host copies them.
    let status =
        unsafe { proxy_set_property(path.as_ptr(), path.len(), value.as_ptr(), value.len()) };
    if status != 0 {
        log::debug!("asset-gate: cannot set the {ANSWER_PROPERTY} property (status {status})");
    }
}

/// A role's answer to the request headers: its own `action`, then (when it
/// lets the request continue) header augmentation.
pub fn then_augment(shared: &Shared, action: Action) -> Action {
    if action != Action::Continue {
        return action;
    }
    inject_headers(shared).unwrap_or(Action::Continue)
}

/// Header augmentation (any role): adds the provider's last good headers
/// from this VM's copy, which the root context refreshes on its tick, so
/// a request costs no shared-data read and no parsing.
fn inject_headers(shared: &Shared) -> Option<Action> {
    let Some(cfg) = &shared.config.augment else {
        return None;
    };
    let now = clock::now_ms();
    let cache = shared.headers.borrow();
    let Some(Cached {
        value: (_, injected),
        ..
    }) = cache
        .as_ref()
        .filter(|c| !is_stale(c.value.0, now, cfg.max_staleness_ms))
    else {
        return match cfg.failure_policy {
            FailurePolicy::Pass => {
                shared.metrics.inc(Counter::HeadersUnavailable);
                None
            }
            FailurePolicy::Deny => Some(refuse(&shared.metrics, Answer::NoProviderHeaders)),
        };
    };
    let map = MapType::HttpRequestHeaders;
    for (name, value) in injected {
        // A client's own credentials are never replaced: the provider's
        // would decide who is authorised.
        let keep = cfg.injection == Injection::KeepExisting || provider::is_credential(name);
        if keep && matches!(hostcalls::get_map_value_bytes(map, name), Ok(Some(_))) {
            continue;
        }
        if let Err(s) = hostcalls::set_map_value(map, name, Some(value)) {
            logs::failed(
                log::Level::Warn,
                &["add the provider's header ", name].concat(),
                s,
            );
            return Some(refuse(&shared.metrics, Answer::CannotAddProviderHeaders));
        }
    }
    shared.metrics.inc(Counter::HeadersInjected);
    None
}
