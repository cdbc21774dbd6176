//! The path-tracking JSON reader: turns the configuration's JSON into the
//! raw (unvalidated) settings, refusing unknown fields and wrong types with the
//! dotted path of the offending field. Defaults are filled in here; values are
//! checked by `validate`.

use super::{
    err, AddressingStyle, BodySigning, Failed, FailurePolicy, ForeignRedirects, Injection,
    MissingCredentials, Role,
};
use crate::primitives::json::{self, Map, Value};

// Raw settings: what the JSON says, with defaults filled in, not yet validated.

#[derive(Debug, Clone)]
pub(super) struct RawBucket {
    pub(super) prefix: String,
    pub(super) bucket: String,
    pub(super) key_prefix: String,
}

#[derive(Debug, Clone)]
pub(super) struct RawRedirect {
    pub(super) internal_prefixes: Vec<String>,
    pub(super) marker_header: String,
    pub(super) marker_ttl: String,
    pub(super) foreign_redirects: ForeignRedirects,
    pub(super) max_key_length: usize,
    pub(super) allow_empty_segments: bool,
    pub(super) internal_authorities: Vec<String>,
    pub(super) keep_backend_headers: Option<Vec<String>>,
    pub(super) max_kept_bytes: usize,
    pub(super) read: RawReadConsent,
}

/// What a read consent is, carries and is for (read by one call: every `?` in a
/// long struct literal costs module size).
#[derive(Debug, Clone, Default)]
pub(super) struct RawReadConsent {
    pub(super) read_parameters: Vec<String>,
    pub(super) allow_active_content_types: bool,
    pub(super) consent: Option<String>,
    pub(super) marker_audience: String,
}

impl Default for RawRedirect {
    fn default() -> Self {
        RawRedirect {
            internal_prefixes: vec!["/internal-assets/".into()],
            marker_header: "x-internal-redirect".into(),
            marker_ttl: "30s".into(),
            foreign_redirects: ForeignRedirects::Pass,
            max_key_length: 1024,
            allow_empty_segments: false,
            internal_authorities: vec![],
            keep_backend_headers: None,
            max_kept_bytes: 8192,
            read: RawReadConsent::default(),
        }
    }
}

#[derive(Debug, Clone)]
pub(super) struct RawSigning {
    pub(super) region: Option<String>,
    pub(super) service: String,
    pub(super) endpoint: Option<String>,
    pub(super) addressing_style: AddressingStyle,
    pub(super) buckets: Vec<RawBucket>,
    pub(super) on_missing_credentials: MissingCredentials,
    /// The `credentials` object, read and checked by `config::credentials`.
    pub(super) credentials: Option<Value>,
    pub(super) require_marker: bool,
    pub(super) forward_request_headers: Vec<String>,
    pub(super) hide_response_headers: Option<Vec<String>>,
    pub(super) plain_errors: Option<bool>,
    pub(super) expose_amz_headers: Vec<String>,
    pub(super) body: Option<BodySigning>,
    pub(super) max_body_bytes: usize,
    pub(super) scope: crate::signing::scope::SignScope,
}

/// The defaults of a `signing` section that names none of its optional keys.
impl Default for RawSigning {
    fn default() -> Self {
        RawSigning {
            region: None,
            service: "s3".into(),
            endpoint: None,
            addressing_style: AddressingStyle::default(),
            buckets: vec![],
            on_missing_credentials: MissingCredentials::default(),
            credentials: None,
            require_marker: true,
            forward_request_headers: vec![],
            hide_response_headers: None,
            plain_errors: None,
            expose_amz_headers: vec![],
            body: None,
            max_body_bytes: 1 << 20,
            scope: Default::default(),
        }
    }
}

#[derive(Debug, Clone)]
pub(super) struct RawPresign {
    pub(super) base_url: Option<String>,
    pub(super) expires: Option<String>,
    pub(super) always: bool,
}

