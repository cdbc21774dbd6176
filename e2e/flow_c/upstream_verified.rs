//! Signatures verified from what the upstream received: a non-S3 service
//! (execute-api), S3's path rules, payload hashing and a scoped edge.

use super::*;

// A non-S3 service: execute-api, verified from what the upstream received

/// A session token with the characters real STS tokens have.
const TOKEN: &str = "FwoGZXIvYXdzE+session/token==";

fn api_config(service: &str, region: &str, host: &str, credentials: Value) -> Value {
    json!({"role": "storage", "signing": {
        "region": region, "service": service, "endpoint": host,
        "require_marker": false, "credentials": credentials}})
}

#[test]
fn execute_api_signature_verifies_against_what_the_upstream_received() {
    let echo = Backend::start("echo", json!({}));
    let mut spec = GateSpec::new(unused_port());
    spec.echo_port = echo.port;
    let host = "abc123.execute-api.eu-west-1.amazonaws.com";
    spec.api_config = api_config(
        "execute-api",
        "eu-west-1",
        host,
        json!({"source": "static", "access_key_id": AK, "secret_access_key": SK,
               "session_token": TOKEN}),
    );
    let gate = Gate::start(spec);

    // /api/ is rewritten to /prod/ by the route: the upstream filter signs the final path.
    let r = curl(&[
        "-H",
        "Authorization: Bearer client-token-that-must-not-survive",
        "-H",
        "x-amz-date: 20000101T000000Z",
        "-H",
        "x-amz-security-token: forged-token",
        "-H",
        "x-amz-trace-tag:   a   b  ",
        &gate.url(
            "api",
            "/api/items/a%20b/./c/../%C3%BC%2Fx?z=1&a=2&a=1&q=x%2By&sp=a+b&empty=&flag",
        ),
    ]);
    assert_eq!(r.status, 200, "{}", r.text());
    let seen = Seen::from(&r.json());
    assert_eq!(seen.method, "GET");
    assert_eq!(
        seen.target, "/prod/items/a%20b/./c/../%C3%BC%2Fx?z=1&a=2&a=1&q=x%2By&sp=a+b&empty=&flag",
        "the path is forwarded as sent (after the route's rewrite)"
    );
    assert_ne!(seen.get("x-amz-date"), "20000101T000000Z");
    let (uri, signed_headers) = verify_seen(
        &seen,
        &Expect {
            access_key: AK,
            secret_key: SK,
            service: "execute-api",
            region: "eu-west-1",
            host,
            token: Some(TOKEN),
            payload: None,
        },
    );
    // Generic rules: normalised, then the wire encoding encoded again.
    assert_eq!(uri, "/prod/items/a%2520b/%25C3%25BC%252Fx");
    assert_eq!(
        signed_headers,
        "host;x-amz-date;x-amz-security-token;x-amz-trace-tag"
    );
    assert_eq!(echo.hits(), 1);
    assert_eq!(gate.gate_stat(SIGNED), 1);
}

/// SeaweedFS accepts both the S3 canonical path and a double-encoded one (it
/// tries several), so it cannot catch envoy #35023-style double encoding, and it
/// re-encodes raw characters where AWS S3 signs them as sent (envoy #42165).
/// This pins the S3 rules on the wire: every special key, SDK-encoded and raw,
/// goes out in canonical form, and its signature verifies (asset-gate's own
/// building blocks and aws-sigv4) from what the upstream received.
#[test]
fn s3_rules_sign_special_keys_exactly_as_sent() {
    let echo = Backend::start("echo", json!({}));
    let mut spec = GateSpec::new(unused_port());
    spec.echo_port = echo.port;
    let host = "s3.eu-central-1.amazonaws.com";
    spec.api_config = api_config("s3", "eu-central-1", host, static_creds(SK));
    let gate = Gate::start(spec);
    let expect = Expect {
        access_key: AK,
        secret_key: SK,
        service: "s3",
        region: "eu-central-1",
        host,
        token: None,
        payload: None,
    };
    let mut paths: Vec<String> = SPECIAL_KEYS.iter().map(|k| encode_key(k)).collect();
    paths.extend(RAW_KEYS.iter().map(|(_, raw)| raw[1..].to_string()));
    paths.push(
        "special/?list-type=2&prefix=a%2Bb+c%20d&continuation-token=x%2F%3D%3D&start-after=%C3%BC"
            .into(),
    );
    for p in &paths {
        let r = curl(&[
            "-H",
            "x-amz-meta-note: special",
            &gate.url("api", &format!("/api/{p}")),
        ]);
        assert_eq!(r.status, 200, "{p}: {}", r.text());
        let seen = Seen::from(&r.json());
        // The path goes out in its canonical S3 form, which is what is signed:
        // SDK-encoded paths unchanged, raw characters percent-encoded.
        let (key_path, query) = p.split_once('?').unwrap_or((p, ""));
        let canonical = format!("/prod/{}", encode_key(&url_decode_path(key_path)));
        let want = if query.is_empty() {
            canonical.clone()
        } else {
            format!("{canonical}?{query}")
        };
        assert_eq!(seen.target, want);
        if !RAW_KEYS.iter().any(|(_, raw)| raw[1..] == *p) {
            assert_eq!(
                seen.target,
                format!("/prod/{p}"),
                "SDK paths are forwarded as sent"
            );
        }
        assert_eq!(seen.get("x-amz-content-sha256"), "UNSIGNED-PAYLOAD");
        let (uri, signed_headers) = verify_seen(&seen, &expect);
        assert_eq!(
            signed_headers,
            "host;x-amz-content-sha256;x-amz-date;x-amz-meta-note"
        );
        assert_eq!(uri, canonical, "{p}");
    }
    assert_eq!(gate.gate_stat(SIGNED), paths.len() as u64);
}

