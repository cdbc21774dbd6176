//! docs/your-app.md, step by step: `make storage` (demo/storage.py) and its
//! printed upload command, the example app started from examples/flask-app/,
//! and the shipped envoy/assets.yaml with exactly the page's diff applied
//! (by `patch`, from the page itself); only the ports are moved to free ones.
//! A browser's requests: the page, a login, the picture, the PDF and the
//! video as Range requests.

use super::shipped_configs::{facts_disagree, yaml_as_json};
use crate::harness::*;
use std::process::{Command, Stdio};
use std::time::Duration;

/// `make storage` on `port`: the process and the lines it printed once up.
fn start_storage(port: u16) -> (Proc, Vec<String>) {
    let mut storage = Proc::spawn(
        "make storage",
        Command::new(venv_bin("python"))
            .arg(repo().join("demo/storage.py"))
            .env("ASSET_GATE_S3_PORT", port.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit()),
    );
    let printed = storage.printed_until("Ctrl-C stops it", Duration::from_secs(60));
    (storage, printed)
}

/// `text` with `from` replaced by `to`, which must be there.
fn moved(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "{from} not in the config");
    text.replace(from, to)
}

#[test]
fn the_example_app_behind_the_shipped_assets_yaml() {
    let p = free_ports(4);
    let (s3_port, app_port, listener, admin) = (p[0], p[1], p[2], p[3]);
    let (_storage, printed) = start_storage(s3_port);
    let printed = printed.join("\n");
    assert!(
        printed.contains(&format!("endpoint  http://127.0.0.1:{s3_port}")),
        "{printed}"
    );
    assert!(printed.contains("bucket    my-assets"), "{printed}");

    // The media, uploaded with the printed command from the folder above media/.
    let dir = tempfile::tempdir().unwrap();
    let media = dir.path().join("media");
    std::fs::create_dir(&media).unwrap();
    let photo = [b"\xff\xd8\xff\xe0\x00\x10JFIF\x00".as_slice(), &[7; 600]].concat();
    let pdf = b"%PDF-1.4\n% the guide\n%%EOF\n".to_vec();
    let clip_path = media.join("clip.mp4");
    write_random_file(&clip_path, 300_000, 4);
    let clip = std::fs::read(&clip_path).unwrap();
    std::fs::write(media.join("photo.jpg"), &photo).unwrap();
    std::fs::write(media.join("guide.pdf"), &pdf).unwrap();
    let upload = printed
        .lines()
        .find(|l| l.contains(" s3 sync media/ "))
        .unwrap_or_else(|| panic!("no upload command in\n{printed}"));
    let out = Command::new("bash")
        .args(["-c", upload])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{upload}: {out:?}");
    let keys: Vec<(String, String)> = printed
        .lines()
        .find(|l| l.trim_start().starts_with("keys "))
        .unwrap()
        .split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(keys.len(), 2, "{printed}");

    // The app, as the page starts it.
    let _app = Proc::spawn(
        "flask app",
        Command::new(venv_bin("python"))
            .arg(repo().join("examples/flask-app/app.py"))
            .env("PORT", app_port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    wait_until("the app", Duration::from_secs(20), || {
        curl(&[&format!("http://127.0.0.1:{app_port}/")]).status == 200
    });

    // The page's edits: its diff, applied to the shipped file by `patch`.
    let local = dir.path().join("envoy-local.yaml");
    std::fs::copy(repo().join("envoy/assets.yaml"), &local).unwrap();
    let out = Command::new("patch")
        .arg(&local)
        .arg(repo().join("docs/your-app.md"))
        .output()
        .expect("run patch");
    assert!(
        out.status.success(),
        "docs/your-app.md's diff no longer applies to envoy/assets.yaml: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let yaml = std::fs::read_to_string(&local).unwrap();
    let problems = facts_disagree("envoy-local.yaml", &yaml_as_json(&yaml));
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // Only the ports (and the module's path) differ from the page's.
    let yaml = moved(
        &yaml,
        "port_value: 8080",
        &format!("port_value: {listener}"),
    );
    let yaml = moved(&yaml, "port_value: 9901", &format!("port_value: {admin}"));
    let yaml = moved(
        &yaml,
        "port_value: 5000",
        &format!("port_value: {app_port}"),
    );
    let yaml = moved(&yaml, "port_value: 8333", &format!("port_value: {s3_port}"));
    let yaml = moved(&yaml, "127.0.0.1:8333", &format!("127.0.0.1:{s3_port}"));
    let yaml = moved(&yaml, "dist/asset_gate.wasm", &wasm().display().to_string());
    let envoy = Envoy::start(
        &yaml,
        &[],
        EnvoyOptions {
            env: keys,
            ..EnvoyOptions::default()
        },
    );
    let url = |p: &str| envoy.url("assets", p);

    // Logged out: the app's 403, and its login form.
    let r = curl(&[&url("/media/photo.jpg")]);
    assert_eq!(r.status, 403, "{}", r.text());
    let r = curl(&[&url("/")]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("action=\"/login\""), "{}", r.text());

    // A login, then the page with the picture, the video and the PDF.
    let jar = dir.path().join("cookies");
    let jar = jar.to_str().unwrap();
    let r = curl(&["-c", jar, "-d", "user=alice", &url("/login")]);
    assert_eq!(r.status, 303, "{}", r.text());
    let r = curl(&["-b", jar, &url("/")]);
    assert_eq!(r.status, 200);
    for element in [
        "<img src=\"/media/photo.jpg\"",
        "<video src=\"/media/clip.mp4\" controls",
        "<a href=\"/media/guide.pdf\">",
    ] {
        assert!(r.text().contains(element), "{element} not in {}", r.text());
    }

    let r = curl(&["-b", jar, &url("/media/photo.jpg")]);
    assert_eq!(
        (r.status, r.header("content-type")),
        (200, Some("image/jpeg"))
    );
    assert_eq!(r.body, photo);
    let r = curl(&["-b", jar, &url("/media/guide.pdf")]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/pdf"));
    assert_eq!(
        r.header("content-disposition"),
        Some("attachment; filename=guide.pdf")
    );
    assert_eq!(r.body, pdf);

    // The video, as a browser seeks: the start, then a range near the end.
    let size = clip.len();
    for (range, first, last) in [
        ("bytes=0-1023".to_string(), 0, 1023),
        (format!("bytes={}-", size - 5000), size - 5000, size - 1),
    ] {
        let r = curl(&[
            "-b",
            jar,
            "-H",
            &format!("Range: {range}"),
            &url("/media/clip.mp4"),
        ]);
        assert_eq!(r.status, 206, "{range}: {}", r.text());
        assert_eq!(
            r.header("content-range"),
            Some(format!("bytes {first}-{last}/{size}").as_str())
        );
        assert_eq!(r.header("content-type"), Some("video/mp4"));
        assert_eq!(r.header("accept-ranges"), Some("bytes"));
        assert_eq!(r.body, clip[first..=last]);
    }
}
