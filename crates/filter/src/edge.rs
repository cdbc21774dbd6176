//! The edge role's HTTP context (downstream filter on the listener): client
//! requests carry no marker Envoy did not issue and none of its `x-envoy-*`
//! control headers; markers and declined
//! internal redirects never reach a client, and a declined one is named
//! (answer and warning) by what Envoy's stream says of it. The internally
//! redirected request needs nothing from it (the storage role verifies the
//! marker and applies the backend's kept headers), so the shipped
//! configurations turn it off on the internal route.

use crate::clock;
use crate::http;
use crate::logs;
use crate::metrics::Counter;
use crate::shared::Shared;
use asset_gate_core::answers::Answer;
use asset_gate_core::augment::provider;
use asset_gate_core::log_limit::LogLimit;
use asset_gate_core::roles::edge::{self, Trace};
use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::{Action, MapType};
use std::cell::RefCell;
use std::rc::Rc;

thread_local! {
    /// Declined-redirect warnings of this VM, one per route per interval.
    static WARNINGS: RefCell<LogLimit> = const { RefCell::new(LogLimit::new()) };
}

pub struct Edge {
    shared: Rc<Shared>,
    /// Whether the client's request had a body (a declined redirect then
    /// most likely means Envoy could not buffer it).
    had_body: bool,
}

impl Edge {
    pub fn new(shared: Rc<Shared>) -> Edge {
        Edge {
            shared,
            had_body: false,
        }
    }

    /// The client's request as the router will see it: no `x-envoy-*`
    /// header (Envoy obeys them on a request it takes for internal, which
    /// without `use_remote_address` the client's `X-Forwarded-For` decides;
    /// a client sets none of them), and a marker only if this process issued
    /// it for exactly this path (anything else is dropped and counted: the
    /// internal route then no longer matches, 404). Where the edge also runs
    /// on the internal route, Envoy runs this again for the redirected
    /// request, whose genuine marker passes. One read of the header map.
    fn check_request(&mut self) -> Action {
        let name = self.shared.config.redirect.marker_header.as_str();
        let audience = self.shared.config.redirect.marker_audience.as_str();
        let map = MapType::HttpRequestHeaders;
        let metrics = &self.shared.metrics;
        let raw = http::RawMap::read(map);
        let Some(headers) = raw.as_ref().and_then(http::RawMap::pairs) else {
            return http::refuse(metrics, Answer::CannotReadRequest);
        };
        if let Err(s) = http::remove_present(map, &headers, provider::is_envoy_control) {
            logs::failed(log::Level::Warn, "remove client x-envoy-* headers", s);
            return http::refuse(metrics, Answer::CannotRemoveEnvoyHeaders);
        }
        if !headers.iter().any(|&(k, _)| k == name) {
            return Action::Continue;
        }
        if let Err(e) = http::verify_marker(&headers, name, audience, clock::now_secs()) {
            logs::detail(
                log::Level::Debug,
                "asset-gate: dropped a client-sent marker: ",
                &e,
            );
            metrics.inc(Counter::SpoofAttempts);
            if let Err(s) = hostcalls::remove_map_value(map, name) {
                logs::failed(log::Level::Warn, "remove a client-sent marker", s);
                return http::refuse(metrics, Answer::CannotRemoveMarker);
            }
        }
        Action::Continue
    }

    /// Envoy handed asset-gate's 303 back: the answer names the cause
    /// Envoy's stream shows (two property reads, on this path only), and
    /// a route's mistake is logged, rate-limited; a client's body is not.
    fn declined(&self) -> Action {
        let tried = hostcalls::get_property(vec!["filter_state", "num_internal_redirects"]);
        let route = hostcalls::get_property(vec!["xds", "route_name"])
            .ok()
            .flatten();
        let route = route.as_deref().and_then(|r| std::str::from_utf8(r).ok());
        let trace = Trace {
            tried: tried.ok().map(|n| n.is_some()),
            route,
        };
        let answer = edge::declined_redirect(self.had_body, &trace);
        // A client's body is not the route's mistake: no warning.
        if answer != Answer::RedirectDeclinedBody {
            let key = route.unwrap_or_default();
            let admitted = WARNINGS.with_borrow_mut(|w| w.admit(key, clock::now_ms()));
            if let Some(held_back) = admitted {
                log::warn!(
                    "asset-gate: {} (route: {}; {held_back} more since the last warning)",
                    answer.text(),
                    edge::route_label(route)
                );
            }
        }
        http::refuse(&self.shared.metrics, answer)
    }
}

impl Context for Edge {}

impl HttpContext for Edge {
    fn on_http_request_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        self.had_body = !end_of_stream;
        let action = self.check_request();
        http::then_augment(&self.shared, action)
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let marker = self.shared.config.redirect.marker_header.as_str();
        // Only asset-gate's internal redirect carries a marker in a response:
        // Envoy did not follow it (body over the buffer limit or not yet
        // received, redirect limit, route configuration). The client gets a
        // clear error, never the 303, its Location or the marker. (The
        // auth_backend role strips X-Accel-* from the answers it passes on.)
        if matches!(
            hostcalls::get_map_value_bytes(MapType::HttpResponseHeaders, marker),
            Ok(Some(_))
        ) {
            return self.declined();
        }
        Action::Continue
    }
}
