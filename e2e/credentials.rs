//! Every credentials source end to end in real Envoy (2 workers), against
//! real implementations nobody here wrote: moto's STS verifies the SigV4
//! signature asset-gate puts on `AssumeRole` (key, signature, IAM policy,
//! trust policy with its external-id condition), and moto's S3, with
//! authentication on, verifies every request asset-gate signs with the
//! temporary credentials (key, session token, signature, the role's policy).
//! SeaweedFS cannot be that storage here: with static identities it refuses
//! any request carrying a session token it did not issue itself.
//!
//! One stack is shared by all cases (one listener per source); the IMDSv2
//! server is e2e/fixtures/backends.py's `imds` role, written to AWS's
//! documented protocol. Sources refresh every 2 s, so rotation is seen under
//! light load; failing and stalled sources keep the last good credentials
//! until they expire, and recover without a restart.

use crate::harness::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/asset-gate-role";
const OBJECT: &str = "/creds/hello.txt";
const BODY: &str = "signed with credentials from every source\n";
/// IAM and S3 calls `sts.py setup` makes before moto authenticates.
const SETUP_ACTIONS: u32 = 7;
const GOOD: [&str; 5] = ["imds", "pod", "assume", "webid", "chain"];

fn python() -> PathBuf {
    venv_bin("python")
}

fn sts_script() -> PathBuf {
    repo().join("e2e/fixtures/sts.py")
}

fn run_json(args: &[&str]) -> Value {
    let out = Command::new(python())
        .arg(sts_script())
        .args(args)
        .output()
        .expect("run sts.py");
    assert!(
        out.status.success(),
        "sts.py {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("sts.py prints JSON")
}

/// A process printing `PORT=<n>` first.
fn spawn_with_port(name: &str, cmd: &mut Command) -> (Proc, u16) {
    let mut proc = Proc::spawn(name, cmd.stdout(Stdio::piped()).stderr(Stdio::inherit()));
    let mut line = String::new();
    BufReader::new(proc.take_stdout().expect("stdout"))
        .read_line(&mut line)
        .expect("port line");
    let port = line
        .trim()
        .strip_prefix("PORT=")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("{name} printed {line:?}"));
    (proc, port)
}

