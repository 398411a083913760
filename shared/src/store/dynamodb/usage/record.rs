//! The aggregator's write: a batch's (key, day) sums added into the stored days, once.
//!
//! Per chunk of at most [`MAX_DAYS_PER_TRANSACTION`] days: one `BatchGetItem` of their items, and
//! one `TransactWriteItems` putting each merged day (on the condition that its `version` is still
//! the one read) and the chunk's marker (on the condition that it does not exist). A marker that
//! exists means the chunk was added before (a retried delivery): nothing is written. A version
//! that moved means another delivery wrote the day meanwhile: read again and retry.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::{KeysAndAttributes, Put, TransactWriteItem};

use super::super::items::{Item, get_s, n, s};
use super::super::retry::{RetryBudget, build_error, retry_transaction, sdk_error};
use super::super::transaction::{Step, Transaction};
use super::DynamoUsage;
use super::item::{day_item, day_item_key, org_key, read_day};
use crate::error::Error;
use crate::store::{RecordUsage, UsageWrite};
use crate::usage::{DayKey, DayUsage};

/// Days per transaction: DynamoDB's 100 items, one of them the marker.
pub const MAX_DAYS_PER_TRANSACTION: usize = 99;

/// How often a chunk is read again when another delivery wrote one of its days meanwhile.
const VERSION_RETRIES: usize = 5;

/// How long a batch's markers are kept: Lambda retries an asynchronous event for at most six
/// hours; two days is far past that.
const MARKER_SECS: i64 = 2 * 86_400;

impl RecordUsage for DynamoUsage {
    async fn record_usage(
        &self,
        batch_id: &str,
        days: &BTreeMap<DayKey, DayUsage>,
        now: i64,
    ) -> Result<UsageWrite, Error> {
        let mut written = UsageWrite::default();
        let days: Vec<(&DayKey, &DayUsage)> = days.iter().collect();
        for (index, chunk) in days.chunks(MAX_DAYS_PER_TRANSACTION).enumerate() {
            let marker = format!("BATCH#{batch_id}#{index}");
            match self.record_chunk(&marker, chunk, now).await? {
                true => written.days += chunk.len(),
                false => written.chunks_seen_before += 1,
            }
            written.transactions += 1;
        }
        Ok(written)
    }
}

impl DynamoUsage {
    /// Adds one chunk; `false` when its marker says it was added before.
    async fn record_chunk(&self, marker: &str, chunk: &[(&DayKey, &DayUsage)], now: i64) -> Result<bool, Error> {
        for _ in 0..=VERSION_RETRIES {
            let stored = self.read_days(chunk.iter().map(|(k, _)| *k)).await?;
            let tx = chunk_transaction(&self.table, marker, chunk, &stored, now)?;
            let send = || self.client.transact_write_items().set_transact_items(Some(tx.items().to_vec())).send();
            let Err(reasons) = retry_transaction(send, self.retry_budget).await? else {
                return Ok(true);
            };
            let cancelled = tx.cancelled(reasons);
            if cancelled.failed(Step::UsageBatch) {
                return Ok(false);
            }
            if !cancelled.failed(Step::UsageDay) {
                return Err(Error::Internal(format!("usage transaction cancelled: {}", cancelled.describe())));
            }
        }
        Err(Error::Unavailable("usage days kept changing during the write".into()))
    }

    /// The stored day and version of each key (strongly consistent), absent ones left out.
    async fn read_days<'a>(
        &self,
        keys: impl Iterator<Item = &'a DayKey>,
    ) -> Result<HashMap<(String, String), (DayUsage, i64)>, Error> {
        let keys: Vec<Item> = keys.map(day_item_key).collect();
        let mut request =
            Some(KeysAndAttributes::builder().set_keys(Some(keys)).consistent_read(true).build().map_err(build_error)?);
        let mut found = HashMap::new();
        let mut retries = RetryBudget::new(self.retry_budget);
        while let Some(keys) = request.take() {
            let out = self
                .client
                .batch_get_item()
                .request_items(&self.table, keys)
                .send()
                .await
                .map_err(|e| sdk_error("BatchGetItem", e))?;
            for item in out.responses.unwrap_or_default().remove(&self.table).unwrap_or_default() {
                found.insert((get_s(&item, "org_key")?, get_s(&item, "day")?), read_day(&item)?);
            }
            request = out.unprocessed_keys.and_then(|mut u| u.remove(&self.table));
            if request.is_some() && !retries.wait().await {
                return Err(Error::Unavailable("BatchGetItem left usage days unprocessed".into()));
            }
        }
        Ok(found)
    }
}

