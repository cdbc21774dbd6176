//! The composition root of credentials: [`Fetcher`] turns a configured
//! source into its refresh machine, [`Chain`] tries several in order, and
//! [`refresh_in_ms`] says when to run them again. The only file that knows
//! every source, so adding one touches it and the new source's own file.

use super::container::EndpointFlow;
use super::from_env;
use super::imds::Imds;
use super::step::{Answer, Expiring, Failure, Fetched, Reason, Source, Step, MAX_ANSWER_BYTES};
use super::sts::{AssumeRole, WebIdentity};
use crate::config::{CredentialsConfig, Env};

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
    AssumeRole(Box<AssumeRole<Fetcher>>),
    WebIdentity(WebIdentity),
    Chain(Chain),
}

impl Fetcher {
    /// The machine for `config` (taken: the machines own their settings);
    /// `env` resolves the `env` source now.
    pub fn new(config: CredentialsConfig, env: &dyn Env) -> Fetcher {
        match config {
            CredentialsConfig::Env => Fetcher::Fixed {
                credentials: from_env(env),
                source: "env",
            },
            CredentialsConfig::Static(credentials) => Fetcher::Fixed {
                credentials: Some(Expiring {
                    credentials,
                    expires_at: None,
                }),
                source: "static",
            },
            CredentialsConfig::Endpoint(config) => Fetcher::Endpoint(EndpointFlow::new(config)),
            CredentialsConfig::Imds(i) => Fetcher::Imds(Imds::new(i)),
            CredentialsConfig::AssumeRole(a) => {
                let a = *a;
                Fetcher::AssumeRole(Box::new(AssumeRole::new(
                    a.sts,
                    a.external_id,
                    Fetcher::new(a.base, env),
                )))
            }
            CredentialsConfig::WebIdentity(w) => Fetcher::WebIdentity(WebIdentity::new(w)),
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
}

impl Source for Fetcher {
    fn start(&mut self, now: u64) -> Step {
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
            Fetcher::Endpoint(e) => e.start(now),
            Fetcher::Imds(i) => i.start(now),
            Fetcher::AssumeRole(a) => a.start(now),
            Fetcher::WebIdentity(w) => w.start(now),
            Fetcher::Chain(c) => c.start(now),
        }
    }

    /// Takes the answer to the last call; an oversized one fails whatever
    /// the source.
    fn on_answer(&mut self, answer: Answer, now: u64) -> Step {
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

    fn budget(&self) -> (u32, u64) {
        match self {
            Fetcher::Fixed { .. } => (0, 0),
            Fetcher::Endpoint(e) => e.budget(),
            Fetcher::Imds(i) => i.budget(),
            Fetcher::AssumeRole(a) => a.budget(),
            Fetcher::WebIdentity(w) => w.budget(),
            Fetcher::Chain(c) => c.budget(),
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
}

impl Source for Chain {
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

    fn on_answer(&mut self, answer: Answer, now: u64) -> Step {
        let step = match self.candidates.get_mut(self.at) {
            Some(c) => c.on_answer(answer, now),
            None => Step::Failed(Failure::new(Reason::Invalid, "unexpected answer")),
        };
        self.next(step, now)
    }

    /// Every candidate's calls, when all of them fail.
    fn budget(&self) -> (u32, u64) {
        self.candidates
            .iter()
            .map(Fetcher::budget)
            .fold((0, 0), |(n, t), (m, u)| (n + m, t.max(u)))
    }
}

/// When to refresh credentials that expire at `expires_at` (unix seconds):
/// at 80 % of the remaining lifetime, but at least 5 minutes before expiry
/// when the lifetime allows, minus up to 10 % jitter; never later than
/// `max_interval_ms` (so credentials without expiry are re-read too).
pub fn refresh_in_ms(
    now: u64,
    expires_at: Option<u64>,
    jitter_permille: u64,
    max_interval_ms: u64,
) -> u64 {
    let Some(exp) = expires_at else {
        return max_interval_ms;
    };
    let life_ms = exp.saturating_sub(now).saturating_mul(1000);
    let at_80 = life_ms / 10 * 8;
    let five_before = life_ms.saturating_sub(300_000);
    let base = if five_before > 0 {
        at_80.min(five_before)
    } else {
        at_80
    };
    let jitter = base / 10 * jitter_permille.min(1000) / 1000;
    (base - jitter).clamp(1000, max_interval_ms.max(1000))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{AssumeRoleConfig, MapEnv, StsConfig};
    use crate::credentials::testkit::{call, done, endpoint_config, failed, ok, status, ECS, NOW};
    use crate::sigv4::Credentials;

    #[test]
    fn endpoint_source_polls_and_refuses_oversized_answers() {
        let mut f = Fetcher::new(
            CredentialsConfig::Endpoint(endpoint_config(true)),
            &MapEnv(vec![]),
        );
        assert!(f.polls());
        assert_eq!(f.budget(), (2, 1000));
        call(f.start(NOW));
        let c = call(f.on_answer(ok(b"pod-token"), NOW));
        assert_eq!(c.path, "/v1/credentials");
        assert_eq!(done(f.on_answer(ok(ECS), NOW)).source, "endpoint");
        call(f.start(NOW));
        call(f.on_answer(ok(b"pod-token"), NOW));
        let big = vec![b' '; MAX_ANSWER_BYTES + 1];
        assert_eq!(failed(f.on_answer(ok(&big), NOW)).reason, Reason::Invalid);
    }

    #[test]
    fn fixed_sources_do_not_poll() {
        let f = Fetcher::new(CredentialsConfig::Env, &MapEnv(vec![]));
        assert!(!f.polls());
        assert_eq!(f.budget(), (0, 0));
        let mut f = Fetcher::new(
            CredentialsConfig::Static(Credentials {
                access_key_id: "AKSTATIC".into(),
                secret_access_key: "s".into(),
                session_token: None,
            }),
            &MapEnv(vec![]),
        );
        assert!(!f.polls());
        let got = done(f.start(NOW));
        assert_eq!((got.source, got.credentials.expires_at), ("static", None));
        assert_eq!(failed(f.on_answer(ok(ECS), NOW)).reason, Reason::Invalid);
    }

    #[test]
    fn chain_takes_the_first_source_that_works() {
        let config = CredentialsConfig::Chain(vec![
            CredentialsConfig::Env,
            CredentialsConfig::Endpoint(endpoint_config(false)),
            CredentialsConfig::Static(Credentials {
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
        let got = done(f.on_answer(status(500), NOW));
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
                CredentialsConfig::Endpoint(endpoint_config(false)),
            ]),
            &MapEnv(vec![]),
        );
        call(f.start(NOW));
        let e = failed(f.on_answer(status(503), NOW));
        assert_eq!(e.reason, Reason::Unavailable);
        assert_eq!(e.to_string(), "credentials endpoint: HTTP 503");
    }

    #[test]
    fn assume_role_over_the_environment() {
        let cfg = AssumeRoleConfig {
            sts: StsConfig {
                cluster: "sts".into(),
                authority: "sts.eu-west-1.amazonaws.com".into(),
                region: "eu-west-1".into(),
                role_arn: "arn:aws:iam::123456789012:role/demo".into(),
                session_name: "asset-gate".into(),
                duration_secs: 900,
                timeout_ms: 1000,
            },
            external_id: None,
            base: CredentialsConfig::Env,
            refresh_interval_ms: 60_000,
        };
        let env = MapEnv(vec![
            ("AWS_ACCESS_KEY_ID", "AKBASE"),
            ("AWS_SECRET_ACCESS_KEY", "s"),
        ]);
        let mut f = Fetcher::new(CredentialsConfig::AssumeRole(Box::new(cfg.clone())), &env);
        assert!(f.polls());
        assert_eq!(f.budget(), (1, 1000));
        let c = call(f.start(NOW));
        assert_eq!(c.cluster, "sts");
        assert!(c
            .headers
            .iter()
            .any(|(k, v)| *k == "authorization" && v.contains("AKBASE/")));
        let e = failed(
            Fetcher::new(
                CredentialsConfig::AssumeRole(Box::new(cfg)),
                &MapEnv(vec![]),
            )
            .start(NOW),
        );
        assert_eq!(e.reason, Reason::Unavailable);
        assert!(e.what.contains("AWS_ACCESS_KEY_ID"), "{e}");
    }

    #[test]
    fn refresh_schedule() {
        // 1 h credentials: 80 % (48 min) comes before "5 minutes before expiry" (55 min)
        assert_eq!(refresh_in_ms(0, Some(3600), 0, u64::MAX), 2_880_000);
        // 6 h credentials: 80 % (4.8 h) again
        assert_eq!(refresh_in_ms(0, Some(21_600), 0, u64::MAX), 17_280_000);
        // 10 minutes left: 80 % = 8 min, 5 min before = 5 min
        assert_eq!(refresh_in_ms(0, Some(600), 0, u64::MAX), 300_000);
        // jitter takes up to 10 % off
        assert_eq!(refresh_in_ms(0, Some(600), 1000, u64::MAX), 270_000);
        // capped, and never more often than once a second
        assert_eq!(refresh_in_ms(0, Some(3600), 0, 60_000), 60_000);
        assert_eq!(refresh_in_ms(0, Some(1), 0, 60_000), 1000);
        assert_eq!(refresh_in_ms(0, None, 0, 60_000), 60_000);
    }
}
