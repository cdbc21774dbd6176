// Differential test against the independent `aws-sigv4` crate (the AWS SDK for Rust signer)
// on deterministic pseudo-random requests: S3 (single encoding, no normalisation,
// UNSIGNED-PAYLOAD, `x-amz-content-sha256`) and other services (double encoding,
// normalisation), header auth and presigned URLs, with and without session tokens.

use asset_gate_core::sigv4::{
    canonical_query, presign_query, sha256_hex, sign_headers, Credentials, HeaderSigning, Scope,
    SigningKeyCache, EMPTY_PAYLOAD_SHA256, UNSIGNED_PAYLOAD,
};
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest,
    SignatureLocation, SigningSettings, UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;
use std::time::{Duration, UNIX_EPOCH};

const REQUESTS: usize = 12_000;

/// SplitMix64: a tiny deterministic PRNG, so every run checks the same requests.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
    fn pick<'a, T: ?Sized>(&mut self, items: &[&'a T]) -> &'a T {
        items[self.below(items.len())]
    }
}

/// Characters object keys and query values are drawn from: the reserved ones that trip up
/// encoders, unreserved ones, and multi-byte UTF-8.
const KEY_CHARS: &[&str] = &[
    "a", "b", "Z", "0", "9", " ", "+", "=", "&", "~", "%", "@", ":", "!", "'", "(", ")", "*", "-",
    "_", ".", "$", ",", ";", "?", "#", "[", "]", "\"", "é", "ü", "ሴ", "😀", "日本",
];

