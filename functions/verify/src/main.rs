// The handler's nested futures (event → decision → store → SDK) are deeper than rustc's default
// layout-query limit.
#![recursion_limit = "256"]

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::value::RawValue;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    overten::logging::init();
    let store = overten::store_from_env(overten::config::DynamoTimeouts::HOT_PATH).await?;
    let store = &store;
    // The REST proxy event's JSON text, decoded by the handler in one pass (`verify::invoke`).
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Box<RawValue>>| async move {
        Ok::<_, Error>(verify::invoke(store, &event.payload, &event.context.request_id).await)
    }))
    .await
}
