//! Per-key limits and budget reservations, in process.
//!
//! One small mutex per key (never a global one): admission checks RPM, TPM,
//! concurrency and the budget, and on success counts the request, its estimated
//! tokens, an in-flight slot and its worst-case cost as a reservation, all at once, so
//! concurrent first requests cannot overspend. Settlement releases the slot and the
//! reservation and books the actual cost. Spend booked here is flushed to the store in
//! batches (`take_unflushed`) and refreshed from it (`set_store_spend`), so replicas
//! without Redis converge on the database's total.

use super::period::Period;
use std::sync::Mutex;

const MINUTE_MS: u64 = 60_000;

/// A key's limits, as configured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KeyLimits {
    pub rpm: Option<u64>,
    pub tpm: Option<u64>,
    pub max_concurrency: Option<u64>,
    pub budget_usd: Option<f64>,
    pub period: Period,
}

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Denied {
    Rpm { limit: u64, retry_after_ms: u64 },
    Tpm { limit: u64, retry_after_ms: u64 },
    Concurrency { limit: u64 },
    Budget { budget_usd: f64, spent_usd: f64 },
}

/// What an admitted request may be told (`x-ratelimit-*`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Allowed {
    pub limit_requests: Option<u64>,
    pub remaining_requests: Option<u64>,
    pub limit_tokens: Option<u64>,
    pub remaining_tokens: Option<u64>,
}

/// Counts of the current and the previous minute.
#[derive(Debug, Default, Clone, Copy)]
struct Window {
    minute: u64,
    current: u64,
    previous: u64,
}

impl Window {
    fn roll(&mut self, now_ms: u64) {
        let minute = now_ms / MINUTE_MS;
        if minute != self.minute {
            self.previous = if minute == self.minute + 1 {
                self.current
            } else {
                0
            };
            self.current = 0;
            self.minute = minute;
        }
    }

    /// The count over the last 60 seconds (the previous minute weighted by overlap).
    fn estimate(&mut self, now_ms: u64) -> u64 {
        self.roll(now_ms);
        let into = now_ms % MINUTE_MS;
        self.current + self.previous * (MINUTE_MS - into) / MINUTE_MS
    }

    /// How long until `need` more units fit under `limit`.
    fn retry_after(&mut self, now_ms: u64, limit: u64, need: u64) -> u64 {
        let est = self.estimate(now_ms);
        let left_in_minute = MINUTE_MS - now_ms % MINUTE_MS;
        let over = (est + need).saturating_sub(limit);
        if self.previous > 0 && self.current + need <= limit {
            // Wait for enough of the previous minute to slide out.
            (over * MINUTE_MS / self.previous).clamp(1, left_in_minute)
        } else {
            left_in_minute
        }
    }
}

#[derive(Debug, Default)]
struct Counters {
    requests: Window,
    tokens: Window,
    inflight: u64,
    period_start: u64,
    /// The store's figure for the period, as last read (other replicas included).
    store_spent: f64,
    /// Booked here, not yet written to the store.
    unflushed: f64,
    /// Taken by a flush not yet confirmed.
    flushing: f64,
    reserved: f64,
}

impl Counters {
    fn roll_period(&mut self, period: Period, now_ms: u64) {
        let (start, _) = period.bounds(now_ms);
        if start != self.period_start {
            self.period_start = start;
            self.store_spent = 0.0;
            // Spend booked for the old period is still flushed to the old period's row
            // by `take_unflushed` before the roll is observed there; here it resets.
            self.unflushed = 0.0;
            self.flushing = 0.0;
        }
    }

    fn spent(&self) -> f64 {
        self.store_spent + self.unflushed + self.flushing
    }
}

/// One key's in-process counters.
#[derive(Debug, Default)]
pub struct KeyCounters {
    inner: Mutex<Counters>,
}

