//! The API Gateway custom authorizer in front of every downstream endpoint.
//!
//! - REST API REQUEST authorizer: a valid key gets an `Allow` for the whole stage
//!   (`arn:aws:execute-api:<region>:<account>:<api>/<stage>/*`), principal = key id, context
//!   `{org_id, key_id}` for billing (and `expires_at` for a key that has one); a missing, malformed, unknown or revoked key gets a `Deny`
//!   whose context carries the contract's error code and message (the gateway response turns it
//!   into 401 with the contract's body). Either context carries `user_agent`, the request's
//!   `User-Agent` made safe for the JSON access log ([`overten::access_log`]), when it has one.
//! - HTTP API payload 2.0: the simple response, `isAuthorized` + the same context.
//! - DynamoDB failing: an `Err`, which API Gateway answers with a 5xx. Never an `Allow`.
//! - Key usage (README, "Key usage"): the context names the key on a permission denial (and, on
//!   the HTTP API, on every refusal of a key of ours) for the access log, and `key_format`, the
//!   format the route names; a REST 401 for a revoked or expired key carries no context, so the
//!   authorizer writes that attempt's `key usage` line itself ([`overten::usage::line::emit`]).
//!
//! Typed end to end: the invocation's bytes are decoded straight into [`AuthorizerEvent`] (a
//! peek at `version`, then the REST or HTTP API request type; no `serde_json::Value` of the
//! event), and the answer is an [`AuthorizerResponse`] serialised as it is. Callers ask it
//! [`AuthorizerResponse::is_allowed`] and [`AuthorizerResponse::context`].

use aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerPolicy, ApiGatewayCustomAuthorizerResponse, ApiGatewayV2CustomAuthorizerSimpleResponse,
};
/// The effect of a policy statement, for callers that read the REST answer's policy (the local
/// gateway evaluates it against the method ARN as API Gateway does).
pub use aws_lambda_events::iam::IamPolicyEffect;
use aws_lambda_events::iam::IamPolicyStatement;
use http::HeaderMap;
use overten::Error;
use overten::restrictions::{Denied, RouteMatch, routes, routes::RouteRule};
use overten::service::{self, Refused};
use overten::store::{KeyLookup, KeyRecord};

mod event;
pub use event::{AuthorizerEvent, HttpApiRequest, RestRequest};
mod response;
use response::context;
pub use response::{AuthContext, AuthorizerResponse};

