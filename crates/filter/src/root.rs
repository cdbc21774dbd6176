//! Root context: parses the configuration (the VM configuration's shared
//! settings under the placement's own), builds the per-VM state that HTTP
//! contexts share (credentials, caches, metric ids), runs the pollers, and
//! creates the HTTP context of the configured role.

use crate::auth_backend::AuthBackend;
use crate::clock;
use crate::edge::Edge;
use crate::logs;
use crate::metrics::{source_code, Metrics};
use crate::poller::{Kind, Poller};
use crate::shared::Shared;
use crate::storage::Storage;
use asset_gate_core::config::{Config, CredentialsConfig, ProcessEnv, Role};
use asset_gate_core::credentials::refresh::Fetcher;
use asset_gate_core::credentials::step::{Source, Step};
use asset_gate_core::credentials::CredentialStore;
use asset_gate_core::sigv4::SigningKeyCache;
use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{BufferType, ContextType};
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

/// Logs the module's version and git revision (from `build.rs`) once per
/// Envoy process and `vm_id`: the first VM to start (on the main thread,
/// before any worker's) leaves a mark in shared data that the others find.
fn log_version_once() {
    const STARTED: &str = "asset_gate.started.v1";
    if let Ok((None, _)) = hostcalls::get_shared_data(STARTED) {
        if hostcalls::set_shared_data(STARTED, Some(b"1"), None).is_ok() {
            // One string, put together at compile time (nothing to format).
            const LINE: &str = concat!(
                "asset-gate ",
                env!("CARGO_PKG_VERSION"),
                " (rev ",
                env!("ASSET_GATE_REVISION"),
                ")"
            );
            let _ = hostcalls::log(proxy_wasm::types::LogLevel::Info, LINE);
        }
    }
}

#[derive(Default)]
pub struct Root {
    shared: Option<Rc<Shared>>,
    pollers: Vec<Poller>,
    /// `vm_config.configuration`: the settings every placement shares.
    vm_config: Vec<u8>,
}

impl Context for Root {
    fn on_http_call_response(
        &mut self,
        token: u32,
        _headers: usize,
        body_size: usize,
        _trailers: usize,
    ) {
        let Some(shared) = &self.shared else { return };
        if let Some(p) = self.pollers.iter_mut().find(|p| p.owns(token)) {
            p.on_response(body_size, &shared.metrics);
            shared.refresh_caches();
        }
    }
}

impl RootContext for Root {
    /// Envoy calls this on every root context (each placement, in each VM)
    /// before `on_configure`, with the VM configuration.
    fn on_vm_start(&mut self, size: usize) -> bool {
        log_version_once();
        if size == 0 {
            return true;
        }
        match hostcalls::get_buffer(BufferType::VmConfiguration, 0, size) {
            Ok(b) => {
                self.vm_config = b.unwrap_or_default();
                true
            }
            Err(status) => {
                logs::failed(log::Level::Error, "read vm_config.configuration", status);
                false
            }
        }
    }

