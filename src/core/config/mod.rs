//! Filter configuration: parsed once in `on_configure`, validated completely,
//! so that a mistake fails loudly at load time instead of per request.

use serde_json::{Map, Value};
use std::fmt;
use std::time::Duration;

/// A configuration error with the dotted path of the offending field, so the
/// single log line Envoy prints tells the operator exactly what to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub field: String,
    pub reason: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() || self.field == "." {
            write!(f, "invalid asset-gate configuration: {}", self.reason)
        } else {
            write!(
                f,
                "invalid asset-gate configuration: field `{}`: {}",
                self.field, self.reason
            )
        }
    }
}

fn err(field: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        field: field.to_string(),
        reason: reason.into(),
    }
}

/// Where this instance sits in Envoy decides what it does (DESIGN.md section 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Role {
    /// Downstream HTTP filter on the listener: guards and augments client requests.
    #[default]
    Edge,
    /// Upstream HTTP filter on the auth backend cluster: turns the backend's
    /// consent (`X-Accel-Redirect`, or a 307 to an internal prefix) into a
    /// marked internal redirect that Envoy follows.
    AuthBackend,
    /// Upstream HTTP filter on the storage cluster (or a downstream filter of a
    /// signing edge proxy): maps buckets, rewrites the host, signs with SigV4.
    Storage,
}

/// S3 addressing: path-style `/bucket/key` or virtual-hosted `bucket.host/key`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AddressingStyle {
    #[default]
    Path,
    Virtual,
}

/// What to do with a request when no usable credentials exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MissingCredentials {
    /// Answer 503 with a clear body: never send a request signed with nothing.
    #[default]
    Deny,
    /// Forward unsigned (e.g. for public buckets).
    Pass,
}

/// What the auth-backend role does with a redirect to a non-internal target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ForeignRedirects {
    /// Hand it to the client as an ordinary redirect (e.g. to a login page).
    #[default]
    Pass,
    /// Answer 502.
    Reject,
}

