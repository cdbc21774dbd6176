//! Every metric asset-gate exports, declared once: name, kind and meaning.
//! The filter defines and bumps them through proxy-wasm; `docs/metrics.md`
//! is checked against this list, so the documentation cannot name a metric
//! that does not exist or leave one out. The counters' names are one packed
//! string; the meanings are a `match` only the docs check calls, so the
//! module keeps the names alone.

use crate::primitives::ascii;

/// Whether a metric counts events or records a current value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
}

impl Kind {
    /// The kind as the documentation names it.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
        }
    }
}

/// Many names: NUL-terminated, back to back (a table of string slices
/// would take eight bytes a name).
macro_rules! packed_names {
    ($self:ident, $($variant:path => $name:literal,)*) => {{
        const NAMES: &str = concat!($($name, "\0",)*);
        ascii::nth_packed(NAMES, $self as usize)
    }};
}

/// A few names, always asked for by variant: a `match` the compiler folds.
macro_rules! matched_names {
    ($self:ident, $($variant:path => $name:literal,)*) => {
        match $self { $($variant => $name,)* }
    };
}

macro_rules! metrics {
    ($enum:ident, $name_fn:ident, $doc:literal, $($variant:ident => $name:literal, $meaning:literal;)*) => {
        #[doc = $doc]
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum $enum { $($variant,)* }

        impl $enum {
            /// Every one, in declaration order (the filter's metric ids follow it).
            pub const ALL: &'static [$enum] = &[$($enum::$variant,)*];

            /// The name after `asset_gate.<placement>.`.
            pub fn name(self) -> &'static str {
                $name_fn!(self, $($enum::$variant => $name,)*)
            }

            /// What it counts or records, in one line (docs/metrics.md).
            pub fn meaning(self) -> &'static str {
                match self { $($enum::$variant => $meaning,)* }
            }
        }
    };
}

metrics! {
    Counter, packed_names, "Every counter asset-gate exports.",
    RequestsSigned => "requests_signed", "requests signed for storage";
    SigningFailures => "signing_failures", "requests refused before storage (malformed path or header, unmapped path, unsafe key, chunk-signed upload, a presign that failed, headers that could not be rewritten); scope refusals count as `scope_refused`";
    MissingCredentials => "missing_credentials", "requests that found no usable credentials (answered `503`, or forwarded unsigned with `pass`)";
    RedirectsConverted => "redirects_converted", "`X-Accel-Redirect` answers turned into marked `303`s";
    RedirectsAccepted => "redirects_accepted", "internal backend `307`s turned into marked `303`s";
    RedirectsRefused => "redirects_refused", "backend redirects refused: an unsafe target or an `X-Accel-Redirect` outside the internal prefixes (`404`), kept headers over `max_kept_bytes` (`502`), a foreign redirect with `reject` (`502`), a malformed gateway consent (`502`)";
    ForeignRedirectsPassed => "foreign_redirects_passed", "backend redirects elsewhere handed to the client unmarked";
    SpoofAttempts => "spoof_attempts", "client requests carrying a marker that was missing, duplicated, expired, for another path, or forged, dropped by the edge role (on routes where it runs; the shipped configs turn it off on the internal route, where the storage role refuses such markers: `marker_rejected`)";
    MarkerRejected => "marker_rejected", "requests the storage role refused with `403` for lack of a valid marker";
    RedirectsDeclined => "redirects_declined", "responses still carrying asset-gate's marker because Envoy did not follow the `303` (answered `413` or `502` by the edge role)";
    ConsentViolations => "consent_violations", "marked requests the storage role refused because the marker does not grant the method (`405`) or the request has a body (`400`); gateway requests the consent does not cover (`400`, `403`, `405`, `415`)";
    StorageErrorsRewritten => "storage_errors_rewritten", "storage error bodies replaced by plain text (`plain_errors`)";
    BodiesHashed => "bodies_hashed", "request bodies buffered, hashed and signed with their SHA-256 (`signing.body: \"hash\"`)";
    BodiesRefused => "bodies_refused", "request bodies over `signing.max_body_bytes`, declared or counted (answered `413`, nothing sent)";
    ScopeRefused => "scope_refused", "requests outside `signing.scope` (answered `403` before anything is signed)";
    AuthConsents => "auth_consents", "gateway: backend answers with an `X-Accel-Redirect` the gateway accepted";
    AuthRefusals => "auth_refusals", "gateway: backend answers without one, handed to the client";
    AuthUnavailable => "auth_unavailable", "gateway: subrequests that could not be sent or found the backend down (`503`)";
    AuthTimeouts => "auth_timeouts", "gateway: subrequests without an answer within `auth_timeout` (`504`)";
    UploadsTooLarge => "uploads_too_large", "gateway: uploads refused with `413` (declared, or counted while streaming), or `400` for an aws-chunked upload that declares no decoded length";
    PresignedRedirects => "presigned_redirects", "gateway: redirects to presigned URLs";
    DecisionCacheHits => "decision_cache_hits", "gateway: requests served from the decision cache, without a subrequest";
    HeaderPollsOk => "header_polls_ok", "successful header-provider polls (one per interval per Envoy process)";
    HeaderPollsFailedStatus => "header_polls_failed_status", "polls answered with a non-2xx status";
    HeaderPollsFailedTimeout => "header_polls_failed_timeout", "polls that timed out or were reset (Envoy's own `504` included)";
    HeaderPollsFailedOversize => "header_polls_failed_oversize", "answers over `header_max_body_bytes`";
    HeaderPollsFailedInvalidJson => "header_polls_failed_invalid_json", "answers that are not a JSON object";
    HeaderPollsFailedInvalidHeader => "header_polls_failed_invalid_header", "answers with a non-string value or an invalid or forbidden header";
    HeaderPollsFailedOther => "header_polls_failed_other", "polls that could not be dispatched or stored";
    HeadersInjected => "headers_injected", "requests that received the provider's headers";
    HeadersUnavailable => "headers_unavailable", "requests that found no valid headers (then `header_failure_policy` applied)";
    CredentialRefreshes => "credential_refreshes", "successful credentials refreshes (any polled source; one per refresh per Envoy process)";
    CredentialRefreshFailures => "credential_refresh_failures", "failed refreshes (the current credentials are kept until they expire)";
    CredentialRefreshFailedStatus => "credential_refresh_failed_status", "refreshes failed on a non-2xx answer (IMDS, endpoint, STS error such as `AccessDenied`)";
    CredentialRefreshFailedNoResponse => "credential_refresh_failed_no_response", "refreshes failed on a timeout, reset or refused connection (Envoy's own `503`/`504` included) or a call the host would not dispatch";
    CredentialRefreshFailedInvalid => "credential_refresh_failed_invalid", "answers that do not parse, lack a key, are oversized or already expired";
    CredentialRefreshFailedToken => "credential_refresh_failed_token", "refreshes failed getting a token (IMDSv2 session token, token endpoint)";
    CredentialRefreshFailedUnavailable => "credential_refresh_failed_unavailable", "no credentials at all (`env` empty; no source of a `chain` worked)";
    CredentialRefreshFailedOther => "credential_refresh_failed_other", "results that could not be stored in shared data";
    RequestsUnsigned => "requests_unsigned", "requests forwarded without a signature because no credentials were usable and `on_missing_credentials` is `pass`";
    ConsentQueryDropped => "consent_query_dropped", "read consents (flow A) whose target's query had parameters a read does not carry (cache busters, `acl`, `tagging`, ...), dropped before storage";
}

