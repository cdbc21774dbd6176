//! Internal redirects: which backend answers become an internal redirect to
//! storage, and which object paths are safe to hand to storage at all.

use crate::internal_redirect::consent;
use crate::primitives::{ascii, hex};
// Bytes kept as they are in a path segment.
use crate::primitives::syntax::is_unreserved;
use std::fmt;

/// Why a path or redirect target was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathError {
    NotInternal,
    EmptyKey,
    EmptySegment,
    DotSegment,
    EncodedSeparator,
    DoubleEncoded,
    ControlCharacter,
    InvalidCharacter,
    InvalidPercentEncoding,
    TooLong {
        max: usize,
    },
    /// A 307's key with an escape RFC 3986 says to undo (`%2e`, `%41`) or
    /// lower-case hex: a backend that compared it as sent saw another
    /// spelling of the key storage reads.
    NotNormalForm,
    /// `versionId` or `partNumber` without `redirect.read_parameters`.
    ReadParameter,
    /// An active `response-content-type` without
    /// `redirect.allow_active_content_types`.
    ActiveContentType,
    RepeatedParameter,
    EncodedParameterName,
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathError::NotInternal => f.write_str("the target is not under an internal prefix"),
            PathError::EmptyKey => f.write_str("the object key is empty"),
            PathError::EmptySegment => f.write_str("the object key has an empty segment ('//')"),
            PathError::DotSegment => f.write_str("the object key has a '.' or '..' segment"),
            PathError::EncodedSeparator => {
                f.write_str("the object key has an encoded '/' or '\\' (or a raw '\\')")
            }
            PathError::DoubleEncoded => f.write_str("the object key is percent-encoded twice"),
            PathError::ControlCharacter => f.write_str("the object key has a control character"),
            PathError::InvalidCharacter => {
                f.write_str("the object key has a character that must be percent-encoded")
            }
            PathError::InvalidPercentEncoding => {
                f.write_str("the object key has invalid percent-encoding")
            }
            PathError::TooLong { max } => write!(f, "the object key is longer than {max} bytes"),
            PathError::NotNormalForm => f.write_str(
                "the object key is not in normal form (an escaped unreserved character or lower-case hex)",
            ),
            PathError::ReadParameter => {
                f.write_str("the query has versionId or partNumber (redirect.read_parameters)")
            }
            PathError::ActiveContentType => f.write_str(
                "the query has an active response-content-type (redirect.allow_active_content_types)",
            ),
            PathError::RepeatedParameter => f.write_str("the query repeats a parameter"),
            PathError::EncodedParameterName => {
                f.write_str("the query has a percent-encoded parameter name")
            }
        }
    }
}

/// Limits applied to object keys taken from internal paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRules {
    pub max_key_length: usize,
    pub allow_empty_segments: bool,
}

impl Default for KeyRules {
    fn default() -> Self {
        KeyRules {
            max_key_length: 1024,
            allow_empty_segments: false,
        }
    }
}

/// Percent-decodes one path segment.
fn decode_segment(seg: &[u8]) -> Result<Vec<u8>, PathError> {
    let mut out = Vec::with_capacity(seg.len());
    let mut i = 0;
    while i < seg.len() {
        if seg[i] == b'%' {
            let hi = seg.get(i + 1).copied().and_then(hex::digit);
            let lo = seg.get(i + 2).copied().and_then(hex::digit);
            match (hi, lo) {
                (Some(h), Some(l)) => out.push(h << 4 | l),
                _ => return Err(PathError::InvalidPercentEncoding),
            }
            i += 3;
        } else {
            out.push(seg[i]);
            i += 1;
        }
    }
    Ok(out)
}

/// Decodes a segment again and again (as far as it still changes, at most
/// eight times): no level may hold a separator, a NUL or another control
/// byte, or be a dot segment.
fn stays_safe_when_decoded_again(segment: &[u8]) -> bool {
    if !segment.contains(&b'%') {
        return true;
    }
    let mut cur = segment.to_vec();
    for _ in 0..8 {
        if !cur.contains(&b'%') {
            return true;
        }
        let next = decode_lenient(&cur);
        if next == cur {
            return true;
        }
        if next == b"."
            || next == b".."
            || next
                .iter()
                .any(|&b| b == b'/' || b == b'\\' || b < 0x20 || b == 0x7f)
        {
            return false;
        }
        cur = next;
    }
    false
}