/// Why an event could not be answered at all (becomes a Lambda error, so API Gateway answers 5xx).
#[derive(Debug, thiserror::Error)]
pub enum AuthorizerError {
    #[error("not an API Gateway REQUEST authorizer event: {0}")]
    BadEvent(String),
    /// A key problem on the REST API (missing, malformed, unknown, revoked or expired key): the
    /// Lambda error `Unauthorized`, which API Gateway answers with its `UNAUTHORIZED` response
    /// (401). A `Deny` would be `ACCESS_DENIED`, which is the 403 of a permission denial; a
    /// gateway response has one status (README, "Gateway responses").
    #[error("Unauthorized")]
    Unauthorized(Error),
    #[error(transparent)]
    Store(#[from] Error),
}

/// The authorizer's answer to `event`, judged now.
pub async fn authorize<S: KeyLookup>(
    store: &S,
    event: &AuthorizerEvent,
    request_id: &str,
) -> Result<AuthorizerResponse, AuthorizerError> {
    overten::role::scope(env!("CARGO_PKG_NAME"), dispatch(store, event, request_id, overten::clock::now_secs())).await
}

/// [`authorize`] at `now` (seconds since the epoch), against which expiry is judged.
pub async fn authorize_at<S: KeyLookup>(
    store: &S,
    event: &AuthorizerEvent,
    request_id: &str,
    now: i64,
) -> Result<AuthorizerResponse, AuthorizerError> {
    overten::role::scope(env!("CARGO_PKG_NAME"), dispatch(store, event, request_id, now)).await
}

/// Why an event could not be decoded, without any of its text: serde's messages quote the value
/// they met, which may be a header holding a key.
pub fn bad_event(e: &serde_json::Error) -> String {
    format!("not an authorizer event ({:?} at line {}, column {})", e.classify(), e.line(), e.column())
}

/// One invocation as the Lambda runtime hands it over: the payload's JSON text, decoded here so an
/// event of neither shape is the function's `BadEvent` error (API Gateway answers 5xx).
pub async fn invoke<S: KeyLookup>(
    store: &S,
    payload: &serde_json::value::RawValue,
    request_id: &str,
) -> Result<AuthorizerResponse, AuthorizerError> {
    let event =
        AuthorizerEvent::from_slice(payload.get().as_bytes()).map_err(|e| AuthorizerError::BadEvent(bad_event(&e)))?;
    authorize(store, &event, request_id).await
}

async fn dispatch<S: KeyLookup>(
    store: &S,
    event: &AuthorizerEvent,
    request_id: &str,
    now: i64,
) -> Result<AuthorizerResponse, AuthorizerError> {
    let result = match event {
        AuthorizerEvent::Rest(event) => rest_api(store, event, now).await.map(AuthorizerResponse::Rest),
        AuthorizerEvent::HttpApi(event) => http_api(store, event, now).await.map(AuthorizerResponse::HttpApi),
    };
    match &result {
        Err(AuthorizerError::Unauthorized(_)) | Ok(_) => {}
        Err(err) => tracing::error!(request_id, error = %err, "authorizer failed closed"),
    }
    result
}

/// The REST API's IAM-policy answer: `Allow` for a live key its restrictions let through,
/// `Deny` (`ACCESS_DENIED`, 403 `permission_denied`) for one they refuse, the error `Unauthorized`
/// (401) for a key problem.
pub async fn rest_api<S: KeyLookup>(
    store: &S,
    event: &RestRequest,
    now: i64,
) -> Result<ApiGatewayCustomAuthorizerResponse<AuthContext>, AuthorizerError> {
    let method_arn = event.method_arn.as_deref().unwrap_or_default();
    let route = rest_route(event);
    let key = match decide(store, &event.headers, now).await? {
        Ok(key) => key,
        Err(refused) => {
            if let (Some(key), Some(code)) = (&refused.key, refused.usage_code()) {
                let format = route_format(route.rule, &event.path_parameters);
                let route = format!("{} {}", route.method, route.resource);
                emit_refusal(key, code, route, format, event.source_ip.as_deref(), &event.headers);
            }
            return Err(AuthorizerError::Unauthorized(refused.error));
        }
    };
    let verdict = if key.restrictions.is_restricted() { judge_rest(&key, event, &route) } else { Ok(()) };
    let mut response = ApiGatewayCustomAuthorizerResponse::<AuthContext>::default();
    let (effect, resource) = match &verdict {
        Ok(()) => {
            let stage = stage_arn(method_arn)
                .ok_or_else(|| AuthorizerError::BadEvent("methodArn is not an execute-api ARN".into()))?;
            response.principal_id = Some(key.key_id.clone());
            (IamPolicyEffect::Allow, stage)
        }
        Err(_) => {
            response.principal_id = Some(key.key_id.clone());
            (IamPolicyEffect::Deny, stage_arn(method_arn).unwrap_or_else(|| "*".into()))
        }
    };
    let mut statement = IamPolicyStatement::default();
    statement.action = vec!["execute-api:Invoke".into()];
    statement.effect = effect;
    statement.resource = vec![resource];
    let mut policy = ApiGatewayCustomAuthorizerPolicy::default();
    policy.version = Some("2012-10-17".into());
    policy.statement = vec![statement];
    response.policy_document = policy;
    response.context = context(&Ok(key), verdict.err().as_ref(), &event.headers);
    response.context.key_format = route_format(route.rule, &event.path_parameters);
    Ok(response)
}

/// A REST request's route: `httpMethod`, `resource` and the table's line for them.
struct RestRoute<'a> {
    method: &'a str,
    resource: &'a str,
    rule: Option<&'static RouteRule>,
}

fn rest_route(event: &RestRequest) -> RestRoute<'_> {
    let method = event.http_method.as_deref().unwrap_or_default();
    let resource = event.resource.as_deref().unwrap_or_default();
    RestRoute { method, resource, rule: routes::find(method, resource) }
}

/// The format a route of the table names in its path, when it is a valid slug (safe in the access
/// log as it is).
fn route_format(rule: Option<&RouteRule>, params: &std::collections::HashMap<String, String>) -> Option<String> {
    let value = params.get(rule?.format_from?)?;
    overten::restrictions::is_format_slug(value).then(|| value.clone())
}

/// The `key usage` line of a REST 401 for a key of ours that ended: the access-log line of that
/// request cannot name the key.
fn emit_refusal(
    key: &KeyRecord,
    code: &str,
    route: String,
    format: Option<String>,
    source_ip: Option<&str>,
    headers: &HeaderMap,
) {
    let user_agent = overten::access_log::user_agent(headers);
    overten::usage::line::emit(&overten::usage::line::Usage {
        org_id: &key.org_id,
        key_id: &key.key_id,
        status: 401,
        route: Some(&route),
        format: format.as_deref(),
        ip: source_ip,
        user_agent: user_agent.as_deref(),
        refused: Some(code),
    });
}

