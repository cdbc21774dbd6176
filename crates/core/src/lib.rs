//! asset-gate's pure core: everything the filter decides, with no host in
//! sight. Each module takes its inputs (configuration, headers, the time, the
//! secret) as arguments and is unit-tested natively beside its code. This
//! crate does not depend on the proxy-wasm SDK, so the compiler keeps it
//! host-free; the `asset-gate` filter crate applies its decisions in Envoy.
//!
//! Features sit over a small primitives layer:
//! - [`internal_redirect`]: flow A (redirect targets, the marker, kept
//!   backend headers, consented answers);
//! - [`signing`]: preparing a storage request (flows A, C, D) and a signing
//!   edge's scope;
//! - [`gateway`]: flow D's consent and decision cache;
//! - [`augment`]: flow B's provider answers and polling;
//! - [`credentials`]: where signing credentials come from and how they refresh;
//! - [`sigv4`]: AWS Signature Version 4;
//! - [`config`]: the configuration, read and validated at load time;
//! - [`primitives`]: ASCII, hex, SHA-256, JSON and Envoy's header map;
//! - [`roles`]: each role's decisions, which the filter applies;
//! - [`answers`]: every local answer (status, counter, message), once;
//! - [`metrics`]: every metric (name, kind, meaning), once;
//! - [`storage_error`]: storage's error answers read for the operator
//!   (code, counter, warning);
//! - [`log_limit`]: warnings written at most once per kind per interval.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]
// String indexing can panic on a char boundary, and its panic path alone
// (with char formatting and Unicode tables) costs the module about 7 KB.
#![cfg_attr(not(test), deny(clippy::string_slice))]

pub mod answers;
pub mod augment;
pub mod config;
pub mod credentials;
pub mod gateway;
pub mod internal_redirect;
pub mod log_limit;
pub mod metrics;
pub mod primitives;
pub mod roles;
pub mod signing;
pub mod sigv4;
pub mod storage_error;
