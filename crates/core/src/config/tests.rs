//! The configuration as a whole, through `Config::parse`: defaults,
//! refusals naming their field, and the reference page.

use super::{
    AddressingStyle, BodySigning, Config, ConfigError, CredentialsConfig, FailurePolicy,
    ForeignRedirects, Injection, MapEnv, MissingCredentials, Role,
};

mod credentials;
mod reference;
mod shared;

fn parse(s: &str) -> Result<Config, ConfigError> {
    Config::parse(s.as_bytes(), &MapEnv(vec![]))
}

#[test]
fn empty_config_is_edge_role() {
    let c = parse("").unwrap();
    assert_eq!(c.role, Role::Edge);
    assert!(c.signing.is_none());
    assert_eq!(parse("{}").unwrap(), c);
}

#[test]
fn secrets_not_in_debug() {
    let c = parse(
        r#"{"signing":{"region":"r","credentials":{"source":"static","access_key_id":"AK","secret_access_key":"TOPSECRET"}}}"#,
    )
    .unwrap();
    assert!(!format!("{c:?}").contains("TOPSECRET"));
}

#[test]
fn unknown_field_is_named() {
    let e = parse(r#"{"rolle": "edge"}"#).unwrap_err();
    assert!(e.reason.contains("unknown field `rolle`"), "{e}");
    let e = parse(r#"{"role":"storage","signing":{"region":"eu-west-1","bogus":1}}"#).unwrap_err();
    assert_eq!(e.field, "signing.bogus");
    assert!(e.reason.contains("unknown field `bogus`"), "{e}");
}

#[test]
fn wrong_type_names_the_field() {
    let e =
        parse(r#"{"role":"storage","signing":{"region":"eu-west-1","buckets":"x"}}"#).unwrap_err();
    assert_eq!(e.field, "signing.buckets");
    assert!(e.reason.contains("invalid type"), "{e}");
    let e = parse(r#"{"role": 7}"#).unwrap_err();
    assert_eq!(e.field, "role");
}

#[test]
fn choice_errors_list_the_variants() {
    let e = parse(r#"{"role": "bogus"}"#).unwrap_err();
    assert_eq!(e.field, "role");
    assert_eq!(
        e.reason,
        "unknown variant `bogus`, expected one of `edge`, `auth_backend`, `storage`, `gateway`"
    );
    let e = parse(r#"{"header_injection": 7}"#).unwrap_err();
    assert_eq!(e.field, "header_injection");
    assert_eq!(
        e.reason,
        "invalid type: a number, expected one of `overwrite`, `keep_existing`"
    );
}

#[test]
fn trailing_garbage_is_an_error() {
    assert!(parse("{} x").is_err());
    assert!(parse("[").is_err());
}

proptest::proptest! {
    /// Arbitrary bytes and arbitrary JSON never panic the reader; an
    /// error always names a field or says the JSON is invalid.
    #[test]
    fn arbitrary_configurations_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
        if let Err(e) = parse(&String::from_utf8_lossy(&bytes)) {
            proptest::prop_assert!(!e.reason.is_empty());
        }
    }

    #[test]
    fn arbitrary_json_shapes_never_panic(
        key in proptest::sample::select(vec!["role", "redirect", "signing", "augment_headers", "header_cache_expiry", "header_max_body_bytes", "nope"]),
        inner in proptest::sample::select(vec!["internal_prefixes", "marker_ttl", "region", "buckets", "credentials", "keep_backend_headers", "max_kept_bytes", "x"]),
        value in proptest::sample::select(vec!["null", "true", "1", "-1", "1e400", "\"\"", "\"5s\"", "[]", "[1]", "[\"/a/\"]", "{}", "{\"source\":\"static\"}"]),
    ) {
        for doc in [format!("{{\"{key}\":{value}}}"), format!("{{\"{key}\":{{\"{inner}\":{value}}}}}")] {
            if let Err(e) = parse(&doc) {
                proptest::prop_assert!(!e.reason.is_empty(), "{}", doc);
            }
        }
    }
}

#[test]
fn missing_required_values_are_named() {
    let e = parse(r#"{"role":"storage"}"#).unwrap_err();
    assert_eq!(e.field, "signing");
    let e = parse(r#"{"role":"storage","signing":{}}"#).unwrap_err();
    assert_eq!(e.field, "signing.region");
    let e = parse(
        r#"{"role":"storage","signing":{"region":"us-east-1","credentials":{"source":"static","access_key_id":"AK"}}}"#,
    )
    .unwrap_err();
    assert_eq!(e.field, "signing.credentials.secret_access_key");
    assert_eq!(e.reason, "required");
    let e = parse(
        r#"{"role":"storage","signing":{"region":"us-east-1","buckets":[{"prefix":"/a/"}]}}"#,
    )
    .unwrap_err();
    assert_eq!(e.field, "signing.buckets[0].bucket");
    assert_eq!(e.reason, "required");
}

#[test]
fn region_can_come_from_env() {
    let env = MapEnv(vec![("AWS_REGION", "eu-central-1")]);
    let c = Config::parse(br#"{"role":"storage","signing":{}}"#, &env).unwrap();
    assert_eq!(c.signing.unwrap().region, "eu-central-1");
}

#[test]
fn static_credentials_and_defaults() {
    let c = parse(
        r#"{"role":"storage","signing":{"region":"us-east-1","endpoint":"127.0.0.1:8333",
            "buckets":[{"prefix":"/internal-assets/","bucket":"assets"}],
            "credentials":{"source":"static","access_key_id":"AK","secret_access_key":"SK"}}}"#,
    )
    .unwrap();
    let s = c.signing.unwrap();
    assert_eq!(s.service, "s3");
    assert_eq!(s.addressing_style, AddressingStyle::Path);
    assert_eq!(s.on_missing_credentials, MissingCredentials::Deny);
    assert_eq!(s.buckets[0].key_prefix, "");
    match s.credentials {
        CredentialsConfig::Static(c) => assert_eq!(c.secret_access_key, "SK"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn invalid_values_are_refused() {
    for (cfg, field) in [
        (r#"{"signing":{"region":"us east"}}"#, "signing.region"),
        (
            r#"{"signing":{"region":"r","endpoint":"http://x/"}}"#,
            "signing.endpoint",
        ),
        (
            r#"{"signing":{"region":"r","addressing_style":"virtual"}}"#,
            "signing.endpoint",
        ),
        (
            r#"{"signing":{"region":"r","buckets":[{"prefix":"a/","bucket":"abc"}]}}"#,
            "signing.buckets[0].prefix",
        ),
        (
            r#"{"signing":{"region":"r","buckets":[{"prefix":"/a/","bucket":"A_B"}]}}"#,
            "signing.buckets[0].bucket",
        ),
        (
            r#"{"signing":{"region":"r","buckets":[{"prefix":"/a/","bucket":"abc","key_prefix":"../x"}]}}"#,
            "signing.buckets[0].key_prefix",
        ),
        (
            r#"{"signing":{"region":"r","credentials":{"access_key_id":"AK"}}}"#,
            "signing.credentials.access_key_id",
        ),
        (
            r#"{"signing":{"region":"r","credentials":{"source":"static","access_key_id":"","secret_access_key":"x"}}}"#,
            "signing.credentials.access_key_id",
        ),
    ] {
        let e = parse(cfg).unwrap_err();
        assert_eq!(e.field, field, "{cfg}: {e}");
    }
}

#[test]
fn read_query_and_consent_settings() {
    use crate::internal_redirect::target::{ConsentBy, ReadQuery};
    let c = parse("{}").unwrap();
    assert_eq!(c.redirect.read_query, ReadQuery::default());
    assert_eq!(c.redirect.consent, ConsentBy::AnyInternal307);
    let c = parse(r#"{"redirect":{"read_parameters":["partNumber","versionId"],"allow_active_content_types":true,"consent":"accel_or_flagged"}}"#).unwrap();
    assert_eq!(
        c.redirect.read_query,
        ReadQuery {
            version_id: true,
            part_number: true,
            active_types: true
        }
    );
    assert_eq!(c.redirect.consent, ConsentBy::AccelOrFlagged);
    assert_eq!(c.redirect.marker_audience, "");
    let c = parse(r#"{"redirect":{"marker_audience":"cdn-a.prod_1"}}"#).unwrap();
    assert_eq!(c.redirect.marker_audience, "cdn-a.prod_1");
    for (cfg, field) in [
        (
            r#"{"redirect":{"read_parameters":["versionId","acl"]}}"#,
            "redirect.read_parameters",
        ),
        (
            r#"{"redirect":{"read_parameters":"versionId"}}"#,
            "redirect.read_parameters",
        ),
        (
            r#"{"redirect":{"allow_active_content_types":"yes"}}"#,
            "redirect.allow_active_content_types",
        ),
        (r#"{"redirect":{"consent":"flagged"}}"#, "redirect.consent"),
        (
            r#"{"redirect":{"marker_audience":"a b"}}"#,
            "redirect.marker_audience",
        ),
    ] {
        let e = parse(cfg).unwrap_err();
        assert_eq!(e.field, field, "{cfg}: {e}");
    }
}

#[test]
fn redirect_defaults_and_validation() {
    let c = parse(r#"{"role":"auth_backend"}"#).unwrap();
    assert_eq!(c.role, Role::AuthBackend);
    assert_eq!(
        c.redirect.internal_prefixes,
        vec!["/internal-assets/".to_string()]
    );
    assert_eq!(c.redirect.marker_header, "x-internal-redirect");
    assert_eq!(c.redirect.marker_ttl_secs, 30);
    assert_eq!(c.redirect.foreign_redirects, ForeignRedirects::Pass);
    assert_eq!(c.redirect.key_rules.max_key_length, 1024);
    let c = parse(r#"{"redirect":{"internal_prefixes":["/private/","/x/y/"],"marker_ttl":"5s","foreign_redirects":"reject"}}"#).unwrap();
    assert_eq!(c.redirect.internal_prefixes.len(), 2);
    assert_eq!(c.redirect.marker_ttl_secs, 5);
    for (cfg, field) in [
        (
            r#"{"redirect":{"internal_prefixes":[]}}"#,
            "redirect.internal_prefixes",
        ),
        (
            r#"{"redirect":{"internal_prefixes":["/ok/","nope/"]}}"#,
            "redirect.internal_prefixes[1]",
        ),
        (
            r#"{"redirect":{"internal_prefixes":["/a/../b/"]}}"#,
            "redirect.internal_prefixes[0]",
        ),
        (
            r#"{"redirect":{"internal_prefixes":["/"]}}"#,
            "redirect.internal_prefixes[0]",
        ),
        (
            r#"{"redirect":{"marker_header":"X-Bad Header"}}"#,
            "redirect.marker_header",
        ),
        (r#"{"redirect":{"marker_ttl":"2h"}}"#, "redirect.marker_ttl"),
        (
            r#"{"redirect":{"marker_ttl":"soon"}}"#,
            "redirect.marker_ttl",
        ),
        (
            r#"{"redirect":{"max_key_length":0}}"#,
            "redirect.max_key_length",
        ),
        (
            r#"{"redirect":{"foreign_redirects":"follow"}}"#,
            "redirect.foreign_redirects",
        ),
    ] {
        let e = parse(cfg).unwrap_err();
        assert_eq!(e.field, field, "{cfg}: {e}");
    }
}

#[test]
fn consent_settings_defaults_and_validation() {
    let c = parse(r#"{"role":"auth_backend"}"#).unwrap();
    assert_eq!(
        c.redirect.keep_backend_headers,
        [
            "content-disposition",
            "set-cookie",
            "cache-control",
            "expires",
            "accept-ranges"
        ]
    );
    assert_eq!(c.redirect.max_kept_bytes, 8192);
    assert!(c.redirect.internal_authorities.is_empty());
    let c = parse(r#"{"redirect":{"internal_authorities":["auth:8080","10.0.0.7"],"keep_backend_headers":["set-cookie","content-security-policy"]}}"#).unwrap();
    assert_eq!(c.redirect.internal_authorities, ["auth:8080", "10.0.0.7"]);
    assert_eq!(
        c.redirect.keep_backend_headers,
        ["set-cookie", "content-security-policy"]
    );

    // Flow A storage: the read allowlist, hidden storage headers, plain errors.
    let s = parse(r#"{"role":"storage","signing":{"region":"r","forward_request_headers":["accept-encoding"]}}"#)
        .unwrap()
        .signing
        .unwrap();
    assert_eq!(
        s.forwarded_request_headers,
        [
            "range",
            "if-match",
            "if-none-match",
            "if-modified-since",
            "if-unmodified-since",
            "if-range",
            "accept-encoding"
        ]
    );
    assert!(s
        .hide_response_headers
        .contains(&"x-amz-request-id".to_string()));
    assert!(s.plain_errors);
    // A signing edge (flow C) passes storage's answers on untouched by default.
    let s = parse(r#"{"role":"storage","signing":{"region":"r","require_marker":false}}"#)
        .unwrap()
        .signing
        .unwrap();
    assert!(s.hide_response_headers.is_empty());
    assert!(!s.plain_errors);

    for (cfg, field) in [
        (
            r#"{"redirect":{"internal_authorities":["http://x/"]}}"#,
            "redirect.internal_authorities[0]",
        ),
        (
            r#"{"redirect":{"internal_authorities":[""]}}"#,
            "redirect.internal_authorities[0]",
        ),
        (
            r#"{"redirect":{"keep_backend_headers":["content-length"]}}"#,
            "redirect.keep_backend_headers[0]",
        ),
        (
            r#"{"redirect":{"keep_backend_headers":["set-cookie","X-Accel-Redirect"]}}"#,
            "redirect.keep_backend_headers[1]",
        ),
        (
            r#"{"redirect":{"keep_backend_headers":["x-accel-buffering"]}}"#,
            "redirect.keep_backend_headers[0]",
        ),
        (
            r#"{"redirect":{"max_kept_bytes":100000}}"#,
            "redirect.max_kept_bytes",
        ),
        (
            r#"{"signing":{"region":"r","forward_request_headers":["cookie"]}}"#,
            "signing.forward_request_headers[0]",
        ),
        (
            r#"{"signing":{"region":"r","forward_request_headers":["x-amz-copy-source"]}}"#,
            "signing.forward_request_headers[0]",
        ),
        (
            r#"{"signing":{"region":"r","forward_request_headers":["range","content-type"]}}"#,
            "signing.forward_request_headers[1]",
        ),
        (
            r#"{"signing":{"region":"r","hide_response_headers":["Bad Name"]}}"#,
            "signing.hide_response_headers[0]",
        ),
        (
            r#"{"signing":{"region":"r","expose_amz_headers":["x-amz-version-id","etag"]}}"#,
            "signing.expose_amz_headers[1]",
        ),
        (
            r#"{"signing":{"region":"r","plain_errors":"yes"}}"#,
            "signing.plain_errors",
        ),
    ] {
        let e = parse(cfg).unwrap_err();
        assert_eq!(e.field, field, "{cfg}: {e}");
    }
}

#[test]
fn a_scope_leaves_a_mapped_edge_no_wider_than_its_mapping() {
    let s = |extra: &str| {
        parse(&format!(
            r#"{{"role":"storage","signing":{{"region":"r","buckets":[{{"prefix":"/f/","bucket":"aaa","key_prefix":"docs/"}},{{"prefix":"/g/","bucket":"aaa","key_prefix":"pub/"}}]{extra}}}}}"#
        ))
        .unwrap()
        .signing
        .unwrap()
        .scope
    };
    let scoped = s(r#","scope":{"methods":["GET"]}"#);
    assert_eq!(scoped.buckets, ["aaa"]);
    assert_eq!(scoped.key_prefixes, ["docs/", "pub/"]);
    // What the scope names stays; an unscoped edge stays unscoped.
    let named = s(r#","scope":{"buckets":["bbb"],"key_prefixes":["x/"]}"#);
    assert_eq!(
        (named.buckets, named.key_prefixes),
        (vec!["bbb".to_string()], vec!["x/".to_string()])
    );
    assert!(s("").is_open());
}

#[test]
fn body_signing_and_scope() {
    let s = |extra: &str| {
        parse(&format!(
            r#"{{"role":"storage","signing":{{"region":"r"{extra}}}}}"#
        ))
        .map(|c| c.signing.unwrap())
    };
    let c = s("").unwrap();
    assert_eq!(c.endpoint, "s3.r.amazonaws.com");
    assert_eq!((c.body, c.max_body_bytes), (BodySigning::Stream, 1 << 20));
    // Only S3's host can be derived; never the client's.
    assert_eq!(
        s(r#","service":"execute-api""#).unwrap_err().field,
        "signing.endpoint"
    );
    assert!(c.scope.is_open());
    let c = s(r#","service":"execute-api","endpoint":"api.example""#).unwrap();
    assert_eq!(c.body, BodySigning::Hash);
    let c = s(r#","body":"hash","max_body_bytes":65536,"scope":{"methods":["GET","HEAD"],"buckets":["assets"],"key_prefixes":["public/"]}"#).unwrap();
    assert_eq!((c.body, c.max_body_bytes), (BodySigning::Hash, 65536));
    assert_eq!(c.scope.buckets, ["assets"]);
    let c = s(r#","scope":{"methods":["GET"],"amz_headers":["x-amz-grant-*"],"query_parameters":["tagging"]}"#).unwrap();
    assert_eq!(c.scope.amz_headers, ["x-amz-grant-*"]);
    assert_eq!(c.scope.query_parameters, ["tagging"]);
    for (extra, field) in [
        (
            r#","service":"execute-api","endpoint":"api.example","body":"stream""#,
            "signing.body",
        ),
        (r#","body":"buffer""#, "signing.body"),
        (r#","max_body_bytes":0"#, "signing.max_body_bytes"),
        (
            r#","scope":{"methods":["get"]}"#,
            "signing.scope.methods[0]",
        ),
        (
            r#","scope":{"buckets":["ok-bucket","No_Such"]}"#,
            "signing.scope.buckets[1]",
        ),
        (
            r#","scope":{"key_prefixes":[""]}"#,
            "signing.scope.key_prefixes[0]",
        ),
        (r#","scope":{"paths":["/"]}"#, "signing.scope.paths"),
        (
            r#","scope":{"methods":["GET"],"amz_headers":["x-amz-acl","acl"]}"#,
            "signing.scope.amz_headers",
        ),
        (
            r#","scope":{"methods":["GET"],"amz_headers":["X-Amz-Acl"]}"#,
            "signing.scope.amz_headers",
        ),
        (
            r#","scope":{"methods":["GET"],"query_parameters":["a=b"]}"#,
            "signing.scope.query_parameters",
        ),
        (
            r#","service":"execute-api","endpoint":"api.example","scope":{"buckets":["assets"]}"#,
            "signing.scope",
        ),
    ] {
        let e = s(extra).unwrap_err();
        assert_eq!(e.field, field, "{extra}: {e}");
    }
}

#[test]
fn storage_requires_marker_by_default() {
    let c = parse(r#"{"role":"storage","signing":{"region":"r"}}"#).unwrap();
    assert!(c.signing.unwrap().require_marker);
    let c = parse(r#"{"role":"storage","signing":{"region":"r","require_marker":false}}"#).unwrap();
    assert!(!c.signing.unwrap().require_marker);
}

#[test]
fn header_augmentation_keeps_the_proof_of_concept_defaults() {
    assert!(parse("{}").unwrap().augment.is_none());
    let a = parse(r#"{"augment_headers": true}"#)
        .unwrap()
        .augment
        .unwrap();
    assert_eq!(a.provider.cluster, "sidecar");
    assert_eq!(a.provider.authority, "sidecar");
    assert_eq!(a.provider.path, "/headers");
    assert_eq!(a.expiry_ms, 360_000);
    assert_eq!(a.provider.timeout_ms, 5_000);
    assert_eq!(a.max_staleness_ms, 3_600_000);
    assert_eq!(a.backoff_cap_ms, 60_000);
    assert_eq!(a.max_body_bytes, 64 * 1024);
    assert_eq!(a.failure_policy, FailurePolicy::Pass);
    assert_eq!(a.injection, Injection::Overwrite);
    let a = parse(
        r#"{"augment_headers": true, "header_providing_service_cluster": "idp",
            "header_providing_service_path": "/v1/headers", "header_cache_expiry": "1s",
            "header_max_staleness": "3s", "header_failure_policy": "deny",
            "header_injection": "keep_existing"}"#,
    )
    .unwrap()
    .augment
    .unwrap();
    assert_eq!(a.provider.cluster, "idp");
    assert_eq!(a.expiry_ms, 1000);
    assert_eq!(a.failure_policy, FailurePolicy::Deny);
    assert_eq!(a.injection, Injection::KeepExisting);
    assert!(a.allow_sensitive.is_empty());
    let a = parse(
        r#"{"role": "auth_backend", "augment_headers": true, "header_allow_sensitive": ["x-envoy-retry-on"]}"#,
    )
    .unwrap()
    .augment
    .unwrap();
    assert_eq!(a.allow_sensitive, ["x-envoy-retry-on"]);
    for (cfg, field) in [
        (
            r#"{"augment_headers": true, "header_cache_expiry": "0s"}"#,
            "header_cache_expiry",
        ),
        (
            r#"{"augment_headers": true, "header_cache_expiry": "soon"}"#,
            "header_cache_expiry",
        ),
        (
            r#"{"augment_headers": true, "header_cache_expiry": "10m", "header_max_staleness": "5m"}"#,
            "header_max_staleness",
        ),
        (
            r#"{"augment_headers": true, "header_providing_service_path": "headers"}"#,
            "header_providing_service_path",
        ),
        (
            r#"{"augment_headers": true, "header_providing_service_cluster": ""}"#,
            "header_providing_service_cluster",
        ),
        (
            r#"{"augment_headers": true, "header_max_body_bytes": 0}"#,
            "header_max_body_bytes",
        ),
        (
            r#"{"augment_headers": true, "header_failure_policy": "drop"}"#,
            "header_failure_policy",
        ),
        (r#"{"augment_headers": "yes"}"#, "augment_headers"),
        (
            r#"{"augment_headers": true, "header_allow_sensitive": ["x-tenant"]}"#,
            "header_allow_sensitive[0]",
        ),
        (
            r#"{"augment_headers": true, "header_allow_sensitive": ["cookie", "Authorization"]}"#,
            "header_allow_sensitive[1]",
        ),
        (
            r#"{"augment_headers": true, "header_allow_sensitive": ["x-envoy-internal"]}"#,
            "header_allow_sensitive[0]",
        ),
        (
            r#"{"role": "auth_backend", "augment_headers": true, "header_allow_sensitive": ["x-amz-meta-a", "cookie"]}"#,
            "header_allow_sensitive[1]",
        ),
        (
            r#"{"role": "storage", "augment_headers": true, "signing": {"region": "r"}}"#,
            "augment_headers",
        ),
    ] {
        let e = parse(cfg).unwrap_err();
        assert_eq!(e.field, field, "{cfg}: {e}");
    }
}

#[test]
fn credentials_endpoint() {
    let env = MapEnv(vec![
        (
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
            "/v2/credentials/abc",
        ),
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN", "tok"),
    ]);
    let c = Config::parse(
        br#"{"signing":{"region":"r","credentials":{"source":"endpoint","cluster":"ecs_creds"}}}"#,
        &env,
    )
    .unwrap();
    match c.signing.unwrap().credentials {
        CredentialsConfig::Endpoint(e) => {
            assert_eq!(e.cluster, "ecs_creds");
            assert_eq!(e.authority, "ecs_creds");
            assert_eq!(e.path, "/v2/credentials/abc");
            assert_eq!(e.authorization.as_deref(), Some("tok"));
            assert_eq!(e.timeout_ms, 5000);
            assert_eq!(e.refresh_interval_ms, 900_000);
            assert!(!format!("{e:?}").contains("tok\""));
        }
        other => panic!("{other:?}"),
    }
    for (cfg, field) in [
        (
            r#"{"signing":{"region":"r","credentials":{"source":"endpoint"}}}"#,
            "signing.credentials.cluster",
        ),
        (
            r#"{"signing":{"region":"r","credentials":{"source":"endpoint","cluster":"c"}}}"#,
            "signing.credentials.path",
        ),
        (
            r#"{"signing":{"region":"r","credentials":{"source":"endpoint","cluster":"c","path":"x"}}}"#,
            "signing.credentials.path",
        ),
        (
            r#"{"signing":{"region":"r","credentials":{"source":"env","cluster":"c"}}}"#,
            "signing.credentials.cluster",
        ),
        (
            r#"{"signing":{"region":"r","credentials":{"source":"endpoint","cluster":"c","path":"/p","timeout":"2h"}}}"#,
            "signing.credentials.timeout",
        ),
    ] {
        let e = parse(cfg).unwrap_err();
        assert_eq!(e.field, field, "{cfg}: {e}");
    }
}

#[test]
fn gateway_defaults_and_validation() {
    let g = |gateway: &str| {
        parse(&format!(
            r#"{{"role":"gateway","gateway":{gateway},"signing":{{"region":"r"}}}}"#
        ))
    };
    let c = g("{}").unwrap().gateway.unwrap();
    let e = g(r#"{"presign":{}}"#).unwrap_err();
    assert_eq!(e.field, "gateway.presign.base_url");
    assert_eq!(c.auth_cluster, "auth_backend");
    assert_eq!(c.auth_authority, "auth_backend");
    assert_eq!(c.auth_timeout_ms, 5000);
    assert_eq!(c.forward_headers, ["cookie", "authorization"]);
    assert_eq!(c.presign, None);
    assert_eq!(c.decision_cache.max_age_secs, 60);
    assert_eq!(c.decision_cache.max_entries, 1024);
    assert!(!c.decision_cache.writes);
    let c = g(r#"{"auth_cluster":"a","presign":{"base_url":"http://s3:8333","expires":"168h","always":true},"decision_cache":{"max_age":"0s","writes":true}}"#)
        .unwrap()
        .gateway
        .unwrap();
    assert_eq!(c.auth_authority, "a");
    let p = c.presign.unwrap();
    assert_eq!((p.expires_secs, p.always), (604_800, true));
    assert_eq!(p.base_url, "http://s3:8333");
    assert_eq!(c.decision_cache.max_age_secs, 0);
    for (gateway, field) in [
        (r#"{"auth_cluster":""}"#, "gateway.auth_cluster"),
        (r#"{"auth_path":"/auth"}"#, "gateway.auth_path"),
        (r#"{"auth_timeout":"2m"}"#, "gateway.auth_timeout"),
        (
            r#"{"forward_headers":["Cookie"]}"#,
            "gateway.forward_headers[0]",
        ),
        (
            r#"{"forward_headers":["cookie","host"]}"#,
            "gateway.forward_headers[1]",
        ),
        (
            r#"{"forward_headers":["x-original-uri"]}"#,
            "gateway.forward_headers[0]",
        ),
        (
            r#"{"presign":{"base_url":"s3:8333"}}"#,
            "gateway.presign.base_url",
        ),
        (
            r#"{"presign":{"base_url":"http://s3/path"}}"#,
            "gateway.presign.base_url",
        ),
        (
            r#"{"presign":{"base_url":"http://s","expires":"169h"}}"#,
            "gateway.presign.expires",
        ),
        (
            r#"{"presign":{"base_url":"http://s","expires":"500ms"}}"#,
            "gateway.presign.expires",
        ),
        (r#"{"presign":{"status":307}}"#, "gateway.presign.status"),
        (r#"{"presign":{"ttl":"1s"}}"#, "gateway.presign.ttl"),
        (
            r#"{"decision_cache":{"max_age":"2h"}}"#,
            "gateway.decision_cache.max_age",
        ),
        (
            r#"{"decision_cache":{"max_entries":100000}}"#,
            "gateway.decision_cache.max_entries",
        ),
        (r#"{"cache":{}}"#, "gateway.cache"),
    ] {
        let e = g(gateway).unwrap_err();
        assert_eq!(e.field, field, "{gateway}: {e}");
    }
    // The section belongs to its role, and the role needs signing.
    let e = parse(r#"{"role":"edge","gateway":{}}"#).unwrap_err();
    assert_eq!(e.field, "gateway");
    let e = parse(r#"{"role":"gateway"}"#).unwrap_err();
    assert_eq!(e.field, "signing");
    let e =
        parse(r#"{"role":"gateway","augment_headers":true,"signing":{"region":"r"}}"#).unwrap_err();
    assert_eq!(e.field, "augment_headers");
}
