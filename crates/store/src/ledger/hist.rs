//! The latency histogram kept in rollups, and UTC calendar arithmetic.
//!
//! Buckets are log-spaced, three per doubling: bucket 0 holds `[0, 1 ms)`, bucket
//! `i` (1..=62) holds `[B(i-1), B(i))` with `B(i) ≈ 2^(i/3)` ms, and bucket 63
//! holds everything from `B(62)` (≈ 27.7 min) up. A bucket's upper bound is at most
//! 2^(1/3) ≈ 1.26 times its lower bound, so a percentile read from the histogram
//! is within that factor of the exact one. Bounds are rounded to 1/1024 ms so
//! they print as short, exact decimals: the SQL `CASE` used for raw rows and the
//! Rust code used for inserts put every latency in the same bucket.

use std::sync::OnceLock;

/// Buckets in the latency histogram.
pub const HIST_BUCKETS: usize = 64;
/// Ratio between a bucket's upper and lower bound (above 1 ms).
pub const HIST_RATIO: f64 = 1.259_921_049_894_873_2;

pub(crate) const HOUR_MS: i64 = 3_600_000;
pub(crate) const DAY_MS: i64 = 86_400_000;

/// Upper bounds (exclusive) of buckets 0..=62.
pub(crate) fn bounds() -> &'static [f64; HIST_BUCKETS - 1] {
    static B: OnceLock<[f64; HIST_BUCKETS - 1]> = OnceLock::new();
    B.get_or_init(|| {
        let mut b = [0.0; HIST_BUCKETS - 1];
        for (i, v) in b.iter_mut().enumerate() {
            *v = ((i as f64 / 3.0).exp2() * 1024.0).round() / 1024.0;
        }
        b
    })
}

/// The bucket a latency falls in; negative and NaN count as 0 ms.
pub(crate) fn bucket_of(ms: f64) -> usize {
    if ms.is_nan() {
        return 0;
    }
    bounds().partition_point(|b| *b <= ms)
}

/// The `[lower, upper)` range of a bucket; the last one is open (`upper` infinite).
pub(crate) fn bucket_range(i: usize) -> (f64, f64) {
    let b = bounds();
    let lo = if i == 0 {
        0.0
    } else {
        b[(i - 1).min(b.len() - 1)]
    };
    let hi = b.get(i).copied().unwrap_or(f64::INFINITY);
    (lo, hi)
}

/// SQL mapping the column `col` to its bucket, for rows not yet rolled up.
pub(crate) fn bucket_case_sql(col: &str) -> String {
    let mut s = String::from("CASE");
    for (i, b) in bounds().iter().enumerate() {
        s.push_str(&format!(" WHEN {col} < {b:?} THEN {i}"));
    }
    s.push_str(&format!(" ELSE {} END", HIST_BUCKETS - 1));
    s
}

/// The `q`-quantile (0 < q <= 1) of the histogram, by nearest rank: the bucket
/// holding the `ceil(q·n)`-th smallest value is found, and the estimate is
/// interpolated inside it (geometrically; linearly in bucket 0). The open last
/// bucket answers its lower bound. An empty histogram answers 0.
pub(crate) fn quantile(hist: &[i64; HIST_BUCKETS], q: f64) -> f64 {
    let total: i64 = hist.iter().map(|c| (*c).max(0)).sum();
    if total == 0 {
        return 0.0;
    }
    let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as i64).clamp(1, total);
    let mut cum = 0i64;
    for (i, c) in hist.iter().enumerate() {
        let c = (*c).max(0);
        if c > 0 && cum + c >= rank {
            let frac = ((rank - cum) as f64 - 0.5) / c as f64;
            let (lo, hi) = bucket_range(i);
            return if i == 0 {
                lo + frac * (hi - lo)
            } else if hi.is_infinite() {
                lo
            } else {
                lo * (hi / lo).powf(frac)
            };
        }
        cum += c;
    }
    0.0
}

