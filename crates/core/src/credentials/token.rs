//! Tokens that live in files the module cannot open (no filesystem in
//! Envoy's wasm): a Pod Identity authorization token or an IRSA web identity
//! token is served to it by a token endpoint (a sidecar serving the projected
//! token's directory) and read before every use, so kubelet's rotation of the
//! file is picked up. The container source and STS web identity both read
//! them, so the reading lives here, below both.

use super::step::{Answer, Call, Failure, Reason};
use crate::config::TokenEndpoint;

/// The largest token accepted (projected service-account tokens are ~1 KB).
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// The call that reads a token.
pub fn token_call(t: &TokenEndpoint) -> Call {
    Call {
        cluster: t.cluster.clone(),
        method: "GET",
        authority: t.authority.clone(),
        path: t.path.clone(),
        headers: vec![],
        body: vec![],
        timeout_ms: t.timeout_ms,
    }
}

/// The token in a token endpoint's answer: the body, trimmed; printable
/// ASCII only, since it is sent in a header or a form field.
pub fn parse_token(answer: Answer) -> Result<String, Failure> {
    if !answer.ok() {
        return Err(answer.failure(Reason::Token, "token endpoint"));
    }
    let text = std::str::from_utf8(answer.body)
        .map(str::trim)
        .unwrap_or_default();
    if text.is_empty()
        || text.len() > MAX_TOKEN_BYTES
        || !text.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(Failure::new(
            Reason::Token,
            "token endpoint: not a token (empty, over 16 KiB, or not printable ASCII)",
        ));
    }
    Ok(text.to_string())
}

/// Decodes unpadded base64url (JWT segments); `None` on any other byte.
fn base64url(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for b in s.bytes() {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            b'=' => continue,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// The `exp` claim (unix seconds) of a JWT, unverified: only used to refresh
/// before the token expires. `None` for anything that is not a JWT with one.
pub fn jwt_expiry(token: &str) -> Option<u64> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64url(payload)?;
    let v = crate::primitives::json::parse(&bytes).ok()?;
    v.get("exp")?.as_u64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_from_the_endpoint() {
        let ok = |b: &'static [u8]| {
            parse_token(Answer {
                status: Some(200),
                body: b,
            })
        };
        assert_eq!(ok(b"  abc.def.ghi\n").unwrap(), "abc.def.ghi");
        assert_eq!(ok(b"").unwrap_err().reason, Reason::Token);
        assert_eq!(ok(b"a b").unwrap_err().reason, Reason::Token);
        assert_eq!(ok(b"a\r\nX-Injected: 1").unwrap_err().reason, Reason::Token);
        assert_eq!(ok(&[0xff, 0xfe]).unwrap_err().reason, Reason::Token);
        let e = parse_token(Answer {
            status: Some(403),
            body: b"SECRET",
        })
        .unwrap_err();
        assert_eq!(e.reason, Reason::Token);
        assert!(!e.to_string().contains("SECRET"));
        let e = parse_token(Answer {
            status: None,
            body: b"",
        })
        .unwrap_err();
        assert_eq!(e.reason, Reason::NoResponse);
    }

    #[test]
    fn jwt_exp() {
        // {"alg":"none"} . {"sub":"system:serviceaccount:ns:sa","exp":1795320000} . sig
        let jwt = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6bnM6c2EiLCJleHAiOjE3OTUzMjAwMDB9.c2ln";
        assert_eq!(jwt_expiry(jwt), Some(1_795_320_000));
        assert_eq!(jwt_expiry("opaque-token"), None);
        assert_eq!(jwt_expiry("a.!!!.c"), None);
        assert_eq!(jwt_expiry("a.e30.c"), None); // {} has no exp
        assert_eq!(base64url("aGk").unwrap(), b"hi");
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_tokens_never_panic(s in "\\PC{0,200}") {
            let _ = jwt_expiry(&s);
            let _ = parse_token(Answer { status: Some(200), body: s.as_bytes() });
        }
    }
}
