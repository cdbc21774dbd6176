//! Header augmentation (flow B): the flat `header_*` keys of the top level,
//! kept flat for compatibility with the envoy-wasm-header-augmenting-filter
//! proof of concept whose configuration they take.

use super::types::{AugmentConfig, EndpointConfig, FailurePolicy, Injection};
use super::values::{
    self, checked_path, duration_ms, err, err_at, key, Failed, Fallback as F, Key, Kind as K,
    Reader,
};
use crate::primitives::syntax::is_lowercase_header_name as valid_header_name;

const DAY_MS: u64 = 86_400_000;

/// The flow B keys, read at the top level, in the order the reader lists them.
#[rustfmt::skip]
pub(super) const KEYS: &[Key] = &[
    key("augment_headers", K::Bool, F::Bool(false), "poll the header provider and inject its headers"),
    key("header_providing_service_cluster", K::Str, F::Str("sidecar"), "Envoy cluster of the header provider"),
    key("header_providing_service_authority", K::Str, F::Str("sidecar"), "`:authority` of the poll"),
    key("header_providing_service_path", K::Str, F::Str("/headers"), "path of the poll"),
    key("header_providing_service_timeout", K::Duration(1, 60_000), F::Str("5s"), "poll timeout"),
    key("header_cache_expiry", K::Duration(1, DAY_MS), F::Str("360s"), "poll interval"),
    key("header_max_staleness", K::Duration(1, 7 * DAY_MS), F::Str("3600s"), "headers older than this are dropped"),
    key("header_backoff_cap", K::Duration(1, DAY_MS), F::Str("60s"), "longest retry delay after failed polls"),
    key("header_max_body_bytes", K::Uint(2, 1 << 20), F::Uint(crate::augment::provider::DEFAULT_MAX_BODY), "larger provider answers are refused"),
    key("header_failure_policy", K::Choice(&["pass", "deny"]), F::Str("pass"), "what requests get without valid headers"),
    key("header_injection", K::Choice(&["overwrite", "keep_existing"]), F::Str("overwrite"), "whether a provider header replaces the request's"),
    key("header_allow_sensitive", K::Strings, F::List(&[]), "sensitive names the provider may set"),
];

/// The flow B settings as written, not yet validated.
#[derive(Debug, Clone, Default)]
pub(super) struct RawAugment {
    augment_headers: bool,
    header_providing_service_cluster: Option<String>,
    header_providing_service_authority: Option<String>,
    header_providing_service_path: Option<String>,
    header_providing_service_timeout: Option<String>,
    header_cache_expiry: Option<String>,
    header_max_staleness: Option<String>,
    header_backoff_cap: Option<String>,
    header_max_body_bytes: Option<usize>,
    header_failure_policy: FailurePolicy,
    header_injection: Injection,
    header_allow_sensitive: Vec<String>,
}

/// Reads the flow B keys of the top level `r` into `c`.
pub(super) fn read(r: &Reader, c: &mut RawAugment) -> Result<(), Failed> {
    c.augment_headers = r.boolean("augment_headers")?.unwrap_or(false);
    c.header_providing_service_cluster = r.string("header_providing_service_cluster")?;
    c.header_providing_service_authority = r.string("header_providing_service_authority")?;
    c.header_providing_service_path = r.string("header_providing_service_path")?;
    c.header_providing_service_timeout = r.string("header_providing_service_timeout")?;
    c.header_cache_expiry = r.string("header_cache_expiry")?;
    c.header_max_staleness = r.string("header_max_staleness")?;
    c.header_backoff_cap = r.string("header_backoff_cap")?;
    c.header_max_body_bytes = r.uint("header_max_body_bytes")?;
    c.header_failure_policy = r
        .choice(
            "header_failure_policy",
            const { values::choices(KEYS, "header_failure_policy") },
            &[FailurePolicy::Pass, FailurePolicy::Deny],
        )?
        .unwrap_or_default();
    c.header_injection = r
        .choice(
            "header_injection",
            const { values::choices(KEYS, "header_injection") },
            &[Injection::Overwrite, Injection::KeepExisting],
        )?
        .unwrap_or_default();
    c.header_allow_sensitive = r.strings("header_allow_sensitive")?.unwrap_or_default();
    Ok(())
}

