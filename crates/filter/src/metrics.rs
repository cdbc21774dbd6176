//! Counters and gauges exported through proxy-wasm metrics, one set per
//! placement: `wasmcustom.asset_gate.<placement>.<name>` in Envoy stats, where
//! the placement is the filter's plugin `name` in the Envoy configuration.
//! Failing to record a metric never fails a request. The metrics themselves
//! (names, kinds, meanings) are declared once, in the core's `metrics`.

use asset_gate_core::metrics::Gauge;
pub use asset_gate_core::metrics::{source_code, Counter};
use proxy_wasm::hostcalls;
use proxy_wasm::types::MetricType;
use std::cell::RefCell;

/// The metric name prefix for one placement: the plugin name with anything
/// but letters, digits, `_` and `-` turned into `_` (one per character), so
/// a name can never split into more stat segments.
fn prefix(plugin_name: &str) -> String {
    let mut prefix = String::from("asset_gate.");
    if plugin_name.is_empty() {
        prefix.push_str("default");
    }
    for b in plugin_name.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'-' => prefix.push(char::from(b)),
            // A UTF-8 continuation byte: its character already has its `_`.
            0x80..=0xbf => {}
            _ => prefix.push('_'),
        }
    }
    prefix.push('.');
    prefix
}

/// Defines the metric `<prefix><name>`.
fn define(prefix: &str, kind: MetricType, name: &str) -> Option<u32> {
    hostcalls::define_metric(kind, &[prefix, name].concat()).ok()
}

/// Metric ids defined once per placement.
pub struct Metrics {
    /// `asset_gate.<placement>.`, every name's start.
    prefix: String,
    ids: Vec<Option<u32>>,
    cache_age: Option<u32>,
    /// Expires-in, usable and source gauges, when this placement signs.
    credentials: Option<[Option<u32>; 3]>,
    /// The family counters (`<family>.<member>`) by name, each defined the
    /// first time it is bumped. Members are bounded (`core::metrics::Family`),
    /// and so is this list.
    members: RefCell<Vec<(String, Option<u32>)>>,
}

impl Metrics {
    /// Defines this placement's metrics (`plugin_name` as Envoy reports it),
    /// and sets its `build_version` gauge: the module's version as one
    /// number (its git revision is in the startup log line); Envoy keeps
    /// the value.
    pub fn define(plugin_name: &str, with_cache_age: bool, signs: bool) -> Metrics {
        let prefix = prefix(plugin_name);
        let gauge = |g: Gauge| define(&prefix, MetricType::Gauge, g.name());
        const CODE: u64 = asset_gate_core::metrics::version_code(env!("CARGO_PKG_VERSION"));
        if let Some(id) = gauge(Gauge::BuildVersion) {
            let _ = hostcalls::record_metric(id, CODE);
        }
        Metrics {
            ids: Counter::ALL
                .iter()
                .map(|c| define(&prefix, MetricType::Counter, c.name()))
                .collect(),
            cache_age: if with_cache_age {
                gauge(Gauge::HeaderCacheAge)
            } else {
                None
            },
            credentials: signs.then(|| {
                [
                    Gauge::CredentialsExpiresIn,
                    Gauge::CredentialsUsable,
                    Gauge::CredentialsSource,
                ]
                .map(gauge)
            }),
            members: RefCell::default(),
            prefix,
        }
    }

    pub fn inc(&self, c: Counter) {
        if let Some(Some(id)) = self.ids.get(c as usize) {
            let _ = hostcalls::increment_metric(*id, 1);
        }
    }

    /// Bumps `<family>.<member>`, defining it the first time: a placement
    /// lists only the members that happened.
    pub fn inc_member(&self, family: &str, member: &str) {
        let name = [family, ".", member].concat();
        let mut members = self.members.borrow_mut();
        let id = match members.iter().find(|(n, _)| *n == name) {
            Some(&(_, id)) => id,
            None => {
                let id = define(&self.prefix, MetricType::Counter, &name);
                members.push((name, id));
                id
            }
        };
        if let Some(id) = id {
            let _ = hostcalls::increment_metric(id, 1);
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
