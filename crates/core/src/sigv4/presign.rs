//! Presigned S3 URLs in the exact form botocore's `generate_presigned_url`
//! writes them: the operation's own parameters first (`response-*`, in the
//! order given), then `X-Amz-Algorithm`, `-Credential`, `-Date`,
//! `-Expires`, `-SignedHeaders`, `-Security-Token`, and `-Signature` last.
//! The signature covers the canonical (sorted) query, so it equals
//! [`super::sign::presign_with`]'s; only the order on the wire differs. Written
//! apart from it to reuse the header signer's pieces in the module (no
//! second instantiation of the generic header canonicaliser), and so that
//! a URL byte-identical to the SDK's can be compared in tests.

use super::canonical::{
    canonical_request, canonical_uri, credential_scope, string_to_sign, CanonicalHeaders,
};
use super::canonical::{encode_component, join_pairs};
use super::key::SigningKeyCache;
use super::time::amz_date;
use super::types::{
    Credentials, PathRules, Scope, SigV4Error, ALGORITHM, MAX_PRESIGN_EXPIRES_SECS,
    UNSIGNED_PAYLOAD,
};

/// One presigned request: `path` is the wire path (S3 canonical form),
/// `params` the operation's own query parameters (decoded), and `headers`
/// what the client must send as signed: lowercase names in sorted order,
/// e.g. `content-length` (pinning an upload's size) then `host`.
#[derive(Debug, Clone, Copy)]
pub struct PresignRequest<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub params: &'a [(&'a str, &'a str)],
    pub headers: &'a [(&'a str, &'a str)],
}

