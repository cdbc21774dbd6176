//! nginx as the oracle for flow A: real framework backends (Django +
//! django-sendfile2, Rack-, Symfony- and seed-style fixtures) behind real nginx
//! (Debian nginx-light) whose internal location reads the same SeaweedFS bucket
//! through asset-gate's signing edge (flow C, SigV4 enforced).
//!
//! These tests assert nginx's behaviour as research/x-accel-semantics.md
//! describes it, so they prove the oracle is set up right. The stack and the
//! client view live in e2e/harness/oracle.rs, to replay the same cases
//! against asset-gate's flow A and diff.

use crate::harness::oracle::*;

fn content_type_stored(o: &Object) -> String {
    o.put_headers
        .iter()
        .find_map(|h| h.strip_prefix("Content-Type: "))
        .expect("seeded with a content type")
        .to_string()
}

fn assert_no_leak(v: &ClientView, what: &str) {
    assert!(
        v.leaked.is_empty(),
        "{what}: control/internal headers reached the client:\n{}",
        v.summary()
    );
}

/// The one request storage was asked for a consented read, and its checks:
/// `GET` (HEAD stays HEAD), no body, no client credentials.
fn assert_read_only(storage: &Storage, method: &str, what: &str) -> SeenRequest {
    let seen = storage.relay.requests();
    assert_eq!(seen.len(), 1, "{what}: storage requests {seen:#?}");
    let r = seen.into_iter().next().unwrap();
    let expected = if method == "HEAD" { "HEAD" } else { "GET" };
    assert_eq!(r.method, expected, "{what}: storage got {r:#?}");
    assert_eq!(r.body_len, 0, "{what}: a body reached storage: {r:#?}");
    for h in [
        "content-length",
        "transfer-encoding",
        "cookie",
        "authorization",
    ] {
        assert!(r.header(h).is_none(), "{what}: storage got {h}: {r:#?}");
    }
    r
}

#[test]
fn standard_cases_read_the_object_with_a_get_and_no_body() {
    let o = NginxOracle::start(&Framework::ACCEL, true);
    for case in standard_cases() {
        o.storage.relay.clear();
        let base = o.site(case.framework).nginx.url("");
        let v = case.run(&base);
        let obj = o.storage.object(case.object.unwrap());
        let what = &case.name;
        let ranged = case.args.iter().any(|a| a.starts_with("Range:"));
        let (status, body): (u16, &[u8]) = match (case.method, ranged) {
            ("HEAD", _) => (200, b""),
            (_, true) => (206, &obj.body[1000..2000]),
            _ => (200, &obj.body),
        };
        assert_eq!(v.status, status, "{what}:\n{}", v.summary());
        assert_eq!(v.body_sha256, sha256_hex(body), "{what}:\n{}", v.summary());
        let length = if ranged { 1000 } else { obj.body.len() };
        assert_eq!(
            v.one("content-length"),
            Some(length.to_string().as_str()),
            "{what}"
        );
        // A proxied internal location: storage's Content-Type replaces the backend's.
        assert_eq!(
            v.one("content-type"),
            Some(content_type_stored(obj).as_str()),
            "{what}"
        );
        assert_no_leak(&v, what);
        assert_read_only(&o.storage, case.method, what);
    }
    o.storage.assert_unchanged();
}

