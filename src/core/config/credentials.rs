//! The `signing.credentials` section: one object per source, read and checked
//! here (recursively: `assume_role.base` and `chain.sources` are sources too),
//! with the AWS SDKs' environment variables as defaults. A key another source
//! would read is an error naming it, like any unknown field.

use super::reader::Reader;
use super::validate::{checked_path, duration_ms, is_token, non_empty};
use super::{
    err, AssumeRoleConfig, ConfigError, CredentialsConfig, EndpointConfig, Env, ImdsConfig,
    StsConfig, TokenEndpoint, TokenSource, WebIdentityConfig,
};
use serde_json::Value;

const FIELD: &str = "signing.credentials";

/// Every key a credentials object may have; which source reads which is in [`reads`].
const KNOWN: &[&str] = &[
    "source",
    "access_key_id",
    "secret_access_key",
    "session_token",
    "cluster",
    "authority",
    "path",
    "full_uri",
    "authorization_token",
    "token_cluster",
    "token_authority",
    "token_path",
    "timeout",
    "refresh_interval",
    "imds_token_ttl",
    "imds_v1_fallback",
    "imds_role",
    "role_arn",
    "role_session_name",
    "external_id",
    "duration",
    "sts_cluster",
    "sts_authority",
    "sts_region",
    "web_identity_token",
    "base",
    "sources",
];

const SOURCES: [&str; 8] = [
    "env",
    "static",
    "endpoint",
    "container",
    "imds",
    "assume_role",
    "web_identity",
    "chain",
];

/// Whether `source` reads `key`.
fn reads(source: &str, key: &str) -> bool {
    const STS: &[&str] = &[
        "role_arn",
        "role_session_name",
        "duration",
        "sts_cluster",
        "sts_authority",
        "sts_region",
        "timeout",
        "refresh_interval",
    ];
    const TOKEN: &[&str] = &["token_cluster", "token_authority", "token_path"];
    key == "source"
        || match source {
            "static" => ["access_key_id", "secret_access_key", "session_token"].contains(&key),
            "endpoint" | "container" => {
                [
                    "cluster",
                    "authority",
                    "path",
                    "full_uri",
                    "authorization_token",
                    "timeout",
                    "refresh_interval",
                ]
                .contains(&key)
                    || TOKEN.contains(&key)
            }
            "imds" => [
                "cluster",
                "authority",
                "timeout",
                "refresh_interval",
                "imds_token_ttl",
                "imds_v1_fallback",
                "imds_role",
            ]
            .contains(&key),
            "assume_role" => STS.contains(&key) || ["external_id", "base"].contains(&key),
            "web_identity" => {
                STS.contains(&key) || TOKEN.contains(&key) || key == "web_identity_token"
            }
            "chain" => key == "sources",
            _ => false,
        }
}

/// The validated credentials of `signing` (`None`: the section is absent, source `env`).
pub(super) fn validate(
    value: Option<&Value>,
    env: &dyn Env,
    region: &str,
) -> Result<CredentialsConfig, ConfigError> {
    match value {
        None => Ok(CredentialsConfig::Env),
        Some(v) => source(&Reader::new(v, FIELD, KNOWN)?, env, region, 0),
    }
}

const DAY_MS: u64 = 86_400_000;

fn timeout(r: &Reader, default: &str) -> Result<u64, ConfigError> {
    duration_ms(
        &r.field("timeout"),
        r.string("timeout")?.as_deref(),
        default,
        60_000,
    )
}

fn refresh(r: &Reader) -> Result<u64, ConfigError> {
    duration_ms(
        &r.field("refresh_interval"),
        r.string("refresh_interval")?.as_deref(),
        "15m",
        DAY_MS,
    )
}

/// A cluster name or an authority: non-empty, printable, no spaces.
fn name(field: &str, v: String) -> Result<String, ConfigError> {
    if v.is_empty() || v.bytes().any(|b| !b.is_ascii_graphic()) {
        return Err(err(field, "must be a non-empty name without spaces"));
    }
    Ok(v)
}

