//! S3 SigV4 signing end to end: clients that hold no
//! credentials talk to real Envoy 1.40; asset-gate signs with credentials from
//! its configuration or the environment; real SeaweedFS enforces SigV4.
//!
//! Each test starts its own SeaweedFS and Envoy (cargo runs them in parallel)
//! and checks real content: bytes by sha256, listings by key, statuses and
//! S3 error codes, asset-gate's own counters.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use support::*;

const TEMPLATE: &str = include_str!("envoy/signing.yaml");
const AK: &str = "AKIDASSETGATEE2E";
/// A secret with characters that must not be mangled on their way to the signer.
const SK: &str = "e2e/Secret+with=chars";
const REGION: &str = "us-east-1";

const SIGNED: &str = "requests_signed";
const MISSING: &str = "missing_credentials";
const FAILURES: &str = "signing_failures";

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

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~".contains(&b)
}

/// Percent-encodes a key as the AWS SDKs do in paths: everything but RFC 3986
/// unreserved characters and `/`.
fn sdk_path(key: &str) -> String {
    let mut s = String::new();
    for b in key.bytes() {
        if is_unreserved(b) || b == b'/' {
            s.push(b as char);
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s
}

/// Percent-encodes a query value completely (SDK style).
fn query_value(v: &str) -> String {
    sdk_path(v).replace('/', "%2F")
}

fn sha256_hex(b: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(b))
}

/// Every `<tag>...</tag>` text in an S3 XML document, entity-decoded.
fn xml_all(xml: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut out = vec![];
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        let Some(end) = after.find(&close) else { break };
        out.push(xml_unescape(&after[..end]));
        rest = &after[end + close.len()..];
    }
    out
}

fn xml_unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let Some(semi) = tail.find(';') else {
            out.push_str(tail);
            return out;
        };
        let entity = &tail[1..semi];
        match entity {
            "amp" => out.push('&'),
            "lt" => out.push('<'),
            "gt" => out.push('>'),
            "quot" => out.push('"'),
            "apos" => out.push('\''),
            e if e.starts_with("#x") => {
                let c = u32::from_str_radix(&e[2..], 16)
                    .ok()
                    .and_then(char::from_u32);
                out.push(c.unwrap_or_else(|| panic!("bad XML entity &{e};")));
            }
            e if e.starts_with('#') => {
                let c = e[1..].parse().ok().and_then(char::from_u32);
                out.push(c.unwrap_or_else(|| panic!("bad XML entity &{e};")));
            }
            e => panic!("unknown XML entity &{e};"),
        }
        rest = &tail[semi + 1..];
    }
    out.push_str(rest);
    out
}

fn xml_one(xml: &str, tag: &str) -> Option<String> {
    xml_all(xml, tag).into_iter().next()
}

/// `<Contents><Key>` of a ListObjectsV2 page.
fn listed_keys(xml: &str) -> Vec<String> {
    xml_all(xml, "Contents")
        .iter()
        .flat_map(|c| xml_all(c, "Key"))
        .collect()
}

/// `<CommonPrefixes><Prefix>` of a ListObjectsV2 page.
fn common_prefixes(xml: &str) -> Vec<String> {
    xml_all(xml, "CommonPrefixes")
        .iter()
        .flat_map(|c| xml_all(c, "Prefix"))
        .collect()
}

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

