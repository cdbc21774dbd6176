//! Filter configuration: parsed once in `on_configure`, validated completely,
//! so that a mistake fails loudly at load time instead of per request.
//!
//! This module holds the validated types; `reader` turns JSON into raw
//! settings (errors carry the dotted field path), `validate` checks them.

use std::fmt;

mod reader;
mod validate;

pub use validate::{parse_duration, valid_bucket_name};

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
    /// Downstream HTTP filter on a listener routed to storage (flow D): asks
    /// the auth backend out of band, then signs and streams to storage, or
    /// answers a presigned redirect.
    Gateway,
}

/// S3 addressing: path-style `/bucket/key` or virtual-hosted `bucket.host/key`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AddressingStyle {
    #[default]
    Path,
    Virtual,
}

/// How a request body is signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodySigning {
    /// Streamed, signed as `UNSIGNED-PAYLOAD` (S3 only; never buffered).
    Stream,
    /// Buffered up to `max_body_bytes` and signed with its SHA-256 (what
    /// every AWS service but S3 requires; optional for S3).
    Hash,
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
    /// Client request headers a consent forwards to storage: the range and
    /// conditional headers, plus the operator's `forward_request_headers`.
    /// Used only when `require_marker` is on (flow A).
    pub forwarded_request_headers: Vec<String>,
    /// Storage response headers that never reach the client.
    pub hide_response_headers: Vec<String>,
    /// Storage error bodies (S3 XML naming bucket and key) become a short
    /// plain-text error with the same status.
    pub plain_errors: bool,
    /// How request bodies are signed (`Stream` for S3 by default, `Hash`
    /// for every other service).
    pub body: BodySigning,
    /// The largest body `Hash` buffers; over it the request gets 413.
    pub max_body_bytes: usize,
    /// What this signer may sign (flow C); open by default.
    pub scope: crate::core::scope::SignScope,
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
    /// Authorities besides the client's whose 307s to an internal prefix are
    /// internal redirects (e.g. the backend's own `host:port`).
    pub internal_authorities: Vec<String>,
    /// The backend's response headers that reach the client on the storage
    /// answer (nginx's X-Accel-Redirect rule by default).
    pub keep_backend_headers: Vec<String>,
    /// Bound on the kept headers, which travel inside the marker.
    pub max_kept_bytes: usize,
}

/// Presigned redirects (flow D): the client gets a redirect to a SigV4
/// query-signed storage URL instead of the bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresignConfig {
    /// `scheme://host[:port]` clients reach storage at; the host is signed.
    pub base_url: String,
    pub expires_secs: u64,
    /// Presign every consent, not only answers that ask (`X-Accel-Presign`).
    pub always: bool,
}

/// The decision cache (flow D), opted into per answer by the backend's
/// `Cache-Control: private, max-age=N`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionCacheConfig {
    /// Upper bound on the backend's max-age; 0 disables the cache.
    pub max_age_secs: u64,
    pub max_entries: usize,
    /// Whether write consents (PUT, DELETE, multipart) may be cached.
    pub writes: bool,
}

/// Validated gateway settings (flow D, nginx `auth_request` style).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayConfig {
    pub auth_cluster: String,
    pub auth_authority: String,
    pub auth_timeout_ms: u64,
    /// Client request headers the subrequest carries (credentials).
    pub forward_headers: Vec<String>,
    pub presign: Option<PresignConfig>,
    pub decision_cache: DecisionCacheConfig,
}

/// The validated configuration of one filter instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub role: Role,
    pub redirect: RedirectConfig,
    pub signing: Option<SigningConfig>,
    /// Header augmentation, when `augment_headers` is true.
    pub augment: Option<AugmentConfig>,
    /// Flow D, when role is `gateway`.
    pub gateway: Option<GatewayConfig>,
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

impl Config {
    /// Parses and validates the filter's JSON configuration. An empty
    /// configuration means defaults (role `edge`). The reader checks shape
    /// and types (every error names its field), then validation checks values.
    pub fn parse(bytes: &[u8], env: &dyn Env) -> Result<Config, ConfigError> {
        validate::validate(reader::read(bytes)?, env)
    }
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
    fn secrets_not_in_debug() {
        let c = parse(
            r#"{"signing":{"region":"r","credentials":{"source":"static","access_key_id":"AK","secret_access_key":"TOPSECRET"}}}"#,
        )
        .unwrap();
        assert!(!format!("{c:?}").contains("TOPSECRET"));
    }
}
