//! What a flow A consent lets through, in both directions: the client
//! request headers a read may carry to storage, and what storage's answer
//! keeps to itself (identifying headers, error bodies naming bucket and key)
//! and what it gains (the backend's kept headers, as nginx does).

use crate::internal_redirect::carry::{self, Edit};
use crate::primitives::ascii;
use crate::primitives::header_map::{Header, Pair};

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

/// Media types a browser only shows or downloads, running nothing of the
/// file's on the site's origin: images but SVG, text, JSON, CSV, archives,
/// and `video/*`, `audio/*`, `font/*`. Everything else is active: HTML, SVG,
/// XML, script, anything unknown, and PDF, whose scripts a browser's viewer
/// runs (PDF.js ran a document's JavaScript in CVE-2024-4367). One string:
/// a table of slices costs more module size.
const PASSIVE: &str = "image/png image/jpeg image/gif image/webp image/avif image/apng \
image/bmp image/x-icon text/plain text/csv application/json application/octet-stream \
application/zip";

/// Whether a `Content-Type` is passive, the one rule for what a read
/// consent may ask storage to answer (`response-content-type`) and for
/// which answers go out as attachments in a sandbox: a listed type (any
/// case), optionally with a `charset` and no other parameter (a browser
/// takes the last of comma-separated types: `text/plain; x=1, text/html` is
/// HTML).
pub fn is_passive(content_type: &[u8]) -> bool {
    let (essence, params) = match content_type.iter().position(|&b| b == b';') {
        Some(i) => (&content_type[..i], Some(&content_type[i + 1..])),
        None => (content_type, None),
    };
    let token = |s: &[u8]| {
        !s.is_empty()
            && s.iter()
                .all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    };
    let charset = params.is_none_or(|p| {
        let p = p.trim_ascii();
        p.get(..8)
            .is_some_and(|c| c.eq_ignore_ascii_case(b"charset="))
            && p.get(8..).is_some_and(&token)
    });
    let essence = essence.trim_ascii();
    let under = |p: &str| {
        essence.len() > p.len()
            && essence[..p.len()].eq_ignore_ascii_case(p.as_bytes())
            && token(&essence[p.len()..])
    };
    charset
        && (PASSIVE
            .split(' ')
            .any(|t| essence.eq_ignore_ascii_case(t.as_bytes()))
            || under("video/")
            || under("audio/")
            || under("font/"))
}

/// The request headers a read consent sends on: the pseudo-headers and the
/// allowlisted client headers, in their order. Everything else the client
/// sent (cookies, credentials, `x-amz-*`, `content-*`) is dropped.
pub fn consented_headers<'a, H: Pair>(headers: &'a [H], allowed: &[String]) -> Vec<Header<'a>> {
    headers
        .iter()
        .map(|h| (h.name(), h.value()))
        .filter(|(k, _)| k.starts_with(':') || allowed.iter().any(|a| a == k))
        .collect()
}

/// How storage's answer is rewritten for a flow A client.
#[derive(Debug, Clone, Copy, Default)]
pub struct AnswerRules<'a> {
    /// Storage headers the client never sees (e.g. [`STORAGE_IDENTIFYING`]).
    pub hide: &'a [String],
    /// An error whose body is replaced by [`plain_error`]: its own
    /// `content-length` and `content-type` go.
    pub plain_error: bool,
    /// That error has a body to replace (it then becomes `text/plain`).
    pub error_has_body: bool,
    /// The backend's kept headers from the marker (`carry::parse`).
    pub kept: &'a [(&'a str, &'a [u8])],
    /// A consented answer (flows A and D): `nosniff`; storage's caching
    /// becomes `private` unless the backend kept a `cache-control`; an
    /// active type in a `200`/`206` becomes an attachment in a sandbox
    /// unless the backend kept a `content-type` or `content-disposition`;
    /// storage's `x-amz-*` headers go but for `expose`.
    pub consented: bool,
    /// Storage's `x-amz-*` response headers a consented answer keeps.
    pub expose: &'a [String],
    /// The body is rewritten by [`scrub_xml`]: its `content-length` goes.
    pub scrub: bool,
    /// An error answer, never cached whoever said it could be: the
    /// backend's kept `Cache-Control` and `Expires` describe the asset, not
    /// a failure a browser would keep replaying (a transient `403`, a `404`
    /// before an upload landed), and storage's own describe the body
    /// asset-gate replaced. Both go, and `Cache-Control: no-store` is set.
    pub no_store: bool,
}

/// One change to storage's answer, as the host applies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerEdit<'a> {
    /// Every line of this header goes.
    Remove(&'a str),
    /// This header's lines (there is at most one) become this one line.
    Set(&'a str, &'a [u8]),
    /// One more line of this header.
    Add(&'a str, &'a [u8]),
}

