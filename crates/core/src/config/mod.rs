//! Filter configuration: parsed once in `on_configure`, validated completely,
//! so that a mistake fails loudly at load time instead of per request.
//!
//! One file per section reads and validates it, each declaring its keys once
//! (`KEYS`: name, kind and bounds, default, one-line doc): `role` (the top
//! level and the checks across sections), `redirect`, `signing`,
//! `credentials`, `gateway`, and `augment` (the flat `header_*` keys). They
//! build on `values` (errors, declarations, the JSON reader, durations) and
//! `types` (the validated configuration), which import none of them.
//! `shared` holds the rules that layer the VM configuration's shared
//! settings under a placement's own; the reader (`values`) reads a key the
//! placement leaves out from them, and refuses a key stated in both.
//! `docs/configuration.md` is the reference page; a test keeps it and the
//! declarations in agreement.

mod augment;
mod credentials;
mod gateway;
mod redirect;
mod role;
mod shared;
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
        Config::parse_layered(b"", bytes, env)
    }

    /// Parses the shared settings of the VM configuration (`vm`) and one
    /// placement's configuration (`placement`) into that placement's
    /// configuration: each key of a section from the one document that
    /// states it (`shared`). An empty `vm`, or one that states nothing, is `parse`.
    /// An error says which document its field is in when there are two.
    pub fn parse_layered(
        vm: &[u8],
        placement: &[u8],
        env: &dyn Env,
    ) -> Result<Config, ConfigError> {
        layered(vm, placement, env).map_err(|e| *e)
    }
}

/// `parse_layered`, its errors boxed until the one place they are unboxed.
fn layered(vm: &[u8], placement: &[u8], env: &dyn Env) -> Result<Config, values::Failed> {
    let in_vm = |e: values::Failed| e.within(shared::VM);
    let shared_doc = values::document(vm).map_err(in_vm)?;
    role::known(&shared_doc).map_err(in_vm)?;
    let vm_states = shared::Sections::stated(&shared_doc);
    let own = if vm_states.is_empty() {
        ""
    } else {
        shared::PLACEMENT
    };
    let doc = values::document(placement).map_err(|e: values::Failed| e.within(own))?;
    shared::check(vm_states)?;
    // A section partly in each document is the placement's.
    let from_vm = vm_states.without(shared::Sections::stated(&doc));
    // Each error's field says which document its key is in.
    let found = |e: values::Failed| {
        let document = shared::origin(&e.field, &shared_doc, &doc, from_vm, own);
        e.within(document)
    };
    let mut raw = role::read(&doc, &shared_doc).map_err(found)?;
    role::validate(&mut raw, env, from_vm).map_err(found)
}