#[test]
fn django_attachment_keeps_the_backends_disposition_cookies_and_cache_control() {
    let o = NginxOracle::start(&[Framework::Django], true);
    let obj = o.storage.object(UTF8).clone();
    let path = format!("/assets/{}", encode_key(UTF8));
    let v = o.get(Framework::Django, "GET", &path, &["-H", TOKEN]);
    assert_eq!(v.status, 200, "{}", v.summary());
    assert_eq!(v.body_sha256, obj.sha256());
    assert_eq!(
        v.all("content-disposition"),
        ["attachment; filename=\"resume u.txt\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%C3%BC.txt"],
        "sendfile2's Content-Disposition, byte for byte"
    );
    assert_eq!(
        v.all("set-cookie"),
        [
            "seen=1; Path=/",
            "asset_session=django-session-1; HttpOnly; Path=/; SameSite=Lax"
        ],
        "every Set-Cookie line, in order"
    );
    assert_eq!(v.all("cache-control"), ["private"]);
    assert_eq!(v.all("expires"), [DJANGO_EXPIRES]);
    // Django said text/plain (guessed), storage says it with a charset: storage wins.
    assert_eq!(v.one("content-type"), Some("text/plain; charset=utf-8"));
    // Storage's validators and length, not the backend's.
    let direct = o.storage.direct_get(UTF8);
    assert_eq!(v.one("etag"), direct.header("etag"));
    assert_eq!(v.one("last-modified"), direct.header("last-modified"));
    assert_eq!(
        v.all("accept-ranges"),
        ["bytes"],
        "storage's only: Django sent none"
    );
    // Headers outside nginx's six (Django's security middleware) are dropped.
    for h in [
        "x-frame-options",
        "x-content-type-options",
        "referrer-policy",
    ] {
        assert!(v.all(h).is_empty(), "{h} kept:\n{}", v.summary());
    }
    assert_no_leak(&v, "django attachment");
    let seen = assert_read_only(&o.storage, "GET", "django attachment");
    assert_eq!(seen.target, "/assets/r%C3%A9sum%C3%A9%20%C3%BC.txt");

    // The inline variant: sendfile2's inline disposition, nothing else added.
    o.storage.relay.clear();
    let path = format!("/inline/{}", encode_key(PLUS_SPACE));
    let v = o.get(Framework::Django, "GET", &path, &["-H", TOKEN]);
    assert_eq!(v.status, 200, "{}", v.summary());
    assert_eq!(v.body_sha256, o.storage.object(PLUS_SPACE).sha256());
    assert_eq!(
        v.all("content-disposition"),
        ["inline; filename=\"a b+c.txt\""]
    );
    assert!(v.all("set-cookie").is_empty() && v.all("cache-control").is_empty());
    // sendfile2 sent %2B, nginx decoded once and re-escaped without it.
    assert_eq!(
        assert_read_only(&o.storage, "GET", "inline").target,
        "/assets/a%20b+c.txt"
    );
}

#[test]
fn storage_metadata_headers_are_sent_as_well_backend_first() {
    // page.html is stored with its own Content-Type, Cache-Control,
    // Content-Disposition and Expires: nginx sends the backend's copy and then
    // storage's (a proxied internal location appends), Content-Type storage's.
    let o = NginxOracle::start(&[Framework::Django, Framework::Symfony], false);
    let path = format!("/assets/{PAGE}");
    let v = o.get(Framework::Django, "GET", &path, &["-H", TOKEN]);
    assert_eq!(v.status, 200, "{}", v.summary());
    assert_eq!(
        v.all("content-disposition"),
        [
            "attachment; filename=\"resume u.txt\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%C3%BC.txt",
            "inline"
        ]
    );
    assert_eq!(v.all("cache-control"), ["private", "max-age=300"]);
    assert_eq!(
        v.all("expires"),
        [DJANGO_EXPIRES, "Wed, 01 Jan 2036 00:00:00 GMT"]
    );
    assert_eq!(v.all("content-type"), ["text/html"]);

    let v = o.get(Framework::Symfony, "GET", &path, &["-H", TOKEN]);
    assert_eq!(v.status, 200, "{}", v.summary());
    assert_eq!(v.all("cache-control"), ["public", "max-age=300"]);
    assert_eq!(
        v.all("content-disposition"),
        ["attachment; filename=page.html", "inline"]
    );
    assert_eq!(
        v.all("accept-ranges"),
        ["bytes", "bytes"],
        "Symfony's Accept-Ranges and SeaweedFS's"
    );
}

