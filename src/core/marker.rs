//! The internal-redirect marker: proof that the auth backend consented to one
//! storage path, valid for a short time. Envoy's `internal_only_headers` is
//! not enough (in a sidecar every client is "internal"), so the marker is a
//! MAC over the target path and an expiry, keyed by a per-process secret.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Length of the shared secret in bytes.
pub const SECRET_LEN: usize = 32;
const VERSION: &str = "v1";

/// Why a marker was refused (for metrics and debug logs; never shown to clients).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkerError {
    Missing,
    Duplicated,
    NoSecret,
    Malformed,
    Expired,
    BadMac,
}

impl std::fmt::Display for MarkerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            MarkerError::Missing => "no marker",
            MarkerError::Duplicated => "more than one marker header",
            MarkerError::NoSecret => "the marker secret is not available",
            MarkerError::Malformed => "malformed marker",
            MarkerError::Expired => "expired marker",
            MarkerError::BadMac => "marker does not match this path",
        })
    }
}

/// HMAC accepts keys of any length, so `None` does not happen in practice.
fn mac(secret: &[u8], expires_at: u64, path: &str) -> Option<HmacSha256> {
    let mut m = HmacSha256::new_from_slice(secret).ok()?;
    m.update(VERSION.as_bytes());
    m.update(b"\n");
    m.update(expires_at.to_string().as_bytes());
    m.update(b"\n");
    m.update(path.as_bytes());
    Some(m)
}

/// Issues a marker for `path` (the full `:path`, query included).
pub fn issue(secret: &[u8], path: &str, now: u64, ttl_secs: u64) -> Option<String> {
    let expires_at = now.saturating_add(ttl_secs);
    let tag = mac(secret, expires_at, path)?.finalize().into_bytes();
    Some(format!("{VERSION}.{expires_at}.{}", hex::encode(tag)))
}

/// Checks a marker against the path it must have been issued for.
pub fn verify(secret: &[u8], marker: &[u8], path: &str, now: u64) -> Result<(), MarkerError> {
    let marker = std::str::from_utf8(marker).map_err(|_| MarkerError::Malformed)?;
    let mut parts = marker.trim().split('.');
    let (Some(VERSION), Some(exp), Some(tag), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(MarkerError::Malformed);
    };
    let expires_at: u64 = exp.parse().map_err(|_| MarkerError::Malformed)?;
    let tag = hex::decode(tag).map_err(|_| MarkerError::Malformed)?;
    // Check the MAC first, so an attacker learns nothing from the expiry branch.
    mac(secret, expires_at, path)
        .ok_or(MarkerError::Malformed)?
        .verify_slice(&tag)
        .map_err(|_| MarkerError::BadMac)?;
    if now > expires_at {
        return Err(MarkerError::Expired);
    }
    Ok(())
}

/// Checks the marker headers of a request: exactly one, valid for `path`.
/// `secret` is `None` when the shared secret could not be read.
pub fn verify_request<'a>(
    mut values: impl Iterator<Item = &'a [u8]>,
    secret: Option<&[u8]>,
    path: &str,
    now: u64,
) -> Result<(), MarkerError> {
    let first = values.next().ok_or(MarkerError::Missing)?;
    if values.next().is_some() {
        return Err(MarkerError::Duplicated);
    }
    verify(secret.ok_or(MarkerError::NoSecret)?, first, path, now)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: [u8; SECRET_LEN] = [7u8; SECRET_LEN];

    #[test]
    fn issued_marker_verifies_for_its_path_only() {
        let m = issue(&SECRET, "/internal-assets/a.jpg", 1000, 30).unwrap();
        assert!(m.starts_with("v1.1030."));
        assert_eq!(
            verify(&SECRET, m.as_bytes(), "/internal-assets/a.jpg", 1000),
            Ok(())
        );
        assert_eq!(
            verify(&SECRET, m.as_bytes(), "/internal-assets/a.jpg", 1030),
            Ok(())
        );
        assert_eq!(
            verify(&SECRET, m.as_bytes(), "/internal-assets/b.jpg", 1000),
            Err(MarkerError::BadMac)
        );
        assert_eq!(
            verify(&SECRET, m.as_bytes(), "/internal-assets/a.jpg?x=1", 1000),
            Err(MarkerError::BadMac)
        );
    }

    #[test]
    fn expired_marker_is_refused() {
        let m = issue(&SECRET, "/p", 1000, 30).unwrap();
        assert_eq!(
            verify(&SECRET, m.as_bytes(), "/p", 1031),
            Err(MarkerError::Expired)
        );
    }

    #[test]
    fn other_secret_or_forged_expiry_is_refused() {
        let m = issue(&SECRET, "/p", 1000, 30).unwrap();
        assert_eq!(
            verify(&[8u8; 32], m.as_bytes(), "/p", 1000),
            Err(MarkerError::BadMac)
        );
        let forged = m.replacen("1030", "9999", 1);
        assert_eq!(
            verify(&SECRET, forged.as_bytes(), "/p", 2000),
            Err(MarkerError::BadMac)
        );
    }

    #[test]
    fn request_needs_exactly_one_valid_marker() {
        let m = issue(&SECRET, "/p", 1000, 30).unwrap();
        let one = [m.as_bytes()];
        assert_eq!(
            verify_request(one.iter().copied(), Some(&SECRET), "/p", 1000),
            Ok(())
        );
        assert_eq!(
            verify_request([].iter().copied(), Some(&SECRET), "/p", 1000),
            Err(MarkerError::Missing)
        );
        let two = [m.as_bytes(), m.as_bytes()];
        assert_eq!(
            verify_request(two.iter().copied(), Some(&SECRET), "/p", 1000),
            Err(MarkerError::Duplicated)
        );
        assert_eq!(
            verify_request(one.iter().copied(), None, "/p", 1000),
            Err(MarkerError::NoSecret)
        );
    }

    #[test]
    fn malformed_markers() {
        for bad in [
            "",
            "true",
            "v1",
            "v1.10",
            "v2.10.00",
            "v1.x.00",
            "v1.10.zz",
            "v1.10.00.extra",
        ] {
            assert!(verify(&SECRET, bad.as_bytes(), "/p", 0).is_err(), "{bad}");
        }
        assert_eq!(
            verify(&SECRET, b"v1.10.00", "/p", 0),
            Err(MarkerError::BadMac)
        );
        assert_eq!(
            verify(&SECRET, &[0xff, 0xfe], "/p", 0),
            Err(MarkerError::Malformed)
        );
    }
}