/// Validates an object key in its wire (percent-encoded) form: the part of
/// an internal path after its prefix, without the query.
pub fn validate_key(key: &str, rules: &KeyRules) -> Result<(), PathError> {
    if key.is_empty() {
        return Err(PathError::EmptyKey);
    }
    let mut decoded_len = 0usize;
    for seg in key.as_bytes().split(|&b| b == b'/') {
        if seg.is_empty() {
            if rules.allow_empty_segments {
                decoded_len += 1;
                continue;
            }
            return Err(PathError::EmptySegment);
        }
        if seg.iter().any(|&b| b < 0x20 || b == 0x7f) {
            return Err(PathError::ControlCharacter);
        }
        if seg.contains(&b'\\') {
            return Err(PathError::EncodedSeparator);
        }
        if seg
            .iter()
            .any(|&b| b > 0x7e || b == b' ' || b"\"<>^`{|}#".contains(&b))
        {
            return Err(PathError::InvalidCharacter);
        }
        // Most keys have no escapes: nothing to decode, nothing to allocate.
        let decoded = if seg.contains(&b'%') {
            std::borrow::Cow::Owned(decode_segment(seg)?)
        } else {
            std::borrow::Cow::Borrowed(seg)
        };
        if decoded.iter().any(|&b| b < 0x20 || b == 0x7f) {
            return Err(PathError::ControlCharacter);
        }
        if decoded.iter().any(|&b| b == b'/' || b == b'\\') {
            return Err(PathError::EncodedSeparator);
        }
        if *decoded == *b"." || *decoded == *b".." {
            return Err(PathError::DotSegment);
        }
        // Further decodings (by some server or library) must not produce a
        // separator, a dot segment or a control byte either.
        if !stays_safe_when_decoded_again(&decoded) {
            return Err(PathError::DoubleEncoded);
        }
        decoded_len += decoded.len() + 1;
    }
    let decoded_len = decoded_len.saturating_sub(1);
    if decoded_len > rules.max_key_length {
        return Err(PathError::TooLong {
            max: rules.max_key_length,
        });
    }
    Ok(())
}

/// Validates a full internal `:path` (query allowed): it must lie under one of
/// `prefixes` and its key must be safe. Returns the matching prefix.
pub fn validate_internal_path<'a>(
    path_and_query: &str,
    prefixes: &'a [String],
    rules: &KeyRules,
) -> Result<&'a str, PathError> {
    let path = ascii::split_once(path_and_query, b'?').map_or(path_and_query, |(p, _)| p);
    // `strip_prefix`, not `path[prefix.len()..]`: no char-boundary panic
    // path in the module.
    let (prefix, key) = prefixes
        .iter()
        .filter_map(|p| Some((p, path.strip_prefix(p.as_str())?)))
        .max_by_key(|(p, _)| p.len())
        .ok_or(PathError::NotInternal)?;
    validate_key(key, rules)?;
    Ok(prefix)
}

/// What the auth-backend-side instance does with a backend's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Not a redirect: pass it on (minus any marker header).
    PassThrough,
    /// Turn into a marked internal redirect to `location`, for `path`;
    /// `dropped` when query parameters a read does not carry were left out.
    Internal {
        path: String,
        location: String,
        dropped: bool,
    },
    /// A redirect somewhere other than an internal prefix on an internal authority.
    Foreign,
    /// The backend asked for an internal target that is not safe.
    Unsafe(PathError),
}

/// Which backend answers consent to a read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConsentBy {
    /// `X-Accel-Redirect`, and any 307 to an internal prefix on an internal
    /// authority (compatible; an open redirect in the backend consents too).
    #[default]
    AnyInternal307,
    /// `X-Accel-Redirect`, or a 307 the backend flagged with the marker
    /// header: a redirect the backend did not mean as a consent is not one.
    AccelOrFlagged,
}

/// The query parameters a read consent may carry besides the passive
/// `response-*` overrides (all off by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReadQuery {
    pub version_id: bool,
    pub part_number: bool,
    /// An active `response-content-type` (HTML, SVG, XML, script, ...).
    pub active_types: bool,
}

/// Whether a `response-content-type` value (as in the query, decoded as
/// storage decodes it; a `+`, storage's space, is not) is passive.
fn passive_type(value: &str) -> bool {
    consent::is_passive(&decode_lenient(value.as_bytes()))
}

/// The query a read consent carries to storage, from its target's query:
/// the `response-*` overrides (a passive type unless configured), and
/// `versionId`/`partNumber` when configured, in their order. Any other
/// parameter (a cache buster, `acl`, `tagging`, `uploadId`, a presigned
/// URL's `X-Amz-*`) is dropped: the read of the consented key goes on
/// without it (`true` in the answer). What would change the answer's
/// meaning if dropped is refused: a version or part not allowed, an active
/// type, a repeated or percent-encoded name (storage may decode it).
pub fn read_query(query: &str, rules: &ReadQuery) -> Result<(String, bool), PathError> {
    let mut kept = String::new();
    let mut dropped = false;
    let mut names: Vec<&str> = Vec::new();
    for param in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = ascii::split_once(param, b'=').unwrap_or((param, ""));
        if name.contains('%') {
            return Err(PathError::EncodedParameterName);
        }
        if names.contains(&name) {
            return Err(PathError::RepeatedParameter);
        }
        names.push(name);
        let keep = match name {
            "response-content-type" if !rules.active_types && !passive_type(value) => {
                return Err(PathError::ActiveContentType)
            }
            "response-content-type"
            | "response-content-disposition"
            | "response-content-language"
            | "response-content-encoding"
            | "response-cache-control"
            | "response-expires" => true,
            "versionId" if rules.version_id => true,
            "partNumber" if rules.part_number => true,
            "versionId" | "partNumber" => return Err(PathError::ReadParameter),
            _ => false,
        };
        if !keep {
            dropped = true;
            continue;
        }
        if param
            .bytes()
            .any(|b| b <= b' ' || b > 0x7e || b"\"<>\\^`{|}#".contains(&b))
        {
            return Err(PathError::InvalidCharacter);
        }
        if !kept.is_empty() {
            kept.push('&');
        }
        kept.push_str(param);
    }
    Ok((kept, dropped))
}

