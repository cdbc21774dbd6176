//! Flow A against nginx, case by case: the same framework backends (real
//! Django + django-sendfile2, Rack-, Symfony- and seed-style fixtures) behind
//! real nginx and behind asset-gate's Envoy, reading one SeaweedFS bucket
//! with SigV4 enforced. The client must see what nginx shows (status, body,
//! the documented headers), except for the differences listed here:
//!
//! - nginx sends the backend's kept header *and* storage's copy of
//!   Content-Disposition, Cache-Control, Expires and Accept-Ranges; asset-gate
//!   sends the backend's value instead of storage's (one copy);
//! - storage errors: nginx shows S3's XML (naming bucket and key), asset-gate a
//!   short plain-text error with the same status;
//! - the config-only recipe's 307 + `x-internal-redirect: true`: nginx hands it to
//!   the client, asset-gate follows it.
//!
//! And a consent is a read: what storage was asked is recorded by a relay in
//! front of SeaweedFS, and the objects are read back directly afterwards.

use crate::harness::oracle::*;
use crate::harness::*;
use serde_json::json;

const TEMPLATE: &str = include_str!("../fixtures/envoy/assets.yaml");

/// asset-gate's flow A in front of one backend: it signs itself and reads
/// the oracle's bucket through its own recording relay.
struct Gate {
    envoy: Envoy,
    relay: RecordingProxy,
    _echo: Backend,
    certs: tempfile::TempDir,
}

impl Gate {
    fn start(storage: &Storage, backend_port: u16) -> Gate {
        let relay = RecordingProxy::start(storage.s3.port);
        let echo = Backend::start("echo", json!({}));
        let redirect = json!({"internal_prefixes": ["/internal-assets/", "/internal-echo/"]});
        let storage_config = json!({
            "role": "storage",
            "redirect": redirect,
            "signing": {
                "region": REGION,
                "endpoint": storage.s3.authority(),
                "buckets": [{"prefix": "/internal-assets/", "bucket": BUCKET}],
                "credentials": {"source": "static", "access_key_id": storage.id.access_key, "secret_access_key": storage.id.secret_key},
            },
        });
        let certs = tempfile::tempdir().unwrap();
        let (cert, key) = self_signed_cert(certs.path());
        let vars = vec![
            ("WASM", wasm().display().to_string()),
            ("AUTH_PORT", backend_port.to_string()),
            ("ECHO_PORT", echo.port.to_string()),
            ("STORAGE_PORT", relay.port.to_string()),
            (
                "EDGE_CONFIG",
                filter_config(&json!({"role": "edge", "redirect": redirect})),
            ),
            (
                "AUTH_CONFIG",
                filter_config(&json!({"role": "auth_backend", "redirect": redirect})),
            ),
            ("STORAGE_CONFIG", filter_config(&storage_config)),
            ("TLS_CERT", cert.display().to_string()),
            ("TLS_KEY", key.display().to_string()),
        ];
        let envoy = Envoy::start(TEMPLATE, &vars, EnvoyOptions::default());
        Gate {
            envoy,
            relay,
            _echo: echo,
            certs,
        }
    }

    fn base(&self) -> String {
        self.envoy.url("assets", "")
    }

    fn get(&self, method: &str, path: &str, extra: &[&str]) -> ClientView {
        view(&request(method, &self.envoy.url("assets", path), extra))
    }
}

/// The oracle (nginx per framework) and asset-gate in front of the same apps.
struct Both {
    oracle: NginxOracle,
    gates: Vec<(Framework, Gate)>,
}

impl Both {
    fn start(frameworks: &[Framework], accel_extras: bool) -> Both {
        let oracle = NginxOracle::start(frameworks, accel_extras);
        let gates = frameworks
            .iter()
            .map(|&f| (f, Gate::start(&oracle.storage, oracle.site(f).app.port())))
            .collect();
        Both { oracle, gates }
    }

