//! Flow D (nginx `auth_request`): the auth subrequest a gateway sends, what
//! the backend's answer consents to, which client request that consent lets
//! through (reads by default; writes only when the answer grants them, for
//! that key), and the request storage then gets. Pure: the gateway role's
//! HTTP context feeds it header maps and applies the result.

use crate::answers::{Answer, Refusal};
use crate::config::{GatewayConfig, RedirectConfig};
use crate::internal_redirect::carry;
use crate::internal_redirect::target;
use crate::primitives::ascii;
use crate::primitives::header_map::{first, Header, Pair};

/// The subrequest names the client's request in these (nginx convention).
pub const ORIGINAL_METHOD: &str = "x-original-method";
pub const ORIGINAL_URI: &str = "x-original-uri";
/// The consent: the internal path (and key) the request may use.
pub const ACCEL_REDIRECT: &str = "x-accel-redirect";
/// Writes the consent grants beyond reads: `PUT`, `DELETE`, `multipart`.
pub const GRANT: &str = "x-accel-grant";
/// The largest upload the consent allows, in bytes.
pub const MAX_BYTES: &str = "x-accel-max-bytes";
/// `1`: answer a redirect to a presigned storage URL instead of streaming.
pub const PRESIGN: &str = "x-accel-presign";
/// The `Content-Type` a granted upload is stored with, whatever the client says.
pub const CONTENT_TYPE: &str = "x-accel-content-type";

/// The most of a refusal's body the client gets.
pub const MAX_REFUSAL_BODY: usize = 4096;

/// The refusal's headers that reach the client (with its status and body).
pub const REFUSAL_HEADERS: [&str; 4] =
    ["www-authenticate", "set-cookie", "location", "content-type"];

/// Client headers a granted write forwards to storage (besides the read
/// allowlist): the body's framing, type and checksums, and user metadata.
/// Never `x-amz-copy-source`, ACLs, grants or redirects.
const WRITE_FORWARDED: [&str; 12] = [
    "content-length",
    "content-type",
    "content-md5",
    "content-encoding",
    "content-language",
    "content-disposition",
    "cache-control",
    "expires",
    "x-amz-content-sha256",
    "x-amz-decoded-content-length",
    "x-amz-trailer",
    "x-amz-sdk-checksum-algorithm",
];

fn first_str<'a, H: Pair>(h: &'a [H], name: &str) -> Option<&'a str> {
    first(h, name).and_then(|v| std::str::from_utf8(v).ok())
}

fn number<H: Pair>(h: &[H], name: &str) -> Option<u64> {
    first_str(h, name)?.trim().parse().ok()
}

/// The auth subrequest: a `GET` (no body) of the client's path and query,
/// naming the original method and URI (nginx style), with the client's
/// credential headers (values that are not UTF-8 are left out).
pub fn subrequest<'a, H: Pair>(cfg: &'a GatewayConfig, client: &'a [H]) -> Vec<(&'a str, &'a str)> {
    let method = first_str(client, ":method").unwrap_or("GET");
    let uri = first_str(client, ":path").unwrap_or("/");
    let mut out = vec![
        (":method", "GET"),
        (":path", uri),
        (":authority", cfg.auth_authority.as_str()),
        (ORIGINAL_METHOD, method),
        (ORIGINAL_URI, uri),
    ];
    for name in &cfg.forward_headers {
        for h in client {
            if h.name() == name {
                if let Ok(v) = std::str::from_utf8(h.value()) {
                    out.push((name.as_str(), v));
                }
            }
        }
    }
    out
}

/// What a consent lets through besides reads (`GET`, `HEAD`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Grants {
    /// A plain `PUT` of the key (no subresource query).
    pub put: bool,
    /// A plain `DELETE` of the key.
    pub delete: bool,
    /// S3 multipart calls on the key: `POST ?uploads`, `PUT
    /// ?partNumber&uploadId`, `POST ?uploadId`, `DELETE ?uploadId`, `GET ?uploadId`.
    pub multipart: bool,
}

impl Grants {
    pub fn any_write(self) -> bool {
        self.put || self.delete || self.multipart
    }
}

/// Parses every `X-Accel-Grant` value (comma-separated, any case). `GET`
/// and `HEAD` are implied; an unknown token refuses the whole answer
/// (fail-closed: a grant asset-gate does not understand is not guessed at).
pub fn parse_grants<'a>(values: impl Iterator<Item = &'a [u8]>) -> Result<Grants, Refusal> {
    let mut g = Grants::default();
    for value in values {
        for token in value.split(|&b| b == b',') {
            let t = token.trim_ascii();
            let is = |name: &[u8]| t.eq_ignore_ascii_case(name);
            match () {
                _ if t.is_empty() || is(b"GET") || is(b"HEAD") => {}
                _ if is(b"PUT") => g.put = true,
                _ if is(b"DELETE") => g.delete = true,
                _ if is(b"MULTIPART") => g.multipart = true,
                _ => return Err(Answer::BadGrant.into()),
            }
        }
    }
    Ok(g)
}

