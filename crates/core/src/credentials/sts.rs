//! STS `AssumeRole` (signed by asset-gate with SigV4, service `sts`, using
//! credentials from another source) and `AssumeRoleWithWebIdentity`
//! (unsigned; the token from configuration or a token endpoint). Both are
//! form `POST`s to the regional endpoint through an Envoy cluster; the XML
//! answer is bounded ([`super::step::MAX_ANSWER_BYTES`]) and read by a
//! few-element parser that only looks for what it needs. `AssumeRole` runs
//! its base source through [`Source`], so it works over any source without
//! knowing how sources are composed.

use super::rfc3339::parse_rfc3339_utc;
use super::step::{
    Answer, Call, Expiring, Failure, Fetched, Reason, Source, Step, EXPIRY_MARGIN_SECS,
};
use super::token::{jwt_expiry, parse_token, token_call};
use crate::config::{StsConfig, TokenSource, WebIdentityConfig};
use crate::primitives::ascii;
use crate::sigv4::{self, Credentials, HeaderSigning, Request, Scope, SigningKeyCache};

const FORM: &str = "application/x-www-form-urlencoded; charset=utf-8";
const VERSION: &str = "2011-06-15";

/// RFC 3986 percent-encoding of a form value (unreserved characters kept).
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The form body of an STS action.
fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn post(sts: &StsConfig, body: String, mut headers: Vec<(&'static str, String)>) -> Call {
    headers.push(("content-type", FORM.into()));
    headers.push(("content-length", body.len().to_string()));
    headers.push(("accept", "application/xml".into()));
    Call {
        cluster: sts.cluster.clone(),
        method: "POST",
        authority: sts.authority.clone(),
        path: "/".into(),
        headers,
        body: body.into_bytes(),
        timeout_ms: sts.timeout_ms,
    }
}

fn duration(sts: &StsConfig) -> String {
    sts.duration_secs.to_string()
}

/// The `AssumeRole` call, SigV4-signed with `base` at `now`.
pub fn assume_role_call(
    sts: &StsConfig,
    external_id: Option<&str>,
    base: &Credentials,
    now: u64,
) -> Result<Call, sigv4::SigV4Error> {
    let secs = duration(sts);
    let mut pairs = vec![
        ("Action", "AssumeRole"),
        ("Version", VERSION),
        ("RoleArn", sts.role_arn.as_str()),
        ("RoleSessionName", sts.session_name.as_str()),
        ("DurationSeconds", secs.as_str()),
    ];
    if let Some(id) = external_id {
        pairs.push(("ExternalId", id));
    }
    let body = form(&pairs);
    let hash = sigv4::sha256_hex(body.as_bytes());
    let signed = sigv4::sign_headers(
        &Request {
            method: "POST",
            path: "/",
            query: "",
            headers: &[("host", sts.authority.as_str()), ("content-type", FORM)],
        },
        base,
        &Scope {
            region: &sts.region,
            service: "sts",
        },
        now,
        &HeaderSigning {
            payload_hash: &hash,
            add_content_sha256_header: false,
            session_token_signed: true,
        },
        &mut SigningKeyCache::default(),
    )?;
    Ok(post(sts, body, signed.to_vec()))
}

/// The (unsigned) `AssumeRoleWithWebIdentity` call.
pub fn web_identity_call(sts: &StsConfig, token: &str) -> Call {
    let secs = duration(sts);
    let body = form(&[
        ("Action", "AssumeRoleWithWebIdentity"),
        ("Version", VERSION),
        ("RoleArn", &sts.role_arn),
        ("RoleSessionName", &sts.session_name),
        ("WebIdentityToken", token),
        ("DurationSeconds", &secs),
    ]);
    post(sts, body, vec![])
}

// ---------------------------------------------------------------------------
// The few-element XML reader

/// Where `needle` first occurs in `hay` (a byte search: smaller than `str::find`).
fn find(hay: &str, needle: &str) -> Option<usize> {
    ascii::find(hay.as_bytes(), needle.as_bytes())
}

/// The raw content of the first element whose local name (namespace prefix
/// ignored) is `name`: `<name>`, `<p:name attr="...">`, `<name/>` (empty).
/// Comments, CDATA sections, declarations and processing instructions are
/// skipped; `None` when the element is missing or unterminated.
pub fn element<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let mut i = 0;
    while let Some(p) = xml.get(i..)?.find('<') {
        let start = i + p + 1;
        let tail = xml.get(start..)?;
        for (open, close) in [("!--", "-->"), ("![CDATA[", "]]>"), ("?", "?>"), ("!", ">")] {
            if tail.starts_with(open) {
                i = start + find(tail, close)? + close.len();
                break;
            }
        }
        if i > start {
            continue;
        }
        i = start;
        if tail.starts_with('/') {
            continue;
        }
        let name_len = tail
            .bytes()
            .position(|c| c.is_ascii_whitespace() || c == b'>' || c == b'/')
            .unwrap_or(tail.len());
        // Checked splits (always at boundaries): indexing would pull core's
        // char-boundary panic path, and its Unicode tables, into the module.
        let (qname, attrs) = tail.split_at_checked(name_len)?;
        let local = ascii::after_last(qname, b':');
        let (attrs, _) = ascii::split_once(attrs, b'>')?;
        let gt = attrs.len();
        if local != name || qname.is_empty() {
            continue;
        }
        if attrs.ends_with('/') {
            return Some("");
        }
        let content = start + name_len + gt + 1;
        let closing = format!("</{qname}");
        let mut j = content;
        loop {
            let q = j + find(xml.get(j..)?, &closing)?;
            let after = xml.get(q + closing.len()..)?.trim_start();
            if after.starts_with('>') {
                return xml.get(content..q);
            }
            j = q + closing.len();
        }
    }
    None
}

