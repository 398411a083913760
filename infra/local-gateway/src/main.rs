//! `make dev`'s API on http://127.0.0.1:$API_PORT. Configuration as the functions read it
//! (tables, Firebase), plus `API_PORT`. Creates the tables if absent.

use std::convert::Infallible;
use std::sync::Arc;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use local_gateway::template::ApiTemplate;
use local_gateway::{Gateway, Limits, LocalRequest, MAX_GATEWAY_BODY, parameter_env_name};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    // Key usage: the functions' `key usage` lines go to stdout and to the usage feed.
    let feed = std::sync::Arc::new(local_gateway::usage_feed::UsageFeed::default());
    let _ = tracing::subscriber::set_global_default(overten::logging::subscriber(
        local_gateway::usage_feed::TeeWriter(feed.clone()),
    ));
    let app = overten::http::App::from_env().await?;
    overten::store::tables::ensure_tables(app.store.client(), app.store.tables()).await?;
    let template = ApiTemplate::load(|name| match name {
        // The same variable the functions read, so preflight, gateway responses and functions agree.
        "CorsAllowedOrigin" => std::env::var("CORS_ALLOWED_ORIGIN").ok(),
        // Every bucket's rate and burst: SECRET_SCANNING_THROTTLING_RATE_LIMIT and the like.
        _ if name.contains("Throttling") => std::env::var(parameter_env_name(name)).ok(),
        _ => None,
    })?;
    let limits = Limits::from_template(&template, |name| std::env::var(name).ok());
    // Each route with its function's own DynamoDB timeouts, as deployed.
    let hot_store = overten::store_from_env(overten::config::DynamoTimeouts::HOT_PATH).await?;
    let scanning = secret_scanning::App::from_env().await?;
    let usage_table = std::env::var("USAGE_TABLE").unwrap_or_else(|_| "overten-local-KeyUsage".into());
    overten::store::tables::ensure_usage_table(app.store.client(), &usage_table).await?;
    let usage_store = overten::store::DynamoUsage::new(app.store.client().clone(), usage_table);
    let usage_app = overten::http::App {
        store: overten::store::UsageReader { keys: app.store.clone(), usage: usage_store.clone() },
        verifier: overten::firebase::TokenVerifier::new(&overten::config::FirebaseConfig::from_env()?)?,
        cors_origin: app.cors_origin.clone(),
        clock: app.clock.clone(),
    };
    let mut gateway = Gateway::new(app, hot_store, template, limits)
        .with_secret_scanning(scanning)
        .with_usage(usage_app)
        .with_usage_feed(feed.clone());
    // The subscription's deliveries: what is waiting, about once a second.
    tokio::spawn(async move {
        let mut every = tokio::time::interval(local_gateway::usage_feed::FLUSH_EVERY);
        loop {
            every.tick().await;
            feed.flush(&usage_store).await;
        }
    });
    if let Some(path) = std::env::var_os("ACCESS_LOG_FILE") {
        gateway = gateway.with_access_log(std::fs::OpenOptions::new().create(true).append(true).open(path)?);
    }
    let gateway = Arc::new(gateway);
    let port: u16 = std::env::var("API_PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(3000);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    eprintln!("local-gateway: ready on http://127.0.0.1:{port}");
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => accepted?,
            _ = tokio::signal::ctrl_c() => return Ok(()),
        };
        let gateway = gateway.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let gateway = gateway.clone();
                async move { Ok::<_, Infallible>(serve(&gateway, req, peer.ip()).await) }
            });
            let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

async fn serve(
    gateway: &Gateway,
    req: hyper::Request<Incoming>,
    peer: std::net::IpAddr,
) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_GATEWAY_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return to_hyper(gateway.gateway_answer("REQUEST_TOO_LARGE")),
    };
    let query = form_urlencoded::parse(parts.uri.query().unwrap_or_default().as_bytes()).into_owned().collect();
    let headers =
        parts.headers.iter().filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned()))).collect();
    let request = LocalRequest {
        method: parts.method.as_str().to_owned(),
        path: parts.uri.path().to_owned(),
        query,
        headers,
        body: (!body.is_empty()).then(|| String::from_utf8_lossy(&body).into_owned()),
        source_ip: peer.to_string(),
    };
    to_hyper(gateway.handle(request).await)
}

fn to_hyper(response: lambda_http::Response<lambda_http::Body>) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = response.into_parts();
    let bytes = match body {
        lambda_http::Body::Text(t) => Bytes::from(t),
        lambda_http::Body::Binary(b) => Bytes::from(b),
        _ => Bytes::new(),
    };
    hyper::Response::from_parts(parts, Full::new(bytes))
}
