//! `lambda_http` plumbing shared by the HTTP functions: request ids, bodies, query strings and
//! JSON responses. Every error response goes through [`error_response`], so client errors are
//! `Ok(Response)` with the contract's body (an `Err` would become a bare 500).

use lambda_http::aws_lambda_events::query_map::QueryMap;
use lambda_http::http::HeaderValue;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;

use crate::error::Error;
use crate::requests::MAX_BODY_BYTES;

/// API Gateway's request id (what a caller can quote), else Lambda's, else a fresh one.
pub fn request_id(req: &Request) -> String {
    if let Some(RequestContext::ApiGatewayV1(ctx)) = req.request_context_ref()
        && let Some(id) = &ctx.request_id
    {
        return id.clone();
    }
    match req.lambda_context_ref() {
        Some(ctx) if !ctx.request_id.is_empty() => ctx.request_id.clone(),
        _ => format!("req_{}", crate::api_key::random_base62(20)),
    }
}

/// The path as API Gateway saw it (without the stage), e.g. `/orgs/org_1/api-keys`.
pub fn path(req: &Request) -> &str {
    match req.raw_http_path() {
        "" => req.uri().path(),
        raw => raw,
    }
}

/// Non-empty path segments.
pub fn segments(req: &Request) -> Vec<&str> {
    path(req).split('/').filter(|s| !s.is_empty()).collect()
}

/// Query parameters, from the event (API Gateway) or from the URI (direct calls).
pub fn query(req: &Request) -> QueryMap {
    match req.query_string_parameters_ref() {
        Some(params) => params.clone(),
        None => req.uri().query().and_then(|q| q.parse().ok()).unwrap_or_default(),
    }
}

/// The body's bytes, refused with 413 above 16 KiB before anything parses it.
pub fn body(req: &Request) -> Result<&[u8], Error> {
    body_up_to(req, MAX_BODY_BYTES)
}

/// The body's bytes exactly as received, refused with 413 above `limit`.
pub fn body_up_to(req: &Request, limit: usize) -> Result<&[u8], Error> {
    let bytes: &[u8] = match req.body() {
        Body::Empty => &[],
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => &[],
    };
    if bytes.len() > limit {
        return Err(Error::PayloadTooLarge(limit));
    }
    Ok(bytes)
}

/// Who (`actor`), from where (the request's source IP and user agent, as API Gateway saw them)
/// and when (`now`): what a change records in its event.
pub fn audit_of(req: &Request, actor: crate::audit::Actor, clock: &crate::clock::Clock) -> crate::audit::Audit {
    let source_ip = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(ctx)) => ctx.identity.source_ip.clone(),
        _ => None,
    };
    let user_agent = req.headers().get("user-agent").and_then(|v| v.to_str().ok());
    crate::audit::Audit::at_millis(actor, &request_id(req), clock.now_millis())
        .with_origin(source_ip.as_deref(), user_agent)
}

pub fn json_response(status: u16, value: &impl Serialize) -> Response<Body> {
    match serde_json::to_string(value) {
        Ok(text) => with_headers(Response::builder().status(status), Body::Text(text)),
        Err(err) => error_response(&Error::Internal(format!("serializing a response: {err}")), "unknown"),
    }
}

pub fn empty_response(status: u16) -> Response<Body> {
    Response::builder().status(status).header("cache-control", "no-store").body(Body::Empty).unwrap_or_default()
}

/// The contract's error body; server errors are logged with their detail, which stays here.
pub fn error_response(err: &Error, request_id: &str) -> Response<Body> {
    err.log(request_id);
    let mut builder = Response::builder().status(err.status());
    if err.status() == 401 {
        builder = builder.header("www-authenticate", "Bearer");
    }
    with_headers(builder, Body::Text(err.body(request_id).to_string()))
}

fn with_headers(builder: lambda_http::http::response::Builder, body: Body) -> Response<Body> {
    builder
        .header("content-type", "application/json")
        // Responses may carry a secret exactly once: no cache may keep them.
        .header("cache-control", "no-store")
        .body(body)
        .unwrap_or_default()
}

/// One log line per request: ids, route and status, never a credential.
pub fn log_request(request_id: &str, route: &str, status: u16, org_id: Option<&str>, key_id: Option<&str>) {
    tracing::info!(request_id, route, status, org_id, key_id, "request");
}

/// What a warm Firebase-authenticated function (signup, keys; the local gateway serves both with
/// one) keeps between invocations: the store and the token verifier with its key cache.
pub struct App<S> {
    pub store: S,
    pub verifier: crate::firebase::TokenVerifier,
    /// The dashboard's origin (`CORS_ALLOWED_ORIGIN`): every response names it, so a browser on
    /// that origin can read the answer and a browser on any other cannot.
    pub cors_origin: Option<HeaderValue>,
    /// The time changes are recorded at (tests set it).
    pub clock: crate::clock::Clock,
}

impl App<crate::store::DynamoStore> {
    /// Tables, DynamoDB client, Firebase and CORS settings from the environment, once per cold
    /// start.
    pub async fn from_env() -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        let firebase = crate::config::FirebaseConfig::from_env()?;
        let cors_origin = crate::config::cors_origin(&|name| std::env::var(name).ok())?;
        Ok(App {
            store: crate::store_from_env(crate::config::DynamoTimeouts::MANAGEMENT).await?,
            verifier: crate::firebase::TokenVerifier::new(&firebase)?,
            cors_origin: cors_origin.map(|o| HeaderValue::from_str(&o)).transpose()?,
            clock: crate::clock::Clock::system(),
        })
    }
}

impl<S> App<S> {
    pub fn new(store: S, verifier: crate::firebase::TokenVerifier) -> Self {
        App { store, verifier, cors_origin: None, clock: crate::clock::Clock::system() }
    }

    pub fn with_clock(mut self, clock: crate::clock::Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Who (`actor`), from where (the request's source IP and user agent, as API Gateway saw
    /// them) and when (this app's clock): what a change records in its event.
    pub fn audit(&self, req: &Request, actor: crate::audit::Actor) -> crate::audit::Audit {
        audit_of(req, actor, &self.clock)
    }

    pub fn with_cors_origin(mut self, origin: &str) -> Self {
        self.cors_origin = HeaderValue::from_str(origin).ok();
        self
    }

    /// Adds the CORS headers to a response, whatever its status (a browser reads an error body
    /// only if the error carries them too).
    pub fn cors(&self, mut response: Response<Body>) -> Response<Body> {
        if let Some(origin) = &self.cors_origin {
            let headers = response.headers_mut();
            headers.insert("access-control-allow-origin", origin.clone());
            headers.append("vary", HeaderValue::from_static("Origin"));
        }
        response
    }
}

/// The uid of the Firebase user calling (`Authorization: Bearer <ID token>`).
pub async fn caller_uid(verifier: &crate::firebase::TokenVerifier, req: &Request) -> Result<String, Error> {
    let token = crate::credentials::bearer_token(req.headers())?;
    Ok(verifier.verify(token).await?.uid)
}

/// Turns a handler's result into the response, logging one line for the request.
pub fn finish(
    request_id: &str,
    route: &str,
    result: Result<Response<Body>, Error>,
    org_id: Option<&str>,
) -> Response<Body> {
    let response = match result {
        Ok(response) => response,
        Err(err) => error_response(&err, request_id),
    };
    log_request(request_id, route, response.status().as_u16(), org_id, None);
    response
}
