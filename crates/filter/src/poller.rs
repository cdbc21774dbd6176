//! Root-context glue for out-of-band polling (header provider, credentials
//! sources). Every VM ticks; the shared [`PollRecord`] and its lease decide
//! which single one refreshes, so an Envoy process polls once per interval
//! whatever its `--concurrency`. A credentials refresh may take several calls
//! (IMDS, STS): the core's [`Fetcher`] says which, the lease covers them all.
//! Results go to shared data, where every VM's HTTP contexts read them.

use crate::clock::now_ms;
use crate::logs;
use crate::metrics::{Counter, Metrics};
use asset_gate_core::augment::poll::{Backoff, PollRecord};
use asset_gate_core::augment::provider;
use asset_gate_core::config::EndpointConfig;
use asset_gate_core::credentials;
use asset_gate_core::credentials::refresh::{self, Fetcher};
use asset_gate_core::credentials::step::{self, Answer, Source, Step};
use asset_gate_core::sigv4::sha256_hex16;
use proxy_wasm::hostcalls;
use proxy_wasm::types::{BufferType, MapType, Status};
use std::time::Duration;

/// What a poller fetches, and how its answer is judged.
pub enum Kind {
    Headers {
        expiry_ms: u64,
        max_body: usize,
        reserved: Vec<String>,
        /// Sensitive names the provider may set (`header_allow_sensitive`).
        allowed: Vec<String>,
    },
    Credentials {
        max_interval_ms: u64,
        /// The refresh machine; it keeps per-VM state such as the IMDS token.
        fetcher: Box<Fetcher>,
        /// The source of the last credentials this VM fetched (for the log).
        last_source: Option<&'static str>,
    },
}

pub struct Poller {
    pub kind: Kind,
    pub endpoint: EndpointConfig,
    backoff: Backoff,
    record_key: String,
    /// Shared-data key of the last good answer.
    pub data_key: String,
    me: u64,
    in_flight: Option<u32>,
    lease_ms: u64,
}

/// Identifies a poll target *and* how its answers are judged: filter
/// configurations that poll the same cluster with the same settings share one
/// poller per process; any difference (authority, token, limits, interval)
/// gives a separate poll and cache, so one configuration's looser limits can
/// never let an answer into another's cache.
fn target_id(kind: &Kind, endpoint: &EndpointConfig, backoff_cap_ms: u64) -> String {
    let kind = match kind {
        Kind::Headers {
            expiry_ms,
            max_body,
            reserved,
            allowed,
        } => format!(
            "{expiry_ms}|{max_body}|{}|{}",
            reserved.join(","),
            allowed.join(",")
        ),
        Kind::Credentials { .. } => String::new(),
    };
    let settings = format!(
        "{kind}|{}|{}|{}|{}|{}|{}|{backoff_cap_ms}",
        endpoint.cluster,
        endpoint.authority,
        endpoint.path,
        // Written plainly: `{:?}` of a string pulls Unicode escaping tables
        // into the module.
        endpoint.authorization.as_deref().unwrap_or(""),
        endpoint.timeout_ms,
        endpoint.refresh_interval_ms,
    );
    format!("{}.{}", endpoint.cluster, sha256_hex16(settings.as_bytes()))
}

/// Dispatches one call; `None` (logged) when the host refuses it.
fn send(
    cluster: &str,
    headers: Vec<(&str, &str)>,
    body: Option<&[u8]>,
    timeout_ms: u64,
) -> Option<u32> {
    match hostcalls::dispatch_http_call(
        cluster,
        headers,
        body,
        vec![],
        Duration::from_millis(timeout_ms),
    ) {
        Ok(token) => Some(token),
        Err(s) => {
            logs::failed(log::Level::Warn, &["call cluster ", cluster].concat(), s);
            None
        }
    }
}

/// A random number from the host (WASI random_get), 0 if unavailable.
fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    if getrandom::fill(&mut b).is_err() {
        return 0;
    }
    u64::from_le_bytes(b)
}

impl Poller {
    /// The header provider's poller.
    pub fn new(kind: Kind, endpoint: EndpointConfig, backoff_cap_ms: u64) -> Poller {
        let id = target_id(&kind, &endpoint, backoff_cap_ms);
        let lease_ms = endpoint.timeout_ms + 1000;
        Poller::with(
            kind,
            endpoint,
            &format!("headers.{id}"),
            backoff_cap_ms,
            lease_ms,
        )
    }

