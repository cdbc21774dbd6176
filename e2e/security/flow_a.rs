//! Flow A: what a read consent carries. The demo auth backend (and any
//! backend copying the client's query or path into its redirect) must not
//! turn a read of one key into a read of something else: another
//! subresource (`?acl`, `?tagging`, `?uploadId`), an active content type
//! served on the application's origin, a differently spelled key, or a
//! redirect it never meant as a consent. Judged by what storage received
//! (a recording relay in front of SeaweedFS, SigV4 enforced).

use crate::harness::oracle::{RecordingProxy, SeenRequest};
use crate::harness::*;
use serde_json::{json, Value};

const TEMPLATE: &str = include_str!("../fixtures/envoy/assets.yaml");
const TOKEN: &str = "Authorization: Bearer demo-token";
const HELLO: &[u8] = b"hello from storage\n";
const SECRET: &[u8] = b"nobody may read this\n";
const B_OBJECT: &[u8] = b"another flow's object, in another bucket\n";
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n<script>alert(document.domain)</script>\n";

struct Stack {
    envoy: Envoy,
    auth: Backend,
    relay: RecordingProxy,
    _echo: Backend,
    _s3: S3,
    _certs: tempfile::TempDir,
}

/// The redirect section every role gets: the tests' prefixes, plus `extra`.
fn redirect(extra: &Value) -> Value {
    let mut r =
        json!({"internal_prefixes": ["/internal-assets/", "/internal-echo/"], "marker_ttl": "5s"});
    if let (Some(r), Some(extra)) = (r.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            r.insert(k.clone(), v.clone());
        }
    }
    r
}

impl Stack {
    /// Flow A with the demo auth backend (`auth` merged into its settings)
    /// and `extra` in every role's redirect section.
    fn start(auth: Value, extra: Value) -> Stack {
        Stack::start_on(TEMPLATE, auth, extra, None)
    }

    /// As `start`, on `template`; `storage_b`, when given, is the redirect
    /// section of a second storage placement (cluster `storage_b`, same
    /// `vm_id`) mapping `/internal-echo/` to the bucket `other`.
    fn start_on(template: &str, auth: Value, extra: Value, storage_b: Option<Value>) -> Stack {
        let id = Identity::admin("AKIDFLOWASEC", "flow-a-security-secret");
        let s3 = S3::start(&["assets", "other"], vec![id.clone()]);
        let relay = RecordingProxy::start(s3.port);
        let auth = Backend::start("auth", auth);
        let echo = Backend::start("echo", json!({}));
        let storage_config = json!({
            "role": "storage",
            "redirect": redirect(&extra),
            "signing": signing_for(&s3, &id, &[("/internal-assets/", "assets"), ("/internal-echo/", "assets")]),
        });
        let certs = tempfile::tempdir().unwrap();
        let (cert, key) = self_signed_cert(certs.path());
        let role = |name: &str| filter_config(&json!({"role": name, "redirect": redirect(&extra)}));
        let storage_b_config = json!({
            "role": "storage",
            "redirect": redirect(storage_b.as_ref().unwrap_or(&extra)),
            "signing": {
                "region": "us-east-1",
                "endpoint": s3.authority(),
                "buckets": [{"prefix": "/internal-echo/", "bucket": "other"}],
                "credentials": {"source": "static", "access_key_id": id.access_key, "secret_access_key": id.secret_key},
            },
        });
        let vars = vec![
            ("STORAGE_B_CONFIG", filter_config(&storage_b_config)),
            ("WASM", wasm().display().to_string()),
            ("AUTH_PORT", auth.port.to_string()),
            ("ECHO_PORT", echo.port.to_string()),
            ("STORAGE_PORT", relay.port.to_string()),
            ("EDGE_CONFIG", role("edge")),
            ("AUTH_CONFIG", role("auth_backend")),
            ("STORAGE_CONFIG", filter_config(&storage_config)),
            ("TLS_CERT", cert.display().to_string()),
            ("TLS_KEY", key.display().to_string()),
        ];
        let envoy = Envoy::start(template, &vars, EnvoyOptions::default());
        let dir = tempfile::tempdir().unwrap();
        for (key, body, ctype) in [
            ("hello.txt", HELLO, "text/plain"),
            ("secret.txt", SECRET, "text/plain"),
            ("a b.txt", HELLO, "text/plain"),
            ("up/avatar.png", PNG, "image/png"),
            ("other:hello.txt", B_OBJECT, "text/plain"),
        ] {
            let (bucket, key) = key.split_once(':').unwrap_or(("assets", key));
            let f = dir.path().join("body");
            std::fs::write(&f, body).unwrap();
            let ct = format!("Content-Type: {ctype}");
            let path = format!("/{bucket}/{}", key.replace(' ', "%20"));
            let r = s3.signed_curl(&id, &["-T", f.to_str().unwrap(), "-H", &ct], &path);
            assert_eq!(r.status, 200, "seed {key}: {}", r.text());
        }
        Stack {
            envoy,
            auth,
            relay,
            _echo: echo,
            _s3: s3,
            _certs: certs,
        }
    }

