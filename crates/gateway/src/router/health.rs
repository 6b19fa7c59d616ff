//! Per-deployment health: consecutive failures, cooldown with a single half-open probe,
//! latency EWMAs and a recent error rate. Lock-free: atomics only, so the request path
//! never waits on another request.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// EWMA weight of a new latency sample.
const LATENCY_ALPHA: f64 = 0.2;
/// EWMA weight of a new success/failure sample in the error rate.
const ERROR_ALPHA: f64 = 0.1;
/// A deployment whose recent error rate is above this (with enough samples) cools down
/// even without `allowed_failures` consecutive failures.
const ERROR_RATE_TRIP: f64 = 0.5;
const ERROR_RATE_MIN_SAMPLES: u64 = 20;

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Whether a deployment may take a request now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Availability {
    Healthy,
    /// Its cooldown is over: one request may probe it.
    Probe,
    CoolingDown {
        until_ms: u64,
    },
}

#[derive(Debug, Default)]
pub struct Health {
    consecutive_failures: AtomicU32,
    /// Unix ms until which the deployment is skipped; 0 when it is not tripped.
    cooldown_until_ms: AtomicU64,
    /// A half-open probe is in flight.
    probing: AtomicBool,
    /// EWMAs in microseconds, 0 until the first sample.
    ewma_ttft_us: AtomicU64,
    ewma_total_us: AtomicU64,
    /// Recent error rate as f64 bits.
    error_rate_bits: AtomicU64,
    samples: AtomicU64,
    /// Cooldowns this replica started (for metrics).
    cooldowns: AtomicU64,
}

/// What a recorded outcome changed, for sharing with other replicas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    None,
    /// The deployment entered cooldown until this unix ms.
    CooledDown(u64),
    /// It recovered (a probe succeeded).
    Recovered,
}

impl Health {
    pub fn availability(&self, now_ms: u64) -> Availability {
        let until = self.cooldown_until_ms.load(Ordering::Acquire);
        if until == 0 {
            Availability::Healthy
        } else if now_ms < until {
            Availability::CoolingDown { until_ms: until }
        } else {
            Availability::Probe
        }
    }

