//! EC2 instance role credentials from the instance metadata service, IMDSv2:
//! `PUT /latest/api/token` (with the TTL asked in
//! `x-aws-ec2-metadata-token-ttl-seconds`), then the role name from
//! `GET /latest/meta-data/iam/security-credentials/`, then the role's
//! credentials JSON, each GET carrying `x-aws-ec2-metadata-token`. The session
//! token is kept and re-fetched a minute before its TTL ends, or at once when
//! IMDS answers 401. IMDSv1 (no token) only when configured.

use super::endpoint::parse_endpoint_answer;
use super::step::{Answer, Call, Failure, Fetched, Reason, Source, Step};
use crate::config::{valid_role_name, ImdsConfig};

const CREDENTIALS_PATH: &str = "/latest/meta-data/iam/security-credentials/";
/// A session token this close to its end is fetched again.
const TOKEN_MARGIN_SECS: u64 = 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Token,
    Role,
    Credentials,
}

/// The IMDSv2 machine; it keeps the session token between refreshes.
#[derive(Debug)]
pub struct Imds {
    config: ImdsConfig,
    /// The session token and when it expires; `None` with v1 fallback = no token.
    token: Option<(String, u64)>,
    phase: Phase,
    role: Option<String>,
    /// This refresh already replaced a token IMDS refused.
    retried: bool,
}

impl Imds {
    pub fn new(config: ImdsConfig) -> Imds {
        Imds {
            role: config.role.clone(),
            config,
            token: None,
            phase: Phase::Token,
            retried: false,
        }
    }

    fn get(&self, path: String) -> Call {
        let mut headers = vec![];
        if let Some((t, _)) = &self.token {
            headers.push(("x-aws-ec2-metadata-token", t.clone()));
        }
        Call {
            cluster: self.config.cluster.clone(),
            method: "GET",
            authority: self.config.authority.clone(),
            path,
            headers,
            body: vec![],
            timeout_ms: self.config.timeout_ms,
        }
    }

    fn token_call(&mut self) -> Step {
        self.phase = Phase::Token;
        self.token = None;
        Step::Call(Call {
            cluster: self.config.cluster.clone(),
            method: "PUT",
            authority: self.config.authority.clone(),
            path: "/latest/api/token".into(),
            headers: vec![(
                "x-aws-ec2-metadata-token-ttl-seconds",
                self.config.token_ttl_secs.to_string(),
            )],
            body: vec![],
            timeout_ms: self.config.timeout_ms,
        })
    }

    /// With a token (or in v1 mode): the role name, or straight to its credentials.
    fn after_token(&mut self) -> Step {
        match &self.role {
            Some(role) => {
                self.phase = Phase::Credentials;
                Step::Call(self.get(format!("{CREDENTIALS_PATH}{role}")))
            }
            None => {
                self.phase = Phase::Role;
                Step::Call(self.get(CREDENTIALS_PATH.into()))
            }
        }
    }
}

impl Source for Imds {
    fn start(&mut self, now: u64) -> Step {
        self.retried = false;
        self.role = self.config.role.clone();
        match &self.token {
            Some((_, exp)) if now.saturating_add(TOKEN_MARGIN_SECS) < *exp => self.after_token(),
            _ => self.token_call(),
        }
    }

    fn on_answer(&mut self, answer: Answer, now: u64) -> Step {
        // A refused session token (expired, IMDS restarted): one new token, then retry.
        if self.phase != Phase::Token
            && answer.status == Some(401)
            && self.token.is_some()
            && !self.retried
        {
            self.retried = true;
            return self.token_call();
        }
        match self.phase {
            Phase::Token => {
                let token = std::str::from_utf8(answer.body)
                    .map(str::trim)
                    .unwrap_or_default();
                let usable = !token.is_empty()
                    && token.len() <= 1024
                    && token.bytes().all(|b| b.is_ascii_graphic());
                if answer.ok() && usable {
                    let exp = now.saturating_add(self.config.token_ttl_secs);
                    self.token = Some((token.to_string(), exp));
                    return self.after_token();
                }
                // IMDSv1 fallback, as the SDKs do it: not when IMDS says the
                // request itself is bad (400), nor for a garbled token.
                if self.config.v1_fallback && answer.status != Some(400) && !answer.ok() {
                    self.token = None;
                    return self.after_token();
                }
                let f = if answer.ok() {
                    Failure::new(Reason::Token, "IMDS token: not a token")
                } else {
                    answer.failure(Reason::Token, "IMDS token (IMDSv1 fallback is off)")
                };
                Step::Failed(f)
            }
            Phase::Role => {
                if !answer.ok() {
                    return Step::Failed(answer.failure(Reason::Status, "IMDS role listing"));
                }
                let role = std::str::from_utf8(answer.body)
                    .ok()
                    .and_then(|t| t.lines().map(str::trim).find(|l| !l.is_empty()));
                match role {
                    Some(r) if valid_role_name(r) => {
                        self.role = Some(r.to_string());
                        self.after_token()
                    }
                    _ => Step::Failed(Failure::new(
                        Reason::Invalid,
                        "IMDS role listing: no instance role (is an instance profile attached?)",
                    )),
                }
            }
            Phase::Credentials => {
                if answer.ok() {
                    let code = crate::primitives::json::parse(answer.body)
                        .ok()
                        .and_then(|v| v.get("Code").and_then(|c| c.as_str()).map(str::to_string));
                    if code.as_deref().is_some_and(|c| c != "Success") {
                        return Step::Failed(Failure::new(
                            Reason::Invalid,
                            "IMDS credentials: Code is not Success",
                        ));
                    }
                }
                match parse_endpoint_answer(answer.status, answer.body, now) {
                    Ok(credentials) => Step::Done(Fetched {
                        credentials,
                        source: "imds",
                        token_expires_at: None,
                    }),
                    Err(e) => {
                        let f: Failure = e.into();
                        Step::Failed(Failure {
                            what: if f.status.is_some() || f.reason == Reason::NoResponse {
                                "IMDS credentials"
                            } else {
                                f.what
                            },
                            ..f
                        })
                    }
                }
            }
        }
    }