/// A backend's consent, as the gateway (and its decision cache) keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consent {
    /// The internal path in canonical wire form, without query.
    pub path: String,
    /// The `X-Accel-Redirect`'s query: what a read sends to storage.
    pub query: String,
    pub grants: Grants,
    /// The upload limit the answer sets.
    pub max_bytes: Option<u64>,
    pub presign: bool,
    /// The backend's headers for the client's answer (`carry` encoding).
    pub kept: Vec<u8>,
    /// For a presigned read: `response-content-disposition` / `-type`.
    pub disposition: Option<String>,
    pub content_type: Option<String>,
    /// The type a granted upload is stored with (`X-Accel-Content-Type`).
    pub upload_type: Option<String>,
}

impl Consent {
    /// About the bytes it takes in the decision cache.
    pub fn size(&self) -> usize {
        let text = |t: &Option<String>| t.as_ref().map_or(0, String::len);
        let strings = self.path.len() + self.query.len() + self.kept.len();
        strings + text(&self.disposition) + text(&self.content_type) + text(&self.upload_type) + 160
    }
}

/// Judges the backend's answer: `Ok(None)` is a refusal (not a 2xx, or no
/// `X-Accel-Redirect`: the client gets the backend's answer), `Ok(Some)` a
/// consent, `Err` an answer that names an unsafe target or is malformed.
/// As nginx's `auth_request`, only a 2xx consents: a 401/403 that also names
/// a target is still a refusal.
pub fn judge<H: Pair>(
    answer: &[H],
    redirect_cfg: &RedirectConfig,
    cfg: &GatewayConfig,
) -> Result<Option<Consent>, Refusal> {
    let ok = first(answer, ":status").is_some_and(|s| s.len() == 3 && s[0] == b'2');
    let Some(accel) = first(answer, ACCEL_REDIRECT).filter(|_| ok) else {
        return Ok(None);
    };
    // Flow A's rules: nginx's decoding, an internal prefix, a safe key.
    let full = target::accel_path(accel).map_err(|_| Answer::ConsentUnsafeTarget)?;
    target::validate_internal_path(
        &full,
        &redirect_cfg.internal_prefixes,
        &redirect_cfg.key_rules,
    )
    .map_err(|_| Answer::ConsentUnsafeTarget)?;
    let (path, query) = ascii::split_once(&full, b'?').unwrap_or((&full, ""));
    // A read carries only the query a read needs, as in flow A.
    let (query, _) =
        target::read_query(query, &redirect_cfg.read_query).map_err(|_| Answer::ConsentQuery)?;
    let grants = parse_grants(
        answer
            .iter()
            .filter(|h| h.name() == GRANT)
            .map(|h| h.value()),
    )?;
    let max_bytes = match first(answer, MAX_BYTES) {
        None => None,
        Some(_) => Some(number(answer, MAX_BYTES).ok_or(Answer::BadMaxBytes)?),
    };
    let asked = match first(answer, PRESIGN).map(<[u8]>::trim_ascii) {
        None | Some(b"0") => false,
        Some(b"1") => true,
        Some(_) => return Err(Answer::BadPresign.into()),
    };
    let presign = asked || cfg.presign.as_ref().is_some_and(|p| p.always);
    if presign && cfg.presign.is_none() {
        return Err(Answer::PresignNotConfigured.into());
    }
    if presign && !query.is_empty() {
        return Err(Answer::PresignWithQuery.into());
    }
    let pairs = answer.iter().map(|h| (h.name(), h.value()));
    let kept = carry::collect(
        pairs,
        &redirect_cfg.keep_backend_headers,
        redirect_cfg.max_kept_bytes,
    )
    .map_err(|_| Answer::ConsentKeptTooLarge)?;
    let text = |name| {
        first_str(answer, name)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    // A media type as a client would send it (a presigned PUT signs it):
    // visible ASCII, single inner spaces, a `/`.
    let upload_type = text(CONTENT_TYPE);
    let pinned_ok = |t: &String| {
        t.len() <= 256
            && t.contains('/')
            && !crate::primitives::ascii::contains(t, "  ")
            && t.bytes().all(|b| b == b' ' || b.is_ascii_graphic())
    };
    if first(answer, CONTENT_TYPE).is_some() && !upload_type.as_ref().is_some_and(pinned_ok) {
        return Err(Answer::BadContentType.into());
    }
    Ok(Some(Consent {
        path: path.to_string(),
        query,
        grants,
        max_bytes,
        presign,
        kept,
        disposition: text("content-disposition"),
        // Storage serves a presigned read on its own origin, with no answer
        // safety of asset-gate's: an active type (a framework's default
        // `text/html` on an empty consent, say) is left to storage's stored
        // one, as a target's `response-content-type` would be refused.
        content_type: text("content-type").filter(|t| {
            redirect_cfg.read_query.active_types
                || crate::internal_redirect::consent::is_passive(t.as_bytes())
        }),
        upload_type,
    }))
}

/// What a consent lets a client request do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permit {
    /// A granted write: the body streams to storage.
    pub write: bool,
    /// The query storage gets.
    pub query: String,
}

