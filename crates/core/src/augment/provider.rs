//! The header provider's answer: accepted only as a whole, and only if every
//! entry is a header that is safe to inject into a request.

use crate::primitives::{json, syntax};
use std::fmt;

/// Default limit on the provider's body.
pub const DEFAULT_MAX_BODY: usize = 64 * 1024;
/// More headers than this is a provider bug, not a token set.
pub const MAX_HEADERS: usize = 100;

/// Header names that change how a request is framed or routed; a provider
/// may never set them.
const FORBIDDEN: [&str; 12] = [
    "host",
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "content-length",
    "expect",
    "x-accel-redirect",
    "x-envoy-internal",
];

/// Whether `name` (lowercase) carries a client's credentials: a provider's
/// value there would decide who the auth backend lets in.
pub fn is_credential(name: &str) -> bool {
    matches!(name, "authorization" | "cookie" | "proxy-authorization")
}

/// Whether `name` (lowercase) is one of Envoy's control headers, which it
/// obeys on a request it takes for internal (retries, timeouts, upstream
/// choice). The edge role removes every one a client sends.
pub fn is_envoy_control(name: &str) -> bool {
    name.starts_with("x-envoy-")
}

/// Whether a provider may set `name` (lowercase) only when the operator
/// lists it in `header_allow_sensitive`: credentials, `x-envoy-*` (Envoy
/// obeys them) and `x-amz-*` (storage obeys them).
pub fn needs_permission(name: &str) -> bool {
    is_credential(name) || is_envoy_control(name) || name.starts_with("x-amz-")
}

/// Why a provider answer was refused. Messages name headers, never values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderError {
    Status(u32),
    NoResponse,
    Oversize { limit: usize },
    NotJson,
    NotObject,
    NotString { name: String },
    InvalidName,
    InvalidValue { name: String },
    Forbidden { name: String },
    TooMany,
}

impl ProviderError {
    /// Short reason, used in metric names (`polls_failed_<reason>`).
    pub fn reason(&self) -> &'static str {
        match self {
            // Envoy answers a call that timed out with its own 504.
            ProviderError::Status(504) => "timeout",
            ProviderError::Status(_) => "status",
            ProviderError::NoResponse => "timeout",
            ProviderError::Oversize { .. } => "oversize",
            ProviderError::NotJson | ProviderError::NotObject => "invalid_json",
            ProviderError::NotString { .. }
            | ProviderError::InvalidName
            | ProviderError::InvalidValue { .. }
            | ProviderError::Forbidden { .. }
            | ProviderError::TooMany => "invalid_header",
        }
    }
}

impl fmt::Display for ProviderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProviderError::Status(504) => {
                f.write_str("no answer in time (HTTP 504 from Envoy or the provider)")
            }
            ProviderError::Status(s) => write!(f, "answered HTTP {s}"),
            ProviderError::NoResponse => f.write_str("no response (timeout or reset)"),
            ProviderError::Oversize { limit } => write!(f, "body larger than {limit} bytes"),
            ProviderError::NotJson => f.write_str("body is not JSON"),
            ProviderError::NotObject => f.write_str("body is not a JSON object"),
            ProviderError::NotString { name } => write!(f, "value of `{name}` is not a string"),
            ProviderError::InvalidName => f.write_str("a header name is not a valid token"),
            ProviderError::InvalidValue { name } => {
                write!(
                    f,
                    "value of `{name}` has a control character (CR, LF, NUL, ...)"
                )
            }
            ProviderError::Forbidden { name } => write!(f, "header `{name}` may not be injected"),
            ProviderError::TooMany => write!(f, "more than {MAX_HEADERS} headers"),
        }
    }
}

/// Validates one header; returns the lowercased name. A name that
/// [`needs_permission`] passes only if `allowed` lists it.
pub fn validate_header(
    name: &str,
    value: &str,
    reserved: &[&str],
    allowed: &[&str],
) -> Result<String, ProviderError> {
    if !syntax::is_token(name) {
        return Err(ProviderError::InvalidName);
    }
    let lower = name.to_ascii_lowercase();
    let l = lower.as_str();
    if FORBIDDEN.contains(&l)
        || reserved.contains(&l)
        || (needs_permission(l) && !allowed.contains(&l))
    {
        return Err(ProviderError::Forbidden { name: lower });
    }
    if value.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f) {
        return Err(ProviderError::InvalidValue { name: lower });
    }
    Ok(lower)
}

