//! Validation: checks every raw setting the reader produced and resolves
//! defaults that depend on the environment, so that a mistake fails loudly at
//! load time (with the field named) instead of per request.

use super::reader::{RawConfig, RawGateway, RawRedirect, RawSigning};
use super::{
    err, AddressingStyle, AugmentConfig, BodySigning, BucketMapping, Config, EndpointConfig, Env,
    Failed, RedirectConfig, Role, SigningConfig,
};
use super::{DecisionCacheConfig, GatewayConfig, PresignConfig};
use crate::primitives::syntax::{
    is_lowercase_header_name as valid_header_name, is_plain_name, valid_bucket_name,
};
use std::time::Duration;

/// The validated configuration, from the raw settings.
///
/// Validation borrows the raw settings mutably and takes the values it keeps
/// out of them: what is left is dropped once, by the caller, instead of at each
/// of the many early returns (module size).
pub(super) fn validate(raw: &mut RawConfig, env: &dyn Env) -> Result<Config, Failed> {
    let augment = validate_augment(raw)?;
    let redirect = validate_redirect(&mut raw.redirect)?;
    let signing = match &mut raw.signing {
        Some(s) => Some(SigningConfig {
            key_rules: redirect.key_rules.clone(),
            ..validate_signing(s, env)?
        }),
        None => None,
    };
    if raw.role == Role::Storage && signing.is_none() {
        return Err(err("signing", "required when role is \"storage\""));
    }
    if let Some(a) = &augment {
        // Injected after signing, a provider header would reach storage
        // unsigned (or break the signature).
        if raw.role == Role::Storage {
            return Err(err(
                "augment_headers",
                "not read with role \"storage\" (the headers would be unsigned)",
            ));
        }
        // On the auth backend's request a provider credential is the
        // credential the backend judges.
        if raw.role == Role::AuthBackend {
            if let Some(i) = a
                .allow_sensitive
                .iter()
                .position(|n| crate::augment::provider::is_credential(n))
            {
                return Err(err_at(
                    "header_allow_sensitive",
                    i,
                    "no credential with role \"auth_backend\"",
                ));
            }
        }
    }
    let gateway = match (raw.role, raw.gateway.take()) {
        (Role::Gateway, g) => {
            if signing.is_none() {
                return Err(err("signing", "required when role is \"gateway\""));
            }
            // Provider headers would be injected into the storage request.
            if augment.is_some() {
                return Err(err("augment_headers", "not read with role \"gateway\""));
            }
            let gateway = validate_gateway(g.unwrap_or_default())?;
            if let (Some(p), Some(s)) = (&gateway.presign, &signing) {
                presign_base_names_the_bucket(&p.base_url, s)?;
            }
            Some(gateway)
        }
        (_, Some(_)) => return Err(err("gateway", "only read when role is \"gateway\"")),
        (_, None) => None,
    };
    // The marker is asset-gate's own: never forwarded to storage, never kept
    // from a backend's answer for the client.
    let marker = redirect.marker_header.as_str();
    if let Some(i) = redirect
        .keep_backend_headers
        .iter()
        .position(|n| n == marker)
    {
        return Err(err_at(
            "redirect.keep_backend_headers",
            i,
            "must not name the marker header",
        ));
    }
    if let Some(s) = &signing {
        let extra =
            &s.forwarded_request_headers[crate::internal_redirect::consent::READ_FORWARDED.len()..];
        if let Some(i) = extra.iter().position(|n| n == marker) {
            return Err(err_at(
                "signing.forward_request_headers",
                i,
                "must not name the marker header",
            ));
        }
    }
    Ok(Config {
        role: raw.role,
        redirect,
        signing,
        augment,
        gateway,
    })
}

/// The error of item `i` of the list `field`: one shared out-of-line copy of
/// the formatting instead of one per check (configuration is read once).
#[cold]
#[inline(never)]
fn err_at(field: &str, i: usize, reason: &str) -> Failed {
    err(&format!("{field}[{i}]"), reason)
}

/// Headers flow D's auth subrequest sets itself (`gateway.forward_headers`
/// may not name them).
fn subrequest_own(name: &str) -> bool {
    name.starts_with(':')
        || name.starts_with("x-original-")
        || ["host", "content-length", "transfer-encoding", "connection"].contains(&name)
}

/// Flow D's settings; the storage side is the `signing` section.
fn validate_gateway(g: RawGateway) -> Result<GatewayConfig, Failed> {
    let named = |field: &str, v: String| {
        if v.trim().is_empty() {
            return Err(err(field, "must not be empty"));
        }
        Ok(v)
    };
    let auth_cluster = named(
        "gateway.auth_cluster",
        g.auth_cluster.unwrap_or_else(|| "auth_backend".into()),
    )?;
    let auth_authority = named(
        "gateway.auth_authority",
        g.auth_authority.unwrap_or_else(|| auth_cluster.clone()),
    )?;
    let auth_timeout_ms = duration_ms(
        "gateway.auth_timeout",
        g.auth_timeout.as_deref(),
        "5s",
        60_000,
    )?;
    let forward_headers = g
        .forward_headers
        .unwrap_or_else(|| vec!["cookie".into(), "authorization".into()]);
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
                let rest = url
                    .strip_prefix("https://")
                    .or_else(|| url.strip_prefix("http://"))
                    .unwrap_or_default();
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
                "300s",
                crate::sigv4::MAX_PRESIGN_EXPIRES_SECS * 1000,
            )?;
            if expires_ms < 1000 {
                return Err(err("gateway.presign.expires", "must be at least 1s"));
            }
            Some(PresignConfig {
                base_url: url,
                expires_secs: expires_ms / 1000,
                always: p.always,
            })
        }
    };
    let max_age_secs = match g.cache_max_age.as_deref() {
        None => 60,
        Some(text) => parse_duration(text)
            .map(|d| d.as_secs())
            .filter(|s| *s <= 3600)
            .ok_or_else(|| {
                err(
                    "gateway.decision_cache.max_age",
                    "must be a duration from \"0s\" (off) to \"1h\"",
                )
            })?,
    };
    let max_entries = g.cache_max_entries.unwrap_or(1024);
    if max_entries > 65536 {
        return Err(err(
            "gateway.decision_cache.max_entries",
            "must be at most 65536",
        ));
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

/// A duration setting in milliseconds, from a string such as `"5s"`.
pub(super) fn duration_ms(
    field: &str,
    value: Option<&str>,
    default: &str,
    max_ms: u64,
) -> Result<u64, Failed> {
    let text = value.unwrap_or(default);
    parse_duration(text)
        .map(|d| d.as_millis() as u64)
        .filter(|ms| (1..=max_ms).contains(ms))
        .ok_or_else(|| {
            err(
                field,
                &format!(
                    "must be a duration such as \"{default}\" (ms, s, m, h), at most {}s",
                    max_ms / 1000
                ),
            )
        })
}

/// A request path for an out-of-band call.
pub(super) fn checked_path(field: &str, path: String) -> Result<String, Failed> {
    if path.starts_with('/') && path.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(path)
    } else {
        Err(err(
            field,
            "must be a path starting with '/' (no spaces or control characters)",
        ))
    }
}