fn s3_error_code(r: &Response) -> String {
    xml_one(&r.text(), "Code").unwrap_or_default()
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

// ---------------------------------------------------------------------------------------------
// curl: objects, conditional and partial reads, listing

#[test]
fn curl_get_head_put_range_conditional_missing_and_forged_auth() {
    let s3 = S3::start(&["media"], vec![s3_identity()]);
    let gate = Gate::start(GateSpec::new(s3.port));
    let url = |path: &str| gate.url("s3", path);
    let dir = tempfile::tempdir().unwrap();

    // PUT 1 KiB through Envoy, read it back through Envoy and directly from S3.
    let small = dir.path().join("small");
    write_random_file(&small, 1024, 7);
    let small_bytes = std::fs::read(&small).unwrap();
    let put = curl(&["-T", small.to_str().unwrap(), &url("/media/docs/small.bin")]);
    assert_eq!(put.status, 200, "PUT 1 KiB: {}", put.text());
    let etag = put.header("etag").expect("PUT answers an ETag").to_string();
    let get = curl(&[&url("/media/docs/small.bin")]);
    assert_eq!(get.status, 200, "GET: {}", get.text());
    assert_eq!(sha256_hex(&get.body), sha256_hex(&small_bytes));
    let direct = s3.signed_curl(&s3_identity(), &[], "/media/docs/small.bin");
    assert_eq!(direct.status, 200);
    assert_eq!(sha256_hex(&direct.body), sha256_hex(&small_bytes));

    // HEAD: headers, no body.
    let head = curl(&["-I", &url("/media/docs/small.bin")]);
    assert_eq!(head.status, 200, "HEAD");
    assert_eq!(head.header("content-length"), Some("1024"));
    assert_eq!(head.header("etag"), Some(etag.as_str()));
    // (with -I curl writes the header block where the body would go)
    assert!(head.text().starts_with("HTTP/1.1 200"), "{}", head.text());

    // Range: 206 with exactly those bytes.
    let range = curl(&["-H", "Range: bytes=100-299", &url("/media/docs/small.bin")]);
    assert_eq!(range.status, 206, "Range: {}", range.text());
    assert_eq!(range.body, &small_bytes[100..300]);
    assert_eq!(range.header("content-range"), Some("bytes 100-299/1024"));
    let tail = curl(&["-H", "Range: bytes=-24", &url("/media/docs/small.bin")]);
    assert_eq!(tail.status, 206);
    assert_eq!(tail.body, &small_bytes[1000..]);

    // If-None-Match with the current ETag: 304 and no body; another ETag: 200.
    let inm = curl(&[
        "-H",
        &format!("If-None-Match: {etag}"),
        &url("/media/docs/small.bin"),
    ]);
    assert_eq!(inm.status, 304, "If-None-Match: {}", inm.text());
    assert!(inm.body.is_empty());
    let other = curl(&[
        "-H",
        "If-None-Match: \"0000\"",
        &url("/media/docs/small.bin"),
    ]);
    assert_eq!(other.status, 200);
    assert_eq!(other.body, small_bytes);

    // A missing key is S3's own 404 (NoSuchKey), passed through.
    let missing = curl(&[&url("/media/docs/nope.bin")]);
    assert_eq!(missing.status, 404, "{}", missing.text());
    assert_eq!(s3_error_code(&missing), "NoSuchKey", "{}", missing.text());

    // A client's forged auth headers and presign parameters are replaced.
    let forged = curl(&[
        "-H",
        "Authorization: AWS4-HMAC-SHA256 Credential=AKIDEVIL/20000101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00",
        "-H",
        "x-amz-date: 20000101T000000Z",
        "-H",
        "x-amz-security-token: forged-token",
        "-H",
        "x-amz-content-sha256: 0000000000000000000000000000000000000000000000000000000000000000",
        &url("/media/docs/small.bin?X-Amz-Signature=00&X-Amz-Credential=AKIDEVIL"),
    ]);
    assert_eq!(forged.status, 200, "forged headers: {}", forged.text());
    assert_eq!(forged.body, small_bytes);

    // User metadata (x-amz-meta-*) is signed and stored.
    let meta = curl(&[
        "-X",
        "PUT",
        "-H",
        "x-amz-meta-colour: blue",
        "--data-binary",
        "metadata",
        &url("/media/docs/meta.txt"),
    ]);
    assert_eq!(meta.status, 200, "PUT with metadata: {}", meta.text());
    let meta_head = curl(&["-I", &url("/media/docs/meta.txt")]);
    assert_eq!(meta_head.header("x-amz-meta-colour"), Some("blue"));

    // DELETE, then the key is gone.
    let del = curl(&["-X", "DELETE", &url("/media/docs/meta.txt")]);
    assert_eq!(del.status, 204, "DELETE: {}", del.text());
    let gone = curl(&["-I", &url("/media/docs/meta.txt")]);
    assert_eq!(gone.status, 404);

    // Every request above went through the signer; nothing failed.
    assert_eq!(gate.gate_stat(SIGNED), 13);
    assert_eq!(gate.gate_stat(FAILURES), 0);
    assert_eq!(gate.gate_stat(MISSING), 0);
}

#[test]
fn curl_put_and_get_64_mib_streams_through() {
    let s3 = S3::start(&["big"], vec![s3_identity()]);
    let gate = Gate::start(GateSpec::new(s3.port));
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    write_random_file(&src, 64 << 20, 64);
    let want = sha256_file(&src);

    let put = curl(&[
        "-T",
        src.to_str().unwrap(),
        &gate.url("s3", "/big/blob/64mib.bin"),
    ]);
    assert_eq!(put.status, 200, "PUT 64 MiB: {}", put.text());
    let back = dir.path().join("back");
    let status = curl_download(&[], &gate.url("s3", "/big/blob/64mib.bin"), &back);
    assert_eq!(status, 200);
    assert_eq!(std::fs::metadata(&back).unwrap().len(), 64 << 20);
    assert_eq!(sha256_file(&back), want, "64 MiB read back through Envoy");

    // The downstream placement signs the same object's ranged read.
    let part = dir.path().join("part");
    let status = curl_download(
        &["-H", "Range: bytes=33554432-"],
        &gate.url("down", "/big/blob/64mib.bin"),
        &part,
    );
    assert_eq!(status, 206);
    assert_eq!(std::fs::metadata(&part).unwrap().len(), 32 << 20);
    assert_eq!(gate.gate_stat(SIGNED), 3);
}

#[test]
fn curl_list_objects_v2_prefix_delimiter_and_continuation() {
    let s3 = S3::start(&["listing"], vec![s3_identity()]);
    let gate = Gate::start(GateSpec::new(s3.port));
    let url = |path: &str| gate.url("s3", path);
    let keys = [
        "list/a/1.txt",
        "list/a/2.txt",
        "list/b/1.txt",
        "list/c.txt",
        "list/d e+f.txt",
        "list/g.txt",
        "other/x.txt",
    ];
    for k in keys {
        let r = put_bytes(&url(&format!("/listing/{}", sdk_path(k))), k.as_bytes());
        assert_eq!(r.status, 200, "PUT {k}: {}", r.text());
    }

    // prefix + delimiter: objects at this level, sub-"directories" as common prefixes.
    let r = curl(&[&url("/listing?list-type=2&prefix=list%2F&delimiter=%2F")]);
    assert_eq!(r.status, 200, "{}", r.text());
    let xml = r.text();
    assert_eq!(
        listed_keys(&xml),
        ["list/c.txt", "list/d e+f.txt", "list/g.txt"],
        "{xml}"
    );
    assert_eq!(common_prefixes(&xml), ["list/a/", "list/b/"], "{xml}");

    // In a query `%2B` is a plus and `%20` a space; a raw `+` is a space too
    // (form encoding, which S3 and Java/.NET SDKs' URLs use).
    for (query, want) in [
        ("prefix=list%2Fd%20e%2Bf", vec!["list/d e+f.txt"]),
        ("prefix=list%2Fd%2Be", vec![]),
        ("prefix=list/d+e", vec!["list/d e+f.txt"]),
    ] {
        let r = curl(&[&url(&format!("/listing?list-type=2&{query}"))]);
        assert_eq!(r.status, 200, "{query}: {}", r.text());
        assert_eq!(listed_keys(&r.text()), want, "{query}: {}", r.text());
    }

    // max-keys=2 pages, following NextContinuationToken until the end.
    let mut seen = vec![];
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut path = "/listing/?list-type=2&max-keys=2&prefix=list%2F".to_string();
        if let Some(t) = &token {
            path.push_str(&format!("&continuation-token={}", query_value(t)));
        }
        let r = curl(&[&url(&path)]);
        assert_eq!(r.status, 200, "page {pages}: {}", r.text());
        let xml = r.text();
        let page = listed_keys(&xml);
        assert!(page.len() <= 2, "{xml}");
        seen.extend(page);
        pages += 1;
        assert!(pages < 10, "listing does not end: {xml}");
        match xml_one(&xml, "IsTruncated").as_deref() {
            Some("true") => {
                token = Some(xml_one(&xml, "NextContinuationToken").expect("token"));
            }
            _ => break,
        }
    }
    assert_eq!(seen, &keys[..6]);
    assert_eq!(pages, 3);

    // start-after and url encoding-type, through the downstream placement.
    let r = curl(&[&gate.url(
        "down",
        "/listing?list-type=2&prefix=list%2F&start-after=list%2Fc.txt&encoding-type=url",
    )]);
    assert_eq!(r.status, 200, "{}", r.text());
    let listed = listed_keys(&r.text());
    assert_eq!(listed.len(), 2, "{}", r.text());
    assert!(listed[1] == "list/g.txt", "{}", r.text());
}

// ---------------------------------------------------------------------------------------------
// Keys with special characters (envoy #35023 double encoding, #42165 `@`)

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

