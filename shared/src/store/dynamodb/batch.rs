//! Many keys by hash in as few reads as DynamoDB allows: `BatchGetItem`, 100 keys per request.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};

use super::DynamoStore;
use super::items::{get_s, key_record};
use super::retry::{RetryBudget, build_error, sdk_error};
use crate::api_key::KeyHash;
use crate::error::Error;
use crate::store::KeyRecord;

/// DynamoDB's most keys per `BatchGetItem`.
pub const BATCH_GET_MAX: usize = 100;

impl DynamoStore {
    /// The record of each hash (strongly consistent), in the order asked; unprocessed keys are
    /// asked again within the retry budget, then 503.
    pub(super) async fn batch_find_keys(&self, hashes: &[KeyHash]) -> Result<Vec<Option<KeyRecord>>, Error> {
        let mut found: HashMap<String, KeyRecord> = HashMap::new();
        let mut wanted: Vec<&str> = hashes.iter().map(KeyHash::as_str).collect();
        wanted.sort_unstable();
        wanted.dedup();
        for chunk in wanted.chunks(BATCH_GET_MAX) {
            let keys = chunk
                .iter()
                .map(|h| HashMap::from([("key_hash".to_owned(), AttributeValue::S((*h).to_owned()))]))
                .collect();
            let mut request = Some(
                KeysAndAttributes::builder().set_keys(Some(keys)).consistent_read(true).build().map_err(build_error)?,
            );
            let mut retries = RetryBudget::new(self.retry_budget);
            while let Some(keys) = request.take() {
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.tables.api_keys, keys)
                    .send()
                    .await
                    .map_err(|e| sdk_error("BatchGetItem", e))?;
                for item in out.responses.unwrap_or_default().remove(&self.tables.api_keys).unwrap_or_default() {
                    found.insert(get_s(&item, "key_hash")?, key_record(&item)?);
                }
                request = out.unprocessed_keys.and_then(|mut u| u.remove(&self.tables.api_keys));
                if request.is_some() && !retries.wait().await {
                    return Err(Error::Unavailable("BatchGetItem left keys unprocessed".into()));
                }
            }
        }
        Ok(hashes.iter().map(|h| found.get(h.as_str()).cloned()).collect())
    }
}
