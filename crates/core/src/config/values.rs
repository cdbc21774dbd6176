//! The leaf every section builds on: how an error names its field, how a
//! section declares its keys, the path-tracking JSON reader, and the value
//! formats several sections share (durations, paths). It imports nothing
//! from its siblings but the types.
//!
//! A section declares each key once, in a `KEYS` table: name, kind (with
//! bounds), default and a one-line doc. The reader's list of known keys and
//! the defaults are taken from the table when the module is compiled (`const`
//! lookups), so the table itself never reaches the module: only the names do.
//! `docs/configuration.md` is checked against the tables by a unit test.

use super::types::ConfigError;
use crate::primitives::json::{self, Map, Value};
use std::time::Duration;

/// How the reader and validation pass a `ConfigError` on: boxed, so that
/// each of the hundreds of `?` in configuration code moves one word instead of
/// two `String`s (configuration is read once; this is module size).
pub(super) type Failed = Box<ConfigError>;

#[inline(never)]
pub(super) fn err(field: &str, reason: &str) -> Failed {
    Box::new(ConfigError {
        field: field.to_string(),
        reason: reason.to_string(),
        document: "",
    })
}

/// The error of item `i` of the list `field`: one shared out-of-line copy of
/// the formatting instead of one per check (configuration is read once).
#[cold]
#[inline(never)]
pub(super) fn err_at(field: &str, i: usize, reason: &str) -> Failed {
    err(&format!("{field}[{i}]"), reason)
}

// ---------------------------------------------------------------------------------------------
// Declarations

/// What a key holds; bounds are inclusive (durations in milliseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Str,
    Bool,
    Uint(usize, usize),
    Duration(u64, u64),
    Strings,
    /// One of these names.
    Choice(&'static [&'static str]),
    Object,
    Objects,
}

/// A key's default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fallback {
    /// The key must be given.
    Required,
    /// Absent means off, or nothing.
    Unset,
    Str(&'static str),
    Uint(usize),
    Bool(bool),
    List(&'static [&'static str]),
    /// Computed from other settings or the environment, as described.
    Derived(&'static str),
}

/// One configuration key: the single place its name, kind, default and
/// purpose are written.
#[derive(Debug, Clone, Copy)]
pub(super) struct Key {
    pub(super) name: &'static str,
    pub(super) kind: Kind,
    pub(super) default: Fallback,
    /// For the reference page's test; never in the module.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(super) doc: &'static str,
    /// `signing.credentials` only: the sources (bits) that read the key.
    pub(super) sources: u8,
}

/// A key read by every placement of its section.
pub(super) const fn key(
    name: &'static str,
    kind: Kind,
    default: Fallback,
    doc: &'static str,
) -> Key {
    Key {
        name,
        kind,
        default,
        doc,
        sources: 0,
    }
}

const fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Stops the build: the lookups below run only in `const` items and blocks,
/// so a lookup of an undeclared key, or of the wrong kind, is a compile error.
#[allow(clippy::panic)]
const fn undeclared() -> ! {
    panic!("no declared key of that name and kind")
}

/// The declaration of `name` in `keys`.
pub(super) const fn find<'k>(keys: &'k [Key], name: &str) -> &'k Key {
    let mut i = 0;
    while i < keys.len() {
        if same(keys[i].name, name) {
            return &keys[i];
        }
        i += 1;
    }
    undeclared()
}

/// The string default of `name`.
pub(super) const fn text(keys: &[Key], name: &str) -> &'static str {
    match find(keys, name).default {
        Fallback::Str(s) => s,
        _ => undeclared(),
    }
}

/// The number default of `name`.
pub(super) const fn uint(keys: &[Key], name: &str) -> usize {
    match find(keys, name).default {
        Fallback::Uint(n) => n,
        _ => undeclared(),
    }
}

/// The boolean default of `name`.
pub(super) const fn flag(keys: &[Key], name: &str) -> bool {
    match find(keys, name).default {
        Fallback::Bool(b) => b,
        _ => undeclared(),
    }
}

/// The list default of `name`.
pub(super) const fn list(keys: &[Key], name: &str) -> &'static [&'static str] {
    match find(keys, name).default {
        Fallback::List(l) => l,
        _ => undeclared(),
    }
}

/// The names a choice key accepts, in the order errors list them.
pub(super) const fn choices(keys: &[Key], name: &str) -> &'static [&'static str] {
    match find(keys, name).kind {
        Kind::Choice(c) => c,
        _ => undeclared(),
    }
}

/// The bounds of a number key.
pub(super) const fn uint_bounds(keys: &[Key], name: &str) -> (usize, usize) {
    match find(keys, name).kind {
        Kind::Uint(min, max) => (min, max),
        _ => undeclared(),
    }
}

