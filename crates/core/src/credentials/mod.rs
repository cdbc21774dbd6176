//! The credential store the signer reads from: it refuses blank and expired
//! credentials, so a request is never signed with nothing (envoy #37752).
//!
//! Sources: static, the environment, and, refreshed by one poller per Envoy
//! process, a container endpoint (ECS, EKS Pod Identity), EC2 IMDSv2, STS
//! `AssumeRole` and `AssumeRoleWithWebIdentity`, or a chain of these.
//! `fetch` is the refresh state machine every polled source is built from.

pub mod fetch;
pub mod imds;
pub mod rfc3339;
pub mod sts;
pub mod token;

use crate::config::Env;
use crate::sigv4::Credentials;
use rfc3339::{format_rfc3339_utc, parse_rfc3339_utc};

/// Credentials closer than this to their expiry are no longer used: a request
/// signed now must still be valid when storage checks it.
pub const EXPIRY_MARGIN_SECS: u64 = 30;

/// Credentials with their expiry (unix seconds), if they expire.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Expiring {
    pub credentials: Credentials,
    pub expires_at: Option<u64>,
}

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

/// Why a credentials-endpoint answer was refused (never contains secrets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndpointError {
    Status(u32),
    NoResponse,
    NotJson,
    Missing(&'static str),
    BadExpiration,
    AlreadyExpired,
}

impl std::fmt::Display for EndpointError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EndpointError::Status(s) => write!(f, "answered HTTP {s}"),
            EndpointError::NoResponse => f.write_str("no response (timeout or reset)"),
            EndpointError::NotJson => f.write_str("body is not a JSON object"),
            EndpointError::Missing(k) => write!(f, "`{k}` is missing or empty"),
            EndpointError::BadExpiration => f.write_str("`Expiration` is not an RFC 3339 UTC time"),
            EndpointError::AlreadyExpired => f.write_str("the credentials are already expired"),
        }
    }
}

/// Parses an ECS container-credentials answer (`AccessKeyId`,
/// `SecretAccessKey`, `Token`, `Expiration`).
pub fn parse_endpoint_answer(
    status: Option<u32>,
    body: &[u8],
    now: u64,
) -> Result<Expiring, EndpointError> {
    let status = status.ok_or(EndpointError::NoResponse)?;
    if !(200..300).contains(&status) {
        return Err(EndpointError::Status(status));
    }
    let v = crate::primitives::json::parse(body).map_err(|_| EndpointError::NotJson)?;
    let field = |k: &'static str| -> Result<String, EndpointError> {
        v.get(k)
            .and_then(|x| x.as_str())
            .filter(|x| !x.trim().is_empty())
            .map(str::to_string)
            .ok_or(EndpointError::Missing(k))
    };
    let credentials = Credentials {
        access_key_id: field("AccessKeyId")?,
        secret_access_key: field("SecretAccessKey")?,
        session_token: field("Token").ok(),
    };
    let expires_at = match v.get("Expiration") {
        None | Some(crate::primitives::json::Value::Null) => None,
        Some(e) => Some(
            e.as_str()
                .and_then(parse_rfc3339_utc)
                .ok_or(EndpointError::BadExpiration)?,
        ),
    };
    if expires_at.is_some_and(|e| e <= now.saturating_add(EXPIRY_MARGIN_SECS)) {
        return Err(EndpointError::AlreadyExpired);
    }
    Ok(Expiring {
        credentials,
        expires_at,
    })
}

/// Fresh credentials as every VM reads them from shared data: the source's
/// name, a newline, and the ECS JSON ([`parse_stored`] reads it back).
pub fn encode_stored(f: &fetch::Fetched) -> Vec<u8> {
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
    fn endpoint_answers() {
        let now = 1_795_300_000;
        let ok = br#"{"AccessKeyId":"ASIA1","SecretAccessKey":"sk","Token":"tok","Expiration":"2026-11-22T04:00:00Z","RoleArn":"x"}"#;
        let c = parse_endpoint_answer(Some(200), ok, now).unwrap();
        assert_eq!(c.credentials.access_key_id, "ASIA1");
        assert_eq!(c.credentials.session_token.as_deref(), Some("tok"));
        assert_eq!(c.expires_at, Some(1_795_320_000));
        assert_eq!(
            parse_endpoint_answer(Some(500), ok, now),
            Err(EndpointError::Status(500))
        );
        assert_eq!(
            parse_endpoint_answer(None, b"", now),
            Err(EndpointError::NoResponse)
        );
        assert_eq!(
            parse_endpoint_answer(Some(200), b"[]", now).unwrap_err(),
            EndpointError::Missing("AccessKeyId")
        );
        assert_eq!(
            parse_endpoint_answer(Some(200), b"nope", now),
            Err(EndpointError::NotJson)
        );
        let blank =
            br#"{"AccessKeyId":"A","SecretAccessKey":" ","Expiration":"2026-11-22T04:00:00Z"}"#;
        assert_eq!(
            parse_endpoint_answer(Some(200), blank, now),
            Err(EndpointError::Missing("SecretAccessKey"))
        );
        let bad_exp = br#"{"AccessKeyId":"A","SecretAccessKey":"s","Expiration":"tomorrow"}"#;
        assert_eq!(
            parse_endpoint_answer(Some(200), bad_exp, now),
            Err(EndpointError::BadExpiration)
        );
        assert_eq!(
            parse_endpoint_answer(Some(200), ok, 1_795_320_000),
            Err(EndpointError::AlreadyExpired)
        );
        let no_exp = br#"{"AccessKeyId":"A","SecretAccessKey":"s"}"#;
        assert_eq!(
            parse_endpoint_answer(Some(200), no_exp, now)
                .unwrap()
                .expires_at,
            None
        );
        let leaky = br#"{"AccessKeyId":"A","SecretAccessKey":"SUPERSECRET","Expiration":"bad"}"#;
        let e = parse_endpoint_answer(Some(200), leaky, now).unwrap_err();
        assert!(!e.to_string().contains("SUPERSECRET"), "{e}");
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

    #[test]
    fn stored_round_trip() {
        let f = fetch::Fetched {
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
