//! `/orgs/{org_id}/api-keys` and `/orgs/{org_id}/events`: create, list, roll, update (rename, restrict) and revoke
//! an org's keys and read its audit trail, for its members (Firebase ID token).

use lambda_http::{Body, Request, Response};
use overten::Error;
use overten::audit::Actor;
use overten::http::{body, caller_uid, empty_response, finish, json_response, query, request_id, segments};
use overten::requests::{CreateKeyRequest, RollKeyRequest, parse_events_query, parse_key_update, parse_list_query};
use overten::service;
use overten::store::{KeyLifecycle, Membership};

pub use overten::http::App;

pub async fn handle<S: KeyLifecycle + Membership>(app: &App<S>, req: Request) -> Response<Body> {
    overten::role::scope(env!("CARGO_PKG_NAME"), dispatch(app, req)).await
}

async fn dispatch<S: KeyLifecycle + Membership>(app: &App<S>, req: Request) -> Response<Body> {
    let request_id = request_id(&req);
    let segments = segments(&req);
    let (route, result) = match (req.method().as_str(), segments.as_slice()) {
        ("POST", ["orgs", org, "api-keys"]) => ("POST /orgs/{org_id}/api-keys", create(app, &req, org).await),
        ("GET", ["orgs", org, "api-keys"]) => ("GET /orgs/{org_id}/api-keys", list(app, &req, org).await),
        ("DELETE", ["orgs", org, "api-keys", key]) => {
            ("DELETE /orgs/{org_id}/api-keys/{key_id}", revoke(app, &req, org, key).await)
        }
        ("PATCH", ["orgs", org, "api-keys", key]) => {
            ("PATCH /orgs/{org_id}/api-keys/{key_id}", update(app, &req, org, key).await)
        }
        ("POST", ["orgs", org, "api-keys", key, "roll"]) => {
            ("POST /orgs/{org_id}/api-keys/{key_id}/roll", roll(app, &req, org, key).await)
        }
        ("GET", ["orgs", org, "events"]) => ("GET /orgs/{org_id}/events", events(app, &req, org).await),
        (
            _,
            ["orgs", _, "api-keys"]
            | ["orgs", _, "api-keys", _]
            | ["orgs", _, "api-keys", _, "roll"]
            | ["orgs", _, "events"],
        ) => ("unmatched", Err(Error::MethodNotAllowed)),
        _ => ("unmatched", Err(Error::RouteNotFound)),
    };
    let org_id = match segments.as_slice() {
        ["orgs", org, ..] if overten::ids::is_valid_org_id(org) => Some(*org),
        _ => None,
    };
    app.cors(finish(&request_id, route, result, org_id))
}

async fn create<S: KeyLifecycle + Membership>(
    app: &App<S>,
    req: &Request,
    org_id: &str,
) -> Result<Response<Body>, Error> {
    let uid = caller_uid(&app.verifier, req).await?;
    let audit = app.audit(req, Actor::user(&uid));
    let request = CreateKeyRequest::parse(body(req)?, audit.at)?;
    let created = service::create_key(&app.store, org_id, request, &audit).await?;
    Ok(json_response(201, &created))
}

async fn list<S: KeyLifecycle + Membership>(
    app: &App<S>,
    req: &Request,
    org_id: &str,
) -> Result<Response<Body>, Error> {
    let uid = caller_uid(&app.verifier, req).await?;
    let params = query(req);
    let query = parse_list_query(params.iter())?;
    let page = service::list_keys(&app.store, &uid, org_id, &query, app.clock.now_secs()).await?;
    Ok(json_response(200, &page))
}

async fn revoke<S: KeyLifecycle + Membership>(
    app: &App<S>,
    req: &Request,
    org_id: &str,
    key_id: &str,
) -> Result<Response<Body>, Error> {
    let uid = caller_uid(&app.verifier, req).await?;
    service::revoke_key(&app.store, org_id, key_id, &app.audit(req, Actor::user(&uid))).await?;
    Ok(empty_response(204))
}

/// `PATCH`: a new name, changed lists (README, "Restricted keys"), or both.
async fn update<S: KeyLifecycle + Membership>(
    app: &App<S>,
    req: &Request,
    org_id: &str,
    key_id: &str,
) -> Result<Response<Body>, Error> {
    let uid = caller_uid(&app.verifier, req).await?;
    let update = parse_key_update(body(req)?)?;
    let audit = app.audit(req, Actor::user(&uid));
    let key = service::update_key(&app.store, org_id, key_id, &update, &audit).await?;
    Ok(json_response(200, &key))
}

async fn roll<S: KeyLifecycle + Membership>(
    app: &App<S>,
    req: &Request,
    org_id: &str,
    key_id: &str,
) -> Result<Response<Body>, Error> {
    let uid = caller_uid(&app.verifier, req).await?;
    let audit = app.audit(req, Actor::user(&uid));
    let request = RollKeyRequest::parse(body(req)?, audit.at)?;
    let rolled = service::roll_key(&app.store, org_id, key_id, request, &audit).await?;
    Ok(json_response(201, &rolled))
}

async fn events<S: KeyLifecycle + Membership>(
    app: &App<S>,
    req: &Request,
    org_id: &str,
) -> Result<Response<Body>, Error> {
    let uid = caller_uid(&app.verifier, req).await?;
    let params = query(req);
    let query = parse_events_query(params.iter())?;
    let page = service::list_events(&app.store, &uid, org_id, &query).await?;
    Ok(json_response(200, &page))
}