/// Storage's answer as a flow A client sees it, as the few edits that make
/// it (one host call each; rewriting the whole map costs Envoy more than a
/// handful of edits, measured under callgrind): hidden and error headers removed,
/// then the backend's kept headers applied as nginx does (each name's first
/// kept line replaces storage's copies, `Set-Cookie` and further lines are
/// added). `None` when nothing changes.
pub fn client_answer<'a, H: Pair>(
    response: &'a [H],
    rules: &AnswerRules<'a>,
) -> Option<Vec<AnswerEdit<'a>>> {
    let mut kept = carry::edits(rules.kept);
    if rules.no_store {
        kept.retain(|&(n, _, _)| n != "cache-control" && n != "expires");
    }
    let kept_has = |k: &str| kept.iter().any(|&(n, _, _)| n == k);
    let safe = rules.consented;
    let value = |k: &str| response.iter().find(|h| h.name() == k).map(|h| h.value());
    // Storage answered with the object (or part of it) in an active type
    // the backend did not choose: the uploader's, served as an attachment.
    let active = safe
        && matches!(value(":status"), Some(b"200" | b"206"))
        && !kept_has("content-type")
        && !kept_has("content-disposition")
        && !value("content-type").is_some_and(is_passive);
    let private = safe && !rules.no_store && !kept_has("cache-control");
    let ours = |k: &str| {
        (safe && k == "x-content-type-options")
            || ((private || rules.no_store) && k == "cache-control")
            || (active && (k == "content-disposition" || k == "content-security-policy"))
    };
    let replaced = |k: &str| ours(k) || kept.iter().any(|&(n, _, e)| e == Edit::Replace && n == k);
    let set_type = rules.plain_error && rules.error_has_body;
    let dropped = |k: &str| {
        rules.hide.iter().any(|h| h == k)
            || (rules.plain_error && (k == "content-length" || k == "content-type"))
            || (safe && k.starts_with("x-amz-") && !rules.expose.iter().any(|e| e == k))
            || (rules.scrub && k == "content-length")
            || (rules.no_store && k == "expires")
            || replaced(k)
    };
    let lines = |k: &str| response.iter().filter(|h| h.name() == k).count();
    let mut out: Vec<AnswerEdit<'a>> = Vec::new();
    for (i, h) in response.iter().enumerate() {
        let k = h.name();
        let first = !response.iter().take(i).any(|p| p.name() == k);
        // A name that gets one new line by `Set` needs no removal first,
        // unless storage sent it more than once.
        let set_later = (set_type && k == "content-type") || replaced(k);
        if first && dropped(k) && !(set_later && lines(k) == 1) {
            out.push(AnswerEdit::Remove(k));
        }
    }
    if set_type {
        out.push(AnswerEdit::Set(
            "content-type",
            b"text/plain; charset=utf-8",
        ));
    }
    if safe {
        out.push(AnswerEdit::Set("x-content-type-options", b"nosniff"));
    }
    if private {
        out.push(AnswerEdit::Set("cache-control", b"private"));
    }
    if rules.no_store {
        out.push(AnswerEdit::Set("cache-control", b"no-store"));
    }
    if active {
        out.push(AnswerEdit::Set("content-disposition", b"attachment"));
        out.push(AnswerEdit::Set("content-security-policy", b"sandbox"));
    }
    for (name, value, edit) in kept {
        out.push(match edit {
            Edit::Replace => AnswerEdit::Set(name, value),
            Edit::Add => AnswerEdit::Add(name, value),
        });
    }
    (!out.is_empty()).then_some(out)
}

