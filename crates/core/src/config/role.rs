//! The top level of the configuration: the role, the sections, and the
//! checks that span sections (which sections a role reads, what the marker
//! header may not be, and that bucket mappings and internal prefixes agree).

use super::augment::{self, RawAugment};
use super::gateway::{self, RawGateway};
use super::redirect::{self, RawRedirect};
use super::shared::{Sections, AUGMENT, GATEWAY, REDIRECT, SIGNING};
use super::signing::{self, RawSigning};
use super::types::{Config, Env, RedirectConfig, Role, SigningConfig};
use super::values::{self, err, err_at, key, Failed, Fallback as F, Key, Kind as K, Reader};
use crate::primitives::json::Value;

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

/// Checks that a document is an object of known top-level keys.
pub(super) fn known(doc: &Value) -> Result<(), Failed> {
    Reader::new(doc, "", &NAMES).map(drop)
}

/// Reads a placement's document (empty bytes are `{}`) into raw settings,
/// refusing unknown fields and wrong types with the dotted field path; a key
/// it leaves out, at the top level or in a section, is read from the shared
/// settings `vm` (whose top-level keys `known` accepted), and a key both
/// state is refused.
pub(super) fn read(doc: &Value, vm: &Value) -> Result<RawConfig, Failed> {
    let mut c = RawConfig::default();
    read_into(&Reader::new(doc, "", &NAMES)?.over(vm.as_object()), &mut c)?;
    Ok(c)
}

/// The sections each role reads, in `Role` order (`redirect`: every role).
const READS: [u8; 4] = [
    REDIRECT | AUGMENT,
    REDIRECT | AUGMENT,
    REDIRECT | SIGNING,
    REDIRECT | SIGNING | GATEWAY,
];

// The `read` functions fill, field by field, a value with defaults that
// their caller owns, instead of building a struct literal: every `?` inside a
// literal (or with an owned local) drops the fields read so far, and with a
// dozen owned fields those drops cost kilobytes of module size. On an error
// the caller drops the half-filled value once. Fields are read in the order
// the struct literals used, so a configuration with several mistakes still
// reports the same first one.
fn read_into(r: &Reader, c: &mut RawConfig) -> Result<(), Failed> {
    if let Some(rr) = r.child("redirect", &redirect::NAMES)? {
        redirect::read(&rr, &mut c.redirect)?;
    }
    signing::read(r, &mut c.signing)?;
    gateway::read(r, &mut c.gateway)?;
    c.role = r
        .choice(
            "role",
            const { values::choices(KEYS, "role") },
            &[Role::Edge, Role::AuthBackend, Role::Storage, Role::Gateway],
        )?
        .unwrap_or_default();
    augment::read(r, &mut c.augment)
}

/// The validated configuration, from the raw settings.
///
/// Validation borrows the raw settings mutably and takes the values it keeps
/// out of them: what is left is dropped once, by the caller, instead of at each
/// of the many early returns (module size).
///
/// A section wholly in the shared settings (`from_vm`) is validated whatever
/// the role, so a mistake in it fails every placement at load; a role that does
/// not read it then leaves it out (the edge starts no credentials poller for
/// a shared `signing`). A section a placement's own configuration states,
/// even in part, is refused where the role cannot use it, as it always was.
pub(super) fn validate(
    raw: &mut RawConfig,
    env: &dyn Env,
    from_vm: Sections,
) -> Result<Config, Failed> {
    let role = raw.role;
    let unused = |bit| from_vm.has(bit & !READS[role as usize]);
    let mut augment = augment::validate(&raw.augment)?;
    if unused(AUGMENT) {
        augment = None;
    }
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
    let g = raw.gateway.take();
    if role == Role::Gateway {
        if signing.is_none() {
            return Err(err("signing", "required when role is \"gateway\""));
        }
        // Provider headers would be injected into the storage request.
        if augment.is_some() {
            return Err(err("augment_headers", "not read with role \"gateway\""));
        }
    } else if g.is_some() && !unused(GATEWAY) {
        return Err(err("gateway", "only read when role is \"gateway\""));
    }
    // One call (module size): the gateway's settings, or shared ones checked.
    let gateway = match role == Role::Gateway || g.is_some() {
        true => Some(gateway::validate(g.unwrap_or_default(), signing.as_ref())?),
        false => None,
    }
    .filter(|_| !unused(GATEWAY));
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
        prefixes_agree(role, &redirect, s, raw.redirect.prefixes_stated)?;
    }
    Ok(Config {
        role,
        redirect,
        signing: if unused(SIGNING) { None } else { signing },
        augment,
        gateway,
    })
}

/// The internal prefixes and the bucket mappings name the same paths twice.
/// A marked request (flow A) or a consent (flow D) reaches storage only
/// under an internal prefix, so a mapping no internal prefix overlaps is
/// never used. The gateway judges and maps in one place: there an internal
/// prefix no mapping covers would answer every consent under it with `404`.
/// (A storage placement may map only some internal prefixes: another
/// storage cluster can serve the others.) A storage placement is checked
/// only when its internal prefixes are stated, not defaulted: it does not
/// read them, the auth backend's placement does.
fn prefixes_agree(
    role: Role,
    redirect: &RedirectConfig,
    s: &SigningConfig,
    stated: bool,
) -> Result<(), Failed> {
    let gateway = role == Role::Gateway;
    if s.buckets.is_empty() || !(gateway || role == Role::Storage && s.require_marker && stated) {
        return Ok(());
    }
    let internal = &redirect.internal_prefixes;
    let under = |a: &String, b: &String| a.starts_with(b.as_str());
    if let Some(i) = s.buckets.iter().position(|m| {
        !internal
            .iter()
            .any(|p| under(p, &m.prefix) || under(&m.prefix, p))
    }) {
        return Err(err_at(
            "signing.buckets",
            i,
            "prefix under none of redirect.internal_prefixes: unreachable",
        ));
    }
    match internal
        .iter()
        .position(|p| !s.buckets.iter().any(|m| under(p, &m.prefix)))
    {
        Some(i) if gateway => Err(err_at(
            "redirect.internal_prefixes",
            i,
            "under no signing.buckets prefix: its consents would get 404",
        )),
        _ => Ok(()),
    }
}
