//! A deployment's own provider limits (`rpm`, `tpm`): a deployment at its limit is
//! skipped, not hammered. Counted per minute with a sliding estimate (the previous
//! minute's count weighted by how much of it still overlaps the last 60 seconds),
//! in atomics.

use std::sync::atomic::{AtomicU64, Ordering};

/// One per-minute counter. `minute` tags which minute `current` counts.
#[derive(Debug, Default)]
struct Window {
    minute: AtomicU64,
    current: AtomicU64,
    previous: AtomicU64,
}

impl Window {
    /// Rolls the window to `minute` if it moved (a lost race only blurs one boundary).
    fn roll(&self, minute: u64) {
        let seen = self.minute.load(Ordering::Acquire);
        if seen == minute {
            return;
        }
        if self
            .minute
            .compare_exchange(seen, minute, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            let carried = if minute == seen + 1 {
                self.current.swap(0, Ordering::AcqRel)
            } else {
                self.current.store(0, Ordering::Release);
                0
            };
            self.previous.store(carried, Ordering::Release);
        }
    }

    /// The estimated count over the last 60 seconds at `now_ms`.
    fn estimate(&self, now_ms: u64) -> u64 {
        let minute = now_ms / 60_000;
        self.roll(minute);
        let into = (now_ms % 60_000) as f64 / 60_000.0;
        let previous = self.previous.load(Ordering::Acquire) as f64 * (1.0 - into);
        self.current.load(Ordering::Acquire) + previous as u64
    }

    fn add(&self, now_ms: u64, n: u64) {
        self.roll(now_ms / 60_000);
        self.current.fetch_add(n, Ordering::AcqRel);
    }
}

#[derive(Debug, Default)]
pub struct Limits {
    pub rpm: Option<u64>,
    pub tpm: Option<u64>,
    requests: Window,
    tokens: Window,
}

impl Limits {
    pub fn new(rpm: Option<u64>, tpm: Option<u64>) -> Self {
        Limits {
            rpm,
            tpm,
            ..Limits::default()
        }
    }

    /// Whether one more request of about `tokens` tokens fits now.
    pub fn has_room(&self, now_ms: u64, tokens: u64) -> bool {
        if let Some(rpm) = self.rpm {
            if self.requests.estimate(now_ms) >= rpm {
                return false;
            }
        }
        if let Some(tpm) = self.tpm {
            if self.tokens.estimate(now_ms).saturating_add(tokens) > tpm {
                return false;
            }
        }
        true
    }

    /// Counts a request sent (tokens are counted when its usage is known).
    pub fn record_request(&self, now_ms: u64) {
        if self.rpm.is_some() {
            self.requests.add(now_ms, 1);
        }
    }

    pub fn record_tokens(&self, now_ms: u64, tokens: u64) {
        if self.tpm.is_some() {
            self.tokens.add(now_ms, tokens);
        }
    }

    pub fn requests_last_minute(&self, now_ms: u64) -> u64 {
        self.requests.estimate(now_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rpm_fills_and_slides() {
        let l = Limits::new(Some(3), None);
        let t0 = 120_000; // the start of a minute
        for _ in 0..3 {
            assert!(l.has_room(t0, 0));
            l.record_request(t0);
        }
        assert!(!l.has_room(t0 + 1, 0));
        // Half-way into the next minute half of the previous minute still counts: 1.5 → 1.
        assert!(l.has_room(t0 + 90_000, 0));
        // Two minutes on, nothing counts.
        assert_eq!(l.requests_last_minute(t0 + 180_000), 0);
    }

    #[test]
    fn tpm_counts_tokens_and_the_estimate_of_the_next_request() {
        let l = Limits::new(None, Some(1000));
        let t = 60_000;
        assert!(l.has_room(t, 900));
        l.record_tokens(t, 900);
        assert!(l.has_room(t, 100));
        assert!(!l.has_room(t, 101));
    }

    #[test]
    fn no_limits_always_room() {
        let l = Limits::default();
        l.record_request(0);
        assert!(l.has_room(0, u64::MAX));
    }
}
