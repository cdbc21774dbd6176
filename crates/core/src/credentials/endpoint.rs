//! The credentials-endpoint answer (`AccessKeyId`, `SecretAccessKey`,
//! `Token`, `Expiration` as JSON), which the container endpoint, IMDS and the
//! shared-data format all carry: one parser, beside the sources that use it
//! rather than in any one of them.

use super::rfc3339::parse_rfc3339_utc;
use super::step::{Expiring, Failure, Reason, EXPIRY_MARGIN_SECS};
use crate::sigv4::Credentials;

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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn refusals_map_to_failure_reasons() {
        let f = Failure::from(EndpointError::Status(503));
        assert_eq!((f.reason, f.status), (Reason::Status, Some(503)));
        assert_eq!(f.to_string(), "credentials endpoint: HTTP 503");
        assert_eq!(
            Failure::from(EndpointError::NoResponse).reason,
            Reason::NoResponse
        );
        for e in [
            EndpointError::NotJson,
            EndpointError::Missing("Token"),
            EndpointError::BadExpiration,
            EndpointError::AlreadyExpired,
        ] {
            assert_eq!(Failure::from(e.clone()).reason, Reason::Invalid, "{e}");
        }
    }
}
