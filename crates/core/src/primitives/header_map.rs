//! Header maps as Envoy hands them over: one serialised buffer, read in
//! place. The SDK's `get_map_bytes` copies every name and value into its own
//! `String` and `Vec` (two allocations a header, about 1.8 µs a map in
//! Envoy's V8, `make bench`'s floor variants); the roles read borrowed pairs
//! instead, and the core reads either kind through [`Pair`].

/// One header, borrowed from the host's buffer (or from a rewrite).
pub type Header<'a> = (&'a str, &'a [u8]);

/// A header as the core reads it, owned (tests, built maps) or borrowed
/// (what the host hands over).
pub trait Pair {
    fn name(&self) -> &str;
    fn value(&self) -> &[u8];
}

impl Pair for (String, Vec<u8>) {
    fn name(&self) -> &str {
        &self.0
    }
    fn value(&self) -> &[u8] {
        &self.1
    }
}

impl Pair for (&str, &[u8]) {
    fn name(&self) -> &str {
        self.0
    }
    fn value(&self) -> &[u8] {
        self.1
    }
}

/// The first value of `name` (names compared exactly: Envoy's maps are
/// lowercase).
pub fn first<'a, H: Pair>(headers: &'a [H], name: &str) -> Option<&'a [u8]> {
    headers.iter().find(|h| h.name() == name).map(|h| h.value())
}

/// The pairs of a map in the proxy-wasm serialisation: a little-endian u32
/// count, then a (name length, value length) u32 pair per header, then each
/// name and value followed by a NUL. `None` for a buffer that does not hold
/// exactly that, or a name that is not UTF-8 (Envoy sends neither).
pub fn parse(buf: &[u8]) -> Option<Vec<Header<'_>>> {
    if buf.is_empty() {
        return Some(Vec::new());
    }
    let u32_at = |at: usize| -> Option<usize> {
        let b = buf.get(at..at.checked_add(4)?)?;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    };
    let count = u32_at(0)?;
    let mut data = count.checked_mul(8)?.checked_add(4)?;
    if data > buf.len() {
        return None;
    }
    let mut out = Vec::with_capacity(count);
    // Names are UTF-8 checked once for the whole buffer when it all is (one
    // call instead of one per header); a map with other bytes in a value is
    // checked name by name.
    let start = data;
    let text = buf.get(start..).and_then(|b| std::str::from_utf8(b).ok());
    for i in 0..count {
        let name_len = u32_at(4 + i * 8)?;
        let value_len = u32_at(8 + i * 8)?;
        let name_at = data;
        let name_end = name_at.checked_add(name_len)?;
        if buf.get(name_end) != Some(&0) {
            return None;
        }
        let name = match text {
            Some(t) => t.get(name_at - start..name_end - start)?,
            None => std::str::from_utf8(buf.get(name_at..name_end)?).ok()?,
        };
        let value_at = name_end + 1;
        let value_end = value_at.checked_add(value_len)?;
        let value = buf.get(value_at..value_end)?;
        if buf.get(value_end) != Some(&0) {
            return None;
        }
        data = value_end + 1;
        out.push((name, value));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The proxy-wasm serialisation (as Envoy and the SDK write it).
    fn serialise(pairs: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = (pairs.len() as u32).to_le_bytes().to_vec();
        for (k, v) in pairs {
            out.extend((k.len() as u32).to_le_bytes());
            out.extend((v.len() as u32).to_le_bytes());
        }
        for (k, v) in pairs {
            out.extend(k.as_bytes());
            out.push(0);
            out.extend(*v);
            out.push(0);
        }
        out
    }

    #[test]
    fn reads_a_map_in_place() {
        let map: Vec<(&str, &[u8])> = vec![
            (":method", b"GET"),
            (":path", b"/a?b"),
            ("set-cookie", b""),
            ("x-bin", &[0xff, 0, 1]),
        ];
        let buf = serialise(&map);
        assert_eq!(parse(&buf).unwrap(), map);
        assert_eq!(parse(&[]).unwrap(), vec![]);
        assert_eq!(first(&map, ":path"), Some(&b"/a?b"[..]));
        assert_eq!(first(&map, ":PATH"), None);
    }

    #[test]
    fn refuses_what_envoy_does_not_send() {
        let buf = serialise(&[("a", b"1"), ("b", b"2")]);
        // Truncated anywhere, a missing NUL, a count past the end.
        for cut in 1..buf.len() {
            assert_eq!(parse(&buf[..cut]), None, "cut at {cut}");
        }
        let mut no_nul = buf.clone();
        let last = no_nul.len() - 1;
        no_nul[last] = b'x';
        assert_eq!(parse(&no_nul), None);
        assert_eq!(parse(&[0xff, 0xff, 0xff, 0xff]), None);
        let bad_name = serialise(&[("\u{e9}", b"1")]);
        let mut bad = bad_name.clone();
        bad[12] = 0xff;
        assert_eq!(parse(&bad), None);
    }

    proptest! {
        #[test]
        fn round_trips_and_never_panics(
            pairs in prop::collection::vec(("[a-z:-]{0,12}", prop::collection::vec(any::<u8>(), 0..24)), 0..12),
            noise in prop::collection::vec(any::<u8>(), 0..64),
        ) {
            let borrowed: Vec<(&str, &[u8])> =
                pairs.iter().map(|(k, v)| (k.as_str(), v.as_slice())).collect();
            let buf = serialise(&borrowed);
            prop_assert_eq!(parse(&buf).unwrap(), borrowed);
            let _ = parse(&noise);
        }
    }
}
