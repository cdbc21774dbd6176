//! The host layer: proxy-wasm glue, compiled for wasm only and tested in real
//! Envoy. It reads what Envoy hands over, calls the pure core (`src/core`) and
//! applies the answer.
//!
//! - `root`: the root context; parses the configuration, starts the pollers,
//!   creates the HTTP context of the configured role.
//! - `shared`: per-VM state every context shares, and its refresh from shared data.
//! - `edge`, `auth_backend`, `storage`, `gateway`: one HTTP context per role.
//! - `http`: what every role uses, once: header reads, the marker check, local
//!   replies, header augmentation.
//! - `clock`: the host clock.
//! - `poller`, `secret`, `metrics`: out-of-band polls, the marker secret, stats.

mod auth_backend;
mod clock;
mod edge;
mod gateway;
mod http;
mod metrics;
mod poller;
pub(crate) mod root;
mod secret;
mod shared;
mod storage;
