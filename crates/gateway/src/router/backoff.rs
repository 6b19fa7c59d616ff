//! How long to wait before retrying: exponential backoff with full jitter, or what the
//! provider asked for (`Retry-After`, `retry-after-ms`) when it asked, capped.

use std::time::Duration;

const BASE: Duration = Duration::from_millis(100);
const CAP: Duration = Duration::from_secs(4);

/// The wait before retry number `retry` (0-based). `None` when the provider asked for
/// longer than `max_wait`: then waiting is worse than moving on to another deployment
/// or fallback.
pub fn wait(retry: u32, retry_after_ms: Option<u64>, max_wait: Duration) -> Option<Duration> {
    if let Some(ms) = retry_after_ms {
        let asked = Duration::from_millis(ms);
        return (asked <= max_wait).then_some(asked);
    }
    let ceiling = BASE
        .saturating_mul(1u32.checked_shl(retry.min(16)).unwrap_or(u32::MAX))
        .min(CAP)
        .min(max_wait);
    let ms = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
    Some(Duration::from_millis(fastrand::u64(0..=ms)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_jitter_within_the_exponential_ceiling() {
        for retry in 0..6 {
            let ceiling = (100u64 << retry).min(4000);
            for _ in 0..50 {
                let w = wait(retry, None, Duration::from_secs(10)).unwrap();
                assert!(w <= Duration::from_millis(ceiling), "{retry}: {w:?}");
            }
        }
    }

    #[test]
    fn retry_after_is_honoured_and_capped() {
        let cap = Duration::from_secs(10);
        assert_eq!(wait(0, Some(1500), cap), Some(Duration::from_millis(1500)));
        assert_eq!(wait(0, Some(30_000), cap), None);
        assert!(wait(0, None, Duration::from_millis(5)).unwrap() <= Duration::from_millis(5));
    }
}
