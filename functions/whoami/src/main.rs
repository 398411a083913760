use lambda_http::{Error, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    overten::logging::init();
    lambda_http::run(service_fn(|req| async { Ok::<_, Error>(whoami::handle(req).await) })).await
}
