//! The edge role's HTTP context (downstream filter on the listener): client
//! requests carry no marker Envoy did not issue; on the internally
//! redirected request it keeps the backend's headers that the marker
//! carries and puts them on the storage answer (nginx's X-Accel-Redirect
//! rule); markers and declined internal redirects never reach a client.

use crate::core::carry::{self, Edit};
use crate::host::clock;
use crate::host::http;
use crate::host::metrics::Counter;
use crate::host::shared::Shared;
use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::{Action, MapType};
use std::rc::Rc;

pub struct Edge {
    shared: Rc<Shared>,
    /// The backend's headers for the final answer, from a verified marker
    /// (`carry` encoding); empty on a client's first pass.
    kept: Vec<u8>,
    /// Whether the client's request had a body (a declined redirect then
    /// most likely means Envoy could not buffer it).
    had_body: bool,
}

impl Edge {
    pub fn new(shared: Rc<Shared>) -> Edge {
        Edge {
            shared,
            kept: Vec::new(),
            had_body: false,
        }
    }

    /// A marker on a client request must be one this process issued for
    /// exactly this path; anything else is dropped and counted. Envoy runs
    /// this again for the internally redirected request, whose genuine
    /// marker carries the backend's headers to keep. A request without a
    /// marker (every client's first pass) costs one small header read.
    fn check_marker(&mut self) -> Action {
        let name = self.shared.config.redirect.marker_header.as_str();
        let map = MapType::HttpRequestHeaders;
        if !matches!(hostcalls::get_map_value_bytes(map, name), Ok(Some(_))) {
            return Action::Continue;
        }
        let Some(headers) = http::headers(map) else {
            return http::respond(500, "cannot read request headers");
        };
        match http::verify_marker(&headers, name, clock::now_secs()) {
            Ok(consent) => self.kept = consent.carried,
            Err(e) => {
                log::debug!("asset-gate: dropped a client-sent marker: {e}");
                self.shared.metrics.inc(Counter::SpoofAttempts);
                if hostcalls::remove_map_value(map, name).is_err() {
                    return http::respond(500, "cannot remove an invalid marker");
                }
            }
        }
        Action::Continue
    }

    /// The storage answer gets the backend's kept headers: each replaces
    /// storage's header of the same name, `Set-Cookie` lines are added.
    fn add_kept_headers(&self) -> Result<(), proxy_wasm::types::Status> {
        let map = MapType::HttpResponseHeaders;
        for (name, value, edit) in carry::edits(&carry::parse(&self.kept)) {
            match edit {
                Edit::Replace => hostcalls::set_map_value_bytes(map, name, Some(value))?,
                Edit::Add => hostcalls::add_map_value_bytes(map, name, value)?,
            }
        }
        Ok(())
    }
}

impl Context for Edge {}

impl HttpContext for Edge {
    fn on_http_request_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        self.had_body = !end_of_stream;
        let action = self.check_marker();
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
            self.shared.metrics.inc(Counter::RedirectsDeclined);
            return if self.had_body {
                http::respond(
                    413,
                    "the backend consented to a read, but Envoy could not follow the internal redirect with this request body; send the request without a body",
                )
            } else {
                http::respond(
                    502,
                    "Envoy did not follow the internal redirect to storage (check the route's internal_redirect_policy)",
                )
            };
        }
        if !self.kept.is_empty() && self.add_kept_headers().is_err() {
            return http::respond(502, "cannot rewrite the response headers");
        }
        Action::Continue
    }
}
