//! Flow A against an oracle: the same framework backends behind real nginx
//! (and, for the tests that compare, behind asset-gate's Envoy), one bucket in
//! SeaweedFS with SigV4 enforced, and a client view that lists exactly what
//! a client would notice, so two proxies can be diffed case by case.
//!
//! nginx reads storage through asset-gate's signing edge (flow C, storage
//! role with `require_marker: false`, e2e/fixtures/envoy/signing.yaml), so it reads
//! the real bucket through real signing. A [`RecordingProxy`] between nginx
//! and the signer records every request storage was asked (method, target,
//! headers, body length).
//!
//! To run the same cases against asset-gate's flow A: `Storage::start()` (its
//! `s3`, `id` and `root` are the bucket, the credentials to sign with and the
//! files), `App::start(framework, storage.root.path(), extras)` for each
//! backend, an Envoy with flow A in front of each, then for every
//! `standard_cases()` entry `case.run(&base_url)` on both and
//! `diff(&nginx_view, &gate_view)`; a `RecordingProxy::start(storage.s3.port)`
//! as Envoy's storage endpoint shows what storage was asked.

use super::*;
use serde_json::json;
use std::sync::{Arc, Mutex};

pub use super::nginx::Nginx;
pub use super::{encode_key, sha256_hex};

/// The nginx reference setup for flow A (placeholders PORT, BACKEND_PORT,
/// SIGNER_PORT, BUCKET).
pub const FLOW_A_CONF: &str = include_str!("../fixtures/nginx/flow_a.conf");
const SIGNING_TEMPLATE: &str = include_str!("../fixtures/envoy/signing.yaml");

pub const BUCKET: &str = "assets";
pub const REGION: &str = "us-east-1";
/// The consent every fixture backend accepts (or the cookie `session=demo-session`).
pub const TOKEN: &str = "Authorization: Bearer demo-token";
/// The Django app's fixed `Expires`.
pub const DJANGO_EXPIRES: &str = "Thu, 01 Jan 2037 00:00:00 GMT";

// ---------------------------------------------------------------------------------------------
// Keys and objects

/// An object seeded into the bucket (and, with the same bytes, into the
/// frameworks' file root).
#[derive(Clone, Debug)]
pub struct Object {
    pub key: String,
    pub body: Vec<u8>,
    /// Headers of the PutObject, e.g. `Content-Type: text/plain` (stored as metadata).
    pub put_headers: Vec<String>,
}

impl Object {
    pub fn sha256(&self) -> String {
        sha256_hex(&self.body)
    }
}

pub const HELLO: &str = "hello.txt";
pub const PLUS_SPACE: &str = "a b+c.txt";
pub const UTF8: &str = "résumé ü.txt";
pub const BLOB: &str = "blob.bin";
/// Stored as `text/html` with its own Cache-Control, Content-Disposition and
/// Expires metadata: the duplicate-header cases.
pub const PAGE: &str = "page.html";
/// Every fixture backend refuses it, whatever the consent.
pub const SECRET: &str = "secret.txt";
pub const BLOB_SIZE: usize = 1 << 20;

pub fn seed_objects() -> Vec<Object> {
    let text = |key: &str, body: &str, ctype: &str| Object {
        key: key.into(),
        body: body.as_bytes().to_vec(),
        put_headers: vec![format!("Content-Type: {ctype}")],
    };
    let mut blob = vec![0u8; BLOB_SIZE];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for b in blob.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    vec![
        text(
            HELLO,
            "hello from storage, authorized by the backend\n",
            "text/plain",
        ),
        text(PLUS_SPACE, "a key with a space and a plus\n", "text/plain"),
        text(UTF8, "a key in UTF-8\n", "text/plain; charset=utf-8"),
        Object {
            key: BLOB.into(),
            body: blob,
            put_headers: vec!["Content-Type: application/octet-stream".into()],
        },
        Object {
            key: PAGE.into(),
            body: b"<!doctype html><h1>stored html</h1>\n".to_vec(),
            put_headers: vec![
                "Content-Type: text/html".into(),
                "Cache-Control: max-age=300".into(),
                "Content-Disposition: inline".into(),
                "Expires: Wed, 01 Jan 2036 00:00:00 GMT".into(),
            ],
        },
        text(SECRET, "nobody may read this\n", "text/plain"),
    ]
}

