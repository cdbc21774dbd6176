//! The wasm floor for `make bench`: what any proxy-wasm SigV4 signer must
//! ask of Envoy, and no computing.
//!
//! The plugin configuration (plain text, or JSON `{"mode": "..."}`) selects:
//!
//! - `noop`: the HTTP context overrides nothing; every callback is the SDK's
//!   default (`Continue`). The cost of having a proxy-wasm filter at all.
//! - `floor`: on request headers, reads the whole header map once
//!   (`get_map_bytes`: one `proxy_get_header_map_pairs`, as a signer reads
//!   what it signs), reads the clock, and
//!   sets `authorization`, `x-amz-date` and `x-amz-content-sha256` to
//!   constants of realistic lengths (about 200, 16 and 16 bytes).

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Warn);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(Root { floor: false }) });
}}

const AUTHORIZATION: &str =
    "AWS4-HMAC-SHA256 Credential=AKIDASSETGATEBENCH/20260101/us-east-1/s3/aws4_request, \
SignedHeaders=host;x-amz-content-sha256;x-amz-date, \
Signature=0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";
const AMZ_DATE: &str = "20260101T000000Z";
const CONTENT_SHA256: &str = "UNSIGNED-PAYLOAD";

struct Root {
    floor: bool,
}

impl Context for Root {}

impl RootContext for Root {
    fn on_configure(&mut self, _size: usize) -> bool {
        let raw = self.get_plugin_configuration().unwrap_or_default();
        let text = String::from_utf8_lossy(&raw);
        match mode(&text) {
            Some("noop") => self.floor = false,
            Some("floor") => self.floor = true,
            _ => {
                proxy_wasm::hostcalls::log(
                    LogLevel::Error,
                    &format!("bench_floor: configuration {text:?}: expected noop or floor"),
                )
                .ok();
                return false;
            }
        }
        true
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        if self.floor {
            Some(Box::new(Floor))
        } else {
            Some(Box::new(Noop))
        }
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

/// `noop`, `floor`, `"floor"` or `{"mode": "floor"}` (an empty configuration is `noop`).
fn mode(text: &str) -> Option<&str> {
    let t = text.trim();
    let t = match t.strip_prefix('{') {
        Some(obj) => {
            let after = obj
                .split_once("\"mode\"")?
                .1
                .trim_start()
                .strip_prefix(':')?
                .trim_start();
            after.strip_prefix('"')?.split_once('"')?.0
        }
        None => t.trim_matches('"'),
    };
    Some(if t.is_empty() { "noop" } else { t })
}

struct Noop;

impl Context for Noop {}

impl HttpContext for Noop {}

struct Floor;

impl Context for Floor {}

impl HttpContext for Floor {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        // One read of the whole map, as a signer reads the headers it signs.
        let headers = self.get_http_request_headers_bytes();
        let now = self.get_current_time();
        std::hint::black_box((&headers, now));
        self.set_http_request_header("authorization", Some(AUTHORIZATION));
        self.set_http_request_header("x-amz-date", Some(AMZ_DATE));
        self.set_http_request_header("x-amz-content-sha256", Some(CONTENT_SHA256));
        Action::Continue
    }
}
