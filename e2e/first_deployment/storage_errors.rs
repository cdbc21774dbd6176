//! Storage's errors named: a wrong storage secret reaches the browser as a
//! plain `403` that no cache keeps, and the operator sees S3's code in the
//! log (with the usual cause), in a counter per code and in the access
//! log's filter state; a missing key is counted but not warned about. And a
//! signing edge that hashes bodies, placed without Envoy's
//! `allow_on_headers_stop_iteration`, answers a `500` naming the setting
//! within seconds instead of hanging until a timeout (on a listener, the
//! stream idle timeout: 5 minutes).

use crate::harness::*;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

const TEMPLATE: &str = include_str!("../fixtures/envoy/storage_errors.yaml");
const BUCKET: &str = "assets";
const HELLO: &[u8] = b"hello from storage\n";
const TOKEN: &str = "Authorization: Bearer demo-token";
/// The backend's own caching of an asset, kept on storage's answer.
const KEPT_CACHING: &str = "private, max-age=60";
const WRONG_SECRET: &str = "not-the-storage-secret";
const API_HOST: &str = "abc123.execute-api.eu-west-1.amazonaws.com";
const AK: &str = "AKIDSTORAGEERRORS";
const SK: &str = "storage-errors-secret";

/// A user's app as flow A meets it: every `/assets/<key>` is consented with
/// `X-Accel-Redirect`, and the answer keeps the app's caching of the asset.
fn accel_backend() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            std::thread::spawn(move || serve_consents(conn));
        }
    });
    port
}

fn serve_consents(conn: TcpStream) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut out = conn;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            if header == "\r\n" {
                break;
            }
        }
        let key = path.strip_prefix("/assets/").unwrap_or("");
        let answer = format!(
            "HTTP/1.1 200 OK\r\nX-Accel-Redirect: /internal-assets/{key}\r\n\
             Cache-Control: {KEPT_CACHING}\r\nContent-Length: 0\r\n\r\n"
        );
        if out.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

fn redirect() -> Value {
    json!({"internal_prefixes": ["/internal-assets/"]})
}

/// The signing section for SeaweedFS: the right key id with `secret`.
fn signing(s3: &S3, id: &Identity, secret: &str, buckets: &[(&str, &str)]) -> Value {
    let mut keyed = id.clone();
    keyed.secret_key = secret.into();
    signing_for(s3, &keyed, buckets)
}

fn api_config() -> Value {
    json!({"role": "storage", "signing": {
        "region": "eu-west-1", "service": "execute-api", "endpoint": API_HOST,
        "require_marker": false,
        "credentials": {"source": "static", "access_key_id": AK, "secret_access_key": SK}}})
}

struct Stack {
    envoy: Envoy,
    s3: Option<S3>,
    _backends: Vec<Backend>,
}