// ---------------------------------------------------------------------------------------------
// A relay that records the requests going through it

/// One HTTP/1.1 request as it went over the wire.
#[derive(Clone, Debug)]
pub struct SeenRequest {
    pub method: String,
    pub target: String,
    /// Names lower-cased, values as sent, in order.
    pub headers: Vec<(String, String)>,
    /// Body bytes that followed the head (content-length or chunked).
    pub body_len: u64,
}

impl SeenRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A TCP relay that forwards everything unchanged and parses the client side
/// as HTTP/1.1 (keep-alive, content-length and chunked bodies), so a test can
/// see exactly which requests reached the server behind it.
pub struct RecordingProxy {
    pub port: u16,
    seen: Arc<Mutex<Vec<SeenRequest>>>,
}

#[derive(Clone, Copy)]
enum Wire {
    Head,
    Body(u64),
    ChunkSize,
    ChunkData(u64),
    ChunkEnd,
    Trailers,
    Opaque,
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Consumes what it can of `buf`, recording requests; leaves partial input.
fn parse_requests(
    buf: &mut Vec<u8>,
    state: &mut Wire,
    current: &mut Option<usize>,
    seen: &Mutex<Vec<SeenRequest>>,
) {
    let add_body = |current: &Option<usize>, n: u64| {
        if let Some(i) = current {
            if let Some(r) = seen.lock().expect("lock").get_mut(*i) {
                r.body_len += n;
            }
        }
    };
    loop {
        match *state {
            Wire::Opaque => {
                buf.clear();
                return;
            }
            Wire::Head => {
                let Some(end) = find(buf, b"\r\n\r\n") else {
                    if buf.len() > 1 << 20 {
                        *state = Wire::Opaque;
                    }
                    return;
                };
                let head = String::from_utf8_lossy(&buf[..end]).into_owned();
                buf.drain(..end + 4);
                let mut lines = head.split("\r\n");
                let mut first = lines.next().unwrap_or_default().split(' ');
                let method = first.next().unwrap_or_default().to_string();
                let target = first.next().unwrap_or_default().to_string();
                let headers: Vec<(String, String)> = lines
                    .filter_map(|l| l.split_once(':'))
                    .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
                    .collect();
                let chunked = headers.iter().any(|(k, v)| {
                    k == "transfer-encoding" && v.to_ascii_lowercase().contains("chunked")
                });
                let length = headers
                    .iter()
                    .find(|(k, _)| k == "content-length")
                    .and_then(|(_, v)| v.parse::<u64>().ok())
                    .unwrap_or(0);
                let mut all = seen.lock().expect("lock");
                all.push(SeenRequest {
                    method,
                    target,
                    headers,
                    body_len: 0,
                });
                *current = Some(all.len() - 1);
                *state = if chunked {
                    Wire::ChunkSize
                } else if length > 0 {
                    Wire::Body(length)
                } else {
                    Wire::Head
                };
            }
            Wire::Body(n) | Wire::ChunkData(n) => {
                if buf.is_empty() {
                    return;
                }
                let take = n.min(buf.len() as u64);
                buf.drain(..take as usize);
                add_body(current, take);
                let left = n - take;
                *state = match (*state, left) {
                    (Wire::Body(_), 0) => Wire::Head,
                    (Wire::Body(_), l) => Wire::Body(l),
                    (_, 0) => Wire::ChunkEnd,
                    (_, l) => Wire::ChunkData(l),
                };
            }
            Wire::ChunkSize => {
                let Some(end) = find(buf, b"\r\n") else {
                    return;
                };
                let line = String::from_utf8_lossy(&buf[..end]).into_owned();
                buf.drain(..end + 2);
                let size = line.split(';').next().unwrap_or_default().trim();
                match u64::from_str_radix(size, 16) {
                    Ok(0) => *state = Wire::Trailers,
                    Ok(n) => *state = Wire::ChunkData(n),
                    Err(_) => *state = Wire::Opaque,
                }
            }
            Wire::ChunkEnd => {
                if buf.len() < 2 {
                    return;
                }
                buf.drain(..2);
                *state = Wire::ChunkSize;
            }
            Wire::Trailers => {
                let Some(end) = find(buf, b"\r\n") else {
                    return;
                };
                buf.drain(..end + 2);
                if end == 0 {
                    *state = Wire::Head;
                }
            }
        }
    }
}

impl RecordingProxy {
    pub fn start(target_port: u16) -> RecordingProxy {
        let seen: Arc<Mutex<Vec<SeenRequest>>> = Arc::default();
        let all = seen.clone();
        let port = relay(target_port, move || {
            let all = all.clone();
            let mut pending: Vec<u8> = Vec::new();
            let (mut state, mut current) = (Wire::Head, None);
            move |chunk: &[u8]| {
                pending.extend_from_slice(chunk);
                parse_requests(&mut pending, &mut state, &mut current, &all);
            }
        });
        RecordingProxy { port, seen }
    }

