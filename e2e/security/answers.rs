//! What clients get back, and what a header provider may decide: an
//! uploader's type and caching headers never become the application's
//! answer, storage's bodies and `x-amz-*` headers name no bucket or
//! endpoint, and a provider's answer never authorises a client.

use crate::harness::*;
use serde_json::{json, Value};
use std::time::Duration;

const GATEWAY: &str = include_str!("../fixtures/envoy/gateway.yaml");
const ASSETS: &str = include_str!("../fixtures/envoy/assets.yaml");
const TOKEN: &str = "Authorization: Bearer demo-token";
const BUCKET: &str = "vault";

/// Flow D: the gateway, its auth backend (uploads/ grants PUT and
/// multipart) and SeaweedFS behind a recording relay.
struct Gateway {
    envoy: Envoy,
    auth: Backend,
    relay: oracle::RecordingProxy,
    s3: S3,
    _id: Identity,
}

impl Gateway {
    fn start() -> Gateway {
        let id = Identity::admin("AKIDANSWERS", "answers-secret");
        let s3 = S3::start(&[BUCKET], vec![id.clone()]);
        let relay = oracle::RecordingProxy::start(s3.port);
        let auth = Backend::start(
            "gateway",
            json!({"client_prefix": "/assets/", "rules": [{"prefix": "uploads/", "grant": "PUT, multipart"}]}),
        );
        let config = |auth_cluster: &str| {
            json!({
                "role": "gateway",
                "gateway": {"auth_cluster": auth_cluster, "decision_cache": {"max_age": "0s"}},
                "redirect": {"internal_prefixes": ["/internal-assets/"]},
                "signing": signing_for(&s3, &id, &[("/internal-assets/", BUCKET)]),
            })
        };
        let vars = vec![
            ("WASM", wasm().display().to_string()),
            ("AUTH_PORT", auth.port.to_string()),
            ("DOWN_PORT", free_ports(1)[0].to_string()),
            ("STORAGE_PORT", relay.port.to_string()),
            ("GATEWAY_CONFIG", filter_config(&config("auth_backend"))),
            ("DOWN_CONFIG", filter_config(&config("auth_down"))),
            ("CACHED_CONFIG", filter_config(&config("auth_backend"))),
        ];
        let envoy = Envoy::start(GATEWAY, &vars, EnvoyOptions::default());
        Gateway {
            envoy,
            auth,
            relay,
            s3,
            _id: id,
        }
    }

    fn call(&self, path: &str, args: &[&str]) -> Response {
        let url = self.envoy.url("gateway", path);
        let mut all = vec!["-H", TOKEN];
        all.extend_from_slice(args);
        all.push(&url);
        curl(&all)
    }

    fn put(&self, key: &str, body: &[u8], headers: &[&str]) {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("body");
        std::fs::write(&f, body).unwrap();
        let mut args = vec!["-T", f.to_str().unwrap()];
        for h in headers {
            args.extend(["-H", h]);
        }
        let r = self.call(&format!("/assets/{key}"), &args);
        assert_eq!(r.status, 200, "upload {key}: {}", r.text());
    }

    fn fail(&self, what: &str) -> String {
        format!("{what}\n--- envoy log ---\n{}", tail(&self.envoy.log(), 40))
    }
}

fn amz_headers(r: &Response) -> Vec<&str> {
    r.headers
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| k.starts_with("x-amz-"))
        .collect()
}

