//! AWS Signature Version 4 (header and presigned-query auth), written as a pure module.
//!
//! Why pure: the filter runs it once per request inside Envoy's wasm VM, so it must not call
//! the host, must not panic on any input (a trapped VM drops traffic) and must stay small.
//! The caller passes the wall-clock time in unix seconds and the exact request that goes on
//! the wire; every malformed input is reported as a [`SigV4Error`].
//!
//! Canonicalisation follows the SigV4 specification and the AWS signing test suite:
//! - URI: S3 services decode each path segment and encode it once, without normalisation;
//!   every other service normalises the path (RFC 3986 dot-segment removal, merged slashes)
//!   and encodes the already-encoded wire path again ("double encoding"), see [`PathRules`].
//! - Query: each `key=value` pair is form-decoded (`+` is a space), RFC 3986-encoded, and the
//!   pairs are sorted by encoded key, then encoded value.
//! - Headers: lowercase names, sorted; duplicate names joined with `,` in arrival order; values
//!   trimmed of spaces with inner runs of spaces collapsed.
//!
//! Layout: this module only names the parts. `types` holds the requests,
//! credentials, results and errors; `sign` the two ways to sign (headers and
//! presigned queries); `canonical` builds the strings that get signed; `key`
//! hashes and derives (and caches) the signing key; `presign` writes a
//! presigned URL's query; `time` writes the request time.

mod canonical;
mod key;
mod presign;
mod sign;
mod time;
mod types;

