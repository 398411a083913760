//! Wall-clock time and its RFC 3339 rendering (UTC, second precision).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
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

/// The time a function judges expiry and records changes by: the system clock, or (tests) a
/// clock that stands where it is set. Milliseconds inside, so an event's id (which sorts by
/// milliseconds) and its `created_at` (seconds) are read off the same instant.
#[derive(Debug, Clone)]
pub struct Clock(Option<Arc<AtomicI64>>);

impl Clock {
    pub fn system() -> Self {
        Clock(None)
    }

    /// Stands at `secs` until set or advanced.
    pub fn fixed(secs: i64) -> Self {
        Clock(Some(Arc::new(AtomicI64::new(secs * 1000))))
    }

    /// Moves a fixed clock (and every clone of it) to `secs`; the system clock cannot be moved.
    pub fn set(&self, secs: i64) {
        if let Some(at) = &self.0 {
            at.store(secs * 1000, Ordering::SeqCst);
        }
    }

    pub fn now_millis(&self) -> i64 {
        match &self.0 {
            Some(at) => at.load(Ordering::SeqCst),
            None => now_millis() as i64,
        }
    }

    pub fn now_secs(&self) -> i64 {
        self.now_millis().div_euclid(1000)
    }
}

/// `2026-11-27T02:36:33Z`.
pub fn rfc3339(secs: i64) -> String {
    DateTime::from_secs(secs).fmt(Format::DateTime).unwrap_or_else(|_| "1970-01-01T00:00:00Z".into())
}

/// Seconds since the epoch of an RFC 3339 time (fractions dropped), `None` if it is not one.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    DateTime::from_str(text, Format::DateTime).ok().map(|t| t.secs())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_fixed_clock_stands_where_it_is_set() {
        let clock = super::Clock::fixed(100);
        let shared = clock.clone();
        assert_eq!(clock.now_secs(), 100);
        shared.set(250);
        assert_eq!(clock.now_secs(), 250, "clones share the time");
        assert_eq!(clock.now_millis(), 250_000, "the same instant in milliseconds");
        let system = super::Clock::system();
        system.set(0);
        let now = system.now_secs();
        assert!((1_700_000_000..4_000_000_000).contains(&now), "seconds, and not moved: {now}");
        let millis = system.now_millis();
        assert!(millis.div_euclid(1000) - now <= 1 && millis.div_euclid(1000) >= now, "{millis} ms vs {now} s");
    }

    #[test]
    fn renders_rfc3339_utc() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::rfc3339(1_795_746_993), "2026-11-27T02:36:33Z");
        assert_eq!(super::parse_rfc3339("2026-11-27T02:36:33Z"), Some(1_795_746_993));
        assert_eq!(super::parse_rfc3339("2026-11-27"), None);
    }
}
