//! Text split and tested at ASCII separators, byte by byte. At opt-level z a
//! `char` pattern (`starts_with(':')`, `split_once('?')`) encodes the char
//! and searches through generic code, several times the cost under V8
//! (callgrind of the signing path); every request does a few of these.

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_answers_as_the_char_patterns() {
        for s in ["", "?", "a?b", "/p?q?r", "é?x", "no", "?é", "x/"] {
            assert_eq!(split_once(s, b'?'), s.split_once('?'), "{s:?}");
            assert_eq!(starts_with(s, b'?'), s.starts_with('?'), "{s:?}");
            assert_eq!(starts_with(s, b'/'), s.starts_with('/'), "{s:?}");
        }
    }
}
