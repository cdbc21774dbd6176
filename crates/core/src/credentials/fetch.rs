//! A credentials refresh as a small state machine: the host asks for the next
//! HTTP call, makes it through an Envoy cluster, and hands the answer back
//! until the machine says done or failed. Sources with several calls (IMDS:
//! token, role, credentials; STS: base credentials or token, then STS) and
//! chains of sources are compositions of these machines, so the host's poller
//! (one per Envoy process, behind its lease) stays source-agnostic.

use super::{imds::Imds, parse_endpoint_answer, sts, token, EndpointError, Expiring};
use crate::config::{CredentialsConfig, EndpointConfig, Env};

/// One HTTP call through an Envoy cluster.
#[derive(Clone, PartialEq, Eq)]
pub struct Call {
    pub cluster: String,
    pub method: &'static str,
    pub authority: String,
    pub path: String,
    /// Extra request headers (lowercase names); may hold secrets: never log them.
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
    pub timeout_ms: u64,
}

impl std::fmt::Debug for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| *n).collect();
        write!(
            f,
            "{} {}{} via {} (headers [{}], {} body bytes)",
            self.method,
            self.authority,
            self.path,
            self.cluster,
            names.join(", "),
            self.body.len()
        )
    }
}

/// Why a refresh failed, for the per-reason failure counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// A non-2xx answer.
    Status,
    /// Timeout, reset, or the call could not be made.
    NoResponse,
    /// An answer that does not parse, is blank, oversized or already expired.
    Invalid,
    /// A token (IMDS session, web identity, Pod Identity) could not be had.
    Token,
    /// No source of a chain (or a fixed source) had credentials.
    Unavailable,
}

impl Reason {
    pub fn name(self) -> &'static str {
        match self {
            Reason::Status => "status",
            Reason::NoResponse => "no_response",
            Reason::Invalid => "invalid",
            Reason::Token => "token",
            Reason::Unavailable => "unavailable",
        }
    }
}

/// A failed refresh: why, what failed, and the status or STS error code
/// when there was one; formatted only when logged (never holds a secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub reason: Reason,
    pub what: &'static str,
    pub status: Option<u32>,
    /// An STS error code such as `AccessDenied`.
    pub code: Option<String>,
}

impl Failure {
    pub fn new(reason: Reason, what: &'static str) -> Failure {
        Failure {
            reason,
            what,
            status: None,
            code: None,
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.what)?;
        if let Some(s) = self.status {
            write!(f, ": HTTP {s}")?;
        }
        if let Some(c) = &self.code {
            write!(f, " {c}")?;
        }
        if self.reason == Reason::NoResponse {
            f.write_str(": no response (timeout or reset)")?;
        }
        Ok(())
    }
}

impl From<EndpointError> for Failure {
    fn from(e: EndpointError) -> Failure {
        let (reason, what) = match e {
            EndpointError::Status(s) => {
                return Failure {
                    status: Some(s),
                    ..Failure::new(Reason::Status, "credentials endpoint")
                }
            }
            EndpointError::NoResponse => (Reason::NoResponse, "credentials endpoint"),
            EndpointError::NotJson => (Reason::Invalid, "credentials: not a JSON object"),
            EndpointError::Missing(_) => {
                (Reason::Invalid, "credentials: a key is missing or blank")
            }
            EndpointError::BadExpiration => (Reason::Invalid, "credentials: bad Expiration"),
            EndpointError::AlreadyExpired => (Reason::Invalid, "credentials: already expired"),
        };
        Failure::new(reason, what)
    }
}

/// Fresh credentials and where they came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub credentials: Expiring,
    /// The source that produced them (for a chain: the winner).
    pub source: &'static str,
    /// A token the next refresh needs expires then: refresh before it too.
    pub token_expires_at: Option<u64>,
}

