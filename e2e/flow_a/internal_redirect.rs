//! Flow A in real Envoy: the auth backend decides, Envoy follows its internal
//! redirect to storage, asset-gate signs, SeaweedFS (SigV4 enforced) serves.
//! Attacks are judged by what reaches storage (a counting relay in front of
//! SeaweedFS), not only by the status code.

use crate::harness::*;
use serde_json::{json, Value};

const TEMPLATE: &str = include_str!("../fixtures/envoy/assets.yaml");
const HELLO: &[u8] = b"hello from storage, authorized by the backend\n";
const TOKEN: &str = "Authorization: Bearer demo-token";

struct Flow {
    envoy: Envoy,
    auth: Backend,
    echo: Backend,
    storage: CountingProxy,
    s3: S3,
    id: Identity,
    _certs: tempfile::TempDir,
}

fn redirect_config() -> Value {
    json!({"internal_prefixes": ["/internal-assets/", "/internal-echo/"], "marker_ttl": "2s"})
}

impl Flow {
    fn start(auth_style: &str) -> Flow {
        let id = Identity::admin("AKIDASSETFLOW", "asset-flow-secret");
        let s3 = S3::start(&["assets"], vec![id.clone()]);
        let storage = CountingProxy::start(s3.port);
        let auth = Backend::start("auth", json!({"style": auth_style}));
        let echo = Backend::start("echo", json!({}));
        let storage_config = json!({
            "role": "storage",
            "redirect": redirect_config(),
            "signing": signing_for(&s3, &id, &[("/internal-assets/", "assets"), ("/internal-echo/", "assets")]),
        });
        let certs = tempfile::tempdir().unwrap();
        let (cert, key) = self_signed_cert(certs.path());
        let vars = vec![
            ("WASM", wasm().display().to_string()),
            ("AUTH_PORT", auth.port.to_string()),
            ("ECHO_PORT", echo.port.to_string()),
            ("STORAGE_PORT", storage.port.to_string()),
            (
                "EDGE_CONFIG",
                filter_config(&json!({"role": "edge", "redirect": redirect_config()})),
            ),
            (
                "AUTH_CONFIG",
                filter_config(&json!({"role": "auth_backend", "redirect": redirect_config()})),
            ),
            ("STORAGE_CONFIG", filter_config(&storage_config)),
            ("TLS_CERT", cert.display().to_string()),
            ("TLS_KEY", key.display().to_string()),
        ];
        let envoy = Envoy::start(TEMPLATE, &vars, EnvoyOptions::default());
        let flow = Flow {
            envoy,
            auth,
            echo,
            storage,
            s3,
            id,
            _certs: certs,
        };
        flow.put("hello.txt", HELLO);
        flow.put("secret.txt", b"nobody may read this\n");
        flow
    }

    /// Seeds an object straight into SeaweedFS (signed by curl, not by asset-gate).
    fn put(&self, key: &str, body: &[u8]) {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("body");
        std::fs::write(&f, body).unwrap();
        self.put_file(key, &f);
    }

    fn put_file(&self, key: &str, path: &std::path::Path) {
        let r = self.s3.signed_curl(
            &self.id,
            &["-T", path.to_str().unwrap()],
            &format!("/assets/{key}"),
        );
        assert_eq!(r.status, 200, "seed {key}: {}", r.text());
    }

    fn get(&self, path: &str, extra: &[&str]) -> Response {
        let url = self.envoy.url("assets", path);
        let mut args: Vec<&str> = extra.to_vec();
        args.push(&url);
        curl(&args)
    }

    fn metric(&self, name: &str) -> u64 {
        self.envoy.gate_stat(name)
    }

    /// The object as SeaweedFS has it (signed by curl, not through Envoy).
    fn get_direct(&self, key: &str) -> Vec<u8> {
        let r = self
            .s3
            .signed_curl(&self.id, &[], &format!("/assets/{key}"));
        assert_eq!(r.status, 200, "{key}: {}", r.text());
        r.body
    }
}