#[test]
fn keys_with_special_characters_round_trip_and_list() {
    let s3 = S3::start(&["keys"], vec![s3_identity()]);
    let gate = Gate::start(GateSpec::new(s3.port));
    let mut expected = BTreeSet::new();
    let mut failures = vec![];
    for (i, key) in SPECIAL_KEYS.iter().enumerate() {
        let body = format!("object {i}: {key}");
        // Upstream placement for PUT, downstream for the second GET.
        let path = format!("/keys/{}", sdk_path(key));
        let put = put_bytes(&gate.url("s3", &path), body.as_bytes());
        if put.status != 200 {
            failures.push(format!(
                "PUT {key:?} ({path}): {} {}",
                put.status,
                put.text()
            ));
            continue;
        }
        for listener in ["s3", "down"] {
            let get = curl(&[&gate.url(listener, &path)]);
            if get.status != 200 || get.body != body.as_bytes() {
                failures.push(format!(
                    "GET {key:?} via {listener}: {} {}",
                    get.status,
                    get.text()
                ));
            }
        }
        // An independent signer (curl's) finds the object under the same key.
        let direct = s3.signed_curl(&s3_identity(), &[], &path);
        if direct.body != body.as_bytes() {
            failures.push(format!(
                "direct GET {key:?}: {} {}",
                direct.status,
                direct.text()
            ));
        }
        expected.insert(key.to_string());
    }
    for (key, raw) in RAW_KEYS {
        let body = format!("raw: {key}");
        let put = put_bytes(&gate.url("down", &format!("/keys{raw}")), body.as_bytes());
        if put.status != 200 {
            failures.push(format!("PUT raw {key:?}: {} {}", put.status, put.text()));
            continue;
        }
        // PUT raw through the downstream placement; read back raw and SDK-encoded.
        for (listener, path) in [
            ("s3", format!("/keys{raw}")),
            ("s3", format!("/keys/{}", sdk_path(key))),
        ] {
            let get = curl(&[&gate.url(listener, &path)]);
            if get.status != 200 || get.body != body.as_bytes() {
                failures.push(format!(
                    "GET {key:?} as {path} via {listener}: {} {}",
                    get.status,
                    get.text()
                ));
            }
        }
        expected.insert(key.to_string());
    }
    assert!(
        failures.is_empty(),
        "special keys:\n{}",
        failures.join("\n")
    );

    // The listing shows exactly these keys, as XML and with encoding-type=url.
    let r = curl(&[&gate.url("s3", "/keys?list-type=2&prefix=special%2F")]);
    assert_eq!(r.status, 200, "{}", r.text());
    let listed: BTreeSet<String> = listed_keys(&r.text()).into_iter().collect();
    assert_eq!(listed, expected, "{}", r.text());
    let r = curl(&[&gate.url(
        "down",
        "/keys?list-type=2&prefix=special%2F&encoding-type=url",
    )]);
    assert_eq!(r.status, 200, "{}", r.text());
    let listed: BTreeSet<String> = listed_keys(&r.text())
        .iter()
        .map(|k| url_decode(k))
        .collect();
    assert_eq!(listed, expected, "{}", r.text());
    // A prefix with special characters in the query is signed correctly too.
    let r = curl(&[&gate.url(
        "s3",
        &format!(
            "/keys?list-type=2&prefix={}",
            query_value("special/at@colon:/")
        ),
    )]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        listed_keys(&r.text()),
        ["special/at@colon:/user@host:8080.txt"]
    );
}

/// Decodes `%XX` and `+` (S3's encoding-type=url uses form encoding for spaces).
fn url_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = vec![];
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                let h = std::str::from_utf8(&b[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(h, 16).unwrap());
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Real S3 clients without credentials: boto3 and the AWS CLI

/// boto3 with `signature_version=UNSIGNED` and default settings otherwise
/// (flexible checksums on): put, get, list, a 12 MiB multipart upload with
/// 5 MiB parts, and the transfer manager. Prints one JSON line of results.
const BOTO3_SCRIPT: &str = r#"
import hashlib, json, sys
import boto3
from botocore import UNSIGNED
from botocore.config import Config

endpoint, bucket, prefix, big_file, verify = sys.argv[1:6]
s3 = boto3.client(
    "s3",
    endpoint_url=endpoint,
    region_name="us-east-1",
    verify=verify if verify != "-" else None,
    config=Config(signature_version=UNSIGNED, s3={"addressing_style": "path"},
                  retries={"max_attempts": 1}),
)
out = {}
key = prefix + "hello ü+(1).txt"
s3.put_object(Bucket=bucket, Key=key, Body=b"hello from boto3", ContentType="text/plain",
              Metadata={"origin": "boto3"})
got = s3.get_object(Bucket=bucket, Key=key)
out["get"] = got["Body"].read().decode()
out["metadata"] = got["Metadata"]
head = s3.head_object(Bucket=bucket, Key=key)
out["head_length"] = head["ContentLength"]

# Multipart: 12 MiB in parts of 5, 5 and 2 MiB, read from the file.
mkey = prefix + "multi/part file.bin"
up = s3.create_multipart_upload(Bucket=bucket, Key=mkey)
parts = []
with open(big_file, "rb") as f:
    n = 1
    while True:
        chunk = f.read(5 << 20)
        if not chunk:
            break
        r = s3.upload_part(Bucket=bucket, Key=mkey, UploadId=up["UploadId"], PartNumber=n, Body=chunk)
        parts.append({"ETag": r["ETag"], "PartNumber": n})
        n += 1
s3.complete_multipart_upload(Bucket=bucket, Key=mkey, UploadId=up["UploadId"],
                             MultipartUpload={"Parts": parts})
body = s3.get_object(Bucket=bucket, Key=mkey)["Body"]
h = hashlib.sha256()
for c in iter(lambda: body.read(1 << 20), b""):
    h.update(c)
out["multipart_parts"] = len(parts)
out["multipart_sha256"] = h.hexdigest()

# The transfer manager (upload_file/download_file) with 5 MiB parts.
from boto3.s3.transfer import TransferConfig
tc = TransferConfig(multipart_threshold=5 << 20, multipart_chunksize=5 << 20, max_concurrency=3)
tkey = prefix + "transfer/managed.bin"
s3.upload_file(big_file, bucket, tkey, Config=tc)
s3.download_file(bucket, tkey, big_file + ".down", Config=tc)
with open(big_file + ".down", "rb") as f:
    out["transfer_sha256"] = hashlib.file_digest(f, "sha256").hexdigest()

keys = []
for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix, PaginationConfig={"PageSize": 1}):
    keys += [o["Key"] for o in page.get("Contents", [])]
out["keys"] = keys
print(json.dumps(out))
"#;