/// The chunk's marker and each day merged into what was stored, conditioned on its version.
fn chunk_transaction(
    table: &str,
    marker: &str,
    chunk: &[(&DayKey, &DayUsage)],
    stored: &HashMap<(String, String), (DayUsage, i64)>,
    now: i64,
) -> Result<Transaction, Error> {
    let mut tx = Transaction::new();
    let marker_item = HashMap::from([
        ("org_key".to_owned(), s(marker)),
        ("day".to_owned(), s("BATCH")),
        ("ttl".to_owned(), n(now + MARKER_SECS)),
    ]);
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(marker_item))
        .condition_expression("attribute_not_exists(org_key)")
        .build()
        .map_err(build_error)?;
    tx.push(Step::UsageBatch, TransactWriteItem::builder().put(put).build());
    for (key, batch) in chunk {
        let (merged, version) = match stored.get(&(org_key(&key.org_id, &key.key_id), key.day.clone())) {
            Some((day, version)) => {
                let mut day = day.clone();
                day.merge(batch);
                (day, Some(*version))
            }
            None => ((*batch).clone(), None),
        };
        let next = version.unwrap_or(0) + 1;
        let put = Put::builder().table_name(table).set_item(Some(day_item(key, &merged, next)?));
        let put = match version {
            None => put.condition_expression("attribute_not_exists(org_key)"),
            Some(v) => put.condition_expression("version = :read").expression_attribute_values(":read", n(v)),
        };
        tx.push(Step::UsageDay, TransactWriteItem::builder().put(put.build().map_err(build_error)?).build());
    }
    Ok(tx)
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::types::AttributeValue;

    use super::*;
    use crate::usage::UsageLine;

    fn key(day: &str) -> DayKey {
        DayKey { org_id: "org_1".into(), key_id: "key_1".into(), day: day.into() }
    }

    fn usage(requests: u64) -> DayUsage {
        let mut day = DayUsage::default();
        for _ in 0..requests {
            day.add(&UsageLine {
                at_ms: 0,
                org_id: "org_1".into(),
                key_id: "key_1".into(),
                status: 200,
                route: None,
                format: None,
                ip: None,
                user_agent: None,
                refused: None,
            });
        }
        day
    }

    fn condition(item: &TransactWriteItem) -> (&str, Option<&AttributeValue>) {
        let put = item.put().unwrap();
        (put.condition_expression().unwrap(), put.expression_attribute_values().and_then(|v| v.get(":read")))
    }

    #[test]
    fn a_chunk_is_its_marker_and_each_day_merged_at_its_version() {
        let (new_day, old_day) = (key("2026-11-28"), key("2026-11-29"));
        let (a, b) = (usage(2), usage(3));
        let stored = HashMap::from([(("org_1/key_1".to_owned(), "2026-11-29".to_owned()), (usage(5), 7))]);
        let tx = chunk_transaction("t", "BATCH#b#0", &[(&new_day, &a), (&old_day, &b)], &stored, 100).unwrap();
        assert_eq!(tx.steps(), [Step::UsageBatch, Step::UsageDay, Step::UsageDay]);
        let items = tx.items();
        let marker = items[0].put().unwrap();
        assert_eq!(marker.item()["org_key"], s("BATCH#b#0"));
        assert_eq!(marker.item()["ttl"], n(100 + MARKER_SECS));
        assert_eq!(condition(&items[0]), ("attribute_not_exists(org_key)", None));
        assert_eq!(condition(&items[1]), ("attribute_not_exists(org_key)", None), "a day not stored yet");
        assert_eq!(items[1].put().unwrap().item()["version"], n(1));
        assert_eq!(items[1].put().unwrap().item()["requests"], n(2));
        assert_eq!(condition(&items[2]), ("version = :read", Some(&n(7))));
        assert_eq!(items[2].put().unwrap().item()["version"], n(8));
        assert_eq!(items[2].put().unwrap().item()["requests"], n(8), "stored 5 + batch 3");
    }
}
