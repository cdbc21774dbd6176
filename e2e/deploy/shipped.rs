//! The shipped Envoy configs (`envoy/*.yaml`) run as shipped, with only the
//! deployment-specific parts replaced (ports, the module path, AWS hosts
//! become SeaweedFS, an echo or the demo backends; storage signs path-style):
//! each flow does, through the file a user copies, what its comments say.
//! Credentials come from Envoy's environment, as the files document.

use crate::harness::*;
use serde_json::json;

pub(crate) const AK: &str = "AKIDSHIPPEDCONFIG";
pub(crate) const SK: &str = "shipped/Secret+key";
pub(crate) const TOKEN: &str = "Authorization: Bearer demo-token";

/// Envoy's environment: the credentials the shipped files read through
/// `host_env_keys`.
pub(crate) fn env_credentials() -> EnvoyOptions {
    EnvoyOptions {
        env: vec![
            ("AWS_ACCESS_KEY_ID".into(), AK.into()),
            ("AWS_SECRET_ACCESS_KEY".into(), SK.into()),
        ],
        ..EnvoyOptions::default()
    }
}

/// The signing section's AWS endpoint, as SeaweedFS (path-style: SeaweedFS
/// has no virtual-hosted buckets on 127.0.0.1).
pub(crate) fn to_seaweedfs(s3: &S3) -> serde_json::Value {
    json!({"signing": {"endpoint": s3.authority(), "addressing_style": "path"}})
}

pub(crate) fn put_object(s3: &S3, path: &str, body: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("body");
    std::fs::write(&f, body).unwrap();
    let id = &s3.identities[0];
    let r = s3.signed_curl(id, &["-T", f.to_str().unwrap()], path);
    assert_eq!(r.status, 200, "seed {path}: {}", r.text());
}

#[test]
fn assets_yaml_serves_consented_reads_and_nothing_else() {
    let s3 = S3::start(&["my-assets"], vec![Identity::admin(AK, SK)]);
    let hello = b"hello through the shipped assets.yaml\n";
    put_object(&s3, "/my-assets/hello.txt", hello);
    put_object(&s3, "/my-assets/secret.txt", b"nobody reads this\n");
    let auth = Backend::start("auth", json!({}));
    let yaml = shipped_config(
        "assets.yaml",
        &[("auth_backend", auth.port), ("storage", s3.port)],
        &[("asset_gate_storage", to_seaweedfs(&s3))],
    );
    let envoy = Envoy::start(&yaml, &[], env_credentials());
    let url = |p: &str| envoy.url("assets", p);

    let r = curl(&["-H", TOKEN, &url("/assets/hello.txt")]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.body, hello);
    // The flagged 307 too (the shipped consent is accel_or_flagged).
    auth.control(json!({"style": "accel"}));
    let r = curl(&["-H", TOKEN, &url("/assets/hello.txt")]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.body, hello);

    // Refusals are the backend's; the internal route needs asset-gate's marker.
    let r = curl(&[&url("/assets/hello.txt")]);
    assert_eq!(r.status, 403, "{}", r.text());
    let r = curl(&["-H", TOKEN, &url("/assets/secret.txt")]);
    assert_eq!(r.status, 403, "{}", r.text());
    for forged in ["x-internal-redirect: true", "x-internal-redirect: 1"] {
        let r = curl(&["-H", forged, &url("/internal-assets/secret.txt")]);
        assert_ne!(r.status, 200, "a forged marker read storage: {}", r.text());
        assert!(!r.text().contains("nobody reads this"));
    }
    // A write through a read consent becomes a read (nginx's semantics).
    let r = curl(&[
        "-X",
        "PUT",
        "-H",
        TOKEN,
        "--data-binary",
        "x",
        &url("/assets/hello.txt"),
    ]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.body, hello);
    let r = s3.signed_curl(&s3.identities[0], &[], "/my-assets/hello.txt");
    assert_eq!(r.body, hello, "the object changed");
    assert!(envoy.placement_stat("asset_gate_storage", "requests_signed") >= 2);
}

