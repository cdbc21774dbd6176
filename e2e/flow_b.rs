//! The root context's poller in real Envoy: header augmentation from a
//! provider the test controls, one poll per process whatever the worker
//! count, failure handling, and credentials from an ECS-style endpoint
//! rotating under load against SeaweedFS.

use crate::harness::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const TEMPLATE: &str = include_str!("fixtures/envoy/poller.yaml");

struct Stack {
    envoy: Envoy,
    provider: Backend,
    creds: Backend,
    _echo: Backend,
}

fn augment(extra: Value) -> Value {
    let mut c = json!({
        "augment_headers": true,
        "header_cache_expiry": "1s",
        "header_providing_service_timeout": "500ms",
        "header_backoff_cap": "2s",
        // The test provider sets a bearer token for the upstream.
        "header_allow_sensitive": ["authorization"],
    });
    for (k, v) in extra.as_object().unwrap() {
        c[k] = v.clone();
    }
    c
}

impl Stack {
    fn start(
        config: Value,
        deny_config: Value,
        storage: Value,
        s3_port: u16,
        concurrency: u32,
    ) -> Stack {
        let provider = Backend::start(
            "headers",
            json!({"body": {"authorization": "Bearer one", "x-tenant": "acme"}}),
        );
        let creds = Backend::start("creds", json!({}));
        let echo = Backend::start("echo", json!({}));
        let vars = vec![
            ("WASM", wasm().display().to_string()),
            ("ECHO_PORT", echo.port.to_string()),
            ("PROVIDER_PORT", provider.port.to_string()),
            ("CREDS_PORT", creds.port.to_string()),
            ("S3_PORT", s3_port.to_string()),
            ("CONFIG", filter_config(&config)),
            ("DENY_CONFIG", filter_config(&deny_config)),
            ("STORAGE_CONFIG", filter_config(&storage)),
        ];
        let envoy = Envoy::start(
            TEMPLATE,
            &vars,
            EnvoyOptions {
                concurrency,
                ..Default::default()
            },
        );
        Stack {
            envoy,
            provider,
            creds,
            _echo: echo,
        }
    }

    fn simple(config: Value) -> Stack {
        let deny = augment(json!({"header_failure_policy": "deny", "header_max_staleness": "2s"}));
        Stack::start(config, deny, static_storage(), free_ports(1)[0], 2)
    }

    /// The headers the echo upstream saw for one request through `listener`.
    fn seen(&self, listener: &str, extra: &[&str]) -> (u16, Vec<(String, String)>) {
        let url = self.envoy.url(listener, "/probe");
        let mut args = extra.to_vec();
        args.push(&url);
        let r = curl(&args);
        if r.status != 200 {
            return (r.status, vec![]);
        }
        let headers = r.json()["headers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                (
                    h[0].as_str().unwrap().to_string(),
                    h[1].as_str().unwrap().to_string(),
                )
            })
            .collect();
        (r.status, headers)
    }

    fn seen_value(&self, name: &str) -> Option<String> {
        let (_, h) = self.seen("main", &[]);
        h.into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    fn metric(&self, name: &str) -> u64 {
        self.envoy.gate_stat(name)
    }

    fn assert_no_vm_failure(&self) {
        let log = self.envoy.log();
        for bad in [
            "panicked",
            "wasm trap",
            "Function: proxy_on",
            "VM failed",
            "unreachable",
        ] {
            assert!(
                !log.contains(bad),
                "Envoy log shows a VM failure ({bad}):\n{}",
                tail(&log, 30)
            );
        }
    }
}

fn static_storage() -> Value {
    json!({"role": "storage", "signing": {"region": "us-east-1", "require_marker": false,
        "credentials": {"source": "static", "access_key_id": "AK", "secret_access_key": "SK"}}})
}

fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn provider_headers_reach_the_upstream_and_follow_changes() {
    let stack = Stack::simple(augment(json!({})));
    wait_for("first poll", Duration::from_secs(5), || {
        stack.seen_value("authorization").as_deref() == Some("Bearer one")
    });
    assert_eq!(stack.seen_value("x-tenant").as_deref(), Some("acme"));
    // overwrite is the default: the provider's value wins over the client's
    let (_, h) = stack.seen("main", &["-H", "x-tenant: client"]);
    assert!(h.contains(&("x-tenant".into(), "acme".into())), "{h:?}");
    assert!(
        !h.iter().any(|(k, v)| k == "x-tenant" && v == "client"),
        "{h:?}"
    );

    stack
        .provider
        .control(json!({"body": {"authorization": "Bearer two"}}));
    let changed = Instant::now();
    wait_for("the new headers", Duration::from_secs(3), || {
        stack.seen_value("authorization").as_deref() == Some("Bearer two")
    });
    // within one interval (1 s) plus the poll tick
    assert!(
        changed.elapsed() < Duration::from_millis(2500),
        "{:?}",
        changed.elapsed()
    );
    assert_eq!(
        stack.seen_value("x-tenant"),
        None,
        "a removed header must go"
    );
    assert!(stack.metric("header_polls_ok") >= 2);
    assert!(stack.metric("headers_injected") >= 3);
    stack.assert_no_vm_failure();
}

