//! Flow D in real Envoy: one downstream asset-gate (role gateway) asks the
//! auth backend out of band (`dispatch_http_call`), then signs and streams
//! to SeaweedFS (SigV4 enforced) or answers a presigned redirect. What
//! reaches storage is counted at a relay in front of it, so "never reached
//! storage" is measured, not inferred from a status. One Envoy + SeaweedFS
//! stack serves every case of `flow_d_end_to_end`, in order.

use crate::harness::*;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const TEMPLATE: &str = include_str!("fixtures/envoy/gateway.yaml");
const HELLO: &[u8] = b"hello from storage, consented by the auth backend\n";
const TOKEN: &str = "Authorization: Bearer demo-token";
const OTHER_TOKEN: &str = "Authorization: Bearer other-token";
const BUCKET: &str = "vault";

struct Stack {
    envoy: Envoy,
    auth: Backend,
    storage: CountingProxy,
    s3: S3,
    id: Identity,
}

fn gateway_config(s3: &S3, id: &Identity, gateway: Value) -> Value {
    json!({
        "role": "gateway",
        "gateway": gateway,
        "redirect": {"internal_prefixes": ["/internal-assets/"]},
        "signing": signing_for(s3, id, &[("/internal-assets/", BUCKET)]),
    })
}

impl Stack {
    fn start() -> Stack {
        let id = Identity::admin("AKIDGATEWAYFLOW", "gateway-flow-secret");
        let s3 = S3::start(&[BUCKET], vec![id.clone()]);
        let storage = CountingProxy::start(s3.port);
        let auth = Backend::start(
            "gateway",
            json!({
                "client_prefix": "/assets/",
                "tokens": ["demo-token", "other-token"],
                "rules": [
                    {"prefix": "uploads/", "grant": "PUT, multipart"},
                    {"prefix": "limited/", "grant": "PUT", "max_bytes": 1 << 20},
                    {"prefix": "cached/up/", "grant": "PUT"},
                ],
                "cache_prefix": "cached/",
                "cache_max_age": 30,
                "slow_prefix": "slow/",
                "slow_s": 3,
                "anonymous_status": 401,
                "headers": {
                    "content-disposition": "attachment; filename=\"from-backend.bin\"",
                    "set-cookie": "gate=1; Path=/",
                },
            }),
        );
        let presign = |expires: &str| json!({"base_url": format!("http://{}", s3.authority()), "expires": expires});
        let main = gateway_config(
            &s3,
            &id,
            json!({"auth_timeout": "1s", "presign": presign("300s"), "decision_cache": {"max_age": "0s"}}),
        );
        let down = gateway_config(&s3, &id, json!({"auth_cluster": "auth_down"}));
        let cached = gateway_config(
            &s3,
            &id,
            json!({"presign": presign("1s"), "decision_cache": {"max_age": "60s", "max_entries": 64}}),
        );
        let vars = vec![
            ("WASM", wasm().display().to_string()),
            ("AUTH_PORT", auth.port.to_string()),
            ("DOWN_PORT", free_ports(1)[0].to_string()),
            ("STORAGE_PORT", storage.port.to_string()),
            ("GATEWAY_CONFIG", filter_config(&main)),
            ("DOWN_CONFIG", filter_config(&down)),
            ("CACHED_CONFIG", filter_config(&cached)),
        ];
        // One worker: the decision cache is per VM, so every request must
        // meet the same one.
        let envoy = Envoy::start(
            TEMPLATE,
            &vars,
            EnvoyOptions {
                concurrency: 1,
                ..Default::default()
            },
        );
        let stack = Stack {
            envoy,
            auth,
            storage,
            s3,
            id,
        };
        stack.put_direct("hello.txt", HELLO);
        stack.put_direct("cached/a.txt", HELLO);
        stack.put_direct("cached/b.txt", HELLO);
        stack
    }