    /// A credentials source's poller; `id` digests its settings
    /// (`SigningConfig::credentials_id`), so equal ones share one refresh.
    pub fn credentials(fetcher: Fetcher, id: &str, max_interval_ms: u64) -> Poller {
        let (calls, timeout_ms) = fetcher.budget();
        let lease_ms = u64::from(calls.max(1)) * timeout_ms + 1000;
        let kind = Kind::Credentials {
            max_interval_ms,
            fetcher: Box::new(fetcher),
            last_source: None,
        };
        let endpoint = EndpointConfig {
            cluster: String::new(),
            authority: String::new(),
            path: String::new(),
            authorization: None,
            token_endpoint: None,
            timeout_ms,
            refresh_interval_ms: max_interval_ms,
        };
        Poller::with(
            kind,
            endpoint,
            &format!("credentials.{id}"),
            60_000,
            lease_ms,
        )
    }

    fn with(
        kind: Kind,
        endpoint: EndpointConfig,
        id: &str,
        backoff_cap_ms: u64,
        lease_ms: u64,
    ) -> Poller {
        Poller {
            record_key: format!("asset_gate.poll.{id}"),
            data_key: format!("asset_gate.data.{id}"),
            backoff: Backoff {
                base_ms: 1000,
                cap_ms: backoff_cap_ms.max(1000),
            },
            kind,
            endpoint,
            me: random_u64() | 1,
            in_flight: None,
            lease_ms,
        }
    }

    fn read_record(&self) -> (PollRecord, Option<u32>) {
        match hostcalls::get_shared_data(&self.record_key) {
            Ok((Some(bytes), cas)) => (PollRecord::decode(&bytes).unwrap_or_default(), cas),
            _ => (PollRecord::default(), None),
        }
    }

    /// Applies `change` to the shared record with compare-and-swap; `None`
    /// when another VM changed it first (or `change` declined).
    fn update(&self, change: impl Fn(&PollRecord) -> Option<PollRecord>) -> Option<PollRecord> {
        for _ in 0..4 {
            let (current, cas) = self.read_record();
            let next = change(&current)?;
            // cas 0/None on a missing key: the host treats it as "no check";
            // the lease then lapses by time if two VMs raced on the very first poll.
            match hostcalls::set_shared_data(&self.record_key, Some(&next.encode()), cas) {
                Ok(()) => return Some(next),
                Err(Status::CasMismatch) => continue,
                Err(s) => {
                    logs::failed(log::Level::Warn, "update the poll record", s);
                    return None;
                }
            }
        }
        None
    }

    /// Called on every tick of every VM: refreshes when this VM wins the lease.
    pub fn tick(&mut self, metrics: &Metrics) {
        if self.in_flight.is_some() {
            return;
        }
        let now = now_ms();
        let me = self.me;
        let lease_ms = self.lease_ms;
        let taken = self.update(|r| r.should_take(now).then(|| r.taken(me, now, lease_ms)));
        if taken.is_none() {
            return;
        }
        if let Kind::Credentials { fetcher, .. } = &mut self.kind {
            let step = fetcher.start(now / 1000);
            self.step(step, metrics);
            return;
        }
        let e = &self.endpoint;
        let mut headers = vec![
            (":method", "GET"),
            (":path", e.path.as_str()),
            (":authority", e.authority.as_str()),
            ("accept", "application/json"),
        ];
        if let Some(token) = &e.authorization {
            headers.push(("authorization", token.as_str()));
        }
        let sent = send(&e.cluster, headers, None, e.timeout_ms);
        self.sent(sent, metrics);
    }

    fn sent(&mut self, token: Option<u32>, metrics: &Metrics) {
        match token {
            Some(t) => self.in_flight = Some(t),
            None => self.finish(Err("dispatch"), metrics),
        }
    }

    /// Carries out what the credentials machine asks for next.
    fn step(&mut self, step: Step, metrics: &Metrics) {
        match step {
            Step::Call(call) => {
                let mut headers = vec![
                    (":method", call.method),
                    (":path", call.path.as_str()),
                    (":authority", call.authority.as_str()),
                ];
                headers.extend(call.headers.iter().map(|(k, v)| (*k, v.as_str())));
                let body = (!call.body.is_empty()).then_some(call.body.as_slice());
                let sent = send(&call.cluster, headers, body, call.timeout_ms);
                self.sent(sent, metrics);
            }
            Step::Failed(f) => {
                let what = "asset-gate: credentials refresh failed, keeping the current credentials until they expire: ";
                logs::detail(log::Level::Warn, what, &f);
                self.finish(Err(f.reason.name()), metrics);
            }
            Step::Done(fetched) => {
                let now = now_ms();
                let Kind::Credentials {
                    max_interval_ms,
                    last_source,
                    ..
                } = &mut self.kind
                else {
                    return;
                };
                if *last_source != Some(fetched.source) {
                    let what = "asset-gate: credentials from source ";
                    logs::detail(log::Level::Info, what, &fetched.source);
                    *last_source = Some(fetched.source);
                }
                let next = refresh::refresh_in_ms(
                    now / 1000,
                    fetched.refresh_before(),
                    random_u64() % 1001,
                    *max_interval_ms,
                );
                self.store(&credentials::encode_stored(&fetched), next, metrics);
            }
        }
    }

