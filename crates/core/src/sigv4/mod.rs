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
//! Layout: this module holds the types and the two ways to sign; `canonical`
//! builds the strings that get signed, `key` hashes and derives (and caches) the
//! signing key, `time` writes the request time.

mod canonical;
mod key;
mod presign;
mod time;

pub use canonical::{
    canonical_headers, canonical_query, canonical_request, canonical_uri, credential_scope,
    into_canonical_uri, string_to_sign, CanonicalHeaders,
};
pub use key::{derive_signing_key, hmac_hex, sha256_hex, PayloadHasher, SigningKeyCache};
pub use presign::{presigned_query, PresignRequest};
pub use time::{amz_date, civil_from_unix, CivilDateTime};

use canonical::{
    build_canonical_headers, encode_component, is_token, join_pairs, push_canonical_headers,
    push_canonical_uri, push_host_only_headers, push_query_pairs,
};
use std::borrow::Cow;
use std::fmt;
use std::rc::Rc;

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

/// The headers a header signature sets, in the order the caller sets them:
/// `x-amz-date`, `x-amz-content-sha256` (if requested), `x-amz-security-token`
/// (if the credentials have a token), `authorization`. Built without copying
/// what already exists (the payload hash is the caller's, the date the
/// second's): a signature allocates only its `Authorization` value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureHeaders<'a> {
    amz_date: Rc<str>,
    content_sha256: Option<Cow<'a, str>>,
    session_token: Option<String>,
    authorization: String,
}

impl SignatureHeaders<'_> {
    /// (lowercase name, value) pairs, in the order above.
    pub fn iter(&self) -> SignatureHeadersIter<'_> {
        SignatureHeadersIter {
            headers: self,
            next: 0,
        }
    }

    /// Whether signing sets `name` (lowercase). Asked of every header of a
    /// rewritten map: most start with neither `a` nor `x` and are not
    /// compared at all.
    pub fn sets(&self, name: &str) -> bool {
        matches!(name.as_bytes().first(), Some(b'a' | b'x')) && self.iter().any(|(k, _)| k == name)
    }

    /// The same headers, owning the payload hash.
    pub fn into_owned(self) -> SignatureHeaders<'static> {
        SignatureHeaders {
            amz_date: self.amz_date,
            content_sha256: self.content_sha256.map(|h| Cow::Owned(h.into_owned())),
            session_token: self.session_token,
            authorization: self.authorization,
        }
    }

    /// The pairs as owned strings (callers that keep them past the request).
    pub fn to_vec(&self) -> Vec<(&'static str, String)> {
        self.iter().map(|(k, v)| (k, v.to_owned())).collect()
    }
}

/// [`SignatureHeaders::iter`]: a counter over the four, not an iterator
/// chain (`flatten` over options cost more than the pairs under V8).
pub struct SignatureHeadersIter<'h> {
    headers: &'h SignatureHeaders<'h>,
    next: u8,
}

impl<'h> Iterator for SignatureHeadersIter<'h> {
    type Item = (&'static str, &'h str);

    fn next(&mut self) -> Option<Self::Item> {
        let h = self.headers;
        loop {
            self.next += 1;
            let pair = match self.next {
                1 => Some(("x-amz-date", &*h.amz_date)),
                2 => h
                    .content_sha256
                    .as_deref()
                    .map(|v| ("x-amz-content-sha256", v)),
                3 => h
                    .session_token
                    .as_deref()
                    .map(|v| ("x-amz-security-token", v)),
                4 => Some(("authorization", h.authorization.as_str())),
                _ => return None,
            };
            if pair.is_some() {
                return pair;
            }
        }
    }
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

// ---------------------------------------------------------------------------------------------
// Public entry points

/// Signs `req` for the `Authorization` header with the path rules of `scope.service`.
/// Returns the headers the caller must set (lowercase names), in this order: `x-amz-date`,
/// `x-amz-content-sha256` (if requested), `x-amz-security-token` (if the credentials have a
/// token), `authorization`.
pub fn sign_headers<'p>(
    req: &Request,
    creds: &Credentials,
    scope: &Scope,
    unix_time: u64,
    opts: &HeaderSigning<'p>,
    cache: &mut SigningKeyCache,
) -> Result<SignatureHeaders<'p>, SigV4Error> {
    let rules = PathRules::for_service(scope.service);
    sign_headers_under(req, creds, scope, rules, unix_time, opts, cache)
}

/// [`sign_headers`] with the path rules of `scope.service` decided by the
/// caller (once, with its configuration).
pub fn sign_headers_under<'p>(
    req: &Request,
    creds: &Credentials,
    scope: &Scope,
    rules: PathRules,
    unix_time: u64,
    opts: &HeaderSigning<'p>,
    cache: &mut SigningKeyCache,
) -> Result<SignatureHeaders<'p>, SigV4Error> {
    let parts = sign_parts(req, creds, scope, rules, unix_time, opts, cache)?;
    cache.keep_buffer(parts.canonical_request);
    Ok(parts.headers)
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
    let parts = sign_parts(req, creds, scope, rules, unix_time, opts, cache)?;
    // The string to sign is rebuilt here only: signing hashes its parts.
    let amz_date = amz_date(unix_time)?;
    let scope_str = credential_scope(amz_date.get(..8).unwrap_or_default(), scope);
    Ok(HeaderSignature {
        string_to_sign: string_to_sign(&amz_date, &scope_str, &parts.canonical_request),
        headers: parts.headers.to_vec(),
        canonical_request: parts.canonical_request,
        signed_headers: parts.signed_headers.into_owned(),
        signature: String::from_utf8_lossy(&parts.signature).into_owned(),
    })
}