    fn get(&self, path: &str) -> Response {
        curl(&["-H", TOKEN, &self.envoy.url("assets", path)])
    }

    /// What storage was asked since the last call.
    fn seen(&self) -> Vec<SeenRequest> {
        let seen = self.relay.requests();
        self.relay.clear();
        seen
    }
}

fn targets(seen: &[SeenRequest]) -> Vec<String> {
    seen.iter().map(|r| r.target.clone()).collect()
}

/// A read consent carries only what a read needs: `response-*` overrides
/// with a passive type reach storage, any other parameter is dropped (the
/// read of the consented key goes on without it), and what cannot be
/// dropped without changing the answer's meaning is refused with 404.
#[test]
fn a_read_consent_carries_only_read_query_parameters() {
    let stack = Stack::start(json!({}), json!({}));
    for style in ["redirect", "accel"] {
        stack.auth.control(json!({"style": style}));
        stack.seen();
        // Subresources a read consent never names: the object, not its ACL,
        // tags or an upload.
        for query in [
            "acl",
            "tagging",
            "uploadId=abc",
            "uploads",
            "attributes",
            "x-id=GetObjectAcl",
            "v=3&acl",
        ] {
            let r = stack.get(&format!("/assets/hello.txt?{query}"));
            assert_eq!(r.status, 200, "{style} ?{query}: {}", r.text());
            assert_eq!(r.body, HELLO, "{style} ?{query}");
            let seen = stack.seen();
            assert_eq!(
                targets(&seen),
                ["/assets/hello.txt"],
                "{style} ?{query}: storage got a parameter the consent does not carry"
            );
        }
        // Passive overrides pass, and storage applies them.
        let r = stack.get(
            "/assets/up/avatar.png?response-content-type=image/png&response-content-disposition=attachment&response-cache-control=no-store",
        );
        assert_eq!(r.status, 200, "{style}: {}", r.text());
        assert_eq!(r.header("content-type"), Some("image/png"), "{style}");
        assert_eq!(
            r.header("content-disposition"),
            Some("attachment"),
            "{style}"
        );
        let seen = targets(&stack.seen());
        assert_eq!(seen.len(), 1, "{style}: {seen:?}");
        assert!(
            seen[0].contains("response-content-disposition=attachment"),
            "{style}: {seen:?}"
        );
        // An active type would serve the uploaded PNG as HTML on the
        // application's origin: refused, never sent.
        for (query, why) in [
            (
                "response-content-type=text/html",
                "active response-content-type",
            ),
            (
                "response-content-type=text%2Fhtml%3B%20charset%3Dutf-8",
                "active response-content-type",
            ),
            (
                "response-content-type=image/svg%2Bxml",
                "active response-content-type",
            ),
            (
                "response-content-type=application/xhtml+xml",
                "active response-content-type",
            ),
            (
                "response-content-type=text/plain,text/html",
                "active response-content-type",
            ),
            ("versionId=null", "versionId or partNumber"),
            ("partNumber=1", "versionId or partNumber"),
            (
                "response-content-type=image/png&response-content-type=text/html",
                "repeats a parameter",
            ),
            (
                "response%2Dcontent-type=text/html",
                "percent-encoded parameter name",
            ),
        ] {
            let r = stack.get(&format!("/assets/up/avatar.png?{query}"));
            assert_eq!(r.status, 404, "{style} ?{query}: {}", r.text());
            assert!(
                r.text()
                    .starts_with("asset-gate: the auth backend's redirect target was refused: ")
                    && r.text().contains(why),
                "{style} ?{query}: {}",
                r.text()
            );
            assert_ne!(
                r.header("content-type"),
                Some("text/html"),
                "{style} ?{query}"
            );
            let seen = stack.seen();
            assert!(
                seen.is_empty(),
                "{style} ?{query}: storage was asked {:?}",
                targets(&seen)
            );
        }
    }
    assert!(stack.envoy.gate_stat("consent_query_dropped") >= 14);
}