fn random_text(rng: &mut Rng, max_len: usize) -> String {
    let len = rng.below(max_len) + 1;
    (0..len).map(|_| rng.pick(KEY_CHARS)).collect()
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Encodes an object key as an SDK puts it on the wire: everything but unreserved
/// characters and `/` percent-encoded, uppercase hex.
fn sdk_path_encode(key: &str) -> String {
    let mut out = String::new();
    for b in key.bytes() {
        if is_unreserved(b) || b == b'/' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Encodes a query component the way real clients vary: sub-delimiters sometimes raw,
/// spaces as `+` or `%20`, hex digits in either case. `raw_equals` lets `=` stay raw (legal
/// in a value, since only the first `=` splits).
fn loose_query_encode(rng: &mut Rng, s: &str, raw_equals: bool) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        let raw_ok = is_unreserved(b)
            || matches!(
                b,
                b'!' | b'$' | b'\'' | b'(' | b')' | b'*' | b',' | b';' | b':' | b'@' | b'/' | b'?'
            )
            || (raw_equals && b == b'=');
        if is_unreserved(b) || (raw_ok && rng.chance(50)) {
            out.push(b as char);
        } else if b == b' ' && rng.chance(50) {
            out.push('+');
        } else if rng.chance(70) {
            out.push_str(&format!("%{b:02X}"));
        } else {
            out.push_str(&format!("%{b:02x}"));
        }
    }
    out
}

struct Case {
    method: &'static str,
    host: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    creds: Credentials,
    region: &'static str,
    service: &'static str,
    time: u64,
    payload_hash: String,
    expires: u64,
}

fn random_credentials(rng: &mut Rng) -> Credentials {
    let token = if rng.chance(40) {
        let alphabet: Vec<char> =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
                .chars()
                .collect();
        Some(
            (0..rng.below(200) + 16)
                .map(|_| alphabet[rng.below(alphabet.len())])
                .collect(),
        )
    } else {
        None
    };
    let secret: String = (0..40)
        .map(|_| rng.pick(&["a", "Z", "9", "/", "+"]))
        .collect();
    Credentials {
        access_key_id: format!("AKIA{:016X}", rng.next()),
        secret_access_key: secret,
        session_token: token,
    }
}

fn random_case(rng: &mut Rng, pool: &[Credentials]) -> Case {
    let s3 = rng.chance(60);
    let service = if s3 {
        "s3"
    } else {
        rng.pick(&["execute-api", "lambda", "es", "service"])
    };
    let region = rng.pick(&["us-east-1", "eu-west-3", "ap-southeast-2", "garage"]);
    let method = rng.pick(&["GET", "PUT", "HEAD", "DELETE", "POST"]);

    // Path: optional bucket, then 1..4 key segments; some "." / ".." / empty segments to
    // exercise (S3) the absence and (others) the presence of normalisation.
    let mut segments: Vec<String> = Vec::new();
    if rng.chance(50) {
        segments.push("my-bucket".to_string());
    }
    for _ in 0..rng.below(4) + 1 {
        let segment = match rng.below(12) {
            0 => ".".to_string(),
            1 => "..".to_string(),
            2 => String::new(),
            _ => random_text(rng, 8),
        };
        segments.push(segment);
    }
    if rng.chance(10) {
        segments.push(String::new()); // trailing slash
    }
    let key = format!("/{}", segments.join("/"));
    let path = sdk_path_encode(&key);

    // Query: empty values, keys without '=', repeated keys, empty pieces.
    let mut pieces: Vec<String> = Vec::new();
    let mut keys: Vec<String> = Vec::new();
    for _ in 0..rng.below(5) {
        let k = if !keys.is_empty() && rng.chance(25) {
            keys[rng.below(keys.len())].clone()
        } else {
            let text = random_text(rng, 6);
            let k = loose_query_encode(rng, &text, false);
            keys.push(k.clone());
            k
        };
        let piece = match rng.below(5) {
            0 => k,
            1 => format!("{k}="),
            _ => {
                let v = random_text(rng, 10);
                format!("{k}={}", loose_query_encode(rng, &v, true))
            }
        };
        pieces.push(piece);
        if rng.chance(5) {
            pieces.push(String::new());
        }
    }
    let query = pieces.join("&");

    let host = if rng.chance(50) {
        format!("my-bucket.s3.{region}.amazonaws.com")
    } else {
        format!("127.0.0.1:{}", 1024 + rng.below(60_000))
    };
    let mut headers = vec![(
        rng.pick(&["host", "Host", "HOST"]).to_string(),
        host.clone(),
    )];
    let names = [
        "x-amz-meta-a",
        "X-Amz-Meta-Long-Name",
        "x-amz-storage-class",
        "X-AMZ-ACL",
        "x-amz-tagging",
        "content-type",
        "Range",
        "if-none-match",
    ];
    for _ in 0..rng.below(5) {
        let name = names[rng.below(names.len())];
        let value: String = (0..rng.below(12))
            .map(|_| {
                rng.pick(&[
                    "a", "B", "7", " ", "  ", "\t", "=", ",", ";", "\"", "/", "-",
                ])
            })
            .collect();
        headers.push((name.to_string(), value));
    }

    // Mostly a few long-lived credentials (so the shared signing-key cache is exercised
    // across dates, regions and services), sometimes fresh ones.
    let creds = if rng.chance(70) {
        pool[rng.below(pool.len())].clone()
    } else {
        random_credentials(rng)
    };
    let payload_hash = if s3 {
        UNSIGNED_PAYLOAD.to_string()
    } else {
        match rng.below(3) {
            0 => EMPTY_PAYLOAD_SHA256.to_string(),
            1 => UNSIGNED_PAYLOAD.to_string(),
            _ => sha256_hex(random_text(rng, 20).as_bytes()),
        }
    };
    Case {
        method,
        host,
        path,
        query,
        headers,
        creds,
        region,
        service,
        time: if rng.chance(60) {
            // Within three days around 2026-01-01, so cached keys get reused and must be
            // told apart by date.
            1_767_225_600 - 86_400 + rng.next() % (3 * 86_400)
        } else {
            // 2001..2099
            978_307_200 + rng.next() % 3_124_137_600
        },
        payload_hash,
        expires: 1 + rng.next() % 604_800,
    }
}

fn aws_settings(case: &Case, location: SignatureLocation) -> SigningSettings {
    let mut settings = SigningSettings::default();
    if case.service == "s3" {
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    } else {
        settings.percent_encoding_mode = PercentEncodingMode::Double;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Enabled;
        settings.payload_checksum_kind = PayloadChecksumKind::NoHeader;
    }
    settings.signature_location = location;
    if location == SignatureLocation::QueryParams {
        settings.expires_in = Some(Duration::from_secs(case.expires));
    }
    settings
}

type Pairs = Vec<(String, String)>;

/// Signs with aws-sigv4; returns (headers, query params, signature).
fn aws_sign(case: &Case, location: SignatureLocation) -> (Pairs, Pairs, String) {
    let identity = aws_credential_types::Credentials::new(
        case.creds.access_key_id.clone(),
        case.creds.secret_access_key.clone(),
        case.creds.session_token.clone(),
        None,
        "differential-test",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(case.region)
        .name(case.service)
        .time(UNIX_EPOCH + Duration::from_secs(case.time))
        .settings(aws_settings(case, location))
        .build()
        .expect("signing params")
        .into();
    let uri = if case.query.is_empty() {
        format!("https://{}{}", case.host, case.path)
    } else {
        format!("https://{}{}?{}", case.host, case.path, case.query)
    };
    let body = if case.payload_hash == UNSIGNED_PAYLOAD {
        SignableBody::UnsignedPayload
    } else {
        SignableBody::Precomputed(case.payload_hash.clone())
    };
    let request = SignableRequest::new(
        case.method,
        uri,
        case.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
        body,
    )
    .expect("signable request");
    let (instructions, signature) = sign(request, &params)
        .expect("aws-sigv4 signs")
        .into_parts();
    let headers = instructions
        .headers()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    let query = instructions
        .params()
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    (headers, query, signature)
}

fn describe(case: &Case) -> String {
    format!(
        "{} {}?{} service={} headers={:?} token={}",
        case.method,
        case.path,
        case.query,
        case.service,
        case.headers,
        case.creds.session_token.is_some()
    )
}

fn encode_all(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if is_unreserved(b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[test]
fn agrees_with_aws_sigv4() {
    let mut rng = Rng(0x5eed_a55e_76a7_e5ed);
    // One cache for all requests, as in the filter: churn must never return a wrong key.
    let mut cache = SigningKeyCache::new();
    let mut pool: Vec<Credentials> = (0..3).map(|_| random_credentials(&mut rng)).collect();
    pool[0].session_token = None;
    pool[1].session_token = Some("IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJH+Token==".into());
    let (mut headers_compared, mut presigned_compared, mut s3_cases, mut tokens) = (0, 0, 0, 0);
    for _ in 0..REQUESTS {
        let case = random_case(&mut rng, &pool);
        let header_refs: Vec<(&str, &str)> = case
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let req = asset_gate_core::sigv4::Request {
            method: case.method,
            path: &case.path,
            query: &case.query,
            headers: &header_refs,
        };
        let scope = Scope {
            region: case.region,
            service: case.service,
        };
        let s3 = case.service == "s3";
        s3_cases += usize::from(s3);
        tokens += usize::from(case.creds.session_token.is_some());

        // Header auth: the full Authorization value and the other headers must match.
        let opts = HeaderSigning {
            payload_hash: &case.payload_hash,
            add_content_sha256_header: s3,
            session_token_signed: true,
        };
        let ours = sign_headers(&req, &case.creds, &scope, case.time, &opts, &mut cache)
            .unwrap_or_else(|e| panic!("{e}: {}", describe(&case)));
        let (theirs, _, _) = aws_sign(&case, SignatureLocation::Headers);
        let mut ours_sorted: Vec<(String, String)> = ours
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_owned()))
            .collect();
        let mut theirs_sorted = theirs.clone();
        ours_sorted.sort();
        theirs_sorted.sort();
        assert_eq!(ours_sorted, theirs_sorted, "{}", describe(&case));
        headers_compared += 1;

        // Presigned URL: the signature and the full parameter set must match.
        let ours = presign_query(
            &req,
            &case.creds,
            &scope,
            case.time,
            case.expires,
            &case.payload_hash,
            &mut cache,
        )
        .unwrap_or_else(|e| panic!("{e}: {}", describe(&case)));
        let (_, theirs, signature) = aws_sign(&case, SignatureLocation::QueryParams);
        let our_signature = ours.rsplit("&X-Amz-Signature=").next().unwrap_or_default();
        assert_eq!(our_signature, signature, "{}", describe(&case));
        let mut expected = case.query.clone();
        for (n, v) in &theirs {
            expected.push('&');
            expected.push_str(&encode_all(n));
            expected.push('=');
            expected.push_str(&encode_all(v));
        }
        assert_eq!(
            canonical_query(&ours),
            canonical_query(&expected),
            "{}",
            describe(&case)
        );
        presigned_compared += 1;
    }
    println!(
        "compared {headers_compared} Authorization headers and {presigned_compared} presigned \
         URLs with aws-sigv4 ({s3_cases} S3, {} other services, {tokens} with a session token; \
         signing-key cache {} hits / {} misses)",
        REQUESTS - s3_cases,
        cache.hits(),
        cache.misses()
    );
    assert_eq!(headers_compared, REQUESTS);
    assert_eq!(presigned_compared, REQUESTS);
    assert!(s3_cases > REQUESTS / 3 && s3_cases < REQUESTS - REQUESTS / 5);
    assert!(tokens > REQUESTS / 5);
    // Beyond the one reuse per request (header, then presign), keys were reused across
    // requests, so the cache key (date, region, service, key id, secret) was tested.
    assert!(cache.hits() > REQUESTS as u64);
}
