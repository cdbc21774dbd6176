//! Root context: parses the configuration, owns the per-VM state that HTTP
//! contexts share (credentials, signing-key cache, metric ids).

use crate::config::{Config, CredentialsConfig, ProcessEnv};
use crate::credentials::{self, CredentialStore, Expiring};
use crate::http::Http;
use crate::metrics::Metrics;
use crate::sigv4::SigningKeyCache;
use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{BufferType, ContextType};
use std::cell::RefCell;
use std::rc::Rc;

/// State shared by the root context and every HTTP context of one VM.
pub struct Shared {
    pub config: Config,
    pub credentials: RefCell<CredentialStore>,
    pub key_cache: RefCell<SigningKeyCache>,
    pub metrics: Metrics,
}

#[derive(Default)]
pub struct Root {
    shared: Option<Rc<Shared>>,
}

impl Context for Root {}

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
        if let Some(signing) = &config.signing {
            let loaded = match &signing.credentials {
                CredentialsConfig::Static(c) => Some(Expiring {
                    credentials: c.clone(),
                    expires_at: None,
                }),
                CredentialsConfig::Env => credentials::from_env(&ProcessEnv),
            };
            match loaded {
                Some(c) => {
                    store.set(c);
                }
                None => log::warn!(
                    "asset-gate: no AWS credentials in the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY); requests will not be signed"
                ),
            }
        }
        log::info!("asset-gate: configured as role {:?}", config.role);
        self.shared = Some(Rc::new(Shared {
            config,
            credentials: RefCell::new(store),
            key_cache: RefCell::new(SigningKeyCache::default()),
            metrics: Metrics::define(),
        }));
        true
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        let shared = self.shared.clone()?;
        Some(Box::new(Http::new(shared)))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}
