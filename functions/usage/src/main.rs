// The handler's nested futures are deeper than rustc's default layout-query limit.
#![recursion_limit = "256"]

use lambda_http::{Error, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    overten::logging::init();
    let app = usage::app_from_env().await?;
    let app = &app;
    lambda_http::run(service_fn(move |req| async move { Ok::<_, Error>(usage::handle(app, req).await) })).await
}
