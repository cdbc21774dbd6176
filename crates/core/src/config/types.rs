//! The validated configuration: what every other module reads. Leaf of
//! `config` (it imports nothing from its siblings), so that the section
//! files can use these types without an import circle.

use std::fmt;

/// A configuration error with the dotted path of the offending field, so the
/// single log line Envoy prints tells the operator exactly what to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub field: String,
    pub reason: String,
    /// The document the field is in, when there are two (the shared
    /// `vm_config.configuration` or the placement's own `configuration`);
    /// empty with one document, or when the reason names both.
    pub document: &'static str,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid asset-gate configuration: ")?;
        if !self.document.is_empty() {
            write!(f, "{}: ", self.document)?;
        }
        if self.field.is_empty() || self.field == "." {
            f.write_str(&self.reason)
        } else {
            write!(f, "field `{}`: {}", self.field, self.reason)
        }
    }
}

/// Where this instance sits in Envoy decides what it does: one module, up to three placements.
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
    /// Credentials, `x-envoy-*` and `x-amz-*` names the provider may set
    /// (`header_allow_sensitive`); any other such name refuses its answer.
    pub allow_sensitive: Vec<String>,
}

/// A bucket mapping: requests under `prefix` go to `bucket`, key = `key_prefix` + rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketMapping {
    pub prefix: String,
    pub bucket: String,
    pub key_prefix: String,
}

