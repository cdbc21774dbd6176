//! The storage role's HTTP context (upstream filter on the storage cluster,
//! or downstream filter of a signing edge proxy): only requests the auth
//! backend consented to get signed; the bucket is mapped, the host rewritten,
//! the request signed with SigV4.

use crate::core::config::MissingCredentials;
use crate::core::storage::{self, Rewrite, Signed};
use crate::host::clock;
use crate::host::http::{self, header, HeaderMap};
use crate::host::metrics::Counter;
use crate::host::shared::Shared;
use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::{Action, MapType, Status};
use std::rc::Rc;

pub struct Storage {
    shared: Rc<Shared>,
}

impl Storage {
    pub fn new(shared: Rc<Shared>) -> Storage {
        Storage { shared }
    }

    /// Only requests the auth backend consented to get signed.
    fn guard(&self, headers: &HeaderMap) -> Option<Action> {
        let shared = &self.shared;
        let require = shared
            .config
            .signing
            .as_ref()
            .is_some_and(|s| s.require_marker);
        if !require {
            return None;
        }
        let name = shared.config.redirect.marker_header.as_str();
        if let Err(e) = http::verify_marker(headers, name) {
            shared.metrics.inc(Counter::MarkerRejected);
            log::debug!("asset-gate: storage request refused: {e}");
            return Some(http::respond(
                403,
                "this internal route is reachable only through the auth backend",
            ));
        }
        if hostcalls::remove_map_value(MapType::HttpRequestHeaders, name).is_err() {
            return Some(http::respond(500, "cannot remove the marker"));
        }
        None
    }

    fn sign(&self, headers: &HeaderMap, end_of_stream: bool) -> Action {
        let shared = &self.shared;
        let Some(cfg) = shared.config.signing.as_ref() else {
            return Action::Continue;
        };
        let now = clock::now_secs();
        let store = shared.credentials.borrow();
        let creds = store.usable(now);
        let result = storage::prepare(
            cfg,
            creds,
            headers,
            !end_of_stream,
            now,
            &mut shared.key_cache.borrow_mut(),
        );
        drop(store);
        let rewrite = match result {
            Ok(Signed::Yes(rw)) => {
                shared.metrics.inc(Counter::RequestsSigned);
                rw
            }
            Ok(Signed::NoCredentials(rw)) => {
                shared.metrics.inc(Counter::MissingCredentials);
                if cfg.on_missing_credentials == MissingCredentials::Deny {
                    return http::respond(
                        503,
                        "no valid AWS credentials are available to sign this request",
                    );
                }
                rw
            }
            Err(reject) => {
                shared.metrics.inc(Counter::SigningFailures);
                log::debug!("asset-gate: request refused: {}", reject.reason);
                return http::respond(reject.status, &reject.reason);
            }
        };
        if let Err(s) = apply(headers, &rewrite) {
            shared.metrics.inc(Counter::SigningFailures);
            log::warn!("asset-gate: cannot rewrite request headers: {s:?}");
            return http::respond(500, "cannot rewrite request headers");
        }
        Action::Continue
    }
}

/// Applies a rewrite, skipping host calls that would change nothing.
fn apply(headers: &HeaderMap, rewrite: &Rewrite) -> Result<(), Status> {
    let map = MapType::HttpRequestHeaders;
    for name in &rewrite.remove {
        hostcalls::remove_map_value(map, name)?;
    }
    if header(headers, ":path") != Some(rewrite.path.as_str()) {
        hostcalls::set_map_value(map, ":path", Some(&rewrite.path))?;
    }
    if header(headers, ":authority") != Some(rewrite.authority.as_str()) {
        hostcalls::set_map_value(map, ":authority", Some(&rewrite.authority))?;
    }
    for (name, value) in &rewrite.set {
        hostcalls::set_map_value(map, name, Some(value))?;
    }
    Ok(())
}

impl Context for Storage {}

impl HttpContext for Storage {
    fn on_http_request_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        // One read of the header map serves the guard and the signer.
        let action = match http::headers(MapType::HttpRequestHeaders) {
            None => http::respond(500, "cannot read request headers"),
            Some(headers) => match self.guard(&headers) {
                Some(refused) => refused,
                None => self.sign(&headers, end_of_stream),
            },
        };
        http::then_augment(&self.shared, action)
    }
}