/// The bounds of a duration key, in milliseconds.
pub(super) const fn ms_bounds(keys: &[Key], name: &str) -> (u64, u64) {
    match find(keys, name).kind {
        Kind::Duration(min, max) => (min, max),
        _ => undeclared(),
    }
}

/// The names of `parts`' keys, in order: what the reader accepts.
pub(super) const fn names<const N: usize>(parts: &[&[Key]]) -> [&'static str; N] {
    let mut out = [""; N];
    let (mut p, mut n) = (0, 0);
    while p < parts.len() {
        let mut i = 0;
        while i < parts[p].len() {
            out[n] = parts[p][i].name;
            n += 1;
            i += 1;
        }
        p += 1;
    }
    if n != N {
        undeclared()
    }
    out
}

/// The number of keys in `parts` (the length `names` needs).
pub(super) const fn count(parts: &[&[Key]]) -> usize {
    let (mut p, mut n) = (0, 0);
    while p < parts.len() {
        n += parts[p].len();
        p += 1;
    }
    n
}

// ---------------------------------------------------------------------------------------------
// The reader

/// The configuration's bytes as JSON (empty means `{}`).
pub(super) fn document(bytes: &[u8]) -> Result<Value, Failed> {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(Value::Object(Map::new()));
    }
    // The reason ends with "at byte N": keep it, it helps.
    json::parse(bytes).map_err(|e| err("", &format!("not valid JSON: {e}")))
}

/// Why a key stated in both the VM configuration and a placement's is refused.
const TWICE: &str =
    "stated in both vm_config.configuration and this placement's configuration; state it once";

/// Reads one JSON object of the configuration: tracks the dotted field path
/// for error messages and refuses fields it does not know.
pub(super) struct Reader<'a> {
    path: String,
    map: &'a Map,
    /// Where a key the object leaves out is looked up next: the shared
    /// settings under a placement's top level.
    under: Option<&'a Map>,
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
        [path, ".", key].concat()
    }
}

/// Names as an error lists them: `` `a`, `b`, `c` ``.
fn listed(names: &[&str]) -> String {
    let mut out = String::new();
    for n in names {
        if !out.is_empty() {
            out.push_str(", ");
        }
        out.push('`');
        out.push_str(n);
        out.push('`');
    }
    out
}

fn invalid_type(field: &str, v: &Value, expected: &str) -> Failed {
    err(
        field,
        &["invalid type: ", kind(v), ", expected ", expected].concat(),
    )
}

