//! Shared settings: the VM configuration layered under each placement's
//! own (`Config::parse_layered`), and the checks across sections that
//! layering makes worth having (bucket mappings against internal prefixes).

use crate::config::{Config, ConfigError, MapEnv, Role};

fn layered(vm: &str, placement: &str) -> Result<Config, ConfigError> {
    Config::parse_layered(vm.as_bytes(), placement.as_bytes(), &MapEnv(vec![]))
}

fn parse(s: &str) -> Result<Config, ConfigError> {
    Config::parse(s.as_bytes(), &MapEnv(vec![]))
}

/// A deployment's shared facts: where storage is and what is internal.
const SHARED: &str = r#"{"redirect": {"internal_prefixes": ["/internal-assets/"], "consent": "accel_or_flagged"},
    "signing": {"region": "us-east-1", "endpoint": "127.0.0.1:8333",
                "buckets": [{"prefix": "/internal-assets/", "bucket": "assets"}],
                "credentials": {"source": "static", "access_key_id": "AK", "secret_access_key": "SK"}}}"#;

#[test]
fn an_empty_vm_configuration_changes_nothing() {
    let placements = [
        "",
        r#"{"role": "auth_backend"}"#,
        r#"{"role": "storage", "signing": {"region": "r"}}"#,
        r#"{"role": "edge", "signing": {"region": "r"}}"#,
        // Refusals keep their exact line, with no document named.
        r#"{"role": "storage"}"#,
        r#"{"rolle": "edge"}"#,
        r#"{"role": "storage", "signing": {"region": "r"}, "augment_headers": true}"#,
        "[",
    ];
    for vm in ["", "  \n", "{}", r#"{"signing": null}"#] {
        for p in placements {
            assert_eq!(layered(vm, p), parse(p), "vm {vm:?}, placement {p}");
        }
    }
    let e = layered("{}", r#"{"role": "storage"}"#).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid asset-gate configuration: field `signing`: required when role is \"storage\""
    );
}

