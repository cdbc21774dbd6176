//! Root-context glue for out-of-band polling (header provider, credentials
//! endpoint). Every VM ticks; the shared [`PollRecord`] and its lease decide
//! which single one dispatches the call, so an Envoy process polls once per
//! interval whatever its `--concurrency`. Results go to shared data, where
//! every VM's HTTP contexts read them.

use crate::core::config::EndpointConfig;
use crate::core::credentials;
use crate::core::headers;
use crate::core::poll::{Backoff, PollRecord};
use crate::core::sigv4::sha256_hex;
use crate::host::clock::now_ms;
use crate::host::metrics::{Counter, Metrics};
use proxy_wasm::hostcalls;
use proxy_wasm::types::{BufferType, MapType, Status};
use std::time::Duration;

/// What a poller fetches, and how its answer is judged.
#[derive(Clone, Debug)]
pub enum Kind {
    Headers {
        expiry_ms: u64,
        max_body: usize,
        reserved: Vec<String>,
    },
    Credentials {
        max_interval_ms: u64,
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
}

/// Identifies a poll target *and* how its answers are judged: filter
/// configurations that poll the same cluster with the same settings share one
/// poller per process; any difference (authority, token, limits, interval)
/// gives a separate poll and cache, so one configuration's looser limits can
/// never let an answer into another's cache.
fn target_id(kind: &Kind, endpoint: &EndpointConfig, backoff_cap_ms: u64) -> String {
    let settings = format!(
        "{kind:?}|{}|{}|{}|{:?}|{}|{}|{backoff_cap_ms}",
        endpoint.cluster,
        endpoint.authority,
        endpoint.path,
        endpoint.authorization,
        endpoint.timeout_ms,
        endpoint.refresh_interval_ms,
    );
    let digest = sha256_hex(settings.as_bytes());
    format!("{}.{}", endpoint.cluster, &digest[..16])
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
    pub fn new(kind: Kind, endpoint: EndpointConfig, backoff_cap_ms: u64) -> Poller {
        let name = match kind {
            Kind::Headers { .. } => "headers",
            Kind::Credentials { .. } => "credentials",
        };
        let id = target_id(&kind, &endpoint, backoff_cap_ms);
        Poller {
            record_key: format!("asset_gate.poll.{name}.{id}"),
            data_key: format!("asset_gate.data.{name}.{id}"),
            backoff: Backoff {
                base_ms: 1000,
                cap_ms: backoff_cap_ms.max(1000),
            },
            kind,
            endpoint,
            me: random_u64() | 1,
            in_flight: None,
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
                    log::warn!("asset-gate: cannot update the poll record: {s:?}");
                    return None;
                }
            }
        }
        None
    }

    /// Called on every tick of every VM: dispatches the call when this VM wins the lease.
    pub fn tick(&mut self, metrics: &Metrics) {
        if self.in_flight.is_some() {
            return;
        }
        let now = now_ms();
        let me = self.me;
        let lease_ms = self.endpoint.timeout_ms + 1000;
        let taken = self.update(|r| r.should_take(now).then(|| r.taken(me, now, lease_ms)));
        if taken.is_none() {
            return;
        }
        let mut headers = vec![
            (":method", "GET"),
            (":path", self.endpoint.path.as_str()),
            (":authority", self.endpoint.authority.as_str()),
            ("accept", "application/json"),
        ];
        if let Some(token) = &self.endpoint.authorization {
            headers.push(("authorization", token.as_str()));
        }
        match hostcalls::dispatch_http_call(
            &self.endpoint.cluster,
            headers,
            None,
            vec![],
            Duration::from_millis(self.endpoint.timeout_ms),
        ) {
            Ok(token) => self.in_flight = Some(token),
            Err(s) => {
                log::warn!(
                    "asset-gate: cannot call cluster {}: {s:?}",
                    self.endpoint.cluster
                );
                self.finish(Err("dispatch"), metrics);
            }
        }
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
            Kind::Credentials { .. } => 64 * 1024,
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
        let outcome: Result<(Vec<u8>, u64), &'static str> = match &self.kind {
            Kind::Headers {
                expiry_ms,
                max_body,
                reserved,
            } => {
                let reserved: Vec<&str> = reserved.iter().map(String::as_str).collect();
                match headers::parse_answer(status, &body, *max_body, &reserved) {
                    Ok(h) => {
                        log::debug!("asset-gate: header provider answered {} headers", h.len());
                        Ok((headers::encode_cache(now, &h), *expiry_ms))
                    }
                    Err(e) => {
                        log::warn!(
                            "asset-gate: header provider {} refused, keeping the last good headers: {e}",
                            self.endpoint.cluster
                        );
                        Err(e.reason())
                    }
                }
            }
            Kind::Credentials { max_interval_ms } => {
                match credentials::parse_endpoint_answer(status, &body, now / 1000) {
                    Ok(c) => {
                        let jitter = random_u64() % 1001;
                        let next = credentials::refresh_in_ms(
                            now / 1000,
                            c.expires_at,
                            jitter,
                            *max_interval_ms,
                        );
                        Ok((body, next))
                    }
                    Err(e) => {
                        log::warn!(
                            "asset-gate: credentials endpoint {} refused, keeping the current credentials: {e}",
                            self.endpoint.cluster
                        );
                        Err("credentials")
                    }
                }
            }
        };
        match outcome {
            Ok((data, next_in_ms)) => {
                if let Err(s) = hostcalls::set_shared_data(&self.data_key, Some(&data), None) {
                    log::warn!("asset-gate: cannot store the poll result: {s:?}");
                    self.finish(Err("store"), metrics);
                    return;
                }
                self.finish(Ok(next_in_ms), metrics);
            }
            Err(reason) => self.finish(Err(reason), metrics),
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
                metrics.inc(if is_headers {
                    Counter::header_poll_failure(reason)
                } else {
                    Counter::CredentialRefreshFailures
                });
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
