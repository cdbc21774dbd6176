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

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;

type HmacSha256 = Hmac<Sha256>;

/// Payload hash for bodies that are streamed and therefore not hashed (S3 accepts it over TLS
/// and from trusted proxies; asset-gate never buffers bodies).
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
/// SHA-256 of the empty string: the payload hash of a request without a body.
pub const EMPTY_PAYLOAD_SHA256: &str =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
/// The only algorithm this module implements; it names the scheme in every signature.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// Longest validity AWS accepts for a presigned URL (7 days).
pub const MAX_PRESIGN_EXPIRES_SECS: u64 = 604_800;

/// Why a request could not be signed. Messages never contain secrets or header values, so
/// they are safe to log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SigV4Error {
    /// The path is empty or does not start with `/` (a request target must be absolute).
    PathNotAbsolute,
    /// The path contains `?`, `#` or a control character, which cannot be part of a wire path.
    InvalidPathChar,
    /// A `%` not followed by two hex digits; `part` is `"path"` or `"query"`.
    InvalidPercentEncoding { part: &'static str },
    /// A header name that is empty or not an HTTP token (e.g. a pseudo-header like `:path`).
    InvalidHeaderName,
    /// A header value with CR, LF, NUL or another control character (header injection).
    InvalidHeaderValue { name: String },
    /// No non-empty `host` header: SigV4 always signs the host.
    MissingHost,
    /// The method is empty or not an HTTP token.
    InvalidMethod,
    /// Region or service is empty or has characters that would corrupt the credential scope.
    InvalidScope { field: &'static str },
    /// Blank or malformed credentials; signing with them would only produce 403s.
    InvalidCredentials { reason: &'static str },
    /// The payload hash is empty or has characters not allowed in a header value.
    InvalidPayloadHash,
    /// Presign validity outside 1..=604800 seconds.
    InvalidExpires { secs: u64 },
    /// The time is past year 9999 and cannot be written as an ISO 8601 basic date.
    TimeOutOfRange { unix_time: u64 },
    /// The HMAC implementation refused a key (cannot happen for HMAC-SHA256, kept so that the
    /// code has no panic path).
    Hmac,
}

impl fmt::Display for SigV4Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SigV4Error::PathNotAbsolute => f.write_str("path must start with '/'"),
            SigV4Error::InvalidPathChar => {
                f.write_str("path contains '?', '#' or a control character")
            }
            SigV4Error::InvalidPercentEncoding { part } => {
                write!(f, "invalid percent-encoding in {part}")
            }
            SigV4Error::InvalidHeaderName => f.write_str("invalid header name"),
            SigV4Error::InvalidHeaderValue { name } => {
                write!(
                    f,
                    "header {name} has a control character (CR, LF, NUL, ...) in its value"
                )
            }
            SigV4Error::MissingHost => f.write_str("missing host header"),
            SigV4Error::InvalidMethod => f.write_str("invalid HTTP method"),
            SigV4Error::InvalidScope { field } => {
                write!(f, "invalid {field} for the signing scope")
            }
            SigV4Error::InvalidCredentials { reason } => write!(f, "invalid credentials: {reason}"),
            SigV4Error::InvalidPayloadHash => f.write_str("invalid payload hash"),
            SigV4Error::InvalidExpires { secs } => {
                write!(
                    f,
                    "presign expiry {secs}s is outside 1..={MAX_PRESIGN_EXPIRES_SECS}s"
                )
            }
            SigV4Error::TimeOutOfRange { unix_time } => {
                write!(f, "time {unix_time} is past year 9999")
            }
            SigV4Error::Hmac => f.write_str("HMAC key rejected"),
        }
    }
}

impl std::error::Error for SigV4Error {}

/// AWS credentials. `Debug` redacts the secret and the token so they cannot leak into logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// How the canonical URI is built; S3 and the other services disagree (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathRules {
    /// Decode each segment, encode it once, keep the path exactly as sent.
    S3,
    /// Optionally normalise, then encode the wire path again (`%` becomes `%25`).
    Generic { normalize: bool },
}

impl PathRules {
    /// The rules AWS SDKs use for `service`: S3 variants sign the path as stored, everything
    /// else (e.g. `execute-api`, `lambda`) normalises and double-encodes.
    pub fn for_service(service: &str) -> PathRules {
        match service {
            "s3" | "s3-express" | "s3-outposts" | "s3-object-lambda" => PathRules::S3,
            _ => PathRules::Generic { normalize: true },
        }
    }
}

/// Region and service of the credential scope; a signature is only valid for this pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scope<'a> {
    pub region: &'a str,
    pub service: &'a str,
}

