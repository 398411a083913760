//! The hot path's reads and write: a key by hash (one strongly consistent `GetItem`), its
//! `last_used_at` (at most once a minute, conditioned). Many keys at once: `batch.rs`.

use super::items::{key_record, n, s};
use super::retry::sdk_error;
use super::{DynamoStore, TOUCH_INTERVAL_SECS};
use crate::api_key::KeyHash;
use crate::error::Error;
use crate::store::{KeyLookup, KeyRecord};

impl KeyLookup for DynamoStore {
    async fn find_key(&self, hash: &KeyHash) -> Result<Option<KeyRecord>, Error> {
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.api_keys)
            .key("key_hash", s(hash.as_str()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("GetItem", e))?;
        out.item.map(key_record).transpose()
    }
    async fn touch_key(&self, hash: &KeyHash, now: i64) -> Result<(), Error> {
        let result = self
            .client
            .update_item()
            .table_name(&self.tables.api_keys)
            .key("key_hash", s(hash.as_str()))
            .update_expression("SET last_used_at = :now")
            .condition_expression(
                "attribute_exists(key_hash) AND (attribute_not_exists(last_used_at) OR last_used_at < :stale)",
            )
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":stale", n(now - TOUCH_INTERVAL_SECS))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // Another invocation touched it first: that is the point of the condition.
            Err(err) if err.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Ok(()),
            Err(err) => Err(sdk_error("UpdateItem", err)),
        }
    }
}