    fn put_direct(&self, key: &str, body: &[u8]) {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("body");
        std::fs::write(&f, body).unwrap();
        let r = self.s3.signed_curl(
            &self.id,
            &["-T", f.to_str().unwrap()],
            &format!("/{BUCKET}/{key}"),
        );
        assert_eq!(r.status, 200, "seed {key}: {}", r.text());
    }

    /// The object as SeaweedFS has it (signed by curl, not by asset-gate).
    fn direct(&self, key: &str) -> Response {
        self.s3
            .signed_curl(&self.id, &[], &format!("/{BUCKET}/{key}"))
    }

    fn call(&self, listener: &str, path: &str, args: &[&str]) -> Response {
        let url = self.envoy.url(listener, path);
        let mut all = args.to_vec();
        all.push(&url);
        curl(&all)
    }

    fn metric(&self, name: &str) -> u64 {
        self.envoy.placement_stat("asset_gate_gateway", name)
            + self.envoy.placement_stat("asset_gate_down", name)
            + self.envoy.placement_stat("asset_gate_cached", name)
    }

    fn fail(&self, what: &str) -> String {
        let stats = curl(&[&self
            .envoy
            .admin_url("/stats?filter=no_route|rq_total|asset_gate|upstream_rq_")]);
        format!(
            "{what}\n--- stats ---\n{}\n--- envoy log ---\n{}\n--- seaweedfs log ---\n{}",
            stats
                .text()
                .lines()
                .filter(|l| !l.ends_with(": 0"))
                .collect::<Vec<_>>()
                .join("\n"),
            tail(&self.envoy.log(), 30),
            tail(&self.s3.log(), 10)
        )
    }
}

/// What one case cost, printed so a slow case shows in the CI log.
fn timed(name: &str, f: impl FnOnce()) {
    let start = Instant::now();
    f();
    eprintln!("  {name}: {:.1}s", start.elapsed().as_secs_f64());
}

fn vm_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Streams `size` generated bytes as a PUT over a raw connection (never
/// held in memory); returns the status and the body's sha256.
fn stream_put(port: u16, path: &str, size: u64, auth: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "PUT {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}\r\nContent-Length: {size}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut hasher = Sha256::new();
    // One pseudo-random MiB, stamped with its index: every chunk differs.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut chunk = vec![0u8; 1 << 20];
    for w in chunk.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        w.copy_from_slice(&x.to_le_bytes()[..w.len()]);
    }
    let (mut left, mut index) = (size, 0u64);
    while left > 0 {
        chunk[..8].copy_from_slice(&index.to_le_bytes());
        index += 1;
        let n = left.min(chunk.len() as u64) as usize;
        hasher.update(&chunk[..n]);
        if s.write_all(&chunk[..n]).is_err() {
            break; // Envoy answered early; read its answer below
        }
        left -= n as u64;
    }
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, hex::encode(hasher.finalize()))
}

/// sha256 of an object read straight from SeaweedFS, streamed through curl.
fn direct_sha256(stack: &Stack, key: &str) -> String {
    let user = format!("{}:{}", stack.id.access_key, stack.id.secret_key);
    let mut child = Command::new("curl")
        .args([
            "-sS",
            "--fail",
            "--aws-sigv4",
            "aws:amz:us-east-1:s3",
            "--user",
            &user,
        ])
        .arg(stack.s3.url(&format!("/{BUCKET}/{key}")))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = out.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    assert!(child.wait().unwrap().success(), "read back {key}");
    hex::encode(hasher.finalize())
}

#[test]
fn flow_d_end_to_end() {
    let t0 = Instant::now();
    let stack = Stack::start();
    eprintln!("  stack up: {:.1}s", t0.elapsed().as_secs_f64());
    timed("GET through the subrequest", || {
        get_through_the_subrequest(&stack)
    });
    timed("refusals", || refusals(&stack));
    timed("ungranted writes never reach storage", || {
        ungranted_writes_never_reach_storage(&stack)
    });
    timed("granted PUT", || granted_put(&stack));
    timed("size limit", || size_limit(&stack));
    timed("auth down and slow", || auth_down_and_slow(&stack));
    timed("boto3 multipart", || boto3_multipart(&stack));
    timed("presigned redirects", || presigned(&stack));
    timed("decision cache", || decision_cache(&stack));
    // Envoy's RSS is measured during the big PUT: no other heavy test meanwhile.
    let _heavy = exclusive();
    timed("big streamed PUT", || big_streamed_put(&stack));
}

