//! Filter configuration: parsed once in `on_configure`, validated completely,
//! so that a mistake fails loudly at load time instead of per request.
//!
//! One file per section reads and validates it, each declaring its keys once
//! (`KEYS`: name, kind and bounds, default, one-line doc): `role` (the top
//! level and the checks across sections), `redirect`, `signing`,
//! `credentials`, `gateway`, and `augment` (the flat `header_*` keys). They
//! build on `values` (errors, declarations, the JSON reader, durations) and
//! `types` (the validated configuration), which import none of them.
//! `docs/configuration.md` is the reference page; a test keeps it and the
//! declarations in agreement.

mod augment;
mod credentials;
mod gateway;
mod redirect;
mod role;
mod signing;
mod types;
mod values;

#[cfg(test)]
mod tests;

pub use crate::primitives::syntax::{valid_bucket_name, valid_role_name};
pub use credentials::full_uri_parts;
#[cfg(test)]
pub(crate) use types::MapEnv;
pub use types::{
    AddressingStyle, AssumeRoleConfig, AugmentConfig, BodySigning, BucketMapping, Config,
    ConfigError, CredentialsConfig, DecisionCacheConfig, EndpointConfig, Env, FailurePolicy,
    ForeignRedirects, GatewayConfig, ImdsConfig, Injection, MissingCredentials, PresignConfig,
    ProcessEnv, RedirectConfig, Role, SigningConfig, StsConfig, TokenEndpoint, TokenSource,
    WebIdentityConfig,
};
pub use values::parse_duration;

impl Config {
    /// Parses and validates the filter's JSON configuration. An empty
    /// configuration means defaults (role `edge`). The reader checks shape
    /// and types (every error names its field), then validation checks values.
    pub fn parse(bytes: &[u8], env: &dyn Env) -> Result<Config, ConfigError> {
        let mut raw = role::read(bytes).map_err(|e| *e)?;
        role::validate(&mut raw, env).map_err(|e| *e)
    }
}