/// The request as it goes on the wire.
#[derive(Clone, Copy)]
pub struct Request<'a> {
    /// HTTP method as sent (not case-folded).
    pub method: &'a str,
    /// Wire path, percent-encoded, without the query.
    pub path: &'a str,
    /// Raw query without `?`, may be empty.
    pub query: &'a str,
    /// Headers to sign, names in any case; must contain `host`. Duplicate names are joined
    /// with `,` in order; values are trimmed and inner runs of spaces collapsed.
    pub headers: &'a [(&'a str, &'a str)],
}

/// Options for header (`Authorization`) signing.
#[derive(Clone, Copy, Debug)]
pub struct HeaderSigning<'a> {
    /// Hex SHA-256 of the body, or e.g. [`UNSIGNED_PAYLOAD`].
    pub payload_hash: &'a str,
    /// S3 requires `x-amz-content-sha256`; when true it is returned and signed.
    pub add_content_sha256_header: bool,
    /// True normally; false adds the token after signing (a few services want that).
    pub session_token_signed: bool,
}

/// Options for presigned (query) signing.
#[derive(Clone, Copy, Debug)]
pub struct Presigning<'a> {
    /// `X-Amz-Expires`, 1..=604800.
    pub expires_secs: u64,
    /// Hex SHA-256 of the body, or [`UNSIGNED_PAYLOAD`] (what S3 presigned URLs use).
    pub payload_hash: &'a str,
    /// True normally; false appends `X-Amz-Security-Token` after signing.
    pub session_token_signed: bool,
}

/// Result of header signing, with the intermediate strings for debugging and tests.
#[derive(Clone, Debug)]
pub struct HeaderSignature {
    /// Headers the caller must set (replace) on the request, lowercase names: `x-amz-date`,
    /// `x-amz-content-sha256` (if requested), `x-amz-security-token` (if any), `authorization`.
    pub headers: Vec<(&'static str, String)>,
    pub canonical_request: String,
    pub string_to_sign: String,
    /// `;`-separated lowercase names of the signed headers.
    pub signed_headers: String,
    /// Lowercase hex signature.
    pub signature: String,
}

/// Result of presigning, with the intermediate strings for debugging and tests.
#[derive(Clone, Debug)]
pub struct Presigned {
    /// The complete new query string (without `?`), canonically encoded.
    pub query: String,
    pub canonical_request: String,
    pub string_to_sign: String,
    pub signature: String,
}

/// Canonical headers block (`name:value\n` per header) and the signed-headers list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CanonicalHeaders {
    pub block: String,
    pub signed: String,
}

// ---------------------------------------------------------------------------------------------
// Signing-key cache

const CACHE_SLOTS: usize = 4;

struct CacheEntry {
    date: [u8; 8],
    region: String,
    service: String,
    access_key_id: String,
    secret: String,
    key: [u8; 32],
}

/// Derived signing keys cost four HMACs and only change daily, so they are cached per
/// (date, region, service, access key id, secret). A few slots cover credential rotation and
/// a filter that signs for more than one service.
#[derive(Default)]
pub struct SigningKeyCache {
    entries: Vec<CacheEntry>,
    next: usize,
    hits: u64,
    misses: u64,
}

impl fmt::Debug for SigningKeyCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKeyCache")
            .field("entries", &self.entries.len())
            .field("hits", &self.hits)
            .field("misses", &self.misses)
            .finish()
    }
}

impl SigningKeyCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of lookups served from the cache (for metrics).
    pub fn hits(&self) -> u64 {
        self.hits
    }

    /// Number of lookups that derived a new key (for metrics).
    pub fn misses(&self) -> u64 {
        self.misses
    }

    /// The signing key for `date` (`YYYYMMDD`) and `scope`, derived on a miss.
    pub fn signing_key(
        &mut self,
        creds: &Credentials,
        date: &str,
        scope: &Scope,
    ) -> Result<[u8; 32], SigV4Error> {
        let date8: [u8; 8] = date
            .as_bytes()
            .try_into()
            .map_err(|_| SigV4Error::InvalidScope { field: "date" })?;
        let found = self.entries.iter().find(|e| {
            e.date == date8
                && e.region == scope.region
                && e.service == scope.service
                && e.access_key_id == creds.access_key_id
                && e.secret == creds.secret_access_key
        });
        if let Some(entry) = found {
            self.hits += 1;
            return Ok(entry.key);
        }
        let key = derive_signing_key(&creds.secret_access_key, date, scope.region, scope.service)?;
        self.misses += 1;
        let entry = CacheEntry {
            date: date8,
            region: scope.region.to_owned(),
            service: scope.service.to_owned(),
            access_key_id: creds.access_key_id.clone(),
            secret: creds.secret_access_key.clone(),
            key,
        };
        if self.entries.len() < CACHE_SLOTS {
            self.entries.push(entry);
        } else if let Some(slot) = self.entries.get_mut(self.next) {
            *slot = entry;
        }
        self.next = (self.next + 1) % CACHE_SLOTS;
        Ok(key)
    }
}

