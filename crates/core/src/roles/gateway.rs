//! The gateway role (flow D): its choices around the auth subrequest. Which
//! answers mean the backend is down, which consents the decision cache
//! keeps and for how long, an upload's byte budget, and whether a consent
//! is served by a presigned redirect.

use crate::answers::{Answer, Refusal};
use crate::config::DecisionCacheConfig;
use crate::gateway::consent::{self, Consent, Permit};
use crate::gateway::decision_cache;
use crate::primitives::header_map::Pair;
use crate::primitives::syntax::after_http_scheme;

/// Whether the decision cache is on at all (a key costs a hash).
pub fn caches(cfg: &DecisionCacheConfig) -> bool {
    cfg.max_age_secs > 0 && cfg.max_entries > 0
}

/// Fail-closed: no answer (`status` unreadable), or Envoy's own 503/504
/// (`from_envoy`: the answer lacks the upstream service time Envoy adds to
/// the backend's), never consents; the client gets 503 or 504.
pub fn backend_down(status: Option<u32>, from_envoy: bool) -> Option<Answer> {
    match status {
        None => Some(Answer::AuthUnavailable),
        Some(503) if from_envoy => Some(Answer::AuthUnavailable),
        Some(504) if from_envoy => Some(Answer::AuthTimeout),
        _ => None,
    }
}

/// Until when (ms) a consent may be cached: the backend opted in
/// (`Cache-Control: private, max-age=N`, bounded by the configuration), and
/// a write consent only where writes may be cached.
pub fn cache_until<'a>(
    cfg: &DecisionCacheConfig,
    cache_control: impl IntoIterator<Item = &'a [u8]>,
    consent: &Consent,
    now_ms: u64,
) -> Option<u64> {
    let age = decision_cache::max_age(cache_control)?.min(cfg.max_age_secs);
    if consent.grants.any_write() && !cfg.writes {
        return None;
    }
    Some(now_ms.saturating_add(age * 1000))
}

/// A permitted request's byte budget: a write under `X-Accel-Max-Bytes`
/// gets one (413 when its declared size, or the bytes Envoy already
/// `streamed` while the backend was asked, are over it); anything else
/// streams unbounded.
pub fn upload_budget<H: Pair>(
    permit: &Permit,
    consent: &Consent,
    client: &[H],
    streamed: u64,
) -> Result<Option<u64>, Refusal> {
    let Some(max) = consent.max_bytes.filter(|_| permit.write) else {
        return Ok(None);
    };
    match consent::upload_limit(client, max)? {
        n if streamed <= n => Ok(Some(n)),
        _ => Err(consent::too_large()),
    }
}

/// Whether `streamed` bytes are over a granted upload's `budget`.
pub fn over_budget(streamed: u64, budget: u64) -> bool {
    streamed > budget
}

/// Whether a permitted request is answered with a presigned redirect, and
/// the headers the URL signs besides `host`: reads and plain PUTs (their
/// type and limited length signed). Multipart calls, DELETE, and
/// size-limited uploads of an undeclared size (asset-gate counts their
/// bytes) stream through instead (`Ok(None)`).
pub fn presign_upload<'a, H: Pair>(
    method: &str,
    permit: &Permit,
    client: &'a [H],
    consent: &'a Consent,
) -> Result<Option<Vec<(&'static str, &'a str)>>, Refusal> {
    if !consent.presign || method == "DELETE" {
        return Ok(None);
    }
    match (permit.write, permit.query.is_empty()) {
        (false, _) => Ok(Some(Vec::new())),
        (true, false) => Ok(None),
        (true, true) => consent::presigned_put(client, consent),
    }
}

/// The presigned redirect's status: 302 keeps a read a GET; 307 keeps a
/// PUT a PUT (with its body).
pub fn presign_status(write: bool) -> u32 {
    if write {
        307
    } else {
        302
    }
}

/// The host a presigned URL is signed for: the base URL without its scheme.
pub fn presign_host(base_url: &str) -> &str {
    after_http_scheme(base_url).unwrap_or(base_url)
}