/// An uploader chooses the `Content-Type`, `Cache-Control` and
/// `x-amz-meta-*` of what other users read: none of them may turn the
/// answer into the application's own active content or a public one.
#[test]
fn an_uploaders_headers_never_make_a_readers_answer_active_or_public() {
    let gw = Gateway::start();
    let html = b"<script>document.title='pwned'</script>\n";
    gw.put(
        "uploads/x.html",
        html,
        &[
            "Content-Type: text/html",
            "Cache-Control: public, max-age=86400",
            "x-amz-meta-owner: eve",
        ],
    );
    // Storage keeps what the uploader said.
    let stored = gw
        .relay
        .requests()
        .into_iter()
        .find(|r| r.method == "PUT")
        .expect("the upload reached storage");
    assert_eq!(stored.header("content-type"), Some("text/html"));

    let r = gw.call("/assets/uploads/x.html", &[]);
    assert_eq!(r.status, 200, "{}", gw.fail(&r.text()));
    assert_eq!(r.body, html);
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert!(
        r.header("content-disposition")
            .is_some_and(|d| d.starts_with("attachment")),
        "an active type must be an attachment: {:?}",
        r.headers
    );
    assert_eq!(r.header("content-security-policy"), Some("sandbox"));
    assert_eq!(r.header("cache-control"), Some("private"));
    assert_eq!(amz_headers(&r), Vec::<&str>::new(), "{:?}", r.headers);

    // A passive type is shown inline, still nosniff and private.
    gw.put(
        "uploads/pic.png",
        b"\x89PNG\r\n\x1a\nnot really",
        &["Content-Type: image/png"],
    );
    let r = gw.call("/assets/uploads/pic.png", &[]);
    assert_eq!(r.status, 200, "{}", gw.fail(&r.text()));
    assert_eq!(r.header("content-type"), Some("image/png"));
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(r.header("content-disposition"), None);
    assert_eq!(r.header("content-security-policy"), None);
    assert_eq!(r.header("cache-control"), Some("private"));

    // The backend's own disposition and caching win: it decided.
    gw.auth.control(json!({"headers": {
        "content-disposition": "inline",
        "cache-control": "public, max-age=60",
    }}));
    let r = gw.call("/assets/uploads/x.html", &[]);
    assert_eq!(r.status, 200, "{}", gw.fail(&r.text()));
    assert_eq!(r.header("content-disposition"), Some("inline"));
    assert_eq!(r.header("content-security-policy"), None);
    assert_eq!(r.header("cache-control"), Some("public, max-age=60"));
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
}

/// Finds `<name>value</name>` in an S3 XML answer.
fn element<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{name}>"))? + start;
    Some(&xml[start..end])
}

/// A multipart upload's answers (initiate, complete) are S3 XML naming the
/// bucket and storage's endpoint; the client gets them without either,
/// and can still finish the upload with the `UploadId` and `ETag`s.
#[test]
fn multipart_answers_name_no_bucket_or_endpoint() {
    let gw = Gateway::start();
    let path = "/assets/uploads/mp.bin";
    let r = gw.call(&format!("{path}?uploads"), &["-X", "POST"]);
    assert_eq!(r.status, 200, "{}", gw.fail(&r.text()));
    let initiated = r.text();
    let upload_id = element(&initiated, "UploadId")
        .unwrap_or_else(|| panic!("no UploadId: {initiated}"))
        .to_string();
    let part = gw.call(
        &format!("{path}?partNumber=1&uploadId={upload_id}"),
        &["-X", "PUT", "--data-binary", "one small last part"],
    );
    assert_eq!(part.status, 200, "{}", gw.fail(&part.text()));
    let etag = part.header("etag").expect("the part's ETag").to_string();
    let done = format!(
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{etag}</ETag></Part></CompleteMultipartUpload>"
    );
    let r = gw.call(
        &format!("{path}?uploadId={upload_id}"),
        &["-X", "POST", "--data-binary", &done],
    );
    assert_eq!(r.status, 200, "{}", gw.fail(&r.text()));
    let completed = r.text();
    assert!(
        element(&completed, "ETag").is_some(),
        "the completion keeps its ETag: {completed}"
    );
    let endpoint = gw.s3.authority();
    let port = gw.relay.port.to_string();
    for (what, body) in [("initiate", &initiated), ("complete", &completed)] {
        assert!(!body.contains(BUCKET), "{what} names the bucket: {body}");
        assert!(
            !body.contains(&endpoint) && !body.contains(&port),
            "{what} names storage's endpoint: {body}"
        );
        assert_eq!(element(body, "Bucket"), None, "{what}: {body}");
        assert_eq!(element(body, "Location"), None, "{what}: {body}");
    }
    // Storage got the object.
    let r = gw.call(path, &[]);
    assert_eq!(r.status, 200, "{}", gw.fail(&r.text()));
    assert_eq!(r.body, b"one small last part");
}