fn run_boto3(gate: &Gate, listener: &str, scheme: &str, prefix: &str, big: &Path) -> Value {
    let endpoint = gate
        .url(listener, "")
        .replace("http://", &format!("{scheme}://"));
    let verify = if scheme == "https" {
        gate.cert()
    } else {
        "-".into()
    };
    let home = tempfile::tempdir().unwrap();
    let out = run_ok(
        &format!("boto3 via {listener}"),
        aws_client(&venv_bin("python"), home.path())
            .args(["-c", BOTO3_SCRIPT, &endpoint, "clients", prefix])
            .arg(big)
            .arg(&verify),
    );
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("boto3 output ({e}): {out}"))
}

#[test]
fn boto3_unsigned_through_envoy_with_env_credentials() {
    let s3 = S3::start(&["clients"], vec![s3_identity()]);
    let mut spec = GateSpec::new(s3.port);
    // Credentials from the environment this time (source "env").
    let endpoint = json!({"endpoint": s3.authority()});
    spec.config = storage_config(json!({"source": "env"}), endpoint.clone());
    spec.env = vec![
        ("AWS_ACCESS_KEY_ID".into(), AK.into()),
        ("AWS_SECRET_ACCESS_KEY".into(), SK.into()),
    ];
    let gate = Gate::start(spec);
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.bin");
    write_random_file(&big, 12 << 20, 12);
    let want = sha256_file(&big);

    for (listener, scheme, prefix) in [
        ("s3", "http", "boto-http/"),
        ("s3_tls", "https", "boto-tls/"),
    ] {
        let r = run_boto3(&gate, listener, scheme, prefix, &big);
        assert_eq!(r["get"], "hello from boto3", "{listener}: {r}");
        assert_eq!(r["metadata"]["origin"], "boto3", "{listener}: {r}");
        assert_eq!(r["head_length"], 16, "{listener}: {r}");
        assert_eq!(r["multipart_parts"], 3, "{listener}: {r}");
        assert_eq!(r["multipart_sha256"], want.as_str(), "{listener}: {r}");
        assert_eq!(r["transfer_sha256"], want.as_str(), "{listener}: {r}");
        let keys: Vec<&str> = r["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k.as_str().unwrap())
            .collect();
        assert_eq!(
            keys,
            [
                format!("{prefix}hello ü+(1).txt"),
                format!("{prefix}multi/part file.bin"),
                format!("{prefix}transfer/managed.bin"),
            ],
            "{listener}: {r}"
        );
        // An independent signer reads the multipart object SeaweedFS stored.
        let back = dir.path().join("direct");
        let status = curl_download(
            &[
                "--aws-sigv4",
                "aws:amz:us-east-1:s3",
                "--user",
                &format!("{AK}:{SK}"),
            ],
            &s3.url(&format!(
                "/clients/{}",
                sdk_path(&format!("{prefix}multi/part file.bin"))
            )),
            &back,
        );
        assert_eq!(status, 200);
        assert_eq!(
            sha256_file(&back),
            want,
            "{listener}: stored multipart bytes"
        );
    }
    assert_eq!(gate.gate_stat(FAILURES), 0);
}

#[test]
fn aws_cli_no_sign_request_through_envoy() {
    let s3 = S3::start(&["cli"], vec![s3_identity()]);
    let gate = Gate::start(GateSpec::new(s3.port));
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("aws-config"),
        "[default]\nregion = us-east-1\ns3 =\n    addressing_style = path\n    multipart_threshold = 5MB\n    multipart_chunksize = 5MB\n",
    )
    .unwrap();
    let aws = |listener: &str, args: &[&str]| -> String {
        let endpoint = gate.url(listener, "");
        run_ok(
            &format!("aws {}", args.join(" ")),
            aws_client(&venv_bin("aws"), home.path())
                .args([
                    "--no-sign-request",
                    "--endpoint-url",
                    &endpoint,
                    "--output",
                    "json",
                ])
                .args(args),
        )
    };
    let dir = tempfile::tempdir().unwrap();
    let small = dir.path().join("small.txt");
    std::fs::write(&small, "hello from the aws cli\n").unwrap();
    let big = dir.path().join("big.bin");
    write_random_file(&big, 12 << 20, 1212);
    let want = sha256_file(&big);

    // s3api: put, head, get (a key with a space, a plus and unicode).
    let key = "cli/hello world+ü.txt";
    let put: Value = serde_json::from_str(&aws(
        "s3",
        &[
            "s3api",
            "put-object",
            "--bucket",
            "cli",
            "--key",
            key,
            "--body",
            small.to_str().unwrap(),
        ],
    ))
    .unwrap();
    assert!(put["ETag"].as_str().is_some_and(|e| !e.is_empty()), "{put}");
    let got = dir.path().join("got.txt");
    aws(
        "s3",
        &[
            "s3api",
            "get-object",
            "--bucket",
            "cli",
            "--key",
            key,
            got.to_str().unwrap(),
        ],
    );
    assert_eq!(
        std::fs::read_to_string(&got).unwrap(),
        "hello from the aws cli\n"
    );

    // s3 cp: a 12 MiB multipart upload in 5 MiB parts, and back.
    let big_key = "s3://cli/cli/big file.bin";
    aws("s3", &["s3", "cp", big.to_str().unwrap(), big_key]);
    let head: Value = serde_json::from_str(&aws(
        "s3",
        &[
            "s3api",
            "head-object",
            "--bucket",
            "cli",
            "--key",
            "cli/big file.bin",
        ],
    ))
    .unwrap();
    assert_eq!(head["ContentLength"], 12 << 20, "{head}");
    assert!(
        head["ETag"].as_str().is_some_and(|e| e.ends_with("-3\"")),
        "a 3-part multipart ETag: {head}"
    );
    let back = dir.path().join("back.bin");
    aws("down", &["s3", "cp", big_key, back.to_str().unwrap()]);
    assert_eq!(
        sha256_file(&back),
        want,
        "12 MiB multipart object read back"
    );

    // Listing: s3 ls and s3api list-objects-v2 with one key per page.
    let ls = aws("down", &["s3", "ls", "s3://cli/cli/", "--recursive"]);
    assert!(
        ls.contains("cli/hello world+ü.txt") && ls.contains("cli/big file.bin"),
        "{ls}"
    );
    let listed: Value = serde_json::from_str(&aws(
        "s3",
        &[
            "s3api",
            "list-objects-v2",
            "--bucket",
            "cli",
            "--prefix",
            "cli/",
            "--page-size",
            "1",
        ],
    ))
    .unwrap();
    let keys: Vec<&str> = listed["Contents"]
        .as_array()
        .unwrap_or_else(|| panic!("{listed}"))
        .iter()
        .map(|o| o["Key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["cli/big file.bin", "cli/hello world+ü.txt"]);
    assert_eq!(gate.gate_stat(FAILURES), 0);
}

// ---------------------------------------------------------------------------------------------
// Negatives: wrong secret, no credentials, pass-through

#[test]
fn wrong_secret_gives_s3_403_not_5xx() {
    let s3 = S3::start(&["neg"], vec![s3_identity()]);
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("orig");
    std::fs::write(&f, "original").unwrap();
    let seeded = s3.signed_curl(&s3_identity(), &["-T", f.to_str().unwrap()], "/neg/obj.txt");
    assert_eq!(seeded.status, 200, "{}", seeded.text());

    let mut spec = GateSpec::new(s3.port);
    let endpoint = json!({"endpoint": s3.authority()});
    spec.config = storage_config(static_creds("not-the-secret"), endpoint.clone());
    spec.down_config = storage_config(
        json!({"source": "static", "access_key_id": "AKIDUNKNOWN", "secret_access_key": SK}),
        endpoint,
    );
    let gate = Gate::start(spec);

    let started = Instant::now();
    let get = curl(&[&gate.url("s3", "/neg/obj.txt")]);
    assert_eq!(get.status, 403, "{}", get.text());
    assert_eq!(
        s3_error_code(&get),
        "SignatureDoesNotMatch",
        "{}",
        get.text()
    );
    let put = put_bytes(&gate.url("s3", "/neg/obj.txt"), b"overwritten?");
    assert_eq!(put.status, 403, "{}", put.text());
    assert_eq!(
        s3_error_code(&put),
        "SignatureDoesNotMatch",
        "{}",
        put.text()
    );
    let list = curl(&[&gate.url("s3", "/neg?list-type=2")]);
    assert_eq!(list.status, 403);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "S3's refusals should come back at once, took {:?}",
        started.elapsed()
    );
    // An access key S3 does not know: its own error code, through the downstream placement.
    let unknown = curl(&[&gate.url("down", "/neg/obj.txt")]);
    assert_eq!(unknown.status, 403, "{}", unknown.text());
    assert_eq!(
        s3_error_code(&unknown),
        "InvalidAccessKeyId",
        "{}",
        unknown.text()
    );

    // The refused PUT changed nothing.
    let direct = s3.signed_curl(&s3_identity(), &[], "/neg/obj.txt");
    assert_eq!(direct.body, b"original");
    // asset-gate did sign (it cannot know the secret is wrong); S3 refused.
    assert_eq!(gate.gate_stat(SIGNED), 4);
    assert_eq!(gate.gate_stat(MISSING), 0);
}

#[test]
fn no_credentials_is_asset_gates_503_and_never_reaches_s3_unless_pass() {
    let s3 = S3::start(&["neg"], vec![s3_identity()]);
    let mut spec = GateSpec::new(s3.port);
    let endpoint = json!({"endpoint": s3.authority()});
    // Source "env", and the environment has nothing (blank values hide anything inherited).
    spec.config = storage_config(json!({"source": "env"}), endpoint.clone());
    let mut pass = endpoint;
    pass["on_missing_credentials"] = json!("pass");
    spec.down_config = storage_config(json!({"source": "env"}), pass);
    spec.env = [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
    ]
    .iter()
    .map(|k| (k.to_string(), String::new()))
    .collect();
    let gate = Gate::start(spec);

    // Deny (the default): a clear 503 from asset-gate itself.
    let get = curl(&[&gate.url("s3", "/neg/obj.txt")]);
    assert_eq!(get.status, 503, "{}", get.text());
    assert_eq!(
        get.text(),
        "asset-gate: no valid AWS credentials are available to sign this request\n"
    );
    assert!(get
        .header("content-type")
        .is_some_and(|c| c.starts_with("text/plain")));
    let put = put_bytes(&gate.url("s3", "/neg/new.txt"), b"must not arrive");
    assert_eq!(put.status, 503, "{}", put.text());
    // Nothing reached SeaweedFS: not one byte was sent to it, and no object was
    // created. (`upstream_rq_total` is no proof either way: Envoy asks its pool
    // for a connection before the upstream filter chain runs, so the attempt may
    // be counted and a TCP connection opened, then cancelled before anything is
    // written; the upstream filter's local reply also counts as `upstream_rq_503`.)
    assert_eq!(gate.stat("cluster.storage.upstream_cx_tx_bytes_total"), 0);
    let direct = s3.signed_curl(&s3_identity(), &[], "/neg/new.txt");
    assert_eq!(direct.status, 404, "{}", direct.text());

    // Pass: forwarded unsigned (client auth headers still removed), S3 refuses it.
    let passed = curl(&[
        "-H",
        "Authorization: AWS4-HMAC-SHA256 Credential=AKIDEVIL/20000101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00",
        &gate.url("down", "/neg/obj.txt"),
    ]);
    assert_eq!(passed.status, 403, "{}", passed.text());
    assert_eq!(s3_error_code(&passed), "AccessDenied", "{}", passed.text());
    assert_eq!(gate.stat("cluster.storage_plain.upstream_rq_total"), 1);
    assert!(gate.stat("cluster.storage_plain.upstream_cx_tx_bytes_total") > 0);

    assert_eq!(gate.gate_stat(MISSING), 3);
    assert_eq!(gate.gate_stat(SIGNED), 0);
}

// ---------------------------------------------------------------------------------------------
// A non-S3 service: execute-api, verified from what the upstream received

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `YYYYMMDDTHHMMSSZ` to unix seconds.
fn parse_amz_date(s: &str) -> u64 {
    assert!(
        s.len() == 16 && s.ends_with('Z') && &s[8..9] == "T",
        "x-amz-date {s:?}"
    );
    let n = |r: std::ops::Range<usize>| -> i64 { s[r].parse().unwrap() };
    let days = days_from_civil(n(0..4), n(4..6), n(6..8));
    (days * 86_400 + n(9..11) * 3600 + n(11..13) * 60 + n(13..15)) as u64
}

/// A session token with the characters real STS tokens have.
const TOKEN: &str = "FwoGZXIvYXdzE+session/token==";

/// A request as the echo backend received it.
struct Seen {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
}

impl Seen {
    fn from(v: &Value) -> Seen {
        Seen {
            method: v["method"].as_str().unwrap().to_string(),
            target: v["path"].as_str().unwrap().to_string(),
            headers: v["headers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| {
                    let s = |i: usize| h[i].as_str().unwrap().to_string();
                    (s(0), s(1))
                })
                .collect(),
        }
    }

    /// The one value of `name` (a header sent twice would be ambiguous to sign).
    fn get(&self, name: &str) -> &str {
        let mut it = self.headers.iter().filter(|(k, _)| k == name);
        let v = it
            .next()
            .unwrap_or_else(|| panic!("upstream saw no {name}: {:?}", self.headers));
        assert!(
            it.next().is_none(),
            "upstream saw {name} twice: {:?}",
            self.headers
        );
        v.1.as_str()
    }

    fn has(&self, name: &str) -> bool {
        self.headers.iter().any(|(k, _)| k == name)
    }
}