/// The query a presigned read carries besides the signature: the backend's
/// Content-Disposition and Content-Type for the client's answer.
pub fn presign_params<'c>(permit: &Permit, consent: &'c Consent) -> Vec<(&'static str, &'c str)> {
    let mut params = vec![];
    if !permit.write {
        if let Some(d) = &consent.disposition {
            params.push(("response-content-disposition", d.as_str()));
        }
        if let Some(t) = &consent.content_type {
            params.push(("response-content-type", t.as_str()));
        }
    }
    params
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::consent::Grants;

    fn consent(grants: Grants, max_bytes: Option<u64>, presign: bool) -> Consent {
        Consent {
            path: "/b/k".into(),
            query: String::new(),
            grants,
            max_bytes,
            presign,
            kept: vec![],
            disposition: Some("attachment".into()),
            content_type: Some("text/plain".into()),
            upload_type: None,
        }
    }

    fn permit(write: bool, query: &str) -> Permit {
        Permit {
            write,
            query: query.into(),
        }
    }

    fn put() -> Grants {
        Grants {
            put: true,
            ..Grants::default()
        }
    }

    use crate::signing::testkit::headers as h;

    #[test]
    fn only_envoy_s_own_failures_or_no_answer_mean_down() {
        assert_eq!(backend_down(None, false), Some(Answer::AuthUnavailable));
        assert_eq!(backend_down(Some(503), true), Some(Answer::AuthUnavailable));
        assert_eq!(backend_down(Some(504), true), Some(Answer::AuthTimeout));
        // The backend's own 503/504 is a refusal the client gets as it is.
        assert_eq!(backend_down(Some(503), false), None);
        assert_eq!(backend_down(Some(504), false), None);
        assert_eq!(backend_down(Some(500), true), None);
    }

    #[test]
    fn consents_are_cached_only_as_opted_in_and_bounded() {
        let cfg = DecisionCacheConfig {
            max_age_secs: 30,
            max_entries: 10,
            writes: false,
        };
        assert!(caches(&cfg));
        assert!(!caches(&DecisionCacheConfig {
            max_age_secs: 0,
            ..cfg.clone()
        }));
        let read = consent(Grants::default(), None, false);
        let cc = |v: &'static str| [v.as_bytes()];
        assert_eq!(
            cache_until(&cfg, cc("private, max-age=10"), &read, 1000),
            Some(11_000)
        );
        assert_eq!(
            cache_until(&cfg, cc("private, max-age=100"), &read, 1000),
            Some(31_000)
        );
        assert_eq!(cache_until(&cfg, cc("no-store"), &read, 1000), None);
        let write = consent(put(), None, false);
        assert_eq!(
            cache_until(&cfg, cc("private, max-age=10"), &write, 0),
            None
        );
        let writes = DecisionCacheConfig {
            writes: true,
            ..cfg
        };
        assert_eq!(
            cache_until(&writes, cc("private, max-age=10"), &write, 0),
            Some(10_000)
        );
    }

    #[test]
    fn a_granted_write_gets_its_byte_budget() {
        let limited = consent(put(), Some(100), false);
        let small = h(&[("content-length", "50")]);
        assert_eq!(
            upload_budget(&permit(true, ""), &limited, &small, 0),
            Ok(Some(100))
        );
        // Bytes Envoy held while the backend was asked count.
        assert_eq!(
            upload_budget(&permit(true, ""), &limited, &small, 101),
            Err(Answer::UploadTooLarge.into())
        );
        let big = h(&[("content-length", "101")]);
        let r = upload_budget(&permit(true, ""), &limited, &big, 0).unwrap_err();
        assert_eq!(r.status(), 413);
        // Reads and unlimited writes stream unbounded.
        assert_eq!(
            upload_budget(&permit(false, ""), &limited, &big, 0),
            Ok(None)
        );
        let open = consent(put(), None, false);
        assert_eq!(upload_budget(&permit(true, ""), &open, &big, 0), Ok(None));
        assert!(over_budget(101, 100) && !over_budget(100, 100));
    }

    #[test]
    fn presigned_redirects_serve_reads_and_plain_puts() {
        let none = h(&[]);
        let c = consent(put(), None, true);
        assert_eq!(
            presign_upload("GET", &permit(false, ""), &none, &c),
            Ok(Some(vec![]))
        );
        assert_eq!(
            presign_upload("PUT", &permit(true, "uploadId=1"), &none, &c),
            Ok(None)
        );
        assert_eq!(
            presign_upload("DELETE", &permit(true, ""), &none, &c),
            Ok(None)
        );
        let typed = h(&[("content-type", "image/png")]);
        assert_eq!(
            presign_upload("PUT", &permit(true, ""), &typed, &c),
            Ok(Some(vec![("content-type", "image/png")]))
        );
        let streamed = consent(put(), None, false);
        assert_eq!(
            presign_upload("GET", &permit(false, ""), &none, &streamed),
            Ok(None)
        );
        assert_eq!((presign_status(false), presign_status(true)), (302, 307));
        assert_eq!(presign_host("https://s3.example:9000"), "s3.example:9000");
        assert_eq!(presign_host("http://s3"), "s3");
        assert_eq!(presign_host("s3"), "s3");
        assert_eq!(
            presign_params(&permit(false, ""), &c),
            [
                ("response-content-disposition", "attachment"),
                ("response-content-type", "text/plain")
            ]
        );
        assert!(presign_params(&permit(true, ""), &c).is_empty());
    }
}
