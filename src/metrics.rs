//! Counters exported through proxy-wasm metrics (`wasmcustom.asset_gate.*`
//! in Envoy stats). Failing to record a metric never fails a request.

use proxy_wasm::hostcalls;
use proxy_wasm::types::MetricType;

/// Every counter asset-gate exports; README.md lists them with their meaning.
#[derive(Clone, Copy, Debug)]
pub enum Counter {
    RequestsSigned,
    SigningFailures,
    MissingCredentials,
    RedirectsConverted,
    RedirectsAccepted,
    RedirectsRefused,
    ForeignRedirectsPassed,
    SpoofAttempts,
    MarkerRejected,
}

impl Counter {
    const ALL: [Counter; 9] = [
        Counter::RequestsSigned,
        Counter::SigningFailures,
        Counter::MissingCredentials,
        Counter::RedirectsConverted,
        Counter::RedirectsAccepted,
        Counter::RedirectsRefused,
        Counter::ForeignRedirectsPassed,
        Counter::SpoofAttempts,
        Counter::MarkerRejected,
    ];

    fn name(self) -> &'static str {
        match self {
            Counter::RequestsSigned => "asset_gate.requests_signed",
            Counter::SigningFailures => "asset_gate.signing_failures",
            Counter::MissingCredentials => "asset_gate.missing_credentials",
            Counter::RedirectsConverted => "asset_gate.redirects_converted",
            Counter::RedirectsAccepted => "asset_gate.redirects_accepted",
            Counter::RedirectsRefused => "asset_gate.redirects_refused",
            Counter::ForeignRedirectsPassed => "asset_gate.foreign_redirects_passed",
            Counter::SpoofAttempts => "asset_gate.spoof_attempts",
            Counter::MarkerRejected => "asset_gate.marker_rejected",
        }
    }
}

/// Metric ids defined once per VM.
#[derive(Debug, Default)]
pub struct Metrics {
    ids: [Option<u32>; Counter::ALL.len()],
}

impl Metrics {
    pub fn define() -> Metrics {
        let mut m = Metrics::default();
        for c in Counter::ALL {
            m.ids[c as usize] = hostcalls::define_metric(MetricType::Counter, c.name()).ok();
        }
        m
    }

    pub fn inc(&self, c: Counter) {
        if let Some(id) = self.ids[c as usize] {
            let _ = hostcalls::increment_metric(id, 1);
        }
    }
}
