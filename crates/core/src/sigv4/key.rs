//! The cryptography: SHA-256 and HMAC, the signing key (the HMAC chain over
//! date, region and service) and the cache that saves deriving it per request.

use super::canonical::{credential_prefix, credential_scope};
use super::time::amz_date;
use super::types::{validate_identity, Credentials, Scope, SigV4Error, ALGORITHM};
use crate::primitives::hex;
use crate::primitives::sha256::{self, HmacKey, State};
use sha2::{Digest, Sha256};
use std::fmt;
use std::rc::Rc;

const CACHE_SLOTS: usize = 4;

struct CacheEntry {
    date: [u8; 8],
    region: String,
    service: String,
    access_key_id: String,
    secret: String,
    key: [u8; 32],
    /// HMAC keyed with `key`: its two keying compressions are done once.
    mac: HmacKey,
    /// `date/region/service/aws4_request`, the credential scope.
    scope: String,
    /// `Authorization`'s start up to the signed names ([`credential_prefix`]).
    credential: String,
    /// The second last signed in, with that second's fixed part of the
    /// string to sign (`AWS4-HMAC-SHA256\n<time>\n<scope>\n`) absorbed: the
    /// signatures of one second share its compression.
    second: Option<Second>,
}

/// The inner HMAC state after a second's fixed prefix, and the prefix's
/// bytes past its last whole block.
struct Second {
    unix_time: u64,
    inner: State,
    rest: [u8; 64],
    rest_len: usize,
}

/// Derived signing keys cost four HMACs and only change daily, so they are cached per
/// (date, region, service, access key id, secret). A few slots cover credential rotation and
/// a filter that signs for more than one service.
#[derive(Default)]
pub struct SigningKeyCache {
    entries: Vec<CacheEntry>,
    /// The last second's `x-amz-date`, written once per second and shared
    /// by that second's signatures.
    last_date: Option<(u64, Rc<str>)>,
    /// The buffer the last canonical request was built in, kept for the next.
    scratch: String,
    next: usize,
    hits: u64,
    misses: u64,
}

impl fmt::Debug for SigningKeyCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKeyCache")
            .field("entries", &self.entries.len())
            .field("hits", &self.hits)
            .field("misses", &self.misses)
            .finish()
    }
}

