//! The storage role's HTTP context (upstream filter on the storage cluster,
//! or downstream filter of a signing edge proxy): only requests the auth
//! backend consented to get signed, and only as the read it consented to;
//! the bucket is mapped, the host rewritten, the request signed with SigV4;
//! storage's answer keeps its internals to itself and gains the backend's
//! kept headers (flow A, as nginx does).

use crate::clock;
use crate::http::{self, header, RawMap};
use crate::logs;
use crate::metrics::Counter;
use crate::shared::{Held, Shared};
use asset_gate_core::answers::{Answer, Refusal};
use asset_gate_core::config::{Role, SigningConfig};
use asset_gate_core::internal_redirect::carry;
use asset_gate_core::internal_redirect::consent::{self, AnswerEdit, AnswerRules};
use asset_gate_core::internal_redirect::marker::MarkerError;
use asset_gate_core::log_limit::LogLimit;
use asset_gate_core::metrics::STORAGE_ERRORS;
use asset_gate_core::primitives::header_map::Header;
use asset_gate_core::roles::storage::{self, Plan};
use asset_gate_core::signing::prepare::{self, Body, Rewrite};
use asset_gate_core::sigv4;
use asset_gate_core::storage_error::{self, MAX_ERROR_BODY};
use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::{Action, BufferType, MapType, Status};
use std::cell::RefCell;
use std::rc::Rc;

pub struct Storage {
    shared: Rc<Shared>,
    /// Envoy's id of this context, by which the root context's tick
    /// answers a request whose body never comes.
    context_id: u32,
    /// This context answered the request itself: its response callbacks
    /// leave that answer alone.
    replied: bool,
    /// Storage's answer whose body is being replaced (an error made plain).
    rewriting: Option<BodyRewrite>,
    /// The backend's headers to keep (`carry` encoding), from the marker.
    kept: Vec<u8>,
    /// The request is held until its body is buffered and hashed.
    hashing: bool,
    /// The held request is in the watch for bodies Envoy withholds.
    watched: bool,
    /// The body's hash so far, and how many buffered bytes it has seen: each
    /// body callback reads only the new bytes.
    hasher: sigv4::PayloadHasher,
    hashed: usize,
    /// Where the signed request went, for a storage error's log line (kept
    /// only where errors are made plain).
    target: String,
}

impl Storage {
    pub fn new(shared: Rc<Shared>, context_id: u32) -> Storage {
        Storage {
            shared,
            context_id,
            replied: false,
            rewriting: None,
            kept: Vec::new(),
            hashing: false,
            watched: false,
            hasher: sigv4::PayloadHasher::default(),
            hashed: 0,
            target: String::new(),
        }
    }

    /// Flow A: only what the auth backend consented to reaches storage. The
    /// marker must be valid for this path and grant this method (a read:
    /// GET or HEAD, no body); the request then carries only the allowlisted
    /// client headers. Without `require_marker` (a signing edge), the
    /// client's request is signed as it is.
    fn on_request(&mut self, headers: &[Header], end_of_stream: bool) -> Action {
        let shared = Rc::clone(&self.shared);
        let Some(cfg) = shared.config.signing.as_ref() else {
            return Action::Continue;
        };
        if !cfg.require_marker {
            return match storage::unmarked_request(cfg, headers, end_of_stream) {
                Plan::Sign(body) => self.sign(headers, body, Apply::Edits, clock::now_secs()),
                Plan::Refuse(r) => http::refuse(&shared.metrics, r),
                Plan::Buffer => {
                    // Hold the headers; Envoy buffers the body for on_http_request_body.
                    self.hashing = true;
                    Action::Pause
                }
            };
        }
        let name = shared.config.redirect.marker_header.as_str();
        let now = clock::now_secs();
        let audience = shared.config.redirect.marker_audience.as_str();
        let verified = http::verify_marker(headers, name, audience, now);
        if let Err(e) = &verified {
            // A marker of another VM is a deployment mistake, not a client's:
            // named at warning level (rate-limited; a client can repeat it).
            let other_vm = *e == MarkerError::OtherKey
                && LOG_LIMIT
                    .with(|l| l.borrow_mut().admit("marker_other_key", clock::now_ms()))
                    .is_some();
            let (level, why): (_, &dyn std::fmt::Display) = match other_vm {
                true => (log::Level::Warn, &Answer::MarkerOtherKey.text()),
                false => (log::Level::Debug, e),
            };
            logs::detail(level, "asset-gate: storage request refused: ", why);
        }
        let method = header(headers, ":method").unwrap_or_default();
        let consent = match storage::read_consent(verified, method, end_of_stream) {
            Ok(c) => c,
            Err(a) => return http::refuse(&shared.metrics, a),
        };
        self.kept = consent.carried;
        let consented = consent::consented_headers(headers, &cfg.forwarded_request_headers);
        self.sign(&consented, Body::None, Apply::WholeMap, now)
    }