    fn gate(&self, f: Framework) -> &Gate {
        &self.gates.iter().find(|(g, _)| *g == f).unwrap().1
    }
}

/// The headers asset-gate sends once, as the backend's value, where nginx
/// sends the backend's line and storage's.
const REPLACED: [&str; 4] = [
    "content-disposition",
    "cache-control",
    "expires",
    "accept-ranges",
];

/// What asset-gate must show for a case, from nginx's view and the backend's
/// own answer: nginx's view with each REPLACED header the backend sent
/// reduced to the backend's lines.
fn expected_from_nginx(nginx: &ClientView, backend: &Response) -> ClientView {
    let mut v = nginx.clone();
    for name in REPLACED {
        let lines: Vec<(String, String)> = backend
            .headers
            .iter()
            .filter(|(k, _)| k == name)
            .cloned()
            .collect();
        if !lines.is_empty() {
            v.headers.retain(|(k, _)| k != name);
            v.headers.extend(lines);
        }
    }
    // asset-gate's answer safety: storage's caching becomes private unless
    // the backend sent its own; an active type the backend did not pick
    // becomes an attachment.
    let sent = |name: &str| backend.headers.iter().any(|(k, _)| k == name);
    let mut set = |name: &str, value: &str| {
        v.headers.retain(|(k, _)| k != name);
        v.headers.push((name.to_string(), value.to_string()));
    };
    if !sent("cache-control") {
        set("cache-control", "private");
    }
    let passive = |t: &str| {
        let t = t
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        [
            "image/png",
            "image/jpeg",
            "image/gif",
            "text/plain",
            "application/json",
            "application/octet-stream",
        ]
        .contains(&t.as_str())
            || ["video/", "audio/", "font/"]
                .iter()
                .any(|p| t.starts_with(p))
    };
    let content_type = nginx.all("content-type").first().map(|t| t.to_string());
    if matches!(nginx.status, 200 | 206)
        && !sent("content-disposition")
        && !content_type.as_deref().is_some_and(passive)
    {
        set("content-disposition", "attachment");
    }
    v
}

/// What storage was asked for one consented request: exactly one GET (HEAD
/// stays HEAD), no body, only the read allowlist from the client, signed by
/// asset-gate.
fn assert_storage_read(relay: &RecordingProxy, method: &str, what: &str) {
    let seen = relay.requests();
    assert_eq!(seen.len(), 1, "{what}: storage requests {seen:#?}");
    let r = &seen[0];
    let expected = if method == "HEAD" { "HEAD" } else { "GET" };
    assert_eq!(r.method, expected, "{what}: {r:#?}");
    assert_eq!(r.body_len, 0, "{what}: a body reached storage {r:#?}");
    let allowed = [
        "host",
        "range",
        "if-match",
        "if-none-match",
        "if-modified-since",
        "if-unmodified-since",
        "if-range",
        "authorization",
        "x-amz-date",
        "x-amz-content-sha256",
    ];
    for (k, _) in &r.headers {
        assert!(
            allowed.contains(&k.as_str()),
            "{what}: storage got the client's {k}: {r:#?}"
        );
    }
    let auth = r.header("authorization").unwrap_or_default();
    assert!(
        auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDORACLE/"),
        "{what}: not asset-gate's signature: {auth}"
    );
}

