//! The credential store the signer reads from: it refuses blank and expired
//! credentials, so a request is never signed with nothing.
//!
//! Sources: static, the environment, and, refreshed by one poller per Envoy
//! process, a container endpoint (ECS, EKS Pod Identity), EC2 IMDSv2, STS
//! `AssumeRole` and `AssumeRoleWithWebIdentity`, or a chain of these.
//!
//! The files depend on one another in one direction only:
//! - [`step`]: the vocabulary of a refresh (calls, answers, failures, fresh
//!   credentials), imported by everything below and importing none of it;
//! - [`rfc3339`], [`endpoint`] (the credentials JSON) and [`token`] (token
//!   endpoints, JWT expiry): what several sources read;
//! - one file per polled source: [`container`], [`imds`], [`sts`];
//! - [`refresh`]: the composition of the sources (chains, `AssumeRole`'s
//!   base) and the refresh schedule, the only file that knows them all;
//! - this file: the store, environment credentials and the shared-data
//!   format every VM reads; it does not import [`refresh`], which imports it.

pub mod container;
pub mod endpoint;
pub mod imds;
pub mod refresh;
pub mod rfc3339;
pub mod step;
pub mod sts;
#[cfg(test)]
mod testkit;
pub mod token;

use crate::config::Env;
use crate::sigv4::Credentials;
use endpoint::parse_endpoint_answer;
use rfc3339::format_rfc3339_utc;
use step::Fetched;
/// Defined with the vocabulary, which every source imports and which must
/// import nothing back; named here too as the store's own types.
pub use step::{Expiring, EXPIRY_MARGIN_SECS};

/// The current credentials of one VM.
#[derive(Default, Debug)]
pub struct CredentialStore {
    current: Option<Expiring>,
}

fn is_blank(c: &Credentials) -> bool {
    c.access_key_id.trim().is_empty() || c.secret_access_key.trim().is_empty()
}

impl CredentialStore {
    /// Replaces the credentials; blank ones are refused and the old ones kept.
    pub fn set(&mut self, new: Expiring) -> bool {
        if is_blank(&new.credentials) {
            return false;
        }
        self.current = Some(new);
        true
    }

    /// When the current credentials expire (`None`: none, or never).
    pub fn expires_at(&self) -> Option<u64> {
        self.current.as_ref()?.expires_at
    }

    /// The credentials to sign with at `now`, or `None` when there are none or
    /// they are (about to be) expired.
    pub fn usable(&self, now: u64) -> Option<&Credentials> {
        let c = self.current.as_ref()?;
        match c.expires_at {
            Some(exp) if now.saturating_add(EXPIRY_MARGIN_SECS) >= exp => None,
            _ => Some(&c.credentials),
        }
    }
}

/// Reads `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`;
/// `None` unless both keys are set and non-blank.
pub fn from_env(env: &dyn Env) -> Option<Expiring> {
    let credentials = Credentials {
        access_key_id: env.var("AWS_ACCESS_KEY_ID")?,
        secret_access_key: env.var("AWS_SECRET_ACCESS_KEY")?,
        session_token: env.var("AWS_SESSION_TOKEN"),
    };
    (!is_blank(&credentials)).then_some(Expiring {
        credentials,
        expires_at: None,
    })
}

/// Fresh credentials as every VM reads them from shared data: the source's
/// name, a newline, and the ECS JSON ([`parse_stored`] reads it back).
pub fn encode_stored(f: &Fetched) -> Vec<u8> {
    fn string(out: &mut String, key: &str, v: &str) {
        out.push_str(if out.ends_with('{') { "\"" } else { ",\"" });
        out.push_str(key);
        out.push_str("\":\"");
        for c in v.chars() {
            match c {
                '"' | '\\' => {
                    out.push('\\');
                    out.push(c);
                }
                c if (c as u32) < 0x20 => out.push(' '),
                c => out.push(c),
            }
        }
        out.push('"');
    }
    let c = &f.credentials.credentials;
    let mut out = format!("{}\n{{", f.source);
    string(&mut out, "AccessKeyId", &c.access_key_id);
    string(&mut out, "SecretAccessKey", &c.secret_access_key);
    if let Some(t) = &c.session_token {
        string(&mut out, "Token", t);
    }
    if let Some(e) = f.credentials.expires_at {
        string(&mut out, "Expiration", &format_rfc3339_utc(e));
    }
    out.push('}');
    out.into_bytes()
}

/// What [`encode_stored`] wrote: the source's name and the credentials,
/// `None` when they are unreadable or expired at `now`.
pub fn parse_stored(bytes: &[u8], now: u64) -> Option<(&str, Expiring)> {
    let split = bytes.iter().position(|b| *b == b'\n')?;
    let source = std::str::from_utf8(&bytes[..split]).ok()?;
    let c = parse_endpoint_answer(Some(200), &bytes[split + 1..], now).ok()?;
    Some((source, c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MapEnv;

    fn creds(ak: &str, sk: &str) -> Credentials {
        Credentials {
            access_key_id: ak.into(),
            secret_access_key: sk.into(),
            session_token: None,
        }
    }

    #[test]
    fn empty_store_has_nothing() {
        assert!(CredentialStore::default().usable(0).is_none());
    }

    #[test]
    fn blank_credentials_are_refused_and_old_kept() {
        let mut s = CredentialStore::default();
        assert!(s.set(Expiring {
            credentials: creds("AK", "SK"),
            expires_at: None
        }));
        assert!(!s.set(Expiring {
            credentials: creds("", "SK"),
            expires_at: None
        }));
        assert!(!s.set(Expiring {
            credentials: creds("AK", "  "),
            expires_at: None
        }));
        assert_eq!(s.usable(0).unwrap().access_key_id, "AK");
    }

    #[test]
    fn expired_credentials_are_not_used() {
        let mut s = CredentialStore::default();
        s.set(Expiring {
            credentials: creds("AK", "SK"),
            expires_at: Some(1000),
        });
        assert!(s.usable(1000 - EXPIRY_MARGIN_SECS - 1).is_some());
        assert!(s.usable(1000 - EXPIRY_MARGIN_SECS).is_none());
        assert!(s.usable(5000).is_none());
    }

    #[test]
    fn stored_round_trip() {
        let f = Fetched {
            credentials: Expiring {
                credentials: Credentials {
                    access_key_id: "AK".into(),
                    secret_access_key: "S\"K\\\u{e9}".into(),
                    session_token: Some("T".into()),
                },
                expires_at: Some(1_795_320_000),
            },
            source: "imds",
            token_expires_at: None,
        };
        let bytes = encode_stored(&f);
        let (source, back) = parse_stored(&bytes, 1_795_300_000).unwrap();
        assert_eq!(back, f.credentials);
        assert_eq!(source, "imds");
        assert!(parse_stored(&bytes, 1_795_320_000).is_none());
        assert!(parse_stored(b"{}", 0).is_none());
    }

    #[test]
    fn env_credentials() {
        let e = MapEnv(vec![
            ("AWS_ACCESS_KEY_ID", "AK"),
            ("AWS_SECRET_ACCESS_KEY", "SK"),
            ("AWS_SESSION_TOKEN", "T"),
        ]);
        let c = from_env(&e).unwrap();
        assert_eq!(c.credentials.session_token.as_deref(), Some("T"));
        assert!(from_env(&MapEnv(vec![("AWS_ACCESS_KEY_ID", "AK")])).is_none());
        assert!(from_env(&MapEnv(vec![])).is_none());
    }
}