/// Whether the query's parameters are exactly `names` (any order, once each).
fn params_are(query: &str, names: &[&str]) -> bool {
    let mut count = 0;
    for p in query.split('&').filter(|p| !p.is_empty()) {
        let name = ascii::split_once(p, b'=').map_or(p, |(k, _)| k);
        if !names.contains(&name) {
            return false;
        }
        count += 1;
    }
    count == names.len() && names.iter().all(|n| param(query, n).is_some())
}

fn param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query.split('&').find_map(|p| {
        let (k, v) = ascii::split_once(p, b'=').unwrap_or((p, ""));
        (k == name).then_some(v)
    })
}

/// An S3 multipart call on the object: `?uploads`, `?uploadId=`, or
/// `?partNumber=&uploadId=` (exactly those parameters), the values plainly
/// percent-encoded (a store splitting pairs on `;` reads `uploadId=x;y` as
/// another call).
fn multipart_query(method: &str, query: &str) -> bool {
    if !query
        .split('&')
        .all(|p| ascii::plain_encoded(ascii::split_once(p, b'=').map_or("", |(_, v)| v).as_bytes()))
    {
        return false;
    }
    let upload_id = param(query, "uploadId").is_some_and(|v| !v.is_empty());
    match method {
        "POST" if params_are(query, &["uploads"]) => true,
        "POST" | "DELETE" | "GET" | "HEAD" if params_are(query, &["uploadId"]) => upload_id,
        "PUT" if params_are(query, &["partNumber", "uploadId"]) => {
            upload_id
                && param(query, "partNumber")
                    .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        }
        _ => false,
    }
}

/// Whether an UploadPart's query names part 1.
fn one_part(query: &str) -> bool {
    param(query, "partNumber").and_then(|n| n.parse::<u32>().ok()) == Some(1)
}

/// Whether the consent lets this client request through, and as what. A
/// read consent never carries a write; a grant covers only its methods (a
/// plain `PUT`/`DELETE` of the key, or the S3 multipart calls).
pub fn permit(
    method: &str,
    client_query: &str,
    has_body: bool,
    copy_source: bool,
    consent: &Consent,
) -> Result<Permit, Refusal> {
    let g = consent.grants;
    let multipart = multipart_query(method, client_query);
    let write = |granted: bool, what: Answer| {
        if !granted {
            return Err(what.into());
        }
        if copy_source {
            return Err(Answer::CopySource.into());
        }
        Ok(Permit {
            write: true,
            query: client_query.to_string(),
        })
    };
    match method {
        "GET" | "HEAD" if multipart => write(g.multipart, Answer::NoMultipartGrant),
        "GET" | "HEAD" if has_body => Err(Answer::ReadWithBody.into()),
        "GET" | "HEAD" => Ok(Permit {
            write: false,
            query: consent.query.clone(),
        }),
        // Under an upload limit the object is one part (re-uploads replace
        // it): each call is bounded, their sum would not be.
        "PUT" if multipart && consent.max_bytes.is_some() && !one_part(client_query) => {
            Err(Answer::MultipartUnderLimit.into())
        }
        "PUT" | "POST" | "DELETE" if multipart => write(g.multipart, Answer::NoMultipartGrant),
        "PUT" if client_query.is_empty() => write(g.put, Answer::NoPutGrant),
        "DELETE" if client_query.is_empty() => write(g.delete, Answer::NoDeleteGrant),
        "PUT" | "POST" | "DELETE" if !g.any_write() => Err(Answer::ConsentGrantsReads.into()),
        "PUT" | "POST" | "DELETE" => Err(Answer::WriteNotCovered.into()),
        _ => Err(Answer::MethodNotCovered.into()),
    }
}

/// Whether a write forwards this client header to storage.
fn write_forwarded(name: &str) -> bool {
    WRITE_FORWARDED.contains(&name)
        || name.starts_with("x-amz-checksum-")
        || name.starts_with("x-amz-meta-")
}

/// The path storage gets: the consented key with the permitted query.
pub fn storage_path(consent: &Consent, permit: &Permit) -> String {
    let mut path = consent.path.clone();
    if !permit.query.is_empty() {
        path.push('?');
        path.push_str(&permit.query);
    }
    path
}