#[test]
fn clients_see_what_nginx_shows_them() {
    let both = Both::start(&Framework::ACCEL, true);
    let mut report = vec![];
    for case in standard_cases() {
        let what = &case.name;
        let gate = both.gate(case.framework);
        let nginx = case.run(&both.oracle.site(case.framework).nginx.url(""));
        gate.relay.clear();
        let ours = case.run(&gate.base());
        assert_storage_read(&gate.relay, case.method, what);
        let args: Vec<&str> = case.args.iter().map(String::as_str).collect();
        let app = format!(
            "http://127.0.0.1:{}{}",
            both.oracle.site(case.framework).app.port(),
            case.path
        );
        let backend = request(case.method, &app, &args);
        let expected = expected_from_nginx(&nginx, &backend);
        let differences = diff(&expected, &ours);
        assert!(
            differences.is_empty(),
            "{what}: asset-gate differs from nginx beyond the documented rule: {differences:?}\nnginx:\n{}asset-gate:\n{}",
            nginx.summary(),
            ours.summary()
        );
        assert!(ours.leaked.is_empty(), "{what}: {}", ours.summary());
        let replaced: Vec<&str> = REPLACED
            .iter()
            .copied()
            .filter(|n| nginx.all(n) != ours.all(n))
            .collect();
        report.push(format!(
            "{what}: {} {} bytes; one copy instead of nginx's two: {replaced:?}",
            ours.status, ours.body_len
        ));
    }
    both.oracle.storage.assert_unchanged();
    eprintln!("asset-gate vs nginx:\n  {}", report.join("\n  "));
}

#[test]
fn a_consent_never_becomes_a_write() {
    // Backends that consent to any method, as most sendfile views do: real
    // Django, and the demo backend (X-Accel-Redirect style).
    let both = Both::start(&[Framework::Django], false);
    let storage = &both.oracle.storage;
    let demo = Backend::start("auth", json!({"style": "accel", "denied_keys": []}));
    let demo_gate = Gate::start(storage, demo.port);
    let django_gate = both.gate(Framework::Django);
    let body = "overwritten by the client";
    let attacks: Vec<(&str, &str, Vec<&str>)> = vec![
        ("PUT", "put with a body", vec!["--data-binary", body]),
        ("PUT", "empty put", vec!["--data-binary", ""]),
        ("POST", "post", vec!["--data-binary", body]),
        ("DELETE", "delete", vec![]),
        ("PATCH", "patch", vec!["--data-binary", body]),
        (
            "PUT",
            "copy another object in",
            vec!["-H", "x-amz-copy-source: /assets/secret.txt", "--data-binary", ""],
        ),
        (
            "PUT",
            "make it public",
            vec!["-H", "x-amz-acl: public-read-write", "--data-binary", body],
        ),
        (
            "PUT",
            "tag it",
            vec!["-H", "x-amz-tagging: owner=attacker", "--data-binary", body],
        ),
        (
            "PUT",
            "encrypt it with the client's key",
            vec![
                "-H",
                "x-amz-server-side-encryption-customer-algorithm: AES256",
                "-H",
                "x-amz-server-side-encryption-customer-key: MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
                "-H",
                "x-amz-server-side-encryption-customer-key-MD5: ZjVhNmU2ZDUxY2M4NzM0NmQyNWNkZWJkYjNhYmNkZWY=",
                "--data-binary",
                body,
            ],
        ),
        (
            "GET",
            "a read smuggling storage headers",
            vec!["-H", "x-amz-copy-source: /assets/secret.txt", "-H", "Cookie: a=b", "-H", "Content-Type: text/html"],
        ),
    ];
    let hello = storage.object(HELLO).clone();
    let mut report = vec![];
    for (name, gate) in [("django", django_gate), ("demo", &demo_gate)] {
        for (method, what, extra) in &attacks {
            let what = format!("{name}: {what}");
            gate.relay.clear();
            let mut args = vec!["-H", TOKEN];
            args.extend(extra.iter().copied());
            let v = gate.get(method, &format!("/assets/{HELLO}"), &args);
            assert_eq!(v.status, 200, "{what}:\n{}", v.summary());
            assert_eq!(v.body_sha256, hello.sha256(), "{what}: not the object");
            assert_storage_read(&gate.relay, method, &what);
            report.push(format!("{what} ({method}): client 200 with the object, storage got one GET, no body, no client header"));
        }
    }
    storage.assert_unchanged();
    eprintln!("consent security cases:\n  {}", report.join("\n  "));
}

