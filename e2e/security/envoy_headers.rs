//! Envoy's control headers: a client steers none of them. The router
//! honours `x-envoy-retry-on`, `x-envoy-max-retries`,
//! `x-envoy-upstream-rq-timeout-ms`, ... on any request it takes for
//! internal: without `use_remote_address`, from the client's own
//! `X-Forwarded-For` (and in a sidecar every client is internal). The edge role removes them before the router, so one
//! client request is one request to the auth backend and one to storage.

use crate::harness::*;
use serde_json::json;

const TEMPLATE: &str = include_str!("../fixtures/envoy/assets.yaml");

/// Flow A's listener where loopback clients count as internal, as in a
/// sidecar, on Envoy before 1.33 (RFC 1918 and loopback by default) or
/// wherever an operator sets `internal_address_config`; Envoy then takes
/// the client's `X-Forwarded-For` for the client's address.
fn template() -> String {
    let hcm = "          stat_prefix: assets\n";
    assert!(TEMPLATE.contains(hcm));
    TEMPLATE.replacen(
        hcm,
        &format!("{hcm}          internal_address_config: {{ cidr_ranges: [{{ address_prefix: 127.0.0.0, prefix_len: 8 }}] }}\n"),
        1,
    )
}

/// Retry and timeout headers a client sends, `XFF` claiming loopback.
fn steering(retry_on: &str) -> Vec<String> {
    [
        format!("x-envoy-retry-on: {retry_on}"),
        "x-envoy-max-retries: 4".into(),
        "x-envoy-retriable-status-codes: 403,503".into(),
        "x-envoy-upstream-rq-per-try-timeout-ms: 2000".into(),
        "x-forwarded-for: 127.0.0.1".into(),
    ]
    .into_iter()
    .flat_map(|h| ["-H".to_string(), h])
    .collect()
}

#[test]
fn a_client_steers_no_envoy_retries_on_either_hop() {
    let auth = Backend::start("auth", json!({"style": "accel"}));
    // Storage answering 503 to everything, counting what it gets.
    let storage = Backend::start("headers", json!({"status": 503}));
    let redirect = json!({"internal_prefixes": ["/internal-assets/", "/internal-echo/"]});
    let storage_config = json!({
        "role": "storage",
        "redirect": redirect,
        "signing": {
            "region": "us-east-1",
            "endpoint": format!("127.0.0.1:{}", storage.port),
            "buckets": [
                {"prefix": "/internal-assets/", "bucket": "assets"},
                {"prefix": "/internal-echo/", "bucket": "assets"},
            ],
            "credentials": {"source": "static", "access_key_id": "AKIDENVOYHDRS", "secret_access_key": "envoy-headers-secret"},
        },
    });
    let certs = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed_cert(certs.path());
    let role = |name: &str| filter_config(&json!({"role": name, "redirect": redirect}));
    let vars = vec![
        ("STORAGE_B_CONFIG", filter_config(&storage_config)),
        ("WASM", wasm().display().to_string()),
        ("AUTH_PORT", auth.port.to_string()),
        ("ECHO_PORT", storage.port.to_string()),
        ("STORAGE_PORT", storage.port.to_string()),
        ("EDGE_CONFIG", role("edge")),
        ("AUTH_CONFIG", role("auth_backend")),
        ("STORAGE_CONFIG", filter_config(&storage_config)),
        ("TLS_CERT", cert.display().to_string()),
        ("TLS_KEY", key.display().to_string()),
    ];
    let envoy = Envoy::start(&template(), &vars, EnvoyOptions::default());

    // The auth backend's hop: a refusal (403) the client asks to retry.
    let url = envoy.url("assets", "/assets/hello.txt");
    let mut args = steering("retriable-status-codes");
    args.push(url.clone());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let r = curl(&args);
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(auth.hits(), 1, "the auth backend was asked more than once");

    // Storage's hop: a consented read storage answers 503.
    let mut args = steering("5xx");
    args.extend(["-H".into(), "Authorization: Bearer demo-token".into(), url]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let r = curl(&args);
    assert_eq!(r.status, 503, "{}", r.text());
    assert_eq!(auth.hits(), 2, "the auth backend was asked more than once");
    assert_eq!(storage.hits(), 1, "storage was asked more than once");
    assert_eq!(envoy.stat("cluster.storage.upstream_rq_retry"), 0);
    assert_eq!(envoy.stat("cluster.auth_backend.upstream_rq_retry"), 0);
}
