//! The gateway role's HTTP context (flow D, downstream filter on a listener
//! routed to storage): it holds the request, asks the auth backend out of
//! band (`dispatch_http_call`), then either answers the backend's refusal,
//! or rewrites the request to the consented key and signs it right here,
//! so one context serves the request and its body streams to storage as
//! `UNSIGNED-PAYLOAD`; or it answers a redirect to a presigned URL. A
//! consent reads; writes pass only as granted, within the granted size.

use crate::clock;
use crate::http::{self, header, RawMap};
use crate::logs;
use crate::metrics::Counter;
use crate::shared::Shared;
use crate::storage::{client_answer, replace_error_body, signed_rewrite, BodyRewrite};
use asset_gate_core::answers::{Answer, Refusal};
use asset_gate_core::config::{GatewayConfig, SigningConfig};
use asset_gate_core::gateway::consent::{self, Consent, Permit};
use asset_gate_core::gateway::decision_cache;
use asset_gate_core::internal_redirect::carry;
use asset_gate_core::primitives::ascii;
use asset_gate_core::primitives::header_map::Header;
use asset_gate_core::roles::{gateway, storage};
use asset_gate_core::signing::prepare::{self, Body, Signed};
use asset_gate_core::sigv4::{self, PresignRequest, Scope};
use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::{Action, BufferType, MapType};
use std::rc::Rc;

/// Envoy sets this on answers that came from the backend; its own local
/// replies (connect failure, timeout) lack it.
const UPSTREAM_TIME: &str = "x-envoy-upstream-service-time";

pub struct Gateway {
    shared: Rc<Shared>,
    /// The client's request headers, held while the subrequest is out.
    request: RawMap,
    has_body: bool,
    /// The subrequest is out: no byte of the body may pass yet.
    asking: bool,
    /// The decision-cache key of this request, when it may be cached.
    cache_key: Option<decision_cache::Key>,
    /// The backend's headers for storage's answer (`carry` encoding).
    kept: Vec<u8>,
    /// A granted upload's byte budget, and the bytes streamed so far
    /// (those Envoy held while the backend was asked included).
    budget: Option<u64>,
    streamed: u64,
    /// This context answered itself: its response callbacks leave it alone.
    replied: bool,
    /// Storage's answer whose body is being replaced (an error made plain).
    rewriting: Option<BodyRewrite>,
    /// The request is a POST (a multipart call): its XML answer is scrubbed.
    post: bool,
    /// Where the signed request went, for a storage error's log line (kept
    /// only where errors are made plain).
    target: String,
}

impl Gateway {
    pub fn new(shared: Rc<Shared>) -> Gateway {
        Gateway {
            shared,
            request: RawMap::default(),
            has_body: false,
            asking: false,
            cache_key: None,
            kept: Vec::new(),
            budget: None,
            streamed: 0,
            replied: false,
            rewriting: None,
            post: false,
            target: String::new(),
        }
    }

    /// Answers the request here (catalogued answer and counter).
    fn refuse(&mut self, r: impl Into<Refusal>) -> Action {
        self.replied = true;
        http::refuse(&self.shared.metrics, r.into())
    }

    /// Holds the request and asks the auth backend, unless this VM's
    /// decision cache already has the answer for these credentials.
    fn on_request(&mut self, cfg: &GatewayConfig) -> Action {
        let Some(raw) = RawMap::read(MapType::HttpRequestHeaders) else {
            return self.refuse(Answer::CannotReadRequest);
        };
        let Some(request) = raw.pairs() else {
            return self.refuse(Answer::CannotReadRequest);
        };
        let mut key = None;
        if gateway::caches(&cfg.decision_cache) {
            let credentials = request
                .iter()
                .filter(|(k, _)| cfg.forward_headers.iter().any(|f| f == k))
                .copied();
            key = Some(decision_cache::key(
                header(&request, ":method").unwrap_or_default(),
                header(&request, ":path").unwrap_or_default(),
                credentials,
            ));
        }
        drop(request);
        self.request = raw;
        if let Some(key) = key {
            let hit = self
                .shared
                .decisions
                .borrow_mut()
                .get(&key, clock::now_ms());
            if let Some(consent) = hit {
                self.shared.metrics.inc(Counter::DecisionCacheHits);
                return self.proceed(&consent);
            }
            self.cache_key = Some(key);
        }
        let dispatched = match self.request.pairs() {
            None => return self.refuse(Answer::CannotReadRequest),
            Some(request) => hostcalls::dispatch_http_call(
                &cfg.auth_cluster,
                consent::subrequest(cfg, &request),
                None,
                vec![],
                std::time::Duration::from_millis(cfg.auth_timeout_ms),
            ),
        };
        match dispatched {
            Ok(_) => {
                self.asking = true;
                Action::Pause
            }
            Err(s) => {
                let what = ["call the auth backend cluster ", &cfg.auth_cluster].concat();
                logs::failed(log::Level::Warn, &what, s);
                self.refuse(Answer::AuthUnavailable)
            }
        }
    }

