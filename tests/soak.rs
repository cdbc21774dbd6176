//! Soak: steady load through flows A and C in one
//! real Envoy (`--concurrency 2`) while the header provider flaps and the
//! storage credentials rotate, against real SeaweedFS with SigV4 enforced.
//!
//! Duration: `ASSET_GATE_SOAK_SECS` (default 30; `make soak` runs 600).
//! Load: `ASSET_GATE_SOAK_RPS` requests per second in all (default 120),
//! spread over four client threads that keep their connections alive.
//!
//! At the end it asserts: no unexpected 5xx, no unexpected 403 (the auth
//! backend's own 403s for denied requests are expected and checked), every
//! body byte-exact, the injected headers always present and never a bad
//! provider answer's; signing follows every credentials rotation and keeps
//! the current credentials while the endpoint fails; no VM panic, trap or
//! reload in the Envoy log or stats, no error in the log, no secret or
//! header value in it; Envoy's RSS flat from minute 1 (from a third of the
//! run for short runs) to the end; every process stopped afterwards.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use support::*;

const TEMPLATE: &str = include_str!("envoy/soak.yaml");
const TOKEN: &str = "Bearer demo-token";
const DENIED_BODY: &str = "access denied by the demo auth backend";
const CREDS_PATH: &str = "/v2/credentials/soak";
const CREDS_AUTH: &str = "soak-ecs-auth-token";
/// Load threads; each has one connection per listener, kept alive.
const THREADS: usize = 4;
/// Allowed RSS growth from the baseline sample to the end. Envoy's RSS under
/// steady load settles once its pools, buffers, tcmalloc caches and the VMs'
/// linear memories are warm (well before minute 1; measured: flat to within
/// 0.5 MiB); what moves after that is allocator noise. In the 10-minute soak
/// at the default load (120 requests/s, a new connection every 47 requests
/// per thread, about 1.5 provider and credentials polls a second), a leak of
/// about 240 bytes per request, 11 KiB per connection or 18 KiB per poll
/// breaks this bound.
const RSS_GROWTH_BOUND_KIB: u64 = 16 * 1024;

// ---------------------------------------------------------------------------------------------
// A small keep-alive HTTP/1.1 client (curl per request would be the bottleneck).

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn snippet(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        let text: String = text.chars().take(160).collect();
        text.replace(['\r', '\n'], " ")
    }
}

/// Where an exchange failed: before any byte of the response (a reused
/// connection the server had closed: retry on a new one) or after.
enum Fail {
    Before(String),
    After(String),
}

impl Fail {
    fn message(self) -> String {
        match self {
            Fail::Before(m) | Fail::After(m) => m,
        }
    }
}

struct Client {
    port: u16,
    conn: Option<BufReader<TcpStream>>,
    connects: u64,
    /// Requests sent again on a new connection because the kept-alive one was closed.
    retries: u64,
}

const MAX_BODY: usize = 16 << 20;

fn read_line(conn: &mut BufReader<TcpStream>, line: &mut Vec<u8>) -> std::io::Result<usize> {
    line.clear();
    let n = conn.by_ref().take(16 * 1024).read_until(b'\n', line)?;
    while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        line.pop();
    }
    Ok(n)
}

/// Sends one request and reads its response; true when the connection stays usable.
fn exchange(
    conn: &mut BufReader<TcpStream>,
    request: &[u8],
    head: bool,
) -> Result<(Reply, bool), Fail> {
    let after = |what: &str, e: std::io::Error| Fail::After(format!("{what}: {e}"));
    conn.get_mut()
        .write_all(request)
        .map_err(|e| Fail::Before(format!("write: {e}")))?;
    let mut line = Vec::new();
    let mut first = true;
    let (status, keep_default, headers) = loop {
        let n = match read_line(conn, &mut line) {
            Ok(n) => n,
            Err(e)
                if first
                    && matches!(
                        e.kind(),
                        std::io::ErrorKind::ConnectionReset
                            | std::io::ErrorKind::ConnectionAborted
                            | std::io::ErrorKind::BrokenPipe
                    ) =>
            {
                return Err(Fail::Before(format!("read: {e}")))
            }
            Err(e) => return Err(after("read status line", e)),
        };
        if n == 0 {
            let m = "connection closed before the response".to_string();
            return Err(if first {
                Fail::Before(m)
            } else {
                Fail::After(m)
            });
        }
        first = false;
        let text = String::from_utf8_lossy(&line).into_owned();
        let mut parts = text.splitn(3, ' ');
        let version = parts.next().unwrap_or_default().to_string();
        let status: u16 = parts
            .next()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| Fail::After(format!("bad status line {text:?}")))?;
        let mut headers = vec![];
        loop {
            let n = read_line(conn, &mut line).map_err(|e| after("read headers", e))?;
            if n == 0 {
                return Err(Fail::After("connection closed in the headers".into()));
            }
            if line.is_empty() {
                break;
            }
            let text = String::from_utf8_lossy(&line);
            let (k, v) = text
                .split_once(':')
                .ok_or_else(|| Fail::After(format!("bad header line {text:?}")))?;
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
        if (100..200).contains(&status) {
            continue; // interim response
        }
        break (status, version == "HTTP/1.1", headers);
    };
    let mut reply = Reply {
        status,
        headers,
        body: vec![],
    };
    let connection = reply
        .header("connection")
        .unwrap_or("")
        .to_ascii_lowercase();
    let mut keep = keep_default && !connection.contains("close");
    let chunked = reply
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let length = reply
        .header("content-length")
        .map(|v| v.parse::<usize>())
        .transpose()
        .map_err(|_| Fail::After("bad content-length".into()))?;
    if head || status == 204 || status == 304 {
        // no body
    } else if chunked {
        loop {
            let n = read_line(conn, &mut line).map_err(|e| after("read chunk size", e))?;
            if n == 0 {
                return Err(Fail::After("connection closed in a chunked body".into()));
            }
            let text = String::from_utf8_lossy(&line);
            let hex = text.split(';').next().unwrap_or_default().trim();
            let size = usize::from_str_radix(hex, 16)
                .map_err(|_| Fail::After(format!("bad chunk size {text:?}")))?;
            if size == 0 {
                // trailers, up to the empty line
                loop {
                    let n = read_line(conn, &mut line).map_err(|e| after("read trailers", e))?;
                    if n == 0 || line.is_empty() {
                        break;
                    }
                }
                break;
            }
            if reply.body.len() + size > MAX_BODY {
                return Err(Fail::After("body too large".into()));
            }
            let start = reply.body.len();
            reply.body.resize(start + size, 0);
            conn.read_exact(&mut reply.body[start..])
                .map_err(|e| after("read chunk", e))?;
            let mut crlf = [0u8; 2];
            conn.read_exact(&mut crlf)
                .map_err(|e| after("read chunk end", e))?;
            if &crlf != b"\r\n" {
                return Err(Fail::After("chunk not followed by CRLF".into()));
            }
        }
    } else if let Some(n) = length {
        if n > MAX_BODY {
            return Err(Fail::After("body too large".into()));
        }
        reply.body.resize(n, 0);
        conn.read_exact(&mut reply.body)
            .map_err(|e| after("read body", e))?;
    } else {
        keep = false;
        conn.by_ref()
            .take(MAX_BODY as u64)
            .read_to_end(&mut reply.body)
            .map_err(|e| after("read body to close", e))?;
    }
    Ok((reply, keep))
}