#[derive(Debug, Clone, Default)]
pub(super) struct RawGateway {
    pub(super) auth_cluster: Option<String>,
    pub(super) auth_authority: Option<String>,
    pub(super) auth_timeout: Option<String>,
    pub(super) forward_headers: Option<Vec<String>>,
    pub(super) presign: Option<RawPresign>,
    pub(super) cache_max_age: Option<String>,
    pub(super) cache_max_entries: Option<usize>,
    pub(super) cache_writes: bool,
}

#[derive(Debug, Clone, Default)]
pub(super) struct RawConfig {
    pub(super) role: Role,
    pub(super) gateway: Option<RawGateway>,
    pub(super) redirect: RawRedirect,
    pub(super) signing: Option<RawSigning>,
    pub(super) augment_headers: bool,
    pub(super) header_providing_service_cluster: Option<String>,
    pub(super) header_providing_service_authority: Option<String>,
    pub(super) header_providing_service_path: Option<String>,
    pub(super) header_providing_service_timeout: Option<String>,
    pub(super) header_cache_expiry: Option<String>,
    pub(super) header_max_staleness: Option<String>,
    pub(super) header_backoff_cap: Option<String>,
    pub(super) header_max_body_bytes: Option<usize>,
    pub(super) header_failure_policy: FailurePolicy,
    pub(super) header_injection: Injection,
    pub(super) header_allow_sensitive: Vec<String>,
}

/// Reads the configuration's bytes (empty means `{}`) into raw settings.
pub(super) fn read(bytes: &[u8]) -> Result<RawConfig, Failed> {
    let trimmed = bytes.iter().all(|b| b.is_ascii_whitespace());
    let value: Value = if trimmed {
        Value::Object(Map::new())
    } else {
        // The reason ends with "at byte N": keep it, it helps.
        json::parse(bytes).map_err(|e| err("", &format!("not valid JSON: {e}")))?
    };
    let mut c = RawConfig::default();
    read_config(&value, &mut c)?;
    Ok(c)
}

/// Reads one JSON object of the configuration: tracks the dotted field path
/// for error messages and refuses fields it does not know.
pub(super) struct Reader<'a> {
    path: String,
    map: &'a Map,
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

pub(super) fn invalid_type(field: &str, v: &Value, expected: &str) -> Failed {
    err(
        field,
        &format!("invalid type: {}, expected {expected}", kind(v)),
    )
}

