//! The vocabulary every credentials source speaks, kept in a file of its own
//! that imports nothing else from `credentials`: the sources, their
//! composition (`refresh`) and the shared-data format all depend on it, so
//! none of them needs another just for these types.
//!
//! A refresh is a small state machine: the host asks for the next HTTP call
//! ([`Step::Call`]), makes it through an Envoy cluster, and hands the
//! [`Answer`] back until the machine says done or failed. Sources with several
//! calls (IMDS: token, role, credentials; STS: base credentials or token, then
//! STS) and chains of sources are compositions of these machines, so the
//! host's poller (one per Envoy process, behind its lease) stays
//! source-agnostic.

use crate::sigv4::Credentials;

/// Credentials closer than this to their expiry are no longer used: a request
/// signed now must still be valid when storage checks it.
pub const EXPIRY_MARGIN_SECS: u64 = 30;

/// Credentials with their expiry (unix seconds), if they expire.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Expiring {
    pub credentials: Credentials,
    pub expires_at: Option<u64>,
}

/// One HTTP call through an Envoy cluster.
#[derive(Clone, PartialEq, Eq)]
pub struct Call {
    pub cluster: String,
    pub method: &'static str,
    pub authority: String,
    pub path: String,
    /// Extra request headers (lowercase names); may hold secrets: never log them.
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
    pub timeout_ms: u64,
}

impl std::fmt::Debug for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| *n).collect();
        write!(
            f,
            "{} {}{} via {} (headers [{}], {} body bytes)",
            self.method,
            self.authority,
            self.path,
            self.cluster,
            names.join(", "),
            self.body.len()
        )
    }
}

/// Why a refresh failed, for the per-reason failure counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// A non-2xx answer.
    Status,
    /// Timeout, reset, or the call could not be made.
    NoResponse,
    /// An answer that does not parse, is blank, oversized or already expired.
    Invalid,
    /// A token (IMDS session, web identity, Pod Identity) could not be had.
    Token,
    /// No source of a chain (or a fixed source) had credentials.
    Unavailable,
}

impl Reason {
    pub fn name(self) -> &'static str {
        match self {
            Reason::Status => "status",
            Reason::NoResponse => "no_response",
            Reason::Invalid => "invalid",
            Reason::Token => "token",
            Reason::Unavailable => "unavailable",
        }
    }
}

/// A failed refresh: why, what failed, and the status or STS error code
/// when there was one; formatted only when logged (never holds a secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub reason: Reason,
    pub what: &'static str,
    pub status: Option<u32>,
    /// An STS error code such as `AccessDenied`.
    pub code: Option<String>,
}

impl Failure {
    pub fn new(reason: Reason, what: &'static str) -> Failure {
        Failure {
            reason,
            what,
            status: None,
            code: None,
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.what)?;
        if let Some(s) = self.status {
            write!(f, ": HTTP {s}")?;
        }
        if let Some(c) = &self.code {
            write!(f, " {c}")?;
        }
        if self.reason == Reason::NoResponse {
            f.write_str(": no response (timeout or reset)")?;
        }
        Ok(())
    }
}

/// Fresh credentials and where they came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub credentials: Expiring,
    /// The source that produced them (for a chain: the winner).
    pub source: &'static str,
    /// A token the next refresh needs expires then: refresh before it too.
    pub token_expires_at: Option<u64>,
}

impl Fetched {
    /// The time the next refresh must come before.
    pub fn refresh_before(&self) -> Option<u64> {
        match (self.credentials.expires_at, self.token_expires_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// What the host does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Call(Call),
    Done(Fetched),
    Failed(Failure),
}

/// An answer to a [`Call`]: `status` is `None` on timeout or reset.
#[derive(Debug, Clone, Copy)]
pub struct Answer<'a> {
    pub status: Option<u32>,
    pub body: &'a [u8],
}

impl<'a> Answer<'a> {
    /// An answer as Envoy hands it over: its own replies for a timeout or a
    /// failed connection (503/504 with its fixed bodies) mean no response.
    pub fn from_envoy(status: Option<u32>, body: &'a [u8]) -> Answer<'a> {
        let local = matches!(status, Some(503 | 504))
            && (body == b"upstream request timeout"
                || body == b"no healthy upstream"
                || body.starts_with(b"upstream connect error"));
        Answer {
            status: if local { None } else { status },
            body,
        }
    }

    pub fn ok(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }

    /// The failure for a non-2xx answer (or none at all) of `what`.
    pub fn failure(&self, reason_if_status: Reason, what: &'static str) -> Failure {
        let reason = match self.status {
            None => Reason::NoResponse,
            Some(_) => reason_if_status,
        };
        Failure {
            status: self.status,
            ..Failure::new(reason, what)
        }
    }
}

/// The largest answer body any credentials call may have; the host reads at
/// most one byte more, so an oversized one is seen and refused.
pub const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// A refresh machine. A source built over another one (`AssumeRole` over
/// its base) drives the base through this, so it need not know the
/// composition that holds every source.
pub trait Source {
    /// Starts a refresh at `now` (unix seconds).
    fn start(&mut self, now: u64) -> Step;
    /// Takes the answer to the last call.
    fn on_answer(&mut self, answer: Answer, now: u64) -> Step;
    /// The most calls one refresh can make, and their longest timeout: the
    /// lease a refresh holds must cover them.
    fn budget(&self) -> (u32, u64);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envoys_own_failures_are_no_response() {
        assert_eq!(
            Answer::from_envoy(Some(504), b"upstream request timeout").status,
            None
        );
        assert_eq!(Answer::from_envoy(Some(503), b"upstream connect error or disconnect/reset before headers. reset reason: connection failure").status, None);
        assert_eq!(Answer::from_envoy(Some(504), b"<Error/>").status, Some(504));
        assert_eq!(
            Answer::from_envoy(Some(200), b"upstream request timeout").status,
            Some(200)
        );
    }

    #[test]
    fn refresh_before_the_token_too() {
        let mut f = Fetched {
            credentials: Expiring {
                credentials: Credentials {
                    access_key_id: "a".into(),
                    secret_access_key: "b".into(),
                    session_token: None,
                },
                expires_at: Some(100),
            },
            source: "x",
            token_expires_at: Some(50),
        };
        assert_eq!(f.refresh_before(), Some(50));
        f.token_expires_at = None;
        assert_eq!(f.refresh_before(), Some(100));
    }
}
