//! Wall-clock time and its RFC 3339 rendering (UTC, second precision).

use std::time::{SystemTime, UNIX_EPOCH};

use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;

/// Seconds since the Unix epoch.
pub fn now_secs() -> i64 {
    now_millis() as i64 / 1000
}

/// Milliseconds since the Unix epoch.
pub fn now_millis() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// `2026-11-27T02:36:33Z`.
pub fn rfc3339(secs: i64) -> String {
    DateTime::from_secs(secs).fmt(Format::DateTime).unwrap_or_else(|_| "1970-01-01T00:00:00Z".into())
}

#[cfg(test)]
mod tests {
    #[test]
    fn renders_rfc3339_utc() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::rfc3339(1_795_746_993), "2026-11-27T02:36:33Z");
    }
}
