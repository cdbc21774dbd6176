//! Turning a request bound for object storage into a signed S3 request:
//! bucket mapping, host rewrite, stripping client auth, SigV4 header auth.
//! Pure: the storage role's HTTP context feeds it the header map and applies
//! the result.

use std::borrow::Cow;

use crate::answers::{Answer, Refusal};
use crate::config::{AddressingStyle, BodySigning, SigningConfig};
use crate::primitives::ascii;
use crate::primitives::header_map::{Header, Pair};
use crate::primitives::syntax::valid_bucket_name;
use crate::sigv4::{
    self, Credentials, HeaderSigning, PathRules, Request, Scope, SignatureHeaders, SigningKeyCache,
};

/// Request headers a client may send that only the signer may set.
pub const CLIENT_AUTH_HEADERS: [&str; 4] = [
    "authorization",
    "x-amz-date",
    "x-amz-security-token",
    "x-amz-content-sha256",
];

/// Query parameters of a client's own presigned URL (SigV4, and SigV2's
/// `AWSAccessKeyId`/`Signature`/`Expires`); they would clash with the header
/// signature, so they are dropped.
const PRESIGN_PARAMS: [&str; 10] = [
    "awsaccesskeyid",
    "signature",
    "expires",
    "x-amz-algorithm",
    "x-amz-credential",
    "x-amz-date",
    "x-amz-expires",
    "x-amz-signedheaders",
    "x-amz-signature",
    "x-amz-security-token",
];

/// Body framing declared by SDKs that stream `aws-chunked` bodies without
/// per-chunk signatures; storage must be told, so the value is kept.
const STREAMING_UNSIGNED_TRAILER: &str = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";

/// The request body, as far as the signature is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body<'a> {
    /// The headers ended the stream.
    None,
    /// Streamed through unread (`UNSIGNED-PAYLOAD`).
    Streamed,
    /// Buffered whole; its SHA-256 in hex.
    Hashed(&'a str),
}

/// Whether a request's body must be buffered and hashed before signing:
/// the configuration says so, and the client's own framing allows it (an
/// `aws-chunked` upload with trailers is streamed as the client framed it).
pub fn hashes_body<H: Pair>(cfg: &SigningConfig, headers: &[H]) -> bool {
    cfg.body == BodySigning::Hash
        && !header(headers, "x-amz-content-sha256").is_some_and(|v| v.starts_with(b"STREAMING-"))
}

/// The declared `content-length`, when there is a valid one.
pub fn declared_length<H: Pair>(headers: &[H]) -> Option<u64> {
    std::str::from_utf8(header(headers, "content-length")?)
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The changes to apply to the request headers. The path and authority are
/// borrowed from the request (or the configuration) when signing keeps them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewrite<'a> {
    pub path: Cow<'a, str>,
    pub authority: Cow<'a, str>,
    /// Whether `path` and `authority` differ from the request's (a host
    /// that applies edits skips the ones that would change nothing).
    pub path_changed: bool,
    pub authority_changed: bool,
    /// Headers to remove before `set` is applied.
    pub remove: Vec<&'static str>,
    /// The signature's headers to set (replacing any existing value); `None`
    /// for a request forwarded unsigned.
    pub set: Option<SignatureHeaders<'a>>,
}

impl Rewrite<'_> {
    /// The whole request header map after the rewrite, for a host that
    /// replaces the map in one call: `headers` without the removed ones,
    /// `:path` and `:authority` replaced, the signature headers set.
    pub fn applied_to<'a, H: Pair>(&'a self, headers: &'a [H]) -> Vec<Header<'a>> {
        let mut out: Vec<Header<'a>> = Vec::with_capacity(headers.len() + 4);
        for h in headers {
            let k = h.name();
            let replaced = match k {
                ":path" => Some(self.path.as_bytes()),
                ":authority" => Some(self.authority.as_bytes()),
                _ => None,
            };
            if let Some(new) = replaced {
                out.push((k, new));
            } else if !self.remove.contains(&k) && !self.set.as_ref().is_some_and(|s| s.sets(k)) {
                out.push((k, h.value()));
            }
        }
        for (k, v) in self.set.iter().flat_map(SignatureHeaders::iter) {
            out.push((k, v.as_bytes()));
        }
        out
    }
}

