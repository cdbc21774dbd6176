// Conformance against the AWS signing test suite (aws-c-auth `v4/`, 38 cases, header and
// query variants) and the two extra smithy-rs double-encoding cases, read at run time from
// `../shared/sigv4-vectors` (third-party data the project does not commit; required
// when CI=true, see vectors_dir).

use asset_gate_core::sigv4::{
    canonical_query, presign_with, sha256_hex, sign_headers_with, Credentials, HeaderSigning,
    PathRules, Presigning, Request, Scope, SigningKeyCache, EMPTY_PAYLOAD_SHA256,
};
use std::fs;
use std::path::{Path, PathBuf};

const V4_CASES: usize = 38;
const SMITHY_CASES: usize = 2;

struct ParsedRequest {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// Parses `request.txt`. The target is everything between the first space and the last
/// ` HTTP/` (paths may contain raw spaces); obs-fold continuation lines are joined to the
/// previous header value with a space.
fn parse_request(raw: &[u8]) -> ParsedRequest {
    let (head, body) = match raw.windows(2).position(|w| w == b"\n\n") {
        Some(i) => (&raw[..i], raw[i + 2..].to_vec()),
        None => (raw, Vec::new()),
    };
    let head = String::from_utf8(head.to_vec()).expect("request head is UTF-8");
    let mut lines = head.lines().map(|l| l.strip_suffix('\r').unwrap_or(l));
    let request_line = lines.next().expect("request line");
    let (method, rest) = request_line.split_once(' ').expect("method");
    let target = &rest[..rest.rfind(" HTTP/").expect("HTTP version")];
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in lines {
        if line.starts_with(' ') || line.starts_with('\t') {
            let last = headers.last_mut().expect("continuation after a header");
            last.1.push(' ');
            last.1.push_str(line);
            continue;
        }
        let (name, value) = line.split_once(':').expect("header line");
        headers.push((name.to_string(), value.to_string()));
    }
    ParsedRequest {
        method: method.to_string(),
        path: path.to_string(),
        query: query.to_string(),
        headers,
        body,
    }
}

/// Unix seconds of `YYYY-MM-DDTHH:MM:SSZ` or `YYYYMMDDTHHMMSSZ`, by day counting (independent
/// of the module's own calendar code).
fn unix_time(stamp: &str) -> u64 {
    let digits: String = stamp.chars().filter(|c| c.is_ascii_digit()).collect();
    assert_eq!(digits.len(), 14, "timestamp {stamp}");
    let n = |a: usize, b: usize| digits[a..b].parse::<u64>().expect("digits");
    let (year, month, day) = (n(0, 4), n(4, 6), n(6, 8));
    let leap = |y: u64| (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400);
    let mut days = (1970..year)
        .map(|y| if leap(y) { 366 } else { 365 })
        .sum::<u64>();
    let lengths = [
        31,
        if leap(year) { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    days += lengths[..(month - 1) as usize].iter().sum::<u64>() + day - 1;
    days * 86_400 + n(8, 10) * 3_600 + n(10, 12) * 60 + n(12, 14)
}

fn read(dir: &Path, name: &str) -> String {
    fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{}/{name}: {e}", dir.display()))
}

/// `../shared/sigv4-vectors` beside the repository (`ASSET_GATE_SHARED` names
/// another `shared` directory). Absent: a failure under CI (`CI=true`), where
/// the data must be there, and a printed skip otherwise.
fn vectors_dir() -> Option<PathBuf> {
    let shared = std::env::var_os("ASSET_GATE_SHARED").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
        PathBuf::from,
    );
    let dir = shared.join("sigv4-vectors");
    if dir.is_dir() {
        return Some(dir);
    }
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    assert!(
        !ci,
        "CI=true but the SigV4 test vectors are missing: they must be in {} \
         (`../shared/sigv4-vectors` beside the repository, or $ASSET_GATE_SHARED/sigv4-vectors)",
        dir.display()
    );
    println!(
        "skipped: SigV4 test vectors not found in {} (set ASSET_GATE_SHARED, or CI=true to fail)",
        dir.display()
    );
    None
}

fn case_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

/// The headers of a signed request from the suite, for comparing what we return.
fn signed_request_headers(raw: &str) -> Vec<(String, String)> {
    parse_request(raw.as_bytes())
        .headers
        .into_iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), v.trim().to_string()))
        .collect()
}