/// The type the backend pinned, when this call sets the stored object's
/// type: a plain `PUT` or the `POST ?uploads` that starts a multipart upload.
pub fn pinned_type<'c>(method: &str, permit: &Permit, consent: &'c Consent) -> Option<&'c str> {
    let creates = match method {
        "PUT" => permit.query.is_empty(),
        "POST" => params_are(&permit.query, &["uploads"]),
        _ => false,
    };
    consent
        .upload_type
        .as_deref()
        .filter(|_| permit.write && creates)
}

/// The request storage gets (before mapping and signing): the client's
/// method and pseudo-headers, `path` (from [`storage_path`]), the read
/// allowlist, and for a write the body's own headers, its `content-type`
/// replaced by `pinned` (from [`pinned_type`]). Nothing else of the
/// client's (cookies, authorization, ACLs, copy sources).
pub fn storage_request<'a, H: Pair>(
    client: &'a [H],
    path: &'a str,
    permit: &Permit,
    read_forwarded: &[String],
    pinned: Option<&'a str>,
) -> Vec<Header<'a>> {
    let mut out = Vec::with_capacity(client.len() + 1);
    out.push((":path", path.as_bytes()));
    if let Some(t) = pinned {
        out.push(("content-type", t.as_bytes()));
    }
    for h in client {
        let (k, v) = (h.name(), h.value());
        // Envoy's route lookup refuses a request without x-forwarded-proto
        // (its HCM sets it): the rewritten request must keep it to be
        // routed again on its new :path.
        let keep = if k.starts_with(':') {
            k != ":path"
        } else if k == "x-forwarded-proto" {
            true
        } else if k == "content-type" && pinned.is_some() {
            false
        } else {
            read_forwarded.iter().any(|a| a == k) || (permit.write && write_forwarded(k))
        };
        if keep {
            out.push((k, v));
        }
    }
    out
}

/// An upload over its grant (declared, or counted while streaming).
pub fn too_large() -> Refusal {
    Answer::UploadTooLarge.into()
}

/// Whether storage decodes the body as S3's `aws-chunked` framing (the
/// object's size is then `x-amz-decoded-content-length`, not the body's):
/// it does for a `STREAMING-` payload hash only (`Content-Encoding:
/// aws-chunked` alone leaves a plain body, stored as sent).
fn aws_chunked<H: Pair>(client: &[H]) -> bool {
    first(client, "x-amz-content-sha256").is_some_and(|v| v.starts_with(b"STREAMING-"))
}

/// The most body bytes a permitted write may stream under a grant of `max`,
/// or the 413 its declared size earns. A plain body is bounded by the grant
/// itself, whatever it says about decoding. An `aws-chunked` body declares
/// its object size in `x-amz-decoded-content-length` (which must be within
/// the grant); its framing (chunk sizes, line ends, trailers) may add
/// `decoded / 64 + 512` bytes (64 KiB chunks need about 10 bytes each, a
/// checksum trailer under 100), so the budget is never more than
/// `max + max / 64 + 512`.
pub fn upload_limit<H: Pair>(client: &[H], max: u64) -> Result<u64, Refusal> {
    let budget = if aws_chunked(client) {
        let decoded = number(client, "x-amz-decoded-content-length")
            .ok_or(Answer::UndeclaredDecodedLength)?;
        if decoded > max {
            return Err(too_large());
        }
        decoded.saturating_add(decoded / 64 + 512)
    } else {
        max
    };
    match number(client, "content-length") {
        Some(n) if n > budget => Err(too_large()),
        _ => Ok(budget),
    }
}

/// The headers a presigned `PUT` signs besides `host` (sorted): its
/// `content-length` when the grant has a limit, so storage refuses another
/// size, and its `content-type`, the pinned one (the client must declare
/// it: a redirect cannot change what the client sends) or the client's.
/// `Ok(None)`: under a limit, an undeclared size or an aws-chunked body
/// streams instead (only the gateway can count it).
pub fn presigned_put<'a, H: Pair>(
    client: &'a [H],
    consent: &'a Consent,
) -> Result<Option<Vec<(&'static str, &'a str)>>, Refusal> {
    let mut out = Vec::with_capacity(2);
    if consent.max_bytes.is_some() {
        match first_str(client, "content-length") {
            Some(n) if !aws_chunked(client) => out.push(("content-length", n.trim())),
            _ => return Ok(None),
        }
    }
    let declared = first_str(client, "content-type").map(str::trim);
    match consent.upload_type.as_deref() {
        Some(t) if declared != Some(t) => return Err(Answer::PinnedType.into()),
        Some(t) => out.push(("content-type", t)),
        None => {
            if let Some(t) = declared.filter(|t| !t.is_empty()) {
                out.push(("content-type", t));
            }
        }
    }
    Ok(Some(out))
}

