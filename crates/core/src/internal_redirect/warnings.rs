//! Warnings about internal-redirect mistakes, rate-limited: a mistake in a
//! route repeats on every request (and a client can repeat it at will), so
//! each key (a route) gets one line per interval, which then says how many
//! were held back.

/// At most one warning per key in this many seconds.
const WARN_EVERY_SECS: u64 = 10;
/// Keys remembered (by hash, so no allocation); beyond them the
/// longest-quiet one is forgotten, and two keys of one hash share a slot.
const KEYS: usize = 8;

/// The keys warned about lately (one per VM, so per worker thread).
#[derive(Debug)]
pub struct Throttle {
    /// (key hash, when its last line was let through, lines held back).
    slots: [(u32, u64, u32); KEYS],
}

impl Throttle {
    /// No key warned about yet.
    pub const NEW: Throttle = Throttle {
        slots: [(0, 0, 0); KEYS],
    };

    /// Whether a warning about `key` may be logged at `now` (seconds):
    /// `Some(n)`, with the `n` held back since the previous one, or `None`
    /// (held back, and counted).
    pub fn admit(&mut self, key: &str, now: u64) -> Option<u32> {
        let h = hash(key);
        // This key's slot, else the longest-quiet one (an empty one first).
        let mut pick = 0;
        for i in 0..KEYS {
            if self.slots[i].0 == h {
                pick = i;
                break;
            }
            if self.slots[i].1 < self.slots[pick].1 {
                pick = i;
            }
        }
        let (key_hash, at, held_back) = &mut self.slots[pick];
        if *key_hash == h && now < at.saturating_add(WARN_EVERY_SECS) {
            *held_back = held_back.saturating_add(1);
            return None;
        }
        let held = if *key_hash == h { *held_back } else { 0 };
        self.slots[pick] = (h, now, 0);
        Some(held)
    }
}

/// FNV-1a, never 0 (an empty slot's hash).
fn hash(key: &str) -> u32 {
    let h = key.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    h | 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_key_per_interval_then_the_count_held_back() {
        let mut t = Throttle::NEW;
        assert_eq!(t.admit("assets", 100), Some(0));
        assert_eq!(t.admit("assets", 101), None);
        assert_eq!(t.admit("assets", 109), None);
        // Another key has its own interval; so has no route at all.
        assert_eq!(t.admit("downloads", 105), Some(0));
        assert_eq!(t.admit("", 105), Some(0));
        assert_eq!(t.admit("", 106), None);
        assert_eq!(t.admit("assets", 110), Some(2));
        assert_eq!(t.admit("assets", 111), None);
        assert_eq!(t.admit("assets", 125), Some(1));
        assert_eq!(t.admit("assets", 126), None);
        // A clock that goes back holds lines back rather than flooding.
        assert_eq!(t.admit("assets", 3), None);
    }

    #[test]
    fn keys_are_bounded_and_the_longest_quiet_one_goes() {
        let mut t = Throttle::NEW;
        for i in 0..KEYS as u64 {
            assert_eq!(t.admit(&format!("r{i}"), 100 + i), Some(0));
        }
        assert_eq!(t.admit("new", 200), Some(0));
        // r0 was forgotten (a fresh line), the others are still held back.
        assert_eq!(t.admit("r0", 201), Some(0));
        for i in 2..KEYS as u64 {
            assert_eq!(t.admit(&format!("r{i}"), 105), None, "r{i}");
        }
        assert_eq!(t.admit("new", 202), None);
    }
}
