//! Text split and tested at ASCII separators, byte by byte. At opt-level z a
//! `char` pattern (`starts_with(':')`, `split_once('?')`) encodes the char
//! and searches through generic code, several times the cost under V8
//! (callgrind of the signing path); every request does a few of these.
//! Also the one test of a query value's encoding that flows C and D share.

/// Whether `s` starts with the ASCII byte `b`.
pub fn starts_with(s: &str, b: u8) -> bool {
    s.as_bytes().first() == Some(&b)
}

/// `s` split around its first ASCII byte `b` (an ASCII byte is always a
/// char boundary), as `str::split_once(char)`.
pub fn split_once(s: &str, b: u8) -> Option<(&str, &str)> {
    debug_assert!(b.is_ascii());
    let at = s.bytes().position(|c| c == b)?;
    Some((s.get(..at)?, s.get(at + 1..)?))
}

/// What follows the last ASCII byte `b` in `s` (all of `s` without one),
/// as `s.rsplit(char).next()` without the reverse searcher.
pub fn after_last(s: &str, b: u8) -> &str {
    debug_assert!(b.is_ascii());
    match s.bytes().rposition(|c| c == b) {
        Some(at) => s.get(at + 1..).unwrap_or_default(),
        None => s,
    }
}

/// `s` without its leading and trailing spaces, as `s.trim_matches(' ')`.
pub fn trim_spaces(s: &str) -> &str {
    let b = s.as_bytes();
    let start = b.iter().position(|&c| c != b' ').unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|&c| c != b' ')
        .map_or(start, |at| at + 1);
    s.get(start..end).unwrap_or_default()
}

/// `s` split just before its first ASCII byte `b` (the second part starts
/// with `b`), as `s.split_at(s.find(char))` without `split_at`'s panic path
/// (core's char-boundary error formats a `char` with `Debug`, which pulls in
/// Unicode tables).
pub fn split_before(s: &str, b: u8) -> Option<(&str, &str)> {
    debug_assert!(b.is_ascii());
    let at = s.bytes().position(|c| c == b)?;
    s.split_at_checked(at)
}

/// Where `needle` first occurs in `hay` (never, for an empty one),
/// compared byte by byte: a `&str` pattern (`str::find("..")`) pulls in the
/// standard two-way substring searcher, about 2 KB of module, for needles
/// of a few bytes.
pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Whether `needle` occurs in `hay` ([`find`]).
pub fn contains(hay: &str, needle: &str) -> bool {
    find(hay.as_bytes(), needle.as_bytes()).is_some()
}

/// Bytes a query value storage gets may hold besides `%XX` escapes: RFC 3986
/// unreserved and the sub-delimiters every parser reads alike. `+` (a space
/// to some parsers, a plus to others), `;` (a pair separator to some) and `=`
/// are refused, so that asset-gate and storage read the same values.
fn plain_query_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~/:@!$'()*,".contains(&b)
}

/// Whether a query value is plainly percent-encoded: every `%` starts a
/// valid escape and every other byte is plain (flow C scopes, flow D
/// multipart calls).
pub fn plain_encoded(v: &[u8]) -> bool {
    let mut i = 0;
    while let Some(&b) = v.get(i) {
        if b == b'%' {
            let hex = |j: usize| v.get(j).is_some_and(u8::is_ascii_hexdigit);
            if !(hex(i + 1) && hex(i + 2)) {
                return false;
            }
            i += 3;
        } else if plain_query_byte(b) {
            i += 1;
        } else {
            return false;
        }
    }
    true
}

/// The `i`th of the NUL-terminated strings packed in `all` (`""` past the
/// end): tables of names and messages cost one string and no pointers.
pub fn nth_packed(all: &'static str, i: usize) -> &'static str {
    let mut rest = all;
    for _ in 0..i {
        rest = split_once(rest, 0).map_or("", |(_, r)| r);
    }
    split_once(rest, 0).map_or(rest, |(s, _)| s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_answers_as_the_str_pattern() {
        for (hay, needle) in [
            ("a..b", ".."),
            ("", ".."),
            ("abab", "ab"),
            ("ab", ""),
            ("a", "ab"),
        ] {
            let expected = (!needle.is_empty()).then(|| hay.find(needle)).flatten();
            assert_eq!(
                find(hay.as_bytes(), needle.as_bytes()),
                expected,
                "{hay:?} {needle:?}"
            );
        }
    }

    #[test]
    fn contains_answers_as_the_str_pattern() {
        for (hay, needle) in [
            ("a..b", ".."),
            ("a.b", ".."),
            ("", ".."),
            ("//", "//"),
            ("x", "xy"),
            ("text/xml", "xml"),
        ] {
            assert_eq!(
                contains(hay, needle),
                hay.contains(needle),
                "{hay:?} {needle:?}"
            );
        }
    }

    #[test]
    fn same_answers_as_the_char_patterns() {
        for s in ["", "?", "a?b", "/p?q?r", "é?x", "no", "?é", "x/"] {
            assert_eq!(split_once(s, b'?'), s.split_once('?'), "{s:?}");
            assert_eq!(starts_with(s, b'?'), s.starts_with('?'), "{s:?}");
            assert_eq!(starts_with(s, b'/'), s.starts_with('/'), "{s:?}");
            assert_eq!(
                split_before(s, b'?'),
                s.find('?').map(|i| s.split_at(i)),
                "{s:?}"
            );
            assert_eq!(after_last(s, b'?'), s.rsplit('?').next().unwrap(), "{s:?}");
        }
        for s in ["", " ", "  ", "a", " a ", "  a b  ", "é ", " \té\t "] {
            assert_eq!(trim_spaces(s), s.trim_matches(' '), "{s:?}");
        }
    }

    #[test]
    fn nth_packed_finds_each_string_and_nothing_past_the_end() {
        let all = "one\0two\0\0four\0";
        assert_eq!(nth_packed(all, 0), "one");
        assert_eq!(nth_packed(all, 1), "two");
        assert_eq!(nth_packed(all, 2), "");
        assert_eq!(nth_packed(all, 3), "four");
        assert_eq!(nth_packed(all, 4), "");
        assert_eq!(nth_packed(all, 9), "");
    }
}
