//! The pure core: everything asset-gate decides, with no host in sight. Each
//! module takes its inputs (configuration, headers, the time, the secret) as
//! arguments and is unit-tested natively beside its code. Nothing here
//! imports the proxy-wasm SDK or the host layer (tests/architecture.rs checks).

pub mod ascii;
pub mod carry;
pub mod config;
pub mod consent;
pub mod credentials;
pub mod decision_cache;
pub mod gateway;
pub mod header_map;
pub mod headers;
pub mod hex;
pub mod json;
pub mod marker;
pub mod poll;
pub mod redirect;
pub mod scope;
pub mod sha256;
pub mod sigv4;
pub mod storage;
