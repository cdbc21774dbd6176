//! `make demo` comes up and the commands it prints work (run here on free
//! ports through the same environment variables a user would set).

use crate::harness::*;
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn demo_comes_up_and_its_printed_commands_work() {
    let p = free_ports(10);
    let (assets, edge, admin, s3, auth) = (p[0], p[1], p[2], p[3], p[4]);
    let (provider, echo, gateway, gateway_auth) = (p[5], p[6], p[7], p[8]);
    let headers = p[9];
    let mut demo = Proc::spawn(
        "demo",
        Command::new(venv_bin("python"))
            .arg(repo().join("demo/run.py"))
            .env("ASSET_GATE_ASSETS_PORT", assets.to_string())
            .env("ASSET_GATE_EDGE_PORT", edge.to_string())
            .env("ASSET_GATE_ADMIN_PORT", admin.to_string())
            .env("ASSET_GATE_S3_PORT", s3.to_string())
            .env("ASSET_GATE_AUTH_PORT", auth.to_string())
            .env("ASSET_GATE_PROVIDER_PORT", provider.to_string())
            .env("ASSET_GATE_ECHO_PORT", echo.to_string())
            .env("ASSET_GATE_GATEWAY_PORT", gateway.to_string())
            .env("ASSET_GATE_GATEWAY_AUTH_PORT", gateway_auth.to_string())
            .env("ASSET_GATE_HEADERS_PORT", headers.to_string())
            .env("ASSET_GATE_WASM", wasm())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit()),
    );
    let printed = demo.printed_until("Ctrl-C stops everything", Duration::from_secs(90));
    let text = printed.join("\n");
    // The printed commands name the ports the demo really listens on.
    assert!(
        text.contains(&format!("http://localhost:{assets}/assets/hello.txt")),
        "{text}"
    );
    assert!(
        text.contains(&format!("http://localhost:{edge}/assets/public/hello.txt")),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "http://localhost:{assets}/internal-assets/hello.txt"
        )),
        "{text}"
    );

    let url = |port: u16, path: &str| format!("http://localhost:{port}{path}");
    let token = "Authorization: Bearer demo-token";
    let r = curl(&["-H", token, &url(assets, "/assets/hello.txt")]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        r.text().starts_with("Hello from asset-gate"),
        "{}",
        r.text()
    );
    let r = curl(&[
        "-H",
        "Cookie: session=demo-session",
        &url(assets, "/assets/docs/readme.md"),
    ]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(curl(&[&url(assets, "/assets/hello.txt")]).status, 403);
    assert_eq!(
        curl(&["-H", token, &url(assets, "/assets/secret.txt")]).status,
        403
    );
    let r = curl(&[
        "-H",
        "x-internal-redirect: true",
        &url(assets, "/internal-assets/hello.txt"),
    ]);
    assert_eq!(r.status, 404, "spoof attempt: {}", r.text());
    let r = curl(&["-H", token, &url(assets, "/assets/%2e%2e/hello.txt")]);
    assert_eq!(r.status, 404, "unsafe path: {}", r.text());

    // header augmentation (the first poll happens within a tick of start-up)
    wait_until("provider headers", Duration::from_secs(10), || {
        curl(&[&url(headers, "/echo/")])
            .text()
            .contains("demo-idp-token")
    });

    let r = curl(&[&url(edge, "/assets/public/hello.txt")]);
    assert_eq!(r.status, 200, "{}", r.text());
    let r = curl(&[&url(edge, "/assets?list-type=2&prefix=public/")]);
    assert!(
        r.text().contains("<Key>public/hello.txt</Key>"),
        "{}",
        r.text()
    );
    // The edge is scoped: what flows A and D deny stays out of reach of
    // any local client without credentials.
    for path in [
        "/assets/secret.txt",
        "/assets/hello.txt",
        "/assets?list-type=2",
        "/assets/uploads/x",
    ] {
        let r = curl(&[&url(edge, path)]);
        assert_eq!(r.status, 403, "{path}: {}", r.text());
        assert!(
            r.text().starts_with("asset-gate: this signing edge"),
            "{path}: {}",
            r.text()
        );
    }
    let readme = repo().join("README.md");
    let r = curl(&[
        "-T",
        readme.to_str().unwrap(),
        &url(edge, "/assets/public/uploaded/README.md"),
    ]);
    assert_eq!(r.status, 200, "{}", r.text());
    let ls = Command::new(venv_bin("aws"))
        .args([
            "--no-sign-request",
            "--endpoint-url",
            &url(edge, ""),
            "s3",
            "ls",
            "s3://assets/public/",
            "--recursive",
        ])
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .output()
        .expect("aws s3 ls");
    let listing = String::from_utf8_lossy(&ls.stdout);
    assert!(
        ls.status.success() && listing.contains("uploaded/README.md"),
        "{listing}"
    );
    assert_eq!(
        curl(&[&url(s3, "/assets/hello.txt")]).status,
        403,
        "S3 must need a signature"
    );
    // Flow D, as printed: a streamed upload under uploads/, read back; no
    // token: 403 and nothing stored; a presigned redirect whose Location
    // plain curl fetches straight from S3.
    let g = |path: &str| url(gateway, path);
    assert!(
        text.contains(&format!(
            "-T big.bin -H 'Authorization: Bearer demo-token' {}",
            g("/uploads/big.bin")
        )),
        "{text}"
    );
    assert!(text.contains(&g("/presigned/hello.txt")), "{text}");
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.bin");
    write_random_file(&big, 20 << 20, 11);
    let big = big.to_str().unwrap();
    let r = curl(&["-T", big, "-H", token, &g("/uploads/big.bin")]);
    assert_eq!(r.status, 200, "{}", r.text());
    let back = dir.path().join("back.bin");
    assert_eq!(
        curl_download(&["-H", token], &g("/uploads/big.bin"), &back),
        200
    );
    assert_eq!(sha256_file(&back), sha256_file(std::path::Path::new(big)));
    let r = curl(&["-T", big, &g("/uploads/anonymous.bin")]);
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(
        curl(&["-H", token, &g("/uploads/anonymous.bin")]).status,
        404
    );
    let r = curl(&["-H", token, &g("/presigned/hello.txt")]);
    assert_eq!(r.status, 302, "{}", r.text());
    let location = r.header("location").unwrap().to_string();
    assert!(
        location.starts_with(&format!("http://localhost:{s3}/assets/hello.txt?")),
        "{location}"
    );
    let r = curl(&[&location]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        r.text().starts_with("Hello from asset-gate"),
        "{}",
        r.text()
    );

    let stats = curl(&[&url(admin, "/stats")]).text();
    assert!(
        stats.contains("wasmcustom.asset_gate.asset_gate_storage.requests_signed"),
        "no metrics"
    );

    // Ctrl-C stops every child.
    // SAFETY: signalling our own child process.
    unsafe {
        kill(demo.pid() as i32, 2);
    }
    assert!(
        demo.wait_exit(Duration::from_secs(20)).is_some(),
        "demo did not stop on SIGINT"
    );
    std::thread::sleep(Duration::from_millis(300));
    for port in [
        assets,
        edge,
        admin,
        s3,
        auth,
        provider,
        echo,
        gateway,
        gateway_auth,
    ] {
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
            "port {port} still served after Ctrl-C"
        );
    }
}

extern "C" {
    fn kill(pid: i32, sig: i32) -> i32;
}
