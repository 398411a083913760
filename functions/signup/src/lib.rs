//! `POST /signup`: a Firebase user gets an org (new, or one of theirs from the dashboard), its
//! first API key and a webhook secret, in one transaction.

use lambda_http::{Body, Request, Response};
use overten::Error;
use overten::audit::Actor;
use overten::http::{body, caller_uid, finish, json_response, request_id, segments};
use overten::requests::SignupRequest;
use overten::service;
use overten::store::Orgs;

pub use overten::http::App;

pub async fn handle<S: Orgs>(app: &App<S>, req: Request) -> Response<Body> {
    overten::role::scope(env!("CARGO_PKG_NAME"), dispatch(app, req)).await
}

async fn dispatch<S: Orgs>(app: &App<S>, req: Request) -> Response<Body> {
    let request_id = request_id(&req);
    let result = match (req.method().as_str(), segments(&req).as_slice()) {
        ("POST", ["signup"]) => signup(app, &req).await,
        (_, ["signup"]) => Err(Error::MethodNotAllowed),
        _ => Err(Error::RouteNotFound),
    };
    let org_id = result.as_ref().ok().map(|(_, org)| org.clone());
    app.cors(finish(&request_id, "POST /signup", result.map(|(r, _)| r), org_id.as_deref()))
}

async fn signup<S: Orgs>(app: &App<S>, req: &Request) -> Result<(Response<Body>, String), Error> {
    let uid = caller_uid(&app.verifier, req).await?;
    let request = SignupRequest::parse(body(req)?)?;
    let audit = app.audit(req, Actor::user(&uid));
    let created = service::signup(&app.store, &audit, request).await?;
    let org_id = created.org_id.clone();
    Ok((json_response(201, &created), org_id))
}
