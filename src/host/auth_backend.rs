//! The auth-backend role's HTTP context (upstream filter on the auth backend
//! cluster): the backend's consent (`X-Accel-Redirect`, or a redirect to an
//! internal prefix) becomes a marked 307 that Envoy's
//! internal_redirect_policy follows; nothing else is marked.

use crate::core::config::ForeignRedirects;
use crate::core::marker;
use crate::core::redirect::{self, Decision};
use crate::host::clock;
use crate::host::http::{self, header, values, ACCEL_HEADER};
use crate::host::metrics::Counter;
use crate::host::secret::marker_secret;
use crate::host::shared::Shared;
use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::{Action, MapType};
use std::rc::Rc;

pub struct AuthBackend {
    shared: Rc<Shared>,
    /// The client's (authority, scheme), which the internal redirect's
    /// location must keep.
    origin: Option<(String, String)>,
}

impl AuthBackend {
    pub fn new(shared: Rc<Shared>) -> AuthBackend {
        AuthBackend {
            shared,
            origin: None,
        }
    }

    /// Remembers where the client's request was going.
    fn remember_origin(&mut self) -> Action {
        if let Some(headers) = http::headers(MapType::HttpRequestHeaders) {
            let authority = header(&headers, ":authority").unwrap_or_default();
            let scheme = header(&headers, "x-forwarded-proto")
                .or_else(|| header(&headers, ":scheme"))
                .unwrap_or("http");
            self.origin = Some((authority.to_string(), scheme.to_string()));
        }
        Action::Continue
    }

    /// Turns the backend's answer into a marked internal redirect, passes it
    /// on, or refuses it.
    fn judge_answer(&self) -> Action {
        let shared = &self.shared;
        let cfg = &shared.config.redirect;
        let map = MapType::HttpResponseHeaders;
        let Some(headers) = http::headers(map) else {
            return http::respond(502, "cannot read the auth backend's answer");
        };
        // Only asset-gate sets these; whatever the backend sent is not trusted.
        if hostcalls::remove_map_value(map, &cfg.marker_header).is_err()
            || hostcalls::remove_map_value(map, ACCEL_HEADER).is_err()
        {
            return http::respond(502, "cannot rewrite the auth backend's answer");
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
                    return http::respond(503, "the internal-redirect secret is not available");
                };
                let Some(mark) =
                    marker::issue(&secret, &path, clock::now_secs(), cfg.marker_ttl_secs)
                else {
                    return http::respond(503, "cannot mark the internal redirect");
                };
                let set = hostcalls::set_map_value(map, ":status", Some("307"))
                    .and_then(|_| hostcalls::set_map_value(map, "location", Some(&location)))
                    .and_then(|_| hostcalls::set_map_value(map, &cfg.marker_header, Some(&mark)));
                if set.is_err() {
                    return http::respond(502, "cannot rewrite the auth backend's answer");
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
                    http::respond(
                        502,
                        "the auth backend redirected outside the internal prefixes",
                    )
                }
            },
            Decision::Unsafe(e) => {
                shared.metrics.inc(Counter::RedirectsRefused);
                log::debug!("asset-gate: refused the auth backend's redirect: {e}");
                http::respond(
                    502,
                    &format!("the auth backend's redirect target was refused: {e}"),
                )
            }
        }
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