impl<'a> Reader<'a> {
    pub(super) fn new(v: &'a Value, path: &str, known: &[&str]) -> Result<Reader<'a>, Failed> {
        let map = v
            .as_object()
            .ok_or_else(|| invalid_type(path, v, "an object"))?;
        if let Some(k) = map.keys().find(|k| !known.contains(&k.as_str())) {
            let expected = listed(known);
            return Err(err(
                &join(path, k),
                &["unknown field `", k, "`, expected one of ", &expected].concat(),
            ));
        }
        Ok(Reader {
            path: path.to_string(),
            map,
            under: None,
        })
    }

    /// This reader, with the keys it leaves out read from `under`.
    pub(super) fn over(self, under: Option<&'a Map>) -> Reader<'a> {
        Reader { under, ..self }
    }

    pub(super) fn field(&self, key: &str) -> String {
        join(&self.path, key)
    }

    /// A present, non-null value: the object's own or the shared one,
    /// never both (each key is stated once).
    pub(super) fn get(&self, key: &str) -> Result<Option<&'a Value>, Failed> {
        let present = |m: &'a Map| m.get(key).filter(|v| !v.is_null());
        match (present(self.map), self.under.and_then(present)) {
            (Some(_), Some(_)) => Err(err(&self.field(key), TWICE)),
            (own, shared) => Ok(own.or(shared)),
        }
    }

    pub(super) fn string(&self, key: &str) -> Result<Option<String>, Failed> {
        self.get(key)?
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| invalid_type(&self.field(key), v, "a string"))
            })
            .transpose()
    }

    pub(super) fn boolean(&self, key: &str) -> Result<Option<bool>, Failed> {
        self.get(key)?
            .map(|v| {
                v.as_bool()
                    .ok_or_else(|| invalid_type(&self.field(key), v, "a boolean"))
            })
            .transpose()
    }

    pub(super) fn uint(&self, key: &str) -> Result<Option<usize>, Failed> {
        self.get(key)?
            .map(|v| {
                v.as_u64()
                    .and_then(|n| usize::try_from(n).ok())
                    .ok_or_else(|| invalid_type(&self.field(key), v, "a whole number"))
            })
            .transpose()
    }

    /// The value of `key`, one of `names` (from its declaration), as the
    /// variant at the same place in `values`. A thin generic shell around
    /// `choice_index`, so each enum does not get its own copy of the error
    /// formatting.
    pub(super) fn choice<T: Copy>(
        &self,
        key: &str,
        names: &[&str],
        values: &[T],
    ) -> Result<Option<T>, Failed> {
        Ok(self
            .choice_index(key, names)?
            .and_then(|i| values.get(i))
            .copied())
    }

    #[inline(never)]
    fn choice_index(&self, key: &str, names: &[&str]) -> Result<Option<usize>, Failed> {
        let Some(v) = self.get(key)? else {
            return Ok(None);
        };
        let listed = listed(names);
        let text = v
            .as_str()
            .ok_or_else(|| invalid_type(&self.field(key), v, &["one of ", &listed].concat()))?;
        names
            .iter()
            .position(|n| *n == text)
            .map(Some)
            .ok_or_else(|| {
                err(
                    &self.field(key),
                    &["unknown variant `", text, "`, expected one of ", &listed].concat(),
                )
            })
    }

    pub(super) fn array(
        &self,
        key: &str,
        expected: &str,
    ) -> Result<Option<&'a Vec<Value>>, Failed> {
        self.get(key)?
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

    /// The object `key`, its keys checked. A section both documents state
    /// (a key of the placement's top level) is read key by key: the
    /// placement's keys over the shared ones.
    pub(super) fn child(&self, key: &str, known: &[&str]) -> Result<Option<Reader<'a>>, Failed> {
        let field = self.field(key);
        let mut found: Option<Reader<'a>> = None;
        for m in [Some(self.map), self.under].into_iter().flatten() {
            let Some(v) = m.get(key).filter(|v| !v.is_null()) else {
                continue;
            };
            let r = Reader::new(v, &field, known)?;
            found = Some(match found {
                None => r,
                Some(_) if !self.path.is_empty() => return Err(err(&field, TWICE)),
                Some(own) => own.over(Some(r.map)),
            });
        }
        Ok(found)
    }

    pub(super) fn required(&self, key: &str, value: Option<String>) -> Result<String, Failed> {
        value.ok_or_else(|| err(&self.field(key), "required"))
    }
}

/// A list of names as owned strings (list defaults).
pub(super) fn owned(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

// ---------------------------------------------------------------------------------------------
// Value formats

/// Parses durations written as `"360s"`, `"5m"`, `"1h"`, `"250ms"` (Envoy-style strings).
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let split = s.bytes().position(|c| !c.is_ascii_digit())?;
    // Checked (always a boundary): `split_at` would pull core's char-boundary
    // panic path, and its Unicode tables, into the module.
    let (num, unit) = s.split_at_checked(split)?;
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

/// A duration setting in milliseconds, from a string such as `"5s"`, at
/// least 1 ms and at most `max_ms`.
pub(super) fn duration_ms(
    field: &str,
    value: Option<&str>,
    default: &str,
    max_ms: u64,
) -> Result<u64, Failed> {
    let text = value.unwrap_or(default);
    parse_duration(text)
        .map(|d| d.as_millis() as u64)
        .filter(|ms| (1..=max_ms).contains(ms))
        .ok_or_else(|| {
            err(
                field,
                &format!(
                    "must be a duration such as \"{default}\" (ms, s, m, h), at most {}s",
                    max_ms / 1000
                ),
            )
        })
}

/// A request path for an out-of-band call.
pub(super) fn checked_path(field: &str, path: String) -> Result<String, Failed> {
    if path.starts_with('/') && path.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(path)
    } else {
        Err(err(
            field,
            "must be a path starting with '/' (no spaces or control characters)",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(parse_duration("5µs"), None);
    }

    #[test]
    fn lookups_read_the_declarations() {
        const KEYS: &[Key] = &[
            key("a", Kind::Uint(1, 9), Fallback::Uint(3), "a"),
            key("b", Kind::Choice(&["x", "y"]), Fallback::Str("y"), "b"),
        ];
        assert_eq!(uint(KEYS, "a"), 3);
        assert_eq!(uint_bounds(KEYS, "a"), (1, 9));
        assert_eq!(text(KEYS, "b"), "y");
        assert_eq!(choices(KEYS, "b"), ["x", "y"]);
        const N: [&str; 4] = names(&[KEYS, KEYS]);
        assert_eq!(N, ["a", "b", "a", "b"]);
        assert_eq!(count(&[KEYS, KEYS]), 4);
    }
}