    /// The token, the role listing and the credentials, and the three again
    /// when IMDS refuses the token once.
    fn budget(&self) -> (u32, u64) {
        (6, self.config.timeout_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::testkit::{call, done, failed, no_response, ok, status, ECS, NOW};

    fn config(v1: bool, role: Option<&str>) -> ImdsConfig {
        ImdsConfig {
            cluster: "imds".into(),
            authority: "169.254.169.254".into(),
            timeout_ms: 1000,
            refresh_interval_ms: 60_000,
            token_ttl_secs: 300,
            v1_fallback: v1,
            role: role.map(str::to_string),
        }
    }

    #[test]
    fn token_role_credentials_and_the_token_is_reused_until_its_ttl() {
        let mut m = Imds::new(config(false, None));
        let c = call(m.start(NOW));
        assert_eq!((c.method, c.path.as_str()), ("PUT", "/latest/api/token"));
        assert_eq!(
            c.headers,
            vec![("x-aws-ec2-metadata-token-ttl-seconds", "300".to_string())]
        );
        let c = call(m.on_answer(ok(b"TOKEN1"), NOW));
        assert_eq!((c.method, c.path.as_str()), ("GET", CREDENTIALS_PATH));
        assert_eq!(
            c.headers,
            vec![("x-aws-ec2-metadata-token", "TOKEN1".to_string())]
        );
        let c = call(m.on_answer(ok(b"my-role\n"), NOW));
        assert_eq!(c.path, format!("{CREDENTIALS_PATH}my-role"));
        let got = done(m.on_answer(ok(ECS), NOW));
        assert_eq!(
            (
                got.source,
                got.credentials.credentials.access_key_id.as_str()
            ),
            ("imds", "ASIA1")
        );
        // next refresh within the TTL: no new token
        let c = call(m.start(NOW + 100));
        assert_eq!(c.path, CREDENTIALS_PATH);
        // near the TTL's end: a new token first
        let c = call(m.start(NOW + 300 - TOKEN_MARGIN_SECS));
        assert_eq!(c.method, "PUT");
    }

    #[test]
    fn a_refused_token_is_replaced_once() {
        let mut m = Imds::new(config(false, Some("r")));
        call(m.start(NOW));
        let c = call(m.on_answer(ok(b"T1"), NOW));
        assert_eq!(c.path, format!("{CREDENTIALS_PATH}r"));
        assert_eq!(call(m.on_answer(status(401), NOW)).method, "PUT");
        call(m.on_answer(ok(b"T2"), NOW));
        let e = failed(m.on_answer(status(401), NOW));
        assert_eq!(e.reason, Reason::Status);
    }

    #[test]
    fn imdsv1_only_when_configured() {
        let mut m = Imds::new(config(false, None));
        call(m.start(NOW));
        let e = failed(m.on_answer(status(403), NOW));
        assert_eq!(e.reason, Reason::Token);
        call(m.start(NOW));
        assert_eq!(
            failed(m.on_answer(no_response(), NOW)).reason,
            Reason::NoResponse
        );
        let mut m = Imds::new(config(true, None));
        call(m.start(NOW));
        let c = call(m.on_answer(status(405), NOW));
        assert_eq!(c.path, CREDENTIALS_PATH);
        assert!(c.headers.is_empty(), "IMDSv1 sends no token");
        call(m.start(NOW));
        assert_eq!(failed(m.on_answer(status(400), NOW)).reason, Reason::Token);
    }

    #[test]
    fn bad_listings_and_credentials_fail() {
        let mut m = Imds::new(config(false, None));
        call(m.start(NOW));
        call(m.on_answer(ok(b"T"), NOW));
        assert_eq!(failed(m.on_answer(ok(b"\n"), NOW)).reason, Reason::Invalid);
        call(m.start(NOW));
        assert_eq!(
            failed(m.on_answer(ok(b"../etc"), NOW)).reason,
            Reason::Invalid
        );
        call(m.start(NOW));
        assert_eq!(failed(m.on_answer(status(404), NOW)).reason, Reason::Status);
        call(m.start(NOW));
        call(m.on_answer(ok(b"r"), NOW));
        let bad = br#"{"Code":"Failure","AccessKeyId":"A","SecretAccessKey":"S"}"#;
        assert_eq!(failed(m.on_answer(ok(bad), NOW)).reason, Reason::Invalid);
    }
}