metrics! {
    Gauge, matched_names, "Every gauge asset-gate exports.",
    HeaderCacheAge => "header_cache_age_seconds", "seconds since the last successful header poll (placements with `augment_headers`)";
    CredentialsExpiresIn => "credentials_expires_in_seconds", "seconds until the credentials in use expire (0: none usable, or they never expire)";
    CredentialsUsable => "credentials_usable", "1 while usable credentials exist, else 0 (requests get `503`, or go unsigned with `pass`)";
    CredentialsSource => "credentials_source", "source of the credentials in use: 1 `static`, 2 `env`, 3 `endpoint`, 4 `imds`, 5 `assume_role`, 6 `web_identity` (a `chain` reports its winner), 0 none yet";
    BuildVersion => "build_version", "the module's version as major × 1000000 + minor × 1000 + patch (`0.1.0` is `1000`); its git revision is in the startup log line";
}

/// Every metric as (name, kind, meaning), counters first.
pub fn all() -> impl Iterator<Item = (&'static str, Kind, &'static str)> {
    let counters = Counter::ALL
        .iter()
        .map(|c| (c.name(), Kind::Counter, c.meaning()));
    let gauges = Gauge::ALL
        .iter()
        .map(|g| (g.name(), Kind::Gauge, g.meaning()));
    counters.chain(gauges)
}

impl Counter {
    /// The failure counter for a `ProviderError::reason()`.
    pub fn header_poll_failure(reason: &str) -> Counter {
        match reason {
            "status" => Counter::HeaderPollsFailedStatus,
            "timeout" => Counter::HeaderPollsFailedTimeout,
            "oversize" => Counter::HeaderPollsFailedOversize,
            "invalid_json" => Counter::HeaderPollsFailedInvalidJson,
            "invalid_header" => Counter::HeaderPollsFailedInvalidHeader,
            _ => Counter::HeaderPollsFailedOther,
        }
    }

    /// The failure counter for a `credentials::step::Reason::name()`.
    pub fn credential_refresh_failure(reason: &str) -> Counter {
        match reason {
            "status" => Counter::CredentialRefreshFailedStatus,
            "no_response" | "dispatch" => Counter::CredentialRefreshFailedNoResponse,
            "invalid" => Counter::CredentialRefreshFailedInvalid,
            "token" => Counter::CredentialRefreshFailedToken,
            "unavailable" => Counter::CredentialRefreshFailedUnavailable,
            _ => Counter::CredentialRefreshFailedOther,
        }
    }
}

