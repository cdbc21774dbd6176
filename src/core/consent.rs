//! What a flow A consent lets through, in both directions: the client
//! request headers a read may carry to storage, and what storage's answer
//! keeps to itself (identifying headers, error bodies naming bucket and key).

/// The client request headers a read consent forwards to storage (flow A):
/// what a read needs for ranges and revalidation, nothing that could make it
/// a write, authenticate as the client, or reach storage's other APIs.
pub const READ_FORWARDED: [&str; 6] = [
    "range",
    "if-match",
    "if-none-match",
    "if-modified-since",
    "if-unmodified-since",
    "if-range",
];

/// Whether an operator may add `name` to the headers forwarded under a
/// consent: never credentials, `x-amz-*` (copy sources, ACLs, SSE-C keys),
/// body framing or hop-by-hop headers.
pub fn may_forward(name: &str) -> bool {
    !name.starts_with(':')
        && !name.starts_with("x-amz-")
        && !name.starts_with("content-")
        && !name.starts_with("proxy-")
        && ![
            "authorization",
            "cookie",
            "expect",
            "host",
            "transfer-encoding",
            "connection",
            "keep-alive",
            "te",
            "trailer",
            "upgrade",
        ]
        .contains(&name)
}

/// Storage response headers that identify the store or the request inside
/// it; flow A hides them from clients by default.
pub const STORAGE_IDENTIFYING: [&str; 6] = [
    "x-amz-request-id",
    "x-amz-id-2",
    "x-amz-bucket-region",
    "server",
    "seaweed-x-amz-owner",
    "seaweed-x-amz-etag",
];

/// The request headers a read consent sends on: the pseudo-headers and the
/// allowlisted client headers, in their order. Everything else the client
/// sent (cookies, credentials, `x-amz-*`, `content-*`) is dropped.
pub fn consented_headers(
    headers: &[(String, Vec<u8>)],
    allowed: &[String],
) -> Vec<(String, Vec<u8>)> {
    headers
        .iter()
        .filter(|(k, _)| k.starts_with(':') || allowed.iter().any(|a| a == k))
        .cloned()
        .collect()
}

/// A short plain-text body for a storage error, so that S3's XML (which
/// names the bucket and key) never reaches a flow A client.
pub fn plain_error(status: u32) -> String {
    let reason = match status {
        400 => "bad request",
        403 => "forbidden",
        404 => "not found",
        405 => "method not allowed",
        409 => "conflict",
        412 => "precondition failed",
        416 => "range not satisfiable",
        500 => "storage error",
        503 => "storage unavailable",
        _ => "storage error",
    };
    format!("{status} {reason}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(extra: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
        let mut h = vec![
            (":method".to_string(), b"GET".to_vec()),
            (":path".to_string(), b"/b/k".to_vec()),
            (":authority".to_string(), b"envoy.local".to_vec()),
        ];
        for (k, v) in extra {
            h.push((k.to_string(), v.as_bytes().to_vec()));
        }
        h
    }

    #[test]
    fn a_consent_forwards_only_the_read_allowlist() {
        let allowed: Vec<String> = READ_FORWARDED.iter().map(|s| s.to_string()).collect();
        let h = request(&[
            ("range", "bytes=0-3"),
            ("cookie", "session=1"),
            ("authorization", "Bearer t"),
            ("x-amz-copy-source", "/other/secret"),
            ("x-amz-acl", "public-read"),
            ("content-type", "text/html"),
            ("content-length", "5"),
            ("expect", "100-continue"),
            ("if-none-match", "\"e\""),
        ]);
        let kept = consented_headers(&h, &allowed);
        let names: Vec<&str> = kept.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            [":method", ":path", ":authority", "range", "if-none-match"]
        );
        for name in [
            "cookie",
            "authorization",
            "x-amz-acl",
            "content-type",
            "expect",
            "x-amz-copy-source",
        ] {
            assert!(!may_forward(name), "{name}");
        }
        assert!(may_forward("accept-encoding"));
    }

    #[test]
    fn plain_errors_name_no_bucket() {
        assert_eq!(plain_error(404), "404 not found\n");
        assert_eq!(plain_error(599), "599 storage error\n");
    }
}
