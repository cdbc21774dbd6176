//! Shared settings: the VM configuration (`vm_config.configuration`) states
//! once what every placement of a deployment shares (the internal prefixes,
//! the bucket, the region, the credentials); each placement's own
//! `configuration` names its role and what only it needs. A section comes
//! from one document or the other, never both: no silent override.

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
        Sections(stated_keys(doc).fold(0, |bits, k| bits | section(k)))
    }

    pub(super) fn has(self, bit: u8) -> bool {
        self.0 & bit != 0
    }

    pub(super) fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// The top-level keys `doc` gives a value (`null` is a key left out).
fn stated_keys(doc: &Value) -> impl Iterator<Item = &String> {
    let entries = doc.as_object().into_iter().flat_map(|m| m.iter());
    entries.filter(|(_, v)| !v.is_null()).map(|(k, _)| k)
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

/// The layering rules: `role` is each placement's own, and a section is
/// stated in one document only (the error names the placement's key).
pub(super) fn check(vm: Sections, placement: &Value) -> Result<(), Failed> {
    if vm.has(ROLE) {
        return Err(err("role", "is each placement's own").within(VM));
    }
    match stated_keys(placement).find(|k| vm.has(section(k))) {
        Some(key) => Err(err(
            key,
            "stated in both vm_config.configuration and this placement's configuration; state it once",
        )),
        None => Ok(()),
    }
}

impl ConfigError {
    /// The error, saying which document its field is in.
    pub(super) fn within(mut self: Box<Self>, document: &'static str) -> Box<Self> {
        self.document = document;
        self
    }
}