    fn body_too_large(&mut self, max: usize) -> Action {
        self.hashing = false;
        http::refuse(&self.shared.metrics, storage::body_too_large(max))
    }

    /// Puts this held request in the watch for a body Envoy withholds,
    /// unless this placement already handed a body over (then Envoy's
    /// setting is on) or Envoy does not say how much it received.
    fn watch_body(&mut self) {
        if self.shared.delivers_bodies.get() {
            return;
        }
        let Some(received) = received() else { return };
        let mut held = self.shared.held.borrow_mut();
        if held.is_empty() {
            // The root context answers from its tick (it may have none yet).
            let _ = hostcalls::set_tick_period(clock::TICK);
        }
        held.push(Held {
            context_id: self.context_id,
            since_ms: clock::now_ms(),
            received,
        });
        self.watched = true;
    }

    /// A body callback came: Envoy hands this placement its bodies, so it
    /// is watched no more. (A held request that ends otherwise leaves the
    /// watch at the next tick: its context is gone.)
    fn body_delivered(&mut self) {
        if !std::mem::take(&mut self.watched) {
            return;
        }
        self.shared.delivers_bodies.set(true);
        let id = self.context_id;
        self.shared.held.borrow_mut().retain(|e| e.context_id != id);
    }

    /// Feeds the bytes buffered since the last callback to the hasher.
    fn hash_new_bytes(&mut self, buffered: usize) -> Result<(), Status> {
        if buffered > self.hashed {
            let new = hostcalls::get_buffer(
                BufferType::HttpRequestBody,
                self.hashed,
                buffered - self.hashed,
            )?;
            self.hasher.update(new.as_deref().unwrap_or_default());
            self.hashed = buffered;
        }
        Ok(())
    }

    /// The whole body is buffered and hashed: sign with its SHA-256.
    fn sign_buffered(&mut self) -> Action {
        self.hashing = false;
        let raw = RawMap::read(MapType::HttpRequestHeaders);
        let Some(headers) = raw.as_ref().and_then(RawMap::pairs) else {
            return http::refuse(&self.shared.metrics, Answer::CannotReadRequest);
        };
        self.shared.metrics.inc(Counter::BodiesHashed);
        let hash = std::mem::take(&mut self.hasher).finish_hex();
        self.sign(
            &headers,
            Body::Hashed(&hash),
            Apply::Edits,
            clock::now_secs(),
        )
    }

    fn sign(&mut self, headers: &[Header], body: Body, how: Apply, now: u64) -> Action {
        let shared = Rc::clone(&self.shared);
        let Some(cfg) = shared.config.signing.as_ref() else {
            return Action::Continue;
        };
        let rewrite = match signed_rewrite(&shared, cfg, headers, body, now) {
            Ok(rw) => rw,
            Err(r) => return http::refuse(&shared.metrics, r),
        };
        if cfg.plain_errors {
            self.target = storage::error_target(&rewrite.authority, &rewrite.path);
        }
        let applied = match how {
            Apply::Edits => apply(&rewrite),
            Apply::WholeMap => {
                let map = rewrite.applied_to(headers);
                hostcalls::set_map_bytes(MapType::HttpRequestHeaders, map)
            }
        };
        if let Err(s) = applied {
            logs::failed(log::Level::Warn, "rewrite request headers", s);
            return http::refuse(&shared.metrics, Answer::CannotRewriteRequest);
        }
        Action::Continue
    }