/// Where credentials come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CredentialSource {
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN` passed
    /// with `vm_config.environment_variables`.
    #[default]
    Env,
    /// Inline in this configuration.
    Static,
    /// Fetched from an Envoy cluster serving the ECS container-credentials
    /// JSON, refreshed before expiry by one poller per Envoy process.
    Endpoint,
}

#[derive(Debug, Clone, Default)]
struct RawCredentials {
    source: CredentialSource,
    access_key_id: Option<String>,
    secret_access_key: Option<String>,
    session_token: Option<String>,
    cluster: Option<String>,
    authority: Option<String>,
    path: Option<String>,
    authorization_token: Option<String>,
    timeout: Option<String>,
    refresh_interval: Option<String>,
}

#[derive(Debug, Clone)]
struct RawBucket {
    prefix: String,
    bucket: String,
    key_prefix: String,
}

#[derive(Debug, Clone)]
struct RawRedirect {
    internal_prefixes: Vec<String>,
    marker_header: String,
    marker_ttl: String,
    foreign_redirects: ForeignRedirects,
    max_key_length: usize,
    allow_empty_segments: bool,
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
        }
    }
}

#[derive(Debug, Clone)]
struct RawSigning {
    region: Option<String>,
    service: String,
    endpoint: Option<String>,
    addressing_style: AddressingStyle,
    buckets: Vec<RawBucket>,
    on_missing_credentials: MissingCredentials,
    credentials: RawCredentials,
    require_marker: bool,
}

#[derive(Debug, Clone)]
struct RawConfig {
    role: Role,
    redirect: RawRedirect,
    signing: Option<RawSigning>,
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
}

/// What requests get when no valid provider headers exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailurePolicy {
    /// Forward without the headers.
    #[default]
    Pass,
    /// Answer 503 with a clear body.
    Deny,
}

/// How provider headers meet headers the request already has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Injection {
    /// The provider's value replaces the request's.
    #[default]
    Overwrite,
    /// A header the request already carries is left alone.
    KeepExisting,
}

/// Validated header-augmentation settings (keys as in the
/// envoy-wasm-header-augmenting-filter proof of concept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AugmentConfig {
    pub provider: EndpointConfig,
    pub expiry_ms: u64,
    pub max_staleness_ms: u64,
    pub backoff_cap_ms: u64,
    pub max_body_bytes: usize,
    pub failure_policy: FailurePolicy,
    pub injection: Injection,
}

/// A bucket mapping: requests under `prefix` go to `bucket`, key = `key_prefix` + rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketMapping {
    pub prefix: String,
    pub bucket: String,
    pub key_prefix: String,
}

/// How credentials are obtained, resolved at configure time.
#[derive(Clone, PartialEq, Eq)]
pub enum CredentialsConfig {
    Env,
    Static(crate::core::sigv4::Credentials),
    Endpoint(EndpointConfig),
}

/// An HTTP service polled through an Envoy cluster (header provider or
/// credentials endpoint).
#[derive(Clone, PartialEq, Eq)]
pub struct EndpointConfig {
    pub cluster: String,
    pub authority: String,
    pub path: String,
    /// Sent as `Authorization` (ECS `AWS_CONTAINER_AUTHORIZATION_TOKEN`); never logged.
    pub authorization: Option<String>,
    pub timeout_ms: u64,
    /// Longest time between two successful polls (credentials are refreshed
    /// earlier when they expire sooner).
    pub refresh_interval_ms: u64,
}

impl fmt::Debug for EndpointConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EndpointConfig")
            .field("cluster", &self.cluster)
            .field("authority", &self.authority)
            .field("path", &self.path)
            .field(
                "authorization",
                &self.authorization.as_ref().map(|_| "<redacted>"),
            )
            .field("timeout_ms", &self.timeout_ms)
            .field("refresh_interval_ms", &self.refresh_interval_ms)
            .finish()
    }
}

impl fmt::Debug for CredentialsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CredentialsConfig::Env => f.write_str("Env"),
            CredentialsConfig::Static(c) => f.debug_tuple("Static").field(c).finish(),
            CredentialsConfig::Endpoint(e) => f.debug_tuple("Endpoint").field(e).finish(),
        }
    }
}

/// Validated signing settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningConfig {
    pub region: String,
    pub service: String,
    pub endpoint: Option<String>,
    pub addressing_style: AddressingStyle,
    pub buckets: Vec<BucketMapping>,
    pub on_missing_credentials: MissingCredentials,
    pub credentials: CredentialsConfig,
    /// Only sign requests carrying a valid internal-redirect marker (flow A);
    /// false for a signing edge proxy (flow C).
    pub require_marker: bool,
    /// Keys taken from mapped prefixes obey the `redirect` section's limits.
    pub key_rules: crate::core::redirect::KeyRules,
}

/// Validated internal-redirect settings, shared by all roles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectConfig {
    pub internal_prefixes: Vec<String>,
    pub marker_header: String,
    pub marker_ttl_secs: u64,
    pub foreign_redirects: ForeignRedirects,
    pub key_rules: crate::core::redirect::KeyRules,
}

/// The validated configuration of one filter instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub role: Role,
    pub redirect: RedirectConfig,
    pub signing: Option<SigningConfig>,
    /// Header augmentation, when `augment_headers` is true.
    pub augment: Option<AugmentConfig>,
}

/// Environment lookup, injected so parsing stays pure and testable.
pub trait Env {
    fn var(&self, name: &str) -> Option<String>;
}

/// The process environment (inside Envoy: `vm_config.environment_variables`).
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.trim().is_empty())
    }
}

/// Reads one JSON object of the configuration: tracks the dotted field path
/// for error messages and refuses fields it does not know.
struct Reader<'a> {
    path: String,
    map: &'a Map<String, Value>,
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

fn invalid_type(field: &str, v: &Value, expected: &str) -> ConfigError {
    err(
        field,
        format!("invalid type: {}, expected {expected}", kind(v)),
    )
}

impl<'a> Reader<'a> {
    fn new(v: &'a Value, path: &str, known: &[&str]) -> Result<Reader<'a>, ConfigError> {
        let map = v
            .as_object()
            .ok_or_else(|| invalid_type(path, v, "an object"))?;
        if let Some(k) = map.keys().find(|k| !known.contains(&k.as_str())) {
            let expected: Vec<String> = known.iter().map(|k| format!("`{k}`")).collect();
            return Err(err(
                &join(path, k),
                format!(
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

    fn field(&self, key: &str) -> String {
        join(&self.path, key)
    }

    /// A present, non-null value.
    fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    fn string(&self, key: &str) -> Result<Option<String>, ConfigError> {
        self.get(key)
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| invalid_type(&self.field(key), v, "a string"))
            })
            .transpose()
    }

    fn boolean(&self, key: &str) -> Result<Option<bool>, ConfigError> {
        self.get(key)
            .map(|v| {
                v.as_bool()
                    .ok_or_else(|| invalid_type(&self.field(key), v, "a boolean"))
            })
            .transpose()
    }

    fn uint(&self, key: &str) -> Result<Option<usize>, ConfigError> {
        self.get(key)
            .map(|v| {
                v.as_u64()
                    .and_then(|n| usize::try_from(n).ok())
                    .ok_or_else(|| invalid_type(&self.field(key), v, "a whole number"))
            })
            .transpose()
    }

    fn choice<T: Copy>(&self, key: &str, variants: &[(&str, T)]) -> Result<Option<T>, ConfigError> {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        let names: Vec<String> = variants.iter().map(|(n, _)| format!("`{n}`")).collect();
        let text = v.as_str().ok_or_else(|| {
            invalid_type(&self.field(key), v, &format!("one of {}", names.join(", ")))
        })?;
        variants
            .iter()
            .find(|(n, _)| *n == text)
            .map(|(_, t)| Some(*t))
            .ok_or_else(|| {
                err(
                    &self.field(key),
                    format!(
                        "unknown variant `{text}`, expected one of {}",
                        names.join(", ")
                    ),
                )
            })
    }

    fn array(&self, key: &str, expected: &str) -> Result<Option<&'a Vec<Value>>, ConfigError> {
        self.get(key)
            .map(|v| {
                v.as_array()
                    .ok_or_else(|| invalid_type(&self.field(key), v, expected))
            })
            .transpose()
    }

    fn strings(&self, key: &str) -> Result<Option<Vec<String>>, ConfigError> {
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

    fn child(&self, key: &str, known: &[&str]) -> Result<Option<Reader<'a>>, ConfigError> {
        self.get(key)
            .map(|v| Reader::new(v, &self.field(key), known))
            .transpose()
    }

    fn required(&self, key: &str, value: Option<String>) -> Result<String, ConfigError> {
        value.ok_or_else(|| err(&self.field(key), "required"))
    }
}

const ROLES: [(&str, Role); 3] = [
    ("edge", Role::Edge),
    ("auth_backend", Role::AuthBackend),
    ("storage", Role::Storage),
];

fn read_config(v: &Value) -> Result<RawConfig, ConfigError> {
    let r = Reader::new(
        v,
        "",
        &[
            "role",
            "redirect",
            "signing",
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
        ],
    )?;
    let redirect = match r.child(
        "redirect",
        &[
            "internal_prefixes",
            "marker_header",
            "marker_ttl",
            "foreign_redirects",
            "max_key_length",
            "allow_empty_segments",
        ],
    )? {
        Some(rr) => read_redirect(&rr)?,
        None => RawRedirect::default(),
    };
    let signing = match r.child(
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
        ],
    )? {
        Some(sr) => Some(read_signing(&sr)?),
        None => None,
    };
    Ok(RawConfig {
        role: r.choice("role", &ROLES)?.unwrap_or_default(),
        redirect,
        signing,
        augment_headers: r.boolean("augment_headers")?.unwrap_or(false),
        header_providing_service_cluster: r.string("header_providing_service_cluster")?,
        header_providing_service_authority: r.string("header_providing_service_authority")?,
        header_providing_service_path: r.string("header_providing_service_path")?,
        header_providing_service_timeout: r.string("header_providing_service_timeout")?,
        header_cache_expiry: r.string("header_cache_expiry")?,
        header_max_staleness: r.string("header_max_staleness")?,
        header_backoff_cap: r.string("header_backoff_cap")?,
        header_max_body_bytes: r.uint("header_max_body_bytes")?,
        header_failure_policy: r
            .choice(
                "header_failure_policy",
                &[("pass", FailurePolicy::Pass), ("deny", FailurePolicy::Deny)],
            )?
            .unwrap_or_default(),
        header_injection: r
            .choice(
                "header_injection",
                &[
                    ("overwrite", Injection::Overwrite),
                    ("keep_existing", Injection::KeepExisting),
                ],
            )?
            .unwrap_or_default(),
    })
}

fn read_redirect(r: &Reader) -> Result<RawRedirect, ConfigError> {
    let d = RawRedirect::default();
    Ok(RawRedirect {
        internal_prefixes: r
            .strings("internal_prefixes")?
            .unwrap_or(d.internal_prefixes),
        marker_header: r.string("marker_header")?.unwrap_or(d.marker_header),
        marker_ttl: r.string("marker_ttl")?.unwrap_or(d.marker_ttl),
        foreign_redirects: r
            .choice(
                "foreign_redirects",
                &[
                    ("pass", ForeignRedirects::Pass),
                    ("reject", ForeignRedirects::Reject),
                ],
            )?
            .unwrap_or(d.foreign_redirects),
        max_key_length: r.uint("max_key_length")?.unwrap_or(d.max_key_length),
        allow_empty_segments: r
            .boolean("allow_empty_segments")?
            .unwrap_or(d.allow_empty_segments),
    })
}

fn read_signing(r: &Reader) -> Result<RawSigning, ConfigError> {
    let mut buckets = vec![];
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
        buckets.push(RawBucket {
            prefix: br.required("prefix", br.string("prefix")?)?,
            bucket: br.required("bucket", br.string("bucket")?)?,
            key_prefix: br.string("key_prefix")?.unwrap_or_default(),
        });
    }
    let credentials = match r.child(
        "credentials",
        &[
            "source",
            "access_key_id",
            "secret_access_key",
            "session_token",
            "cluster",
            "authority",
            "path",
            "authorization_token",
            "timeout",
            "refresh_interval",
        ],
    )? {
        None => RawCredentials::default(),
        Some(c) => RawCredentials {
            source: c
                .choice(
                    "source",
                    &[
                        ("env", CredentialSource::Env),
                        ("static", CredentialSource::Static),
                        ("endpoint", CredentialSource::Endpoint),
                    ],
                )?
                .unwrap_or_default(),
            access_key_id: c.string("access_key_id")?,
            secret_access_key: c.string("secret_access_key")?,
            session_token: c.string("session_token")?,
            cluster: c.string("cluster")?,
            authority: c.string("authority")?,
            path: c.string("path")?,
            authorization_token: c.string("authorization_token")?,
            timeout: c.string("timeout")?,
            refresh_interval: c.string("refresh_interval")?,
        },
    };
    Ok(RawSigning {
        region: r.string("region")?,
        service: r.string("service")?.unwrap_or_else(|| "s3".into()),
        endpoint: r.string("endpoint")?,
        addressing_style: r
            .choice(
                "addressing_style",
                &[
                    ("path", AddressingStyle::Path),
                    ("virtual", AddressingStyle::Virtual),
                ],
            )?
            .unwrap_or_default(),
        buckets,
        on_missing_credentials: r
            .choice(
                "on_missing_credentials",
                &[
                    ("deny", MissingCredentials::Deny),
                    ("pass", MissingCredentials::Pass),
                ],
            )?
            .unwrap_or_default(),
        credentials,
        require_marker: r.boolean("require_marker")?.unwrap_or(true),
    })
}

impl Config {
    /// Parses and validates the filter's JSON configuration. An empty
    /// configuration means defaults (role `edge`).
    pub fn parse(bytes: &[u8], env: &dyn Env) -> Result<Config, ConfigError> {
        let trimmed = bytes.iter().all(|b| b.is_ascii_whitespace());
        let value: Value = if trimmed {
            Value::Object(Map::new())
        } else {
            // serde_json's message ends with "at line L column C": keep it, it helps.
            serde_json::from_slice(bytes).map_err(|e| err("", format!("not valid JSON: {e}")))?
        };
        let raw = read_config(&value)?;
        let augment = validate_augment(&raw)?;
        let redirect = validate_redirect(raw.redirect)?;
        let signing = match raw.signing {
            Some(s) => Some(SigningConfig {
                key_rules: redirect.key_rules.clone(),
                ..validate_signing(s, env)?
            }),
            None => None,
        };
        if raw.role == Role::Storage && signing.is_none() {
            return Err(err("signing", "required when role is \"storage\""));
        }
        Ok(Config {
            role: raw.role,
            redirect,
            signing,
            augment,
        })
    }
}

/// A duration setting in milliseconds, from a string such as `"5s"`.
fn duration_ms(
    field: &str,
    value: Option<&str>,
    default: &str,
    max_ms: u64,
) -> Result<u64, ConfigError> {
    let text = value.unwrap_or(default);
    parse_duration(text)
        .map(|d| d.as_millis() as u64)
        .filter(|ms| (1..=max_ms).contains(ms))
        .ok_or_else(|| {
            err(
                field,
                format!(
                    "must be a duration such as \"{default}\" (ms, s, m, h), at most {}s",
                    max_ms / 1000
                ),
            )
        })
}

/// A request path for an out-of-band call.
fn checked_path(field: &str, path: String) -> Result<String, ConfigError> {
    if path.starts_with('/') && path.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(path)
    } else {
        Err(err(
            field,
            "must be a path starting with '/' (no spaces or control characters)",
        ))
    }
}

fn validate_augment(raw: &RawConfig) -> Result<Option<AugmentConfig>, ConfigError> {
    if !raw.augment_headers {
        return Ok(None);
    }
    let name = |field: &str, v: &Option<String>| -> Result<String, ConfigError> {
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
        .unwrap_or(crate::core::headers::DEFAULT_MAX_BODY);
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
    }))
}

fn non_empty(field: &str, value: Option<String>) -> Result<String, ConfigError> {
    match value {
        Some(v) if !v.trim().is_empty() => Ok(v),
        Some(_) => Err(err(field, "must not be empty")),
        None => Err(err(field, "required")),
    }
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A lowercase HTTP header name that is safe to use for the marker.
fn valid_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

fn validate_redirect(raw: RawRedirect) -> Result<RedirectConfig, ConfigError> {
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
            && crate::core::redirect::validate_key(&p[1..p.len() - 1], &Default::default()).is_ok();
        if !safe {
            return Err(err(
                &format!("redirect.internal_prefixes[{i}]"),
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
    Ok(RedirectConfig {
        internal_prefixes: raw.internal_prefixes,
        marker_header: raw.marker_header,
        marker_ttl_secs: ttl.as_secs(),
        foreign_redirects: raw.foreign_redirects,
        key_rules: crate::core::redirect::KeyRules {
            max_key_length: raw.max_key_length,
            allow_empty_segments: raw.allow_empty_segments,
        },
    })
}

fn validate_signing(raw: RawSigning, env: &dyn Env) -> Result<SigningConfig, ConfigError> {
    let region = match raw.region {
        Some(r) => r,
        None => env.var("AWS_REGION").ok_or_else(|| {
            err(
                "signing.region",
                "required (or pass AWS_REGION with vm_config.environment_variables)",
            )
        })?,
    };
    if !is_token(&region) {
        return Err(err(
            "signing.region",
            "must be a region name such as \"us-east-1\"",
        ));
    }
    if !is_token(&raw.service) {
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
    let mut buckets = Vec::with_capacity(raw.buckets.len());
    for (i, b) in raw.buckets.into_iter().enumerate() {
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
        if b.key_prefix.starts_with('/') || b.key_prefix.contains("..") {
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
    let c = &raw.credentials;
    let inline_keys =
        c.access_key_id.is_some() || c.secret_access_key.is_some() || c.session_token.is_some();
    let endpoint_keys = c.cluster.is_some()
        || c.authority.is_some()
        || c.path.is_some()
        || c.authorization_token.is_some()
        || c.timeout.is_some()
        || c.refresh_interval.is_some();
    if inline_keys && c.source != CredentialSource::Static {
        return Err(err(
            "signing.credentials.source",
            "inline keys are only read with source \"static\"",
        ));
    }
    if endpoint_keys && c.source != CredentialSource::Endpoint {
        return Err(err(
            "signing.credentials.source",
            "cluster, authority, path, authorization_token, timeout and refresh_interval are only read with source \"endpoint\"",
        ));
    }
    let credentials = match raw.credentials.source {
        CredentialSource::Env => CredentialsConfig::Env,
        CredentialSource::Endpoint => {
            let c = raw.credentials;
            let cluster = non_empty("signing.credentials.cluster", c.cluster)?;
            let path = match c.path {
                Some(p) => p,
                None => env
                    .var("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
                    .ok_or_else(|| {
                        err(
                            "signing.credentials.path",
                            "required (or pass AWS_CONTAINER_CREDENTIALS_RELATIVE_URI with vm_config.environment_variables)",
                        )
                    })?,
            };
            CredentialsConfig::Endpoint(EndpointConfig {
                authority: c.authority.unwrap_or_else(|| cluster.clone()),
                cluster,
                path: checked_path("signing.credentials.path", path)?,
                authorization: c
                    .authorization_token
                    .or_else(|| env.var("AWS_CONTAINER_AUTHORIZATION_TOKEN")),
                timeout_ms: duration_ms(
                    "signing.credentials.timeout",
                    c.timeout.as_deref(),
                    "5s",
                    60_000,
                )?,
                refresh_interval_ms: duration_ms(
                    "signing.credentials.refresh_interval",
                    c.refresh_interval.as_deref(),
                    "15m",
                    86_400_000,
                )?,
            })
        }
        CredentialSource::Static => {
            let c = raw.credentials;
            CredentialsConfig::Static(crate::core::sigv4::Credentials {
                access_key_id: non_empty("signing.credentials.access_key_id", c.access_key_id)?,
                secret_access_key: non_empty(
                    "signing.credentials.secret_access_key",
                    c.secret_access_key,
                )?,
                session_token: c.session_token.filter(|t| !t.is_empty()),
            })
        }
    };
    Ok(SigningConfig {
        region,
        service: raw.service,
        endpoint: raw.endpoint,
        addressing_style: raw.addressing_style,
        buckets,
        on_missing_credentials: raw.on_missing_credentials,
        credentials,
        require_marker: raw.require_marker,
        key_rules: Default::default(),
    })
}

/// S3 bucket naming rules (the subset that matters for safe host and path building).
pub fn valid_bucket_name(name: &str) -> bool {
    (3..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && name
            .as_bytes()
            .first()
            .is_some_and(|b| b.is_ascii_alphanumeric())
        && name
            .as_bytes()
            .last()
            .is_some_and(|b| b.is_ascii_alphanumeric())
        && !name.contains("..")
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

/// A fixed environment, for the unit tests of every module.
#[cfg(test)]
pub(crate) struct MapEnv(pub Vec<(&'static str, &'static str)>);

#[cfg(test)]
impl Env for MapEnv {
    fn var(&self, name: &str) -> Option<String> {
        self.0
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Config, ConfigError> {
        Config::parse(s.as_bytes(), &MapEnv(vec![]))
    }

    #[test]
    fn empty_config_is_edge_role() {
        let c = parse("").unwrap();
        assert_eq!(c.role, Role::Edge);
        assert!(c.signing.is_none());
        assert_eq!(parse("{}").unwrap(), c);
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
                "signing.credentials.source",
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
                "signing.credentials.source",
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
    fn trailing_garbage_is_an_error() {
        assert!(parse("{} x").is_err());
        assert!(parse("[").is_err());
    }

    #[test]
    fn secrets_not_in_debug() {
        let c = parse(
            r#"{"signing":{"region":"r","credentials":{"source":"static","access_key_id":"AK","secret_access_key":"TOPSECRET"}}}"#,
        )
        .unwrap();
        assert!(!format!("{c:?}").contains("TOPSECRET"));
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
    fn bucket_names() {
        assert!(valid_bucket_name("assets"));
        assert!(valid_bucket_name("my.bucket-1"));
        assert!(!valid_bucket_name("ab"));
        assert!(!valid_bucket_name("-ab"));
        assert!(!valid_bucket_name("a..b"));
        assert!(!valid_bucket_name("Upper"));
    }
}