#[test]
fn header_augment_yaml_adds_the_providers_headers() {
    let provider = Backend::start("headers", json!({}));
    let api = Backend::start("echo", json!({}));
    let yaml = shipped_config(
        "header-augment.yaml",
        &[("sidecar", provider.port), ("api", api.port)],
        &[],
    );
    let envoy = Envoy::start(&yaml, &[], EnvoyOptions::default());
    let mut last = String::new();
    wait_until(
        "the provider's headers",
        std::time::Duration::from_secs(20),
        || {
            let r = curl(&[
                "-H",
                "x-tenant: client-sent",
                &envoy.url("outbound", "/v1/items"),
            ]);
            last = r.text();
            r.status == 200
                && r.json()["headers"].as_array().is_some_and(|h| {
                    h.iter()
                        .any(|kv| kv[0] == "x-idp-token" && kv[1] == "demo-idp-token")
                })
        },
    );
    let seen = curl(&[
        "-H",
        "x-tenant: client-sent",
        &envoy.url("outbound", "/v1/items"),
    ])
    .json();
    let headers: Vec<(String, String)> = seen["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|kv| {
            (
                kv[0].as_str().unwrap().into(),
                kv[1].as_str().unwrap().into(),
            )
        })
        .collect();
    let values = |n: &str| -> Vec<&str> {
        headers
            .iter()
            .filter(|(k, _)| k == n)
            .map(|(_, v)| v.as_str())
            .collect()
    };
    assert_eq!(values("x-idp-token"), ["demo-idp-token"], "{last}");
    assert_eq!(values("x-tenant").len(), 1, "one x-tenant: {headers:?}");
    assert_eq!(values("host"), ["api.example.com"]);
    assert_eq!(seen["path"], "/v1/items");
    assert!(provider.hits() >= 1);
}

#[test]
fn signing_edge_yaml_signs_within_its_scope_only() {
    let s3 = S3::start(
        &["my-bucket", "other-bucket"],
        vec![Identity::admin(AK, SK)],
    );
    put_object(&s3, "/other-bucket/kept.txt", b"outside the scope\n");
    let api = Backend::start("echo", json!({}));
    let yaml = shipped_config(
        "signing-edge.yaml",
        &[("s3", s3.port), ("execute_api", api.port)],
        &[("asset_gate_s3", to_seaweedfs(&s3))],
    );
    let envoy = Envoy::start(&yaml, &[], env_credentials());
    let url = |p: &str| envoy.url("s3", p);

    // Clients hold no credentials: the edge signs GET, HEAD and PUT in my-bucket.
    let body = "written through the shipped signing edge\n";
    let r = curl(&["-X", "PUT", "--data-binary", body, &url("/my-bucket/a.txt")]);
    assert_eq!(r.status, 200, "{}", r.text());
    let r = curl(&[&url("/my-bucket/a.txt")]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text(), body);
    let r = curl(&["-I", &url("/my-bucket/a.txt")]);
    assert_eq!(r.status, 200);

    // Outside the scope nothing is signed, so storage is never asked with a signature.
    let signed = envoy.placement_stat("asset_gate_s3", "requests_signed");
    let r = curl(&["-X", "DELETE", &url("/my-bucket/a.txt")]);
    assert!(r.status >= 400, "DELETE outside the scope: {}", r.text());
    let r = curl(&[&url("/other-bucket/kept.txt")]);
    assert!(r.status >= 400, "another bucket: {}", r.text());
    assert!(!r.text().contains("outside the scope"));
    assert_eq!(
        envoy.placement_stat("asset_gate_s3", "requests_signed"),
        signed
    );
    let r = s3.signed_curl(&s3.identities[0], &[], "/my-bucket/a.txt");
    assert_eq!(r.text(), body, "the DELETE reached storage");

    // The execute-api listener signs for API Gateway, payload included.
    let payload = r#"{"Name": "Jone"}"#;
    let r = curl(&[
        "-H",
        "content-type: application/json",
        "-d",
        payload,
        &envoy.url("execute_api", "/prod/items?x=1"),
    ]);
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    let hash = v["body_sha256"].as_str().unwrap().to_string();
    assert_eq!(hash, sha256_hex(payload.as_bytes()));
    verify_seen(
        &Seen::from(&v),
        &Expect {
            access_key: AK,
            secret_key: SK,
            service: "execute-api",
            region: "us-east-1",
            host: "abc123.execute-api.us-east-1.amazonaws.com",
            token: None,
            payload: Some(&hash),
        },
    );
}