// ---------------------------------------------------------------------------------------------
// Public entry points

/// Signs `req` for the `Authorization` header with the path rules of `scope.service`.
/// Returns the headers the caller must set (lowercase names), in this order: `x-amz-date`,
/// `x-amz-content-sha256` (if requested), `x-amz-security-token` (if the credentials have a
/// token), `authorization`.
pub fn sign_headers(
    req: &Request,
    creds: &Credentials,
    scope: &Scope,
    unix_time: u64,
    opts: &HeaderSigning,
    cache: &mut SigningKeyCache,
) -> Result<Vec<(&'static str, String)>, SigV4Error> {
    let rules = PathRules::for_service(scope.service);
    sign_headers_with(req, creds, scope, rules, unix_time, opts, cache).map(|s| s.headers)
}

/// Presigns `req` with the path rules of `scope.service` and returns the complete new query
/// string: the request's own parameters plus `X-Amz-Algorithm`, `X-Amz-Credential`,
/// `X-Amz-Date`, `X-Amz-Expires`, `X-Amz-SignedHeaders`, `X-Amz-Security-Token` (if any) and
/// `X-Amz-Signature`, canonically encoded. Presign parameters already in the query are
/// replaced.
pub fn presign_query(
    req: &Request,
    creds: &Credentials,
    scope: &Scope,
    unix_time: u64,
    expires_secs: u64,
    payload_hash: &str,
    cache: &mut SigningKeyCache,
) -> Result<String, SigV4Error> {
    let rules = PathRules::for_service(scope.service);
    let opts = Presigning {
        expires_secs,
        payload_hash,
        session_token_signed: true,
    };
    presign_with(req, creds, scope, rules, unix_time, &opts, cache).map(|p| p.query)
}

