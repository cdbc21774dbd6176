//! Rate-limited warnings: a mistake that fails every request (a wrong
//! storage secret, a missing Envoy setting) must be named in the log
//! without writing one line per request. Each kind of line is written at
//! most once per interval; the next one says how many were held back.

/// At most one line per kind per this many milliseconds.
pub const INTERVAL_MS: u64 = 10_000;

/// Per kind: when its last line was written and how many were held back
/// since. The kinds are few and bounded (storage error codes, settings,
/// the routes of a configuration), so a list is enough.
#[derive(Debug, Default)]
pub struct LogLimit {
    kinds: Vec<(String, u64, u32)>,
}

impl LogLimit {
    pub const fn new() -> LogLimit {
        LogLimit { kinds: Vec::new() }
    }

    /// Whether a line of `kind` may be written at `now_ms`: `Some(n)` with
    /// the `n` lines held back since the last one, or `None` to hold this
    /// one back too.
    pub fn admit(&mut self, kind: &str, now_ms: u64) -> Option<u32> {
        let Some(entry) = self.kinds.iter_mut().find(|(k, _, _)| k == kind) else {
            self.kinds.push((kind.to_owned(), now_ms, 0));
            return Some(0);
        };
        if now_ms.saturating_sub(entry.1) < INTERVAL_MS {
            entry.2 = entry.2.saturating_add(1);
            return None;
        }
        entry.1 = now_ms;
        Some(std::mem::take(&mut entry.2))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_kind_per_interval_then_the_count_held_back() {
        let mut limit = LogLimit::default();
        assert_eq!(limit.admit("SignatureDoesNotMatch", 1_000), Some(0));
        assert_eq!(limit.admit("SignatureDoesNotMatch", 1_001), None);
        assert_eq!(limit.admit("SignatureDoesNotMatch", 10_999), None);
        // Another kind has its own budget.
        assert_eq!(limit.admit("NoSuchBucket", 2_000), Some(0));
        assert_eq!(limit.admit("SignatureDoesNotMatch", 11_000), Some(2));
        assert_eq!(limit.admit("SignatureDoesNotMatch", 11_001), None);
        assert_eq!(limit.admit("SignatureDoesNotMatch", 60_000), Some(1));
        assert_eq!(limit.admit("SignatureDoesNotMatch", 90_000), Some(0));
        // A clock that goes back holds lines back rather than flooding.
        assert_eq!(limit.admit("NoSuchBucket", 1_000), None);
    }
}
