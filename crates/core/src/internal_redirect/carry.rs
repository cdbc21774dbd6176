//! The backend's response headers that survive an internal redirect.
//!
//! nginx keeps a fixed set of the backend's headers when it follows an
//! `X-Accel-Redirect` (`Content-Disposition`, `Set-Cookie`, `Cache-Control`,
//! `Expires`, `Accept-Ranges`; Content-Type is the storage's in a proxied
//! location). Envoy discards the redirect response's headers, so the auth
//! backend role encodes them into the marker (MAC-protected, bounded) and the
//! storage role puts them on the storage answer. The backend's value replaces
//! the storage's copy of the same header; `Set-Cookie` lines are added.

use std::fmt;

/// The headers nginx copies from an X-Accel-Redirect answer, minus
/// Content-Type (a proxied location shows the storage's).
pub const NGINX_KEPT: [&str; 5] = [
    "content-disposition",
    "set-cookie",
    "cache-control",
    "expires",
    "accept-ranges",
];

/// Header names that may never be carried: framing, hop-by-hop, pseudo, and
/// asset-gate's own.
pub fn may_carry(name: &str) -> bool {
    !name.starts_with(':')
        && !name.starts_with("x-accel-")
        && ![
            "content-length",
            "transfer-encoding",
            "connection",
            "keep-alive",
            "upgrade",
            "te",
            "trailer",
            "proxy-connection",
            "location",
            "host",
        ]
        .contains(&name)
}

/// The carried headers did not fit the configured bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLarge {
    pub max: usize,
}

impl fmt::Display for TooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the backend's headers to keep exceed {} bytes", self.max)
    }
}

/// Encodes the headers of `answer` named in `names` (lower-case), in the
/// answer's order, as `name:value\n` lines. Header values never hold CR or LF,
/// so the encoding is unambiguous.
pub fn collect<'a>(
    answer: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    names: &[String],
    max: usize,
) -> Result<Vec<u8>, TooLarge> {
    let mut out = Vec::new();
    for (name, value) in answer {
        if !names.iter().any(|n| n == name) || value.contains(&b'\n') || value.contains(&b'\r') {
            continue;
        }
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        out.extend_from_slice(value);
        out.push(b'\n');
        if out.len() > max {
            return Err(TooLarge { max });
        }
    }
    Ok(out)
}

/// Decodes what `collect` produced. Lines that are not `name:value` are
/// skipped (they cannot occur: the bytes are MAC-protected).
pub fn parse(carried: &[u8]) -> Vec<(&str, &[u8])> {
    carried
        .split(|&b| b == b'\n')
        .filter_map(|line| {
            let colon = line.iter().position(|&b| b == b':')?;
            let name = std::str::from_utf8(&line[..colon]).ok()?;
            (!name.is_empty() && may_carry(name)).then(|| (name, &line[colon + 1..]))
        })
        .collect()
}

/// How a kept header goes onto the storage answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edit {
    /// Replace every value of the name (its first kept line): the backend's
    /// value wins over storage's.
    Replace,
    /// Add a line (`Set-Cookie`, and further lines of a name).
    Add,
}

/// The edits that put `kept` on the storage answer: each name's first line
/// replaces storage's copies, the rest are added; `Set-Cookie` lines are
/// always added.
pub fn edits<'a>(kept: &[(&'a str, &'a [u8])]) -> Vec<(&'a str, &'a [u8], Edit)> {
    let mut seen: Vec<&str> = Vec::new();
    kept.iter()
        .map(|&(name, value)| {
            let edit = if name == "set-cookie" || seen.contains(&name) {
                Edit::Add
            } else {
                seen.push(name);
                Edit::Replace
            };
            (name, value, edit)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Vec<String> {
        NGINX_KEPT.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn keeps_nginx_headers_in_order() {
        let answer: Vec<(&str, &[u8])> = vec![
            ("content-type", b"text/html; charset=utf-8"),
            ("set-cookie", b"a=1; Path=/"),
            (
                "content-disposition",
                b"attachment; filename*=UTF-8''r%C3%A9sum%C3%A9.txt",
            ),
            ("x-request-id", b"abc"),
            ("set-cookie", b"b=2"),
            ("cache-control", b"private"),
            ("cache-control", b"max-age=0"),
            ("content-length", b"12"),
        ];
        let c = collect(answer, &names(), 4096).unwrap();
        assert_eq!(
            parse(&c),
            vec![
                ("set-cookie", &b"a=1; Path=/"[..]),
                (
                    "content-disposition",
                    b"attachment; filename*=UTF-8''r%C3%A9sum%C3%A9.txt"
                ),
                ("set-cookie", b"b=2"),
                ("cache-control", b"private"),
                ("cache-control", b"max-age=0"),
            ]
        );
        let e: Vec<(&str, Edit)> = edits(&parse(&c))
            .into_iter()
            .map(|(n, _, e)| (n, e))
            .collect();
        assert_eq!(
            e,
            vec![
                ("set-cookie", Edit::Add),
                ("content-disposition", Edit::Replace),
                ("set-cookie", Edit::Add),
                ("cache-control", Edit::Replace),
                ("cache-control", Edit::Add),
            ]
        );
    }

    #[test]
    fn bounded() {
        let long = vec![b'a'; 100];
        let answer = vec![("set-cookie", long.as_slice())];
        assert_eq!(
            collect(answer.clone(), &names(), 50),
            Err(TooLarge { max: 50 })
        );
        assert!(collect(answer, &names(), 200).is_ok());
    }

    #[test]
    fn values_with_line_breaks_or_forbidden_names_are_never_carried() {
        let answer: Vec<(&str, &[u8])> = vec![("set-cookie", b"a=1\nx-evil:1")];
        assert_eq!(collect(answer, &names(), 4096), Ok(vec![]));
        assert_eq!(
            parse(b"content-length:5\n:status:200\nx-accel-redirect:/x\n"),
            vec![]
        );
        for n in [
            "content-length",
            ":status",
            "x-accel-buffering",
            "transfer-encoding",
            "location",
        ] {
            assert!(!may_carry(n), "{n}");
        }
        assert!(may_carry("content-security-policy"));
    }

    proptest::proptest! {
        #[test]
        fn round_trip(values in proptest::collection::vec("[ -~]{0,30}", 0..6)) {
            let n = names();
            let answer: Vec<(&str, &[u8])> = values.iter().enumerate()
                .map(|(i, v)| (NGINX_KEPT[i % 5], v.as_bytes())).collect();
            let c = collect(answer.clone(), &n, 1 << 16).unwrap();
            proptest::prop_assert_eq!(parse(&c), answer);
        }

        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            let _ = edits(&parse(&bytes));
        }
    }
}
