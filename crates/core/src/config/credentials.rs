//! The `signing.credentials` section: one object per source, read and checked
//! here (recursively: `assume_role.base` and `chain.sources` are sources too),
//! with the AWS SDKs' environment variables as defaults. Each source reads
//! its own keys; any other key is an unknown field. Every value is checked in
//! one pass by the kind its key names, so building the source is infallible
//! but for what comes from the environment (kept small: the module must fit
//! in 256 KB).

use super::types::{
    AssumeRoleConfig, CredentialsConfig, EndpointConfig, Env, ImdsConfig, StsConfig, TokenEndpoint,
    TokenSource, WebIdentityConfig,
};
use super::values::{self, err, parse_duration, Failed, Fallback as F, Key, Kind as K};
use crate::primitives::ascii;
use crate::primitives::json::{Map, Value};
use crate::primitives::syntax::valid_role_name;

const FIELD: &str = "signing.credentials";

/// The sources, in the order errors list them; bit `i` of a key's
/// `sources` stands for `SOURCES[i]` (`container` is `endpoint`'s other name).
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
const STATIC: u8 = 1 << 1;
const ENDPOINT: u8 = 1 << 2 | 1 << 3;
const IMDS: u8 = 1 << 4;
const ASSUME: u8 = 1 << 5;
const WEB: u8 = 1 << 6;
const CHAIN: u8 = 1 << 7;
const CALLS: u8 = ENDPOINT | IMDS | ASSUME | WEB;
const STS: u8 = ASSUME | WEB;

/// A key of the credentials object read by `sources`.
const fn key(name: &'static str, sources: u8, kind: K, default: F, doc: &'static str) -> Key {
    Key {
        sources,
        ..values::key(name, kind, default, doc)
    }
}

/// The keys of `signing.credentials` (and of `base` and `sources` items).
#[rustfmt::skip]
pub(super) const KEYS: &[Key] = &[
    key("source", 0xff, K::Choice(&SOURCES), F::Str("env"), "where credentials come from"),
    key("access_key_id", STATIC, K::Str, F::Derived("required for `static`"), "the access key"),
    key("secret_access_key", STATIC, K::Str, F::Derived("required for `static`"), "the secret key; never logged"),
    key("session_token", STATIC, K::Str, F::Unset, "sent as `x-amz-security-token`"),
    key("timeout", CALLS, K::Duration(1, 60_000), F::Derived("`\"5s\"` (`imds`: `\"2s\"`)"), "timeout of each call"),
    key("refresh_interval", CALLS, K::Duration(1000, 86_400_000), F::Str("15m"), "longest time between refreshes"),
    key("token_cluster", ENDPOINT | WEB, K::Str, F::Derived("`endpoint`: `\"container_token\"` when `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE` is set and no token is; `web_identity`: `\"web_identity_token\"`"), "token endpoint read before every call"),
    key("token_authority", ENDPOINT | WEB, K::Str, F::Derived("`token_cluster`"), "`:authority` of the token call"),
    key("token_path", ENDPOINT | WEB, K::Str, F::Derived("`\"/\"` + the token file's name, else `\"/token\"`"), "path on the token endpoint"),
    key("cluster", ENDPOINT | IMDS, K::Str, F::Derived("required for `endpoint`; `\"imds\"` for `imds`"), "Envoy cluster of the credentials endpoint or IMDS"),
    key("authority", ENDPOINT | IMDS, K::Str, F::Derived("`endpoint`: the `full_uri`'s host, else the cluster name; `imds`: `\"169.254.169.254\"`"), "`:authority` of the calls"),
    key("path", ENDPOINT, K::Str, F::Derived("`AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`"), "path of the credentials call"),
    key("full_uri", ENDPOINT, K::Str, F::Derived("`AWS_CONTAINER_CREDENTIALS_FULL_URI`"), "full credentials URI"),
    key("authorization_token", ENDPOINT, K::Str, F::Derived("`AWS_CONTAINER_AUTHORIZATION_TOKEN`"), "sent as `Authorization`; never logged"),
    key("imds_token_ttl", IMDS, K::Duration(1000, 21_600_000), F::Str("6h"), "TTL asked for the IMDSv2 session token"),
    key("imds_v1_fallback", IMDS, K::Bool, F::Bool(false), "fall back to IMDSv1 when the token request fails"),
    key("imds_role", IMDS, K::Str, F::Derived("listed by IMDS"), "the instance role"),
    key("role_arn", STS, K::Str, F::Derived("required for `assume_role`; `AWS_ROLE_ARN` for `web_identity`"), "role to assume"),
    key("role_session_name", STS, K::Str, F::Derived("`AWS_ROLE_SESSION_NAME` (`web_identity`), else `\"asset-gate\"`"), "STS session name"),
    key("duration", STS, K::Duration(900_000, 43_200_000), F::Str("1h"), "STS `DurationSeconds`"),
    key("sts_cluster", STS, K::Str, F::Str("sts"), "Envoy cluster of the STS endpoint"),
    key("sts_authority", STS, K::Str, F::Derived("`\"sts.<sts_region>.amazonaws.com\"`"), "`Host` of the STS call"),
    key("sts_region", STS, K::Str, F::Derived("`signing.region`"), "region of the STS signature"),
    key("external_id", ASSUME, K::Str, F::Unset, "`ExternalId` of `AssumeRole`"),
    key("base", ASSUME, K::Object, F::Derived("`{\"source\": \"env\"}`"), "credentials that sign `AssumeRole`"),
    key("web_identity_token", WEB, K::Str, F::Derived("none (the token endpoint)"), "inline web identity token; never logged"),
    key("sources", CHAIN, K::Objects, F::Derived("the SDK order (env, web identity, container endpoint, IMDS)"), "credentials objects, tried in order"),
];

