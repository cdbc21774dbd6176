//! asset-gate: an Envoy proxy-wasm HTTP filter.
pub mod sigv4;