#[test]
fn rack_and_symfony_answers_are_followed_encoded_or_raw() {
    let o = NginxOracle::start(&[Framework::Rack, Framework::Symfony], true);
    let obj = o.storage.object(UTF8).clone();
    let path = format!("/assets/{}", encode_key(UTF8));

    // Rack: lower-case x-accel-redirect, content-length: 0, encoded value.
    let v = o.get(Framework::Rack, "GET", &path, &["-H", TOKEN]);
    assert_eq!(v.status, 200, "{}", v.summary());
    assert_eq!(v.body_sha256, obj.sha256());
    assert_eq!(
        v.all("content-disposition"),
        ["attachment; filename=\"resume u.txt\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%C3%BC.txt"]
    );
    assert_eq!(
        v.all("set-cookie"),
        ["_app_session=rack-session-1; path=/; httponly; samesite=lax"]
    );
    assert_eq!(v.all("cache-control"), ["no-cache"]);
    assert!(v.all("x-request-id").is_empty() && v.all("content-transfer-encoding").is_empty());
    assert_no_leak(&v, "rack");
    assert_read_only(&o.storage, "GET", "rack");

    // Symfony: the raw value (a space and UTF-8 bytes) is served, and nginx
    // sends storage an escaped path; Content-Length N with an empty body is fine.
    o.storage.relay.clear();
    let v = o.get(Framework::Symfony, "GET", &path, &["-H", TOKEN]);
    assert_eq!(v.status, 200, "{}", v.summary());
    assert_eq!(v.body_sha256, obj.sha256());
    assert_eq!(v.all("cache-control"), ["public"]);
    assert_eq!(
        v.all("content-disposition"),
        ["attachment; filename=\"r_sum_ _.txt\"; filename*=utf-8''r%C3%A9sum%C3%A9%20%C3%BC.txt"]
    );
    assert_eq!(v.all("accept-ranges"), ["bytes", "bytes"]);
    let direct = o.storage.direct_get(UTF8);
    assert_eq!(
        v.one("last-modified"),
        direct.header("last-modified"),
        "storage's, not the file's"
    );
    assert_eq!(
        v.one("content-length"),
        Some(obj.body.len().to_string().as_str())
    );
    assert!(v.all("x-powered-by").is_empty());
    assert_no_leak(&v, "symfony");
    let seen = assert_read_only(&o.storage, "GET", "symfony");
    assert_eq!(seen.target, "/assets/r%C3%A9sum%C3%A9%20%C3%BC.txt");

    // The backend's status is ignored: a 404 with X-Accel-Redirect still serves.
    let App::Fixture(rack) = &o.site(Framework::Rack).app else {
        unreachable!()
    };
    rack.control(serde_json::json!({"accel_status": 404}));
    let v = o.get(Framework::Rack, "GET", &path, &["-H", TOKEN]);
    assert_eq!(v.status, 200, "{}", v.summary());
    assert_eq!(v.body_sha256, obj.sha256());
}

#[test]
fn head_stays_head_and_writes_become_reads_of_an_unchanged_object() {
    let o = NginxOracle::start(&Framework::ACCEL, false);
    let obj = o.storage.object(HELLO).clone();
    let path = format!("/assets/{HELLO}");
    for fw in Framework::ACCEL {
        o.storage.relay.clear();
        let v = o.get(fw, "HEAD", &path, &["-H", TOKEN]);
        let what = format!("{} HEAD", fw.name());
        assert_eq!(v.status, 200, "{what}:\n{}", v.summary());
        assert_eq!(v.body_len, 0);
        assert_eq!(
            v.one("content-length"),
            Some(obj.body.len().to_string().as_str())
        );
        assert_read_only(&o.storage, "HEAD", &what);

        for (method, body) in [
            ("PUT", "overwritten"),
            ("PUT", ""),
            ("POST", "a form"),
            ("DELETE", "x"),
            ("PATCH", "y"),
        ] {
            o.storage.relay.clear();
            let v = o.get(
                fw,
                method,
                &path,
                &[
                    "-H",
                    TOKEN,
                    "-H",
                    "Cookie: session=demo-session; other=1",
                    "--data-binary",
                    body,
                ],
            );
            let what = format!("{} {method} {body:?}", fw.name());
            assert_eq!(v.status, 200, "{what}:\n{}", v.summary());
            assert_eq!(v.body_sha256, obj.sha256(), "{what}: the object's GET body");
            assert_no_leak(&v, &what);
            assert_read_only(&o.storage, method, &what);
        }
    }
    o.storage.assert_unchanged();
}

