//! Many keys by hash in as few reads as DynamoDB allows: `BatchGetItem`, 100 keys per request,
//! unprocessed keys asked again within the retry budget. Used by the listing (`last_used_at` of
//! a page) and by secret scanning (whole records).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, ReturnConsumedCapacity};

use super::DynamoStore;
use super::items::{Item, get_s, key_record};
use super::retry::{RetryBudget, build_error, sdk_error};
use crate::api_key::KeyHash;
use crate::error::Error;
use crate::store::{FindKeys, KeyRecord};

/// DynamoDB's most keys per `BatchGetItem`.
pub const BATCH_GET_MAX: usize = 100;

impl DynamoStore {
    /// The `ApiKeys` items of `hashes` (strongly consistent; duplicates read once), with only the
    /// `projection`'s attributes when given, and the read capacity consumed. 503 when unprocessed
    /// keys outlast the retry budget.
    pub(super) async fn batch_get_keys(
        &self,
        hashes: &[&str],
        projection: Option<&str>,
    ) -> Result<(Vec<Item>, f64), Error> {
        let mut wanted = hashes.to_vec();
        wanted.sort_unstable();
        wanted.dedup();
        let (mut items, mut units) = (Vec::new(), 0.0);
        for chunk in wanted.chunks(BATCH_GET_MAX) {
            let keys = chunk
                .iter()
                .map(|h| HashMap::from([("key_hash".to_owned(), AttributeValue::S((*h).to_owned()))]))
                .collect();
            let mut request = Some(
                KeysAndAttributes::builder()
                    .set_keys(Some(keys))
                    .consistent_read(true)
                    .set_projection_expression(projection.map(str::to_owned))
                    .build()
                    .map_err(build_error)?,
            );
            let mut retries = RetryBudget::new(self.retry_budget);
            while let Some(keys) = request.take() {
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.tables.api_keys, keys)
                    .return_consumed_capacity(ReturnConsumedCapacity::Total)
                    .send()
                    .await
                    .map_err(|e| sdk_error("BatchGetItem", e))?;
                units += out.consumed_capacity.unwrap_or_default().iter().filter_map(|c| c.capacity_units).sum::<f64>();
                items.extend(out.responses.unwrap_or_default().remove(&self.tables.api_keys).unwrap_or_default());
                request = out.unprocessed_keys.and_then(|mut u| u.remove(&self.tables.api_keys));
                if request.is_some() && !retries.wait().await {
                    return Err(Error::Unavailable("BatchGetItem left keys unprocessed".into()));
                }
            }
        }
        Ok((items, units))
    }
}

impl FindKeys for DynamoStore {
    /// The record of each hash, in the order asked (secret scanning).
    async fn find_keys(&self, hashes: &[KeyHash]) -> Result<Vec<Option<KeyRecord>>, Error> {
        let wanted: Vec<&str> = hashes.iter().map(KeyHash::as_str).collect();
        let (items, _) = self.batch_get_keys(&wanted, None).await?;
        let mut found: HashMap<String, KeyRecord> = HashMap::with_capacity(items.len());
        for item in items {
            found.insert(get_s(&item, "key_hash")?, key_record(item)?);
        }
        Ok(hashes.iter().map(|h| found.get(h.as_str()).cloned()).collect())
    }
}
