//! S3 SigV4 signing end to end: clients that hold no
//! credentials talk to real Envoy 1.40; asset-gate signs with credentials from
//! its configuration or the environment; real SeaweedFS enforces SigV4.
//!
//! Each test starts its own SeaweedFS and Envoy (cargo runs them in parallel)
//! and checks real content: bytes by sha256, listings by key, statuses and
//! S3 error codes, asset-gate's own counters. One module per topic; the
//! signing edge's Envoy and its configuration are shared here.

use crate::harness::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const TEMPLATE: &str = include_str!("../fixtures/envoy/signing.yaml");
const AK: &str = "AKIDASSETGATEE2E";
/// A secret with characters that must not be mangled on their way to the signer.
const SK: &str = "e2e/Secret+with=chars";
const REGION: &str = "us-east-1";

const SIGNED: &str = "requests_signed";
const MISSING: &str = "missing_credentials";
const FAILURES: &str = "signing_failures";

/// Keys covering space, `+`, `=`, `&`, `~`, `%`, `@`, `:`, `!`, `'`, `(`, `)` and
/// unicode, in several segments each.
const SPECIAL_KEYS: [&str; 9] = [
    "special/sp ace/a b  c.txt",
    "special/plus+sign/1+1=2.txt",
    "special/amp&eq=/q&a=b&c.txt",
    "special/tilde~pct%/100%25 %.txt",
    "special/at@colon:/user@host:8080.txt",
    "special/bang!quote'/(paren)!.txt",
    "special/ünïcödé/日本/文字 ü.txt",
    "special/all/ !'()*+,;=@:&$~%ü日.bin",
    "special/dots/..a/.b./c..txt",
];

/// Keys PUT with the characters raw in the path (curl sends them as typed).
const RAW_KEYS: [(&str, &str); 3] = [
    (
        "special/raw!/quote'(paren)/x.txt",
        "/special/raw!/quote'(paren)/x.txt",
    ),
    (
        "special/raw@at/colon:~tilde.txt",
        "/special/raw@at/colon:~tilde.txt",
    ),
    (
        "special/raw*$,;/sub-delims.txt",
        "/special/raw*$,;/sub-delims.txt",
    ),
];

mod clients;
mod refusals;
mod s3;
mod upstream_verified;

// ---------------------------------------------------------------------------------------------
// Stack

fn static_creds(secret: &str) -> Value {
    json!({"source": "static", "access_key_id": AK, "secret_access_key": secret})
}

/// A signing edge proxy's storage-role configuration (flow C: no internal-redirect
/// marker required); `extra` is merged into the `signing` section.
fn storage_config(credentials: Value, extra: Value) -> Value {
    let mut signing =
        json!({"region": REGION, "credentials": credentials, "require_marker": false});
    if let (Some(s), Some(e)) = (signing.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            s.insert(k.clone(), v.clone());
        }
    }
    json!({"role": "storage", "signing": signing})
}

/// A free port nobody listens on, for template slots a test does not use.
fn unused_port() -> u16 {
    free_ports(1)[0]
}

struct GateSpec {
    s3_port: u16,
    echo_port: u16,
    config: Value,
    down_config: Value,
    api_config: Value,
    env: Vec<(String, String)>,
}

impl GateSpec {
    /// Everything signs with the right static credentials; `endpoint` is SeaweedFS.
    fn new(s3_port: u16) -> GateSpec {
        let endpoint = json!({"endpoint": format!("127.0.0.1:{s3_port}")});
        GateSpec {
            s3_port,
            echo_port: unused_port(),
            config: storage_config(static_creds(SK), endpoint.clone()),
            down_config: storage_config(static_creds(SK), endpoint),
            api_config: storage_config(
                static_creds(SK),
                json!({"service": "execute-api", "endpoint": "api.example"}),
            ),
            env: vec![],
        }
    }
}

/// Envoy with the signing template, plus the self-signed certificate of `s3_tls`.
struct Gate {
    envoy: Envoy,
    certs: tempfile::TempDir,
}

impl Gate {
    fn start(spec: GateSpec) -> Gate {
        let certs = tempfile::tempdir().expect("temp dir");
        let (cert, key) = self_signed_cert(certs.path());
        let vars = vec![
            ("WASM", wasm().display().to_string()),
            ("S3_PORT", spec.s3_port.to_string()),
            ("ECHO_PORT", spec.echo_port.to_string()),
            ("CONFIG", filter_config(&spec.config)),
            ("DOWN_CONFIG", filter_config(&spec.down_config)),
            ("API_CONFIG", filter_config(&spec.api_config)),
            ("TLS_CERT", cert.display().to_string()),
            ("TLS_KEY", key.display().to_string()),
        ];
        let envoy = Envoy::start(
            TEMPLATE,
            &vars,
            EnvoyOptions {
                env: spec.env,
                ..EnvoyOptions::default()
            },
        );
        Gate { envoy, certs }
    }

    fn url(&self, listener: &str, path: &str) -> String {
        self.envoy.url(listener, path)
    }

    fn cert(&self) -> String {
        self.certs.path().join("cert.pem").display().to_string()
    }

    fn stat(&self, name: &str) -> u64 {
        self.envoy.stat(name)
    }

    fn gate_stat(&self, name: &str) -> u64 {
        self.envoy.gate_stat(name)
    }
}

fn s3_identity() -> Identity {
    Identity::admin(AK, SK)
}

// ---------------------------------------------------------------------------------------------
// Helpers

fn put_bytes(url: &str, bytes: &[u8]) -> Response {
    let dir = tempfile::tempdir().expect("temp dir");
    let f = dir.path().join("body");
    std::fs::write(&f, bytes).expect("write body");
    curl(&[
        "-X",
        "PUT",
        "--data-binary",
        &format!("@{}", f.display()),
        url,
    ])
}

/// Runs a command with a clean AWS environment: nothing the client could sign with.
fn aws_client(program: &Path, home: &Path) -> Command {
    let mut c = Command::new(program);
    for k in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL",
        "AWS_CA_BUNDLE",
    ] {
        c.env_remove(k);
    }
    c.env("HOME", home)
        .env("AWS_CONFIG_FILE", home.join("aws-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.join("no-credentials"))
        .env("AWS_DEFAULT_REGION", REGION)
        .env("AWS_EC2_METADATA_DISABLED", "true");
    c
}

fn run_ok(what: &str, cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout: {stdout}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}