/// Flow A with the edge augmenting from a provider the test controls (the
/// demo's old placement): the auth backend must judge the client's own
/// credentials, and the provider may not steer Envoy.
struct FlowA {
    envoy: Envoy,
    provider: Backend,
    auth: Backend,
    storage: CountingProxy,
    _s3: S3,
}

impl FlowA {
    fn start(provider_body: Value) -> FlowA {
        FlowA::start_with(provider_body, json!({}))
    }

    /// `edge` settings are added to the edge's configuration.
    fn start_with(provider_body: Value, edge_extra: Value) -> FlowA {
        let id = Identity::admin("AKIDANSWERSA", "answers-a-secret");
        let s3 = S3::start(&["assets"], vec![id.clone()]);
        let storage = CountingProxy::start(s3.port);
        let auth = Backend::start("auth", json!({"style": "accel"}));
        let echo = Backend::start("echo", json!({}));
        let provider = Backend::start("headers", json!({"body": provider_body}));
        let redirect = json!({"internal_prefixes": ["/internal-assets/", "/internal-echo/"]});
        let storage_config = json!({
            "role": "storage",
            "redirect": redirect,
            "signing": signing_for(&s3, &id, &[("/internal-assets/", "assets"), ("/internal-echo/", "assets")]),
        });
        let edge = json!({
            "role": "edge",
            "redirect": redirect,
            "augment_headers": true,
            "header_cache_expiry": "1s",
            "header_max_staleness": "2s",
            "header_providing_service_timeout": "500ms",
            "header_backoff_cap": "1s",
        });
        let mut edge = edge;
        for (k, v) in edge_extra.as_object().unwrap() {
            edge[k] = v.clone();
        }
        let certs = tempfile::tempdir().unwrap();
        let (cert, key) = self_signed_cert(certs.path());
        // assets.yaml with the provider's cluster added.
        let sidecar = format!(
            "  clusters:\n  - name: sidecar\n    type: STATIC\n    connect_timeout: 1s\n    load_assignment:\n      cluster_name: sidecar\n      endpoints:\n      - lb_endpoints:\n        - endpoint: {{ address: {{ socket_address: {{ address: 127.0.0.1, port_value: {} }} }} }}\n",
            provider.port
        );
        let template = ASSETS.replacen("  clusters:\n", &sidecar, 1);
        let vars = vec![
            ("WASM", wasm().display().to_string()),
            ("AUTH_PORT", auth.port.to_string()),
            ("ECHO_PORT", echo.port.to_string()),
            ("STORAGE_PORT", storage.port.to_string()),
            ("EDGE_CONFIG", filter_config(&edge)),
            (
                "AUTH_CONFIG",
                filter_config(&json!({"role": "auth_backend", "redirect": redirect})),
            ),
            ("STORAGE_CONFIG", filter_config(&storage_config)),
            ("TLS_CERT", cert.display().to_string()),
            ("TLS_KEY", key.display().to_string()),
        ];
        let envoy = Envoy::start(&template, &vars, EnvoyOptions::default());
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("body");
        std::fs::write(&f, b"cookie-gated asset\n").unwrap();
        let r = s3.signed_curl(&id, &["-T", f.to_str().unwrap()], "/assets/hello.txt");
        assert_eq!(r.status, 200, "seed: {}", r.text());
        drop(echo);
        FlowA {
            envoy,
            provider,
            auth,
            storage,
            _s3: s3,
        }
    }

    fn get(&self, extra: &[&str]) -> Response {
        let url = self.envoy.url("assets", "/assets/hello.txt");
        let mut args = extra.to_vec();
        args.push(&url);
        curl(&args)
    }

    /// Waits until the poller has judged the provider's current answer.
    fn polled(&self) {
        let before = self.provider.hits();
        wait_until("two more polls", Duration::from_secs(10), || {
            self.provider.hits() >= before + 2
        });
    }
}

