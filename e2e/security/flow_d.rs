//! Flow D (the gateway role): a grant lets through exactly what it says.
//! Each case runs in real Envoy against SeaweedFS enforcing SigV4, with a
//! recording relay in front of storage, so "storage never received it" is
//! what storage was actually sent, not inferred from a status.

use crate::harness::oracle::{RecordingProxy, SeenRequest};
use crate::harness::*;
use serde_json::{json, Value};

const TEMPLATE: &str = include_str!("../fixtures/envoy/gateway.yaml");
const BUCKET: &str = "vault";
const TOKEN: &str = "Authorization: Bearer demo-token";
const OTHER_TOKEN: &str = "Authorization: Bearer other-token";
const TOO_LARGE: &str = "the upload is larger than the auth backend allows";

struct Stack {
    envoy: Envoy,
    auth: Backend,
    relay: RecordingProxy,
    s3: S3,
    id: Identity,
    dir: tempfile::TempDir,
}

fn filter(s3: &S3, id: &Identity, gateway: &Value) -> String {
    filter_config(&json!({
        "role": "gateway",
        "gateway": gateway,
        "redirect": {"internal_prefixes": ["/internal-assets/"]},
        "signing": signing_for(s3, id, &[("/internal-assets/", BUCKET)]),
    }))
}

impl Stack {
    /// SeaweedFS behind a recording relay, the gateway backend with `rules`
    /// (keys under `slow/` answer after 1 s), and Envoy: listener `gateway`
    /// with `gateway` settings, `gateway_cached` with `cached` (one worker:
    /// the decision cache is per VM).
    /// A `gateway.presign` presigns URLs to the relay (so storage's view
    /// of presigned requests is recorded too).
    fn start(rules: Value, gateway: Value, cached: Value) -> Stack {
        Stack::start_with(TEMPLATE, rules, gateway, cached)
    }