impl KeyCounters {
    /// Admits a request of about `tokens` tokens and worst-case cost `reserve_usd`, or
    /// says why not. An admitted request must be settled exactly once.
    pub fn admit(
        &self,
        limits: &KeyLimits,
        tokens: u64,
        reserve_usd: f64,
        now_ms: u64,
    ) -> Result<Allowed, Denied> {
        let Ok(mut c) = self.inner.lock() else {
            // A poisoned lock means a panic elsewhere: fail open rather than refuse all.
            return Ok(Allowed::default());
        };
        c.roll_period(limits.period, now_ms);
        let mut allowed = Allowed::default();
        if let Some(limit) = limits.rpm {
            let used = c.requests.estimate(now_ms);
            if used >= limit {
                let retry_after_ms = c.requests.retry_after(now_ms, limit, 1);
                return Err(Denied::Rpm {
                    limit,
                    retry_after_ms,
                });
            }
            allowed.limit_requests = Some(limit);
            allowed.remaining_requests = Some(limit - used - 1);
        }
        if let Some(limit) = limits.tpm {
            let used = c.tokens.estimate(now_ms);
            // A request larger than the whole limit is let through alone rather than
            // refused for ever.
            let need = tokens.min(limit);
            if used + need > limit {
                let retry_after_ms = c.tokens.retry_after(now_ms, limit, need);
                return Err(Denied::Tpm {
                    limit,
                    retry_after_ms,
                });
            }
            allowed.limit_tokens = Some(limit);
            allowed.remaining_tokens = Some(limit - used - need);
        }
        if let Some(limit) = limits.max_concurrency {
            if c.inflight >= limit {
                return Err(Denied::Concurrency { limit });
            }
        }
        if let Some(budget) = limits.budget_usd {
            let spent = c.spent();
            if spent + c.reserved + reserve_usd > budget + 1e-12 {
                return Err(Denied::Budget {
                    budget_usd: budget,
                    spent_usd: spent,
                });
            }
        }
        c.requests.roll(now_ms);
        c.requests.current += 1;
        c.tokens.roll(now_ms);
        c.tokens.current += tokens;
        c.inflight += 1;
        c.reserved += reserve_usd;
        Ok(allowed)
    }

    /// Ends an admitted request: frees its slot and reservation, books its actual cost
    /// and corrects the token count by what it really used.
    pub fn settle(
        &self,
        limits: &KeyLimits,
        est_tokens: u64,
        reserve_usd: f64,
        actual_tokens: u64,
        actual_usd: f64,
        now_ms: u64,
    ) {
        let Ok(mut c) = self.inner.lock() else {
            return;
        };
        c.inflight = c.inflight.saturating_sub(1);
        c.reserved = (c.reserved - reserve_usd).max(0.0);
        c.roll_period(limits.period, now_ms);
        if actual_usd.is_finite() && actual_usd > 0.0 {
            c.unflushed += actual_usd;
        }
        c.tokens.roll(now_ms);
        if actual_tokens > est_tokens {
            c.tokens.current += actual_tokens - est_tokens;
        } else {
            c.tokens.current = c.tokens.current.saturating_sub(est_tokens - actual_tokens);
        }
    }

    /// Books spend decided elsewhere (Redis enforces the limits) so it is still flushed
    /// to the store.
    pub fn book_spend(&self, period: Period, usd: f64, now_ms: u64) {
        let Ok(mut c) = self.inner.lock() else {
            return;
        };
        c.roll_period(period, now_ms);
        if usd.is_finite() && usd > 0.0 {
            c.unflushed += usd;
        }
    }

    /// Spend booked since the last flush: `(period_start, usd)`, moved to "flushing".
    pub fn take_unflushed(&self) -> Option<(u64, f64)> {
        let mut c = self.inner.lock().ok()?;
        if c.unflushed <= 0.0 {
            return None;
        }
        let delta = c.unflushed;
        c.unflushed = 0.0;
        c.flushing += delta;
        Some((c.period_start, delta))
    }

    /// The flush of `delta` for `period_start` reached the store (`ok`), or failed and
    /// goes back to be flushed again.
    pub fn flushed(&self, period_start: u64, delta: f64, ok: bool) {
        let Ok(mut c) = self.inner.lock() else {
            return;
        };
        if c.period_start != period_start {
            return;
        }
        c.flushing = (c.flushing - delta).max(0.0);
        if ok {
            c.store_spent += delta;
        } else {
            c.unflushed += delta;
        }
    }

    /// The store's total for the period (all replicas' flushed spend).
    pub fn set_store_spend(&self, period_start: u64, spent: f64) {
        let Ok(mut c) = self.inner.lock() else {
            return;
        };
        if c.period_start == period_start && spent.is_finite() {
            c.store_spent = spent;
        }
    }

