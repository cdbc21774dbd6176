//! Objects through the signing edge with curl: reads, conditional and
//! partial reads, writes, listings, and keys with special characters.

use super::*;

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
        let r = put_bytes(&url(&format!("/listing/{}", encode_key(k))), k.as_bytes());
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

#[test]
fn keys_with_special_characters_round_trip_and_list() {
    let s3 = S3::start(&["keys"], vec![s3_identity()]);
    let gate = Gate::start(GateSpec::new(s3.port));
    let mut expected = BTreeSet::new();
    let mut failures = vec![];
    for (i, key) in SPECIAL_KEYS.iter().enumerate() {
        let body = format!("object {i}: {key}");
        // Upstream placement for PUT, downstream for the second GET.
        let path = format!("/keys/{}", encode_key(key));
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
            ("s3", format!("/keys/{}", encode_key(key))),
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