    fn store(&mut self, data: &[u8], next_in_ms: u64, metrics: &Metrics) {
        if let Err(s) = hostcalls::set_shared_data(&self.data_key, Some(data), None) {
            logs::failed(log::Level::Warn, "store the poll result", s);
            self.finish(Err("store"), metrics);
            return;
        }
        self.finish(Ok(next_in_ms), metrics);
    }

    /// Whether `token` is this poller's call.
    pub fn owns(&self, token: u32) -> bool {
        self.in_flight == Some(token)
    }

    /// Handles the response of this poller's call.
    pub fn on_response(&mut self, body_size: usize, metrics: &Metrics) {
        self.in_flight = None;
        let status = hostcalls::get_map_value_bytes(MapType::HttpCallResponseHeaders, ":status")
            .ok()
            .flatten()
            .and_then(|s| {
                std::str::from_utf8(&s)
                    .ok()
                    .and_then(|s| s.parse::<u32>().ok())
            });
        let limit = match &self.kind {
            Kind::Headers { max_body, .. } => *max_body,
            Kind::Credentials { .. } => step::MAX_ANSWER_BYTES,
        };
        // Never copy more than one byte past the limit into the VM: enough
        // for the parser to see the answer is too large.
        let body = hostcalls::get_buffer(
            BufferType::HttpCallResponseBody,
            0,
            body_size.min(limit + 1),
        )
        .ok()
        .flatten()
        .unwrap_or_default();
        let now = now_ms();
        let (expiry_ms, max_body, reserved, allowed) = match &mut self.kind {
            Kind::Credentials { fetcher, .. } => {
                let step = fetcher.on_answer(Answer::from_envoy(status, &body), now / 1000);
                self.step(step, metrics);
                return;
            }
            Kind::Headers {
                expiry_ms,
                max_body,
                reserved,
                allowed,
            } => (*expiry_ms, *max_body, reserved, allowed),
        };
        let reserved: Vec<&str> = reserved.iter().map(String::as_str).collect();
        let allowed: Vec<&str> = allowed.iter().map(String::as_str).collect();
        match provider::parse_answer(status, &body, max_body, &reserved, &allowed) {
            Ok(h) => {
                log::debug!("asset-gate: header provider answered {} headers", h.len());
                self.store(&provider::encode_cache(now, &h), expiry_ms, metrics);
            }
            Err(e) => {
                log::warn!(
                    "asset-gate: header provider {} refused, keeping the last good headers: {e}",
                    self.endpoint.cluster
                );
                self.finish(Err(e.reason()), metrics);
            }
        }
    }

    fn finish(&mut self, result: Result<u64, &'static str>, metrics: &Metrics) {
        let now = now_ms();
        let is_headers = matches!(self.kind, Kind::Headers { .. });
        match result {
            Ok(next_in_ms) => {
                metrics.inc(if is_headers {
                    Counter::HeaderPollsOk
                } else {
                    Counter::CredentialRefreshes
                });
                // A reply that outlived its lease leaves the new holder's record alone.
                let me = self.me;
                self.update(|r| (r.owner == me).then(|| r.succeeded(now, next_in_ms)));
            }
            Err(reason) => {
                if is_headers {
                    metrics.inc(Counter::header_poll_failure(reason));
                } else {
                    metrics.inc(Counter::CredentialRefreshFailures);
                    metrics.inc(Counter::credential_refresh_failure(reason));
                }
                let backoff = self.backoff;
                let jitter = random_u64() % 1001;
                let me = self.me;
                self.update(|r| (r.owner == me).then(|| r.failed(now, &backoff, jitter)));
            }
        }
    }

    /// Seconds since the last successful poll, for the cache-age gauge.
    pub fn age_secs(&self, now: u64) -> Option<u64> {
        let (r, _) = self.read_record();
        (r.last_success_ms > 0).then(|| now.saturating_sub(r.last_success_ms) / 1000)
    }
}