    /// Every request seen so far, in arrival order.
    pub fn requests(&self) -> Vec<SeenRequest> {
        self.seen.lock().expect("lock").clone()
    }

    pub fn clear(&self) {
        self.seen.lock().expect("lock").clear();
    }
}

// ---------------------------------------------------------------------------------------------
// Storage: SeaweedFS (SigV4) + the signing edge in front of it

/// SeaweedFS with one bucket and the seed objects, asset-gate's signing edge
/// (flow C) in front of it, a [`RecordingProxy`] in front of the signer, and a
/// directory holding the same objects as files (for sendfile-style backends).
pub struct Storage {
    /// What nginx talks to (`relay.port` → signer → SeaweedFS).
    pub relay: RecordingProxy,
    pub signer: Envoy,
    pub s3: S3,
    pub id: Identity,
    pub objects: Vec<Object>,
    /// The objects as files, for backends that need them on disk.
    pub root: tempfile::TempDir,
    _certs: tempfile::TempDir,
}

impl Storage {
    pub fn start() -> Storage {
        let id = Identity::admin("AKIDORACLE", "oracle/secret+key=");
        let s3 = S3::start(&[BUCKET], vec![id.clone()]);
        let creds = json!({"source": "static", "access_key_id": id.access_key, "secret_access_key": id.secret_key});
        let edge = json!({"role": "storage", "signing": {
            "region": REGION, "credentials": creds, "require_marker": false, "endpoint": s3.authority(),
        }});
        let api = json!({"role": "storage", "signing": {
            "region": REGION, "credentials": creds, "require_marker": false,
            "service": "execute-api", "endpoint": "api.example",
        }});
        let certs = tempfile::tempdir().expect("temp dir");
        let (cert, key) = self_signed_cert(certs.path());
        let vars = vec![
            ("WASM", wasm().display().to_string()),
            ("S3_PORT", s3.port.to_string()),
            ("ECHO_PORT", free_ports(1)[0].to_string()),
            ("CONFIG", filter_config(&edge)),
            ("DOWN_CONFIG", filter_config(&edge)),
            ("API_CONFIG", filter_config(&api)),
            ("TLS_CERT", cert.display().to_string()),
            ("TLS_KEY", key.display().to_string()),
        ];
        let signer = Envoy::start(SIGNING_TEMPLATE, &vars, EnvoyOptions::default());
        let relay = RecordingProxy::start(signer.listeners["s3"]);
        let root = tempfile::tempdir().expect("temp dir");
        let storage = Storage {
            relay,
            signer,
            s3,
            id,
            objects: seed_objects(),
            root,
            _certs: certs,
        };
        for o in &storage.objects {
            storage.put(o);
        }
        storage
    }

    /// Writes `o` into the bucket (signed by curl, not by asset-gate) and into `root`.
    pub fn put(&self, o: &Object) {
        let file = self.root.path().join(&o.key);
        if let Some(parent) = file.parent() {
            fs::create_dir_all(parent).expect("mkdir");
        }
        fs::write(&file, &o.body).expect("write object file");
        let mut args: Vec<&str> = vec!["-T", file.to_str().expect("utf-8 path")];
        for h in &o.put_headers {
            args.extend(["-H", h]);
        }
        let path = format!("/{BUCKET}/{}", encode_key(&o.key));
        let r = self.s3.signed_curl(&self.id, &args, &path);
        assert_eq!(r.status, 200, "seed {}: {}", o.key, r.text());
    }

