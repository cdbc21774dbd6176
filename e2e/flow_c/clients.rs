//! Real S3 clients that hold no credentials (boto3, the AWS CLI) through
//! the signing edge.

use super::*;

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
                encode_key(&format!("{prefix}multi/part file.bin"))
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