fn validate_augment(raw: &RawConfig) -> Result<Option<AugmentConfig>, Failed> {
    if !raw.augment_headers {
        return Ok(None);
    }
    let name = |field: &str, v: &Option<String>| -> Result<String, Failed> {
        let v = v.clone().unwrap_or_else(|| "sidecar".into());
        if v.is_empty() || v.bytes().any(|b| !b.is_ascii_graphic()) {
            return Err(err(field, "must be a non-empty name without spaces"));
        }
        Ok(v)
    };
    const DAY_MS: u64 = 86_400_000;
    let expiry_ms = duration_ms(
        "header_cache_expiry",
        raw.header_cache_expiry.as_deref(),
        "360s",
        DAY_MS,
    )?;
    let max_staleness_ms = duration_ms(
        "header_max_staleness",
        raw.header_max_staleness.as_deref(),
        "3600s",
        7 * DAY_MS,
    )?;
    if max_staleness_ms < expiry_ms {
        return Err(err(
            "header_max_staleness",
            "must not be shorter than header_cache_expiry",
        ));
    }
    let max_body_bytes = raw
        .header_max_body_bytes
        .unwrap_or(crate::augment::provider::DEFAULT_MAX_BODY);
    if !(2..=1 << 20).contains(&max_body_bytes) {
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
            )?,
            authority: name(
                "header_providing_service_authority",
                &raw.header_providing_service_authority,
            )?,
            path: checked_path(
                "header_providing_service_path",
                raw.header_providing_service_path
                    .clone()
                    .unwrap_or_else(|| "/headers".into()),
            )?,
            authorization: None,
            token_endpoint: None,
            timeout_ms: duration_ms(
                "header_providing_service_timeout",
                raw.header_providing_service_timeout.as_deref(),
                "5s",
                60_000,
            )?,
            refresh_interval_ms: expiry_ms,
        },
        expiry_ms,
        max_staleness_ms,
        backoff_cap_ms: duration_ms(
            "header_backoff_cap",
            raw.header_backoff_cap.as_deref(),
            "60s",
            DAY_MS,
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

fn validate_redirect(raw: &mut RawRedirect) -> Result<RedirectConfig, Failed> {
    if raw.internal_prefixes.is_empty() {
        return Err(err(
            "redirect.internal_prefixes",
            "must name at least one prefix",
        ));
    }
    for (i, p) in raw.internal_prefixes.iter().enumerate() {
        let safe = p.len() > 2
            && p.starts_with('/')
            && p.ends_with('/')
            && crate::internal_redirect::target::validate_key(
                &p[1..p.len() - 1],
                &Default::default(),
            )
            .is_ok();
        if !safe {
            return Err(err_at(
                "redirect.internal_prefixes",
                i,
                "must be a plain path starting and ending with '/', e.g. \"/internal-assets/\"",
            ));
        }
    }
    if !valid_header_name(&raw.marker_header) {
        return Err(err(
            "redirect.marker_header",
            "must be a lowercase header name such as \"x-internal-redirect\"",
        ));
    }
    let ttl = parse_duration(&raw.marker_ttl)
        .filter(|d| (1..=3600).contains(&d.as_secs()))
        .ok_or_else(|| {
            err(
                "redirect.marker_ttl",
                "must be a duration between \"1s\" and \"1h\", e.g. \"30s\"",
            )
        })?;
    if !(1..=4096).contains(&raw.max_key_length) {
        return Err(err("redirect.max_key_length", "must be between 1 and 4096"));
    }
    for (i, a) in raw.internal_authorities.iter().enumerate() {
        let ok = !a.is_empty()
            && a.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']' | b'_')
            });
        if !ok {
            return Err(err_at(
                "redirect.internal_authorities",
                i,
                "must be an authority such as \"auth-backend:8080\" (host or host:port)",
            ));
        }
    }
    let keep = match raw.keep_backend_headers.take() {
        Some(names) => names,
        None => crate::internal_redirect::carry::NGINX_KEPT
            .iter()
            .map(|s| s.to_string())
            .collect(),
    };
    for (i, name) in keep.iter().enumerate() {
        if !valid_header_name(name) || !crate::internal_redirect::carry::may_carry(name) {
            return Err(err_at("redirect.keep_backend_headers", i, "must be a lowercase response header name other than framing, hop-by-hop, Location or X-Accel-* headers",
            ));
        }
    }
    if raw.max_kept_bytes > 32_768 {
        return Err(err("redirect.max_kept_bytes", "must be at most 32768"));
    }
    let mut read_query = crate::internal_redirect::target::ReadQuery {
        active_types: raw.read.allow_active_content_types,
        ..Default::default()
    };
    for name in &raw.read.read_parameters {
        match name.as_str() {
            "versionId" => read_query.version_id = true,
            "partNumber" => read_query.part_number = true,
            _ => {
                return Err(err(
                    "redirect.read_parameters",
                    "may name only \"versionId\" and \"partNumber\"",
                ))
            }
        }
    }
    use crate::internal_redirect::target::ConsentBy;
    let consent = match raw.read.consent.as_deref() {
        None | Some("any_internal_307") => ConsentBy::AnyInternal307,
        Some("accel_or_flagged") => ConsentBy::AccelOrFlagged,
        Some(_) => {
            return Err(err(
                "redirect.consent",
                "must be \"any_internal_307\" or \"accel_or_flagged\"",
            ))
        }
    };
    let audience = &raw.read.marker_audience;
    if audience.len() > 64
        || !audience
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return Err(err(
            "redirect.marker_audience",
            "must be at most 64 letters, digits, '.', '_' or '-'",
        ));
    }
    Ok(RedirectConfig {
        internal_prefixes: std::mem::take(&mut raw.internal_prefixes),
        marker_header: std::mem::take(&mut raw.marker_header),
        marker_ttl_secs: ttl.as_secs(),
        foreign_redirects: raw.foreign_redirects,
        key_rules: crate::internal_redirect::target::KeyRules {
            max_key_length: raw.max_key_length,
            allow_empty_segments: raw.allow_empty_segments,
        },
        internal_authorities: std::mem::take(&mut raw.internal_authorities),
        keep_backend_headers: keep,
        max_kept_bytes: raw.max_kept_bytes,
        read_query,
        consent,
        marker_audience: std::mem::take(&mut raw.read.marker_audience),
    })
}