#[test]
fn aws_signing_test_suite_v4() {
    let Some(root) = vectors_dir() else { return };
    let mut header_checked = 0;
    let mut query_checked = 0;
    for dir in case_dirs(&root.join("v4")) {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let ctx: serde_json::Value =
            serde_json::from_str(&read(&dir, "context.json")).expect("context.json");
        let raw = fs::read(dir.join("request.txt")).expect("request.txt");
        let parsed = parse_request(&raw);
        let header_refs: Vec<(&str, &str)> = parsed
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let req = Request {
            method: &parsed.method,
            path: &parsed.path,
            query: &parsed.query,
            headers: &header_refs,
        };
        let c = &ctx["credentials"];
        let creds = Credentials {
            access_key_id: c["access_key_id"].as_str().unwrap().to_string(),
            secret_access_key: c["secret_access_key"].as_str().unwrap().to_string(),
            session_token: c["token"].as_str().map(str::to_string),
        };
        let scope = Scope {
            region: ctx["region"].as_str().unwrap(),
            service: ctx["service"].as_str().unwrap(),
        };
        let rules = PathRules::Generic {
            normalize: ctx["normalize"].as_bool().unwrap(),
        };
        assert_eq!(
            PathRules::for_service(scope.service),
            PathRules::Generic { normalize: true }
        );
        let time = unix_time(ctx["timestamp"].as_str().unwrap());
        let sign_body = ctx["sign_body"].as_bool().unwrap_or(false);
        let token_signed = !ctx["omit_session_token"].as_bool().unwrap_or(false);
        let payload_hash = if sign_body {
            sha256_hex(&parsed.body)
        } else {
            EMPTY_PAYLOAD_SHA256.to_string()
        };
        let mut cache = SigningKeyCache::new();

        // Header variant.
        let opts = HeaderSigning {
            payload_hash: &payload_hash,
            add_content_sha256_header: sign_body,
            session_token_signed: token_signed,
        };
        let got = sign_headers_with(&req, &creds, &scope, rules, time, &opts, &mut cache)
            .unwrap_or_else(|e| panic!("{name}: header signing failed: {e}"));
        assert_eq!(
            got.canonical_request,
            read(&dir, "header-canonical-request.txt"),
            "{name}: header canonical request"
        );
        assert_eq!(
            got.string_to_sign,
            read(&dir, "header-string-to-sign.txt"),
            "{name}: header string to sign"
        );
        assert_eq!(
            got.signature,
            read(&dir, "header-signature.txt").trim(),
            "{name}: header signature"
        );
        let expected_headers = signed_request_headers(&read(&dir, "header-signed-request.txt"));
        for (n, v) in &got.headers {
            assert!(
                expected_headers.iter().any(|(en, ev)| en == n && ev == v),
                "{name}: returned header {n}: {v} is not in header-signed-request.txt"
            );
        }
        header_checked += 1;

        // Query (presigned) variant.
        let opts = Presigning {
            expires_secs: ctx["expiration_in_seconds"].as_u64().unwrap(),
            payload_hash: &payload_hash,
            session_token_signed: token_signed,
        };
        let got = presign_with(&req, &creds, &scope, rules, time, &opts, &mut cache)
            .unwrap_or_else(|e| panic!("{name}: presigning failed: {e}"));
        assert_eq!(
            got.canonical_request,
            read(&dir, "query-canonical-request.txt"),
            "{name}: query canonical request"
        );
        assert_eq!(
            got.string_to_sign,
            read(&dir, "query-string-to-sign.txt"),
            "{name}: query string to sign"
        );
        assert_eq!(
            got.signature,
            read(&dir, "query-signature.txt").trim(),
            "{name}: query signature"
        );
        // The returned query holds exactly the parameters of the suite's signed request.
        let signed = parse_request(read(&dir, "query-signed-request.txt").as_bytes());
        assert_eq!(
            canonical_query(&got.query),
            canonical_query(&signed.query),
            "{name}: presigned query parameters"
        );
        query_checked += 1;
        // The key was derived once and then reused for the second signature.
        assert_eq!((cache.misses(), cache.hits()), (1, 1), "{name}");
    }
    println!("checked {header_checked} header and {query_checked} query v4 cases");
    assert_eq!(header_checked, V4_CASES);
    assert_eq!(query_checked, V4_CASES);
}

#[test]
fn smithy_rs_double_encoding_cases() {
    let Some(root) = vectors_dir() else { return };
    let creds = Credentials {
        access_key_id: "AKIDEXAMPLE".to_string(),
        secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".to_string(),
        session_token: None,
    };
    let mut checked = 0;
    let mut signatures = 0;
    for dir in case_dirs(&root.join("smithy-rs-extra/v4")) {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let parsed = parse_request(&fs::read(dir.join("request.txt")).expect("request.txt"));
        let header_refs: Vec<(&str, &str)> = parsed
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let req = Request {
            method: &parsed.method,
            path: &parsed.path,
            query: &parsed.query,
            headers: &header_refs,
        };
        let expected = read(&dir, "header-canonical-request.txt");
        // The canonical request is the expectation, including its x-amz-date (in
        // double-encode-path the request.txt date differs; the module replaces it anyway).
        let amz_date = expected
            .lines()
            .find_map(|l| l.strip_prefix("x-amz-date:"))
            .expect("x-amz-date in the canonical request");
        // Scope from the signed request's Authorization header (the canonical request does
        // not depend on it, the string to sign does).
        let signed = read(&dir, "header-signed-request.txt");
        let credential = signed
            .split("Credential=")
            .nth(1)
            .and_then(|s| s.split(',').next())
            .expect("Credential in the signed request");
        let parts: Vec<&str> = credential.split('/').collect();
        let scope = Scope {
            region: parts[2],
            service: parts[3],
        };
        let rules = PathRules::for_service(scope.service);
        assert_eq!(rules, PathRules::Generic { normalize: true }, "{name}");
        let opts = HeaderSigning {
            payload_hash: EMPTY_PAYLOAD_SHA256,
            add_content_sha256_header: false,
            session_token_signed: true,
        };
        let got = sign_headers_with(
            &req,
            &creds,
            &scope,
            rules,
            unix_time(amz_date),
            &opts,
            &mut SigningKeyCache::new(),
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(got.canonical_request, expected, "{name}: canonical request");
        if dir.join("header-string-to-sign.txt").exists() {
            assert_eq!(
                got.string_to_sign,
                read(&dir, "header-string-to-sign.txt").trim_end_matches('\n'),
                "{name}: string to sign"
            );
        }
        // Where the signed request was made with the suite's key and the same date (only in
        // double-url-encode), its signature must match too.
        if parts[0] == creds.access_key_id && amz_date.starts_with(parts[1]) {
            let signature = signed
                .split("Signature=")
                .nth(1)
                .map(str::trim)
                .expect("Signature in the signed request");
            assert_eq!(got.signature, signature, "{name}: signature");
            signatures += 1;
        }
        checked += 1;
    }
    println!("checked {checked} smithy-rs canonical requests ({signatures} with a signature)");
    assert_eq!(checked, SMITHY_CASES);
    assert_eq!(signatures, 1);
}
