//! What a signing edge (flow C) may sign. Whoever reaches its port gets the
//! permissions of the proxy's credentials, so an operator can narrow them to
//! methods, buckets and key prefixes; anything else is refused before it is
//! signed.

use crate::core::redirect::decode_lenient;

/// The validated scope; empty lists mean "any".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignScope {
    /// Upper-case HTTP methods, e.g. `["GET", "HEAD"]` for a read-only edge.
    pub methods: Vec<String>,
    /// S3 buckets.
    pub buckets: Vec<String>,
    /// S3 key prefixes (decoded keys), e.g. `"public/"`.
    pub key_prefixes: Vec<String>,
}

/// Query parameters of a bucket listing (ListObjects v1/v2): the only
/// bucket-level request a prefix-scoped edge signs.
const LIST_PARAMS: [&str; 9] = [
    "list-type",
    "prefix",
    "delimiter",
    "continuation-token",
    "start-after",
    "max-keys",
    "encoding-type",
    "fetch-owner",
    "marker",
];

impl SignScope {
    /// Whether the scope limits anything at all.
    pub fn is_open(&self) -> bool {
        self.methods.is_empty() && self.buckets.is_empty() && self.key_prefixes.is_empty()
    }

    /// Checks one request. `bucket` and `key` (wire form) are `None` for a
    /// service other than S3, where only methods apply. The error says why,
    /// for the client's 403.
    pub fn check(
        &self,
        method: &str,
        s3: Option<(Option<&str>, &str)>,
        query: &str,
    ) -> Result<(), String> {
        if !self.methods.is_empty() && !self.methods.iter().any(|m| m == method) {
            return Err(format!("this signing edge does not sign {method} requests"));
        }
        let Some((bucket, key)) = s3 else {
            return Ok(());
        };
        if !self.buckets.is_empty() && !bucket.is_some_and(|b| self.buckets.iter().any(|x| x == b))
        {
            return Err("this signing edge does not sign requests for this bucket".into());
        }
        if self.key_prefixes.is_empty() {
            return Ok(());
        }
        let within = |k: &[u8]| {
            self.key_prefixes
                .iter()
                .any(|p| k.starts_with(p.as_bytes()))
        };
        if !key.is_empty() {
            return if within(&decode_lenient(key.as_bytes())) {
                Ok(())
            } else {
                Err("this signing edge does not sign requests for this key".into())
            };
        }
        // A bucket-level request: only a listing, of an allowed prefix.
        let mut prefix = None;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            if !LIST_PARAMS.contains(&name) {
                return Err("this signing edge signs no bucket-level request but a listing".into());
            }
            if name == "prefix" {
                prefix = Some(decode_lenient(value.as_bytes()));
            }
        }
        match prefix {
            Some(p) if (method == "GET" || method == "HEAD") && within(&p) => Ok(()),
            _ => Err("this signing edge lists only within its key prefixes".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> SignScope {
        SignScope {
            methods: vec!["GET".into(), "HEAD".into()],
            buckets: vec!["assets".into()],
            key_prefixes: vec!["public/".into()],
        }
    }

    #[test]
    fn open_scope_allows_everything() {
        let s = SignScope::default();
        assert!(s.is_open());
        assert!(s.check("DELETE", Some((Some("any"), "k")), "").is_ok());
        assert!(s.check("POST", None, "").is_ok());
    }

    #[test]
    fn methods_buckets_and_prefixes() {
        let s = scope();
        assert!(s
            .check("GET", Some((Some("assets"), "public/a.txt")), "")
            .is_ok());
        assert!(s
            .check("HEAD", Some((Some("assets"), "public/a%20b.txt")), "")
            .is_ok());
        assert!(s
            .check("GET", Some((Some("assets"), "public%2Fa.txt")), "")
            .is_ok());
        for (method, bucket, key) in [
            ("PUT", Some("assets"), "public/a.txt"),
            ("DELETE", Some("assets"), "public/a.txt"),
            ("GET", Some("other"), "public/a.txt"),
            ("GET", None, ""),
            ("GET", Some("assets"), "private/a.txt"),
            ("GET", Some("assets"), "publicity.txt"),
        ] {
            assert!(
                s.check(method, Some((bucket, key)), "").is_err(),
                "{method} {bucket:?} {key}"
            );
        }
        // Non-S3 services: only the methods apply.
        assert!(s.check("GET", None, "").is_ok());
        assert!(s.check("POST", None, "").is_err());
    }

    #[test]
    fn listings_only_within_the_prefixes() {
        let s = scope();
        let b = Some((Some("assets"), ""));
        assert!(s
            .check("GET", b, "list-type=2&prefix=public%2Fx&delimiter=%2F")
            .is_ok());
        assert!(s.check("GET", b, "list-type=2&prefix=private%2F").is_err());
        assert!(s.check("GET", b, "list-type=2").is_err());
        assert!(s.check("GET", b, "acl&prefix=public%2F").is_err());
        assert!(s.check("GET", b, "").is_err());
    }
}
