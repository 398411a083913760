//! The operator CLI's own read: keys by display prefix (a full scan, which no function does and
//! none has the permission for).

use super::DynamoStore;
use super::items::{key_record, s};
use super::retry::sdk_error;
use crate::error::Error;
use crate::store::KeyRecord;

impl DynamoStore {
    /// Keys whose display prefix starts with `prefix` (operator CLI only: a full scan, which no
    /// function does and none has the permission for).
    pub async fn scan_keys_by_prefix(&self, prefix: &str) -> Result<Vec<KeyRecord>, Error> {
        let mut found = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .scan()
                .table_name(&self.tables.api_keys)
                .filter_expression("begins_with(prefix, :p)")
                .expression_attribute_values(":p", s(prefix))
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| sdk_error("Scan", e))?;
            for item in out.items.unwrap_or_default() {
                found.push(key_record(item)?);
            }
            match out.last_evaluated_key {
                Some(last) => start = Some(last),
                None => return Ok(found),
            }
        }
    }
}
