//! Internal redirects: which backend answers become an internal redirect to
//! storage, and which object paths are safe to hand to storage at all.

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
    TooLong { max: usize },
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

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-decodes one path segment.
fn decode_segment(seg: &[u8]) -> Result<Vec<u8>, PathError> {
    let mut out = Vec::with_capacity(seg.len());
    let mut i = 0;
    while i < seg.len() {
        if seg[i] == b'%' {
            let hi = seg.get(i + 1).copied().and_then(hex_val);
            let lo = seg.get(i + 2).copied().and_then(hex_val);
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

fn contains_ignore_case(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
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
        let decoded = decode_segment(seg)?;
        if decoded.iter().any(|&b| b < 0x20 || b == 0x7f) {
            return Err(PathError::ControlCharacter);
        }
        if decoded.iter().any(|&b| b == b'/' || b == b'\\') {
            return Err(PathError::EncodedSeparator);
        }
        if decoded == b"." || decoded == b".." {
            return Err(PathError::DotSegment);
        }
        // A second decoding (by some server or library) must not produce a
        // separator or a dot segment either.
        if [&b"%2e"[..], b"%2f", b"%5c", b"%00"]
            .iter()
            .any(|n| contains_ignore_case(&decoded, n))
        {
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
    let path = path_and_query
        .split_once('?')
        .map_or(path_and_query, |(p, _)| p);
    let prefix = prefixes
        .iter()
        .filter(|p| path.starts_with(p.as_str()))
        .max_by_key(|p| p.len())
        .ok_or(PathError::NotInternal)?;
    validate_key(&path[prefix.len()..], rules)?;
    Ok(prefix)
}

/// What the auth-backend-side instance does with a backend's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Not a redirect: pass it on (minus any marker header).
    PassThrough,
    /// Turn into (or keep) a 307 to `location`, marked for `path`.
    Internal { path: String, location: String },
    /// A redirect somewhere other than an internal prefix on this authority.
    Foreign,
    /// The backend asked for an internal target that is not safe.
    Unsafe(PathError),
}

/// Splits a `Location` value into (authority, path-and-query); `None` for
/// anything that is not an absolute URL or an absolute path.
fn split_location(location: &str) -> Option<(Option<&str>, &str)> {
    let location = location.split_once('#').map_or(location, |(l, _)| l);
    if let Some(rest) = location
        .strip_prefix("http://")
        .or_else(|| location.strip_prefix("https://"))
    {
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) => rest.split_at(i),
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

/// Decides on a backend answer. `accel` is the `X-Accel-Redirect` header,
/// `location` is only considered for a 307; `authority` and `scheme` are
/// those of the client's request, which the internal redirect must keep.
pub fn decide(
    status: u32,
    location: Option<&str>,
    accel: Option<&str>,
    authority: &str,
    scheme: &str,
    prefixes: &[String],
    rules: &KeyRules,
) -> Decision {
    let internal = |path: &str| match validate_internal_path(path, prefixes, rules) {
        Ok(_) => Decision::Internal {
            path: path.to_string(),
            location: format!("{scheme}://{authority}{path}"),
        },
        Err(PathError::NotInternal) => Decision::Foreign,
        Err(e) => Decision::Unsafe(e),
    };
    if let Some(target) = accel {
        return match split_location(target.trim()) {
            Some((None, path)) => match internal(path) {
                // An X-Accel-Redirect must name an internal location.
                Decision::Foreign => Decision::Unsafe(PathError::NotInternal),
                d => d,
            },
            _ => Decision::Unsafe(PathError::NotInternal),
        };
    }
    if status != 307 {
        return Decision::PassThrough;
    }
    match location.map(str::trim).and_then(split_location) {
        Some((Some(a), path)) if a.eq_ignore_ascii_case(authority) => internal(path),
        Some((None, path)) => internal(path),
        _ => Decision::Foreign,
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

    fn d(status: u32, location: Option<&str>, accel: Option<&str>) -> Decision {
        decide(
            status,
            location,
            accel,
            "cdn.example",
            "https",
            &prefixes(),
            &rules(),
        )
    }

    #[test]
    fn accel_redirect_becomes_internal() {
        assert_eq!(
            d(200, None, Some("/internal-assets/a b.jpg")),
            Decision::Unsafe(PathError::InvalidCharacter)
        );
        assert_eq!(
            d(
                200,
                None,
                Some("/internal-assets/x/1.jpg?response-content-type=image%2Fjpeg")
            ),
            Decision::Internal {
                path: "/internal-assets/x/1.jpg?response-content-type=image%2Fjpeg".into(),
                location:
                    "https://cdn.example/internal-assets/x/1.jpg?response-content-type=image%2Fjpeg"
                        .into(),
            }
        );
        // any status carries an X-Accel-Redirect, as in nginx
        assert!(matches!(
            d(403, None, Some("/internal-assets/a")),
            Decision::Internal { .. }
        ));
    }

    #[test]
    fn accel_redirect_elsewhere_is_refused() {
        for target in [
            "/assets/a",
            "https://cdn.example/internal-assets/a",
            "//evil/internal-assets/a",
            "internal-assets/a",
        ] {
            assert_eq!(
                d(200, None, Some(target)),
                Decision::Unsafe(PathError::NotInternal),
                "{target}"
            );
        }
        assert_eq!(
            d(200, None, Some("/internal-assets/%2e%2e/secret")),
            Decision::Unsafe(PathError::DotSegment)
        );
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
}