impl Stack {
    /// Envoy with every listener of the template; storage (SeaweedFS with
    /// `hello.txt`) only when `with_storage`.
    fn start(with_storage: bool, concurrency: u32) -> Stack {
        let id = Identity::admin("AKIDSTORAGEFLOW", "storage-flow-secret");
        let s3 = with_storage.then(|| S3::start(&[BUCKET], vec![id.clone()]));
        // Flow A's storage and flow D's gateway, right and wrong secret;
        // flow C's edge, wrong secret, errors made plain.
        let (s3_port, placements) = match &s3 {
            Some(s3) => {
                let dir = tempfile::tempdir().unwrap();
                let f = dir.path().join("hello");
                std::fs::write(&f, HELLO).unwrap();
                let r = s3.signed_curl(&id, &["-T", f.to_str().unwrap()], "/assets/hello.txt");
                assert_eq!(r.status, 200, "seed: {}", r.text());
                let mapped =
                    |secret: &str| signing(s3, &id, secret, &[("/internal-assets/", BUCKET)]);
                let storage = |secret: &str| json!({"role": "storage", "redirect": redirect(), "signing": mapped(secret)});
                let gateway = |secret: &str| {
                    json!({"role": "gateway", "gateway": {"auth_cluster": "gateway_auth"},
                           "redirect": redirect(), "signing": mapped(secret)})
                };
                let mut edge = signing(s3, &id, WRONG_SECRET, &[]);
                edge["require_marker"] = json!(false);
                edge["plain_errors"] = json!(true);
                let placements = [
                    storage(&id.secret_key),
                    storage(WRONG_SECRET),
                    gateway(&id.secret_key),
                    gateway(WRONG_SECRET),
                    json!({"role": "storage", "signing": edge}),
                ];
                (s3.port, placements)
            }
            // Placements nothing reaches: any valid configuration.
            None => (
                free_ports(1)[0],
                std::array::from_fn(|_| json!({"role": "edge"})),
            ),
        };
        let echo = Backend::start("echo", json!({}));
        let gate_backend = Backend::start(
            "gateway",
            json!({"client_prefix": "/assets/", "headers": {"cache-control": KEPT_CACHING}}),
        );
        let names = [
            "STORAGE_CONFIG",
            "BAD_STORAGE_CONFIG",
            "GATEWAY_CONFIG",
            "BAD_GATEWAY_CONFIG",
            "EDGE_CONFIG",
        ];
        let mut vars = vec![
            ("WASM", wasm().display().to_string()),
            ("AUTH_PORT", accel_backend().to_string()),
            ("S3_PORT", s3_port.to_string()),
            ("GATE_AUTH_PORT", gate_backend.port.to_string()),
            ("ECHO_PORT", echo.port.to_string()),
            (
                "EDGE_A_CONFIG",
                filter_config(&json!({"role": "edge", "redirect": redirect()})),
            ),
            (
                "AUTH_CONFIG",
                filter_config(&json!({"role": "auth_backend", "redirect": redirect()})),
            ),
            ("API_CONFIG", filter_config(&api_config())),
        ];
        vars.extend(names.into_iter().zip(placements.iter().map(filter_config)));
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
            s3,
            _backends: vec![echo, gate_backend],
        }
    }

    fn get(&self, listener: &str, path: &str, extra: &[&str]) -> Response {
        let url = self.envoy.url(listener, path);
        let mut args = extra.to_vec();
        args.push(&url);
        curl(&args)
    }

    fn counter(&self, placement: &str, name: &str) -> u64 {
        self.envoy.placement_stat(placement, name)
    }

    /// The access log lines (`access <method> <path> <status> fs=… ufs=…`),
    /// flushed first (Envoy writes its access logs every 10 s otherwise).
    fn access_log(&self) -> Vec<String> {
        curl(&["-X", "POST", &self.envoy.admin_url("/reopen_logs")]);
        self.envoy
            .log()
            .lines()
            .filter(|l| l.starts_with("access "))
            .map(String::from)
            .collect()
    }

    /// Waits for an access log line with all of `parts`.
    fn logged(&self, parts: &[&str]) -> String {
        let mut found = String::new();
        wait_until(
            &format!("an access log line with {parts:?}"),
            Duration::from_secs(5),
            || match self
                .access_log()
                .into_iter()
                .find(|l| parts.iter().all(|p| l.contains(p)))
            {
                Some(l) => {
                    found = l;
                    true
                }
                None => false,
            },
        );
        found
    }
}

/// A storage error as the browser gets it: plain text, never cacheable.
fn assert_plain_uncached(r: &Response, status: u16, text: &str) {
    assert_eq!(r.status, status, "{}", r.text());
    assert_eq!(r.text(), text);
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(
        r.header("cache-control"),
        Some("no-store"),
        "{:?}",
        r.headers
    );
    assert!(
        !r.headers.iter().any(|(_, v)| v.contains("max-age")),
        "{:?}",
        r.headers
    );
    assert!(r.header("expires").is_none());
}

/// The warnings asset-gate logged about storage answers.
fn storage_warnings(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| l.contains("[warning]") && l.contains("asset-gate: storage answered"))
        .collect()
}