/// Header signing with explicit path rules, returning the intermediate strings too.
/// Input headers named `authorization` or `x-amz-date` are ignored (they are replaced), as
/// are `x-amz-content-sha256` when it is added and `x-amz-security-token` when the
/// credentials carry a token; the caller must not send the client's copies.
pub fn sign_headers_with(
    req: &Request,
    creds: &Credentials,
    scope: &Scope,
    rules: PathRules,
    unix_time: u64,
    opts: &HeaderSigning,
    cache: &mut SigningKeyCache,
) -> Result<HeaderSignature, SigV4Error> {
    validate_common(req, creds, scope, opts.payload_hash)?;
    let amz_date = amz_date(unix_time)?;
    let date = amz_date.get(..8).unwrap_or_default();
    let uri = canonical_uri(req.path, rules)?;
    let query = canonical_query(req.query)?;

    let token = creds.session_token.as_deref();
    let mut extra: Vec<(&str, &str)> = Vec::with_capacity(3);
    extra.push(("x-amz-date", &amz_date));
    if opts.add_content_sha256_header {
        extra.push(("x-amz-content-sha256", opts.payload_hash));
    }
    if let (Some(t), true) = (token, opts.session_token_signed) {
        extra.push(("x-amz-security-token", t));
    }
    let skip = |name: &str| {
        name.eq_ignore_ascii_case("authorization")
            || name.eq_ignore_ascii_case("x-amz-date")
            || (opts.add_content_sha256_header && name.eq_ignore_ascii_case("x-amz-content-sha256"))
            || (token.is_some() && name.eq_ignore_ascii_case("x-amz-security-token"))
    };
    let headers = build_canonical_headers(req.headers, &extra, skip)?;

    let creq = canonical_request(req.method, &uri, &query, &headers, opts.payload_hash);
    let scope_str = credential_scope(date, scope);
    let sts = string_to_sign(&amz_date, &scope_str, &creq);
    let key = cache.signing_key(creds, date, scope)?;
    let signature = hmac_hex(&key, sts.as_bytes())?;

    let authorization = format!(
        "{ALGORITHM} Credential={}/{scope_str}, SignedHeaders={}, Signature={signature}",
        creds.access_key_id, headers.signed
    );
    let mut out: Vec<(&'static str, String)> = Vec::with_capacity(4);
    out.push(("x-amz-date", amz_date.clone()));
    if opts.add_content_sha256_header {
        out.push(("x-amz-content-sha256", opts.payload_hash.to_owned()));
    }
    if let Some(t) = token {
        out.push(("x-amz-security-token", t.to_owned()));
    }
    out.push(("authorization", authorization));
    Ok(HeaderSignature {
        headers: out,
        canonical_request: creq,
        string_to_sign: sts,
        signed_headers: headers.signed,
        signature,
    })
}

const PRESIGN_PARAMS: [&str; 7] = [
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Security-Token",
    "X-Amz-Signature",
];

/// Presigning with explicit path rules and options, returning the intermediate strings too.
/// Input headers named `authorization` are ignored; presign parameters already present in
/// the query (any case) are dropped and replaced.
pub fn presign_with(
    req: &Request,
    creds: &Credentials,
    scope: &Scope,
    rules: PathRules,
    unix_time: u64,
    opts: &Presigning,
    cache: &mut SigningKeyCache,
) -> Result<Presigned, SigV4Error> {
    validate_common(req, creds, scope, opts.payload_hash)?;
    if opts.expires_secs == 0 || opts.expires_secs > MAX_PRESIGN_EXPIRES_SECS {
        return Err(SigV4Error::InvalidExpires {
            secs: opts.expires_secs,
        });
    }
    let amz_date = amz_date(unix_time)?;
    let date = amz_date.get(..8).unwrap_or_default();
    let uri = canonical_uri(req.path, rules)?;
    let headers = build_canonical_headers(req.headers, &[], |name: &str| {
        name.eq_ignore_ascii_case("authorization")
    })?;
    let scope_str = credential_scope(date, scope);
    let credential = format!("{}/{scope_str}", creds.access_key_id);
    let expires = opts.expires_secs.to_string();

    let mut pairs: Vec<(String, String)> = Vec::new();
    push_query_pairs(req.query, true, &mut pairs)?;
    let mut add = |k: &str, v: &str| pairs.push((encode_component(k), encode_component(v)));
    add("X-Amz-Algorithm", ALGORITHM);
    add("X-Amz-Credential", &credential);
    add("X-Amz-Date", &amz_date);
    add("X-Amz-Expires", &expires);
    add("X-Amz-SignedHeaders", &headers.signed);
    let token = creds.session_token.as_deref();
    if let (Some(t), true) = (token, opts.session_token_signed) {
        add("X-Amz-Security-Token", t);
    }
    let query = join_pairs(pairs);

    let creq = canonical_request(req.method, &uri, &query, &headers, opts.payload_hash);
    let sts = string_to_sign(&amz_date, &scope_str, &creq);
    let key = cache.signing_key(creds, date, scope)?;
    let signature = hmac_hex(&key, sts.as_bytes())?;

    let mut full = query;
    if let (Some(t), false) = (token, opts.session_token_signed) {
        full.push_str("&X-Amz-Security-Token=");
        full.push_str(&encode_component(t));
    }
    full.push_str("&X-Amz-Signature=");
    full.push_str(&signature);
    Ok(Presigned {
        query: full,
        canonical_request: creq,
        string_to_sign: sts,
        signature,
    })
}

// ---------------------------------------------------------------------------------------------
// Building blocks (public so that tests can pin each step against published expectations)

/// The canonical request: method, URI, query, headers, signed headers, payload hash.
pub fn canonical_request(
    method: &str,
    canonical_uri: &str,
    canonical_query: &str,
    headers: &CanonicalHeaders,
    payload_hash: &str,
) -> String {
    let mut s = String::with_capacity(
        method.len()
            + canonical_uri.len()
            + canonical_query.len()
            + headers.block.len()
            + headers.signed.len()
            + payload_hash.len()
            + 5,
    );
    s.push_str(method);
    s.push('\n');
    s.push_str(canonical_uri);
    s.push('\n');
    s.push_str(canonical_query);
    s.push('\n');
    s.push_str(&headers.block);
    s.push('\n');
    s.push_str(&headers.signed);
    s.push('\n');
    s.push_str(payload_hash);
    s
}

/// `YYYYMMDD/region/service/aws4_request`: what a signature is valid for.
pub fn credential_scope(date: &str, scope: &Scope) -> String {
    format!("{date}/{}/{}/aws4_request", scope.region, scope.service)
}

/// The string to sign: algorithm, request time, scope, hex SHA-256 of the canonical request.
pub fn string_to_sign(amz_date: &str, credential_scope: &str, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{amz_date}\n{credential_scope}\n{}",
        sha256_hex(canonical_request.as_bytes())
    )
}

/// Lowercase hex SHA-256, the digest format SigV4 uses everywhere.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// The signing key: HMAC chain over date, region, service and `aws4_request`.
pub fn derive_signing_key(
    secret: &str,
    date: &str,
    region: &str,
    service: &str,
) -> Result<[u8; 32], SigV4Error> {
    let mut first = Vec::with_capacity(4 + secret.len());
    first.extend_from_slice(b"AWS4");
    first.extend_from_slice(secret.as_bytes());
    let k_date = hmac(&first, date.as_bytes())?;
    let k_region = hmac(&k_date, region.as_bytes())?;
    let k_service = hmac(&k_region, service.as_bytes())?;
    hmac(&k_service, b"aws4_request")
}

