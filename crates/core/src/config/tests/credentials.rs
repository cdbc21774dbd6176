//! `signing.credentials`: every source, its defaults from the environment,
//! and the refusals naming the field.

use crate::config::{full_uri_parts, Config, ConfigError, CredentialsConfig, MapEnv, TokenSource};

fn creds(
    json: &str,
    env: Vec<(&'static str, &'static str)>,
) -> Result<CredentialsConfig, ConfigError> {
    let doc = format!(r#"{{"signing":{{"region":"eu-west-1","credentials":{json}}}}}"#);
    Config::parse(doc.as_bytes(), &MapEnv(env)).map(|c| c.signing.unwrap().credentials)
}

fn field(json: &str) -> String {
    creds(json, vec![]).unwrap_err().field
}

#[test]
fn full_uri_host_rules() {
    for ok in [
        "http://127.0.0.1:8080/creds",
        "http://127.5.0.1/creds",
        "http://localhost/creds",
        "http://[::1]:80/creds",
        "http://169.254.170.2/v2/credentials/x",
        "http://169.254.170.23/v1/credentials",
        "http://[fd00:ec2::23]/v1/credentials",
        "https://creds.example.com/get?x=1",
    ] {
        assert!(full_uri_parts(ok).is_ok(), "{ok}");
    }
    assert_eq!(
        full_uri_parts("http://169.254.170.23/v1/credentials").unwrap(),
        ("169.254.170.23".into(), "/v1/credentials".into())
    );
    assert_eq!(
        full_uri_parts("http://[fd00:ec2::23]:80").unwrap(),
        ("[fd00:ec2::23]:80".into(), "/".into())
    );
    for bad in [
        "http://example.com/creds",
        "http://169.254.169.254/latest",
        "http://10.0.0.1/",
        "ftp://127.0.0.1/",
        "http:///x",
        "http://user@127.0.0.1/",
        "http://[::1/x",
        "127.0.0.1/creds",
        "http://127.0.0.1/a b",
    ] {
        assert!(full_uri_parts(bad).is_err(), "{bad}");
    }
}

#[test]
fn endpoint_full_uri_and_token_sources() {
    let c = creds(
        r#"{"source":"container","cluster":"pod_identity","full_uri":"http://169.254.170.23/v1/credentials","token_cluster":"token_sidecar"}"#,
        vec![],
    )
    .unwrap();
    let CredentialsConfig::Endpoint(e) = c else {
        panic!("{c:?}")
    };
    assert_eq!(e.authority, "169.254.170.23");
    assert_eq!(e.path, "/v1/credentials");
    let t = e.token_endpoint.unwrap();
    assert_eq!(
        (t.cluster.as_str(), t.path.as_str()),
        ("token_sidecar", "/token")
    );
    // the SDK variables: FULL_URI, and a token file served by a sidecar
    let c = creds(
        r#"{"source":"endpoint","cluster":"c"}"#,
        vec![
            (
                "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                "http://169.254.170.23/v1/credentials",
            ),
            (
                "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
                "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token",
            ),
        ],
    )
    .unwrap();
    let CredentialsConfig::Endpoint(e) = c else {
        panic!()
    };
    let t = e.token_endpoint.unwrap();
    assert_eq!(t.cluster, "container_token");
    assert_eq!(t.path, "/eks-pod-identity-token");
    assert!(e.authorization.is_none());
    assert_eq!(
        field(r#"{"source":"endpoint","cluster":"c","full_uri":"http://example.com/x"}"#),
        "signing.credentials.full_uri"
    );
    assert_eq!(
        field(r#"{"source":"endpoint","cluster":"c","path":"/a","full_uri":"http://127.0.0.1/x"}"#),
        "signing.credentials"
    );
    assert_eq!(
        field(
            r#"{"source":"endpoint","cluster":"c","path":"/a","authorization_token":"t","token_cluster":"x"}"#
        ),
        "signing.credentials"
    );
    assert_eq!(
        field(r#"{"source":"endpoint","cluster":"c","path":"/a","authorization_token":"a\nb"}"#),
        "signing.credentials.authorization_token"
    );
}

#[test]
fn imds_defaults_and_checks() {
    let CredentialsConfig::Imds(i) = creds(r#"{"source":"imds"}"#, vec![]).unwrap() else {
        panic!()
    };
    assert_eq!(i.cluster, "imds");
    assert_eq!(i.authority, "169.254.169.254");
    assert_eq!(i.token_ttl_secs, 21_600);
    assert!(!i.v1_fallback);
    assert_eq!(i.role, None);
    // A string where a boolean is declared is checked as a string, as it
    // always was, and reads as false.
    let CredentialsConfig::Imds(i) =
        creds(r#"{"source":"imds","imds_v1_fallback":"yes"}"#, vec![]).unwrap()
    else {
        panic!()
    };
    assert!(!i.v1_fallback);
    assert_eq!(
        field(r#"{"source":"imds","imds_v1_fallback":"a b"}"#),
        "signing.credentials.imds_v1_fallback"
    );
    assert_eq!(
        field(r#"{"source":"imds","imds_v1_fallback":1}"#),
        "signing.credentials.imds_v1_fallback"
    );
    assert_eq!(
        field(r#"{"source":"imds","imds_token_ttl":"7h"}"#),
        "signing.credentials.imds_token_ttl"
    );
    assert_eq!(
        field(r#"{"source":"imds","imds_role":"a/../b"}"#),
        "signing.credentials.imds_role"
    );
    assert_eq!(
        field(r#"{"source":"imds","role_arn":"arn:x"}"#),
        "signing.credentials.role_arn"
    );
}

#[test]
fn assume_role_with_a_base() {
    let c = creds(
        r#"{"source":"assume_role","role_arn":"arn:aws:iam::123456789012:role/r","external_id":"ext","base":{"source":"imds"}}"#,
        vec![],
    )
    .unwrap();
    let CredentialsConfig::AssumeRole(a) = c else {
        panic!()
    };
    assert_eq!(a.sts.authority, "sts.eu-west-1.amazonaws.com");
    assert_eq!(a.sts.cluster, "sts");
    assert_eq!(a.sts.region, "eu-west-1");
    assert_eq!(a.sts.session_name, "asset-gate");
    assert_eq!(a.sts.duration_secs, 3600);
    assert!(matches!(a.base, CredentialsConfig::Imds(_)));
    assert_eq!(
        field(r#"{"source":"assume_role"}"#),
        "signing.credentials.role_arn"
    );
    assert_eq!(
        field(r#"{"source":"assume_role","role_arn":"arn:x","duration":"5m"}"#),
        "signing.credentials.duration"
    );
    assert_eq!(
        field(r#"{"source":"assume_role","role_arn":"arn:x","role_session_name":"a b"}"#),
        "signing.credentials.role_session_name"
    );
    assert_eq!(
        field(r#"{"source":"assume_role","role_arn":"arn:x","base":{"source":"static"}}"#),
        "signing.credentials.base.access_key_id"
    );
    assert_eq!(
        field(r#"{"source":"assume_role","role_arn":"arn:x","base":{"bogus":1}}"#),
        "signing.credentials.base.bogus"
    );
}

#[test]
fn web_identity_token_sources() {
    let env = vec![
        ("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/irsa"),
        (
            "AWS_WEB_IDENTITY_TOKEN_FILE",
            "/var/run/secrets/eks.amazonaws.com/serviceaccount/token",
        ),
    ];
    let CredentialsConfig::WebIdentity(w) = creds(r#"{"source":"web_identity"}"#, env).unwrap()
    else {
        panic!()
    };
    assert_eq!(w.sts.role_arn, "arn:aws:iam::123456789012:role/irsa");
    let TokenSource::Endpoint(t) = &w.token else {
        panic!()
    };
    assert_eq!(
        (t.cluster.as_str(), t.path.as_str()),
        ("web_identity_token", "/token")
    );
    let CredentialsConfig::WebIdentity(w) = creds(
        r#"{"source":"web_identity","role_arn":"arn:r","web_identity_token":"SECRETJWT"}"#,
        vec![],
    )
    .unwrap() else {
        panic!()
    };
    assert!(!format!("{w:?}").contains("SECRETJWT"));
    assert_eq!(
        field(r#"{"source":"web_identity"}"#),
        "signing.credentials.role_arn"
    );
}

#[test]
fn chain_default_order_follows_the_environment() {
    let CredentialsConfig::Chain(c) = creds(r#"{"source":"chain"}"#, vec![]).unwrap() else {
        panic!()
    };
    assert!(matches!(
        c.as_slice(),
        [CredentialsConfig::Env, CredentialsConfig::Imds(_)]
    ));
    let env = vec![
        ("AWS_ROLE_ARN", "arn:aws:iam::1:role/r"),
        (
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
            "/v2/credentials/x",
        ),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ];
    let CredentialsConfig::Chain(c) = creds(r#"{"source":"chain"}"#, env).unwrap() else {
        panic!()
    };
    match c.as_slice() {
        [CredentialsConfig::Env, CredentialsConfig::WebIdentity(_), CredentialsConfig::Endpoint(e)] =>
        {
            assert_eq!(e.cluster, "container_credentials");
            assert_eq!(e.authority, "169.254.170.2");
        }
        other => panic!("{other:?}"),
    }
    let CredentialsConfig::Chain(c) = creds(
        r#"{"source":"chain","sources":[{"source":"imds","cluster":"i"},{"source":"env"}]}"#,
        vec![],
    )
    .unwrap() else {
        panic!()
    };
    assert_eq!(c.len(), 2);
    assert_eq!(
        field(r#"{"source":"chain","sources":[]}"#),
        "signing.credentials.sources"
    );
    assert_eq!(
        field(r#"{"source":"chain","sources":[{"source":"chain"}]}"#),
        "signing.credentials.sources[0].source"
    );
    assert_eq!(
        field(r#"{"source":"chain","cluster":"x"}"#),
        "signing.credentials.cluster"
    );
}