#[test]
fn gateway_yaml_reads_and_writes_only_what_the_backend_grants() {
    let s3 = S3::start(&["my-assets"], vec![Identity::admin(AK, SK)]);
    let hello = b"hello through the shipped gateway.yaml\n";
    put_object(&s3, "/my-assets/hello.txt", hello);
    let auth = Backend::start("gateway", json!({}));
    let yaml = shipped_config(
        "gateway.yaml",
        &[("auth_backend", auth.port), ("storage", s3.port)],
        &[(
            "asset_gate_gateway",
            json!({
                "signing": {"endpoint": s3.authority(), "addressing_style": "path"},
                "gateway": {"presign": {"base_url": s3.url("")}},
            }),
        )],
    );
    let envoy = Envoy::start(&yaml, &[], env_credentials());
    let url = |p: &str| envoy.url("gateway", p);

    let r = curl(&["-H", TOKEN, &url("/hello.txt")]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.body, hello);
    // Refusals are the backend's answer, storage untouched.
    let r = curl(&[&url("/hello.txt")]);
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(r.header("www-authenticate"), Some("Bearer realm=\"demo\""));
    // A read consent is no write; a granted prefix is.
    let r = curl(&[
        "-X",
        "PUT",
        "-H",
        TOKEN,
        "--data-binary",
        "x",
        &url("/hello.txt"),
    ]);
    assert_eq!(r.status, 403, "{}", r.text());
    let r = s3.signed_curl(&s3.identities[0], &[], "/my-assets/hello.txt");
    assert_eq!(r.body, hello, "the object changed");
    let upload = "uploaded through the gateway\n";
    let r = curl(&[
        "-X",
        "PUT",
        "-H",
        TOKEN,
        "--data-binary",
        upload,
        &url("/uploads/new.txt"),
    ]);
    assert_eq!(r.status, 200, "{}", r.text());
    let r = s3.signed_curl(&s3.identities[0], &[], "/my-assets/uploads/new.txt");
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), upload);
}

#[test]
fn signing_edge_aws_yaml_signs_with_credentials_from_imds() {
    // The chain finds no environment credentials, no web identity and no
    // container endpoint here, and ends at IMDSv2 (the `imds` cluster).
    for k in [
        "AWS_ACCESS_KEY_ID",
        "AWS_ROLE_ARN",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    ] {
        assert!(
            std::env::var_os(k).is_none(),
            "{k} is set: the chain would use it"
        );
    }
    // SeaweedFS knows no session tokens: the IMDS stand-in hands out
    // long-term keys (moto's STS tokens are the credentials module's topic).
    let (ak, sk) = ("AKIDFROMIMDS", "imds/Secret+key");
    let s3 = S3::start(&["my-bucket"], vec![Identity::admin(ak, sk)]);
    let body = b"read with credentials from the instance metadata\n";
    put_object(&s3, "/my-bucket/imds.txt", body);
    let imds = Backend::start(
        "imds",
        json!({"access_key_id": ak, "secret_access_key": sk}),
    );
    let unused = free_ports(4);
    let yaml = shipped_config(
        "signing-edge-aws.yaml",
        &[
            ("s3", s3.port),
            ("imds", imds.port),
            ("container_credentials", unused[0]),
            ("web_identity_token", unused[1]),
            ("container_token", unused[2]),
            ("sts", unused[3]),
        ],
        &[("asset_gate_s3", to_seaweedfs(&s3))],
    );
    let envoy = Envoy::start(&yaml, &[], EnvoyOptions::default());
    let url = |p: &str| envoy.url("s3", p);
    // Credentials arrive with the first refresh, shortly after start.
    let start = std::time::Instant::now();
    let last = loop {
        let r = curl(&[&url("/my-bucket/imds.txt")]);
        if r.status == 200 && r.body == body {
            break r.text();
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(20),
            "no read signed with IMDS credentials; last answer {} {}",
            r.status,
            r.text()
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    assert!(
        imds.hits() >= 2,
        "IMDSv2: a token, then the credentials ({last})"
    );
    // The scope is GET and HEAD in my-bucket: a write is refused before signing.
    let signed = envoy.placement_stat("asset_gate_s3", "requests_signed");
    let r = curl(&[
        "-X",
        "PUT",
        "--data-binary",
        "x",
        &url("/my-bucket/imds.txt"),
    ]);
    assert!(r.status >= 400, "PUT outside the scope: {}", r.text());
    assert_eq!(
        envoy.placement_stat("asset_gate_s3", "requests_signed"),
        signed
    );
    let r = s3.signed_curl(&s3.identities[0], &[], "/my-bucket/imds.txt");
    assert_eq!(r.body, body, "the PUT reached storage");
}
