//! Shared settings: the VM configuration (`vm_config.configuration`) states
//! once what every placement of a deployment shares (the internal prefixes,
//! the bucket, the region, the credentials); each placement's own
//! `configuration` names its role and what only it needs. Within a section
//! (and among the flat flow B keys) each key comes from one document or the
//! other, never both: no silent override. A placement can add to a shared
//! section (`signing.scope` to a shared region, endpoint and credentials).

use super::types::ConfigError;
use super::values::{err, Failed};
use crate::primitives::json::Value;

/// The shared document, as Envoy's configuration names it (error prefix).
pub(super) const VM: &str = "vm_config.configuration";
/// The placement's own document, beside `vm_config` in the plugin's config.
pub(super) const PLACEMENT: &str = "configuration";

/// The top-level sections a document states, one bit each; the flat flow B
/// keys (`augment_headers`, `header_*`) are one section.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Sections(pub(super) u8);

pub(super) const ROLE: u8 = 1;
pub(super) const REDIRECT: u8 = 2;
pub(super) const SIGNING: u8 = 4;
pub(super) const GATEWAY: u8 = 8;
pub(super) const AUGMENT: u8 = 16;

impl Sections {
    /// The sections `doc` states (a key given as `null` is left out).
    pub(super) fn stated(doc: &Value) -> Sections {
        Sections(stated(doc).fold(0, |bits, (k, _)| bits | section(k)))
    }

    /// The sections stated here and not in `other`.
    pub(super) fn without(self, other: Sections) -> Sections {
        Sections(self.0 & !other.0)
    }

    pub(super) fn has(self, bit: u8) -> bool {
        self.0 & bit != 0
    }

    pub(super) fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// The keys of the object `doc` that have a value (`null` is a key left out).
fn stated(doc: &Value) -> impl Iterator<Item = (&String, &Value)> {
    let entries = doc.as_object().into_iter().flat_map(|m| m.iter());
    entries.filter(|(_, v)| !v.is_null())
}

/// The value of `name` in the object `doc`, unless left out.
fn at<'v>(doc: &'v Value, name: &str) -> Option<&'v Value> {
    doc.get(name).filter(|v| !v.is_null())
}

/// The section of a field path (`signing.buckets[0].prefix` is `signing`),
/// none for the document itself. Only paths that start with a known key
/// are asked about, and the first letter tells those apart.
pub(super) fn section(field: &str) -> u8 {
    match field.as_bytes().first() {
        Some(b'r') if field.starts_with("redirect") => REDIRECT,
        Some(b'r') => ROLE,
        Some(b's') => SIGNING,
        Some(b'g') => GATEWAY,
        Some(b'a' | b'h') => AUGMENT,
        _ => 0,
    }
}

/// `role` is each placement's own: the shared settings may not state it.
pub(super) fn check(vm: Sections) -> Result<(), Failed> {
    match vm.has(ROLE) {
        true => Err(err("role", "is each placement's own").within(VM)),
        false => Ok(()),
    }
}

/// The document of the key a field path names (`signing.buckets` for
/// `signing.buckets[0].prefix`, `header_allow_sensitive` for
/// `header_allow_sensitive[0]`): the one that states it, or when neither
/// does, that of its section (the VM configuration's for the sections
/// `only_vm`, the placement's, `own`, for the others). A key both state is
/// in neither: its error says so.
pub(super) fn origin(
    field: &str,
    vm: &Value,
    placement: &Value,
    only_vm: Sections,
    own: &'static str,
) -> &'static str {
    match (states(vm, field), states(placement, field)) {
        (true, true) => "",
        (true, false) => VM,
        (false, false) if only_vm.has(section(field)) => VM,
        _ => own,
    }
}

/// Whether `doc` states the key `field` names.
#[inline(never)]
fn states(doc: &Value, field: &str) -> bool {
    let (mut v, mut path) = (doc, field);
    for _ in 0..2 {
        let (name, rest) = head(path);
        match at(v, name) {
            Some(s @ Value::Object(_)) => (v, path) = (s, rest),
            flat => return flat.is_some(),
        }
    }
    true
}

/// A field path's first name, and what follows its separator (`.` or `[`),
/// split byte by byte (a `char` pattern costs module size).
fn head(path: &str) -> (&str, &str) {
    let at = path.bytes().position(|b| b == b'.' || b == b'[');
    let at = at.unwrap_or(path.len());
    (
        path.get(..at).unwrap_or(""),
        path.get(at + 1..).unwrap_or(""),
    )
}

impl ConfigError {
    /// The error, saying which document its field is in.
    pub(super) fn within(mut self: Box<Self>, document: &'static str) -> Box<Self> {
        self.document = document;
        self
    }
}
