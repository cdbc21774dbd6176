//! The small syntax checks shared by configuration and the request paths,
//! defined once so that "a header name" or "a bucket name" means the same
//! thing everywhere. Each check names the grammar it follows.

/// RFC 9110 `tchar`: a byte of a token (header names, methods).
pub const fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'.'
                | b'^'
                | b'_'
                | b'`'
                | b'|'
                | b'~'
        )
}

/// RFC 9110 `token` (a header name or a method as HTTP allows them).
pub fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_tchar)
}

/// RFC 3986 `unreserved`: bytes a URI component keeps as they are.
pub const fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// A name of ASCII letters, digits, `-` and `_` (regions, services, query
/// parameter names): narrower than a token, so it is safe in a credential
/// scope, a host name or a query without escaping.
pub fn is_plain_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A header name as configuration writes it: lowercase letters, digits, `-`
/// and `_` (a token that compares equal to what Envoy hands the filter,
/// which lowercases names).
pub fn is_lowercase_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// S3 bucket naming rules (the subset that matters for safe host and path building).
pub fn valid_bucket_name(name: &str) -> bool {
    (3..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && name
            .as_bytes()
            .first()
            .is_some_and(|b| b.is_ascii_alphanumeric())
        && name
            .as_bytes()
            .last()
            .is_some_and(|b| b.is_ascii_alphanumeric())
        && !super::ascii::contains(name, "..")
}

/// An IAM role or session name (it goes into a path or a form field).
pub fn valid_role_name(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
}

/// `url` after its `https://` or `http://` scheme, if it has one.
pub fn after_http_scheme(url: &str) -> Option<&str> {
    url.strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_is_rfc_9110() {
        assert!(is_token("GET"));
        assert!(is_token("x-amz-meta-a.b~c"));
        assert!(is_token("!#$%&'*+-.^_`|~"));
        for bad in ["", "a b", "a:b", "a/b", "(x)", "é"] {
            assert!(!is_token(bad), "{bad}");
        }
        // Every tchar byte, and only those.
        let tchars: Vec<u8> = (0..=255u8).filter(|&b| is_tchar(b)).collect();
        assert_eq!(tchars.len(), 62 + 15);
    }

    #[test]
    fn unreserved_is_rfc_3986() {
        let all: String = (0..=255u8)
            .filter(|&b| is_unreserved(b))
            .map(char::from)
            .collect();
        assert_eq!(
            all,
            "-.0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz~"
        );
    }

    #[test]
    fn plain_names_and_lowercase_header_names() {
        assert!(is_plain_name("us-east-1"));
        assert!(is_plain_name("execute_api"));
        assert!(!is_plain_name("a=b"));
        assert!(!is_plain_name("us east"));
        assert!(!is_plain_name(""));
        assert!(is_lowercase_header_name("x-internal-redirect"));
        assert!(!is_lowercase_header_name("X-Internal"));
        assert!(!is_lowercase_header_name("x.y"));
        assert!(!is_lowercase_header_name(""));
    }

    #[test]
    fn bucket_names() {
        assert!(valid_bucket_name("assets"));
        assert!(valid_bucket_name("my.bucket-1"));
        assert!(!valid_bucket_name("ab"));
        assert!(!valid_bucket_name("-ab"));
        assert!(!valid_bucket_name("a..b"));
        assert!(!valid_bucket_name("Upper"));
    }

    #[test]
    fn role_names() {
        assert!(valid_role_name("asset-gate"));
        assert!(valid_role_name("a+b=c,d.e@f_g"));
        assert!(!valid_role_name("a/../b"));
        assert!(!valid_role_name(""));
        assert!(!valid_role_name(&"a".repeat(65)));
    }

    #[test]
    fn after_http_scheme_takes_only_http_and_https() {
        assert_eq!(
            after_http_scheme("https://s3.example:9000/x"),
            Some("s3.example:9000/x")
        );
        assert_eq!(after_http_scheme("http://s3"), Some("s3"));
        assert_eq!(after_http_scheme("ftp://s3"), None);
        assert_eq!(after_http_scheme("s3"), None);
    }
}
