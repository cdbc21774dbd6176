//! The auth-backend role's HTTP context (upstream filter on the auth backend
//! cluster): the backend's consent (`X-Accel-Redirect`, or a redirect to an
//! internal prefix) becomes a marked 303 that Envoy's
//! internal_redirect_policy follows as a GET without body; nothing else is
//! marked.

use crate::clock;
use crate::http::{self, header, values, RawMap, ACCEL_HEADER};
use crate::logs;
use crate::metrics::Counter;
use crate::secret::{marker_key, remember_issued};
use crate::shared::Shared;
use asset_gate_core::answers::Answer;
use asset_gate_core::internal_redirect::carry;
use asset_gate_core::internal_redirect::marker::{self, Consent, Grant};
use asset_gate_core::internal_redirect::target::{self, Origin, Targets};
use asset_gate_core::primitives::header_map::Header;
use asset_gate_core::roles::auth_backend::{self, Verdict};
use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::{Action, MapType};
use std::rc::Rc;

pub struct AuthBackend {
    shared: Rc<Shared>,
    /// The client's `:authority` and `:scheme`, which the internal
    /// redirect's location must keep.
    authority: String,
    scheme: String,
}

/// Whether the downstream connection is TLS (the property reflects the
/// client's connection in an upstream filter too).
fn downstream_tls() -> bool {
    matches!(
        hostcalls::get_property(vec!["connection", "tls_version"]),
        Ok(Some(v)) if !v.is_empty()
    )
}

impl AuthBackend {
    pub fn new(shared: Rc<Shared>) -> AuthBackend {
        AuthBackend {
            shared,
            authority: String::new(),
            scheme: String::new(),
        }
    }

    /// Remembers where the client's request was going (one read of the map:
    /// cheaper than two lookups, callgrind).
    fn remember_origin(&mut self) -> Action {
        let raw = RawMap::read(MapType::HttpRequestHeaders);
        let headers = raw.as_ref().and_then(RawMap::pairs).unwrap_or_default();
        self.authority = header(&headers, ":authority")
            .unwrap_or_default()
            .to_owned();
        self.scheme = header(&headers, ":scheme").unwrap_or("http").to_owned();
        Action::Continue
    }

    /// Turns the backend's answer into a marked internal redirect, passes it
    /// on, or refuses it.
    fn judge_answer(&self) -> Action {
        let shared = &self.shared;
        let cfg = &shared.config.redirect;
        let map = MapType::HttpResponseHeaders;
        let raw = RawMap::read(map);
        let Some(headers) = raw.as_ref().and_then(RawMap::pairs) else {
            return http::refuse(&shared.metrics, Answer::CannotReadBackendAnswer);
        };
        let status = header(&headers, ":status")
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let accel = values(&headers, ACCEL_HEADER).next();
        let answer = target::Answer {
            status,
            location: header(&headers, "location"),
            accel,
            flagged: header(&headers, &cfg.marker_header)
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("true")),
        };
        // The TLS check costs a host call: only for answers that may redirect
        // a request whose :scheme says https (otherwise the answer is http).
        let scheme = if auth_backend::needs_tls_check(&self.scheme, accel.is_some(), status) {
            target::redirect_scheme(downstream_tls(), &self.scheme)
        } else {
            "http"
        };
        let origin = Origin {
            authority: &self.authority,
            scheme,
        };
        let targets = Targets {
            prefixes: &cfg.internal_prefixes,
            authorities: &cfg.internal_authorities,
            rules: &cfg.key_rules,
            query: cfg.read_query,
            consent: cfg.consent,
        };
        let decision = target::decide(&answer, &origin, &targets);
        match auth_backend::verdict(&decision, cfg.foreign_redirects) {
            Verdict::PassOn(counter) => {
                if let Some(c) = counter {
                    shared.metrics.inc(c);
                }
                self.pass_on(&headers)
            }
            Verdict::Redirect {
                path,
                location,
                dropped,
            } => {
                if dropped {
                    shared.metrics.inc(Counter::ConsentQueryDropped);
                }
                self.redirect(&headers, path, location, accel.is_some())
            }
            Verdict::Refuse(r) => {
                log::debug!(
                    "asset-gate: refused the auth backend's redirect: {}",
                    r.message()
                );
                http::refuse(&shared.metrics, r)
            }
        }
    }

    /// The backend's own answer goes to the client, without the marker
    /// header or nginx's X-Accel-* control headers: only asset-gate marks.
    fn pass_on(&self, headers: &[Header]) -> Action {
        let marker = self.shared.config.redirect.marker_header.as_str();
        let removed = http::remove_present(MapType::HttpResponseHeaders, headers, |k| {
            k == marker || http::is_accel_control(k)
        });
        if let Err(s) = removed {
            logs::failed(
                log::Level::Warn,
                "remove control headers from the backend's answer",
                s,
            );
            return http::refuse(&self.shared.metrics, Answer::CannotRewriteBackendAnswer);
        }
        Action::Continue
    }

    /// Replaces the answer by a marked 303 to `location` (one host call).
    /// A 303 makes Envoy follow with GET (HEAD stays HEAD) and no body, as
    /// nginx does; the marker grants a read of `path` and carries the
    /// backend's headers to keep.
    fn redirect(&self, headers: &[Header], path: &str, location: &str, accel: bool) -> Action {
        let shared = &self.shared;
        let cfg = &shared.config.redirect;
        let answer = headers.iter().copied();
        let kept = match carry::collect(answer, &cfg.keep_backend_headers, cfg.max_kept_bytes) {
            Ok(kept) => kept,
            Err(e) => {
                let detail = e.to_string();
                let what = "asset-gate: refused the auth backend's redirect: ";
                logs::detail(log::Level::Warn, what, &detail);
                let refusal = Answer::KeptHeadersRefused.with(detail);
                return http::refuse(&shared.metrics, refusal);
            }
        };
        let Some(key) = marker_key() else {
            return http::refuse(&shared.metrics, Answer::NoSecret);
        };
        // No clock, no marker: its expiry could not be checked.
        let Ok(now) = marker::clock_usable(clock::now_secs()) else {
            return http::refuse(&shared.metrics, Answer::NoClock);
        };
        let subject = marker::subject(&cfg.marker_audience, path);
        let mark = marker::issue(&key, &subject, Grant::Read, &kept, now, cfg.marker_ttl_secs);
        let expires_at = now.saturating_add(cfg.marker_ttl_secs);
        let answer = vec![
            (":status", "303"),
            ("location", location),
            (cfg.marker_header.as_str(), mark.as_str()),
        ];
        if let Err(s) = hostcalls::set_map(MapType::HttpResponseHeaders, answer) {
            logs::failed(log::Level::Warn, "rewrite the backend's answer", s);
            return http::refuse(&shared.metrics, Answer::CannotRewriteBackendAnswer);
        }
        let consent = Consent {
            grant: Grant::Read,
            carried: kept,
        };
        remember_issued(mark, &subject, expires_at, consent);
        shared.metrics.inc(auth_backend::redirected(accel));
        logs::detail(
            log::Level::Debug,
            "asset-gate: internal redirect to ",
            &path,
        );
        Action::Continue
    }
}

impl Context for AuthBackend {}

impl HttpContext for AuthBackend {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let action = self.remember_origin();
        http::then_augment(&self.shared, action)
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        self.judge_answer()
    }
}
