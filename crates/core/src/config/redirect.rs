//! The `redirect` section (every role): internal prefixes, the marker, and
//! what a backend's consent may carry to storage.

use super::types::{ForeignRedirects, RedirectConfig};
use super::values::{
    self, err, err_at, key, parse_duration, Failed, Fallback as F, Key, Kind as K, Reader,
};
use crate::internal_redirect::target::{ConsentBy, KeyRules, ReadQuery};

/// The keys of `redirect`, in the order the reader lists them.
#[rustfmt::skip]
pub(super) const KEYS: &[Key] = &[
    key("internal_prefixes", K::Strings, F::List(&["/internal-assets/"]), "path prefixes of internal routes"),
    key("marker_header", K::Str, F::Str("x-internal-redirect"), "the marker header (lowercase)"),
    key("marker_ttl", K::Duration(1000, 3_600_000), F::Str("30s"), "marker lifetime"),
    key("foreign_redirects", K::Choice(&["pass", "reject"]), F::Str("pass"), "what a non-internal backend 307 becomes"),
    key("max_key_length", K::Uint(1, 4096), F::Uint(1024), "longest object key taken from an internal path"),
    key("allow_empty_segments", K::Bool, F::Bool(false), "allow `//` and a trailing `/` in keys"),
    key("internal_authorities", K::Strings, F::List(&[]), "authorities besides the client's whose 307s are internal"),
    key("keep_backend_headers", K::Strings, F::List(&crate::internal_redirect::carry::NGINX_KEPT), "backend response headers put on storage's answer"),
    key("max_kept_bytes", K::Uint(0, 32_768), F::Uint(8192), "bound on the kept headers"),
    key("read_parameters", K::Strings, F::List(&[]), "query parameters a read consent may carry to storage"),
    key("allow_active_content_types", K::Bool, F::Bool(false), "let a read consent name an active content type"),
    key("consent", K::Choice(&["any_internal_307", "accel_or_flagged"]), F::Str("any_internal_307"), "which backend answers consent to a read"),
    key("marker_audience", K::Str, F::Str(""), "the placement markers are issued for and accepted at"),
];

/// What the reader accepts in `redirect`.
pub(super) const NAMES: [&str; KEYS.len()] = values::names(&[KEYS]);

/// The settings as written, defaults filled in, not yet validated.
#[derive(Debug, Clone)]
pub(super) struct RawRedirect {
    internal_prefixes: Vec<String>,
    /// Whether `internal_prefixes` is written, not defaulted.
    pub(super) prefixes_stated: bool,
    marker_header: String,
    marker_ttl: String,
    foreign_redirects: ForeignRedirects,
    max_key_length: usize,
    allow_empty_segments: bool,
    internal_authorities: Vec<String>,
    keep_backend_headers: Option<Vec<String>>,
    max_kept_bytes: usize,
    read: RawReadConsent,
}

/// What a read consent is, carries and is for (read by one call: every `?` in a
/// long struct literal costs module size).
#[derive(Debug, Clone, Default)]
struct RawReadConsent {
    read_parameters: Vec<String>,
    allow_active_content_types: bool,
    consent: Option<String>,
    marker_audience: String,
}

impl Default for RawRedirect {
    fn default() -> Self {
        RawRedirect {
            internal_prefixes: values::owned(const { values::list(KEYS, "internal_prefixes") }),
            prefixes_stated: false,
            marker_header: const { values::text(KEYS, "marker_header") }.into(),
            marker_ttl: const { values::text(KEYS, "marker_ttl") }.into(),
            foreign_redirects: ForeignRedirects::Pass,
            max_key_length: const { values::uint(KEYS, "max_key_length") },
            allow_empty_segments: const { values::flag(KEYS, "allow_empty_segments") },
            internal_authorities: vec![],
            keep_backend_headers: None,
            max_kept_bytes: const { values::uint(KEYS, "max_kept_bytes") },
            read: RawReadConsent::default(),
        }
    }
}

