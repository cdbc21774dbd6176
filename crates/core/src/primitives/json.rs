//! A small JSON reader and writer for what the module reads (its
//! configuration, provider and credentials answers) and the header cache it
//! writes to shared data. Hand-written instead of serde_json: the module needs
//! values, not serde's machinery, and this is about 12 KB smaller in the
//! module (the 256 KB budget); serde_json stays the oracle in the tests.
//!
//! RFC 8259: UTF-8 input, one value, nesting bounded by [`MAX_DEPTH`]; a
//! duplicated object key keeps its last value (as serde_json does).

use std::fmt;

/// Deepest nesting accepted (serde_json's default recursion limit is 128).
pub const MAX_DEPTH: usize = 128;

/// A JSON value. Objects keep their keys in document order.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Number(Number),
    String(String),
    Array(Vec<Value>),
    Object(Map),
}

/// A JSON number. Nothing the module reads is fractional, so a fraction, an
/// exponent or an integer out of range is kept as its text, unconverted:
/// float parsing and printing would cost the module about 20 KB.
#[derive(Debug, Clone, PartialEq)]
pub enum Number {
    /// A non-negative integer that fits `u64`.
    Unsigned(u64),
    /// A negative integer that fits `i64`.
    Signed(i64),
    /// Any other number, as written.
    Other(String),
}

/// A JSON object: its members in document order, keys unique.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Map(Vec<(String, Value)>);

impl Map {
    pub fn new() -> Map {
        Map::default()
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.0.iter().map(|(k, _)| k)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &Value)> {
        self.0.iter().map(|(k, v)| (k, v))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Adds a member; a key already there gets the new value. One scan per
    /// call: the parser builds objects with [`Map::from_members`] instead.
    pub fn insert(&mut self, key: String, value: Value) {
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.0.push((key, value)),
        }
    }

    /// The map of an object's members in document order, in O(n log n)
    /// (one `insert` per member would be quadratic in a hostile answer's
    /// key count): a repeated key keeps its first place and its last value.
    fn from_members(mut members: Vec<(String, Value)>) -> Map {
        let n = members.len();
        if n < 2 {
            return Map(members);
        }
        // Member indices by key, equal keys in document order.
        let mut order: Vec<usize> = (0..n).collect();
        super::sort::heap_sort_by(&mut order, |&a, &b| before(&members, a, b));
        // Each run of one key: the later members' values move, in document
        // order, to its first member; the later members go.
        let mut repeated = vec![false; n];
        let mut first = order[0];
        for &at in &order[1..] {
            if members[at].0 == members[first].0 {
                members[first].1 = std::mem::replace(&mut members[at].1, Value::Null);
                repeated[at] = true;
            } else {
                first = at;
            }
        }
        let mut kept = repeated.iter();
        members.retain(|_| !kept.next().copied().unwrap_or(false));
        Map(members)
    }
}

/// Whether member `a` goes before member `b`: by key, then document order.
fn before(members: &[(String, Value)], a: usize, b: usize) -> bool {
    (members[a].0.as_str(), a) < (members[b].0.as_str(), b)
}

impl Value {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// A non-negative integer (not `1.0`, as serde_json).
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::Number(Number::Unsigned(n)) => Some(*n),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&Vec<Value>> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    pub fn as_object(&self) -> Option<&Map> {
        match self {
            Value::Object(m) => Some(m),
            _ => None,
        }
    }

    /// An object's member.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_object()?.get(key)
    }
}

/// Why a text is not JSON, and where (a byte offset).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub reason: &'static str,
    pub at: usize,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.reason, self.at)
    }
}

impl std::error::Error for Error {}

/// Parses one JSON value (surrounding whitespace allowed).
pub fn parse(bytes: &[u8]) -> Result<Value, Error> {
    if let Err(e) = std::str::from_utf8(bytes) {
        return Err(Error {
            reason: "not UTF-8",
            at: e.valid_up_to(),
        });
    }
    let mut p = Parser { s: bytes, at: 0 };
    let v = p.value(0)?;
    p.skip_ws();
    if p.at != bytes.len() {
        return Err(p.err("trailing characters"));
    }
    Ok(v)
}

