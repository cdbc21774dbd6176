//! Flow C, the signing edge: a scope signs exactly the requests it names.
//! Real Envoy (e2e/fixtures/envoy/signing.yaml, asset-gate as the upstream filter
//! of the storage cluster), SeaweedFS enforcing SigV4, and a recording relay
//! between them showing what storage actually received.

use crate::harness::oracle::{RecordingProxy, SeenRequest};
use crate::harness::*;
use serde_json::{json, Value};

const TEMPLATE: &str = include_str!("../fixtures/envoy/signing.yaml");
const AK: &str = "AKIDFLOWCSCOPE";
const SK: &str = "flow-c/scope+secret";
const SECRET: &[u8] = b"the secret outside the scope\n";
const DOCS: &[u8] = b"docs inside the scope\n";

fn identity() -> Identity {
    Identity::admin(AK, SK)
}

/// A storage-role configuration for a signing edge; `extra` is merged into
/// the `signing` section.
fn edge_config(extra: Value) -> Value {
    let mut signing = json!({
        "region": "us-east-1",
        "require_marker": false,
        "credentials": {"source": "static", "access_key_id": AK, "secret_access_key": SK},
    });
    if let (Some(s), Some(e)) = (signing.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            s.insert(k.clone(), v.clone());
        }
    }
    json!({"role": "storage", "signing": signing})
}

/// SeaweedFS with `assets` and `other`, seeded; a recording relay in front;
/// Envoy whose `s3` listener signs with `config`.
struct Stack {
    s3: S3,
    relay: RecordingProxy,
    envoy: Envoy,
    certs: tempfile::TempDir,
}

impl Stack {
    fn start(extra: Value) -> Stack {
        let s3 = S3::start(&["assets", "other", "my-bucket"], vec![identity()]);
        let id = identity();
        let dir = tempfile::tempdir().unwrap();
        let (secret, docs) = (dir.path().join("secret"), dir.path().join("docs"));
        std::fs::write(&secret, SECRET).unwrap();
        std::fs::write(&docs, DOCS).unwrap();
        for (file, key) in [
            (&secret, "/assets/secret.txt"),
            (&docs, "/assets/docs/readme.txt"),
            (&secret, "/other/secret.txt"),
            (&docs, "/my-bucket/docs/readme.txt"),
        ] {
            let r = s3.signed_curl(&id, &["-T", file.to_str().unwrap()], key);
            assert_eq!(r.status, 200, "seed {key}: {}", r.text());
        }
        let relay = RecordingProxy::start(s3.port);
        let mut extra = extra;
        match extra.get("endpoint") {
            None => extra["endpoint"] = json!(format!("127.0.0.1:{}", s3.port)),
            Some(Value::Null) => {
                extra.as_object_mut().unwrap().remove("endpoint");
            }
            Some(_) => {}
        }
        let config = edge_config(extra);
        let plain = edge_config(json!({"endpoint": format!("127.0.0.1:{}", s3.port)}));
        let api = edge_config(json!({"service": "execute-api", "endpoint": "api.example"}));
        let certs = tempfile::tempdir().unwrap();
        let (cert, key) = self_signed_cert(certs.path());
        let vars = vec![
            ("WASM", wasm().display().to_string()),
            ("S3_PORT", relay.port.to_string()),
            ("ECHO_PORT", free_ports(1)[0].to_string()),
            ("CONFIG", filter_config(&config)),
            ("DOWN_CONFIG", filter_config(&plain)),
            ("API_CONFIG", filter_config(&api)),
            ("TLS_CERT", cert.display().to_string()),
            ("TLS_KEY", key.display().to_string()),
        ];
        let envoy = Envoy::start(TEMPLATE, &vars, EnvoyOptions::default());
        Stack {
            s3,
            relay,
            envoy,
            certs,
        }
    }

    fn url(&self, path: &str) -> String {
        self.envoy.url("s3", path)
    }

    /// `curl` through the edge: `args` then the URL of `path`.
    fn edge(&self, args: &[&str], path: &str) -> Response {
        let url = self.url(path);
        let mut a = args.to_vec();
        a.push(&url);
        curl(&a)
    }