#[test]
fn a_wrong_storage_secret_in_flow_a_is_named_counted_and_never_cached() {
    let stack = Stack::start(true, 1);
    let bad = "asset_gate_storage_bad";

    let r = stack.get("assets_bad", "/assets/hello.txt", &[]);
    assert_plain_uncached(&r, 403, "403 forbidden\n");
    assert_eq!(stack.counter(bad, "storage_error.SignatureDoesNotMatch"), 1);
    assert_eq!(stack.counter(bad, "storage_errors_rewritten"), 1);
    // The storage placement is upstream and after the internal redirect:
    // its filter state is the downstream request's, which the access log
    // shows on the client's line (FILTER_STATE, not UPSTREAM_FILTER_STATE).
    let line = stack.logged(&["GET /assets/hello.txt 403 "]);
    assert!(
        line.contains("fs=storage_error:SignatureDoesNotMatch"),
        "{line}"
    );

    // The warning names the code, where, S3's message and the cause, once
    // per 10 s however many requests fail; never the secret or what S3
    // echoes of the signature.
    for _ in 0..3 {
        let r = stack.get("assets_bad", "/assets/hello.txt", &[]);
        assert_eq!(r.status, 403);
    }
    assert_eq!(stack.counter(bad, "storage_error.SignatureDoesNotMatch"), 4);
    let log = stack.envoy.log();
    let warnings = storage_warnings(&log);
    assert_eq!(warnings.len(), 1, "{warnings:#?}");
    let w = warnings[0];
    assert!(
        w.contains(&format!(
            "storage answered 403 SignatureDoesNotMatch for {}/assets/hello.txt",
            stack.s3.as_ref().unwrap().authority()
        )),
        "{w}"
    );
    assert!(w.contains("The request signature we calculated"), "{w}");
    assert!(w.contains("check the storage credentials"), "{w}");
    for secret in [
        WRONG_SECRET,
        "storage-flow-secret",
        "StringToSign",
        "CanonicalRequest",
    ] {
        assert!(!log.contains(secret), "{secret} in the log");
    }

    // A HEAD has no body, so no code: counted, and warned about, by its status.
    let r = stack.get("assets_bad", "/assets/hello.txt", &["-I"]);
    assert_eq!(r.status, 403);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(stack.counter(bad, "storage_error.403"), 1);
    let line = stack.logged(&["HEAD /assets/hello.txt 403 "]);
    assert!(line.contains("fs=storage_error:403"), "{line}");
    let log = stack.envoy.log();
    assert!(
        log.contains("storage answered 403 (no S3 error code) for "),
        "{log}"
    );

    // A missing key: counted, in the access log, no warning; never cached.
    let ok = "asset_gate_storage";
    let r = stack.get("assets", "/assets/missing.txt", &[]);
    assert_plain_uncached(&r, 404, "404 not found\n");
    assert_eq!(stack.counter(ok, "storage_error.NoSuchKey"), 1);
    let line = stack.logged(&["GET /assets/missing.txt 404 "]);
    assert!(line.contains("fs=storage_error:NoSuchKey"), "{line}");
    let log = stack.envoy.log();
    let warnings = storage_warnings(&log);
    assert!(
        warnings.iter().all(|w| !w.contains(" 404 ")),
        "a missing key was warned about: {warnings:#?}"
    );
    // Only counters that happened exist.
    assert_eq!(stack.counter(ok, "storage_error.SignatureDoesNotMatch"), 0);

    // The asset itself keeps the backend's caching exactly.
    let r = stack.get("assets", "/assets/hello.txt", &[]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.body, HELLO);
    assert_eq!(r.header("cache-control"), Some(KEPT_CACHING));

    // Local answers of the upstream placements name themselves too: the
    // storage role's, and the auth_backend role's (an unsafe target).
    let r = stack.get(
        "assets",
        "/internal-assets/hello.txt",
        &["-H", "x-internal-redirect: true"],
    );
    assert_eq!(r.status, 403, "{}", r.text());
    let line = stack.logged(&["GET /internal-assets/hello.txt 403"]);
    assert!(line.contains("fs=no_marker"), "{line}");
    let r = stack.get("assets", "/assets/%2e%2e/hello.txt", &[]);
    assert_eq!(r.status, 404, "{}", r.text());
    let line = stack.logged(&["GET /assets/%2e%2e/hello.txt 404"]);
    assert!(line.contains("fs=unsafe_target"), "{line}");
}

#[test]
fn storage_errors_in_flows_d_and_c_are_named_counted_and_never_cached() {
    let stack = Stack::start(true, 1);
    // Flow D: the gateway asks the backend, which keeps its caching.
    let r = stack.get("gateway_bad", "/assets/hello.txt", &["-H", TOKEN]);
    assert_plain_uncached(&r, 403, "403 forbidden\n");
    let bad = "asset_gate_gateway_bad";
    assert_eq!(stack.counter(bad, "storage_error.SignatureDoesNotMatch"), 1);
    let line = stack.logged(&["/assets/hello.txt", " 403 ", "fs=storage_error:"]);
    assert!(
        line.contains("fs=storage_error:SignatureDoesNotMatch"),
        "{line}"
    );
    let r = stack.get("gateway", "/assets/missing.txt", &["-H", TOKEN]);
    assert_plain_uncached(&r, 404, "404 not found\n");
    assert_eq!(
        stack.counter("asset_gate_gateway", "storage_error.NoSuchKey"),
        1
    );
    let r = stack.get("gateway", "/assets/hello.txt", &["-H", TOKEN]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("cache-control"), Some(KEPT_CACHING));

    // Flow C, errors made plain: the same.
    let r = stack.get("edge_bad", "/assets/hello.txt", &[]);
    assert_plain_uncached(&r, 403, "403 forbidden\n");
    assert_eq!(
        stack.counter("asset_gate_edge_bad", "storage_error.SignatureDoesNotMatch"),
        1
    );
    // One warning per code per VM (one worker here) every 10 s, whichever
    // placement: the flow C edge's error was counted, its line held back.
    let log = stack.envoy.log();
    let warnings = storage_warnings(&log);
    assert_eq!(warnings.len(), 1, "{warnings:#?}");
    assert!(
        warnings[0].contains("asset_gate_gateway_bad"),
        "{}",
        warnings[0]
    );
}