impl Client {
    fn new(port: u16) -> Client {
        Client {
            port,
            conn: None,
            connects: 0,
            retries: 0,
        }
    }

    fn connect(&mut self) -> Result<BufReader<TcpStream>, String> {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
            .map_err(|e| format!("connect to {addr}: {e}"))?;
        s.set_read_timeout(Some(Duration::from_secs(30)))
            .and_then(|_| s.set_write_timeout(Some(Duration::from_secs(30))))
            .and_then(|_| s.set_nodelay(true))
            .map_err(|e| format!("socket options: {e}"))?;
        self.connects += 1;
        Ok(BufReader::with_capacity(64 * 1024, s))
    }

    fn once(&mut self, request: &[u8], head: bool) -> Result<Reply, Fail> {
        let mut conn = match self.conn.take() {
            Some(c) => c,
            None => self.connect().map_err(Fail::After)?,
        };
        let (reply, keep) = exchange(&mut conn, request, head)?;
        if keep {
            self.conn = Some(conn);
        }
        Ok(reply)
    }

    fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Reply, String> {
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nhost: 127.0.0.1:{}\r\n",
            self.port
        );
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        if !body.is_empty() || method == "PUT" || method == "POST" {
            req.push_str(&format!("content-length: {}\r\n", body.len()));
        }
        req.push_str("\r\n");
        let mut bytes = req.into_bytes();
        bytes.extend_from_slice(body);
        let head = method == "HEAD";
        let reused = self.conn.is_some();
        match self.once(&bytes, head) {
            Err(Fail::Before(_)) if reused => {
                self.retries += 1;
                self.once(&bytes, head).map_err(Fail::message)
            }
            r => r.map_err(Fail::message),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Tallies

#[derive(Clone, Copy, Debug)]
enum Kind {
    AllowedA,
    DeniedA,
    Headers,
    GetC,
    PutC,
    ReadBackC,
}

const KINDS: [(&str, Kind); 6] = [
    ("A allowed GET", Kind::AllowedA),
    ("A denied GET (403 expected)", Kind::DeniedA),
    ("A injected headers (echo)", Kind::Headers),
    ("C GET", Kind::GetC),
    ("C PUT", Kind::PutC),
    ("C GET after PUT", Kind::ReadBackC),
];

#[derive(Default)]
struct Counts {
    ok: AtomicU64,
    unexpected_5xx: AtomicU64,
    unexpected_403: AtomicU64,
    wrong: AtomicU64,
    io: AtomicU64,
}

impl Counts {
    fn failures(&self) -> u64 {
        self.unexpected_5xx.load(Ordering::Relaxed)
            + self.unexpected_403.load(Ordering::Relaxed)
            + self.wrong.load(Ordering::Relaxed)
            + self.io.load(Ordering::Relaxed)
    }
    fn total(&self) -> u64 {
        self.ok.load(Ordering::Relaxed) + self.failures()
    }
}

struct Tally {
    start: Instant,
    kinds: [Counts; 6],
    /// The first failures, with the chaos phases at the time.
    failures: Mutex<Vec<String>>,
    provider_phase: Mutex<&'static str>,
    creds_phase: Mutex<&'static str>,
    /// Which good provider answers the echo upstream saw injected.
    seen_good: [AtomicU64; 2],
    connects: AtomicU64,
    retries: AtomicU64,
}

enum Outcome {
    Ok,
    Unexpected5xx,
    Unexpected403,
    Wrong,
    Io,
}

impl Tally {
    fn new() -> Tally {
        Tally {
            start: Instant::now(),
            kinds: Default::default(),
            failures: Mutex::new(vec![]),
            provider_phase: Mutex::new("start"),
            creds_phase: Mutex::new("start"),
            seen_good: Default::default(),
            connects: AtomicU64::new(0),
            retries: AtomicU64::new(0),
        }
    }

    fn counts(&self, kind: Kind) -> &Counts {
        &self.kinds[kind as usize]
    }

    fn requests(&self) -> u64 {
        self.kinds.iter().map(Counts::total).sum()
    }

    fn failed(&self) -> u64 {
        self.kinds.iter().map(Counts::failures).sum()
    }

    fn sum(&self, f: impl Fn(&Counts) -> &AtomicU64) -> u64 {
        self.kinds
            .iter()
            .map(|c| f(c).load(Ordering::Relaxed))
            .sum()
    }

    fn phases(&self) -> String {
        format!(
            "provider {}, credentials {}",
            self.provider_phase.lock().unwrap(),
            self.creds_phase.lock().unwrap()
        )
    }

    fn note(&self, line: String) {
        let mut f = self.failures.lock().unwrap();
        if f.len() < 30 {
            f.push(line);
        }
    }

    /// Judges one response: `expect` is the status it must have, `check`
    /// looks at the rest (a failed check on an expected 403 is an unexpected 403).
    fn judge(
        &self,
        kind: Kind,
        what: &str,
        result: Result<Reply, String>,
        expect: u16,
        check: impl FnOnce(&Reply) -> Result<(), String>,
    ) {
        let (outcome, detail) = match result {
            Err(e) => (Outcome::Io, e),
            Ok(r) => {
                let checked = if r.status == expect {
                    check(&r)
                } else {
                    Err(format!("expected {expect}"))
                };
                match checked {
                    Ok(()) => (Outcome::Ok, String::new()),
                    Err(why) => {
                        let outcome = if r.status >= 500 {
                            Outcome::Unexpected5xx
                        } else if r.status == 403 {
                            Outcome::Unexpected403
                        } else {
                            Outcome::Wrong
                        };
                        (outcome, format!("{} ({why}): {}", r.status, r.snippet()))
                    }
                }
            }
        };
        let c = self.counts(kind);
        let counter = match outcome {
            Outcome::Ok => &c.ok,
            Outcome::Unexpected5xx => &c.unexpected_5xx,
            Outcome::Unexpected403 => &c.unexpected_403,
            Outcome::Wrong => &c.wrong,
            Outcome::Io => &c.io,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        if !matches!(outcome, Outcome::Ok) {
            self.note(format!(
                "{:7.1}s {kind:?} {what}: {detail} [{}]",
                self.start.elapsed().as_secs_f64(),
                self.phases()
            ));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The stack

/// Deterministic incompressible bytes.
fn bytes(size: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..size)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

struct Objects {
    /// Flow A: keys in bucket `assets` and their bytes.
    assets: Vec<(String, Vec<u8>)>,
    /// Flow C: paths `/edge/<key>` and their bytes.
    edge: Vec<(String, Vec<u8>)>,
}

fn seed(s3: &S3, id: &Identity, path: &str, body: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("body");
    std::fs::write(&f, body).unwrap();
    let r = s3.signed_curl(id, &["-T", f.to_str().unwrap()], path);
    assert_eq!(r.status, 200, "seed {path}: {}", r.text());
}

fn identity(name: &str, key: &str, secret: &str, buckets: &[&str]) -> Identity {
    Identity {
        name: name.into(),
        access_key: key.into(),
        secret_key: secret.into(),
        buckets: buckets.iter().map(|b| b.to_string()).collect(),
    }
}

fn secs_env(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a whole number")),
        Err(_) => default,
    }
}

/// Sleeps `d` unless `stop` is set first; false when stopped.
fn nap(stop: &AtomicBool, d: Duration) -> bool {
    let end = Instant::now() + d;
    while Instant::now() < end {
        if stop.load(Ordering::Relaxed) {
            return false;
        }
        std::thread::sleep((end - Instant::now()).min(Duration::from_millis(50)));
    }
    !stop.load(Ordering::Relaxed)
}

/// Sets the stop flag when dropped, so that a panic in the main thread still
/// lets the worker threads end (and the scope join them).
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Every `wasm.*` / `wasm_vm.*` stat of Envoy's own (not asset-gate's `wasmcustom.*`).
fn vm_stats(admin: &mut Client) -> Vec<(String, u64)> {
    let Ok(r) = admin.request("GET", "/stats?format=json&filter=%5Ewasm", &[], b"") else {
        return vec![];
    };
    let v: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
    let mut out: Vec<(String, u64)> = v["stats"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| Some((s["name"].as_str()?.to_string(), s["value"].as_u64()?)))
        .filter(|(name, _)| !name.starts_with("wasmcustom."))
        .collect();
    out.sort();
    out
}

/// (seconds since `start`, Envoy's RSS in KiB, tcmalloc's allocated bytes).
fn sample(admin: &mut Client, pid: u32, start: Instant) -> (f64, u64, u64) {
    let allocated = admin
        .request("GET", "/memory", &[], b"")
        .ok()
        .and_then(|r| serde_json::from_slice::<Value>(&r.body).ok())
        .and_then(|v| v["allocated"].as_str()?.parse().ok())
        .unwrap_or(0);
    (
        start.elapsed().as_secs_f64(),
        rss_kib(pid).unwrap_or(0),
        allocated,
    )
}

fn metric(envoy: &Envoy, name: &str) -> u64 {
    envoy.gate_stat(name)
}

const METRICS: [&str; 16] = [
    "requests_signed",
    "signing_failures",
    "missing_credentials",
    "redirects_accepted",
    "redirects_refused",
    "spoof_attempts",
    "marker_rejected",
    "header_polls_ok",
    "header_polls_failed_status",
    "header_polls_failed_timeout",
    "header_polls_failed_invalid_json",
    "header_polls_failed_invalid_header",
    "headers_injected",
    "headers_unavailable",
    "credential_refreshes",
    "credential_refresh_failures",
];

fn metrics(envoy: &Envoy) -> Vec<u64> {
    METRICS.iter().map(|m| metric(envoy, m)).collect()
}

/// Envoy's warning, error and critical log lines, grouped by message (digits masked).
fn log_summary(log: &str) -> Vec<(String, usize)> {
    let mut groups: Vec<(String, usize)> = vec![];
    for line in log.lines() {
        let Some(level) = ["warning", "error", "critical"]
            .into_iter()
            .find(|l| line.contains(&format!("][{l}][")))
        else {
            continue;
        };
        let message = line.rsplit_once("] ").map_or(line, |(_, m)| m);
        let message: String = message
            .chars()
            .map(|c| if c.is_ascii_digit() { '#' } else { c })
            .take(200)
            .collect();
        let key = format!("{level}: {message}");
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some(g) => g.1 += 1,
            None => groups.push((key, 1)),
        }
    }
    groups
}

/// Processes whose command line mentions any of `markers`.
fn processes_mentioning(markers: &[String]) -> Vec<String> {
    let mut found = vec![];
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return found;
    };
    for e in dir.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.bytes().all(|b| b.is_ascii_digit()) || name == std::process::id().to_string() {
            continue;
        }
        let Ok(cmd) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        if markers.iter().any(|m| cmd.contains(m.as_str())) {
            found.push(format!(
                "{name}: {}",
                cmd.chars().take(200).collect::<String>()
            ));
        }
    }
    found
}

// ---------------------------------------------------------------------------------------------
// Load

fn load_thread(
    id: usize,
    assets_port: u16,
    edge_port: u16,
    objects: &Objects,
    tally: &Tally,
    stop: &AtomicBool,
    interval: Duration,
) {
    let mut a = Client::new(assets_port);
    let mut c = Client::new(edge_port);
    let mut next = Instant::now() + interval.mul_f64(id as f64 / THREADS as f64);
    let mut n: u64 = 0;
    let mut last_put: Option<(String, Vec<u8>)> = None;
    let good = ["good-1", "good-2"];
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        if next > now {
            if !nap(stop, next - now) {
                break;
            }
        } else if now - next > Duration::from_secs(1) {
            next = now; // far behind (a slow phase): no burst to catch up
        }
        next += interval;
        let step = n % 10;
        let round = n / 10;
        n += 1;
        // About every 50th request (each kind in turn) closes its connection:
        // Envoy's connection lifecycle is part of the soak.
        let mut headers: Vec<(&str, &str)> = vec![];
        if n.is_multiple_of(47) {
            headers.push(("connection", "close"));
        }
        match step {
            0 | 2 | 5 | 8 => {
                let i = (step as usize / 2 + round as usize) % objects.assets.len();
                let (key, body) = &objects.assets[i];
                let path = format!("/assets/{key}");
                // the biggest object, every other time, as a Range request
                let range = body.len() > 4096 && round % 2 == 1;
                headers.push(("authorization", TOKEN));
                if range {
                    headers.push(("range", "bytes=1000-1999"));
                }
                let r = a.request("GET", &path, &headers, b"");
                let (expect, want) = if range {
                    (206, &body[1000..2000])
                } else {
                    (200, &body[..])
                };
                tally.judge(Kind::AllowedA, &path, r, expect, |r| {
                    if r.body != want {
                        return Err(format!("{} bytes, not the object's", r.body.len()));
                    }
                    if r.header("x-internal-redirect").is_some() {
                        return Err("the marker reached the client".into());
                    }
                    Ok(())
                });
            }
            3 => {
                let (path, auth) = match round % 3 {
                    0 => (format!("/assets/{}", objects.assets[0].0), None),
                    1 => (
                        format!("/assets/{}", objects.assets[1].0),
                        Some("Bearer wrong-token"),
                    ),
                    _ => ("/assets/secret.txt".to_string(), Some(TOKEN)),
                };
                headers.extend(auth.map(|v| ("authorization", v)));
                let r = a.request("GET", &path, &headers, b"");
                tally.judge(Kind::DeniedA, &path, r, 403, |r| {
                    if String::from_utf8_lossy(&r.body).contains(DENIED_BODY) {
                        Ok(())
                    } else {
                        Err("not the auth backend's 403".into())
                    }
                });
            }
            4 => {
                let path = "/echo/probe";
                let r = a.request("GET", path, &headers, b"");
                tally.judge(Kind::Headers, path, r, 200, |r| {
                    let v: Value = serde_json::from_slice(&r.body)
                        .map_err(|e| format!("echo answer is not JSON: {e}"))?;
                    let all = v["headers"].as_array().cloned().unwrap_or_default();
                    let values = |name: &str| -> Vec<String> {
                        all.iter()
                            .filter(|h| h[0] == name)
                            .filter_map(|h| h[1].as_str().map(String::from))
                            .collect()
                    };
                    let token = values("x-idp-token");
                    let Some(which) = good.iter().position(|g| token == [*g]) else {
                        return Err(format!("x-idp-token {token:?}: not one good value"));
                    };
                    tally.seen_good[which].fetch_add(1, Ordering::Relaxed);
                    if values("x-tenant") != ["soak"] {
                        return Err(format!("x-tenant {:?}", values("x-tenant")));
                    }
                    if !values("x-evil").is_empty() {
                        return Err("a header from a refused answer was injected".into());
                    }
                    Ok(())
                });
            }
            1 | 9 => {
                let i = (step as usize + round as usize) % objects.edge.len();
                let (path, body) = &objects.edge[i];
                let r = c.request("GET", path, &headers, b"");
                tally.judge(Kind::GetC, path, r, 200, |r| {
                    if &r.body == body {
                        Ok(())
                    } else {
                        Err(format!("{} bytes, not the object's", r.body.len()))
                    }
                });
            }
            6 => {
                let path = format!("/edge/put/t{id}-{}.bin", round % 4);
                let body = bytes(100 + (round as usize * 37) % 4000, round * 31 + id as u64);
                headers.push(("content-type", "application/octet-stream"));
                let r = c.request("PUT", &path, &headers, &body);
                let mut ok = false;
                tally.judge(Kind::PutC, &path, r, 200, |_| {
                    ok = true;
                    Ok(())
                });
                last_put = ok.then_some((path, body));
            }
            _ => {
                // 7: read back what step 6 wrote (skipped if the PUT failed: already counted)
                if let Some((path, body)) = last_put.take() {
                    let r = c.request("GET", &path, &headers, b"");
                    tally.judge(Kind::ReadBackC, &path, r, 200, |r| {
                        if r.body == body {
                            Ok(())
                        } else {
                            Err(format!("{} bytes, not what was PUT", r.body.len()))
                        }
                    });
                }
            }
        }
    }
    tally
        .connects
        .fetch_add(a.connects + c.connects, Ordering::Relaxed);
    tally
        .retries
        .fetch_add(a.retries + c.retries, Ordering::Relaxed);
}

