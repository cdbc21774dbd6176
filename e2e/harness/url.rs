//! Percent-encoding as S3 clients write keys, and decoding what storage
//! lists back (the clients and storage the tests compare against).

/// RFC 3986 unreserved characters, never percent-encoded.
pub fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~".contains(&b)
}

/// Percent-encodes a key as the AWS SDKs do in paths: everything but RFC 3986
/// unreserved characters and `/`.
pub fn encode_key(key: &str) -> String {
    let mut s = String::new();
    for b in key.bytes() {
        if is_unreserved(b) || b == b'/' {
            s.push(b as char);
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s
}

/// Percent-encodes a query value completely (SDK style).
pub fn query_value(v: &str) -> String {
    encode_key(v).replace('/', "%2F")
}

/// Decodes `%XX` and `+` (S3's encoding-type=url uses form encoding for spaces).
pub fn url_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = vec![];
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                let h = std::str::from_utf8(&b[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(h, 16).unwrap());
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap()
}

/// Decodes `%XX` only (in a path `+` is a plus).
pub fn url_decode_path(s: &str) -> String {
    url_decode(&s.replace('+', "%2B"))
}
