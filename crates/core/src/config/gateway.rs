//! The `gateway` section (role `gateway`, flow D): the auth subrequest,
//! presigned redirects and the decision cache. The storage side is the
//! `signing` section.

use super::types::{
    AddressingStyle, DecisionCacheConfig, GatewayConfig, PresignConfig, SigningConfig,
};
use super::values::{
    self, duration_ms, err, err_at, key, parse_duration, Failed, Fallback as F, Key, Kind as K,
    Reader,
};
use crate::primitives::syntax::after_http_scheme;
use crate::primitives::syntax::is_lowercase_header_name as valid_header_name;

/// The keys of `gateway`, in the order the reader lists them.
#[rustfmt::skip]
pub(super) const KEYS: &[Key] = &[
    key("auth_cluster", K::Str, F::Str("auth_backend"), "Envoy cluster of the auth backend"),
    key("auth_authority", K::Str, F::Derived("`auth_cluster`"), "`:authority` of the auth subrequest"),
    key("auth_timeout", K::Duration(1, 60_000), F::Str("5s"), "auth subrequest timeout"),
    key("forward_headers", K::Strings, F::List(&["cookie", "authorization"]), "client headers the subrequest carries"),
    key("presign", K::Object, F::Unset, "answer presigned redirects instead of streaming"),
    key("decision_cache", K::Object, F::Derived("on, with the defaults below"), "cache the backend's decisions it marks cacheable"),
];

/// The keys of `gateway.presign`.
#[rustfmt::skip]
pub(super) const PRESIGN_KEYS: &[Key] = &[
    key("base_url", K::Str, F::Required, "`scheme://host[:port]` clients reach storage at"),
    key("expires", K::Duration(1000, crate::sigv4::MAX_PRESIGN_EXPIRES_SECS * 1000), F::Str("300s"), "lifetime of a presigned URL"),
    key("always", K::Bool, F::Bool(false), "presign every consent, not only those that ask"),
];

/// The keys of `gateway.decision_cache`.
#[rustfmt::skip]
pub(super) const CACHE_KEYS: &[Key] = &[
    key("max_age", K::Duration(0, 3_600_000), F::Str("60s"), "upper bound on the backend's `max-age`"),
    key("max_entries", K::Uint(0, 65_536), F::Uint(1024), "most decisions kept"),
    key("writes", K::Bool, F::Bool(false), "cache write consents too"),
];

const NAMES: [&str; KEYS.len()] = values::names(&[KEYS]);
const PRESIGN_NAMES: [&str; PRESIGN_KEYS.len()] = values::names(&[PRESIGN_KEYS]);
const CACHE_NAMES: [&str; CACHE_KEYS.len()] = values::names(&[CACHE_KEYS]);

#[derive(Debug, Clone)]
struct RawPresign {
    base_url: Option<String>,
    expires: Option<String>,
    always: bool,
}

/// The settings as written, not yet validated (defaults are applied by
/// `validate`, which also runs for a gateway without the section).
#[derive(Debug, Clone, Default)]
pub(super) struct RawGateway {
    auth_cluster: Option<String>,
    auth_authority: Option<String>,
    auth_timeout: Option<String>,
    forward_headers: Option<Vec<String>>,
    presign: Option<RawPresign>,
    cache_max_age: Option<String>,
    cache_max_entries: Option<usize>,
    cache_writes: bool,
}

/// Reads the `gateway` object of `parent` into `slot`, when there is one.
pub(super) fn read(parent: &Reader, slot: &mut Option<RawGateway>) -> Result<(), Failed> {
    let Some(r) = parent.child("gateway", &NAMES)? else {
        return Ok(());
    };
    let g = slot.insert(RawGateway::default());
    if let Some(p) = r.child("presign", &PRESIGN_NAMES)? {
        g.presign = Some(RawPresign {
            base_url: p.string("base_url")?,
            expires: p.string("expires")?,
            always: p
                .boolean("always")?
                .unwrap_or(const { values::flag(PRESIGN_KEYS, "always") }),
        });
    }
    let cache = r.child("decision_cache", &CACHE_NAMES)?;
    g.auth_cluster = r.string("auth_cluster")?;
    g.auth_authority = r.string("auth_authority")?;
    g.auth_timeout = r.string("auth_timeout")?;
    g.forward_headers = r.strings("forward_headers")?;
    if let Some(c) = &cache {
        g.cache_max_age = c.string("max_age")?;
        g.cache_max_entries = c.uint("max_entries")?;
        g.cache_writes = c.boolean("writes")?.unwrap_or(false);
    }
    Ok(())
}

/// Headers flow D's auth subrequest sets itself (`gateway.forward_headers`
/// may not name them).
fn subrequest_own(name: &str) -> bool {
    name.starts_with(':')
        || name.starts_with("x-original-")
        || ["host", "content-length", "transfer-encoding", "connection"].contains(&name)
}