fn wait_port(what: &str, port: u16) {
    wait_until(what, Duration::from_secs(30), || {
        TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
}

/// An unsigned JWT with `exp` (moto does not verify web identity tokens).
fn jwt(sub: &str, exp: u64) -> String {
    fn b64(b: &[u8]) -> String {
        const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut out = String::new();
        for c in b.chunks(3) {
            let n = (u32::from(c[0]) << 16)
                | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
                | u32::from(*c.get(2).unwrap_or(&0));
            for i in 0..=c.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            }
        }
        out
    }
    let payload = json!({"sub": sub, "aud": "sts.amazonaws.com", "exp": exp}).to_string();
    format!(
        "{}.{}.c2ln",
        b64(br#"{"alg":"RS256"}"#),
        b64(payload.as_bytes())
    )
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

struct Stack {
    envoy: Envoy,
    imds: Backend,
    creds: Backend,
    relay_port: u16,
    /// Access key ids of the requests that reached storage, in order.
    storage_keys: Arc<Mutex<Vec<String>>>,
    tokens: tempfile::TempDir,
    _token_server: (Nginx, tempfile::TempDir),
    moto: u16,
    base: (String, String),
    _procs: Vec<Proc>,
}

impl Stack {
    fn get(&self, listener: &str) -> Response {
        curl(&[&self.envoy.url(listener, OBJECT)])
    }

    fn stat(&self, listener: &str, name: &str) -> u64 {
        self.envoy
            .placement_stat(&format!("asset_gate_{listener}"), name)
    }

    fn sts_calls(&self) -> Vec<Value> {
        let r = curl(&[&format!("http://127.0.0.1:{}/_stats", self.relay_port)]);
        r.json()["calls"].as_array().cloned().unwrap_or_default()
    }

    fn sts_control(&self, v: Value) {
        let r = curl(&[
            "-X",
            "POST",
            "--data-binary",
            &v.to_string(),
            &format!("http://127.0.0.1:{}/_control", self.relay_port),
        ]);
        assert_eq!(r.status, 200);
    }

    fn storage_saw(&self, key: &str) -> bool {
        self.storage_keys.lock().unwrap().iter().any(|k| k == key)
    }

    /// Fresh credentials issued by moto (for the IMDS and container servers).
    fn issue(&self, session: &str) -> Value {
        run_json(&[
            "assume",
            "--moto",
            &self.moto.to_string(),
            "--key",
            &self.base.0,
            "--secret",
            &self.base.1,
            "--session",
            session,
        ])
    }

    fn write_token(&self, name: &str, value: &str) {
        write_atomically(&self.tokens.path().join(name), value);
    }
}

fn write_atomically(path: &Path, value: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, value).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn start() -> Stack {
    let mut procs = vec![];
    // moto: STS and S3, authenticating every request after the setup ones.
    let moto = free_ports(1)[0];
    procs.push(Proc::spawn(
        "moto",
        Command::new(venv_bin("moto_server"))
            .args(["-H", "127.0.0.1", "-p", &moto.to_string()])
            .env("INITIAL_NO_AUTH_ACTION_COUNT", SETUP_ACTIONS.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    ));
    wait_port("moto", moto);
    let base = run_json(&["setup", "--moto", &moto.to_string()]);
    let base = (
        base["access_key_id"].as_str().unwrap().to_string(),
        base["secret_access_key"].as_str().unwrap().to_string(),
    );
    let (sts_relay, relay_port) = spawn_with_port(
        "sts-relay",
        Command::new(python()).arg(sts_script()).args([
            "relay",
            "--moto",
            &moto.to_string(),
            "--key",
            &base.0,
            "--secret",
            &base.1,
        ]),
    );
    procs.push(sts_relay);
    // Storage: moto's S3 behind a relay that notes the signing key id.
    let storage_keys = Arc::new(Mutex::new(Vec::new()));
    let keys = storage_keys.clone();
    let storage_port = relay(moto, move || {
        let keys = keys.clone();
        let mut text = String::new();
        move |chunk: &[u8]| {
            text.push_str(&String::from_utf8_lossy(chunk));
            while let Some(i) = text.find("Credential=") {
                let rest = &text[i + 11..];
                let Some(end) = rest.find('/') else { break };
                keys.lock().unwrap().push(rest[..end].to_string());
                text = rest[end..].to_string();
            }
            let keep = text.len().saturating_sub(64);
            text.drain(..keep);
        }
    });
    // The token files, served as the documented sidecar serves them: nginx
    // on a Unix socket that only Envoy and the sidecar share, reached through
    // a cluster with a `pipe` address (no TCP port another process could use).
    let tokens = tempfile::tempdir().unwrap();
    let sockets = tempfile::tempdir().unwrap();
    for dir in [tokens.path(), sockets.path()] {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let token_socket = sockets.path().join("token.sock");
    let token_server = Nginx::start(
        include_str!("fixtures/nginx/token_sidecar.conf"),
        &[
            ("SOCKET", token_socket.display().to_string()),
            ("TOKENS", tokens.path().display().to_string()),
        ],
    );
    let stack_tokens = |name: &str, v: &str| write_atomically(&tokens.path().join(name), v);
    stack_tokens("eks-pod-identity-token", "pod-token-1");
    stack_tokens(
        "token",
        &jwt("system:serviceaccount:web:asset-gate", now() + 3600),
    );

    let issue = |session: &str| {
        run_json(&[
            "assume",
            "--moto",
            &moto.to_string(),
            "--key",
            &base.0,
            "--secret",
            &base.1,
            "--session",
            session,
        ])
    };
    let c = issue("imds-1");
    let imds = Backend::start(
        "imds",
        json!({"access_key_id": c["AccessKeyId"], "secret_access_key": c["SecretAccessKey"], "token": c["Token"]}),
    );
    let c = issue("pod-1");
    let creds = Backend::start(
        "creds",
        json!({"access_key_id": c["AccessKeyId"], "secret_access_key": c["SecretAccessKey"],
               "token": c["Token"], "authorization": "pod-token-1"}),
    );
    let closed = free_ports(1)[0];

    let config = |credentials: Value| {
        filter_config(&json!({
            "role": "storage",
            "signing": {
                "region": "us-east-1",
                "endpoint": format!("127.0.0.1:{storage_port}"),
                "require_marker": false,
                "credentials": credentials,
            },
        }))
    };
    let pod = json!({"source": "container", "cluster": "container",
        "full_uri": format!("http://127.0.0.1:{}/v1/credentials", creds.port),
        "token_cluster": "token", "token_path": "/eks-pod-identity-token", "refresh_interval": "2s"});
    let assume = |secret: &str| {
        json!({"source": "assume_role", "role_arn": ROLE_ARN, "role_session_name": "edge",
            "external_id": "asset-gate-ext", "duration": "15m", "sts_cluster": "sts",
            "refresh_interval": "2s", "timeout": "1s",
            "base": {"source": "static", "access_key_id": base.0, "secret_access_key": secret}})
    };
    let vars = vec![
        ("WASM", wasm().display().to_string()),
        ("STORAGE_PORT", storage_port.to_string()),
        ("IMDS_PORT", imds.port.to_string()),
        ("CREDS_PORT", creds.port.to_string()),
        ("TOKEN_SOCKET", token_socket.display().to_string()),
        ("STS_PORT", relay_port.to_string()),
        ("DOWN_PORT", closed.to_string()),
        (
            "CONFIG_IMDS",
            config(json!({"source": "imds", "refresh_interval": "2s", "imds_token_ttl": "70s"})),
        ),
        ("CONFIG_POD", config(pod.clone())),
        ("CONFIG_ASSUME", config(assume(&base.1))),
        ("CONFIG_ASSUME_BAD", config(assume("not-the-secret"))),
        (
            "CONFIG_WEBID",
            config(json!({"source": "web_identity", "role_arn": ROLE_ARN,
                "role_session_name": "irsa", "sts_cluster": "sts", "token_cluster": "token",
                "refresh_interval": "2s", "timeout": "1s"})),
        ),
        (
            "CONFIG_CHAIN",
            config(json!({"source": "chain", "sources": [
                {"source": "env"},
                {"source": "imds", "cluster": "imds_down", "timeout": "500ms"},
                pod,
            ]})),
        ),
    ];
    let envoy = Envoy::start(
        include_str!("fixtures/envoy/credentials.yaml"),
        &vars,
        EnvoyOptions::default(),
    );
    Stack {
        envoy,
        imds,
        creds,
        relay_port,
        storage_keys,
        tokens,
        _token_server: (token_server, sockets),
        moto,
        base,
        _procs: procs,
    }
}

/// GETs on every good listener until stopped: (requests, non-200 answers).
fn load(stack: &Stack, stop: &AtomicBool) -> (u64, Vec<String>) {
    let (mut n, mut bad) = (0, vec![]);
    while !stop.load(Ordering::SeqCst) {
        for l in GOOD {
            let r = stack.get(l);
            n += 1;
            if r.status != 200 || r.text() != BODY {
                bad.push(format!("{l}: {} {}", r.status, r.text()));
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    (n, bad)
}

#[test]
fn every_source_signs_rotates_and_survives_failures() {
    let stack = start();
    let wait = Duration::from_secs(30);

    // 1. Every source's credentials sign requests moto's S3 accepts.
    for l in GOOD {
        wait_until(&format!("{l} signs"), wait, || {
            let r = stack.get(l);
            r.status == 200 && r.text() == BODY
        });
        // Gauges are recorded on each VM's tick (250 ms): wait for them.
        wait_until(&format!("{l} gauges"), wait, || {
            stack.stat(l, "credentials_usable") == 1
                && stack.stat(l, "credentials_expires_in_seconds") > 60
        });
    }
    // moto really checks: a wrong secret, a wrong session token, no signature.
    let served = stack.issue("probe");
    let url = format!("http://127.0.0.1:{}{OBJECT}", stack.moto);
    let user = format!("{}:nope", served["AccessKeyId"].as_str().unwrap());
    let token = format!(
        "x-amz-security-token: {}",
        served["Token"].as_str().unwrap()
    );
    let forged = curl(&[
        "--aws-sigv4",
        "aws:amz:us-east-1:s3",
        "--user",
        &user,
        "-H",
        &token,
        &url,
    ]);
    assert_eq!(forged.status, 403, "{}", forged.text());
    assert_eq!(curl(&[&url]).status, 403, "moto's S3 must authenticate");

    // The source each placement reports (docs/metrics.md: credentials_source codes).
    for (l, code) in [
        ("imds", 4),
        ("pod", 3),
        ("assume", 5),
        ("webid", 6),
        ("chain", 3),
    ] {
        wait_until(&format!("{l} reports source {code}"), wait, || {
            stack.stat(l, "credentials_source") == code
        });
    }
    assert!(stack
        .envoy
        .log()
        .contains("credentials from source endpoint"));

    // AssumeRole signed with a wrong base secret: moto refuses it, asset-gate
    // never signs with nothing (503), the failure is counted by reason.
    wait_until("assume_bad refused by STS", wait, || {
        stack.stat("assume_bad", "credential_refresh_failed_status") > 0
    });
    let r = stack.get("assume_bad");
    assert_eq!(r.status, 503, "{}", r.text());
    wait_until("assume_bad gauge", wait, || {
        stack.stat("assume_bad", "credentials_usable") == 0
    });
    let calls = stack.sts_calls();
    let assume_calls: Vec<&Value> = calls
        .iter()
        .filter(|c| c["action"] == "AssumeRole")
        .collect();
    assert!(assume_calls
        .iter()
        .any(|c| c["moto_error"] == "SignatureDoesNotMatch"));
    let good = assume_calls
        .iter()
        .find(|c| c["status"] == 200)
        .expect("a successful AssumeRole");
    assert_eq!(good["signed"], true);
    assert_eq!(good["external_id"], "asset-gate-ext");
    assert_eq!(good["session"], "edge");
    assert_eq!(good["duration"], "900");
    assert_eq!(good["host"], "sts.us-east-1.amazonaws.com");
    let web: Vec<&Value> = calls
        .iter()
        .filter(|c| c["action"] == "AssumeRoleWithWebIdentity")
        .collect();
    assert!(!web.is_empty());
    let first_jwt = std::fs::read_to_string(stack.tokens.path().join("token")).unwrap();
    assert!(web
        .iter()
        .all(|c| c["signed"] == false && c["token"] == first_jwt.as_str()));
    // IMDSv2: a session token first, reused across refreshes; never a GET without one.
    let imds_stats = curl(&[&stack.imds.url("/_stats")]).json();
    let paths: Vec<&str> = imds_stats["paths"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(paths.first(), Some(&"PUT /latest/api/token"), "{paths:?}");
    assert!(paths.contains(&"GET /latest/meta-data/iam/security-credentials/"));
    assert_eq!(imds_stats["unauthorized"], 0, "{paths:?}");

    // 2. Rotation of every source under light load, with no 5xx.
    let stop = AtomicBool::new(false);
    let (n, bad) = std::thread::scope(|s| {
        let loader = s.spawn(|| load(&stack, &stop));
        // IMDS serves new credentials.
        let c = stack.issue("imds-2");
        stack.imds.control(json!({"access_key_id": c["AccessKeyId"],
            "secret_access_key": c["SecretAccessKey"], "token": c["Token"]}));
        let imds_key = c["AccessKeyId"].as_str().unwrap().to_string();
        // Pod Identity: kubelet rotates the token file, the agent the credentials.
        stack.write_token("eks-pod-identity-token", "pod-token-2");
        let c = stack.issue("pod-2");
        stack
            .creds
            .control(json!({"access_key_id": c["AccessKeyId"],
            "secret_access_key": c["SecretAccessKey"], "token": c["Token"],
            "authorization": "pod-token-2"}));
        let pod_key = c["AccessKeyId"].as_str().unwrap().to_string();
        // IRSA: a new projected token.
        let second_jwt = jwt("system:serviceaccount:web:asset-gate", now() + 7200);
        stack.write_token("token", &second_jwt);
        wait_until("IMDS rotation signs", wait, || stack.storage_saw(&imds_key));
        wait_until("Pod Identity rotation signs", wait, || {
            stack.storage_saw(&pod_key)
        });
        wait_until("the new web identity token reaches STS", wait, || {
            stack
                .sts_calls()
                .iter()
                .any(|c| c["token"] == second_jwt.as_str() && c["status"] == 200)
        });
        // STS sources: each refresh is a new AssumeRole; several of their keys signed.
        wait_until("STS rotations sign", wait, || {
            let calls = stack.sts_calls();
            let issued = |action: &str| -> BTreeSet<String> {
                calls
                    .iter()
                    .filter(|c| c["action"] == action)
                    .filter_map(|c| c["issued"].as_str().map(str::to_string))
                    .filter(|k| stack.storage_saw(k))
                    .collect()
            };
            issued("AssumeRole").len() >= 3 && issued("AssumeRoleWithWebIdentity").len() >= 3
        });
        stop.store(true, Ordering::SeqCst);
        loader.join().unwrap()
    });
    assert!(n >= 10, "load made only {n} requests");
    assert!(
        bad.is_empty(),
        "{} of {n} requests failed: {bad:?}",
        bad.len()
    );

    // 3. A stalled STS (slower than the 1 s timeout): the last good
    // credentials keep signing; refreshes resume without a restart.
    stack.sts_control(json!({"delay_s": 2}));
    wait_until("the stall is counted", wait, || {
        stack.stat("assume", "credential_refresh_failed_no_response") > 0
    });
    let r = stack.get("assume");
    assert_eq!(r.status, 200, "{}", r.text());
    stack.sts_control(json!({}));
    let before = stack.sts_calls().len();
    wait_until("STS refreshes resume", wait, || {
        stack.sts_calls()[before..]
            .iter()
            .any(|c| c["action"] == "AssumeRole" && c["status"] == 200 && c["session"] == "edge")
    });

    // 4. A failing IMDS: the last good credentials sign until they expire
    // (38 s lifetime, 30 s margin), then 503, never expired credentials;
    // back to 200 once IMDS recovers, without a restart.
    stack.imds.control(json!({"lifetime_s": 38}));
    let refreshes = stack.stat("imds", "credential_refreshes");
    wait_until("short-lived IMDS credentials", wait, || {
        stack.stat("imds", "credential_refreshes") > refreshes + 1
    });
    stack.imds.control(json!({"status": 500}));
    wait_until("the IMDS failure is counted", wait, || {
        stack.stat("imds", "credential_refresh_failed_status") > 0
    });
    wait_until("expired credentials are not used", wait, || {
        stack.get("imds").status == 503
    });
    let r = stack.get("imds");
    assert_eq!(r.status, 503);
    assert_eq!(
        r.text(),
        "asset-gate: no valid AWS credentials are available to sign this request\n"
    );
    assert!(stack.stat("imds", "missing_credentials") > 0);
    wait_until("the usable gauge drops", wait, || {
        stack.stat("imds", "credentials_usable") == 0
    });
    stack
        .imds
        .control(json!({"status": 200, "lifetime_s": 3600}));
    wait_until("IMDS recovers", Duration::from_secs(60), || {
        stack.get("imds").status == 200
    });
    wait_until("the usable gauge is back", wait, || {
        stack.stat("imds", "credentials_usable") == 1
    });
}