/// A restricted key against a REST request: its route (`httpMethod` + `resource`), the format
/// its path names, its `sourceIp`.
fn judge_rest(key: &KeyRecord, event: &RestRequest, route: &RestRoute<'_>) -> Result<(), Denied> {
    let source = event.source_ip.as_deref();
    match route.rule {
        Some(rule) => key.restrictions.check(known(rule, &event.path_parameters), source),
        None => key.restrictions.check(RouteMatch::Unknown(&format!("{} {}", route.method, route.resource)), source),
    }
}

/// A restricted key against an HTTP API request: its `routeKey`, path parameters, `sourceIp`.
fn judge_http(key: &KeyRecord, event: &HttpApiRequest) -> Result<(), Denied> {
    let route_key = event.route_key.as_deref().unwrap_or_default();
    let source = event.source_ip.as_deref();
    match routes::find_route_key(route_key) {
        Some(rule) => key.restrictions.check(known(rule, &event.path_parameters), source),
        None => key.restrictions.check(RouteMatch::Unknown(route_key), source),
    }
}

/// What a route of the table asks: its permission, and the format its path parameter names (an
/// empty one when the parameter is missing, which no list holds).
fn known<'a>(rule: &RouteRule, params: &'a std::collections::HashMap<String, String>) -> RouteMatch<'a> {
    let format = rule.format_from.map(|p| params.get(p).map_or("", String::as_str));
    RouteMatch::Known { permission: rule.required_permission(), format }
}

/// The HTTP API's (payload 2.0) simple answer: `isAuthorized` and the context, whatever refused
/// (HTTP APIs have no gateway responses to tell 401 from 403).
pub async fn http_api<S: KeyLookup>(
    store: &S,
    event: &HttpApiRequest,
    now: i64,
) -> Result<ApiGatewayV2CustomAuthorizerSimpleResponse<AuthContext>, AuthorizerError> {
    let decision = decide(store, &event.headers, now).await?;
    let denied = match &decision {
        Ok(key) if key.restrictions.is_restricted() => judge_http(key, event).err(),
        _ => None,
    };
    let mut response = ApiGatewayV2CustomAuthorizerSimpleResponse::<AuthContext>::default();
    response.is_authorized = decision.is_ok() && denied.is_none();
    response.context = context(&decision, denied.as_ref(), &event.headers);
    let rule = event.route_key.as_deref().and_then(routes::find_route_key);
    response.context.key_format = route_format(rule, &event.path_parameters);
    Ok(response)
}

/// `Ok(Ok(key))` allow, `Ok(Err(refused))` deny with a client error (and the key when it is one of
/// ours that ended), `Err` fail closed.
async fn decide<S: KeyLookup>(
    store: &S,
    headers: &HeaderMap,
    now: i64,
) -> Result<Result<KeyRecord, Refused>, AuthorizerError> {
    match service::authenticate_key_at(store, headers, now).await {
        Ok(key) => {
            // Every allowed request is in API Gateway's access log already (orgId, keyId): a line
            // of our own at info would format and write the same ids again on the hot path.
            tracing::debug!(org_id = %key.org_id, key_id = %key.key_id, "allow");
            Ok(Ok(key))
        }
        Err(refused) if refused.error.is_server_error() => Err(AuthorizerError::Store(refused.error)),
        Err(refused) => {
            tracing::info!(code = refused.error.code(), "deny");
            Ok(Err(refused))
        }
    }
}

/// `arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/v1/runs` →
/// `arn:aws:execute-api:us-east-1:123456789012:abc123/prod/*`: one decision covers the stage.
pub fn stage_arn(method_arn: &str) -> Option<String> {
    let (prefix, path) = method_arn.rsplit_once(':')?;
    if !prefix.starts_with("arn:") || prefix.split(':').count() != 5 {
        return None;
    }
    let mut parts = path.split('/');
    let (api, stage) = (parts.next()?, parts.next()?);
    if api.is_empty() || stage.is_empty() {
        return None;
    }
    Some(format!("{prefix}:{api}/{stage}/*"))
}

impl From<AuthorizerError> for lambda_runtime::Diagnostic {
    fn from(err: AuthorizerError) -> Self {
        let error_type = match &err {
            // API Gateway reads the message: exactly `Unauthorized`.
            AuthorizerError::Unauthorized(_) => "Unauthorized",
            AuthorizerError::BadEvent(_) => "BadEvent",
            AuthorizerError::Store(e) if e.code() == "service_unavailable" => "ServiceUnavailable",
            AuthorizerError::Store(_) => "InternalError",
        };
        lambda_runtime::Diagnostic { error_type: error_type.into(), error_message: err.to_string() }
    }
}

#[cfg(test)]
mod tests;
