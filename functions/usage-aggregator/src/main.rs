// The handler's nested futures (event → batch → store → SDK) are deeper than rustc's default
// layout-query limit.
#![recursion_limit = "256"]

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::value::RawValue;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    overten::logging::init();
    let timeouts = overten::config::DynamoTimeouts::MANAGEMENT;
    let table = std::env::var("USAGE_TABLE").map_err(|_| "USAGE_TABLE is not set")?;
    let store = overten::store::DynamoUsage::new(overten::dynamodb_client(&timeouts).await, table)
        .with_retry_budget(timeouts.retry_budget);
    let store = &store;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Box<RawValue>>| async move {
        usage_aggregator::invoke(store, event.payload.get().as_bytes(), overten::clock::now_secs()).await
    }))
    .await
}
