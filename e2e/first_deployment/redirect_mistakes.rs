//! Every internal-redirect mistake a first deployment makes gets its own
//! name. Each route mistake below passes `envoy --mode validate` and used to
//! give one and the same `502`; a storage placement with another `vm_id`
//! gave the forged-marker `403`. Here each is one listener of one Envoy
//! (flow A's template, its consenting route's policy edited) in front of
//! SeaweedFS, and each must answer its own message, log its own warning
//! (naming the route), agree with Envoy's own count of why it did not
//! follow, and send storage nothing.

use crate::harness::*;
use asset_gate_core::answers::Answer;
use serde_json::json;

const TEMPLATE: &str = include_str!("../fixtures/envoy/assets.yaml");
const TOKEN: &str = "Authorization: Bearer demo-token";
const HELLO: &[u8] = b"hello from storage, through the right route\n";

/// The consenting route's policy in the template, as the docs give it.
const POLICY: &str = "                  internal_redirect_policy:
                    max_internal_redirects: 1
                    redirect_response_codes: [303]
                    response_headers_to_copy: [x-internal-redirect]
                    predicates:
                    - name: envoy.internal_redirect_predicates.allow_listed_routes
                      typed_config:
                        \"@type\": type.googleapis.com/envoy.extensions.internal_redirect.allow_listed_routes.v3.AllowListedRoutesConfig
                        allowed_route_names: [internal_assets, internal_echo]
";

/// One route mistake: the listener that has it, the edits to the
/// template's listener, the answer and the route its warning names, and the
/// counter (`http.<listener>.<counter>`) Envoy bumps for it, if any.
struct Mistake {
    listener: &'static str,
    edits: &'static [(&'static str, &'static str)],
    answer: Answer,
    route: &'static str,
    envoy_counter: Option<&'static str>,
}

impl Mistake {
    /// The first warning the edge role logs for this mistake.
    fn warning(&self) -> String {
        format!(
            "asset-gate: {} (route: {}; 0 more since the last warning)",
            self.answer.text(),
            self.route
        )
    }
}

/// The marker not copied onto the redirected request.
const NO_COPY: (&str, &str) = (
    "                    response_headers_to_copy: [x-internal-redirect]\n",
    "",
);

const MISTAKES: [Mistake; 6] = [
    // (a) No internal_redirect_policy at all.
    Mistake {
        listener: "no_policy",
        edits: &[(POLICY, "")],
        answer: Answer::RedirectNotTried,
        route: "consent_no_policy",
        envoy_counter: None,
    },
    // (b) The earlier flow's 307.
    Mistake {
        listener: "codes_307",
        edits: &[(
            "redirect_response_codes: [303]",
            "redirect_response_codes: [307]",
        )],
        answer: Answer::RedirectNotTried,
        route: "consent_codes_307",
        envoy_counter: None,
    },
    // (c) The marker not copied: the internal route matches only with it.
    Mistake {
        listener: "no_copy",
        edits: &[NO_COPY],
        answer: Answer::RedirectNoRoute,
        route: "none",
        envoy_counter: Some("passthrough_internal_redirect_no_route"),
    },
    // (c) again, where a catch-all route takes the request without the
    // marker: the predicate refuses it, and the warning names it.
    Mistake {
        listener: "no_copy_catch_all",
        edits: &[
            NO_COPY,
            (
                "          http_filters:\n",
                "              - name: app\n                match: { prefix: / }\n                route: { cluster: echo }\n          http_filters:\n",
            ),
        ],
        answer: Answer::RedirectStopped,
        route: "app",
        envoy_counter: Some("passthrough_internal_redirect_predicate"),
    },
    // (d) A stale allowed_route_names: the warning names the route refused.
    Mistake {
        listener: "stale_names",
        edits: &[(
            "allowed_route_names: [internal_assets, internal_echo]",
            "allowed_route_names: [internal_files]",
        )],
        answer: Answer::RedirectStopped,
        route: "internal_assets",
        envoy_counter: Some("passthrough_internal_redirect_predicate"),
    },
    // (e) No redirect allowed: Envoy stops on the consenting route.
    Mistake {
        listener: "max_zero",
        edits: &[("max_internal_redirects: 1", "max_internal_redirects: 0")],
        answer: Answer::RedirectStopped,
        route: "consent_max_zero",
        envoy_counter: Some("passthrough_internal_redirect_too_many_redirects"),
    },
];

/// Envoy's counters of internal redirects it handed back, by reason.
const ENVOY_COUNTERS: [&str; 5] = [
    "passthrough_internal_redirect_bad_location",
    "passthrough_internal_redirect_unsafe_scheme",
    "passthrough_internal_redirect_too_many_redirects",
    "passthrough_internal_redirect_no_route",
    "passthrough_internal_redirect_predicate",
];

