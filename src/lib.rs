//! asset-gate: an Envoy proxy-wasm HTTP filter that lets backends authorize
//! asset downloads while Envoy signs and streams them from S3-compatible storage.
//!
//! Pure logic lives in host-independent modules (unit-tested natively); the
//! proxy-wasm glue (`root`, `http`, `metrics`) is compiled for wasm only.

pub mod config;
pub mod credentials;
pub mod headers;
pub mod marker;
pub mod poll;
pub mod redirect;
pub mod sigv4;
pub mod storage;

#[cfg(target_arch = "wasm32")]
mod http;
#[cfg(target_arch = "wasm32")]
mod metrics;
#[cfg(target_arch = "wasm32")]
mod poller;
#[cfg(target_arch = "wasm32")]
mod root;
#[cfg(target_arch = "wasm32")]
mod secret;

#[cfg(target_arch = "wasm32")]
proxy_wasm::main! {{
    proxy_wasm::set_log_level(proxy_wasm::types::LogLevel::Trace);
    proxy_wasm::set_root_context(|_| -> Box<dyn proxy_wasm::traits::RootContext> {
        Box::<root::Root>::default()
    });
}}
