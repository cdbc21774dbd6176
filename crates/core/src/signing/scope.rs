//! What a signing edge (flow C) may sign. Whoever reaches its port gets the
//! permissions of the proxy's credentials, so an operator can narrow them to
//! methods, buckets and key prefixes; anything else is refused before it is
//! signed.

use crate::answers::{Answer, Refusal};
use crate::internal_redirect::target::{decode_lenient, validate_key, KeyRules};
use crate::primitives::ascii;

/// The validated scope; empty lists mean "any".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignScope {
    /// Upper-case HTTP methods, e.g. `["GET", "HEAD"]` for a read-only edge.
    pub methods: Vec<String>,
    /// S3 buckets.
    pub buckets: Vec<String>,
    /// S3 key prefixes (decoded keys), e.g. `"public/"`.
    pub key_prefixes: Vec<String>,
    /// Client `x-amz-*` headers signed besides [`AMZ_HEADERS`]: exact names,
    /// or a prefix ending in `*`.
    pub amz_headers: Vec<String>,
    /// Query parameters of object-level requests signed besides
    /// [`OBJECT_PARAMS`].
    pub query_parameters: Vec<String>,
}

/// The client `x-amz-*` headers a scoped edge signs by default: metadata,
/// checksums, body framing and copies (whose source is checked against the
/// scope). Anything else (`x-amz-acl`, `x-amz-grant-*`, `x-amz-tagging`,
/// `x-amz-website-redirect-location`, encryption...) widens what a request
/// does beyond its method, bucket and key, so it is refused unless the
/// operator lists it. A name ending in `*` is a prefix.
pub const AMZ_HEADERS: [&str; 8] = [
    "x-amz-meta-*",
    "x-amz-checksum-*",
    "x-amz-sdk-checksum-algorithm",
    "x-amz-decoded-content-length",
    "x-amz-trailer",
    "x-amz-copy-source*",
    "x-amz-metadata-directive",
    "x-amz-expected-bucket-owner",
];

/// The copy header whose bucket and key are a read of their own.
const COPY_SOURCE: &str = "x-amz-copy-source";

/// Query parameters of an object-level request a scoped edge signs by
/// default: what reads (`response-*` overrides, versions, parts) and
/// multipart uploads need. Subresources such as `acl`, `tagging`, `policy`,
/// `torrent`, `restore`, `select`, `retention` or `legal-hold` are other
/// operations than the method says, so they are refused unless listed.
const OBJECT_PARAMS: [&str; 8] = [
    "response-*",
    "versionId",
    "partNumber",
    "uploads",
    "uploadId",
    "max-parts",
    "part-number-marker",
    "x-id",
];

/// Whether `name` is one of `list` or the operator's `extra` (an entry
/// ending in `*` is a prefix).
fn listed(list: &[&str], extra: &[String], name: &str) -> bool {
    list.iter()
        .copied()
        .chain(extra.iter().map(String::as_str))
        .any(|e| match e.as_bytes().split_last() {
            Some((b'*', prefix)) => name.as_bytes().starts_with(prefix),
            _ => e == name,
        })
}

/// Checks a scoped query: each name in `allowed` (or `extra`), not
/// percent-encoded, and given once (storage reading the first of repeated names while a check reads
/// the last is how a listing escapes its prefix), each value plainly
/// encoded. Returns the `prefix` value, if any.
fn scoped_params<'q>(
    query: &'q str,
    allowed: &[&str],
    extra: &[String],
    refusal: Answer,
) -> Result<Option<&'q str>, Answer> {
    let name_of = |pair: &'q str| ascii::split_once(pair, b'=').unwrap_or((pair, ""));
    let mut prefix = None;
    // Names are allowlisted first, so a repeat is found within the first
    // few pairs: rescanning them is cheap.
    for (i, pair) in query.split('&').enumerate() {
        if pair.is_empty() {
            continue;
        }
        let (name, value) = name_of(pair);
        // An encoded name is another name to storage once decoded (a
        // prefix such as `response-*` would match it as written).
        if name.contains('%') || !listed(allowed, extra, name) {
            return Err(refusal);
        }
        if query.split('&').take(i).any(|p| name_of(p).0 == name) {
            return Err(Answer::ScopeRepeatedParameter);
        }
        if !ascii::plain_encoded(value.as_bytes()) {
            return Err(Answer::ScopeEncoding);
        }
        if name == "prefix" {
            prefix = Some(value);
        }
    }
    Ok(prefix)
}

