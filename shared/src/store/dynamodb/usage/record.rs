//! The aggregator's write: a batch's (key, day) sums added into the stored days, once.
//!
//! Per chunk of at most [`MAX_DAYS_PER_TRANSACTION`] days: one `BatchGetItem` of their items and
//! of the chunk's marker, and one `TransactWriteItems` putting each merged day (on the condition
//! that its `version` is still the one read) and the marker (on the condition that it does not
//! exist). A marker that exists means the chunk was added before (a retried delivery): nothing is
//! written. A version that moved means another delivery wrote the day meanwhile: read again and
//! retry. Chunks depend on the batch alone (its days in order), so a retry meets the same markers.

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

/// Days per transaction. DynamoDB takes at most 100 items and 4 MB per transaction; a day at its
/// caps, every entry at its longest, is under 100 KB (`a_day_at_its_caps_fits_in_a_transaction`),
/// so 36 of them and the marker stay under 4 MB whatever clients send.
pub const MAX_DAYS_PER_TRANSACTION: usize = 36;

/// How often a chunk is read again when another delivery wrote one of its days meanwhile.
const VERSION_RETRIES: usize = 5;

/// How long a batch's markers are kept: past Lambda's own retries (at most six hours) and the
/// dead-letter queue's 14 days, so a batch replayed from the queue still counts once.
const MARKER_SECS: i64 = 16 * 86_400;

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
                true => {
                    written.days += chunk.len();
                    written.transactions += 1;
                }
                false => written.chunks_seen_before += 1,
            }
        }
        Ok(written)
    }
}

impl DynamoUsage {
    /// Adds one chunk; `false` when its marker says it was added before.
    async fn record_chunk(&self, marker: &str, chunk: &[(&DayKey, &DayUsage)], now: i64) -> Result<bool, Error> {
        for _ in 0..=VERSION_RETRIES {
            let (stored, seen_before) = self.read_days(marker, chunk.iter().map(|(k, _)| *k)).await?;
            if seen_before {
                return Ok(false);
            }
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

    /// The stored day and version of each key (strongly consistent), absent ones left out, and
    /// whether the chunk's marker exists.
    async fn read_days<'a>(
        &self,
        marker: &str,
        keys: impl Iterator<Item = &'a DayKey>,
    ) -> Result<(HashMap<(String, String), (DayUsage, i64)>, bool), Error> {
        let mut keys: Vec<Item> = keys.map(day_item_key).collect();
        keys.push(marker_key(marker));
        let mut request =
            Some(KeysAndAttributes::builder().set_keys(Some(keys)).consistent_read(true).build().map_err(build_error)?);
        let (mut found, mut seen_before) = (HashMap::new(), false);
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
                if get_s(&item, "day")? == MARKER_DAY {
                    seen_before = true;
                    continue;
                }
                found.insert((get_s(&item, "org_key")?, get_s(&item, "day")?), read_day(&item)?);
            }
            request = out.unprocessed_keys.and_then(|mut u| u.remove(&self.table));
            if request.is_some() && !retries.wait().await {
                return Err(Error::Unavailable("BatchGetItem left usage days unprocessed".into()));
            }
        }
        Ok((found, seen_before))
    }
}

/// The sort key of batch markers (never a day).
const MARKER_DAY: &str = "BATCH";

fn marker_key(marker: &str) -> Item {
    HashMap::from([("org_key".to_owned(), s(marker)), ("day".to_owned(), s(MARKER_DAY))])
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
    let mut marker_item = marker_key(marker);
    marker_item.insert("ttl".to_owned(), n(now + MARKER_SECS));
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

    /// The most bytes one day's item may take, which the caps guarantee.
    const MAX_DAY_ITEM_BYTES: usize = 100_000;

    /// DynamoDB's item size: each attribute's name and value (strings as UTF-8, numbers at most 21
    /// bytes).
    fn item_bytes(item: &Item) -> usize {
        item.iter()
            .map(|(name, value)| {
                name.len()
                    + match value {
                        AttributeValue::S(text) => text.len(),
                        AttributeValue::N(_) => 21,
                        other => panic!("unexpected attribute {other:?}"),
                    }
            })
            .sum()
    }

    #[test]
    fn a_day_at_its_caps_fits_in_a_transaction() {
        use crate::usage::day::{
            Count, MAX_FORMATS, MAX_REFUSAL_CODES, MAX_ROUTES, MAX_SOURCE_IPS, MAX_USER_AGENTS, Other, SourceCount,
        };
        use crate::usage::line::{MAX_ROUTE_LEN, MAX_USER_AGENT_LEN};
        // Counts of 18 digits: 2^64 / 64, so that summing the 20 refusal codes cannot overflow.
        const HUGE: u64 = u64::MAX / 64;
        let big = Count { requests: HUGE, refused: HUGE };
        let long = |i: usize, len: usize| format!("{i:04}{}", "x".repeat(len - 4));
        let day = DayUsage {
            requests: HUGE,
            by_status: (1..=5).map(|c| (format!("{c}xx"), HUGE)).collect(),
            refused: (0..MAX_REFUSAL_CODES).map(|i| (long(i, 40), HUGE)).collect(),
            routes: (0..MAX_ROUTES).map(|i| (format!("DELETE /{}", long(i, MAX_ROUTE_LEN - 8)), big)).collect(),
            formats: (0..MAX_FORMATS).map(|i| (long(i, 32), big)).collect(),
            source_ips: (0..MAX_SOURCE_IPS)
                .map(|i| {
                    let ip = format!("ffff:ffff:ffff:ffff:ffff:ffff:ffff:{i:04x}");
                    (ip, SourceCount { requests: HUGE, refused: HUGE, first_seen_ms: i64::MIN })
                })
                .collect(),
            user_agents: (0..MAX_USER_AGENTS).map(|i| (long(i, MAX_USER_AGENT_LEN), HUGE)).collect(),
            other: Other { routes: HUGE, formats: HUGE, source_ips: HUGE, user_agents: HUGE, refused: HUGE },
        };
        let key = DayKey {
            org_id: format!("org_{}", "x".repeat(60)),
            key_id: format!("key_{}", "x".repeat(60)),
            day: "2026-11-29".into(),
        };
        let bytes = item_bytes(&day_item(&key, &day, i64::MAX).unwrap());
        assert!(bytes <= MAX_DAY_ITEM_BYTES, "{bytes} bytes");
        assert!(bytes > MAX_DAY_ITEM_BYTES / 2, "the bound is near the worst case: {bytes} bytes");
        let marker = item_bytes(&marker_key(&format!("BATCH#{}#999", "f".repeat(32))));
        assert!(MAX_DAYS_PER_TRANSACTION * MAX_DAY_ITEM_BYTES + marker < 4_000_000);
        // DynamoDB's 100 items per transaction, with the marker.
        const { assert!(MAX_DAYS_PER_TRANSACTION < 100) };
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