    /// The object as storage holds it (signed by curl, not asset-gate).
    fn direct(&self, path: &str) -> Response {
        self.s3.signed_curl(&identity(), &[], path)
    }

    fn seen(&self) -> Vec<SeenRequest> {
        self.relay.requests()
    }
}

/// The scope of the finding: reads and writes of `assets/docs/`.
fn docs_scope() -> Value {
    json!({"scope": {"methods": ["GET", "HEAD", "PUT"], "buckets": ["assets"], "key_prefixes": ["docs/"]}})
}

fn assert_refused(r: &Response, status: u16, text: &str, what: &str) {
    assert_eq!(r.status, status, "{what}: {}", r.text());
    assert!(
        r.text().starts_with(&format!("asset-gate: {text}")),
        "{what}: {}",
        r.text()
    );
}

/// A copy source outside the scope is a read outside it: refused before
/// signing, and storage never sees the header.
#[test]
fn copy_source_outside_the_scope_is_refused() {
    let st = Stack::start(docs_scope());
    let r = st.edge(&[], "/assets/secret.txt");
    assert_refused(&r, 403, "this signing edge", "plain read outside the scope");

    // An upload to copy parts into, made through the template's unscoped
    // listener (the scope has no POST).
    let r = curl(&[
        "-X",
        "POST",
        &st.envoy.url("down", "/assets/docs/parts.bin?uploads"),
    ]);
    assert_eq!(r.status, 200, "{}", r.text());
    let text = r.text();
    let upload_id = text
        .split("<UploadId>")
        .nth(1)
        .and_then(|s| s.split("</UploadId>").next())
        .unwrap()
        .to_string();
    let part = format!("/assets/docs/parts.bin?partNumber=1&uploadId={upload_id}");

    st.relay.clear();
    for (what, source, path) in [
        (
            "CopyObject",
            "/assets/secret.txt",
            "/assets/docs/stolen.txt",
        ),
        (
            "no leading slash",
            "assets/secret.txt",
            "/assets/docs/stolen.txt",
        ),
        (
            "encoded",
            "%2Fassets%2Fsecret.txt",
            "/assets/docs/stolen.txt",
        ),
        (
            "with a version",
            "/assets/secret.txt?versionId=null",
            "/assets/docs/stolen.txt",
        ),
        (
            "another bucket",
            "/other/secret.txt",
            "/assets/docs/stolen.txt",
        ),
        (
            "dot segments",
            "/assets/docs/../secret.txt",
            "/assets/docs/stolen.txt",
        ),
        (
            "encoded dot segments",
            "/assets/docs/%2e%2e/secret.txt",
            "/assets/docs/stolen.txt",
        ),
        ("UploadPartCopy", "/assets/secret.txt", part.as_str()),
    ] {
        let header = format!("x-amz-copy-source: {source}");
        let r = st.edge(&["-X", "PUT", "-H", &header], path);
        assert_refused(&r, 403, "this signing edge", what);
    }
    assert!(
        st.seen().is_empty(),
        "storage received {:?}",
        st.seen()
            .iter()
            .map(|s| (&s.method, &s.target, s.header("x-amz-copy-source")))
            .collect::<Vec<_>>()
    );
    assert_eq!(st.direct("/assets/docs/stolen.txt").status, 404);

    // Headers outside the default set are refused, not dropped.
    let r = st.edge(
        &[
            "-X",
            "PUT",
            "-H",
            "x-amz-acl: public-read",
            "--data-binary",
            "x",
        ],
        "/assets/docs/acl.txt",
    );
    assert_refused(
        &r,
        403,
        "this signing edge does not sign x-amz-acl",
        "x-amz-acl",
    );
    assert!(st.seen().is_empty());
    assert_eq!(st.envoy.gate_stat("scope_refused"), 10);

    // A copy inside the scope, with metadata, is signed and done.
    let r = st.edge(
        &[
            "-X",
            "PUT",
            "-H",
            "x-amz-copy-source: /assets/docs/readme.txt",
            "-H",
            "x-amz-metadata-directive: REPLACE",
            "-H",
            "x-amz-meta-colour: blue",
        ],
        "/assets/docs/copy.txt",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let seen = st.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(
        seen[0].header("x-amz-copy-source"),
        Some("/assets/docs/readme.txt")
    );
    let auth = seen[0].header("authorization").unwrap();
    assert!(
        auth.contains("x-amz-copy-source;") && auth.contains("x-amz-meta-colour"),
        "{auth}"
    );
    assert_eq!(st.direct("/assets/docs/copy.txt").body, DOCS);
}

/// A scoped listing names its prefix once: SeaweedFS reads the first of
/// repeated names, so a second one must not pass the check for it.
#[test]
fn scoped_query_strings_are_an_allowlist() {
    let st = Stack::start(docs_scope());
    let r = st.edge(&[], "/assets?list-type=2&prefix=docs%2F");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        r.text().contains("<Key>docs/readme.txt</Key>"),
        "{}",
        r.text()
    );
    assert!(!r.text().contains("secret"), "{}", r.text());
    st.relay.clear();
    for (what, path) in [
        (
            "repeated prefix",
            "/assets?list-type=2&prefix=&prefix=docs%2F",
        ),
        (
            "repeated other name",
            "/assets?list-type=2&list-type=1&prefix=docs%2F",
        ),
        (
            "encoded name",
            "/assets?list-type=2&pre%66ix=&prefix=docs%2F",
        ),
        ("semicolon pair", "/assets?list-type=2&prefix=docs%2F;x=1"),
        ("object acl", "/assets/docs/readme.txt?acl"),
        ("object tagging", "/assets/docs/readme.txt?tagging"),
        ("object torrent", "/assets/docs/readme.txt?torrent"),
        (
            "repeated versionId",
            "/assets/docs/readme.txt?versionId=a&versionId=b",
        ),
    ] {
        let r = st.edge(&[], path);
        assert_refused(&r, 403, "this signing edge", what);
    }
    assert!(st.seen().is_empty(), "{:?}", st.seen());
    // What a read needs still reaches storage.
    let r = st.edge(
        &[],
        "/assets/docs/readme.txt?response-content-type=text%2Fplain&response-cache-control=no-cache",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.body, DOCS);
}