    fn on_configure(&mut self, size: usize) -> bool {
        let bytes = match hostcalls::get_buffer(BufferType::PluginConfiguration, 0, size) {
            Ok(b) => b.unwrap_or_default(),
            Err(status) => {
                logs::failed(log::Level::Error, "read the plugin configuration", status);
                return false;
            }
        };
        let mut config = match Config::parse_layered(&self.vm_config, &bytes, &ProcessEnv) {
            Ok(c) => c,
            Err(e) => {
                logs::detail(log::Level::Error, "", &e);
                return false;
            }
        };
        let mut store = CredentialStore::default();
        let mut pollers = vec![];
        let mut credentials_key = None;
        let mut source = 0;
        if let Some(signing) = &mut config.signing {
            let interval = signing.credentials.refresh_interval_ms();
            // The refresh machine owns the credentials settings from here on.
            let settings = std::mem::replace(&mut signing.credentials, CredentialsConfig::Env);
            let mut fetcher = Fetcher::new(settings, &ProcessEnv);
            // Static and environment credentials (and a chain whose first
            // source is one) are there from the start.
            if let Step::Done(f) = fetcher.start(clock::now_secs()) {
                source = source_code(f.source);
                store.set(f.credentials);
            }
            if fetcher.polls() {
                let p = Poller::credentials(fetcher, &signing.credentials_id, interval);
                credentials_key = Some(p.data_key.clone());
                pollers.push(p);
            } else if store.usable(clock::now_secs()).is_none() {
                log::warn!(
                    "asset-gate: no AWS credentials in the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY); requests will not be signed"
                );
            }
        }
        let mut headers_key = None;
        if let Some(a) = &config.augment {
            let p = Poller::new(
                Kind::Headers {
                    expiry_ms: a.expiry_ms,
                    max_body: a.max_body_bytes,
                    reserved: vec![config.redirect.marker_header.clone()],
                    allowed: a.allow_sensitive.clone(),
                },
                a.provider.clone(),
                a.backoff_cap_ms,
            );
            headers_key = Some(p.data_key.clone());
            pollers.push(p);
        }
        if !pollers.is_empty() {
            if let Err(s) = hostcalls::set_tick_period(clock::TICK) {
                logs::failed(log::Level::Error, "start the poll timer", s);
                return false;
            }
        }
        log::info!("asset-gate: configured as role {:?}", config.role);
        // Follow Envoy's log level for the `wasm` component: debug lines are
        // formatted and handed to the host only when Envoy would print them.
        if let Ok(level) = hostcalls::get_log_level() {
            proxy_wasm::set_log_level(level);
        }
        // The marker secret exists before any worker VM asks for it.
        if crate::secret::marker_key().is_none() {
            log::error!("asset-gate: the internal-redirect marker secret is not available");
        }
        let plugin_name = hostcalls::get_property(vec!["plugin_name"])
            .ok()
            .flatten()
            .and_then(|b| String::from_utf8(b).ok())
            .unwrap_or_default();
        let metrics = Metrics::define(
            &plugin_name,
            config.augment.is_some(),
            config.signing.is_some(),
        );
        self.pollers = pollers;
        self.shared = Some(Rc::new(Shared {
            config,
            credentials: RefCell::new(store),
            key_cache: RefCell::new(SigningKeyCache::default()),
            decisions: RefCell::default(),
            metrics,
            headers_key,
            headers: RefCell::new(None),
            credentials_key,
            credentials_cas: RefCell::new(None),
            credentials_source: std::cell::Cell::new(source),
            held: RefCell::default(),
            delivers_bodies: std::cell::Cell::new(false),
        }));
        if let Some(shared) = &self.shared {
            shared.record_credentials_gauges();
        }
        true
    }

    fn on_tick(&mut self) {
        let Some(shared) = &self.shared else { return };
        shared.refresh_caches();
        shared.record_credentials_gauges();
        for p in &mut self.pollers {
            p.tick(&shared.metrics);
            if matches!(p.kind, Kind::Headers { .. }) {
                if let Some(age) = p.age_secs(clock::now_ms()) {
                    shared.metrics.set_cache_age(age);
                }
            }
        }
        // Last: answering a held request switches the effective context.
        let watching = crate::storage::answer_withheld_bodies(shared);
        if !watching && self.pollers.is_empty() {
            // Nothing left to watch; a held request arms the tick again.
            let _ = hostcalls::set_tick_period(Duration::ZERO);
        }
    }

    /// One context type per role, chosen once from the configuration.
    fn create_http_context(&self, context_id: u32) -> Option<Box<dyn HttpContext>> {
        let shared = self.shared.clone()?;
        Some(match shared.config.role {
            Role::Edge => Box::new(Edge::new(shared)),
            Role::AuthBackend => Box::new(AuthBackend::new(shared)),
            Role::Storage => Box::new(Storage::new(shared, context_id)),
            Role::Gateway => Box::new(crate::gateway::Gateway::new(shared)),
        })
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}