/// Lowercase hex HMAC-SHA256 of `data` under the signing key: the signature.
pub fn hmac_hex(key: &[u8], data: &[u8]) -> Result<String, SigV4Error> {
    hmac(key, data).map(hex::encode)
}

fn hmac(key: &[u8], data: &[u8]) -> Result<[u8; 32], SigV4Error> {
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key).map_err(|_| SigV4Error::Hmac)?;
    mac.update(data);
    Ok(mac.finalize().into_bytes().into())
}

/// The canonical URI of a wire path under `rules`.
pub fn canonical_uri(path: &str, rules: PathRules) -> Result<String, SigV4Error> {
    if !path.starts_with('/') {
        return Err(SigV4Error::PathNotAbsolute);
    }
    if path
        .bytes()
        .any(|b| b == b'?' || b == b'#' || b < 0x20 || b == 0x7f)
    {
        return Err(SigV4Error::InvalidPathChar);
    }
    let mut out = String::with_capacity(path.len() + path.len() / 2);
    match rules {
        PathRules::S3 => {
            for (i, segment) in path.split('/').enumerate() {
                if i > 0 {
                    out.push('/');
                }
                decode_encode(segment, false, "path", &mut out)?;
            }
        }
        PathRules::Generic { normalize } => {
            check_percent_encoding(path)?;
            let path = if normalize {
                normalize_path(path)
            } else {
                Cow::Borrowed(path)
            };
            for b in path.bytes() {
                if b == b'/' {
                    out.push('/');
                } else {
                    push_encoded(&mut out, b);
                }
            }
        }
    }
    Ok(out)
}

/// RFC 3986 section 5.2.4 dot-segment removal plus merging of empty segments, keeping a
/// trailing slash (the behaviour of the AWS SDKs and the signing test suite).
fn normalize_path(path: &str) -> Cow<'_, str> {
    if !path.contains("//") && !path.split('/').any(|s| s == "." || s == "..") {
        return Cow::Borrowed(path);
    }
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut out = String::with_capacity(path.len());
    for s in &segments {
        out.push('/');
        out.push_str(s);
    }
    let trailing = path.ends_with('/') || path.ends_with("/.") || path.ends_with("/..");
    if out.is_empty() || (trailing && !out.ends_with('/')) {
        out.push('/');
    }
    Cow::Owned(out)
}

/// The canonical query string of a raw query (see the module docs).
pub fn canonical_query(query: &str) -> Result<String, SigV4Error> {
    let mut pairs = Vec::new();
    push_query_pairs(query, false, &mut pairs)?;
    Ok(join_pairs(pairs))
}

fn push_query_pairs(
    query: &str,
    drop_presign_params: bool,
    out: &mut Vec<(String, String)>,
) -> Result<(), SigV4Error> {
    for piece in query.split('&') {
        if piece.is_empty() {
            continue;
        }
        let (k, v) = piece.split_once('=').unwrap_or((piece, ""));
        let mut key = String::with_capacity(k.len());
        decode_encode(k, true, "query", &mut key)?;
        let mut value = String::with_capacity(v.len());
        decode_encode(v, true, "query", &mut value)?;
        if drop_presign_params && PRESIGN_PARAMS.iter().any(|p| key.eq_ignore_ascii_case(p)) {
            continue;
        }
        out.push((key, value));
    }
    Ok(())
}

fn join_pairs(mut pairs: Vec<(String, String)>) -> String {
    pairs.sort_unstable();
    let len = pairs.iter().map(|(k, v)| k.len() + v.len() + 2).sum();
    let mut s = String::with_capacity(len);
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            s.push('&');
        }
        s.push_str(k);
        s.push('=');
        s.push_str(v);
    }
    s
}

/// Canonical headers of `headers` (names in any case). Fails on invalid names or values and
/// when no non-empty `host` header is present.
pub fn canonical_headers(headers: &[(&str, &str)]) -> Result<CanonicalHeaders, SigV4Error> {
    build_canonical_headers(headers, &[], |_: &str| false)
}