    /// The backend's answer: a refusal goes to the client, a consent on.
    fn on_answer(&mut self, body_size: usize) -> Action {
        let shared = Rc::clone(&self.shared);
        let Some(cfg) = shared.config.gateway.as_ref() else {
            return Action::Continue;
        };
        let raw = RawMap::read(MapType::HttpCallResponseHeaders).unwrap_or_default();
        let answer = raw.pairs().unwrap_or_default();
        let status: Option<u32> = header(&answer, ":status").and_then(|s| s.parse().ok());
        let from_envoy = header(&answer, UPSTREAM_TIME).is_none();
        if let Some(down) = gateway::backend_down(status, from_envoy) {
            return self.refuse(down);
        }
        let consent = match consent::judge(&answer, &shared.config.redirect, cfg) {
            Ok(Some(c)) => c,
            Ok(None) => {
                shared.metrics.inc(Counter::AuthRefusals);
                return self.pass_refusal(status.unwrap_or(403), &answer, body_size);
            }
            Err(r) => return self.refuse(r),
        };
        shared.metrics.inc(Counter::AuthConsents);
        if let Some(key) = self.cache_key.take() {
            let cache = &cfg.decision_cache;
            let now = clock::now_ms();
            let control = http::values(&answer, "cache-control");
            if let Some(until) = gateway::cache_until(cache, control, &consent, now) {
                shared.decisions.borrow_mut().put(
                    key,
                    consent.clone(),
                    consent.size(),
                    until,
                    now,
                    cache.max_entries,
                );
            }
        }
        self.proceed(&consent)
    }

    /// The client gets the backend's status, bounded body, and its
    /// `WWW-Authenticate`, `Set-Cookie`, `Location` and `Content-Type`.
    fn pass_refusal(&mut self, status: u32, answer: &[Header], body_size: usize) -> Action {
        let body = hostcalls::get_buffer(
            BufferType::HttpCallResponseBody,
            0,
            body_size.min(consent::MAX_REFUSAL_BODY),
        )
        .ok()
        .flatten()
        .unwrap_or_default();
        let headers: Vec<(&str, &str)> = consent::refusal_headers(answer)
            .into_iter()
            .filter_map(|(k, v)| Some((k, std::str::from_utf8(v).ok()?)))
            .collect();
        self.replied = true;
        let _ = hostcalls::send_http_response(status, headers, Some(&body));
        Action::Pause
    }

    /// Lets the request through as the consent allows: presigned redirect,
    /// or the storage request, signed, with the body streaming.
    fn proceed(&mut self, consent: &Consent) -> Action {
        let shared = Rc::clone(&self.shared);
        let (Some(cfg), Some(signing)) = (&shared.config.gateway, &shared.config.signing) else {
            return Action::Continue;
        };
        // The client's map is needed no more after this: the storage
        // request replaces it, or the request ends here.
        let raw = std::mem::take(&mut self.request);
        let Some(client) = raw.pairs() else {
            return self.refuse(Answer::CannotReadRequest);
        };
        let method = header(&client, ":method").unwrap_or_default();
        self.post = method == "POST";
        let path = header(&client, ":path").unwrap_or_default();
        let query = ascii::split_once(path, b'?').map_or("", |(_, q)| q);
        let copy = header(&client, "x-amz-copy-source").is_some();
        let permit = match consent::permit(method, query, self.has_body, copy, consent) {
            Ok(p) => p,
            Err(r) => return self.refuse(r),
        };
        match gateway::upload_budget(&permit, consent, &client, self.streamed) {
            Ok(budget) => self.budget = budget,
            Err(r) => return self.refuse(r),
        }
        let storage_path = consent::storage_path(consent, &permit);
        let request = consent::storage_request(
            &client,
            &storage_path,
            &permit,
            &signing.forwarded_request_headers,
            consent::pinned_type(method, &permit, consent),
        );
        match gateway::presign_upload(method, &permit, &client, consent) {
            Ok(Some(upload)) => {
                return self.presign(cfg, signing, consent, &permit, &request, &upload)
            }
            Ok(None) => {}
            Err(r) => return self.refuse(r),
        }
        let body = if self.has_body {
            Body::Streamed
        } else {
            Body::None
        };
        let rewrite = match signed_rewrite(&shared, signing, &request, body, clock::now_secs()) {
            Ok(rw) => rw,
            Err(r) => return self.refuse(r),
        };
        if signing.plain_errors {
            self.target = storage::error_target(&rewrite.authority, &rewrite.path);
        }
        // One write: the storage request replaces the client's whole map.
        let map = rewrite.applied_to(&request);
        if let Err(s) = hostcalls::set_map_bytes(MapType::HttpRequestHeaders, map) {
            logs::failed(log::Level::Warn, "rewrite request headers", s);
            return self.refuse(Answer::CannotRewriteRequest);
        }
        self.kept = consent.kept.clone();
        Action::Continue
    }