/// Sends a request's head, then (after `pause`) its body, on one
/// connection; the response as text, and how long after the head it came.
fn slow_post(port: u16, path: &str, body: &[u8], pause: Duration) -> (String, Duration) {
    let mut conn = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes()).unwrap();
    let start = Instant::now();
    // Nothing is answered while the client has not sent its body.
    conn.set_read_timeout(Some(pause)).unwrap();
    let mut first = [0u8; 1];
    let early = conn.read(&mut first);
    assert!(
        early.is_err(),
        "answered before the body was sent: {early:?}"
    );
    conn.write_all(body).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = conn.read(&mut buf) {
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&answer);
        if let Some((head, rest)) = text.split_once("\r\n\r\n") {
            let len = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length: ")
                        .map(String::from)
                })
                .and_then(|v| v.trim().parse::<usize>().ok());
            if len.is_some_and(|n| rest.len() >= n) {
                break;
            }
        }
    }
    (
        String::from_utf8_lossy(&answer).into_owned(),
        start.elapsed(),
    )
}

/// Long enough that a held request would have been answered if its
/// client's slowness were taken for the missing setting (the wait and a tick).
const SLOW: Duration = Duration::from_millis(2_600);

#[test]
fn a_hashing_signing_edge_without_allow_on_headers_stop_iteration_fails_fast() {
    // One worker: the placements learn about the setting per VM.
    let stack = Stack::start(false, 1);
    let body = r#"{"Name": "Jone"}"#;
    let port = |l: &str| stack.envoy.listeners[l];

    // With the setting: a client slow to send its body is never cut, though
    // the placement has not seen a body yet; the body is hashed and signed.
    let (answer, _) = slow_post(port("api_on"), "/items", body.as_bytes(), SLOW);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let r = stack.get(
        "api_on",
        "/items",
        &["-H", "Content-type: application/json", "-d", body],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    let hash = sha256_hex(body.as_bytes());
    assert_eq!(v["body_sha256"].as_str(), Some(hash.as_str()));
    verify_seen(
        &Seen::from(&v),
        &Expect {
            access_key: AK,
            secret_key: SK,
            service: "execute-api",
            region: "eu-west-1",
            host: API_HOST,
            token: None,
            payload: Some(&hash),
        },
    );

    // Without it and a slow client: nothing is answered until the body
    // comes (it might yet reach the filter), then at once.
    let slow_off = {
        let port = port("api_off");
        std::thread::spawn(move || slow_post(port, "/items", body.as_bytes(), SLOW))
    };
    // Without it, downstream or upstream: a 500 naming the setting within
    // seconds, not at a timeout (the route's, or the stream's idle one).
    let fast: Vec<_> = ["api_off", "api_up_off"]
        .map(|listener| {
            let url = stack.envoy.url(listener, "/items");
            std::thread::spawn(move || {
                let start = Instant::now();
                (curl(&["-d", body, &url]), start.elapsed())
            })
        })
        .into_iter()
        .collect();
    for (listener, call) in ["api_off", "api_up_off"].iter().zip(fast) {
        let (r, took) = call.join().unwrap();
        assert_eq!(r.status, 500, "{listener}: {}", r.text());
        assert_eq!(
            r.text(),
            "asset-gate: Envoy did not hand asset-gate the request body to hash and sign; \
             set allow_on_headers_stop_iteration: true in this filter's PluginConfig\n"
        );
        assert!(took < Duration::from_secs(4), "{listener}: {took:?}");
        // A request without a body is not held, and signs.
        let r = stack.get(listener, "/items", &[]);
        assert_eq!(r.status, 200, "{listener}: {}", r.text());
    }
    let (answer, took) = slow_off.join().unwrap();
    assert!(answer.starts_with("HTTP/1.1 500"), "{answer}");
    assert!(took < SLOW + Duration::from_secs(2), "{took:?}");

    let line = stack.logged(&["POST /items 500"]);
    assert!(line.contains("fs=body_withheld"), "{line}");
    let log = stack.envoy.log();
    let errors: Vec<&str> = log
        .lines()
        .filter(|l| {
            l.contains("[error]") && l.contains("set allow_on_headers_stop_iteration: true")
        })
        .collect();
    assert_eq!(errors.len(), 1, "one line per 10 s: {errors:#?}");
}