/// Parses and validates a provider answer. `status` is `None` when the call
/// got no response. `reserved` are further names the caller owns (e.g. the
/// internal-redirect marker); `allowed` the sensitive names the operator
/// lets the provider set. The result is sorted by name.
pub fn parse_answer(
    status: Option<u32>,
    body: &[u8],
    max_body: usize,
    reserved: &[&str],
    allowed: &[&str],
) -> Result<Vec<(String, String)>, ProviderError> {
    let status = status.ok_or(ProviderError::NoResponse)?;
    if !(200..300).contains(&status) {
        return Err(ProviderError::Status(status));
    }
    if body.len() > max_body {
        return Err(ProviderError::Oversize { limit: max_body });
    }
    let value = json::parse(body).map_err(|_| ProviderError::NotJson)?;
    let object = value.as_object().ok_or(ProviderError::NotObject)?;
    if object.len() > MAX_HEADERS {
        return Err(ProviderError::TooMany);
    }
    let mut headers = Vec::with_capacity(object.len());
    for (name, value) in object.iter() {
        let Some(value) = value.as_str() else {
            let name = if name.bytes().all(syntax::is_tchar) {
                name.clone()
            } else {
                "?".into()
            };
            return Err(ProviderError::NotString { name });
        };
        let name = validate_header(name, value, reserved, allowed)?;
        headers.push((name, value.to_string()));
    }
    crate::primitives::sort::heap_sort(&mut headers);
    if headers.windows(2).any(|w| w[0].0 == w[1].0) {
        // Two names differing only in case: ambiguous, refuse.
        return Err(ProviderError::Forbidden {
            name: "duplicate names".into(),
        });
    }
    Ok(headers)
}

/// A cache entry: when it was fetched (ms) and the validated headers.
pub type CacheEntry = (u64, Vec<(String, String)>);

/// Serialises validated headers for shared data (with the time they were fetched).
pub fn encode_cache(fetched_at_ms: u64, headers: &[(String, String)]) -> Vec<u8> {
    let mut out = format!("{fetched_at_ms}\n[");
    for (i, (k, v)) in headers.iter().enumerate() {
        out.push_str(if i == 0 { "[" } else { ",[" });
        json::write_string(&mut out, k);
        out.push(',');
        json::write_string(&mut out, v);
        out.push(']');
    }
    out.push(']');
    out.into_bytes()
}

/// Reads the fetch time of a cache entry without parsing the headers.
pub fn cache_fetched_at(bytes: &[u8]) -> Option<u64> {
    let end = bytes.iter().position(|&b| b == b'\n')?;
    std::str::from_utf8(&bytes[..end]).ok()?.parse().ok()
}