/// S3's XML answer to a consented `POST` (a multipart upload's initiation
/// or completion) without the elements that name where the object lives
/// (`Location`, `Bucket`, `Key`): storage's endpoint, bucket and key
/// mapping are asset-gate's; the client knows its own path, and keeps the
/// `UploadId` and `ETag` it needs.
pub fn scrub_xml(body: &[u8]) -> Vec<u8> {
    const NAMED: [(&[u8], &[u8]); 3] = [
        (b"<Location>", b"</Location>"),
        (b"<Bucket>", b"</Bucket>"),
        (b"<Key>", b"</Key>"),
    ];
    let mut out = Vec::with_capacity(body.len());
    let mut rest = body;
    'scan: while let Some((&b, tail)) = rest.split_first() {
        for (open, close) in NAMED {
            if rest.starts_with(open) {
                if let Some(end) = ascii::find(rest, close) {
                    rest = &rest[end + close.len()..];
                    continue 'scan;
                }
            }
        }
        out.push(b);
        rest = tail;
    }
    out
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
        let names: Vec<&str> = kept.iter().map(|(k, _)| *k).collect();
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

    fn answer(pairs: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
            .collect()
    }

    /// The edits applied as Envoy applies them: `Remove` drops every line,
    /// `Set` drops every line and appends one, `Add` appends one.
    fn applied<'a>(
        response: &'a [(String, Vec<u8>)],
        edits: &[AnswerEdit<'a>],
    ) -> Vec<(&'a str, &'a str)> {
        let mut map: Vec<(&str, &[u8])> = response
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_slice()))
            .collect();
        for edit in edits {
            match *edit {
                AnswerEdit::Remove(k) => map.retain(|(n, _)| *n != k),
                AnswerEdit::Set(k, v) => {
                    map.retain(|(n, _)| *n != k);
                    map.push((k, v));
                }
                AnswerEdit::Add(k, v) => map.push((k, v)),
            }
        }
        map.into_iter()
            .map(|(k, v)| (k, std::str::from_utf8(v).unwrap()))
            .collect()
    }

    #[test]
    fn the_client_answer_hides_storage_and_applies_the_backend_headers() {
        let hide: Vec<String> = STORAGE_IDENTIFYING.iter().map(|s| s.to_string()).collect();
        let storage = answer(&[
            (":status", "200"),
            ("content-type", "image/png"),
            ("server", "SeaweedFS"),
            ("x-amz-request-id", "r1"),
            ("cache-control", "public, max-age=60"),
            ("set-cookie", "s=storage"),
            ("etag", "\"e\""),
        ]);
        let kept: Vec<(&str, &[u8])> = vec![
            ("cache-control", b"private"),
            ("set-cookie", b"a=1"),
            ("set-cookie", b"b=2"),
            ("content-disposition", b"attachment; filename=\"x.png\""),
        ];
        let rules = AnswerRules {
            hide: &hide,
            kept: &kept,
            ..AnswerRules::default()
        };
        let edits = client_answer(&storage, &rules).unwrap();
        assert_eq!(
            applied(&storage, &edits),
            [
                (":status", "200"),
                ("content-type", "image/png"),
                ("set-cookie", "s=storage"),
                ("etag", "\"e\""),
                ("cache-control", "private"),
                ("set-cookie", "a=1"),
                ("set-cookie", "b=2"),
                ("content-disposition", "attachment; filename=\"x.png\""),
            ]
        );
        // One host call per hidden header and per kept line; a kept name
        // storage sent once is replaced without a removal first.
        assert_eq!(
            edits,
            [
                AnswerEdit::Remove("server"),
                AnswerEdit::Remove("x-amz-request-id"),
                AnswerEdit::Set("cache-control", b"private"),
                AnswerEdit::Add("set-cookie", b"a=1"),
                AnswerEdit::Add("set-cookie", b"b=2"),
                AnswerEdit::Set("content-disposition", b"attachment; filename=\"x.png\""),
            ]
        );
        // Nothing to hide, keep or rewrite: no write at all.
        let plain = answer(&[(":status", "200"), ("etag", "\"e\"")]);
        assert!(client_answer(&plain, &rules_without_kept(&hide)).is_none());
    }

    fn rules_without_kept(hide: &[String]) -> AnswerRules<'_> {
        AnswerRules {
            hide,
            ..AnswerRules::default()
        }
    }

    #[test]
    fn an_error_answer_loses_its_body_headers() {
        let storage = answer(&[
            (":status", "404"),
            ("content-type", "application/xml"),
            ("content-length", "312"),
        ]);
        let with_body = AnswerRules {
            plain_error: true,
            error_has_body: true,
            ..AnswerRules::default()
        };
        let edits = client_answer(&storage, &with_body).unwrap();
        assert_eq!(
            applied(&storage, &edits),
            [
                (":status", "404"),
                ("content-type", "text/plain; charset=utf-8")
            ]
        );
        let head = AnswerRules {
            error_has_body: false,
            ..with_body
        };
        let edits = client_answer(&storage, &head).unwrap();
        assert_eq!(applied(&storage, &edits), [(":status", "404")]);
    }

    #[test]
    fn a_kept_name_storage_sent_twice_is_removed_before_it_is_set() {
        let storage = answer(&[
            (":status", "200"),
            ("cache-control", "public"),
            ("cache-control", "max-age=60"),
            ("link", "<a>"),
        ]);
        let kept: Vec<(&str, &[u8])> = vec![("cache-control", b"private"), ("link", b"<b>")];
        let rules = AnswerRules {
            kept: &kept,
            ..AnswerRules::default()
        };
        let edits = client_answer(&storage, &rules).unwrap();
        assert_eq!(edits[0], AnswerEdit::Remove("cache-control"));
        assert_eq!(
            applied(&storage, &edits),
            [
                (":status", "200"),
                ("cache-control", "private"),
                ("link", "<b>")
            ]
        );
    }

    #[test]
    fn a_consented_answer_is_never_the_uploaders_active_or_public_content() {
        let expose = vec!["x-amz-version-id".to_string()];
        let storage = answer(&[
            (":status", "200"),
            ("content-type", "text/html; charset=utf-8"),
            ("cache-control", "public, max-age=86400"),
            ("x-amz-meta-owner", "eve"),
            ("x-amz-version-id", "v1"),
            ("etag", "\"e\""),
        ]);
        let rules = AnswerRules {
            consented: true,
            expose: &expose,
            ..AnswerRules::default()
        };
        let edits = client_answer(&storage, &rules).unwrap();
        assert_eq!(
            applied(&storage, &edits),
            [
                (":status", "200"),
                ("content-type", "text/html; charset=utf-8"),
                ("x-amz-version-id", "v1"),
                ("etag", "\"e\""),
                ("x-content-type-options", "nosniff"),
                ("cache-control", "private"),
                ("content-disposition", "attachment"),
                ("content-security-policy", "sandbox"),
            ]
        );
        // The backend chose: its disposition and caching stand, no sandbox.
        let kept: Vec<(&str, &[u8])> = vec![
            ("content-disposition", b"inline"),
            ("cache-control", b"public, max-age=60"),
        ];
        let backend = AnswerRules {
            kept: &kept,
            ..rules
        };
        let edits = client_answer(&storage, &backend).unwrap();
        let got = applied(&storage, &edits);
        assert!(got.contains(&("content-disposition", "inline")), "{got:?}");
        assert!(got.contains(&("cache-control", "public, max-age=60")));
        assert!(!got.iter().any(|(k, _)| *k == "content-security-policy"));
        // A passive type, a 304 or an error is shown as it is.
        for (status, ty) in [
            ("200", "image/png"),
            ("206", "Video/MP4"),
            ("304", "text/html"),
        ] {
            let storage = answer(&[(":status", status), ("content-type", ty)]);
            let got = applied(&storage, &client_answer(&storage, &rules).unwrap());
            assert!(
                !got.iter().any(|(k, _)| *k == "content-disposition"),
                "{status} {ty}"
            );
            assert!(got.contains(&("x-content-type-options", "nosniff")));
        }
        // No type at all is active.
        let storage = answer(&[(":status", "200")]);
        let got = applied(&storage, &client_answer(&storage, &rules).unwrap());
        assert!(
            got.contains(&("content-disposition", "attachment")),
            "{got:?}"
        );
    }

    #[test]
    fn passive_types_are_an_allowlist() {
        for t in [
            "image/png",
            "IMAGE/JPEG ; charset=x",
            "audio/ogg",
            "font/woff2",
            "text/plain; charset=utf-8",
            "application/octet-stream",
        ] {
            assert!(is_passive(t.as_bytes()), "{t}");
        }
        for t in [
            "text/html",
            "image/svg+xml",
            "application/xml",
            "text/javascript",
            "application/pdf",
            "video/",
            "",
            "text/plain-ish",
            "application/xhtml+xml",
        ] {
            assert!(!is_passive(t.as_bytes()), "{t}");
        }
    }

    #[test]
    fn multipart_answers_lose_bucket_key_and_location() {
        let complete = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CompleteMultipartUploadResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Location>http://10.0.0.5:8333/vault/uploads/mp.bin</Location><Bucket>vault</Bucket><Key>uploads/mp.bin</Key><ETag>&#34;abc-1&#34;</ETag></CompleteMultipartUploadResult>";
        assert_eq!(
            String::from_utf8(scrub_xml(complete)).unwrap(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CompleteMultipartUploadResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><ETag>&#34;abc-1&#34;</ETag></CompleteMultipartUploadResult>"
        );
        let initiate = b"<InitiateMultipartUploadResult><Bucket>vault</Bucket><Key>a</Key><UploadId>u1</UploadId></InitiateMultipartUploadResult>";
        assert_eq!(
            scrub_xml(initiate),
            b"<InitiateMultipartUploadResult><UploadId>u1</UploadId></InitiateMultipartUploadResult>"
        );
        // Unclosed or absent elements: left as they are, no panic.
        assert_eq!(scrub_xml(b"<Bucket>x"), b"<Bucket>x");
        assert_eq!(scrub_xml(b""), b"");
        let storage = answer(&[(":status", "200"), ("content-length", "312")]);
        let rules = AnswerRules {
            scrub: true,
            ..AnswerRules::default()
        };
        assert_eq!(
            client_answer(&storage, &rules).unwrap(),
            [AnswerEdit::Remove("content-length")]
        );
    }

    #[test]
    fn plain_errors_name_no_bucket() {
        assert_eq!(plain_error(404), "404 not found\n");
        assert_eq!(plain_error(599), "599 storage error\n");
    }
}