/// What a signature must be valid for.
struct Expect<'a> {
    service: &'a str,
    region: &'a str,
    host: &'a str,
    token: Option<&'a str>,
    /// The SHA-256 of the body the upstream received (None: no body).
    payload: Option<&'a str>,
}

/// Checks the `Authorization` header of a request as the upstream received it:
/// scope, signed headers, and the signature recomputed twice, with asset-gate's
/// own SigV4 building blocks and with the independent aws-sigv4 crate. So the
/// host, path, query and headers Envoy sent are exactly the ones signed.
/// Returns the canonical URI and the signed-headers list.
fn verify_seen(seen: &Seen, e: &Expect) -> (String, String) {
    use asset_gate_core::sigv4;
    use aws_sigv4::http_request::{
        sign, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest,
        SigningSettings, UriPathNormalizationMode,
    };
    let is_s3 = e.service == "s3";
    assert_eq!(seen.get("host"), e.host);
    let amz_date = seen.get("x-amz-date");
    let signed_at = parse_amz_date(amz_date);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(now.abs_diff(signed_at) < 120, "signed at {amz_date}");
    let payload_hash = if is_s3 {
        let sent = seen.get("x-amz-content-sha256");
        if let Some(p) = e.payload {
            assert_eq!(sent, p, "x-amz-content-sha256 is not the body's hash");
        }
        sent
    } else {
        assert!(
            !seen.has("x-amz-content-sha256"),
            "only S3 wants x-amz-content-sha256: {:?}",
            seen.headers
        );
        e.payload.unwrap_or(sigv4::EMPTY_PAYLOAD_SHA256)
    };
    match e.token {
        Some(t) => assert_eq!(seen.get("x-amz-security-token"), t),
        None => assert!(!seen.has("x-amz-security-token")),
    }

    // Authorization: AWS4-HMAC-SHA256 Credential=AK/date/region/service/aws4_request, ...
    let auth = seen.get("authorization");
    let rest = auth
        .strip_prefix("AWS4-HMAC-SHA256 ")
        .unwrap_or_else(|| panic!("{auth}"));
    let fields: Vec<(&str, &str)> = rest
        .split(", ")
        .map(|f| f.split_once('=').unwrap_or_else(|| panic!("{auth}")))
        .collect();
    assert_eq!(
        fields.iter().map(|f| f.0).collect::<Vec<_>>(),
        ["Credential", "SignedHeaders", "Signature"],
        "{auth}"
    );
    let (credential, signed_headers, signature) = (fields[0].1, fields[1].1, fields[2].1);
    let scope = format!("{}/{}/{}/aws4_request", &amz_date[..8], e.region, e.service);
    assert_eq!(credential, format!("{AK}/{scope}"));

    // 1. asset-gate's building blocks, fed with what the upstream received.
    let (path, query) = seen.target.split_once('?').unwrap_or((&seen.target, ""));
    let signed: Vec<(&str, &str)> = signed_headers
        .split(';')
        .map(|n| (n, seen.get(n)))
        .collect();
    let canonical_headers = sigv4::canonical_headers(&signed).unwrap();
    assert_eq!(canonical_headers.signed, signed_headers);
    let uri = sigv4::canonical_uri(path, sigv4::PathRules::for_service(e.service)).unwrap();
    let creq = sigv4::canonical_request(
        &seen.method,
        &uri,
        &sigv4::canonical_query(query).unwrap(),
        &canonical_headers,
        payload_hash,
    );
    let sts = sigv4::string_to_sign(amz_date, &scope, &creq);
    let key = sigv4::derive_signing_key(SK, &amz_date[..8], e.region, e.service).unwrap();
    assert_eq!(
        sigv4::hmac_hex(&key, sts.as_bytes()).unwrap(),
        signature,
        "asset-gate's signer disagrees on what was received:\n{creq}"
    );

    // 2. aws-sigv4, configured as the AWS SDKs are for this service.
    let identity =
        aws_credential_types::Credentials::new(AK, SK, e.token.map(str::to_string), None, "e2e")
            .into();
    let mut settings = SigningSettings::default();
    if is_s3 {
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    } else {
        settings.percent_encoding_mode = PercentEncodingMode::Double;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Enabled;
        settings.payload_checksum_kind = PayloadChecksumKind::NoHeader;
    }
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(e.region)
        .name(e.service)
        .time(std::time::UNIX_EPOCH + Duration::from_secs(signed_at))
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let added_by_signer = ["x-amz-date", "x-amz-security-token", "x-amz-content-sha256"];
    let others: Vec<(&str, &str)> = signed
        .iter()
        .copied()
        .filter(|(n, _)| !added_by_signer.contains(n))
        .collect();
    let body = if payload_hash == sigv4::UNSIGNED_PAYLOAD {
        SignableBody::UnsignedPayload
    } else {
        SignableBody::Precomputed(payload_hash.to_string())
    };
    let request = SignableRequest::new(
        &seen.method,
        format!("https://{}{}", e.host, seen.target),
        others.into_iter(),
        body,
    )
    .unwrap();
    let (_, aws_signature) = sign(request, &params).unwrap().into_parts();
    assert_eq!(
        aws_signature, signature,
        "aws-sigv4 disagrees on {} {}",
        seen.method, seen.target
    );
    (uri, signed_headers.to_string())
}

