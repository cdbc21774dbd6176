//! The two ways to sign: an `Authorization` header ([`sign_headers`] and its
//! variants) and a presigned query ([`presign_with`]), each validating the
//! request first and reusing the cached signing key.

use super::canonical::*;
use super::key::*;
use super::time::*;
use super::types::*;
use std::borrow::Cow;

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
    let request_hash = crate::primitives::hex::encode32(&sha256(creq.as_bytes()));
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