/// An element's text: trimmed, the XML entities decoded; `None` if it holds markup.
pub fn text(xml: &str, name: &str) -> Option<String> {
    let raw = element(xml, name)?.trim();
    if raw.contains('<') {
        return None;
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    // Split at ASCII bytes, not indexed: no char-boundary panic path in the
    // module.
    while let Some((before, after)) = ascii::split_once(rest, b'&') {
        out.push_str(before);
        let (entity, tail) = ascii::split_once(after, b';').filter(|(e, _)| e.len() <= 10)?;
        let c = match entity {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            // Numeric references: decimal only (STS never sends hex ones).
            _ => char::from_u32(
                entity
                    .strip_prefix('#')?
                    .parse::<u64>()
                    .ok()?
                    .try_into()
                    .ok()?,
            )?,
        };
        out.push(c);
        rest = tail;
    }
    out.push_str(rest);
    Some(out)
}

/// The credentials in an STS answer (`<Credentials>` of `AssumeRoleResult`
/// or `AssumeRoleWithWebIdentityResult`), or why there are none. An error
/// answer's `<Code>` (e.g. `AccessDenied`) is logged, never its message.
pub fn parse_answer(answer: Answer, now: u64) -> Result<Expiring, Failure> {
    let Some(status) = answer.status else {
        return Err(answer.failure(Reason::Status, "STS"));
    };
    let xml = std::str::from_utf8(answer.body).unwrap_or_default();
    if !(200..300).contains(&status) {
        let code = text(xml, "Code")
            .filter(|c| c.len() <= 64 && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.'))
            .unwrap_or_else(|| "no error code".into());
        return Err(Failure {
            status: Some(status),
            code: Some(code),
            ..Failure::new(Reason::Status, "STS")
        });
    }
    let invalid = |what: &'static str| Failure::new(Reason::Invalid, what);
    let creds =
        element(xml, "Credentials").ok_or_else(|| invalid("STS answer: no Credentials element"))?;
    let field = |name: &'static str| {
        text(creds, name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| invalid("STS answer: a credentials element is missing or empty"))
    };
    let credentials = Credentials {
        access_key_id: field("AccessKeyId")?,
        secret_access_key: field("SecretAccessKey")?,
        session_token: Some(field("SessionToken")?),
    };
    let expires_at = parse_rfc3339_utc(&field("Expiration")?)
        .ok_or_else(|| invalid("STS answer: bad Expiration"))?;
    if expires_at <= now.saturating_add(EXPIRY_MARGIN_SECS) {
        return Err(invalid("STS answer: already expired"));
    }
    Ok(Expiring {
        credentials,
        expires_at: Some(expires_at),
    })
}

fn done(answer: Answer, now: u64, source: &'static str, token_expires_at: Option<u64>) -> Step {
    match parse_answer(answer, now) {
        Ok(credentials) => Step::Done(Fetched {
            credentials,
            source,
            token_expires_at,
        }),
        Err(f) => Step::Failed(f),
    }
}

// ---------------------------------------------------------------------------
// The two machines

/// `AssumeRole`: the base source's refresh, then the signed STS call.
#[derive(Debug)]
pub struct AssumeRole<B> {
    sts: StsConfig,
    external_id: Option<String>,
    base: B,
    in_base: bool,
}

impl<B: Source> AssumeRole<B> {
    pub fn new(sts: StsConfig, external_id: Option<String>, base: B) -> AssumeRole<B> {
        AssumeRole {
            sts,
            external_id,
            base,
            in_base: true,
        }
    }

    fn after_base(&mut self, step: Step, now: u64) -> Step {
        let Step::Done(base) = step else {
            return step;
        };
        self.in_base = false;
        match assume_role_call(
            &self.sts,
            self.external_id.as_deref(),
            &base.credentials.credentials,
            now,
        ) {
            Ok(call) => Step::Call(call),
            Err(_) => Step::Failed(Failure::new(
                Reason::Invalid,
                "cannot sign AssumeRole with the base credentials",
            )),
        }
    }
}

impl<B: Source> Source for AssumeRole<B> {
    fn start(&mut self, now: u64) -> Step {
        self.in_base = true;
        let step = self.base.start(now);
        self.after_base(step, now)
    }

    fn on_answer(&mut self, answer: Answer, now: u64) -> Step {
        if self.in_base {
            let step = self.base.on_answer(answer, now);
            return self.after_base(step, now);
        }
        done(answer, now, "assume_role", None)
    }

    /// The base's calls, then STS.
    fn budget(&self) -> (u32, u64) {
        let (n, t) = self.base.budget();
        (n + 1, t.max(self.sts.timeout_ms))
    }
}

/// `AssumeRoleWithWebIdentity`: the token (read from its endpoint), then STS.
#[derive(Debug)]
pub struct WebIdentity {
    sts: StsConfig,
    token: TokenSource,
    /// The token of this refresh's STS call and its `exp`, once read.
    token_expires_at: Option<u64>,
    reading_token: bool,
}

impl WebIdentity {
    pub fn new(config: WebIdentityConfig) -> WebIdentity {
        WebIdentity {
            sts: config.sts,
            token: config.token,
            token_expires_at: None,
            reading_token: false,
        }
    }

    fn sts_call(&mut self, token: &str) -> Step {
        self.token_expires_at = jwt_expiry(token);
        Step::Call(web_identity_call(&self.sts, token))
    }
}

impl Source for WebIdentity {
    fn start(&mut self, _now: u64) -> Step {
        match &self.token {
            TokenSource::Endpoint(e) => {
                self.reading_token = true;
                Step::Call(token_call(e))
            }
            TokenSource::Inline(t) => {
                let t = t.clone();
                self.sts_call(&t)
            }
        }
    }

    fn on_answer(&mut self, answer: Answer, now: u64) -> Step {
        if std::mem::take(&mut self.reading_token) {
            return match parse_token(answer) {
                Ok(t) => self.sts_call(&t),
                Err(f) => Step::Failed(f),
            };
        }
        done(answer, now, "web_identity", self.token_expires_at)
    }

    /// The token (when read from its endpoint), then STS.
    fn budget(&self) -> (u32, u64) {
        let timeout_ms = match &self.token {
            TokenSource::Endpoint(e) => e.timeout_ms.max(self.sts.timeout_ms),
            TokenSource::Inline(_) => self.sts.timeout_ms,
        };
        (2, timeout_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TokenEndpoint;
    use crate::credentials::testkit::{call, done as got, failed, no_response, ok, status, NOW};

    const ANSWER: &str = r#"<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
    <SourceIdentity>x</SourceIdentity>
    <AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/demo/s</Arn><AssumedRoleId>ARO:s</AssumedRoleId></AssumedRoleUser>
    <Credentials>
      <AccessKeyId>ASIAEXAMPLE</AccessKeyId>
      <SecretAccessKey>
        wJalr/K7MDENG+bPxRfi&amp;CY
      </SecretAccessKey>
      <SessionToken>FwoGZXIvYXdzE&#47;token&#61;</SessionToken>
      <Expiration>2026-11-22T04:00:00.000Z</Expiration>
    </Credentials>
    <PackedPolicySize>6</PackedPolicySize>
  </AssumeRoleResult>
  <ResponseMetadata><RequestId>c6104cbe</RequestId></ResponseMetadata>
</AssumeRoleResponse>"#;

    fn sts() -> StsConfig {
        StsConfig {
            cluster: "sts".into(),
            authority: "sts.eu-west-1.amazonaws.com".into(),
            region: "eu-west-1".into(),
            role_arn: "arn:aws:iam::123456789012:role/demo".into(),
            session_name: "asset-gate".into(),
            duration_secs: 900,
            timeout_ms: 1000,
        }
    }

    #[test]
    fn answers_parse_with_whitespace_entities_and_namespaces() {
        let c = parse_answer(ok(ANSWER.as_bytes()), NOW).unwrap();
        assert_eq!(c.credentials.access_key_id, "ASIAEXAMPLE");
        assert_eq!(c.credentials.secret_access_key, "wJalr/K7MDENG+bPxRfi&CY");
        assert_eq!(
            c.credentials.session_token.as_deref(),
            Some("FwoGZXIvYXdzE/token=")
        );
        assert_eq!(c.expires_at, Some(1_795_320_000));
        let prefixed = ANSWER
            .replace("<Credentials>", "<sts:Credentials a=\"1\">")
            .replace("</Credentials>", "</sts:Credentials >")
            .replace(
                "<AccessKeyId>",
                "<!-- <AccessKeyId>NOT</AccessKeyId> --><sts:AccessKeyId>",
            )
            .replace("</AccessKeyId>", "</sts:AccessKeyId>");
        let c = parse_answer(ok(prefixed.as_bytes()), NOW).unwrap();
        assert_eq!(c.credentials.access_key_id, "ASIAEXAMPLE");
    }

    #[test]
    fn non_ascii_text_splits_at_the_markup() {
        assert_eq!(
            text("<Code> é&amp;ü&#233; </Code>", "Code").as_deref(),
            Some("é&üé")
        );
        assert_eq!(element("<é:Code a='ü'>x</é:Code>", "Code"), Some("x"));
        assert_eq!(element("<Code é/>", "Code"), Some(""));
        assert_eq!(text("<Code>&ééééé;</Code>", "Code"), None);
        assert_eq!(element("<Codeé", "Code"), None);
    }

    #[test]
    fn bad_answers_are_refused_with_a_reason() {
        let e = parse_answer(Answer { status: Some(403), body: b"<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>SECRET arn</Message></Error></ErrorResponse>" }, NOW).unwrap_err();
        assert_eq!(e.reason, Reason::Status);
        assert_eq!(e.to_string(), "STS: HTTP 403 AccessDenied");
        assert_eq!(
            parse_answer(no_response(), NOW).unwrap_err().reason,
            Reason::NoResponse
        );
        for bad in [
            "".to_string(),
            "<x/>".to_string(),
            ANSWER.replace(
                "<SessionToken>FwoGZXIvYXdzE&#47;token&#61;</SessionToken>",
                "<SessionToken/>",
            ),
            ANSWER.replace("2026-11-22T04:00:00.000Z", "soon"),
            ANSWER.replace("</Credentials>", ""),
            ANSWER.replace("&amp;", "&bogus;"),
        ] {
            assert_eq!(
                parse_answer(ok(bad.as_bytes()), NOW).unwrap_err().reason,
                Reason::Invalid,
                "{bad}"
            );
        }
        assert_eq!(
            parse_answer(ok(ANSWER.as_bytes()), 1_795_320_000)
                .unwrap_err()
                .reason,
            Reason::Invalid
        );
    }

    #[test]
    fn assume_role_is_signed_with_the_base_credentials() {
        let base = Credentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            session_token: Some("base-token".into()),
        };
        let c = assume_role_call(&sts(), Some("ext id"), &base, 1_440_938_160).unwrap();
        let body = String::from_utf8(c.body.clone()).unwrap();
        assert_eq!(
            body,
            "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fdemo&RoleSessionName=asset-gate&DurationSeconds=900&ExternalId=ext%20id"
        );
        let h = |n: &str| {
            c.headers
                .iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        assert_eq!(h("x-amz-date"), "20150830T123600Z");
        assert_eq!(h("x-amz-security-token"), "base-token");
        assert_eq!(h("content-length"), body.len().to_string());
        let auth = h("authorization");
        assert!(auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/eu-west-1/sts/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, Signature="), "{auth}");
        // the signature is the one an independent signer computes for the same request
        let body_hash = sigv4::sha256_hex(body.as_bytes());
        let expected = sigv4::sign_headers(
            &Request {
                method: "POST",
                path: "/",
                query: "",
                headers: &[
                    ("Host", "sts.eu-west-1.amazonaws.com"),
                    ("Content-Type", FORM),
                ],
            },
            &base,
            &Scope {
                region: "eu-west-1",
                service: "sts",
            },
            1_440_938_160,
            &HeaderSigning {
                payload_hash: &body_hash,
                add_content_sha256_header: false,
                session_token_signed: true,
            },
            &mut SigningKeyCache::default(),
        )
        .unwrap();
        assert!(expected.to_vec().contains(&("authorization", auth)));
        assert_eq!(
            (c.method, c.path.as_str(), c.cluster.as_str()),
            ("POST", "/", "sts")
        );
    }

    /// A base source that makes one call and answers `AKBASE` credentials.
    #[derive(Debug)]
    struct OneCall;

    impl Source for OneCall {
        fn start(&mut self, _now: u64) -> Step {
            Step::Call(Call {
                cluster: "base".into(),
                method: "GET",
                authority: "base".into(),
                path: "/".into(),
                headers: vec![],
                body: vec![],
                timeout_ms: 2000,
            })
        }

        fn on_answer(&mut self, answer: Answer, _now: u64) -> Step {
            if !answer.ok() {
                return Step::Failed(answer.failure(Reason::Status, "base"));
            }
            Step::Done(Fetched {
                credentials: Expiring {
                    credentials: Credentials {
                        access_key_id: "AKBASE".into(),
                        secret_access_key: "s".into(),
                        session_token: None,
                    },
                    expires_at: None,
                },
                source: "base",
                token_expires_at: None,
            })
        }

        fn budget(&self) -> (u32, u64) {
            (1, 2000)
        }
    }

    #[test]
    fn assume_role_machine_runs_the_base_first() {
        let mut f = AssumeRole::new(sts(), None, OneCall);
        assert_eq!(f.budget(), (2, 2000));
        assert_eq!(call(f.start(NOW)).cluster, "base");
        let c = call(f.on_answer(ok(b""), NOW));
        assert_eq!(c.cluster, "sts");
        assert!(c
            .headers
            .iter()
            .any(|(k, v)| *k == "authorization" && v.contains("AKBASE/")));
        let fetched = got(f.on_answer(ok(ANSWER.as_bytes()), NOW));
        assert_eq!(
            (
                fetched.source,
                fetched.credentials.credentials.access_key_id.as_str()
            ),
            ("assume_role", "ASIAEXAMPLE")
        );
        // a failing base fails the refresh before STS is called
        call(f.start(NOW));
        let e = failed(f.on_answer(status(500), NOW));
        assert_eq!(
            (e.reason, e.what, e.status),
            (Reason::Status, "base", Some(500))
        );
    }

    #[test]
    fn web_identity_reads_the_token_then_calls_sts_unsigned() {
        let jwt = "eyJhbGciOiJub25lIn0.eyJleHAiOjE3OTUzMTAwMDB9.c2ln"; // exp 1795310000
        let cfg = WebIdentityConfig {
            sts: sts(),
            token: TokenSource::Endpoint(TokenEndpoint {
                cluster: "tok".into(),
                authority: "tok".into(),
                path: "/token".into(),
                timeout_ms: 500,
            }),
            refresh_interval_ms: 60_000,
        };
        let mut f = WebIdentity::new(cfg);
        assert_eq!(f.budget(), (2, 1000));
        assert_eq!(call(f.start(NOW)).cluster, "tok");
        let c = call(f.on_answer(ok(jwt.as_bytes()), NOW));
        let body = String::from_utf8(c.body.clone()).unwrap();
        assert!(body.starts_with("Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn="));
        assert!(body.contains(&format!("&WebIdentityToken={jwt}&")));
        assert!(!c.headers.iter().any(|(k, _)| *k == "authorization"));
        let fetched = got(f.on_answer(ok(ANSWER.as_bytes()), NOW));
        assert_eq!(fetched.source, "web_identity");
        assert_eq!(fetched.refresh_before(), Some(1_795_310_000));
        call(f.start(NOW));
        assert_eq!(failed(f.on_answer(status(500), NOW)).reason, Reason::Token);
    }

    proptest::proptest! {
        /// No input panics the XML reader or the answer parser.
        #[test]
        fn arbitrary_xml_never_panics(s in "(<[/!?]?[a-zA-Z:]{0,12}[ =\"a-z]{0,4}/?>|&[#a-z0-9]{0,6};?|[^<&]{0,8}|<!--|-->|<!\\[CDATA\\[|\\]\\]>){0,40}") {
            let _ = parse_answer(ok(s.as_bytes()), NOW);
            let _ = text(&s, "AccessKeyId");
            let _ = element(&s, "Credentials");
        }

        #[test]
        fn arbitrary_bytes_never_panic(b in proptest::collection::vec(proptest::num::u8::ANY, 0..400), status in 0u32..600) {
            let _ = parse_answer(Answer { status: Some(status), body: &b }, NOW);
        }

        /// Real answers with arbitrary values round-trip through escaping.
        #[test]
        fn escaped_values_round_trip(ak in "[A-Z0-9]{4,20}", sk in "[!-~][ -~]{0,39}") {
            let esc = sk.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
            let xml = ANSWER.replace("ASIAEXAMPLE", &ak).replace("\n        wJalr/K7MDENG+bPxRfi&amp;CY\n      ", &esc);
            let c = parse_answer(ok(xml.as_bytes()), NOW).unwrap();
            proptest::prop_assert_eq!(c.credentials.access_key_id, ak);
            proptest::prop_assert_eq!(c.credentials.secret_access_key, sk.trim());
        }
    }
}
