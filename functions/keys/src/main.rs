use lambda_http::{Error, service_fn};
use overten::config::FirebaseConfig;
use overten::firebase::TokenVerifier;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    overten::logging::init();
    let app = keys::App {
        store: overten::store_from_env().await?,
        verifier: TokenVerifier::new(&FirebaseConfig::from_env()?)?,
    };
    let app = &app;
    lambda_http::run(service_fn(move |req| async move { Ok::<_, Error>(keys::handle(app, req).await) })).await
}