#[test]
fn range_and_conditionals_are_answered_by_storage() {
    let o = NginxOracle::start(&[Framework::Django, Framework::Symfony], true);
    let blob = o.storage.object(BLOB).clone();
    let path = format!("/assets/{BLOB}");
    for fw in [Framework::Django, Framework::Symfony] {
        let v = o.get(
            fw,
            "GET",
            &path,
            &["-H", TOKEN, "-H", "Range: bytes=1048000-"],
        );
        assert_eq!(v.status, 206, "{}", v.summary());
        assert_eq!(v.body_sha256, sha256_hex(&blob.body[1_048_000..]));
        assert_eq!(
            v.one("content-range"),
            Some("bytes 1048000-1048575/1048576")
        );
        assert_no_leak(&v, "range");

        let full = o.get(fw, "GET", &path, &["-H", TOKEN]);
        assert_eq!(full.status, 200);
        assert_eq!(full.body_sha256, blob.sha256());
        let etag = full.one("etag").expect("storage's etag").to_string();
        let v = o.get(
            fw,
            "GET",
            &path,
            &["-H", TOKEN, "-H", &format!("If-None-Match: {etag}")],
        );
        assert_eq!(v.status, 304, "{}", v.summary());
        assert_eq!(v.body_len, 0);
        let v = o.get(
            fw,
            "GET",
            &path,
            &["-H", TOKEN, "-H", "Range: bytes=2000000-"],
        );
        assert_eq!(v.status, 416, "{}", v.summary());
        assert_no_leak(&v, "416");
    }
}

#[test]
fn x_accel_control_headers_never_reach_the_client() {
    // accel_extras: every answer also carries X-Accel-Charset, -Buffering,
    // -Expires and -Limit-Rate (django-downloadview's values).
    let o = NginxOracle::start(&Framework::ACCEL, true);
    for fw in Framework::ACCEL {
        for (method, extra) in [
            ("GET", vec![]),
            ("HEAD", vec![]),
            ("GET", vec!["-H", "Range: bytes=0-9"]),
            ("PUT", vec!["--data-binary", "z"]),
        ] {
            let mut args = vec!["-H", TOKEN];
            args.extend(extra);
            let v = o.get(
                fw,
                method,
                &format!("/assets/{}", encode_key(PLUS_SPACE)),
                &args,
            );
            assert!(v.status == 200 || v.status == 206, "{}", v.summary());
            assert_no_leak(&v, &format!("{} {method}", fw.name()));
            assert!(v.other.iter().all(|(k, _)| !k.starts_with("x-accel")));
        }
    }
}

#[test]
fn a_refusal_reaches_the_client_and_storage_is_never_asked() {
    let o = NginxOracle::start(&Framework::ALL, false);
    for fw in Framework::ALL {
        for (key, extra) in [
            (HELLO, vec![]),
            (HELLO, vec!["-H", "Authorization: Bearer wrong"]),
            (SECRET, vec!["-H", TOKEN]),
        ] {
            let v = o.get(fw, "GET", &format!("/assets/{key}"), &extra);
            let what = format!("{} {key} {extra:?}", fw.name());
            assert_eq!(v.status, 403, "{what}:\n{}", v.summary());
            let expected: &[u8] = if fw == Framework::Django {
                b"access denied by the Django test app\n"
            } else {
                b"access denied by the test backend\n"
            };
            assert_eq!(
                v.body_sha256,
                sha256_hex(expected),
                "{what}: the backend's body"
            );
            assert_no_leak(&v, &what);
        }
    }
    // `internal;`: a client cannot name the internal location, nor make nginx
    // act on a client-sent X-Accel-Redirect.
    let v = o.get(
        Framework::Django,
        "GET",
        "/internal-assets/hello.txt",
        &["-H", TOKEN],
    );
    assert_eq!(v.status, 404, "{}", v.summary());
    let v = o.get(
        Framework::Django,
        "GET",
        "/assets/nothing-here.txt",
        &[
            "-H",
            TOKEN,
            "-H",
            "X-Accel-Redirect: /internal-assets/hello.txt",
        ],
    );
    assert_eq!(v.status, 404, "sendfile2's own 404:\n{}", v.summary());
    assert!(
        o.storage.relay.requests().is_empty(),
        "storage was asked: {:#?}",
        o.storage.relay.requests()
    );
}