fn api_config(service: &str, region: &str, host: &str, credentials: Value) -> Value {
    json!({"role": "storage", "signing": {
        "region": region, "service": service, "endpoint": host,
        "require_marker": false, "credentials": credentials}})
}

#[test]
fn execute_api_signature_verifies_against_what_the_upstream_received() {
    let echo = Backend::start("echo", json!({}));
    let mut spec = GateSpec::new(unused_port());
    spec.echo_port = echo.port;
    let host = "abc123.execute-api.eu-west-1.amazonaws.com";
    spec.api_config = api_config(
        "execute-api",
        "eu-west-1",
        host,
        json!({"source": "static", "access_key_id": AK, "secret_access_key": SK,
               "session_token": TOKEN}),
    );
    let gate = Gate::start(spec);

    // /api/ is rewritten to /prod/ by the route: the upstream filter signs the final path.
    let r = curl(&[
        "-H",
        "Authorization: Bearer client-token-that-must-not-survive",
        "-H",
        "x-amz-date: 20000101T000000Z",
        "-H",
        "x-amz-security-token: forged-token",
        "-H",
        "x-amz-trace-tag:   a   b  ",
        &gate.url(
            "api",
            "/api/items/a%20b/./c/../%C3%BC%2Fx?z=1&a=2&a=1&q=x%2By&sp=a+b&empty=&flag",
        ),
    ]);
    assert_eq!(r.status, 200, "{}", r.text());
    let seen = Seen::from(&r.json());
    assert_eq!(seen.method, "GET");
    assert_eq!(
        seen.target, "/prod/items/a%20b/./c/../%C3%BC%2Fx?z=1&a=2&a=1&q=x%2By&sp=a+b&empty=&flag",
        "the path is forwarded as sent (after the route's rewrite)"
    );
    assert_ne!(seen.get("x-amz-date"), "20000101T000000Z");
    let (uri, signed_headers) = verify_seen(
        &seen,
        &Expect {
            service: "execute-api",
            region: "eu-west-1",
            host,
            token: Some(TOKEN),
            payload: None,
        },
    );
    // Generic rules: normalised, then the wire encoding encoded again.
    assert_eq!(uri, "/prod/items/a%2520b/%25C3%25BC%252Fx");
    assert_eq!(
        signed_headers,
        "host;x-amz-date;x-amz-security-token;x-amz-trace-tag"
    );
    assert_eq!(echo.hits(), 1);
    assert_eq!(gate.gate_stat(SIGNED), 1);
}

