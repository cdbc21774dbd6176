//! The internal-redirect marker: proof that the auth backend consented to one
//! storage path, valid for a short time. Envoy's `internal_only_headers` is
//! not enough (in a sidecar every client is "internal"), so the marker is a
//! MAC over the target path, what was granted (a read), the backend's
//! response headers that must survive the redirect (`carry`) and an expiry,
//! keyed by a per-process secret. It names that secret by a short key id,
//! so that a marker from another `vm_id` or Envoy process (another secret)
//! is told apart from a forged one.

use crate::primitives::hex;
use crate::primitives::sha256::HmacKey;

/// Length of the shared secret in bytes.
pub const SECRET_LEN: usize = 32;
const VERSION: &str = "v3";
/// What the key id is the MAC of: the id names the secret without
/// revealing it (a MAC, truncated, of a constant).
const KEY_ID_LABEL: &[u8] = b"asset-gate marker key id";
/// Bytes of that MAC the id keeps (hex in the marker): enough to tell two
/// secrets apart, far too few to say anything about either.
const KEY_ID_LEN: usize = 4;

/// What a consent lets the internally redirected request do at storage.
/// An `X-Accel-Redirect` (or a backend's internal 307) is a read, as in nginx.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    /// `GET` and `HEAD`, no request body.
    Read,
}

impl Grant {
    fn token(self) -> &'static str {
        match self {
            Grant::Read => "r",
        }
    }

    fn parse(token: &str) -> Option<Grant> {
        match token {
            "r" => Some(Grant::Read),
            _ => None,
        }
    }

    /// Whether a request with this method may use the consent.
    pub fn allows(self, method: &str) -> bool {
        match self {
            Grant::Read => method == "GET" || method == "HEAD",
        }
    }
}

/// A verified marker: what was granted, and the backend's response headers
/// that cross the internal redirect with it (see `carry`), tamper-proof.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consent {
    pub grant: Grant,
    pub carried: Vec<u8>,
}

/// Why a marker was refused (for metrics and debug logs; never shown to clients).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkerError {
    Missing,
    Duplicated,
    NoSecret,
    Malformed,
    /// Well formed, but issued under another secret: by an asset-gate with
    /// another `vm_id` (shared data, which holds the secret, is per
    /// `vm_id`) or in another Envoy process. Its MAC cannot be checked, so
    /// it may as well be forged; it is refused like any other.
    OtherKey,
    Expired,
    BadMac,
    /// The host clock could not be read (`now` is 0): an expiry cannot be
    /// checked, so no marker is accepted.
    NoClock,
}

impl std::fmt::Display for MarkerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            MarkerError::Missing => "no marker",
            MarkerError::Duplicated => "more than one marker header",
            MarkerError::NoSecret => "the marker secret is not available",
            MarkerError::Malformed => "malformed marker",
            MarkerError::OtherKey => "marker of another secret",
            MarkerError::Expired => "expired marker",
            MarkerError::BadMac => "marker does not match this path",
            MarkerError::NoClock => "the clock is not available",
        })
    }
}

/// The marker secret, keyed into HMAC once: every marker then costs only
/// its message's compressions, not the two of keying.
#[derive(Clone)]
pub struct MarkerKey {
    hmac: HmacKey,
    /// The key id, hex.
    id: String,
}

impl MarkerKey {
    /// Keys HMAC with the VM's marker secret.
    pub fn new(secret: &[u8]) -> MarkerKey {
        let hmac = HmacKey::new(secret);
        let id = hex::encode(
            hmac.sign(KEY_ID_LABEL)
                .get(..KEY_ID_LEN)
                .unwrap_or_default(),
        );
        MarkerKey { hmac, id }
    }

