//! The container-credentials source: an HTTP endpoint answering the
//! credentials JSON (ECS task roles, EKS Pod Identity, any compatible
//! sidecar), with its authorization token read from a token endpoint first
//! when configured (Pod Identity's projected token).

use super::endpoint::parse_endpoint_answer;
use super::step::{Answer, Call, Fetched, Source, Step};
use super::token::{parse_token, token_call};
use crate::config::EndpointConfig;

/// A container-credentials endpoint, with its authorization token read from
/// a token endpoint first when configured (EKS Pod Identity).
#[derive(Debug)]
pub struct EndpointFlow {
    config: EndpointConfig,
    reading_token: bool,
}

impl EndpointFlow {
    pub fn new(config: EndpointConfig) -> EndpointFlow {
        EndpointFlow {
            config,
            reading_token: false,
        }
    }

    fn credentials_call(&self, authorization: Option<String>) -> Step {
        let mut headers = vec![("accept", "application/json".to_string())];
        if let Some(t) = authorization {
            headers.push(("authorization", t));
        }
        Step::Call(Call {
            cluster: self.config.cluster.clone(),
            method: "GET",
            authority: self.config.authority.clone(),
            path: self.config.path.clone(),
            headers,
            body: vec![],
            timeout_ms: self.config.timeout_ms,
        })
    }
}

impl Source for EndpointFlow {
    fn start(&mut self, _now: u64) -> Step {
        match &self.config.token_endpoint {
            Some(t) => {
                self.reading_token = true;
                Step::Call(token_call(t))
            }
            None => self.credentials_call(self.config.authorization.clone()),
        }
    }

    fn on_answer(&mut self, answer: Answer, now: u64) -> Step {
        if std::mem::take(&mut self.reading_token) {
            return match parse_token(answer) {
                Ok(t) => self.credentials_call(Some(t)),
                Err(f) => Step::Failed(f),
            };
        }
        match parse_endpoint_answer(answer.status, answer.body, now) {
            Ok(credentials) => Step::Done(Fetched {
                credentials,
                source: "endpoint",
                token_expires_at: None,
            }),
            Err(e) => Step::Failed(e.into()),
        }
    }

    /// At most the token, then the credentials.
    fn budget(&self) -> (u32, u64) {
        (2, self.config.timeout_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::step::Reason;
    use crate::credentials::testkit::{
        call, done, endpoint_config, failed, no_response, ok, status, ECS, NOW,
    };

    #[test]
    fn endpoint_reads_the_token_then_the_credentials() {
        let mut f = EndpointFlow::new(endpoint_config(true));
        let c = call(f.start(NOW));
        assert_eq!((c.cluster.as_str(), c.path.as_str()), ("t", "/token"));
        let c = call(f.on_answer(ok(b"pod-token\n"), NOW));
        assert_eq!(c.path, "/v1/credentials");
        assert!(c.headers.contains(&("authorization", "pod-token".into())));
        assert!(!format!("{c:?}").contains("pod-token"));
        let got = done(f.on_answer(ok(ECS), NOW));
        assert_eq!(got.credentials.credentials.access_key_id, "ASIA1");
        assert_eq!(got.source, "endpoint");
        // a failing token endpoint fails the refresh before the credentials call
        call(f.start(NOW));
        let e = failed(f.on_answer(status(404), NOW));
        assert_eq!(e.reason, Reason::Token);
        call(f.start(NOW));
        let e = failed(f.on_answer(no_response(), NOW));
        assert_eq!(e.reason, Reason::NoResponse);
    }

    #[test]
    fn endpoint_failures_have_reasons() {
        let mut f = EndpointFlow::new(endpoint_config(false));
        let c = call(f.start(NOW));
        assert_eq!(
            (c.cluster.as_str(), c.path.as_str()),
            ("c", "/v1/credentials")
        );
        let e = failed(f.on_answer(status(500), NOW));
        assert_eq!(e.reason, Reason::Status);
        call(f.start(NOW));
        assert_eq!(failed(f.on_answer(ok(b"{}"), NOW)).reason, Reason::Invalid);
        call(f.start(NOW));
        assert_eq!(
            failed(f.on_answer(no_response(), NOW)).reason,
            Reason::NoResponse
        );
    }
}