/// A scoped key obeys the same key safety as a redirect target: `..`
/// segments never reach storage, whichever way it would resolve them.
#[test]
fn scoped_keys_with_dot_segments_are_refused() {
    let st = Stack::start(docs_scope());
    for path in [
        "/assets/docs/../secret.txt",
        "/assets/docs/%2e%2e/secret.txt",
        "/assets/docs/./readme.txt",
        "/assets/docs//readme.txt",
    ] {
        let r = st.edge(&[], path);
        assert_refused(&r, 400, "unsafe object key", path);
    }
    assert!(st.seen().is_empty(), "{:?}", st.seen());
    let r = st.edge(&[], "/assets/docs/readme.txt");
    assert_eq!(r.status, 200, "{}", r.text());
}

/// Storage's host comes from configuration, never from the client: without
/// `signing.endpoint`, an S3 signer uses the region's AWS endpoint.
#[test]
fn the_client_never_picks_the_storage_host() {
    let st = Stack::start(json!({"endpoint": null, "scope": {"buckets": ["assets"]}}));
    let r = st.edge(
        &["-H", "Host: victim-bucket.s3.amazonaws.com"],
        "/assets/docs/readme.txt",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.body, DOCS);
    let seen = st.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].header("host"), Some("s3.us-east-1.amazonaws.com"));
}

/// boto3 (flexible checksums on, so checksum and aws-chunked framing
/// headers over TLS) through a scoped edge: the default allowlists serve an
/// SDK's reads, writes, multipart uploads, listings and copies inside the
/// scope, and its copy from outside gets 403.
const BOTO3_SCOPED: &str = r#"
import json, sys
import boto3
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

endpoint, verify = sys.argv[1:3]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                  verify=verify if verify != "-" else None,
                  config=Config(signature_version=UNSIGNED, s3={"addressing_style": "path"},
                                retries={"max_attempts": 1}))