    /// The key id every marker issued under this secret carries.
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// The carried bytes come last, so the input is unambiguous (a path has no
/// newline).
fn mac(key: &MarkerKey, expires_at: &str, grant: Grant, path: &str, carried: &[u8]) -> [u8; 32] {
    let parts = [VERSION, &key.id, expires_at, grant.token(), path];
    let len = parts.iter().map(|p| p.len() + 1).sum::<usize>() + carried.len();
    let mut message = Vec::with_capacity(len);
    for part in parts {
        message.extend_from_slice(part.as_bytes());
        message.push(b'\n');
    }
    message.extend_from_slice(carried);
    key.hmac.sign(&message)
}

/// Issues a marker for `path` (the full `:path`, query included) granting
/// `grant`, with `carried` (encoded by `carry::collect`) bound to it.
pub fn issue(
    key: &MarkerKey,
    path: &str,
    grant: Grant,
    carried: &[u8],
    now: u64,
    ttl_secs: u64,
) -> String {
    let expires_at = now.saturating_add(ttl_secs).to_string();
    let tag = mac(key, &expires_at, grant, path, carried);
    let mut out = String::with_capacity(24 + expires_at.len() + 2 * carried.len() + 64);
    out.push_str(VERSION);
    out.push('.');
    out.push_str(&key.id);
    out.push('.');
    out.push_str(&expires_at);
    out.push('.');
    out.push_str(grant.token());
    out.push('.');
    hex::encode_to(&mut out, carried);
    out.push('.');
    hex::encode_to(&mut out, &tag);
    out
}

/// What a marker is issued for and verified against: the path, bound to
/// the placement's `redirect.marker_audience` when one is set (a space
/// joins them; an audience has none and a path starts with `/`, so two
/// subjects never collide). Placements sharing a `vm_id` share the secret:
/// the audience keeps a marker issued for one flow (its bucket, its
/// credentials) from being accepted by another for the same path.
pub fn subject<'a>(audience: &str, path: &'a str) -> std::borrow::Cow<'a, str> {
    if audience.is_empty() {
        return std::borrow::Cow::Borrowed(path);
    }
    std::borrow::Cow::Owned([audience, " ", path].concat())
}

/// Whether `now` (seconds since the epoch, 0 when the host clock could not
/// be read) can date a marker: with no clock, every marker would look
/// unexpired, so none is issued or accepted.
pub fn clock_usable(now: u64) -> Result<u64, MarkerError> {
    if now == 0 {
        return Err(MarkerError::NoClock);
    }
    Ok(now)
}

/// Checks a marker against the path it must have been issued for.
pub fn verify(
    key: &MarkerKey,
    marker: &[u8],
    path: &str,
    now: u64,
) -> Result<Consent, MarkerError> {
    let now = clock_usable(now)?;
    let marker = std::str::from_utf8(marker).map_err(|_| MarkerError::Malformed)?;
    let mut parts = marker.trim().split('.');
    let (Some(VERSION), Some(id), Some(exp), Some(grant), Some(carried), Some(tag), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(MarkerError::Malformed);
    };
    if exp.is_empty() || !exp.bytes().all(|b| b.is_ascii_digit()) {
        return Err(MarkerError::Malformed);
    }
    let expires_at: u64 = exp.parse().map_err(|_| MarkerError::Malformed)?;
    let grant = Grant::parse(grant).ok_or(MarkerError::Malformed)?;
    let carried = hex::decode(carried).ok_or(MarkerError::Malformed)?;
    let tag = hex::decode(tag).ok_or(MarkerError::Malformed)?;
    if id.len() != 2 * KEY_ID_LEN || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(MarkerError::Malformed);
    }
    // A well-formed marker under another secret: its MAC cannot be checked.
    if !same_bytes(id.as_bytes(), key.id.as_bytes()) {
        return Err(MarkerError::OtherKey);
    }
    // Check the MAC first, so an attacker learns nothing from the expiry branch.
    if !same_bytes(&mac(key, exp, grant, path, &carried), &tag) {
        return Err(MarkerError::BadMac);
    }
    if now > expires_at {
        return Err(MarkerError::Expired);
    }
    Ok(Consent { grant, carried })
}

/// How many issued markers a VM remembers: a marker is verified moments
/// after it is issued, on the same worker, so a few dozen cover the
/// requests in flight; older ones are verified by their MAC.
pub const RECENT_MARKERS: usize = 32;

/// Markers this VM issued lately. The auth_backend and storage placements of
/// one Envoy share the VM (same `vm_id`, same worker), so the storage role
/// usually verifies a marker it can recognise byte for byte: a comparison
/// instead of recomputing the MAC (two SHA-256 blocks, hex and parsing).
/// Recognising one is exactly as strict as `verify`: the same bytes, issued
/// for the same path, not expired. Anything else takes `verify`.
#[derive(Debug, Default)]
pub struct Recent {
    entries: Vec<Issued>,
    next: usize,
}

#[derive(Debug)]
struct Issued {
    marker: String,
    path: String,
    expires_at: u64,
    consent: Consent,
}

