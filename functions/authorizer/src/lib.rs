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
use serde::{Deserialize, Serialize};

/// What downstream integrations read as `requestContext.authorizer.*`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct AuthContext {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// RFC 3339, when the key has an expiry (downstream services can warn before it ends).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// The key's `permissions`, comma-separated, when it is restricted by them (downstream
    /// services check what the gate cannot see with [`overten::restrictions::Restrictions::from_authorizer_context`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permissions: Option<String>,
    /// The key's `formats`, comma-separated, when it is restricted by them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub formats: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    /// On a permission denial: the body's `required` object as JSON text, which the
    /// `ACCESS_DENIED` gateway response inserts as it is (context values are strings).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required: Option<String>,
    /// The format the route's path names (`POST /v1/generations/{format}`), when it is a valid
    /// slug: the access log's `keyFormat`, for the key's usage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_format: Option<String>,
    /// The request's `User-Agent`, [`overten::access_log::escape`]d (printable ASCII but `"`, `\`
    /// and `%` as it is, every other byte `%XX`, at most 256 characters): the access log's
    /// `userAgent`, on Allow and on Deny, which API Gateway inserts raw. None without the header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
}

mod event;
pub use event::{AuthorizerEvent, HttpApiRequest, RestRequest};

/// The authorizer's answer, serialised as API Gateway reads it: the REST API's IAM policy
/// (`principalId`, `policyDocument`, `context`) or the HTTP API's simple response
/// (`isAuthorized`, `context`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum AuthorizerResponse {
    Rest(ApiGatewayCustomAuthorizerResponse<AuthContext>),
    HttpApi(ApiGatewayV2CustomAuthorizerSimpleResponse<AuthContext>),
}

impl AuthorizerResponse {
    /// Whether the request may go on: the HTTP API's `isAuthorized`; for the REST API, a policy
    /// with at least one statement, every one of them an `Allow` (an explicit `Deny` wins in IAM).
    pub fn is_allowed(&self) -> bool {
        match self {
            AuthorizerResponse::Rest(r) => {
                let statements = &r.policy_document.statement;
                !statements.is_empty() && statements.iter().all(|s| s.effect == IamPolicyEffect::Allow)
            }
            AuthorizerResponse::HttpApi(r) => r.is_authorized,
        }
    }

    /// What downstream integrations (and the gateway's templates) read as `authorizer.*`.
    pub fn context(&self) -> &AuthContext {
        match self {
            AuthorizerResponse::Rest(r) => &r.context,
            AuthorizerResponse::HttpApi(r) => &r.context,
        }
    }

    /// The REST API's `principalId` (the key id on `Allow`, `anonymous` on `Deny`); the HTTP
    /// API's simple response has none.
    pub fn principal_id(&self) -> Option<&str> {
        match self {
            AuthorizerResponse::Rest(r) => r.principal_id.as_deref(),
            AuthorizerResponse::HttpApi(_) => None,
        }
    }
}

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