fn build_canonical_headers(
    input: &[(&str, &str)],
    extra: &[(&str, &str)],
    skip: impl Fn(&str) -> bool,
) -> Result<CanonicalHeaders, SigV4Error> {
    let mut entries: Vec<(&str, &str)> = Vec::with_capacity(input.len() + extra.len());
    let mut has_host = false;
    for (i, &(name, value)) in input.iter().chain(extra.iter()).enumerate() {
        if !is_token(name) {
            return Err(SigV4Error::InvalidHeaderName);
        }
        if i < input.len() && skip(name) {
            continue;
        }
        if !is_header_value(value) {
            return Err(SigV4Error::InvalidHeaderValue {
                name: name.to_ascii_lowercase(),
            });
        }
        if name.eq_ignore_ascii_case("host") && !value.trim_matches(' ').is_empty() {
            has_host = true;
        }
        entries.push((name, value));
    }
    if !has_host {
        return Err(SigV4Error::MissingHost);
    }
    entries.sort_by(|a, b| cmp_ignore_ascii_case(a.0, b.0));

    let mut block = String::with_capacity(entries.iter().map(|(n, v)| n.len() + v.len() + 2).sum());
    let mut signed = String::new();
    let mut i = 0;
    while let Some(&(name, _)) = entries.get(i) {
        if !signed.is_empty() {
            signed.push(';');
        }
        push_lowercase(&mut signed, name);
        push_lowercase(&mut block, name);
        block.push(':');
        let mut first = true;
        while let Some(&(n, value)) = entries.get(i) {
            if !n.eq_ignore_ascii_case(name) {
                break;
            }
            if !first {
                block.push(',');
            }
            push_trimmed(&mut block, value);
            first = false;
            i += 1;
        }
        block.push('\n');
    }
    Ok(CanonicalHeaders { block, signed })
}

// ---------------------------------------------------------------------------------------------
// Time

/// A UTC calendar date and time, computed without a date library.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CivilDateTime {
    pub year: u64,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
}

/// Converts unix seconds to the proleptic Gregorian UTC calendar (Howard Hinnant's
/// `civil_from_days`), so the module needs neither chrono nor a host clock API.
pub fn civil_from_unix(unix_time: u64) -> CivilDateTime {
    let days = unix_time / 86_400;
    let secs = unix_time % 86_400;
    // Shift the epoch to 0000-03-01 so that leap days fall at the end of a year.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097; // day of era, 0..=146096
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365; // 0..=399
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // 0..=365
    let mp = (5 * doy + 2) / 153; // March = 0
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    CivilDateTime {
        year,
        month: month as u8,
        day: day as u8,
        hour: (secs / 3_600) as u8,
        minute: (secs / 60 % 60) as u8,
        second: (secs % 60) as u8,
    }
}

/// `YYYYMMDDTHHMMSSZ`, the SigV4 request time (`x-amz-date` / `X-Amz-Date`).
pub fn amz_date(unix_time: u64) -> Result<String, SigV4Error> {
    let t = civil_from_unix(unix_time);
    if t.year > 9999 {
        return Err(SigV4Error::TimeOutOfRange { unix_time });
    }
    Ok(format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    ))
}

// ---------------------------------------------------------------------------------------------
// Validation and encoding helpers

fn validate_common(
    req: &Request,
    creds: &Credentials,
    scope: &Scope,
    payload_hash: &str,
) -> Result<(), SigV4Error> {
    if !is_token(req.method) {
        return Err(SigV4Error::InvalidMethod);
    }
    if !is_scope_part(scope.region) {
        return Err(SigV4Error::InvalidScope { field: "region" });
    }
    if !is_scope_part(scope.service) {
        return Err(SigV4Error::InvalidScope { field: "service" });
    }
    let id = creds.access_key_id.as_bytes();
    if id.is_empty()
        || id.len() > 128
        || !id
            .iter()
            .all(|&b| b.is_ascii_graphic() && !matches!(b, b'/' | b',' | b';' | b'=' | b'"'))
    {
        return Err(SigV4Error::InvalidCredentials {
            reason: "access key id is empty or has characters not allowed in a credential",
        });
    }
    if creds.secret_access_key.is_empty() {
        return Err(SigV4Error::InvalidCredentials {
            reason: "secret access key is empty",
        });
    }
    if let Some(token) = &creds.session_token {
        if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(SigV4Error::InvalidCredentials {
                reason: "session token is empty or not printable ASCII",
            });
        }
    }
    if payload_hash.is_empty() || !payload_hash.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(SigV4Error::InvalidPayloadHash);
    }
    Ok(())
}