/// The template's VM, defined in its `assets` listener.
const VM: &str = "vm_config: &vm
                  vm_id: asset_gate
                  runtime: envoy.wasm.runtime.v8
                  code: { local: { filename: \"${WASM}\" } }";

/// The template's `assets` listener renamed `name` (its stats prefix too,
/// and its consenting route `consent_<name>`), sharing the template's VM,
/// auth backend and storage clusters.
fn listener(name: &str) -> String {
    let start = TEMPLATE
        .find("\n  - name: assets\n")
        .expect("assets listener")
        + 1;
    let end = TEMPLATE
        .find("  # The same over TLS")
        .expect("TLS listener");
    let body = TEMPLATE[start..end]
        .strip_prefix("  - name: assets\n")
        .expect("listener name");
    let consent = "              - name: assets\n                match: { prefix: /assets/ }";
    assert!(body.contains(consent) && body.contains(POLICY) && body.contains(VM));
    let body = body
        .replace("- filters: &assets_filters", "- filters:")
        .replace("stat_prefix: assets", &format!("stat_prefix: {name}"))
        .replace(VM, "vm_config: *vm")
        .replace(
            consent,
            &consent.replace("name: assets", &format!("name: consent_{name}")),
        );
    format!("  - name: {name}\n{body}")
}

/// Flow A's template with one more listener per mistake, and (f): a
/// listener whose internal route goes to `storage_f`, whose storage
/// placement runs in a VM of its own (`vm_id: asset_gate_storage`).
fn template() -> String {
    let mut listeners: String = MISTAKES
        .iter()
        .map(|m| {
            m.edits.iter().fold(listener(m.listener), |l, (from, to)| {
                assert!(l.contains(from), "{}: {from}", m.listener);
                l.replacen(from, to, 1)
            })
        })
        .collect();
    let internal = "route: { cluster: storage, timeout: 300s }";
    listeners.push_str(
        &listener("other_vm").replace(internal, &internal.replace("storage", "storage_f")),
    );
    let storage = &TEMPLATE[TEMPLATE
        .find("  - name: storage\n")
        .expect("storage cluster")..];
    let vm = "vm_config: { vm_id: asset_gate_storage, runtime: envoy.wasm.runtime.v8, code: { local: { filename: \"${WASM}\" } } }";
    let storage_f = storage
        .replace("name: storage\n", "name: storage_f\n")
        .replace("name: asset_gate_storage\n", "name: asset_gate_storage_f\n")
        .replace("vm_config: *vm", vm);
    // The TLS twin is not needed here: the mistakes take its place.
    let tls = TEMPLATE
        .find("  # The same over TLS")
        .expect("TLS listener");
    let bypass = TEMPLATE
        .find("  # Test-only: a misconfigured")
        .expect("bypass listener");
    format!(
        "{}{listeners}{}\n{storage_f}",
        &TEMPLATE[..tls],
        &TEMPLATE[bypass..]
    )
}

struct Stack {
    envoy: Envoy,
    storage: CountingProxy,
    auth: Backend,
    _echo: Backend,
    _s3: S3,
}

impl Stack {
    fn start() -> Stack {
        let id = Identity::admin("AKIDMISTAKES", "redirect-mistakes-secret");
        let s3 = S3::start(&["assets"], vec![id.clone()]);
        let storage = CountingProxy::start(s3.port);
        let auth = Backend::start("auth", json!({"style": "accel"}));
        let echo = Backend::start("echo", json!({}));
        let redirect = json!({"internal_prefixes": ["/internal-assets/", "/internal-echo/"]});
        let role = |name: &str| filter_config(&json!({"role": name, "redirect": redirect}));
        let storage_config = json!({
            "role": "storage",
            "redirect": redirect,
            "signing": signing_for(&s3, &id, &[("/internal-assets/", "assets")]),
        });
        let dir = tempfile::tempdir().expect("temp dir");
        let object = dir.path().join("hello.txt");
        std::fs::write(&object, HELLO).expect("write object");
        let seed = ["-T", object.to_str().expect("UTF-8 path")];
        let put = s3.signed_curl(&id, &seed, "/assets/hello.txt");
        assert_eq!(put.status, 200, "seed: {}", put.text());
        let vars = vec![
            ("WASM", wasm().display().to_string()),
            ("AUTH_PORT", auth.port.to_string()),
            ("ECHO_PORT", echo.port.to_string()),
            ("STORAGE_PORT", storage.port.to_string()),
            ("EDGE_CONFIG", role("edge")),
            ("AUTH_CONFIG", role("auth_backend")),
            ("STORAGE_CONFIG", filter_config(&storage_config)),
        ];
        // One worker: one VM, so one warning throttle.
        let opts = EnvoyOptions {
            concurrency: 1,
            ..EnvoyOptions::default()
        };
        let envoy = Envoy::start(&template(), &vars, opts);
        Stack {
            envoy,
            storage,
            auth,
            _echo: echo,
            _s3: s3,
        }
    }

    fn get(&self, listener: &str, args: &[&str]) -> Response {
        let url = self.envoy.url(listener, "/assets/hello.txt");
        let mut all = vec!["-H", TOKEN];
        all.extend_from_slice(args);
        all.push(&url);
        curl(&all)
    }

    /// Envoy's log lines holding `text`.
    fn logged(&self, text: &str) -> usize {
        self.envoy
            .log()
            .lines()
            .filter(|l| l.contains(text))
            .count()
    }
}

#[test]
fn each_route_mistake_is_named_in_the_answer_and_the_log() {
    let stack = Stack::start();
    // The template's own route follows: the stack itself is sound.
    let r = stack.get("assets", &[]);
    assert_eq!((r.status, r.body.as_slice()), (200, HELLO), "{}", r.text());
    let before = stack.storage.requests();
    for m in &MISTAKES {
        let r = stack.get(m.listener, &[]);
        let what = m.listener;
        assert_eq!(r.status, 502, "{what}: {}", r.text());
        assert_eq!(r.text(), m.answer.body(""), "{what}");
        for leak in ["x-internal-redirect", "location"] {
            assert!(
                r.header(leak).is_none(),
                "{what}: {leak} reached the client"
            );
        }
        // Envoy's own count of why it did not follow agrees (none: it
        // did not try).
        for counter in ENVOY_COUNTERS {
            let stat = format!("http.{}.{counter}", m.listener);
            let expected = u64::from(m.envoy_counter == Some(counter));
            assert_eq!(stack.envoy.stat(&stat), expected, "{what}: {stat}");
        }
        wait_until(what, std::time::Duration::from_secs(5), || {
            stack.logged(&m.warning()) == 1
        });
    }
    assert_eq!(
        stack.storage.requests(),
        before,
        "a declined redirect reached storage"
    );
    assert_eq!(
        stack
            .envoy
            .placement_stat("asset_gate_edge", "redirects_declined"),
        MISTAKES.len() as u64
    );

    // One warning per route per interval: the same mistake again is
    // answered the same, and held back from the log.
    let no_copy = &MISTAKES[2];
    let r = stack.get(no_copy.listener, &[]);
    assert_eq!(r.text(), no_copy.answer.body(""));
    assert_eq!(stack.logged(no_copy.answer.text()), 1);

    // A request whose body kept Envoy from trying still gets the 413 (the
    // client's mistake: no warning); once Envoy tried, the body is not
    // what stopped it.
    let body = ["--data-binary", "a body"];
    let r = stack.get(MISTAKES[0].listener, &body);
    assert_eq!(r.text(), Answer::RedirectDeclinedBody.body(""));
    assert_eq!(r.status, 413);
    assert_eq!(stack.logged(&MISTAKES[0].warning()), 1);
    let r = stack.get(MISTAKES[4].listener, &body);
    assert_eq!(r.text(), MISTAKES[4].answer.body(""));
}

/// (f) A storage placement in a VM of its own has a marker secret of its
/// own: the backend's consent reaches it and is refused, by name. A
/// made-up key id is refused the same way, nothing reaching storage.
#[test]
fn a_storage_placement_with_another_vm_id_is_named() {
    let stack = Stack::start();
    let before = stack.storage.requests();
    let r = stack.get("other_vm", &[]);
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(r.text(), Answer::MarkerOtherKey.body(""));
    // It did go through the backend, and Envoy followed the redirect.
    assert_eq!(stack.auth.hits(), 1);
    assert_eq!(stack.envoy.gate_stat("redirects_declined"), 0);
    let rejected = |placement| stack.envoy.placement_stat(placement, "marker_rejected");
    assert_eq!(rejected("asset_gate_storage_f"), 1);
    // A deployment mistake, so a warning names it, once per interval (a
    // forged marker is logged at debug level only, unless it fakes a key id:
    // then it reads as this mistake, still rate-limited).
    let warned = || stack.logged(Answer::MarkerOtherKey.text());
    assert_eq!(warned(), 1);
    let r = stack.get("other_vm", &[]);
    assert_eq!(r.text(), Answer::MarkerOtherKey.body(""));
    assert_eq!(warned(), 1, "held back within the interval");

    let forged = "x-internal-redirect: v3.0badc0de.9999999999.r..00";
    let url = stack.envoy.url("bypass", "/internal-assets/hello.txt");
    let r = curl(&["-H", forged, &url]);
    assert_eq!((r.status, r.text()), (403, Answer::MarkerOtherKey.body("")));
    assert_eq!(rejected("asset_gate_storage"), 1);
    // The template's own VM has its own rate limit: its first line.
    assert_eq!(warned(), 2);
    assert_eq!(
        stack.storage.requests(),
        before,
        "a refused marker reached storage"
    );

    // The same consent through the template's own listener is served.
    let r = stack.get("assets", &[]);
    assert_eq!((r.status, r.body.as_slice()), (200, HELLO), "{}", r.text());
}