/// Whether the request was signed, or forwarded unsigned by policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signed<'a> {
    Yes(Rewrite<'a>),
    /// No usable credentials: the caller applies `on_missing_credentials`.
    NoCredentials(Rewrite<'a>),
}

fn header<'a, H: Pair>(headers: &'a [H], name: &str) -> Option<&'a [u8]> {
    headers
        .iter()
        .find(|h| h.name().eq_ignore_ascii_case(name))
        .map(|h| h.value())
}

fn required<'a>(value: Option<&'a [u8]>, name: &'static str) -> Result<&'a str, Refusal> {
    let raw = value.ok_or_else(|| Answer::MissingPseudoHeader.with(name))?;
    std::str::from_utf8(raw).map_err(|_| Answer::PseudoHeaderNotUtf8.with(name))
}

/// What signing reads of the request headers, found in one pass (each name
/// compared with the few it can be, not every header with every name; names
/// exactly, as Envoy's maps are lowercase).
struct Read<'a> {
    method: Option<&'a [u8]>,
    path: Option<&'a [u8]>,
    authority: Option<&'a [u8]>,
    content_sha256: Option<&'a [u8]>,
    /// Which of [`CLIENT_AUTH_HEADERS`] the client sent (bit `i` for entry `i`).
    client_auth: u8,
    /// The client's other `x-amz-*` headers, signed as they are.
    amz: Vec<(&'a str, &'a [u8])>,
}

impl<'a> Read<'a> {
    fn of<H: Pair>(headers: &'a [H]) -> Read<'a> {
        let mut r = Read {
            method: None,
            path: None,
            authority: None,
            content_sha256: None,
            client_auth: 0,
            amz: Vec::new(),
        };
        for h in headers {
            let (name, value) = (h.name(), h.value());
            let first = |slot: &mut Option<&'a [u8]>| {
                if slot.is_none() {
                    *slot = Some(value);
                }
            };
            if ascii::starts_with(name, b':') {
                match name {
                    ":method" => first(&mut r.method),
                    ":path" => first(&mut r.path),
                    ":authority" => first(&mut r.authority),
                    _ => {}
                }
            } else {
                let amz = matches!(name.as_bytes(), [b'x', b'-', b'a', b'm', b'z', b'-', _, ..]);
                if !amz && name != "authorization" {
                    continue;
                }
                match CLIENT_AUTH_HEADERS.iter().position(|a| *a == name) {
                    Some(i) => {
                        r.client_auth |= 1 << i;
                        if CLIENT_AUTH_HEADERS.get(i) == Some(&"x-amz-content-sha256") {
                            first(&mut r.content_sha256);
                        }
                    }
                    None if amz => r.amz.push((name, value)),
                    None => {}
                }
            }
        }
        r
    }
}

/// A key storage will read must be safe (the rules of redirect targets).
fn safe_key(key: &str, cfg: &SigningConfig) -> Result<(), Refusal> {
    crate::internal_redirect::target::validate_key(key, &cfg.key_rules)
        .map_err(|e| Answer::UnsafeKey.with(format!("{e}")))
}

/// Maps the request path to the storage path and authority (always the
/// configured endpoint, never the client's).
fn map_target<'a>(
    cfg: &'a SigningConfig,
    path: &'a str,
) -> Result<(Cow<'a, str>, Cow<'a, str>), Refusal> {
    let (bucket, key): (Option<&str>, Cow<'a, str>) = if cfg.buckets.is_empty() {
        match cfg.addressing_style {
            // Path-style requests already name the bucket; keep them as they are.
            AddressingStyle::Path => (None, Cow::Borrowed(path)),
            AddressingStyle::Virtual => {
                // The caller checked the leading '/'; `get` keeps core's
                // char-boundary panic path out of the module.
                let rest = path.get(1..).ok_or(Answer::NotABucket)?;
                let (bucket, key) = ascii::split_once(rest, b'/').unwrap_or((rest, ""));
                if !valid_bucket_name(bucket) {
                    return Err(Answer::NotABucket.into());
                }
                (Some(bucket), Cow::Borrowed(key))
            }
        }
    } else {
        // `strip_prefix`, not `path[prefix.len()..]`: no char-boundary
        // panic path in the module.
        let (mapping, rest) = cfg
            .buckets
            .iter()
            .filter_map(|m| Some((m, path.strip_prefix(m.prefix.as_str())?)))
            .max_by_key(|(m, _)| m.prefix.len())
            .ok_or(Answer::NoBucketMapped)?;
        safe_key(rest, cfg)?;
        (
            Some(mapping.bucket.as_str()),
            Cow::Owned(concat(&[&mapping.key_prefix, rest])),
        )
    };
    let endpoint = cfg.endpoint.as_str();
    Ok(match (bucket, cfg.addressing_style) {
        (None, _) => (key, Cow::Borrowed(endpoint)),
        (Some(bucket), AddressingStyle::Path) => (
            Cow::Owned(concat(&["/", bucket, "/", &key])),
            Cow::Borrowed(endpoint),
        ),
        (Some(bucket), AddressingStyle::Virtual) => (
            Cow::Owned(concat(&["/", &key])),
            Cow::Owned(concat(&[bucket, ".", endpoint])),
        ),
    })
}

