//! asset-gate: an Envoy proxy-wasm HTTP filter that lets backends authorize
//! asset downloads while Envoy signs and streams them from S3-compatible storage.
//!
//! Wiring only. [`core`] is the pure logic (host-free, unit-tested natively);
//! `host` is the proxy-wasm glue (root context, one context per role, pollers,
//! metrics), compiled for wasm only. `core` never imports `host`
//! (tests/architecture.rs enforces it).
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod core;

/// The core modules keep their crate-root paths (`asset_gate::sigv4`, ...).
pub use crate::core::{
    carry, config, consent, credentials, decision_cache, gateway, headers, marker, poll, redirect,
    scope, sigv4, storage,
};

#[cfg(target_arch = "wasm32")]
mod host;

#[cfg(target_arch = "wasm32")]
proxy_wasm::main! {{
    // Until on_configure reads Envoy's own level.
    proxy_wasm::set_log_level(proxy_wasm::types::LogLevel::Info);
    proxy_wasm::set_root_context(|_| -> Box<dyn proxy_wasm::traits::RootContext> {
        Box::<host::root::Root>::default()
    });
}}
