//! An org's keys, a page at a time in creation order: the active run (`KEY#`, expired keys left
//! out on the server), with `include_revoked` the ended run (`REVOKED#`) merged in, and each key's
//! `last_used_at` from `ApiKeys`.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::ReturnConsumedCapacity;

use super::DynamoStore;
use super::items::{ACTIVE, Item, REVOKED, get_n, get_s, key_summary, n};
use super::retry::sdk_error;
use crate::error::Error;
use crate::store::ListKeys;
use crate::store::{KeyPage, ListQuery};

impl ListKeys for DynamoStore {
    async fn list_keys(&self, org_id: &str, query: &ListQuery, now: i64) -> Result<KeyPage, Error> {
        self.list(org_id, query, now).await
    }
}

impl DynamoStore {
    pub(super) async fn list(&self, org_id: &str, query: &ListQuery, now: i64) -> Result<KeyPage, Error> {
        let want = query.limit + 1;
        let cursor = query.cursor.as_deref();
        // The default listing leaves expired keys out on the server side (they still cost reads,
        // once: a listing that met one moves them out of the active run).
        let live_only = (!query.include_revoked).then_some(now);
        let (mut items, mut read_units, skipped) = self.query_keys(org_id, ACTIVE, cursor, want, live_only).await?;
        if query.include_revoked {
            let (ended, units, _) = self.query_keys(org_id, REVOKED, cursor, want, None).await?;
            read_units += units;
            items = merge_runs(items, ended);
        }
        let has_more = items.len() > query.limit;
        items.truncate(query.limit);
        let hashes: Vec<String> = items.iter().filter_map(|i| get_s(i, "key_hash").ok()).collect();
        let (last_used, units) = self.last_used(&hashes.iter().map(String::as_str).collect::<Vec<_>>()).await?;
        read_units += units;
        let data = items
            .iter()
            .map(|item| {
                let hash = get_s(item, "key_hash")?;
                key_summary(item, last_used.get(&hash).copied(), now)
            })
            .collect::<Result<Vec<_>, Error>>()?;
        if skipped > 0 {
            // Housekeeping never fails a listing.
            if let Err(err) = self.retire_expired(org_id, now).await {
                tracing::warn!(org_id, error = %err, "could not move expired keys out of the active run");
            }
        }
        let next_cursor = if has_more { data.last().map(|k| k.id.clone()) } else { None };
        Ok(KeyPage { data, next_cursor, read_units })
    }

    /// Up to `want` items of one sort-key run (`KEY#` or `REVOKED#`) after the key id `after`, in
    /// key-id order; with `live_at`, only items not expired at that instant. Also returns the
    /// read capacity the queries consumed and how many items the filter left out.
    async fn query_keys(
        &self,
        org_id: &str,
        prefix: &str,
        after: Option<&str>,
        want: usize,
        live_at: Option<i64>,
    ) -> Result<(Vec<Item>, f64, usize), Error> {
        let mut items: Vec<Item> = Vec::new();
        let mut units = 0.0;
        let mut skipped = 0;
        let mut start = after.map(|id| self.org_key(org_id, format!("{prefix}{id}")));
        loop {
            let mut query = self
                .run_query(org_id, prefix)
                .limit((want - items.len()) as i32)
                .set_exclusive_start_key(start.take())
                .return_consumed_capacity(ReturnConsumedCapacity::Total);
            if let Some(now) = live_at {
                query = query
                    .filter_expression("attribute_not_exists(expires_at) OR expires_at > :now")
                    .expression_attribute_values(":now", n(now));
            }
            let out = query.send().await.map_err(|e| sdk_error("Query", e))?;
            units += out.consumed_capacity.and_then(|c| c.capacity_units).unwrap_or(0.0);
            let found = out.items.unwrap_or_default();
            skipped += (out.scanned_count.max(0) as usize).saturating_sub(found.len());
            items.extend(found);
            match out.last_evaluated_key {
                Some(last) if items.len() < want => start = Some(last),
                _ => return Ok((items, units, skipped)),
            }
        }
    }

    /// `last_used_at` of each hash, read consistently from `ApiKeys`, and the read units.
    pub(super) async fn last_used(&self, hashes: &[&str]) -> Result<(HashMap<String, i64>, f64), Error> {
        if hashes.is_empty() {
            return Ok((HashMap::new(), 0.0));
        }
        let (items, units) = self.batch_get_keys(hashes, Some("key_hash, last_used_at")).await?;
        let found = items
            .iter()
            .filter_map(|item| Some((get_s(item, "key_hash").ok()?, get_n(item, "last_used_at")?)))
            .collect();
        Ok((found, units))
    }
}

/// Two sorted runs (active, ended), merged in creation order (key ids sort by time). A key that
/// ended between the two reads is in both: its ended copy (read second) is the newer, and the
/// only one kept.
fn merge_runs(active: Vec<Item>, mut ended: Vec<Item>) -> Vec<Item> {
    ended.extend(active);
    // Stable: for one key id, the ended copy stays ahead of the active one, and dedup keeps it.
    ended.sort_by_key(|item| get_s(item, "key_id").ok());
    ended.dedup_by(|later, first| get_s(later, "key_id").ok() == get_s(first, "key_id").ok());
    ended
}

#[cfg(test)]
mod tests {
    use super::super::items::s;
    use super::*;

    fn item(key_id: &str, sk: &str) -> Item {
        Item::from([("key_id".to_owned(), s(key_id)), ("sk".to_owned(), s(&format!("{sk}{key_id}")))])
    }

    #[test]
    fn runs_merge_in_creation_order_and_a_key_in_both_is_listed_once_as_ended() {
        let active = vec![item("key_1", "KEY#"), item("key_3", "KEY#"), item("key_4", "KEY#")];
        let ended = vec![item("key_2", "REVOKED#"), item("key_3", "REVOKED#")];
        let merged = merge_runs(active, ended);
        let listed: Vec<String> = merged.iter().map(|i| get_s(i, "sk").unwrap()).collect();
        assert_eq!(listed, ["KEY#key_1", "REVOKED#key_2", "REVOKED#key_3", "KEY#key_4"]);
        assert!(merge_runs(Vec::new(), Vec::new()).is_empty());
    }
}