out = {}
key = "docs/boto ü+(1).txt"
s3.put_object(Bucket="assets", Key=key, Body=b"from boto3", Metadata={"origin": "boto3"})
got = s3.get_object(Bucket="assets", Key=key, ResponseContentType="text/plain")
out["get"] = got["Body"].read().decode()
out["metadata"] = got["Metadata"]
out["head"] = s3.head_object(Bucket="assets", Key=key)["ContentLength"]
up = s3.create_multipart_upload(Bucket="assets", Key="docs/multi.bin")
etag = s3.upload_part(Bucket="assets", Key="docs/multi.bin", UploadId=up["UploadId"],
                      PartNumber=1, Body=b"p" * 1000)["ETag"]
s3.complete_multipart_upload(Bucket="assets", Key="docs/multi.bin", UploadId=up["UploadId"],
                             MultipartUpload={"Parts": [{"ETag": etag, "PartNumber": 1}]})
out["multi"] = len(s3.get_object(Bucket="assets", Key="docs/multi.bin")["Body"].read())
s3.copy_object(Bucket="assets", Key="docs/copy.txt", CopySource={"Bucket": "assets", "Key": key})
out["copy"] = s3.get_object(Bucket="assets", Key="docs/copy.txt")["Body"].read().decode()
try:
    s3.copy_object(Bucket="assets", Key="docs/stolen.txt",
                   CopySource={"Bucket": "assets", "Key": "secret.txt"})
    out["stolen"] = "copied"
except ClientError as e:
    out["stolen"] = e.response["ResponseMetadata"]["HTTPStatusCode"]
keys = []
for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket="assets", Prefix="docs/", PaginationConfig={"PageSize": 1}):
    keys += [o["Key"] for o in page.get("Contents", [])]
out["keys"] = keys
print(json.dumps(out))
"#;

#[test]
fn an_sdk_works_within_the_scope_and_not_beyond() {
    let mut scope = docs_scope();
    scope["scope"]["methods"] = json!(["GET", "HEAD", "PUT", "POST"]);
    let st = Stack::start(scope);
    let cert = st.certs.path().join("cert.pem");
    for (listener, scheme, verify) in [
        ("s3", "http", "-".to_string()),
        ("s3_tls", "https", cert.display().to_string()),
    ] {
        let endpoint = st
            .envoy
            .url(listener, "")
            .replace("http://", &format!("{scheme}://"));
        let home = tempfile::tempdir().unwrap();
        let out = std::process::Command::new(venv_bin("python"))
            .args(["-c", BOTO3_SCOPED, &endpoint, &verify])
            .env("HOME", home.path())
            .env("AWS_CONFIG_FILE", home.path().join("none"))
            .env("AWS_SHARED_CREDENTIALS_FILE", home.path().join("none"))
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env_remove("AWS_ENDPOINT_URL")
            .env_remove("AWS_PROFILE")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{listener}: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let r: Value = serde_json::from_str(stdout.trim()).unwrap();
        assert_eq!(r["get"], "from boto3", "{listener}: {r}");
        assert_eq!(r["metadata"]["origin"], "boto3", "{listener}: {r}");
        assert_eq!(r["head"], 10, "{listener}: {r}");
        assert_eq!(r["multi"], 1000, "{listener}: {r}");
        assert_eq!(r["copy"], "from boto3", "{listener}: {r}");
        assert_eq!(r["stolen"], 403, "{listener}: {r}");
        assert_eq!(
            r["keys"],
            json!([
                "docs/boto ü+(1).txt",
                "docs/copy.txt",
                "docs/multi.bin",
                "docs/readme.txt"
            ]),
            "{listener}: {r}"
        );
    }
    assert_eq!(st.direct("/assets/docs/stolen.txt").status, 404);
    // The SDK's framing and checksum headers were signed through.
    let seen = st.seen();
    for name in [
        "x-amz-trailer",
        "x-amz-decoded-content-length",
        "x-amz-sdk-checksum-algorithm",
    ] {
        assert!(
            seen.iter().any(|s| s.header(name).is_some()),
            "no request carried {name}: {:?}",
            seen.iter().map(|s| &s.headers).collect::<Vec<_>>()
        );
    }
    assert!(st
        .seen()
        .iter()
        .all(|s| s.header("x-amz-copy-source") != Some("assets/secret.txt")));
}

