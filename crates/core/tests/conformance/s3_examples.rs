// The worked examples of the Amazon S3 API Reference, with their published values:
// "Signature Calculations for the Authorization Header: Transferring Payload in a Single
// Chunk" (GET Object with Range, PUT Object, GET Bucket Lifecycle, GET Bucket (List
// Objects)) and "Authenticating Requests: Using Query Parameters" (presigned GET).
// All use access key `AKIAIOSFODNN7EXAMPLE`, secret `wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY`,
// region us-east-1 and 2013-05-24T00:00:00Z.

use asset_gate_core::sigv4::{
    presign_query, presign_with, sha256_hex, sign_headers, sign_headers_with, Credentials,
    HeaderSigning, PathRules, Presigning, Request, Scope, SigningKeyCache, EMPTY_PAYLOAD_SHA256,
    UNSIGNED_PAYLOAD,
};

const HOST: &str = "examplebucket.s3.amazonaws.com";
/// 2013-05-24T00:00:00Z.
const TIME: u64 = 1_369_353_600;
const SCOPE: Scope<'static> = Scope {
    region: "us-east-1",
    service: "s3",
};
const CREDENTIAL: &str = "AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request";

fn creds() -> Credentials {
    Credentials {
        access_key_id: "AKIAIOSFODNN7EXAMPLE".to_string(),
        secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".to_string(),
        session_token: None,
    }
}

struct Example {
    name: &'static str,
    method: &'static str,
    path: &'static str,
    query: &'static str,
    headers: &'static [(&'static str, &'static str)],
    payload_hash: &'static str,
    /// Published canonical request.
    canonical_request: &'static str,
    /// Published last line of the string to sign (hash of the canonical request).
    canonical_request_hash: &'static str,
    signed_headers: &'static str,
    /// Published signature.
    signature: &'static str,
}

const PUT_PAYLOAD: &str = "Welcome to Amazon S3.";
const PUT_PAYLOAD_HASH: &str = "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072";

fn examples() -> Vec<Example> {
    vec![
        Example {
            name: "GET Object",
            method: "GET",
            path: "/test.txt",
            query: "",
            headers: &[("Host", HOST), ("Range", "bytes=0-9")],
            payload_hash: EMPTY_PAYLOAD_SHA256,
            canonical_request: "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\n\
                range:bytes=0-9\n\
                x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n\
                x-amz-date:20130524T000000Z\n\n\
                host;range;x-amz-content-sha256;x-amz-date\n\
                e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            canonical_request_hash:
                "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972",
            signed_headers: "host;range;x-amz-content-sha256;x-amz-date",
            signature: "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
        },
        Example {
            name: "PUT Object",
            method: "PUT",
            // As written in the example; an SDK sends it encoded (checked below too).
            path: "/test$file.text",
            query: "",
            headers: &[
                ("Host", HOST),
                ("Date", "Fri, 24 May 2013 00:00:00 GMT"),
                ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
            ],
            payload_hash: PUT_PAYLOAD_HASH,
            canonical_request: "PUT\n/test%24file.text\n\n\
                date:Fri, 24 May 2013 00:00:00 GMT\n\
                host:examplebucket.s3.amazonaws.com\n\
                x-amz-content-sha256:44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072\n\
                x-amz-date:20130524T000000Z\n\
                x-amz-storage-class:REDUCED_REDUNDANCY\n\n\
                date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class\n\
                44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
            canonical_request_hash:
                "9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d",
            signed_headers: "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
            signature: "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd",
        },
        Example {
            name: "GET Bucket Lifecycle",
            method: "GET",
            path: "/",
            query: "lifecycle",
            headers: &[("Host", HOST)],
            payload_hash: EMPTY_PAYLOAD_SHA256,
            canonical_request: "GET\n/\nlifecycle=\nhost:examplebucket.s3.amazonaws.com\n\
                x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n\
                x-amz-date:20130524T000000Z\n\n\
                host;x-amz-content-sha256;x-amz-date\n\
                e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            canonical_request_hash:
                "9766c798316ff2757b517bc739a67f6213b4ab36dd5da2f94eaebf79c77395ca",
            signed_headers: "host;x-amz-content-sha256;x-amz-date",
            signature: "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543",
        },
        Example {
            name: "GET Bucket (List Objects)",
            method: "GET",
            path: "/",
            query: "max-keys=2&prefix=J",
            headers: &[("Host", HOST)],
            payload_hash: EMPTY_PAYLOAD_SHA256,
            canonical_request: "GET\n/\nmax-keys=2&prefix=J\nhost:examplebucket.s3.amazonaws.com\n\
                x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n\
                x-amz-date:20130524T000000Z\n\n\
                host;x-amz-content-sha256;x-amz-date\n\
                e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            canonical_request_hash:
                "df57d21db20da04d7fa30298dd4488ba3a2b47ca3a489c74750e0f1e7df1b9b7",
            signed_headers: "host;x-amz-content-sha256;x-amz-date",
            signature: "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7",
        },
    ]
}

