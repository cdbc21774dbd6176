//! The storage role (upstream on the storage cluster for flow A, downstream
//! on a signing edge for flow C) and the signing it shares with the gateway:
//! only what the auth backend consented to is signed, as the read it
//! consented to; storage's answer keeps its internals to itself.

use crate::answers::{Answer, Refusal};
use crate::config::{MissingCredentials, SigningConfig};
use crate::internal_redirect::marker::{Consent, MarkerError};
use crate::metrics::Counter;
use crate::primitives::ascii;
use crate::primitives::header_map::Pair;
use crate::signing::prepare::{self, Body, Rewrite, Signed};

/// The read-consent policy of flow A: a request reaches storage only with a
/// valid marker for its path (403 otherwise), as a method the marker grants
/// (405), and without a body, which a read consent never carries (400).
/// A well-formed marker under another secret gets its own 403, which names
/// the usual cause (placements with different `vm_id`s); it is refused
/// exactly as a forged one, which it may be.
pub fn read_consent(
    verified: Result<Consent, MarkerError>,
    method: &str,
    end_of_stream: bool,
) -> Result<Consent, Answer> {
    let consent = verified.map_err(|e| match e {
        MarkerError::OtherKey => Answer::MarkerOtherKey,
        _ => Answer::NoMarker,
    })?;
    if !consent.grant.allows(method) {
        return Err(Answer::MarkerGrantsReads);
    }
    if !end_of_stream {
        return Err(Answer::MarkerReadWithBody);
    }
    Ok(consent)
}

/// What a signing edge (no marker required) does with a request's headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Sign now, with this body.
    Sign(Body<'static>),
    /// Hold the headers until the body is buffered and hashed.
    Buffer,
    Refuse(Refusal),
}

/// A signing edge's request: no body signs at once, a body the
/// configuration does not hash streams unsigned, a declared length over
/// the limit is refused before a byte is buffered, the rest is buffered.
pub fn unmarked_request<H: Pair>(cfg: &SigningConfig, headers: &[H], end_of_stream: bool) -> Plan {
    if end_of_stream {
        return Plan::Sign(Body::None);
    }
    if !prepare::hashes_body(cfg, headers) {
        return Plan::Sign(Body::Streamed);
    }
    if prepare::declared_length(headers).is_some_and(|n| n > cfg.max_body_bytes as u64) {
        return Plan::Refuse(body_too_large(cfg.max_body_bytes));
    }
    Plan::Buffer
}

/// A body over `max` bytes, declared or counted: nothing is sent.
pub fn body_too_large(max: usize) -> Refusal {
    Answer::BodyTooLarge.with(max.to_string())
}

/// What signing came to, under the `on_missing_credentials` policy: the
/// rewrite and whether it is signed (`requests_signed`; unsigned counts as
/// `missing_credentials` and `requests_unsigned`), or the refusal (whose
/// answer counts itself). Without credentials, `deny` refuses (503) and
/// `pass` forwards the request unsigned.
pub fn signing_outcome(
    prepared: Result<Signed<'_>, Refusal>,
    missing: MissingCredentials,
) -> Result<(Rewrite<'_>, bool), Refusal> {
    match prepared? {
        Signed::Yes(rw) => Ok((rw, true)),
        Signed::NoCredentials(_) if missing == MissingCredentials::Deny => {
            Err(Answer::NoCredentials.into())
        }
        Signed::NoCredentials(rw) => Ok((rw, false)),
    }
}

/// The counters a signing outcome bumps (`signed` from [`signing_outcome`]).
pub fn signing_counters(signed: bool) -> &'static [Counter] {
    if signed {
        &[Counter::RequestsSigned]
    } else {
        &[Counter::MissingCredentials, Counter::RequestsUnsigned]
    }
}

/// Whether storage's answer needs any work: headers to hide, errors to make
/// plain, kept headers to add, or a consented answer (flows A and D) to
/// make safe. Flow C's answers otherwise pass untouched, unread.
pub fn touches_answer(cfg: &SigningConfig, kept: &[u8], consented: bool) -> bool {
    !cfg.hide_response_headers.is_empty() || cfg.plain_errors || !kept.is_empty() || consented
}