// ---------------------------------------------------------------------------------------------
// Request bodies: hashed and signed where the service needs it; the scope

/// The upstream's view of a request, with the SHA-256 of the body it received.
fn seen_with_body(r: &Response) -> (Seen, String, u64) {
    let v = r.json();
    let hash = v["body_sha256"].as_str().unwrap().to_string();
    (Seen::from(&v), hash, v["body_len"].as_u64().unwrap())
}

fn api_gate(extra: Value) -> (Gate, Backend) {
    let echo = Backend::start("echo", json!({}));
    let mut spec = GateSpec::new(unused_port());
    spec.echo_port = echo.port;
    let mut signing =
        json!({"service": "execute-api", "endpoint": "abc123.execute-api.eu-west-1.amazonaws.com"});
    if let (Some(s), Some(e)) = (signing.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            s.insert(k.clone(), v.clone());
        }
    }
    spec.api_config = storage_config(static_creds(SK), signing);
    if let Some(o) = spec.api_config["signing"].as_object_mut() {
        o.insert("region".into(), json!("eu-west-1"));
    }
    (Gate::start(spec), echo)
}

#[test]
fn the_articles_api_gateway_calls_are_signed_with_their_payload() {
    // The ECS edge-proxy article's three calls to its API Gateway listener.
    let (gate, echo) = api_gate(json!({"max_body_bytes": 65536}));
    let host = "abc123.execute-api.eu-west-1.amazonaws.com";
    let body = r#"{"Name": "Jone"}"#;
    let calls: Vec<(&str, Vec<&str>, &str)> = vec![
        ("/api/", vec![], ""),
        (
            "/api/",
            vec!["-H", "Content-type: application/json", "-d", body],
            body,
        ),
        (
            "/api/param1/param2?qparam1=abc",
            vec!["-H", "Content-type: application/json", "-d", body],
            body,
        ),
        // Expect: 100-continue and a body of exactly the limit.
        (
            "/api/upload",
            vec!["-H", "Expect: 100-continue", "--data-binary", "@LIMIT"],
            "LIMIT",
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    let at_limit = dir.path().join("limit.bin");
    write_random_file(&at_limit, 65536, 3);
    let limit_arg = format!("@{}", at_limit.display());
    for (path, args, sent) in &calls {
        let args: Vec<&str> = args
            .iter()
            .map(|a| {
                if *a == "@LIMIT" {
                    limit_arg.as_str()
                } else {
                    a
                }
            })
            .collect();
        let mut a = args.clone();
        let url = gate.url("api", path);
        a.push(&url);
        let r = curl(&a);
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        let (seen, body_hash, body_len) = seen_with_body(&r);
        let expected = if *sent == "LIMIT" {
            sha256_file(&at_limit)
        } else {
            sha256_hex(sent.as_bytes())
        };
        assert_eq!(body_hash, expected, "{path}: the upstream got another body");
        if sent.is_empty() {
            assert_eq!(body_len, 0);
        }
        let payload = (!sent.is_empty()).then_some(body_hash.as_str());
        verify_seen(
            &seen,
            &Expect {
                access_key: AK,
                secret_key: SK,
                service: "execute-api",
                region: "eu-west-1",
                host,
                token: None,
                payload,
            },
        );
    }
    assert_eq!(echo.hits(), calls.len() as u64);
    // Bodies were hashed; the header-only call was not held for one.
    assert_eq!(gate.gate_stat("bodies_hashed"), 3);

    // One byte over the limit: 413 from asset-gate, nothing reaches the upstream.
    let over = dir.path().join("over.bin");
    write_random_file(&over, 65537, 4);
    let data = format!("@{}", over.display());
    let r = curl(&["--data-binary", &data, &gate.url("api", "/api/upload")]);
    assert_eq!(r.status, 413, "{}", r.text());
    assert!(r.text().contains("65536"), "{}", r.text());
    // Declared too large: refused before the body is read.
    let r = curl(&[
        "-H",
        "Expect: 100-continue",
        "--data-binary",
        &data,
        &gate.url("api", "/api/upload"),
    ]);
    assert_eq!(r.status, 413, "{}", r.text());
    // Chunked, no length declared, over the limit.
    let r = curl(&[
        "-H",
        "Transfer-Encoding: chunked",
        "--data-binary",
        &data,
        &gate.url("api", "/api/upload"),
    ]);
    assert_eq!(r.status, 413, "{}", r.text());
    assert_eq!(
        echo.hits(),
        calls.len() as u64,
        "a body over the limit reached the upstream"
    );
    assert_eq!(gate.gate_stat("bodies_refused"), 3);
}

#[test]
fn s3_can_sign_the_body_hash_instead_of_unsigned_payload() {
    // body: "hash" for S3: verified at an upstream that recomputes both the
    // body's SHA-256 and the signature (SeaweedFS checks neither payload hashes).
    let echo = Backend::start("echo", json!({}));
    let mut spec = GateSpec::new(unused_port());
    spec.echo_port = echo.port;
    spec.api_config = storage_config(
        static_creds(SK),
        json!({"service": "s3", "endpoint": "s3.example", "body": "hash", "max_body_bytes": 4096}),
    );
    let gate = Gate::start(spec);
    let body = "object bytes, hashed and signed";
    let r = curl(&[
        "-X",
        "PUT",
        "--data-binary",
        body,
        &gate.url("api", "/api/bucket/key.txt"),
    ]);
    assert_eq!(r.status, 200, "{}", r.text());
    let (seen, hash, _) = seen_with_body(&r);
    assert_eq!(hash, sha256_hex(body.as_bytes()));
    verify_seen(
        &seen,
        &Expect {
            access_key: AK,
            secret_key: SK,
            service: "s3",
            region: REGION,
            host: "s3.example",
            token: None,
            payload: Some(&hash),
        },
    );
    // GET has no body: the empty payload is still S3's UNSIGNED-PAYLOAD.
    let r = curl(&[&gate.url("api", "/api/bucket/key.txt")]);
    let (seen, _, _) = seen_with_body(&r);
    assert_eq!(seen.get("x-amz-content-sha256"), "UNSIGNED-PAYLOAD");
    let r = curl(&[
        "-X",
        "PUT",
        "--data-binary",
        &"x".repeat(4097),
        &gate.url("api", "/api/bucket/big"),
    ]);
    assert_eq!(r.status, 413, "{}", r.text());
    assert_eq!(echo.hits(), 2);
}

#[test]
fn a_scoped_signing_edge_refuses_the_rest_before_signing() {
    let s3 = S3::start(&["assets", "other"], vec![s3_identity()]);
    let counting = CountingProxy::start(s3.port);
    let mut spec = GateSpec::new(counting.port);
    spec.config = storage_config(
        static_creds(SK),
        json!({"endpoint": s3.authority(), "scope": {"methods": ["GET", "HEAD"], "buckets": ["assets"], "key_prefixes": ["public/"]}}),
    );
    let gate = Gate::start(spec);
    let id = s3_identity();
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("f");
    std::fs::write(&f, b"public bytes\n").unwrap();
    for key in [
        "/assets/public/a.txt",
        "/assets/private/b.txt",
        "/other/public/a.txt",
    ] {
        let r = s3.signed_curl(&id, &["-T", f.to_str().unwrap()], key);
        assert_eq!(r.status, 200, "seed {key}: {}", r.text());
    }
    let r = curl(&[&gate.url("s3", "/assets/public/a.txt")]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.body, b"public bytes\n");
    let r = curl(&[&gate.url("s3", "/assets?list-type=2&prefix=public%2F")]);
    assert_eq!(r.status, 200, "{}", r.text());
    let before = counting.requests();
    for (what, args, path) in [
        (
            "PUT",
            vec!["-X", "PUT", "--data-binary", "x"],
            "/assets/public/a.txt",
        ),
        ("DELETE", vec!["-X", "DELETE"], "/assets/public/a.txt"),
        ("another bucket", vec![], "/other/public/a.txt"),
        ("another prefix", vec![], "/assets/private/b.txt"),
        ("a listing of everything", vec![], "/assets?list-type=2"),
        ("the bucket list", vec![], "/"),
    ] {
        let url = gate.url("s3", path);
        let mut a = args.clone();
        a.push(&url);
        let r = curl(&a);
        assert_eq!(r.status, 403, "{what}: {}", r.text());
        assert!(
            r.text().starts_with("asset-gate: this signing edge"),
            "{what}: {}",
            r.text()
        );
        assert_eq!(counting.requests(), before, "{what} reached storage");
    }
    assert_eq!(gate.gate_stat("scope_refused"), 6);
    // Nothing changed in storage.
    let r = s3.signed_curl(&id, &[], "/assets/public/a.txt");
    assert_eq!(r.body, b"public bytes\n");
}