// ---------------------------------------------------------------------------------------------
// Chaos

/// Header provider behaviours, in order, with how long each lasts (one
/// cycle: 26.5 s). Polls come 1 s after a success and at most 2 s (the
/// backoff cap) plus a 250 ms tick after a failure, and a timed-out poll
/// fails 500 ms after it started, so every phase is polled at least once
/// with 0.75 s to spare: bad phases last 3 s, good ones and the timeout
/// phase 3.5 s.
fn provider_phases() -> Vec<(&'static str, Value, Duration)> {
    let good = |token: &str| {
        json!({"status": 200, "raw_body": null, "delay_s": 0,
               "body": {"x-idp-token": token, "x-tenant": "soak"}})
    };
    let ms = Duration::from_millis;
    vec![
        ("good-1", good("good-1"), ms(3500)),
        (
            "http-500",
            json!({"status": 500, "raw_body": "provider down", "delay_s": 0}),
            ms(3000),
        ),
        ("good-2", good("good-2"), ms(3500)),
        (
            "timeout",
            json!({"status": 200, "raw_body": null, "delay_s": 1.5}),
            ms(3500),
        ),
        ("good-1", good("good-1"), ms(3500)),
        (
            "garbage",
            json!({"status": 200, "delay_s": 0, "raw_body": "{\"x-idp-token\": \"trunc"}),
            ms(3000),
        ),
        ("good-2", good("good-2"), ms(3500)),
        (
            "crlf",
            json!({"status": 200, "delay_s": 0,
                   "raw_body": "{\"x-idp-token\": \"evil\\r\\nx-evil: 1\", \"x-tenant\": \"soak\"}"}),
            ms(3000),
        ),
    ]
}