/// The context: the key's ids (on a permission denial too, for the access log), its lists for
/// downstream services, and the error's code, message and `required` when refused.
fn context(decision: &Result<KeyRecord, Refused>, denied: Option<&Denied>, headers: &HeaderMap) -> AuthContext {
    let user_agent = overten::access_log::user_agent(headers);
    match (decision, denied) {
        (Ok(key), None) => AuthContext {
            org_id: Some(key.org_id.clone()),
            key_id: Some(key.key_id.clone()),
            expires_at: key.expires_at.map(overten::clock::rfc3339),
            permissions: key.restrictions.permissions_csv(),
            formats: key.restrictions.formats_csv(),
            user_agent,
            ..Default::default()
        },
        (Ok(key), Some(denied)) => {
            tracing::info!(code = "permission_denied", key_id = %key.key_id, "deny");
            AuthContext {
                org_id: Some(key.org_id.clone()),
                key_id: Some(key.key_id.clone()),
                error_code: Some("permission_denied".into()),
                error_message: Some(denied.message()),
                required: Some(denied.required().to_string()),
                user_agent,
                ..Default::default()
            }
        }
        // The key, when it is one of ours that ended, for the access log (HTTP API; a REST 401
        // has no context). The code stays the response's: the body must not tell revoked from
        // unknown.
        (Err(refused), _) => AuthContext {
            org_id: refused.key.as_ref().map(|k| k.org_id.clone()),
            key_id: refused.key.as_ref().map(|k| k.key_id.clone()),
            error_code: Some(refused.error.code().into()),
            error_message: Some(refused.error.public_message()),
            user_agent,
            ..Default::default()
        },
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
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn an_undecodable_event_names_where_never_what() {
        // Generated at test time: no key-shaped string is committed.
        let generated = overten::ApiKey::generate();
        let key = generated.expose_secret();
        let bodies = [
            format!(r#"{{"type":"REQUEST","headers":{{"x-api-key":"{key}\u0000"}}}}"#),
            format!(r#"{{"type":"REQUEST","headers":{{"x-api-key":["{key}"]}}}}"#),
            format!(r#"{{"type":"REQUEST","methodArn":"{key}""#),
            format!(r#"["{key}"]"#),
            format!(r#"{{"type":"REQUEST","pathParameters":"{key}"}}"#),
            format!(r#"{{"type":"REQUEST","headers":{{"{key} x":"v"}}}}"#),
        ];
        for body in &bodies {
            if let Err(e) = AuthorizerEvent::from_slice(body.as_bytes()) {
                let message = bad_event(&e);
                assert!(message.starts_with("not an authorizer event (") && !message.contains("sk_live_"), "{message}");
            }
        }
        let Err(e) = AuthorizerEvent::from_slice(br#"["x"]"#) else { panic!("an array is no event") };
        assert_eq!(bad_event(&e), "not an authorizer event (Data at line 1, column 0)");
        // The premise: serde's own message would have quoted the key.
        let quoted = bodies.iter().any(|b| {
            AuthorizerEvent::from_slice(b.as_bytes()).err().is_some_and(|e| e.to_string().contains("sk_live_"))
        });
        assert!(quoted, "serde's message quotes the value it met");
    }

    #[test]
    fn only_a_format_slug_reaches_the_access_log() {
        let rule = routes::find("POST", "/v1/generations/{format}");
        let params = |value: &str| std::collections::HashMap::from([("format".to_owned(), value.to_owned())]);
        assert_eq!(route_format(rule, &params("pdf")).as_deref(), Some("pdf"));
        for forged in ["pdf\",\"keyId\":\"key_x", "PDF", "", "a b", &"a".repeat(33)] {
            assert_eq!(route_format(rule, &params(forged)), None, "{forged}");
        }
        // A route that names no format, or none of the table.
        assert_eq!(route_format(routes::find("GET", "/v1/runs/{run_id}"), &params("pdf")), None);
        assert_eq!(route_format(None, &params("pdf")), None);
    }

    #[test]
    fn stage_arn_covers_the_whole_stage() {
        assert_eq!(
            stage_arn("arn:aws:execute-api:us-east-1:123456789012:s4x3opwd6i/test/GET/request").as_deref(),
            Some("arn:aws:execute-api:us-east-1:123456789012:s4x3opwd6i/test/*")
        );
        assert_eq!(stage_arn(""), None);
        assert_eq!(stage_arn("arn:aws:execute-api:us-east-1:1:api"), None);
        assert_eq!(stage_arn("not-an-arn/x/y"), None);
        // Each condition refuses on its own.
        assert_eq!(stage_arn("xrn:aws:execute-api:us-east-1:1:api/prod/GET/x"), None, "not an ARN");
        assert_eq!(stage_arn("arn:aws:execute-api:1:api/prod/GET/x"), None, "too few ARN parts");
        assert_eq!(stage_arn("arn:aws:execute-api:us-east-1:1:/prod/GET/x"), None, "no API id");
        assert_eq!(stage_arn("arn:aws:execute-api:us-east-1:1:api//GET/x"), None, "no stage");
    }

    #[test]
    fn failures_reach_lambda_with_their_error_type() {
        let diagnostic = |err: AuthorizerError| lambda_runtime::Diagnostic::from(err).error_type;
        assert_eq!(diagnostic(AuthorizerError::Store(Error::Unavailable("x".into()))), "ServiceUnavailable");
        assert_eq!(diagnostic(AuthorizerError::Store(Error::Internal("x".into()))), "InternalError");
        assert_eq!(diagnostic(AuthorizerError::BadEvent("x".into())), "BadEvent");
        let message = lambda_runtime::Diagnostic::from(AuthorizerError::BadEvent("no headers".into())).error_message;
        assert!(message.contains("no headers"));
    }

    use overten::store::FixedStore;
    use proptest::prelude::*;

    /// The bytes API Gateway reads, as AWS documents them: the REST API's `principalId`,
    /// `policyDocument` and `context`; the HTTP API's `isAuthorized` and `context`. And what
    /// `is_allowed` says about each.
    #[test]
    fn the_wire_format_and_is_allowed_agree() {
        let store = FixedStore::empty();
        let live = overten::ApiKey::generate();
        let known = FixedStore::with_keys(vec![(live.hash(), overten::store::sample_record("key_live", false))]);
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        let mut with_key = serde_json::Map::new();
        with_key.insert("x-api-key".into(), live.expose_secret().into());
        let allow = runtime.block_on(answer(&known, &event(false, with_key.clone()))).unwrap();
        assert!(allow.is_allowed());
        assert_eq!(allow.principal_id(), Some("key_live"));
        assert_eq!(
            serde_json::to_string(&allow).unwrap(),
            concat!(
                r#"{"principalId":"key_live","policyDocument":{"Version":"2012-10-17","Statement":[{"Action":["execute-api:Invoke"],"#,
                r#""Effect":"Allow","Resource":["arn:aws:execute-api:us-east-1:123456789012:abc/prod/*"]}]},"#,
                r#""context":{"org_id":"org_1","key_id":"key_live"},"usageIdentifierKey":null}"#
            )
        );
        // A key problem on the REST API: the Lambda error whose message is exactly `Unauthorized`.
        let Err(refused) = runtime.block_on(answer(&store, &event(false, serde_json::Map::new()))) else {
            panic!("a missing key is no answer")
        };
        assert!(matches!(&refused, AuthorizerError::Unauthorized(e) if e.code() == "missing_api_key"), "{refused:?}");
        let diagnostic = lambda_runtime::Diagnostic::from(refused);
        assert_eq!(
            (diagnostic.error_type.as_str(), diagnostic.error_message.as_str()),
            ("Unauthorized", "Unauthorized")
        );

        let allow = runtime.block_on(answer(&known, &event(true, with_key))).unwrap();
        assert!(allow.is_allowed());
        assert_eq!(allow.principal_id(), None);
        assert_eq!(
            serde_json::to_string(&allow).unwrap(),
            r#"{"isAuthorized":true,"context":{"org_id":"org_1","key_id":"key_live"}}"#
        );
        let deny = runtime.block_on(answer(&store, &event(true, serde_json::Map::new()))).unwrap();
        assert!(!deny.is_allowed());
        assert_eq!(serde_json::to_value(&deny).unwrap()["isAuthorized"], false);

        // A REST policy allows only if it has statements and every one is an Allow.
        let AuthorizerResponse::Rest(mut rest) = runtime
            .block_on(answer(
                &known,
                &event(false, {
                    let mut h = serde_json::Map::new();
                    h.insert("x-api-key".into(), live.expose_secret().into());
                    h
                }),
            ))
            .unwrap()
        else {
            panic!("a REST event gets the REST answer")
        };
        let mut deny_too = rest.policy_document.statement[0].clone();
        deny_too.effect = IamPolicyEffect::Deny;
        rest.policy_document.statement.push(deny_too);
        assert!(!AuthorizerResponse::Rest(rest.clone()).is_allowed(), "an explicit Deny wins");
        rest.policy_document.statement.clear();
        assert!(!AuthorizerResponse::Rest(rest).is_allowed(), "no statement, no Allow");
    }

    /// `"version": "2.0"` and only that reads the event as the HTTP API's; the peek builds
    /// nothing else and any other `version` is a REST event, as before.
    #[test]
    fn the_event_shape_is_chosen_by_version() {
        let decode = |v: Value| AuthorizerEvent::from_slice(&serde_json::to_vec(&v).unwrap());
        let v2 = event(true, serde_json::Map::new());
        assert!(matches!(decode(v2.clone()), Ok(AuthorizerEvent::HttpApi(_))));
        for version in [Value::Null, serde_json::json!("1.0"), serde_json::json!(2), serde_json::json!({"a": [1]})] {
            let mut e = event(false, serde_json::Map::new());
            e["version"] = version.clone();
            assert!(matches!(decode(e), Ok(AuthorizerEvent::Rest(_))), "{version}");
        }
        let rest = event(false, serde_json::Map::new());
        assert!(matches!(decode(rest.clone()), Ok(AuthorizerEvent::Rest(_))));
        assert!(decode(serde_json::json!([1, 2])).is_err());
        assert!(decode(serde_json::json!({"headers": 5})).is_err());
        // The same through serde (the local gateway and tests decode from values).
        assert!(matches!(serde_json::from_value::<AuthorizerEvent>(v2), Ok(AuthorizerEvent::HttpApi(_))));
        assert!(matches!(serde_json::from_value::<AuthorizerEvent>(rest), Ok(AuthorizerEvent::Rest(_))));
    }

    /// The production path: the event's JSON text through [`invoke`].
    async fn answer<S: KeyLookup>(store: &S, event: &Value) -> Result<AuthorizerResponse, AuthorizerError> {
        invoke(store, &serde_json::value::to_raw_value(event).unwrap(), "test").await
    }

    /// A REST or HTTP API event for `GET /v1/runs` with `headers`.
    fn event(http_api: bool, headers: serde_json::Map<String, Value>) -> Value {
        if http_api {
            serde_json::json!({"version": "2.0", "type": "REQUEST", "routeArn": "arn:aws:execute-api:us-east-1:123456789012:abc/prod/GET/v1/runs",
                "headers": headers, "requestContext": {"http": {"method": "GET", "path": "/v1/runs"}}})
        } else {
            serde_json::json!({"type": "REQUEST", "methodArn": "arn:aws:execute-api:us-east-1:123456789012:abc/prod/GET/v1/runs",
                "headers": headers, "multiValueHeaders": {}, "requestContext": {}})
        }
    }

    /// Allow and Deny alike carry the request's user agent, escaped for the access log (API
    /// Gateway inserts `$context.authorizer.user_agent` raw); without one, no entry.
    #[test]
    fn the_context_carries_the_user_agent_escaped() {
        let live = overten::ApiKey::generate();
        let store = FixedStore::with_keys(vec![(live.hash(), overten::store::sample_record("key_live", false))]);
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        let agents = [
            ("curl/8.5.0", "curl/8.5.0"),
            (r#"x","keyId":"key_forged"#, "x%22,%22keyId%22:%22key_forged"),
            (r"back\slash", "back%5Cslash"),
            ("tab\there é", "tab%09here %C3%A9"),
        ];
        for http_api in [false, true] {
            for (agent, logged) in agents {
                for key in [Some(live.expose_secret()), None] {
                    let mut headers = serde_json::Map::new();
                    headers.insert("user-agent".into(), agent.into());
                    if let Some(key) = key {
                        headers.insert("x-api-key".into(), key.into());
                    }
                    let answer = runtime.block_on(answer(&store, &event(http_api, headers)));
                    if key.is_none() && !http_api {
                        assert!(matches!(answer, Err(AuthorizerError::Unauthorized(_))), "no context on the REST 401");
                        continue;
                    }
                    let answer = answer.unwrap();
                    let context = answer.context();
                    assert_eq!(context.user_agent.as_deref(), Some(logged), "{agent:?}: {answer:?}");
                    if key.is_some() {
                        let expected = AuthContext {
                            org_id: Some("org_1".into()),
                            key_id: Some("key_live".into()),
                            user_agent: Some(logged.into()),
                            ..Default::default()
                        };
                        assert_eq!(context, &expected, "the billing ids and the user agent, nothing else");
                    } else {
                        assert_eq!(context.error_code.as_deref(), Some("missing_api_key"));
                    }
                }
            }
            let mut headers = serde_json::Map::new();
            headers.insert("x-api-key".into(), live.expose_secret().into());
            let allowed = runtime.block_on(answer(&store, &event(http_api, headers))).unwrap();
            let wire = serde_json::to_value(&allowed).unwrap();
            assert_eq!(wire["context"], serde_json::json!({"org_id": "org_1", "key_id": "key_live"}));
            let denied = runtime.block_on(answer(&store, &event(http_api, serde_json::Map::new())));
            if !http_api {
                assert!(matches!(denied, Err(AuthorizerError::Unauthorized(_))), "the REST 401 has no context");
                continue;
            }
            let denied = denied.unwrap();
            assert_eq!(denied.context().user_agent, None, "{denied:?}");
            let wire = serde_json::to_value(&denied).unwrap();
            assert!(wire["context"].get("user_agent").is_none(), "{wire}");
        }
    }

    fn arbitrary_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            "(REQUEST|2.0|sk_live_[0-9A-Za-z]{0,30}|arn:aws:execute-api:[a-z0-9:/-]{0,40}|.{0,20})"
                .prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                proptest::collection::btree_map(
                    "(version|type|methodArn|headers|x-api-key|authorization|requestContext|routeArn|.{0,8})",
                    inner,
                    0..6
                )
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        /// Any event: a Deny, or an error (API Gateway answers 5xx). Never a panic, never an Allow
        /// from a store that knows no key.
        #[test]
        fn arbitrary_events_never_allow(event in arbitrary_json()) {
            let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
            if let Ok(answer) = runtime.block_on(answer(&FixedStore::empty(), &event)) {
                prop_assert!(!answer.is_allowed(), "{:?}", answer);
            }
        }
    }

    /// What a request may carry: the live key, the revoked key, a well-formed key nobody issued,
    /// the live key with one character changed, or garbage.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Credential {
        Live,
        Revoked,
        Unknown,
        Mutated(usize),
        Garbage,
    }

    fn credential() -> impl Strategy<Value = Credential> {
        prop_oneof![
            Just(Credential::Live),
            Just(Credential::Revoked),
            Just(Credential::Unknown),
            (0usize..36).prop_map(Credential::Mutated),
            Just(Credential::Garbage),
        ]
    }

    struct Keys {
        live: overten::ApiKey,
        revoked: overten::ApiKey,
        unknown: overten::ApiKey,
    }

    impl Keys {
        fn text(&self, credential: Credential) -> String {
            match credential {
                Credential::Live => self.live.expose_secret().to_owned(),
                Credential::Revoked => self.revoked.expose_secret().to_owned(),
                Credential::Unknown => self.unknown.expose_secret().to_owned(),
                Credential::Mutated(at) => {
                    let mut bytes = self.live.expose_secret().as_bytes().to_vec();
                    bytes[at] = if bytes[at] == b'a' { b'b' } else { b'a' };
                    String::from_utf8(bytes).unwrap()
                }
                Credential::Garbage => "sk_live_not-a-key".to_owned(),
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]

        /// `Allow` exactly when the credential that counts (X-API-Key first, else the bearer) is
        /// the live key's bytes and the store answers; a failing store never yields `Allow`.
        #[test]
        fn allow_exactly_for_the_live_key(
            x_api_key in proptest::option::of(credential()),
            bearer in proptest::option::of(credential()),
            failing in any::<bool>(),
            http_api in any::<bool>(),
        ) {
            let keys = Keys { live: overten::ApiKey::generate(), revoked: overten::ApiKey::generate(), unknown: overten::ApiKey::generate() };
            let store = if failing {
                FixedStore::failing()
            } else {
                FixedStore::with_keys(vec![
                    (keys.live.hash(), overten::store::sample_record("key_live", false)),
                    (keys.revoked.hash(), overten::store::sample_record("key_revoked", true)),
                ])
            };
            let mut headers = serde_json::Map::new();
            if let Some(c) = x_api_key { headers.insert("x-api-key".into(), keys.text(c).into()); }
            if let Some(c) = bearer { headers.insert("authorization".into(), format!("Bearer {}", keys.text(c)).into()); }
            let event = if http_api {
                serde_json::json!({"version": "2.0", "type": "REQUEST", "routeArn": "arn:aws:execute-api:us-east-1:123456789012:abc/prod/GET/v1/runs",
                    "headers": headers, "requestContext": {"http": {"method": "GET", "path": "/v1/runs"}}})
            } else {
                serde_json::json!({"type": "REQUEST", "methodArn": "arn:aws:execute-api:us-east-1:123456789012:abc/prod/GET/v1/runs",
                    "headers": headers, "multiValueHeaders": {}, "requestContext": {}})
            };
            let counts = x_api_key.or(bearer);
            let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
            let answer = runtime.block_on(answer(&store, &event));
            // The REST API's key problems are the error `Unauthorized`: the same refusal, its code
            // carried by the error instead of the context.
            if let Err(AuthorizerError::Unauthorized(err)) = &answer {
                prop_assert!(!http_api, "the HTTP API answers every refusal");
                let expected = if counts.is_none() { "missing_api_key" } else { "invalid_api_key" };
                prop_assert_eq!(err.code(), expected);
                prop_assert!(counts != Some(Credential::Live) || failing, "the live key is never refused by a working store");
                return Ok(());
            }
            let allowed = answer.as_ref().is_ok_and(AuthorizerResponse::is_allowed);
            prop_assert_eq!(allowed, !failing && counts == Some(Credential::Live), "{:?}", answer);
            if let Ok(a) = &answer {
                let context = a.context();
                if allowed {
                    // What downstream services bill by, and nothing else.
                    prop_assert_eq!(context.key_id.as_deref(), Some("key_live"));
                    prop_assert_eq!(context.org_id.as_deref(), Some("org_1"));
                    prop_assert!(context.error_code.is_none());
                } else {
                    // A key of ours that ended is named, for the access log's usage line; no
                    // other refusal names one.
                    let named = counts == Some(Credential::Revoked);
                    prop_assert_eq!(context.key_id.is_some(), named);
                    prop_assert_eq!(context.org_id.is_some(), named);
                    let expected = if counts.is_none() { "missing_api_key" } else { "invalid_api_key" };
                    prop_assert_eq!(context.error_code.as_deref(), Some(expected));
                    prop_assert!(context.error_message.as_deref().is_some_and(|m| !m.is_empty()));
                }
            }
            // Errors (API Gateway's 5xx) happen only when the store failed on a well-formed key.
            let well_formed = matches!(counts, Some(Credential::Live | Credential::Revoked | Credential::Unknown));
            prop_assert_eq!(matches!(answer, Err(AuthorizerError::Store(_))), failing && well_formed, "{:?}", answer);
        }
    }
}