impl SigningKeyCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of lookups served from the cache (for metrics).
    pub fn hits(&self) -> u64 {
        self.hits
    }

    /// Number of lookups that derived a new key (for metrics).
    pub fn misses(&self) -> u64 {
        self.misses
    }

    /// The signing key for `date` (`YYYYMMDD`) and `scope`, derived on a miss.
    pub fn signing_key(
        &mut self,
        creds: &Credentials,
        date: &str,
        scope: &Scope,
    ) -> Result<[u8; 32], SigV4Error> {
        self.entry(creds, date, scope).map(|e| e.key)
    }

    /// The hex signature of `string_to_sign` with the (cached) signing key.
    pub fn signature_hex(
        &mut self,
        creds: &Credentials,
        date: &str,
        scope: &Scope,
        string_to_sign: &[u8],
    ) -> Result<String, SigV4Error> {
        let mac = self.entry(creds, date, scope)?.mac.sign(string_to_sign);
        Ok(hex::encode(&mac))
    }

    /// An empty buffer for a canonical request (the last one's, reused).
    pub(super) fn take_buffer(&mut self) -> String {
        let mut b = std::mem::take(&mut self.scratch);
        b.clear();
        b
    }

    /// Keeps `buffer` for the next canonical request, unless an unusually
    /// large request grew it (a VM keeps no more than a few KiB for this).
    pub(super) fn keep_buffer(&mut self, buffer: String) {
        if buffer.capacity() <= 4096 {
            self.scratch = buffer;
        }
    }

    /// `x-amz-date` for `unix_time` (most requests share their second's).
    pub(super) fn amz_date(&mut self, unix_time: u64) -> Result<Rc<str>, SigV4Error> {
        match &self.last_date {
            Some((t, d)) if *t == unix_time => Ok(Rc::clone(d)),
            _ => {
                let d: Rc<str> = amz_date(unix_time)?.into();
                self.last_date = Some((unix_time, Rc::clone(&d)));
                Ok(d)
            }
        }
    }

    /// The hex signature of a request whose canonical request hashes (hex)
    /// to `request_hash`, signed at `unix_time` (`amz_date`, its SigV4
    /// form), and the entry's `Authorization` start (up to the signed
    /// names): the string to sign is never built, its fixed part is
    /// absorbed once per second.
    pub(super) fn sign_request_hash(
        &mut self,
        creds: &Credentials,
        scope: &Scope,
        unix_time: u64,
        amz_date: &str,
        request_hash: &[u8; 64],
    ) -> Result<([u8; 64], &str), SigV4Error> {
        let date = amz_date.get(..8).unwrap_or_default();
        let i = self.entry_index(creds, date, scope)?;
        let e = self.entries.get_mut(i).ok_or(SigV4Error::Hmac)?;
        let second = match &e.second {
            Some(s) if s.unix_time == unix_time => s,
            _ => e
                .second
                .insert(second_prefix(&e.mac, unix_time, amz_date, &e.scope)),
        };
        // The prefix's last bytes and the request hash: at most 127 bytes.
        let mut tail = [0u8; 128];
        let n = second.rest_len + request_hash.len();
        if let (Some(r), Some(h)) = (
            tail.get_mut(..second.rest_len),
            second.rest.get(..second.rest_len),
        ) {
            r.copy_from_slice(h);
        }
        if let Some(t) = tail.get_mut(second.rest_len..n) {
            t.copy_from_slice(request_hash);
        }
        let mac = e
            .mac
            .sign_resumed(second.inner, tail.get(..n).unwrap_or_default());
        Ok((hex::encode32(&mac), &e.credential))
    }

    fn entry(
        &mut self,
        creds: &Credentials,
        date: &str,
        scope: &Scope,
    ) -> Result<&CacheEntry, SigV4Error> {
        let i = self.entry_index(creds, date, scope)?;
        self.entries.get(i).ok_or(SigV4Error::Hmac)
    }

    /// The slot of the entry for these credentials, date and scope, made on
    /// a miss (the only time credentials and scope are validated: an entry
    /// holds valid ones).
    fn entry_index(
        &mut self,
        creds: &Credentials,
        date: &str,
        scope: &Scope,
    ) -> Result<usize, SigV4Error> {
        let date8: [u8; 8] = date
            .as_bytes()
            .try_into()
            .map_err(|_| SigV4Error::InvalidScope { field: "date" })?;
        let found = self.entries.iter().position(|e| {
            u64::from_ne_bytes(e.date) == u64::from_ne_bytes(date8)
                && same(&e.region, scope.region)
                && same(&e.service, scope.service)
                && same(&e.access_key_id, &creds.access_key_id)
                && same(&e.secret, &creds.secret_access_key)
        });
        if let Some(i) = found {
            self.hits += 1;
            return Ok(i);
        }
        validate_identity(creds, scope)?;
        let key = derive_signing_key(&creds.secret_access_key, date, scope.region, scope.service)?;
        self.misses += 1;
        let scope_str = credential_scope(date, scope);
        let entry = CacheEntry {
            date: date8,
            region: scope.region.to_owned(),
            service: scope.service.to_owned(),
            access_key_id: creds.access_key_id.clone(),
            secret: creds.secret_access_key.clone(),
            key,
            mac: HmacKey::new(&key),
            credential: credential_prefix(&creds.access_key_id, &scope_str),
            scope: scope_str,
            second: None,
        };
        let slot = if self.entries.len() < CACHE_SLOTS {
            self.entries.push(entry);
            self.entries.len() - 1
        } else {
            let slot = self.next;
            if let Some(e) = self.entries.get_mut(slot) {
                *e = entry;
            }
            slot
        };
        self.next = (slot + 1) % CACHE_SLOTS;
        Ok(slot)
    }
}

