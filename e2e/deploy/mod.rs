//! What users deploy: the module loads in Envoy (foundation), the shipped
//! Envoy configs and deployment manifests validate, and the demo comes up.

mod configs;
mod demo;
mod foundation;
mod manifests;