/// How credentials are obtained, resolved at configure time
/// (docs/configuration.md lists every source's keys).
#[derive(Clone, PartialEq, Eq)]
pub enum CredentialsConfig {
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN` passed
    /// with `vm_config.environment_variables`.
    Env,
    /// Inline in this configuration.
    Static(crate::sigv4::Credentials),
    /// A container-credentials endpoint (ECS relative URI, or a full URI as
    /// EKS Pod Identity and ECS Anywhere use) through an Envoy cluster.
    Endpoint(EndpointConfig),
    /// The EC2 instance metadata service (IMDSv2).
    Imds(ImdsConfig),
    /// STS `AssumeRole`, signed by asset-gate with credentials from `base`.
    AssumeRole(Box<AssumeRoleConfig>),
    /// STS `AssumeRoleWithWebIdentity` (EKS IRSA).
    WebIdentity(WebIdentityConfig),
    /// The first of these that yields credentials, tried in order at every refresh.
    Chain(Vec<CredentialsConfig>),
}

/// Where a token (a web identity token, a Pod Identity authorization token)
/// comes from: the module has no filesystem, so a file is served to it.
#[derive(Clone, PartialEq, Eq)]
pub enum TokenSource {
    Inline(String),
    Endpoint(TokenEndpoint),
}

/// An Envoy cluster answering the token as its body (e.g. a sidecar serving
/// the projected service-account token file); read before every use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenEndpoint {
    pub cluster: String,
    pub authority: String,
    pub path: String,
    pub timeout_ms: u64,
}

/// EC2 instance metadata (IMDSv2) settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImdsConfig {
    pub cluster: String,
    pub authority: String,
    pub timeout_ms: u64,
    pub refresh_interval_ms: u64,
    /// Lifetime asked for the session token (1 s to 6 h).
    pub token_ttl_secs: u64,
    /// Fall back to IMDSv1 (no token) when the token request fails.
    pub v1_fallback: bool,
    /// The instance role, when known: skips the role listing.
    pub role: Option<String>,
}

/// What every STS call needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StsConfig {
    pub cluster: String,
    pub authority: String,
    pub region: String,
    pub role_arn: String,
    pub session_name: String,
    pub duration_secs: u64,
    pub timeout_ms: u64,
}

/// STS `AssumeRole` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssumeRoleConfig {
    pub sts: StsConfig,
    pub external_id: Option<String>,
    pub base: CredentialsConfig,
    pub refresh_interval_ms: u64,
}

/// STS `AssumeRoleWithWebIdentity` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebIdentityConfig {
    pub sts: StsConfig,
    pub token: TokenSource,
    pub refresh_interval_ms: u64,
}

impl CredentialsConfig {
    /// The longest time between two refreshes of a polled source.
    pub fn refresh_interval_ms(&self) -> u64 {
        match self {
            CredentialsConfig::Env | CredentialsConfig::Static(_) => 0,
            CredentialsConfig::Endpoint(e) => e.refresh_interval_ms,
            CredentialsConfig::Imds(i) => i.refresh_interval_ms,
            CredentialsConfig::AssumeRole(a) => a.refresh_interval_ms,
            CredentialsConfig::WebIdentity(w) => w.refresh_interval_ms,
            CredentialsConfig::Chain(c) => c
                .iter()
                .map(CredentialsConfig::refresh_interval_ms)
                .filter(|ms| *ms > 0)
                .min()
                .unwrap_or(0),
        }
    }
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
    /// Where the `Authorization` token is read before each call instead
    /// (EKS Pod Identity's token file, served by a sidecar).
    pub token_endpoint: Option<TokenEndpoint>,
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
            .field("token_endpoint", &self.token_endpoint)
            .field("timeout_ms", &self.timeout_ms)
            .field("refresh_interval_ms", &self.refresh_interval_ms)
            .finish()
    }
}

impl fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenSource::Inline(_) => f.write_str("Inline(<redacted>)"),
            TokenSource::Endpoint(e) => f.debug_tuple("Endpoint").field(e).finish(),
        }
    }
}

impl fmt::Debug for CredentialsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CredentialsConfig::Env => f.write_str("Env"),
            CredentialsConfig::Static(c) => f.debug_tuple("Static").field(c).finish(),
            CredentialsConfig::Endpoint(e) => f.debug_tuple("Endpoint").field(e).finish(),
            CredentialsConfig::Imds(i) => f.debug_tuple("Imds").field(i).finish(),
            CredentialsConfig::AssumeRole(a) => f.debug_tuple("AssumeRole").field(a).finish(),
            CredentialsConfig::WebIdentity(w) => f.debug_tuple("WebIdentity").field(w).finish(),
            CredentialsConfig::Chain(c) => f.debug_tuple("Chain").field(c).finish(),
        }
    }
}

/// Validated signing settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningConfig {
    pub region: String,
    pub service: String,
    /// How `service` canonicalises paths, decided once (S3 signs a path as
    /// stored, other services normalise it).
    pub path_rules: crate::sigv4::PathRules,
    /// The host sent to storage and signed: `signing.endpoint`, or for S3
    /// the region's AWS endpoint; never the client's `:authority`.
    pub endpoint: String,
    pub addressing_style: AddressingStyle,
    pub buckets: Vec<BucketMapping>,
    pub on_missing_credentials: MissingCredentials,
    pub credentials: CredentialsConfig,
    /// Identifies the credentials settings (a digest, never the secrets):
    /// placements with equal ones share one refresh per Envoy process.
    pub credentials_id: String,
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
    /// Storage's `x-amz-*` response headers a consented answer keeps (the
    /// others go: `x-amz-meta-*` is the uploader's).
    pub expose_amz_headers: Vec<String>,
    /// How request bodies are signed (`Stream` for S3 by default, `Hash`
    /// for every other service).
    pub body: BodySigning,
    /// The largest body `Hash` buffers; over it the request gets 413.
    pub max_body_bytes: usize,
    /// What this signer may sign (flow C); open by default.
    pub scope: crate::signing::scope::SignScope,
    /// Keys taken from mapped prefixes obey the `redirect` section's limits.
    pub key_rules: crate::internal_redirect::target::KeyRules,
}

/// Validated internal-redirect settings, shared by all roles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectConfig {
    pub internal_prefixes: Vec<String>,
    pub marker_header: String,
    pub marker_ttl_secs: u64,
    pub foreign_redirects: ForeignRedirects,
    pub key_rules: crate::internal_redirect::target::KeyRules,
    /// Authorities besides the client's whose 307s to an internal prefix are
    /// internal redirects (e.g. the backend's own `host:port`).
    pub internal_authorities: Vec<String>,
    /// The backend's response headers that reach the client on the storage
    /// answer (nginx's X-Accel-Redirect rule by default).
    pub keep_backend_headers: Vec<String>,
    /// Bound on the kept headers, which travel inside the marker.
    pub max_kept_bytes: usize,
    /// What a read consent's query may carry to storage.
    pub read_query: crate::internal_redirect::target::ReadQuery,
    /// Which backend answers consent.
    pub consent: crate::internal_redirect::target::ConsentBy,
    /// The placement markers are issued for and accepted at (empty: any
    /// placement of the same `vm_id`).
    pub marker_audience: String,
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