#[test]
fn each_placement_names_only_its_role() {
    let whole = |role: &str| {
        let open = SHARED.trim_end().strip_suffix('}').unwrap();
        format!(r#"{open}, "role": "{role}"}}"#)
    };
    // Storage and gateway read the shared sections as if they were their own.
    for role in ["storage", "gateway"] {
        let c = layered(SHARED, &format!(r#"{{"role": "{role}"}}"#)).unwrap();
        assert_eq!(c, parse(&whole(role)).unwrap(), "{role}");
        assert_eq!(c.redirect.internal_prefixes, ["/internal-assets/"]);
        assert!(c.signing.is_some());
    }
    // The edge and the auth backend read `redirect` and not `signing`: no
    // credentials poller starts for them.
    for (role, r) in [("edge", Role::Edge), ("auth_backend", Role::AuthBackend)] {
        let c = layered(SHARED, &format!(r#"{{"role": "{role}"}}"#)).unwrap();
        assert_eq!(c.role, r);
        assert!(c.signing.is_none(), "{role}");
        assert_eq!(
            c.redirect,
            parse(&whole(role)).unwrap().redirect,
            "{role}: the shared redirect section"
        );
    }
}

/// Where storage is and whose credentials sign, stated once; what each
/// placement signs is its own.
const SIGNING_KEYS: &str = r#""region": "us-east-1", "endpoint": "127.0.0.1:8333",
    "credentials": {"source": "static", "access_key_id": "AK", "secret_access_key": "SK"}"#;

#[test]
fn a_placement_adds_keys_to_a_shared_section() {
    let vm = format!(r#"{{"signing": {{{SIGNING_KEYS}}}}}"#);
    // The placement's configuration with the shared keys written into it.
    let whole = |placement: &str| {
        let merged = format!(r#""signing": {{{SIGNING_KEYS}, "#);
        parse(&placement.replacen(r#""signing": {"#, &merged, 1)).unwrap()
    };
    // One VM, three placements (the demo's, and docs/configuration.md's):
    // flow A storage maps buckets, a flow C signing edge signs without a
    // marker within a scope, the gateway maps buckets and asks its auth
    // backend.
    for placement in [
        r#"{"role": "storage", "signing": {"buckets": [{"prefix": "/internal-assets/", "bucket": "assets"}]}}"#,
        r#"{"role": "storage", "signing": {"require_marker": false, "scope": {"methods": ["GET", "HEAD", "PUT"], "buckets": ["assets"], "key_prefixes": ["public/"]}}}"#,
        r#"{"role": "gateway", "gateway": {"auth_cluster": "gateway_auth"}, "signing": {"buckets": [{"prefix": "/internal-assets/", "bucket": "assets"}]}}"#,
    ] {
        let c = layered(&vm, placement).unwrap();
        assert_eq!(c, whole(placement), "{placement}");
        let s = c.signing.unwrap();
        assert_eq!(
            (s.region.as_str(), s.endpoint.as_str()),
            ("us-east-1", "127.0.0.1:8333")
        );
    }
    // The same for `redirect`, `gateway` and the flat flow B keys.
    let c = layered(
        r#"{"redirect": {"internal_prefixes": ["/private/"]}, "augment_headers": true}"#,
        r#"{"role": "edge", "redirect": {"marker_ttl": "5s"}, "header_failure_policy": "deny"}"#,
    )
    .unwrap();
    assert_eq!(
        c,
        parse(r#"{"role": "edge", "redirect": {"internal_prefixes": ["/private/"], "marker_ttl": "5s"}, "augment_headers": true, "header_failure_policy": "deny"}"#).unwrap()
    );
    let c = layered(
        r#"{"gateway": {"auth_cluster": "auth"}, "signing": {"region": "r"}}"#,
        r#"{"role": "gateway", "gateway": {"auth_timeout": "2s"}}"#,
    )
    .unwrap();
    let g = c.gateway.unwrap();
    assert_eq!((g.auth_cluster.as_str(), g.auth_timeout_ms), ("auth", 2000));
}

#[test]
fn a_key_stated_in_both_documents_is_refused() {
    for (vm, placement, field) in [
        (
            SHARED,
            r#"{"role": "storage", "signing": {"region": "r"}}"#,
            "signing.region",
        ),
        (
            SHARED,
            r#"{"role": "edge", "redirect": {"marker_ttl": "5s", "consent": "accel"}}"#,
            "redirect.consent",
        ),
        (
            r#"{"gateway": {"auth_cluster": "a"}, "signing": {"region": "r"}}"#,
            r#"{"role": "gateway", "gateway": {"auth_cluster": "a"}}"#,
            "gateway.auth_cluster",
        ),
        // An object inside a section is one key: not merged further.
        (
            r#"{"signing": {"region": "r", "scope": {"methods": ["GET"]}}}"#,
            r#"{"role": "storage", "signing": {"scope": {"buckets": ["b"]}}}"#,
            "signing.scope",
        ),
        (
            SHARED,
            r#"{"role": "storage", "signing": {"credentials": {"source": "env"}}}"#,
            "signing.credentials",
        ),
        // A flat flow B key is its own key.
        (
            r#"{"augment_headers": true}"#,
            r#"{"role": "edge", "augment_headers": false}"#,
            "augment_headers",
        ),
    ] {
        let e = layered(vm, placement).unwrap_err();
        assert_eq!((e.field.as_str(), e.document), (field, ""), "{placement}");
        assert_eq!(
            e.to_string(),
            format!("invalid asset-gate configuration: field `{field}`: stated in both vm_config.configuration and this placement's configuration; state it once")
        );
    }
    // `null` is a key left out: the shared value is read.
    for placement in [
        r#"{"role": "storage", "signing": null}"#,
        r#"{"role": "storage", "signing": {"endpoint": null}}"#,
    ] {
        let c = layered(SHARED, placement).unwrap();
        assert_eq!(c.signing.unwrap().endpoint, "127.0.0.1:8333");
    }
}

#[test]
fn the_role_is_each_placements_own() {
    let e = layered(r#"{"role": "storage"}"#, r#"{"role": "storage"}"#).unwrap_err();
    assert_eq!(
        (e.field.as_str(), e.document),
        ("role", "vm_config.configuration")
    );
    assert_eq!(
        e.to_string(),
        "invalid asset-gate configuration: vm_config.configuration: field `role`: is each placement's own"
    );
    // Without a role the placement is the default one, the edge.
    assert_eq!(layered(SHARED, "").unwrap().role, Role::Edge);
}

#[test]
fn errors_name_the_document_their_field_is_in() {
    let vm = "vm_config.configuration";
    for (shared, placement, field, document) in [
        ("{", r#"{"role": "edge"}"#, "", vm),
        ("[]", r#"{"role": "edge"}"#, "", vm),
        (r#"{"rolle": "edge"}"#, r#"{"role": "edge"}"#, "rolle", vm),
        (
            r#"{"signing": {"bogus": 1}}"#,
            r#"{"role": "edge"}"#,
            "signing.bogus",
            vm,
        ),
        (
            r#"{"signing": {"region": "us east"}}"#,
            r#"{"role": "storage"}"#,
            "signing.region",
            vm,
        ),
        (SHARED, "{", "", "configuration"),
        (
            SHARED,
            r#"{"role": "storage", "rolle": 1}"#,
            "rolle",
            "configuration",
        ),
        (
            SHARED,
            r#"{"role": "storage", "augment_headers": true}"#,
            "augment_headers",
            "configuration",
        ),
        (SHARED, r#"{"role": "bogus"}"#, "role", "configuration"),
        // A check across sections names the field it refuses, in its document.
        (
            r#"{"redirect": {"marker_header": "x-m"}}"#,
            r#"{"role": "storage", "signing": {"region": "r", "forward_request_headers": ["x-m"]}}"#,
            "signing.forward_request_headers[0]",
            "configuration",
        ),
        (
            r#"{"signing": {"region": "r", "forward_request_headers": ["x-m"]}}"#,
            r#"{"role": "storage", "redirect": {"marker_header": "x-m"}}"#,
            "signing.forward_request_headers[0]",
            vm,
        ),
        // In a section both state, each key's own document; a key neither
        // states is the placement's, whose section it is.
        (
            r#"{"signing": {"region": "us east", "endpoint": "h:1"}}"#,
            r#"{"role": "storage", "signing": {"buckets": []}}"#,
            "signing.region",
            vm,
        ),
        (
            r#"{"signing": {"region": "r"}}"#,
            r#"{"role": "storage", "signing": {"endpoint": "http://h/"}}"#,
            "signing.endpoint",
            "configuration",
        ),
        (
            r#"{"signing": {"region": "r", "buckets": [{"prefix": "/a/"}]}}"#,
            r#"{"role": "storage", "signing": {"endpoint": "h:1"}}"#,
            "signing.buckets[0].bucket",
            vm,
        ),
        (
            r#"{"signing": {"endpoint": "h:1"}}"#,
            r#"{"role": "storage", "signing": {"buckets": []}}"#,
            "signing.region",
            "configuration",
        ),
        (
            r#"{"signing": {"endpoint": "h:1"}}"#,
            r#"{"role": "storage"}"#,
            "signing.region",
            vm,
        ),
        (
            r#"{"augment_headers": true, "header_allow_sensitive": ["authorization"]}"#,
            r#"{"role": "auth_backend", "header_failure_policy": "deny"}"#,
            "header_allow_sensitive[0]",
            vm,
        ),
        (
            r#"{"augment_headers": true}"#,
            r#"{"role": "auth_backend", "header_cache_expiry": "1d"}"#,
            "header_cache_expiry",
            "configuration",
        ),
        // A section that is not an object in one document.
        (
            SHARED,
            r#"{"role": "storage", "signing": 5}"#,
            "signing",
            "configuration",
        ),
        (
            r#"{"signing": 5}"#,
            r#"{"role": "storage", "signing": {"region": "r"}}"#,
            "signing",
            vm,
        ),
    ] {
        let e = layered(shared, placement).unwrap_err();
        assert_eq!(
            (e.field.as_str(), e.document),
            (field, document),
            "{shared} / {placement}: {e}"
        );
        assert!(
            e.to_string()
                .starts_with(&format!("invalid asset-gate configuration: {document}: ")),
            "{e}"
        );
    }
}

#[test]
fn a_shared_section_a_role_does_not_read_is_checked_then_left_out() {
    // A mistake in a section the edge does not read still fails the edge:
    // every placement fails at load, not only the one that reads it.
    let e = layered(
        r#"{"signing": {"region": "r", "endpoint": "http://x/"}}"#,
        r#"{"role": "edge"}"#,
    )
    .unwrap_err();
    assert_eq!(
        (e.field.as_str(), e.document),
        ("signing.endpoint", "vm_config.configuration")
    );
    let e = layered(
        r#"{"gateway": {"auth_timeout": "2m"}, "signing": {"region": "r"}}"#,
        r#"{"role": "storage"}"#,
    )
    .unwrap_err();
    assert_eq!(e.field, "gateway.auth_timeout");
    // Checked, then left out: storage reads no gateway and no provider headers.
    let c = layered(
        r#"{"gateway": {}, "augment_headers": true, "signing": {"region": "r"}}"#,
        r#"{"role": "storage"}"#,
    )
    .unwrap();
    assert!(c.gateway.is_none() && c.augment.is_none() && c.signing.is_some());
    // Edge and auth backend read the shared provider headers; the auth
    // backend's own limits apply to them.
    let c = layered(
        r#"{"augment_headers": true}"#,
        r#"{"role": "auth_backend"}"#,
    )
    .unwrap();
    assert!(c.augment.is_some());
    let e = layered(
        r#"{"augment_headers": true, "header_allow_sensitive": ["authorization"]}"#,
        r#"{"role": "auth_backend"}"#,
    )
    .unwrap_err();
    assert_eq!(
        (e.field.as_str(), e.document),
        ("header_allow_sensitive[0]", "vm_config.configuration")
    );
    // The same sections in a placement's own configuration: as before, a
    // section a role cannot use is refused, and an edge's own signing kept.
    for (p, field) in [
        (r#"{"role": "edge", "gateway": {}}"#, "gateway"),
        (
            r#"{"role": "storage", "signing": {"region": "r"}, "augment_headers": true}"#,
            "augment_headers",
        ),
    ] {
        assert_eq!(layered("{}", p).unwrap_err().field, field);
    }
    let own = r#"{"role": "edge", "signing": {"region": "r"}}"#;
    assert!(layered(r#"{"redirect": {}}"#, own)
        .unwrap()
        .signing
        .is_some());
    // A section partly in each document is the placement's: kept, or
    // refused where the role cannot use it.
    assert!(layered(r#"{"signing": {"endpoint": "h:1"}}"#, own)
        .unwrap()
        .signing
        .is_some());
    let e = layered(
        r#"{"gateway": {"auth_cluster": "a"}}"#,
        r#"{"role": "edge", "gateway": {"auth_timeout": "2s"}}"#,
    )
    .unwrap_err();
    assert_eq!(
        (e.field.as_str(), e.document, e.reason.as_str()),
        (
            "gateway",
            "configuration",
            "only read when role is \"gateway\""
        )
    );
}

#[test]
fn bucket_mappings_and_internal_prefixes_agree() {
    let storage = |redirect: &str, buckets: &str, extra: &str| {
        parse(&format!(
            r#"{{"role": "storage", {redirect} "signing": {{"region": "r", "buckets": {buckets} {extra}}}}}"#
        ))
    };
    let prefixes = r#""redirect": {"internal_prefixes": ["/internal-assets/", "/private/"]},"#;
    // Every mapping lies under an internal prefix, or holds one.
    for buckets in [
        r#"[{"prefix": "/internal-assets/", "bucket": "aaa"}]"#,
        r#"[{"prefix": "/internal-assets/docs/", "bucket": "aaa"}, {"prefix": "/private/", "bucket": "bbb"}]"#,
        r#"[{"prefix": "/", "bucket": "aaa"}]"#,
        // Another storage cluster may serve the other internal prefix.
        r#"[{"prefix": "/private/", "bucket": "bbb"}]"#,
    ] {
        assert!(storage(prefixes, buckets, "").is_ok(), "{buckets}");
    }
    let outside = r#"[{"prefix": "/internal-assets/", "bucket": "aaa"}, {"prefix": "/assets/", "bucket": "bbb"}]"#;
    let e = storage(prefixes, outside, "").unwrap_err();
    assert_eq!(e.field, "signing.buckets[1]");
    assert_eq!(
        e.to_string(),
        "invalid asset-gate configuration: field `signing.buckets[1]`: prefix under none of redirect.internal_prefixes: unreachable"
    );
    // Not checked where the prefixes mean nothing to the placement: a
    // signing edge (no marker), or internal prefixes left to their default
    // (the storage role does not read them; the auth backend's do).
    assert!(storage(prefixes, outside, r#", "require_marker": false"#).is_ok());
    assert!(storage("", outside, "").is_ok());
    assert!(storage(r#""redirect": {"marker_ttl": "5s"},"#, outside, "").is_ok());
    // Shared settings state the prefixes for every placement: checked.
    let e = layered(
        r#"{"redirect": {"internal_prefixes": ["/private/"]}}"#,
        r#"{"role": "storage", "signing": {"region": "r", "buckets": [{"prefix": "/assets/", "bucket": "aaa"}]}}"#,
    )
    .unwrap_err();
    assert_eq!(
        (e.field.as_str(), e.document),
        ("signing.buckets[0]", "configuration")
    );

    // The gateway judges and maps in one place: both ways, defaults included.
    let gateway = |redirect: &str, buckets: &str| {
        parse(&format!(
            r#"{{"role": "gateway", {redirect} "signing": {{"region": "r", "buckets": {buckets}}}}}"#
        ))
    };
    assert!(gateway(prefixes, r#"[{"prefix": "/", "bucket": "aaa"}]"#).is_ok());
    assert!(
        gateway("", "[]").is_ok(),
        "no mapping: the path names the bucket"
    );
    let e = gateway(
        prefixes,
        r#"[{"prefix": "/internal-assets/", "bucket": "aaa"}]"#,
    )
    .unwrap_err();
    assert_eq!(e.field, "redirect.internal_prefixes[1]");
    assert_eq!(
        e.reason,
        "under no signing.buckets prefix: its consents would get 404"
    );
    let e = gateway("", r#"[{"prefix": "/private/", "bucket": "aaa"}]"#).unwrap_err();
    assert_eq!(e.field, "signing.buckets[0]");
}

proptest::proptest! {
    /// Any pair of documents: no panic, and an error names its document
    /// whenever the shared one states anything.
    #[test]
    fn arbitrary_pairs_never_panic(
        vm in proptest::sample::select(vec!["", "{}", "[", "null", r#"{"role":"edge"}"#, r#"{"signing":{}}"#, r#"{"redirect":{"internal_prefixes":[]}}"#, r#"{"augment_headers":true,"header_cache_expiry":"1s"}"#, r#"{"gateway":{"presign":{}}}"#, r#"{"signing":{"region":"r","scope":{}},"redirect":{"marker_ttl":"5s"}}"#, r#"{"signing":7}"#]),
        placement in proptest::sample::select(vec!["", "{}", "7", r#"{"role":"storage"}"#, r#"{"role":"gateway","signing":{"region":"r"}}"#, r#"{"signing":{"region":"r"}}"#, r#"{"header_max_staleness":"1s"}"#, r#"{"role":"edge","redirect":null}"#, r#"{"role":"storage","signing":{"buckets":[],"scope":{"methods":[]}}}"#, r#"{"signing":{"region":null},"redirect":{"consent":"accel"},"augment_headers":true}"#]),
    ) {
        if let Err(e) = layered(vm, placement) {
            proptest::prop_assert!(!e.reason.is_empty());
        }
    }
}
