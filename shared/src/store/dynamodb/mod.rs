//! The DynamoDB adapter of the store's ports (`store/ports.rs`): a file per capability or
//! operation, each implementing its port for [`DynamoStore`].
//!
//! `ApiKeys` (partition key `key_hash`) serves the hot path; `Orgs` (partition key `org_id`, sort
//! key `sk` = `META` | `MEMBER#<uid>` | `KEY#<key_id>` for a key that has not ended |
//! `REVOKED#<key_id>` once it ended (revoked, or expired and moved) | `EVENT#<event_id>` for its
//! audit events) holds everything per org, and one `USER#<uid>`/`ORG_COUNT` item per person
//! counts the orgs they created by signup. Ending moves a key from `KEY#` to `REVOKED#`, so
//! listing live keys never reads an ended one. Writes that belong together, and the event that
//! records them, are one `TransactWriteItems` whose conditions make them all-or-nothing.

mod admin;
mod batch;
mod create;
mod ending;
mod events;
mod items;
mod listing;
mod lookup;
mod orgs;
mod restrictions;
mod retry;
mod revoke;
mod roll;
mod transaction;

/// An `ApiKeys` item as the hot path decodes it, for benchmarks of that decoding.
#[cfg(feature = "testing")]
pub fn decode_key_item(
    item: std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>,
) -> Result<crate::store::KeyRecord, crate::Error> {
    items::key_record(item)
}
mod update;
mod usage;

pub use self::usage::{DynamoUsage, ORG_INDEX as USAGE_ORG_INDEX, UsageReader};

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::AttributeValue;

use self::items::{Item, key_sk, revoked_sk, s};
use self::retry::retry_transaction;
pub(crate) use self::retry::sdk_error;
use self::transaction::{Cancelled, Transaction};
use crate::config::Tables;
use crate::error::Error;

/// `last_used_at` is written at most this often per key, so the hot path stays one read.
pub const TOUCH_INTERVAL_SECS: i64 = 60;

/// Most orgs one person (Firebase uid) may create with `POST /signup` + `org_name`.
pub const MAX_ORGS_PER_USER: usize = 10;

/// How often a revoke, roll or rename re-reads the key when it changed between the read and the
/// transaction (a concurrent call); past that, 503.
pub(super) const CHANGED_RETRIES: usize = 3;

#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    tables: Tables,
    retry_budget: Duration,
    /// Tests only: every transaction gets an item that changes nothing in its middle.
    #[cfg(feature = "testing")]
    padded: bool,
}

impl DynamoStore {
    pub fn new(client: Client, tables: Tables) -> Self {
        DynamoStore {
            client,
            tables,
            retry_budget: crate::config::DynamoTimeouts::MANAGEMENT.retry_budget,
            #[cfg(feature = "testing")]
            padded: false,
        }
    }

    /// Tests only: puts an item that changes nothing in the middle of every transaction, so a
    /// test can show that every cancellation is still mapped to its cause (by step, not position).
    #[cfg(feature = "testing")]
    pub fn with_padded_transactions(mut self) -> Self {
        self.padded = true;
        self
    }

    /// How long our own retries (conflicts, throttled transactions) may go on.
    pub fn with_retry_budget(mut self, budget: Duration) -> Self {
        self.retry_budget = budget;
        self
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn tables(&self) -> &Tables {
        &self.tables
    }

    fn org_key(&self, org_id: &str, sk: String) -> Item {
        HashMap::from([("org_id".to_owned(), s(org_id)), ("sk".to_owned(), AttributeValue::S(sk))])
    }

    /// Runs a transaction, retrying conflicts and throttling. `Ok(Err(cancelled))` when a
    /// condition failed: ask it which step's.
    #[cfg_attr(not(feature = "testing"), allow(unused_mut))]
    async fn transact(&self, mut tx: Transaction) -> Result<Result<(), Cancelled>, Error> {
        #[cfg(feature = "testing")]
        if self.padded {
            tx.pad(&self.tables.orgs)?;
        }
        let send = || self.client.transact_write_items().set_transact_items(Some(tx.items().to_vec())).send();
        Ok(retry_transaction(send, self.retry_budget).await?.map_err(|reasons| tx.cancelled(reasons)))
    }

    /// A strongly consistent query of one sort-key run of an org's partition (`KEY#`,
    /// `REVOKED#`, `EVENT#`), for the caller to refine.
    fn run_query(&self, org_id: &str, prefix: &str) -> QueryFluentBuilder {
        self.client
            .query()
            .table_name(&self.tables.orgs)
            .consistent_read(true)
            .key_condition_expression("org_id = :org AND begins_with(sk, :prefix)")
            .expression_attribute_values(":org", s(org_id))
            .expression_attribute_values(":prefix", s(prefix))
    }

    async fn get_org_item(&self, org_id: &str, sk: String) -> Result<Option<Item>, Error> {
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.orgs)
            .set_key(Some(self.org_key(org_id, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("GetItem", e))?;
        Ok(out.item)
    }

    /// The key's `KEY#` item, or else whether it ended (`REVOKED#`): `Err(KeyNotFound)` when
    /// neither exists.
    pub(super) async fn key_item(&self, org_id: &str, key_id: &str) -> Result<Result<Item, Item>, Error> {
        if let Some(item) = self.get_org_item(org_id, key_sk(key_id)).await? {
            return Ok(Ok(item));
        }
        match self.get_org_item(org_id, revoked_sk(key_id)).await? {
            Some(ended) => Ok(Err(ended)),
            None => Err(Error::KeyNotFound),
        }
    }
}

/// Helpers for the adapter's unit tests: a store whose client never sends (building items needs
/// no network), items as DynamoDB returns them, and the parts of a built transaction.
#[cfg(test)]
pub(super) mod tests {
    use aws_sdk_dynamodb::types::Update;

    use super::items::{Item, n, s};
    use super::transaction::{Cancelled, Step, Transaction};
    use super::*;
    use crate::audit::{Actor, Audit};

    pub(super) fn store() -> DynamoStore {
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
            .build();
        DynamoStore::new(Client::from_conf(config), Tables { api_keys: "t-ApiKeys".into(), orgs: "t-Orgs".into() })
    }

    /// A live key's `KEY#` item in org `org_1`, as a read returns it.
    pub(super) fn active_item(key_id: &str, name: &str) -> Item {
        Item::from([
            ("org_id".to_owned(), s("org_1")),
            ("sk".to_owned(), s(&format!("KEY#{key_id}"))),
            ("key_id".to_owned(), s(key_id)),
            ("key_hash".to_owned(), s("ab".repeat(32).as_str())),
            ("name".to_owned(), s(name)),
            ("prefix".to_owned(), s("sk_live_abcd")),
            ("created_at".to_owned(), s("2026-01-01T00:00:00Z")),
            ("expires_at".to_owned(), n(1_900_000_000)),
        ])
    }

    /// A member's change, at a fixed instant.
    pub(super) fn audit() -> Audit {
        Audit::new(Actor::user("uid_member"), "req-1", 1_800_000_000)
    }

    pub(super) fn cancelled(steps: &[Step], failed: Step) -> Cancelled {
        Cancelled::of(steps, failed, None)
    }

    /// The condition of the delete at `index`.
    pub(super) fn delete_condition(tx: &Transaction, index: usize) -> String {
        tx.items()[index].delete().expect("a delete").condition_expression().unwrap_or_default().to_owned()
    }

    /// The update at `index`.
    pub(super) fn update_of(tx: &Transaction, index: usize) -> &Update {
        tx.items()[index].update().expect("an update")
    }
}