/// What header signing makes; the string to sign is never built.
struct SignedParts<'p> {
    headers: SignatureHeaders<'p>,
    canonical_request: String,
    signed_headers: Cow<'static, str>,
    signature: [u8; 64],
}

// `push_str` of one-byte strings: `push(char)` encodes UTF-8 through a
// call at opt-level z (callgrind under V8).
#[allow(clippy::single_char_add_str)]
fn sign_parts<'p>(
    req: &Request,
    creds: &Credentials,
    scope: &Scope,
    rules: PathRules,
    unix_time: u64,
    opts: &HeaderSigning<'p>,
    cache: &mut SigningKeyCache,
) -> Result<SignedParts<'p>, SigV4Error> {
    validate_request(req, creds, opts.payload_hash)?;
    let amz_date = cache.amz_date(unix_time)?;
    let token = creds.session_token.as_deref();
    // The headers signing adds, on the stack (at most three).
    let mut added = [("x-amz-date", &*amz_date), ("", ""), ("", "")];
    let mut n_added = 1;
    if opts.add_content_sha256_header {
        added[n_added] = ("x-amz-content-sha256", opts.payload_hash);
        n_added += 1;
    }
    if let (Some(t), true) = (token, opts.session_token_signed) {
        added[n_added] = ("x-amz-security-token", t);
        n_added += 1;
    }
    let extra = added.get(..n_added).unwrap_or_default();
    let skip = |name: &str| {
        name.eq_ignore_ascii_case("authorization")
            || name.eq_ignore_ascii_case("x-amz-date")
            || (opts.add_content_sha256_header && name.eq_ignore_ascii_case("x-amz-content-sha256"))
            || (token.is_some() && name.eq_ignore_ascii_case("x-amz-security-token"))
    };
    // The canonical request in one buffer (as `canonical_request` lays it out).
    let headers_len: usize = req.headers.iter().map(|(n, v)| n.len() + v.len() + 2).sum();
    let mut creq = cache.take_buffer();
    creq.reserve(req.method.len() + 2 * req.path.len() + req.query.len() + 2 * headers_len + 160);
    creq.push_str(req.method);
    creq.push_str("\n");
    push_canonical_uri(&mut creq, req.path, rules)?;
    if req.query.is_empty() {
        creq.push_str("\n\n");
    } else {
        creq.push_str("\n");
        creq.push_str(&canonical_query(req.query)?);
        creq.push_str("\n");
    }
    let hash = opts.add_content_sha256_header.then_some(opts.payload_hash);
    let host_only = push_host_only_headers(
        &mut creq,
        req.headers,
        &amz_date,
        hash,
        token.filter(|_| opts.session_token_signed),
    );
    let signed_headers = match host_only {
        Some(signed) => Cow::Borrowed(signed?),
        None => Cow::Owned(push_canonical_headers(&mut creq, req.headers, extra, skip)?),
    };
    creq.push_str("\n");
    creq.push_str(&signed_headers);
    creq.push_str("\n");
    creq.push_str(opts.payload_hash);
    let request_hash = crate::primitives::hex::encode32(&key::sha256(creq.as_bytes()));
    let (signature, credential) =
        cache.sign_request_hash(creds, scope, unix_time, &amz_date, &request_hash)?;
    let authorization = authorization(
        credential,
        &signed_headers,
        std::str::from_utf8(&signature).unwrap_or_default(),
    );
    let headers = SignatureHeaders {
        amz_date,
        content_sha256: opts
            .add_content_sha256_header
            .then_some(Cow::Borrowed(opts.payload_hash)),
        session_token: token.map(str::to_owned),
        authorization,
    };
    Ok(SignedParts {
        headers,
        canonical_request: creq,
        signed_headers,
        signature,
    })
}

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
    validate_request(req, creds, opts.payload_hash)?;
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
    let signature = cache.signature_hex(creds, date, scope, sts.as_bytes())?;

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

/// `AWS4-HMAC-SHA256 Credential=<id>/<scope>, SignedHeaders=<names>, Signature=<hex>`
/// from the signing key's [`credential_prefix`] (everything up to the names),
/// built without `format!` (measurable under V8, bench/micro).
fn authorization(credential: &str, signed: &str, signature: &str) -> String {
    const SIGNATURE: &str = ", Signature=";
    let mut s = String::with_capacity(credential.len() + signed.len() + SIGNATURE.len() + 64);
    s.push_str(credential);
    s.push_str(signed);
    s.push_str(SIGNATURE);
    s.push_str(signature);
    s
}

/// `AWS4-HMAC-SHA256 Credential=<id>/<scope>, SignedHeaders=`: the part of
/// every `Authorization` value a signing key's cache entry shares.
fn credential_prefix(key_id: &str, scope: &str) -> String {
    [
        ALGORITHM,
        " Credential=",
        key_id,
        "/",
        scope,
        ", SignedHeaders=",
    ]
    .concat()
}

// ---------------------------------------------------------------------------------------------
// Validation

/// What each request must get right (the credentials and scope are checked
/// once, when the signing-key cache makes their entry: [`validate_identity`]).
fn validate_request(
    req: &Request,
    creds: &Credentials,
    payload_hash: &str,
) -> Result<(), SigV4Error> {
    if !is_token(req.method) {
        return Err(SigV4Error::InvalidMethod);
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

/// The credentials and scope a signing key is derived for.
pub(super) fn validate_identity(creds: &Credentials, scope: &Scope) -> Result<(), SigV4Error> {
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
    Ok(())
}

fn is_scope_part(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

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
