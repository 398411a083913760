//! `GET /verify`: the cheapest call of the API. The key is checked offline (shape, checksum), then
//! one strongly consistent `GetItem`; nothing else is on the way.

use lambda_http::RequestExt;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, Response};
use overten::Error;
use overten::http::{error_response, json_response, log_request, request_id, segments};
use overten::restrictions::{Permission, Restrictions, RouteMatch, is_format_slug};
use overten::service;
use overten::store::{KeyLookup, KeyRecord};
use serde::Serialize;

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

/// `?permission=…&format=…`: the action the caller asks about, validated before the read.
fn asked(req: &Request) -> Result<(Option<Permission>, Option<String>), Error> {
    let (mut permission, mut format) = (None, None);
    for (name, value) in req.query_string_parameters_ref().into_iter().flat_map(|q| q.iter()) {
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

/// The caller's address as API Gateway saw it (`requestContext.identity.sourceIp`).
fn source_ip(req: &Request) -> Option<&str> {
    match req.request_context_ref()? {
        RequestContext::ApiGatewayV1(ctx) => ctx.identity.source_ip.as_deref(),
        // The REST API is the only one in front of /verify (lambda_http is built for it alone).
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

/// The key, live, and its restrictions letting the caller (from where it calls) take the action
/// asked about.
async fn verify<S: KeyLookup>(store: &S, req: &Request, now: i64) -> Result<KeyRecord, Error> {
    let (permission, format) = asked(req)?;
    let key = service::authenticate_at(store, req.headers(), now).await?;
    if key.restrictions.is_restricted() {
        let action = RouteMatch::Action { permission, format: format.as_deref() };
        key.restrictions.check(action, source_ip(req)).map_err(Error::PermissionDenied)?;
    }
    Ok(key)
}

pub async fn handle<S: KeyLookup>(store: &S, req: Request) -> Response<Body> {
    handle_at(store, req, overten::clock::now_secs()).await
}

/// [`handle`] at `now` (seconds since the epoch), against which expiry is judged.
pub async fn handle_at<S: KeyLookup>(store: &S, req: Request, now: i64) -> Response<Body> {
    overten::role::scope(env!("CARGO_PKG_NAME"), dispatch(store, req, now)).await
}

async fn dispatch<S: KeyLookup>(store: &S, req: Request, now: i64) -> Response<Body> {
    let request_id = request_id(&req);
    let result = match (req.method().as_str(), segments(&req).as_slice()) {
        ("GET", ["verify"]) => verify(store, &req, now).await,
        (_, ["verify"]) => Err(Error::MethodNotAllowed),
        _ => Err(Error::RouteNotFound),
    };
    match result {
        Ok(key) => {
            log_request(&request_id, "GET /verify", 200, Some(&key.org_id), Some(&key.key_id));
            json_response(
                200,
                &Verified {
                    org_id: &key.org_id,
                    key_id: &key.key_id,
                    key_name: &key.name,
                    expires_at: key.expires_at.map(overten::clock::rfc3339),
                    restrictions: &key.restrictions,
                },
            )
        }
        Err(err) => {
            let response = error_response(&err, &request_id);
            log_request(&request_id, "GET /verify", response.status().as_u16(), None, None);
            response
        }
    }
}
