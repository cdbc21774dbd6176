//! Counters and gauges exported through proxy-wasm metrics, one set per
//! placement: `wasmcustom.asset_gate.<placement>.<name>` in Envoy stats, where
//! the placement is the filter's plugin `name` in the Envoy configuration.
//! Failing to record a metric never fails a request.

use proxy_wasm::hostcalls;
use proxy_wasm::types::MetricType;

macro_rules! metrics {
    ($($variant:ident => $name:literal,)*) => {
        /// Every counter asset-gate exports; README.md lists them with their meaning.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Counter { $($variant,)* }

        impl Counter {
            const ALL: &'static [Counter] = &[$(Counter::$variant,)*];

            fn name(self) -> &'static str {
                match self { $(Counter::$variant => $name,)* }
            }
        }
    };
}

metrics! {
    RequestsSigned => "requests_signed",
    SigningFailures => "signing_failures",
    MissingCredentials => "missing_credentials",
    RedirectsConverted => "redirects_converted",
    RedirectsAccepted => "redirects_accepted",
    RedirectsRefused => "redirects_refused",
    ForeignRedirectsPassed => "foreign_redirects_passed",
    SpoofAttempts => "spoof_attempts",
    MarkerRejected => "marker_rejected",
    RedirectsDeclined => "redirects_declined",
    ConsentViolations => "consent_violations",
    StorageErrorsRewritten => "storage_errors_rewritten",
    BodiesHashed => "bodies_hashed",
    BodiesRefused => "bodies_refused",
    ScopeRefused => "scope_refused",
    AuthConsents => "auth_consents",
    AuthRefusals => "auth_refusals",
    AuthUnavailable => "auth_unavailable",
    AuthTimeouts => "auth_timeouts",
    UploadsTooLarge => "uploads_too_large",
    PresignedRedirects => "presigned_redirects",
    DecisionCacheHits => "decision_cache_hits",
    HeaderPollsOk => "header_polls_ok",
    HeaderPollsFailedStatus => "header_polls_failed_status",
    HeaderPollsFailedTimeout => "header_polls_failed_timeout",
    HeaderPollsFailedOversize => "header_polls_failed_oversize",
    HeaderPollsFailedInvalidJson => "header_polls_failed_invalid_json",
    HeaderPollsFailedInvalidHeader => "header_polls_failed_invalid_header",
    HeaderPollsFailedOther => "header_polls_failed_other",
    HeadersInjected => "headers_injected",
    HeadersUnavailable => "headers_unavailable",
    CredentialRefreshes => "credential_refreshes",
    CredentialRefreshFailures => "credential_refresh_failures",
    CredentialRefreshFailedStatus => "credential_refresh_failed_status",
    CredentialRefreshFailedNoResponse => "credential_refresh_failed_no_response",
    CredentialRefreshFailedInvalid => "credential_refresh_failed_invalid",
    CredentialRefreshFailedToken => "credential_refresh_failed_token",
    CredentialRefreshFailedUnavailable => "credential_refresh_failed_unavailable",
    CredentialRefreshFailedOther => "credential_refresh_failed_other",
    RequestsUnsigned => "requests_unsigned",
    ConsentQueryDropped => "consent_query_dropped",
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
}

impl Counter {
    /// The failure counter for a `credentials::fetch::Reason::name()`.
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

/// Seconds until the credentials in use expire (0: none, or they never expire).
const CREDENTIALS_EXPIRES_IN: &str = "credentials_expires_in_seconds";
/// 1 while usable credentials exist, else 0.
const CREDENTIALS_USABLE: &str = "credentials_usable";
/// Which source the credentials in use came from (README lists the codes).
const CREDENTIALS_SOURCE: &str = "credentials_source";

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

/// Age in seconds of the header cache (since the last successful poll).
const HEADER_CACHE_AGE: &str = "header_cache_age_seconds";

/// The metric name prefix for one placement: the plugin name with anything
/// but letters, digits, `_` and `-` turned into `_`, so a name can never
/// split into more stat segments.
fn prefix(plugin_name: &str) -> String {
    let clean: String = plugin_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if clean.is_empty() {
        "asset_gate.default.".to_string()
    } else {
        format!("asset_gate.{clean}.")
    }
}

/// Metric ids defined once per VM.
#[derive(Debug, Default)]
pub struct Metrics {
    ids: Vec<Option<u32>>,
    cache_age: Option<u32>,
    /// Expires-in, usable and source gauges, when this placement signs.
    credentials: Option<[Option<u32>; 3]>,
}

impl Metrics {
    /// Defines this placement's metrics (`plugin_name` as Envoy reports it).
    pub fn define(plugin_name: &str, with_cache_age: bool, signs: bool) -> Metrics {
        let prefix = prefix(plugin_name);
        let define =
            |kind, name: &str| hostcalls::define_metric(kind, &format!("{prefix}{name}")).ok();
        Metrics {
            ids: Counter::ALL
                .iter()
                .map(|c| define(MetricType::Counter, c.name()))
                .collect(),
            cache_age: if with_cache_age {
                define(MetricType::Gauge, HEADER_CACHE_AGE)
            } else {
                None
            },
            credentials: signs.then(|| {
                [
                    CREDENTIALS_EXPIRES_IN,
                    CREDENTIALS_USABLE,
                    CREDENTIALS_SOURCE,
                ]
                .map(|n| define(MetricType::Gauge, n))
            }),
        }
    }

    pub fn inc(&self, c: Counter) {
        if let Some(Some(id)) = self.ids.get(c as usize) {
            let _ = hostcalls::increment_metric(*id, 1);
        }
    }

    /// The credentials gauges: `expires_in` seconds, usable or not, source code.
    pub fn set_credentials(&self, expires_in: u64, usable: bool, source: u64) {
        if let Some(ids) = &self.credentials {
            for (id, v) in ids.iter().zip([expires_in, u64::from(usable), source]) {
                if let Some(id) = id {
                    let _ = hostcalls::record_metric(*id, v);
                }
            }
        }
    }

    pub fn set_cache_age(&self, secs: u64) {
        if let Some(id) = self.cache_age {
            let _ = hostcalls::record_metric(id, secs);
        }
    }
}