pub(super) fn validate(raw: &RawAugment) -> Result<Option<AugmentConfig>, Failed> {
    if !raw.augment_headers {
        return Ok(None);
    }
    let name = |field: &str, v: &Option<String>, default: &str| -> Result<String, Failed> {
        let v = v.clone().unwrap_or_else(|| default.into());
        if v.is_empty() || v.bytes().any(|b| !b.is_ascii_graphic()) {
            return Err(err(field, "must be a non-empty name without spaces"));
        }
        Ok(v)
    };
    let expiry_ms = duration_ms(
        "header_cache_expiry",
        raw.header_cache_expiry.as_deref(),
        const { values::text(KEYS, "header_cache_expiry") },
        const { values::ms_bounds(KEYS, "header_cache_expiry").1 },
    )?;
    let max_staleness_ms = duration_ms(
        "header_max_staleness",
        raw.header_max_staleness.as_deref(),
        const { values::text(KEYS, "header_max_staleness") },
        const { values::ms_bounds(KEYS, "header_max_staleness").1 },
    )?;
    if max_staleness_ms < expiry_ms {
        return Err(err(
            "header_max_staleness",
            "must not be shorter than header_cache_expiry",
        ));
    }
    let max_body_bytes = raw
        .header_max_body_bytes
        .unwrap_or(const { values::uint(KEYS, "header_max_body_bytes") });
    let (min, max) = const { values::uint_bounds(KEYS, "header_max_body_bytes") };
    if !(min..=max).contains(&max_body_bytes) {
        return Err(err(
            "header_max_body_bytes",
            "must be between 2 and 1048576",
        ));
    }
    Ok(Some(AugmentConfig {
        provider: EndpointConfig {
            cluster: name(
                "header_providing_service_cluster",
                &raw.header_providing_service_cluster,
                const { values::text(KEYS, "header_providing_service_cluster") },
            )?,
            authority: name(
                "header_providing_service_authority",
                &raw.header_providing_service_authority,
                const { values::text(KEYS, "header_providing_service_authority") },
            )?,
            path: checked_path(
                "header_providing_service_path",
                raw.header_providing_service_path
                    .clone()
                    .unwrap_or_else(|| {
                        const { values::text(KEYS, "header_providing_service_path") }.into()
                    }),
            )?,
            authorization: None,
            token_endpoint: None,
            timeout_ms: duration_ms(
                "header_providing_service_timeout",
                raw.header_providing_service_timeout.as_deref(),
                const { values::text(KEYS, "header_providing_service_timeout") },
                const { values::ms_bounds(KEYS, "header_providing_service_timeout").1 },
            )?,
            refresh_interval_ms: expiry_ms,
        },
        expiry_ms,
        max_staleness_ms,
        backoff_cap_ms: duration_ms(
            "header_backoff_cap",
            raw.header_backoff_cap.as_deref(),
            const { values::text(KEYS, "header_backoff_cap") },
            const { values::ms_bounds(KEYS, "header_backoff_cap").1 },
        )?,
        max_body_bytes,
        failure_policy: raw.header_failure_policy,
        injection: raw.header_injection,
        allow_sensitive: allow_sensitive(&raw.header_allow_sensitive)?,
    }))
}

/// `header_allow_sensitive`: lowercase names that need the operator's
/// permission (credentials, `x-envoy-*`, `x-amz-*`), never framing or
/// Envoy's own `x-envoy-internal`.
fn allow_sensitive(names: &[String]) -> Result<Vec<String>, Failed> {
    for (i, n) in names.iter().enumerate() {
        let ok = valid_header_name(n)
            && crate::augment::provider::needs_permission(n)
            && n != "x-envoy-internal";
        if !ok {
            return Err(err_at(
                "header_allow_sensitive",
                i,
                "must be a lowercase credential, x-envoy-* or x-amz-* name",
            ));
        }
    }
    Ok(names.to_vec())
}
