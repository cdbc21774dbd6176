//! The storage role's HTTP context (upstream filter on the storage cluster,
//! or downstream filter of a signing edge proxy): only requests the auth
//! backend consented to get signed, and only as the read it consented to;
//! the bucket is mapped, the host rewritten, the request signed with SigV4;
//! storage's answer keeps its internals to itself and gains the backend's
//! kept headers (flow A, as nginx does).

use crate::clock;
use crate::http::{self, header, RawMap};
use crate::metrics::Counter;
use crate::shared::Shared;
use asset_gate_core::answers::{Answer, Refusal};
use asset_gate_core::config::{Role, SigningConfig};
use asset_gate_core::internal_redirect::carry;
use asset_gate_core::internal_redirect::consent::{self, AnswerEdit, AnswerRules};
use asset_gate_core::primitives::header_map::Header;
use asset_gate_core::roles::storage::{self, Plan};
use asset_gate_core::signing::prepare::{self, Body, Rewrite};
use asset_gate_core::sigv4;
use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::{Action, BufferType, MapType, Status};
use std::rc::Rc;

pub struct Storage {
    shared: Rc<Shared>,
    /// This context answered the request itself: its response callbacks
    /// leave that answer alone.
    replied: bool,
    /// A storage error whose body is being replaced by `plain_error`.
    rewriting_error: Option<u32>,
    /// The backend's headers to keep (`carry` encoding), from the marker.
    kept: Vec<u8>,
    /// The request is held until its body is buffered and hashed.
    hashing: bool,
    /// The body's hash so far, and how many buffered bytes it has seen: each
    /// body callback reads only the new bytes.
    hasher: sigv4::PayloadHasher,
    hashed: usize,
}

impl Storage {
    pub fn new(shared: Rc<Shared>) -> Storage {
        Storage {
            shared,
            replied: false,
            rewriting_error: None,
            kept: Vec::new(),
            hashing: false,
            hasher: sigv4::PayloadHasher::default(),
            hashed: 0,
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
            log::debug!("asset-gate: storage request refused: {e}");
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

    fn sign(&self, headers: &[Header], body: Body, how: Apply, now: u64) -> Action {
        let shared = &self.shared;
        let Some(cfg) = shared.config.signing.as_ref() else {
            return Action::Continue;
        };
        let rewrite = match signed_rewrite(shared, cfg, headers, body, now) {
            Ok(rw) => rw,
            Err(r) => return http::refuse(&shared.metrics, r),
        };
        let applied = match how {
            Apply::Edits => apply(&rewrite),
            Apply::WholeMap => {
                let map = rewrite.applied_to(headers);
                hostcalls::set_map_bytes(MapType::HttpRequestHeaders, map)
            }
        };
        if let Err(s) = applied {
            log::warn!("asset-gate: cannot rewrite request headers: {s:?}");
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
        if !self.replied {
            self.rewriting_error =
                client_answer(&self.shared, cfg, &self.kept, end_of_stream, false);
        }
        Action::Continue
    }
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

/// Storage's answer as the client sees it (flows A and D): identifying
/// headers hidden, an error's body headers dropped, the backend's `kept`
/// headers (`carry` encoding) applied; one read of the map, then one host
/// call per edit. Returns the status of an error whose body `replace_error_body` must
/// replace (or of a `2xx` XML answer to a `post`, to scrub).
pub fn client_answer(
    shared: &Shared,
    cfg: &SigningConfig,
    kept: &[u8],
    end_of_stream: bool,
    post: bool,
) -> Option<u32> {
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
    };
    for edit in consent::client_answer(&response, &rules).unwrap_or_default() {
        let done = match edit {
            AnswerEdit::Remove(name) => hostcalls::remove_map_value(map, name),
            AnswerEdit::Set(name, value) => hostcalls::set_map_value_bytes(map, name, Some(value)),
            AnswerEdit::Add(name, value) => hostcalls::add_map_value_bytes(map, name, value),
        };
        if let Err(s) = done {
            log::warn!("asset-gate: cannot rewrite storage's response headers: {s:?}");
        }
    }
    plan.replace_body
}

/// Replaces storage's body as `client_answer` decided: an error's chunk by
/// chunk (empty until the end, then the short plain text of `status`); a
/// `2xx` XML answer buffered whole, then scrubbed (a few hundred bytes).
pub fn replace_error_body(status: u32, body_size: usize, end_of_stream: bool) -> Action {
    let body = BufferType::HttpResponseBody;
    if status < 400 {
        if !end_of_stream {
            return Action::Pause;
        }
        let xml = hostcalls::get_buffer(body, 0, body_size).unwrap_or_default();
        let clean = consent::scrub_xml(xml.as_deref().unwrap_or_default());
        if let Err(s) = hostcalls::set_buffer(body, 0, body_size, &clean) {
            log::warn!("asset-gate: cannot rewrite storage's body: {s:?}");
        }
        return Action::Continue;
    }
    let text = if end_of_stream {
        consent::plain_error(status)
    } else {
        String::new()
    };
    if let Err(s) = hostcalls::set_buffer(body, 0, body_size, text.as_bytes()) {
        log::warn!("asset-gate: cannot replace storage's error body: {s:?}");
    }
    Action::Continue
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
        let max = self
            .shared
            .config
            .signing
            .as_ref()
            .map_or(0, |s| s.max_body_bytes);
        let action = if body_size > max {
            self.body_too_large(max)
        } else if let Err(s) = self.hash_new_bytes(body_size) {
            log::warn!("asset-gate: cannot read the request body: {s:?}");
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
        // The body ended before the trailers: it is all buffered.
        let action = self.sign_buffered();
        self.replied = action != Action::Continue;
        action
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        self.on_response(end_of_stream)
    }

    fn on_http_response_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        match self.rewriting_error {
            Some(status) => replace_error_body(status, body_size, end_of_stream),
            None => Action::Continue,
        }
    }
}