/// Query parameters of a bucket listing (ListObjects v1/v2): the only
/// bucket-level request a prefix-scoped edge signs.
const LIST_PARAMS: [&str; 9] = [
    "list-type",
    "prefix",
    "delimiter",
    "continuation-token",
    "start-after",
    "max-keys",
    "encoding-type",
    "fetch-owner",
    "marker",
];

impl SignScope {
    /// Whether the scope limits anything at all. Any field set makes it a
    /// scope (only `amz_headers` set: the allowlists with those additions).
    pub fn is_open(&self) -> bool {
        self.methods.is_empty()
            && self.buckets.is_empty()
            && self.key_prefixes.is_empty()
            && self.amz_headers.is_empty()
            && self.query_parameters.is_empty()
    }

    /// Checks one request. `bucket` and `key` (wire form) are `None` for a
    /// service other than S3, where only methods apply. The error says why,
    /// for the client's 403.
    pub fn check(
        &self,
        method: &str,
        s3: Option<(Option<&str>, &str)>,
        query: &str,
    ) -> Result<(), Refusal> {
        if !self.methods.is_empty() && !self.methods.iter().any(|m| m == method) {
            return Err(Answer::ScopeMethod.with(method.to_string()));
        }
        let Some((bucket, key)) = s3 else {
            return Ok(());
        };
        if !self.buckets.is_empty() && !bucket.is_some_and(|b| self.buckets.iter().any(|x| x == b))
        {
            return Err(Answer::ScopeBucket.into());
        }
        if !key.is_empty() {
            scoped_params(
                query,
                &OBJECT_PARAMS,
                &self.query_parameters,
                Answer::ScopeQuery,
            )?;
            return if self.within(&decode_lenient(key.as_bytes())) {
                Ok(())
            } else {
                Err(Answer::ScopeKey.into())
            };
        }
        // A bucket-level request: only a listing (bucket policies, ACLs,
        // multi-object deletes are bucket-level too), of an allowed prefix
        // (or of anything when no prefixes are set).
        let not_a_listing = Answer::ScopeNotAListing;
        if method != "GET" && method != "HEAD" {
            return Err(not_a_listing.into());
        }
        let prefix = scoped_params(query, &LIST_PARAMS, &[], not_a_listing)?;
        if self.key_prefixes.is_empty() {
            return Ok(());
        }
        match prefix {
            Some(p) if self.within(&decode_lenient(p.as_bytes())) => Ok(()),
            _ => Err(Answer::ScopeListing.into()),
        }
    }

    /// Whether a decoded key lies under one of the prefixes (or any key
    /// when there are none).
    fn within(&self, key: &[u8]) -> bool {
        self.key_prefixes.is_empty()
            || self
                .key_prefixes
                .iter()
                .any(|p| key.starts_with(p.as_bytes()))
    }

    /// Checks one client `x-amz-*` header of a scoped request (the signer's
    /// own are removed before): it must be in the allowlist, and a copy
    /// source must name a safe key inside the buckets and prefixes, since
    /// storage reads it with the proxy's credentials.
    pub fn check_header(&self, name: &str, value: &[u8], rules: &KeyRules) -> Result<(), Refusal> {
        if !listed(&AMZ_HEADERS, &self.amz_headers, name) {
            return Err(Answer::ScopeHeader.with(name.to_string()));
        }
        if name == COPY_SOURCE && !self.copy_source_within(value, rules) {
            return Err(Answer::ScopeCopySource.into());
        }
        Ok(())
    }

