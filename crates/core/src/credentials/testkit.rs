//! Helpers the credentials tests share: unwrapping a [`Step`], canned
//! answers, and a container-endpoint configuration. Only the vocabulary is
//! imported, so every source's tests can use it without a circle.

use super::step::{Answer, Call, Failure, Fetched, Step};
use crate::config::{EndpointConfig, TokenEndpoint};

/// The test clock (unix seconds), before [`ECS`]'s expiry.
pub(crate) const NOW: u64 = 1_795_300_000;

/// A container-credentials answer expiring at 1_795_320_000.
pub(crate) const ECS: &[u8] = br#"{"AccessKeyId":"ASIA1","SecretAccessKey":"sk","Token":"tok","Expiration":"2026-11-22T04:00:00Z"}"#;

/// A 200 answer with `body`.
pub(crate) fn ok(body: &[u8]) -> Answer<'_> {
    Answer {
        status: Some(200),
        body,
    }
}

/// An empty answer with status `s`.
pub(crate) fn status(s: u32) -> Answer<'static> {
    Answer {
        status: Some(s),
        body: b"",
    }
}

/// No answer at all (timeout or reset).
pub(crate) fn no_response() -> Answer<'static> {
    Answer {
        status: None,
        body: b"",
    }
}

pub(crate) fn call(step: Step) -> Call {
    match step {
        Step::Call(c) => c,
        other => panic!("expected a call, got {other:?}"),
    }
}

pub(crate) fn done(step: Step) -> Fetched {
    match step {
        Step::Done(f) => f,
        other => panic!("expected credentials, got {other:?}"),
    }
}

pub(crate) fn failed(step: Step) -> Failure {
    match step {
        Step::Failed(f) => f,
        other => panic!("expected a failure, got {other:?}"),
    }
}

/// A container endpoint on cluster `c`, with a token endpoint (cluster `t`,
/// path `/token`) when `token`.
pub(crate) fn endpoint_config(token: bool) -> EndpointConfig {
    EndpointConfig {
        cluster: "c".into(),
        authority: "169.254.170.23".into(),
        path: "/v1/credentials".into(),
        authorization: None,
        token_endpoint: token.then(|| TokenEndpoint {
            cluster: "t".into(),
            authority: "t".into(),
            path: "/token".into(),
            timeout_ms: 1000,
        }),
        timeout_ms: 1000,
        refresh_interval_ms: 60_000,
    }
}
