//! asset-gate end to end: the built module in real Envoy 1.40, against real
//! SeaweedFS (SigV4 enforced), nginx, moto, Django and small Python backends,
//! all on 127.0.0.1 with ephemeral ports.
//!
//! One test binary, so the harness is compiled once and cargo runs every
//! test concurrently: each test starts its own processes in its own temporary
//! directories, and most of a test's time is spent waiting on them. Tests
//! that must not overlap with others take [`harness::exclusive`].
//! `docs/testing.md` lists what runs where.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod harness;

// The soak: named `chaos` so that it sorts first. The test runner starts
// tests in name order, and the soak, the longest test and a holder of the
// memory lock, then runs beside the others instead of after them.
mod chaos;
mod credentials;
mod deploy;
mod exports;
mod first_deployment;
mod flow_a;
mod flow_b;
mod flow_c;
mod flow_d;
mod security;
