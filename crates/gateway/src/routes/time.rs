//! Time parameters of the admin API.

use crate::error::ApiError;

/// Parses a time parameter into unix milliseconds.
pub fn parse_time(param: &str, v: &str) -> Result<i64, ApiError> {
    let v = v.trim();
    let bad = || {
        ApiError::bad_request(
            format!(
                "`{param}` must be RFC 3339 (2026-11-22T10:00:00Z), a date (2026-11-22) or unix seconds"
            ),
            Some(param.to_string()),
        )
    };
    if let Ok(secs) = v.parse::<i64>() {
        return secs.checked_mul(1000).ok_or_else(bad);
    }
    let text = if v.len() == 10 {
        format!("{v}T00:00:00Z")
    } else {
        v.to_string()
    };
    let t = humantime::parse_rfc3339_weak(&text).map_err(|_| bad())?;
    t.duration_since(std::time::UNIX_EPOCH)
        .ok()
        .and_then(|d| i64::try_from(d.as_millis()).ok())
        .ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(parse_time("from", "0").ok(), Some(0));
        assert_eq!(
            parse_time("from", "1700000000").ok(),
            Some(1_700_000_000_000)
        );
        assert_eq!(
            parse_time("from", "2023-11-14T22:13:20Z").ok(),
            Some(1_700_000_000_000)
        );
        assert_eq!(parse_time("from", "1970-01-02").ok(), Some(86_400_000));
        assert!(parse_time("from", "yesterday").is_err());
    }
}
