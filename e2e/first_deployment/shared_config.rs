//! Each deployment fact stated once: the internal prefixes, region, endpoint
//! and credentials in the VM configuration (`vm_config.configuration`),
//! every placement's own configuration its role and what only it needs (a
//! storage cluster's buckets, a signing edge's scope, added to the shared
//! `signing`); a fact stated twice does not load. And the build a user
//! runs, visible: the module's version in the stats and its version and git
//! revision in the startup log.

use crate::harness::*;
use serde_json::{json, Value};
use std::process::Command;

const TEMPLATE: &str = include_str!("../fixtures/envoy/shared_vm.yaml");

/// The deployment's shared settings: flow A's internal prefix, and where
/// `s3` is and who signs for it (`id`).
fn shared_settings(s3_authority: &str, id: &Identity) -> Value {
    json!({
        "redirect": {"internal_prefixes": ["/internal-assets/"], "consent": "accel_or_flagged"},
        "signing": {
            "region": "us-east-1",
            "endpoint": s3_authority,
            "credentials": {"source": "static", "access_key_id": id.access_key, "secret_access_key": id.secret_key},
        },
    })
}

fn role(name: &str) -> Value {
    json!({ "role": name })
}

/// The placements' own configurations, in the template's order: the edge,
/// the auth backend, flow A's storage (which maps its bucket) and a flow C
/// signing edge (which signs without a marker, within a scope).
fn placements() -> [Value; 4] {
    [
        role("edge"),
        role("auth_backend"),
        json!({"role": "storage", "signing": {"buckets": [{"prefix": "/internal-assets/", "bucket": "assets"}]}}),
        json!({"role": "storage", "signing": {"require_marker": false,
            "scope": {"methods": ["GET", "HEAD"], "buckets": ["assets"], "key_prefixes": ["public/"]}}}),
    ]
}

fn vars(vm: &Value, placements: &[Value; 4], ports: [u16; 2]) -> Vec<(&'static str, String)> {
    let [edge, auth, storage, signing_edge] = placements.each_ref().map(filter_config);
    vec![
        ("WASM", wasm().display().to_string()),
        ("AUTH_PORT", ports[0].to_string()),
        ("STORAGE_PORT", ports[1].to_string()),
        ("VM_CONFIG", filter_config(vm)),
        ("EDGE_CONFIG", edge),
        ("AUTH_CONFIG", auth),
        ("STORAGE_CONFIG", storage),
        ("SIGNING_EDGE_CONFIG", signing_edge),
    ]
}

/// The names of the asset-gate stats whose name ends with `.{name}`.
fn stat_names(envoy: &Envoy, name: &str) -> Vec<String> {
    let r = curl(&[&envoy.admin_url(&format!(
        "/stats?format=json&filter=^wasmcustom\\.asset_gate\\..*\\.{name}$"
    ))]);
    let mut names: Vec<String> = r.json()["stats"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["name"].as_str().map(str::to_string))
        .collect();
    names.sort();
    names
}

/// The filter crate's version (`crates/filter/Cargo.toml`, or the
/// workspace's when it takes that one).
fn module_version() -> String {
    let value = |toml: &str, key: &str| {
        toml.lines()
            .find_map(|l| {
                l.trim()
                    .strip_prefix(key)?
                    .trim()
                    .strip_prefix('=')
                    .map(str::trim)
            })
            .map(|v| v.trim_matches('"').to_string())
    };
    let filter = std::fs::read_to_string(repo().join("crates/filter/Cargo.toml")).unwrap();
    if value(&filter, "version.workspace").as_deref() != Some("true") {
        return value(&filter, "version").expect("crates/filter/Cargo.toml has a version");
    }
    let root = std::fs::read_to_string(repo().join("Cargo.toml")).unwrap();
    let package = root
        .split("[workspace.package]")
        .nth(1)
        .expect("[workspace.package]");
    value(package, "version").expect("the workspace version")
}

