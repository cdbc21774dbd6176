//! Storage's error answers, read for the operator. The client gets a short
//! plain text (`plain_errors`); the operator gets S3's error code, counted
//! (`storage_error.<Code>`), in the access log's filter state, and, unless
//! the error is routine traffic, in a warning that names the usual cause.
//! Only `<Code>` and `<Message>` are read: S3 echoes the request's
//! `StringToSign`, `CanonicalRequest` and access key id in a
//! `SignatureDoesNotMatch`, and those never reach a log.

use crate::primitives::ascii;

/// The most of an error body kept to find its code. S3's error documents
/// are a few hundred bytes, a `SignatureDoesNotMatch` (its canonical
/// request twice, once as hex) a few KiB; `<Code>` comes first in each.
pub const MAX_ERROR_BODY: usize = 8 * 1024;

/// The S3 error codes counted under their own name (any other is `other`):
/// the ones a GET, HEAD, PUT, DELETE or multipart call meets, so that the
/// set of counters stays bounded whatever storage answers.
const COUNTED: &str = "AccessDenied AuthorizationHeaderMalformed BadDigest EntityTooLarge \
EntityTooSmall ExpiredToken InternalError InvalidAccessKeyId InvalidArgument InvalidBucketName \
InvalidObjectState InvalidPart InvalidRange InvalidRequest InvalidToken MethodNotAllowed \
NoSuchBucket NoSuchKey NoSuchUpload NotImplemented PermanentRedirect PreconditionFailed \
RequestTimeTooSkewed RequestTimeout ServiceUnavailable SignatureDoesNotMatch SlowDown \
XAmzContentSHA256Mismatch";

/// What an error body says, as far as the operator is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ErrorBody<'a> {
    /// `<Code>`, when it is a short ASCII identifier.
    pub code: Option<&'a str>,
    /// `<Message>` as sent (XML-escaped).
    pub message: Option<&'a [u8]>,
}

/// Reads an S3 error document (`<Error><Code>…`); anything else, or a
/// code that is not a plain identifier, has no code.
pub fn parse(xml: &[u8]) -> ErrorBody<'_> {
    let code = element(xml, b"<Code>", b"</Code>")
        .filter(|c| is_code(c))
        .and_then(|c| std::str::from_utf8(c).ok());
    ErrorBody {
        code,
        message: element(xml, b"<Message>", b"</Message>"),
    }
}

/// A code as S3 spells them: 1 to 64 ASCII letters and digits, a letter
/// first (it becomes a stat name and a log word).
pub fn is_code(code: &[u8]) -> bool {
    (1..=64).contains(&code.len())
        && code.first().is_some_and(u8::is_ascii_alphabetic)
        && code.iter().all(u8::is_ascii_alphanumeric)
}

/// The text of the first `open…close` element in `xml` (no attributes,
/// as S3 writes them).
fn element<'a>(xml: &'a [u8], open: &[u8], close: &[u8]) -> Option<&'a [u8]> {
    let text = xml.get(ascii::find(xml, open)? + open.len()..)?;
    text.get(..ascii::find(text, close)?)
}

/// The counter (`storage_error.<member>`) and filter-state value
/// (`storage_error:<member>`) of an error: its code if counted, its status
/// when it has no body (a HEAD: the code is unknown), else `other`.
pub fn member(status: u32, body: Option<&ErrorBody>) -> String {
    match body {
        None if (400..600).contains(&status) => status.to_string(),
        None => "other".into(),
        Some(b) => match b.code.filter(|c| counted(c)) {
            Some(c) => c.into(),
            None => "other".into(),
        },
    }
}

fn counted(code: &str) -> bool {
    COUNTED
        .as_bytes()
        .split(|&b| b == b' ')
        .any(|c| c == code.as_bytes())
}