/// Whether every escape in `path` is one RFC 3986 (6.2.2.1, 6.2.2.2) keeps:
/// upper-case hex, for a byte that is not unreserved. Then the path as sent
/// and the key storage reads (each segment decoded once) name one key.
fn in_normal_form(path: &str) -> bool {
    let b = path.as_bytes();
    let upper_hex = |i: usize| {
        b.get(i)
            .filter(|c| !c.is_ascii_lowercase())
            .and_then(|&c| hex::digit(c))
    };
    (0..b.len())
        .filter(|&i| b[i] == b'%')
        .all(|i| match (upper_hex(i + 1), upper_hex(i + 2)) {
            (Some(h), Some(l)) => !is_unreserved(h << 4 | l),
            _ => false,
        })
}

/// The parts of a backend's answer that decide an internal redirect.
#[derive(Debug, Clone, Copy, Default)]
pub struct Answer<'a> {
    pub status: u32,
    pub location: Option<&'a str>,
    /// The first `X-Accel-Redirect` value, as sent (raw or percent-encoded).
    pub accel: Option<&'a [u8]>,
    /// The backend flagged its 307 as internal with the marker header's
    /// name and the value `true` (the convention of config-only setups,
    /// where Envoy follows the 307 itself).
    pub flagged: bool,
}

/// Where the client's request was going: the internal redirect keeps its
/// authority, and the scheme Envoy's redirect check compares against.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    pub authority: &'a str,
    pub scheme: &'a str,
}

/// Which redirect targets are internal.
#[derive(Debug, Clone, Copy)]
pub struct Targets<'a> {
    pub prefixes: &'a [String],
    /// Authorities besides the client's whose 307s may be internal (the
    /// backend's own `host:port`, say).
    pub authorities: &'a [String],
    pub rules: &'a KeyRules,
    pub query: ReadQuery,
    pub consent: ConsentBy,
}

/// The scheme an internal redirect's Location must carry: Envoy follows only
/// a same-scheme redirect, and treats a request as https only when its
/// connection is TLS *and* its `:scheme` is https (behind a TLS-terminating
/// balancer `X-Forwarded-Proto: https` arrives over plain HTTP).
pub fn redirect_scheme(tls: bool, scheme: &str) -> &'static str {
    if tls && scheme.eq_ignore_ascii_case("https") {
        "https"
    } else {
        "http"
    }
}

/// Splits a `Location` value into (authority, path-and-query); `None` for
/// anything that is not an absolute URL or an absolute path.
fn split_location(location: &str) -> Option<(Option<&str>, &str)> {
    let location = ascii::split_once(location, b'#').map_or(location, |(l, _)| l);
    if let Some(rest) = location
        .strip_prefix("http://")
        .or_else(|| location.strip_prefix("https://"))
    {
        // Checked (`i` is always a boundary): `split_at` would pull core's
        // char-boundary panic path, and its Unicode tables, into the module.
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) => rest.split_at_checked(i)?,
            None => (rest, "/"),
        };
        if !path.starts_with('/') {
            return None;
        }
        return Some((Some(authority), path));
    }
    if location.starts_with('/') && !location.starts_with("//") {
        return Some((None, location));
    }
    None
}

fn push_escaped(out: &mut String, b: u8) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push('%');
    out.push(HEX[usize::from(b >> 4)] as char);
    out.push(HEX[usize::from(b & 15)] as char);
}