#[test]
fn allowed_asset_through_a_backend_307() {
    let flow = Flow::start("redirect");
    let r = flow.get("/assets/hello.txt", &["-H", TOKEN]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.body, HELLO);
    assert!(
        r.header("x-internal-redirect").is_none(),
        "marker leaked to the client"
    );
    assert_eq!(flow.auth.hits(), 1);
    assert!(flow.storage.requests() >= 1);
    assert!(flow.metric("redirects_accepted") >= 1);

    // The cookie works as well as the bearer token.
    let r = flow.get("/assets/hello.txt", &["-H", "Cookie: session=demo-session"]);
    assert_eq!(r.status, 200);

    // Range, conditional requests, HEAD and storage errors pass through.
    let r = flow.get(
        "/assets/hello.txt",
        &["-H", TOKEN, "-H", "Range: bytes=6-9"],
    );
    assert_eq!(r.status, 206, "{}", r.text());
    assert_eq!(r.body, &HELLO[6..10]);
    let r = flow.get(
        "/assets/hello.txt",
        &["-H", TOKEN, "-H", "Range: bytes=5000-6000"],
    );
    assert_eq!(r.status, 416, "{}", r.text());
    let etag = flow
        .get("/assets/hello.txt", &["-H", TOKEN])
        .header("etag")
        .map(String::from);
    let etag = etag.expect("storage sends an ETag");
    let r = flow.get(
        "/assets/hello.txt",
        &["-H", TOKEN, "-H", &format!("If-None-Match: {etag}")],
    );
    assert_eq!(r.status, 304, "{}", r.text());
    assert!(r.body.is_empty());
    let r = flow.get("/assets/hello.txt", &["-H", TOKEN, "-I"]);
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-length"),
        Some(HELLO.len().to_string().as_str())
    );
    // A storage error keeps its status; S3's XML (naming bucket and key)
    // and storage's request id stay inside.
    let r = flow.get("/assets/missing.txt", &["-H", TOKEN]);
    assert_eq!(r.status, 404, "{}", r.text());
    assert_eq!(r.text(), "404 not found\n");
    assert!(r.header("x-amz-request-id").is_none());
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
}

#[test]
fn allowed_asset_through_x_accel_redirect_streams_64_mib() {
    let flow = Flow::start("accel");
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.bin");
    write_random_file(&big, 64 << 20, 42);
    let expected = sha256_file(&big);
    flow.put_file("big.bin", &big);
    std::fs::remove_file(&big).unwrap();

    let r = flow.get("/assets/hello.txt", &["-H", TOKEN]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.body, HELLO);
    assert!(flow.metric("redirects_converted") >= 1);

    let out = dir.path().join("out.bin");
    let url = flow.envoy.url("assets", "/assets/big.bin");
    assert_eq!(curl_download(&["-H", TOKEN], &url, &out), 200);
    assert_eq!(
        sha256_file(&out),
        expected,
        "64 MiB object corrupted on the way"
    );

    let r = flow.get(
        "/assets/big.bin",
        &["-H", TOKEN, "-H", "Range: bytes=1000-1999"],
    );
    assert_eq!(r.status, 206);
    assert_eq!(r.body.len(), 1000);
}

#[test]
fn denied_requests_get_the_backends_403_and_never_reach_storage() {
    let flow = Flow::start("redirect");
    let before = flow.storage.requests();
    let r = flow.get("/assets/hello.txt", &[]);
    assert_eq!(r.status, 403);
    assert!(
        r.text().contains("access denied by the demo auth backend"),
        "{}",
        r.text()
    );
    let r = flow.get("/assets/secret.txt", &["-H", TOKEN]);
    assert_eq!(r.status, 403);
    let r = flow.get("/assets/hello.txt", &["-H", "Authorization: Bearer wrong"]);
    assert_eq!(r.status, 403);
    assert_eq!(
        flow.storage.requests(),
        before,
        "a denied request reached storage"
    );
}

