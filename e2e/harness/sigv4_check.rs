//! An independent check of a signature as the upstream received it: the
//! request is re-signed from its received parts, with asset-gate's own SigV4
//! building blocks and with the aws-sigv4 crate, and both must agree with
//! the `Authorization` header.

use serde_json::Value;
use std::time::Duration;

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `YYYYMMDDTHHMMSSZ` to unix seconds.
pub fn parse_amz_date(s: &str) -> u64 {
    assert!(
        s.len() == 16 && s.ends_with('Z') && &s[8..9] == "T",
        "x-amz-date {s:?}"
    );
    let n = |r: std::ops::Range<usize>| -> i64 { s[r].parse().unwrap() };
    let days = days_from_civil(n(0..4), n(4..6), n(6..8));
    (days * 86_400 + n(9..11) * 3600 + n(11..13) * 60 + n(13..15)) as u64
}

/// A request as the echo backend received it.
pub struct Seen {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
}

impl Seen {
    /// From the echo backend's JSON answer (`method`, `path`, `headers`).
    pub fn from(v: &Value) -> Seen {
        Seen {
            method: v["method"].as_str().unwrap().to_string(),
            target: v["path"].as_str().unwrap().to_string(),
            headers: v["headers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| {
                    let s = |i: usize| h[i].as_str().unwrap().to_string();
                    (s(0), s(1))
                })
                .collect(),
        }
    }

    /// The one value of `name` (a header sent twice would be ambiguous to sign).
    pub fn get(&self, name: &str) -> &str {
        let mut it = self.headers.iter().filter(|(k, _)| k == name);
        let v = it
            .next()
            .unwrap_or_else(|| panic!("upstream saw no {name}: {:?}", self.headers));
        assert!(
            it.next().is_none(),
            "upstream saw {name} twice: {:?}",
            self.headers
        );
        v.1.as_str()
    }

    pub fn has(&self, name: &str) -> bool {
        self.headers.iter().any(|(k, _)| k == name)
    }
}

/// What a signature must be valid for.
pub struct Expect<'a> {
    /// The credentials the signer was given.
    pub access_key: &'a str,
    pub secret_key: &'a str,
    pub service: &'a str,
    pub region: &'a str,
    pub host: &'a str,
    pub token: Option<&'a str>,
    /// The SHA-256 of the body the upstream received (None: no body).
    pub payload: Option<&'a str>,
}

/// Checks the `Authorization` header of a request as the upstream received it:
/// scope, signed headers, and the signature recomputed twice, with asset-gate's
/// own SigV4 building blocks and with the independent aws-sigv4 crate. So the
/// host, path, query and headers Envoy sent are exactly the ones signed.
/// Returns the canonical URI and the signed-headers list.
pub fn verify_seen(seen: &Seen, e: &Expect) -> (String, String) {
    use asset_gate_core::sigv4;
    use aws_sigv4::http_request::{
        sign, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest,
        SigningSettings, UriPathNormalizationMode,
    };
    let is_s3 = e.service == "s3";
    assert_eq!(seen.get("host"), e.host);
    let amz_date = seen.get("x-amz-date");
    let signed_at = parse_amz_date(amz_date);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(now.abs_diff(signed_at) < 120, "signed at {amz_date}");
    let payload_hash = if is_s3 {
        let sent = seen.get("x-amz-content-sha256");
        if let Some(p) = e.payload {
            assert_eq!(sent, p, "x-amz-content-sha256 is not the body's hash");
        }
        sent
    } else {
        assert!(
            !seen.has("x-amz-content-sha256"),
            "only S3 wants x-amz-content-sha256: {:?}",
            seen.headers
        );
        e.payload.unwrap_or(sigv4::EMPTY_PAYLOAD_SHA256)
    };
    match e.token {
        Some(t) => assert_eq!(seen.get("x-amz-security-token"), t),
        None => assert!(!seen.has("x-amz-security-token")),
    }

    // Authorization: AWS4-HMAC-SHA256 Credential=AK/date/region/service/aws4_request, ...
    let auth = seen.get("authorization");
    let rest = auth
        .strip_prefix("AWS4-HMAC-SHA256 ")
        .unwrap_or_else(|| panic!("{auth}"));
    let fields: Vec<(&str, &str)> = rest
        .split(", ")
        .map(|f| f.split_once('=').unwrap_or_else(|| panic!("{auth}")))
        .collect();
    assert_eq!(
        fields.iter().map(|f| f.0).collect::<Vec<_>>(),
        ["Credential", "SignedHeaders", "Signature"],
        "{auth}"
    );
    let (credential, signed_headers, signature) = (fields[0].1, fields[1].1, fields[2].1);
    let scope = format!("{}/{}/{}/aws4_request", &amz_date[..8], e.region, e.service);
    assert_eq!(credential, format!("{}/{scope}", e.access_key));

    // 1. asset-gate's building blocks, fed with what the upstream received.
    let (path, query) = seen.target.split_once('?').unwrap_or((&seen.target, ""));
    let signed: Vec<(&str, &str)> = signed_headers
        .split(';')
        .map(|n| (n, seen.get(n)))
        .collect();
    let canonical_headers = sigv4::canonical_headers(&signed).unwrap();
    assert_eq!(canonical_headers.signed, signed_headers);
    let uri = sigv4::canonical_uri(path, sigv4::PathRules::for_service(e.service)).unwrap();
    let creq = sigv4::canonical_request(
        &seen.method,
        &uri,
        &sigv4::canonical_query(query).unwrap(),
        &canonical_headers,
        payload_hash,
    );
    let sts = sigv4::string_to_sign(amz_date, &scope, &creq);
    let key = sigv4::derive_signing_key(e.secret_key, &amz_date[..8], e.region, e.service).unwrap();
    assert_eq!(
        sigv4::hmac_hex(&key, sts.as_bytes()).unwrap(),
        signature,
        "asset-gate's signer disagrees on what was received:\n{creq}"
    );

    // 2. aws-sigv4, configured as the AWS SDKs are for this service.
    let identity = aws_credential_types::Credentials::new(
        e.access_key,
        e.secret_key,
        e.token.map(str::to_string),
        None,
        "e2e",
    )
    .into();
    let mut settings = SigningSettings::default();
    if is_s3 {
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    } else {
        settings.percent_encoding_mode = PercentEncodingMode::Double;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Enabled;
        settings.payload_checksum_kind = PayloadChecksumKind::NoHeader;
    }
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(e.region)
        .name(e.service)
        .time(std::time::UNIX_EPOCH + Duration::from_secs(signed_at))
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let added_by_signer = ["x-amz-date", "x-amz-security-token", "x-amz-content-sha256"];
    let others: Vec<(&str, &str)> = signed
        .iter()
        .copied()
        .filter(|(n, _)| !added_by_signer.contains(n))
        .collect();
    let body = if payload_hash == sigv4::UNSIGNED_PAYLOAD {
        SignableBody::UnsignedPayload
    } else {
        SignableBody::Precomputed(payload_hash.to_string())
    };
    let request = SignableRequest::new(
        &seen.method,
        format!("https://{}{}", e.host, seen.target),
        others.into_iter(),
        body,
    )
    .unwrap();
    let (_, aws_signature) = sign(request, &params).unwrap().into_parts();
    assert_eq!(
        aws_signature, signature,
        "aws-sigv4 disagrees on {} {}",
        seen.method, seen.target
    );
    (uri, signed_headers.to_string())
}