/// A presigned URL is `base_url` followed by the mapped path. With
/// virtual-host addressing the path holds no bucket, so `base_url` must be
/// the host of the one mapped bucket; with path addressing the path holds
/// it, so `base_url` must not be a bucket's own host (a mapped bucket's, or
/// any under `signing.endpoint`). Otherwise a consent for one bucket would
/// sign a URL that reads or writes another.
fn presign_base_names_the_bucket(base_url: &str, s: &SigningConfig) -> Result<(), Failed> {
    let host = base_url
        .strip_prefix("https://")
        .or_else(|| base_url.strip_prefix("http://"))
        .unwrap_or(base_url);
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

fn validate_signing(raw: &mut RawSigning, env: &dyn Env) -> Result<SigningConfig, Failed> {
    let region = match raw.region.take() {
        Some(r) => r,
        None => env.var("AWS_REGION").ok_or_else(|| {
            err(
                "signing.region",
                "required (or pass AWS_REGION with vm_config.environment_variables)",
            )
        })?,
    };
    if !is_plain_name(&region) {
        return Err(err(
            "signing.region",
            "must be a region name such as \"us-east-1\"",
        ));
    }
    if !is_plain_name(&raw.service) {
        return Err(err(
            "signing.service",
            "must be a service name such as \"s3\" or \"execute-api\"",
        ));
    }
    if let Some(endpoint) = &raw.endpoint {
        let valid = !endpoint.is_empty()
            && endpoint
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b));
        if !valid {
            return Err(err(
                "signing.endpoint",
                "must be a host or host:port without scheme or path, e.g. \"s3.us-east-1.amazonaws.com\"",
            ));
        }
    }
    if raw.addressing_style == AddressingStyle::Virtual && raw.endpoint.is_none() {
        return Err(err(
            "signing.endpoint",
            "required when addressing_style is \"virtual\" (the bucket is prepended to it)",
        ));
    }
    // Storage's host comes from configuration, never from the client's
    // `:authority`: on AWS a virtual-host name picks the bucket, and it is
    // signed.
    let endpoint = match raw.endpoint.take() {
        Some(e) => e,
        None if raw.service == "s3" => ["s3.", &region, ".amazonaws.com"].concat(),
        None => {
            return Err(err(
                "signing.endpoint",
                "required for a service other than S3 (the host to send and sign)",
            ))
        }
    };
    let mut buckets = Vec::with_capacity(raw.buckets.len());
    for (i, b) in std::mem::take(&mut raw.buckets).into_iter().enumerate() {
        let field = format!("signing.buckets[{i}]");
        if !b.prefix.starts_with('/') || !b.prefix.ends_with('/') {
            return Err(err(
                &format!("{field}.prefix"),
                "must start and end with '/', e.g. \"/internal-assets/\"",
            ));
        }
        if !valid_bucket_name(&b.bucket) {
            return Err(err(
                &format!("{field}.bucket"),
                "must be an S3 bucket name (3-63 characters: a-z, 0-9, '.', '-')",
            ));
        }
        if b.key_prefix.starts_with('/') || crate::primitives::ascii::contains(&b.key_prefix, "..")
        {
            return Err(err(
                &format!("{field}.key_prefix"),
                "must not start with '/' or contain \"..\"",
            ));
        }
        buckets.push(BucketMapping {
            prefix: b.prefix,
            bucket: b.bucket,
            key_prefix: b.key_prefix,
        });
    }
    let credentials = super::credentials::validate(raw.credentials.as_ref(), env, &region)?;
    // Placements with the same credentials settings (as written, members in
    // the same order) share one refresh per process.
    let credentials_id = crate::sigv4::sha256_hex(
        format!(
            "{}|{region}",
            raw.credentials
                .as_ref()
                .map(|v| v.to_string())
                .unwrap_or_default()
        )
        .as_bytes(),
    )[..16]
        .to_string();
    let mut forwarded: Vec<String> = crate::internal_redirect::consent::READ_FORWARDED
        .iter()
        .map(|s| s.to_string())
        .collect();
    for (i, name) in raw.forward_request_headers.iter().enumerate() {
        if !valid_header_name(name) || !crate::internal_redirect::consent::may_forward(name) {
            return Err(err_at("signing.forward_request_headers", i, "must be a lowercase request header name; authorization, cookie, x-amz-*, content-*, expect and hop-by-hop headers are never forwarded to storage",
            ));
        }
        forwarded.push(name.clone());
    }
    let hide = raw.hide_response_headers.take().unwrap_or_else(|| {
        if raw.require_marker {
            crate::internal_redirect::consent::STORAGE_IDENTIFYING
                .iter()
                .map(|s| s.to_string())
                .collect()
        } else {
            vec![]
        }
    });
    if let Some(i) = hide.iter().position(|n| !valid_header_name(n)) {
        return Err(err_at(
            "signing.hide_response_headers",
            i,
            "must be a lowercase header name",
        ));
    }
    if let Some(i) = raw
        .expose_amz_headers
        .iter()
        .position(|n| !valid_header_name(n) || !n.starts_with("x-amz-"))
    {
        return Err(err_at(
            "signing.expose_amz_headers",
            i,
            "must be a lowercase x-amz-* header name",
        ));
    }
    let path_rules = crate::sigv4::PathRules::for_service(&raw.service);
    let is_s3 = path_rules == crate::sigv4::PathRules::S3;
    let body = raw.body.unwrap_or(if is_s3 {
        BodySigning::Stream
    } else {
        BodySigning::Hash
    });
    if body == BodySigning::Stream && !is_s3 {
        return Err(err(
            "signing.body",
            "must be \"hash\" for a service other than S3: AWS services but S3 refuse UNSIGNED-PAYLOAD",
        ));
    }
    if !(1..=(64 << 20)).contains(&raw.max_body_bytes) {
        return Err(err(
            "signing.max_body_bytes",
            "must be between 1 and 67108864 (64 MiB)",
        ));
    }
    let sc = &raw.scope;
    if let Some(i) = sc
        .methods
        .iter()
        .position(|m| m.is_empty() || !m.bytes().all(|b| b.is_ascii_uppercase()))
    {
        return Err(err_at(
            "signing.scope.methods",
            i,
            "must be an upper-case HTTP method such as \"GET\"",
        ));
    }
    if let Some(i) = sc.buckets.iter().position(|b| !valid_bucket_name(b)) {
        return Err(err_at(
            "signing.scope.buckets",
            i,
            "must be a valid S3 bucket name",
        ));
    }
    if let Some(i) = sc.key_prefixes.iter().position(|p| p.is_empty()) {
        return Err(err_at(
            "signing.scope.key_prefixes",
            i,
            "must not be empty (leave key_prefixes out to allow every key)",
        ));
    }
    // What a scope adds to its allowlists: `x-amz-*` names (a trailing `*`
    // makes a prefix) and plain query parameter names.
    if !sc
        .amz_headers
        .iter()
        .all(|h| h.starts_with("x-amz-") && valid_header_name(h.strip_suffix('*').unwrap_or(h)))
    {
        return Err(err(
            "signing.scope.amz_headers",
            "must list lowercase x-amz-* header names, or prefixes ending in '*'",
        ));
    }
    if !sc.query_parameters.iter().all(|q| is_plain_name(q)) {
        return Err(err(
            "signing.scope.query_parameters",
            "must list query parameter names such as \"tagging\"",
        ));
    }
    if !is_s3 && (!sc.buckets.is_empty() || !sc.key_prefixes.is_empty()) {
        return Err(err(
            "signing.scope",
            "buckets and key_prefixes apply to S3 only",
        ));
    }
    // A scoped edge whose paths map to buckets is confined to its mapping:
    // the buckets and key prefixes a scope leaves open are the mapped ones,
    // so a copy source cannot read beyond what a path could.
    let mut scope = std::mem::take(&mut raw.scope);
    if !scope.is_open() && !buckets.is_empty() {
        if scope.buckets.is_empty() {
            for m in &buckets {
                if !scope.buckets.contains(&m.bucket) {
                    scope.buckets.push(m.bucket.clone());
                }
            }
        }
        if scope.key_prefixes.is_empty() && buckets.iter().all(|m| !m.key_prefix.is_empty()) {
            scope.key_prefixes = buckets.iter().map(|m| m.key_prefix.clone()).collect();
        }
    }
    Ok(SigningConfig {
        body,
        max_body_bytes: raw.max_body_bytes,
        scope,
        forwarded_request_headers: forwarded,
        hide_response_headers: hide,
        plain_errors: raw.plain_errors.unwrap_or(raw.require_marker),
        expose_amz_headers: std::mem::take(&mut raw.expose_amz_headers),
        region,
        service: std::mem::take(&mut raw.service),
        path_rules,
        endpoint,
        addressing_style: raw.addressing_style,
        buckets,
        on_missing_credentials: raw.on_missing_credentials,
        credentials,
        credentials_id,
        require_marker: raw.require_marker,
        key_rules: Default::default(),
    })
}