    /// Claims the single half-open probe; false when another request holds it.
    pub fn try_probe(&self) -> bool {
        self.probing
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    pub fn record_success(&self, ttft: Option<Duration>, total: Duration) -> Transition {
        self.consecutive_failures.store(0, Ordering::Release);
        self.observe_error(false);
        if let Some(t) = ttft {
            ewma(&self.ewma_ttft_us, t);
        }
        ewma(&self.ewma_total_us, total);
        let was = self.cooldown_until_ms.swap(0, Ordering::AcqRel);
        self.probing.store(false, Ordering::Release);
        if was != 0 {
            Transition::Recovered
        } else {
            Transition::None
        }
    }

    /// Records a failure that speaks about the deployment (not the client's own error).
    pub fn record_failure(
        &self,
        allowed_failures: u32,
        cooldown: Duration,
        now_ms: u64,
    ) -> Transition {
        let failures = self.consecutive_failures.fetch_add(1, Ordering::AcqRel) + 1;
        let rate = self.observe_error(true);
        let was_probe = self.probing.swap(false, Ordering::AcqRel);
        let tripped = failures >= allowed_failures
            || was_probe
            || (rate > ERROR_RATE_TRIP
                && self.samples.load(Ordering::Acquire) >= ERROR_RATE_MIN_SAMPLES);
        if tripped {
            let until =
                now_ms.saturating_add(u64::try_from(cooldown.as_millis()).unwrap_or(u64::MAX));
            let was = self.cooldown_until_ms.swap(until, Ordering::AcqRel);
            // A failure while already cooling down extends it; only a new one counts.
            if was == 0 || was <= now_ms {
                self.cooldowns.fetch_add(1, Ordering::Relaxed);
            }
            Transition::CooledDown(until)
        } else {
            Transition::None
        }
    }

    /// Releases a probe that ended neither way (the client went away).
    pub fn release_probe(&self) {
        self.probing.store(false, Ordering::Release);
    }

    /// Applies a cooldown decided by another replica (0 clears it).
    pub fn apply_remote(&self, until_ms: u64) {
        self.cooldown_until_ms.store(until_ms, Ordering::Release);
        if until_ms == 0 {
            self.consecutive_failures.store(0, Ordering::Release);
        }
    }

    pub fn ewma_ttft(&self) -> Option<Duration> {
        micros(self.ewma_ttft_us.load(Ordering::Acquire))
    }

    pub fn ewma_total(&self) -> Option<Duration> {
        micros(self.ewma_total_us.load(Ordering::Acquire))
    }

    pub fn error_rate(&self) -> f64 {
        f64::from_bits(self.error_rate_bits.load(Ordering::Acquire))
    }

    /// How many times this replica put the deployment in cooldown (a failure that only
    /// extends a running cooldown, or one applied from another replica, does not count).
    pub fn cooldowns(&self) -> u64 {
        self.cooldowns.load(Ordering::Relaxed)
    }

    pub fn consecutive_failures(&self) -> u32 {
        self.consecutive_failures.load(Ordering::Acquire)
    }

    fn observe_error(&self, failed: bool) -> f64 {
        self.samples.fetch_add(1, Ordering::AcqRel);
        let x = if failed { 1.0 } else { 0.0 };
        let mut cur = self.error_rate_bits.load(Ordering::Acquire);
        loop {
            let next = f64::from_bits(cur) * (1.0 - ERROR_ALPHA) + x * ERROR_ALPHA;
            match self.error_rate_bits.compare_exchange_weak(
                cur,
                next.to_bits(),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return next,
                Err(actual) => cur = actual,
            }
        }
    }
}

fn micros(us: u64) -> Option<Duration> {
    (us != 0).then(|| Duration::from_micros(us))
}

/// Folds a sample into an EWMA kept in microseconds (a lost race loses one sample).
fn ewma(slot: &AtomicU64, sample: Duration) {
    let x = u64::try_from(sample.as_micros()).unwrap_or(u64::MAX).max(1);
    let cur = slot.load(Ordering::Acquire);
    let next = if cur == 0 {
        x
    } else {
        ((cur as f64) * (1.0 - LATENCY_ALPHA) + (x as f64) * LATENCY_ALPHA) as u64
    };
    slot.store(next.max(1), Ordering::Release);
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const COOL: Duration = Duration::from_secs(30);

    #[test]
    fn consecutive_failures_trip_then_one_probe_restores() {
        let h = Health::default();
        assert_eq!(h.availability(1000), Availability::Healthy);
        assert_eq!(h.record_failure(3, COOL, 1000), Transition::None);
        assert_eq!(h.record_failure(3, COOL, 1000), Transition::None);
        assert_eq!(
            h.record_failure(3, COOL, 1000),
            Transition::CooledDown(31_000)
        );
        assert_eq!(
            h.availability(20_000),
            Availability::CoolingDown { until_ms: 31_000 }
        );
        assert_eq!(h.availability(31_000), Availability::Probe);
        assert!(h.try_probe());
        assert!(!h.try_probe(), "a single probe at a time");
        assert_eq!(
            h.record_success(None, Duration::from_millis(5)),
            Transition::Recovered
        );
        assert_eq!(h.availability(31_001), Availability::Healthy);
        assert_eq!(h.consecutive_failures(), 0);
    }

    #[test]
    fn a_failed_probe_cools_down_again_at_once() {
        let h = Health::default();
        for _ in 0..3 {
            h.record_failure(3, COOL, 0);
        }
        assert!(h.try_probe());
        assert_eq!(
            h.record_failure(3, COOL, 40_000),
            Transition::CooledDown(70_000)
        );
        assert!(h.try_probe(), "the probe slot is free again");
        assert_eq!(h.cooldowns(), 2, "the first trip and the failed probe");
    }

    #[test]
    fn failures_during_a_cooldown_do_not_count_as_new_cooldowns() {
        let h = Health::default();
        h.record_failure(1, COOL, 1000);
        h.record_failure(1, COOL, 2000);
        h.apply_remote(90_000);
        assert_eq!(h.cooldowns(), 1);
    }

    #[test]
    fn a_success_resets_the_count() {
        let h = Health::default();
        h.record_failure(3, COOL, 0);
        h.record_failure(3, COOL, 0);
        h.record_success(None, Duration::from_millis(1));
        assert_eq!(h.record_failure(3, COOL, 0), Transition::None);
    }

    #[test]
    fn high_error_rate_trips_without_consecutive_failures() {
        let h = Health::default();
        let mut tripped = false;
        for i in 0..200 {
            // Two failures for every success: never three in a row.
            let t = if i % 3 == 2 {
                h.record_success(None, Duration::from_millis(1))
            } else {
                h.record_failure(3, COOL, 0)
            };
            if matches!(t, Transition::CooledDown(_)) {
                tripped = true;
                break;
            }
        }
        assert!(tripped, "error rate {}", h.error_rate());
    }

    #[test]
    fn latency_ewma_moves_towards_samples() {
        let h = Health::default();
        assert_eq!(h.ewma_total(), None);
        h.record_success(Some(Duration::from_millis(10)), Duration::from_millis(100));
        assert_eq!(h.ewma_total(), Some(Duration::from_millis(100)));
        for _ in 0..50 {
            h.record_success(Some(Duration::from_millis(10)), Duration::from_millis(10));
        }
        let t = h.ewma_total().unwrap();
        assert!(t < Duration::from_millis(11), "{t:?}");
    }
}