/// With the settings, an operator lets reads name a version or a part and
/// pick an active type; still nothing else.
#[test]
fn read_parameters_and_active_types_pass_only_when_configured() {
    let stack = Stack::start(
        json!({}),
        json!({"read_parameters": ["versionId"], "allow_active_content_types": true}),
    );
    let r = stack.get("/assets/up/avatar.png?response-content-type=text/html&acl");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("text/html"));
    assert_eq!(
        targets(&stack.seen()),
        ["/assets/up/avatar.png?response-content-type=text/html"]
    );
    stack.get("/assets/hello.txt?versionId=null");
    assert_eq!(targets(&stack.seen()), ["/assets/hello.txt?versionId=null"]);
    let r = stack.get("/assets/hello.txt?partNumber=1");
    assert_eq!(r.status, 404, "{}", r.text());
    assert!(stack.seen().is_empty());
}

/// A backend that checks the key as sent (a string comparison) denies
/// `secret.txt`; `secret%2etxt` is the same key for storage. A 307's key
/// must be in normal form (no escaped unreserved byte, upper-case hex), so
/// the key the backend saw is the key storage reads.
#[test]
fn a_307_key_is_the_key_storage_reads() {
    let stack = Stack::start(json!({"raw_key_check": true}), json!({}));
    let r = stack.get("/assets/secret.txt");
    assert_eq!(r.status, 403, "{}", r.text());
    for path in [
        "/assets/secret%2etxt",
        "/assets/secret%2Etxt",
        "/assets/%73ecret.txt",
        "/assets/hello%2etxt",
        "/assets/a%2bb.txt",
    ] {
        let r = stack.get(path);
        assert_eq!(r.status, 404, "{path}: {}", r.text());
        assert_eq!(
            r.text(),
            "asset-gate: the auth backend's redirect target was refused: the object key is not in normal form (an escaped unreserved character or lower-case hex)\n",
            "{path}"
        );
        let seen = stack.seen();
        assert!(
            seen.is_empty(),
            "{path}: storage was asked {:?}",
            targets(&seen)
        );
    }
    assert!(stack.envoy.gate_stat("redirects_refused") >= 5);
    // Escapes a key needs still work.
    let r = stack.get("/assets/a%20b.txt");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.body, HELLO);
    assert_eq!(targets(&stack.seen()), ["/assets/a%20b.txt"]);

    // The demo backend itself compares the decoded key.
    stack.auth.control(json!({"raw_key_check": false}));
    for path in ["/assets/secret%2etxt", "/assets/%73ecret.txt"] {
        let r = stack.get(path);
        assert_eq!(r.status, 403, "{path}: {}", r.text());
        assert_eq!(r.text(), "access denied by the demo auth backend\n");
    }
    assert!(stack.seen().is_empty());
}

/// An open redirect in the backend (`/login?next=/internal-assets/...`, an
/// unflagged 307) is a consent by default (compatible); with
/// `redirect.consent: "accel_or_flagged"` only `X-Accel-Redirect` and a 307
/// flagged with the marker header consent.
#[test]
fn only_accel_and_flagged_307_consent_when_configured() {
    let open_redirect =
        json!({"location_override": "/internal-assets/secret.txt", "flag_internal": false});
    let stack = Stack::start(open_redirect.clone(), json!({}));
    let r = stack.get("/assets/hello.txt");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.body, SECRET, "the default takes any internal 307");
    drop(stack);

    let stack = Stack::start(open_redirect, json!({"consent": "accel_or_flagged"}));
    let r = stack.get("/assets/hello.txt");
    assert_eq!(r.status, 307, "{}", r.text());
    let location = r.header("location").unwrap_or_default();
    assert!(
        location.ends_with("/internal-assets/secret.txt"),
        "{location}"
    );
    assert!(r.header("x-internal-redirect").is_none());
    let seen = stack.seen();
    assert!(seen.is_empty(), "storage was asked {:?}", targets(&seen));
    assert!(stack.envoy.gate_stat("foreign_redirects_passed") >= 1);
    // The client following it gets nothing from storage.
    let r = curl(&[
        "-H",
        TOKEN,
        &stack.envoy.url("assets", "/internal-assets/secret.txt"),
    ]);
    assert_ne!(r.status, 200);
    assert!(stack.seen().is_empty());

    // A flagged 307 and an X-Accel-Redirect still consent.
    stack
        .auth
        .control(json!({"location_override": null, "flag_internal": true}));
    let r = stack.get("/assets/hello.txt");
    assert_eq!((r.status, r.body.as_slice()), (200, HELLO), "{}", r.text());
    stack.auth.control(json!({"style": "accel"}));
    let r = stack.get("/assets/hello.txt");
    assert_eq!((r.status, r.body.as_slice()), (200, HELLO), "{}", r.text());
    assert_eq!(targets(&stack.seen()).len(), 2);
}

