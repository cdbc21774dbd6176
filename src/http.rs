//! HTTP context: applies the pure request logic to one request. Only
//! `Result`-returning host calls are used, so no input can trap the VM.

use crate::config::{MissingCredentials, Role};
use crate::metrics::Counter;
use crate::root::Shared;
use crate::storage::{self, Rewrite, Signed};
use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::{Action, MapType};
use std::rc::Rc;
use std::time::UNIX_EPOCH;

pub struct Http {
    shared: Rc<Shared>,
}

impl Http {
    pub fn new(shared: Rc<Shared>) -> Http {
        Http { shared }
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

    fn apply(rewrite: &Rewrite) -> Result<(), proxy_wasm::types::Status> {
        let map = MapType::HttpRequestHeaders;
        for name in &rewrite.remove {
            hostcalls::remove_map_value(map, name)?;
        }
        hostcalls::set_map_value(map, ":path", Some(&rewrite.path))?;
        hostcalls::set_map_value(map, ":authority", Some(&rewrite.authority))?;
        for (name, value) in &rewrite.set {
            hostcalls::set_map_value(map, name, Some(value))?;
        }
        Ok(())
    }

    fn sign(&mut self, end_of_stream: bool) -> Action {
        let shared = &self.shared;
        let Some(cfg) = shared.config.signing.as_ref() else {
            return Action::Continue;
        };
        let headers = match hostcalls::get_map_bytes(MapType::HttpRequestHeaders) {
            Ok(h) => h,
            Err(s) => {
                log::warn!("asset-gate: cannot read request headers: {s:?}");
                return self.respond(500, "cannot read request headers");
            }
        };
        let now = hostcalls::get_current_time()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let store = shared.credentials.borrow();
        let creds = store.usable(now);
        let result = storage::prepare(
            cfg,
            creds,
            &headers,
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
        if let Err(s) = Self::apply(&rewrite) {
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
        match self.shared.config.role {
            Role::Edge => Action::Continue,
            Role::Storage => self.sign(end_of_stream),
        }
    }
}
