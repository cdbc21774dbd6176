//! Flow D, the auth subrequest gateway: reading the backend's answer into a
//! grant ([`consent`]) and remembering grants briefly ([`decision_cache`]).

pub mod consent;
pub mod decision_cache;