    /// `(period_start, spend so far including unflushed, reserved, in flight)`.
    pub fn snapshot(&self, period: Period, now_ms: u64) -> (u64, f64, f64, u64) {
        match self.inner.lock() {
            Ok(mut c) => {
                c.roll_period(period, now_ms);
                (c.period_start, c.spent(), c.reserved, c.inflight)
            }
            Err(_) => (0, 0.0, 0.0, 0),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn limits() -> KeyLimits {
        KeyLimits {
            rpm: None,
            tpm: None,
            max_concurrency: None,
            budget_usd: None,
            period: Period::Total,
        }
    }

    const T: u64 = 1_795_361_400_000;

    #[test]
    fn rpm_counts_and_tells_when_to_come_back() {
        let l = KeyLimits {
            rpm: Some(3),
            ..limits()
        };
        let k = KeyCounters::default();
        for i in 0..3 {
            let a = k.admit(&l, 0, 0.0, T).unwrap();
            assert_eq!(a.remaining_requests, Some(2 - i));
            k.settle(&l, 0, 0.0, 0, 0.0, T);
        }
        match k.admit(&l, 0, 0.0, T + 1000) {
            Err(Denied::Rpm {
                limit: 3,
                retry_after_ms,
            }) => assert!(retry_after_ms > 0 && retry_after_ms <= 60_000),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn tpm_and_correction_by_actual_usage() {
        let l = KeyLimits {
            tpm: Some(1000),
            ..limits()
        };
        let k = KeyCounters::default();
        k.admit(&l, 800, 0.0, T).unwrap();
        assert!(matches!(k.admit(&l, 300, 0.0, T), Err(Denied::Tpm { .. })));
        // It used only 100 tokens: the window gives the rest back.
        k.settle(&l, 800, 0.0, 100, 0.0, T);
        assert!(k.admit(&l, 300, 0.0, T).is_ok());
    }

    #[test]
    fn concurrency_slots_are_released_on_settle() {
        let l = KeyLimits {
            max_concurrency: Some(2),
            ..limits()
        };
        let k = KeyCounters::default();
        k.admit(&l, 0, 0.0, T).unwrap();
        k.admit(&l, 0, 0.0, T).unwrap();
        assert_eq!(
            k.admit(&l, 0, 0.0, T),
            Err(Denied::Concurrency { limit: 2 })
        );
        k.settle(&l, 0, 0.0, 0, 0.0, T);
        assert!(k.admit(&l, 0, 0.0, T).is_ok());
    }

    #[test]
    fn budget_reservations_hold_under_concurrency() {
        let l = KeyLimits {
            budget_usd: Some(10.0),
            ..limits()
        };
        let k = std::sync::Arc::new(KeyCounters::default());
        // 50 concurrent admissions reserving 1.0 each against a budget of 10.
        let admitted = std::thread::scope(|s| {
            let handles: Vec<_> = (0..50)
                .map(|_| {
                    let k = k.clone();
                    s.spawn(move || k.admit(&l, 0, 1.0, T).is_ok())
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap())
                .filter(|ok| *ok)
                .count()
        });
        assert_eq!(admitted, 10);
        // Each cost half its reservation: 5.0 spent, room for exactly 5 more.
        for _ in 0..10 {
            k.settle(&l, 0, 1.0, 0, 0.5, T);
        }
        let more = (0..20).filter(|_| k.admit(&l, 0, 1.0, T).is_ok()).count();
        assert_eq!(more, 5);
        let (_, spent, reserved, inflight) = k.snapshot(Period::Total, T);
        assert!((spent - 5.0).abs() < 1e-9 && (reserved - 5.0).abs() < 1e-9);
        assert_eq!(inflight, 5);
    }

    #[test]
    fn spend_flushes_and_periods_reset() {
        let l = KeyLimits {
            budget_usd: Some(1.0),
            period: Period::Day,
            ..limits()
        };
        let k = KeyCounters::default();
        k.admit(&l, 0, 0.5, T).unwrap();
        k.settle(&l, 0, 0.5, 0, 0.9, T);
        assert!(matches!(k.admit(&l, 0, 0.5, T), Err(Denied::Budget { .. })));
        let (start, delta) = k.take_unflushed().unwrap();
        assert_eq!(start, Period::Day.bounds(T).0);
        assert!((delta - 0.9).abs() < 1e-12);
        assert!(k.take_unflushed().is_none());
        k.flushed(start, delta, false);
        let (_, again) = k.take_unflushed().unwrap();
        k.flushed(start, again, true);
        // Another replica spent 0.05 more: the store's figure includes both.
        k.set_store_spend(start, 0.95);
        assert!((k.snapshot(Period::Day, T).1 - 0.95).abs() < 1e-9);
        // The next UTC day starts from zero.
        let tomorrow = T + 86_400_000;
        assert!(k.admit(&l, 0, 0.5, tomorrow).is_ok());
    }
}
