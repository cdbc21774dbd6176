//! The `signing.credentials` section: one object per source, read and checked
//! here (recursively: `assume_role.base` and `chain.sources` are sources too),
//! with the AWS SDKs' environment variables as defaults. Each source reads
//! its own keys; any other key is an unknown field. Every value is checked in
//! one pass by the kind its key names, so building the source is infallible
//! but for what comes from the environment (kept small: the module must fit
//! in 256 KB).

use super::validate::parse_duration;
use super::{
    err, AssumeRoleConfig, CredentialsConfig, EndpointConfig, Env, Failed, ImdsConfig, StsConfig,
    TokenEndpoint, TokenSource, WebIdentityConfig,
};
use crate::primitives::json::{Map, Value};
use crate::primitives::syntax::valid_role_name;

const FIELD: &str = "signing.credentials";
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

/// The keys `source` reads.
fn known(source: &str) -> &'static [&'static str] {
    match source {
        "static" => &[
            "source",
            "access_key_id",
            "secret_access_key",
            "session_token",
        ],
        "endpoint" | "container" => &[
            "source",
            "timeout",
            "refresh_interval",
            "token_cluster",
            "token_authority",
            "token_path",
            "cluster",
            "authority",
            "path",
            "full_uri",
            "authorization_token",
        ],
        "imds" => &[
            "source",
            "timeout",
            "refresh_interval",
            "cluster",
            "authority",
            "imds_token_ttl",
            "imds_v1_fallback",
            "imds_role",
        ],
        "assume_role" => &[
            "source",
            "timeout",
            "refresh_interval",
            "role_arn",
            "role_session_name",
            "duration",
            "sts_cluster",
            "sts_authority",
            "sts_region",
            "external_id",
            "base",
        ],
        "web_identity" => &[
            "source",
            "timeout",
            "refresh_interval",
            "role_arn",
            "role_session_name",
            "duration",
            "sts_cluster",
            "sts_authority",
            "sts_region",
            "token_cluster",
            "token_authority",
            "token_path",
            "web_identity_token",
        ],
        "chain" => &["source", "sources"],
        _ => &["source"],
    }
}

/// A duration key's bounds in ms, `None` for other keys.
fn duration_bounds(key: &str) -> Option<(u64, u64)> {
    Some(match key {
        "timeout" => (1, 60_000),
        "refresh_interval" => (1000, 86_400_000),
        "imds_token_ttl" => (1000, 21_600_000),
        "duration" => (900_000, 43_200_000),
        _ => return None,
    })
}

/// Why a string value of `key` is refused, `None` when it is fine.
fn check(key: &str, v: &str) -> Option<&'static str> {
    let graphic = !v.is_empty() && v.bytes().all(|b| b.is_ascii_graphic());
    let printable = !v.is_empty() && v.bytes().all(|b| (0x20..0x7f).contains(&b));
    if let Some((min, max)) = duration_bounds(key) {
        let ok = parse_duration(v).is_some_and(|d| (min..=max).contains(&(d.as_millis() as u64)));
        return (!ok)
            .then_some("must be a duration such as \"5s\" (ms, s, m, h) within the allowed range");
    }
    let ok = match key {
        "source" | "session_token" => true,
        "path" | "token_path" => v.starts_with('/') && graphic,
        "full_uri" => return full_uri_parts(v).err(),
        "role_arn" => v.starts_with("arn:") && graphic,
        "imds_role" | "role_session_name" => valid_role_name(v) && v.len() >= 2,
        "access_key_id" | "secret_access_key" => !v.trim().is_empty(),
        "authorization_token" | "web_identity_token" | "external_id" => printable,
        "sts_region" => v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') && graphic,
        _ => graphic,
    };
    (!ok).then_some("invalid value (see README: Credentials)")
}

/// One credentials object, every key and value checked once.
struct Obj<'a> {
    path: String,
    map: Option<&'a Map>,
    source: &'static str,
}