/// Flow D's settings; the storage side is the `signing` section (without
/// it, as for a shared `gateway` section on another role, the presign URL
/// is not checked against the buckets).
pub(super) fn validate(
    g: RawGateway,
    signing: Option<&SigningConfig>,
) -> Result<GatewayConfig, Failed> {
    let named = |field: &str, v: String| {
        if v.trim().is_empty() {
            return Err(err(field, "must not be empty"));
        }
        Ok(v)
    };
    let auth_cluster = named(
        "gateway.auth_cluster",
        g.auth_cluster
            .unwrap_or_else(|| const { values::text(KEYS, "auth_cluster") }.into()),
    )?;
    let auth_authority = named(
        "gateway.auth_authority",
        g.auth_authority.unwrap_or_else(|| auth_cluster.clone()),
    )?;
    let auth_timeout_ms = duration_ms(
        "gateway.auth_timeout",
        g.auth_timeout.as_deref(),
        const { values::text(KEYS, "auth_timeout") },
        const { values::ms_bounds(KEYS, "auth_timeout").1 },
    )?;
    let forward_headers = g
        .forward_headers
        .unwrap_or_else(|| values::owned(const { values::list(KEYS, "forward_headers") }));
    if let Some(i) = forward_headers
        .iter()
        .position(|n| !valid_header_name(n) || subrequest_own(n))
    {
        return Err(err_at(
            "gateway.forward_headers",
            i,
            "must be a lowercase header name (not host, x-original-* or framing)",
        ));
    }
    let presign = match g.presign {
        None => None,
        Some(p) => {
            let url = p
                .base_url
                .ok_or_else(|| err("gateway.presign.base_url", "required"))?;
            {
                let rest = after_http_scheme(&url).unwrap_or_default();
                if rest.is_empty()
                    || !rest
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
                {
                    return Err(err(
                        "gateway.presign.base_url",
                        "must be http(s)://host[:port], no path",
                    ));
                }
            }
            let expires_ms = duration_ms(
                "gateway.presign.expires",
                p.expires.as_deref(),
                const { values::text(PRESIGN_KEYS, "expires") },
                const { values::ms_bounds(PRESIGN_KEYS, "expires").1 },
            )?;
            if expires_ms < const { values::ms_bounds(PRESIGN_KEYS, "expires").0 } {
                return Err(err("gateway.presign.expires", "must be at least 1s"));
            }
            Some(PresignConfig {
                base_url: url,
                expires_secs: expires_ms / 1000,
                always: p.always,
            })
        }
    };
    let max_age = g
        .cache_max_age
        .as_deref()
        .unwrap_or(const { values::text(CACHE_KEYS, "max_age") });
    let max_age_secs = parse_duration(max_age)
        .map(|d| d.as_secs())
        .filter(|s| *s <= const { values::ms_bounds(CACHE_KEYS, "max_age").1 / 1000 })
        .ok_or_else(|| {
            err(
                "gateway.decision_cache.max_age",
                "must be a duration from \"0s\" (off) to \"1h\"",
            )
        })?;
    let max_entries = g
        .cache_max_entries
        .unwrap_or(const { values::uint(CACHE_KEYS, "max_entries") });
    if max_entries > const { values::uint_bounds(CACHE_KEYS, "max_entries").1 } {
        return Err(err(
            "gateway.decision_cache.max_entries",
            "must be at most 65536",
        ));
    }
    if let (Some(p), Some(s)) = (&presign, signing) {
        presign_base_names_the_bucket(&p.base_url, s)?;
    }
    Ok(GatewayConfig {
        auth_cluster,
        auth_authority,
        auth_timeout_ms,
        forward_headers,
        presign,
        decision_cache: DecisionCacheConfig {
            max_age_secs,
            max_entries,
            writes: g.cache_writes,
        },
    })
}

/// A presigned URL is `base_url` followed by the mapped path. With
/// virtual-host addressing the path holds no bucket, so `base_url` must be
/// the host of the one mapped bucket; with path addressing the path holds
/// it, so `base_url` must not be a bucket's own host (a mapped bucket's, or
/// any under `signing.endpoint`). Otherwise a consent for one bucket would
/// sign a URL that reads or writes another.
fn presign_base_names_the_bucket(base_url: &str, s: &SigningConfig) -> Result<(), Failed> {
    let host = after_http_scheme(base_url).unwrap_or(base_url);
    let bucket_host = |bucket: &str| {
        host.strip_prefix(bucket)
            .is_some_and(|rest| rest.starts_with('.'))
    };
    let fits = match s.addressing_style {
        AddressingStyle::Virtual => matches!(s.buckets.as_slice(), [m] if bucket_host(&m.bucket)),
        AddressingStyle::Path => {
            !s.buckets.iter().any(|m| bucket_host(&m.bucket))
                && !host
                    .strip_suffix(s.endpoint.as_str())
                    .is_some_and(|b| b.ends_with('.'))
        }
    };
    if fits {
        return Ok(());
    }
    Err(err(
        "gateway.presign.base_url",
        match s.addressing_style {
            AddressingStyle::Virtual => {
                "with addressing_style \"virtual\" must be the host of the one bucket in signing.buckets"
            }
            AddressingStyle::Path => {
                "with addressing_style \"path\" must not be a bucket's host (the bucket is in the path)"
            }
        },
    ))
}
