use lambda_http::{Error, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    overten::logging::init();
    let app = overten::http::App::from_env().await?;
    let app = &app;
    lambda_http::run(service_fn(move |req| async move { Ok::<_, Error>(signup::handle(app, req).await) })).await
}