impl<'a> Reader<'a> {
    pub(super) fn new(v: &'a Value, path: &str, known: &[&str]) -> Result<Reader<'a>, Failed> {
        let map = v
            .as_object()
            .ok_or_else(|| invalid_type(path, v, "an object"))?;
        if let Some(k) = map.keys().find(|k| !known.contains(&k.as_str())) {
            let expected: Vec<String> = known.iter().map(|k| format!("`{k}`")).collect();
            return Err(err(
                &join(path, k),
                &format!(
                    "unknown field `{k}`, expected one of {}",
                    expected.join(", ")
                ),
            ));
        }
        Ok(Reader {
            path: path.to_string(),
            map,
        })
    }

    pub(super) fn field(&self, key: &str) -> String {
        join(&self.path, key)
    }

    /// A present, non-null value.
    pub(super) fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    pub(super) fn string(&self, key: &str) -> Result<Option<String>, Failed> {
        self.get(key)
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| invalid_type(&self.field(key), v, "a string"))
            })
            .transpose()
    }

    pub(super) fn boolean(&self, key: &str) -> Result<Option<bool>, Failed> {
        self.get(key)
            .map(|v| {
                v.as_bool()
                    .ok_or_else(|| invalid_type(&self.field(key), v, "a boolean"))
            })
            .transpose()
    }

    pub(super) fn uint(&self, key: &str) -> Result<Option<usize>, Failed> {
        self.get(key)
            .map(|v| {
                v.as_u64()
                    .and_then(|n| usize::try_from(n).ok())
                    .ok_or_else(|| invalid_type(&self.field(key), v, "a whole number"))
            })
            .transpose()
    }

    /// One of `variants`, by name. A thin generic shell around
    /// `choice_index`, so each enum does not get its own copy of the
    /// error formatting.
    pub(super) fn choice<T: Copy>(
        &self,
        key: &str,
        variants: &[(&'static str, T)],
    ) -> Result<Option<T>, Failed> {
        let name = |i: usize| variants.get(i).map(|(n, _)| *n);
        Ok(self
            .choice_index(key, &name)?
            .and_then(|i| variants.get(i))
            .map(|(_, t)| *t))
    }

    /// The index of the variant named by `key`; `name(i)` is the name of
    /// variant `i`, `None` past the last one.
    #[inline(never)]
    fn choice_index(
        &self,
        key: &str,
        name: &dyn Fn(usize) -> Option<&'static str>,
    ) -> Result<Option<usize>, Failed> {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        let names: Vec<String> = (0..).map_while(name).map(|n| format!("`{n}`")).collect();
        let text = v.as_str().ok_or_else(|| {
            invalid_type(&self.field(key), v, &format!("one of {}", names.join(", ")))
        })?;
        (0..)
            .map_while(name)
            .position(|n| n == text)
            .map(Some)
            .ok_or_else(|| {
                err(
                    &self.field(key),
                    &format!(
                        "unknown variant `{text}`, expected one of {}",
                        names.join(", ")
                    ),
                )
            })
    }

    pub(super) fn array(
        &self,
        key: &str,
        expected: &str,
    ) -> Result<Option<&'a Vec<Value>>, Failed> {
        self.get(key)
            .map(|v| {
                v.as_array()
                    .ok_or_else(|| invalid_type(&self.field(key), v, expected))
            })
            .transpose()
    }

    pub(super) fn strings(&self, key: &str) -> Result<Option<Vec<String>>, Failed> {
        let Some(items) = self.array(key, "an array of strings")? else {
            return Ok(None);
        };
        items
            .iter()
            .enumerate()
            .map(|(i, v)| {
                v.as_str().map(str::to_string).ok_or_else(|| {
                    invalid_type(&format!("{}[{i}]", self.field(key)), v, "a string")
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    pub(super) fn child(&self, key: &str, known: &[&str]) -> Result<Option<Reader<'a>>, Failed> {
        self.get(key)
            .map(|v| Reader::new(v, &self.field(key), known))
            .transpose()
    }

    pub(super) fn required(&self, key: &str, value: Option<String>) -> Result<String, Failed> {
        value.ok_or_else(|| err(&self.field(key), "required"))
    }
}

const ROLES: [(&str, Role); 4] = [
    ("edge", Role::Edge),
    ("auth_backend", Role::AuthBackend),
    ("storage", Role::Storage),
    ("gateway", Role::Gateway),
];

// The `read_*` functions below fill, field by field, a value with defaults that
// their caller owns, instead of building a struct literal: every `?` inside a
// literal (or with an owned local) drops the fields read so far, and with a
// dozen owned fields those drops cost kilobytes of module size. On an error
// the caller drops the half-filled value once. Fields are read in the order
// the struct literals used, so a configuration with several mistakes still
// reports the same first one.

fn read_gateway(r: &Reader, g: &mut RawGateway) -> Result<(), Failed> {
    if let Some(p) = r.child("presign", &["base_url", "expires", "always"])? {
        g.presign = Some(RawPresign {
            base_url: p.string("base_url")?,
            expires: p.string("expires")?,
            always: p.boolean("always")?.unwrap_or(false),
        });
    }
    let cache = r.child("decision_cache", &["max_age", "max_entries", "writes"])?;
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

fn read_config(v: &Value, c: &mut RawConfig) -> Result<(), Failed> {
    let r = Reader::new(
        v,
        "",
        &[
            "role",
            "redirect",
            "signing",
            "gateway",
            "augment_headers",
            "header_providing_service_cluster",
            "header_providing_service_authority",
            "header_providing_service_path",
            "header_providing_service_timeout",
            "header_cache_expiry",
            "header_max_staleness",
            "header_backoff_cap",
            "header_max_body_bytes",
            "header_failure_policy",
            "header_injection",
            "header_allow_sensitive",
        ],
    )?;
    if let Some(rr) = r.child(
        "redirect",
        &[
            "internal_prefixes",
            "marker_header",
            "marker_ttl",
            "foreign_redirects",
            "max_key_length",
            "allow_empty_segments",
            "internal_authorities",
            "keep_backend_headers",
            "max_kept_bytes",
            "read_parameters",
            "allow_active_content_types",
            "consent",
            "marker_audience",
        ],
    )? {
        read_redirect(&rr, &mut c.redirect)?;
    }
    if let Some(sr) = r.child(
        "signing",
        &[
            "region",
            "service",
            "endpoint",
            "addressing_style",
            "buckets",
            "on_missing_credentials",
            "credentials",
            "require_marker",
            "forward_request_headers",
            "hide_response_headers",
            "plain_errors",
            "body",
            "max_body_bytes",
            "scope",
            "expose_amz_headers",
        ],
    )? {
        read_signing(&sr, c.signing.insert(RawSigning::default()))?;
    }
    if let Some(gr) = r.child(
        "gateway",
        &[
            "auth_cluster",
            "auth_authority",
            "auth_timeout",
            "forward_headers",
            "presign",
            "decision_cache",
        ],
    )? {
        read_gateway(&gr, c.gateway.insert(RawGateway::default()))?;
    }
    c.role = r.choice("role", &ROLES)?.unwrap_or_default();
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
            &[("pass", FailurePolicy::Pass), ("deny", FailurePolicy::Deny)],
        )?
        .unwrap_or_default();
    c.header_injection = r
        .choice(
            "header_injection",
            &[
                ("overwrite", Injection::Overwrite),
                ("keep_existing", Injection::KeepExisting),
            ],
        )?
        .unwrap_or_default();
    c.header_allow_sensitive = r.strings("header_allow_sensitive")?.unwrap_or_default();
    Ok(())
}

/// Reads `redirect` over `d`, which holds the defaults.
fn read_redirect(r: &Reader, d: &mut RawRedirect) -> Result<(), Failed> {
    if let Some(v) = r.strings("internal_prefixes")? {
        d.internal_prefixes = v;
    }
    if let Some(v) = r.string("marker_header")? {
        d.marker_header = v;
    }
    if let Some(v) = r.string("marker_ttl")? {
        d.marker_ttl = v;
    }
    if let Some(v) = r.choice(
        "foreign_redirects",
        &[
            ("pass", ForeignRedirects::Pass),
            ("reject", ForeignRedirects::Reject),
        ],
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

fn read_signing(r: &Reader, s: &mut RawSigning) -> Result<(), Failed> {
    for (i, b) in r
        .array("buckets", "an array of objects")?
        .into_iter()
        .flatten()
        .enumerate()
    {
        let br = Reader::new(
            b,
            &format!("{}[{i}]", r.field("buckets")),
            &["prefix", "bucket", "key_prefix"],
        )?;
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
            &[
                ("path", AddressingStyle::Path),
                ("virtual", AddressingStyle::Virtual),
            ],
        )?
        .unwrap_or_default();
    s.on_missing_credentials = r
        .choice(
            "on_missing_credentials",
            &[
                ("deny", MissingCredentials::Deny),
                ("pass", MissingCredentials::Pass),
            ],
        )?
        .unwrap_or_default();
    s.credentials = r.get("credentials").cloned();
    s.require_marker = r.boolean("require_marker")?.unwrap_or(true);
    s.forward_request_headers = r.strings("forward_request_headers")?.unwrap_or_default();
    s.hide_response_headers = r.strings("hide_response_headers")?;
    s.plain_errors = r.boolean("plain_errors")?;
    s.expose_amz_headers = r.strings("expose_amz_headers")?.unwrap_or_default();
    s.body = r.choice(
        "body",
        &[("stream", BodySigning::Stream), ("hash", BodySigning::Hash)],
    )?;
    if let Some(v) = r.uint("max_body_bytes")? {
        s.max_body_bytes = v;
    }
    if let Some(sc) = r.child(
        "scope",
        &[
            "methods",
            "buckets",
            "key_prefixes",
            "amz_headers",
            "query_parameters",
        ],
    )? {
        let scope = &mut s.scope;
        scope.methods = sc.strings("methods")?.unwrap_or_default();
        scope.buckets = sc.strings("buckets")?.unwrap_or_default();
        scope.key_prefixes = sc.strings("key_prefixes")?.unwrap_or_default();
        scope.amz_headers = sc.strings("amz_headers")?.unwrap_or_default();
        scope.query_parameters = sc.strings("query_parameters")?.unwrap_or_default();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::config::{Config, ConfigError, MapEnv};

    fn parse(s: &str) -> Result<Config, ConfigError> {
        Config::parse(s.as_bytes(), &MapEnv(vec![]))
    }

    #[test]
    fn unknown_field_is_named() {
        let e = parse(r#"{"rolle": "edge"}"#).unwrap_err();
        assert!(e.reason.contains("unknown field `rolle`"), "{e}");
        let e =
            parse(r#"{"role":"storage","signing":{"region":"eu-west-1","bogus":1}}"#).unwrap_err();
        assert_eq!(e.field, "signing.bogus");
        assert!(e.reason.contains("unknown field `bogus`"), "{e}");
    }

    #[test]
    fn wrong_type_names_the_field() {
        let e = parse(r#"{"role":"storage","signing":{"region":"eu-west-1","buckets":"x"}}"#)
            .unwrap_err();
        assert_eq!(e.field, "signing.buckets");
        assert!(e.reason.contains("invalid type"), "{e}");
        let e = parse(r#"{"role": 7}"#).unwrap_err();
        assert_eq!(e.field, "role");
    }

    #[test]
    fn choice_errors_list_the_variants() {
        let e = parse(r#"{"role": "bogus"}"#).unwrap_err();
        assert_eq!(e.field, "role");
        assert_eq!(
            e.reason,
            "unknown variant `bogus`, expected one of `edge`, `auth_backend`, `storage`, `gateway`"
        );
        let e = parse(r#"{"header_injection": 7}"#).unwrap_err();
        assert_eq!(e.field, "header_injection");
        assert_eq!(
            e.reason,
            "invalid type: a number, expected one of `overwrite`, `keep_existing`"
        );
    }

    #[test]
    fn trailing_garbage_is_an_error() {
        assert!(parse("{} x").is_err());
        assert!(parse("[").is_err());
    }

    proptest::proptest! {
        /// Arbitrary bytes and arbitrary JSON never panic the reader; an
        /// error always names a field or says the JSON is invalid.
        #[test]
        fn arbitrary_configurations_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            if let Err(e) = parse(&String::from_utf8_lossy(&bytes)) {
                proptest::prop_assert!(!e.reason.is_empty());
            }
        }

        #[test]
        fn arbitrary_json_shapes_never_panic(
            key in proptest::sample::select(vec!["role", "redirect", "signing", "augment_headers", "header_cache_expiry", "header_max_body_bytes", "nope"]),
            inner in proptest::sample::select(vec!["internal_prefixes", "marker_ttl", "region", "buckets", "credentials", "keep_backend_headers", "max_kept_bytes", "x"]),
            value in proptest::sample::select(vec!["null", "true", "1", "-1", "1e400", "\"\"", "\"5s\"", "[]", "[1]", "[\"/a/\"]", "{}", "{\"source\":\"static\"}"]),
        ) {
            for doc in [format!("{{\"{key}\":{value}}}"), format!("{{\"{key}\":{{\"{inner}\":{value}}}}}")] {
                if let Err(e) = parse(&doc) {
                    proptest::prop_assert!(!e.reason.is_empty(), "{}", doc);
                }
            }
        }
    }
}