/// Days since 1970-01-01 of a civil (proleptic Gregorian) date.
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let (m, d) = (i64::from(m), i64::from(d));
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day number (days since 1970-01-01).
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m as u32, d as u32)
}

/// RFC 3339 UTC of a unix-ms instant, to the second: `2026-01-02T03:00:00Z`.
pub fn rfc3339(ms: i64) -> String {
    let day = ms.div_euclid(DAY_MS);
    let secs = ms.rem_euclid(DAY_MS) / 1000;
    let (y, m, d) = civil_from_days(day);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// The UTC day number of a unix-ms instant.
pub(crate) fn day_of(ms: i64) -> i64 {
    ms.div_euclid(DAY_MS)
}

/// The start of the UTC hour holding `ms`.
pub(crate) fn hour_floor(ms: i64) -> i64 {
    ms.div_euclid(HOUR_MS).saturating_mul(HOUR_MS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_log_spaced_and_exact_in_sql() {
        let b = bounds();
        assert_eq!(b[0], 1.0);
        assert_eq!(b[3], 2.0);
        assert_eq!(b[30], 1024.0);
        assert!((b[62] / 60_000.0 - 27.74).abs() < 0.01, "{}", b[62]);
        for w in b.windows(2) {
            let r = w[1] / w[0];
            assert!(r > 1.25 && r < 1.27, "{r}");
        }
        assert_eq!(bucket_of(0.0), 0);
        assert_eq!(bucket_of(-3.0), 0);
        assert_eq!(bucket_of(f64::NAN), 0);
        assert_eq!(bucket_of(0.999), 0);
        assert_eq!(bucket_of(1.0), 1);
        assert_eq!(bucket_of(2.0), 4);
        assert_eq!(bucket_of(1e12), 63);
        for i in 0..HIST_BUCKETS {
            let (lo, hi) = bucket_range(i);
            assert_eq!(bucket_of(lo), i);
            if hi.is_finite() {
                assert_eq!(bucket_of(hi), i + 1);
            }
        }
        // Each bound prints as a decimal that parses back to itself.
        for v in b {
            assert_eq!(format!("{v:?}").parse::<f64>().unwrap(), *v);
            assert_eq!((v * 1024.0).fract(), 0.0);
        }
        assert!(bucket_case_sql("x")
            .starts_with("CASE WHEN x < 1.0 THEN 0 WHEN x < 1.259765625 THEN 1"));
    }

    #[test]
    fn quantiles_land_in_the_right_bucket() {
        let mut h = [0i64; HIST_BUCKETS];
        assert_eq!(quantile(&h, 0.5), 0.0);
        h[bucket_of(100.0)] = 10;
        let v = quantile(&h, 0.5);
        assert_eq!(bucket_of(v), bucket_of(100.0));
        h[bucket_of(5000.0)] = 10;
        assert_eq!(bucket_of(quantile(&h, 0.5)), bucket_of(100.0));
        assert_eq!(bucket_of(quantile(&h, 0.51)), bucket_of(5000.0));
        assert_eq!(bucket_of(quantile(&h, 0.95)), bucket_of(5000.0));
        let mut top = [0i64; HIST_BUCKETS];
        top[63] = 1;
        assert_eq!(quantile(&top, 0.5), bucket_range(63).0);
    }

    #[test]
    fn calendar() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(
            rfc3339(1_767_225_600_000 + 3 * HOUR_MS + 61_000),
            "2026-01-01T03:01:01Z"
        );
        assert_eq!(rfc3339(-1000), "1969-12-31T23:59:59Z");
        for day in [-800_000i64, -1, 0, 1, 11_016, 20_454, 2_932_896] {
            let (y, m, d) = civil_from_days(day);
            assert_eq!(days_from_civil(y, m, d), day);
        }
        assert_eq!(days_from_civil(2026, 1, 1), 20_454);
        assert_eq!(hour_floor(HOUR_MS + 5), HOUR_MS);
        assert_eq!(hour_floor(-5), -HOUR_MS);
        assert_eq!(day_of(DAY_MS - 1), 0);
    }
}
