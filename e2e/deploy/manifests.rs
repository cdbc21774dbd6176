//! The deployment files users adopt asset-gate through (istio/, docker-compose.yaml)
//! are valid: `e2e/fixtures/validate_manifests.py` parses them, renders the
//! kustomizations with the real `kubectl kustomize`, validates Istio kinds
//! against the strict CRD schemas in `../shared/schemas`, Kubernetes kinds
//! offline with kubernetes-validate, checks that the pieces fit together, and
//! runs the Envoy config inside every EnvoyFilter / WasmPlugin through the
//! real Envoy 1.40 (`--mode validate`, which runs asset-gate's on_configure).
//! The Compose file is validated against the Compose Specification schema.

use crate::harness::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The third-party schemas are read from `../shared/schemas` and never
/// committed; absent, they fail the test under CI and are skipped otherwise.
fn schemas() -> Option<PathBuf> {
    shared_data("schemas", "Istio CRD and Compose Specification schemas")
}

struct Outcome {
    ok: bool,
    log: String,
}

fn validate(root: &Path) -> Outcome {
    validate_with(root, &[])
}

fn validate_with(root: &Path, extra: &[&str]) -> Outcome {
    let mut cmd = Command::new(venv_bin("python"));
    cmd.arg(repo().join("e2e/fixtures/validate_manifests.py"))
        .args(extra)
        .arg("--root")
        .arg(root)
        .arg("--wasm")
        .arg(wasm())
        .arg("--envoy")
        .arg(venv_bin("envoy"))
        .arg("--kubectl")
        .arg(venv_bin("kubectl"));
    if let Some(schemas) = schemas() {
        cmd.arg("--schemas").arg(schemas);
    }
    let out = cmd.output().expect("run validate_manifests.py");
    Outcome {
        ok: out.status.success(),
        log: String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr),
    }
}

/// The files the validator reads, copied so that a test can break them.
fn scratch_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let files = [
        "docker-compose.yaml",
        "Dockerfile",
        "Dockerfile.dockerignore",
        "docker/seaweedfs-identities.json",
        "envoy/compose.yaml",
        "e2e/fixtures/backends.py",
    ];
    for f in files {
        copy(&repo().join(f), &dir.path().join(f));
    }
    copy_dir(&repo().join("istio"), &dir.path().join("istio"));
    dir
}

fn copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    std::fs::copy(from, to).unwrap_or_else(|e| panic!("copy {}: {e}", from.display()));
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let path = entry.path();
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&path, &to.join(entry.file_name()));
        } else if path.extension().is_some_and(|e| e == "yaml") {
            // Not the user's copy of the module: the validator brings the built one.
            copy(&path, &to.join(entry.file_name()));
        }
    }
}

/// Replaces `from` by `to` once in `file`, which must contain it.
fn break_file(root: &Path, file: &str, from: &str, to: &str) {
    let path = root.join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{file} no longer contains {from:?}");
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
}