fn get_through_the_subrequest(stack: &Stack) {
    let (hits, reqs) = (stack.auth.hits(), stack.storage.requests());
    let r = stack.call("gateway", "/assets/hello.txt", &["-H", TOKEN]);
    assert_eq!(r.status, 200, "{}", stack.fail(&r.text()));
    assert_eq!(r.body, HELLO);
    // One subrequest, one storage request: routed on the rewritten path
    // (the client's path alone only matches the 418 catch-all).
    assert_eq!(stack.auth.hits(), hits + 1);
    assert_eq!(stack.storage.requests(), reqs + 1);
    // The backend's kept headers reach the client (flow A's rule); storage's
    // identifying ones do not.
    assert_eq!(
        r.header("content-disposition"),
        Some("attachment; filename=\"from-backend.bin\"")
    );
    assert_eq!(r.header("set-cookie"), Some("gate=1; Path=/"));
    assert!(r.header("x-amz-request-id").is_none(), "{:?}", r.headers);
    // HEAD and Range pass as reads.
    let r = stack.call(
        "gateway",
        "/assets/hello.txt",
        &["-H", TOKEN, "-H", "Range: bytes=0-4"],
    );
    assert_eq!(r.status, 206);
    assert_eq!(r.body, &HELLO[..5]);
    let r = stack.call("gateway", "/assets/hello.txt", &["-I", "-H", TOKEN]);
    assert_eq!(r.status, 200);
    // A missing object: storage's 404, its XML (bucket, key) made plain.
    let r = stack.call("gateway", "/assets/nothing-here.txt", &["-H", TOKEN]);
    assert_eq!(r.status, 404);
    assert!(!r.text().contains(BUCKET), "{}", r.text());
    assert!(stack.metric("auth_consents") >= 4);
    assert!(stack.metric("requests_signed") >= 4);
}

fn refusals(stack: &Stack) {
    let reqs = stack.storage.requests();
    // No credentials: the backend's 401, body and WWW-Authenticate.
    let r = stack.call("gateway", "/assets/hello.txt", &[]);
    assert_eq!(r.status, 401);
    assert_eq!(r.text(), "log in first\n");
    assert_eq!(r.header("www-authenticate"), Some("Bearer realm=\"demo\""));
    // A denied key: 403 with the backend's text.
    let r = stack.call("gateway", "/assets/secret.txt", &["-H", TOKEN]);
    assert_eq!(r.status, 403);
    assert!(r.text().contains("access denied by the demo auth backend"));
    // A client cannot hand storage a key itself: a path outside the
    // backend's prefix is its 404, an unsafe key never leaves Envoy.
    let r = stack.call("gateway", "/vault/hello.txt", &["-H", TOKEN]);
    assert_eq!(r.status, 404);
    let r = stack.call("gateway", "/assets/%2e%2e/hello.txt", &["-H", TOKEN]);
    assert_eq!(r.status, 404, "{}", r.text());
    assert_eq!(stack.storage.requests(), reqs, "refusals reached storage");
    assert!(stack.metric("auth_refusals") >= 3);
}