    /// Storage's answer: identifying headers hidden, an error's body (S3 XML
    /// naming bucket and key) replaced by a short plain text, as configured,
    /// and the backend's kept headers applied; one read, one host call per edit.
    fn on_response(&mut self, end_of_stream: bool) -> Action {
        let Some(cfg) = self.shared.config.signing.as_ref() else {
            return Action::Continue;
        };
        // A request still held for its body was answered by asset-gate
        // (or Envoy), never by storage.
        if !self.replied && !self.hashing {
            self.rewriting = client_answer(
                &self.shared,
                cfg,
                &self.kept,
                end_of_stream,
                false,
                &self.target,
            );
        }
        Action::Continue
    }
}

thread_local! {
    /// The VM's rate limit of warnings that could repeat on every request.
    static LOG_LIMIT: RefCell<LogLimit> = const { RefCell::new(LogLimit::new()) };
}

/// What Envoy has received of the request so far (headers and body bytes),
/// the host's `request.total_size`; its body bytes count there before any
/// filter sees them.
fn received() -> Option<u64> {
    let bytes = hostcalls::get_property(vec!["request", "total_size"]).ok()??;
    let raw: [u8; 8] = bytes.get(..8)?.try_into().ok()?;
    u64::try_from(i64::from_le_bytes(raw)).ok()
}

/// The root context's tick: answers the held requests of `shared`'s
/// placement whose body Envoy withholds (`storage::body_withheld`) with a
/// 500 naming the setting, and logs it; forgets those whose context is
/// gone. Whether any of its requests are still watched. Switches the
/// effective context: call it last.
pub fn answer_withheld_bodies(shared: &Shared) -> bool {
    let now = clock::now_ms();
    let mut held = shared.held.borrow_mut();
    held.retain(|e| {
        let waited = now.saturating_sub(e.since_ms);
        waited < storage::BODY_WAIT_MS
            || (hostcalls::set_effective_context(e.context_id).is_ok()
                && !answer_if_withheld(shared, waited, e.received, now))
    });
    !held.is_empty()
}

/// Answers the effective context's held request if Envoy has received body
/// bytes it never handed over; whether it did.
fn answer_if_withheld(shared: &Shared, waited: u64, at_headers: u64, now: u64) -> bool {
    if !received().is_some_and(|r| storage::body_withheld(waited, at_headers, r)) {
        return false;
    }
    if LOG_LIMIT
        .with(|l| l.borrow_mut().admit("body_withheld", now))
        .is_some()
    {
        log::error!(
            "asset-gate: request bodies never reach this filter to be signed: set allow_on_headers_stop_iteration: true in its PluginConfig; answered 500"
        );
    }
    http::refuse(&shared.metrics, Answer::BodyWithheld);
    true
}

/// Signs `headers` for storage with the VM's credentials and signing-key
/// cache (flows A, C and D), counting the outcome. `Err` is the local answer
/// to give instead (`http::refuse` counts it): no credentials under `deny`
/// (503), or a request that cannot or may not be signed.
pub fn signed_rewrite<'a>(
    shared: &Shared,
    cfg: &'a SigningConfig,
    headers: &'a [Header<'a>],
    body: Body<'a>,
    now: u64,
) -> Result<Rewrite<'a>, Refusal> {
    let store = shared.credentials.borrow();
    let result = prepare::prepare(
        cfg,
        store.usable(now),
        headers,
        body,
        now,
        &mut shared.key_cache.borrow_mut(),
    );
    drop(store);
    match storage::signing_outcome(result, cfg.on_missing_credentials) {
        Ok((rw, signed)) => {
            for &c in storage::signing_counters(signed) {
                shared.metrics.inc(c);
            }
            Ok(rw)
        }
        Err(r) => {
            // The client gets the whole message; the log has its variable part.
            log::debug!("asset-gate: request refused: {}", r.message());
            Err(r)
        }
    }
}

/// Storage's answer whose body the body callbacks replace: an error made
/// plain (the start of S3's XML kept to name its code) or a `2xx` XML
/// answer to scrub.
pub struct BodyRewrite {
    status: u32,
    xml: Vec<u8>,
}