/// Percent-decodes once, as nginx does: a `%` not followed by two hex digits
/// stays a literal `%`.
pub fn decode_lenient(seg: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(seg.len());
    let mut i = 0;
    while i < seg.len() {
        let pair = seg
            .get(i + 1)
            .copied()
            .and_then(hex::digit)
            .zip(seg.get(i + 2).copied().and_then(hex::digit));
        match (seg[i], pair) {
            (b'%', Some((h, l))) => {
                out.push(h << 4 | l);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// The internal path an `X-Accel-Redirect` value names, in canonical wire
/// form. nginx's rule: split at the first literal `?` (the rest replaces the
/// query), percent-decode the path once; so raw values (Symfony: spaces,
/// UTF-8) and encoded ones (Rack, django-sendfile2) name the same key. Each
/// decoded segment is then encoded once (unreserved bytes kept). A decoded
/// `/` or `\\` (from `%2F`, `%5C`) or a control byte is refused here; dot and
/// empty segments and double encoding by `validate_key`.
pub fn accel_path(value: &[u8]) -> Result<String, PathError> {
    let value = value.trim_ascii();
    let (path, query) = match value.iter().position(|&b| b == b'?') {
        Some(i) => (&value[..i], &value[i + 1..]),
        None => (value, &b""[..]),
    };
    let Some(rest) = path.strip_prefix(b"/") else {
        return Err(PathError::NotInternal);
    };
    if rest.starts_with(b"/") {
        return Err(PathError::NotInternal);
    }
    let mut out = String::with_capacity(value.len() + 16);
    for seg in rest.split(|&b| b == b'/') {
        out.push('/');
        // Unreserved bytes only (most keys): decoded and encoded, the same.
        if seg.iter().all(|&b| is_unreserved(b)) {
            out.push_str(std::str::from_utf8(seg).unwrap_or_default());
            continue;
        }
        let decoded = decode_lenient(seg);
        if decoded.iter().any(|&b| b < 0x20 || b == 0x7f) {
            return Err(PathError::ControlCharacter);
        }
        if decoded.iter().any(|&b| b == b'/' || b == b'\\') {
            return Err(PathError::EncodedSeparator);
        }
        for b in decoded {
            if is_unreserved(b) {
                out.push(char::from(b));
            } else {
                push_escaped(&mut out, b);
            }
        }
    }
    if !query.is_empty() {
        out.push('?');
        for &b in query {
            if b < 0x20 || b == 0x7f {
                return Err(PathError::ControlCharacter);
            }
            if b > 0x7e || b" \"<>\\^`{|}#".contains(&b) {
                push_escaped(&mut out, b);
            } else {
                out.push(char::from(b));
            }
        }
    }
    Ok(out)
}

/// Decides on a backend answer: an `X-Accel-Redirect` (any status, as in
/// nginx) must name a safe internal path; a 307 is internal when it points
/// under an internal prefix on the client's authority, a listed authority,
/// or when the backend flagged it (only a flagged one with
/// `ConsentBy::AccelOrFlagged`), and its key must be in normal form;
/// anything else passes. The target's query is cut to what a read carries.
pub fn decide(answer: &Answer, origin: &Origin, targets: &Targets) -> Decision {
    let internal = |path: &str| {
        if let Err(e) = validate_internal_path(path, targets.prefixes, targets.rules) {
            return match e {
                PathError::NotInternal => Decision::Foreign,
                e => Decision::Unsafe(e),
            };
        }
        let (key, query) = ascii::split_once(path, b'?').unwrap_or((path, ""));
        match read_query(query, &targets.query) {
            Ok((query, dropped)) => {
                let path = if query.is_empty() {
                    key.to_string()
                } else {
                    [key, "?", &query].concat()
                };
                Decision::Internal {
                    location: [origin.scheme, "://", origin.authority, &path].concat(),
                    path,
                    dropped,
                }
            }
            Err(e) => Decision::Unsafe(e),
        }
    };
    if let Some(value) = answer.accel {
        return match accel_path(value) {
            // An X-Accel-Redirect must name an internal location.
            Ok(path) => match internal(&path) {
                Decision::Foreign => Decision::Unsafe(PathError::NotInternal),
                d => d,
            },
            Err(e) => Decision::Unsafe(e),
        };
    }
    if answer.status != 307 {
        return Decision::PassThrough;
    }
    if targets.consent == ConsentBy::AccelOrFlagged && !answer.flagged {
        return Decision::Foreign;
    }
    let path = match answer.location.map(str::trim).and_then(split_location) {
        Some((Some(a), path))
            if answer.flagged
                || a.eq_ignore_ascii_case(origin.authority)
                || targets
                    .authorities
                    .iter()
                    .any(|t| t.eq_ignore_ascii_case(a)) =>
        {
            path
        }
        Some((None, path)) => path,
        _ => return Decision::Foreign,
    };
    match internal(path) {
        // A 307's key is marked as sent: it must be the key storage reads.
        Decision::Internal { .. }
            if !in_normal_form(path.split('?').next().unwrap_or_default()) =>
        {
            Decision::Unsafe(PathError::NotNormalForm)
        }
        d => d,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> KeyRules {
        KeyRules::default()
    }

    #[test]
    fn safe_keys() {
        for k in [
            "a.jpg",
            "dir/sub/a.jpg",
            "a%20b.jpg",
            "caf%C3%A9.png",
            "a+b=c&d~e%25f@g:h!i'j(k).txt",
            "...",
            ".hidden",
            "a..b",
        ] {
            assert_eq!(validate_key(k, &rules()), Ok(()), "{k}");
        }
    }

    #[test]
    fn unsafe_keys() {
        let cases = [
            ("", PathError::EmptyKey),
            ("..", PathError::DotSegment),
            ("a/../b", PathError::DotSegment),
            ("a/./b", PathError::DotSegment),
            ("%2e%2e/x", PathError::DotSegment),
            ("%2E%2e", PathError::DotSegment),
            (".%2e", PathError::DotSegment),
            ("a%2fb", PathError::EncodedSeparator),
            ("a%2F..%2Fb", PathError::EncodedSeparator),
            ("a%5cb", PathError::EncodedSeparator),
            ("a\\b", PathError::EncodedSeparator),
            ("a//b", PathError::EmptySegment),
            ("a/", PathError::EmptySegment),
            ("/a", PathError::EmptySegment),
            ("a%00b", PathError::ControlCharacter),
            ("a%0ab", PathError::ControlCharacter),
            ("a%7f", PathError::ControlCharacter),
            ("a\tb", PathError::ControlCharacter),
            ("%252e%252e/x", PathError::DoubleEncoded),
            ("a%252fb", PathError::DoubleEncoded),
            ("a%zz", PathError::InvalidPercentEncoding),
            ("a b", PathError::InvalidCharacter),
            ("a\"b", PathError::InvalidCharacter),
            ("caf\u{e9}", PathError::InvalidCharacter),
            ("a%2", PathError::InvalidPercentEncoding),
        ];
        for (k, e) in cases {
            assert_eq!(validate_key(k, &rules()), Err(e.clone()), "{k}");
        }
    }

    #[test]
    fn key_length_counts_decoded_bytes() {
        let r = KeyRules {
            max_key_length: 10,
            ..rules()
        };
        assert_eq!(validate_key("0123456789", &r), Ok(()));
        assert_eq!(validate_key("%41%41%41%41%41/%41%41%41%41", &r), Ok(()));
        assert_eq!(
            validate_key("0123456789a", &r),
            Err(PathError::TooLong { max: 10 })
        );
        assert_eq!(
            validate_key("01234/67890", &r),
            Err(PathError::TooLong { max: 10 })
        );
    }

    #[test]
    fn empty_segments_when_allowed() {
        let r = KeyRules {
            allow_empty_segments: true,
            ..rules()
        };
        assert_eq!(validate_key("a//b/", &r), Ok(()));
        assert_eq!(validate_key("a//../b", &r), Err(PathError::DotSegment));
    }

    fn prefixes() -> Vec<String> {
        vec!["/internal-assets/".into(), "/internal-private/".into()]
    }

    #[test]
    fn internal_paths() {
        let p = prefixes();
        assert_eq!(
            validate_internal_path("/internal-assets/a.jpg?x=1", &p, &rules()),
            Ok("/internal-assets/")
        );
        assert_eq!(
            validate_internal_path("/assets/a.jpg", &p, &rules()),
            Err(PathError::NotInternal)
        );
        assert_eq!(
            validate_internal_path("/internal-assets/../x", &p, &rules()),
            Err(PathError::DotSegment)
        );
        assert_eq!(
            validate_internal_path("/internal-assets", &p, &rules()),
            Err(PathError::NotInternal)
        );
    }

    fn decide_with(answer: Answer, authorities: &[String]) -> Decision {
        let origin = Origin {
            authority: "cdn.example",
            scheme: "https",
        };
        let targets = Targets {
            prefixes: &prefixes(),
            authorities,
            rules: &rules(),
            query: ReadQuery::default(),
            consent: ConsentBy::default(),
        };
        decide(&answer, &origin, &targets)
    }

    fn d(status: u32, location: Option<&str>, accel: Option<&str>) -> Decision {
        let answer = Answer {
            status,
            location,
            accel: accel.map(str::as_bytes),
            flagged: false,
        };
        decide_with(answer, &[])
    }

    fn internal(path: &str) -> Decision {
        Decision::Internal {
            path: path.into(),
            location: format!("https://cdn.example{path}"),
            dropped: false,
        }
    }

    #[test]
    fn accel_redirect_becomes_internal() {
        assert_eq!(
            d(
                200,
                None,
                Some("/internal-assets/x/1.jpg?response-content-type=image%2Fjpeg")
            ),
            internal("/internal-assets/x/1.jpg?response-content-type=image%2Fjpeg")
        );
        // any status carries an X-Accel-Redirect, as in nginx
        assert!(matches!(
            d(403, None, Some("/internal-assets/a")),
            Decision::Internal { .. }
        ));
    }

    #[test]
    fn accel_values_are_decoded_once_like_nginx() {
        for (value, path) in [
            // Symfony and hand-written backends send raw values.
            ("/internal-assets/a b.jpg", "/internal-assets/a%20b.jpg"),
            (
                "/internal-assets/r\u{e9}sum\u{e9} \u{fc}.txt",
                "/internal-assets/r%C3%A9sum%C3%A9%20%C3%BC.txt",
            ),
            // Rack and django-sendfile2 encode; `+` stays a plus, `%25` a percent.
            (
                "/internal-assets/a%20b%2Bc.txt",
                "/internal-assets/a%20b%2Bc.txt",
            ),
            (
                "/internal-assets/a b+c.txt",
                "/internal-assets/a%20b%2Bc.txt",
            ),
            ("/internal-assets/100%25.txt", "/internal-assets/100%25.txt"),
            ("/internal-assets/100%.txt", "/internal-assets/100%25.txt"),
            // `%3F` is a `?` inside the key, not a query.
            (
                "/internal-assets/what%3F.txt",
                "/internal-assets/what%3F.txt",
            ),
            (
                "/internal-assets/a.txt?response-content-disposition=attachment",
                "/internal-assets/a.txt?response-content-disposition=attachment",
            ),
            (
                "/internal-assets/a.txt?response-content-disposition=a b",
                "/internal-assets/a.txt?response-content-disposition=a%20b",
            ),
            ("  /internal-assets/a.txt ", "/internal-assets/a.txt"),
        ] {
            assert_eq!(
                accel_path(value.as_bytes()),
                Ok(path.to_string()),
                "{value}"
            );
            assert_eq!(d(200, None, Some(value)), internal(path), "{value}");
        }
        // obs-text bytes that are not UTF-8 are encoded too.
        assert_eq!(
            accel_path(b"/internal-assets/caf\xe9"),
            Ok("/internal-assets/caf%E9".into())
        );
    }

    #[test]
    fn accel_redirect_elsewhere_or_unsafe_is_refused() {
        for target in [
            "/assets/a",
            "https://cdn.example/internal-assets/a",
            "//evil/internal-assets/a",
            "internal-assets/a",
            "@storage",
            "?x=1",
            "",
        ] {
            assert_eq!(
                d(200, None, Some(target)),
                Decision::Unsafe(PathError::NotInternal),
                "{target}"
            );
        }
        for (target, e) in [
            ("/internal-assets/%2e%2e/secret", PathError::DotSegment),
            ("/internal-assets/../secret", PathError::DotSegment),
            ("/internal-assets/a/..", PathError::DotSegment),
            ("/internal-assets/./a", PathError::DotSegment),
            ("/internal-assets/a%2f..%2fb", PathError::EncodedSeparator),
            ("/internal-assets/a%5cb", PathError::EncodedSeparator),
            ("/internal-assets/a\\b", PathError::EncodedSeparator),
            ("/internal-assets/a%00b", PathError::ControlCharacter),
            ("/internal-assets/a\tb", PathError::ControlCharacter),
            (
                "/internal-assets/a.txt?x=\u{1}",
                PathError::ControlCharacter,
            ),
            ("/internal-assets/%252e%252e/x", PathError::DoubleEncoded),
            (
                "/internal-assets/%25252e%25252e/x",
                PathError::DoubleEncoded,
            ),
            ("/internal-assets/a%25252Fb", PathError::DoubleEncoded),
            ("/internal-assets/a%250ab", PathError::DoubleEncoded),
            ("/internal-assets/a//b", PathError::EmptySegment),
            ("/internal-assets/", PathError::EmptyKey),
            ("/assets/../internal-assets/a", PathError::NotInternal),
        ] {
            let got = d(200, None, Some(target));
            assert_eq!(got, Decision::Unsafe(e), "{target}");
        }
    }

    #[test]
    fn backend_307() {
        assert!(matches!(
            d(307, Some("https://cdn.example/internal-assets/a.jpg"), None),
            Decision::Internal { .. }
        ));
        assert!(matches!(
            d(307, Some("https://CDN.example/internal-assets/a.jpg#frag"), None),
            Decision::Internal { ref path, .. } if path == "/internal-assets/a.jpg"
        ));
        assert!(matches!(
            d(307, Some("/internal-assets/a.jpg"), None),
            Decision::Internal { .. }
        ));
        assert_eq!(
            d(
                307,
                Some("https://evil.example/internal-assets/a.jpg"),
                None
            ),
            Decision::Foreign
        );
        assert_eq!(
            d(307, Some("//evil.example/internal-assets/a.jpg"), None),
            Decision::Foreign
        );
        assert_eq!(
            d(307, Some("https://cdn.example/login"), None),
            Decision::Foreign
        );
        assert_eq!(
            d(307, Some("ftp://cdn.example/internal-assets/a"), None),
            Decision::Foreign
        );
        assert_eq!(d(307, None, None), Decision::Foreign);
        assert_eq!(
            d(307, Some("/internal-assets/a//b"), None),
            Decision::Unsafe(PathError::EmptySegment)
        );
        // other statuses are not internal redirects, whatever their location
        assert_eq!(
            d(302, Some("/internal-assets/a.jpg"), None),
            Decision::PassThrough
        );
        assert_eq!(d(200, None, None), Decision::PassThrough);
    }

    #[test]
    fn seed_backend_307_to_its_own_authority() {
        // The config-only recipe's backend: 307, `x-internal-redirect: true`, and a
        // Location on the backend's own host:port.
        let seed = |flagged| Answer {
            status: 307,
            location: Some("http://10.0.0.7:8080/internal-assets/1.jpg"),
            accel: None,
            flagged,
        };
        assert_eq!(
            decide_with(seed(true), &[]),
            internal("/internal-assets/1.jpg")
        );
        assert_eq!(decide_with(seed(false), &[]), Decision::Foreign);
        assert_eq!(
            decide_with(seed(false), &["10.0.0.7:8080".to_string()]),
            internal("/internal-assets/1.jpg")
        );
        // Flagged but elsewhere: still an ordinary redirect for the client.
        let login = Answer {
            location: Some("http://10.0.0.7:8080/login"),
            ..seed(true)
        };
        assert_eq!(decide_with(login, &[]), Decision::Foreign);
    }

    #[test]
    fn the_redirect_scheme_is_the_one_envoy_compares() {
        assert_eq!(redirect_scheme(true, "https"), "https");
        // X-Forwarded-Proto: https over plain HTTP (a TLS-terminating balancer)
        assert_eq!(redirect_scheme(false, "https"), "http");
        assert_eq!(redirect_scheme(true, "http"), "http");
        assert_eq!(redirect_scheme(false, "http"), "http");
    }

    #[test]
    fn one_passive_rule_for_read_consents_and_answers() {
        for (t, passive) in [
            ("text/plain", true),
            ("TEXT/PLAIN; charset=UTF-8", true),
            ("text/csv", true),
            ("application/zip", true),
            ("image/apng", true),
            ("audio/ogg", true),
            ("video/mp4", true),
            ("font/woff2", true),
            // A browser's viewer runs a PDF's scripts on the site's origin.
            ("application/pdf", false),
            // A browser takes the last of comma-separated types.
            ("text/plain; x=1, text/html", false),
            ("video/mp4,text/html", false),
            ("text/plain; format=flowed", false),
            ("text/html", false),
        ] {
            let query = ["response-content-type=", &t.replace(' ', "%20")].concat();
            let read = read_query(&query, &ReadQuery::default()).is_ok();
            assert_eq!(read, passive, "{t} in a read consent's query");
            assert_eq!(
                consent::is_passive(t.as_bytes()),
                passive,
                "{t} in storage's answer"
            );
        }
    }

    #[test]
    fn a_read_consent_carries_only_read_parameters() {
        let none = ReadQuery::default();
        let ok = |q: &str, r: &ReadQuery| read_query(q, r).map(|(q, d)| (q.to_string(), d));
        assert_eq!(ok("", &none), Ok((String::new(), false)));
        for q in [
            "acl",
            "tagging",
            "uploadId=1",
            "uploads",
            "v=3",
            "X-Amz-Signature=x",
            "versionid=1",
            "Response-Content-Type=text/html",
            "response-content+type=text/html",
        ] {
            assert_eq!(ok(q, &none), Ok((String::new(), true)), "{q}");
        }
        let passive = "response-content-type=image%2Fpng&response-content-disposition=attachment%3B%20filename%3Da.png&response-cache-control=no-store&response-expires=0&response-content-language=de&response-content-encoding=gzip";
        assert_eq!(ok(passive, &none), Ok((passive.to_string(), false)));
        assert_eq!(
            ok(
                "acl&response-content-type=text/plain;%20charset=utf-8&v=1",
                &none
            ),
            Ok((
                "response-content-type=text/plain;%20charset=utf-8".to_string(),
                true
            ))
        );
        for (q, e) in [
            (
                "response-content-type=text/html",
                PathError::ActiveContentType,
            ),
            (
                "response-content-type=TEXT%2FHTML",
                PathError::ActiveContentType,
            ),
            (
                "response-content-type=image/svg+xml",
                PathError::ActiveContentType,
            ),
            (
                "response-content-type=image/svg%2Bxml",
                PathError::ActiveContentType,
            ),
            (
                "response-content-type=text/xml",
                PathError::ActiveContentType,
            ),
            (
                "response-content-type=application/javascript",
                PathError::ActiveContentType,
            ),
            (
                "response-content-type=text/plain,text/html",
                PathError::ActiveContentType,
            ),
            (
                "response-content-type=text/plain;x=<",
                PathError::ActiveContentType,
            ),
            ("response-content-type=", PathError::ActiveContentType),
            ("response-content-type", PathError::ActiveContentType),
            ("versionId=1", PathError::ReadParameter),
            ("partNumber=1", PathError::ReadParameter),
            ("acl&acl", PathError::RepeatedParameter),
            (
                "response-expires=1&response-expires=2",
                PathError::RepeatedParameter,
            ),
            (
                "response%2Dcontent-type=text/html",
                PathError::EncodedParameterName,
            ),
            ("%61cl", PathError::EncodedParameterName),
            (
                "response-content-disposition=a b",
                PathError::InvalidCharacter,
            ),
        ] {
            assert_eq!(ok(q, &none), Err(e), "{q}");
        }
        let all = ReadQuery {
            version_id: true,
            part_number: true,
            active_types: true,
        };
        let q = "versionId=3&partNumber=2&response-content-type=text/html";
        assert_eq!(ok(q, &all), Ok((q.to_string(), false)));
        let versions = ReadQuery {
            version_id: true,
            ..none
        };
        assert_eq!(
            ok("versionId=3", &versions),
            Ok(("versionId=3".to_string(), false))
        );
        assert_eq!(ok("partNumber=2", &versions), Err(PathError::ReadParameter));
    }

    #[test]
    fn a_307_key_must_be_in_normal_form() {
        for loc in [
            "/internal-assets/secret%2etxt",
            "/internal-assets/secret%2Etxt",
            "/internal-assets/%73ecret.txt",
            "/internal-assets/a%2db",
            "/internal-assets/a%7E",
            "/internal-assets/caf%c3%a9",
        ] {
            assert_eq!(
                d(307, Some(loc), None),
                Decision::Unsafe(PathError::NotNormalForm),
                "{loc}"
            );
        }
        for (loc, path) in [
            ("/internal-assets/a%20b.txt", "/internal-assets/a%20b.txt"),
            ("/internal-assets/caf%C3%A9", "/internal-assets/caf%C3%A9"),
            (
                "/internal-assets/a%2Bb+c@2x.png",
                "/internal-assets/a%2Bb+c@2x.png",
            ),
            (
                "/internal-assets/100%25.txt?response-expires=%2e",
                "/internal-assets/100%25.txt?response-expires=%2e",
            ),
        ] {
            assert_eq!(d(307, Some(loc), None), internal(path), "{loc}");
        }
        // X-Accel-Redirect values keep nginx's decode-once rule.
        assert_eq!(
            d(200, None, Some("/internal-assets/secret%2etxt")),
            internal("/internal-assets/secret.txt")
        );
    }

    #[test]
    fn dropped_parameters_leave_the_target_and_are_reported() {
        assert_eq!(
            d(
                307,
                Some("/internal-assets/a.png?acl&response-content-type=image/png"),
                None
            ),
            Decision::Internal {
                path: "/internal-assets/a.png?response-content-type=image/png".into(),
                location:
                    "https://cdn.example/internal-assets/a.png?response-content-type=image/png"
                        .into(),
                dropped: true,
            }
        );
        assert_eq!(
            d(200, None, Some("/internal-assets/a.png?tagging")),
            Decision::Internal {
                path: "/internal-assets/a.png".into(),
                location: "https://cdn.example/internal-assets/a.png".into(),
                dropped: true,
            }
        );
        assert_eq!(
            d(
                200,
                None,
                Some("/internal-assets/a.png?response-content-type=text/html")
            ),
            Decision::Unsafe(PathError::ActiveContentType)
        );
    }

    #[test]
    fn accel_or_flagged_takes_no_unflagged_307() {
        let strict = |status, location, accel: Option<&str>, flagged| {
            let targets = Targets {
                prefixes: &prefixes(),
                authorities: &[],
                rules: &rules(),
                query: ReadQuery::default(),
                consent: ConsentBy::AccelOrFlagged,
            };
            let origin = Origin {
                authority: "cdn.example",
                scheme: "https",
            };
            let answer = Answer {
                status,
                location,
                accel: accel.map(str::as_bytes),
                flagged,
            };
            decide(&answer, &origin, &targets)
        };
        assert_eq!(
            strict(307, Some("/internal-assets/a.jpg"), None, false),
            Decision::Foreign
        );
        assert_eq!(
            strict(
                307,
                Some("https://cdn.example/internal-assets/a.jpg"),
                None,
                false
            ),
            Decision::Foreign
        );
        assert_eq!(
            strict(307, Some("/internal-assets/a.jpg"), None, true),
            internal("/internal-assets/a.jpg")
        );
        assert_eq!(
            strict(200, None, Some("/internal-assets/a.jpg"), false),
            internal("/internal-assets/a.jpg")
        );
        assert_eq!(
            strict(302, Some("/internal-assets/a.jpg"), None, true),
            Decision::PassThrough
        );
    }

    proptest::proptest! {
        /// Whatever the backend sends, an accepted target is under a prefix
        /// and no number of further decodings yields a traversal, a
        /// separator inside a segment, or a control byte.
        #[test]
        fn accepted_targets_stay_safe(value in proptest::collection::vec(proptest::num::u8::ANY, 0..60), tail in "[a%./25eEfFcC0 ]{1,24}") {
            let mut v = b"/internal-assets/".to_vec();
            v.extend_from_slice(tail.as_bytes());
            v.extend_from_slice(&value);
            for candidate in [value.clone(), v] {
                if let Decision::Internal { path, .. } = d(200, None, Some(&String::from_utf8_lossy(&candidate))) {
                    let p = path.split('?').next().unwrap_or_default();
                    proptest::prop_assert!(p.starts_with("/internal-assets/"));
                    for seg in p.as_bytes()["/internal-assets/".len()..].split(|&b| b == b'/') {
                        let mut cur = seg.to_vec();
                        for _ in 0..4 {
                            cur = decode_lenient(&cur);
                            proptest::prop_assert!(cur != b".." && cur != b"." && !cur.is_empty(), "{}", path);
                            proptest::prop_assert!(!cur.iter().any(|&b| b == b'/' || b == b'\\' || b == 0), "{}", path);
                        }
                    }
                }
                let _ = accel_path(&candidate);
            }
        }
    }
}
