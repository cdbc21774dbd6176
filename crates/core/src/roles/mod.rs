//! Each role's decisions, as pure functions the filter applies: which
//! local answer a request gets, which counters an outcome bumps, what a
//! response needs. The filter reads Envoy's maps, calls these, and writes
//! the result back; nothing here reaches the host.
//!
//! - [`edge`]: the client's side of flow A;
//! - [`auth_backend`]: turning the backend's consent into a marked redirect;
//! - [`storage`]: the read-consent policy, signing outcomes, storage's answer;
//! - [`gateway`]: flow D's subrequest, decision cache, upload budget, presign.

pub mod auth_backend;
pub mod edge;
pub mod gateway;
pub mod storage;