fn ungranted_writes_never_reach_storage(stack: &Stack) {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("evil");
    std::fs::write(&f, b"overwritten!\n").unwrap();
    let file = f.to_str().unwrap();
    let reqs = stack.storage.requests();
    // A read consent meets a PUT: 403; without credentials: the 401.
    let r = stack.call("gateway", "/assets/hello.txt", &["-H", TOKEN, "-T", file]);
    assert_eq!(r.status, 403, "{}", r.text());
    let r = stack.call("gateway", "/assets/hello.txt", &["-T", file]);
    assert_eq!(r.status, 401);
    // A grant covers its methods only: uploads/ grants PUT and multipart.
    let r = stack.call(
        "gateway",
        "/assets/uploads/x",
        &["-H", TOKEN, "-X", "DELETE"],
    );
    assert_eq!(r.status, 403, "{}", r.text());
    let r = stack.call(
        "gateway",
        "/assets/uploads/x?acl",
        &["-H", TOKEN, "-T", file],
    );
    assert_eq!(r.status, 403, "{}", r.text());
    let r = stack.call(
        "gateway",
        "/assets/uploads/x",
        &["-H", TOKEN, "-X", "PATCH", "--data-binary", "x"],
    );
    assert_eq!(r.status, 405, "{}", r.text());
    let r = stack.call(
        "gateway",
        "/assets/hello.txt",
        &["-H", TOKEN, "-X", "POST", "--data-binary", "x"],
    );
    assert_eq!(r.status, 403, "{}", r.text());
    // Copies are never covered, granted or not.
    let r = stack.call(
        "gateway",
        "/assets/uploads/copy",
        &[
            "-H",
            TOKEN,
            "-X",
            "PUT",
            "-H",
            "x-amz-copy-source: /vault/secret.txt",
        ],
    );
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(
        stack.storage.requests(),
        reqs,
        "an ungranted write reached storage"
    );
    assert_eq!(stack.direct("hello.txt").body, HELLO);
    assert!(stack.metric("consent_violations") >= 5);
}

fn granted_put(stack: &Stack) {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("up");
    write_random_file(&f, 300_000, 7);
    let want = std::fs::read(&f).unwrap();
    let r = stack.call(
        "gateway",
        "/assets/uploads/small.bin",
        &[
            "-H",
            TOKEN,
            "-H",
            "Cookie: session=not-for-storage",
            "-T",
            f.to_str().unwrap(),
        ],
    );
    assert_eq!(r.status, 200, "{}", stack.fail(&r.text()));
    assert_eq!(stack.direct("uploads/small.bin").body, want);
    let r = stack.call("gateway", "/assets/uploads/small.bin", &["-H", TOKEN]);
    assert_eq!(r.status, 200);
    assert_eq!(r.body, want);
}