    pub fn object(&self, key: &str) -> &Object {
        self.objects
            .iter()
            .find(|o| o.key == key)
            .unwrap_or_else(|| panic!("no seed object {key}"))
    }

    /// The object read straight from SeaweedFS (signed by curl).
    pub fn direct_get(&self, key: &str) -> Response {
        self.s3
            .signed_curl(&self.id, &[], &format!("/{BUCKET}/{}", encode_key(key)))
    }

    /// Every seed object still has its seeded bytes in the bucket.
    pub fn assert_unchanged(&self) {
        for o in &self.objects {
            let r = self.direct_get(&o.key);
            assert_eq!(r.status, 200, "{} read back from SeaweedFS", o.key);
            assert_eq!(
                sha256_hex(&r.body),
                o.sha256(),
                "{} changed in storage ({} bytes now)",
                o.key,
                r.body.len()
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Framework backends

/// The backends whose X-Accel-Redirect answers flow A must handle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framework {
    /// Real Django 5.2 + django-sendfile2 (e2e/fixtures/django_app.py).
    Django,
    /// Rails send_file + Rack::Sendfile style (backends.py role `rack`).
    Rack,
    /// Symfony BinaryFileResponse style (backends.py role `symfony`).
    Symfony,
    /// The config-only recipe's backend: a 307 with `x-internal-redirect: true` (role `seed`).
    Seed,
}

impl Framework {
    pub const ALL: [Framework; 4] = [
        Framework::Django,
        Framework::Rack,
        Framework::Symfony,
        Framework::Seed,
    ];
    /// The X-Accel-Redirect emitters.
    pub const ACCEL: [Framework; 3] = [Framework::Django, Framework::Rack, Framework::Symfony];

    pub fn name(self) -> &'static str {
        match self {
            Framework::Django => "django",
            Framework::Rack => "rack",
            Framework::Symfony => "symfony",
            Framework::Seed => "seed",
        }
    }
}

/// Real Django + django-sendfile2, run with the venv's Python.
pub struct DjangoApp {
    pub port: u16,
    _proc: Proc,
}

impl DjangoApp {
    pub fn start(root: &Path, accel_extras: bool) -> DjangoApp {
        let mut cmd = Command::new(venv_bin("python"));
        cmd.arg(repo().join("e2e/fixtures/django_app.py"))
            .args(["--port", "0", "--root"])
            .arg(root)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if accel_extras {
            cmd.arg("--accel-extras");
        }
        let mut proc = Proc::spawn("django", &mut cmd);
        let stdout = proc.take_stdout().expect("piped stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read django port");
        let port = line
            .trim()
            .strip_prefix("PORT=")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| {
                panic!("django app did not print its port ({line:?}): is Django in .venv? run `make setup`")
            });
        DjangoApp { port, _proc: proc }
    }
}

/// One running framework backend.
pub enum App {
    Django(DjangoApp),
    Fixture(Backend),
}

impl App {
    /// Starts `framework`'s backend over the files in `root`; `accel_extras`
    /// adds django-downloadview's X-Accel-* control headers to its answers.
    pub fn start(framework: Framework, root: &Path, accel_extras: bool) -> App {
        match framework {
            Framework::Django => App::Django(DjangoApp::start(root, accel_extras)),
            other => App::Fixture(Backend::start(
                other.name(),
                json!({"root": root.display().to_string(), "accel_extras": accel_extras}),
            )),
        }
    }

