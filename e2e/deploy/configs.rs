//! Every shipped Envoy config loads in the real Envoy 1.40 it targets
//! (`envoy --mode validate`, which also runs asset-gate's `on_configure`
//! on every filter configuration in it).

use crate::harness::*;
use std::process::Command;

/// Paths the shipped files use for the module, replaced by the built one.
const WASM_PATHS: [&str; 2] = ["/etc/envoy/asset_gate.wasm", "dist/asset_gate.wasm"];

fn validate(name: &str, yaml: &str) -> Result<(), String> {
    let mut rendered = yaml.to_string();
    for p in WASM_PATHS {
        rendered = rendered.replace(p, "@WASM@");
    }
    let rendered = rendered.replace("@WASM@", &wasm().display().to_string());
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join(name);
    std::fs::write(&cfg, rendered).unwrap();
    let out = Command::new(venv_bin("envoy"))
        .args([
            "--mode",
            "validate",
            "--disable-hot-restart",
            "-l",
            "info",
            "-c",
        ])
        .arg(&cfg)
        .output()
        .expect("run envoy --mode validate");
    let log =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    if out.status.success() && log.contains("OK") {
        Ok(())
    } else {
        Err(format!("{name}: {}\n{}", out.status, tail(&log, 15)))
    }
}

#[test]
fn every_shipped_envoy_config_validates() {
    let dir = repo().join("envoy");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    names.sort();
    assert!(
        names.len() >= 2,
        "expected shipped configs in envoy/: {names:?}"
    );
    let failures: Vec<String> = names
        .iter()
        .map(|n| {
            let yaml = std::fs::read_to_string(dir.join(n)).unwrap();
            let n = n.clone();
            std::thread::spawn(move || validate(&n, &yaml))
        })
        .collect::<Vec<_>>()
        .into_iter()
        .filter_map(|h| h.join().unwrap().err())
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    eprintln!("validated: {}", names.join(", "));
}

#[test]
fn validation_catches_a_broken_asset_gate_config() {
    // The check above must be able to fail: a typo in a shipped filter config.
    let yaml = std::fs::read_to_string(repo().join("envoy/assets.yaml")).unwrap();
    let broken = yaml.replacen("\"role\": \"edge\"", "\"role\": \"edge\", \"rolle\": 1", 1);
    assert_ne!(broken, yaml);
    let err = validate("broken.yaml", &broken).expect_err("a broken config must not validate");
    assert!(err.contains("rolle"), "{err}");
}