pub use canonical::{
    canonical_headers, canonical_query, canonical_request, canonical_uri, credential_scope,
    into_canonical_uri, string_to_sign, CanonicalHeaders,
};
pub use key::{
    derive_signing_key, hmac_hex, sha256_hex, sha256_hex16, PayloadHasher, SigningKeyCache,
};
pub use presign::{presigned_query, PresignRequest};
pub use sign::{presign_query, presign_with, sign_headers, sign_headers_under, sign_headers_with};
pub use time::{amz_date, civil_from_unix, CivilDateTime};
pub use types::{
    Credentials, HeaderSignature, HeaderSigning, PathRules, Presigned, Presigning, Request, Scope,
    SigV4Error, SignatureHeaders, SignatureHeadersIter, ALGORITHM, EMPTY_PAYLOAD_SHA256,
    MAX_PRESIGN_EXPIRES_SECS, UNSIGNED_PAYLOAD,
};

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn creds() -> Credentials {
        Credentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            session_token: None,
        }
    }

    pub(super) const SCOPE: Scope<'static> = Scope {
        region: "us-east-1",
        service: "s3",
    };
    const HOST: [(&str, &str); 1] = [("Host", "bucket.example.com")];
    const OPTS: HeaderSigning<'static> = HeaderSigning {
        payload_hash: UNSIGNED_PAYLOAD,
        add_content_sha256_header: true,
        session_token_signed: true,
    };

    fn req<'a>(path: &'a str, query: &'a str, headers: &'a [(&'a str, &'a str)]) -> Request<'a> {
        Request {
            method: "GET",
            path,
            query,
            headers,
        }
    }

    fn sign(r: &Request) -> Result<Vec<(&'static str, String)>, SigV4Error> {
        sign_headers(
            r,
            &creds(),
            &SCOPE,
            1_440_938_160,
            &OPTS,
            &mut SigningKeyCache::new(),
        )
        .map(|h| h.to_vec())
    }

    #[test]
    fn bad_percent_encoding_is_an_error() {
        for path in ["/a%", "/a%2", "/a%zz", "/%G0/b", "/a/%2"] {
            assert_eq!(
                canonical_uri(path, PathRules::S3),
                Err(SigV4Error::InvalidPercentEncoding { part: "path" }),
                "{path}"
            );
            assert_eq!(
                canonical_uri(path, PathRules::Generic { normalize: true }),
                Err(SigV4Error::InvalidPercentEncoding { part: "path" }),
                "{path}"
            );
            assert!(sign(&req(path, "", &HOST)).is_err());
        }
        for query in ["a=%", "a%4=1", "a=%x1", "%%"] {
            assert_eq!(
                canonical_query(query),
                Err(SigV4Error::InvalidPercentEncoding { part: "query" }),
                "{query}"
            );
            assert_eq!(
                sign(&req("/k", query, &HOST)),
                Err(SigV4Error::InvalidPercentEncoding { part: "query" })
            );
        }
        // Valid escapes in either case of hex digit are fine and come out uppercase.
        assert_eq!(
            canonical_uri("/a%2fb/%e2%82%ac", PathRules::S3).as_deref(),
            Ok("/a%2Fb/%E2%82%AC")
        );
    }

    #[test]
    fn path_must_be_absolute_and_clean() {
        assert_eq!(sign(&req("", "", &HOST)), Err(SigV4Error::PathNotAbsolute));
        assert_eq!(
            sign(&req("key", "", &HOST)),
            Err(SigV4Error::PathNotAbsolute)
        );
        for path in ["/a?b", "/a#b", "/a\r\nb", "/a\0"] {
            assert_eq!(
                sign(&req(path, "", &HOST)),
                Err(SigV4Error::InvalidPathChar),
                "{path:?}"
            );
        }
    }

    #[test]
    fn missing_host_is_an_error() {
        assert_eq!(sign(&req("/k", "", &[])), Err(SigV4Error::MissingHost));
        assert_eq!(
            sign(&req("/k", "", &[("x-amz-meta-a", "b")])),
            Err(SigV4Error::MissingHost)
        );
        assert_eq!(
            sign(&req("/k", "", &[("host", "  ")])),
            Err(SigV4Error::MissingHost)
        );
        assert_eq!(canonical_headers(&[]), Err(SigV4Error::MissingHost));
        let presigned = presign_query(
            &req("/k", "", &[]),
            &creds(),
            &SCOPE,
            0,
            60,
            UNSIGNED_PAYLOAD,
            &mut SigningKeyCache::new(),
        );
        assert_eq!(presigned, Err(SigV4Error::MissingHost));
    }

    #[test]
    fn control_characters_in_header_values_are_errors() {
        for value in ["a\rb", "a\nb", "a\0b", "a\r\nx-amz-evil: 1", "\x7f", "\x01"] {
            let headers = [("Host", "h"), ("X-Amz-Meta-A", value)];
            assert_eq!(
                sign(&req("/k", "", &headers)),
                Err(SigV4Error::InvalidHeaderValue {
                    name: "x-amz-meta-a".into()
                }),
                "{value:?}"
            );
        }
        // The error message names the header, never the value.
        let e = sign(&req("/k", "", &[("Host", "h"), ("x-secret", "s3cr3t\n")]))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("x-secret") && !e.contains("s3cr3t"), "{e}");
        // A tab is a legal header character and is kept.
        assert!(sign(&req("/k", "", &[("Host", "h"), ("x-a", "a\tb")])).is_ok());
        for name in ["", ":authority", "bad name", "a\nb", "x:y"] {
            assert_eq!(
                canonical_headers(&[("host", "h"), (name, "v")]),
                Err(SigV4Error::InvalidHeaderName),
                "{name:?}"
            );
        }
    }

    #[test]
    fn other_inputs_are_validated() {
        let r = req("/k", "", &HOST);
        let mut cache = SigningKeyCache::new();
        let mut bad = creds();
        bad.secret_access_key.clear();
        assert!(matches!(
            sign_headers(&r, &bad, &SCOPE, 0, &OPTS, &mut cache),
            Err(SigV4Error::InvalidCredentials { .. })
        ));
        for id in ["", "AK/ID", "AK ID", "AK,ID"] {
            let mut bad = creds();
            bad.access_key_id = id.into();
            assert!(matches!(
                sign_headers(&r, &bad, &SCOPE, 0, &OPTS, &mut cache),
                Err(SigV4Error::InvalidCredentials { .. })
            ));
        }
        for token in ["", "tok\r\nen"] {
            let mut bad = creds();
            bad.session_token = Some(token.into());
            assert!(matches!(
                sign_headers(&r, &bad, &SCOPE, 0, &OPTS, &mut cache),
                Err(SigV4Error::InvalidCredentials { .. })
            ));
        }
        for (region, service, field) in [
            ("", "s3", "region"),
            ("us/east", "s3", "region"),
            ("us-east-1", "", "service"),
            ("us-east-1", "s 3", "service"),
        ] {
            let scope = Scope { region, service };
            assert_eq!(
                sign_headers(&r, &creds(), &scope, 0, &OPTS, &mut cache),
                Err(SigV4Error::InvalidScope { field })
            );
        }
        for method in ["", "GE T", "GET\n"] {
            let r = Request { method, ..r };
            assert_eq!(
                sign_headers(&r, &creds(), &SCOPE, 0, &OPTS, &mut cache),
                Err(SigV4Error::InvalidMethod)
            );
        }
        let opts = HeaderSigning {
            payload_hash: "a\nb",
            ..OPTS
        };
        assert_eq!(
            sign_headers(&r, &creds(), &SCOPE, 0, &opts, &mut cache),
            Err(SigV4Error::InvalidPayloadHash)
        );
        for secs in [0, MAX_PRESIGN_EXPIRES_SECS + 1] {
            assert_eq!(
                presign_query(&r, &creds(), &SCOPE, 0, secs, UNSIGNED_PAYLOAD, &mut cache),
                Err(SigV4Error::InvalidExpires { secs })
            );
        }
        assert!(presign_query(
            &r,
            &creds(),
            &SCOPE,
            0,
            MAX_PRESIGN_EXPIRES_SECS,
            UNSIGNED_PAYLOAD,
            &mut cache
        )
        .is_ok());
        assert_eq!(
            sign_headers(&r, &creds(), &SCOPE, u64::MAX, &OPTS, &mut cache),
            Err(SigV4Error::TimeOutOfRange {
                unix_time: u64::MAX
            })
        );
    }

    #[test]
    fn credentials_debug_redacts_secrets() {
        let mut c = creds();
        c.session_token = Some("TOKEN-VALUE-123".into());
        let shown = format!("{c:?} {c:#?}");
        assert!(shown.contains("AKIDEXAMPLE"), "{shown}");
        assert!(!shown.contains("wJalr"), "{shown}");
        assert!(!shown.contains("EXAMPLEKEY"), "{shown}");
        assert!(!shown.contains("TOKEN-VALUE"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
    }

    #[test]
    fn headers_are_trimmed_joined_and_replaced() {
        let headers = [
            ("Host", " h "),
            ("X-Amz-Meta-B", "  x   y  "),
            ("x-amz-meta-a", "2"),
            ("X-AMZ-META-A", "1"),
            ("X-Amz-Date", "19990101T000000Z"),
            ("Authorization", "AWS4-HMAC-SHA256 forged"),
            ("x-amz-content-sha256", "forged"),
        ];
        let signed = sign_headers_with(
            &req("/k", "", &headers),
            &creds(),
            &SCOPE,
            PathRules::S3,
            1_440_938_160,
            &OPTS,
            &mut SigningKeyCache::new(),
        );
        let signed = match signed {
            Ok(s) => s,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(
            signed.canonical_request,
            "GET\n/k\n\nhost:h\nx-amz-content-sha256:UNSIGNED-PAYLOAD\n\
             x-amz-date:20150830T123600Z\nx-amz-meta-a:2,1\nx-amz-meta-b:x y\n\n\
             host;x-amz-content-sha256;x-amz-date;x-amz-meta-a;x-amz-meta-b\nUNSIGNED-PAYLOAD"
        );
        let names: Vec<&str> = signed.headers.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            ["x-amz-date", "x-amz-content-sha256", "authorization"]
        );
        let mut with_token = creds();
        with_token.session_token = Some("tok".into());
        let out = sign_headers(
            &req("/k", "", &HOST),
            &with_token,
            &SCOPE,
            0,
            &OPTS,
            &mut SigningKeyCache::new(),
        )
        .unwrap()
        .to_vec();
        let names: Vec<&str> = out.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            [
                "x-amz-date",
                "x-amz-content-sha256",
                "x-amz-security-token",
                "authorization"
            ]
        );
        assert!(out
            .iter()
            .any(|(n, v)| *n == "authorization" && v.contains("x-amz-security-token")));
    }

    #[test]
    fn presign_replaces_existing_presign_params() {
        let mut c = creds();
        c.session_token = Some("a/b+c=".into());
        let mut cache = SigningKeyCache::new();
        let clean = presign_query(
            &req("/k", "x=1", &HOST),
            &c,
            &SCOPE,
            1_440_938_160,
            3600,
            UNSIGNED_PAYLOAD,
            &mut cache,
        );
        let dirty = presign_query(
            &req(
                "/k",
                "X-Amz-Signature=00&x=1&x-amz-date=1&X-Amz-Credential=evil&X-Amz-Expires=9",
                &HOST,
            ),
            &c,
            &SCOPE,
            1_440_938_160,
            3600,
            UNSIGNED_PAYLOAD,
            &mut cache,
        );
        assert!(clean.is_ok());
        assert_eq!(clean, dirty);
        let q = clean.unwrap_or_default();
        assert_eq!(q.matches("X-Amz-Signature=").count(), 1);
        assert!(q.contains("&X-Amz-Security-Token=a%2Fb%2Bc%3D&"), "{q}");
        assert!(q.starts_with("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=3600&"), "{q}");
        assert!(
            q.contains("&X-Amz-SignedHeaders=host&x=1&X-Amz-Signature="),
            "{q}"
        );
    }
}
