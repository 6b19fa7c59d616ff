//! Budget periods, reset on UTC calendar boundaries.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    Day,
    /// ISO weeks: from Monday 00:00 UTC.
    Week,
    Month,
    /// Never resets.
    Total,
}

const DAY_MS: u64 = 86_400_000;

impl Period {
    pub fn parse(s: &str) -> Option<Period> {
        Some(match s {
            "day" => Period::Day,
            "week" => Period::Week,
            "month" => Period::Month,
            "total" => Period::Total,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Period::Day => "day",
            Period::Week => "week",
            Period::Month => "month",
            Period::Total => "total",
        }
    }

    /// The period containing `now_ms`: `[start, end)` in unix ms (`end` is `u64::MAX`
    /// for `total`).
    pub fn bounds(self, now_ms: u64) -> (u64, u64) {
        let day = now_ms / DAY_MS;
        match self {
            Period::Total => (0, u64::MAX),
            Period::Day => (day * DAY_MS, (day + 1) * DAY_MS),
            Period::Week => {
                // 1970-01-01 was a Thursday: Monday-based weekday = (days + 3) % 7.
                let monday = day - (day + 3) % 7;
                (monday * DAY_MS, (monday + 7) * DAY_MS)
            }
            Period::Month => {
                let (y, m, _) = civil(day);
                let start = days_from_civil(y, m, 1);
                let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
                let end = days_from_civil(ny, nm, 1);
                (start * DAY_MS, end * DAY_MS)
            }
        }
    }
}

/// Days since the epoch → (year, month, day).
fn civil(days: u64) -> (i64, u32, u32) {
    let z = i64::try_from(days).unwrap_or(0) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let m = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// (year, month, day) → days since the epoch.
fn days_from_civil(y: i64, m: u32, d: u32) -> u64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    u64::try_from(era * 146_097 + doe - 719_468).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-11-22T15:30:00Z is a Sunday.
    const NOW: u64 = 1_795_361_400_000;

    #[test]
    fn calendar_bounds_in_utc() {
        assert_eq!(
            Period::Day.bounds(NOW),
            (1_795_305_600_000, 1_795_392_000_000)
        );
        // Monday 2026-11-16 to Monday 2026-11-23.
        assert_eq!(
            Period::Week.bounds(NOW),
            (1_795_305_600_000 - 6 * DAY_MS, 1_795_305_600_000 + DAY_MS)
        );
        // November 2026: 1st to December 1st.
        let (s, e) = Period::Month.bounds(NOW);
        assert_eq!(s, days_from_civil(2026, 11, 1) * DAY_MS);
        assert_eq!(e, days_from_civil(2026, 12, 1) * DAY_MS);
        assert_eq!((e - s) / DAY_MS, 30);
        assert_eq!(Period::Total.bounds(NOW), (0, u64::MAX));
        // December rolls into the next year; February of a leap year has 29 days.
        let dec = days_from_civil(2026, 12, 15) * DAY_MS;
        assert_eq!(
            Period::Month.bounds(dec).1,
            days_from_civil(2027, 1, 1) * DAY_MS
        );
        let feb = days_from_civil(2028, 2, 10) * DAY_MS;
        let (s, e) = Period::Month.bounds(feb);
        assert_eq!((e - s) / DAY_MS, 29);
    }

    #[test]
    fn civil_round_trips() {
        for days in [0u64, 59, 60, 365, 10_957, 20_414, 40_000] {
            let (y, m, d) = civil(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
        assert_eq!(civil(0), (1970, 1, 1));
    }
}
