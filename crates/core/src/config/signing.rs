//! The `signing` section (roles `storage` and `gateway`, or any role that
//! signs): where storage is, how paths map to buckets, what may be signed.
//! Its `credentials` object is read by `credentials`.

use super::types::{
    AddressingStyle, BodySigning, BucketMapping, Env, MissingCredentials, SigningConfig,
};
use super::values::{self, err, err_at, key, Failed, Fallback as F, Key, Kind as K, Reader};
use crate::primitives::json::Value;
use crate::primitives::syntax::{
    is_lowercase_header_name as valid_header_name, is_plain_name, valid_bucket_name,
};

/// The keys of `signing`, in the order the reader lists them.
#[rustfmt::skip]
pub(super) const KEYS: &[Key] = &[
    key("region", K::Str, F::Derived("`AWS_REGION` from the VM environment; required if that is unset"), "region in the credential scope"),
    key("service", K::Str, F::Str("s3"), "service in the credential scope"),
    key("endpoint", K::Str, F::Derived("S3: `\"s3.<region>.amazonaws.com\"`; other services: required"), "host to send and sign"),
    key("addressing_style", K::Choice(&["path", "virtual"]), F::Str("path"), "`/bucket/key` or `bucket.endpoint/key`"),
    key("buckets", K::Objects, F::List(&[]), "path prefix to bucket mappings"),
    key("on_missing_credentials", K::Choice(&["deny", "pass"]), F::Str("deny"), "what a request gets without usable credentials"),
    key("credentials", K::Object, F::Derived("`{\"source\": \"env\"}`"), "where credentials come from"),
    key("require_marker", K::Bool, F::Bool(true), "sign only requests with a valid internal-redirect marker"),
    key("forward_request_headers", K::Strings, F::List(&[]), "client headers a consent forwards besides range and conditionals"),
    key("hide_response_headers", K::Strings, F::Derived("with `require_marker`: `[\"x-amz-request-id\", \"x-amz-id-2\", \"x-amz-bucket-region\", \"server\", \"seaweed-x-amz-owner\", \"seaweed-x-amz-etag\"]`; without: `[]`"), "storage response headers removed"),
    key("plain_errors", K::Bool, F::Derived("the value of `require_marker`"), "replace storage error bodies by a short plain-text error"),
    key("body", K::Choice(&["stream", "hash"]), F::Derived("`\"stream\"` for S3 services, `\"hash\"` for every other (the only accepted value there)"), "how request bodies are signed"),
    key("max_body_bytes", K::Uint(1, 64 << 20), F::Uint(1 << 20), "largest body `hash` buffers"),
    key("scope", K::Object, F::Derived("open (signs anything)"), "what a signing edge may sign"),
    key("expose_amz_headers", K::Strings, F::List(&[]), "storage `x-amz-*` headers a consented answer keeps"),
];

/// The keys of each `signing.buckets` item.
#[rustfmt::skip]
pub(super) const BUCKET_KEYS: &[Key] = &[
    key("prefix", K::Str, F::Required, "request path prefix"),
    key("bucket", K::Str, F::Required, "S3 bucket name"),
    key("key_prefix", K::Str, F::Str(""), "prepended to the rest of the path"),
];

/// The keys of `signing.scope`.
#[rustfmt::skip]
pub(super) const SCOPE_KEYS: &[Key] = &[
    key("methods", K::Strings, F::Derived("`[]` (any)"), "upper-case methods signed"),
    key("buckets", K::Strings, F::Derived("`[]` (any; on a scoped edge with `signing.buckets`, the mapped buckets)"), "buckets signed for"),
    key("key_prefixes", K::Strings, F::Derived("`[]` (any; on a scoped edge whose every `signing.buckets` entry has a `key_prefix`, those)"), "key prefixes signed for"),
    key("amz_headers", K::Strings, F::List(&[]), "client `x-amz-*` headers signed besides the default set"),
    key("query_parameters", K::Strings, F::List(&[]), "object-level query parameters signed besides the default set"),
];

const NAMES: [&str; KEYS.len()] = values::names(&[KEYS]);
const BUCKET_NAMES: [&str; BUCKET_KEYS.len()] = values::names(&[BUCKET_KEYS]);
const SCOPE_NAMES: [&str; SCOPE_KEYS.len()] = values::names(&[SCOPE_KEYS]);

#[derive(Debug, Clone)]
struct RawBucket {
    prefix: String,
    bucket: String,
    key_prefix: String,
}

/// The settings as written, defaults filled in, not yet validated.
#[derive(Debug, Clone)]
pub(super) struct RawSigning {
    region: Option<String>,
    service: String,
    endpoint: Option<String>,
    addressing_style: AddressingStyle,
    buckets: Vec<RawBucket>,
    on_missing_credentials: MissingCredentials,
    /// The `credentials` object, read and checked by `credentials`.
    credentials: Option<Value>,
    require_marker: bool,
    forward_request_headers: Vec<String>,
    hide_response_headers: Option<Vec<String>>,
    plain_errors: Option<bool>,
    expose_amz_headers: Vec<String>,
    body: Option<BodySigning>,
    max_body_bytes: usize,
    scope: crate::signing::scope::SignScope,
}