/// The `signing` section of the shipped `envoy/signing-edge.yaml` S3 edge
/// (the first JSON block of the file), as an operator would copy it.
fn shipped_signing_edge() -> Value {
    let yaml = include_str!("../../envoy/signing-edge.yaml");
    let start = yaml.find("{\"role\": \"storage\"").unwrap();
    let end = start
        + yaml[start..]
            .find("- name: envoy.filters.http.upstream_codec")
            .unwrap();
    let v: Value = serde_json::from_str(&yaml[start..end]).unwrap();
    v["signing"].clone()
}

/// The shipped edge's scope (reads and writes of one bucket) against
/// SeaweedFS, path style: a copy from another bucket and the bucket's own
/// policy and ACL are outside it.
#[test]
fn the_shipped_edge_scope_keeps_to_its_bucket() {
    let shipped = shipped_signing_edge();
    assert_eq!(
        shipped["scope"],
        json!({"methods": ["GET", "HEAD", "PUT"], "buckets": ["my-bucket"]})
    );
    let st = Stack::start(json!({"scope": shipped["scope"]}));
    st.relay.clear();
    for (what, args, path) in [
        (
            "copy from another bucket",
            vec!["-X", "PUT", "-H", "x-amz-copy-source: /assets/secret.txt"],
            "/my-bucket/stolen.txt",
        ),
        (
            "bucket policy",
            vec!["-X", "PUT", "--data-binary", "{\"Statement\": []}"],
            "/my-bucket?policy",
        ),
        (
            "bucket ACL",
            vec!["-X", "PUT", "-H", "x-amz-acl: public-read"],
            "/my-bucket?acl",
        ),
        (
            "object ACL",
            vec!["-X", "PUT", "-H", "x-amz-acl: public-read"],
            "/my-bucket/docs/readme.txt?acl",
        ),
    ] {
        let r = st.edge(&args, path);
        assert_refused(&r, 403, "this signing edge", what);
    }
    assert!(st.seen().is_empty(), "{:?}", st.seen());
    assert_eq!(st.direct("/my-bucket/stolen.txt").status, 404);
    let r = st.edge(
        &[
            "-X",
            "PUT",
            "-H",
            "x-amz-copy-source: my-bucket/docs/readme.txt",
        ],
        "/my-bucket/copy.txt",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(st.direct("/my-bucket/copy.txt").body, DOCS);
}

/// An edge whose paths map to one bucket and key prefix and whose scope
/// names only methods is confined to that mapping: a copy source elsewhere
/// is a read beyond it.
#[test]
fn a_mapped_edge_copies_only_from_its_mapping() {
    let st = Stack::start(json!({
        "buckets": [{"prefix": "/files/", "bucket": "assets", "key_prefix": "docs/"}],
        "scope": {"methods": ["GET", "HEAD", "PUT"]},
    }));
    let r = st.edge(&[], "/files/readme.txt");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.body, DOCS);
    for source in ["/assets/secret.txt", "/other/secret.txt"] {
        let r = st.edge(
            &["-X", "PUT", "-H", &format!("x-amz-copy-source: {source}")],
            "/files/stolen.txt",
        );
        assert_refused(
            &r,
            403,
            "this signing edge does not sign this x-amz-copy-source",
            source,
        );
    }
    assert!(
        st.seen()
            .iter()
            .all(|s| s.header("x-amz-copy-source").is_none()),
        "storage received a copy source"
    );
    assert_eq!(st.direct("/assets/docs/stolen.txt").status, 404);
    // Within the mapping a copy still works.
    let r = st.edge(
        &[
            "-X",
            "PUT",
            "-H",
            "x-amz-copy-source: /assets/docs/readme.txt",
        ],
        "/files/copy.txt",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(st.direct("/assets/docs/copy.txt").body, DOCS);
}
