//! A consent, a grant and a scope sign exactly what they say: each finding
//! of the threat model (docs/security.md) reproduced end to end in real
//! Envoy, against SeaweedFS enforcing SigV4, with a recording relay showing
//! what storage actually received. One module per area.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../support/mod.rs"]
mod support;

mod answers;
mod flow_a;
mod flow_c;
mod flow_d;