/// SeaweedFS accepts both the S3 canonical path and a double-encoded one (it
/// tries several), so it cannot catch envoy #35023-style double encoding, and it
/// re-encodes raw characters where AWS S3 signs them as sent (envoy #42165).
/// This pins the S3 rules on the wire: every special key, SDK-encoded and raw,
/// goes out in canonical form, and its signature verifies (asset-gate's own
/// building blocks and aws-sigv4) from what the upstream received.
#[test]
fn s3_rules_sign_special_keys_exactly_as_sent() {
    let echo = Backend::start("echo", json!({}));
    let mut spec = GateSpec::new(unused_port());
    spec.echo_port = echo.port;
    let host = "s3.eu-central-1.amazonaws.com";
    spec.api_config = api_config("s3", "eu-central-1", host, static_creds(SK));
    let gate = Gate::start(spec);
    let expect = Expect {
        service: "s3",
        region: "eu-central-1",
        host,
        token: None,
        payload: None,
    };
    let mut paths: Vec<String> = SPECIAL_KEYS.iter().map(|k| sdk_path(k)).collect();
    paths.extend(RAW_KEYS.iter().map(|(_, raw)| raw[1..].to_string()));
    paths.push(
        "special/?list-type=2&prefix=a%2Bb+c%20d&continuation-token=x%2F%3D%3D&start-after=%C3%BC"
            .into(),
    );
    for p in &paths {
        let r = curl(&[
            "-H",
            "x-amz-meta-note: special",
            &gate.url("api", &format!("/api/{p}")),
        ]);
        assert_eq!(r.status, 200, "{p}: {}", r.text());
        let seen = Seen::from(&r.json());
        // The path goes out in its canonical S3 form, which is what is signed:
        // SDK-encoded paths unchanged, raw characters percent-encoded.
        let (key_path, query) = p.split_once('?').unwrap_or((p, ""));
        let canonical = format!("/prod/{}", sdk_path(&url_decode_path(key_path)));
        let want = if query.is_empty() {
            canonical.clone()
        } else {
            format!("{canonical}?{query}")
        };
        assert_eq!(seen.target, want);
        if !RAW_KEYS.iter().any(|(_, raw)| raw[1..] == *p) {
            assert_eq!(
                seen.target,
                format!("/prod/{p}"),
                "SDK paths are forwarded as sent"
            );
        }
        assert_eq!(seen.get("x-amz-content-sha256"), "UNSIGNED-PAYLOAD");
        let (uri, signed_headers) = verify_seen(&seen, &expect);
        assert_eq!(
            signed_headers,
            "host;x-amz-content-sha256;x-amz-date;x-amz-meta-note"
        );
        assert_eq!(uri, canonical, "{p}");
    }
    assert_eq!(gate.gate_stat(SIGNED), paths.len() as u64);
}

/// Decodes `%XX` only (in a path `+` is a plus).
fn url_decode_path(s: &str) -> String {
    url_decode(&s.replace('+', "%2B"))
}

// ---------------------------------------------------------------------------------------------
// Request bodies: hashed and signed where the service needs it; the scope

/// The upstream's view of a request, with the SHA-256 of the body it received.
fn seen_with_body(r: &Response) -> (Seen, String, u64) {
    let v = r.json();
    let hash = v["body_sha256"].as_str().unwrap().to_string();
    (Seen::from(&v), hash, v["body_len"].as_u64().unwrap())
}

fn api_gate(extra: Value) -> (Gate, Backend) {
    let echo = Backend::start("echo", json!({}));
    let mut spec = GateSpec::new(unused_port());
    spec.echo_port = echo.port;
    let mut signing =
        json!({"service": "execute-api", "endpoint": "abc123.execute-api.eu-west-1.amazonaws.com"});
    if let (Some(s), Some(e)) = (signing.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            s.insert(k.clone(), v.clone());
        }
    }
    spec.api_config = storage_config(static_creds(SK), signing);
    if let Some(o) = spec.api_config["signing"].as_object_mut() {
        o.insert("region".into(), json!("eu-west-1"));
    }
    (Gate::start(spec), echo)
}