struct Parser<'a> {
    s: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn err(&self, reason: &'static str) -> Error {
        Error {
            reason,
            at: self.at,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.at).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn literal(&mut self, word: &[u8], v: Value) -> Result<Value, Error> {
        if self.s.get(self.at..self.at + word.len()) == Some(word) {
            self.at += word.len();
            Ok(v)
        } else {
            Err(self.err("expected a value"))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, Error> {
        self.skip_ws();
        match self.peek() {
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => self.string().map(Value::String),
            Some(b't') => self.literal(b"true", Value::Bool(true)),
            Some(b'f') => self.literal(b"false", Value::Bool(false)),
            Some(b'n') => self.literal(b"null", Value::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(self.err("expected a value")),
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value, Error> {
        if depth > MAX_DEPTH {
            return Err(self.err("nested too deeply"));
        }
        self.at += 1; // [
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.at += 1;
            return Ok(Value::Array(items));
        }
        loop {
            items.push(self.value(depth)?);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b']') => {
                    self.at += 1;
                    return Ok(Value::Array(items));
                }
                _ => return Err(self.err("expected ',' or ']'")),
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value, Error> {
        if depth > MAX_DEPTH {
            return Err(self.err("nested too deeply"));
        }
        self.at += 1; // {
        let mut members = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Ok(Value::Object(Map::new()));
        }
        loop {
            self.skip_ws();
            if self.peek() != Some(b'"') {
                return Err(self.err("expected a key"));
            }
            let key = self.string()?;
            self.skip_ws();
            if self.peek() != Some(b':') {
                return Err(self.err("expected ':'"));
            }
            self.at += 1;
            let v = self.value(depth)?;
            members.push((key, v));
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b'}') => {
                    self.at += 1;
                    return Ok(Value::Object(Map::from_members(members)));
                }
                _ => return Err(self.err("expected ',' or '}'")),
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, Error> {
        let mut v = 0u32;
        for _ in 0..4 {
            let d = self
                .peek()
                .and_then(crate::primitives::hex::digit)
                .ok_or_else(|| self.err("invalid \\u escape"))?;
            v = v << 4 | u32::from(d);
            self.at += 1;
        }
        Ok(v)
    }

    fn string(&mut self) -> Result<String, Error> {
        self.at += 1; // opening quote
        let mut out = String::new();
        loop {
            // Copy the run up to the next quote, backslash or control byte.
            let start = self.at;
            while matches!(self.peek(), Some(b) if b != b'"' && b != b'\\' && b >= 0x20) {
                self.at += 1;
            }
            // The input is UTF-8 and the run ends at an ASCII byte or the end.
            let run = self.s.get(start..self.at).unwrap_or_default();
            out.push_str(std::str::from_utf8(run).map_err(|_| self.err("not UTF-8"))?);
            match self.peek() {
                Some(b'"') => {
                    self.at += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.at += 1;
                    let c = match self.peek() {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            self.at += 1;
                            let c = self.unicode_escape()?;
                            out.push(c);
                            continue;
                        }
                        _ => return Err(self.err("invalid escape")),
                    };
                    self.at += 1;
                    out.push(c);
                }
                None => return Err(self.err("unterminated string")),
                Some(_) => return Err(self.err("control character in a string")),
            }
        }
    }

    /// The code point of `\uXXXX` (after the `u`), a surrogate pair joined.
    fn unicode_escape(&mut self) -> Result<char, Error> {
        let hi = self.hex4()?;
        let code = if (0xD800..0xDC00).contains(&hi) {
            if self.s.get(self.at..self.at + 2) != Some(b"\\u") {
                return Err(self.err("lone surrogate"));
            }
            self.at += 2;
            let lo = self.hex4()?;
            if !(0xDC00..0xE000).contains(&lo) {
                return Err(self.err("lone surrogate"));
            }
            0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
        } else if (0xDC00..0xE000).contains(&hi) {
            return Err(self.err("lone surrogate"));
        } else {
            hi
        };
        char::from_u32(code).ok_or_else(|| self.err("invalid \\u escape"))
    }

    fn digits(&mut self) -> usize {
        let start = self.at;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.at += 1;
        }
        self.at - start
    }

    fn number(&mut self) -> Result<Value, Error> {
        let start = self.at;
        let negative = self.peek() == Some(b'-');
        if negative {
            self.at += 1;
        }
        match self.peek() {
            Some(b'0') => self.at += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.err("invalid number")),
        }
        let mut integer = true;
        if self.peek() == Some(b'.') {
            self.at += 1;
            integer = false;
            if self.digits() == 0 {
                return Err(self.err("invalid number"));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.at += 1;
            integer = false;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.at += 1;
            }
            if self.digits() == 0 {
                return Err(self.err("invalid number"));
            }
        }
        // ASCII digits and signs only, so this is a str.
        let text = std::str::from_utf8(self.s.get(start..self.at).unwrap_or_default())
            .map_err(|_| self.err("invalid number"))?;
        let n = if integer && !negative {
            text.parse().map(Number::Unsigned).ok()
        } else if integer {
            // `-0` is a float for serde_json too.
            text.parse()
                .ok()
                .filter(|&i: &i64| i != 0)
                .map(Number::Signed)
        } else {
            None
        };
        Ok(Value::Number(
            n.unwrap_or_else(|| Number::Other(text.to_string())),
        ))
    }
}

/// Compact JSON, members in document order.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Number(Number::Unsigned(n)) => write!(f, "{n}"),
            Value::Number(Number::Signed(n)) => write!(f, "{n}"),
            Value::Number(Number::Other(text)) => f.write_str(text),
            Value::String(s) => {
                let mut out = String::new();
                write_string(&mut out, s);
                f.write_str(&out)
            }
            Value::Array(items) => {
                f.write_str("[")?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
            Value::Object(map) => {
                f.write_str("{")?;
                for (i, (k, v)) in map.iter().enumerate() {
                    let mut key = String::new();
                    write_string(&mut key, k);
                    write!(f, "{}{key}:{v}", if i > 0 { "," } else { "" })?;
                }
                f.write_str("}")
            }
        }
    }
}