#[test]
fn the_seed_backend_is_followed_over_http_tls_and_behind_a_tls_terminating_balancer() {
    // The config-only recipe's backend: 307, `x-internal-redirect: true`, Location on
    // the backend's own host:port. nginx hands it to the client
    // (flow_a_nginx_oracle.rs); asset-gate follows it.
    let both = Both::start(&[Framework::Seed, Framework::Rack], false);
    let hello = both.oracle.storage.object(HELLO).clone();
    for f in [Framework::Seed, Framework::Rack] {
        let gate = both.gate(f);
        for (what, extra) in [
            ("plain", vec!["-H", TOKEN]),
            // A balancer terminated TLS: Envoy sees http with X-Forwarded-Proto: https.
            (
                "x-forwarded-proto https",
                vec!["-H", TOKEN, "-H", "X-Forwarded-Proto: https"],
            ),
            // TLS to Envoy itself: the Location must be https.
            ("tls", vec!["-H", TOKEN, "--cacert", "CERT"]),
        ] {
            gate.relay.clear();
            let cert = gate.certs.path().join("cert.pem").display().to_string();
            let extra: Vec<&str> = extra
                .iter()
                .map(|a| if *a == "CERT" { cert.as_str() } else { a })
                .collect();
            let v = if what == "tls" {
                let port = gate.envoy.listeners["assets_tls"];
                let url = format!("https://127.0.0.1:{port}/assets/{HELLO}");
                view(&request("GET", &url, &extra))
            } else {
                gate.get("GET", &format!("/assets/{HELLO}"), &extra)
            };
            let what = format!("{} {what}", f.name());
            assert_eq!(v.status, 200, "{what}:\n{}", v.summary());
            assert_eq!(v.body_sha256, hello.sha256(), "{what}");
            assert!(v.leaked.is_empty(), "{what}:\n{}", v.summary());
            assert_storage_read(&gate.relay, "GET", &what);
        }
    }
}

#[test]
fn a_redirect_envoy_declines_is_a_clear_error() {
    // Envoy follows an internal redirect only for a request it has buffered
    // whole; a 2 MiB body is over the default buffer limit.
    let both = Both::start(&[Framework::Rack], false);
    let gate = both.gate(Framework::Rack);
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.bin");
    write_random_file(&big, 2 << 20, 7);
    let data = format!("@{}", big.display());
    gate.relay.clear();
    let r = request(
        "PUT",
        &gate.envoy.url("assets", &format!("/assets/{HELLO}")),
        &["-H", TOKEN, "--data-binary", &data],
    );
    let v = view(&r);
    assert_eq!(v.status, 413, "{}", v.summary());
    assert!(r.text().contains("without a body"), "{}", r.text());
    assert!(v.leaked.is_empty(), "{}", v.summary());
    assert!(gate.relay.requests().is_empty());
    assert_eq!(
        gate.envoy
            .placement_stat("asset_gate_edge", "redirects_declined"),
        1
    );
    // A route without internal_redirect_policy: the marked 303 comes back
    // without a body to blame: 502, nothing leaked, storage never asked.
    gate.relay.clear();
    let r = request(
        "GET",
        &gate.envoy.url("assets", &format!("/unfollowed/{HELLO}")),
        &["-H", TOKEN],
    );
    let v = view(&r);
    assert_eq!(v.status, 502, "{}", v.summary());
    assert!(r.text().contains("did not follow"), "{}", r.text());
    assert!(v.leaked.is_empty(), "{}", v.summary());
    assert!(gate.relay.requests().is_empty());
    assert_eq!(
        gate.envoy
            .placement_stat("asset_gate_edge", "redirects_declined"),
        2
    );
    both.oracle.storage.assert_unchanged();
}