#[test]
fn storage_errors_and_identifying_headers_pass_through_nginx() {
    // A file the backend has but the bucket has not: nginx shows storage's 404
    // (S3 XML naming the key) as it is, and storage's own headers on every answer.
    let o = NginxOracle::start(&[Framework::Rack], false);
    std::fs::write(o.storage.root.path().join("only-on-disk.txt"), b"disk\n").unwrap();
    let v = o.get(
        Framework::Rack,
        "GET",
        "/assets/only-on-disk.txt",
        &["-H", TOKEN],
    );
    assert_eq!(v.status, 404, "{}", v.summary());
    assert!(!v.all("x-amz-request-id").is_empty(), "{}", v.summary());
    assert_eq!(
        v.one("content-type"),
        Some("application/xml"),
        "{}",
        v.summary()
    );
    assert_eq!(
        v.all("content-disposition").len(),
        1,
        "the backend's, kept on a 404 too"
    );
    let v = o.get(
        Framework::Rack,
        "GET",
        &format!("/assets/{HELLO}"),
        &["-H", TOKEN],
    );
    assert_eq!(v.status, 200);
    assert!(!v.all("x-amz-request-id").is_empty(), "{}", v.summary());
    assert_eq!(
        v.one("server"),
        Some("nginx/1.22.1"),
        "nginx hides storage's Server"
    );
}

#[test]
fn the_recipe_still_forwards_other_client_headers_to_storage() {
    // nginx's recipe blanks Cookie, Authorization and Content-Length and drops
    // the body, but the client's other headers (its Content-Type, x-amz-*,
    // If-*, Range) still reach storage: asset-gate's allowlist is stricter.
    let o = NginxOracle::start(&[Framework::Rack], false);
    let v = o.get(
        Framework::Rack,
        "GET",
        &format!("/assets/{HELLO}"),
        &[
            "-H",
            TOKEN,
            "-H",
            "x-amz-acl: public-read",
            "-H",
            "Content-Type: text/evil",
        ],
    );
    assert_eq!(v.status, 200, "{}", v.summary());
    let seen = assert_read_only(&o.storage, "GET", "rack");
    assert_eq!(seen.header("x-amz-acl"), Some("public-read"), "{seen:#?}");
    assert_eq!(seen.header("content-type"), Some("text/evil"), "{seen:#?}");
}

#[test]
fn the_seed_backends_307_is_handed_to_the_client() {
    // nginx does not follow redirects: the config-only recipe's backend is not an
    // X-Accel-Redirect emitter, and nginx shows its 307 and internal Location
    // to the client (asset-gate is meant to follow it: an intended difference).
    // `proxy_redirect default` rewrites the backend's own authority to
    // nginx's (absolute_redirect on), so the client is sent to nginx's
    // internal location, which answers it 404.
    let o = NginxOracle::start(&[Framework::Seed], false);
    let v = o.get(
        Framework::Seed,
        "GET",
        "/assets/hello.txt?x=1",
        &["-H", TOKEN],
    );
    assert_eq!(v.status, 307, "{}", v.summary());
    let port = o.site(Framework::Seed).nginx.port;
    assert_eq!(
        v.leaked,
        [
            (
                "location".to_string(),
                format!("http://127.0.0.1:{port}/internal-assets/hello.txt?x=1")
            ),
            ("x-internal-redirect".to_string(), "true".to_string()),
        ]
    );
    let followed = o.get(
        Framework::Seed,
        "GET",
        "/internal-assets/hello.txt?x=1",
        &["-H", TOKEN],
    );
    assert_eq!(followed.status, 404, "{}", followed.summary());
    assert!(o.storage.relay.requests().is_empty());
}

#[test]
fn proxy_method_get_would_turn_head_into_get() {
    // Why e2e/fixtures/nginx/flow_a.conf leaves `proxy_method GET` out of nginx's recipe.
    let template = FLOW_A_CONF.replace(
        "proxy_pass_request_body off;",
        "proxy_method GET;\n        proxy_pass_request_body off;",
    );
    assert_ne!(template, FLOW_A_CONF);
    let o = NginxOracle::start_with(&template, &[Framework::Rack], false);
    let v = o.get(
        Framework::Rack,
        "HEAD",
        &format!("/assets/{HELLO}"),
        &["-H", TOKEN],
    );
    assert_eq!(v.status, 200, "{}", v.summary());
    assert_eq!(v.body_len, 0, "the client still gets headers only");
    let seen = o.storage.relay.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0].method, "GET",
        "storage was sent a GET for the client's HEAD"
    );
}