/// The string to sign's part shared by one second's signatures, absorbed
/// into the inner state of `mac`.
fn second_prefix(mac: &HmacKey, unix_time: u64, amz_date: &str, scope: &str) -> Second {
    let mut prefix = String::with_capacity(ALGORITHM.len() + amz_date.len() + scope.len() + 3);
    for part in [ALGORITHM, "\n", amz_date, "\n", scope, "\n"] {
        prefix.push_str(part);
    }
    let mut inner = mac.inner;
    let left = inner.absorb(prefix.as_bytes());
    let mut rest = [0u8; 64];
    if let Some(r) = rest.get_mut(..left.len()) {
        r.copy_from_slice(left);
    }
    Second {
        unix_time,
        inner,
        rest,
        rest_len: left.len(),
    }
}

/// String equality eight bytes at a time: every signature matches its
/// cache entry's identity, and `==` calls `memcmp`, a byte loop in wasm.
fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let word = |c: &[u8]| u64::from_ne_bytes(c.try_into().unwrap_or_default());
    let (mut x, mut y) = (a.chunks_exact(8), b.chunks_exact(8));
    (&mut x).zip(&mut y).all(|(p, q)| word(p) == word(q))
        && x.remainder().iter().zip(y.remainder()).all(|(p, q)| p == q)
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    sha256::digest(data)
}

/// Lowercase hex SHA-256, the digest format SigV4 uses everywhere.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(&sha256(data))
}

/// The first 16 digits of [`sha256_hex`], a short id: encoded from the first
/// 8 bytes, since slicing the hex string would pull core's char-boundary
/// panic path (and its Unicode tables) into the module.
pub fn sha256_hex16(data: &[u8]) -> String {
    let digest = sha256(data);
    hex::encode(&digest[..8])
}

/// A payload hash computed chunk by chunk, so a body being buffered by the
/// host never has to be copied whole into the module's memory.
#[derive(Clone, Default)]
pub struct PayloadHasher(Sha256);

impl PayloadHasher {
    pub fn update(&mut self, chunk: &[u8]) {
        self.0.update(chunk);
    }

    /// The lowercase hex digest of everything fed so far.
    pub fn finish_hex(self) -> String {
        hex::encode(&self.0.finalize())
    }
}

