//! Counters and gauges exported through proxy-wasm metrics, one set per
//! placement: `wasmcustom.asset_gate.<placement>.<name>` in Envoy stats, where
//! the placement is the filter's plugin `name` in the Envoy configuration.
//! Failing to record a metric never fails a request. The metrics themselves
//! (names, kinds, meanings) are declared once, in the core's `metrics`.

use asset_gate_core::metrics::Gauge;
pub use asset_gate_core::metrics::{source_code, Counter};
use proxy_wasm::hostcalls;
use proxy_wasm::types::MetricType;

/// The metric name prefix for one placement: the plugin name with anything
/// but letters, digits, `_` and `-` turned into `_`, so a name can never
/// split into more stat segments.
#[inline(never)]
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
                define(MetricType::Gauge, Gauge::HeaderCacheAge.name())
            } else {
                None
            },
            credentials: signs.then(|| {
                [
                    Gauge::CredentialsExpiresIn,
                    Gauge::CredentialsUsable,
                    Gauge::CredentialsSource,
                ]
                .map(|g| define(MetricType::Gauge, g.name()))
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

/// This placement's `build_version` gauge: the module's version as one
/// number (its git revision is in the startup log line). Set once, at
/// configure time; Envoy keeps the value.
pub fn record_build_version(plugin_name: &str) {
    const CODE: u64 = asset_gate_core::metrics::version_code(env!("CARGO_PKG_VERSION"));
    let mut name = prefix(plugin_name);
    name.push_str(Gauge::BuildVersion.name());
    if let Ok(id) = hostcalls::define_metric(MetricType::Gauge, &name) {
        let _ = hostcalls::record_metric(id, CODE);
    }
}

thread_local! {
    /// This VM's family counters (`asset_gate.<placement>.<family>.<member>`)
    /// by full name, defined the first time each is bumped. Members are
    /// bounded (`core::metrics::Family`), and so is this list.
    static MEMBERS: std::cell::RefCell<Vec<(String, Option<u32>)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// Bumps `<family>.<member>` of the calling placement, defining it the
/// first time: a placement lists only the members that happened. Placements
/// share a VM, so the placement (the plugin's name) is read from the host
/// each time; only storage errors get here.
pub fn inc_member(family: &str, member: &str) {
    let plugin = hostcalls::get_property(vec!["plugin_name"])
        .ok()
        .flatten()
        .and_then(|b| String::from_utf8(b).ok())
        .unwrap_or_default();
    let name = [prefix(&plugin).as_str(), family, ".", member].concat();
    let id = MEMBERS.with(|m| {
        let mut m = m.borrow_mut();
        if let Some((_, id)) = m.iter().find(|(n, _)| *n == name) {
            return *id;
        }
        let id = hostcalls::define_metric(MetricType::Counter, &name).ok();
        m.push((name, id));
        id
    });
    if let Some(id) = id {
        let _ = hostcalls::increment_metric(id, 1);
    }
}