impl Fetched {
    /// The time the next refresh must come before.
    pub fn refresh_before(&self) -> Option<u64> {
        match (self.credentials.expires_at, self.token_expires_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// What the host does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Call(Call),
    Done(Fetched),
    Failed(Failure),
}

/// An answer to a [`Call`]: `status` is `None` on timeout or reset.
#[derive(Debug, Clone, Copy)]
pub struct Answer<'a> {
    pub status: Option<u32>,
    pub body: &'a [u8],
}

impl<'a> Answer<'a> {
    /// An answer as Envoy hands it over: its own replies for a timeout or a
    /// failed connection (503/504 with its fixed bodies) mean no response.
    pub fn from_envoy(status: Option<u32>, body: &'a [u8]) -> Answer<'a> {
        let local = matches!(status, Some(503 | 504))
            && (body == b"upstream request timeout"
                || body == b"no healthy upstream"
                || body.starts_with(b"upstream connect error"));
        Answer {
            status: if local { None } else { status },
            body,
        }
    }

    pub fn ok(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }

    /// The failure for a non-2xx answer (or none at all) of `what`.
    pub fn failure(&self, reason_if_status: Reason, what: &'static str) -> Failure {
        let reason = match self.status {
            None => Reason::NoResponse,
            Some(_) => reason_if_status,
        };
        Failure {
            status: self.status,
            ..Failure::new(reason, what)
        }
    }
}

/// The largest answer body any credentials call may have; the host reads at
/// most one byte more, so an oversized one is seen and refused.
pub const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// The refresh machine of one configured source.
#[derive(Debug)]
pub enum Fetcher {
    /// Static or environment credentials: no call.
    Fixed {
        credentials: Option<Expiring>,
        source: &'static str,
    },
    Endpoint(EndpointFlow),
    Imds(Imds),
    AssumeRole(Box<sts::AssumeRole>),
    WebIdentity(sts::WebIdentity),
    Chain(Chain),
}

impl Fetcher {
    /// The machine for `config` (taken: the machines own their settings);
    /// `env` resolves the `env` source now.
    pub fn new(config: CredentialsConfig, env: &dyn Env) -> Fetcher {
        match config {
            CredentialsConfig::Env => Fetcher::Fixed {
                credentials: super::from_env(env),
                source: "env",
            },
            CredentialsConfig::Static(credentials) => Fetcher::Fixed {
                credentials: Some(Expiring {
                    credentials,
                    expires_at: None,
                }),
                source: "static",
            },
            CredentialsConfig::Endpoint(config) => Fetcher::Endpoint(EndpointFlow {
                config,
                reading_token: false,
            }),
            CredentialsConfig::Imds(i) => Fetcher::Imds(Imds::new(i)),
            CredentialsConfig::AssumeRole(a) => {
                let a = *a;
                Fetcher::AssumeRole(Box::new(sts::AssumeRole::new(
                    a.sts,
                    a.external_id,
                    Fetcher::new(a.base, env),
                )))
            }
            CredentialsConfig::WebIdentity(w) => Fetcher::WebIdentity(sts::WebIdentity::new(w)),
            CredentialsConfig::Chain(c) => Fetcher::Chain(Chain {
                candidates: c.into_iter().map(|s| Fetcher::new(s, env)).collect(),
                at: 0,
            }),
        }
    }

    /// Whether refreshing takes calls at all (static and env do not).
    pub fn polls(&self) -> bool {
        match self {
            Fetcher::Fixed { .. } => false,
            Fetcher::Chain(c) => c.candidates.iter().any(Fetcher::polls),
            _ => true,
        }
    }

    /// The most calls one refresh can make, and their longest timeout: the
    /// lease a refresh holds must cover them.
    pub fn budget(&self) -> (u32, u64) {
        match self {
            Fetcher::Fixed { .. } => (0, 0),
            Fetcher::Endpoint(e) => (2, e.config.timeout_ms),
            Fetcher::Imds(i) => (6, i.config.timeout_ms),
            Fetcher::AssumeRole(a) => {
                let (n, t) = a.base.budget();
                (n + 1, t.max(a.sts.timeout_ms))
            }
            Fetcher::WebIdentity(w) => (2, w.timeout_ms()),
            Fetcher::Chain(c) => c
                .candidates
                .iter()
                .map(Fetcher::budget)
                .fold((0, 0), |(n, t), (m, u)| (n + m, t.max(u))),
        }
    }

    /// Starts a refresh at `now` (unix seconds).
    pub fn start(&mut self, now: u64) -> Step {
        match self {
            Fetcher::Fixed {
                credentials,
                source,
            } => match credentials {
                Some(c) => Step::Done(Fetched {
                    credentials: c.clone(),
                    source,
                    token_expires_at: None,
                }),
                None => Step::Failed(Failure::new(
                    Reason::Unavailable,
                    if *source == "env" {
                        "no AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY in the environment"
                    } else {
                        "no credentials"
                    },
                )),
            },
            Fetcher::Endpoint(e) => e.start(),
            Fetcher::Imds(i) => i.start(now),
            Fetcher::AssumeRole(a) => a.start(now),
            Fetcher::WebIdentity(w) => w.start(now),
            Fetcher::Chain(c) => c.start(now),
        }
    }