/// The pieces joined, allocated once (`format!` is measurably slower under
/// V8, bench/micro).
fn concat(pieces: &[&str]) -> String {
    let mut s = String::with_capacity(pieces.iter().map(|p| p.len()).sum());
    for p in pieces {
        s.push_str(p);
    }
    s
}

/// Removes a client's own presigned-URL parameters from a query string.
fn strip_presign_params(query: &str) -> String {
    if query.is_empty() {
        return String::new();
    }
    query
        .split('&')
        .filter(|p| {
            let name = p.split('=').next().unwrap_or("");
            !p.is_empty() && !PRESIGN_PARAMS.iter().any(|x| x.eq_ignore_ascii_case(name))
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// The bucket and the key (wire form) of a mapped S3 request.
fn bucket_and_key<'a>(
    cfg: &SigningConfig,
    path: &'a str,
    authority: &'a str,
) -> (Option<&'a str>, &'a str) {
    match cfg.addressing_style {
        AddressingStyle::Path => {
            let rest = path.strip_prefix('/').unwrap_or(path);
            match ascii::split_once(rest, b'/') {
                Some((b, k)) => (Some(b), k),
                None if rest.is_empty() => (None, ""),
                None => (Some(rest), ""),
            }
        }
        AddressingStyle::Virtual => {
            let endpoint = cfg.endpoint.as_str();
            let bucket = authority
                .strip_suffix(endpoint)
                .and_then(|b| b.strip_suffix('.'))
                .filter(|b| !b.is_empty());
            (bucket, path.strip_prefix('/').unwrap_or(path))
        }
    }
}

/// Prepares (and when credentials exist, signs) a request for storage.
pub fn prepare<'a, H: Pair>(
    cfg: &'a SigningConfig,
    creds: Option<&Credentials>,
    headers: &'a [H],
    body: Body<'a>,
    unix_time: u64,
    cache: &mut SigningKeyCache,
) -> Result<Signed<'a>, Refusal> {
    let read = Read::of(headers);
    let method = required(read.method, ":method")?;
    let wire_path = required(read.path, ":path")?;
    let wire_authority = required(read.authority, ":authority")?;
    let (path, query) = ascii::split_once(wire_path, b'?').unwrap_or((wire_path, ""));
    if !ascii::starts_with(path, b'/') {
        return Err(Answer::RelativePath.into());
    }
    let (path, authority) = map_target(cfg, path)?;
    let query = strip_presign_params(query);
    let is_s3 = cfg.path_rules == PathRules::S3;
    // S3: send the path in its canonical form (each segment decoded and encoded
    // once; the same key), so that the path on the wire is the path signed,
    // whichever way storage canonicalises it. AWS S3 signs characters a client
    // left raw as they are (a raw `@` must be signed as `@`, envoy #42165) while
    // SeaweedFS and others re-encode them (`%40`); with `%40` on the wire both
    // agree. A raw `+` goes out as `%2B`: a plus, as it was signed.
    let path = if is_s3 {
        sigv4::into_canonical_uri(path, PathRules::S3)
            .map_err(|e| Answer::CannotSign.with(format!("{e}")))?
    } else {
        path
    };
    if !cfg.scope.is_open() {
        let s3 = is_s3.then(|| bucket_and_key(cfg, &path, &authority));
        // A scoped key obeys the rules of a redirect target: a prefix check
        // means nothing for a key storage may resolve out of the prefix.
        if let Some((_, key)) = s3.filter(|(_, k)| !k.is_empty()) {
            safe_key(key, cfg)?;
        }
        cfg.scope.check(method, s3, &query)?;
        for &(name, value) in &read.amz {
            cfg.scope.check_header(name, value, &cfg.key_rules)?;
        }
    }

    let client_hash = read.content_sha256.unwrap_or_default();
    let payload_hash = if let Body::Hashed(h) = body {
        h
    } else if is_s3 {
        if client_hash == STREAMING_UNSIGNED_TRAILER.as_bytes() {
            STREAMING_UNSIGNED_TRAILER
        } else if client_hash.starts_with(b"STREAMING-") {
            return Err(Answer::ChunkSigned.into());
        } else {
            sigv4::UNSIGNED_PAYLOAD
        }
    } else if body == Body::Streamed {
        sigv4::UNSIGNED_PAYLOAD
    } else {
        sigv4::EMPTY_PAYLOAD_SHA256
    };

    // The path is signed from the rewrite's own copy (no second one).
    let path_len = path.len();
    let full_path = if query.is_empty() {
        path
    } else {
        Cow::Owned(concat(&[&path, "?", &query]))
    };
    let mut rewrite = Rewrite {
        path_changed: *full_path != *wire_path,
        authority_changed: *authority != *wire_authority,
        path: full_path,
        authority,
        // Only what the client actually sent (one host call each).
        remove: CLIENT_AUTH_HEADERS
            .iter()
            .enumerate()
            .filter(|&(i, _)| read.client_auth & (1 << i) != 0)
            .map(|(_, h)| *h)
            .collect(),
        set: None,
    };
    let Some(creds) = creds else {
        return Ok(Signed::NoCredentials(rewrite));
    };

    // Most requests sign only the host: no list to allocate.
    let host = [("host", &*rewrite.authority)];
    let mut with_amz: Vec<(&str, &str)> = Vec::new();
    if !read.amz.is_empty() {
        with_amz.reserve(1 + read.amz.len());
        with_amz.extend(host);
        for &(name, value) in &read.amz {
            let value = std::str::from_utf8(value)
                .map_err(|_| Answer::HeaderNotUtf8.with(name.to_string()))?;
            with_amz.push((name, value));
        }
    }
    let request = Request {
        method,
        path: rewrite.path.get(..path_len).unwrap_or_default(),
        query: &query,
        headers: if with_amz.is_empty() {
            &host
        } else {
            &with_amz
        },
    };
    let scope = Scope {
        region: &cfg.region,
        service: &cfg.service,
    };
    let opts = HeaderSigning {
        payload_hash,
        add_content_sha256_header: is_s3,
        session_token_signed: true,
    };
    let set = sigv4::sign_headers_under(
        &request,
        creds,
        &scope,
        cfg.path_rules,
        unix_time,
        &opts,
        cache,
    )
    .map_err(|e| Answer::CannotSign.with(format!("{e}")))?;
    // Headers about to be set need no removal first.
    rewrite.remove.retain(|h| !set.sets(h));
    rewrite.set = Some(set);
    Ok(Signed::Yes(rewrite))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Counter;

    use crate::signing::testkit::signing as cfg;

    fn creds() -> Credentials {
        Credentials {
            access_key_id: "AK".into(),
            secret_access_key: "SK".into(),
            session_token: None,
        }
    }

    fn headers(path: &str, extra: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
        let mut h = vec![
            (":method".to_string(), b"GET".to_vec()),
            (":path".to_string(), path.as_bytes().to_vec()),
            (":authority".to_string(), b"envoy.local".to_vec()),
        ];
        for (k, v) in extra {
            h.push((k.to_string(), v.as_bytes().to_vec()));
        }
        h
    }

    fn owned(rw: Rewrite<'_>) -> Rewrite<'static> {
        Rewrite {
            path: Cow::Owned(rw.path.into_owned()),
            authority: Cow::Owned(rw.authority.into_owned()),
            remove: rw.remove,
            set: rw.set.map(SignatureHeaders::into_owned),
            ..rw
        }
    }

    fn run(c: &SigningConfig, h: &[(String, Vec<u8>)]) -> Result<Signed<'static>, Refusal> {
        prepare(
            c,
            Some(&creds()),
            h,
            Body::None,
            1_700_000_000,
            &mut SigningKeyCache::default(),
        )
        .map(|s| match s {
            Signed::Yes(rw) => Signed::Yes(owned(rw)),
            Signed::NoCredentials(rw) => Signed::NoCredentials(owned(rw)),
        })
    }

    fn signed(r: Result<Signed, Refusal>) -> Rewrite {
        match r {
            Ok(Signed::Yes(rw)) => rw,
            other => panic!("expected signed, got {other:?}"),
        }
    }

    fn set_value<'a>(rw: &'a Rewrite, name: &str) -> Option<&'a str> {
        rw.set
            .iter()
            .flat_map(SignatureHeaders::iter)
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
    }

    #[test]
    fn path_style_passthrough_uses_endpoint_host() {
        let c = cfg(r#","endpoint":"s3.example:9000""#);
        let rw = signed(run(&c, &headers("/bucket/a%20b.txt?list-type=2", &[])));
        assert_eq!(rw.path, "/bucket/a%20b.txt?list-type=2");
        assert_eq!(rw.authority, "s3.example:9000");
        assert_eq!(
            set_value(&rw, "x-amz-content-sha256"),
            Some("UNSIGNED-PAYLOAD")
        );
        let auth = set_value(&rw, "authorization").unwrap();
        assert!(
            auth.starts_with("AWS4-HMAC-SHA256 Credential=AK/"),
            "{auth}"
        );
        assert!(
            auth.contains("SignedHeaders=host;x-amz-content-sha256;x-amz-date"),
            "{auth}"
        );
        // nothing to remove: the client sent no auth headers
        assert!(rw.remove.is_empty(), "{:?}", rw.remove);
    }

    #[test]
    fn s3_path_goes_out_as_signed() {
        // Raw sub-delimiters are encoded, encoded unreserved characters
        // decoded, existing escapes (also `%2F`) kept, a raw `+` is a plus.
        let rw = signed(run(
            &cfg(""),
            &headers("/b/mac@2x!'()*$,;:=&.png/%7e%41%2F%20+?prefix=a+b@c", &[]),
        ));
        assert_eq!(
            rw.path,
            "/b/mac%402x%21%27%28%29%2A%24%2C%3B%3A%3D%26.png/~A%2F%20%2B?prefix=a+b@c"
        );
        // Other services sign the wire path double-encoded; it is sent as it came.
        let c = cfg(r#","service":"execute-api","endpoint":"api.example""#);
        let rw = signed(run(&c, &headers("/prod/a@b/%7e/./x", &[])));
        assert_eq!(rw.path, "/prod/a@b/%7e/./x");
    }

    #[test]
    fn the_client_never_picks_the_storage_host() {
        // Without an endpoint, S3 goes to the region's AWS endpoint: a
        // client's virtual-host name would pick the bucket, signed.
        let mut h = headers("/b/k", &[]);
        h[2].1 = b"victim.s3.amazonaws.com".to_vec();
        let rw = signed(run(&cfg(""), &h));
        assert_eq!(rw.authority, "s3.us-east-1.amazonaws.com");
        assert!(rw.authority_changed);
        let c = cfg(r#","endpoint":"127.0.0.1:8333""#);
        assert_eq!(signed(run(&c, &h)).authority, "127.0.0.1:8333");
    }

    #[test]
    fn bucket_mapping_path_and_virtual() {
        let mapping = r#","endpoint":"s3.example","buckets":[{"prefix":"/internal-assets/","bucket":"assets","key_prefix":"pub/"},{"prefix":"/internal-assets/private/","bucket":"private-assets"}]"#;
        let rw = signed(run(
            &cfg(mapping),
            &headers("/internal-assets/x/1.jpg", &[]),
        ));
        assert_eq!(rw.path, "/assets/pub/x/1.jpg");
        assert_eq!(rw.authority, "s3.example");
        // the longest prefix wins
        let rw = signed(run(
            &cfg(mapping),
            &headers("/internal-assets/private/2.jpg", &[]),
        ));
        assert_eq!(rw.path, "/private-assets/2.jpg");
        let virt = format!(r#"{mapping},"addressing_style":"virtual""#);
        let rw = signed(run(
            &cfg(&virt),
            &headers("/internal-assets/x/1.jpg?versionId=3", &[]),
        ));
        assert_eq!(rw.path, "/pub/x/1.jpg?versionId=3");
        assert_eq!(rw.authority, "assets.s3.example");
        let e = run(&cfg(mapping), &headers("/elsewhere/1.jpg", &[])).unwrap_err();
        assert_eq!(e, Answer::NoBucketMapped.into());
    }

    #[test]
    fn mapped_keys_are_validated_before_storage() {
        let mapping = r#","buckets":[{"prefix":"/internal-assets/","bucket":"assets"}]"#;
        for bad in [
            "/internal-assets/../secret",
            "/internal-assets/%2e%2e/secret",
            "/internal-assets/a%2fb",
            "/internal-assets/a//b",
            "/internal-assets/a%00b",
            "/internal-assets/",
        ] {
            let e = run(&cfg(mapping), &headers(bad, &[])).unwrap_err();
            assert_eq!(e.answer, Answer::UnsafeKey, "{bad}: {e:?}");
            assert!(
                e.message().starts_with("unsafe object key: "),
                "{bad}: {e:?}"
            );
        }
        let long = format!("/internal-assets/{}", "k".repeat(1025));
        assert_eq!(
            run(&cfg(mapping), &headers(&long, &[]))
                .unwrap_err()
                .status(),
            400
        );
    }

    #[test]
    fn virtual_without_mapping_moves_bucket_to_host() {
        let c = cfg(r#","endpoint":"s3.amazonaws.com","addressing_style":"virtual""#);
        let rw = signed(run(&c, &headers("/my-bucket/dir/k.txt", &[])));
        assert_eq!(rw.authority, "my-bucket.s3.amazonaws.com");
        assert_eq!(rw.path, "/dir/k.txt");
        let rw = signed(run(&c, &headers("/my-bucket?list-type=2", &[])));
        assert_eq!(rw.path, "/?list-type=2");
        assert_eq!(
            run(&c, &headers("/Bad_Bucket/k", &[]))
                .unwrap_err()
                .status(),
            400
        );
    }

    #[test]
    fn client_auth_is_replaced_and_presign_params_dropped() {
        let h = headers(
            "/b/k?X-Amz-Signature=abc&x-amz-credential=zz&partNumber=1",
            &[
                ("authorization", "AWS4-HMAC-SHA256 forged"),
                ("x-amz-date", "20000101T000000Z"),
                ("x-amz-content-sha256", "abcd"),
                ("x-amz-meta-color", "blue"),
            ],
        );
        let rw = signed(run(&cfg(""), &h));
        assert_eq!(rw.path, "/b/k?partNumber=1");
        assert_ne!(set_value(&rw, "x-amz-date"), Some("20000101T000000Z"));
        assert_eq!(
            set_value(&rw, "x-amz-content-sha256"),
            Some("UNSIGNED-PAYLOAD")
        );
        let auth = set_value(&rw, "authorization").unwrap();
        assert!(auth.contains("x-amz-meta-color"), "{auth}");
        assert!(!auth.contains("forged"));
    }

    #[test]
    fn sigv2_presign_params_are_dropped_too() {
        let h = headers(
            "/b/k?AWSAccessKeyId=AKOLD&Signature=abc%3D&Expires=1700000000&versionId=3",
            &[],
        );
        assert_eq!(signed(run(&cfg(""), &h)).path, "/b/k?versionId=3");
    }

    #[test]
    fn a_rewrite_applies_to_the_whole_map() {
        let h = headers(
            "/internal-assets/k",
            &[("range", "bytes=0-3"), ("x-amz-date", "old")],
        );
        let c = cfg(
            r#","buckets":[{"prefix":"/internal-assets/","bucket":"assets"}],"endpoint":"s3.local""#,
        );
        let rw = signed(run(&c, &h));
        let map = rw.applied_to(&h);
        let get = |n: &str| -> Vec<&[u8]> {
            map.iter()
                .filter(|(k, _)| *k == n)
                .map(|(_, v)| *v)
                .collect()
        };
        assert_eq!(get(":path"), vec![&b"/assets/k"[..]]);
        assert_eq!(get(":authority"), vec![&b"s3.local"[..]]);
        assert_eq!(get("range"), vec![&b"bytes=0-3"[..]]);
        assert_eq!(get("x-amz-date").len(), 1);
        assert_ne!(get("x-amz-date"), vec![&b"old"[..]]);
        assert_eq!(get("authorization").len(), 1);
    }

    #[test]
    fn streaming_payloads() {
        let h = headers(
            "/b/k",
            &[("x-amz-content-sha256", STREAMING_UNSIGNED_TRAILER)],
        );
        let rw = signed(run(&cfg(""), &h));
        assert_eq!(
            set_value(&rw, "x-amz-content-sha256"),
            Some(STREAMING_UNSIGNED_TRAILER)
        );
        let h = headers(
            "/b/k",
            &[("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")],
        );
        assert_eq!(run(&cfg(""), &h).unwrap_err().status(), 400);
    }

    #[test]
    fn non_s3_service_hashes_empty_body() {
        let c = cfg(r#","service":"execute-api","endpoint":"api.example""#);
        let rw = signed(run(&c, &headers("/prod/items", &[])));
        assert!(set_value(&rw, "x-amz-content-sha256").is_none());
        assert!(set_value(&rw, "authorization")
            .unwrap()
            .contains("/execute-api/aws4_request"));
    }

    #[test]
    fn hashed_bodies_are_signed_with_their_hash() {
        let hash = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
        let h = headers(
            "/prod/items",
            &[(":method", "POST"), ("content-length", "5")],
        );
        let api = cfg(r#","service":"execute-api","endpoint":"api.example""#);
        assert!(hashes_body(&api, &h));
        assert_eq!(declared_length(&h), Some(5));
        let rw = match prepare(
            &api,
            Some(&creds()),
            &h,
            Body::Hashed(hash),
            1_700_000_000,
            &mut SigningKeyCache::default(),
        ) {
            Ok(Signed::Yes(rw)) => rw,
            other => panic!("{other:?}"),
        };
        // Only S3 gets the header; the hash is in the signature either way.
        assert!(set_value(&rw, "x-amz-content-sha256").is_none());
        let s3 = cfg(r#","body":"hash""#);
        let plain = headers("/b/k", &[]);
        let rw = match prepare(
            &s3,
            Some(&creds()),
            &plain,
            Body::Hashed(hash),
            1_700_000_000,
            &mut SigningKeyCache::default(),
        ) {
            Ok(Signed::Yes(rw)) => rw,
            other => panic!("{other:?}"),
        };
        assert_eq!(set_value(&rw, "x-amz-content-sha256"), Some(hash));
        // S3 streams by default; aws-chunked uploads stream whatever the setting.
        assert!(!hashes_body(&cfg(""), &h));
        let chunked = headers(
            "/b/k",
            &[("x-amz-content-sha256", STREAMING_UNSIGNED_TRAILER)],
        );
        assert!(!hashes_body(&s3, &chunked));
    }

    #[test]
    fn the_scope_refuses_before_signing() {
        let c = cfg(
            r#","scope":{"methods":["GET","HEAD"],"buckets":["assets"],"key_prefixes":["public/"]}"#,
        );
        assert!(matches!(
            run(&c, &headers("/assets/public/a.txt", &[])),
            Ok(Signed::Yes(_))
        ));
        let mut put = headers("/assets/public/a.txt", &[]);
        put[0].1 = b"PUT".to_vec();
        for h in [
            put,
            headers("/other/public/a.txt", &[]),
            headers("/assets/private/a.txt", &[]),
            headers("/", &[]),
        ] {
            let r = run(&c, &h).unwrap_err();
            assert_eq!(r.counter(), Some(Counter::ScopeRefused), "{r:?}");
            assert_eq!(r.status(), 403, "{r:?}");
        }
        let v = cfg(
            r#","addressing_style":"virtual","endpoint":"s3.local","scope":{"buckets":["assets"]}"#,
        );
        assert!(matches!(
            run(&v, &headers("/assets/k", &[])),
            Ok(Signed::Yes(_))
        ));
        assert!(
            run(&v, &headers("/other/k", &[])).unwrap_err().counter()
                == Some(Counter::ScopeRefused)
        );
    }

    #[test]
    fn a_scope_signs_only_its_headers_and_safe_keys() {
        let c = cfg(
            r#","scope":{"methods":["GET","PUT"],"buckets":["assets"],"key_prefixes":["docs/"]}"#,
        );
        let put = |path: &str, extra: &[(&str, &str)]| {
            let mut h = headers(path, extra);
            h[0].1 = b"PUT".to_vec();
            run(&c, &h)
        };
        let rw = signed(put(
            "/assets/docs/copy.txt",
            &[
                ("x-amz-copy-source", "/assets/docs/a.txt"),
                ("x-amz-meta-colour", "blue"),
            ],
        ));
        let auth = set_value(&rw, "authorization").unwrap();
        assert!(auth.contains("x-amz-copy-source;x-amz-date;x-amz-meta-colour"));
        for extra in [
            ("x-amz-copy-source", "/assets/secret.txt"),
            ("x-amz-copy-source", "/other/docs/a.txt"),
            ("x-amz-acl", "public-read"),
        ] {
            let r = put("/assets/docs/copy.txt", &[extra]).unwrap_err();
            assert_eq!(r.counter(), Some(Counter::ScopeRefused), "{extra:?}: {r:?}");
            assert_eq!(r.status(), 403, "{extra:?}: {r:?}");
        }
        // Client auth headers are replaced, not refused.
        assert!(put("/assets/docs/a.txt", &[("x-amz-date", "x")]).is_ok());
        for bad in [
            "/assets/docs/../secret.txt",
            "/assets/docs/%2e%2e/x",
            "/assets/docs//x",
        ] {
            let r = run(&c, &headers(bad, &[])).unwrap_err();
            assert_eq!(r.answer, Answer::UnsafeKey, "{bad}: {r:?}");
        }
        // An open scope signs what the client sends: the credentials' full power.
        let open = cfg("");
        assert!(run(&open, &headers("/a/b/../c", &[("x-amz-acl", "x")])).is_ok());
    }

    #[test]
    fn session_token_is_sent_and_signed() {
        let mut cr = creds();
        cr.session_token = Some("TOKEN".into());
        let (c, h) = (cfg(""), headers("/b/k", &[]));
        let rw = match prepare(
            &c,
            Some(&cr),
            &h,
            Body::None,
            1_700_000_000,
            &mut SigningKeyCache::default(),
        ) {
            Ok(Signed::Yes(rw)) => rw,
            other => panic!("{other:?}"),
        };
        assert_eq!(set_value(&rw, "x-amz-security-token"), Some("TOKEN"));
        assert!(set_value(&rw, "authorization")
            .unwrap()
            .contains("x-amz-security-token"));
    }

    #[test]
    fn no_credentials_is_reported_not_signed() {
        let h = headers(
            "/b/k",
            &[("authorization", "AWS4-HMAC-SHA256 client's own")],
        );
        let c = cfg("");
        let r = prepare(&c, None, &h, Body::None, 0, &mut SigningKeyCache::default());
        match r {
            Ok(Signed::NoCredentials(rw)) => {
                assert!(rw.set.is_none());
                // forwarded unsigned, never with the client's own auth
                assert_eq!(rw.remove, vec!["authorization"]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn malformed_requests_are_4xx() {
        let c = cfg("");
        let refused = |h: &[(String, Vec<u8>)]| run(&c, h).unwrap_err();
        assert_eq!(
            refused(&headers("nopath", &[])),
            Answer::RelativePath.into()
        );
        let mut h = headers("/b/k", &[]);
        h.retain(|(k, _)| k != ":authority");
        assert_eq!(refused(&h), Answer::MissingPseudoHeader.with(":authority"));
        let mut h = headers("/b/k", &[]);
        h.push(("x-amz-meta-bin".into(), vec![0xff, 0xfe]));
        assert_eq!(
            refused(&h).message(),
            "header x-amz-meta-bin is not valid UTF-8"
        );
        assert_eq!(refused(&headers("/b/%zz", &[])).answer, Answer::CannotSign);
    }
}
