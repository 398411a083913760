//! Counts the DynamoDB calls one client makes, by operation: for the retries whose only trace is
//! one call more or fewer (a create at the key limit with nothing to move out tries once).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept};
use aws_sdk_dynamodb::operation::{
    get_item::GetItemInput, query::QueryInput, transact_write_items::TransactWriteItemsInput,
};
use overten::store::DynamoStore;

/// The interceptor, and the counts it keeps; clones share the counts.
#[derive(Debug, Clone, Default)]
pub struct CallCount(Arc<Mutex<BTreeMap<&'static str, usize>>>);

impl CallCount {
    /// Calls of `operation` (`TransactWriteItems`, `GetItem`, `Query`, or `Other`) so far.
    pub fn of(&self, operation: &str) -> usize {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).get(operation).copied().unwrap_or(0)
    }
}

impl Intercept for CallCount {
    fn name(&self) -> &'static str {
        "overten-tests-call-count"
    }

    fn read_before_execution(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let input = context.input();
        let operation = if input.downcast_ref::<TransactWriteItemsInput>().is_some() {
            "TransactWriteItems"
        } else if input.downcast_ref::<GetItemInput>().is_some() {
            "GetItem"
        } else if input.downcast_ref::<QueryInput>().is_some() {
            "Query"
        } else {
            "Other"
        };
        *self.0.lock().unwrap_or_else(|e| e.into_inner()).entry(operation).or_default() += 1;
        Ok(())
    }
}

/// A store over fresh tables on DynamoDB Local whose calls are counted.
pub async fn counted_store() -> (DynamoStore, CallCount) {
    let count = CallCount::default();
    let plain = crate::ddb_client().await;
    let client = aws_sdk_dynamodb::Client::from_conf(plain.config().to_builder().interceptor(count.clone()).build());
    let tables = crate::fresh_tables().await;
    overten::store::tables::ensure_tables(&client, &tables).await.expect("create tables on DynamoDB Local");
    (DynamoStore::new(client, tables), count)
}
