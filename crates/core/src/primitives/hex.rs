//! Lower-case hex, by table. Measured under V8 (bench/micro): the `hex`
//! crate's encode/decode of a marker's carried headers took 1.4/2.0 µs, a
//! table 0.16/0.15 µs; markers and signatures are hex on every request.

const DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Both digits of every byte: one lookup a byte instead of two.
const PAIRS: [[u8; 2]; 256] = {
    let mut t = [[0u8; 2]; 256];
    let mut b = 0usize;
    while b < 256 {
        t[b] = [DIGITS[b >> 4], DIGITS[b & 15]];
        b += 1;
    }
    t
};

/// Appends the lower-case hex of `bytes` to `out`, written as bytes into a
/// buffer sized up front (pushing a `char` per digit was the slow part).
pub fn encode_to(out: &mut String, bytes: &[u8]) {
    out.reserve(bytes.len() * 2);
    // A stack buffer per 32 bytes: no per-digit `push` call (not inlined at
    // opt-level z) and no heap buffer.
    let mut buf = [0u8; 64];
    for chunk in bytes.chunks(32) {
        for (pair, &b) in buf.chunks_exact_mut(2).zip(chunk) {
            pair.copy_from_slice(&PAIRS[usize::from(b)]);
        }
        let text = buf.get(..chunk.len() * 2).unwrap_or_default();
        // Only ASCII digits went in, so this never falls back.
        out.push_str(std::str::from_utf8(text).unwrap_or_default());
    }
}

/// [`PAIRS`] as little-endian words, for writing eight digits at once.
const PAIR_WORDS: [u16; 256] = {
    let mut t = [0u16; 256];
    let mut b = 0usize;
    while b < 256 {
        t[b] = u16::from_le_bytes(PAIRS[b]);
        b += 1;
    }
    t
};

/// The lower-case hex of a SHA-256 digest, on the stack: four bytes'
/// digits stored as one word (a byte at a time was 12 instructions a byte
/// under V8; every signature writes two of these).
pub fn encode32(bytes: &[u8; 32]) -> [u8; 64] {
    let mut out = [0u8; 64];
    for (k, four) in bytes.chunks_exact(4).enumerate() {
        // A range of constant length: the copy is one eight-byte store.
        if let (&[a, b, c, d], Some(digits)) = (four, out.get_mut(8 * k..8 * k + 8)) {
            let pair = |x: u8| u64::from(PAIR_WORDS[usize::from(x)]);
            let word = pair(a) | pair(b) << 16 | pair(c) << 32 | pair(d) << 48;
            digits.copy_from_slice(&word.to_le_bytes());
        }
    }
    out
}

/// The lower-case hex of `bytes`.
pub fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    encode_to(&mut out, bytes);
    out
}

/// Each byte's value as a hex digit (either case), `NOT_HEX` otherwise.
const NOT_HEX: u8 = 0xff;
const VALUES: [u8; 256] = {
    let mut t = [NOT_HEX; 256];
    let mut i = 0;
    while i < 16 {
        t[DIGITS[i] as usize] = i as u8;
        t[DIGITS[i].to_ascii_uppercase() as usize] = i as u8;
        i += 1;
    }
    t
};

/// The value of one hex digit (either case), for percent-decoding too.
#[inline]
pub fn digit(c: u8) -> Option<u8> {
    let v = VALUES[usize::from(c)];
    (v != NOT_HEX).then_some(v)
}

/// Decodes hex (either case); `None` for an odd length or a non-hex digit.
/// Written into a buffer sized up front, errors collected in one mask (a
/// marker's carried headers are decoded on every flow A request).
pub fn decode(text: &str) -> Option<Vec<u8>> {
    let t = text.as_bytes();
    if !t.len().is_multiple_of(2) {
        return None;
    }
    let mut out = vec![0u8; t.len() / 2];
    let mut invalid = 0u8;
    for (byte, pair) in out.iter_mut().zip(t.chunks_exact(2)) {
        let (hi, lo) = (VALUES[usize::from(pair[0])], VALUES[usize::from(pair[1])]);
        invalid |= hi | lo;
        *byte = hi << 4 | lo;
    }
    // Digits are 0..=15; NOT_HEX sets the high bits.
    (invalid & 0xf0 == 0).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_errors() {
        assert_eq!(encode(&[0, 1, 0xab, 0xff]), "0001abff");
        assert_eq!(decode("0001abff"), Some(vec![0, 1, 0xab, 0xff]));
        assert_eq!(decode("0001ABFF"), Some(vec![0, 1, 0xab, 0xff]));
        assert_eq!(decode(""), Some(vec![]));
        for bad in ["0", "0g", "zz", " 00", "00 "] {
            assert_eq!(decode(bad), None, "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn agrees_with_the_hex_crate(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..100), text in "[0-9a-fA-Fg ]{0,20}") {
            proptest::prop_assert_eq!(encode(&bytes), ::hex::encode(&bytes));
            proptest::prop_assert_eq!(decode(&encode(&bytes)), Some(bytes));
            proptest::prop_assert_eq!(decode(&text), ::hex::decode(&text).ok());
        }

        #[test]
        fn a_digest_agrees_with_the_hex_crate(digest in proptest::array::uniform32(proptest::num::u8::ANY)) {
            let want = ::hex::encode(digest);
            proptest::prop_assert_eq!(&encode32(&digest)[..], want.as_bytes());
        }
    }
}