    /// A redirect to a presigned storage URL (SigV4 query auth): no body
    /// crosses Envoy. A read carries the backend's Content-Disposition and
    /// Content-Type in the signed query.
    fn presign(
        &mut self,
        cfg: &GatewayConfig,
        signing: &SigningConfig,
        consent: &Consent,
        permit: &Permit,
        request: &[Header],
        upload: &[(&str, &str)],
    ) -> Action {
        let shared = Rc::clone(&self.shared);
        let Some(p) = &cfg.presign else {
            return Action::Continue;
        };
        let now = clock::now_secs();
        let mut cache = shared.key_cache.borrow_mut();
        let mapped = match prepare::prepare(signing, None, request, Body::None, now, &mut cache) {
            Ok(Signed::Yes(rw) | Signed::NoCredentials(rw)) => rw,
            Err(r) => return self.refuse(r),
        };
        let base = &p.base_url;
        let host = gateway::presign_host(base);
        // A presigned request has no query of its own (judge refuses one).
        let path = ascii::split_once(&mapped.path, b'?').map_or(&*mapped.path, |(p, _)| p);
        let params = gateway::presign_params(permit, consent);
        let mut headers = upload.to_vec();
        headers.push(("host", host));
        let store = shared.credentials.borrow();
        let Some(creds) = store.usable(now) else {
            return self.refuse(Answer::NoCredentials);
        };
        let method = header(request, ":method").unwrap_or_default();
        let req = PresignRequest {
            method,
            path,
            params: &params,
            headers: &headers,
        };
        let scope = Scope {
            region: &signing.region,
            service: &signing.service,
        };
        let signed = sigv4::presigned_query(&req, creds, &scope, now, p.expires_secs, &mut cache);
        let q = match signed {
            Ok(q) => q,
            Err(_) => return self.refuse(Answer::CannotPresign),
        };
        let location = format!("{base}{path}?{q}");
        let status = gateway::presign_status(permit.write);
        let kept = carry::parse(&consent.kept);
        let mut answer = vec![("location", location.as_str())];
        for (k, v) in kept.iter().filter(|(k, _)| *k == "set-cookie") {
            if let Ok(v) = std::str::from_utf8(v) {
                answer.push((k, v));
            }
        }
        shared.metrics.inc(Counter::PresignedRedirects);
        self.replied = true;
        let _ = hostcalls::send_http_response(status, answer, None);
        Action::Pause
    }
}

impl Context for Gateway {
    fn on_http_call_response(&mut self, _token: u32, _headers: usize, body_size: usize, _t: usize) {
        self.asking = false;
        if self.on_answer(body_size) == Action::Continue {
            let _ = hostcalls::resume_http_request();
        }
    }
}

impl HttpContext for Gateway {
    fn on_http_request_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        self.has_body = !end_of_stream;
        let shared = Rc::clone(&self.shared);
        let Some(cfg) = shared.config.gateway.as_ref() else {
            return Action::Continue;
        };
        // Paused here, Envoy holds the body under flow control (not buffered
        // whole) until the answer resumes the request.
        self.on_request(cfg)
    }

    /// Counts a granted upload's bytes; over the budget the client gets 413
    /// and Envoy resets the upstream stream, so storage keeps no object.
    fn on_http_request_body(&mut self, body_size: usize, _end_of_stream: bool) -> Action {
        // Envoy holds the body while the headers are paused, unless the
        // plugin sets allow_on_headers_stop_iteration: then a Continue here
        // would release the request before the backend's answer.
        // Paused, `body_size` is all Envoy holds so far; those bytes pass on
        // with the resumed request, unseen here, so they count now.
        if self.asking {
            self.streamed = body_size as u64;
            return Action::Pause;
        }
        let Some(budget) = self.budget else {
            return Action::Continue;
        };
        self.streamed += body_size as u64;
        if gateway::over_budget(self.streamed, budget) {
            self.budget = None;
            return self.refuse(consent::too_large());
        }
        Action::Continue
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        if !self.replied {
            if let Some(cfg) = self.shared.config.signing.as_ref() {
                // As the storage role answers in flow A.
                self.rewriting = client_answer(
                    &self.shared,
                    cfg,
                    &self.kept,
                    end_of_stream,
                    self.post,
                    &self.target,
                );
            }
        }
        Action::Continue
    }

    fn on_http_response_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        match &mut self.rewriting {
            Some(rw) => {
                replace_error_body(&self.shared, rw, &self.target, body_size, end_of_stream)
            }
            None => Action::Continue,
        }
    }
}