/// The refusal's headers for the client (each value, in order).
pub fn refusal_headers<H: Pair>(answer: &[H]) -> Vec<Header<'_>> {
    answer
        .iter()
        .map(|h| (h.name(), h.value()))
        .filter(|(k, v)| REFUSAL_HEADERS.contains(k) && !v.contains(&b'\n') && !v.contains(&b'\r'))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, MapEnv};

    fn config(gateway: &str) -> Config {
        let json = format!(
            r#"{{"role":"gateway","gateway":{gateway},"signing":{{"region":"us-east-1","buckets":[{{"prefix":"/internal-assets/","bucket":"assets"}}],"credentials":{{"source":"static","access_key_id":"AK","secret_access_key":"SK"}}}}}}"#
        );
        Config::parse(json.as_bytes(), &MapEnv(vec![])).unwrap()
    }

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
            .collect()
    }

    fn judged(answer: &[(&str, &str)], gateway: &str) -> Result<Option<Consent>, Refusal> {
        let c = config(gateway);
        judge(&h(answer), &c.redirect, c.gateway.as_ref().unwrap())
    }

    #[test]
    fn subrequest_carries_the_original_request_and_credentials_only() {
        let c = config("{}");
        let client = h(&[
            (":method", "PUT"),
            (":path", "/uploads/a.bin?x=1"),
            (":authority", "files.example"),
            ("cookie", "s=1"),
            ("authorization", "Bearer t"),
            ("content-length", "5"),
            ("x-other", "no"),
        ]);
        let sub = subrequest(c.gateway.as_ref().unwrap(), &client);
        assert_eq!(
            sub,
            vec![
                (":method", "GET"),
                (":path", "/uploads/a.bin?x=1"),
                (":authority", "auth_backend"),
                ("x-original-method", "PUT"),
                ("x-original-uri", "/uploads/a.bin?x=1"),
                ("cookie", "s=1"),
                ("authorization", "Bearer t"),
            ]
        );
        let c = config(r#"{"auth_authority":"auth.local","forward_headers":["x-api-key"]}"#);
        let sub = subrequest(c.gateway.as_ref().unwrap(), &client);
        assert_eq!(sub[2], (":authority", "auth.local"));
        assert_eq!(sub.len(), 5);
    }

    #[test]
    fn a_consent_reuses_flow_a_key_safety() {
        let ok = judged(
            &[
                (":status", "200"),
                (
                    "x-accel-redirect",
                    "/internal-assets/a b.txt?v=1&response-content-disposition=attachment",
                ),
            ],
            "{}",
        )
        .unwrap()
        .unwrap();
        assert_eq!(ok.path, "/internal-assets/a%20b.txt");
        // A read carries only the query a read needs (flow A's allowlist).
        assert_eq!(ok.query, "response-content-disposition=attachment");
        for q in ["response-content-type=text/html", "versionId=1", "acl&acl"] {
            let accel = format!("/internal-assets/a.txt?{q}");
            let e = judged(&[(":status", "200"), ("x-accel-redirect", &accel)], "{}").unwrap_err();
            assert_eq!(e.status(), 404, "{q}");
        }
        assert_eq!(ok.grants, Grants::default());
        for bad in [
            "/internal-assets/%2e%2e/x",
            "/elsewhere/x",
            "/internal-assets/a%2fb",
            "relative",
        ] {
            let e = judged(&[(":status", "200"), ("x-accel-redirect", bad)], "{}").unwrap_err();
            assert_eq!(e.status(), 404, "{bad}");
        }
        assert_eq!(judged(&[(":status", "403")], "{}"), Ok(None));
        // Only a 2xx consents, as with nginx's auth_request.
        for status in ["401", "403", "302", "500", "20", ""] {
            let a = [
                (":status", status),
                ("x-accel-redirect", "/internal-assets/a"),
            ];
            assert_eq!(judged(&a, "{}"), Ok(None), "{status}");
        }
        let a = [
            (":status", "204"),
            ("x-accel-redirect", "/internal-assets/a"),
        ];
        assert!(judged(&a, "{}").unwrap().is_some());
    }

    #[test]
    fn grants_limits_and_presign_are_parsed_fail_closed() {
        let c = judged(
            &[
                (":status", "200"),
                ("x-accel-redirect", "/internal-assets/u/a"),
                ("x-accel-grant", "put, Multipart"),
                ("x-accel-grant", "GET"),
                ("x-accel-max-bytes", "100"),
            ],
            "{}",
        )
        .unwrap()
        .unwrap();
        assert!(c.grants.put && c.grants.multipart && !c.grants.delete);
        assert_eq!(c.max_bytes, Some(100));
        let e = judged(
            &[
                (":status", "200"),
                ("x-accel-redirect", "/internal-assets/a"),
                ("x-accel-grant", "PATCH"),
            ],
            "{}",
        )
        .unwrap_err();
        assert_eq!(e.status(), 502);
        let e = judged(
            &[
                (":status", "200"),
                ("x-accel-redirect", "/internal-assets/a"),
                ("x-accel-max-bytes", "lots"),
            ],
            "{}",
        )
        .unwrap_err();
        assert_eq!(e.status(), 502);
        // Presigning must be configured before an answer can ask for it.
        let ask = [
            (":status", "200"),
            ("x-accel-redirect", "/internal-assets/a"),
            ("x-accel-presign", "1"),
        ];
        assert_eq!(judged(&ask, "{}").unwrap_err().status(), 502);
        let p = judged(&ask, r#"{"presign":{"base_url":"http://s3"}}"#)
            .unwrap()
            .unwrap();
        assert!(p.presign);
        let always = judged(
            &[
                (":status", "200"),
                ("x-accel-redirect", "/internal-assets/a"),
            ],
            r#"{"presign":{"base_url":"http://s3","always":true}}"#,
        )
        .unwrap()
        .unwrap();
        assert!(always.presign);
    }

    fn consent(grants: Grants) -> Consent {
        Consent {
            path: "/internal-assets/k".into(),
            query: "v=1".into(),
            grants,
            max_bytes: None,
            presign: false,
            kept: vec![],
            disposition: None,
            content_type: None,
            upload_type: None,
        }
    }

    #[test]
    fn a_read_consent_never_carries_a_write() {
        let read = consent(Grants::default());
        assert_eq!(
            permit("GET", "other=2", false, false, &read),
            Ok(Permit {
                write: false,
                query: "v=1".into()
            })
        );
        assert_eq!(
            permit("GET", "", true, false, &read).unwrap_err().status(),
            400
        );
        for (m, q) in [
            ("PUT", ""),
            ("POST", "uploads"),
            ("DELETE", ""),
            ("PUT", "partNumber=1&uploadId=x"),
        ] {
            assert_eq!(
                permit(m, q, true, false, &read).unwrap_err().status(),
                403,
                "{m} {q}"
            );
        }
        assert_eq!(
            permit("PATCH", "", true, false, &read)
                .unwrap_err()
                .status(),
            405
        );
    }

    #[test]
    fn grants_cover_their_methods_only() {
        let put = consent(Grants {
            put: true,
            ..Default::default()
        });
        assert_eq!(
            permit("PUT", "", true, false, &put),
            Ok(Permit {
                write: true,
                query: String::new()
            })
        );
        assert_eq!(
            permit("PUT", "acl", true, false, &put)
                .unwrap_err()
                .status(),
            403
        );
        assert_eq!(
            permit("PUT", "", true, true, &put).unwrap_err().status(),
            403
        );
        assert_eq!(
            permit("DELETE", "", false, false, &put)
                .unwrap_err()
                .status(),
            403
        );
        assert_eq!(
            permit("POST", "uploads", false, false, &put)
                .unwrap_err()
                .status(),
            403
        );
        let mp = consent(Grants {
            multipart: true,
            ..Default::default()
        });
        for (m, q) in [
            ("POST", "uploads"),
            ("POST", "uploads="),
            ("PUT", "partNumber=3&uploadId=abc"),
            ("PUT", "uploadId=abc&partNumber=3"),
            ("POST", "uploadId=abc"),
            ("DELETE", "uploadId=abc"),
            ("GET", "uploadId=abc"),
        ] {
            let p =
                permit(m, q, m == "PUT", false, &mp).unwrap_or_else(|e| panic!("{m} {q}: {e:?}"));
            assert!(p.write, "{m} {q}");
            assert_eq!(p.query, q);
        }
        for (m, q) in [
            ("PUT", ""),
            ("PUT", "partNumber=x&uploadId=abc"),
            ("PUT", "partNumber=1&uploadId="),
            ("POST", "uploadId=abc&acl"),
            ("POST", "delete"),
            // A store splitting pairs on `;` would read a plain DELETE.
            ("DELETE", "uploadId=x;y"),
            ("DELETE", "uploadId=x%3"),
            ("PUT", "partNumber=1&uploadId=a+b"),
            ("POST", "uploads=x;delete"),
        ] {
            assert_eq!(
                permit(m, q, true, false, &mp).unwrap_err().status(),
                403,
                "{m} {q}"
            );
        }
    }

    #[test]
    fn under_an_upload_limit_a_multipart_upload_has_one_part() {
        let mut mp = consent(Grants {
            multipart: true,
            ..Default::default()
        });
        mp.max_bytes = Some(10);
        for q in ["partNumber=1&uploadId=u", "uploadId=u&partNumber=001"] {
            assert!(permit("PUT", q, true, false, &mp).unwrap().write, "{q}");
        }
        for q in ["partNumber=2&uploadId=u", "partNumber=0&uploadId=u"] {
            let e = permit("PUT", q, true, false, &mp).unwrap_err();
            assert_eq!(e.status(), 403, "{q}");
            assert!(e.message().contains("one part"), "{q}");
        }
        for (m, q) in [("POST", "uploads"), ("POST", "uploadId=u")] {
            assert!(permit(m, q, true, false, &mp).unwrap().write, "{m} {q}");
        }
        mp.max_bytes = None;
        assert!(permit("PUT", "partNumber=2&uploadId=u", true, false, &mp).is_ok());
    }

    #[test]
    fn storage_gets_the_consented_key_and_only_allowlisted_headers() {
        let client = h(&[
            (":method", "PUT"),
            (":path", "/uploads/client-chosen?partNumber=1&uploadId=u"),
            (":authority", "files.example"),
            ("cookie", "s=1"),
            ("authorization", "Bearer t"),
            ("content-length", "5"),
            ("content-type", "text/plain"),
            ("x-amz-meta-owner", "me"),
            ("x-amz-checksum-crc32", "AAAAAA=="),
            ("x-amz-acl", "public-read"),
            ("range", "bytes=0-1"),
            ("x-forwarded-proto", "http"),
        ]);
        let c = consent(Grants {
            multipart: true,
            ..Default::default()
        });
        let p = Permit {
            write: true,
            query: "partNumber=1&uploadId=u".into(),
        };
        let read_forwarded: Vec<String> = crate::internal_redirect::consent::READ_FORWARDED
            .iter()
            .map(|s| s.to_string())
            .collect();
        let path = storage_path(&c, &p);
        let out = storage_request(&client, &path, &p, &read_forwarded, None);
        let names: Vec<&str> = out.iter().map(|(k, _)| *k).collect();
        assert_eq!(
            names,
            [
                ":path",
                ":method",
                ":authority",
                "content-length",
                "content-type",
                "x-amz-meta-owner",
                "x-amz-checksum-crc32",
                "range",
                "x-forwarded-proto"
            ]
        );
        assert_eq!(out[0].1, b"/internal-assets/k?partNumber=1&uploadId=u");
        let read = Permit {
            write: false,
            query: String::new(),
        };
        let read_path = storage_path(&c, &read);
        let read_only = storage_request(&client, &read_path, &read, &read_forwarded, None);
        let names: Vec<&str> = read_only.iter().map(|(k, _)| *k).collect();
        assert_eq!(
            names,
            [
                ":path",
                ":method",
                ":authority",
                "range",
                "x-forwarded-proto"
            ]
        );
    }

    #[test]
    fn upload_limits_refuse_declared_sizes() {
        assert_eq!(upload_limit(&h(&[("content-length", "10")]), 10), Ok(10));
        assert_eq!(
            upload_limit(&h(&[("content-length", "11")]), 10)
                .unwrap_err()
                .status(),
            413
        );
        assert_eq!(upload_limit(&h(&[]), 10), Ok(10));
        // A plain body's decoded-length claim changes nothing.
        let claim = ("x-amz-decoded-content-length", "10");
        let plain = h(&[("content-length", "5000"), claim]);
        assert_eq!(upload_limit(&plain, 100).unwrap_err().status(), 413);
        assert_eq!(upload_limit(&h(&[claim]), 100), Ok(100));
        // aws-chunked: the decoded length is the object's, the framing
        // gets decoded / 64 + 512 bytes, no more.
        for marker in [
            ("x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"),
            ("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"),
        ] {
            let framed = |len: &'static str, decoded: &'static str| {
                upload_limit(
                    &h(&[
                        marker,
                        ("content-length", len),
                        ("x-amz-decoded-content-length", decoded),
                    ]),
                    1600,
                )
            };
            assert_eq!(framed("1700", "1600"), Ok(1600 + 25 + 512));
            assert_eq!(framed("2137", "1600"), Ok(2137));
            assert_eq!(framed("2138", "1600").unwrap_err().status(), 413);
            assert_eq!(framed("200", "1601").unwrap_err().status(), 413);
            assert_eq!(upload_limit(&h(&[marker]), 1600).unwrap_err().status(), 400);
            let unframed = upload_limit(&h(&[marker, ("x-amz-decoded-content-length", "10")]), 10);
            assert_eq!(unframed, Ok(10 + 512));
        }
        // Content-Encoding alone does not make storage decode: a plain body.
        let encoded = h(&[
            ("content-encoding", "aws-chunked"),
            ("content-length", "101"),
            claim,
        ]);
        assert_eq!(upload_limit(&encoded, 100).unwrap_err().status(), 413);
        // Never more than the grant plus the bounded overhead.
        let huge = h(&[
            ("x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"),
            ("x-amz-decoded-content-length", "18446744073709551615"),
        ]);
        assert_eq!(upload_limit(&huge, u64::MAX), Ok(u64::MAX));
    }

    #[test]
    fn a_backend_pins_an_uploads_type() {
        let pin = |v: &str| {
            let a = [
                (":status", "200"),
                ("x-accel-redirect", "/internal-assets/a"),
                ("x-accel-content-type", v),
            ];
            judged(&a, "{}").map(|c| c.unwrap().upload_type)
        };
        assert_eq!(pin("image/png"), Ok(Some("image/png".into())));
        let with_charset = "text/plain; charset=utf-8";
        assert_eq!(pin(with_charset), Ok(Some(with_charset.into())));
        for bad in ["", "png", "text/plain;  x=1", "image/p\u{e9}ng", "a/b\tc"] {
            assert_eq!(pin(bad).unwrap_err().status(), 502, "{bad:?}");
        }
        let mut c = consent(Grants {
            put: true,
            multipart: true,
            ..Default::default()
        });
        c.upload_type = Some("image/png".into());
        let w = |q: &str| Permit {
            write: true,
            query: q.into(),
        };
        // Only the calls that set the stored type carry it.
        assert_eq!(pinned_type("PUT", &w(""), &c), Some("image/png"));
        assert_eq!(pinned_type("POST", &w("uploads"), &c), Some("image/png"));
        for (m, q) in [
            ("PUT", "partNumber=1&uploadId=u"),
            ("POST", "uploadId=u"),
            ("DELETE", ""),
        ] {
            assert_eq!(pinned_type(m, &w(q), &c), None, "{m} {q}");
        }
        let read = Permit {
            write: false,
            query: String::new(),
        };
        assert_eq!(pinned_type("GET", &read, &c), None);
        // The client's type is replaced, once.
        let client = h(&[
            (":method", "PUT"),
            ("content-type", "text/html"),
            ("content-length", "3"),
        ]);
        let out = storage_request(
            &client,
            "/internal-assets/k",
            &w(""),
            &[],
            Some("image/png"),
        );
        let types: Vec<&[u8]> = out
            .iter()
            .filter(|(k, _)| *k == "content-type")
            .map(|(_, v)| *v)
            .collect();
        assert_eq!(types, [&b"image/png"[..]]);
    }

    #[test]
    fn a_presigned_put_signs_its_type_and_limited_length() {
        let mut c = consent(Grants {
            put: true,
            ..Default::default()
        });
        let client = h(&[("content-length", "50"), ("content-type", "text/plain")]);
        assert_eq!(
            presigned_put(&client, &c),
            Ok(Some(vec![("content-type", "text/plain")]))
        );
        assert_eq!(presigned_put(&h(&[]), &c), Ok(Some(vec![])));
        c.max_bytes = Some(100);
        assert_eq!(
            presigned_put(&client, &c),
            Ok(Some(vec![
                ("content-length", "50"),
                ("content-type", "text/plain")
            ]))
        );
        // Under a limit, an undeclared or aws-chunked size streams.
        let chunked = h(&[("transfer-encoding", "chunked")]);
        assert_eq!(presigned_put(&chunked, &c), Ok(None));
        let aws = h(&[
            ("content-length", "50"),
            ("x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"),
            ("x-amz-decoded-content-length", "20"),
        ]);
        assert_eq!(presigned_put(&aws, &c), Ok(None));
        // A pinned type: the client must declare exactly it.
        c.upload_type = Some("image/png".into());
        assert_eq!(presigned_put(&client, &c).unwrap_err().status(), 415);
        let untyped = h(&[("content-length", "50")]);
        assert_eq!(presigned_put(&untyped, &c).unwrap_err().status(), 415);
        let png = h(&[("content-length", "50"), ("content-type", "image/png")]);
        assert_eq!(
            presigned_put(&png, &c),
            Ok(Some(vec![
                ("content-length", "50"),
                ("content-type", "image/png")
            ]))
        );
    }

    #[test]
    fn refusals_keep_only_their_client_headers() {
        let answer = h(&[
            (":status", "302"),
            ("location", "https://login.example/?next=/a"),
            ("set-cookie", "a=1"),
            ("set-cookie", "b=2"),
            ("www-authenticate", "Bearer"),
            ("x-accel-redirect", "/internal-assets/a"),
            ("x-internal", "no"),
        ]);
        let names: Vec<&str> = refusal_headers(&answer).iter().map(|(k, _)| *k).collect();
        assert_eq!(
            names,
            ["location", "set-cookie", "set-cookie", "www-authenticate"]
        );
    }
}