impl<'a> Obj<'a> {
    fn new(v: &'a Value, path: String) -> Result<Obj<'a>, Failed> {
        let map = v
            .as_object()
            .ok_or_else(|| err(&path, "invalid type, expected an object"))?;
        let source = map
            .get("source")
            .filter(|v| !v.is_null())
            .map_or(Some("env"), |v| {
                v.as_str()
                    .and_then(|s| SOURCES.iter().find(|k| **k == s))
                    .copied()
            })
            .ok_or_else(|| {
                err(
                    &format!("{path}.source"),
                    "must be one of env, static, endpoint, container, imds, assume_role, web_identity, chain",
                )
            })?;
        let known = known(source);
        for (k, v) in map.iter().filter(|(_, v)| !v.is_null()) {
            let problem = if !known.contains(&k.as_str()) {
                Some("unknown field for this source")
            } else {
                match (k.as_str(), v) {
                    ("imds_v1_fallback", Value::Bool(_))
                    | ("base", Value::Object(_))
                    | ("sources", Value::Array(_)) => None,
                    (_, Value::String(s)) => check(k, s),
                    _ => Some("invalid type"),
                }
            };
            if let Some(p) = problem {
                return Err(err(&format!("{path}.{k}"), p));
            }
        }
        Ok(Obj {
            path,
            map: Some(map),
            source,
        })
    }

    /// The defaults of a source nobody configured (the SDK chain's).
    fn empty(path: String) -> Obj<'a> {
        Obj {
            path,
            map: None,
            source: "env",
        }
    }

    fn f(&self, key: &str) -> String {
        format!("{}.{key}", self.path)
    }

    fn get(&self, key: &str) -> Option<&'a Value> {
        self.map?.get(key).filter(|v| !v.is_null())
    }

    fn s(&self, key: &str) -> Option<&'a str> {
        self.get(key).and_then(Value::as_str)
    }

    fn or(&self, key: &str, default: &str) -> String {
        self.s(key).unwrap_or(default).to_string()
    }

    fn req(&self, key: &str) -> Result<String, Failed> {
        self.s(key)
            .map(str::to_string)
            .ok_or_else(|| err(&self.f(key), "required"))
    }

    /// A checked duration in ms (the default is valid by construction).
    fn ms(&self, key: &str, default: &str) -> u64 {
        parse_duration(self.s(key).unwrap_or(default)).map_or(0, |d| d.as_millis() as u64)
    }
}

/// The validated credentials of `signing` (absent: source `env`).
pub(super) fn validate(
    value: Option<&Value>,
    env: &dyn Env,
    region: &str,
) -> Result<CredentialsConfig, Failed> {
    match value {
        None => Ok(CredentialsConfig::Env),
        Some(v) => source(&Obj::new(v, FIELD.into())?, env, region, 0),
    }
}

fn source(o: &Obj, env: &dyn Env, region: &str, depth: u32) -> Result<CredentialsConfig, Failed> {
    if depth > 4 {
        return Err(err(&o.path, "nested too deeply"));
    }
    Ok(match o.source {
        "static" => CredentialsConfig::Static(crate::sigv4::Credentials {
            access_key_id: o.req("access_key_id")?,
            secret_access_key: o.req("secret_access_key")?,
            session_token: o
                .s("session_token")
                .filter(|t| !t.is_empty())
                .map(str::to_string),
        }),
        "endpoint" | "container" => endpoint(o, env, None)?,
        "imds" => imds(o),
        "assume_role" => CredentialsConfig::AssumeRole(Box::new(AssumeRoleConfig {
            sts: sts(o, env, region, false)?,
            external_id: o.s("external_id").map(str::to_string),
            base: match o.get("base") {
                Some(b) => source(&Obj::new(b, o.f("base"))?, env, region, depth + 1)?,
                None => CredentialsConfig::Env,
            },
            refresh_interval_ms: o.ms("refresh_interval", "15m"),
        })),
        "web_identity" => web_identity(o, env, region)?,
        "chain" => chain(o, env, region, depth)?,
        _ => CredentialsConfig::Env,
    })
}

/// The token endpoint keys, `default_cluster` when the caller has one.
fn token_endpoint(
    o: &Obj,
    default_cluster: Option<&str>,
    default_path: &str,
) -> Option<TokenEndpoint> {
    let cluster = o.s("token_cluster").or(default_cluster)?.to_string();
    Some(TokenEndpoint {
        authority: o.or("token_authority", &cluster),
        path: o.or("token_path", default_path),
        cluster,
        timeout_ms: o.ms("timeout", "5s"),
    })
}

/// `"/" + file name` of a token file named by the environment: where a
/// sidecar serving the file's directory answers it.
fn served_path(file: Option<String>) -> String {
    match file.as_deref().and_then(|f| f.rsplit('/').next()) {
        Some(n) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_graphic()) => format!("/{n}"),
        _ => "/token".into(),
    }
}