#[test]
fn the_articles_api_gateway_calls_are_signed_with_their_payload() {
    // The ECS edge-proxy article's three calls to its API Gateway listener.
    let (gate, echo) = api_gate(json!({"max_body_bytes": 65536}));
    let host = "abc123.execute-api.eu-west-1.amazonaws.com";
    let body = r#"{"Name": "Jone"}"#;
    let calls: Vec<(&str, Vec<&str>, &str)> = vec![
        ("/api/", vec![], ""),
        (
            "/api/",
            vec!["-H", "Content-type: application/json", "-d", body],
            body,
        ),
        (
            "/api/param1/param2?qparam1=abc",
            vec!["-H", "Content-type: application/json", "-d", body],
            body,
        ),
        // Expect: 100-continue and a body of exactly the limit.
        (
            "/api/upload",
            vec!["-H", "Expect: 100-continue", "--data-binary", "@LIMIT"],
            "LIMIT",
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    let at_limit = dir.path().join("limit.bin");
    write_random_file(&at_limit, 65536, 3);
    let limit_arg = format!("@{}", at_limit.display());
    for (path, args, sent) in &calls {
        let args: Vec<&str> = args
            .iter()
            .map(|a| {
                if *a == "@LIMIT" {
                    limit_arg.as_str()
                } else {
                    a
                }
            })
            .collect();
        let mut a = args.clone();
        let url = gate.url("api", path);
        a.push(&url);
        let r = curl(&a);
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        let (seen, body_hash, body_len) = seen_with_body(&r);
        let expected = if *sent == "LIMIT" {
            sha256_file(&at_limit)
        } else {
            sha256_hex(sent.as_bytes())
        };
        assert_eq!(body_hash, expected, "{path}: the upstream got another body");
        if sent.is_empty() {
            assert_eq!(body_len, 0);
        }
        let payload = (!sent.is_empty()).then_some(body_hash.as_str());
        verify_seen(
            &seen,
            &Expect {
                service: "execute-api",
                region: "eu-west-1",
                host,
                token: None,
                payload,
            },
        );
    }
    assert_eq!(echo.hits(), calls.len() as u64);
    // Bodies were hashed; the header-only call was not held for one.
    assert_eq!(gate.gate_stat("bodies_hashed"), 3);

    // One byte over the limit: 413 from asset-gate, nothing reaches the upstream.
    let over = dir.path().join("over.bin");
    write_random_file(&over, 65537, 4);
    let data = format!("@{}", over.display());
    let r = curl(&["--data-binary", &data, &gate.url("api", "/api/upload")]);
    assert_eq!(r.status, 413, "{}", r.text());
    assert!(r.text().contains("65536"), "{}", r.text());
    // Declared too large: refused before the body is read.
    let r = curl(&[
        "-H",
        "Expect: 100-continue",
        "--data-binary",
        &data,
        &gate.url("api", "/api/upload"),
    ]);
    assert_eq!(r.status, 413, "{}", r.text());
    // Chunked, no length declared, over the limit.
    let r = curl(&[
        "-H",
        "Transfer-Encoding: chunked",
        "--data-binary",
        &data,
        &gate.url("api", "/api/upload"),
    ]);
    assert_eq!(r.status, 413, "{}", r.text());
    assert_eq!(
        echo.hits(),
        calls.len() as u64,
        "a body over the limit reached the upstream"
    );
    assert_eq!(gate.gate_stat("bodies_refused"), 3);
}

#[test]
fn s3_can_sign_the_body_hash_instead_of_unsigned_payload() {
    // body: "hash" for S3: verified at an upstream that recomputes both the
    // body's SHA-256 and the signature (SeaweedFS checks neither payload hashes).
    let echo = Backend::start("echo", json!({}));
    let mut spec = GateSpec::new(unused_port());
    spec.echo_port = echo.port;
    spec.api_config = storage_config(
        static_creds(SK),
        json!({"service": "s3", "endpoint": "s3.example", "body": "hash", "max_body_bytes": 4096}),
    );
    let gate = Gate::start(spec);
    let body = "object bytes, hashed and signed";
    let r = curl(&[
        "-X",
        "PUT",
        "--data-binary",
        body,
        &gate.url("api", "/api/bucket/key.txt"),
    ]);
    assert_eq!(r.status, 200, "{}", r.text());
    let (seen, hash, _) = seen_with_body(&r);
    assert_eq!(hash, sha256_hex(body.as_bytes()));
    verify_seen(
        &seen,
        &Expect {
            service: "s3",
            region: REGION,
            host: "s3.example",
            token: None,
            payload: Some(&hash),
        },
    );
    // GET has no body: the empty payload is still S3's UNSIGNED-PAYLOAD.
    let r = curl(&[&gate.url("api", "/api/bucket/key.txt")]);
    let (seen, _, _) = seen_with_body(&r);
    assert_eq!(seen.get("x-amz-content-sha256"), "UNSIGNED-PAYLOAD");
    let r = curl(&[
        "-X",
        "PUT",
        "--data-binary",
        &"x".repeat(4097),
        &gate.url("api", "/api/bucket/big"),
    ]);
    assert_eq!(r.status, 413, "{}", r.text());
    assert_eq!(echo.hits(), 2);
}

#[test]
fn a_scoped_signing_edge_refuses_the_rest_before_signing() {
    let s3 = S3::start(&["assets", "other"], vec![s3_identity()]);
    let counting = CountingProxy::start(s3.port);
    let mut spec = GateSpec::new(counting.port);
    spec.config = storage_config(
        static_creds(SK),
        json!({"endpoint": s3.authority(), "scope": {"methods": ["GET", "HEAD"], "buckets": ["assets"], "key_prefixes": ["public/"]}}),
    );
    let gate = Gate::start(spec);
    let id = s3_identity();
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("f");
    std::fs::write(&f, b"public bytes\n").unwrap();
    for key in [
        "/assets/public/a.txt",
        "/assets/private/b.txt",
        "/other/public/a.txt",
    ] {
        let r = s3.signed_curl(&id, &["-T", f.to_str().unwrap()], key);
        assert_eq!(r.status, 200, "seed {key}: {}", r.text());
    }
    let r = curl(&[&gate.url("s3", "/assets/public/a.txt")]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.body, b"public bytes\n");
    let r = curl(&[&gate.url("s3", "/assets?list-type=2&prefix=public%2F")]);
    assert_eq!(r.status, 200, "{}", r.text());
    let before = counting.requests();
    for (what, args, path) in [
        (
            "PUT",
            vec!["-X", "PUT", "--data-binary", "x"],
            "/assets/public/a.txt",
        ),
        ("DELETE", vec!["-X", "DELETE"], "/assets/public/a.txt"),
        ("another bucket", vec![], "/other/public/a.txt"),
        ("another prefix", vec![], "/assets/private/b.txt"),
        ("a listing of everything", vec![], "/assets?list-type=2"),
        ("the bucket list", vec![], "/"),
    ] {
        let url = gate.url("s3", path);
        let mut a = args.clone();
        a.push(&url);
        let r = curl(&a);
        assert_eq!(r.status, 403, "{what}: {}", r.text());
        assert!(
            r.text().starts_with("asset-gate: this signing edge"),
            "{what}: {}",
            r.text()
        );
        assert_eq!(counting.requests(), before, "{what} reached storage");
    }
    assert_eq!(gate.gate_stat("scope_refused"), 6);
    // Nothing changed in storage.
    let r = s3.signed_curl(&id, &[], "/assets/public/a.txt");
    assert_eq!(r.body, b"public bytes\n");
}