/// The metric each bad provider phase must move.
fn phase_metric(phase: &str) -> Option<&'static str> {
    match phase {
        "http-500" => Some("header_polls_failed_status"),
        "timeout" => Some("header_polls_failed_timeout"),
        "garbage" => Some("header_polls_failed_invalid_json"),
        "crlf" => Some("header_polls_failed_invalid_header"),
        _ => None,
    }
}

fn provider_chaos(
    provider: &Backend,
    tally: &Tally,
    stop: &AtomicBool,
    completed: &Mutex<Vec<&'static str>>,
) {
    let phases = provider_phases();
    for (name, behaviour, hold) in phases.iter().cycle() {
        *tally.provider_phase.lock().unwrap() = name;
        provider.control(behaviour.clone());
        if !nap(stop, *hold) {
            break;
        }
        completed.lock().unwrap().push(name);
    }
}

/// Which identity signs flow C requests now: only xena may read bucket `xonly`.
fn probe_identity(client: &mut Client) -> Option<&'static str> {
    match client.request("GET", "/xonly/probe.txt", &[], b"") {
        Ok(r) if r.status == 200 => Some("xena"),
        Ok(r) if r.status == 403 => Some("yuri"),
        _ => None,
    }
}

/// Rotates the endpoint's credentials xena -> yuri -> (500: keep yuri) ->
/// xena -> ... and checks with a probe that signing follows each rotation
/// and keeps the current identity while the endpoint fails.
fn creds_chaos(
    creds: &Backend,
    edge_port: u16,
    ids: [&Identity; 2],
    tally: &Tally,
    stop: &AtomicBool,
    rotations: &Mutex<Vec<f64>>,
    problems: &Mutex<Vec<String>>,
) {
    let mut probe = Client::new(edge_port);
    let mut current = "xena";
    let hold = Duration::from_millis(4500);
    for step in 0u64.. {
        let (phase, target): (&'static str, Option<&Identity>) = match step % 3 {
            0 => ("yuri", Some(ids[1])),
            1 => ("http-500", None),
            _ => ("xena", Some(ids[0])),
        };
        *tally.creds_phase.lock().unwrap() = phase;
        let began = Instant::now();
        match target {
            Some(id) => {
                creds.control(json!({"status": 200, "access_key_id": id.access_key,
                                     "secret_access_key": id.secret_key}));
                // Seen within refresh_interval plus a failed refresh's backoff.
                let mut seen = false;
                while began.elapsed() < Duration::from_secs(20) {
                    if probe_identity(&mut probe) == Some(phase) {
                        seen = true;
                        break;
                    }
                    if !nap(stop, Duration::from_millis(100)) {
                        return;
                    }
                }
                if seen {
                    rotations
                        .lock()
                        .unwrap()
                        .push(began.elapsed().as_secs_f64());
                    current = phase;
                } else {
                    problems.lock().unwrap().push(format!(
                        "credentials rotation {current}->{phase} not seen in signing within 20 s"
                    ));
                }
            }
            None => {
                creds.control(json!({"status": 500}));
            }
        }
        if !nap(stop, hold.saturating_sub(began.elapsed())) {
            return;
        }
        if target.is_none() {
            // A failing endpoint keeps the current credentials.
            match probe_identity(&mut probe) {
                Some(who) if who == current => {}
                other => problems.lock().unwrap().push(format!(
                    "while the credentials endpoint failed, signing used {other:?}, not {current}"
                )),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The stack

struct Stack {
    run_id: String,
    objects: Objects,
    xena: Identity,
    yuri: Identity,
    // Envoy first: it stops before what it talks to.
    envoy: Envoy,
    _auth: Backend,
    _echo: Backend,
    provider: Backend,
    creds: Backend,
    s3: S3,
}

impl Stack {
    fn start() -> Stack {
        // Tags every backend's command line, to find leftovers at the end.
        let run_id = format!(
            "soak-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        );
        // Two identities that may both use the buckets of flows A and C; only
        // xena may read `xonly`, which tells which one signs.
        let admin = Identity::admin("AKIDSOAKADMIN01", "soak-admin-secret");
        let xena = identity(
            "xena",
            "AKIDSOAKXENA001",
            "xena/secret+1",
            &["assets", "edge", "xonly"],
        );
        let yuri = identity(
            "yuri",
            "AKIDSOAKYURI001",
            "yuri/secret=2",
            &["assets", "edge"],
        );
        let s3 = S3::start(
            &["assets", "edge", "xonly"],
            vec![admin.clone(), xena.clone(), yuri.clone()],
        );
        let assets = [
            ("a/small.txt", 45),
            ("a/one-kib.bin", 1024),
            ("a/sixteen-kib.bin", 16 << 10),
            ("a/big.bin", 200 << 10),
        ];
        let edge = [
            ("c/tiny.txt", 10),
            ("c/two-kib.bin", 2048),
            ("c/32k.bin", 32 << 10),
        ];
        let objects = Objects {
            assets: assets
                .iter()
                .enumerate()
                .map(|(i, (k, n))| (k.to_string(), bytes(*n, i as u64 + 1)))
                .collect(),
            edge: edge
                .iter()
                .enumerate()
                .map(|(i, (k, n))| (format!("/edge/{k}"), bytes(*n, i as u64 + 100)))
                .collect(),
        };
        for (key, body) in &objects.assets {
            seed(&s3, &admin, &format!("/assets/{key}"), body);
        }
        seed(&s3, &admin, "/assets/secret.txt", b"nobody may read this\n");
        for (path, body) in &objects.edge {
            seed(&s3, &admin, path, body);
        }
        seed(&s3, &admin, "/xonly/probe.txt", b"xena\n");

        let tag = json!({"soak_run": run_id});
        let auth = Backend::start("auth", tag.clone());
        let echo = Backend::start("echo", tag.clone());
        let provider = Backend::start(
            "headers",
            json!({"soak_run": run_id, "body": {"x-idp-token": "good-1", "x-tenant": "soak"}}),
        );
        let creds = Backend::start(
            "creds",
            json!({"soak_run": run_id, "access_key_id": xena.access_key,
                   "secret_access_key": xena.secret_key, "authorization": CREDS_AUTH,
                   "lifetime_s": 3600}),
        );

        let credentials = json!({"source": "endpoint", "cluster": "creds", "path": CREDS_PATH,
            "authorization_token": CREDS_AUTH, "timeout": "1s", "refresh_interval": "2s"});
        let edge_config = json!({
            "role": "edge",
            "augment_headers": true,
            "header_cache_expiry": "1s",
            "header_max_staleness": "60s",
            "header_providing_service_timeout": "500ms",
            "header_backoff_cap": "2s",
            // a dropped cache would show as 503s, counted as unexpected 5xx
            "header_failure_policy": "deny",
        });
        let storage_config = json!({"role": "storage", "signing": {
            "region": "us-east-1", "endpoint": s3.authority(),
            "buckets": [{"prefix": "/internal-assets/", "bucket": "assets"}],
            "credentials": credentials}});
        let edge_storage_config = json!({"role": "storage", "signing": {
            "region": "us-east-1", "endpoint": s3.authority(), "require_marker": false,
            "credentials": credentials}});
        let vars = vec![
            ("WASM", wasm().display().to_string()),
            ("AUTH_PORT", auth.port.to_string()),
            ("ECHO_PORT", echo.port.to_string()),
            ("S3_PORT", s3.port.to_string()),
            ("PROVIDER_PORT", provider.port.to_string()),
            ("CREDS_PORT", creds.port.to_string()),
            ("EDGE_CONFIG", filter_config(&edge_config)),
            (
                "AUTH_CONFIG",
                filter_config(&json!({"role": "auth_backend"})),
            ),
            ("STORAGE_CONFIG", filter_config(&storage_config)),
            ("EDGE_STORAGE_CONFIG", filter_config(&edge_storage_config)),
        ];
        let envoy = Envoy::start(
            TEMPLATE,
            &vars,
            EnvoyOptions {
                concurrency: 2,
                ..Default::default()
            },
        );
        Stack {
            run_id,
            objects,
            xena,
            yuri,
            envoy,
            _auth: auth,
            _echo: echo,
            provider,
            creds,
            s3,
        }
    }

    fn port(&self, listener: &str) -> u16 {
        self.envoy.listeners[listener]
    }

    /// Headers polled, credentials fetched, both flows serving.
    fn wait_ready(&self) {
        let mut a = Client::new(self.port("assets"));
        let mut c = Client::new(self.port("edge"));
        let asset = format!("/assets/{}", self.objects.assets[0].0);
        wait_until(
            "the first header poll and credentials",
            Duration::from_secs(20),
            || {
                // Fresh connections, several: each worker's VM must have the
                // headers (a kept-alive connection would ask one worker only).
                let echo_ok = (0..8).all(|_| {
                    Client::new(self.port("assets"))
                        .request("GET", "/echo/ready", &[], b"")
                        .is_ok_and(|r| r.status == 200 && r.body.windows(6).any(|w| w == b"good-1"))
                });
                let a_ok = a
                    .request("GET", &asset, &[("authorization", TOKEN)], b"")
                    .is_ok_and(|r| r.status == 200);
                echo_ok && a_ok && probe_identity(&mut c) == Some("xena")
            },
        );
    }

    /// What identifies this stack's processes in `/proc/*/cmdline`.
    fn markers(&self) -> Vec<String> {
        vec![
            self.run_id.clone(),
            self.envoy.dir.path().display().to_string(),
            self.s3.dir.path().display().to_string(),
        ]
    }
}

// ---------------------------------------------------------------------------------------------
// The run

struct Settings {
    secs: u64,
    rps: u64,
    /// RSS growth is measured from the first sample at or after this.
    baseline_at: u64,
    sample_every: Duration,
    progress_every: Duration,
}

impl Settings {
    fn from_env() -> Settings {
        let secs = secs_env("ASSET_GATE_SOAK_SECS", 30).max(10);
        Settings {
            secs,
            rps: secs_env("ASSET_GATE_SOAK_RPS", 120).max(THREADS as u64),
            baseline_at: if secs >= 120 { 60 } else { secs / 3 },
            sample_every: Duration::from_secs((secs / 60).clamp(2, 10)),
            progress_every: Duration::from_secs((secs / 10).clamp(10, 60)),
        }
    }
}

/// (seconds since the start, RSS KiB, tcmalloc allocated bytes)
type Sample = (f64, u64, u64);

struct Run {
    tally: Tally,
    samples: Vec<Sample>,
    provider_done: Vec<&'static str>,
    /// How long each rotation took to show in signing (s).
    rotations: Vec<f64>,
    problems: Vec<String>,
}

/// Load, chaos and memory sampling for `settings.secs`; every thread joined at the end.
fn run(stack: &Stack, settings: &Settings, admin: &mut Client) -> Run {
    let pid = stack.envoy.pid();
    let (assets_port, edge_port) = (stack.port("assets"), stack.port("edge"));
    let tally = Tally::new();
    let stop = AtomicBool::new(false);
    let provider_done = Mutex::new(vec![]);
    let rotations = Mutex::new(vec![]);
    let problems = Mutex::new(vec![]);
    let interval = Duration::from_secs_f64(THREADS as f64 / settings.rps as f64);
    let mut samples = vec![];
    std::thread::scope(|s| {
        let _stop = StopOnDrop(&stop);
        for id in 0..THREADS {
            let (objects, tally, stop) = (&stack.objects, &tally, &stop);
            s.spawn(move || {
                load_thread(id, assets_port, edge_port, objects, tally, stop, interval)
            });
        }
        s.spawn(|| provider_chaos(&stack.provider, &tally, &stop, &provider_done));
        s.spawn(|| {
            creds_chaos(
                &stack.creds,
                edge_port,
                [&stack.xena, &stack.yuri],
                &tally,
                &stop,
                &rotations,
                &problems,
            )
        });
        let deadline = tally.start + Duration::from_secs(settings.secs);
        let mut next_sample = tally.start;
        let mut next_progress = tally.start + settings.progress_every;
        while Instant::now() < deadline {
            let now = Instant::now();
            if now >= next_sample {
                samples.push(sample(admin, pid, tally.start));
                next_sample += settings.sample_every;
            }
            if now >= next_progress {
                let t = tally.start.elapsed().as_secs_f64();
                eprintln!(
                    "soak: {t:6.0} s  requests {:7}  {:6.1}/s  failures {}  RSS {} MiB  [{}]",
                    tally.requests(),
                    tally.requests() as f64 / t,
                    tally.failed(),
                    samples.last().map_or(0, |s: &Sample| s.1 / 1024),
                    tally.phases()
                );
                next_progress += settings.progress_every;
            }
            std::thread::sleep(
                next_sample
                    .min(next_progress)
                    .min(deadline)
                    .saturating_duration_since(Instant::now())
                    .min(Duration::from_millis(200)),
            );
        }
        stop.store(true, Ordering::Relaxed);
    });
    samples.push(sample(admin, pid, tally.start));
    Run {
        tally,
        samples,
        provider_done: provider_done.into_inner().unwrap(),
        rotations: rotations.into_inner().unwrap(),
        problems: problems.into_inner().unwrap(),
    }
}

fn join<T>(items: impl Iterator<Item = T>, f: impl Fn(T) -> String, sep: &str) -> String {
    items.map(f).collect::<Vec<_>>().join(sep)
}

/// RSS at the baseline sample, at the end, and its peak in between (KiB), and the baseline time.
fn rss_window(samples: &[Sample], baseline_at: u64) -> (f64, u64, u64, u64) {
    let base = samples
        .iter()
        .find(|s| s.0 >= baseline_at as f64)
        .copied()
        .unwrap_or(samples[0]);
    let end = samples.last().map_or(0, |s| s.1);
    let peak = samples
        .iter()
        .filter(|s| s.0 >= base.0)
        .map(|s| s.1)
        .max()
        .unwrap_or(0);
    (base.0, base.1, end, peak)
}

// ---------------------------------------------------------------------------------------------
// The test

#[test]
fn soak_flows_a_and_c_under_provider_flaps_and_credential_rotation() {
    let settings = Settings::from_env();
    eprintln!(
        "soak: {} s, {} requests/s over {THREADS} threads, memory baseline at {} s",
        settings.secs, settings.rps, settings.baseline_at
    );
    let stack = Stack::start();
    stack.wait_ready();
    let envoy = &stack.envoy;
    let pid = envoy.pid();
    let mut admin = Client::new(envoy.admin);
    let vm_before = vm_stats(&mut admin);
    let metrics_before = metrics(envoy);

    let run = run(&stack, &settings, &mut admin);

    // --- report
    let tally = &run.tally;
    let metrics_after = metrics(envoy);
    let delta = |name: &str| {
        let i = METRICS.iter().position(|m| *m == name).expect("metric");
        metrics_after[i].saturating_sub(metrics_before[i])
    };
    let vm_after = vm_stats(&mut admin);
    let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
    let (e5, e403, wrong, io) = (
        tally.sum(|c| &c.unexpected_5xx),
        tally.sum(|c| &c.unexpected_403),
        tally.sum(|c| &c.wrong),
        tally.sum(|c| &c.io),
    );
    let failed = e5 + e403 + wrong + io;
    eprintln!("soak: per kind (ok / unexpected 5xx / unexpected 403 / wrong / I/O errors):");
    for (name, kind) in KINDS {
        let c = tally.counts(kind);
        eprintln!(
            "  {name:30} {:7} / {} / {} / {} / {}",
            load(&c.ok),
            load(&c.unexpected_5xx),
            load(&c.unexpected_403),
            load(&c.wrong),
            load(&c.io)
        );
    }
    for f in tally.failures.lock().unwrap().iter() {
        eprintln!("  failure: {f}");
    }
    let mut phases: Vec<(&str, usize)> = vec![];
    for p in &run.provider_done {
        match phases.iter_mut().find(|(name, _)| name == p) {
            Some(e) => e.1 += 1,
            None => phases.push((p, 1)),
        }
    }
    eprintln!(
        "soak: provider phases completed: {}",
        join(phases.iter(), |(p, n)| format!("{p} x{n}"), ", ")
    );
    let mut took = run.rotations.clone();
    took.sort_by(f64::total_cmp);
    eprintln!(
        "soak: credential rotations seen in signing: {} (xena <-> yuri, each within {:.1} to {:.1} s, median {:.1} s)",
        took.len(),
        took.first().unwrap_or(&0.0),
        took.last().unwrap_or(&0.0),
        took.get(took.len() / 2).unwrap_or(&0.0)
    );
    for (line, n) in log_summary(&envoy.log()) {
        eprintln!("soak: Envoy log, {n} x {line}");
    }
    eprintln!(
        "soak: echo saw good-1 {} times, good-2 {} times; provider hits {}, credentials endpoint hits {}",
        load(&tally.seen_good[0]),
        load(&tally.seen_good[1]),
        stack.provider.hits(),
        stack.creds.hits()
    );
    eprintln!(
        "soak: asset-gate metrics during the run: {}",
        join(METRICS.iter(), |m| format!("{m} +{}", delta(m)), ", ")
    );
    eprintln!(
        "soak: Envoy VM stats at the end: {}",
        join(vm_after.iter(), |(k, v)| format!("{k}={v}"), " ")
    );
    eprintln!("soak: memory samples (t s: RSS MiB, tcmalloc allocated MiB):");
    for chunk in run.samples.chunks(6) {
        eprintln!(
            "  {}",
            join(
                chunk.iter(),
                |(t, rss, alloc)| format!(
                    "{t:5.0}: {:6.1} {:5.1}",
                    *rss as f64 / 1024.0,
                    *alloc as f64 / 1048576.0
                ),
                " |"
            )
        );
    }
    let (base_t, base, end, peak) = rss_window(&run.samples, settings.baseline_at);
    let growth = end.saturating_sub(base);
    let elapsed = run.samples.last().map_or(1.0, |s| s.0);
    let mib = |kib: u64| kib as f64 / 1024.0;
    eprintln!(
        "soak summary: {elapsed:.0} s, {} requests ({:.1}/s), failures {failed} (unexpected 5xx {e5}, unexpected 403 {e403}, wrong {wrong}, I/O {io}), expected 403 {}, connections {} (re-sent {}), rotations {}, RSS {:.1} MiB at {base_t:.0} s -> {:.1} MiB at the end (peak {:.1}, growth {:.1} MiB, bound {} MiB)",
        tally.requests(),
        tally.requests() as f64 / elapsed,
        load(&tally.counts(Kind::DeniedA).ok),
        load(&tally.connects),
        load(&tally.retries),
        run.rotations.len(),
        mib(base),
        mib(end),
        mib(peak),
        mib(growth),
        RSS_GROWTH_BOUND_KIB / 1024,
    );

    // --- assertions, collected so that one run reports everything
    let mut problems = run.problems.clone();
    if failed > 0 {
        problems.push(format!(
            "{failed} failed requests: unexpected 5xx {e5}, unexpected 403 {e403}, wrong {wrong}, I/O {io}"
        ));
    }
    for (name, kind) in KINDS {
        if tally.counts(kind).total() == 0 {
            problems.push(format!("no {name} requests were made"));
        }
    }
    if end == 0 {
        problems.push("Envoy is gone".into());
    }
    let log = envoy.log();
    for bad in [
        "panicked",
        "wasm trap",
        "VM failed",
        "Function: proxy_",
        "RuntimeError",
    ] {
        if log.contains(bad) {
            problems.push(format!("the Envoy log shows a VM failure: {bad:?}"));
        }
    }
    for (line, n) in log_summary(&log) {
        if !line.starts_with("warning") {
            problems.push(format!("the Envoy log has {n} x {line}"));
        }
    }
    let secrets = [
        stack.xena.secret_key.as_str(),
        stack.yuri.secret_key.as_str(),
        CREDS_AUTH,
        "good-1",
        "good-2",
        "evil",
    ];
    for secret in secrets {
        if log.contains(secret) {
            problems.push(format!(
                "a secret or provider header value ({secret:?}) reached the Envoy log"
            ));
        }
    }
    for (name, after) in &vm_after {
        let before = vm_before
            .iter()
            .find(|(k, _)| k == name)
            .map_or(0, |(_, v)| *v);
        let restart = name.contains("vm_reload") || name.ends_with(".created");
        let count = name.ends_with(".active") || name.ends_with("vm_count");
        if (restart && *after > before) || (count && *after != before) {
            problems.push(format!("VM restart: {name} went from {before} to {after}"));
        }
    }
    for m in [
        "signing_failures",
        "missing_credentials",
        "redirects_refused",
        "spoof_attempts",
        "marker_rejected",
        "headers_unavailable",
    ] {
        if delta(m) > 0 {
            problems.push(format!("{m} rose by {}", delta(m)));
        }
    }
    let signed: u64 = [Kind::AllowedA, Kind::GetC, Kind::PutC, Kind::ReadBackC]
        .iter()
        .map(|k| load(&tally.counts(*k).ok))
        .sum();
    if delta("requests_signed") < signed {
        problems.push(format!(
            "requests_signed rose by {}, fewer than the {signed} signed requests served",
            delta("requests_signed")
        ));
    }
    if delta("headers_injected") < load(&tally.counts(Kind::Headers).ok) {
        problems.push("headers_injected is lower than the echo requests that saw them".into());
    }
    if delta("header_polls_ok") == 0 || delta("credential_refreshes") < 2 {
        problems.push("the poller did not keep polling".into());
    }
    for phase in &run.provider_done {
        if let Some(m) = phase_metric(phase) {
            if delta(m) == 0 {
                problems.push(format!("provider phase {phase} did not move {m}"));
            }
        }
        if *phase == "good-2" && load(&tally.seen_good[1]) == 0 {
            problems.push("the provider's second good answer never reached a request".into());
        }
    }
    // the endpoint's 500 phase comes between the first and the second rotation
    if run.rotations.len() >= 2 && delta("credential_refresh_failures") == 0 {
        problems.push("the credentials endpoint's 500s were not counted".into());
    }
    if run.rotations.is_empty() {
        problems.push("no credentials rotation was seen in signing".into());
    }
    if growth > RSS_GROWTH_BOUND_KIB {
        problems.push(format!(
            "Envoy RSS grew {:.1} MiB from {base_t:.0} s to the end (bound {} MiB)",
            mib(growth),
            RSS_GROWTH_BOUND_KIB / 1024
        ));
    }
    assert!(
        problems.is_empty(),
        "soak failed:\n  {}",
        problems.join("\n  ")
    );

    // --- everything stops
    let markers = stack.markers();
    drop(admin);
    drop(stack);
    let start = Instant::now();
    let mut left = processes_mentioning(&markers);
    while !left.is_empty() && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(100));
        left = processes_mentioning(&markers);
    }
    assert!(
        std::fs::metadata(format!("/proc/{pid}")).is_err(),
        "Envoy (pid {pid}) still runs"
    );
    assert!(left.is_empty(), "processes left running: {left:#?}");
    eprintln!("soak: every process stopped");
}

// ---------------------------------------------------------------------------------------------
// The client itself, against a scripted server: the paths the soak rarely takes.

/// Reads one request (headers and a content-length body) from `s`.
fn read_request(s: &mut TcpStream) -> Vec<u8> {
    let mut buf = vec![];
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        assert_eq!(s.read(&mut byte).unwrap(), 1, "request cut short");
        buf.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&buf).to_ascii_lowercase();
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map_or(0, |v| v.trim().parse().unwrap());
    let mut body = vec![0u8; length];
    s.read_exact(&mut body).unwrap();
    buf.extend_from_slice(&body);
    buf
}

#[test]
fn soak_client_reads_chunked_bodies_and_resends_on_a_closed_connection() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        // 1: an interim 100, then a chunked body with an extension and a
        // trailer; the next request on the kept-alive connection finds it closed.
        let (mut s, _) = listener.accept().unwrap();
        read_request(&mut s);
        s.write_all(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n\
              5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nx-trailer: 1\r\n\r\n",
        )
        .unwrap();
        read_request(&mut s);
        drop(s);
        // 2: the request sent again; answered with connection: close.
        let (mut s, _) = listener.accept().unwrap();
        let req = read_request(&mut s);
        assert!(req.starts_with(b"GET /b HTTP/1.1\r\n"), "{req:?}");
        s.write_all(
            b"HTTP/1.1 403 Forbidden\r\ncontent-length: 4\r\nconnection: close\r\n\r\nnope",
        )
        .unwrap();
        drop(s);
        // 3: a PUT with a body; an HTTP/1.0 answer delimited by the close.
        let (mut s, _) = listener.accept().unwrap();
        let req = read_request(&mut s);
        assert!(req.ends_with(b"content-length: 4\r\n\r\nbody"), "{req:?}");
        s.write_all(b"HTTP/1.0 200 OK\r\n\r\nuntil close").unwrap();
    });
    let mut c = Client::new(port);
    let r = c.request("GET", "/a", &[], b"").unwrap();
    assert_eq!((r.status, &r.body[..]), (200, &b"hello world"[..]));
    let r = c.request("GET", "/b", &[], b"").unwrap();
    assert_eq!((r.status, &r.body[..]), (403, &b"nope"[..]));
    assert_eq!((c.connects, c.retries), (2, 1));
    let r = c.request("PUT", "/c", &[], b"body").unwrap();
    assert_eq!((r.status, &r.body[..]), (200, &b"until close"[..]));
    assert_eq!((c.connects, c.retries), (3, 1));
    assert!(c.conn.is_none(), "a closed connection was kept");
    server.join().unwrap();
}