fn size_limit(stack: &Stack) {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("big");
    write_random_file(&f, 3 << 20, 9);
    let file = f.to_str().unwrap();
    let reqs = stack.storage.requests();
    // Declared over the limit: 413 before anything is sent to storage.
    let r = stack.call(
        "gateway",
        "/assets/limited/declared.bin",
        &["-H", TOKEN, "-T", file],
    );
    assert_eq!(r.status, 413, "{}", r.text());
    assert_eq!(
        stack.storage.requests(),
        reqs,
        "a refused upload reached storage"
    );
    assert_eq!(stack.direct("limited/declared.bin").status, 404);
    // Undeclared (chunked): counted while streaming; the upstream stream is
    // reset at the limit, so storage keeps no partial object.
    let r = stack.call(
        "gateway",
        "/assets/limited/chunked.bin",
        &["-H", TOKEN, "-H", "Transfer-Encoding: chunked", "-T", file],
    );
    assert_eq!(r.status, 413, "{}", stack.fail(&r.text()));
    assert_eq!(stack.direct("limited/chunked.bin").status, 404);
    // Under the limit it is stored.
    let small = dir.path().join("small");
    write_random_file(&small, 1000, 3);
    let r = stack.call(
        "gateway",
        "/assets/limited/ok.bin",
        &[
            "-H",
            TOKEN,
            "-H",
            "Transfer-Encoding: chunked",
            "-T",
            small.to_str().unwrap(),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        stack.direct("limited/ok.bin").body,
        std::fs::read(&small).unwrap()
    );
    assert!(stack.metric("uploads_too_large") >= 2);
}

fn auth_down_and_slow(stack: &Stack) {
    let reqs = stack.storage.requests();
    let r = stack.call("gateway_down", "/assets/hello.txt", &["-H", TOKEN]);
    assert_eq!(r.status, 503, "{}", r.text());
    assert!(
        r.text().contains("auth backend is unavailable"),
        "{}",
        r.text()
    );
    let r = stack.call("gateway", "/assets/slow/hello.txt", &["-H", TOKEN]);
    assert_eq!(r.status, 504, "{}", r.text());
    assert!(r.text().contains("did not answer in time"), "{}", r.text());
    assert_eq!(
        stack.storage.requests(),
        reqs,
        "fail-closed: nothing reached storage"
    );
    assert!(stack.metric("auth_unavailable") >= 1);
    assert!(stack.metric("auth_timeouts") >= 1);
}

const BOTO3_MULTIPART: &str = r#"
import hashlib, json, os, sys
import boto3, botocore
from botocore.config import Config
a = json.loads(sys.argv[1])
def add_token(request, **kw):
    request.headers["Authorization"] = "Bearer demo-token"
cfg = Config(signature_version=botocore.UNSIGNED, s3={"addressing_style": "path"}, retries={"max_attempts": 1})
gw = boto3.client("s3", endpoint_url=a["gateway"], region_name="us-east-1", config=cfg)
gw.meta.events.register("before-send.s3.*", add_token)
parts = [os.urandom(5 << 20), os.urandom(1 << 20)]
up = gw.create_multipart_upload(Bucket="assets", Key=a["key"])
done = []
for i, body in enumerate(parts, 1):
    r = gw.upload_part(Bucket="assets", Key=a["key"], UploadId=up["UploadId"], PartNumber=i, Body=body)
    done.append({"PartNumber": i, "ETag": r["ETag"]})
gw.complete_multipart_upload(Bucket="assets", Key=a["key"], UploadId=up["UploadId"], MultipartUpload={"Parts": done})
# An upload the client abandons: abort is a granted multipart call too.
ab = gw.create_multipart_upload(Bucket="assets", Key=a["key"] + ".aborted")
gw.abort_multipart_upload(Bucket="assets", Key=a["key"] + ".aborted", UploadId=ab["UploadId"])
# No consent for a key outside uploads/: the backend grants reads there.
try:
    gw.create_multipart_upload(Bucket="assets", Key="elsewhere.bin")
    refused = None
except botocore.exceptions.ClientError as e:
    refused = e.response["ResponseMetadata"]["HTTPStatusCode"]
direct = boto3.client("s3", endpoint_url=a["s3"], region_name="us-east-1",
                      aws_access_key_id=a["ak"], aws_secret_access_key=a["sk"])
got = direct.get_object(Bucket=a["bucket"], Key=a["key"])["Body"].read()
print(json.dumps({"same": got == b"".join(parts), "refused": refused, "requests": 2 + len(parts) + 3}))
"#;

fn boto3_multipart(stack: &Stack) {
    let hits = stack.auth.hits();
    let args = json!({
        "gateway": stack.envoy.url("gateway", ""),
        "s3": stack.s3.url(""),
        "bucket": BUCKET,
        "key": "uploads/multipart.bin",
        "ak": stack.id.access_key,
        "sk": stack.id.secret_key,
    });
    let out = Command::new(venv_bin("python"))
        .args(["-c", BOTO3_MULTIPART, &args.to_string()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        stack.fail(&String::from_utf8_lossy(&out.stderr))
    );
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["same"], true, "{result}");
    assert_eq!(result["refused"], 403, "{result}");
    // Every call asked the backend: one consent per request.
    assert_eq!(
        stack.auth.hits() - hits,
        result["requests"].as_u64().unwrap(),
        "{result}"
    );
}

fn presigned(stack: &Stack) {
    let reqs = stack.storage.requests();
    let r = stack.call("gateway", "/assets/presigned/hello.txt", &["-H", TOKEN]);
    assert_eq!(r.status, 302, "{}", stack.fail(&r.text()));
    let location = r.header("location").unwrap().to_string();
    assert!(
        location.starts_with(&format!(
            "http://{}/{BUCKET}/hello.txt?response-content-disposition=",
            stack.s3.authority()
        )),
        "{location}"
    );
    assert!(location.contains("X-Amz-Expires=300&"), "{location}");
    // No body crossed Envoy and storage saw nothing through the relay.
    assert_eq!(stack.storage.requests(), reqs);
    // Plain curl, straight at SeaweedFS, no credentials.
    let got = curl(&[&location]);
    assert_eq!(got.status, 200, "{}", got.text());
    assert_eq!(got.body, HELLO);
    assert_eq!(
        got.header("content-disposition"),
        Some("attachment; filename=\"from-backend.bin\""),
        "the backend's Content-Disposition rides in the signed query"
    );
    // Tampered: another key, or another signature.
    let other = location.replacen("/hello.txt?", "/secret.txt?", 1);
    assert_eq!(curl(&[&other]).status, 403);
    let sig_at = location.rfind("X-Amz-Signature=").unwrap() + 16;
    let mut bad = location.clone();
    let flipped = if &bad[sig_at..sig_at + 1] == "0" {
        "1"
    } else {
        "0"
    };
    bad.replace_range(sig_at..sig_at + 1, flipped);
    assert_eq!(curl(&[&bad]).status, 403);
    // A granted PUT gets a 307 whose URL accepts the upload.
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("p");
    std::fs::write(&f, b"uploaded through a presigned URL\n").unwrap();
    let r = stack.call(
        "gateway",
        "/assets/presigned/uploads/presigned.txt",
        &["-H", TOKEN, "-T", f.to_str().unwrap()],
    );
    assert_eq!(r.status, 307, "{}", r.text());
    let put_url = r.header("location").unwrap().to_string();
    assert!(!put_url.contains("response-content"), "{put_url}");
    let up = curl(&["-T", f.to_str().unwrap(), &put_url]);
    assert_eq!(up.status, 200, "{}", up.text());
    assert_eq!(
        stack.direct("uploads/presigned.txt").body,
        b"uploaded through a presigned URL\n"
    );
    // The GET URL does not allow a PUT.
    assert_eq!(curl(&["-T", f.to_str().unwrap(), &location]).status, 403);
    // Expired: the cached listener presigns for 1 s.
    let r = stack.call(
        "gateway_cached",
        "/assets/presigned/hello.txt",
        &["-H", TOKEN],
    );
    assert_eq!(r.status, 302);
    let short = r.header("location").unwrap().to_string();
    assert!(short.contains("X-Amz-Expires=1&"), "{short}");
    std::thread::sleep(Duration::from_millis(2100));
    let expired = curl(&[&short]);
    assert_eq!(expired.status, 403, "{}", expired.text());
    assert_eq!(stack.storage.requests(), reqs);
    assert!(stack.metric("presigned_redirects") >= 3);
}

fn decision_cache(stack: &Stack) {
    let hits = stack.auth.hits();
    let cached_hits = stack.metric("decision_cache_hits");
    let get = |path: &str, auth: &[&str]| stack.call("gateway_cached", path, auth);
    // The backend's `private, max-age=30`: the second request is served
    // from the cache, without a subrequest.
    assert_eq!(get("/assets/cached/a.txt", &["-H", TOKEN]).status, 200);
    let r = get("/assets/cached/a.txt", &["-H", TOKEN]);
    assert_eq!(r.status, 200);
    assert_eq!(r.body, HELLO);
    assert_eq!(stack.auth.hits(), hits + 1);
    assert_eq!(stack.metric("decision_cache_hits"), cached_hits + 1);
    // Never across credentials: another token, and none at all, ask again.
    assert_eq!(
        get("/assets/cached/a.txt", &["-H", OTHER_TOKEN]).status,
        200
    );
    assert_eq!(stack.auth.hits(), hits + 2);
    assert_eq!(get("/assets/cached/a.txt", &[]).status, 401);
    assert_eq!(stack.auth.hits(), hits + 3);
    // Per method and URI: a HEAD is its own decision.
    assert_eq!(
        get("/assets/cached/a.txt", &["-I", "-H", TOKEN]).status,
        200
    );
    assert_eq!(stack.auth.hits(), hits + 4);
    // Writes are not cached (decision_cache.writes is off).
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("w");
    std::fs::write(&f, b"w").unwrap();
    for _ in 0..2 {
        let r = get(
            "/assets/cached/up/w.txt",
            &["-H", TOKEN, "-T", f.to_str().unwrap()],
        );
        assert_eq!(r.status, 200, "{}", r.text());
    }
    assert_eq!(stack.auth.hits(), hits + 6);
    // Expiry: max-age=1 is served once from the cache, then asked again.
    stack.auth.control(json!({"cache_max_age": 1}));
    assert_eq!(get("/assets/cached/b.txt", &["-H", TOKEN]).status, 200);
    assert_eq!(get("/assets/cached/b.txt", &["-H", TOKEN]).status, 200);
    assert_eq!(stack.auth.hits(), hits + 7);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(get("/assets/cached/b.txt", &["-H", TOKEN]).status, 200);
    assert_eq!(
        stack.auth.hits(),
        hits + 8,
        "an expired decision was reused"
    );
    // The main listener opted out (max_age 0s): always asks.
    let before = stack.auth.hits();
    for _ in 0..2 {
        assert_eq!(
            stack
                .call("gateway", "/assets/cached/a.txt", &["-H", TOKEN])
                .status,
            200
        );
    }
    assert_eq!(stack.auth.hits(), before + 2);
}

fn big_streamed_put(stack: &Stack) {
    let size: u64 = std::env::var("ASSET_GATE_BIG_PUT_BYTES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(256 << 20);
    let pid = stack.envoy.pid();
    let before = vm_rss_kib(pid);
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut max = 0;
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                max = max.max(vm_rss_kib(pid));
                std::thread::sleep(Duration::from_millis(100));
            }
            max
        })
    };
    let port = stack.envoy.listeners["gateway"];
    let (status, sent) = stream_put(port, "/assets/uploads/big.bin", size, TOKEN);
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let peak = sampler.join().unwrap();
    assert_eq!(status, 200, "{}", stack.fail("big PUT"));
    assert_eq!(
        direct_sha256(stack, "uploads/big.bin"),
        sent,
        "stored bytes differ"
    );
    eprintln!(
        "  {} MiB PUT: Envoy VmRSS {} MiB before, {} MiB peak",
        size >> 20,
        before / 1024,
        peak / 1024
    );
    // Streamed, not buffered: the peak stays far below the body size.
    assert!(
        peak < before + 128 * 1024,
        "Envoy RSS grew from {before} KiB to {peak} KiB during a {size}-byte PUT"
    );
}

