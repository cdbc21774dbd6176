//! Presigned S3 URLs in the exact form botocore's `generate_presigned_url`
//! writes them: the operation's own parameters first (`response-*`, in the
//! order given), then `X-Amz-Algorithm`, `-Credential`, `-Date`,
//! `-Expires`, `-SignedHeaders`, `-Security-Token`, and `-Signature` last.
//! The signature comes from [`presign_with`] (the canonical, sorted query),
//! so only the order on the wire differs from it; a URL byte-identical to
//! the SDK's is easy to compare, cache-friendly and familiar to operators.

use super::canonical::encode_component;
use super::{
    amz_date, canonical_headers, credential_scope, presign_with, Credentials, PathRules,
    Presigning, Request, Scope, SigV4Error, SigningKeyCache, ALGORITHM, UNSIGNED_PAYLOAD,
};

/// One presigned request: `path` is the wire path (S3 canonical form) and
/// `headers` what the client must send as signed (`host`, optionally
/// `content-length` to pin an upload's size).
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
    let mut own = String::new();
    for (k, v) in req.params {
        if !own.is_empty() {
            own.push('&');
        }
        own.push_str(&encode_component(k));
        own.push('=');
        own.push_str(&encode_component(v));
    }
    let request = Request {
        method: req.method,
        path: req.path,
        query: &own,
        headers: req.headers,
    };
    let opts = Presigning {
        expires_secs,
        payload_hash: UNSIGNED_PAYLOAD,
        session_token_signed: true,
    };
    let signed = presign_with(
        &request,
        creds,
        scope,
        PathRules::S3,
        unix_time,
        &opts,
        cache,
    )?;
    let date = amz_date(unix_time)?;
    let credential = format!(
        "{}/{}",
        creds.access_key_id,
        credential_scope(date.get(..8).unwrap_or_default(), scope)
    );
    let signed_headers = canonical_headers(req.headers)?.signed;
    let mut out = own;
    let mut add = |k: &str, v: &str| {
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(&encode_component(v));
    };
    add("X-Amz-Algorithm", ALGORITHM);
    add("X-Amz-Credential", &credential);
    add("X-Amz-Date", &date);
    add("X-Amz-Expires", &expires_secs.to_string());
    add("X-Amz-SignedHeaders", &signed_headers);
    if let Some(t) = &creds.session_token {
        add("X-Amz-Security-Token", t);
    }
    add("X-Amz-Signature", &signed.signature);
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
            &Request {
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
        let headers = [("host", "h"), ("content-length", "5")];
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
    }
}
