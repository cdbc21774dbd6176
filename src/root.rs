//! Root context: parses the configuration, owns the per-VM state that HTTP
//! contexts share (credentials, caches, metric ids), and runs the pollers.

use crate::config::{Config, CredentialsConfig, ProcessEnv};
use crate::credentials::{self, CredentialStore, Expiring};
use crate::headers;
use crate::http::Http;
use crate::metrics::Metrics;
use crate::poller::{self, Kind, Poller};
use crate::sigv4::SigningKeyCache;
use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{BufferType, ContextType};
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

/// How often every VM looks at the shared poll records.
const TICK: Duration = Duration::from_millis(250);

/// A value read from shared data, kept with the CAS version it was read at,
/// so that it is parsed once per change rather than once per request.
pub struct Cached<T> {
    pub cas: u32,
    pub value: T,
}

/// State shared by the root context and every HTTP context of one VM.
pub struct Shared {
    pub config: Config,
    pub credentials: RefCell<CredentialStore>,
    pub key_cache: RefCell<SigningKeyCache>,
    pub metrics: Metrics,
    /// Shared-data key of the header provider's last good answer.
    pub headers_key: Option<String>,
    /// Parsed headers: (fetched at ms, headers).
    pub headers: RefCell<Option<Cached<crate::headers::CacheEntry>>>,
    /// Shared-data key of the credentials endpoint's last good answer.
    pub credentials_key: Option<String>,
    pub credentials_cas: RefCell<Option<u32>>,
}

impl Shared {
    /// Adopts what the poller (of whichever VM) last stored in shared data:
    /// provider headers and endpoint credentials, parsed once per change.
    /// Called on every tick, so requests only read this VM's copies.
    fn refresh_caches(&self) {
        if let Some(key) = &self.headers_key {
            if let Ok((Some(bytes), Some(cas))) = hostcalls::get_shared_data(key) {
                let mut cache = self.headers.borrow_mut();
                if cache.as_ref().map(|c| c.cas) != Some(cas) {
                    *cache = headers::decode_cache(&bytes).map(|value| Cached { cas, value });
                }
            }
        }
        if let Some(key) = &self.credentials_key {
            if let Ok((Some(bytes), Some(cas))) = hostcalls::get_shared_data(key) {
                if *self.credentials_cas.borrow() != Some(cas) {
                    let now = poller::now_ms() / 1000;
                    if let Ok(c) = credentials::parse_endpoint_answer(Some(200), &bytes, now) {
                        self.credentials.borrow_mut().set(c);
                    }
                    *self.credentials_cas.borrow_mut() = Some(cas);
                }
            }
        }
    }
}

#[derive(Default)]
pub struct Root {
    shared: Option<Rc<Shared>>,
    pollers: Vec<Poller>,
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
    fn on_configure(&mut self, size: usize) -> bool {
        let bytes = match hostcalls::get_buffer(BufferType::PluginConfiguration, 0, size) {
            Ok(b) => b.unwrap_or_default(),
            Err(status) => {
                log::error!("asset-gate: cannot read the plugin configuration: {status:?}");
                return false;
            }
        };
        let config = match Config::parse(&bytes, &ProcessEnv) {
            Ok(c) => c,
            Err(e) => {
                log::error!("{e}");
                return false;
            }
        };
        let mut store = CredentialStore::default();
        let mut pollers = vec![];
        let mut credentials_key = None;
        if let Some(signing) = &config.signing {
            let loaded = match &signing.credentials {
                CredentialsConfig::Static(c) => Some(Expiring {
                    credentials: c.clone(),
                    expires_at: None,
                }),
                CredentialsConfig::Env => {
                    let c = credentials::from_env(&ProcessEnv);
                    if c.is_none() {
                        log::warn!(
                            "asset-gate: no AWS credentials in the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY); requests will not be signed"
                        );
                    }
                    c
                }
                CredentialsConfig::Endpoint(endpoint) => {
                    let p = Poller::new(
                        Kind::Credentials {
                            max_interval_ms: endpoint.refresh_interval_ms,
                        },
                        endpoint.clone(),
                        60_000,
                    );
                    credentials_key = Some(p.data_key.clone());
                    pollers.push(p);
                    None
                }
            };
            if let Some(c) = loaded {
                store.set(c);
            }
        }
        let mut headers_key = None;
        if let Some(a) = &config.augment {
            let p = Poller::new(
                Kind::Headers {
                    expiry_ms: a.expiry_ms,
                    max_body: a.max_body_bytes,
                    reserved: vec![config.redirect.marker_header.clone()],
                },
                a.provider.clone(),
                a.backoff_cap_ms,
            );
            headers_key = Some(p.data_key.clone());
            pollers.push(p);
        }
        if !pollers.is_empty() {
            if let Err(s) = hostcalls::set_tick_period(TICK) {
                log::error!("asset-gate: cannot start the poll timer: {s:?}");
                return false;
            }
        }
        log::info!("asset-gate: configured as role {:?}", config.role);
        let metrics = Metrics::define(config.augment.is_some());
        self.pollers = pollers;
        self.shared = Some(Rc::new(Shared {
            config,
            credentials: RefCell::new(store),
            key_cache: RefCell::new(SigningKeyCache::default()),
            metrics,
            headers_key,
            headers: RefCell::new(None),
            credentials_key,
            credentials_cas: RefCell::new(None),
        }));
        true
    }

    fn on_tick(&mut self) {
        let Some(shared) = &self.shared else { return };
        shared.refresh_caches();
        for p in &mut self.pollers {
            p.tick(&shared.metrics);
            if matches!(p.kind, Kind::Headers { .. }) {
                if let Some(age) = p.age_secs(poller::now_ms()) {
                    shared.metrics.set_cache_age(age);
                }
            }
        }
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        let shared = self.shared.clone()?;
        Some(Box::new(Http::new(shared)))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}
