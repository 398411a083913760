use lambda_http::{Error, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    overten::logging::init();
    let app = secret_scanning::App::from_env().await?;
    let app = &app;
    lambda_http::run(service_fn(move |req| async move { Ok::<_, Error>(secret_scanning::handle(app, req).await) }))
        .await
}
