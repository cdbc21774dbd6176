//! Flow A, nginx `X-Accel-Redirect` semantics: the backend's redirect target
//! ([`target`]), the marker that proves a request went through the backend
//! ([`marker`]), the backend headers kept on the asset answer ([`carry`]),
//! and what a consented answer may carry to the client ([`consent`]).

pub mod carry;
pub mod consent;
pub mod marker;
pub mod target;