    pub fn port(&self) -> u16 {
        match self {
            App::Django(d) => d.port,
            App::Fixture(b) => b.port,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The client's view

/// The headers a client-view compares, in this order.
pub const DOCUMENTED: [&str; 10] = [
    "content-type",
    "content-length",
    "content-disposition",
    "set-cookie",
    "cache-control",
    "expires",
    "accept-ranges",
    "etag",
    "last-modified",
    "content-range",
];

/// What a client notices about an answer: status, body (by sha256), the
/// documented headers (every line of each, in the order received), and any
/// header that must never reach a client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientView {
    pub status: u16,
    pub body_sha256: String,
    pub body_len: usize,
    /// [`DOCUMENTED`] headers grouped in that order; a name's lines in the order received.
    pub headers: Vec<(String, String)>,
    /// `x-accel-*`, `location` and `x-internal-redirect` lines (empty: nothing leaked).
    pub leaked: Vec<(String, String)>,
    /// Every other header, for information (server, date, x-amz-*, ...), in order.
    pub other: Vec<(String, String)>,
}

impl ClientView {
    /// Every line of `name`, in order.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .chain(&self.leaked)
            .chain(&self.other)
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The single line of `name`; panics when it appears more than once.
    pub fn one(&self, name: &str) -> Option<&str> {
        let all = self.all(name);
        assert!(
            all.len() <= 1,
            "{name} appears {} times: {all:?}",
            all.len()
        );
        all.first().copied()
    }

    /// A multi-line summary for assertion messages and reports.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "status {} body {} bytes sha256 {}\n",
            self.status,
            self.body_len,
            &self.body_sha256[..12]
        );
        for (k, v) in &self.headers {
            s.push_str(&format!("  {k}: {v}\n"));
        }
        for (k, v) in &self.leaked {
            s.push_str(&format!("  LEAKED {k}: {v}\n"));
        }
        for (k, v) in &self.other {
            s.push_str(&format!("  ({k}: {v})\n"));
        }
        s
    }
}

fn is_leak(name: &str) -> bool {
    name.starts_with("x-accel-") || name == "location" || name == "x-internal-redirect"
}

/// The client view of a curl [`Response`].
pub fn view(resp: &Response) -> ClientView {
    let mut headers = vec![];
    for name in DOCUMENTED {
        headers.extend(resp.headers.iter().filter(|(k, _)| k == name).cloned());
    }
    let leaked = resp
        .headers
        .iter()
        .filter(|(k, _)| is_leak(k))
        .cloned()
        .collect();
    let other = resp
        .headers
        .iter()
        .filter(|(k, _)| !is_leak(k) && !DOCUMENTED.contains(&k.as_str()))
        .cloned()
        .collect();
    ClientView {
        status: resp.status,
        body_sha256: sha256_hex(&resp.body),
        body_len: resp.body.len(),
        headers,
        leaked,
        other,
    }
}

/// A request with curl: `method` (HEAD sent as a real HEAD), then `extra`
/// curl arguments (headers, `--data-binary`, ...). A HEAD's body is empty.
pub fn request(method: &str, url: &str, extra: &[&str]) -> Response {
    let mut args: Vec<&str> = vec![];
    match method {
        "HEAD" => args.push("--head"),
        "GET" => {}
        m => args.extend(["-X", m]),
    }
    args.extend_from_slice(extra);
    args.push(url);
    let mut r = curl(&args);
    if method == "HEAD" {
        r.body.clear(); // curl writes the head to the output with --head
    }
    r
}

/// Where two client views differ (empty: the same to a client). `other`
/// headers are not compared.
pub fn diff(nginx: &ClientView, other: &ClientView) -> Vec<String> {
    let mut out = vec![];
    if nginx.status != other.status {
        out.push(format!("status: {} vs {}", nginx.status, other.status));
    }
    if nginx.body_sha256 != other.body_sha256 {
        out.push(format!(
            "body: {} bytes {} vs {} bytes {}",
            nginx.body_len,
            &nginx.body_sha256[..12],
            other.body_len,
            &other.body_sha256[..12]
        ));
    }
    for name in DOCUMENTED {
        let (a, b) = (nginx.all(name), other.all(name));
        if a != b {
            out.push(format!("{name}: {a:?} vs {b:?}"));
        }
    }
    if nginx.leaked != other.leaked {
        out.push(format!("leaked: {:?} vs {:?}", nginx.leaked, other.leaked));
    }
    out
}

// ---------------------------------------------------------------------------------------------
// The nginx oracle stack

/// One framework backend with its own nginx in front.
pub struct NginxSite {
    pub framework: Framework,
    pub nginx: Nginx,
    pub app: App,
}

/// Storage, and for each framework its backend behind nginx ([`FLOW_A_CONF`]).
pub struct NginxOracle {
    pub sites: Vec<NginxSite>,
    pub storage: Storage,
}

impl NginxOracle {
    pub fn start(frameworks: &[Framework], accel_extras: bool) -> NginxOracle {
        NginxOracle::start_with(FLOW_A_CONF, frameworks, accel_extras)
    }