fn opt_name(r: &Reader, key: &str, default: &str) -> Result<String, ConfigError> {
    name(
        &r.field(key),
        r.string(key)?.unwrap_or_else(|| default.to_string()),
    )
}

/// A secret sent in a header: printable ASCII, so it can never split a header.
fn header_secret(field: &str, v: String) -> Result<String, ConfigError> {
    if v.is_empty() || v.bytes().any(|b| !(0x20..0x7f).contains(&b)) {
        return Err(err(field, "must be non-empty printable ASCII"));
    }
    Ok(v)
}

/// The token endpoint keys (`token_cluster`, `token_path`, `token_authority`),
/// with `default_cluster` when the caller has one.
fn token_endpoint(
    r: &Reader,
    default_cluster: Option<&str>,
    default_path: &str,
) -> Result<Option<TokenEndpoint>, ConfigError> {
    let Some(cluster) = r
        .string("token_cluster")?
        .or(default_cluster.map(str::to_string))
    else {
        if r.get("token_path").is_some() || r.get("token_authority").is_some() {
            return Err(err(&r.field("token_cluster"), "required with token_path"));
        }
        return Ok(None);
    };
    let cluster = name(&r.field("token_cluster"), cluster)?;
    Ok(Some(TokenEndpoint {
        authority: opt_name(r, "token_authority", &cluster)?,
        path: checked_path(
            &r.field("token_path"),
            r.string("token_path")?
                .unwrap_or_else(|| default_path.to_string()),
        )?,
        cluster,
        timeout_ms: timeout(r, "5s")?,
    }))
}

/// `"/" + file name` of a token file path from the environment: what a
/// sidecar serving the file's directory answers it at.
fn served_path(file: Option<String>, fallback: &str) -> String {
    file.as_deref()
        .and_then(|f| f.rsplit('/').next())
        .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_graphic()))
        .map_or_else(|| fallback.to_string(), |n| format!("/{n}"))
}

fn source(
    r: &Reader,
    env: &dyn Env,
    region: &str,
    depth: u32,
) -> Result<CredentialsConfig, ConfigError> {
    if depth > 4 {
        return Err(err(&r.field("base"), "nested too deeply"));
    }
    let choices: Vec<(&str, &str)> = SOURCES.iter().map(|s| (*s, *s)).collect();
    let src = r.choice("source", &choices)?.unwrap_or("env");
    if let Some(key) = r.keys().find(|k| !reads(src, k)) {
        return Err(err(
            &r.field("source"),
            format!("`{key}` is not read with source \"{src}\""),
        ));
    }
    Ok(match src {
        "static" => CredentialsConfig::Static(crate::core::sigv4::Credentials {
            access_key_id: non_empty(&r.field("access_key_id"), r.string("access_key_id")?)?,
            secret_access_key: non_empty(
                &r.field("secret_access_key"),
                r.string("secret_access_key")?,
            )?,
            session_token: r.string("session_token")?.filter(|t| !t.is_empty()),
        }),
        "endpoint" | "container" => endpoint(r, env, None)?,
        "imds" => imds(r)?,
        "assume_role" => {
            let base = match r.child("base", KNOWN)? {
                Some(b) => source(&b, env, region, depth + 1)?,
                None => CredentialsConfig::Env,
            };
            CredentialsConfig::AssumeRole(Box::new(AssumeRoleConfig {
                sts: sts(r, env, region, false)?,
                external_id: r
                    .string("external_id")?
                    .map(|v| non_empty(&r.field("external_id"), Some(v)))
                    .transpose()?,
                base,
                refresh_interval_ms: refresh(r)?,
            }))
        }
        "web_identity" => web_identity(r, env, region)?,
        "chain" => chain(r, env, region, depth)?,
        _ => CredentialsConfig::Env,
    })
}