/// A genuine marker, as Envoy copies it into the redirected request (seen
/// through the test-only echo route).
fn capture_marker(flow: &Flow, key: &str) -> String {
    flow.auth
        .control(json!({"internal_prefix": "/internal-echo/"}));
    let r = flow.get(&format!("/assets/{key}"), &["-H", TOKEN]);
    flow.auth
        .control(json!({"internal_prefix": "/internal-assets/"}));
    assert_eq!(r.status, 200, "{}", r.text());
    let seen = r.json();
    assert_eq!(seen["path"], format!("/internal-echo/{key}"));
    seen["headers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h[0] == "x-internal-redirect")
        .and_then(|h| h[1].as_str())
        .expect("the redirected request carries the marker")
        .to_string()
}

#[test]
fn attack_corpus_never_reaches_storage() {
    let flow = Flow::start("redirect");
    let marker = capture_marker(&flow, "hello.txt");
    assert!(marker.starts_with("v3."), "{marker}");
    let echo_hits = flow.echo.hits();
    let spoofs_before = flow.metric("spoof_attempts");
    let rejected_before = flow.metric("marker_rejected");
    let before = flow.storage.requests();

    let marker_hdr = format!("x-internal-redirect: {marker}");
    let attacks: Vec<(&str, String, Vec<String>)> = vec![
        ("no marker", "/internal-assets/hello.txt".into(), vec![]),
        (
            "marker `true`",
            "/internal-assets/hello.txt".into(),
            vec!["x-internal-redirect: true".into()],
        ),
        (
            "marker copied from another path",
            "/internal-assets/hello.txt".into(),
            vec![marker_hdr.clone()],
        ),
        (
            "header name in other case",
            "/internal-assets/hello.txt".into(),
            vec!["X-Internal-Redirect: true".into()],
        ),
        (
            "duplicated markers",
            "/internal-assets/hello.txt".into(),
            vec![marker_hdr.clone(), "x-internal-redirect: true".into()],
        ),
        (
            "encoded traversal direct",
            "/internal-assets/%2e%2e/assets/hello.txt".into(),
            vec!["x-internal-redirect: true".into()],
        ),
        // The edge role drops a marker on a public route (counted as a
        // spoof); without the token the backend then refuses.
        (
            "marker sent to the public route",
            "/assets/hello.txt".into(),
            vec![marker_hdr.clone()],
        ),
        (
            "marker `true` sent to the public route",
            "/assets/hello.txt".into(),
            vec!["x-internal-redirect: true".into()],
        ),
        (
            "traversal via /assets/..",
            "/assets/../internal-assets/hello.txt".into(),
            vec![TOKEN.into()],
        ),
        (
            "encoded traversal via backend",
            "/assets/%2e%2e/internal-assets/hello.txt".into(),
            vec![TOKEN.into()],
        ),
        (
            "encoded slash via backend",
            "/assets/x%2f..%2fhello.txt".into(),
            vec![TOKEN.into()],
        ),
        (
            "double slash via backend",
            "/assets//hello.txt".into(),
            vec![TOKEN.into()],
        ),
        (
            "double-encoded traversal",
            "/assets/%252e%252e/hello.txt".into(),
            vec![TOKEN.into()],
        ),
    ];
    let mut report = vec![];
    for (what, path, headers) in &attacks {
        let mut args: Vec<&str> = vec![];
        for h in headers {
            args.push("-H");
            args.push(h);
        }
        let r = flow.get(path, &args);
        report.push(format!("{what}: {}", r.status));
        assert!(
            matches!(r.status, 400..=404 | 502),
            "{what}: unexpected status {} {}",
            r.status,
            r.text()
        );
        assert_ne!(r.body, HELLO, "{what}: got the object");
        assert_eq!(flow.storage.requests(), before, "{what}: reached storage");
    }

    // Misconfigured listener (no edge filter, no header match): the storage
    // role's own check refuses everything without a valid marker.
    for (what, headers) in [
        ("bypass, no marker", vec![]),
        (
            "bypass, marker true",
            vec!["x-internal-redirect: true".to_string()],
        ),
        ("bypass, copied marker", vec![marker_hdr.clone()]),
    ] {
        let url = flow.envoy.url("bypass", "/internal-assets/hello.txt");
        let mut args: Vec<&str> = vec![];
        for h in &headers {
            args.push("-H");
            args.push(h);
        }
        args.push(&url);
        let r = curl(&args);
        report.push(format!("{what}: {}", r.status));
        assert_eq!(r.status, 403, "{what}: {}", r.text());
        assert_eq!(flow.storage.requests(), before, "{what}: reached storage");
    }

    // An expired genuine marker on its own path is refused too.
    std::thread::sleep(std::time::Duration::from_secs(4));
    let r = flow.get("/internal-echo/hello.txt", &["-H", &marker_hdr]);
    report.push(format!("expired marker on its own path: {}", r.status));
    assert_eq!(r.status, 404, "{}", r.text());
    assert_eq!(
        flow.echo.hits(),
        echo_hits,
        "an expired marker was accepted"
    );

    // The edge role is off on the internal route (as shipped): the storage
    // role refuses the five forged markers there and the three on the bypass
    // listener; the edge drops the two on the public route and the expired
    // one on the (test-only) echo route.
    assert!(
        flow.metric("spoof_attempts") >= spoofs_before + 3,
        "spoof attempts not counted: {}",
        flow.metric("spoof_attempts")
    );
    assert!(
        flow.metric("marker_rejected") >= rejected_before + 8,
        "forged markers not refused by the storage role: {}",
        flow.metric("marker_rejected")
    );
    eprintln!("attack corpus:\n  {}", report.join("\n  "));
}

#[test]
fn backend_redirects_elsewhere_are_not_followed_into_storage() {
    let flow = Flow::start("redirect");
    let before = flow.storage.requests();
    let cases = [
        ("non-internal prefix", "/login?next=/assets/hello.txt", true),
        (
            "another host, not flagged internal",
            "http://evil.example/internal-assets/hello.txt",
            false,
        ),
    ];
    for (what, location, flag) in cases {
        flow.auth
            .control(json!({"location_override": location, "flag_internal": flag}));
        let r = flow.get("/assets/hello.txt", &["-H", TOKEN]);
        assert_eq!(r.status, 307, "{what}: {}", r.text());
        assert!(r
            .header("location")
            .unwrap_or_default()
            .ends_with(location.trim_start_matches("http://evil.example")));
        assert!(
            r.header("x-internal-redirect").is_none(),
            "{what}: marker leaked"
        );
    }
    // X-Accel-Redirect outside the internal prefixes is refused with 404,
    // as nginx answers an X-Accel-Redirect it cannot use.
    flow.auth
        .control(json!({"location_override": "/assets/other.txt", "style": "accel"}));
    let r = flow.get("/assets/hello.txt", &["-H", TOKEN]);
    assert_eq!(r.status, 404, "{}", r.text());
    assert!(r.text().contains("asset-gate"), "{}", r.text());
    assert_eq!(flow.storage.requests(), before);
    assert!(flow.metric("redirects_refused") >= 1);
}

#[test]
fn a_marker_grants_a_read_and_nothing_else() {
    // A genuine marker replayed straight at storage (a route that skips the
    // backend, the misconfiguration a storage-side check must survive): it
    // reads, and nothing else, even with the right path and in time.
    let flow = Flow::start("redirect");
    let marker = capture_marker(&flow, "hello.txt");
    let hdr = format!("x-internal-redirect: {marker}");
    let url = flow.envoy.url("bypass", "/internal-echo/hello.txt");
    let before = flow.storage.requests();
    for (what, args, status) in [
        (
            "PUT",
            vec!["-X", "PUT", "--data-binary", "overwritten"],
            405,
        ),
        ("empty PUT", vec!["-X", "PUT", "--data-binary", ""], 405),
        ("DELETE", vec!["-X", "DELETE"], 405),
        ("POST", vec!["-X", "POST", "--data-binary", "x"], 405),
        (
            "GET with a body",
            vec!["-X", "GET", "--data-binary", "x"],
            400,
        ),
    ] {
        let mut a = vec!["-H", hdr.as_str()];
        a.extend(args);
        a.push(&url);
        let r = curl(&a);
        assert_eq!(r.status, status, "{what}: {}", r.text());
        assert!(r.text().starts_with("asset-gate: "), "{what}: {}", r.text());
        assert_eq!(flow.storage.requests(), before, "{what} reached storage");
    }
    assert_eq!(flow.metric("consent_violations"), 5);
    // The same marker still reads: the refusals were about the method.
    let r = curl(&["-H", &hdr, &url]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.body, HELLO);
    assert_eq!(flow.get_direct("hello.txt"), HELLO, "the object changed");
}