/// The defaults of a `signing` section that names none of its optional keys.
impl Default for RawSigning {
    fn default() -> Self {
        RawSigning {
            region: None,
            service: const { values::text(KEYS, "service") }.into(),
            endpoint: None,
            addressing_style: AddressingStyle::default(),
            buckets: vec![],
            on_missing_credentials: MissingCredentials::default(),
            credentials: None,
            require_marker: const { values::flag(KEYS, "require_marker") },
            forward_request_headers: vec![],
            hide_response_headers: None,
            plain_errors: None,
            expose_amz_headers: vec![],
            body: None,
            max_body_bytes: const { values::uint(KEYS, "max_body_bytes") },
            scope: Default::default(),
        }
    }
}

/// Reads the `signing` object of `parent` into `slot`, when there is one.
pub(super) fn read(parent: &Reader, slot: &mut Option<RawSigning>) -> Result<(), Failed> {
    if let Some(r) = parent.child("signing", &NAMES)? {
        read_into(&r, slot.insert(RawSigning::default()))?;
    }
    Ok(())
}

fn read_into(r: &Reader, s: &mut RawSigning) -> Result<(), Failed> {
    for (i, b) in r
        .array("buckets", "an array of objects")?
        .into_iter()
        .flatten()
        .enumerate()
    {
        let br = Reader::new(b, &format!("{}[{i}]", r.field("buckets")), &BUCKET_NAMES)?;
        let prefix = br.required("prefix", br.string("prefix")?)?;
        let bucket = br.required("bucket", br.string("bucket")?)?;
        s.buckets.push(RawBucket {
            prefix,
            bucket,
            key_prefix: br.string("key_prefix")?.unwrap_or_default(),
        });
    }
    s.region = r.string("region")?;
    if let Some(v) = r.string("service")? {
        s.service = v;
    }
    s.endpoint = r.string("endpoint")?;
    s.addressing_style = r
        .choice(
            "addressing_style",
            const { values::choices(KEYS, "addressing_style") },
            &[AddressingStyle::Path, AddressingStyle::Virtual],
        )?
        .unwrap_or_default();
    s.on_missing_credentials = r
        .choice(
            "on_missing_credentials",
            const { values::choices(KEYS, "on_missing_credentials") },
            &[MissingCredentials::Deny, MissingCredentials::Pass],
        )?
        .unwrap_or_default();
    s.credentials = r.get("credentials")?.cloned();
    if let Some(v) = r.boolean("require_marker")? {
        s.require_marker = v;
    }
    s.forward_request_headers = r.strings("forward_request_headers")?.unwrap_or_default();
    s.hide_response_headers = r.strings("hide_response_headers")?;
    s.plain_errors = r.boolean("plain_errors")?;
    s.expose_amz_headers = r.strings("expose_amz_headers")?.unwrap_or_default();
    s.body = r.choice(
        "body",
        const { values::choices(KEYS, "body") },
        &[BodySigning::Stream, BodySigning::Hash],
    )?;
    if let Some(v) = r.uint("max_body_bytes")? {
        s.max_body_bytes = v;
    }
    if let Some(sc) = r.child("scope", &SCOPE_NAMES)? {
        let scope = &mut s.scope;
        scope.methods = sc.strings("methods")?.unwrap_or_default();
        scope.buckets = sc.strings("buckets")?.unwrap_or_default();
        scope.key_prefixes = sc.strings("key_prefixes")?.unwrap_or_default();
        scope.amz_headers = sc.strings("amz_headers")?.unwrap_or_default();
        scope.query_parameters = sc.strings("query_parameters")?.unwrap_or_default();
    }
    Ok(())
}

/// Checks `signing`, taking the values it keeps out of `raw`.
pub(super) fn validate(raw: &mut RawSigning, env: &dyn Env) -> Result<SigningConfig, Failed> {
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
                &[&field, ".prefix"].concat(),
                "must start and end with '/', e.g. \"/internal-assets/\"",
            ));
        }
        if !valid_bucket_name(&b.bucket) {
            return Err(err(
                &[&field, ".bucket"].concat(),
                "must be an S3 bucket name (3-63 characters: a-z, 0-9, '.', '-')",
            ));
        }
        if b.key_prefix.starts_with('/') || crate::primitives::ascii::contains(&b.key_prefix, "..")
        {
            return Err(err(
                &[&field, ".key_prefix"].concat(),
                "must not start with '/' or contain \"..\"",
            ));
        }
        buckets.push(BucketMapping {
            prefix: b.prefix,
            bucket: b.bucket,
            key_prefix: b.key_prefix,
        });
    }
    let credentials = super::credentials::read(raw.credentials.as_ref(), env, &region)?;
    // Placements with the same credentials settings (as written, members in
    // the same order) share one refresh per process.
    let credentials_id = crate::sigv4::sha256_hex16(
        format!(
            "{}|{region}",
            raw.credentials
                .as_ref()
                .map(|v| v.to_string())
                .unwrap_or_default()
        )
        .as_bytes(),
    );
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
    let (min, max) = const { values::uint_bounds(KEYS, "max_body_bytes") };
    if !(min..=max).contains(&raw.max_body_bytes) {
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
