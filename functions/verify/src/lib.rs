//! `GET /verify`: the cheapest call of the API. The key is checked offline (shape, checksum), then
//! one strongly consistent `GetItem`; nothing else is on the way.
//!
//! Two front doors to one [`answer_at`]: the deployed function decodes its REST proxy event in one
//! pass into what it reads ([`event::VerifyEvent`], [`invoke`]: `lambda_http`'s request conversion
//! was most of its own work), and [`handle`] takes a `lambda_http` request (the local gateway,
//! tests).

mod event;

use http::HeaderMap;
use lambda_http::RequestExt;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, Response};
use overten::Error;
use overten::http::{log_request, request_id, segments};
use overten::restrictions::{Permission, Restrictions, RouteMatch, is_format_slug};
use overten::service;
use overten::store::{KeyLookup, KeyRecord};
use serde::Serialize;

pub use event::{ProxyResponse, VerifyEvent, invoke};

#[derive(Serialize)]
struct Verified<'a> {
    org_id: &'a str,
    key_id: &'a str,
    key_name: &'a str,
    expires_at: Option<String>,
    /// `permissions`, `formats`, `allowed_ips`: `null` when not restricted.
    #[serde(flatten)]
    restrictions: &'a Restrictions,
}

/// What `/verify` reads of a request, whichever door it came in by.
pub struct Call<'a> {
    pub method: &'a str,
    /// Without the stage (`/verify`).
    pub path: &'a str,
    pub headers: &'a HeaderMap,
    pub query: Vec<(&'a str, &'a str)>,
    /// `requestContext.identity.sourceIp`.
    pub source_ip: Option<&'a str>,
    pub request_id: &'a str,
}

/// The answer: its status and JSON body (`content-type: application/json`, `cache-control:
/// no-store`, and `WWW-Authenticate: Bearer` on a 401; see [`headers`]).
pub struct Answer {
    pub status: u16,
    pub body: String,
}

/// The response headers of an answer with `status`, as (name, value): `content-type:
/// application/json`, `cache-control: no-store`, and `WWW-Authenticate: Bearer` on a 401.
pub fn header_pairs(status: u16) -> &'static [(&'static str, &'static str)] {
    // Responses may carry a secret exactly once: no cache may keep them.
    const ANSWER: &[(&str, &str)] = &[("content-type", "application/json"), ("cache-control", "no-store")];
    const UNAUTHORIZED: &[(&str, &str)] =
        &[("content-type", "application/json"), ("cache-control", "no-store"), ("www-authenticate", "Bearer")];
    if status == 401 { UNAUTHORIZED } else { ANSWER }
}

/// [`header_pairs`] as a `HeaderMap` (the `lambda_http` door).
pub fn headers(status: u16) -> HeaderMap {
    header_pairs(status)
        .iter()
        .map(|&(name, value)| (http::HeaderName::from_static(name), http::HeaderValue::from_static(value)))
        .collect()
}

/// `?permission=…&format=…`: the action the caller asks about, validated before the read.
fn asked(query: &[(&str, &str)]) -> Result<(Option<Permission>, Option<String>), Error> {
    let (mut permission, mut format) = (None, None);
    for &(name, value) in query {
        match name {
            "permission" => {
                permission = Some(Permission::parse(value).ok_or_else(|| {
                    Error::InvalidRequest(
                    "`permission` is `<resource>:<access>`: resource generations, runs or files, access read or write"
                        .into(),
                )
                })?)
            }
            "format" if is_format_slug(value) => format = Some(value.to_owned()),
            "format" => return Err(Error::InvalidRequest("`format` must match ^[a-z0-9][a-z0-9._-]{0,31}$".into())),
            other => {
                let shown: String = other.chars().take(40).collect();
                return Err(Error::InvalidRequest(format!(
                    "unknown query parameter `{shown}`: /verify takes `permission` and `format`"
                )));
            }
        }
    }
    Ok((permission, format))
}

