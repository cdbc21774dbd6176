//! HTTP context: applies the pure request logic to one request. Only
//! `Result`-returning host calls are used, so no input can trap the VM.

use crate::config::{FailurePolicy, ForeignRedirects, Injection, MissingCredentials, Role};
use crate::marker;
use crate::metrics::Counter;
use crate::poll::is_stale;
use crate::poller::now_ms;
use crate::redirect::{self, Decision};
use crate::root::{Cached, Shared};
use crate::secret::marker_secret;
use crate::storage::{self, Rewrite, Signed};
use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::{Action, Bytes, MapType};
use std::rc::Rc;

/// The nginx-style header a backend uses to hand a request to storage.
const ACCEL_HEADER: &str = "x-accel-redirect";

pub struct Http {
    shared: Rc<Shared>,
    /// Auth-backend role: the client's (authority, scheme), which the
    /// internal redirect's location must keep.
    origin: Option<(String, String)>,
}

type HeaderMap = Vec<(String, Bytes)>;

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .and_then(|(_, v)| std::str::from_utf8(v).ok())
}

fn values<'a>(headers: &'a HeaderMap, name: &'a str) -> impl Iterator<Item = &'a [u8]> {
    headers
        .iter()
        .filter(move |(k, _)| k == name)
        .map(|(_, v)| v.as_slice())
}

/// Seconds since the epoch from the host clock.
fn now() -> u64 {
    now_ms() / 1000
}

impl Http {
    pub fn new(shared: Rc<Shared>) -> Http {
        Http {
            shared,
            origin: None,
        }
    }

    fn headers(&self, map: MapType) -> Option<HeaderMap> {
        match hostcalls::get_map_bytes(map) {
            Ok(h) => Some(h),
            Err(s) => {
                log::warn!("asset-gate: cannot read headers: {s:?}");
                None
            }
        }
    }

    /// Header augmentation (any role): adds the provider's last good headers
    /// from this VM's copy, which the root context refreshes on its tick, so
    /// a request costs no shared-data read and no parsing.
    fn inject_headers(&mut self) -> Option<Action> {
        let shared = Rc::clone(&self.shared);
        let Some(cfg) = &shared.config.augment else {
            return None;
        };
        let now = now_ms();
        let cache = shared.headers.borrow();
        let Some(Cached {
            value: (_, injected),
            ..
        }) = cache
            .as_ref()
            .filter(|c| !is_stale(c.value.0, now, cfg.max_staleness_ms))
        else {
            shared.metrics.inc(Counter::HeadersUnavailable);
            return match cfg.failure_policy {
                FailurePolicy::Pass => None,
                FailurePolicy::Deny => Some(self.respond(
                    503,
                    "no valid headers from the header provider are available",
                )),
            };
        };
        let map = MapType::HttpRequestHeaders;
        for (name, value) in injected {
            if cfg.injection == Injection::KeepExisting
                && matches!(hostcalls::get_map_value_bytes(map, name), Ok(Some(_)))
            {
                continue;
            }
            if hostcalls::set_map_value(map, name, Some(value)).is_err() {
                return Some(self.respond(500, "cannot add the provider's headers"));
            }
        }
        shared.metrics.inc(Counter::HeadersInjected);
        None
    }

    /// Edge role: a marker on a client request must be one this process
    /// issued for exactly this path; anything else is dropped and counted.
    /// (Envoy runs this again for the internally redirected request, which
    /// then carries the genuine marker.)
    fn edge_request(&mut self) -> Action {
        let name = self.shared.config.redirect.marker_header.as_str();
        let Some(headers) = self.headers(MapType::HttpRequestHeaders) else {
            return self.respond(500, "cannot read request headers");
        };
        if values(&headers, name).next().is_none() {
            return Action::Continue;
        }
        let path = header(&headers, ":path").unwrap_or_default();
        let secret = marker_secret();
        if let Err(e) =
            marker::verify_request(values(&headers, name), secret.as_deref(), path, now())
        {
            log::debug!("asset-gate: dropped a client-sent marker: {e}");
            self.shared.metrics.inc(Counter::SpoofAttempts);
            if hostcalls::remove_map_value(MapType::HttpRequestHeaders, name).is_err() {
                return self.respond(500, "cannot remove an invalid marker");
            }
        }
        Action::Continue
    }

    /// Edge role: markers and X-Accel-Redirect never leave Envoy.
    fn edge_response(&mut self) -> Action {
        let map = MapType::HttpResponseHeaders;
        let name = self.shared.config.redirect.marker_header.as_str();
        let _ = hostcalls::remove_map_value(map, name);
        let _ = hostcalls::remove_map_value(map, ACCEL_HEADER);
        Action::Continue
    }

    /// Auth-backend role: remember where the client's request was going.
    fn auth_request(&mut self) -> Action {
        if let Some(headers) = self.headers(MapType::HttpRequestHeaders) {
            let authority = header(&headers, ":authority").unwrap_or_default();
            let scheme = header(&headers, "x-forwarded-proto")
                .or_else(|| header(&headers, ":scheme"))
                .unwrap_or("http");
            self.origin = Some((authority.to_string(), scheme.to_string()));
        }
        Action::Continue
    }

