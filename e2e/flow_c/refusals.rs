//! When signing cannot be right: a wrong secret is storage's 403, missing
//! credentials asset-gate's 503 (or a pass-through where configured).

use super::*;

// Negatives: wrong secret, no credentials, pass-through

#[test]
fn wrong_secret_gives_s3_403_not_5xx() {
    let s3 = S3::start(&["neg"], vec![s3_identity()]);
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("orig");
    std::fs::write(&f, "original").unwrap();
    let seeded = s3.signed_curl(&s3_identity(), &["-T", f.to_str().unwrap()], "/neg/obj.txt");
    assert_eq!(seeded.status, 200, "{}", seeded.text());

    let mut spec = GateSpec::new(s3.port);
    let endpoint = json!({"endpoint": s3.authority()});
    spec.config = storage_config(static_creds("not-the-secret"), endpoint.clone());
    spec.down_config = storage_config(
        json!({"source": "static", "access_key_id": "AKIDUNKNOWN", "secret_access_key": SK}),
        endpoint,
    );
    let gate = Gate::start(spec);

    let started = Instant::now();
    let get = curl(&[&gate.url("s3", "/neg/obj.txt")]);
    assert_eq!(get.status, 403, "{}", get.text());
    assert_eq!(
        s3_error_code(&get),
        "SignatureDoesNotMatch",
        "{}",
        get.text()
    );
    let put = put_bytes(&gate.url("s3", "/neg/obj.txt"), b"overwritten?");
    assert_eq!(put.status, 403, "{}", put.text());
    assert_eq!(
        s3_error_code(&put),
        "SignatureDoesNotMatch",
        "{}",
        put.text()
    );
    let list = curl(&[&gate.url("s3", "/neg?list-type=2")]);
    assert_eq!(list.status, 403);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "S3's refusals should come back at once, took {:?}",
        started.elapsed()
    );
    // An access key S3 does not know: its own error code, through the downstream placement.
    let unknown = curl(&[&gate.url("down", "/neg/obj.txt")]);
    assert_eq!(unknown.status, 403, "{}", unknown.text());
    assert_eq!(
        s3_error_code(&unknown),
        "InvalidAccessKeyId",
        "{}",
        unknown.text()
    );

    // The refused PUT changed nothing.
    let direct = s3.signed_curl(&s3_identity(), &[], "/neg/obj.txt");
    assert_eq!(direct.body, b"original");
    // asset-gate did sign (it cannot know the secret is wrong); S3 refused.
    assert_eq!(gate.gate_stat(SIGNED), 4);
    assert_eq!(gate.gate_stat(MISSING), 0);
}

#[test]
fn no_credentials_is_asset_gates_503_and_never_reaches_s3_unless_pass() {
    let s3 = S3::start(&["neg"], vec![s3_identity()]);
    let mut spec = GateSpec::new(s3.port);
    let endpoint = json!({"endpoint": s3.authority()});
    // Source "env", and the environment has nothing (blank values hide anything inherited).
    spec.config = storage_config(json!({"source": "env"}), endpoint.clone());
    let mut pass = endpoint;
    pass["on_missing_credentials"] = json!("pass");
    spec.down_config = storage_config(json!({"source": "env"}), pass);
    spec.env = [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
    ]
    .iter()
    .map(|k| (k.to_string(), String::new()))
    .collect();
    let gate = Gate::start(spec);

    // Deny (the default): a clear 503 from asset-gate itself.
    let get = curl(&[&gate.url("s3", "/neg/obj.txt")]);
    assert_eq!(get.status, 503, "{}", get.text());
    assert_eq!(
        get.text(),
        "asset-gate: no valid AWS credentials are available to sign this request\n"
    );
    assert!(get
        .header("content-type")
        .is_some_and(|c| c.starts_with("text/plain")));
    let put = put_bytes(&gate.url("s3", "/neg/new.txt"), b"must not arrive");
    assert_eq!(put.status, 503, "{}", put.text());
    // Nothing reached SeaweedFS: not one byte was sent to it, and no object was
    // created. (`upstream_rq_total` is no proof either way: Envoy asks its pool
    // for a connection before the upstream filter chain runs, so the attempt may
    // be counted and a TCP connection opened, then cancelled before anything is
    // written; the upstream filter's local reply also counts as `upstream_rq_503`.)
    assert_eq!(gate.stat("cluster.storage.upstream_cx_tx_bytes_total"), 0);
    let direct = s3.signed_curl(&s3_identity(), &[], "/neg/new.txt");
    assert_eq!(direct.status, 404, "{}", direct.text());

    // Pass: forwarded unsigned (client auth headers still removed), S3 refuses it.
    let passed = curl(&[
        "-H",
        "Authorization: AWS4-HMAC-SHA256 Credential=AKIDEVIL/20000101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00",
        &gate.url("down", "/neg/obj.txt"),
    ]);
    assert_eq!(passed.status, 403, "{}", passed.text());
    assert_eq!(s3_error_code(&passed), "AccessDenied", "{}", passed.text());
    assert_eq!(gate.stat("cluster.storage_plain.upstream_rq_total"), 1);
    assert!(gate.stat("cluster.storage_plain.upstream_cx_tx_bytes_total") > 0);

    assert_eq!(gate.gate_stat(MISSING), 3);
    assert_eq!(gate.gate_stat(SIGNED), 0);
}