#[test]
fn keep_existing_leaves_client_headers_alone() {
    let stack = Stack::simple(augment(json!({"header_injection": "keep_existing"})));
    // Each worker's VM takes the first poll's headers on its own tick: wait
    // until the request itself shows them, then check what it kept.
    let mut h = Vec::new();
    wait_for("first poll", Duration::from_secs(5), || {
        h = stack.seen("main", &["-H", "x-tenant: client"]).1;
        h.contains(&("authorization".into(), "Bearer one".into()))
    });
    assert!(h.contains(&("x-tenant".into(), "client".into())), "{h:?}");
    assert!(
        !h.contains(&("x-tenant".into(), "acme".into())),
        "the provider's value must not replace the client's: {h:?}"
    );
}

#[test]
fn bad_provider_answers_keep_the_last_good_headers() {
    // Listener `deny` polls the same provider with the default 64 KiB limit:
    // its accepted 2 KB answer must not reach this 1 KiB configuration's cache.
    let stack = Stack::simple(augment(
        json!({"header_max_body_bytes": 1024, "header_max_staleness": "60s"}),
    ));
    wait_for("first poll", Duration::from_secs(5), || {
        stack.seen_value("authorization").as_deref() == Some("Bearer one")
    });
    let big = "x".repeat(2000);
    let cases = [
        (
            "HTTP 500",
            json!({"status": 500, "raw_body": "oops"}),
            "header_polls_failed_status",
        ),
        (
            "timeout",
            json!({"status": 200, "raw_body": null, "delay_s": 1.5}),
            "header_polls_failed_timeout",
        ),
        (
            "non-object JSON",
            json!({"delay_s": 0, "raw_body": "[\"a\", \"b\"]"}),
            "header_polls_failed_invalid_json",
        ),
        (
            "not JSON",
            json!({"raw_body": "<html>error page</html>"}),
            "header_polls_failed_invalid_json",
        ),
        (
            "CR/LF in a value",
            json!({"raw_body": "{\"authorization\": \"Bearer x\\r\\nx-evil: 1\"}"}),
            "header_polls_failed_invalid_header",
        ),
        (
            "bad header name",
            json!({"raw_body": "{\"bad name\": \"v\"}"}),
            "header_polls_failed_invalid_header",
        ),
        (
            "pseudo-header",
            json!({"raw_body": "{\":authority\": \"evil\"}"}),
            "header_polls_failed_invalid_header",
        ),
        (
            "hop-by-hop header",
            json!({"raw_body": "{\"transfer-encoding\": \"chunked\"}"}),
            "header_polls_failed_invalid_header",
        ),
        (
            "number value",
            json!({"raw_body": "{\"x-n\": 5}"}),
            "header_polls_failed_invalid_header",
        ),
        (
            "oversize body",
            json!({"raw_body": format!("{{\"x-big\": \"{big}\"}}")}),
            "header_polls_failed_oversize",
        ),
    ];
    for (what, behaviour, metric) in cases {
        let before = stack.metric(metric);
        stack.provider.control(behaviour);
        wait_for(
            &format!("{what} counted in {metric}"),
            Duration::from_secs(8),
            || stack.metric(metric) > before,
        );
        let (status, seen) = stack.seen("main", &[]);
        assert!(
            seen.contains(&("authorization".into(), "Bearer one".into())),
            "{what}: the last good headers must stay: {status} {seen:?}"
        );
        assert_eq!(stack.seen_value("x-evil"), None, "{what}");
    }
    let log = stack.envoy.log();
    assert!(
        log.contains("header provider sidecar refused"),
        "no warning logged"
    );
    assert!(
        !log.contains("Bearer one"),
        "a header value reached the log"
    );
    stack.assert_no_vm_failure();
}

#[test]
fn failure_policy_applies_past_max_staleness() {
    let stack = Stack::simple(augment(json!({"header_max_staleness": "2s"})));
    wait_for("first poll", Duration::from_secs(5), || {
        stack.seen_value("authorization").is_some() && stack.seen("deny", &[]).0 == 200
    });
    stack
        .provider
        .control(json!({"status": 503, "raw_body": "down"}));
    // pass: requests go on without the headers once the cache is too old
    wait_for("stale cache dropped (pass)", Duration::from_secs(6), || {
        stack.seen_value("authorization").is_none()
    });
    let (status, _) = stack.seen("main", &[]);
    assert_eq!(status, 200);
    // deny: 503 with a clear body
    let r = curl(&[&stack.envoy.url("deny", "/probe")]);
    assert_eq!(r.status, 503, "{}", r.text());
    assert!(
        r.text()
            .contains("no valid headers from the header provider"),
        "{}",
        r.text()
    );
    assert!(stack.metric("headers_unavailable") >= 2);
    // recovery: the provider is back, so are the headers
    stack
        .provider
        .control(json!({"status": 200, "raw_body": null}));
    wait_for("recovery", Duration::from_secs(8), || {
        stack.seen("deny", &[]).0 == 200
    });
    stack.assert_no_vm_failure();
}