#[test]
fn storage_internals_stay_inside_flow_a_but_not_the_signing_edge() {
    let both = Both::start(&[Framework::Rack], false);
    let gate = both.gate(Framework::Rack);
    // On disk for the backend, not in the bucket: storage answers 404.
    std::fs::write(
        both.oracle.storage.root.path().join("only-on-disk.txt"),
        b"disk\n",
    )
    .unwrap();
    let cases = [
        (
            "/assets/only-on-disk.txt",
            vec!["-H", TOKEN],
            404,
            "404 not found\n",
        ),
        (
            "/assets/hello.txt",
            vec!["-H", TOKEN, "-H", "Range: bytes=5000-6000"],
            416,
            "416 range not satisfiable\n",
        ),
    ];
    for (path, args, status, text) in cases {
        let nginx = both.oracle.get(Framework::Rack, "GET", path, &args);
        assert_eq!(nginx.status, status, "{}", nginx.summary());
        let r = request("GET", &gate.envoy.url("assets", path), &args);
        let v = view(&r);
        assert_eq!(v.status, status, "{path}:\n{}", v.summary());
        assert_eq!(r.text(), text);
        assert_eq!(v.one("content-type"), Some("text/plain; charset=utf-8"));
        for hidden in [
            "x-amz-request-id",
            "seaweed-x-amz-owner",
            "seaweed-x-amz-etag",
        ] {
            assert!(
                v.all(hidden).is_empty(),
                "{path}: {hidden}\n{}",
                v.summary()
            );
        }
        assert_ne!(v.one("server"), Some("SeaweedFS 8000GB 4.48"));
        // The backend's headers are kept on an error too, as nginx does.
        assert_eq!(
            v.all("content-disposition"),
            nginx.all("content-disposition")
        );
        assert_eq!(v.all("set-cookie"), nginx.all("set-cookie"));
    }
    // A 200 hides storage's request id as well.
    let v = gate.get("GET", &format!("/assets/{HELLO}"), &["-H", TOKEN]);
    assert_eq!(v.status, 200);
    assert!(v.all("x-amz-request-id").is_empty(), "{}", v.summary());
    assert!(gate.envoy.gate_stat("storage_errors_rewritten") >= 2);

    // The signing edge (flow C) passes storage's answer as it is: S3 clients
    // need the XML and the request id. It also drops a client's SigV2
    // presigned-URL parameters, as it drops SigV4 ones.
    let signer = &both.oracle.storage.signer;
    let r = curl(&[&signer.url("s3", "/assets/missing.txt")]);
    assert_eq!(r.status, 404);
    assert!(r.text().contains("<Code>NoSuchKey</Code>"), "{}", r.text());
    assert!(r.header("x-amz-request-id").is_some());
    let r = curl(&[&signer.url(
        "s3",
        "/assets/hello.txt?AWSAccessKeyId=AKIDOLD&Signature=c2lnbmF0dXJl&Expires=1700000000",
    )]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.body, both.oracle.storage.object(HELLO).body);
}

#[test]
fn metrics_are_kept_per_placement() {
    let both = Both::start(&[Framework::Rack], false);
    let gate = both.gate(Framework::Rack);
    let v = gate.get("GET", &format!("/assets/{HELLO}"), &["-H", TOKEN]);
    assert_eq!(v.status, 200);
    let e = &gate.envoy;
    assert_eq!(
        e.placement_stat("asset_gate_auth", "redirects_converted"),
        1
    );
    assert_eq!(e.placement_stat("asset_gate_storage", "requests_signed"), 1);
    assert_eq!(e.placement_stat("asset_gate_edge", "requests_signed"), 0);
    assert_eq!(
        e.placement_stat("asset_gate_storage", "redirects_converted"),
        0
    );
    let prom = curl(&[&e.admin_url("/stats/prometheus")]).text();
    assert!(
        prom.contains("\nasset_gate_asset_gate_storage_requests_signed{} 1\n"),
        "{}",
        prom.lines()
            .filter(|l| l.contains("requests_signed"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}
