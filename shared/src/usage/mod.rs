//! Key usage (README, "Key usage"): what each key did per UTC day, counted off the hot path from
//! the lines API Gateway and the functions already write.
//!
//! - [`line`]: one request as a log line tells it (the access log's JSON line, or the `key usage`
//!   line the authorizer and `/verify` write where the access log cannot name the key);
//! - [`day`]: a key's day, bounded whatever the traffic (busiest entries kept, the rest summed as
//!   `other`);
//! - [`report`]: the usage routes' answers (dates, ranges, the busiest 50, `new` addresses);
//! - [`suggest`]: least privilege from evidence, as a `PATCH` body.

pub mod day;
pub mod line;
pub mod report;
pub mod suggest;

pub use day::{DayKey, DayUsage};
pub use line::UsageLine;

/// Usage is kept this long (TTL on each day's item), as the audit trail.
pub const RETENTION_DAYS: i64 = 400;