/// The signing key: HMAC chain over date, region, service and `aws4_request`.
pub fn derive_signing_key(
    secret: &str,
    date: &str,
    region: &str,
    service: &str,
) -> Result<[u8; 32], SigV4Error> {
    let mut first = Vec::with_capacity(4 + secret.len());
    first.extend_from_slice(b"AWS4");
    first.extend_from_slice(secret.as_bytes());
    let k_date = hmac(&first, date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    Ok(hmac(&k_service, b"aws4_request"))
}

/// Lowercase hex HMAC-SHA256 of `data` under the signing key: the signature.
pub fn hmac_hex(key: &[u8], data: &[u8]) -> Result<String, SigV4Error> {
    Ok(hex::encode(&hmac(key, data)))
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    HmacKey::new(key).sign(data)
}

#[cfg(test)]
mod tests {

    #[test]
    fn same_is_string_equality() {
        let words = [
            "",
            "a",
            "us-east-1",
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        ];
        for a in words {
            for b in words {
                assert_eq!(super::same(a, b), a == b, "{a:?} {b:?}");
            }
            // one byte changed anywhere, the length kept
            for i in 0..a.len() {
                let mut c = a.as_bytes().to_vec();
                c[i] ^= 1;
                assert!(
                    !super::same(a, std::str::from_utf8(&c).unwrap()),
                    "{a:?} at {i}"
                );
            }
        }
    }

    #[test]
    fn a_second_signs_as_its_string_to_sign_would() {
        use super::super::{amz_date, credential_scope, string_to_sign, Credentials, Scope};
        let creds = Credentials {
            access_key_id: "AKID".into(),
            secret_access_key: "secret".into(),
            session_token: None,
        };
        let scope = Scope {
            region: "eu-west-1",
            service: "s3",
        };
        let mut cache = SigningKeyCache::new();
        // The same second twice (the absorbed prefix reused), the next
        // second, the next day, and back: each as the plain string to sign.
        for (t, creq) in [
            (1_700_000_000, "GET\n/a"),
            (1_700_000_000, "GET\n/b"),
            (1_700_000_001, "GET\n/b"),
            (1_700_086_400, "GET\n/b"),
            (1_700_000_001, "GET\n/c"),
        ] {
            let date = amz_date(t).unwrap();
            assert_eq!(&*cache.amz_date(t).unwrap(), date, "at {t}");
            let hash = hex::encode32(&sha256(creq.as_bytes()));
            let (sig, credential) = cache
                .sign_request_hash(&creds, &scope, t, &date, &hash)
                .unwrap();
            let expected_scope = credential_scope(&date[..8], &scope);
            assert_eq!(
                credential,
                format!("AWS4-HMAC-SHA256 Credential=AKID/{expected_scope}, SignedHeaders=")
            );
            let sts = string_to_sign(&date, &expected_scope, creq);
            let mut plain = SigningKeyCache::new();
            let want = plain
                .signature_hex(&creds, &date[..8], &scope, sts.as_bytes())
                .unwrap();
            assert_eq!(std::str::from_utf8(&sig).unwrap(), want, "at {t}");
        }
        // Bad credentials are refused when their entry would be made.
        let bad = Credentials {
            access_key_id: "A/B".into(),
            ..creds
        };
        let date = amz_date(1_700_000_000).unwrap();
        assert!(cache
            .sign_request_hash(&bad, &scope, 1_700_000_000, &date, &[b'0'; 64])
            .is_err());
    }

    #[test]
    fn short_hex_is_the_full_hex_cut() {
        for data in [&b""[..], b"a", b"credentials|us-east-1"] {
            assert_eq!(sha256_hex16(data), sha256_hex(data)[..16]);
        }
    }

    #[test]
    fn payload_hasher_equals_the_one_shot_hash() {
        let data = b"hello world, in pieces";
        let mut h = PayloadHasher::default();
        for chunk in data.chunks(5) {
            h.update(chunk);
        }
        assert_eq!(h.finish_hex(), sha256_hex(data));
        assert_eq!(
            PayloadHasher::default().finish_hex(),
            super::super::EMPTY_PAYLOAD_SHA256
        );
    }

    use super::*;
    use crate::sigv4::tests::{creds, SCOPE};

    #[test]
    fn signing_key_cache_hits_and_changes_with_the_date() {
        let c = creds();
        let mut cache = SigningKeyCache::new();
        let k1 = cache.signing_key(&c, "20150830", &SCOPE).ok();
        assert_eq!((cache.hits(), cache.misses()), (0, 1));
        let k2 = cache.signing_key(&c, "20150830", &SCOPE).ok();
        assert_eq!((cache.hits(), cache.misses()), (1, 1));
        assert!(k1.is_some() && k1 == k2);
        assert_eq!(
            k1,
            derive_signing_key(&c.secret_access_key, "20150830", "us-east-1", "s3").ok()
        );
        let k3 = cache.signing_key(&c, "20150831", &SCOPE).ok();
        assert_eq!((cache.hits(), cache.misses()), (1, 2));
        assert!(k3.is_some() && k3 != k1);
        // Region, service, key id and secret are all part of the cache key.
        let other_region = Scope {
            region: "eu-west-1",
            ..SCOPE
        };
        assert_ne!(cache.signing_key(&c, "20150830", &other_region).ok(), k1);
        let mut rotated = c.clone();
        rotated.secret_access_key.push('x');
        assert_ne!(cache.signing_key(&rotated, "20150830", &SCOPE).ok(), k1);
        let mut other_id = c.clone();
        other_id.access_key_id.push('X');
        // Same secret, so same key, but it must be a separate entry (a miss).
        let misses = cache.misses();
        assert_eq!(cache.signing_key(&other_id, "20150830", &SCOPE).ok(), k1);
        assert_eq!(cache.misses(), misses + 1);
        // More distinct entries than slots: old ones are evicted, results stay correct.
        for day in 10..20 {
            let date = format!("201501{day}");
            let want = derive_signing_key(&c.secret_access_key, &date, "us-east-1", "s3").ok();
            assert_eq!(cache.signing_key(&c, &date, &SCOPE).ok(), want);
        }
        assert_eq!(cache.entries.len(), CACHE_SLOTS);
        assert!(cache.signing_key(&c, "2015083", &SCOPE).is_err());
        assert!(!format!("{cache:?}").contains("wJalr"));
    }
}
