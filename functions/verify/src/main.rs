use lambda_http::{Error, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    overten::logging::init();
    let store = overten::store_from_env(overten::config::DynamoTimeouts::HOT_PATH).await?;
    let store = &store;
    lambda_http::run(service_fn(move |req| async move { Ok::<_, Error>(verify::handle(store, req).await) })).await
}
