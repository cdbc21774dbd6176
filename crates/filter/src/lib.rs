//! asset-gate: an Envoy proxy-wasm HTTP filter that lets backends authorize
//! asset downloads while Envoy signs and streams them from S3-compatible
//! storage.
//!
//! This crate is the host layer, the proxy-wasm glue: it reads what Envoy
//! hands over, calls the pure core (the `asset-gate-core` crate, which cannot
//! reach the SDK) and applies the answer. It is tested in real Envoy. Each
//! role's decisions are the core's `roles`; every local answer is one of the
//! core's `answers` (sent by `http::refuse`, which bumps its counter); every
//! metric is declared in the core's `metrics`.
//!
//! - `root`: the root context; parses the configuration, starts the pollers,
//!   creates the HTTP context of the configured role.
//! - `shared`: per-VM state every context shares, and its refresh from shared data.
//! - `edge`, `auth_backend`, `storage`, `gateway`: one HTTP context per role.
//! - `http`: what every role uses, once: header reads, the marker check, local
//!   answers, header augmentation.
//! - `clock`: the host clock; `logs`: log lines with a variable part.
//! - `poller`, `secret`, `metrics`: out-of-band polls, the marker secret, stats.

// String indexing can panic on a char boundary, and its panic path alone
// (with char formatting and Unicode tables) costs the module about 7 KB.
#![deny(clippy::string_slice)]

mod auth_backend;
mod clock;
mod edge;
mod gateway;
mod http;
mod logs;
mod metrics;
mod poller;
mod root;
mod secret;
mod shared;
mod storage;

proxy_wasm::main! {{
    // Until on_configure reads Envoy's own level.
    proxy_wasm::set_log_level(proxy_wasm::types::LogLevel::Info);
    proxy_wasm::set_root_context(|_| -> Box<dyn proxy_wasm::traits::RootContext> {
        Box::<root::Root>::default()
    });
}}