/// A container-credentials endpoint: `path` (ECS relative URI) or `full_uri`
/// (EKS Pod Identity, ECS Anywhere), from the SDKs' variables by default.
fn endpoint(
    o: &Obj,
    env: &dyn Env,
    default_cluster: Option<&str>,
) -> Result<CredentialsConfig, Failed> {
    let cluster = match default_cluster {
        Some(d) => o.or("cluster", d),
        None => o.req("cluster")?,
    };
    let conflict = |a: &str, b: &str| o.get(a).is_some() && o.get(b).is_some();
    if conflict("path", "full_uri") || conflict("authorization_token", "token_cluster") {
        return Err(err(
            &o.path,
            "give either path or full_uri, either authorization_token or token_cluster",
        ));
    }
    let uri = o.s("full_uri").map(str::to_string).or_else(|| {
        (o.get("path").is_none())
            .then(|| env.var("AWS_CONTAINER_CREDENTIALS_FULL_URI"))
            .flatten()
            .filter(|_| env.var("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI").is_none())
    });
    let (authority, path) = match uri {
        Some(u) => full_uri_parts(&u)
            .map(|(a, p)| (Some(a), p))
            .map_err(|e| err(&o.f("full_uri"), e))?,
        None => {
            let p = o
                .s("path")
                .map(str::to_string)
                .or_else(|| env.var("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"))
                .filter(|p| p.starts_with('/') && p.bytes().all(|b| b.is_ascii_graphic()))
                .ok_or_else(|| {
                    err(
                        &o.f("path"),
                        "required: a path, full_uri, or AWS_CONTAINER_CREDENTIALS_RELATIVE_URI / _FULL_URI in vm_config.environment_variables",
                    )
                })?;
            (None, p)
        }
    };
    let authorization = o
        .s("authorization_token")
        .map(str::to_string)
        .or_else(|| env.var("AWS_CONTAINER_AUTHORIZATION_TOKEN"));
    let file = env.var("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    let default_token = (authorization.is_none() && file.is_some()).then_some("container_token");
    Ok(CredentialsConfig::Endpoint(EndpointConfig {
        authority: o.or("authority", authority.as_deref().unwrap_or(&cluster)),
        token_endpoint: token_endpoint(o, default_token, &served_path(file)),
        cluster,
        path,
        authorization,
        timeout_ms: o.ms("timeout", "5s"),
        refresh_interval_ms: o.ms("refresh_interval", "15m"),
    }))
}

/// The authority and path of a full credentials URI, under the AWS SDKs'
/// rules: `https` to any host, `http` only to loopback (127.0.0.0/8, `::1`,
/// `localhost`), the ECS agent (169.254.170.2) or EKS Pod Identity
/// (169.254.170.23, `fd00:ec2::23`). Names are not resolved (no DNS in the
/// module), and IPv6 hosts must be written as here.
pub fn full_uri_parts(uri: &str) -> Result<(String, String), &'static str> {
    let (https, rest) = match (uri.strip_prefix("https://"), uri.strip_prefix("http://")) {
        (Some(r), _) => (true, r),
        (None, Some(r)) => (false, r),
        _ => return Err("must start with http:// or https://"),
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    // The host: inside [...] for IPv6, else before the port.
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split_once(']').map_or("", |(h, _)| h),
        None => authority.split(':').next().unwrap_or_default(),
    };
    let dotted =
        host.split('.').count() == 4 && host.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    let allowed = https
        || (dotted && host.starts_with("127."))
        || [
            "localhost",
            "::1",
            "169.254.170.2",
            "169.254.170.23",
            "fd00:ec2::23",
        ]
        .iter()
        .any(|h| h.eq_ignore_ascii_case(host));
    if host.is_empty()
        || authority.contains('@')
        || !uri.bytes().all(|b| b.is_ascii_graphic())
        || path.contains('#')
    {
        Err("must be an absolute URI with a host and no user info")
    } else if !allowed {
        Err("http only to loopback, 169.254.170.2, 169.254.170.23 or fd00:ec2::23; else use https")
    } else {
        Ok((
            authority.to_string(),
            if path.is_empty() { "/" } else { path }.to_string(),
        ))
    }
}

fn imds(o: &Obj) -> CredentialsConfig {
    CredentialsConfig::Imds(ImdsConfig {
        cluster: o.or("cluster", "imds"),
        authority: o.or("authority", "169.254.169.254"),
        timeout_ms: o.ms("timeout", "2s"),
        refresh_interval_ms: o.ms("refresh_interval", "15m"),
        token_ttl_secs: o.ms("imds_token_ttl", "6h") / 1000,
        v1_fallback: o
            .get("imds_v1_fallback")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        role: o.s("imds_role").map(str::to_string),
    })
}