const BOTOCORE_PRESIGN: &str = r#"
import datetime, json, sys
import boto3, botocore.auth
from botocore.config import Config
botocore.auth.get_current_datetime = lambda: datetime.datetime(2026, 1, 2, 3, 4, 5)
out = []
for c in json.loads(sys.argv[1]):
    s3 = boto3.client("s3", endpoint_url=c["endpoint"], region_name=c["region"],
                      aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                      aws_session_token=c["token"],
                      config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
    params = {"Bucket": c["bucket"], "Key": c["key"]}
    if c["disposition"]: params["ResponseContentDisposition"] = c["disposition"]
    if c["type"]: params["ResponseContentType"] = c["type"]
    op = "get_object" if c["method"] == "GET" else "put_object"
    out.append(s3.generate_presigned_url(op, Params=params, ExpiresIn=c["expires"]))
print(json.dumps(out))
"#;

#[test]
fn presigned_urls_are_byte_identical_to_botocore() {
    let cases = json!([
        {"method": "GET", "bucket": "assets", "key": "hello.txt", "disposition": null, "type": null,
         "token": null, "expires": 300, "region": "us-east-1", "endpoint": "http://127.0.0.1:8333"},
        {"method": "GET", "bucket": "assets", "key": "dir/a b+c=d&é~.txt",
         "disposition": "attachment; filename=\"a b.txt\"; filename*=UTF-8''a%20b.txt", "type": "text/plain; charset=utf-8",
         "token": null, "expires": 604800, "region": "eu-central-1", "endpoint": "https://s3.eu-central-1.amazonaws.com"},
        {"method": "PUT", "bucket": "my-bucket", "key": "uploads/x.bin", "disposition": null, "type": null,
         "token": "IQoJb3JpZ2luX2VjEJ//////////wEaCXVzLWVhc3QtMSJHMEUCIQ==", "expires": 60,
         "region": "us-east-1", "endpoint": "http://localhost:8333"},
    ]);
    let out = Command::new(venv_bin("python"))
        .args(["-c", BOTOCORE_PRESIGN, &cases.to_string()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let want: Vec<String> = serde_json::from_slice(&out.stdout).unwrap();
    for (c, want) in cases.as_array().unwrap().iter().zip(want) {
        let s = |k: &str| c[k].as_str();
        let endpoint = s("endpoint").unwrap();
        let host = endpoint.split_once("://").unwrap().1;
        let path = format!(
            "/{}/{}",
            s("bucket").unwrap(),
            encode_key(s("key").unwrap())
        );
        let mut params = vec![];
        if let Some(d) = s("disposition") {
            params.push(("response-content-disposition", d));
        }
        if let Some(t) = s("type") {
            params.push(("response-content-type", t));
        }
        let creds = asset_gate_core::sigv4::Credentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            session_token: s("token").map(str::to_string),
        };
        let req = asset_gate_core::sigv4::PresignRequest {
            method: s("method").unwrap(),
            path: &path,
            params: &params,
            headers: &[("host", host)],
        };
        let scope = asset_gate_core::sigv4::Scope {
            region: s("region").unwrap(),
            service: "s3",
        };
        let query = asset_gate_core::sigv4::presigned_query(
            &req,
            &creds,
            &scope,
            1_767_323_045,
            c["expires"].as_u64().unwrap(),
            &mut asset_gate_core::sigv4::SigningKeyCache::default(),
        )
        .unwrap();
        assert_eq!(format!("{endpoint}{path}?{query}"), want);
    }
}

#[test]
fn a_bad_gateway_config_fails_on_configure_naming_the_field() {
    let id = Identity::admin("AK", "SK");
    let bad = |gateway: Value| {
        let cfg = json!({
            "role": "gateway",
            "gateway": gateway,
            "signing": {"region": "us-east-1", "endpoint": "127.0.0.1:1",
                        "credentials": {"source": "static", "access_key_id": id.access_key, "secret_access_key": id.secret_key}},
        });
        filter_config(&cfg)
    };
    let ok = bad(json!({}));
    let vars = vec![
        ("WASM", wasm().display().to_string()),
        ("AUTH_PORT", "1".to_string()),
        ("DOWN_PORT", "1".to_string()),
        ("STORAGE_PORT", "1".to_string()),
        (
            "GATEWAY_CONFIG",
            bad(json!({"presign": {"base_url": "http://s3", "expires": "8d"}})),
        ),
        ("DOWN_CONFIG", ok.clone()),
        ("CACHED_CONFIG", ok),
    ];
    let (code, log) = Envoy::start_expect_failure(TEMPLATE, &vars);
    assert_ne!(code, Some(0));
    assert!(
        log.contains("field `gateway.presign.expires`"),
        "{}",
        tail(&log, 20)
    );
}
