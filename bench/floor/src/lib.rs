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
//! - `floor_raw`: `floor` with the header map read as the host's serialised
//!   buffer (`proxy_get_header_map_pairs` called directly), not copied into
//!   owned pairs: `floor` minus `floor_raw` is what the SDK's copy costs.

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Warn);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(Root { floor: false, raw: false }) });
}}

const AUTHORIZATION: &str =
    "AWS4-HMAC-SHA256 Credential=AKIDASSETGATEBENCH/20260101/us-east-1/s3/aws4_request, \
SignedHeaders=host;x-amz-content-sha256;x-amz-date, \
Signature=0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";
const AMZ_DATE: &str = "20260101T000000Z";
const CONTENT_SHA256: &str = "UNSIGNED-PAYLOAD";

struct Root {
    floor: bool,
    raw: bool,
}

impl Context for Root {}

impl RootContext for Root {
    fn on_configure(&mut self, _size: usize) -> bool {
        let raw = self.get_plugin_configuration().unwrap_or_default();
        let text = String::from_utf8_lossy(&raw);
        match mode(&text) {
            Some("noop") => self.floor = false,
            Some("floor") => self.floor = true,
            Some("floor_raw") => {
                self.floor = true;
                self.raw = true;
            }
            _ => {
                proxy_wasm::hostcalls::log(
                    LogLevel::Error,
                    &format!(
                        "bench_floor: configuration {text:?}: expected noop, floor or floor_raw"
                    ),
                )
                .ok();
                return false;
            }
        }
        true
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        if self.raw {
            Some(Box::new(FloorRaw))
        } else if self.floor {
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
        clock_and_signature(self, &headers)
    }
}

/// What follows a signer's header read: the clock, three header writes.
fn clock_and_signature<T: HttpContext, R>(ctx: &T, read: &R) -> Action {
    let now = ctx.get_current_time();
    std::hint::black_box((read, now));
    ctx.set_http_request_header("authorization", Some(AUTHORIZATION));
    ctx.set_http_request_header("x-amz-date", Some(AMZ_DATE));
    ctx.set_http_request_header("x-amz-content-sha256", Some(CONTENT_SHA256));
    Action::Continue
}

/// `floor_raw`: `floor` with the header map read as the host's serialised
/// buffer, not deserialised into owned pairs (what the SDK's
/// `get_map_bytes` adds on top of the host call).
struct FloorRaw;

impl Context for FloorRaw {}

#[link(wasm_import_module = "env")]
extern "C" {
    fn proxy_get_header_map_pairs(map_type: u32, data: *mut *mut u8, size: *mut usize) -> u32;
}

impl HttpContext for FloorRaw {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let mut data: *mut u8 = std::ptr::null_mut();
        let mut size: usize = 0;
        // SAFETY: the host writes a buffer it allocated through the SDK's
        // proxy_on_memory_allocate (a Vec of `size` bytes), which we own.
        let buf = unsafe {
            if proxy_get_header_map_pairs(0, &mut data, &mut size) == 0 && !data.is_null() {
                Vec::from_raw_parts(data, size, size)
            } else {
                Vec::new()
            }
        };
        clock_and_signature(self, &buf)
    }
}