    /// The same stack with another nginx template (same placeholders).
    pub fn start_with(template: &str, frameworks: &[Framework], accel_extras: bool) -> NginxOracle {
        let storage = Storage::start();
        let sites = frameworks
            .iter()
            .map(|&framework| {
                let app = App::start(framework, storage.root.path(), accel_extras);
                let nginx = Nginx::start(
                    template,
                    &[
                        ("BACKEND_PORT", app.port().to_string()),
                        ("SIGNER_PORT", storage.relay.port.to_string()),
                        ("BUCKET", BUCKET.to_string()),
                    ],
                );
                NginxSite {
                    framework,
                    nginx,
                    app,
                }
            })
            .collect();
        NginxOracle { sites, storage }
    }

    pub fn site(&self, framework: Framework) -> &NginxSite {
        self.sites
            .iter()
            .find(|s| s.framework == framework)
            .unwrap_or_else(|| panic!("{} not started", framework.name()))
    }

    /// `method path` through `framework`'s nginx, as the client sees it.
    pub fn get(
        &self,
        framework: Framework,
        method: &str,
        path: &str,
        extra: &[&str],
    ) -> ClientView {
        view(&request(
            method,
            &self.site(framework).nginx.url(path),
            extra,
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// Cases to run against nginx and against asset-gate

/// One client request, to replay through any proxy in front of `framework`.
#[derive(Clone, Debug)]
pub struct Case {
    pub name: String,
    pub framework: Framework,
    pub method: &'static str,
    /// Path and query, already encoded, e.g. `/assets/a%20b%2Bc.txt`.
    pub path: String,
    /// Extra curl arguments (`-H`, `--data-binary`, ...).
    pub args: Vec<String>,
    /// The seed object a consenting answer serves (None: not a read of one).
    pub object: Option<&'static str>,
}

impl Case {
    pub fn new(
        framework: Framework,
        method: &'static str,
        key: &'static str,
        extra: &[&str],
    ) -> Case {
        let mut args = vec!["-H".to_string(), TOKEN.to_string()];
        args.extend(extra.iter().map(|s| s.to_string()));
        Case {
            name: format!("{} {method} {key} {}", framework.name(), extra.join(" ")),
            framework,
            method,
            path: format!("/assets/{}", encode_key(key)),
            args,
            object: Some(key),
        }
    }

    /// Runs the case against `base` (e.g. `http://127.0.0.1:PORT`).
    pub fn run(&self, base: &str) -> ClientView {
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        view(&request(
            self.method,
            &format!("{base}{}", self.path),
            &args,
        ))
    }
}

/// The consented reads every X-Accel-Redirect framework is tried with: keys
/// with a space, a plus and UTF-8, a 1 MiB binary, an object with its own
/// stored Cache-Control/Content-Disposition/Expires, HEAD, Range, and the
/// unsafe methods (with and without a body) that a consent must turn into reads.
pub fn standard_cases() -> Vec<Case> {
    let mut out = vec![];
    for fw in Framework::ACCEL {
        for key in [HELLO, PLUS_SPACE, UTF8, BLOB, PAGE] {
            out.push(Case::new(fw, "GET", key, &[]));
        }
        out.push(Case::new(fw, "HEAD", UTF8, &[]));
        out.push(Case::new(
            fw,
            "GET",
            BLOB,
            &["-H", "Range: bytes=1000-1999"],
        ));
        for method in ["PUT", "POST", "DELETE", "PATCH"] {
            out.push(Case::new(
                fw,
                method,
                HELLO,
                &["--data-binary", "overwritten by the client"],
            ));
        }
        out.push(Case::new(fw, "PUT", PLUS_SPACE, &["--data-binary", ""]));
    }
    out
}