/// Decodes a cache entry written by [`encode_cache`].
pub fn decode_cache(bytes: &[u8]) -> Option<CacheEntry> {
    let at = cache_fetched_at(bytes)?;
    let start = bytes.iter().position(|&b| b == b'\n')? + 1;
    let value = json::parse(&bytes[start..]).ok()?;
    let headers = value
        .as_array()?
        .iter()
        .map(|pair| match pair.as_array()?.as_slice() {
            [k, v] => Some((k.as_str()?.to_string(), v.as_str()?.to_string())),
            _ => None,
        })
        .collect::<Option<Vec<_>>>()?;
    Some((at, headers))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<Vec<(String, String)>, ProviderError> {
        parse_answer(
            Some(200),
            body.as_bytes(),
            DEFAULT_MAX_BODY,
            &["x-internal-redirect"],
            &["authorization"],
        )
    }

    #[test]
    fn valid_answer_is_sorted_and_lowercased() {
        let h = parse(r#"{"X-Tenant":"acme","authorization":"Bearer t0k\tn"}"#).unwrap();
        assert_eq!(
            h,
            vec![
                ("authorization".to_string(), "Bearer t0k\tn".to_string()),
                ("x-tenant".to_string(), "acme".to_string())
            ]
        );
        assert_eq!(parse("{}").unwrap(), vec![]);
    }

    #[test]
    fn whole_answer_is_refused_for_one_bad_entry() {
        let cases = [
            (r#"[1,2]"#, "invalid_json"),
            (r#""str""#, "invalid_json"),
            ("not json", "invalid_json"),
            (r#"{"a":"ok","b":1}"#, "invalid_header"),
            (r#"{"a":"ok","b":null}"#, "invalid_header"),
            (r#"{"a":"line\r\nx-evil: 1"}"#, "invalid_header"),
            (r#"{"a":"nul\u0000"}"#, "invalid_header"),
            (r#"{"bad name":"v"}"#, "invalid_header"),
            (r#"{"":"v"}"#, "invalid_header"),
            (r#"{":authority":"evil"}"#, "invalid_header"),
            (r#"{"Host":"evil"}"#, "invalid_header"),
            (r#"{"transfer-encoding":"chunked"}"#, "invalid_header"),
            (r#"{"content-length":"0"}"#, "invalid_header"),
            (r#"{"x-internal-redirect":"true"}"#, "invalid_header"),
            (r#"{"X-A":"1","x-a":"2"}"#, "invalid_header"),
        ];
        for (body, reason) in cases {
            let e = parse(body).unwrap_err();
            assert_eq!(e.reason(), reason, "{body}: {e}");
        }
    }

    #[test]
    fn sensitive_names_need_the_operators_permission() {
        let open = |body: &str, allowed: &[&str]| {
            parse_answer(Some(200), body.as_bytes(), 1024, &[], allowed)
        };
        for name in [
            "authorization",
            "Cookie",
            "proxy-authorization",
            "x-envoy-retry-on",
            "X-Envoy-Upstream-Rq-Timeout-Ms",
            "x-amz-security-token",
            "x-amz-copy-source",
        ] {
            let body = format!(r#"{{"x-tenant":"acme","{name}":"v"}}"#);
            let e = open(&body, &[]).unwrap_err();
            assert_eq!(
                e,
                ProviderError::Forbidden {
                    name: name.to_ascii_lowercase()
                },
                "{name}"
            );
            let lower = name.to_ascii_lowercase();
            assert_eq!(open(&body, &[&lower]).unwrap().len(), 2, "{name}");
        }
        // Permission for one name is not permission for another.
        assert!(open(r#"{"cookie":"s=1"}"#, &["authorization"]).is_err());
        // Framing and the marker stay forbidden whatever is allowed.
        assert!(open(r#"{"host":"h"}"#, &["host"]).is_err());
        assert!(open(r#"{"x-envoy-internal":"true"}"#, &["x-envoy-internal"]).is_err());
        assert!(is_credential("cookie") && !is_credential("x-tenant"));
        assert!(!needs_permission("x-tenant") && !needs_permission("x-idp-token"));
    }

    #[test]
    fn errors_never_contain_values() {
        let e = parse(r#"{"authorization":"Bearer SECRET\n"}"#).unwrap_err();
        assert!(!e.to_string().contains("SECRET"), "{e}");
        assert!(e.to_string().contains("authorization"));
        let e = parse(r#"{"SECRET bad":"x"}"#).unwrap_err();
        assert!(!e.to_string().contains("SECRET"), "{e}");
    }

    #[test]
    fn status_size_and_missing_response() {
        assert_eq!(
            parse_answer(Some(500), b"{}", 10, &[], &[]),
            Err(ProviderError::Status(500))
        );
        assert_eq!(parse_answer(Some(204), b"{}", 10, &[], &[]), Ok(vec![]));
        assert_eq!(
            parse_answer(None, b"", 10, &[], &[]).unwrap_err().reason(),
            "timeout"
        );
        let big = format!(r#"{{"a":"{}"}}"#, "x".repeat(100));
        assert_eq!(
            parse_answer(Some(200), big.as_bytes(), 50, &[], &[]),
            Err(ProviderError::Oversize { limit: 50 })
        );
        let many: Vec<String> = (0..=MAX_HEADERS)
            .map(|i| format!(r#""h{i}":"v""#))
            .collect();
        let body = format!("{{{}}}", many.join(","));
        assert_eq!(parse(&body), Err(ProviderError::TooMany));
    }

    #[test]
    fn cache_round_trip() {
        let h = vec![("a".to_string(), "1".to_string())];
        let bytes = encode_cache(1234, &h);
        assert_eq!(cache_fetched_at(&bytes), Some(1234));
        assert_eq!(decode_cache(&bytes), Some((1234, h)));
        assert_eq!(decode_cache(b"garbage"), None);
    }

    proptest::proptest! {
        /// Any bytes: no panic, and an accepted answer holds only valid,
        /// non-reserved headers.
        #[test]
        fn arbitrary_answers_never_panic(body in proptest::collection::vec(proptest::num::u8::ANY, 0..400)) {
            if let Ok(h) = parse_answer(Some(200), &body, 1024, &["x-internal-redirect"], &[]) {
                for (k, v) in &h {
                    proptest::prop_assert!(validate_header(k, v, &["x-internal-redirect"], &[]).is_ok());
                }
            }
            let _ = decode_cache(&body);
            let _ = cache_fetched_at(&body);
        }

        /// JSON-shaped answers with arbitrary names and values.
        #[test]
        fn json_objects_are_judged_as_a_whole(pairs in proptest::collection::vec(("[ -~]{0,12}", "[ -~\t\r\n]{0,12}"), 0..6)) {
            let map: serde_json::Map<String, serde_json::Value> = pairs.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect();
            let body = serde_json::Value::Object(map.clone()).to_string();
            match parse_answer(Some(200), body.as_bytes(), 1 << 16, &[], &[]) {
                Ok(h) => proptest::prop_assert_eq!(h.len(), map.len()),
                Err(_) => proptest::prop_assert!(map.iter().any(|(k, v)| validate_header(k, v.as_str().unwrap_or_default(), &[], &[]).is_err())),
            }
        }
    }
}