/// A container-credentials endpoint: `path` (ECS relative URI) or `full_uri`
/// (EKS Pod Identity, ECS Anywhere), from the SDKs' variables by default.
fn endpoint(
    r: &Reader,
    env: &dyn Env,
    default_cluster: Option<&str>,
) -> Result<CredentialsConfig, ConfigError> {
    let cluster = match default_cluster {
        Some(d) => opt_name(r, "cluster", d)?,
        None => name(
            &r.field("cluster"),
            non_empty(&r.field("cluster"), r.string("cluster")?)?,
        )?,
    };
    let path = r.string("path")?;
    let full_uri = r.string("full_uri")?;
    if path.is_some() && full_uri.is_some() {
        return Err(err(&r.field("full_uri"), "give either path or full_uri"));
    }
    let (uri_authority, path) = match (path, full_uri) {
        (Some(p), _) => (None, checked_path(&r.field("path"), p)?),
        (None, Some(u)) => {
            let (a, p) = full_uri_parts(&u).map_err(|e| err(&r.field("full_uri"), e))?;
            (Some(a), p)
        }
        (None, None) => match (
            env.var("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"),
            env.var("AWS_CONTAINER_CREDENTIALS_FULL_URI"),
        ) {
            (Some(p), _) => (None, checked_path(&r.field("path"), p)?),
            (None, Some(u)) => {
                let (a, p) = full_uri_parts(&u).map_err(|e| {
                    err(
                        &r.field("full_uri"),
                        format!("AWS_CONTAINER_CREDENTIALS_FULL_URI: {e}"),
                    )
                })?;
                (Some(a), p)
            }
            (None, None) => return Err(err(
                &r.field("path"),
                "required (or full_uri, or pass AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or _FULL_URI with vm_config.environment_variables)",
            )),
        },
    };
    let authority = match r.string("authority")? {
        Some(a) => name(&r.field("authority"), a)?,
        None => uri_authority.unwrap_or_else(|| cluster.clone()),
    };
    let authorization = match r.string("authorization_token")? {
        Some(t) => Some(header_secret(&r.field("authorization_token"), t)?),
        None => env.var("AWS_CONTAINER_AUTHORIZATION_TOKEN"),
    };
    let file = env.var("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    let token_default = (authorization.is_none() && file.is_some()).then_some("container_token");
    let token = token_endpoint(r, token_default, &served_path(file, "/token"))?;
    if authorization.is_some() && r.get("token_cluster").is_some() {
        return Err(err(
            &r.field("token_cluster"),
            "give either authorization_token or token_cluster",
        ));
    }
    Ok(CredentialsConfig::Endpoint(EndpointConfig {
        cluster,
        authority,
        path,
        authorization,
        token_endpoint: token,
        timeout_ms: timeout(r, "5s")?,
        refresh_interval_ms: refresh(r)?,
    }))
}

/// The authority and path of a full credentials URI, under the AWS SDKs'
/// rules: `https` to any host, `http` only to a loopback address, the ECS
/// agent (169.254.170.2), EKS Pod Identity (169.254.170.23, fd00:ec2::23).
/// Names are not resolved (no DNS in the module): `localhost` is the only
/// name taken as loopback.
pub fn full_uri_parts(uri: &str) -> Result<(String, String), String> {
    let (https, rest) = if let Some(r) = uri.strip_prefix("https://") {
        (true, r)
    } else if let Some(r) = uri.strip_prefix("http://") {
        (false, r)
    } else {
        return Err("must start with http:// or https://".into());
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let host = if let Some(v6) = authority.strip_prefix('[') {
        let end = v6.find(']').ok_or("has an unclosed [ in its host")?;
        &v6[..end]
    } else {
        authority.split(':').next().unwrap_or_default()
    };
    if host.is_empty()
        || authority.contains('@')
        || !authority.bytes().all(|b| b.is_ascii_graphic())
        || !path.bytes().all(|b| b.is_ascii_graphic())
        || path.contains('#')
    {
        return Err("must be an absolute URI with a host and no user info".into());
    }
    let allowed_http = host == "localhost"
        || host.parse::<std::net::IpAddr>().is_ok_and(|ip| {
            ip.is_loopback()
                || ip == std::net::IpAddr::from([169, 254, 170, 2])
                || ip == std::net::IpAddr::from([169, 254, 170, 23])
                || ip == std::net::IpAddr::from([0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x23])
        });
    if !https && !allowed_http {
        return Err(format!(
            "http is only allowed to loopback, 169.254.170.2, 169.254.170.23 or fd00:ec2::23 (not {host}); use https"
        ));
    }
    Ok((authority.to_string(), path.to_string()))
}

fn imds(r: &Reader) -> Result<CredentialsConfig, ConfigError> {
    let ttl_ms = duration_ms(
        &r.field("imds_token_ttl"),
        r.string("imds_token_ttl")?.as_deref(),
        "6h",
        21_600_000,
    )?;
    if ttl_ms < 1000 {
        return Err(err(&r.field("imds_token_ttl"), "must be at least 1s"));
    }
    let role = match r.string("imds_role")? {
        Some(role) if valid_role_name(&role) => Some(role),
        Some(_) => {
            return Err(err(
                &r.field("imds_role"),
                "must be an IAM role name (letters, digits, +=,.@_-)",
            ))
        }
        None => None,
    };
    Ok(CredentialsConfig::Imds(ImdsConfig {
        cluster: opt_name(r, "cluster", "imds")?,
        authority: opt_name(r, "authority", "169.254.169.254")?,
        timeout_ms: timeout(r, "2s")?,
        refresh_interval_ms: refresh(r)?,
        token_ttl_secs: ttl_ms / 1000,
        v1_fallback: r.boolean("imds_v1_fallback")?.unwrap_or(false),
        role,
    }))
}

/// An IAM role name (it goes into the IMDS path).
pub fn valid_role_name(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
}

/// The STS keys shared by `assume_role` and `web_identity`.
fn sts(
    r: &Reader,
    env: &dyn Env,
    region: &str,
    web_identity: bool,
) -> Result<StsConfig, ConfigError> {
    let role_arn = match r.string("role_arn")? {
        Some(a) => a,
        None if web_identity => env.var("AWS_ROLE_ARN").ok_or_else(|| {
            err(
                &r.field("role_arn"),
                "required (or pass AWS_ROLE_ARN with vm_config.environment_variables)",
            )
        })?,
        None => return Err(err(&r.field("role_arn"), "required")),
    };
    if !role_arn.starts_with("arn:") || !role_arn.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(err(&r.field("role_arn"), "must be a role ARN (arn:...)"));
    }
    let session_name = r
        .string("role_session_name")?
        .or_else(|| {
            web_identity
                .then(|| env.var("AWS_ROLE_SESSION_NAME"))
                .flatten()
        })
        .unwrap_or_else(|| "asset-gate".into());
    let valid_session = (2..=64).contains(&session_name.len())
        && session_name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b));
    if !valid_session {
        return Err(err(
            &r.field("role_session_name"),
            "must be 2 to 64 of letters, digits and +=,.@_-",
        ));
    }
    let duration_ms = duration_ms(
        &r.field("duration"),
        r.string("duration")?.as_deref(),
        "1h",
        43_200_000,
    )?;
    if duration_ms < 900_000 {
        return Err(err(
            &r.field("duration"),
            "must be at least 15m (STS minimum)",
        ));
    }
    let sts_region = match r.string("sts_region")? {
        Some(s) if is_token(&s) => s,
        Some(_) => {
            return Err(err(
                &r.field("sts_region"),
                "must be a region name such as \"us-east-1\"",
            ))
        }
        None => region.to_string(),
    };
    Ok(StsConfig {
        cluster: opt_name(r, "sts_cluster", "sts")?,
        authority: opt_name(
            r,
            "sts_authority",
            &format!("sts.{sts_region}.amazonaws.com"),
        )?,
        region: sts_region,
        role_arn,
        session_name,
        duration_secs: duration_ms / 1000,
        timeout_ms: timeout(r, "5s")?,
    })
}