/// Appends `s` as a JSON string (quoted, escaped).
pub fn write_string(out: &mut String, s: &str) {
    out.push('"');
    let mut rest = s;
    while let Some(i) = rest
        .bytes()
        .position(|b| b == b'"' || b == b'\\' || b < 0x20)
    {
        out.push_str(rest.get(..i).unwrap_or_default());
        let b = rest.as_bytes().get(i).copied().unwrap_or_default();
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            _ => {
                out.push_str("\\u00");
                out.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
                out.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
            }
        }
        rest = rest.get(i + 1..).unwrap_or_default();
    }
    out.push_str(rest);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    /// serde_json's reading of `text`, in this module's terms, as the oracle.
    fn oracle(text: &[u8]) -> Option<Value> {
        fn convert(v: serde_json::Value) -> Value {
            match v {
                serde_json::Value::Null => Value::Null,
                serde_json::Value::Bool(b) => Value::Bool(b),
                serde_json::Value::Number(n) => Value::Number(if let Some(u) = n.as_u64() {
                    Number::Unsigned(u)
                } else if let Some(i) = n.as_i64() {
                    Number::Signed(i)
                } else {
                    Number::Other(String::new())
                }),
                serde_json::Value::String(s) => Value::String(s),
                serde_json::Value::Array(a) => Value::Array(a.into_iter().map(convert).collect()),
                serde_json::Value::Object(m) => {
                    let mut out = Map::new();
                    for (k, v) in m {
                        out.insert(k, convert(v));
                    }
                    Value::Object(out)
                }
            }
        }
        serde_json::from_slice::<serde_json::Value>(text)
            .ok()
            .map(convert)
    }

    /// Objects compared as sets of members (serde_json sorts its keys).
    fn same(a: &Value, b: &Value) -> bool {
        match (a, b) {
            (Value::Object(x), Value::Object(y)) => {
                x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
            }
            (Value::Array(x), Value::Array(y)) => {
                x.len() == y.len() && x.iter().zip(y).all(|(v, w)| same(v, w))
            }
            // Fractions are kept as text here, as f64 there.
            (Value::Number(Number::Other(_)), Value::Number(Number::Other(_))) => true,
            _ => a == b,
        }
    }

    fn agree(text: &[u8]) {
        let mine = parse(text);
        let theirs = oracle(text);
        // serde_json refuses numbers beyond f64 (1e400); here they stay text.
        let out_of_range = serde_json::from_slice::<serde_json::Value>(text)
            .is_err_and(|e| e.to_string().contains("out of range"));
        match (&mine, &theirs) {
            (Ok(m), Some(t)) => assert!(
                same(m, t),
                "{:?}: {m:?} vs {t:?}",
                String::from_utf8_lossy(text)
            ),
            (Err(_), None) => {}
            (Ok(_), None) if out_of_range => {}
            _ => panic!(
                "{:?}: mine {mine:?}, serde_json {theirs:?}",
                String::from_utf8_lossy(text)
            ),
        }
    }

    #[test]
    fn reads_what_serde_json_reads() {
        for text in [
            r#"{"role":"storage","signing":{"region":"us-east-1","buckets":[{"prefix":"/a/","bucket":"b"}]}}"#,
            r#" { "a" : [ 1 , -2 , 3.5 , 1e3 , -0 , 0.1E-2 , true , false , null ] } "#,
            r#""\u00e9\ud83d\ude00\n\t\"\\\/""#,
            r#"{"a":1,"a":2}"#,
            "18446744073709551615",
            "18446744073709551616",
            "-9223372036854775808",
            "-9223372036854775809",
            "{}",
            "[]",
            "\"é\"",
            // Refused by both:
            "",
            " ",
            "{",
            "[1,]",
            "{\"a\":1,}",
            "01",
            "1.",
            ".5",
            "+1",
            "1e",
            "tru",
            "nul",
            "\"\\ud800\"",
            "\"\\udc00\"",
            "\"\\x\"",
            "\"a\nb\"",
            "\"unterminated",
            "{\"a\" 1}",
            "{1:2}",
            "[1] 2",
            "1e400",
            "NaN",
        ] {
            agree(text.as_bytes());
        }
        agree(b"\"\xff\"");
        let deep = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        assert!(parse(deep.as_bytes()).is_err());
        let ok = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert!(parse(ok.as_bytes()).is_ok());
    }

    #[test]
    fn duplicated_keys_keep_the_last_value_in_first_place() {
        let v = parse(br#"{"a":1,"b":2,"a":3}"#).unwrap();
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["a", "b"]);
        assert_eq!(v.get("a").and_then(Value::as_u64), Some(3));
    }

    #[test]
    fn many_keys_and_repeats_match_serde_json() {
        // Keys out of order, repeated two and three times, far apart.
        let mut text = String::from("{");
        for i in 0..3000u32 {
            let key = (i * 7919) % 1000;
            text.push_str(&format!("\"k{key}\":{i},"));
        }
        text.push_str("\"last\":true}");
        let ours = parse(text.as_bytes()).unwrap();
        let object = ours.as_object().unwrap();
        assert_eq!(object.len(), 1001);
        let first: Vec<&String> = object.keys().take(3).collect();
        assert_eq!(first, ["k0", "k919", "k838"]);
        let theirs: serde_json::Value = serde_json::from_str(&text).unwrap();
        for (k, v) in object.iter() {
            assert_eq!(v.as_u64(), theirs[k.as_str()].as_u64(), "{k}");
        }
        assert_eq!(ours.get("k0").and_then(Value::as_u64), Some(2000));
    }

    #[test]
    fn values_print_as_compact_json() {
        let text = r#"{"b":[1,-2,2.50,"x\"y",null,true],"a":{"d":false,"c":"é"}}"#;
        let printed = parse(text.as_bytes()).unwrap().to_string();
        assert_eq!(printed, text);
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&printed).unwrap(),
            serde_json::from_str::<serde_json::Value>(text).unwrap()
        );
    }

    #[test]
    fn written_strings_read_back() {
        for s in [
            "plain",
            "quote \" and \\ back",
            "tab\tnew\nline\r\u{1}\u{1f}",
            "é 😀",
        ] {
            let mut out = String::new();
            write_string(&mut out, s);
            assert_eq!(serde_json::from_str::<String>(&out).unwrap(), s);
            assert_eq!(parse(out.as_bytes()).unwrap(), Value::String(s.to_string()));
        }
    }

    proptest::proptest! {
        #[test]
        fn agrees_with_serde_json_on_json_like_text(text in r#"[\[\]{}",:0-9.eE+\- a-z\\u\t\n]{0,40}"#) {
            agree(text.as_bytes());
        }

        #[test]
        fn agrees_with_serde_json_on_any_bytes(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..40)) {
            agree(&bytes);
        }
    }
}