    /// `[/]bucket/key[?versionId=v]`, the key percent-encoded: strictly
    /// that form (an encoded separator, a raw `+` or another suffix could be
    /// read differently by storage), a safe key, inside the scope.
    fn copy_source_within(&self, value: &[u8], rules: &KeyRules) -> bool {
        let Ok(v) = std::str::from_utf8(value) else {
            return false;
        };
        let (source, version) = ascii::split_once(v, b'?').unwrap_or((v, ""));
        let source = match ascii::split_once(source, b'/') {
            Some(("", rest)) => rest,
            _ => source,
        };
        let Some((bucket, key)) = ascii::split_once(source, b'/') else {
            return false;
        };
        scoped_params(version, &["versionId"], &[], Answer::ScopeCopySource).is_ok()
            // Plain bucket characters: an escape could hide a separator.
            && !bucket.is_empty()
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
            && (self.buckets.is_empty() || self.buckets.iter().any(|b| b == bucket))
            && !key.as_bytes().contains(&b'+')
            && validate_key(key, rules).is_ok()
            && self.within(&decode_lenient(key.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> SignScope {
        SignScope {
            methods: vec!["GET".into(), "HEAD".into()],
            buckets: vec!["assets".into()],
            key_prefixes: vec!["public/".into()],
            ..SignScope::default()
        }
    }

    #[test]
    fn open_scope_allows_everything() {
        let s = SignScope::default();
        assert!(s.is_open());
        assert!(s.check("DELETE", Some((Some("any"), "k")), "").is_ok());
        assert!(s.check("POST", None, "").is_ok());
    }

    #[test]
    fn methods_buckets_and_prefixes() {
        let s = scope();
        assert!(s
            .check("GET", Some((Some("assets"), "public/a.txt")), "")
            .is_ok());
        assert!(s
            .check("HEAD", Some((Some("assets"), "public/a%20b.txt")), "")
            .is_ok());
        assert!(s
            .check("GET", Some((Some("assets"), "public%2Fa.txt")), "")
            .is_ok());
        for (method, bucket, key) in [
            ("PUT", Some("assets"), "public/a.txt"),
            ("DELETE", Some("assets"), "public/a.txt"),
            ("GET", Some("other"), "public/a.txt"),
            ("GET", None, ""),
            ("GET", Some("assets"), "private/a.txt"),
            ("GET", Some("assets"), "publicity.txt"),
        ] {
            assert!(
                s.check(method, Some((bucket, key)), "").is_err(),
                "{method} {bucket:?} {key}"
            );
        }
        // Non-S3 services: only the methods apply.
        assert!(s.check("GET", None, "").is_ok());
        assert!(s.check("POST", None, "").is_err());
    }

    #[test]
    fn copy_sources_are_reads_inside_the_scope() {
        let s = SignScope {
            methods: vec!["PUT".into()],
            buckets: vec!["assets".into()],
            key_prefixes: vec!["docs/".into()],
            ..SignScope::default()
        };
        let rules = KeyRules::default();
        let copy = |v: &str| s.check_header("x-amz-copy-source", v.as_bytes(), &rules);
        for ok in [
            "/assets/docs/a.txt",
            "assets/docs/a.txt",
            "/assets/docs/a%20b.txt?versionId=3%2Fx%2B",
        ] {
            assert!(copy(ok).is_ok(), "{ok}");
        }
        for bad in [
            // An encoded separator is not a safe key, even inside the prefix.
            "assets/docs%2Fsub/a.txt",
            "/assets/secret.txt",
            "/other/docs/a.txt",
            "%2Fassets%2Fdocs%2Fa.txt",
            "/assets/docs/../secret.txt",
            "/assets/docs/%2e%2e/secret.txt",
            "/assets/docs//a.txt",
            "/assets/docs/a+b.txt",
            "/assets/docs/a.txt?versionId=1&x=2",
            "/assets/docs/a.txt?partNumber=1",
            "/assets",
            "arn:aws:s3:::assets/docs/a.txt",
            "/Assets/docs/a.txt",
            "",
        ] {
            assert!(copy(bad).is_err(), "{bad}");
        }
        assert!(s
            .check_header("x-amz-copy-source", &[0xff], &rules)
            .is_err());
        // Other headers: the default allowlist, plus the operator's.
        for ok in [
            "x-amz-meta-colour",
            "x-amz-checksum-crc32",
            "x-amz-sdk-checksum-algorithm",
            "x-amz-decoded-content-length",
            "x-amz-trailer",
            "x-amz-copy-source-range",
            "x-amz-metadata-directive",
        ] {
            assert!(s.check_header(ok, b"v", &rules).is_ok(), "{ok}");
        }
        for bad in [
            "x-amz-acl",
            "x-amz-grant-read",
            "x-amz-tagging",
            "x-amz-website-redirect-location",
            "x-amz-storage-class",
            "x-amz-server-side-encryption",
        ] {
            let e = s.check_header(bad, b"v", &rules).unwrap_err();
            assert_eq!(
                e.message(),
                format!("this signing edge does not sign {bad}")
            );
        }
        let wider = SignScope {
            amz_headers: vec!["x-amz-tagging".into(), "x-amz-server-side-*".into()],
            ..s.clone()
        };
        assert!(wider.check_header("x-amz-tagging", b"a=b", &rules).is_ok());
        assert!(wider
            .check_header("x-amz-server-side-encryption", b"AES256", &rules)
            .is_ok());
        assert!(wider.check_header("x-amz-acl", b"private", &rules).is_err());
    }

    #[test]
    fn object_queries_are_an_allowlist() {
        let s = scope();
        let k = Some((Some("assets"), "public/a.txt"));
        for ok in [
            "",
            "versionId=3",
            "response-content-type=text%2Fplain&response-cache-control=no-cache",
            "partNumber=2",
            "uploads",
            "uploadId=abc&partNumber=1",
            "x-id=GetObject",
        ] {
            assert!(s.check("GET", k, ok).is_ok(), "{ok}");
        }
        for bad in [
            "acl",
            "tagging",
            "torrent",
            "policy",
            "restore",
            "select&select-type=2",
            "retention",
            "versionId=1&versionId=2",
            "version%49d=1",
            "VersionId=1",
            "response-content-type=text/html;x",
            "response-content-type=a+b",
            "versionId=%zz",
            // A prefix-matched name is one name to storage once decoded.
            "response-content-type=text%2Fplain&response-%63ontent-type=text%2Fhtml",
            "response-%63ontent-type=text%2Fhtml",
            "response-content-type=a&response-content-type=b",
        ] {
            assert!(s.check("GET", k, bad).is_err(), "{bad}");
        }
        let tagging = SignScope {
            query_parameters: vec!["tagging".into()],
            ..scope()
        };
        assert!(tagging.check("GET", k, "tagging").is_ok());
        assert!(tagging.check("GET", k, "acl").is_err());
    }

    #[test]
    fn listings_only_within_the_prefixes() {
        let s = scope();
        let b = Some((Some("assets"), ""));
        assert!(s
            .check("GET", b, "list-type=2&prefix=public%2Fx&delimiter=%2F")
            .is_ok());
        assert!(s.check("GET", b, "list-type=2&prefix=private%2F").is_err());
        assert!(s.check("GET", b, "list-type=2").is_err());
        assert!(s.check("GET", b, "acl&prefix=public%2F").is_err());
        assert!(s.check("GET", b, "").is_err());
        // SeaweedFS reads the first of repeated names, asset-gate would
        // check one of them: repeated and encoded names are refused, and so
        // are separators some parsers split on.
        for bad in [
            "list-type=2&prefix=&prefix=public%2F",
            "list-type=2&prefix=public%2F&prefix=",
            "list-type=2&list-type=1&prefix=public%2F",
            "list-type=2&pre%66ix=&prefix=public%2F",
            "list-type=2&prefix=public%2F;x",
            "list-type=2&prefix=public/+",
        ] {
            assert!(s.check("GET", b, bad).is_err(), "{bad}");
        }
        // Bucket-level requests other than listings, also without prefixes.
        let buckets = SignScope {
            buckets: vec!["assets".into()],
            ..SignScope::default()
        };
        assert!(buckets.check("GET", b, "list-type=2").is_ok());
        assert!(buckets.check("HEAD", b, "").is_ok());
        for (method, query) in [
            ("PUT", "policy"),
            ("GET", "policy"),
            ("POST", "delete"),
            ("DELETE", ""),
            ("PUT", ""),
        ] {
            assert!(buckets.check(method, b, query).is_err(), "{method} {query}");
        }
    }
}