fn is_scope_part(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// RFC 9110 token (header names, methods).
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Header value without CR, LF, NUL or other controls (HTAB is allowed, as in HTTP).
fn is_header_value(s: &str) -> bool {
    s.bytes().all(|b| b == b'\t' || (b >= 0x20 && b != 0x7f))
}

fn cmp_ignore_ascii_case(a: &str, b: &str) -> Ordering {
    a.bytes()
        .map(|c| c.to_ascii_lowercase())
        .cmp(b.bytes().map(|c| c.to_ascii_lowercase()))
}

fn push_lowercase(out: &mut String, s: &str) {
    out.extend(s.chars().map(|c| c.to_ascii_lowercase()));
}

/// Appends `value` without leading/trailing spaces and with runs of spaces collapsed.
fn push_trimmed(out: &mut String, value: &str) {
    let mut previous_space = false;
    for c in value.trim_matches(' ').chars() {
        if c == ' ' {
            if !previous_space {
                out.push(' ');
            }
            previous_space = true;
        } else {
            out.push(c);
            previous_space = false;
        }
    }
}

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn push_encoded(out: &mut String, b: u8) {
    if is_unreserved(b) {
        out.push(char::from(b));
    } else {
        out.push('%');
        out.push(char::from(HEX_UPPER[usize::from(b >> 4)]));
        out.push(char::from(HEX_UPPER[usize::from(b & 0x0f)]));
    }
}

/// RFC 3986-encodes every byte of `s` except the unreserved characters.
fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        push_encoded(&mut out, b);
    }
    out
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-decodes `s` (and `+` as space when `plus_is_space`) and RFC 3986-encodes the
/// resulting bytes into `out`, in one pass.
fn decode_encode(
    s: &str,
    plus_is_space: bool,
    part: &'static str,
    out: &mut String,
) -> Result<(), SigV4Error> {
    let bytes = s.as_bytes();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'%' => {
                let hi = bytes.get(i + 1).copied().and_then(hex_value);
                let lo = bytes.get(i + 2).copied().and_then(hex_value);
                match (hi, lo) {
                    (Some(hi), Some(lo)) => push_encoded(out, (hi << 4) | lo),
                    _ => return Err(SigV4Error::InvalidPercentEncoding { part }),
                }
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push_str("%20");
                i += 1;
            }
            _ => {
                push_encoded(out, b);
                i += 1;
            }
        }
    }
    Ok(())
}

