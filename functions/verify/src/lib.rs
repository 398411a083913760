//! `GET /verify`: the cheapest call of the API. The key is checked offline (shape, checksum), then
//! one strongly consistent `GetItem`; nothing else is on the way.

use lambda_http::{Body, Request, Response};
use overten::Error;
use overten::http::{error_response, json_response, log_request, request_id, segments};
use overten::service;
use overten::store::KeyLookup;
use serde::Serialize;

#[derive(Serialize)]
struct Verified<'a> {
    org_id: &'a str,
    key_id: &'a str,
    key_name: &'a str,
    expires_at: Option<String>,
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
        ("GET", ["verify"]) => service::authenticate_at(store, req.headers(), now).await,
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