    fn start_with(template: &str, rules: Value, mut gateway: Value, cached: Value) -> Stack {
        let id = Identity::admin("AKIDSECFLOWD", "security-flow-d-secret");
        let s3 = S3::start(&[BUCKET], vec![id.clone()]);
        let relay = RecordingProxy::start(s3.port);
        if let Some(p) = gateway.get_mut("presign") {
            p["base_url"] = json!(format!("http://127.0.0.1:{}", relay.port));
        }
        let auth = Backend::start(
            "gateway",
            json!({
                "client_prefix": "/assets/",
                "tokens": ["demo-token", "other-token"],
                "rules": rules,
                "cache_prefix": "cached/",
                "cache_max_age": 60,
                "slow_prefix": "slow/",
                "slow_s": 1,
                "anonymous_status": 401,
            }),
        );
        let main = filter(&s3, &id, &gateway);
        let vars = vec![
            ("WASM", wasm().display().to_string()),
            ("AUTH_PORT", auth.port.to_string()),
            ("DOWN_PORT", free_ports(1)[0].to_string()),
            ("STORAGE_PORT", relay.port.to_string()),
            ("GATEWAY_CONFIG", main.clone()),
            ("DOWN_CONFIG", main),
            ("CACHED_CONFIG", filter(&s3, &id, &cached)),
        ];
        let envoy = Envoy::start(
            template,
            &vars,
            EnvoyOptions {
                concurrency: 1,
                ..Default::default()
            },
        );
        Stack {
            envoy,
            auth,
            relay,
            s3,
            id,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn call(&self, path: &str, args: &[&str]) -> Response {
        self.call_on("gateway", path, args)
    }

    fn call_on(&self, listener: &str, path: &str, args: &[&str]) -> Response {
        let url = self.envoy.url(listener, path);
        let mut all = args.to_vec();
        all.push(&url);
        curl(&all)
    }

    /// A file with `body` in this stack's temp dir (for `-T` / `@file`).
    fn file(&self, name: &str, body: &[u8]) -> String {
        let p = self.dir.path().join(name);
        std::fs::write(&p, body).unwrap();
        p.display().to_string()
    }

    /// Puts an object straight into SeaweedFS (signed by curl).
    fn seed(&self, key: &str, body: &[u8]) {
        let f = self.file("seed", body);
        let r = self
            .s3
            .signed_curl(&self.id, &["-T", &f], &format!("/{BUCKET}/{key}"));
        assert_eq!(r.status, 200, "seed {key}: {}", r.text());
    }

    /// The object as SeaweedFS has it (signed by curl, not by asset-gate).
    fn stored(&self, key: &str) -> Response {
        self.s3
            .signed_curl(&self.id, &[], &format!("/{BUCKET}/{key}"))
    }

    /// Every request storage was sent for `key` (any query).
    fn seen(&self, key: &str) -> Vec<SeenRequest> {
        let path = format!("/{BUCKET}/{key}");
        self.relay
            .requests()
            .into_iter()
            .filter(|r| r.target == path || r.target.starts_with(&format!("{path}?")))
            .collect()
    }

    fn fail(&self, what: &str) -> String {
        format!(
            "{what}\n--- envoy log ---\n{}\n--- seaweedfs log ---\n{}",
            tail(&self.envoy.log(), 30),
            tail(&self.s3.log(), 10)
        )
    }
}

/// An `aws-chunked` body (no chunk signatures) of `data` in chunks of
/// `chunk` bytes, with an `x-amz-checksum-crc32` trailer of `crc32`.
fn aws_chunked(data: &[u8], chunk: usize, crc32: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for c in data.chunks(chunk) {
        out.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
        out.extend_from_slice(c);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("0\r\nx-amz-checksum-crc32:{crc32}\r\n\r\n").as_bytes());
    out
}

const AWS_CHUNKED: [&str; 6] = [
    "-H",
    "x-amz-content-sha256: STREAMING-UNSIGNED-PAYLOAD-TRAILER",
    "-H",
    "content-encoding: aws-chunked",
    "-H",
    "x-amz-trailer: x-amz-checksum-crc32",
];
/// CRC32 (base64) of 90 bytes `r`, as an SDK's trailer carries it.
const CRC32_90R: &str = "THIuKg==";

/// Asserts a refused upload: its status and text, and that storage kept
/// no object (and was sent no complete body) for `key`.
fn assert_not_stored(stack: &Stack, key: &str, r: &Response, status: u16, text: &str) {
    assert_eq!(r.status, status, "{key}: {}", stack.fail(&r.text()));
    assert!(r.text().contains(text), "{key}: {}", r.text());
    assert_eq!(stack.stored(key).status, 404, "{key} was stored");
}

#[test]
fn an_upload_limit_counts_the_decoded_length_only_for_aws_chunked_bodies() {
    let stack = Stack::start(
        json!([
            {"prefix": "limited/", "grant": "PUT", "max_bytes": 100},
        ]),
        json!({"decision_cache": {"max_age": "0s"}}),
        json!({}),
    );
    let big = stack.file("big", &[b'x'; 5000]);
    let decoded_10 = "x-amz-decoded-content-length: 10";
    // A plain 5000-byte body over a 100-byte grant: 413 before storage.
    let r = stack.call("/assets/limited/plain.bin", &["-H", TOKEN, "-T", &big]);
    assert_not_stored(&stack, "limited/plain.bin", &r, 413, TOO_LARGE);
    assert!(stack.seen("limited/plain.bin").is_empty());
    // The same body claiming a 10-byte decoded length: a plain body is
    // bounded by its own length, whatever it says about decoding.
    let r = stack.call(
        "/assets/limited/decoded.bin",
        &["-H", TOKEN, "-H", decoded_10, "-T", &big],
    );
    assert_not_stored(&stack, "limited/decoded.bin", &r, 413, TOO_LARGE);
    assert!(
        stack.seen("limited/decoded.bin").is_empty(),
        "storage received the over-limit upload"
    );
    // 60 KB chunked (no content-length) with the claim: cut while
    // streaming, nothing stored.
    let sixty = stack.file("sixty", &[b'y'; 60_000]);
    let r = stack.call(
        "/assets/limited/chunked.bin",
        &[
            "-H",
            TOKEN,
            "-H",
            decoded_10,
            "-H",
            "Transfer-Encoding: chunked",
            "-T",
            &sixty,
        ],
    );
    assert_not_stored(&stack, "limited/chunked.bin", &r, 413, TOO_LARGE);
    assert!(
        stack
            .seen("limited/chunked.bin")
            .iter()
            .all(|s| s.body_len < 60_000),
        "storage received the whole chunked body"
    );
    // A real aws-chunked body whose framing carries far more than its
    // declared decoded length: over the framed budget, 413.
    let framed = stack.file("framed", &aws_chunked(&[b'z'; 60_000], 8192, "AAAAAA=="));
    let mut args = vec!["-H", TOKEN, "-H", decoded_10];
    args.extend(AWS_CHUNKED);
    args.extend(["-X", "PUT", "--data-binary"]);
    let at = format!("@{framed}");
    args.push(&at);
    let r = stack.call("/assets/limited/framed.bin", &args);
    assert_not_stored(&stack, "limited/framed.bin", &r, 413, TOO_LARGE);
    assert!(stack.seen("limited/framed.bin").is_empty());
    args.extend(["-H", "Transfer-Encoding: chunked"]);
    let r = stack.call("/assets/limited/framed-chunked.bin", &args);
    assert_not_stored(&stack, "limited/framed-chunked.bin", &r, 413, TOO_LARGE);
    // Framing that carries more than the declared decoded length within the
    // framing allowance (100 + 1 + 512): storage refuses the mismatch.
    let lying = stack.file("lying", &aws_chunked(&[b'l'; 400], 400, "AAAAAA=="));
    let lying_at = format!("@{lying}");
    let mut args = vec!["-H", TOKEN, "-H", "x-amz-decoded-content-length: 100"];
    args.extend(AWS_CHUNKED);
    args.extend(["-X", "PUT", "--data-binary", &lying_at]);
    let r = stack.call("/assets/limited/lying.bin", &args);
    assert_ne!(r.status, 200, "{}", stack.fail(&r.text()));
    let stored = stack.stored("limited/lying.bin");
    assert!(
        stored.status == 404 || stored.body.len() <= 100,
        "{} bytes stored under a 100-byte grant",
        stored.body.len()
    );
    // Content-Encoding: aws-chunked alone leaves a plain body: bounded by
    // the grant itself.
    let r = stack.call(
        "/assets/limited/encoded.bin",
        &[
            "-H",
            TOKEN,
            "-H",
            decoded_10,
            "-H",
            "Content-Encoding: aws-chunked",
            "-T",
            &big,
        ],
    );
    assert_not_stored(&stack, "limited/encoded.bin", &r, 413, TOO_LARGE);
    // Within the grant: a chunked plain body and a real aws-chunked one.
    let ninety = stack.file("ninety", &[b'n'; 90]);
    let r = stack.call(
        "/assets/limited/ok.bin",
        &[
            "-H",
            TOKEN,
            "-H",
            "Transfer-Encoding: chunked",
            "-T",
            &ninety,
        ],
    );
    assert_eq!(r.status, 200, "{}", stack.fail(&r.text()));
    assert_eq!(stack.stored("limited/ok.bin").body, [b'n'; 90]);
    let real = stack.file("real", &aws_chunked(&[b'r'; 90], 64, CRC32_90R));
    let real_at = format!("@{real}");
    let mut args = vec!["-H", TOKEN, "-H", "x-amz-decoded-content-length: 90"];
    args.extend(AWS_CHUNKED);
    args.extend(["-X", "PUT", "--data-binary", &real_at]);
    let r = stack.call("/assets/limited/aws-chunked.bin", &args);
    assert_eq!(r.status, 200, "{}", stack.fail(&r.text()));
    assert_eq!(stack.stored("limited/aws-chunked.bin").body, [b'r'; 90]);
}

const BOTO3_MULTIPART: &str = r#"
import json, sys
import boto3, botocore
from botocore.config import Config
a = json.loads(sys.argv[1])
def add_token(request, **kw):
    request.headers["Authorization"] = "Bearer demo-token"
cfg = Config(signature_version=botocore.UNSIGNED, s3={"addressing_style": "path"}, retries={"max_attempts": 1})
gw = boto3.client("s3", endpoint_url=a["gateway"], region_name="us-east-1", config=cfg)
gw.meta.events.register("before-send.s3.*", add_token)
part = (5 << 20) + 1024
up = gw.create_multipart_upload(Bucket="assets", Key=a["key"])
done, statuses = [], []
for i in (1, 2, 3):
    try:
        r = gw.upload_part(Bucket="assets", Key=a["key"], UploadId=up["UploadId"], PartNumber=i, Body=bytes([i]) * part)
        done.append({"PartNumber": i, "ETag": r["ETag"]})
        statuses.append(200)
    except botocore.exceptions.ClientError as e:
        statuses.append(e.response["ResponseMetadata"]["HTTPStatusCode"])
gw.complete_multipart_upload(Bucket="assets", Key=a["key"], UploadId=up["UploadId"], MultipartUpload={"Parts": done})
direct = boto3.client("s3", endpoint_url=a["s3"], region_name="us-east-1",
                      aws_access_key_id=a["ak"], aws_secret_access_key=a["sk"])
size = direct.head_object(Bucket=a["bucket"], Key=a["key"])["ContentLength"]
print(json.dumps({"parts": statuses, "size": size}))
"#;

#[test]
fn an_upload_limit_bounds_the_object_multipart_included() {
    let part: u64 = (5 << 20) + 1024;
    let stack = Stack::start(
        json!([
            {"prefix": "mp/", "grant": "multipart", "max_bytes": part},
            {"prefix": "open/", "grant": "multipart"},
        ]),
        json!({"decision_cache": {"max_age": "0s"}}),
        json!({}),
    );
    let run = |key: &str| -> Value {
        let args = json!({
            "gateway": stack.envoy.url("gateway", ""),
            "s3": stack.s3.url(""),
            "bucket": BUCKET,
            "key": key,
            "ak": stack.id.access_key,
            "sk": stack.id.secret_key,
        });
        let out = std::process::Command::new(venv_bin("python"))
            .args(["-c", BOTO3_MULTIPART, &args.to_string()])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            stack.fail(&String::from_utf8_lossy(&out.stderr))
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    // Three parts of 5 MiB + 1 KiB under a grant of 5 MiB + 1 KiB: the
    // first is the object; the others are refused before storage.
    let limited = run("mp/big.bin");
    assert_eq!(limited["parts"], json!([200, 403, 403]), "{limited}");
    assert_eq!(limited["size"], json!(part), "{limited}");
    let parts: Vec<String> = stack
        .seen("mp/big.bin")
        .iter()
        .filter(|s| s.method == "PUT")
        .map(|s| s.target.clone())
        .collect();
    assert_eq!(parts.len(), 1, "{parts:?}");
    let query = parts[0].split_once('?').unwrap().1;
    assert!(query.split('&').any(|p| p == "partNumber=1"), "{parts:?}");
    let r = stack.call(
        "/assets/mp/big.bin?partNumber=2&uploadId=x",
        &["-H", TOKEN, "-X", "PUT", "--data-binary", "x"],
    );
    assert_eq!(r.status, 403);
    assert!(
        r.text()
            .contains("under an upload limit a multipart upload has one part"),
        "{}",
        r.text()
    );
    // Without a limit, multipart is unchanged.
    let open = run("open/big.bin");
    assert_eq!(open["parts"], json!([200, 200, 200]), "{open}");
    assert_eq!(open["size"], json!(3 * part), "{open}");
}

#[test]
fn only_a_2xx_answer_consents() {
    let stack = Stack::start(
        json!([
            {"prefix": "refused/", "status": 403, "body": "no access to this one\n"},
            {"prefix": "login/", "status": 401, "body": "log in\n",
             "headers": {"www-authenticate": "Bearer realm=\"x\""}},
            {"prefix": "redirected/", "status": 302, "headers": {"location": "/login"}},
            {"prefix": "created/", "status": 204},
        ]),
        json!({"decision_cache": {"max_age": "0s"}}),
        json!({}),
    );
    for key in [
        "refused/a.txt",
        "login/a.txt",
        "redirected/a.txt",
        "created/a.txt",
    ] {
        stack.seed(key, b"consented bytes\n");
    }
    // A refusal that also names an X-Accel-Redirect stays a refusal: the
    // client gets the backend's status and body, storage nothing.
    for (key, status, text) in [
        ("refused/a.txt", 403, "no access to this one\n"),
        ("login/a.txt", 401, "log in\n"),
        ("redirected/a.txt", 302, ""),
    ] {
        let r = stack.call(&format!("/assets/{key}"), &["-H", TOKEN]);
        assert_eq!(r.status, status, "{key}: {}", stack.fail(&r.text()));
        assert_eq!(r.text(), text, "{key}");
        assert!(stack.seen(key).is_empty(), "storage was asked for {key}");
    }
    let r = stack.call("/assets/login/a.txt", &["-H", TOKEN]);
    assert_eq!(r.header("www-authenticate"), Some("Bearer realm=\"x\""));
    assert_eq!(
        stack
            .call("/assets/redirected/a.txt", &["-H", TOKEN])
            .header("location"),
        Some("/login")
    );
    // Any 2xx consents.
    let r = stack.call("/assets/created/a.txt", &["-H", TOKEN]);
    assert_eq!(r.status, 200, "{}", stack.fail(&r.text()));
    assert_eq!(r.text(), "consented bytes\n");
}

#[test]
fn a_granted_upload_stores_the_type_and_size_the_grant_says() {
    let stack = Stack::start(
        json!([
            {"prefix": "pinned/", "grant": "PUT, multipart",
             "headers": {"x-accel-content-type": "image/png"}},
            {"prefix": "limited/", "grant": "PUT", "max_bytes": 100},
            {"prefix": "uploads/", "grant": "PUT"},
        ]),
        json!({"presign": {"base_url": "relay", "expires": "300s"}, "decision_cache": {"max_age": "0s"}}),
        json!({}),
    );
    let html = stack.file("html", b"<script>alert(1)</script>");
    let fifty = stack.file("fifty", &[b'f'; 50]);
    let big = stack.file("big", &[b'b'; 5000]);
    let stored_type = |key: &str| {
        let r = stack.stored(key);
        assert_eq!(r.status, 200, "{key}: {}", r.text());
        r.header("content-type").unwrap_or_default().to_string()
    };
    let sent_types = |key: &str| -> Vec<String> {
        stack
            .seen(key)
            .iter()
            .filter(|s| s.method != "GET" && s.method != "HEAD")
            .map(|s| s.header("content-type").unwrap_or_default().to_string())
            .collect()
    };
    // Streamed: the pinned type replaces the client's.
    let r = stack.call(
        "/assets/pinned/a.png",
        &["-H", TOKEN, "-H", "Content-Type: text/html", "-T", &html],
    );
    assert_eq!(r.status, 200, "{}", stack.fail(&r.text()));
    assert_eq!(stored_type("pinned/a.png"), "image/png");
    assert_eq!(sent_types("pinned/a.png"), ["image/png"]);
    // The multipart upload's start carries it too.
    let r = stack.call(
        "/assets/pinned/mp.png?uploads",
        &["-H", TOKEN, "-H", "Content-Type: text/html", "-X", "POST"],
    );
    assert_eq!(r.status, 200, "{}", stack.fail(&r.text()));
    assert_eq!(sent_types("pinned/mp.png"), ["image/png"]);
    // Presigned: a redirect cannot change what the client sends, so the
    // client must declare the pinned type (nothing reaches storage before).
    let r = stack.call(
        "/assets/presigned/pinned/b.png",
        &["-H", TOKEN, "-H", "Content-Type: text/html", "-T", &html],
    );
    assert_eq!(r.status, 415, "{}", stack.fail(&r.text()));
    assert!(
        r.text().contains("pins this upload's Content-Type"),
        "{}",
        r.text()
    );
    assert!(stack.seen("pinned/b.png").is_empty());
    let r = stack.call(
        "/assets/presigned/pinned/b.png",
        &["-H", TOKEN, "-H", "Content-Type: image/png", "-T", &html],
    );
    assert_eq!(r.status, 307, "{}", stack.fail(&r.text()));
    let url = r.header("location").unwrap().to_string();
    assert!(
        url.contains("X-Amz-SignedHeaders=content-type%3Bhost&"),
        "{url}"
    );
    let put = |url: &str, file: &str, ty: &str| {
        curl(&["-T", file, "-H", &format!("Content-Type: {ty}"), url]).status
    };
    assert_eq!(put(&url, &html, "text/html"), 403);
    assert_eq!(put(&url, &html, "image/png"), 200);
    assert_eq!(stored_type("pinned/b.png"), "image/png");
    // Presigned under a limit: the declared size is signed, so the URL
    // takes that size and type only (reusable until it expires).
    let r = stack.call(
        "/assets/presigned/limited/c.txt",
        &["-H", TOKEN, "-H", "Content-Type: text/plain", "-T", &fifty],
    );
    assert_eq!(r.status, 307, "{}", stack.fail(&r.text()));
    let url = r.header("location").unwrap().to_string();
    assert!(
        url.contains("X-Amz-Expires=300&X-Amz-SignedHeaders=content-length%3Bcontent-type%3Bhost&"),
        "{url}"
    );
    assert_eq!(put(&url, &big, "text/plain"), 403, "another size");
    assert_eq!(put(&url, &fifty, "text/html"), 403, "another type");
    assert_eq!(put(&url, &fifty, "text/plain"), 200);
    assert_eq!(
        put(&url, &fifty, "text/plain"),
        200,
        "reusable until it expires"
    );
    assert_eq!(stack.stored("limited/c.txt").body, [b'f'; 50]);
    // Over the limit: 413 before any URL; an undeclared size streams,
    // counted by the gateway.
    let r = stack.call(
        "/assets/presigned/limited/d.txt",
        &["-H", TOKEN, "-T", &big],
    );
    assert_eq!(r.status, 413, "{}", r.text());
    let r = stack.call(
        "/assets/presigned/limited/e.txt",
        &[
            "-H",
            TOKEN,
            "-H",
            "Transfer-Encoding: chunked",
            "-T",
            &fifty,
        ],
    );
    assert_eq!(r.status, 200, "{}", stack.fail(&r.text()));
    assert_eq!(stack.stored("limited/e.txt").body, [b'f'; 50]);
    // No limit and no pin: the client's declared type is signed.
    let r = stack.call(
        "/assets/presigned/uploads/f.txt",
        &["-H", TOKEN, "-H", "Content-Type: text/plain", "-T", &fifty],
    );
    assert_eq!(r.status, 307, "{}", stack.fail(&r.text()));
    let url = r.header("location").unwrap().to_string();
    assert_eq!(put(&url, &fifty, "text/html"), 403);
    assert_eq!(put(&url, &fifty, "text/plain"), 200);
    assert_eq!(stored_type("uploads/f.txt"), "text/plain");
}

#[test]
fn one_credential_cannot_take_the_decision_cache_from_everyone_else() {
    let stack = Stack::start(
        json!([]),
        json!({"decision_cache": {"max_age": "0s"}}),
        json!({"decision_cache": {"max_age": "60s", "max_entries": 16}}),
    );
    stack.seed("cached/a.txt", b"cached\n");
    let get = |path: &str, token: &str| stack.call_on("gateway_cached", path, &["-H", token]);
    // One credential asks for 40 distinct query strings (each a decision the
    // backend lets the gateway cache).
    for n in 0..40 {
        let r = get(&format!("/assets/cached/a.txt?n={n}"), OTHER_TOKEN);
        assert_eq!(r.status, 200, "{}", stack.fail(&r.text()));
    }
    // Another credential's decision is still cached, and served from it.
    let hits = stack.auth.hits();
    for _ in 0..3 {
        assert_eq!(get("/assets/cached/a.txt", TOKEN).status, 200);
    }
    assert_eq!(
        stack.auth.hits(),
        hits + 1,
        "a full cache kept no decision for the second credential"
    );
    // The first credential's own most recent decisions are kept (it
    // replaces its own soonest-expiring ones).
    let hits = stack.auth.hits();
    assert_eq!(get("/assets/cached/a.txt?n=39", OTHER_TOKEN).status, 200);
    assert_eq!(stack.auth.hits(), hits);
}

/// With `allow_on_headers_stop_iteration`, Envoy hands the body to the
/// filter while its headers are held: bytes that arrive before the backend
/// answers count towards the limit too.
#[test]
fn bytes_held_while_the_backend_decides_count_towards_the_limit() {
    let template = TEMPLATE.replace(
        "                root_id: asset_gate\n",
        "                root_id: asset_gate\n                allow_on_headers_stop_iteration: true\n",
    );
    assert_ne!(template, TEMPLATE);
    let stack = Stack::start_with(
        &template,
        json!([{"prefix": "slow/limited/", "grant": "PUT", "max_bytes": 100}]),
        json!({"auth_timeout": "5s", "decision_cache": {"max_age": "0s"}}),
        json!({}),
    );
    // No `Expect: 100-continue`: the body follows the headers at once.
    let early = |key: &str, file: &str| {
        let args = [
            "-H",
            TOKEN,
            "-H",
            "Expect:",
            "-H",
            "Transfer-Encoding: chunked",
            "-T",
            file,
        ];
        stack.call(&format!("/assets/{key}"), &args)
    };
    let big = stack.file("big", &[b'x'; 5000]);
    let r = early("slow/limited/early.bin", &big);
    assert_not_stored(&stack, "slow/limited/early.bin", &r, 413, TOO_LARGE);
    assert!(
        stack
            .seen("slow/limited/early.bin")
            .iter()
            .all(|s| s.body_len < 5000),
        "storage received the whole body"
    );
    let ninety = stack.file("ninety", &[b'n'; 90]);
    let r = early("slow/limited/ok.bin", &ninety);
    assert_eq!(r.status, 200, "{}", stack.fail(&r.text()));
    assert_eq!(stack.stored("slow/limited/ok.bin").body, [b'n'; 90]);
}

/// A presigned read names the type a backend sets only when it is passive:
/// a framework's default `text/html` on an empty consent would otherwise
/// make storage serve any object as HTML on its own origin.
#[test]
fn a_presigned_read_takes_no_active_type_from_the_backend() {
    let stack = Stack::start(
        json!([
            {"prefix": "page/", "headers": {"content-type": "text/html; charset=utf-8"}},
            {"prefix": "pic/", "headers": {"content-type": "image/png"}},
        ]),
        json!({"presign": {"base_url": "relay", "expires": "300s"}, "decision_cache": {"max_age": "0s"}}),
        json!({}),
    );
    // Stored as a download: only a `response-content-type` could make it HTML.
    let f = stack.file("page", b"<script>alert(1)</script>");
    let r = stack.s3.signed_curl(
        &stack.id,
        &["-T", &f, "-H", "Content-Type: application/octet-stream"],
        &format!("/{BUCKET}/page/x.bin"),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    stack.seed("pic/y.bin", b"not really a png");
    let location = |path: &str| {
        let r = stack.call(path, &["-H", TOKEN]);
        assert_eq!(r.status, 302, "{}", stack.fail(&r.text()));
        r.header("location").unwrap_or_default().to_string()
    };
    let page = location("/assets/presigned/page/x.bin");
    assert!(
        !page.contains("response-content-type"),
        "an active type reached the presigned URL: {page}"
    );
    let r = curl(&[&page]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        !r.header("content-type")
            .unwrap_or_default()
            .contains("html"),
        "storage served the object as {:?}",
        r.header("content-type")
    );
    // A passive type still names what the backend says.
    let pic = location("/assets/presigned/pic/y.bin");
    assert!(
        pic.contains("response-content-type=image%2Fpng"),
        "the backend's passive type was lost: {pic}"
    );
}

/// A presigned URL is `base_url` and the mapped path: a `base_url` that does
/// not name the consented bucket where the addressing style puts it would
/// sign a URL for another bucket, so such a configuration does not load.
#[test]
fn a_presign_base_url_that_names_another_bucket_does_not_load() {
    let id = Identity::admin("AKIDSECPRESIGN", "security-presign-secret");
    let config = |style: &str, base_url: &str, buckets: Value| {
        filter_config(&json!({
            "role": "gateway",
            "gateway": {"presign": {"base_url": base_url}},
            "redirect": {"internal_prefixes": ["/internal-assets/", "/other/"]},
            "signing": {
                "region": "us-east-1",
                "endpoint": "s3.local",
                "addressing_style": style,
                "buckets": buckets,
                "credentials": {"source": "static", "access_key_id": id.access_key, "secret_access_key": id.secret_key},
            },
        }))
    };
    let one = json!([{"prefix": "/internal-assets/", "bucket": "uploads"}]);
    let two = json!([{"prefix": "/internal-assets/", "bucket": "uploads"}, {"prefix": "/other/", "bucket": "other"}]);
    for (style, base_url, buckets) in [
        // Virtual: the path has no bucket, so the host must be the bucket's.
        ("virtual", "http://127.0.0.1:8333", one.clone()),
        ("virtual", "https://other.s3.local", one.clone()),
        ("virtual", "https://uploads.s3.local", two),
        // Path: the bucket is in the path, so the host must not be a bucket's.
        ("path", "https://uploads.s3.local", one),
    ] {
        let main = config(style, base_url, buckets);
        let vars = vec![
            ("WASM", wasm().display().to_string()),
            ("AUTH_PORT", free_ports(1)[0].to_string()),
            ("DOWN_PORT", free_ports(1)[0].to_string()),
            ("STORAGE_PORT", free_ports(1)[0].to_string()),
            ("GATEWAY_CONFIG", main.clone()),
            ("DOWN_CONFIG", main.clone()),
            ("CACHED_CONFIG", main),
        ];
        let (code, log) = Envoy::start_expect_failure(TEMPLATE, &vars);
        assert_ne!(code, Some(0), "{style} {base_url}: Envoy started");
        assert!(
            log.contains("field `gateway.presign.base_url`"),
            "{style} {base_url}: {}",
            tail(&log, 20)
        );
    }
}