fn check_header_example(ex: &Example, path: &str, query: &str) {
    let name = ex.name;
    assert_eq!(
        sha256_hex(ex.canonical_request.as_bytes()),
        ex.canonical_request_hash,
        "{name}: the published canonical request and its hash disagree (transcription error)"
    );
    let req = Request {
        method: ex.method,
        path,
        query,
        headers: ex.headers,
    };
    let opts = HeaderSigning {
        payload_hash: ex.payload_hash,
        add_content_sha256_header: true,
        session_token_signed: true,
    };
    let rules = PathRules::for_service(SCOPE.service);
    assert_eq!(rules, PathRules::S3);
    let got = sign_headers_with(
        &req,
        &creds(),
        &SCOPE,
        rules,
        TIME,
        &opts,
        &mut SigningKeyCache::new(),
    )
    .unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(got.canonical_request, ex.canonical_request, "{name}");
    assert_eq!(
        got.string_to_sign,
        format!(
            "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n{}",
            ex.canonical_request_hash
        ),
        "{name}"
    );
    assert_eq!(got.signed_headers, ex.signed_headers, "{name}");
    assert_eq!(got.signature, ex.signature, "{name}");

    // The plain entry point returns exactly the headers to set.
    let headers = sign_headers(
        &req,
        &creds(),
        &SCOPE,
        TIME,
        &opts,
        &mut SigningKeyCache::new(),
    )
    .unwrap_or_else(|e| panic!("{name}: {e}"));
    let expected: Vec<(&str, String)> = vec![
        ("x-amz-date", "20130524T000000Z".to_string()),
        ("x-amz-content-sha256", ex.payload_hash.to_string()),
        (
            "authorization",
            format!(
                "AWS4-HMAC-SHA256 Credential={CREDENTIAL}, SignedHeaders={}, Signature={}",
                ex.signed_headers, ex.signature
            ),
        ),
    ];
    assert_eq!(headers.to_vec(), expected, "{name}");
}

#[test]
fn authorization_header_examples() {
    assert_eq!(sha256_hex(PUT_PAYLOAD.as_bytes()), PUT_PAYLOAD_HASH);
    let examples = examples();
    for ex in &examples {
        check_header_example(ex, ex.path, ex.query);
    }
    // The same requests as an SDK puts them on the wire: `$` percent-encoded, the
    // value-less parameter with `=`, parameters in another order, lowercase escapes.
    check_header_example(&examples[1], "/test%24file.text", "");
    check_header_example(&examples[1], "/test%24file%2etext", "");
    check_header_example(&examples[2], "/", "lifecycle=");
    check_header_example(&examples[3], "/", "prefix=J&max-keys=2");
    println!("checked {} S3 header examples", examples.len());
    assert_eq!(examples.len(), 4);
}

#[test]
fn presigned_url_example() {
    let req = Request {
        method: "GET",
        path: "/test.txt",
        query: "",
        headers: &[("Host", HOST)],
    };
    // Published canonical request, its hash (the last line of the string to sign), and the
    // resulting signature and URL.
    let canonical_request = "GET\n/test.txt\n\
        X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\n\
        host:examplebucket.s3.amazonaws.com\n\nhost\nUNSIGNED-PAYLOAD";
    let hash = "3bfa292879f6447bbcda7001decf97f4a54dc650c8942174ae0a9121cf58ad04";
    let signature = "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";
    assert_eq!(sha256_hex(canonical_request.as_bytes()), hash);

    let opts = Presigning {
        expires_secs: 86_400,
        payload_hash: UNSIGNED_PAYLOAD,
        session_token_signed: true,
    };
    let got = presign_with(
        &req,
        &creds(),
        &SCOPE,
        PathRules::S3,
        TIME,
        &opts,
        &mut SigningKeyCache::new(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(got.canonical_request, canonical_request);
    assert_eq!(
        got.string_to_sign,
        format!("AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n{hash}")
    );
    assert_eq!(got.signature, signature);

    let query = presign_query(
        &req,
        &creds(),
        &SCOPE,
        TIME,
        86_400,
        UNSIGNED_PAYLOAD,
        &mut SigningKeyCache::new(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        query,
        format!(
            "X-Amz-Algorithm=AWS4-HMAC-SHA256\
             &X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request\
             &X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\
             &X-Amz-Signature={signature}"
        )
    );
    println!("checked 1 S3 presigned URL example");
}