/// What storage's answer gets, once its headers are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnswerPlan {
    /// An error whose body becomes a short plain text (`plain_errors`).
    pub plain_error: bool,
    /// A multipart upload's XML answer (it names the bucket and endpoint)
    /// to scrub.
    pub scrub: bool,
    /// The status whose body the body callbacks replace, if any.
    pub replace_body: Option<u32>,
    /// An error (`>= 400`): never cached, whoever said it could be
    /// (`AnswerRules::no_store`).
    pub no_store: bool,
}

/// Storage's answer of `status`: `plain_errors` makes an error plain; the
/// 2xx XML answer to a consented POST (a multipart call) is scrubbed; a
/// body is replaced only when there is one.
pub fn storage_answer(
    cfg: &SigningConfig,
    consented: bool,
    status: u32,
    end_of_stream: bool,
    content_type: Option<&str>,
    post: bool,
) -> AnswerPlan {
    let plain_error = cfg.plain_errors && status >= 400;
    let scrub = consented
        && (200..300).contains(&status)
        && !end_of_stream
        && content_type.is_some_and(|t| crate::primitives::ascii::contains(t, "xml"))
        && post;
    AnswerPlan {
        plain_error,
        scrub,
        replace_body: ((plain_error || scrub) && !end_of_stream).then_some(status),
        no_store: status >= 400,
    }
}

/// Where a signed request went, as a storage error's log line names it:
/// the storage host and the path, without the query (the bucket is in one
/// or the other, the key in the path).
pub fn error_target(authority: &str, path: &str) -> String {
    let path = ascii::split_once(path, b'?').map_or(path, |(p, _)| p);
    [authority, path].concat()
}

/// How long a request held for its body (`signing.body: "hash"`) waits
/// before asset-gate checks that Envoy hands the body over. Without
/// `allow_on_headers_stop_iteration` Envoy holds the body back from the
/// filter and the request hangs until a timeout (the route's, 15 s by
/// default, or on a listener the stream idle timeout, 5 minutes); 2 s
/// names the mistake well before that, and is far longer than Envoy takes
/// to pass on a body chunk it has received.
pub const BODY_WAIT_MS: u64 = 2_000;