/// The `credentials_source` gauge's value for a source name.
pub fn source_code(source: &str) -> u64 {
    match source {
        "static" => 1,
        "env" => 2,
        "endpoint" => 3,
        "imds" => 4,
        "assume_role" => 5,
        "web_identity" => 6,
        _ => 0,
    }
}

/// A version `major.minor.patch` (a pre-release or build suffix ignored) as
/// one number for a gauge: major × 1000000 + minor × 1000 + patch. Envoy
/// gives wasm metrics no tags, so the version cannot be a label.
pub const fn version_code(version: &str) -> u64 {
    let b = version.as_bytes();
    let (mut parts, mut part, mut i) = ([0u64; 3], 0, 0);
    while i < b.len() && part < 3 {
        match b[i] {
            b'0'..=b'9' => parts[part] = parts[part] * 10 + (b[i] - b'0') as u64,
            b'.' => part += 1,
            _ => break,
        }
        i += 1;
    }
    parts[0] * 1_000_000 + parts[1] * 1_000 + parts[2]
}

/// A family of counters, `<name>.<member>`: one counter per member, each
/// defined the first time it is bumped, so a placement lists only what
/// happened. Its members come from a bounded set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Family {
    pub name: &'static str,
    /// The member as docs/metrics.md writes it.
    pub member: &'static str,
    pub meaning: &'static str,
}

/// Storage errors by S3 error code (`storage_error::member` picks the member).
pub const STORAGE_ERRORS: Family = Family {
    name: "storage_error",
    member: "<Code>",
    meaning: "storage error answers asset-gate made plain (`plain_errors`), by S3 error code: the common codes by name (`SignatureDoesNotMatch`, `NoSuchKey`, ...), an error without a body (a `HEAD`) by its status (`storage_error.403`), any other as `other`",
};

/// Every counter family.
pub const FAMILIES: [Family; 1] = [STORAGE_ERRORS];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_stat_segments() {
        let names: Vec<&str> = all().map(|(n, _, _)| n).collect();
        // Stored back to back: the first and last come out whole.
        assert_eq!(names.first(), Some(&"requests_signed"));
        assert_eq!(Counter::ConsentQueryDropped.name(), "consent_query_dropped");
        assert_eq!(Gauge::CredentialsSource.name(), "credentials_source");
        for (i, n) in names.iter().enumerate() {
            assert!(!names[..i].contains(n), "{n} is declared twice");
            assert!(
                !n.is_empty() && n.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                // (which also keeps NUL, their separator, out)
                "{n} is not a plain stat name"
            );
        }
        assert!(all().all(|(_, _, m)| !m.is_empty() && !m.contains('\n')));
    }

    #[test]
    fn failure_reasons_have_their_counters() {
        assert_eq!(
            Counter::header_poll_failure("invalid_json"),
            Counter::HeaderPollsFailedInvalidJson
        );
        assert_eq!(
            Counter::header_poll_failure("?"),
            Counter::HeaderPollsFailedOther
        );
        assert_eq!(
            Counter::credential_refresh_failure("dispatch"),
            Counter::CredentialRefreshFailedNoResponse
        );
        assert_eq!(source_code("imds"), 4);
        assert_eq!(source_code("?"), 0);
    }

    /// Every metric and family as docs/metrics.md lists it (a family as
    /// `<name>.<member>`).
    fn documented_names() -> Vec<(String, Kind, &'static str)> {
        let fixed = all().map(|(n, k, m)| (n.to_string(), k, m));
        let families = FAMILIES
            .iter()
            .map(|f| (format!("{}.{}", f.name, f.member), Kind::Counter, f.meaning));
        fixed.chain(families).collect()
    }

    /// docs/metrics.md has one table row per metric and family: its name,
    /// kind and meaning exactly as declared here, and no other metric.
    #[test]
    fn docs_list_every_metric_as_declared() {
        let declared = documented_names();
        let doc = include_str!("../../../docs/metrics.md");
        let mut documented = Vec::new();
        for line in doc.lines() {
            let Some(row) = line.strip_prefix("| `") else {
                continue;
            };
            let cells: Vec<&str> = row.splitn(3, " | ").collect();
            let [name, kind, meaning] = cells[..] else {
                panic!("malformed metrics row: {line}");
            };
            let name = name.trim_end_matches('`');
            let meaning = meaning.trim_end_matches(" |");
            let Some((_, k, m)) = declared.iter().find(|(n, _, _)| n == name) else {
                panic!("docs/metrics.md documents `{name}`, which does not exist");
            };
            assert_eq!(kind, k.name(), "the kind of `{name}`");
            assert_eq!(meaning, *m, "the meaning of `{name}`");
            documented.push(name);
        }
        for (name, _, _) in &declared {
            assert!(
                documented.contains(&name.as_str()),
                "`{name}` is missing from docs/metrics.md"
            );
        }
    }

    #[test]
    fn version_codes() {
        assert_eq!(version_code("0.1.0"), 1_000);
        assert_eq!(version_code("1.2.3"), 1_002_003);
        assert_eq!(version_code("12.345.678-rc.1"), 12_345_678);
        assert_eq!(version_code("2.0.1+build.7"), 2_000_001);
        assert_eq!(version_code(""), 0);
    }
}