fn failed_lines(log: &str) -> String {
    log.lines()
        .filter(|l| l.starts_with("FAILED") || l.starts_with("    "))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn shipped_deployment_files_validate() {
    let r = validate(&repo());
    eprintln!("{}", r.log);
    assert!(
        r.ok,
        "deployment files failed validation:\n{}",
        failed_lines(&r.log)
    );
    assert!(r
        .log
        .contains("envoy --mode validate: EnvoyFilter/asset-gate-assets"));
    assert!(r
        .log
        .contains("envoy --mode validate: WasmPlugin/asset-gate-header-augment"));
    assert!(r.log.contains("kubectl kustomize istio/wasmplugin/"));
    assert!(r
        .log
        .contains("envoy --mode validate: EnvoyFilter/asset-gate-assets-gateway"));
    if schemas().is_some() {
        assert!(r.log.contains("Compose Specification schema"));
        assert!(r.log.contains("EnvoyFilter schema"));
    } else {
        assert!(r.log.contains("skipped: ../shared/schemas not found"));
    }
}

/// Each case: (file, text, replacement, what the validator must report,
/// whether the report needs ../shared/schemas).
type Case = (&'static str, &'static str, &'static str, &'static str, bool);

/// Breaks several files at once (independent mistakes that do not hide each
/// other) and checks that every one is reported.
fn assert_rejected(name: &str, cases: &[Case], with_envoy: bool) {
    let dir = scratch_copy();
    for (file, from, to, _, _) in cases {
        break_file(dir.path(), file, from, to);
    }
    // Envoy only where a case needs it: it is the slow part.
    let r = validate_with(dir.path(), if with_envoy { &[] } else { &["--skip-envoy"] });
    assert!(!r.ok, "{name}: broken files passed validation:\n{}", r.log);
    let failed = failed_lines(&r.log);
    let have_schemas = schemas().is_some();
    for (file, _, _, expect, needs_schemas) in cases {
        if *needs_schemas && !have_schemas {
            eprintln!("skipped: ../shared/schemas not found (case {file}: {expect})");
            continue;
        }
        assert!(
            failed.contains(expect),
            "{name}: breaking {file} should report {expect:?}; failures were:\n{failed}"
        );
    }
    eprintln!("{name}: rejected as expected:\n{failed}");
}

#[test]
fn validation_rejects_broken_manifests() {
    let schema_and_kind_errors: &[Case] = &[
        // A misspelt EnvoyFilter field (kubectl's strict field validation would refuse it).
        (
            "istio/envoyfilter-header-augment.yaml",
            "  workloadSelector:",
            "  workloadSelecter:",
            "('workloadSelecter' was unexpected)",
            true,
        ),
        // A WasmPlugin API version Istio does not serve.
        (
            "istio/wasmplugin/wasmplugin.yaml",
            "apiVersion: extensions.istio.io/v1alpha1",
            "apiVersion: extensions.istio.io/v1",
            "apiVersion 'extensions.istio.io/v1' kind 'WasmPlugin' is none of",
            false,
        ),
        // A misspelt Deployment field, caught by the strict Kubernetes schema.
        (
            "istio/base/auth-backend.yaml",
            "  replicas: 1",
            "  replica: 1",
            "('replica' was unexpected)",
            false,
        ),
        // A misspelt Compose key.
        (
            "docker-compose.yaml",
            "    depends_on:",
            "    dependson:",
            "docker-compose.yaml: Compose Specification schema",
            true,
        ),
    ];
    let semantic_errors: &[Case] = &[
        // A typo inside asset-gate's own JSON configuration in an EnvoyFilter
        // patch: only the module's on_configure (in real Envoy) sees it.
        (
            "istio/envoyfilter-assets.yaml",
            r#"value: '{"role": "auth_backend","#,
            r#"value: '{"rolle": "auth_backend","#,
            "envoy --mode validate: EnvoyFilter/asset-gate-assets",
            false,
        ),
        // A bad value in a WasmPlugin's pluginConfig: the module's log line
        // names the field.
        (
            "istio/wasmplugin/wasmplugin.yaml",
            "    header_failure_policy: deny",
            "    header_failure_policy: sometimes",
            "field `header_failure_policy`",
            false,
        ),
        // Flow D's WasmPlugin on the ingress gateway: a bad gateway key is
        // named by on_configure, and the module path must be the mount.
        (
            "istio/gateway/wasmplugin-gateway.yaml",
            "      auth_timeout: 5s",
            "      auth_timeout: forever",
            "field `gateway.auth_timeout`",
            false,
        ),
        (
            "istio/gateway/wasmplugin-gateway.yaml",
            "url: file:///var/local/wasm/asset_gate.wasm",
            "url: file:///var/lib/wasm/asset_gate.wasm",
            "WasmPlugin/asset-gate-files-gateway loads the module the patch mounts",
            false,
        ),
        // Flow D's WasmPlugin without its port match would gate every
        // listener of the ingress gateway.
        (
            "istio/gateway/wasmplugin-gateway.yaml",
            "  match:\n  - mode: CLIENT\n    ports:\n    - number: 8443\n",
            "",
            "the gateway role runs on its own listener port only",
            false,
        ),
        // The sidecar mount and the path the filters load no longer agree.
        (
            "istio/base/wasm-volume-patch.yaml",
            r#""mountPath":"/var/local/wasm""#,
            r#""mountPath":"/var/lib/wasm""#,
            "loads the module from the sidecar's ConfigMap mount",
            false,
        ),
        // A subPath mount never sees ConfigMap updates.
        (
            "istio/gateway/gateway-wasm-volume-patch.yaml",
            "          readOnly: true\n",
            "          readOnly: true\n          subPath: asset_gate.wasm\n",
            "mount asset-gate-wasm has no subPath",
            false,
        ),
        // Compose mounts an Envoy config that is not in the repository.
        (
            "docker-compose.yaml",
            "./envoy/compose.yaml:",
            "./envoy/missing.yaml:",
            "mounts ./envoy/missing.yaml, which exists in the repository",
            false,
        ),
    ];
    let render_errors: &[Case] = &[
        // kustomize refuses unknown kustomization fields.
        (
            "istio/kustomization.yaml",
            "\nresources:",
            "\nresourcez:",
            "kubectl kustomize istio/",
            false,
        ),
    ];
    let runs = [
        ("schema and kind errors", schema_and_kind_errors, false),
        ("semantic errors", semantic_errors, true),
        ("render errors", render_errors, false),
    ];
    std::thread::scope(|s| {
        let handles: Vec<_> = runs
            .iter()
            .map(|(name, cases, envoy)| s.spawn(move || assert_rejected(name, cases, *envoy)))
            .collect();
        for h in handles {
            if let Err(e) = h.join() {
                std::panic::resume_unwind(e);
            }
        }
    });
}
