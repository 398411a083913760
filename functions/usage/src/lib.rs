//! Key usage's routes (README, "Key usage"), for an org's members (Firebase ID token):
//!
//! - `GET /orgs/{org_id}/api-keys/{key_id}/usage?from=&to=`: the key's days (at most 92, default
//!   the last 30), live or ended key alike;
//! - `GET /orgs/{org_id}/usage?from=&to=`: per key, per day, `requests` and `refused`;
//! - `GET /orgs/{org_id}/api-keys/{key_id}/suggested-restrictions`: the `PATCH` body that would
//!   restrict the key to what it did in the last 30 days.
//!
//! Read-only: the usage table is written by the aggregator alone.

use lambda_http::{Body, Request, Response};
use overten::Error;
use overten::http::{App, caller_uid, finish, json_response, query, request_id, segments};
use overten::ids::{is_valid_key_id, is_valid_org_id};
use overten::store::{Membership, OrgKeys, ReadUsage, UsageReader};
use overten::usage::report::{DayRange, key_report, org_report};
use overten::usage::suggest::{EVIDENCE_DAYS, suggest};

/// The tables, Firebase and CORS settings from the environment (`USAGE_TABLE` beside the key
/// tables), once per cold start.
pub async fn app_from_env() -> Result<App<UsageReader>, Box<dyn std::error::Error + Send + Sync>> {
    let app = App::from_env().await?;
    let timeouts = overten::config::DynamoTimeouts::MANAGEMENT;
    let table = std::env::var("USAGE_TABLE").map_err(|_| "USAGE_TABLE is not set")?;
    let usage =
        overten::store::DynamoUsage::new(app.store.client().clone(), table).with_retry_budget(timeouts.retry_budget);
    let reader = UsageReader { keys: app.store.clone(), usage };
    Ok(App { store: reader, verifier: app.verifier, cors_origin: app.cors_origin, clock: app.clock })
}

pub async fn handle<S: Membership + OrgKeys + ReadUsage>(app: &App<S>, req: Request) -> Response<Body> {
    overten::role::scope(env!("CARGO_PKG_NAME"), dispatch(app, req)).await
}

async fn dispatch<S: Membership + OrgKeys + ReadUsage>(app: &App<S>, req: Request) -> Response<Body> {
    let request_id = request_id(&req);
    let segments = segments(&req);
    let (route, result) = match (req.method().as_str(), segments.as_slice()) {
        ("GET", ["orgs", org, "api-keys", key, "usage"]) => {
            ("GET /orgs/{org_id}/api-keys/{key_id}/usage", key_usage(app, &req, org, key).await)
        }
        ("GET", ["orgs", org, "usage"]) => ("GET /orgs/{org_id}/usage", org_usage(app, &req, org).await),
        ("GET", ["orgs", org, "api-keys", key, "suggested-restrictions"]) => {
            ("GET /orgs/{org_id}/api-keys/{key_id}/suggested-restrictions", suggested(app, &req, org, key).await)
        }
        (_, ["orgs", _, "api-keys", _, "usage" | "suggested-restrictions"] | ["orgs", _, "usage"]) => {
            ("unmatched", Err(Error::MethodNotAllowed))
        }
        _ => ("unmatched", Err(Error::RouteNotFound)),
    };
    let org_id = match segments.as_slice() {
        ["orgs", org, ..] if is_valid_org_id(org) => Some(*org),
        _ => None,
    };
    app.cors(finish(&request_id, route, result, org_id))
}

/// A member of the org (404 `org_not_found` otherwise, as for every org route), and for a key
/// route a key of that org, live or ended (404 `key_not_found`).
async fn require<S: Membership + OrgKeys>(
    app: &App<S>,
    req: &Request,
    org_id: &str,
    key_id: Option<&str>,
) -> Result<(), Error> {
    let uid = caller_uid(&app.verifier, req).await?;
    if !is_valid_org_id(org_id) || !app.store.is_member(org_id, &uid).await? {
        return Err(Error::OrgNotFound);
    }
    if let Some(key_id) = key_id
        && (!is_valid_key_id(key_id) || !app.store.has_key(org_id, key_id).await?)
    {
        return Err(Error::KeyNotFound);
    }
    Ok(())
}

async fn key_usage<S: Membership + OrgKeys + ReadUsage>(
    app: &App<S>,
    req: &Request,
    org_id: &str,
    key_id: &str,
) -> Result<Response<Body>, Error> {
    let params = query(req);
    // The range is checked before anything is read: a bad one is 400 for anyone.
    let range = DayRange::parse(params.iter(), app.clock.now_secs())?;
    require(app, req, org_id, Some(key_id)).await?;
    let stored = app.store.key_days(org_id, key_id, range.with_lookback()).await?;
    Ok(json_response(200, &key_report(key_id, range, &stored)))
}

async fn org_usage<S: Membership + OrgKeys + ReadUsage>(
    app: &App<S>,
    req: &Request,
    org_id: &str,
) -> Result<Response<Body>, Error> {
    let params = query(req);
    let range = DayRange::parse(params.iter(), app.clock.now_secs())?;
    require(app, req, org_id, None).await?;
    let stored = app.store.org_days(org_id, range).await?;
    Ok(json_response(200, &org_report(org_id, range, stored)))
}

async fn suggested<S: Membership + OrgKeys + ReadUsage>(
    app: &App<S>,
    req: &Request,
    org_id: &str,
    key_id: &str,
) -> Result<Response<Body>, Error> {
    let params = query(req);
    if let Some((name, _)) = params.iter().next() {
        let shown: String = name.chars().take(40).collect();
        return Err(Error::InvalidRequest(format!("unknown query parameter `{shown}`")));
    }
    require(app, req, org_id, Some(key_id)).await?;
    let range = DayRange::last(EVIDENCE_DAYS, app.clock.now_secs());
    let stored = app.store.key_days(org_id, key_id, range).await?;
    Ok(json_response(200, &suggest(stored.values())))
}
