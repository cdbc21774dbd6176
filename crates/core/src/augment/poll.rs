//! Out-of-band polling shared by every VM of an Envoy process: one record
//! per target in shared data, updated with compare-and-swap, says when the
//! next poll is due and who holds the lease to make it. Every worker's root
//! context ticks, but only the one that wins the lease polls.

/// The shared record of one poll target.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PollRecord {
    /// Root context holding the lease (0: nobody).
    pub owner: u64,
    /// The lease lapses at this time even if its owner vanished.
    pub lease_until_ms: u64,
    pub next_poll_ms: u64,
    /// Last successful poll (0: never).
    pub last_success_ms: u64,
    /// Failures since the last success (drives the backoff).
    pub failures: u32,
}

/// Exponential backoff with "equal jitter": half fixed, half random.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub base_ms: u64,
    pub cap_ms: u64,
}

impl Backoff {
    /// Delay before retry number `failures` (1-based); `jitter_permille` in 0..=1000.
    pub fn delay_ms(&self, failures: u32, jitter_permille: u64) -> u64 {
        let shift = failures.saturating_sub(1).min(32);
        let full = self.base_ms.saturating_mul(1u64 << shift).min(self.cap_ms);
        full / 2 + (full / 2).saturating_mul(jitter_permille.min(1000)) / 1000
    }
}

impl PollRecord {
    pub fn encode(&self) -> Vec<u8> {
        format!(
            "{} {} {} {} {}",
            self.owner, self.lease_until_ms, self.next_poll_ms, self.last_success_ms, self.failures
        )
        .into_bytes()
    }

    /// `None` for anything not written by [`PollRecord::encode`].
    pub fn decode(bytes: &[u8]) -> Option<PollRecord> {
        let text = std::str::from_utf8(bytes).ok()?;
        let mut it = text.split(' ');
        let mut next = || it.next().and_then(|v| v.parse::<u64>().ok());
        let record = PollRecord {
            owner: next()?,
            lease_until_ms: next()?,
            next_poll_ms: next()?,
            last_success_ms: next()?,
            failures: u32::try_from(next()?).ok()?,
        };
        Some(record)
    }

    /// A poll is due and nobody holds a live lease.
    pub fn should_take(&self, now_ms: u64) -> bool {
        now_ms >= self.next_poll_ms && now_ms >= self.lease_until_ms
    }

    /// The record with the lease taken by `me` for `lease_ms`.
    pub fn taken(&self, me: u64, now_ms: u64, lease_ms: u64) -> PollRecord {
        PollRecord {
            owner: me,
            lease_until_ms: now_ms.saturating_add(lease_ms),
            ..self.clone()
        }
    }

    /// After a successful poll: next one in `next_in_ms`, lease released.
    pub fn succeeded(&self, now_ms: u64, next_in_ms: u64) -> PollRecord {
        PollRecord {
            owner: 0,
            lease_until_ms: 0,
            next_poll_ms: now_ms.saturating_add(next_in_ms),
            last_success_ms: now_ms,
            failures: 0,
        }
    }

    /// After a failed poll: retry after a backoff, lease released.
    pub fn failed(&self, now_ms: u64, backoff: &Backoff, jitter_permille: u64) -> PollRecord {
        let failures = self.failures.saturating_add(1);
        PollRecord {
            owner: 0,
            lease_until_ms: 0,
            next_poll_ms: now_ms.saturating_add(backoff.delay_ms(failures, jitter_permille)),
            last_success_ms: self.last_success_ms,
            failures,
        }
    }
}

/// Whether data fetched at `fetched_at_ms` is too old to use.
pub fn is_stale(fetched_at_ms: u64, now_ms: u64, max_staleness_ms: u64) -> bool {
    now_ms.saturating_sub(fetched_at_ms) > max_staleness_ms
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_round_trip() {
        let r = PollRecord {
            owner: 42,
            lease_until_ms: 5,
            next_poll_ms: 6,
            last_success_ms: 7,
            failures: 3,
        };
        assert_eq!(PollRecord::decode(&r.encode()), Some(r));
        assert_eq!(PollRecord::decode(b"1 2 3"), None);
        assert_eq!(PollRecord::decode(b"a b c d e"), None);
        assert_eq!(PollRecord::decode(&[0xff]), None);
    }

    #[test]
    fn only_one_taker_while_the_lease_lives() {
        let r = PollRecord::default();
        assert!(r.should_take(0));
        let taken = r.taken(7, 1000, 5000);
        assert!(!taken.should_take(1000));
        assert!(!taken.should_take(5999));
        // a vanished owner's lease lapses
        assert!(taken.should_take(6000));
    }

    #[test]
    fn success_schedules_the_next_interval() {
        let r = PollRecord::default()
            .taken(7, 1000, 5000)
            .succeeded(1200, 360_000);
        assert_eq!(r.owner, 0);
        assert_eq!(r.last_success_ms, 1200);
        assert!(!r.should_take(361_199));
        assert!(r.should_take(361_200));
    }

    #[test]
    fn failures_back_off_exponentially_with_jitter_and_a_cap() {
        let b = Backoff {
            base_ms: 1000,
            cap_ms: 30_000,
        };
        assert_eq!(b.delay_ms(1, 0), 500);
        assert_eq!(b.delay_ms(1, 1000), 1000);
        assert_eq!(b.delay_ms(2, 1000), 2000);
        assert_eq!(b.delay_ms(3, 500), 3000);
        assert_eq!(b.delay_ms(10, 1000), 30_000);
        assert_eq!(b.delay_ms(200, 1000), 30_000);
        let mut r = PollRecord::default().succeeded(0, 10);
        for i in 1..=3 {
            r = r.taken(1, 100, 10).failed(100, &b, 1000);
            assert_eq!(r.failures, i);
        }
        assert_eq!(r.next_poll_ms, 100 + 4000);
        assert_eq!(r.last_success_ms, 0);
    }

    #[test]
    fn staleness() {
        assert!(!is_stale(1000, 2000, 1000));
        assert!(is_stale(1000, 2001, 1000));
        assert!(!is_stale(5000, 1000, 10)); // clock went back: not stale
    }
}
