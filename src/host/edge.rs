//! The edge role's HTTP context (downstream filter on the listener): client
//! requests carry no marker Envoy did not issue, and markers and
//! X-Accel-Redirect never leave Envoy.

use crate::host::http::{self, ACCEL_HEADER};
use crate::host::metrics::Counter;
use crate::host::shared::Shared;
use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::{Action, MapType};
use std::rc::Rc;

pub struct Edge {
    shared: Rc<Shared>,
}

impl Edge {
    pub fn new(shared: Rc<Shared>) -> Edge {
        Edge { shared }
    }

    /// A marker on a client request must be one this process issued for
    /// exactly this path; anything else is dropped and counted. (Envoy runs
    /// this again for the internally redirected request, which then carries
    /// the genuine marker.)
    fn drop_spoofed_marker(&self) -> Action {
        let name = self.shared.config.redirect.marker_header.as_str();
        let Some(headers) = http::headers(MapType::HttpRequestHeaders) else {
            return http::respond(500, "cannot read request headers");
        };
        if http::values(&headers, name).next().is_none() {
            return Action::Continue;
        }
        if let Err(e) = http::verify_marker(&headers, name) {
            log::debug!("asset-gate: dropped a client-sent marker: {e}");
            self.shared.metrics.inc(Counter::SpoofAttempts);
            if hostcalls::remove_map_value(MapType::HttpRequestHeaders, name).is_err() {
                return http::respond(500, "cannot remove an invalid marker");
            }
        }
        Action::Continue
    }
}

impl Context for Edge {}

impl HttpContext for Edge {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let action = self.drop_spoofed_marker();
        http::then_augment(&self.shared, action)
    }

    /// Markers and X-Accel-Redirect never leave Envoy.
    fn on_http_response_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let map = MapType::HttpResponseHeaders;
        let name = self.shared.config.redirect.marker_header.as_str();
        let _ = hostcalls::remove_map_value(map, name);
        let _ = hostcalls::remove_map_value(map, ACCEL_HEADER);
        Action::Continue
    }
}