/// Parses durations written as `"360s"`, `"5m"`, `"1h"`, `"250ms"` (Envoy-style strings).
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().ok()?;
    let d = match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.checked_mul(60)?),
        "h" => Duration::from_secs(n.checked_mul(3600)?),
        _ => return None,
    };
    Some(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{
        AddressingStyle, Config, ConfigError, CredentialsConfig, FailurePolicy, ForeignRedirects,
        Injection, MapEnv, MissingCredentials, Role,
    };

    fn parse(s: &str) -> Result<Config, ConfigError> {
        Config::parse(s.as_bytes(), &MapEnv(vec![]))
    }

    #[test]
    fn missing_required_values_are_named() {
        let e = parse(r#"{"role":"storage"}"#).unwrap_err();
        assert_eq!(e.field, "signing");
        let e = parse(r#"{"role":"storage","signing":{}}"#).unwrap_err();
        assert_eq!(e.field, "signing.region");
        let e = parse(
            r#"{"role":"storage","signing":{"region":"us-east-1","credentials":{"source":"static","access_key_id":"AK"}}}"#,
        )
        .unwrap_err();
        assert_eq!(e.field, "signing.credentials.secret_access_key");
        assert_eq!(e.reason, "required");
        let e = parse(
            r#"{"role":"storage","signing":{"region":"us-east-1","buckets":[{"prefix":"/a/"}]}}"#,
        )
        .unwrap_err();
        assert_eq!(e.field, "signing.buckets[0].bucket");
        assert_eq!(e.reason, "required");
    }

    #[test]
    fn region_can_come_from_env() {
        let env = MapEnv(vec![("AWS_REGION", "eu-central-1")]);
        let c = Config::parse(br#"{"role":"storage","signing":{}}"#, &env).unwrap();
        assert_eq!(c.signing.unwrap().region, "eu-central-1");
    }

    #[test]
    fn static_credentials_and_defaults() {
        let c = parse(
            r#"{"role":"storage","signing":{"region":"us-east-1","endpoint":"127.0.0.1:8333",
                "buckets":[{"prefix":"/internal-assets/","bucket":"assets"}],
                "credentials":{"source":"static","access_key_id":"AK","secret_access_key":"SK"}}}"#,
        )
        .unwrap();
        let s = c.signing.unwrap();
        assert_eq!(s.service, "s3");
        assert_eq!(s.addressing_style, AddressingStyle::Path);
        assert_eq!(s.on_missing_credentials, MissingCredentials::Deny);
        assert_eq!(s.buckets[0].key_prefix, "");
        match s.credentials {
            CredentialsConfig::Static(c) => assert_eq!(c.secret_access_key, "SK"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn invalid_values_are_refused() {
        for (cfg, field) in [
            (r#"{"signing":{"region":"us east"}}"#, "signing.region"),
            (
                r#"{"signing":{"region":"r","endpoint":"http://x/"}}"#,
                "signing.endpoint",
            ),
            (
                r#"{"signing":{"region":"r","addressing_style":"virtual"}}"#,
                "signing.endpoint",
            ),
            (
                r#"{"signing":{"region":"r","buckets":[{"prefix":"a/","bucket":"abc"}]}}"#,
                "signing.buckets[0].prefix",
            ),
            (
                r#"{"signing":{"region":"r","buckets":[{"prefix":"/a/","bucket":"A_B"}]}}"#,
                "signing.buckets[0].bucket",
            ),
            (
                r#"{"signing":{"region":"r","buckets":[{"prefix":"/a/","bucket":"abc","key_prefix":"../x"}]}}"#,
                "signing.buckets[0].key_prefix",
            ),
            (
                r#"{"signing":{"region":"r","credentials":{"access_key_id":"AK"}}}"#,
                "signing.credentials.access_key_id",
            ),
            (
                r#"{"signing":{"region":"r","credentials":{"source":"static","access_key_id":"","secret_access_key":"x"}}}"#,
                "signing.credentials.access_key_id",
            ),
        ] {
            let e = parse(cfg).unwrap_err();
            assert_eq!(e.field, field, "{cfg}: {e}");
        }
    }

    #[test]
    fn read_query_and_consent_settings() {
        use crate::internal_redirect::target::{ConsentBy, ReadQuery};
        let c = parse("{}").unwrap();
        assert_eq!(c.redirect.read_query, ReadQuery::default());
        assert_eq!(c.redirect.consent, ConsentBy::AnyInternal307);
        let c = parse(r#"{"redirect":{"read_parameters":["partNumber","versionId"],"allow_active_content_types":true,"consent":"accel_or_flagged"}}"#).unwrap();
        assert_eq!(
            c.redirect.read_query,
            ReadQuery {
                version_id: true,
                part_number: true,
                active_types: true
            }
        );
        assert_eq!(c.redirect.consent, ConsentBy::AccelOrFlagged);
        assert_eq!(c.redirect.marker_audience, "");
        let c = parse(r#"{"redirect":{"marker_audience":"cdn-a.prod_1"}}"#).unwrap();
        assert_eq!(c.redirect.marker_audience, "cdn-a.prod_1");
        for (cfg, field) in [
            (
                r#"{"redirect":{"read_parameters":["versionId","acl"]}}"#,
                "redirect.read_parameters",
            ),
            (
                r#"{"redirect":{"read_parameters":"versionId"}}"#,
                "redirect.read_parameters",
            ),
            (
                r#"{"redirect":{"allow_active_content_types":"yes"}}"#,
                "redirect.allow_active_content_types",
            ),
            (r#"{"redirect":{"consent":"flagged"}}"#, "redirect.consent"),
            (
                r#"{"redirect":{"marker_audience":"a b"}}"#,
                "redirect.marker_audience",
            ),
        ] {
            let e = parse(cfg).unwrap_err();
            assert_eq!(e.field, field, "{cfg}: {e}");
        }
    }

    #[test]
    fn redirect_defaults_and_validation() {
        let c = parse(r#"{"role":"auth_backend"}"#).unwrap();
        assert_eq!(c.role, Role::AuthBackend);
        assert_eq!(
            c.redirect.internal_prefixes,
            vec!["/internal-assets/".to_string()]
        );
        assert_eq!(c.redirect.marker_header, "x-internal-redirect");
        assert_eq!(c.redirect.marker_ttl_secs, 30);
        assert_eq!(c.redirect.foreign_redirects, ForeignRedirects::Pass);
        assert_eq!(c.redirect.key_rules.max_key_length, 1024);
        let c = parse(r#"{"redirect":{"internal_prefixes":["/private/","/x/y/"],"marker_ttl":"5s","foreign_redirects":"reject"}}"#).unwrap();
        assert_eq!(c.redirect.internal_prefixes.len(), 2);
        assert_eq!(c.redirect.marker_ttl_secs, 5);
        for (cfg, field) in [
            (
                r#"{"redirect":{"internal_prefixes":[]}}"#,
                "redirect.internal_prefixes",
            ),
            (
                r#"{"redirect":{"internal_prefixes":["/ok/","nope/"]}}"#,
                "redirect.internal_prefixes[1]",
            ),
            (
                r#"{"redirect":{"internal_prefixes":["/a/../b/"]}}"#,
                "redirect.internal_prefixes[0]",
            ),
            (
                r#"{"redirect":{"internal_prefixes":["/"]}}"#,
                "redirect.internal_prefixes[0]",
            ),
            (
                r#"{"redirect":{"marker_header":"X-Bad Header"}}"#,
                "redirect.marker_header",
            ),
            (r#"{"redirect":{"marker_ttl":"2h"}}"#, "redirect.marker_ttl"),
            (
                r#"{"redirect":{"marker_ttl":"soon"}}"#,
                "redirect.marker_ttl",
            ),
            (
                r#"{"redirect":{"max_key_length":0}}"#,
                "redirect.max_key_length",
            ),
            (
                r#"{"redirect":{"foreign_redirects":"follow"}}"#,
                "redirect.foreign_redirects",
            ),
        ] {
            let e = parse(cfg).unwrap_err();
            assert_eq!(e.field, field, "{cfg}: {e}");
        }
    }

    #[test]
    fn consent_settings_defaults_and_validation() {
        let c = parse(r#"{"role":"auth_backend"}"#).unwrap();
        assert_eq!(
            c.redirect.keep_backend_headers,
            [
                "content-disposition",
                "set-cookie",
                "cache-control",
                "expires",
                "accept-ranges"
            ]
        );
        assert_eq!(c.redirect.max_kept_bytes, 8192);
        assert!(c.redirect.internal_authorities.is_empty());
        let c = parse(r#"{"redirect":{"internal_authorities":["auth:8080","10.0.0.7"],"keep_backend_headers":["set-cookie","content-security-policy"]}}"#).unwrap();
        assert_eq!(c.redirect.internal_authorities, ["auth:8080", "10.0.0.7"]);
        assert_eq!(
            c.redirect.keep_backend_headers,
            ["set-cookie", "content-security-policy"]
        );

        // Flow A storage: the read allowlist, hidden storage headers, plain errors.
        let s = parse(r#"{"role":"storage","signing":{"region":"r","forward_request_headers":["accept-encoding"]}}"#)
            .unwrap()
            .signing
            .unwrap();
        assert_eq!(
            s.forwarded_request_headers,
            [
                "range",
                "if-match",
                "if-none-match",
                "if-modified-since",
                "if-unmodified-since",
                "if-range",
                "accept-encoding"
            ]
        );
        assert!(s
            .hide_response_headers
            .contains(&"x-amz-request-id".to_string()));
        assert!(s.plain_errors);
        // A signing edge (flow C) passes storage's answers on untouched by default.
        let s = parse(r#"{"role":"storage","signing":{"region":"r","require_marker":false}}"#)
            .unwrap()
            .signing
            .unwrap();
        assert!(s.hide_response_headers.is_empty());
        assert!(!s.plain_errors);

        for (cfg, field) in [
            (
                r#"{"redirect":{"internal_authorities":["http://x/"]}}"#,
                "redirect.internal_authorities[0]",
            ),
            (
                r#"{"redirect":{"internal_authorities":[""]}}"#,
                "redirect.internal_authorities[0]",
            ),
            (
                r#"{"redirect":{"keep_backend_headers":["content-length"]}}"#,
                "redirect.keep_backend_headers[0]",
            ),
            (
                r#"{"redirect":{"keep_backend_headers":["set-cookie","X-Accel-Redirect"]}}"#,
                "redirect.keep_backend_headers[1]",
            ),
            (
                r#"{"redirect":{"keep_backend_headers":["x-accel-buffering"]}}"#,
                "redirect.keep_backend_headers[0]",
            ),
            (
                r#"{"redirect":{"max_kept_bytes":100000}}"#,
                "redirect.max_kept_bytes",
            ),
            (
                r#"{"signing":{"region":"r","forward_request_headers":["cookie"]}}"#,
                "signing.forward_request_headers[0]",
            ),
            (
                r#"{"signing":{"region":"r","forward_request_headers":["x-amz-copy-source"]}}"#,
                "signing.forward_request_headers[0]",
            ),
            (
                r#"{"signing":{"region":"r","forward_request_headers":["range","content-type"]}}"#,
                "signing.forward_request_headers[1]",
            ),
            (
                r#"{"signing":{"region":"r","hide_response_headers":["Bad Name"]}}"#,
                "signing.hide_response_headers[0]",
            ),
            (
                r#"{"signing":{"region":"r","expose_amz_headers":["x-amz-version-id","etag"]}}"#,
                "signing.expose_amz_headers[1]",
            ),
            (
                r#"{"signing":{"region":"r","plain_errors":"yes"}}"#,
                "signing.plain_errors",
            ),
        ] {
            let e = parse(cfg).unwrap_err();
            assert_eq!(e.field, field, "{cfg}: {e}");
        }
    }

    #[test]
    fn a_scope_leaves_a_mapped_edge_no_wider_than_its_mapping() {
        let s = |extra: &str| {
            parse(&format!(
                r#"{{"role":"storage","signing":{{"region":"r","buckets":[{{"prefix":"/f/","bucket":"aaa","key_prefix":"docs/"}},{{"prefix":"/g/","bucket":"aaa","key_prefix":"pub/"}}]{extra}}}}}"#
            ))
            .unwrap()
            .signing
            .unwrap()
            .scope
        };
        let scoped = s(r#","scope":{"methods":["GET"]}"#);
        assert_eq!(scoped.buckets, ["aaa"]);
        assert_eq!(scoped.key_prefixes, ["docs/", "pub/"]);
        // What the scope names stays; an unscoped edge stays unscoped.
        let named = s(r#","scope":{"buckets":["bbb"],"key_prefixes":["x/"]}"#);
        assert_eq!(
            (named.buckets, named.key_prefixes),
            (vec!["bbb".to_string()], vec!["x/".to_string()])
        );
        assert!(s("").is_open());
    }

    #[test]
    fn body_signing_and_scope() {
        let s = |extra: &str| {
            parse(&format!(
                r#"{{"role":"storage","signing":{{"region":"r"{extra}}}}}"#
            ))
            .map(|c| c.signing.unwrap())
        };
        let c = s("").unwrap();
        assert_eq!(c.endpoint, "s3.r.amazonaws.com");
        assert_eq!((c.body, c.max_body_bytes), (BodySigning::Stream, 1 << 20));
        // Only S3's host can be derived; never the client's.
        assert_eq!(
            s(r#","service":"execute-api""#).unwrap_err().field,
            "signing.endpoint"
        );
        assert!(c.scope.is_open());
        let c = s(r#","service":"execute-api","endpoint":"api.example""#).unwrap();
        assert_eq!(c.body, BodySigning::Hash);
        let c = s(r#","body":"hash","max_body_bytes":65536,"scope":{"methods":["GET","HEAD"],"buckets":["assets"],"key_prefixes":["public/"]}"#).unwrap();
        assert_eq!((c.body, c.max_body_bytes), (BodySigning::Hash, 65536));
        assert_eq!(c.scope.buckets, ["assets"]);
        let c = s(r#","scope":{"methods":["GET"],"amz_headers":["x-amz-grant-*"],"query_parameters":["tagging"]}"#).unwrap();
        assert_eq!(c.scope.amz_headers, ["x-amz-grant-*"]);
        assert_eq!(c.scope.query_parameters, ["tagging"]);
        for (extra, field) in [
            (
                r#","service":"execute-api","endpoint":"api.example","body":"stream""#,
                "signing.body",
            ),
            (r#","body":"buffer""#, "signing.body"),
            (r#","max_body_bytes":0"#, "signing.max_body_bytes"),
            (
                r#","scope":{"methods":["get"]}"#,
                "signing.scope.methods[0]",
            ),
            (
                r#","scope":{"buckets":["ok-bucket","No_Such"]}"#,
                "signing.scope.buckets[1]",
            ),
            (
                r#","scope":{"key_prefixes":[""]}"#,
                "signing.scope.key_prefixes[0]",
            ),
            (r#","scope":{"paths":["/"]}"#, "signing.scope.paths"),
            (
                r#","scope":{"methods":["GET"],"amz_headers":["x-amz-acl","acl"]}"#,
                "signing.scope.amz_headers",
            ),
            (
                r#","scope":{"methods":["GET"],"amz_headers":["X-Amz-Acl"]}"#,
                "signing.scope.amz_headers",
            ),
            (
                r#","scope":{"methods":["GET"],"query_parameters":["a=b"]}"#,
                "signing.scope.query_parameters",
            ),
            (
                r#","service":"execute-api","endpoint":"api.example","scope":{"buckets":["assets"]}"#,
                "signing.scope",
            ),
        ] {
            let e = s(extra).unwrap_err();
            assert_eq!(e.field, field, "{extra}: {e}");
        }
    }

    #[test]
    fn storage_requires_marker_by_default() {
        let c = parse(r#"{"role":"storage","signing":{"region":"r"}}"#).unwrap();
        assert!(c.signing.unwrap().require_marker);
        let c =
            parse(r#"{"role":"storage","signing":{"region":"r","require_marker":false}}"#).unwrap();
        assert!(!c.signing.unwrap().require_marker);
    }

    #[test]
    fn header_augmentation_keeps_the_proof_of_concept_defaults() {
        assert!(parse("{}").unwrap().augment.is_none());
        let a = parse(r#"{"augment_headers": true}"#)
            .unwrap()
            .augment
            .unwrap();
        assert_eq!(a.provider.cluster, "sidecar");
        assert_eq!(a.provider.authority, "sidecar");
        assert_eq!(a.provider.path, "/headers");
        assert_eq!(a.expiry_ms, 360_000);
        assert_eq!(a.provider.timeout_ms, 5_000);
        assert_eq!(a.max_staleness_ms, 3_600_000);
        assert_eq!(a.backoff_cap_ms, 60_000);
        assert_eq!(a.max_body_bytes, 64 * 1024);
        assert_eq!(a.failure_policy, FailurePolicy::Pass);
        assert_eq!(a.injection, Injection::Overwrite);
        let a = parse(
            r#"{"augment_headers": true, "header_providing_service_cluster": "idp",
                "header_providing_service_path": "/v1/headers", "header_cache_expiry": "1s",
                "header_max_staleness": "3s", "header_failure_policy": "deny",
                "header_injection": "keep_existing"}"#,
        )
        .unwrap()
        .augment
        .unwrap();
        assert_eq!(a.provider.cluster, "idp");
        assert_eq!(a.expiry_ms, 1000);
        assert_eq!(a.failure_policy, FailurePolicy::Deny);
        assert_eq!(a.injection, Injection::KeepExisting);
        assert!(a.allow_sensitive.is_empty());
        let a = parse(
            r#"{"role": "auth_backend", "augment_headers": true, "header_allow_sensitive": ["x-envoy-retry-on"]}"#,
        )
        .unwrap()
        .augment
        .unwrap();
        assert_eq!(a.allow_sensitive, ["x-envoy-retry-on"]);
        for (cfg, field) in [
            (
                r#"{"augment_headers": true, "header_cache_expiry": "0s"}"#,
                "header_cache_expiry",
            ),
            (
                r#"{"augment_headers": true, "header_cache_expiry": "soon"}"#,
                "header_cache_expiry",
            ),
            (
                r#"{"augment_headers": true, "header_cache_expiry": "10m", "header_max_staleness": "5m"}"#,
                "header_max_staleness",
            ),
            (
                r#"{"augment_headers": true, "header_providing_service_path": "headers"}"#,
                "header_providing_service_path",
            ),
            (
                r#"{"augment_headers": true, "header_providing_service_cluster": ""}"#,
                "header_providing_service_cluster",
            ),
            (
                r#"{"augment_headers": true, "header_max_body_bytes": 0}"#,
                "header_max_body_bytes",
            ),
            (
                r#"{"augment_headers": true, "header_failure_policy": "drop"}"#,
                "header_failure_policy",
            ),
            (r#"{"augment_headers": "yes"}"#, "augment_headers"),
            (
                r#"{"augment_headers": true, "header_allow_sensitive": ["x-tenant"]}"#,
                "header_allow_sensitive[0]",
            ),
            (
                r#"{"augment_headers": true, "header_allow_sensitive": ["cookie", "Authorization"]}"#,
                "header_allow_sensitive[1]",
            ),
            (
                r#"{"augment_headers": true, "header_allow_sensitive": ["x-envoy-internal"]}"#,
                "header_allow_sensitive[0]",
            ),
            (
                r#"{"role": "auth_backend", "augment_headers": true, "header_allow_sensitive": ["x-amz-meta-a", "cookie"]}"#,
                "header_allow_sensitive[1]",
            ),
            (
                r#"{"role": "storage", "augment_headers": true, "signing": {"region": "r"}}"#,
                "augment_headers",
            ),
        ] {
            let e = parse(cfg).unwrap_err();
            assert_eq!(e.field, field, "{cfg}: {e}");
        }
    }

    #[test]
    fn credentials_endpoint() {
        let env = MapEnv(vec![
            (
                "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                "/v2/credentials/abc",
            ),
            ("AWS_CONTAINER_AUTHORIZATION_TOKEN", "tok"),
        ]);
        let c = Config::parse(
            br#"{"signing":{"region":"r","credentials":{"source":"endpoint","cluster":"ecs_creds"}}}"#,
            &env,
        )
        .unwrap();
        match c.signing.unwrap().credentials {
            CredentialsConfig::Endpoint(e) => {
                assert_eq!(e.cluster, "ecs_creds");
                assert_eq!(e.authority, "ecs_creds");
                assert_eq!(e.path, "/v2/credentials/abc");
                assert_eq!(e.authorization.as_deref(), Some("tok"));
                assert_eq!(e.timeout_ms, 5000);
                assert_eq!(e.refresh_interval_ms, 900_000);
                assert!(!format!("{e:?}").contains("tok\""));
            }
            other => panic!("{other:?}"),
        }
        for (cfg, field) in [
            (
                r#"{"signing":{"region":"r","credentials":{"source":"endpoint"}}}"#,
                "signing.credentials.cluster",
            ),
            (
                r#"{"signing":{"region":"r","credentials":{"source":"endpoint","cluster":"c"}}}"#,
                "signing.credentials.path",
            ),
            (
                r#"{"signing":{"region":"r","credentials":{"source":"endpoint","cluster":"c","path":"x"}}}"#,
                "signing.credentials.path",
            ),
            (
                r#"{"signing":{"region":"r","credentials":{"source":"env","cluster":"c"}}}"#,
                "signing.credentials.cluster",
            ),
            (
                r#"{"signing":{"region":"r","credentials":{"source":"endpoint","cluster":"c","path":"/p","timeout":"2h"}}}"#,
                "signing.credentials.timeout",
            ),
        ] {
            let e = parse(cfg).unwrap_err();
            assert_eq!(e.field, field, "{cfg}: {e}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("360s"), Some(Duration::from_secs(360)));
        assert_eq!(parse_duration("5m"), Some(Duration::from_secs(300)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("1h"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_duration("5"), None);
        assert_eq!(parse_duration("s"), None);
        assert_eq!(parse_duration("5d"), None);
        assert_eq!(parse_duration("-5s"), None);
    }

    #[test]
    fn gateway_defaults_and_validation() {
        let g = |gateway: &str| {
            parse(&format!(
                r#"{{"role":"gateway","gateway":{gateway},"signing":{{"region":"r"}}}}"#
            ))
        };
        let c = g("{}").unwrap().gateway.unwrap();
        let e = g(r#"{"presign":{}}"#).unwrap_err();
        assert_eq!(e.field, "gateway.presign.base_url");
        assert_eq!(c.auth_cluster, "auth_backend");
        assert_eq!(c.auth_authority, "auth_backend");
        assert_eq!(c.auth_timeout_ms, 5000);
        assert_eq!(c.forward_headers, ["cookie", "authorization"]);
        assert_eq!(c.presign, None);
        assert_eq!(c.decision_cache.max_age_secs, 60);
        assert_eq!(c.decision_cache.max_entries, 1024);
        assert!(!c.decision_cache.writes);
        let c = g(r#"{"auth_cluster":"a","presign":{"base_url":"http://s3:8333","expires":"168h","always":true},"decision_cache":{"max_age":"0s","writes":true}}"#)
            .unwrap()
            .gateway
            .unwrap();
        assert_eq!(c.auth_authority, "a");
        let p = c.presign.unwrap();
        assert_eq!((p.expires_secs, p.always), (604_800, true));
        assert_eq!(p.base_url, "http://s3:8333");
        assert_eq!(c.decision_cache.max_age_secs, 0);
        for (gateway, field) in [
            (r#"{"auth_cluster":""}"#, "gateway.auth_cluster"),
            (r#"{"auth_path":"/auth"}"#, "gateway.auth_path"),
            (r#"{"auth_timeout":"2m"}"#, "gateway.auth_timeout"),
            (
                r#"{"forward_headers":["Cookie"]}"#,
                "gateway.forward_headers[0]",
            ),
            (
                r#"{"forward_headers":["cookie","host"]}"#,
                "gateway.forward_headers[1]",
            ),
            (
                r#"{"forward_headers":["x-original-uri"]}"#,
                "gateway.forward_headers[0]",
            ),
            (
                r#"{"presign":{"base_url":"s3:8333"}}"#,
                "gateway.presign.base_url",
            ),
            (
                r#"{"presign":{"base_url":"http://s3/path"}}"#,
                "gateway.presign.base_url",
            ),
            (
                r#"{"presign":{"base_url":"http://s","expires":"169h"}}"#,
                "gateway.presign.expires",
            ),
            (
                r#"{"presign":{"base_url":"http://s","expires":"500ms"}}"#,
                "gateway.presign.expires",
            ),
            (r#"{"presign":{"status":307}}"#, "gateway.presign.status"),
            (r#"{"presign":{"ttl":"1s"}}"#, "gateway.presign.ttl"),
            (
                r#"{"decision_cache":{"max_age":"2h"}}"#,
                "gateway.decision_cache.max_age",
            ),
            (
                r#"{"decision_cache":{"max_entries":100000}}"#,
                "gateway.decision_cache.max_entries",
            ),
            (r#"{"cache":{}}"#, "gateway.cache"),
        ] {
            let e = g(gateway).unwrap_err();
            assert_eq!(e.field, field, "{gateway}: {e}");
        }
        // The section belongs to its role, and the role needs signing.
        let e = parse(r#"{"role":"edge","gateway":{}}"#).unwrap_err();
        assert_eq!(e.field, "gateway");
        let e = parse(r#"{"role":"gateway"}"#).unwrap_err();
        assert_eq!(e.field, "signing");
        let e = parse(r#"{"role":"gateway","augment_headers":true,"signing":{"region":"r"}}"#)
            .unwrap_err();
        assert_eq!(e.field, "augment_headers");
    }
}
