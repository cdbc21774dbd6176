//! The shipped Envoy configs (`envoy/*.yaml`) are safe to run in
//! production: no deadline cuts a long download or upload, every request is
//! logged with who answered it, and Envoy's own answer names the upstream it
//! could not reach. Each file runs as shipped, with only the
//! deployment-specific parts replaced (as in `deploy::shipped`).

use crate::deploy::shipped::{env_credentials, put_object, to_seaweedfs, AK, SK, TOKEN};
use crate::harness::*;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::process::{Command, Stdio};
use std::time::Duration;

/// A YAML document as JSON (PyYAML, aliases resolved).
pub(super) fn yaml_as_json(yaml: &str) -> Value {
    use std::io::Write;
    let mut child = Command::new(venv_bin("python"))
        .args([
            "-c",
            "import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run python");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(yaml.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "not YAML");
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Every shipped `envoy/*.yaml`: (file name, its text).
fn shipped_files() -> Vec<(String, String)> {
    let dir = repo().join("envoy");
    let mut files: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml"))
        .map(|n| {
            let text = std::fs::read_to_string(dir.join(&n)).unwrap();
            (n, text)
        })
        .collect();
    files.sort();
    assert!(files.len() >= 7, "{files:?}");
    files
}

/// Every JSON object at or under `node`.
fn objects(node: &Value) -> Vec<&serde_json::Map<String, Value>> {
    let mut found = vec![];
    let mut stack = vec![node];
    while let Some(n) = stack.pop() {
        match n {
            Value::Object(m) => {
                found.push(m);
                stack.extend(m.values());
            }
            Value::Array(a) => stack.extend(a),
            _ => {}
        }
    }
    found
}

/// Every asset-gate placement's settings (the JSON in `configuration.value`,
/// layered over its VM's shared `configuration`) at or
/// under `node`.
fn plugin_configs(node: &Value) -> Vec<Value> {
    let settings = |any: Option<&Value>| -> Option<Value> {
        Some(serde_json::from_str(any?["value"].as_str()?).unwrap())
    };
    objects(node)
        .into_iter()
        .filter(|m| m.contains_key("vm_config"))
        .filter_map(|m| {
            let own = settings(m.get("configuration"))?;
            let shared = settings(m["vm_config"].get("configuration"));
            Some(layered(own, shared.unwrap_or_else(|| json!({}))))
        })
        .collect()
}

/// A placement's settings as the module reads them: its own keys, and each
/// section's keys it leaves out taken from the shared VM configuration.
fn layered(mut own: Value, shared: Value) -> Value {
    let (Some(own_map), Value::Object(shared)) = (own.as_object_mut(), shared) else {
        return own;
    };
    for (key, value) in shared {
        match (own_map.get_mut(&key), value) {
            (Some(Value::Object(section)), Value::Object(keys)) => {
                for (k, v) in keys {
                    section.entry(k).or_insert(v);
                }
            }
            (Some(_), _) => {}
            (None, value) => {
                own_map.insert(key, value);
            }
        }
    }
    own
}

/// A listener's connection manager: (listener name, its typed_config).
fn connection_managers(cfg: &Value) -> Vec<(String, &Value)> {
    let mut hcms = vec![];
    for l in cfg["static_resources"]["listeners"].as_array().unwrap() {
        for chain in l["filter_chains"].as_array().unwrap() {
            for f in chain["filters"].as_array().unwrap() {
                let tc = &f["typed_config"];
                if tc["@type"]
                    .as_str()
                    .is_some_and(|t| t.ends_with("HttpConnectionManager"))
                {
                    hcms.push((l["name"].as_str().unwrap().to_string(), tc));
                }
            }
        }
    }
    hcms
}

fn routes(hcm: &Value) -> Vec<&Value> {
    hcm["route_config"]["virtual_hosts"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|vh| vh["routes"].as_array().unwrap())
        .collect()
}

/// Whether asset-gate runs as a gateway on this listener (flow D).
fn is_gateway(hcm: &Value) -> bool {
    plugin_configs(&hcm["http_filters"])
        .iter()
        .any(|c| c["role"] == "gateway")
}

/// The routes that stream objects: to a cluster where asset-gate signs S3
/// (flows A and C), and every route of a gateway listener (flow D).
fn streaming_routes<'a>(cfg: &Value, hcm: &'a Value) -> Vec<&'a Value> {
    let is_s3_storage = |c: &Value| {
        c["role"] == "storage"
            && c["signing"]["service"]
                .as_str()
                .is_none_or(|s| s.starts_with("s3"))
    };
    let storage: HashSet<&str> = cfg["static_resources"]["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| plugin_configs(c).iter().any(is_s3_storage))
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    let gateway = is_gateway(hcm);
    routes(hcm)
        .into_iter()
        .filter(|r| {
            gateway
                || r["route"]["cluster"]
                    .as_str()
                    .is_some_and(|c| storage.contains(c))
        })
        .collect()
}

/// What in `cfg` would cut a stream: a finite deadline on a streaming route
/// or on its connection manager. Named `file: listener route: problem`.
fn deadlines(file: &str, cfg: &Value) -> Vec<String> {
    let mut found = vec![];
    for (listener, hcm) in connection_managers(cfg) {
        let streaming = streaming_routes(cfg, hcm);
        for r in &streaming {
            let a = &r["route"];
            let name = r["name"].as_str().unwrap_or("(unnamed)");
            let at = format!("{file}: {listener} route {name}");
            if a["timeout"] != "0s" {
                found.push(format!("{at}: timeout {} (0s: none)", a["timeout"]));
            }
            if a["idle_timeout"].is_null() || a["idle_timeout"] == "0s" {
                found.push(format!("{at}: no idle_timeout ends a stalled stream"));
            }
            if !a["max_stream_duration"].is_null() {
                found.push(format!("{at}: max_stream_duration"));
            }
        }
        if !streaming.is_empty() {
            let at = format!("{file}: {listener}");
            if !(hcm["request_timeout"].is_null() || hcm["request_timeout"] == "0s") {
                found.push(format!("{at}: request_timeout {}", hcm["request_timeout"]));
            }
            if !hcm["common_http_protocol_options"]["max_stream_duration"].is_null() {
                found.push(format!(
                    "{at}: common_http_protocol_options.max_stream_duration"
                ));
            }
        }
    }
    found
}

/// The Istio manifests' route patches to asset-gate's storage cluster:
/// the same rule as the shipped Envoy configs (no deadline on the whole
/// response, an idle timeout).
fn istio_deadlines() -> Vec<String> {
    let mut found = vec![];
    for file in [
        "istio/envoyfilter-assets.yaml",
        "istio/gateway/envoyfilter-assets-gateway.yaml",
    ] {
        let text = std::fs::read_to_string(repo().join(file)).unwrap();
        let mut seen = 0;
        for doc in text.split("\n---") {
            let doc = yaml_as_json(doc);
            let patches = doc["spec"]["configPatches"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            for p in patches {
                let route = &p["patch"]["value"]["route"];
                if route["cluster"] != "asset-gate-storage" {
                    continue;
                }
                seen += 1;
                if route["timeout"] != "0s" {
                    found.push(format!("{file}: timeout {} (0s: none)", route["timeout"]));
                }
                if route["idle_timeout"].is_null() || route["idle_timeout"] == "0s" {
                    found.push(format!("{file}: no idle_timeout ends a stalled stream"));
                }
            }
        }
        assert!(seen > 0, "{file}: no route patch to asset-gate-storage");
    }
    found
}

/// The access log fields that tell who answered a request.
const LOG_FIELDS: [&str; 5] = [
    "%UPSTREAM_CLUSTER%",
    "%ROUTE_NAME%",
    "%RESPONSE_FLAGS%",
    "%RESPONSE_CODE_DETAILS%",
    "%FILTER_STATE(wasm.asset_gate_answer:PLAIN)%",
];

/// What in `cfg` leaves operators blind: a connection manager without the
/// stdout access log and its fields, one that logs a secret, one whose
/// storage or backend failures Envoy answers without naming them.
fn blind_spots(file: &str, cfg: &Value) -> Vec<String> {
    let mut found = vec![];
    for (listener, hcm) in connection_managers(cfg) {
        let at = format!("{file}: {listener}");
        let logs: Vec<&Value> = hcm["access_log"]
            .as_array()
            .map(|a| a.iter().collect())
            .unwrap_or_default();
        let stdout = logs.iter().find(|l| {
            l["typed_config"]["@type"]
                .as_str()
                .is_some_and(|t| t.ends_with("StdoutAccessLog"))
        });
        match stdout {
            None => found.push(format!("{at}: no stdout access log")),
            Some(l) => {
                let format = l["typed_config"]["log_format"].to_string();
                for field in LOG_FIELDS {
                    if !format.contains(field) {
                        found.push(format!("{at}: the access log lacks {field}"));
                    }
                }
            }
        }
        for l in &logs {
            let format = l.to_string().to_ascii_lowercase();
            for secret in [
                "authorization",
                "cookie",
                "x-internal-redirect",
                "%req(:path)%",
            ] {
                if format.contains(secret) {
                    found.push(format!("{at}: the access log logs {secret}"));
                }
            }
        }
        let replies = hcm["local_reply_config"].to_string();
        let mut named = vec![];
        // A gateway (flow D) names storage's failures itself.
        if !streaming_routes(cfg, hcm).is_empty() && !is_gateway(hcm) {
            named.push("asset-gate: storage is unreachable".to_string());
        }
        // Flow A: the internal route (the one a redirect may enter) is
        // told apart by its name.
        for r in routes(hcm) {
            let policy = &r["route"]["internal_redirect_policy"];
            if let Some(allowed) =
                policy["predicates"][0]["typed_config"]["allowed_route_names"].as_array()
            {
                named.push("asset-gate: the auth backend is unreachable".into());
                named.push("asset-gate: the auth backend did not answer in time".into());
                for name in allowed {
                    named.push(format!("xds.route_name == '{}'", name.as_str().unwrap()));
                }
            }
        }
        for n in &named {
            if !replies.contains(n.as_str()) {
                found.push(format!("{at}: no local reply mapper with {n:?}"));
            }
        }
        if !named.is_empty() && !replies.contains("no-store") {
            found.push(format!(
                "{at}: local replies without cache-control: no-store"
            ));
        }
        // Each body a mapper sets is on the troubleshooting page, as its
        // readers see it (the cluster's name written `<name>`).
        let mappers = hcm["local_reply_config"]["mappers"].as_array();
        for m in mappers.into_iter().flatten() {
            let body = &m["body_format_override"]["text_format_source"]["inline_string"];
            let Some(body) = body.as_str() else { continue };
            let shown = body.trim_end().replace("%UPSTREAM_CLUSTER%", "<name>");
            if !TROUBLESHOOTING.contains(&format!("body `{shown}`")) {
                found.push(format!("{at}: docs/troubleshooting.md lacks {shown:?}"));
            }
        }
    }
    found
}

/// The page a user reads for a message they got.
const TROUBLESHOOTING: &str = include_str!("../../docs/troubleshooting.md");

/// Where the deployment facts of flow A (docs/deployment.md, "Deployment
/// facts that must match") disagree in `cfg`: the internal prefix, the
/// marker header, the redirect code and the `vm_id`, each stated in several
/// places.
pub(super) fn facts_disagree(file: &str, cfg: &Value) -> Vec<String> {
    let mut found = vec![];
    let plugins = plugin_configs(cfg);
    let mut vm_ids: Vec<String> = objects(cfg)
        .into_iter()
        .filter_map(|m| m.get("vm_config"))
        .map(|vm| vm["vm_id"].to_string())
        .collect();
    vm_ids.sort();
    vm_ids.dedup();
    if vm_ids.len() > 1 {
        found.push(format!("{file}: several vm_ids {vm_ids:?}"));
    }
    let clusters = cfg["static_resources"]["clusters"].as_array().unwrap();
    let cluster_plugins = |name: &str| -> Vec<Value> {
        clusters
            .iter()
            .filter(|c| c["name"] == name)
            .flat_map(plugin_configs)
            .collect()
    };
    for (listener, hcm) in connection_managers(cfg) {
        let all = routes(hcm);
        for consent in all
            .iter()
            .filter(|r| r["route"]["internal_redirect_policy"].is_object())
        {
            let at = format!("{file}: {listener} route {}", consent["name"]);
            let policy = &consent["route"]["internal_redirect_policy"];
            if policy["redirect_response_codes"] != json!([303]) {
                found.push(format!(
                    "{at}: redirect_response_codes {}",
                    policy["redirect_response_codes"]
                ));
            }
            let copied = &policy["response_headers_to_copy"];
            let Some(marker) = copied[0]
                .as_str()
                .filter(|_| copied.as_array().is_some_and(|a| a.len() == 1))
            else {
                found.push(format!("{at}: response_headers_to_copy {copied}"));
                continue;
            };
            for p in &plugins {
                let name = p["redirect"]["marker_header"]
                    .as_str()
                    .unwrap_or("x-internal-redirect");
                if name != marker {
                    found.push(format!(
                        "{at}: a placement's marker_header is {name}, the route copies {marker}"
                    ));
                }
            }
            if !hcm["route_config"]["internal_only_headers"]
                .as_array()
                .is_some_and(|h| h.iter().any(|h| h == marker))
            {
                found.push(format!("{at}: {marker} is not in internal_only_headers"));
            }
            let internal_prefixes: Vec<Value> =
                cluster_plugins(consent["route"]["cluster"].as_str().unwrap())
                    .iter()
                    .map(|c| c["redirect"]["internal_prefixes"].clone())
                    .map(|p| {
                        if p.is_null() {
                            json!(["/internal-assets/"])
                        } else {
                            p
                        }
                    })
                    .collect();
            let allowed = &policy["predicates"][0]["typed_config"]["allowed_route_names"];
            for name in allowed.as_array().into_iter().flatten() {
                let Some(internal) = all.iter().find(|r| &r["name"] == name) else {
                    found.push(format!("{at}: allowed route {name} does not exist"));
                    continue;
                };
                let prefix = &internal["match"]["prefix"];
                let requires_marker = internal["match"]["headers"].as_array().is_some_and(|h| {
                    h.iter()
                        .any(|h| h["name"] == marker && h["present_match"] == true)
                });
                if !requires_marker {
                    found.push(format!(
                        "{at}: route {name} does not require the {marker} header"
                    ));
                }
                for p in &internal_prefixes {
                    if !p.as_array().is_some_and(|p| p.contains(prefix)) {
                        found.push(format!("{at}: redirect.internal_prefixes {p} lacks the route {name}'s prefix {prefix}"));
                    }
                }
                let storage = cluster_plugins(internal["route"]["cluster"].as_str().unwrap());
                let mapped = storage.iter().any(|c| {
                    c["signing"]["buckets"]
                        .as_array()
                        .is_some_and(|b| b.iter().any(|b| &b["prefix"] == prefix))
                });
                if !mapped {
                    found.push(format!(
                        "{at}: no signing.buckets prefix {prefix} on route {name}'s cluster"
                    ));
                }
            }
        }
    }
    found
}

#[test]
fn shipped_configs_state_each_deployment_fact_alike() {
    for (file, text) in shipped_files() {
        let problems = facts_disagree(&file, &yaml_as_json(&text));
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }
    // The check can fail: each fact changed in one place of assets.yaml.
    let assets = std::fs::read_to_string(repo().join("envoy/assets.yaml")).unwrap();
    for (from, to, expected) in [
        (
            "redirect_response_codes: [303]",
            "redirect_response_codes: [307]",
            "redirect_response_codes [307]",
        ),
        (
            "allowed_route_names: [internal_assets]",
            "allowed_route_names: [internal]",
            "allowed route \"internal\" does not exist",
        ),
        (
            "internal_only_headers: [x-internal-redirect]",
            "internal_only_headers: []",
            "not in internal_only_headers",
        ),
        (
            "[\"/internal-assets/\"],\n",
            "[\"/internal/\"],\n",
            "lacks the route \"internal_assets\"'s prefix",
        ),
        (
            "{\"prefix\": \"/internal-assets/\", \"bucket\"",
            "{\"prefix\": \"/assets/\", \"bucket\"",
            "no signing.buckets prefix",
        ),
        (
            "vm_config: *asset_gate_vm",
            "vm_config: { vm_id: other, code: { local: { filename: x } } }",
            "several vm_ids",
        ),
    ] {
        let changed = assets.replacen(from, to, 1);
        assert_ne!(changed, assets, "{from}");
        let problems = facts_disagree("changed", &yaml_as_json(&changed)).join("\n");
        assert!(
            problems.contains(expected),
            "{to}: {expected} not in\n{problems}"
        );
    }
}

#[test]
fn shipped_configs_put_no_deadline_on_a_stream_and_name_who_answered() {
    let mut problems = vec![];
    for (file, text) in shipped_files() {
        let cfg = yaml_as_json(&text);
        problems.extend(deadlines(&file, &cfg));
        problems.extend(blind_spots(&file, &cfg));
    }
    problems.extend(istio_deadlines());
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    // The checks can fail: the old shape of assets.yaml (a 300 s deadline
    // on the internal route) and a log that leaks a cookie are caught.
    let assets = std::fs::read_to_string(repo().join("envoy/assets.yaml")).unwrap();
    let old = assets
        .replacen("timeout: 0s, idle_timeout: 60s", "timeout: 300s", 1)
        .replacen("\"%RESPONSE_FLAGS%\"", "\"%REQ(COOKIE)%\"", 1)
        .replacen("did not answer in time", "timed out", 1);
    assert_ne!(old, assets);
    let cfg = yaml_as_json(&old);
    let found = [deadlines("old", &cfg), blind_spots("old", &cfg)].concat();
    let found = found.join("\n");
    for expected in [
        "old: assets route internal_assets: timeout \"300s\"",
        "old: assets route internal_assets: no idle_timeout",
        "old: assets: the access log lacks %RESPONSE_FLAGS%",
        "old: assets: the access log logs cookie",
        "old: assets: docs/troubleshooting.md lacks \"asset-gate: the auth backend timed out (cluster <name>)\"",
    ] {
        assert!(found.contains(expected), "{expected} not in:\n{found}");
    }
}

/// A client reading at `rate` (curl's --limit-rate): (status, bytes read,
/// seconds, curl's exit code).
fn slow_read(url: &str, rate: &str, out: &std::path::Path) -> (u16, u64, f64, i32) {
    let o = Command::new("curl")
        .args(["-sS", "--max-time", "60", "--limit-rate", rate, "-o"])
        .arg(out)
        .args([
            "-w",
            "%{http_code} %{size_download} %{time_total}",
            "-H",
            TOKEN,
            url,
        ])
        .output()
        .expect("run curl");
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    let mut parts = text.split_whitespace();
    let mut next = || parts.next().unwrap_or("0").to_string();
    let (status, bytes, secs) = (next(), next(), next());
    (
        status.parse().unwrap_or(0),
        bytes.parse().unwrap_or(0),
        secs.parse().unwrap_or(0.0),
        o.status.code().unwrap_or(-1),
    )
}

#[test]
fn a_download_slower_than_the_old_route_timeout_completes() {
    // 48 MiB read at 8 MiB/s: about 6 s, twice the old deadline scaled down
    // here (3 s for the 300 s the shipped files had). Envoy and the kernel
    // buffer about 10 MiB, so the old shape's cut lands well inside the body.
    const SIZE: usize = 48 << 20;
    const RATE: &str = "8M";
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.bin");
    let (s3, auth) = std::thread::scope(|s| {
        s.spawn(|| write_random_file(&big, SIZE, 48));
        let auth = s.spawn(|| Backend::start("auth", json!({"style": "accel"})));
        let s3 = S3::start(&["my-assets"], vec![Identity::admin(AK, SK)]);
        (s3, auth.join().unwrap())
    });
    let clusters = [("auth_backend", auth.port), ("storage", s3.port)];
    let patches = [("asset_gate_storage", to_seaweedfs(&s3))];
    let old_route = [(
        "internal_assets",
        json!({"timeout": "3s", "idle_timeout": null}),
    )];
    let start = |routes: &[(&str, Value)]| {
        let yaml = shipped_config_routes("assets.yaml", &clusters, &patches, routes);
        Envoy::start(&yaml, &[], env_credentials())
    };
    let (as_shipped, old_shape) = std::thread::scope(|s| {
        let as_shipped = s.spawn(|| start(&[]));
        let old_shape = s.spawn(|| start(&old_route));
        let path = big.to_str().unwrap();
        let r = s3.signed_curl(&s3.identities[0], &["-T", path], "/my-assets/big.bin");
        assert_eq!(r.status, 200, "seed: {}", r.text());
        (as_shipped.join().unwrap(), old_shape.join().unwrap())
    });

    let (new_out, old_out) = (dir.path().join("new.bin"), dir.path().join("old.bin"));
    let new_url = as_shipped.url("assets", "/assets/big.bin");
    let old_url = old_shape.url("assets", "/assets/big.bin");
    let (new, old) = std::thread::scope(|s| {
        let new = s.spawn(|| slow_read(&new_url, RATE, &new_out));
        let old = s.spawn(|| slow_read(&old_url, RATE, &old_out));
        (new.join().unwrap(), old.join().unwrap())
    });

    // The old shape: a 200, then the route timeout fires while the client
    // is still reading, and the body is cut; Envoy counts no 5xx.
    let (status, bytes, secs, exit) = old;
    assert_eq!(status, 200, "old shape: {old:?}");
    assert!(
        bytes > 0 && bytes < SIZE as u64 && exit != 0,
        "the old shape did not cut the slow reader: {old:?}"
    );
    assert!(secs >= 3.0, "{old:?}");
    assert_eq!(old_shape.stat("cluster.storage.upstream_rq_timeout"), 1);
    assert_eq!(old_shape.stat("http.assets.downstream_rq_5xx"), 0);

    // As shipped: the same reader gets every byte, reading well past 3 s.
    let (status, bytes, secs, exit) = new;
    assert_eq!(
        (status, bytes, exit),
        (200, SIZE as u64, 0),
        "as shipped: {new:?}"
    );
    assert!(
        secs > 4.0,
        "the reader was not slow enough to prove anything: {new:?}"
    );
    assert!(std::fs::read(&new_out).unwrap() == std::fs::read(&big).unwrap());
    assert_eq!(as_shipped.stat("cluster.storage.upstream_rq_timeout"), 0);
}

/// The access log lines Envoy has written (it buffers them: /reopen_logs
/// flushes), once `ready` holds for them.
fn access_log(envoy: &Envoy, ready: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let read = || -> Vec<Value> {
        envoy
            .log()
            .lines()
            .filter(|l| l.starts_with('{'))
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    wait_until("the access log", Duration::from_secs(10), || {
        curl(&["-X", "POST", &envoy.admin_url("/reopen_logs")]);
        ready(&read())
    });
    read()
}

fn line<'a>(lines: &'a [Value], status: u64, path: &str) -> &'a Value {
    lines
        .iter()
        .find(|l| l["status"] == status && l["path"] == path)
        .unwrap_or_else(|| panic!("no {status} for {path} in {lines:#?}"))
}

#[test]
fn the_access_log_tells_storage_the_backend_and_asset_gate_apart() {
    let s3 = S3::start(&["my-assets"], vec![Identity::admin(AK, SK)]);
    put_object(&s3, "/my-assets/hello.txt", b"hello\n");
    let auth = Backend::start("auth", json!({"style": "accel"}));
    let yaml = shipped_config_routes(
        "assets.yaml",
        &[("auth_backend", auth.port), ("storage", s3.port)],
        &[("asset_gate_storage", to_seaweedfs(&s3))],
        &[],
    );
    let envoy = Envoy::start(&yaml, &[], env_credentials());
    let url = |p: &str| envoy.url("assets", p);
    let cookie = "Cookie: session=demo-session";
    // Storage's answer, the backend's refusal, asset-gate's own refusal.
    let r = curl(&[
        "-H",
        TOKEN,
        "-H",
        cookie,
        &url("/assets/hello.txt?token=in-the-query"),
    ]);
    assert_eq!(r.status, 200, "{}", r.text());
    let r = curl(&[&url("/assets/hello.txt")]);
    assert_eq!(r.status, 403, "{}", r.text());
    let r = curl(&["-H", TOKEN, &url("/assets/%2e%2e/hello.txt")]);
    assert_eq!(r.status, 404, "{}", r.text());
    assert!(r.text().starts_with("asset-gate: "), "{}", r.text());

    let lines = access_log(&envoy, |l| l.len() >= 4);
    // The consent: the backend's answer became asset-gate's 303, which
    // Envoy followed; then storage's answer on the internal route.
    let consent = line(&lines, 303, "/internal-assets/hello.txt");
    assert_eq!(consent["details"], "internal_redirect", "{consent}");
    let storage = line(&lines, 200, "/my-assets/hello.txt");
    assert_eq!(
        (
            &storage["route"],
            &storage["upstream"],
            &storage["details"],
            &storage["flags"]
        ),
        (
            &json!("internal_assets"),
            &json!("storage"),
            &json!("via_upstream"),
            &json!("-")
        ),
        "{storage}"
    );
    let backend = line(&lines, 403, "/assets/hello.txt");
    assert_eq!(
        (
            &backend["route"],
            &backend["upstream"],
            &backend["details"],
            &backend["flags"]
        ),
        (
            &json!("assets"),
            &json!("auth_backend"),
            &json!("via_upstream"),
            &json!("-")
        ),
        "{backend}"
    );
    // asset-gate answered on the backend's route: not via_upstream, and no
    // Envoy failure flag.
    let own = line(&lines, 404, "/assets/%2e%2e/hello.txt");
    assert_eq!(
        (&own["route"], &own["flags"]),
        (&json!("assets"), &json!("-")),
        "{own}"
    );
    assert_ne!(own["details"], "via_upstream", "{own}");
    // Which answer it was, by its id; the others were not asset-gate's.
    let id = asset_gate_core::answers::Answer::UnsafeTarget.id();
    assert_eq!(own["asset_gate"], json!(id), "{own}");
    for passed in [&storage, &backend] {
        assert_eq!(passed["asset_gate"], Value::Null, "{passed}");
    }
    // No query, credential or marker in the log.
    let log = envoy.log();
    for secret in [
        "in-the-query",
        "demo-token",
        "demo-session",
        "x-internal-redirect",
    ] {
        assert!(!log.contains(secret), "{secret} in the log");
    }
}

/// A port nothing listens on.
fn dead_port() -> u16 {
    free_ports(1)[0]
}

fn assert_named(r: &Response, status: u16, body: &str) {
    assert_eq!((r.status, r.text().as_str()), (status, body), "{r:?}");
    assert_eq!(r.header("cache-control"), Some("no-store"), "{r:?}");
}

#[test]
fn unreachable_storage_and_backends_are_named() {
    // Flow A: the backend consents, storage is down; then the backend is
    // down; then it accepts and never answers (the consent route's timeout,
    // shortened here).
    let auth = Backend::start("auth", json!({"style": "accel"}));
    let auth_port = auth.port;
    let yaml = shipped_config_routes(
        "assets.yaml",
        &[("auth_backend", auth_port), ("storage", dead_port())],
        &[],
        &[("assets", json!({"timeout": "1s"}))],
    );
    let envoy = Envoy::start(&yaml, &[], env_credentials());
    let url = envoy.url("assets", "/assets/hello.txt");
    let r = curl(&["-H", TOKEN, &url]);
    assert_named(
        &r,
        503,
        "asset-gate: storage is unreachable (cluster storage)\n",
    );
    drop(auth);
    let r = curl(&["-H", TOKEN, &url]);
    assert_named(
        &r,
        503,
        "asset-gate: the auth backend is unreachable (cluster auth_backend)\n",
    );
    let silent = std::net::TcpListener::bind(("127.0.0.1", auth_port)).unwrap();
    let r = curl(&["-H", TOKEN, &url]);
    assert_named(
        &r,
        504,
        "asset-gate: the auth backend did not answer in time (cluster auth_backend)\n",
    );
    drop(silent);
    let lines = access_log(&envoy, |l| l.len() >= 4);
    assert!(
        lines.iter().any(|l| l["flags"] == "UF"
            && l["upstream"] == "storage"
            && l["route"] == "internal_assets"),
        "{lines:#?}"
    );

    // Flow C: S3 and API Gateway down.
    let yaml = shipped_config_routes(
        "signing-edge.yaml",
        &[("s3", dead_port()), ("execute_api", dead_port())],
        &[],
        &[],
    );
    let envoy = Envoy::start(&yaml, &[], env_credentials());
    let r = curl(&[&envoy.url("s3", "/my-bucket/a.txt")]);
    assert_named(&r, 503, "asset-gate: storage is unreachable (cluster s3)\n");
    let r = curl(&[&envoy.url("execute_api", "/prod/items")]);
    assert_named(
        &r,
        503,
        "asset-gate: the API is unreachable (cluster execute_api)\n",
    );

    // Flow D: the gateway names both failures itself.
    let auth = Backend::start("gateway", json!({}));
    let yaml = shipped_config_routes(
        "gateway.yaml",
        &[("auth_backend", auth.port), ("storage", dead_port())],
        &[],
        &[],
    );
    let envoy = Envoy::start(&yaml, &[], env_credentials());
    let url = envoy.url("gateway", "/hello.txt");
    let r = curl(&["-H", TOKEN, &url]);
    assert_eq!(r.status, 503, "{}", r.text());
    assert!(r.text().contains("storage"), "{}", r.text());
    drop(auth);
    let r = curl(&["-H", TOKEN, &url]);
    assert_eq!(r.status, 503, "{}", r.text());
    assert_eq!(r.text(), "asset-gate: the auth backend is unavailable\n");
}