    /// Takes the answer to the last call.
    pub fn on_answer(&mut self, answer: Answer, now: u64) -> Step {
        if answer.body.len() > MAX_ANSWER_BYTES {
            return Step::Failed(Failure::new(Reason::Invalid, "answer over 64 KiB"));
        }
        match self {
            Fetcher::Fixed { .. } => {
                Step::Failed(Failure::new(Reason::Invalid, "unexpected answer"))
            }
            Fetcher::Endpoint(e) => e.on_answer(answer, now),
            Fetcher::Imds(i) => i.on_answer(answer, now),
            Fetcher::AssumeRole(a) => a.on_answer(answer, now),
            Fetcher::WebIdentity(w) => w.on_answer(answer, now),
            Fetcher::Chain(c) => c.on_answer(answer, now),
        }
    }
}

/// A container-credentials endpoint, with its authorization token read from
/// a token endpoint first when configured (EKS Pod Identity).
#[derive(Debug)]
pub struct EndpointFlow {
    config: EndpointConfig,
    reading_token: bool,
}

impl EndpointFlow {
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

    fn start(&mut self) -> Step {
        match &self.config.token_endpoint {
            Some(t) => {
                self.reading_token = true;
                Step::Call(token::token_call(t))
            }
            None => self.credentials_call(self.config.authorization.clone()),
        }
    }