/// Errors that are normal traffic, logged at debug level only: a missing
/// key (`NoSuchKey`, or a `404` without a body: a HEAD), a failed
/// precondition (`412`) and an unsatisfiable range (`416`). A missing
/// bucket is not routine: it is a configuration mistake.
pub fn routine(status: u32, code: Option<&str>) -> bool {
    matches!(status, 412 | 416) || code == Some("NoSuchKey") || (status == 404 && code.is_none())
}

/// The usual cause of a code, as the setting to check.
pub fn hint(code: &str) -> Option<&'static str> {
    Some(match code {
        "SignatureDoesNotMatch" | "InvalidAccessKeyId" | "ExpiredToken" | "InvalidToken" => {
            "check the storage credentials (signing.credentials)"
        }
        "RequestTimeTooSkewed" => "check this host's clock",
        "AuthorizationHeaderMalformed" => "check signing.region",
        "NoSuchBucket" => "check the bucket (signing.buckets) and signing.endpoint",
        "PermanentRedirect" => "check signing.region and signing.addressing_style",
        "AccessDenied" => "check the access key's policy",
        _ => return None,
    })
}

/// The log line of a storage error (after `asset-gate: `): status, code,
/// where (`target`: the storage host and path asset-gate signed), S3's
/// message, the hint, and how many lines like it the rate limit held back.
pub fn describe(status: u32, body: Option<&ErrorBody>, target: &str, suppressed: u32) -> String {
    let code = body.and_then(|b| b.code);
    let mut line = [
        "storage answered ",
        &status.to_string(),
        " ",
        code.unwrap_or("(no S3 error code)"),
        " for ",
        target,
    ]
    .concat();
    if let Some(m) = body.and_then(|b| b.message) {
        line.push_str(": \"");
        // One printable line, bounded: storage's text, not ours.
        for &b in m.iter().take(200) {
            line.push(if (0x20..0x7f).contains(&b) {
                char::from(b)
            } else {
                '?'
            });
        }
        line.push('"');
    }
    if let Some(h) = code.and_then(hint) {
        line.push_str("; ");
        line.push_str(h);
    }
    if suppressed > 0 {
        line.push_str(" (");
        line.push_str(&suppressed.to_string());
        line.push_str(" more not logged)");
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AWS S3's answer to a request signed with the wrong secret: it echoes
    /// what it expected to be signed.
    const AWS_SIGNATURE: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match the signature you provided. Check your key and signing method.</Message>\
<AWSAccessKeyId>AKIAIOSFODNN7EXAMPLE</AWSAccessKeyId><StringToSign>AWS4-HMAC-SHA256\n20240101T000000Z\n20240101/us-east-1/s3/aws4_request\n5f1c9d1e</StringToSign>\
<SignatureProvided>0123abcd</SignatureProvided><StringToSignBytes>41 57 53 34</StringToSignBytes>\
<CanonicalRequest>GET\n/assets/hello.txt\n\nhost:assets.s3.amazonaws.com\nx-amz-security-token:FwoGZXIvYXdzEJr\n\nhost;x-amz-security-token\nUNSIGNED-PAYLOAD</CanonicalRequest>\
<CanonicalRequestBytes>47 45 54 0a</CanonicalRequestBytes><RequestId>4442587FB7D0A2F9</RequestId><HostId>ZmFrZQ==</HostId></Error>";

    const AWS_NO_SUCH_KEY: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Key>missing.txt</Key><RequestId>4442587FB7D0A2F9</RequestId><HostId>ZmFrZQ==</HostId></Error>";

    const AWS_NO_SUCH_BUCKET: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message><BucketName>asets</BucketName><RequestId>1</RequestId><HostId>2</HostId></Error>";

    const AWS_REGION: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
<Error><Code>AuthorizationHeaderMalformed</Code><Message>The authorization header is malformed; the region &apos;us-east-1&apos; is wrong; expecting &apos;eu-west-1&apos;</Message><Region>eu-west-1</Region><RequestId>1</RequestId><HostId>2</HostId></Error>";

    const AWS_SKEWED: &str = "<Error><Code>RequestTimeTooSkewed</Code><Message>The difference between the request time and the current time is too large.</Message><RequestTime>20240101T000000Z</RequestTime><ServerTime>2024-01-01T01:00:00Z</ServerTime><MaxAllowedSkewMilliseconds>900000</MaxAllowedSkewMilliseconds></Error>";

    /// SeaweedFS 4.48's answers, as captured in the e2e tests.
    const SEAWEED_SIGNATURE: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match the signature you provided. Check your key and signing method.</Message>\
<Resource>/assets/hello.txt</Resource><RequestId>18EF216C5CB9F659D38E613B</RequestId><Key>hello.txt</Key><BucketName>assets</BucketName></Error>";

    const SEAWEED_NO_SUCH_KEY: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Resource>/assets/missing.txt</Resource>\
<RequestId>18EF216C5DB362534E3999FF</RequestId><Key>missing.txt</Key><BucketName>assets</BucketName></Error>";

    const SEAWEED_NO_SUCH_BUCKET: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message><Resource>/nobucket/missing.txt</Resource>\
<RequestId>18EF216C5E63A4CDB5395272</RequestId><Key>missing.txt</Key><BucketName>nobucket</BucketName></Error>";

    #[test]
    fn codes_and_messages_are_read_from_aws_and_seaweedfs_errors() {
        let b = parse(AWS_SIGNATURE.as_bytes());
        assert_eq!(b.code, Some("SignatureDoesNotMatch"));
        assert!(b.message.unwrap().starts_with(b"The request signature"));
        for (xml, code) in [
            (AWS_NO_SUCH_KEY, "NoSuchKey"),
            (AWS_NO_SUCH_BUCKET, "NoSuchBucket"),
            (AWS_REGION, "AuthorizationHeaderMalformed"),
            (AWS_SKEWED, "RequestTimeTooSkewed"),
            (SEAWEED_SIGNATURE, "SignatureDoesNotMatch"),
            (SEAWEED_NO_SUCH_KEY, "NoSuchKey"),
            (SEAWEED_NO_SUCH_BUCKET, "NoSuchBucket"),
        ] {
            let b = parse(xml.as_bytes());
            assert_eq!(b.code, Some(code));
            assert_eq!(member(403, Some(&b)), code);
        }
    }

    #[test]
    fn anything_but_a_plain_code_counts_as_other() {
        for xml in [
            "",
            "<html><body>502 Bad Gateway</body></html>",
            "<Error><Code>Bad Code</Code></Error>",
            "<Error><Code>Line\nBreak</Code></Error>",
            "<Error><Code></Code></Error>",
            "<Error><Code>9Lives</Code></Error>",
            "<Error><Code>NoSuchKey",
            "upstream connect error or disconnect/reset before headers",
        ] {
            let b = parse(xml.as_bytes());
            assert_eq!(b.code, None, "{xml}");
            assert_eq!(member(502, Some(&b)), "other", "{xml}");
        }
        let long = format!("<Error><Code>{}</Code></Error>", "A".repeat(65));
        assert_eq!(parse(long.as_bytes()).code, None);
        // A plain code storage made up is read but not counted by name.
        let b = parse(b"<Error><Code>XMinioServerNotInitialized</Code></Error>");
        assert_eq!(b.code, Some("XMinioServerNotInitialized"));
        assert_eq!(member(503, Some(&b)), "other");
        // No body (a HEAD): the status stands in for the code.
        assert_eq!(member(403, None), "403");
        assert_eq!(member(399, None), "other");
        assert!(counted("SlowDown") && !counted("Slow") && !counted(""));
    }

    #[test]
    fn the_warning_names_the_cause_and_never_a_secret() {
        let b = parse(AWS_SIGNATURE.as_bytes());
        let line = describe(403, Some(&b), "assets.s3.amazonaws.com/hello.txt", 0);
        assert_eq!(
            line,
            "storage answered 403 SignatureDoesNotMatch for assets.s3.amazonaws.com/hello.txt: \
\"The request signature we calculated does not match the signature you provided. Check your key and signing method.\"; \
check the storage credentials (signing.credentials)"
        );
        for secret in [
            "StringToSign",
            "AWS4-HMAC-SHA256",
            "CanonicalRequest",
            "x-amz-security-token",
            "FwoGZXIvYXdzEJr",
            "AKIA",
            "0123abcd",
        ] {
            assert!(!line.contains(secret), "{secret} in {line}");
        }
        let b = parse(AWS_REGION.as_bytes());
        let line = describe(400, Some(&b), "s3/b/k", 3);
        assert_eq!(
            line,
            "storage answered 400 AuthorizationHeaderMalformed for s3/b/k: \"The authorization header is malformed; \
the region &apos;us-east-1&apos; is wrong; expecting &apos;eu-west-1&apos;\"; check signing.region (3 more not logged)"
        );
        assert_eq!(
            describe(403, None, "s3/b/k", 0),
            "storage answered 403 (no S3 error code) for s3/b/k"
        );
        // Storage's text stays one printable line, bounded.
        let b = parse(b"<Error><Code>X</Code><Message>a\nb\xff</Message></Error>");
        assert_eq!(
            describe(500, Some(&b), "t", 0),
            "storage answered 500 X for t: \"a?b?\""
        );
        let xml = format!(
            "<Error><Code>AccessDenied</Code><Message>{}</Message></Error>",
            "m".repeat(300)
        );
        let line = describe(403, Some(&parse(xml.as_bytes())), "t", 0);
        assert!(line.contains(&format!("\"{}\"", "m".repeat(200))), "{line}");
        assert!(line.ends_with("check the access key's policy"));
    }

    #[test]
    fn routine_errors_are_missing_keys_preconditions_and_ranges() {
        assert!(routine(404, Some("NoSuchKey")));
        assert!(routine(404, None));
        assert!(routine(412, Some("PreconditionFailed")));
        assert!(routine(416, Some("InvalidRange")));
        assert!(routine(412, None));
        assert!(!routine(404, Some("NoSuchBucket")));
        assert!(!routine(403, Some("SignatureDoesNotMatch")));
        assert!(!routine(403, None));
        assert!(!routine(500, Some("InternalError")));
        for code in COUNTED.split(' ') {
            assert!(is_code(code.as_bytes()), "{code}");
        }
        for code in [
            "SignatureDoesNotMatch",
            "InvalidAccessKeyId",
            "RequestTimeTooSkewed",
            "AuthorizationHeaderMalformed",
            "NoSuchBucket",
            "PermanentRedirect",
            "AccessDenied",
        ] {
            assert!(hint(code).is_some() && counted(code), "{code}");
        }
        assert_eq!(hint("NoSuchKey"), None);
    }

    /// docs/metrics.md lists exactly the codes counted by name.
    #[test]
    fn the_metrics_page_lists_the_counted_codes() {
        let doc = include_str!("../../../docs/metrics.md");
        let section = doc
            .split("## Storage errors by code")
            .nth(1)
            .and_then(|s| s.split("\n## ").next())
            .unwrap();
        // The list: lines of codes, each quoted and followed by `,` or `.`.
        let listed: Vec<&str> = section
            .lines()
            .filter(|l| l.starts_with('`') && (l.ends_with("`,") || l.ends_with("`.")))
            .flat_map(|l| l.split('`').skip(1).step_by(2))
            .collect();
        for code in COUNTED.split(' ') {
            assert!(listed.contains(&code), "{code} is not in docs/metrics.md");
        }
        for code in listed {
            assert!(
                counted(code),
                "docs/metrics.md lists {code}, which is not counted"
            );
        }
    }
}