/// The revision `build.rs` gives the module: `ASSET_GATE_REVISION` when
/// set, else HEAD's short hash (the `-dirty` mark is left to the caller:
/// an edit outside the sources since the last build does not rebuild).
fn revision() -> String {
    if let Ok(r) = std::env::var("ASSET_GATE_REVISION") {
        if !r.trim().is_empty() {
            return r.trim().to_string();
        }
    }
    let out = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(repo())
        .output()
        .unwrap();
    assert!(out.status.success(), "git rev-parse");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Flows A and C in real Envoy with every shared fact in
/// `vm_config.configuration`: the edge and the auth backend state only
/// their role, the storage placement adds its bucket mapping to the shared
/// `signing`, and a signing edge its scope. A consented download is signed
/// for SeaweedFS (which refuses a wrong signature), a backend's 403 stays a
/// 403, the signing edge signs within its scope and refuses the rest, and
/// only the roles that sign read the shared `signing` (the edge and the
/// auth backend define no credentials gauges: no refresh). The same Envoy
/// shows the build: the `build_version` gauge of each placement, and one
/// startup log line with the version and revision.
#[test]
fn one_shared_vm_configuration_serves_every_placement() {
    let id = Identity::admin("AKIDSHAREDVM", "shared-vm-secret");
    let s3 = S3::start(&["assets"], vec![id.clone()]);
    let body = b"stated once, served everywhere\n";
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hello.txt");
    std::fs::write(&file, body).unwrap();
    for key in ["/assets/hello.txt", "/assets/public/hello.txt"] {
        let put = s3.signed_curl(&id, &["-T", file.to_str().unwrap()], key);
        assert_eq!(put.status, 200, "{key}: {}", put.text());
    }
    // SeaweedFS verifies signatures: the same read with a wrong secret fails.
    let forged = Identity::admin(&id.access_key, "not-the-secret");
    assert_eq!(
        s3.signed_curl(&forged, &[], "/assets/hello.txt").status,
        403
    );

    let auth = Backend::start("auth", json!({"style": "accel"}));
    let vm = shared_settings(&s3.authority(), &id);
    let v = vars(&vm, &placements(), [auth.port, s3.port]);
    let envoy = Envoy::start(TEMPLATE, &v, EnvoyOptions::default());
    let get = |path: &str, token: Option<&str>| {
        let header = token.map(|t| format!("authorization: Bearer {t}"));
        let mut args: Vec<&str> = vec![];
        if let Some(h) = &header {
            args.extend(["-H", h]);
        }
        let url = envoy.url("assets", path);
        args.push(&url);
        curl(&args)
    };

    let r = get("/assets/hello.txt", Some("demo-token"));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.body, body);
    assert_eq!(
        envoy.placement_stat("asset_gate_storage", "requests_signed"),
        1
    );
    assert_eq!(
        envoy.placement_stat("asset_gate_auth", "redirects_converted"),
        1
    );
    for (path, token) in [
        ("/assets/hello.txt", None),
        ("/assets/secret.txt", Some("demo-token")),
    ] {
        let r = get(path, token);
        assert_eq!(r.status, 403, "{path}: {}", r.text());
        assert_eq!(r.text(), "access denied by the demo auth backend\n");
    }
    assert_eq!(
        envoy.placement_stat("asset_gate_storage", "requests_signed"),
        1
    );

    // The signing edge signs with the shared region, endpoint and
    // credentials, within its own scope.
    let r = curl(&[&envoy.url("signing_edge", "/assets/public/hello.txt")]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.body, body);
    let r = curl(&[&envoy.url("signing_edge", "/assets/hello.txt")]);
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(
        r.text(),
        "asset-gate: this signing edge does not sign requests for this key\n"
    );
    assert_eq!(
        envoy.placement_stat("asset_gate_signing_edge", "requests_signed"),
        1
    );

    // Only the placements that sign read the shared `signing`.
    assert_eq!(
        stat_names(&envoy, "credentials_usable"),
        ["asset_gate_signing_edge", "asset_gate_storage"]
            .map(|p| format!("wasmcustom.asset_gate.{p}.credentials_usable"))
    );
    for placement in ["asset_gate_storage", "asset_gate_signing_edge"] {
        assert_eq!(
            envoy.placement_stat(placement, "credentials_usable"),
            1,
            "{placement}"
        );
    }

    // The build: a version number per placement, and the revision in the log.
    let version = module_version();
    let code = version
        .split(['.', '-', '+'])
        .take(3)
        .map(|p| p.parse::<u64>().unwrap())
        .fold(0, |n, p| n * 1000 + p);
    let all = [
        "asset_gate_auth",
        "asset_gate_edge",
        "asset_gate_signing_edge",
        "asset_gate_storage",
    ];
    assert_eq!(
        stat_names(&envoy, "build_version"),
        all.map(|p| format!("wasmcustom.asset_gate.{p}.build_version"))
    );
    for placement in all {
        assert_eq!(
            envoy.placement_stat(placement, "build_version"),
            code,
            "{placement}"
        );
    }
    let prometheus = curl(&[&envoy.admin_url("/stats/prometheus")]).text();
    let line = format!("asset_gate_asset_gate_edge_build_version{{}} {code}");
    assert!(
        prometheus.lines().any(|l| l == line),
        "no `{line}` in /stats/prometheus"
    );
    let started = format!("asset-gate {version} (rev {}", revision());
    let log = envoy.log();
    let lines: Vec<&str> = log.lines().filter(|l| l.contains(" (rev ")).collect();
    assert_eq!(lines.len(), 1, "one startup line: {lines:#?}");
    let logged = lines[0].split_once("[info][wasm]").map(|(_, l)| l);
    let rest = logged
        .and_then(|l| l.split_once(&started))
        .map(|(_, rest)| rest);
    assert!(
        matches!(rest, Some(")" | "-dirty)")),
        "not `{started})`: {}",
        lines[0]
    );
}

/// A fact stated twice, or a role in the shared settings, does not load:
/// Envoy refuses the configuration with one line naming the field and the
/// document. A mistake in a shared section fails even a placement that
/// does not read it.
#[test]
fn a_setting_stated_twice_does_not_load() {
    let id = Identity::admin("AKIDSHAREDVM", "shared-vm-secret");
    let ports = [free_ports(1)[0], free_ports(1)[0]];
    let vm = shared_settings("127.0.0.1:1", &id);
    let mut twice = placements();
    twice[2]["signing"]["region"] = json!("us-east-1");
    let with_role = json!({"role": "storage", "redirect": vm["redirect"]});
    let typo = json!({"signing": {"region": "us-east-1", "bucketz": []}});
    let cases = [
        (
            vars(&vm, &twice, ports),
            "invalid asset-gate configuration: field `signing.region`: stated in both vm_config.configuration and this placement's configuration; state it once",
        ),
        (
            vars(&with_role, &placements(), ports),
            "invalid asset-gate configuration: vm_config.configuration: field `role`: is each placement's own",
        ),
        (
            vars(&typo, &placements(), ports),
            "invalid asset-gate configuration: vm_config.configuration: field `signing.bucketz`: unknown field `bucketz`",
        ),
    ];
    let runs: Vec<_> = cases
        .into_iter()
        .map(|(v, line)| {
            std::thread::spawn(move || (Envoy::start_expect_failure(TEMPLATE, &v), line))
        })
        .collect();
    for run in runs {
        let ((code, log), line) = run.join().unwrap();
        assert_ne!(code, Some(0), "Envoy started: {line}");
        assert!(log.contains(line), "no `{line}` in:\n{}", tail(&log, 20));
    }
}