/// The query string (without `?`) of a presigned S3 URL, `UNSIGNED-PAYLOAD`.
pub fn presigned_query(
    req: &PresignRequest,
    creds: &Credentials,
    scope: &Scope,
    unix_time: u64,
    expires_secs: u64,
    cache: &mut SigningKeyCache,
) -> Result<String, SigV4Error> {
    if expires_secs == 0 || expires_secs > MAX_PRESIGN_EXPIRES_SECS {
        return Err(SigV4Error::InvalidExpires { secs: expires_secs });
    }
    // The few signed headers are given sorted; only their values are checked.
    let mut headers = CanonicalHeaders {
        block: String::new(),
        signed: String::new(),
    };
    let mut last = "";
    for (name, value) in req.headers {
        let lower = name.bytes().all(|b| b.is_ascii_lowercase() || b == b'-');
        if name.is_empty() || !lower || *name <= last {
            return Err(SigV4Error::InvalidHeaderName);
        }
        // Values are signed as given: already canonical (no outer or
        // repeated spaces), e.g. `text/plain; charset=utf-8`.
        let canonical = value.trim() == *value && !crate::primitives::ascii::contains(value, "  ");
        if value.is_empty()
            || !canonical
            || !value.bytes().all(|b| b == b' ' || b.is_ascii_graphic())
        {
            return Err(SigV4Error::InvalidHeaderValue {
                name: name.to_string(),
            });
        }
        last = name;
        if !headers.signed.is_empty() {
            headers.signed.push(';');
        }
        headers.signed.push_str(name);
        headers.block.push_str(name);
        headers.block.push(':');
        headers.block.push_str(value);
        headers.block.push('\n');
    }
    if last != "host" && !req.headers.iter().any(|(n, _)| *n == "host") {
        return Err(SigV4Error::MissingHost);
    }
    let date = amz_date(unix_time)?;
    let day = date.get(..8).unwrap_or_default();
    let scope_str = credential_scope(day, scope);
    let credential = format!("{}/{scope_str}", creds.access_key_id);
    let expires = expires_secs.to_string();
    let mut auth = vec![
        ("X-Amz-Algorithm", ALGORITHM),
        ("X-Amz-Credential", credential.as_str()),
        ("X-Amz-Date", date.as_str()),
        ("X-Amz-Expires", expires.as_str()),
        ("X-Amz-SignedHeaders", headers.signed.as_str()),
    ];
    if let Some(t) = &creds.session_token {
        auth.push(("X-Amz-Security-Token", t));
    }
    let pairs: Vec<(String, String)> = req
        .params
        .iter()
        .chain(auth.iter())
        .map(|(k, v)| (encode_component(k), encode_component(v)))
        .collect();
    // botocore's order on the wire: the operation's parameters, then auth.
    let mut out = String::new();
    for (k, v) in &pairs {
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    let uri = canonical_uri(req.path, PathRules::S3)?;
    let creq = canonical_request(
        req.method,
        &uri,
        &join_pairs(pairs),
        &headers,
        UNSIGNED_PAYLOAD,
    );
    let sts = string_to_sign(&date, &scope_str, &creq);
    let signature = cache.signature_hex(creds, day, scope, sts.as_bytes())?;
    out.push_str("&X-Amz-Signature=");
    out.push_str(&signature);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(token: Option<&str>) -> Credentials {
        Credentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            session_token: token.map(str::to_string),
        }
    }

    const SCOPE: Scope<'static> = Scope {
        region: "us-east-1",
        service: "s3",
    };

    #[test]
    fn botocore_order_same_signature_as_the_canonical_presigner() {
        let params = [("response-content-type", "text/plain; charset=utf-8")];
        let headers = [("host", "s3.example:8333")];
        let req = PresignRequest {
            method: "GET",
            path: "/assets/a%20b.txt",
            params: &params,
            headers: &headers,
        };
        let mut cache = SigningKeyCache::default();
        let q =
            presigned_query(&req, &creds(None), &SCOPE, 1_767_323_045, 300, &mut cache).unwrap();
        assert!(q.starts_with(
            "response-content-type=text%2Fplain%3B%20charset%3Dutf-8&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20260102%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20260102T030405Z&X-Amz-Expires=300&X-Amz-SignedHeaders=host&X-Amz-Signature="
        ), "{q}");
        let canonical = super::super::presign_query(
            &super::super::Request {
                method: "GET",
                path: "/assets/a%20b.txt",
                query: "response-content-type=text%2Fplain%3B%20charset%3Dutf-8",
                headers: &headers,
            },
            &creds(None),
            &SCOPE,
            1_767_323_045,
            300,
            UNSIGNED_PAYLOAD,
            &mut cache,
        )
        .unwrap();
        let sig = |s: &str| s.rsplit_once("X-Amz-Signature=").unwrap().1.to_string();
        assert_eq!(sig(&q), sig(&canonical));
    }

    #[test]
    fn token_and_pinned_length_are_signed() {
        let headers = [("content-length", "5"), ("host", "h")];
        let req = PresignRequest {
            method: "PUT",
            path: "/b/k",
            params: &[],
            headers: &headers,
        };
        let mut cache = SigningKeyCache::default();
        let q = presigned_query(&req, &creds(Some("TOKEN/+=")), &SCOPE, 0, 60, &mut cache).unwrap();
        assert!(q.starts_with("X-Amz-Algorithm="), "{q}");
        assert!(
            q.contains("&X-Amz-SignedHeaders=content-length%3Bhost&X-Amz-Security-Token=TOKEN%2F%2B%3D&X-Amz-Signature="),
            "{q}"
        );
        assert!(presigned_query(&req, &creds(None), &SCOPE, 0, 0, &mut cache).is_err());
        assert!(presigned_query(&req, &creds(None), &SCOPE, 0, 604_801, &mut cache).is_err());
        let unsorted = [("host", "h"), ("content-length", "5")];
        let bad = PresignRequest {
            headers: &unsorted,
            ..req
        };
        assert!(presigned_query(&bad, &creds(None), &SCOPE, 0, 60, &mut cache).is_err());
        // A type with an inner space signs as the canonical presigner does;
        // a value that is not already canonical is refused.
        let typed = [
            ("content-length", "5"),
            ("content-type", "text/plain; charset=utf-8"),
            ("host", "h"),
        ];
        let req = PresignRequest {
            headers: &typed,
            ..req
        };
        let q = presigned_query(&req, &creds(None), &SCOPE, 0, 60, &mut cache).unwrap();
        let canonical = super::super::presign_query(
            &super::super::Request {
                method: "PUT",
                path: "/b/k",
                query: "",
                headers: &typed,
            },
            &creds(None),
            &SCOPE,
            0,
            60,
            UNSIGNED_PAYLOAD,
            &mut cache,
        )
        .unwrap();
        let sig = |s: &str| s.rsplit_once("X-Amz-Signature=").unwrap().1.to_string();
        assert_eq!(sig(&q), sig(&canonical));
        for value in [" text/plain", "text/plain ", "text/plain;  a=b"] {
            let odd = [("content-type", value), ("host", "h")];
            let bad = PresignRequest {
                headers: &odd,
                ..req
            };
            assert!(presigned_query(&bad, &creds(None), &SCOPE, 0, 60, &mut cache).is_err());
        }
        let injected = [("host", "h\r\nx: y")];
        let bad = PresignRequest {
            headers: &injected,
            ..req
        };
        assert!(presigned_query(&bad, &creds(None), &SCOPE, 0, 60, &mut cache).is_err());
    }
}