/// Reads `redirect` over `d`, which holds the defaults.
pub(super) fn read(r: &Reader, d: &mut RawRedirect) -> Result<(), Failed> {
    if let Some(v) = r.strings("internal_prefixes")? {
        d.internal_prefixes = v;
        d.prefixes_stated = true;
    }
    if let Some(v) = r.string("marker_header")? {
        d.marker_header = v;
    }
    if let Some(v) = r.string("marker_ttl")? {
        d.marker_ttl = v;
    }
    if let Some(v) = r.choice(
        "foreign_redirects",
        const { values::choices(KEYS, "foreign_redirects") },
        &[ForeignRedirects::Pass, ForeignRedirects::Reject],
    )? {
        d.foreign_redirects = v;
    }
    if let Some(v) = r.uint("max_key_length")? {
        d.max_key_length = v;
    }
    if let Some(v) = r.boolean("allow_empty_segments")? {
        d.allow_empty_segments = v;
    }
    d.internal_authorities = r.strings("internal_authorities")?.unwrap_or_default();
    d.keep_backend_headers = r.strings("keep_backend_headers")?;
    if let Some(v) = r.uint("max_kept_bytes")? {
        d.max_kept_bytes = v;
    }
    d.read.allow_active_content_types = r.boolean("allow_active_content_types")?.unwrap_or(false);
    d.read.consent = r.string("consent")?;
    d.read.read_parameters = r.strings("read_parameters")?.unwrap_or_default();
    d.read.marker_audience = r.string("marker_audience")?.unwrap_or_default();
    Ok(())
}

/// Checks `redirect`, taking the values it keeps out of `raw`.
pub(super) fn validate(raw: &mut RawRedirect) -> Result<RedirectConfig, Failed> {
    use crate::primitives::syntax::is_lowercase_header_name;
    if raw.internal_prefixes.is_empty() {
        return Err(err(
            "redirect.internal_prefixes",
            "must name at least one prefix",
        ));
    }
    for (i, p) in raw.internal_prefixes.iter().enumerate() {
        // `get`, not indexing: no char-boundary panic path in the module.
        let safe = p.len() > 2
            && p.starts_with('/')
            && p.ends_with('/')
            && p.get(1..p.len() - 1).is_some_and(|key| {
                crate::internal_redirect::target::validate_key(key, &Default::default()).is_ok()
            });
        if !safe {
            return Err(err_at(
                "redirect.internal_prefixes",
                i,
                "must be a plain path starting and ending with '/', e.g. \"/internal-assets/\"",
            ));
        }
    }
    if !is_lowercase_header_name(&raw.marker_header) {
        return Err(err(
            "redirect.marker_header",
            "must be a lowercase header name such as \"x-internal-redirect\"",
        ));
    }
    let (min_ms, max_ms) = const { values::ms_bounds(KEYS, "marker_ttl") };
    let ttl = parse_duration(&raw.marker_ttl)
        .filter(|d| (min_ms / 1000..=max_ms / 1000).contains(&d.as_secs()))
        .ok_or_else(|| {
            err(
                "redirect.marker_ttl",
                "must be a duration between \"1s\" and \"1h\", e.g. \"30s\"",
            )
        })?;
    let (min, max) = const { values::uint_bounds(KEYS, "max_key_length") };
    if !(min..=max).contains(&raw.max_key_length) {
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
        None => values::owned(const { values::list(KEYS, "keep_backend_headers") }),
    };
    for (i, name) in keep.iter().enumerate() {
        if !is_lowercase_header_name(name) || !crate::internal_redirect::carry::may_carry(name) {
            return Err(err_at("redirect.keep_backend_headers", i, "must be a lowercase response header name other than framing, hop-by-hop, Location or X-Accel-* headers",
            ));
        }
    }
    if raw.max_kept_bytes > const { values::uint_bounds(KEYS, "max_kept_bytes").1 } {
        return Err(err("redirect.max_kept_bytes", "must be at most 32768"));
    }
    let mut read_query = ReadQuery {
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
    // Checked here, not as a choice: the message predates the declarations.
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
        key_rules: KeyRules {
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
