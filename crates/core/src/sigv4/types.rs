//! The vocabulary of signing: what is signed (request, scope, credentials),
//! what comes back (signature headers, a presigned query) and what can go
//! wrong ([`SigV4Error`]). A leaf: the other parts of `sigv4` build on it.

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
    pub(super) amz_date: Rc<str>,
    pub(super) content_sha256: Option<Cow<'a, str>>,
    pub(super) session_token: Option<String>,
    pub(super) authorization: String,
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