/// Flow A's template with a second storage placement (same `vm_id`, so the
/// same marker secret) on the test-only `bypass` listener's
/// `/internal-echo/` route: another flow's storage, another bucket.
fn two_placements() -> String {
    let storage = &TEMPLATE[TEMPLATE.find("  - name: storage\n").unwrap()..];
    let storage_b = storage
        .replace("name: storage\n", "name: storage_b\n")
        .replace("cluster_name: storage\n", "cluster_name: storage_b\n")
        .replace("name: asset_gate_storage\n", "name: asset_gate_storage_b\n")
        .replace("${STORAGE_CONFIG}", "${STORAGE_B_CONFIG}");
    let route = "              - match: { prefix: /internal-echo/ }\n                route: { cluster: storage }";
    assert!(TEMPLATE.contains(route));
    let template = TEMPLATE.replace(route, &route.replace("storage }", "storage_b }"));
    format!("{template}\n{storage_b}")
}

/// A genuine marker, as Envoy copies it into the redirected request (seen
/// through the test-only echo route), for `/internal-echo/hello.txt`.
fn capture_marker(stack: &Stack) -> String {
    stack
        .auth
        .control(json!({"internal_prefix": "/internal-echo/"}));
    let r = stack.get("/assets/hello.txt");
    stack
        .auth
        .control(json!({"internal_prefix": "/internal-assets/"}));
    assert_eq!(r.status, 200, "{}", r.text());
    let seen = r.json();
    assert_eq!(seen["path"], "/internal-echo/hello.txt");
    seen["headers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h[0] == "x-internal-redirect")
        .and_then(|h| h[1].as_str())
        .expect("the redirected request carries the marker")
        .to_string()
}

/// Two flows in one Envoy share a `vm_id` (one marker secret) but not a
/// bucket: a marker issued for one is refused by the other's storage
/// placement for the same path when each has its own
/// `redirect.marker_audience`; sharing one is the unbound behaviour.
#[test]
fn a_marker_is_accepted_only_by_its_own_placement() {
    let template = two_placements();
    let replay = |stack: &Stack, marker: &str| {
        let url = stack.envoy.url("bypass", "/internal-echo/hello.txt");
        curl(&["-H", &format!("x-internal-redirect: {marker}"), &url])
    };
    // One audience for both: the marker opens the other flow's bucket.
    let shared = json!({"marker_audience": "flow-a"});
    let stack = Stack::start_on(&template, json!({}), shared.clone(), Some(shared));
    let marker = capture_marker(&stack);
    stack.seen();
    let r = replay(&stack, &marker);
    assert_eq!(
        (r.status, r.body.as_slice()),
        (200, B_OBJECT),
        "{}",
        r.text()
    );
    assert_eq!(targets(&stack.seen()), ["/other/hello.txt"]);
    drop(stack);

    // Each its own: refused at storage B, nothing sent; flow A still works.
    let stack = Stack::start_on(
        &template,
        json!({}),
        json!({"marker_audience": "flow-a"}),
        Some(json!({"marker_audience": "flow-b"})),
    );
    let marker = capture_marker(&stack);
    stack.seen();
    let r = replay(&stack, &marker);
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(
        r.text(),
        "asset-gate: this internal route is reachable only through the auth backend\n"
    );
    assert!(stack.seen().is_empty());
    assert!(
        stack
            .envoy
            .placement_stat("asset_gate_storage_b", "marker_rejected")
            >= 1
    );
    let r = stack.get("/assets/hello.txt");
    assert_eq!((r.status, r.body.as_slice()), (200, HELLO), "{}", r.text());
}