/// Storage's answer as the client sees it (flows A and D): identifying
/// headers hidden, an error's body headers dropped, the backend's `kept`
/// headers (`carry` encoding) applied, an error never cacheable; one read
/// of the map, then one host call per edit. Returns what
/// `replace_error_body` must replace: an error's body (or a `2xx` XML
/// answer to a `post`, to scrub). An error made plain is reported
/// (`report_error`) once its code is known; `target` names where the
/// request went.
pub fn client_answer(
    shared: &Shared,
    cfg: &SigningConfig,
    kept: &[u8],
    end_of_stream: bool,
    post: bool,
    target: &str,
) -> Option<BodyRewrite> {
    // Every answer of flows A and D is consented; flow C's pass untouched.
    let consented = cfg.require_marker || shared.config.role == Role::Gateway;
    if !storage::touches_answer(cfg, kept, consented) {
        return None;
    }
    let map = MapType::HttpResponseHeaders;
    let raw = RawMap::read(map)?;
    let response = raw.pairs()?;
    let status: u32 = header(&response, ":status")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let content_type = header(&response, "content-type");
    let plan = storage::storage_answer(cfg, consented, status, end_of_stream, content_type, post);
    if plan.plain_error {
        shared.metrics.inc(Counter::StorageErrorsRewritten);
        if end_of_stream {
            // No body (a HEAD): the code is unknown.
            report_error(shared, status, None, target);
        }
    }
    let kept = carry::parse(kept);
    let rules = AnswerRules {
        hide: &cfg.hide_response_headers,
        plain_error: plan.plain_error,
        error_has_body: !end_of_stream,
        kept: &kept,
        consented,
        expose: &cfg.expose_amz_headers,
        scrub: plan.scrub,
        no_store: plan.no_store,
    };
    for edit in consent::client_answer(&response, &rules).unwrap_or_default() {
        let done = match edit {
            AnswerEdit::Remove(name) => hostcalls::remove_map_value(map, name),
            AnswerEdit::Set(name, value) => hostcalls::set_map_value_bytes(map, name, Some(value)),
            AnswerEdit::Add(name, value) => hostcalls::add_map_value_bytes(map, name, value),
        };
        if let Err(s) = done {
            logs::failed(log::Level::Warn, "rewrite storage's response headers", s);
        }
    }
    plan.replace_body.map(|status| BodyRewrite {
        status,
        xml: Vec::new(),
    })
}

/// Replaces storage's body as `client_answer` decided: an error's chunk by
/// chunk (empty until the end, then the short plain text of its status),
/// its first `MAX_ERROR_BODY` bytes kept to report its code; a `2xx` XML
/// answer buffered whole, then scrubbed (a few hundred bytes).
pub fn replace_error_body(
    shared: &Shared,
    rewrite: &mut BodyRewrite,
    target: &str,
    body_size: usize,
    end_of_stream: bool,
) -> Action {
    let body = BufferType::HttpResponseBody;
    let status = rewrite.status;
    if status < 400 {
        if !end_of_stream {
            return Action::Pause;
        }
        let xml = hostcalls::get_buffer(body, 0, body_size).unwrap_or_default();
        let clean = consent::scrub_xml(xml.as_deref().unwrap_or_default());
        if let Err(s) = hostcalls::set_buffer(body, 0, body_size, &clean) {
            logs::failed(log::Level::Warn, "rewrite storage's body", s);
        }
        return Action::Continue;
    }
    let room = MAX_ERROR_BODY.saturating_sub(rewrite.xml.len());
    if room > 0 && body_size > 0 {
        if let Ok(Some(chunk)) = hostcalls::get_buffer(body, 0, body_size.min(room)) {
            rewrite.xml.extend_from_slice(&chunk);
        }
    }
    let text = if end_of_stream {
        report_error(shared, status, Some(&rewrite.xml), target);
        consent::plain_error(status)
    } else {
        String::new()
    };
    if let Err(s) = hostcalls::set_buffer(body, 0, body_size, text.as_bytes()) {
        logs::failed(log::Level::Warn, "replace storage's error body", s);
    }
    Action::Continue
}

