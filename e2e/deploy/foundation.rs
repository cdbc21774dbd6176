//! The stack itself: the built wasm loads in real Envoy 1.40, bad
//! configurations are refused with the field named, and SeaweedFS really
//! enforces SigV4 (so the signing tests mean something).

use crate::harness::*;
use serde_json::json;

const ECHO: &str = include_str!("../fixtures/envoy/echo.yaml");

fn echo_vars(echo: &Backend, config: serde_json::Value) -> Vec<(&'static str, String)> {
    vec![
        ("WASM", wasm().display().to_string()),
        ("ECHO_PORT", echo.port.to_string()),
        ("CONFIG", filter_config(&config)),
    ]
}

#[test]
fn wasm_loads_in_envoy_and_proxies_to_the_echo_upstream() {
    let echo = Backend::start("echo", json!({}));
    let envoy = Envoy::start(ECHO, &echo_vars(&echo, json!({})), EnvoyOptions::default());
    let r = curl(&["-H", "x-probe: 1", &envoy.url("main", "/hello?x=1")]);
    assert_eq!(r.status, 200, "{}", r.text());
    let seen = r.json();
    assert_eq!(seen["path"], "/hello?x=1");
    assert!(seen["headers"]
        .as_array()
        .unwrap()
        .iter()
        .any(|h| h[0] == "x-probe" && h[1] == "1"));
    assert_eq!(echo.hits(), 1);
    // The module really ran: its root context logged its configuration.
    assert!(
        envoy.log().contains("asset-gate: configured as role Edge"),
        "no asset-gate log line in Envoy's log"
    );
}

#[test]
fn bad_configuration_fails_and_the_log_names_the_field() {
    let echo = Backend::start("echo", json!({}));
    let cases = [
        (
            "unknown field",
            json!({"role": "edge", "rolle": "x"}),
            "rolle",
        ),
        (
            "wrong type",
            json!({"role": "storage", "signing": {"region": "us-east-1", "buckets": "assets"}}),
            "field `signing.buckets`: invalid type",
        ),
        (
            "missing required value",
            json!({"role": "storage", "signing": {"region": "us-east-1",
                   "credentials": {"source": "static", "access_key_id": "AK"}}}),
            "field `signing.credentials.secret_access_key`: required",
        ),
    ];
    let handles: Vec<_> = cases
        .into_iter()
        .map(|(what, config, expected)| {
            let vars = echo_vars(&echo, config);
            std::thread::spawn(move || {
                let (code, log) = Envoy::start_expect_failure(ECHO, &vars);
                (what, expected, code, log)
            })
        })
        .collect();
    for h in handles {
        let (what, expected, code, log) = h.join().unwrap();
        assert!(
            matches!(code, Some(c) if c != 0),
            "{what}: Envoy should refuse the configuration, exit code {code:?}\n{}",
            tail(&log, 20)
        );
        let line = log
            .lines()
            .find(|l| l.contains("invalid asset-gate configuration"))
            .unwrap_or_else(|| {
                panic!("{what}: no configuration error logged:\n{}", tail(&log, 20))
            });
        assert!(line.contains(expected), "{what}: {line}");
    }
}

#[test]
fn seaweedfs_enforces_sigv4() {
    let id = Identity::admin("AKIDSTACKTEST", "stack-secret");
    let s3 = S3::start(&["honesty"], vec![id.clone()]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("obj");
    std::fs::write(&file, b"hello stack").unwrap();
    let put = s3.signed_curl(&id, &["-T", file.to_str().unwrap()], "/honesty/obj.txt");
    assert_eq!(put.status, 200, "correctly signed PUT: {}", put.text());
    let get = s3.signed_curl(&id, &[], "/honesty/obj.txt");
    assert_eq!(get.status, 200);
    assert_eq!(get.body, b"hello stack");

    let wrong = Identity::admin("AKIDSTACKTEST", "not-the-secret");
    let r = s3.signed_curl(&wrong, &[], "/honesty/obj.txt");
    assert_eq!(r.status, 403);
    assert!(r.text().contains("SignatureDoesNotMatch"), "{}", r.text());

    let unknown = Identity::admin("AKIDUNKNOWN", "stack-secret");
    let r = s3.signed_curl(&unknown, &[], "/honesty/obj.txt");
    assert_eq!(r.status, 403);
    assert!(r.text().contains("InvalidAccessKeyId"), "{}", r.text());

    let anonymous = curl(&[&s3.url("/honesty/obj.txt")]);
    assert_eq!(anonymous.status, 403, "{}", anonymous.text());
}
