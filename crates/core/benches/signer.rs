//! Native micro-benchmark of the per-request signing path (`cargo bench
//! --bench signer`, part of `make bench`). Without `--bench` (as under
//! `cargo test --all-targets`) it runs each case once as a smoke test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use asset_gate_core::sigv4::{
    self, Credentials, HeaderSigning, Request, Scope, SigningKeyCache, UNSIGNED_PAYLOAD,
};
use std::hint::black_box;
use std::time::Instant;

fn case(name: &str, iterations: u32, mut f: impl FnMut()) {
    f(); // warm-up
    let start = Instant::now();
    for _ in 0..iterations {
        f();
    }
    let ns = start.elapsed().as_nanos() as f64 / f64::from(iterations);
    println!("{name:<48} {ns:>10.0} ns/op  ({iterations} iterations)");
}

fn main() {
    let benchmarking = std::env::args().any(|a| a == "--bench");
    let n = if benchmarking { 200_000 } else { 1 };
    let creds = Credentials {
        access_key_id: "AKIDEXAMPLE".into(),
        secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
        session_token: Some("FQoGZXIvYXdzEXAMPLETOKEN".into()),
    };
    let scope = Scope {
        region: "us-east-1",
        service: "s3",
    };
    let headers = [
        ("host", "assets.s3.us-east-1.amazonaws.com"),
        ("x-amz-meta-origin", "asset-gate"),
    ];
    let req = Request {
        method: "GET",
        path: "/photos/2026/11/a%20photo%20of%20caf%C3%A9%2B%40night.jpg",
        query: "response-content-disposition=inline&versionId=3",
        headers: &headers,
    };
    let opts = HeaderSigning {
        payload_hash: UNSIGNED_PAYLOAD,
        add_content_sha256_header: true,
        session_token_signed: true,
    };
    let mut cache = SigningKeyCache::default();
    let t = 1_795_320_000;
    case("sign_headers (S3 GET, signing key cached)", n, || {
        black_box(sigv4::sign_headers(&req, &creds, &scope, t, &opts, &mut cache).ok());
    });
    case(
        "sign_headers (S3 GET, new date: key derived)",
        n / 10 + 1,
        || {
            let mut fresh = SigningKeyCache::default();
            black_box(sigv4::sign_headers(&req, &creds, &scope, t, &opts, &mut fresh).ok());
        },
    );
    case("canonical_uri (S3 rules)", n, || {
        black_box(sigv4::canonical_uri(req.path, sigv4::PathRules::S3).ok());
    });
    case("canonical_query", n, || {
        black_box(sigv4::canonical_query(req.query).ok());
    });
    let cfg_json = br#"{"role":"storage","signing":{"region":"us-east-1","endpoint":"s3.us-east-1.amazonaws.com","addressing_style":"virtual","buckets":[{"prefix":"/internal-assets/","bucket":"assets"}],"credentials":{"source":"static","access_key_id":"AK","secret_access_key":"SK"}}}"#;
    struct NoEnv;
    impl asset_gate_core::config::Env for NoEnv {
        fn var(&self, _: &str) -> Option<String> {
            None
        }
    }
    let Ok(config) = asset_gate_core::config::Config::parse(cfg_json, &NoEnv) else {
        panic!("benchmark configuration must parse");
    };
    let Some(signing) = config.signing else {
        panic!("benchmark configuration has signing");
    };
    let request_headers: Vec<(String, Vec<u8>)> = [
        (":method", "GET"),
        (":path", "/internal-assets/photos/a%20b.jpg?versionId=3"),
        (":authority", "cdn.example.com"),
        ("user-agent", "curl/8"),
        ("accept", "*/*"),
        ("x-request-id", "0f0e0d0c-0b0a-0908-0706-050403020100"),
        ("x-forwarded-proto", "https"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
    .collect();
    case(
        "storage::prepare (map, validate, sign: whole role)",
        n,
        || {
            black_box(
                asset_gate_core::signing::prepare::prepare(
                    &signing,
                    Some(&creds),
                    &request_headers,
                    asset_gate_core::signing::prepare::Body::None,
                    t,
                    &mut cache,
                )
                .ok(),
            );
        },
    );
}