#[test]
fn one_poll_per_envoy_process_with_concurrency_4() {
    let deny = augment(json!({}));
    let stack = Stack::start(
        augment(json!({})),
        deny,
        static_storage(),
        free_ports(1)[0],
        4,
    );
    wait_for("first poll", Duration::from_secs(5), || {
        stack.provider.hits() > 0
    });
    // traffic on every worker while we count
    let url = stack.envoy.url("main", "/probe");
    let start_hits = stack.provider.hits();
    let start = Instant::now();
    let mut requests = 0;
    while start.elapsed() < Duration::from_secs(20) {
        assert_eq!(curl(&[&url]).status, 200);
        requests += 1;
    }
    let polls = stack.provider.hits() - start_hits;
    eprintln!("provider polls in 20 s with --concurrency 4 and a 1 s interval: {polls} ({requests} requests)");
    assert!(
        polls <= 22,
        "{polls} polls: more than one poller per process"
    );
    assert!(
        polls >= 15,
        "{polls} polls: the poller is not keeping the interval"
    );
    stack.assert_no_vm_failure();
}

#[test]
fn credentials_rotate_from_the_endpoint_without_errors() {
    let a = Identity {
        name: "alice".into(),
        access_key: "AKIDALICE0001".into(),
        secret_key: "alice-secret".into(),
        buckets: vec!["bucket-a".into()],
    };
    let b = Identity {
        name: "bob".into(),
        access_key: "AKIDBOB000001".into(),
        secret_key: "bob-secret".into(),
        buckets: vec!["bucket-b".into()],
    };
    let admin = Identity::admin("AKIDADMIN0001", "admin-secret");
    let s3 = S3::start(
        &["bucket-a", "bucket-b"],
        vec![admin.clone(), a.clone(), b.clone()],
    );
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("obj");
    std::fs::write(&f, b"rotated").unwrap();
    for bucket in ["bucket-a", "bucket-b"] {
        let r = s3.signed_curl(
            &admin,
            &["-T", f.to_str().unwrap()],
            &format!("/{bucket}/obj.txt"),
        );
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let storage = json!({"role": "storage", "signing": {
        "region": "us-east-1", "endpoint": s3.authority(), "require_marker": false,
        "credentials": {"source": "endpoint", "cluster": "creds", "path": "/v2/credentials/task",
                         "authorization_token": "ecs-auth-token", "refresh_interval": "1s"}}});
    let stack = Stack::start(augment(json!({})), augment(json!({})), storage, s3.port, 2);
    let creds = &stack.creds;
    creds.control(
        json!({"access_key_id": a.access_key, "secret_access_key": a.secret_key,
                         "token": null, "authorization": "ecs-auth-token", "lifetime_s": 3600}),
    );
    let get = |bucket: &str| curl(&[&stack.envoy.url("s3", &format!("/{bucket}/obj.txt"))]).status;
    wait_for("identity A in use", Duration::from_secs(8), || {
        get("bucket-a") == 200
    });
    assert_eq!(get("bucket-b"), 403, "A may not read bucket-b");

    creds.control(json!({"access_key_id": b.access_key, "secret_access_key": b.secret_key}));
    let start = Instant::now();
    let mut statuses = vec![];
    loop {
        let (sa, sb) = (get("bucket-a"), get("bucket-b"));
        statuses.push((sa, sb));
        assert!(sa < 500 && sb < 500, "5xx during rotation: {statuses:?}");
        if sb == 200 && sa == 403 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(8),
            "rotation not seen: {statuses:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(stack.metric("credential_refreshes") >= 2);

    // A broken endpoint keeps the current (unexpired) credentials.
    creds.control(json!({"status": 500}));
    let failures = stack.metric("credential_refresh_failures");
    wait_for("a failed refresh", Duration::from_secs(8), || {
        stack.metric("credential_refresh_failures") > failures
    });
    assert_eq!(get("bucket-b"), 200);
    // The authorization token went to the endpoint (else it answers 401).
    assert!(
        !stack.envoy.log().contains("bob-secret"),
        "a secret reached the log"
    );
    stack.assert_no_vm_failure();
}

#[test]
fn no_valid_credentials_from_the_endpoint_means_503_not_unsigned() {
    let storage = json!({"role": "storage", "signing": {
        "region": "us-east-1", "require_marker": false,
        "credentials": {"source": "endpoint", "cluster": "creds", "path": "/creds", "refresh_interval": "1s"}}});
    let s3 = CountingProxy::start(free_ports(1)[0]);
    let stack = Stack::start(augment(json!({})), augment(json!({})), storage, s3.port, 2);
    // blank keys from the endpoint are refused
    stack
        .creds
        .control(json!({"access_key_id": "", "secret_access_key": ""}));
    wait_for("refresh failures", Duration::from_secs(8), || {
        stack.metric("credential_refresh_failures") >= 1
    });
    let r = curl(&[&stack.envoy.url("s3", "/bucket/key")]);
    assert_eq!(r.status, 503, "{}", r.text());
    assert!(
        r.text().contains("no valid AWS credentials"),
        "{}",
        r.text()
    );
    assert_eq!(s3.requests(), 0, "an unsigned request reached storage");
}