fn check_percent_encoding(s: &str) -> Result<(), SigV4Error> {
    let bytes = s.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'%'
            && !(bytes.get(i + 1).copied().and_then(hex_value).is_some()
                && bytes.get(i + 2).copied().and_then(hex_value).is_some())
        {
            return Err(SigV4Error::InvalidPercentEncoding { part: "path" });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds() -> Credentials {
        Credentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            session_token: None,
        }
    }

    const SCOPE: Scope<'static> = Scope {
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

    fn leap(y: u64) -> bool {
        (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400)
    }

    fn month_lengths(year: u64) -> [u64; 12] {
        let feb = if leap(year) { 29 } else { 28 };
        [31, feb, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    }

    /// Days from 1970-01-01 to `year-month-day`, by counting (independent of the
    /// closed-form conversion under test).
    fn days_by_counting(year: u64, month: u8, day: u8) -> u64 {
        let mut days = 0;
        for y in 1970..year {
            days += if leap(y) { 366 } else { 365 };
        }
        let lengths = month_lengths(year);
        for m in 1..month {
            days += lengths[usize::from(m - 1)];
        }
        days + u64::from(day) - 1
    }

    #[test]
    fn civil_dates_agree_with_day_counting() {
        let mut day_number = 0u64;
        for year in 1970..=2404u64 {
            for (m, &len) in month_lengths(year).iter().enumerate() {
                for d in 1..=len {
                    let t = civil_from_unix(day_number * 86_400 + 86_399);
                    assert_eq!(
                        (t.year, t.month, t.day, t.hour, t.minute, t.second),
                        (year, m as u8 + 1, d as u8, 23, 59, 59)
                    );
                    day_number += 1;
                }
            }
        }
        assert_eq!(days_by_counting(2000, 3, 1) * 86_400, 951_868_800);
    }

    #[test]
    fn amz_date_around_leap_days_and_year_boundaries() {
        let at = |y, m, d, secs| amz_date(days_by_counting(y, m, d) * 86_400 + secs);
        assert_eq!(amz_date(0).as_deref(), Ok("19700101T000000Z"));
        assert_eq!(amz_date(1_440_938_160).as_deref(), Ok("20150830T123600Z"));
        assert_eq!(at(1972, 2, 29, 0).as_deref(), Ok("19720229T000000Z"));
        assert_eq!(at(1999, 12, 31, 86_399).as_deref(), Ok("19991231T235959Z"));
        assert_eq!(at(1999, 12, 31, 86_400).as_deref(), Ok("20000101T000000Z"));
        // 2000 is a leap year (divisible by 400), 2100 is not (divisible by 100).
        assert_eq!(at(2000, 2, 28, 86_400).as_deref(), Ok("20000229T000000Z"));
        assert_eq!(amz_date(951_868_799).as_deref(), Ok("20000229T235959Z"));
        assert_eq!(at(2100, 2, 28, 86_400).as_deref(), Ok("21000301T000000Z"));
        assert_eq!(amz_date(4_107_542_400).as_deref(), Ok("21000301T000000Z"));
        assert_eq!(at(2016, 12, 31, 86_399).as_deref(), Ok("20161231T235959Z"));
        assert_eq!(amz_date(1_483_228_800).as_deref(), Ok("20170101T000000Z"));
        assert_eq!(at(2400, 2, 29, 3_723).as_deref(), Ok("24000229T010203Z"));
        assert_eq!(amz_date(253_402_300_799).as_deref(), Ok("99991231T235959Z"));
        assert_eq!(
            amz_date(253_402_300_800),
            Err(SigV4Error::TimeOutOfRange {
                unix_time: 253_402_300_800
            })
        );
    }

    #[test]
    fn signing_key_cache_hits_and_changes_with_the_date() {
        let c = creds();
        let mut cache = SigningKeyCache::new();
        let k1 = cache.signing_key(&c, "20150830", &SCOPE).ok();
        assert_eq!((cache.hits(), cache.misses()), (0, 1));
        let k2 = cache.signing_key(&c, "20150830", &SCOPE).ok();
        assert_eq!((cache.hits(), cache.misses()), (1, 1));
        assert!(k1.is_some() && k1 == k2);
        assert_eq!(
            k1,
            derive_signing_key(&c.secret_access_key, "20150830", "us-east-1", "s3").ok()
        );
        let k3 = cache.signing_key(&c, "20150831", &SCOPE).ok();
        assert_eq!((cache.hits(), cache.misses()), (1, 2));
        assert!(k3.is_some() && k3 != k1);
        // Region, service, key id and secret are all part of the cache key.
        let other_region = Scope {
            region: "eu-west-1",
            ..SCOPE
        };
        assert_ne!(cache.signing_key(&c, "20150830", &other_region).ok(), k1);
        let mut rotated = c.clone();
        rotated.secret_access_key.push('x');
        assert_ne!(cache.signing_key(&rotated, "20150830", &SCOPE).ok(), k1);
        let mut other_id = c.clone();
        other_id.access_key_id.push('X');
        // Same secret, so same key, but it must be a separate entry (a miss).
        let misses = cache.misses();
        assert_eq!(cache.signing_key(&other_id, "20150830", &SCOPE).ok(), k1);
        assert_eq!(cache.misses(), misses + 1);
        // More distinct entries than slots: old ones are evicted, results stay correct.
        for day in 10..20 {
            let date = format!("201501{day}");
            let want = derive_signing_key(&c.secret_access_key, &date, "us-east-1", "s3").ok();
            assert_eq!(cache.signing_key(&c, &date, &SCOPE).ok(), want);
        }
        assert_eq!(cache.entries.len(), CACHE_SLOTS);
        assert!(cache.signing_key(&c, "2015083", &SCOPE).is_err());
        assert!(!format!("{cache:?}").contains("wJalr"));
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
    fn s3_and_generic_path_rules() {
        assert_eq!(PathRules::for_service("s3"), PathRules::S3);
        assert_eq!(PathRules::for_service("s3-express"), PathRules::S3);
        assert_eq!(
            PathRules::for_service("execute-api"),
            PathRules::Generic { normalize: true }
        );
        let s3 = |p| canonical_uri(p, PathRules::S3);
        // Decode and encode once; no normalisation.
        assert_eq!(s3("/b/a b+c%2Bd").as_deref(), Ok("/b/a%20b%2Bc%2Bd"));
        assert_eq!(s3("//a/./../b/").as_deref(), Ok("//a/./../b/"));
        assert_eq!(s3("/test$file.text").as_deref(), Ok("/test%24file.text"));
        assert_eq!(s3("/test%24file.text").as_deref(), Ok("/test%24file.text"));
        let generic = |p| canonical_uri(p, PathRules::Generic { normalize: true });
        assert_eq!(generic("/a%3Db/./c/../d//").as_deref(), Ok("/a%253Db/d/"));
        assert_eq!(generic("/a/b/..").as_deref(), Ok("/a/"));
        assert_eq!(generic("/..").as_deref(), Ok("/"));
        assert_eq!(generic("/a/.b").as_deref(), Ok("/a/.b"));
    }

    #[test]
    fn query_canonicalisation() {
        assert_eq!(canonical_query("").as_deref(), Ok(""));
        assert_eq!(
            canonical_query("b=2&a=2&a=1&c&&d=").as_deref(),
            Ok("a=1&a=2&b=2&c=&d=")
        );
        assert_eq!(
            canonical_query("k=a+b%2Bc&x=%7e%2f").as_deref(),
            Ok("k=a%20b%2Bc&x=~%2F")
        );
        // Only the first '=' splits.
        assert_eq!(canonical_query("a=b=c").as_deref(), Ok("a=b%3Dc"));
        // Sorted by encoded key: '%' (0x25) sorts before letters.
        assert_eq!(
            canonical_query("z=1&%C3%A9=2&A=3").as_deref(),
            Ok("%C3%A9=2&A=3&z=1")
        );
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
        .unwrap_or_default();
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
