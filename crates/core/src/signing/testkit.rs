//! What the signing and role tests share.

use crate::config::{Config, MapEnv, SigningConfig};

/// A storage role's signing section: static credentials in us-east-1, plus
/// `extra` (a JSON fragment starting with `,`).
pub(crate) fn signing(extra: &str) -> SigningConfig {
    let json = format!(
        r#"{{"role":"storage","signing":{{"region":"us-east-1","credentials":{{"source":"static","access_key_id":"AK","secret_access_key":"SK"}}{extra}}}}}"#
    );
    Config::parse(json.as_bytes(), &MapEnv(vec![]))
        .unwrap()
        .signing
        .unwrap()
}

/// Owned header pairs, as the roles take them.
pub(crate) fn headers(pairs: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
        .collect()
}
