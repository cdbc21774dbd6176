//! Soak: steady load through flows A and C in one
//! real Envoy (`--concurrency 2`) while the header provider flaps and the
//! storage credentials rotate, against real SeaweedFS with SigV4 enforced.
//!
//! Duration: `ASSET_GATE_SOAK_SECS` (default 30; `make soak` runs 600).
//! Load: `ASSET_GATE_SOAK_RPS` requests per second in all (default 120; 60
//! for runs under two minutes, the short version `make test` runs beside
//! every other test), spread over four client threads that keep their
//! connections alive.
//!
//! At the end it asserts: no unexpected 5xx, no unexpected 403 (the auth
//! backend's own 403s for denied requests are expected and checked), every
//! body byte-exact, the injected headers always present and never a bad
//! provider answer's; signing follows every credentials rotation and keeps
//! the current credentials while the endpoint fails; no VM panic, trap or
//! reload in the Envoy log or stats, no error in the log, no secret or
//! header value in it; Envoy's RSS flat from minute 1 (from a third of the
//! run for short runs) to the end; every process stopped afterwards.

use crate::harness::http::*;
use crate::harness::*;
use client::*;
use faults::*;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tally::*;

mod client;
mod faults;
mod tally;

const TEMPLATE: &str = include_str!("../fixtures/envoy/soak.yaml");
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
            rps: secs_env("ASSET_GATE_SOAK_RPS", if secs >= 120 { 120 } else { 60 })
                .max(THREADS as u64),
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
    // CPU-heavy, and it holds Envoy's RSS to a bound: no other heavy test meanwhile.
    let _heavy = exclusive();
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
