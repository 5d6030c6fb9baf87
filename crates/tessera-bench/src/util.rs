//! Small shared pieces: the error type, UTC rendering without a date crate, durations.

use std::fmt::Display;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The bench's error: a message that already says what failed and why.
pub type Result<T> = std::result::Result<T, String>;

/// Attaches what was being done to an error, so a failure reads like a sentence.
pub trait Context<T> {
    fn context(self, what: impl Display) -> Result<T>;
}

impl<T, E: Display> Context<T> for std::result::Result<T, E> {
    fn context(self, what: impl Display) -> Result<T> {
        self.map_err(|error| format!("{what}: {error}"))
    }
}

impl<T> Context<T> for Option<T> {
    fn context(self, what: impl Display) -> Result<T> {
        self.ok_or_else(|| what.to_string())
    }
}

/// The UTC calendar fields of an instant: (year, month, day, hour, minute, second).
pub fn utc_fields(time: SystemTime) -> (i64, i64, i64, i64, i64, i64) {
    let t = tessera_core::UtcFields::of(time);
    (
        t.year,
        i64::from(t.month),
        i64::from(t.day),
        i64::from(t.hour),
        i64::from(t.minute),
        i64::from(t.second),
    )
}

/// `X-Amz-Date`: `20240102T030405Z`.
pub fn amz_date(time: SystemTime) -> String {
    let (y, mo, d, h, mi, s) = utc_fields(time);
    format!("{y:04}{mo:02}{d:02}T{h:02}{mi:02}{s:02}Z")
}

/// For the report: `2024-01-02 03:04 UTC`.
pub fn report_date(time: SystemTime) -> String {
    let (y, mo, d, h, mi, _) = utc_fields(time);
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02} UTC")
}

/// The SRP `TIMESTAMP`: `EEE MMM d HH:mm:ss UTC yyyy` in English, day without a leading zero,
/// as Cognito's clients write it (`Tue Jan 2 03:04:05 UTC 2024`).
pub fn srp_timestamp(time: SystemTime) -> String {
    const WEEKDAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = time
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs() / 86_400);
    // 1970-01-01 was a Thursday (index 4).
    let weekday = WEEKDAYS
        .get(usize::try_from((days + 4) % 7).unwrap_or(0))
        .copied()
        .unwrap_or_default();
    let (y, mo, d, h, mi, s) = utc_fields(time);
    let month = MONTHS
        .get(usize::try_from(mo - 1).unwrap_or(0))
        .copied()
        .unwrap_or_default();
    format!("{weekday} {month} {d} {h:02}:{mi:02}:{s:02} UTC {y}")
}

/// Users a run needs so that none is asked for more than it can give: at most `rate`
/// operations per second are started during `seconds`, each user is good for `per_user` of
/// them, and each of the `concurrency` connections may hold one more user when the run ends.
pub fn population(rate: f64, seconds: f64, per_user: u64, concurrency: usize) -> usize {
    let operations = (rate.max(0.0) * seconds.max(0.0)).ceil();
    (operations / per_user.max(1) as f64).ceil() as usize + concurrency
}

/// Reads `10`, `10s`, `2.5s`, `500ms` or `1m`.
pub fn parse_duration(text: &str) -> Result<Duration> {
    let text = text.trim();
    let (number, scale) = if let Some(ms) = text.strip_suffix("ms") {
        (ms, 0.001)
    } else if let Some(s) = text.strip_suffix('s') {
        (s, 1.0)
    } else if let Some(m) = text.strip_suffix('m') {
        (m, 60.0)
    } else {
        (text, 1.0)
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a duration (try 10, 10s or 500ms)"))?;
    if !value.is_finite() || value < 0.0 || value * scale > 3_600.0 {
        return Err(format!("{text:?} is not a duration between 0 and one hour"));
    }
    Ok(Duration::from_secs_f64(value * scale))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_populations() {
        // 150 operations/s for 12 s, 2 per user, one more user per connection.
        assert_eq!(population(150.0, 12.0, 2, 64), 964);
        assert_eq!(population(3_000.0, 12.0, 10, 64), 3_664);
        assert_eq!(population(0.0, 12.0, 10, 4), 4);
        assert_eq!(population(1.0, 1.0, 0, 0), 1);
    }

    #[test]
    fn renders_utc_dates() {
        // 2024-01-02T03:04:05Z
        let time = UNIX_EPOCH + Duration::from_secs(1_704_164_645);
        assert_eq!(amz_date(time), "20240102T030405Z");
        assert_eq!(report_date(time), "2024-01-02 03:04 UTC");
        // A leap day.
        let time = UNIX_EPOCH + Duration::from_secs(1_709_208_000);
        assert_eq!(amz_date(time), "20240229T120000Z");
    }

    #[test]
    fn renders_srp_timestamps() {
        let time = UNIX_EPOCH + Duration::from_secs(1_704_164_645);
        assert_eq!(srp_timestamp(time), "Tue Jan 2 03:04:05 UTC 2024");
        // 2025-11-30T23:59:09Z, the second vector's timestamp.
        let time = UNIX_EPOCH + Duration::from_secs(1_764_547_149);
        assert_eq!(srp_timestamp(time), "Sun Nov 30 23:59:09 UTC 2025");
    }

    #[test]
    fn parses_durations() {
        assert_eq!(parse_duration("10").ok(), Some(Duration::from_secs(10)));
        assert_eq!(parse_duration("2s").ok(), Some(Duration::from_secs(2)));
        assert_eq!(
            parse_duration("500ms").ok(),
            Some(Duration::from_millis(500))
        );
        assert_eq!(
            parse_duration("1.5").ok(),
            Some(Duration::from_millis(1_500))
        );
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("-1").is_err());
    }
}
