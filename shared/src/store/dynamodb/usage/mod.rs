//! The usage table's adapter (README, "Key usage"): the aggregator's write ([`RecordUsage`]) and
//! the usage routes' reads ([`ReadUsage`]).
//!
//! `KeyUsage` (partition key `org_key` = `<org_id>/<key_id>`, sort key `day` = `YYYY-MM-DD`)
//! holds one item per key and day: the totals as attributes (`requests`, `refused`, for the org's
//! index `org_id-day_key`) and the bounded lists as one JSON attribute `detail`
//! ([`DayUsage`](crate::usage::DayUsage)), with a `version` for optimistic writes and `ttl` 400
//! days on. A batch's chunks leave a marker item (`BATCH#<batch id>#<chunk>`, `day` = `BATCH`,
//! kept two days) written in the same transaction as the chunk's days, so a batch delivered twice
//! adds nothing.
//!
//! [`RecordUsage`]: crate::store::RecordUsage
//! [`ReadUsage`]: crate::store::ReadUsage

mod item;
mod read;
mod reader;
mod record;

pub use self::reader::UsageReader;

use std::time::Duration;

use aws_sdk_dynamodb::Client;

/// The org's index: its days of every key, in date order.
pub const ORG_INDEX: &str = "org_id-day_key";

#[derive(Debug, Clone)]
pub struct DynamoUsage {
    client: Client,
    table: String,
    retry_budget: Duration,
}

impl DynamoUsage {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoUsage {
            client,
            table: table.into(),
            retry_budget: crate::config::DynamoTimeouts::MANAGEMENT.retry_budget,
        }
    }

    /// How long our own retries (conflicts, throttling, unprocessed keys) may go on.
    pub fn with_retry_budget(mut self, budget: Duration) -> Self {
        self.retry_budget = budget;
        self
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }
}
