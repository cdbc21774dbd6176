//! The top level of the configuration: the role, the sections, and the
//! checks that span sections (which sections a role reads, and what the
//! marker header may not be).

use super::augment::{self, RawAugment};
use super::gateway::{self, RawGateway};
use super::redirect::{self, RawRedirect};
use super::signing::{self, RawSigning};
use super::types::{Config, Env, Role, SigningConfig};
use super::values::{self, err, err_at, key, Failed, Fallback as F, Key, Kind as K, Reader};

/// The top-level keys besides the flat flow B ones (`augment::KEYS`).
#[rustfmt::skip]
pub(super) const KEYS: &[Key] = &[
    key("role", K::Choice(&["edge", "auth_backend", "storage", "gateway"]), F::Str("edge"), "what this instance does"),
    key("redirect", K::Object, F::Derived("the defaults below"), "internal redirects (every role)"),
    key("signing", K::Object, F::Derived("none; required for `storage` and `gateway`"), "how to sign requests to storage"),
    key("gateway", K::Object, F::Derived("none; read only with role `gateway`"), "the auth subrequest gateway (flow D)"),
];

const NAMES: [&str; values::count(&[KEYS, augment::KEYS])] = values::names(&[KEYS, augment::KEYS]);

/// The whole configuration as written, defaults filled in, not yet validated.
#[derive(Debug, Clone, Default)]
pub(super) struct RawConfig {
    role: Role,
    gateway: Option<RawGateway>,
    redirect: RawRedirect,
    signing: Option<RawSigning>,
    augment: RawAugment,
}

/// Reads the configuration's bytes (empty means `{}`) into raw settings,
/// refusing unknown fields and wrong types with the dotted field path.
pub(super) fn read(bytes: &[u8]) -> Result<RawConfig, Failed> {
    let value = values::document(bytes)?;
    let mut c = RawConfig::default();
    read_into(&value, &mut c)?;
    Ok(c)
}

// The `read` functions fill, field by field, a value with defaults that
// their caller owns, instead of building a struct literal: every `?` inside a
// literal (or with an owned local) drops the fields read so far, and with a
// dozen owned fields those drops cost kilobytes of module size. On an error
// the caller drops the half-filled value once. Fields are read in the order
// the struct literals used, so a configuration with several mistakes still
// reports the same first one.
fn read_into(v: &crate::primitives::json::Value, c: &mut RawConfig) -> Result<(), Failed> {
    let r = Reader::new(v, "", &NAMES)?;
    if let Some(rr) = r.child("redirect", &redirect::NAMES)? {
        redirect::read(&rr, &mut c.redirect)?;
    }
    signing::read(&r, &mut c.signing)?;
    gateway::read(&r, &mut c.gateway)?;
    c.role = r
        .choice(
            "role",
            const { values::choices(KEYS, "role") },
            &[Role::Edge, Role::AuthBackend, Role::Storage, Role::Gateway],
        )?
        .unwrap_or_default();
    augment::read(&r, &mut c.augment)
}

/// The validated configuration, from the raw settings.
///
/// Validation borrows the raw settings mutably and takes the values it keeps
/// out of them: what is left is dropped once, by the caller, instead of at each
/// of the many early returns (module size).
pub(super) fn validate(raw: &mut RawConfig, env: &dyn Env) -> Result<Config, Failed> {
    let augment = augment::validate(&raw.augment)?;
    let redirect = redirect::validate(&mut raw.redirect)?;
    let signing = match &mut raw.signing {
        Some(s) => Some(SigningConfig {
            key_rules: redirect.key_rules.clone(),
            ..signing::validate(s, env)?
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
            let Some(s) = &signing else {
                return Err(err("signing", "required when role is \"gateway\""));
            };
            // Provider headers would be injected into the storage request.
            if augment.is_some() {
                return Err(err("augment_headers", "not read with role \"gateway\""));
            }
            Some(gateway::validate(g.unwrap_or_default(), s)?)
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