/// The STS keys shared by `assume_role` and `web_identity`; web identity
/// takes `AWS_ROLE_ARN` and `AWS_ROLE_SESSION_NAME` as the SDKs do.
fn sts(o: &Obj, env: &dyn Env, region: &str, web_identity: bool) -> Result<StsConfig, Failed> {
    let from_env = |name: &str| env.var(name).filter(|_| web_identity);
    let role_arn = o
        .s("role_arn")
        .map(str::to_string)
        .or_else(|| from_env("AWS_ROLE_ARN"))
        .filter(|a| check("role_arn", a).is_none())
        .ok_or_else(|| {
            err(
                &o.f("role_arn"),
                "required: a role ARN (web_identity: or AWS_ROLE_ARN)",
            )
        })?;
    let session_name = o
        .s("role_session_name")
        .map(str::to_string)
        .or_else(|| {
            from_env("AWS_ROLE_SESSION_NAME").filter(|s| check("role_session_name", s).is_none())
        })
        .unwrap_or_else(|| "asset-gate".into());
    let region = o.or("sts_region", region);
    Ok(StsConfig {
        cluster: o.or("sts_cluster", "sts"),
        authority: o.or("sts_authority", &format!("sts.{region}.amazonaws.com")),
        region,
        role_arn,
        session_name,
        duration_secs: o.ms("duration", "1h") / 1000,
        timeout_ms: o.ms("timeout", "5s"),
    })
}

fn web_identity(o: &Obj, env: &dyn Env, region: &str) -> Result<CredentialsConfig, Failed> {
    if o.get("web_identity_token").is_some() && o.get("token_cluster").is_some() {
        return Err(err(
            &o.f("token_cluster"),
            "give either web_identity_token or token_cluster",
        ));
    }
    let token = match o.s("web_identity_token") {
        Some(t) => TokenSource::Inline(t.to_string()),
        None => {
            let path = served_path(env.var("AWS_WEB_IDENTITY_TOKEN_FILE"));
            match token_endpoint(o, Some("web_identity_token"), &path) {
                Some(e) => TokenSource::Endpoint(e),
                None => return Err(err(&o.f("token_cluster"), "required")),
            }
        }
    };
    Ok(CredentialsConfig::WebIdentity(WebIdentityConfig {
        sts: sts(o, env, region, true)?,
        token,
        refresh_interval_ms: o.ms("refresh_interval", "15m"),
    }))
}

/// `sources` in order, or the SDKs' default order where it applies:
/// environment, web identity (when `AWS_ROLE_ARN` is set), container
/// endpoint (when `AWS_CONTAINER_CREDENTIALS_*_URI` is set), IMDS (unless
/// `AWS_EC2_METADATA_DISABLED=true`).
fn chain(o: &Obj, env: &dyn Env, region: &str, depth: u32) -> Result<CredentialsConfig, Failed> {
    let mut out = vec![];
    if let Some(items) = o.get("sources").and_then(Value::as_array) {
        for (i, v) in items.iter().enumerate() {
            let item = Obj::new(v, format!("{}[{i}]", o.f("sources")))?;
            if item.source == "chain" {
                return Err(err(&item.f("source"), "a chain cannot hold a chain"));
            }
            out.push(source(&item, env, region, depth + 1)?);
        }
        if out.is_empty() {
            return Err(err(&o.f("sources"), "must not be empty"));
        }
        return Ok(CredentialsConfig::Chain(out));
    }
    let defaults = Obj::empty(o.f("sources"));
    out.push(CredentialsConfig::Env);
    if env.var("AWS_ROLE_ARN").is_some() {
        out.push(web_identity(&defaults, env, region)?);
    }
    let relative = env.var("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI").is_some();
    if relative || env.var("AWS_CONTAINER_CREDENTIALS_FULL_URI").is_some() {
        let mut e = endpoint(&defaults, env, Some("container_credentials"))?;
        // The ECS agent's address when only the relative URI is known.
        if let (CredentialsConfig::Endpoint(c), true) = (&mut e, relative) {
            c.authority = "169.254.170.2".into();
        }
        out.push(e);
    }
    if !env
        .var("AWS_EC2_METADATA_DISABLED")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    {
        out.push(imds(&defaults));
    }
    Ok(CredentialsConfig::Chain(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, ConfigError, MapEnv};

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
            "signing.credentials"
        );
        assert_eq!(
            field(
                r#"{"source":"endpoint","cluster":"c","path":"/a","authorization_token":"t","token_cluster":"x"}"#
            ),
            "signing.credentials"
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
}