/// What the reader needs of each key at run time: its name, the sources
/// that read it, and its kind (with a duration's bounds).
const SHAPES: [(&str, u8, K); KEYS.len()] = {
    let mut out = [("", 0, K::Str); KEYS.len()];
    let mut i = 0;
    while i < KEYS.len() {
        out[i] = (KEYS[i].name, KEYS[i].sources, KEYS[i].kind);
        i += 1;
    }
    out
};

/// Why a duration value is refused, `None` when it is within `min..=max` ms.
fn duration_problem(v: &str, min: u64, max: u64) -> Option<&'static str> {
    let ok = parse_duration(v).is_some_and(|d| (min..=max).contains(&(d.as_millis() as u64)));
    (!ok).then_some("must be a duration such as \"5s\" (ms, s, m, h) within the allowed range")
}

/// Why a string value of `key` (not a duration) is refused, `None` when it is fine.
fn check(key: &str, v: &str) -> Option<&'static str> {
    let graphic = !v.is_empty() && v.bytes().all(|b| b.is_ascii_graphic());
    let printable = !v.is_empty() && v.bytes().all(|b| (0x20..0x7f).contains(&b));
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
    (!ok).then_some("invalid value (see docs/credentials.md)")
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
        let bit = map
            .get("source")
            .filter(|v| !v.is_null())
            .map_or(Some(0), |v| {
                v.as_str().and_then(|s| SOURCES.iter().position(|k| *k == s))
            })
            .ok_or_else(|| {
                err(
                    &[&path, ".source"].concat(),
                    "must be one of env, static, endpoint, container, imds, assume_role, web_identity, chain",
                )
            })?;
        let source = SOURCES.get(bit).copied().unwrap_or("env");
        for (k, v) in map.iter().filter(|(_, v)| !v.is_null()) {
            let shape = SHAPES
                .iter()
                .find(|(name, sources, _)| name == k && sources & (1 << bit) != 0);
            let problem = match (shape.map(|s| s.2), v) {
                (None, _) => Some("unknown field for this source"),
                (Some(K::Bool), Value::Bool(_))
                | (Some(K::Object), Value::Object(_))
                | (Some(K::Objects), Value::Array(_)) => None,
                (Some(K::Duration(min, max)), Value::String(s)) => duration_problem(s, min, max),
                // As before the declarations: any other key takes a string
                // too, checked as one (a string `imds_v1_fallback` reads as
                // false).
                (Some(_), Value::String(s)) => check(k, s),
                _ => Some("invalid type"),
            };
            if let Some(p) = problem {
                return Err(err(&[&path, ".", k].concat(), p));
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
        [&self.path, ".", key].concat()
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

/// Reads and checks the credentials of `signing` (absent: source `env`).
pub(super) fn read(
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
            refresh_interval_ms: o.ms(
                "refresh_interval",
                const { values::text(KEYS, "refresh_interval") },
            ),
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
    match file.as_deref().map(|f| ascii::after_last(f, b'/')) {
        Some(n) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_graphic()) => ["/", n].concat(),
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
        refresh_interval_ms: o.ms(
            "refresh_interval",
            const { values::text(KEYS, "refresh_interval") },
        ),
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
    let (authority, path) = ascii::split_before(rest, b'/').unwrap_or((rest, ""));
    // The host: inside [...] for IPv6, else before the port.
    let host = match authority.strip_prefix('[') {
        Some(v6) => ascii::split_once(v6, b']').map_or("", |(h, _)| h),
        None => ascii::split_once(authority, b':').map_or(authority, |(h, _)| h),
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
        refresh_interval_ms: o.ms(
            "refresh_interval",
            const { values::text(KEYS, "refresh_interval") },
        ),
        token_ttl_secs: o.ms(
            "imds_token_ttl",
            const { values::text(KEYS, "imds_token_ttl") },
        ) / 1000,
        v1_fallback: o
            .get("imds_v1_fallback")
            .and_then(Value::as_bool)
            .unwrap_or(const { values::flag(KEYS, "imds_v1_fallback") }),
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
        cluster: o.or("sts_cluster", const { values::text(KEYS, "sts_cluster") }),
        authority: o.or(
            "sts_authority",
            &["sts.", &region, ".amazonaws.com"].concat(),
        ),
        region,
        role_arn,
        session_name,
        duration_secs: o.ms("duration", const { values::text(KEYS, "duration") }) / 1000,
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
        refresh_interval_ms: o.ms(
            "refresh_interval",
            const { values::text(KEYS, "refresh_interval") },
        ),
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
