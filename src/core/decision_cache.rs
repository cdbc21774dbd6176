//! Flow D's decision cache (nginx: `auth_request` + `proxy_cache`): a
//! backend opts in per answer with `Cache-Control: private, max-age=N`; the
//! same forwarded credentials, method and URI then reuse the decision for
//! at most N seconds (bounded by configuration) without a subrequest. The
//! key hashes the credentials, so a decision never serves other ones.
//! Per VM and bounded in entries; the caller decides what may be cached.

use sha2::{Digest, Sha256};

/// SHA-256 over the length-prefixed method, URI and credential headers.
pub type Key = [u8; 32];

/// The cache key of a request. Each part is length-prefixed, so no two
/// different requests (or credential splits) hash the same input.
pub fn key<'a>(
    method: &str,
    uri: &str,
    credentials: impl IntoIterator<Item = (&'a str, &'a [u8])>,
) -> Key {
    let mut h = Sha256::new();
    let mut part = |b: &[u8]| {
        h.update((b.len() as u64).to_be_bytes());
        h.update(b);
    };
    part(method.as_bytes());
    part(uri.as_bytes());
    for (name, value) in credentials {
        part(name.as_bytes());
        part(value);
    }
    h.finalize().into()
}

/// The seconds an answer allows its decision to be reused: `private` and a
/// positive `max-age`, and neither `no-store` nor `no-cache`.
pub fn max_age<'a>(cache_control: impl IntoIterator<Item = &'a [u8]>) -> Option<u64> {
    let (mut private, mut age, mut refused) = (false, None, false);
    for value in cache_control {
        for directive in value.split(|&b| b == b',') {
            let d = directive.trim_ascii();
            let is = |name: &[u8]| d.eq_ignore_ascii_case(name);
            if is(b"private") {
                private = true;
            } else if is(b"no-store") || is(b"no-cache") {
                refused = true;
            } else if d.len() > 8 && d[..8].eq_ignore_ascii_case(b"max-age=") {
                age = std::str::from_utf8(&d[8..])
                    .ok()
                    .and_then(|n| n.parse().ok());
            }
        }
    }
    age.filter(|&n: &u64| private && !refused && n > 0)
}

/// Decisions with their key and expiry (ms since the epoch), sorted by key:
/// a lookup is a binary search (keys are SHA-256, evenly spread), and the
/// module carries no hash map.
#[derive(Debug)]
pub struct DecisionCache<V> {
    entries: Vec<(Key, u64, V)>,
}

impl<V> Default for DecisionCache<V> {
    fn default() -> Self {
        DecisionCache {
            entries: Vec::new(),
        }
    }
}

impl<V: Clone> DecisionCache<V> {
    /// The decision for `key` if it has not expired at `now_ms`.
    fn find(&self, key: &Key) -> Result<usize, usize> {
        self.entries.binary_search_by(|(k, _, _)| k.cmp(key))
    }

    pub fn get(&mut self, key: &Key, now_ms: u64) -> Option<V> {
        let i = self.find(key).ok()?;
        if self.entries[i].1 > now_ms {
            return Some(self.entries[i].2.clone());
        }
        self.entries.remove(i);
        None
    }

    /// Keeps `value` until `expires_ms`. When full, expired entries go;
    /// if none has expired, the new decision is simply not cached.
    pub fn put(&mut self, key: Key, value: V, expires_ms: u64, now_ms: u64, max_entries: usize) {
        if max_entries == 0 || expires_ms <= now_ms {
            return;
        }
        if let Ok(i) = self.find(&key) {
            self.entries[i] = (key, expires_ms, value);
            return;
        }
        if self.entries.len() >= max_entries {
            // Full: expired entries go; if none has, this decision is not kept.
            self.entries.retain(|(_, e, _)| *e > now_ms);
            if self.entries.len() >= max_entries {
                return;
            }
        }
        let at = self.find(&key).unwrap_or_else(|i| i);
        self.entries.insert(at, (key, expires_ms, value));
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_separate_credentials_methods_and_uris() {
        let k = |m, u, c: &[(&'static str, &'static [u8])]| key(m, u, c.iter().copied());
        let base = k("GET", "/a", &[("authorization", b"Bearer x")]);
        assert_eq!(base, k("GET", "/a", &[("authorization", b"Bearer x")]));
        assert_ne!(base, k("GET", "/a", &[("authorization", b"Bearer y")]));
        assert_ne!(base, k("GET", "/a", &[]));
        assert_ne!(base, k("HEAD", "/a", &[("authorization", b"Bearer x")]));
        assert_ne!(base, k("GET", "/b", &[("authorization", b"Bearer x")]));
        // Length prefixes: moving bytes between parts changes the key.
        assert_ne!(
            k("GET", "/a", &[("cookie", b"ab")]),
            k("GET", "/a", &[("cookiea", b"b")])
        );
    }

    #[test]
    fn only_private_positive_max_age_opts_in() {
        assert_eq!(max_age([&b"private, max-age=30"[..]]), Some(30));
        assert_eq!(max_age([&b"max-age=30"[..], b"Private"]), Some(30));
        assert_eq!(max_age([&b"public, max-age=30"[..]]), None);
        assert_eq!(max_age([&b"private, max-age=0"[..]]), None);
        assert_eq!(max_age([&b"private, no-store, max-age=30"[..]]), None);
        assert_eq!(max_age([&b"private, max-age=soon"[..]]), None);
        assert_eq!(max_age(Vec::<&[u8]>::new()), None);
    }

    #[test]
    fn entries_expire_and_stay_bounded() {
        let mut c: DecisionCache<u32> = DecisionCache::default();
        let k = |n: u8| [n; 32];
        c.put(k(1), 1, 1_000, 0, 2);
        assert_eq!(c.get(&k(1), 999), Some(1));
        assert_eq!(c.get(&k(1), 1_000), None);
        assert!(c.is_empty());
        c.put(k(1), 1, 5_000, 0, 2);
        c.put(k(2), 2, 3_000, 0, 2);
        c.put(k(3), 3, 4_000, 0, 2);
        assert_eq!(c.len(), 2);
        assert_eq!(c.get(&k(3), 0), None, "full: not cached");
        c.put(k(3), 3, 4_000, 3_000, 2);
        assert_eq!(c.get(&k(2), 3_000), None, "expired, made room");
        assert_eq!(c.get(&k(3), 3_000), Some(3));
        assert_eq!(c.get(&k(1), 3_000), Some(1));
        // Many keys, in any order: each found again.
        let mut big: DecisionCache<u32> = DecisionCache::default();
        for n in (0..=255u8).rev().chain(0..=255u8) {
            big.put([n.wrapping_mul(37); 32], u32::from(n), 100, 0, 1000);
        }
        assert_eq!(big.len(), 256);
        for n in 0..=255u8 {
            assert_eq!(big.get(&[n.wrapping_mul(37); 32], 0), Some(u32::from(n)));
        }
        c.put(k(4), 4, 10, 0, 0);
        assert_eq!(c.get(&k(4), 0), None, "max_entries 0 disables the cache");
    }
}