impl Recent {
    /// Remembers a marker just issued for `path` (what `issue` was given).
    pub fn remember(&mut self, marker: String, path: &str, expires_at: u64, consent: Consent) {
        let entry = Issued {
            marker,
            path: path.to_owned(),
            expires_at,
            consent,
        };
        if self.entries.len() < RECENT_MARKERS {
            self.entries.push(entry);
        } else if let Some(slot) = self.entries.get_mut(self.next) {
            *slot = entry;
        }
        self.next = (self.next + 1) % RECENT_MARKERS;
    }

    /// The consent of a remembered marker: same path (public), then the same
    /// bytes compared in constant time, not expired. Newest first: the
    /// marker asked for is almost always the one issued last, and every
    /// entry for a popular path would otherwise be compared before it.
    pub fn recall(&self, marker: &[u8], path: &str, now: u64) -> Option<Consent> {
        let n = self.entries.len();
        (0..n)
            .filter_map(|back| self.entries.get((self.next + 2 * n - 1 - back) % n))
            .find(|e| e.path == path && same_bytes(e.marker.as_bytes(), marker))
            .filter(|e| now <= e.expires_at)
            .map(|e| e.consent.clone())
    }
}

/// Equality whose time does not depend on where the inputs differ.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Checks the marker headers of a request: exactly one, valid for `path`.
/// `key` is `None` when the shared secret could not be read; `recent` are
/// the markers this VM issued lately (recognised without their MAC).
pub fn verify_request<'a>(
    mut values: impl Iterator<Item = &'a [u8]>,
    key: Option<&MarkerKey>,
    recent: &Recent,
    path: &str,
    now: u64,
) -> Result<Consent, MarkerError> {
    let first = values.next().ok_or(MarkerError::Missing)?;
    if values.next().is_some() {
        return Err(MarkerError::Duplicated);
    }
    let now = clock_usable(now)?;
    if let Some(consent) = recent.recall(first, path, now) {
        return Ok(consent);
    }
    verify(key.ok_or(MarkerError::NoSecret)?, first, path, now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(secret: &[u8]) -> MarkerKey {
        MarkerKey::new(secret)
    }

    #[allow(non_snake_case)]
    fn SECRET() -> MarkerKey {
        key(&[7u8; SECRET_LEN])
    }

    fn read(path: &str, now: u64) -> String {
        issue(&SECRET(), path, Grant::Read, b"", now, 30)
    }

    #[test]
    fn issued_marker_verifies_for_its_path_only() {
        let m = read("/internal-assets/a.jpg", 1000);
        let id = SECRET().id().to_owned();
        assert!(m.starts_with(&format!("v3.{id}.1030.r..")), "{m}");
        let ok = Ok(Consent {
            grant: Grant::Read,
            carried: vec![],
        });
        assert_eq!(
            verify(&SECRET(), m.as_bytes(), "/internal-assets/a.jpg", 1000),
            ok
        );
        assert_eq!(
            verify(&SECRET(), m.as_bytes(), "/internal-assets/a.jpg", 1030),
            ok
        );
        for other in ["/internal-assets/b.jpg", "/internal-assets/a.jpg?x=1"] {
            assert_eq!(
                verify(&SECRET(), m.as_bytes(), other, 1000),
                Err(MarkerError::BadMac)
            );
        }
    }

    #[test]
    fn a_marker_is_bound_to_its_audience() {
        assert_eq!(subject("", "/p"), "/p");
        assert_eq!(subject("cdn-a", "/p"), "cdn-a /p");
        let m = read(&subject("cdn-a", "/p"), 1000);
        let ok = |audience: &str| verify(&SECRET(), m.as_bytes(), &subject(audience, "/p"), 1000);
        assert!(ok("cdn-a").is_ok());
        for other in ["", "cdn-b", "cdn-a2"] {
            assert_eq!(ok(other), Err(MarkerError::BadMac), "{other}");
        }
        // Nor is one this VM remembers issuing for another audience.
        let mut recent = Recent::default();
        let consent = Consent {
            grant: Grant::Read,
            carried: vec![],
        };
        recent.remember(m.clone(), &subject("cdn-a", "/p"), 1030, consent);
        let one = [m.as_bytes()];
        let at = |audience: &str| {
            verify_request(
                one.iter().copied(),
                Some(&SECRET()),
                &recent,
                &subject(audience, "/p"),
                1000,
            )
        };
        assert!(at("cdn-a").is_ok());
        assert_eq!(at("cdn-b"), Err(MarkerError::BadMac));
        assert_eq!(at(""), Err(MarkerError::BadMac));
    }

    #[test]
    fn without_a_clock_no_marker_is_accepted() {
        let m = read("/p", 1000);
        assert_eq!(
            verify(&SECRET(), m.as_bytes(), "/p", 0),
            Err(MarkerError::NoClock)
        );
        // Not even one this VM remembers issuing.
        let mut recent = Recent::default();
        let consent = Consent {
            grant: Grant::Read,
            carried: vec![],
        };
        recent.remember(m.clone(), "/p", 1030, consent);
        let one = [m.as_bytes()];
        assert_eq!(
            verify_request(one.iter().copied(), Some(&SECRET()), &recent, "/p", 0),
            Err(MarkerError::NoClock)
        );
        assert!(verify_request(one.iter().copied(), Some(&SECRET()), &recent, "/p", 1000).is_ok());
        assert_eq!(clock_usable(0), Err(MarkerError::NoClock));
        assert_eq!(clock_usable(1), Ok(1));
    }

    #[test]
    fn carried_headers_are_bound_to_the_marker() {
        let carried = b"set-cookie: a=1\ncontent-disposition: attachment\n";
        let m = issue(&SECRET(), "/p", Grant::Read, carried, 1000, 30);
        let c = verify(&SECRET(), m.as_bytes(), "/p", 1000).unwrap();
        assert_eq!(c.carried, carried.to_vec());
        // Replacing the carried part (a forged Set-Cookie) breaks the MAC.
        let parts: Vec<&str> = m.split('.').collect();
        let forged_carry = hex::encode(b"set-cookie: admin=1\n");
        let forged = [
            parts[0],
            parts[1],
            parts[2],
            parts[3],
            &forged_carry,
            parts[5],
        ]
        .join(".");
        assert_eq!(
            verify(&SECRET(), forged.as_bytes(), "/p", 1000),
            Err(MarkerError::BadMac)
        );
        let dropped = [parts[0], parts[1], parts[2], parts[3], "", parts[5]].join(".");
        assert_eq!(
            verify(&SECRET(), dropped.as_bytes(), "/p", 1000),
            Err(MarkerError::BadMac)
        );
    }

    #[test]
    fn a_read_grant_allows_get_and_head_only() {
        assert!(Grant::Read.allows("GET"));
        assert!(Grant::Read.allows("HEAD"));
        for m in ["PUT", "POST", "DELETE", "PATCH", "get", "OPTIONS", ""] {
            assert!(!Grant::Read.allows(m), "{m}");
        }
        // A grant token other than the issued one breaks the MAC or the format.
        let m = read("/p", 1000);
        let w = m.replacen(".r.", ".w.", 1);
        assert_eq!(
            verify(&SECRET(), w.as_bytes(), "/p", 1000),
            Err(MarkerError::Malformed)
        );
    }

    #[test]
    fn expired_marker_is_refused() {
        let m = read("/p", 1000);
        assert_eq!(
            verify(&SECRET(), m.as_bytes(), "/p", 1031),
            Err(MarkerError::Expired)
        );
    }

    #[test]
    fn other_secret_or_forged_expiry_is_refused() {
        let m = read("/p", 1000);
        assert_eq!(
            verify(&key(&[8u8; 32]), m.as_bytes(), "/p", 1000),
            Err(MarkerError::OtherKey)
        );
        for forged in [
            m.replacen(".1030.", ".9999.", 1),
            m.replacen(".1030.", ".01030.", 1),
        ] {
            assert_eq!(
                verify(&SECRET(), forged.as_bytes(), "/p", 2000),
                Err(MarkerError::BadMac),
                "{forged}"
            );
        }
    }

    #[test]
    fn the_key_id_names_the_secret_without_revealing_it() {
        use hmac::Mac;
        let secret = [7u8; SECRET_LEN];
        let mut oracle = hmac::Hmac::<sha2::Sha256>::new_from_slice(&secret).unwrap();
        oracle.update(b"asset-gate marker key id");
        let expected = hex::encode(&oracle.finalize().into_bytes()[..4]);
        assert_eq!(SECRET().id(), expected);
        assert_eq!(SECRET().id().len(), 8);
        // Stable for one secret, different for another.
        assert_eq!(key(&secret).id(), SECRET().id());
        assert_ne!(key(&[8u8; SECRET_LEN]).id(), SECRET().id());
    }

    #[test]
    fn a_marker_under_another_secret_is_told_apart_from_a_forged_one() {
        let other = key(&[8u8; SECRET_LEN]);
        let theirs = issue(&other, "/p", Grant::Read, b"", 1000, 30);
        assert_eq!(
            verify(&SECRET(), theirs.as_bytes(), "/p", 1000),
            Err(MarkerError::OtherKey)
        );
        assert!(verify(&other, theirs.as_bytes(), "/p", 1000).is_ok());
        // The key id is under the MAC: another secret's marker relabelled
        // with this key's id is forged, and so is this key's marker
        // relabelled with another id (which is all this key can tell).
        let relabelled = theirs.replacen(other.id(), SECRET().id(), 1);
        assert_eq!(
            verify(&SECRET(), relabelled.as_bytes(), "/p", 1000),
            Err(MarkerError::BadMac)
        );
        let ours = read("/p", 1000);
        let moved = ours.replacen(SECRET().id(), other.id(), 1);
        assert_eq!(
            verify(&other, moved.as_bytes(), "/p", 1000),
            Err(MarkerError::BadMac)
        );
        // A well-formed marker with a made-up id cannot be checked either:
        // it is refused the same way.
        let made_up = ours.replacen(SECRET().id(), "0badc0de", 1);
        assert_eq!(
            verify(&SECRET(), made_up.as_bytes(), "/p", 1000),
            Err(MarkerError::OtherKey)
        );
    }

    #[test]
    fn every_marker_error_has_its_cause() {
        let m = read("/p", 1000);
        let other = issue(&key(&[8u8; SECRET_LEN]), "/p", Grant::Read, b"", 1000, 30);
        let tampered = m.replacen(".r..", ".r.00.", 1);
        let check = |values: &[&[u8]], key: Option<&MarkerKey>, now: u64| {
            verify_request(values.iter().copied(), key, &Recent::default(), "/p", now)
        };
        let ours = Some(&SECRET());
        let one = [m.as_bytes()];
        use MarkerError::*;
        assert_eq!(check(&[], ours, 1000), Err(Missing));
        assert_eq!(check(&[m.as_bytes(); 2], ours, 1000), Err(Duplicated));
        assert_eq!(check(&one, None, 1000), Err(NoSecret));
        assert_eq!(check(&[b"v3.x"], ours, 1000), Err(Malformed));
        assert_eq!(check(&[other.as_bytes()], ours, 1000), Err(OtherKey));
        assert_eq!(check(&one, Some(&key(&[7u8; 31])), 1000), Err(OtherKey));
        assert_eq!(check(&one, ours, 1031), Err(Expired));
        assert_eq!(check(&[tampered.as_bytes()], ours, 1000), Err(BadMac));
        assert_eq!(check(&one, ours, 0), Err(NoClock));
        assert!(check(&one, ours, 1000).is_ok());
    }

    #[test]
    fn request_needs_exactly_one_valid_marker() {
        let m = read("/p", 1000);
        let one = [m.as_bytes()];
        assert!(verify_request(
            one.iter().copied(),
            Some(&SECRET()),
            &Recent::default(),
            "/p",
            1000
        )
        .is_ok());
        assert_eq!(
            verify_request(
                [].iter().copied(),
                Some(&SECRET()),
                &Recent::default(),
                "/p",
                1000
            ),
            Err(MarkerError::Missing)
        );
        let two = [m.as_bytes(), m.as_bytes()];
        assert_eq!(
            verify_request(
                two.iter().copied(),
                Some(&SECRET()),
                &Recent::default(),
                "/p",
                1000
            ),
            Err(MarkerError::Duplicated)
        );
        assert_eq!(
            verify_request(one.iter().copied(), None, &Recent::default(), "/p", 1000),
            Err(MarkerError::NoSecret)
        );
    }

    #[test]
    fn malformed_markers() {
        let id = SECRET().id().to_owned();
        for bad in [
            "".to_owned(),
            "true".to_owned(),
            "v1.10.00".to_owned(),
            "v3".to_owned(),
            // The previous version, without a key id.
            "v2.10.r..00".to_owned(),
            format!("v2.{id}.10.r..00"),
            format!("v3.{id}.10.r.00"),
            format!("v3.{id}.x.r..00"),
            format!("v3.{id}.+10.r..00"),
            format!("v3.{id}.10.r.zz.00"),
            format!("v3.{id}.10.r..zz"),
            format!("v3.{id}.10.r..00.extra"),
            // A key id must be four bytes of hex.
            "v3.0102.10.r..00".to_owned(),
            "v3.0102030405.10.r..00".to_owned(),
            "v3.0102030g.10.r..00".to_owned(),
            "v3..10.r..00".to_owned(),
        ] {
            assert_eq!(
                verify(&SECRET(), bad.as_bytes(), "/p", 5),
                Err(MarkerError::Malformed),
                "{bad}"
            );
        }
        assert_eq!(
            verify(&SECRET(), format!("v3.{id}.10.r..00").as_bytes(), "/p", 5),
            Err(MarkerError::BadMac)
        );
        assert_eq!(
            verify(&SECRET(), &[0xff, 0xfe], "/p", 5),
            Err(MarkerError::Malformed)
        );
    }

    proptest::proptest! {
        #[test]
        fn verify_never_panics_and_accepts_only_issued(marker in proptest::collection::vec(proptest::num::u8::ANY, 0..200), path in ".{0,40}") {
            let _ = verify(&SECRET(), &marker, &path, 1);
            let m = issue(&SECRET(), &path, Grant::Read, &marker, 1, 30);
            proptest::prop_assert_eq!(verify(&SECRET(), m.as_bytes(), &path, 1).map(|c| c.carried), Ok(marker.clone()));
            let other = format!("{path}x");
            proptest::prop_assert!(verify(&SECRET(), m.as_bytes(), &other, 1).is_err());
        }
    }

    #[test]
    fn a_remembered_marker_is_recognised_only_as_verify_would_accept_it() {
        let carried = b"cache-control: private\n".to_vec();
        let m = issue(&SECRET(), "/p", Grant::Read, &carried, 1000, 30);
        let consent = Consent {
            grant: Grant::Read,
            carried: carried.clone(),
        };
        let mut recent = Recent::default();
        recent.remember(m.clone(), "/p", 1030, consent.clone());
        // Recognised without the key: no MAC is computed.
        let no_key = |marker: &[u8], path: &str, now: u64| {
            verify_request([marker].into_iter(), None, &recent, path, now)
        };
        assert_eq!(no_key(m.as_bytes(), "/p", 1030), Ok(consent.clone()));
        // Another path, an expired one, or other bytes: not recognised.
        assert_eq!(no_key(m.as_bytes(), "/q", 1000), Err(MarkerError::NoSecret));
        assert_eq!(no_key(m.as_bytes(), "/p", 1031), Err(MarkerError::NoSecret));
        let mut forged = m.clone().into_bytes();
        let last = forged.len() - 1;
        forged[last] = if forged[last] == b'0' { b'1' } else { b'0' };
        assert_eq!(no_key(&forged, "/p", 1000), Err(MarkerError::NoSecret));
        // With the key, the misses are what verify says of them.
        let with_key = |marker: &[u8], path: &str, now: u64| {
            verify_request([marker].into_iter(), Some(&SECRET()), &recent, path, now)
        };
        assert_eq!(with_key(&forged, "/p", 1000), Err(MarkerError::BadMac));
        assert_eq!(
            with_key(m.as_bytes(), "/p", 1031),
            Err(MarkerError::Expired)
        );
        assert_eq!(with_key(m.as_bytes(), "/q", 1000), Err(MarkerError::BadMac));
    }

    #[test]
    fn recent_markers_are_bounded_and_the_oldest_go_first() {
        // Before the ring is full, every marker is found too.
        let mut few = Recent::default();
        let consent = || Consent {
            grant: Grant::Read,
            carried: vec![],
        };
        let some: Vec<String> = (0..3)
            .map(|i| issue(&SECRET(), "/p", Grant::Read, b"", 1000 + i, 30))
            .collect();
        for m in &some {
            few.remember(m.clone(), "/p", 1030, consent());
        }
        for m in &some {
            assert!(few.recall(m.as_bytes(), "/p", 1000).is_some());
        }
        assert!(few.recall(b"v1.other", "/p", 1000).is_none());
        let mut recent = Recent::default();
        let issued: Vec<String> = (0..RECENT_MARKERS + 3)
            .map(|i| {
                let m = issue(&SECRET(), "/p", Grant::Read, b"", 1000 + i as u64, 30);
                let consent = Consent {
                    grant: Grant::Read,
                    carried: vec![],
                };
                recent.remember(m.clone(), "/p", 1030 + i as u64, consent);
                m
            })
            .collect();
        assert_eq!(recent.entries.len(), RECENT_MARKERS);
        // Newest first over the ring, whichever slot is next.
        assert_eq!(recent.next, 3);
        assert!(recent.recall(issued[0].as_bytes(), "/p", 1000).is_none());
        assert!(recent.recall(issued[2].as_bytes(), "/p", 1000).is_none());
        for m in &issued[3..] {
            assert!(recent.recall(m.as_bytes(), "/p", 1000).is_some());
        }
    }
}