#[test]
fn a_header_provider_never_decides_who_is_authorised() {
    let flow = FlowA::start(json!({"authorization": "Bearer demo-token", "x-tenant": "acme"}));
    flow.polled();
    let stored = flow.storage.requests();
    for client in [&[][..], &["-H", "Authorization: Bearer wrong-token"][..]] {
        let r = flow.get(client);
        assert_eq!(
            (r.status, r.text()),
            (403, "access denied by the demo auth backend\n".to_string()),
            "{client:?}: the provider's token authorised this client\n{}",
            tail(&flow.envoy.log(), 30)
        );
    }
    assert_eq!(flow.storage.requests(), stored, "storage was reached");
    assert!(flow.envoy.gate_stat("header_polls_failed_invalid_header") >= 1);
    // The client's own credentials still work.
    let r = flow.get(&["-H", TOKEN]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.body, b"cookie-gated asset\n");
}

/// An operator may let a provider set a credential (for an upstream that
/// needs one), but the provider's never replaces the client's own.
#[test]
fn an_allowed_provider_credential_never_replaces_the_clients() {
    let flow = FlowA::start_with(
        json!({"authorization": "Bearer demo-token"}),
        json!({"header_allow_sensitive": ["authorization"], "header_injection": "overwrite"}),
    );
    wait_until("the provider's token", Duration::from_secs(10), || {
        flow.envoy.gate_stat("headers_injected") >= 1 || flow.get(&[]).status == 200
    });
    let r = flow.get(&["-H", "Authorization: Bearer wrong-token"]);
    assert_eq!(
        (r.status, r.text()),
        (403, "access denied by the demo auth backend\n".to_string()),
        "the provider's token replaced the client's"
    );
}

/// Envoy obeys `x-envoy-*` request headers a filter adds: a provider's
/// retry headers would turn each denied request into six backend calls.
#[test]
fn a_header_provider_never_steers_envoy() {
    let flow = FlowA::start(json!({
        "x-envoy-retry-on": "retriable-status-codes",
        "x-envoy-retriable-status-codes": "403",
        "x-envoy-max-retries": "5",
        "x-tenant": "acme",
    }));
    flow.polled();
    let hits = flow.auth.hits();
    for _ in 0..5 {
        assert_eq!(flow.get(&[]).status, 403);
    }
    assert_eq!(
        flow.auth.hits() - hits,
        5,
        "the provider's x-envoy-* headers made Envoy retry"
    );
    assert!(flow.envoy.gate_stat("header_polls_failed_invalid_header") >= 1);
}

/// Injected after signing, a provider's headers would reach storage
/// unsigned: the storage role refuses `augment_headers` at load.
#[test]
fn the_storage_role_refuses_header_augmentation() {
    let storage = json!({
        "role": "storage",
        "augment_headers": true,
        "signing": {"region": "us-east-1", "endpoint": "127.0.0.1:1",
                    "credentials": {"source": "static", "access_key_id": "AK", "secret_access_key": "SK"}},
    });
    let redirect = json!({"role": "edge"});
    let certs = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed_cert(certs.path());
    let vars = vec![
        ("WASM", wasm().display().to_string()),
        ("AUTH_PORT", "1".to_string()),
        ("ECHO_PORT", "1".to_string()),
        ("STORAGE_PORT", "1".to_string()),
        ("EDGE_CONFIG", filter_config(&redirect)),
        (
            "AUTH_CONFIG",
            filter_config(&json!({"role": "auth_backend"})),
        ),
        ("STORAGE_CONFIG", filter_config(&storage)),
        ("TLS_CERT", cert.display().to_string()),
        ("TLS_KEY", key.display().to_string()),
    ];
    let (code, log) = Envoy::start_expect_failure(ASSETS, &vars);
    assert_ne!(code, Some(0));
    assert!(
        log.contains("field `augment_headers`"),
        "{}",
        tail(&log, 20)
    );
}