/// The key, live, and its restrictions letting the caller (from where it calls) take the action
/// asked about.
/// Each call with a key of ours is counted for that key (README, "Key usage"): no authorizer
/// fronts `/verify`, so its access-log line has no key and this `key usage` line says it.
async fn verify<S: KeyLookup>(store: &S, call: &Call<'_>, now: i64) -> Result<KeyRecord, Error> {
    let (permission, format) = asked(&call.query)?;
    let key = match service::authenticate_key_at(store, call.headers, now).await {
        Ok(key) => key,
        Err(refused) => {
            if let (Some(key), Some(code)) = (&refused.key, refused.usage_code()) {
                usage(call, key, refused.error.status(), Some(code));
            }
            return Err(refused.error);
        }
    };
    if key.restrictions.is_restricted() {
        let action = RouteMatch::Action { permission, format: format.as_deref() };
        if let Err(denied) = key.restrictions.check(action, call.source_ip) {
            usage(call, &key, 403, Some("permission_denied"));
            return Err(Error::PermissionDenied(denied));
        }
    }
    usage(call, &key, 200, None);
    Ok(key)
}

fn usage(call: &Call<'_>, key: &KeyRecord, status: u16, refused: Option<&str>) {
    let user_agent = overten::access_log::user_agent(call.headers);
    overten::usage::line::emit(&overten::usage::line::Usage {
        org_id: &key.org_id,
        key_id: &key.key_id,
        status,
        route: Some("GET /verify"),
        format: None,
        ip: call.source_ip,
        user_agent: user_agent.as_deref(),
        refused,
    });
}

/// The answer to `call` at `now` (seconds since the epoch), against which expiry is judged.
pub async fn answer_at<S: KeyLookup>(store: &S, call: &Call<'_>, now: i64) -> Answer {
    overten::role::scope(env!("CARGO_PKG_NAME"), dispatch(store, call, now)).await
}

async fn dispatch<S: KeyLookup>(store: &S, call: &Call<'_>, now: i64) -> Answer {
    // `/verify` alone (empty segments skipped), read without collecting the segments.
    let mut segments = call.path.split('/').filter(|s| !s.is_empty());
    let result = match (call.method, segments.next(), segments.next()) {
        ("GET", Some("verify"), None) => verify(store, call, now).await,
        (_, Some("verify"), None) => Err(Error::MethodNotAllowed),
        _ => Err(Error::RouteNotFound),
    };
    match result {
        Ok(key) => {
            // A valid key is the health-check answer, asked every few seconds by every caller: a
            // line of our own at info would format and write the same ids each time (the
            // authorizer's Allow is at debug for the same reason). Refusals stay at info.
            tracing::debug!(request_id = call.request_id, org_id = %key.org_id, key_id = %key.key_id, "verified");
            let verified = Verified {
                org_id: &key.org_id,
                key_id: &key.key_id,
                key_name: &key.name,
                expires_at: key.expires_at.map(overten::clock::rfc3339),
                restrictions: &key.restrictions,
            };
            match serde_json::to_string(&verified) {
                Ok(body) => Answer { status: 200, body },
                Err(e) => error_answer(&Error::Internal(format!("serializing a response: {e}")), call.request_id),
            }
        }
        Err(err) => error_answer(&err, call.request_id),
    }
}

fn error_answer(err: &Error, request_id: &str) -> Answer {
    err.log(request_id);
    log_request(request_id, "GET /verify", err.status(), None, None);
    Answer { status: err.status(), body: err.body(request_id).to_string() }
}

/// `/verify` for a `lambda_http` request (the local gateway, tests).
pub async fn handle<S: KeyLookup>(store: &S, req: Request) -> Response<Body> {
    handle_at(store, req, overten::clock::now_secs()).await
}

/// [`handle`] at `now`.
pub async fn handle_at<S: KeyLookup>(store: &S, req: Request, now: i64) -> Response<Body> {
    let request_id = request_id(&req);
    let query = req.query_string_parameters_ref().cloned().unwrap_or_default();
    let source_ip = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(ctx)) => ctx.identity.source_ip.as_deref(),
        // The REST API is the only one in front of /verify (lambda_http is built for it alone).
        #[allow(unreachable_patterns)]
        _ => None,
    };
    let call = Call {
        method: req.method().as_str(),
        path: &segments(&req).join("/"),
        headers: req.headers(),
        query: query.iter().collect(),
        source_ip,
        request_id: &request_id,
    };
    let answer = answer_at(store, &call, now).await;
    let mut response = Response::new(Body::Text(answer.body));
    *response.status_mut() =
        http::StatusCode::from_u16(answer.status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    *response.headers_mut() = headers(answer.status);
    response
}
