//! What users deploy: the module loads in Envoy (foundation), the shipped
//! Envoy configs and deployment manifests validate, the shipped Envoy
//! configs do what they say in real Envoy, and the demo comes up.

mod configs;
mod demo;
mod foundation;
mod manifests;
pub(crate) mod shipped;
