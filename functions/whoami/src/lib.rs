//! `GET /v1/whoami`, behind the authorizer: answers `{"org_id", "key_id"}` from
//! `requestContext.authorizer`, exactly what the generation, runs and files integrations read to
//! bill the org. It makes no database call: the authorizer already did.

use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use overten::Error;
use overten::http::{finish, json_response, request_id};
use serde_json::json;

/// The org and key the authorizer put in the request context.
pub fn caller(req: &Request) -> Option<(String, String)> {
    let Some(RequestContext::ApiGatewayV1(ctx)) = req.request_context_ref() else { return None };
    let field = |name: &str| ctx.authorizer.fields.get(name).and_then(|v| v.as_str()).map(str::to_owned);
    Some((field("org_id")?, field("key_id")?))
}

pub async fn handle(req: Request) -> Response<Body> {
    let request_id = request_id(&req);
    let caller = caller(&req);
    // Reaching here without a context means the route was deployed without the authorizer.
    let result = match &caller {
        Some((org_id, key_id)) => Ok(json_response(200, &json!({"org_id": org_id, "key_id": key_id}))),
        None => Err(Error::Internal("GET /v1/whoami reached without an authorizer context".into())),
    };
    finish(&request_id, "GET /v1/whoami", result, caller.as_ref().map(|(org, _)| org.as_str()))
}
