//! Flow D's decision cache (nginx: `auth_request` + `proxy_cache`): a
//! backend opts in per answer with `Cache-Control: private, max-age=N`; the
//! same forwarded credentials, method and URI then reuse the decision for
//! at most N seconds (bounded by configuration) without a subrequest. The
//! key hashes the credentials, so a decision never serves other ones.
//! Per VM, bounded in entries and in bytes ([`MAX_BYTES`]); one set of
//! credentials holds at most an eighth of either ([`SHARE`]), so a client
//! cycling through query strings cannot push everyone else's decisions out.
//! The caller decides what may be cached.

use sha2::{Digest, Sha256};

/// The most bytes (approximate, see the caller's `size`) one VM's cache holds.
pub const MAX_BYTES: usize = 4 << 20;
/// One set of credentials holds at most `1 / SHARE` of the entries and bytes.
pub const SHARE: usize = 8;

/// A request's cache key: SHA-256 over the length-prefixed credential
/// headers, method and URI; `owner` names the credentials alone (the first
/// bytes of the hash over them), for their share of the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Key {
    pub request: [u8; 32],
    pub owner: [u8; 8],
}

/// The cache key of a request. Each part is length-prefixed, so no two
/// different requests (or credential splits) hash the same input.
pub fn key<'a>(
    method: &str,
    uri: &str,
    credentials: impl IntoIterator<Item = (&'a str, &'a [u8])>,
) -> Key {
    fn part(h: &mut Sha256, b: &[u8]) {
        h.update((b.len() as u64).to_be_bytes());
        h.update(b);
    }
    let mut h = Sha256::new();
    for (name, value) in credentials {
        part(&mut h, name.as_bytes());
        part(&mut h, value);
    }
    let mut owner = [0u8; 8];
    owner.copy_from_slice(&h.clone().finalize()[..8]);
    part(&mut h, method.as_bytes());
    part(&mut h, uri.as_bytes());
    Key {
        request: h.finalize().into(),
        owner,
    }
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

/// Decisions with their key, expiry (ms since the epoch) and size, sorted
/// by key: a lookup is a binary search (keys are SHA-256, evenly spread),
/// and the module carries no hash map.
#[derive(Debug)]
pub struct DecisionCache<V> {
    entries: Vec<(Key, u64, usize, V)>,
    bytes: usize,
}

impl<V> Default for DecisionCache<V> {
    fn default() -> Self {
        DecisionCache {
            entries: Vec::new(),
            bytes: 0,
        }
    }
}

impl<V: Clone> DecisionCache<V> {
    /// The decision for `key` if it has not expired at `now_ms`.
    fn find(&self, key: &Key) -> Result<usize, usize> {
        self.entries.binary_search_by(|e| e.0.cmp(key))
    }

    fn remove(&mut self, i: usize) {
        let e = self.entries.remove(i);
        self.bytes -= e.2;
    }

    pub fn get(&mut self, key: &Key, now_ms: u64) -> Option<V> {
        let i = self.find(key).ok()?;
        if self.entries[i].1 > now_ms {
            return Some(self.entries[i].3.clone());
        }
        self.remove(i);
        None
    }

    /// Keeps `value` (about `size` bytes) until `expires_ms`. To make room,
    /// the entry expiring soonest goes (expired ones first); an owner at
    /// its share gives up its own soonest-expiring entry instead.
    pub fn put(
        &mut self,
        key: Key,
        value: V,
        size: usize,
        expires_ms: u64,
        now_ms: u64,
        max_entries: usize,
    ) {
        let (share_n, share_b) = ((max_entries / SHARE).max(1), MAX_BYTES / SHARE);
        if max_entries == 0 || expires_ms <= now_ms || size > share_b {
            return;
        }
        if let Ok(i) = self.find(&key) {
            self.remove(i);
        }
        loop {
            let (mut n, mut b) = (0, size);
            for e in self.entries.iter().filter(|e| e.0.owner == key.owner) {
                n += 1;
                b += e.2;
            }
            let own = n >= share_n || b > share_b;
            if !own && self.entries.len() < max_entries && self.bytes + size <= MAX_BYTES {
                break;
            }
            let victim = self
                .entries
                .iter()
                .enumerate()
                .filter(|(_, e)| !own || e.0.owner == key.owner)
                .min_by_key(|(_, e)| e.1)
                .map(|(i, _)| i);
            match victim {
                Some(i) => self.remove(i),
                None => return,
            }
        }
        let at = self.find(&key).unwrap_or_else(|i| i);
        self.entries.insert(at, (key, expires_ms, size, value));
        self.bytes += size;
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
        // The owner names the credentials only.
        let other = k("HEAD", "/b?x", &[("authorization", b"Bearer x")]);
        assert_eq!(base.owner, other.owner);
        assert_ne!(base.request, other.request);
        assert_ne!(
            base.owner,
            k("GET", "/a", &[("authorization", b"Bearer y")]).owner
        );
        assert_ne!(base.owner, k("GET", "/a", &[]).owner);
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

    /// Entry `n` of owner `o`.
    fn k(o: u8, n: u8) -> Key {
        Key {
            request: [n; 32],
            owner: [o; 8],
        }
    }

    #[test]
    fn entries_expire_and_the_soonest_expiring_makes_room() {
        let mut c: DecisionCache<u32> = DecisionCache::default();
        // Owners 1..=3, one entry each, in a cache of 2 (share: 1 each).
        c.put(k(1, 1), 1, 10, 1_000, 0, 2);
        assert_eq!(c.get(&k(1, 1), 999), Some(1));
        assert_eq!(c.get(&k(1, 1), 1_000), None);
        assert!(c.is_empty());
        c.put(k(1, 1), 1, 10, 5_000, 0, 2);
        c.put(k(2, 2), 2, 10, 3_000, 0, 2);
        c.put(k(3, 3), 3, 10, 4_000, 0, 2);
        assert_eq!(c.len(), 2);
        assert_eq!(c.get(&k(2, 2), 0), None, "full: the soonest-expiring went");
        assert_eq!(c.get(&k(3, 3), 0), Some(3));
        assert_eq!(c.get(&k(1, 1), 0), Some(1));
        // An expired entry goes before any live one.
        c.put(k(2, 2), 2, 10, 4_500, 4_200, 2);
        assert_eq!(c.get(&k(3, 3), 4_200), None);
        assert_eq!(c.get(&k(1, 1), 4_200), Some(1));
        // Replacing a key keeps one entry.
        c.put(k(1, 1), 9, 10, 6_000, 4_200, 2);
        assert_eq!((c.len(), c.get(&k(1, 1), 4_200)), (2, Some(9)));
        // Many keys, in any order: each found again.
        let mut big: DecisionCache<u32> = DecisionCache::default();
        for n in (0..=255u8).rev().chain(0..=255u8) {
            big.put(k(n, n.wrapping_mul(37)), u32::from(n), 10, 100, 0, 1000);
        }
        assert_eq!(big.len(), 256);
        for n in 0..=255u8 {
            assert_eq!(big.get(&k(n, n.wrapping_mul(37)), 0), Some(u32::from(n)));
        }
        c.put(k(4, 4), 4, 10, 10, 0, 0);
        assert_eq!(c.get(&k(4, 4), 0), None, "max_entries 0 disables the cache");
    }

    #[test]
    fn one_owner_holds_at_most_its_share() {
        let mut c: DecisionCache<u32> = DecisionCache::default();
        // 64 entries: 8 per owner. Owner 9 fills with 100 distinct keys,
        // each expiring later than the last; everyone else keeps theirs.
        for o in 1..=4u8 {
            c.put(k(o, o), u32::from(o), 10, 1_000, 0, 64);
        }
        for n in 0..100u8 {
            c.put(k(9, 100 + n), 0, 10, 2_000 + u64::from(n), 0, 64);
        }
        assert_eq!(c.len(), 4 + 8);
        for o in 1..=4u8 {
            assert_eq!(c.get(&k(o, o), 0), Some(u32::from(o)), "owner {o}");
        }
        // It keeps its 8 latest.
        assert_eq!(c.get(&k(9, 199), 0), Some(0));
        assert_eq!(c.get(&k(9, 191), 0), None);
        // Bytes too: an eighth of MAX_BYTES per owner, MAX_BYTES in all.
        let mut c: DecisionCache<u32> = DecisionCache::default();
        let eighth = MAX_BYTES / SHARE;
        c.put(k(1, 1), 1, eighth + 1, 1_000, 0, 64);
        assert!(c.is_empty(), "larger than a share: not cached");
        c.put(k(1, 1), 1, eighth, 1_000, 0, 64);
        c.put(k(1, 2), 2, 1, 2_000, 0, 64);
        assert_eq!(
            c.get(&k(1, 1), 0),
            None,
            "over its byte share: its own went"
        );
        for o in 2..=9u8 {
            c.put(k(o, o), u32::from(o), eighth, 3_000 + u64::from(o), 0, 64);
        }
        assert!(c.bytes <= MAX_BYTES);
        assert_eq!(c.get(&k(1, 2), 0), None, "soonest-expiring made room");
        assert_eq!(c.get(&k(9, 9), 0), Some(9));
    }
}