/// Whether a request held for its body for `waited_ms` shows that Envoy
/// withholds the body: Envoy has received body bytes for it (its received
/// count grew from `at_headers` to `now`) that never reached the filter. A
/// client slow to send its body (nothing received yet) is never cut.
pub fn body_withheld(waited_ms: u64, at_headers: u64, now: u64) -> bool {
    waited_ms >= BODY_WAIT_MS && now > at_headers
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::internal_redirect::marker::Grant;

    use crate::internal_redirect::consent::{client_answer, AnswerEdit, AnswerRules};
    use crate::signing::testkit::signing as cfg;

    fn read() -> Result<Consent, MarkerError> {
        Ok(Consent {
            grant: Grant::Read,
            carried: b"kept".to_vec(),
        })
    }

    #[test]
    fn only_a_marked_read_without_body_passes() {
        assert_eq!(read_consent(read(), "GET", true).unwrap().carried, b"kept");
        assert!(read_consent(read(), "HEAD", true).is_ok());
        for e in [
            MarkerError::Missing,
            MarkerError::Duplicated,
            MarkerError::NoSecret,
            MarkerError::Malformed,
            MarkerError::Expired,
            MarkerError::BadMac,
            MarkerError::NoClock,
        ] {
            assert_eq!(read_consent(Err(e), "GET", true), Err(Answer::NoMarker));
        }
        // Another secret's marker: a 403 of its own, counted the same way.
        let other = read_consent(Err(MarkerError::OtherKey), "GET", true).unwrap_err();
        assert_eq!(other, Answer::MarkerOtherKey);
        assert_eq!(other.status(), Answer::NoMarker.status());
        assert_eq!(other.counter(), Answer::NoMarker.counter());
        assert_eq!(
            read_consent(Err(MarkerError::OtherKey), "PUT", false),
            Err(Answer::MarkerOtherKey)
        );
        for m in ["PUT", "POST", "DELETE", "get"] {
            let refused = read_consent(read(), m, true).unwrap_err();
            assert_eq!(refused, Answer::MarkerGrantsReads, "{m}");
            assert_eq!(refused.status(), 405);
        }
        let body = read_consent(read(), "GET", false).unwrap_err();
        assert_eq!((body.status(), body), (400, Answer::MarkerReadWithBody));
        // The marker is checked first: no marker is 403 whatever the method.
        assert_eq!(
            read_consent(Err(MarkerError::Missing), "PUT", false),
            Err(Answer::NoMarker)
        );
    }

    use crate::signing::testkit::headers as h;

    #[test]
    fn a_signing_edge_buffers_only_what_it_hashes_within_the_limit() {
        let hash = cfg(r#","service":"execute-api","endpoint":"api.example","max_body_bytes":100"#);
        let s3 = cfg("");
        let none = h(&[]);
        assert_eq!(unmarked_request(&hash, &none, true), Plan::Sign(Body::None));
        assert_eq!(
            unmarked_request(&s3, &none, false),
            Plan::Sign(Body::Streamed)
        );
        assert_eq!(unmarked_request(&hash, &none, false), Plan::Buffer);
        let small = h(&[("content-length", "100")]);
        assert_eq!(unmarked_request(&hash, &small, false), Plan::Buffer);
        let big = h(&[("content-length", "101")]);
        let Plan::Refuse(r) = unmarked_request(&hash, &big, false) else {
            panic!("a declared body over the limit is refused");
        };
        assert_eq!(r.status(), 413);
        assert_eq!(
            r.message(),
            "the request body is over the 100 bytes asset-gate buffers to sign it"
        );
    }

    fn rewrite() -> Rewrite<'static> {
        Rewrite {
            path: "/b/k".into(),
            authority: "s3".into(),
            path_changed: false,
            authority_changed: false,
            remove: vec![],
            set: None,
        }
    }

    #[test]
    fn missing_credentials_follow_the_policy() {
        let (_, signed) =
            signing_outcome(Ok(Signed::Yes(rewrite())), MissingCredentials::Deny).unwrap();
        assert!(signed);
        assert_eq!(signing_counters(signed), [Counter::RequestsSigned]);
        let denied = signing_outcome(
            Ok(Signed::NoCredentials(rewrite())),
            MissingCredentials::Deny,
        );
        assert_eq!(denied, Err(Answer::NoCredentials.into()));
        let (rw, signed) = signing_outcome(
            Ok(Signed::NoCredentials(rewrite())),
            MissingCredentials::Pass,
        )
        .unwrap();
        assert_eq!(rw, rewrite());
        assert!(!signed);
        assert_eq!(
            signing_counters(signed),
            [Counter::MissingCredentials, Counter::RequestsUnsigned]
        );
        let refused = Answer::NoBucketMapped.into();
        assert_eq!(
            signing_outcome(Err(refused), MissingCredentials::Pass),
            Err(Answer::NoBucketMapped.into())
        );
    }

    #[test]
    fn storage_answers_are_made_plain_and_scrubbed_as_configured() {
        let plain = cfg(r#","plain_errors":true"#);
        let raw = cfg(r#","plain_errors":false"#);
        let xml = Some("application/xml");
        let p = storage_answer(&plain, true, 404, false, xml, false);
        assert!(p.plain_error && !p.scrub);
        assert_eq!(p.replace_body, Some(404));
        // No body, nothing to replace; the headers still change.
        let p = storage_answer(&plain, true, 404, true, None, false);
        assert_eq!((p.plain_error, p.replace_body), (true, None));
        assert!(!storage_answer(&raw, true, 404, false, None, false).plain_error);
        // Only a consented POST's 2xx XML answer is scrubbed.
        assert_eq!(
            storage_answer(&raw, true, 200, false, xml, true).replace_body,
            Some(200)
        );
        for (consented, status, ty, post) in [
            (false, 200, xml, true),
            (true, 200, xml, false),
            (true, 200, Some("text/plain"), true),
            (true, 304, xml, true),
        ] {
            let p = storage_answer(&raw, consented, status, false, ty, post);
            assert_eq!(p.replace_body, None, "{consented} {status} {ty:?} {post}");
        }
        assert!(touches_answer(&plain, b"", false));
        assert!(touches_answer(&raw, b"", true));
        assert!(touches_answer(&raw, b"k", false));
    }

    fn edits_of(status: u32, storage: &[(&str, &str)], kept: &[u8]) -> Vec<(String, String)> {
        let mut response = vec![(":status".to_string(), status.to_string().into_bytes())];
        for (k, v) in storage {
            response.push((k.to_string(), v.as_bytes().to_vec()));
        }
        let kept = crate::internal_redirect::carry::parse(kept);
        let rules = AnswerRules {
            kept: &kept,
            consented: true,
            no_store: storage_answer(&cfg(""), true, status, false, None, false).no_store,
            ..Default::default()
        };
        let edits = client_answer(&response, &rules).unwrap_or_default();
        edits
            .iter()
            .map(|e| match e {
                AnswerEdit::Remove(k) => ("remove".into(), k.to_string()),
                AnswerEdit::Set(k, v) => (format!("set {k}"), String::from_utf8_lossy(v).into()),
                AnswerEdit::Add(k, v) => (format!("add {k}"), String::from_utf8_lossy(v).into()),
            })
            .collect()
    }

    fn caching(edits: &[(String, String)]) -> Vec<(String, String)> {
        edits
            .iter()
            .filter(|(e, v)| {
                e.contains("cache-control")
                    || e.contains("expires")
                    || v == "expires"
                    || v == "cache-control"
            })
            .cloned()
            .collect()
    }

    #[test]
    fn storage_errors_are_never_cached_whatever_the_backend_kept() {
        let kept: &[u8] = b"cache-control:private, max-age=60\n\
expires:Thu, 01 Jan 2037 00:00:00 GMT\nset-cookie:seen=1\n";
        let set = |v: &str| ("set cache-control".to_string(), v.to_string());
        for status in [403, 404, 500, 503] {
            let edits = edits_of(status, &[("content-type", "application/xml")], kept);
            assert_eq!(caching(&edits), [set("no-store")], "{status}");
            // The rest of the backend's kept headers still apply.
            assert!(edits.contains(&("add set-cookie".into(), "seen=1".into())));
        }
        // Storage's own caching lines go too.
        let storage = [
            ("cache-control", "max-age=3600"),
            ("cache-control", "public"),
            ("expires", "Thu, 01 Jan 2037 00:00:00 GMT"),
        ];
        let edits = edits_of(404, &storage, b"");
        assert_eq!(
            caching(&edits),
            [
                ("remove".to_string(), "cache-control".to_string()),
                ("remove".to_string(), "expires".to_string()),
                set("no-store")
            ]
        );
        // Successful and not-modified answers keep the backend's caching.
        for status in [200, 206, 304] {
            let edits = edits_of(status, &[], kept);
            assert_eq!(
                caching(&edits),
                [
                    set("private, max-age=60"),
                    (
                        "set expires".to_string(),
                        "Thu, 01 Jan 2037 00:00:00 GMT".to_string()
                    )
                ],
                "{status}"
            );
        }
        // Without edits, a success stays untouched and an error gets one.
        let response = h(&[(":status", "200")]);
        assert_eq!(client_answer(&response, &AnswerRules::default()), None);
        let response = h(&[(":status", "403")]);
        let error = AnswerRules {
            no_store: true,
            ..Default::default()
        };
        assert_eq!(
            client_answer(&response, &error),
            Some(vec![AnswerEdit::Set("cache-control", b"no-store")])
        );
    }

    #[test]
    fn a_withheld_body_is_one_envoy_received_but_never_handed_over() {
        // Body bytes in Envoy, none delivered, past the wait: withheld.
        assert!(body_withheld(BODY_WAIT_MS, 100, 5_000));
        assert!(body_withheld(9_000, 100, 101));
        // Not yet past the wait.
        assert!(!body_withheld(BODY_WAIT_MS - 1, 100, 5_000));
        // A slow client: no body byte received yet, however long it takes.
        assert!(!body_withheld(60_000, 100, 100));
    }

    #[test]
    fn an_error_names_the_storage_host_and_path_without_the_query() {
        assert_eq!(
            error_target(
                "127.0.0.1:8333",
                "/assets/a%20b.txt?response-content-type=x"
            ),
            "127.0.0.1:8333/assets/a%20b.txt"
        );
        assert_eq!(
            error_target("assets.s3.eu-west-1.amazonaws.com", "/k"),
            "assets.s3.eu-west-1.amazonaws.com/k"
        );
    }
}