fn web_identity(r: &Reader, env: &dyn Env, region: &str) -> Result<CredentialsConfig, ConfigError> {
    let token = match r.string("web_identity_token")? {
        Some(t) => {
            if r.get("token_cluster").is_some() {
                return Err(err(
                    &r.field("token_cluster"),
                    "give either web_identity_token or token_cluster",
                ));
            }
            TokenSource::Inline(header_secret(&r.field("web_identity_token"), t)?)
        }
        None => {
            let path = served_path(env.var("AWS_WEB_IDENTITY_TOKEN_FILE"), "/token");
            match token_endpoint(r, Some("web_identity_token"), &path)? {
                Some(e) => TokenSource::Endpoint(e),
                None => return Err(err(&r.field("token_cluster"), "required")),
            }
        }
    };
    Ok(CredentialsConfig::WebIdentity(WebIdentityConfig {
        sts: sts(r, env, region, true)?,
        token,
        refresh_interval_ms: refresh(r)?,
    }))
}

/// `sources` in order, or the SDKs' default order where it applies:
/// environment, web identity (when `AWS_ROLE_ARN` is set), container
/// endpoint (when `AWS_CONTAINER_CREDENTIALS_*_URI` is set), IMDS (unless
/// `AWS_EC2_METADATA_DISABLED=true`).
fn chain(
    r: &Reader,
    env: &dyn Env,
    region: &str,
    depth: u32,
) -> Result<CredentialsConfig, ConfigError> {
    let empty = Value::Object(Default::default());
    if let Some(items) = r.array("sources", "an array of credentials objects")? {
        let mut out = vec![];
        for (i, v) in items.iter().enumerate() {
            let sr = Reader::new(v, &format!("{}[{i}]", r.field("sources")), KNOWN)?;
            if sr.string("source")?.as_deref() == Some("chain") {
                return Err(err(&sr.field("source"), "a chain cannot hold a chain"));
            }
            out.push(source(&sr, env, region, depth + 1)?);
        }
        if out.is_empty() {
            return Err(err(&r.field("sources"), "must not be empty"));
        }
        return Ok(CredentialsConfig::Chain(out));
    }
    let defaults = Reader::new(&empty, &r.field("sources"), KNOWN)?;
    let mut out = vec![CredentialsConfig::Env];
    if env.var("AWS_ROLE_ARN").is_some() {
        out.push(web_identity(&defaults, env, region)?);
    }
    if env.var("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI").is_some()
        || env.var("AWS_CONTAINER_CREDENTIALS_FULL_URI").is_some()
    {
        let mut e = endpoint(&defaults, env, Some("container_credentials"))?;
        // The ECS agent's address when only the relative URI is known.
        if let CredentialsConfig::Endpoint(c) = &mut e {
            if c.authority == c.cluster {
                c.authority = "169.254.170.2".into();
            }
        }
        out.push(e);
    }
    let disabled = env
        .var("AWS_EC2_METADATA_DISABLED")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    if !disabled {
        out.push(imds(&defaults)?);
    }
    Ok(CredentialsConfig::Chain(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::config::{Config, MapEnv};

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
            field(
                r#"{"source":"endpoint","cluster":"c","path":"/a","full_uri":"http://127.0.0.1/x"}"#
            ),
            "signing.credentials.full_uri"
        );
        assert_eq!(
            field(
                r#"{"source":"endpoint","cluster":"c","path":"/a","authorization_token":"t","token_cluster":"x"}"#
            ),
            "signing.credentials.token_cluster"
        );
        assert_eq!(
            field(
                r#"{"source":"endpoint","cluster":"c","path":"/a","authorization_token":"a\nb"}"#
            ),
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
            "signing.credentials.source"
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
            "signing.credentials.source"
        );
    }
}
