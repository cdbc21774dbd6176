//! What the load saw, by kind of request: expected answers, unexpected
//! statuses, wrong bodies, I/O errors, and the first failures with the chaos
//! phases at the time.

use super::*;

// Tallies

#[derive(Clone, Copy, Debug)]
pub(super) enum Kind {
    AllowedA,
    DeniedA,
    Headers,
    GetC,
    PutC,
    ReadBackC,
}

pub(super) const KINDS: [(&str, Kind); 6] = [
    ("A allowed GET", Kind::AllowedA),
    ("A denied GET (403 expected)", Kind::DeniedA),
    ("A injected headers (echo)", Kind::Headers),
    ("C GET", Kind::GetC),
    ("C PUT", Kind::PutC),
    ("C GET after PUT", Kind::ReadBackC),
];

#[derive(Default)]
pub(super) struct Counts {
    pub(super) ok: AtomicU64,
    pub(super) unexpected_5xx: AtomicU64,
    pub(super) unexpected_403: AtomicU64,
    pub(super) wrong: AtomicU64,
    pub(super) io: AtomicU64,
}

impl Counts {
    pub(super) fn failures(&self) -> u64 {
        self.unexpected_5xx.load(Ordering::Relaxed)
            + self.unexpected_403.load(Ordering::Relaxed)
            + self.wrong.load(Ordering::Relaxed)
            + self.io.load(Ordering::Relaxed)
    }
    pub(super) fn total(&self) -> u64 {
        self.ok.load(Ordering::Relaxed) + self.failures()
    }
}

pub(super) struct Tally {
    pub(super) start: Instant,
    pub(super) kinds: [Counts; 6],
    /// The first failures, with the chaos phases at the time.
    pub(super) failures: Mutex<Vec<String>>,
    pub(super) provider_phase: Mutex<&'static str>,
    pub(super) creds_phase: Mutex<&'static str>,
    /// Which good provider answers the echo upstream saw injected.
    pub(super) seen_good: [AtomicU64; 2],
    pub(super) connects: AtomicU64,
    pub(super) retries: AtomicU64,
}

pub(super) enum Outcome {
    Ok,
    Unexpected5xx,
    Unexpected403,
    Wrong,
    Io,
}

impl Tally {
    pub(super) fn new() -> Tally {
        Tally {
            start: Instant::now(),
            kinds: Default::default(),
            failures: Mutex::new(vec![]),
            provider_phase: Mutex::new("start"),
            creds_phase: Mutex::new("start"),
            seen_good: Default::default(),
            connects: AtomicU64::new(0),
            retries: AtomicU64::new(0),
        }
    }

    pub(super) fn counts(&self, kind: Kind) -> &Counts {
        &self.kinds[kind as usize]
    }

    pub(super) fn requests(&self) -> u64 {
        self.kinds.iter().map(Counts::total).sum()
    }

    pub(super) fn failed(&self) -> u64 {
        self.kinds.iter().map(Counts::failures).sum()
    }

    pub(super) fn sum(&self, f: impl Fn(&Counts) -> &AtomicU64) -> u64 {
        self.kinds
            .iter()
            .map(|c| f(c).load(Ordering::Relaxed))
            .sum()
    }

    pub(super) fn phases(&self) -> String {
        format!(
            "provider {}, credentials {}",
            self.provider_phase.lock().unwrap(),
            self.creds_phase.lock().unwrap()
        )
    }

    pub(super) fn note(&self, line: String) {
        let mut f = self.failures.lock().unwrap();
        if f.len() < 30 {
            f.push(line);
        }
    }

    /// Judges one response: `expect` is the status it must have, `check`
    /// looks at the rest (a failed check on an expected 403 is an unexpected 403).
    pub(super) fn judge(
        &self,
        kind: Kind,
        what: &str,
        result: Result<Reply, String>,
        expect: u16,
        check: impl FnOnce(&Reply) -> Result<(), String>,
    ) {
        let (outcome, detail) = match result {
            Err(e) => (Outcome::Io, e),
            Ok(r) => {
                let checked = if r.status == expect {
                    check(&r)
                } else {
                    Err(format!("expected {expect}"))
                };
                match checked {
                    Ok(()) => (Outcome::Ok, String::new()),
                    Err(why) => {
                        let outcome = if r.status >= 500 {
                            Outcome::Unexpected5xx
                        } else if r.status == 403 {
                            Outcome::Unexpected403
                        } else {
                            Outcome::Wrong
                        };
                        (outcome, format!("{} ({why}): {}", r.status, r.snippet()))
                    }
                }
            }
        };
        let c = self.counts(kind);
        let counter = match outcome {
            Outcome::Ok => &c.ok,
            Outcome::Unexpected5xx => &c.unexpected_5xx,
            Outcome::Unexpected403 => &c.unexpected_403,
            Outcome::Wrong => &c.wrong,
            Outcome::Io => &c.io,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        if !matches!(outcome, Outcome::Ok) {
            self.note(format!(
                "{:7.1}s {kind:?} {what}: {detail} [{}]",
                self.start.elapsed().as_secs_f64(),
                self.phases()
            ));
        }
    }
}