    /// Auth-backend role: the backend's consent becomes a marked 307 that
    /// Envoy's internal_redirect_policy follows; nothing else is marked.
    fn auth_response(&mut self) -> Action {
        let shared = Rc::clone(&self.shared);
        let cfg = &shared.config.redirect;
        let map = MapType::HttpResponseHeaders;
        let Some(headers) = self.headers(map) else {
            return self.respond(502, "cannot read the auth backend's answer");
        };
        // Only asset-gate sets these; whatever the backend sent is not trusted.
        if hostcalls::remove_map_value(map, &cfg.marker_header).is_err()
            || hostcalls::remove_map_value(map, ACCEL_HEADER).is_err()
        {
            return self.respond(502, "cannot rewrite the auth backend's answer");
        }
        let status = header(&headers, ":status")
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let accel = values(&headers, ACCEL_HEADER)
            .next()
            .map(|v| std::str::from_utf8(v).unwrap_or("\u{0}"));
        let (authority, scheme) = self.origin.clone().unwrap_or_default();
        let decision = redirect::decide(
            status,
            header(&headers, "location"),
            accel,
            &authority,
            &scheme,
            &cfg.internal_prefixes,
            &cfg.key_rules,
        );
        match decision {
            Decision::PassThrough => Action::Continue,
            Decision::Internal { path, location } => {
                let Some(secret) = marker_secret() else {
                    return self.respond(503, "the internal-redirect secret is not available");
                };
                let Some(mark) = marker::issue(&secret, &path, now(), cfg.marker_ttl_secs) else {
                    return self.respond(503, "cannot mark the internal redirect");
                };
                let set = hostcalls::set_map_value(map, ":status", Some("307"))
                    .and_then(|_| hostcalls::set_map_value(map, "location", Some(&location)))
                    .and_then(|_| hostcalls::set_map_value(map, &cfg.marker_header, Some(&mark)));
                if set.is_err() {
                    return self.respond(502, "cannot rewrite the auth backend's answer");
                }
                shared.metrics.inc(if accel.is_some() {
                    Counter::RedirectsConverted
                } else {
                    Counter::RedirectsAccepted
                });
                log::debug!("asset-gate: internal redirect to {path}");
                Action::Continue
            }
            Decision::Foreign => match cfg.foreign_redirects {
                ForeignRedirects::Pass => {
                    shared.metrics.inc(Counter::ForeignRedirectsPassed);
                    Action::Continue
                }
                ForeignRedirects::Reject => {
                    shared.metrics.inc(Counter::RedirectsRefused);
                    self.respond(
                        502,
                        "the auth backend redirected outside the internal prefixes",
                    )
                }
            },
            Decision::Unsafe(e) => {
                shared.metrics.inc(Counter::RedirectsRefused);
                log::debug!("asset-gate: refused the auth backend's redirect: {e}");
                self.respond(
                    502,
                    &format!("the auth backend's redirect target was refused: {e}"),
                )
            }
        }
    }

    /// Storage role: only requests the auth backend consented to get signed.
    fn storage_guard(&mut self, headers: &HeaderMap) -> Option<Action> {
        let shared = Rc::clone(&self.shared);
        let require = shared
            .config
            .signing
            .as_ref()
            .is_some_and(|s| s.require_marker);
        if !require {
            return None;
        }
        let name = shared.config.redirect.marker_header.as_str();
        let path = header(headers, ":path").unwrap_or_default();
        let secret = marker_secret();
        if let Err(e) =
            marker::verify_request(values(headers, name), secret.as_deref(), path, now())
        {
            shared.metrics.inc(Counter::MarkerRejected);
            log::debug!("asset-gate: storage request refused: {e}");
            return Some(self.respond(
                403,
                "this internal route is reachable only through the auth backend",
            ));
        }
        if hostcalls::remove_map_value(MapType::HttpRequestHeaders, name).is_err() {
            return Some(self.respond(500, "cannot remove the marker"));
        }
        None
    }

    /// Ends the request here with a short plain-text answer.
    fn respond(&self, status: u32, body: &str) -> Action {
        let body = format!("asset-gate: {body}\n");
        let headers = vec![("content-type", "text/plain; charset=utf-8")];
        if let Err(s) = hostcalls::send_http_response(status, headers, Some(body.as_bytes())) {
            log::warn!("asset-gate: cannot send local reply: {s:?}");
        }
        Action::Pause
    }

    /// Applies a rewrite, skipping host calls that would change nothing.
    fn apply(headers: &HeaderMap, rewrite: &Rewrite) -> Result<(), proxy_wasm::types::Status> {
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

    fn sign(&mut self, headers: &HeaderMap, end_of_stream: bool) -> Action {
        let shared = &self.shared;
        let Some(cfg) = shared.config.signing.as_ref() else {
            return Action::Continue;
        };
        let now = now();
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
                    return self.respond(
                        503,
                        "no valid AWS credentials are available to sign this request",
                    );
                }
                rw
            }
            Err(reject) => {
                shared.metrics.inc(Counter::SigningFailures);
                log::debug!("asset-gate: request refused: {}", reject.reason);
                return self.respond(reject.status, &reject.reason);
            }
        };
        if let Err(s) = Self::apply(headers, &rewrite) {
            shared.metrics.inc(Counter::SigningFailures);
            log::warn!("asset-gate: cannot rewrite request headers: {s:?}");
            return self.respond(500, "cannot rewrite request headers");
        }
        Action::Continue
    }
}

impl Context for Http {}

impl HttpContext for Http {
    fn on_http_request_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        let role = self.shared.config.role;
        let action = match role {
            Role::Edge => self.edge_request(),
            Role::AuthBackend => self.auth_request(),
            Role::Storage => {
                // One read of the header map serves the guard and the signer.
                match self.headers(MapType::HttpRequestHeaders) {
                    None => self.respond(500, "cannot read request headers"),
                    Some(headers) => match self.storage_guard(&headers) {
                        Some(refused) => refused,
                        None => self.sign(&headers, end_of_stream),
                    },
                }
            }
        };
        if action != Action::Continue {
            return action;
        }
        self.inject_headers().unwrap_or(Action::Continue)
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        match self.shared.config.role {
            Role::Edge => self.edge_response(),
            Role::AuthBackend => self.auth_response(),
            Role::Storage => Action::Continue,
        }
    }
}