    fn on_answer(&mut self, answer: Answer, now: u64) -> Step {
        if std::mem::take(&mut self.reading_token) {
            return match token::parse_token(answer) {
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
}

/// The first source that yields credentials wins, tried in order at every
/// refresh (the AWS SDKs' default chain walks the same way). When none does,
/// the failure is the last source's, as `Unavailable`.
#[derive(Debug)]
pub struct Chain {
    candidates: Vec<Fetcher>,
    at: usize,
}

impl Chain {
    fn start(&mut self, now: u64) -> Step {
        self.at = 0;
        match self.candidates.first_mut() {
            Some(c) => {
                let step = c.start(now);
                self.next(step, now)
            }
            None => Step::Failed(Failure::new(Reason::Unavailable, "empty chain")),
        }
    }

    /// Moves past failed candidates until one calls, succeeds, or none is left.
    fn next(&mut self, mut step: Step, now: u64) -> Step {
        loop {
            let Step::Failed(f) = step else { return step };
            self.at += 1;
            match self.candidates.get_mut(self.at) {
                Some(c) => step = c.start(now),
                None => {
                    return Step::Failed(Failure {
                        reason: Reason::Unavailable,
                        ..f
                    })
                }
            }
        }
    }

    fn on_answer(&mut self, answer: Answer, now: u64) -> Step {
        let step = match self.candidates.get_mut(self.at) {
            Some(c) => c.on_answer(answer, now),
            None => Step::Failed(Failure::new(Reason::Invalid, "unexpected answer")),
        };
        self.next(step, now)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::config::MapEnv;

    pub(crate) fn ok(body: &[u8]) -> Answer<'_> {
        Answer {
            status: Some(200),
            body,
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

    pub(crate) const NOW: u64 = 1_795_300_000;
    pub(crate) const ECS: &[u8] = br#"{"AccessKeyId":"ASIA1","SecretAccessKey":"sk","Token":"tok","Expiration":"2026-11-22T04:00:00Z"}"#;

    fn endpoint(token: bool) -> EndpointConfig {
        EndpointConfig {
            cluster: "c".into(),
            authority: "169.254.170.23".into(),
            path: "/v1/credentials".into(),
            authorization: None,
            token_endpoint: token.then(|| crate::config::TokenEndpoint {
                cluster: "t".into(),
                authority: "t".into(),
                path: "/token".into(),
                timeout_ms: 1000,
            }),
            timeout_ms: 1000,
            refresh_interval_ms: 60_000,
        }
    }

    #[test]
    fn endpoint_reads_the_token_then_the_credentials() {
        let mut f = Fetcher::new(CredentialsConfig::Endpoint(endpoint(true)), &MapEnv(vec![]));
        assert!(f.polls());
        let c = call(f.start(NOW));
        assert_eq!((c.cluster.as_str(), c.path.as_str()), ("t", "/token"));
        let c = call(f.on_answer(ok(b"pod-token\n"), NOW));
        assert_eq!(c.path, "/v1/credentials");
        assert!(c.headers.contains(&("authorization", "pod-token".into())));
        assert!(!format!("{c:?}").contains("pod-token"));
        let got = done(f.on_answer(ok(ECS), NOW));
        assert_eq!(got.credentials.credentials.access_key_id, "ASIA1");
        // a failing token endpoint fails the refresh before the credentials call
        call(f.start(NOW));
        let e = failed(f.on_answer(
            Answer {
                status: Some(404),
                body: b"",
            },
            NOW,
        ));
        assert_eq!(e.reason, Reason::Token);
        call(f.start(NOW));
        let e = failed(f.on_answer(
            Answer {
                status: None,
                body: b"",
            },
            NOW,
        ));
        assert_eq!(e.reason, Reason::NoResponse);
    }

    #[test]
    fn endpoint_failures_have_reasons() {
        let mut f = Fetcher::new(
            CredentialsConfig::Endpoint(endpoint(false)),
            &MapEnv(vec![]),
        );
        call(f.start(NOW));
        let e = failed(f.on_answer(
            Answer {
                status: Some(500),
                body: b"",
            },
            NOW,
        ));
        assert_eq!(e.reason, Reason::Status);
        call(f.start(NOW));
        assert_eq!(failed(f.on_answer(ok(b"{}"), NOW)).reason, Reason::Invalid);
        call(f.start(NOW));
        let big = vec![b' '; MAX_ANSWER_BYTES + 1];
        assert_eq!(failed(f.on_answer(ok(&big), NOW)).reason, Reason::Invalid);
    }

    #[test]
    fn chain_takes_the_first_source_that_works() {
        let config = CredentialsConfig::Chain(vec![
            CredentialsConfig::Env,
            CredentialsConfig::Endpoint(endpoint(false)),
            CredentialsConfig::Static(crate::sigv4::Credentials {
                access_key_id: "AKSTATIC".into(),
                secret_access_key: "s".into(),
                session_token: None,
            }),
        ]);
        let mut f = Fetcher::new(config.clone(), &MapEnv(vec![]));
        assert!(f.polls());
        assert_eq!(f.budget().0, 2);
        // env is empty: the endpoint is asked
        call(f.start(NOW));
        let got = done(f.on_answer(ok(ECS), NOW));
        assert_eq!(got.source, "endpoint");
        // the endpoint fails: static wins
        call(f.start(NOW));
        let got = done(f.on_answer(
            Answer {
                status: Some(500),
                body: b"",
            },
            NOW,
        ));
        assert_eq!(
            (
                got.source,
                got.credentials.credentials.access_key_id.as_str()
            ),
            ("static", "AKSTATIC")
        );
        // env set: no call at all
        let env = MapEnv(vec![
            ("AWS_ACCESS_KEY_ID", "AKENV"),
            ("AWS_SECRET_ACCESS_KEY", "s"),
        ]);
        let mut f = Fetcher::new(config, &env);
        assert_eq!(done(f.start(NOW)).source, "env");
        // nothing works: one failure naming every source's reason
        let mut f = Fetcher::new(
            CredentialsConfig::Chain(vec![
                CredentialsConfig::Env,
                CredentialsConfig::Endpoint(endpoint(false)),
            ]),
            &MapEnv(vec![]),
        );
        call(f.start(NOW));
        let e = failed(f.on_answer(
            Answer {
                status: Some(503),
                body: b"",
            },
            NOW,
        ));
        assert_eq!(e.reason, Reason::Unavailable);
        assert_eq!(e.to_string(), "credentials endpoint: HTTP 503");
    }

    #[test]
    fn envoys_own_failures_are_no_response() {
        assert_eq!(
            Answer::from_envoy(Some(504), b"upstream request timeout").status,
            None
        );
        assert_eq!(Answer::from_envoy(Some(503), b"upstream connect error or disconnect/reset before headers. reset reason: connection failure").status, None);
        assert_eq!(Answer::from_envoy(Some(504), b"<Error/>").status, Some(504));
        assert_eq!(
            Answer::from_envoy(Some(200), b"upstream request timeout").status,
            Some(200)
        );
    }

    #[test]
    fn refresh_before_the_token_too() {
        let mut f = Fetched {
            credentials: Expiring {
                credentials: crate::sigv4::Credentials {
                    access_key_id: "a".into(),
                    secret_access_key: "b".into(),
                    session_token: None,
                },
                expires_at: Some(100),
            },
            source: "x",
            token_expires_at: Some(50),
        };
        assert_eq!(f.refresh_before(), Some(50));
        f.token_expires_at = None;
        assert_eq!(f.refresh_before(), Some(100));
    }
}