/// Names a storage error the client only sees as plain text: counted by
/// S3 code (`storage_error.<Code>`), in the access log's filter state
/// (`storage_error:<Code>`), and logged where it went, with S3's message
/// and the usual cause: a warning at most once per code per 10 s, or at
/// debug level for routine traffic (a missing key, `412`, `416`).
fn report_error(shared: &Shared, status: u32, xml: Option<&[u8]>, target: &str) {
    let body = xml.map(storage_error::parse);
    let member = storage_error::member(status, body.as_ref());
    shared.metrics.inc_member(STORAGE_ERRORS.name, &member);
    http::set_answer_property([STORAGE_ERRORS.name, ":", &member].concat().as_bytes());
    let routine = storage_error::routine(status, body.as_ref().and_then(|b| b.code));
    let (level, held) = if routine {
        (log::Level::Debug, Some(0))
    } else {
        let now = clock::now_ms();
        let held = LOG_LIMIT.with(|l| l.borrow_mut().admit(&member, now));
        (log::Level::Warn, held)
    };
    if let Some(held) = held {
        let line = storage_error::describe(status, body.as_ref(), target, held);
        logs::detail(level, "asset-gate: ", &line);
    }
}

/// How a signed rewrite reaches Envoy.
enum Apply {
    /// Only the changed headers (flow C keeps the client's other headers).
    Edits,
    /// The whole map in one host call (flow A sends only what it built).
    WholeMap,
}

/// Applies a rewrite, skipping host calls that would change nothing.
fn apply(rewrite: &Rewrite) -> Result<(), Status> {
    let map = MapType::HttpRequestHeaders;
    for name in &rewrite.remove {
        hostcalls::remove_map_value(map, name)?;
    }
    if rewrite.path_changed {
        hostcalls::set_map_value(map, ":path", Some(&rewrite.path))?;
    }
    if rewrite.authority_changed {
        hostcalls::set_map_value(map, ":authority", Some(&rewrite.authority))?;
    }
    if let Some(set) = &rewrite.set {
        for (name, value) in set.iter() {
            hostcalls::set_map_value(map, name, Some(value))?;
        }
    }
    Ok(())
}

impl Context for Storage {}

impl HttpContext for Storage {
    fn on_http_request_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        // One read of the header map serves the guard and the signer.
        let raw = RawMap::read(MapType::HttpRequestHeaders);
        let action = match raw.as_ref().and_then(RawMap::pairs) {
            None => http::refuse(&self.shared.metrics, Answer::CannotReadRequest),
            Some(headers) => self.on_request(&headers, end_of_stream),
        };
        if self.hashing {
            // Augment now; sign once the body is in.
            let augmented = http::then_augment(&self.shared, Action::Continue);
            if augmented == Action::Continue {
                self.watch_body();
                return Action::Pause;
            }
            self.hashing = false;
            self.replied = true;
            return augmented;
        }
        self.replied = action != Action::Continue;
        http::then_augment(&self.shared, action)
    }

    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        if !self.hashing {
            return Action::Continue;
        }
        self.body_delivered();
        let max = self
            .shared
            .config
            .signing
            .as_ref()
            .map_or(0, |s| s.max_body_bytes);
        let action = if body_size > max {
            self.body_too_large(max)
        } else if let Err(s) = self.hash_new_bytes(body_size) {
            logs::failed(log::Level::Warn, "read the request body", s);
            self.hashing = false;
            http::refuse(&self.shared.metrics, Answer::CannotReadBody)
        } else if !end_of_stream {
            return Action::Pause; // keep buffering
        } else {
            self.sign_buffered()
        };
        self.replied = action != Action::Continue;
        action
    }

    fn on_http_request_trailers(&mut self, _num_trailers: usize) -> Action {
        if !self.hashing {
            return Action::Continue;
        }
        self.body_delivered();
        // The body ended before the trailers: it is all buffered.
        let action = self.sign_buffered();
        self.replied = action != Action::Continue;
        action
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        self.on_response(end_of_stream)
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
