//! API Gateway events, as the deployed REST API (and HTTP API) hand them to the functions.

use lambda_http::Request;
use serde_json::{Map, Value, json};

/// A REST API proxy event for `method path` (query string allowed), decoded by lambda_http exactly
/// as in Lambda.
pub fn rest_request(method: &str, path_and_query: &str, headers: &[(&str, &str)], body: Option<&str>) -> Request {
    rest_request_with_authorizer(method, path_and_query, headers, body, Value::Null)
}

/// The same, as a route behind the authorizer receives it: `requestContext.authorizer` holds the
/// authorizer's context.
pub fn rest_request_with_authorizer(
    method: &str,
    path_and_query: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
    authorizer: Value,
) -> Request {
    let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
    let query: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let request_id = format!("req-{}", overten::api_key::random_base62(12));
    let event =
        local_gateway::events::rest_proxy_event(method, path, &query, &owned(headers), body, &request_id, authorizer);
    lambda_http::request::from_str(&event.to_string()).expect("a valid REST proxy event")
}

/// A REST API REQUEST-authorizer event with `headers`, for `GET /v1/whoami`.
pub fn rest_authorizer_event(headers: &[(&str, &str)]) -> Value {
    rest_authorizer_event_for("GET", "/v1/whoami", headers, "127.0.0.1")
}

/// A REST API REQUEST-authorizer event for `method path` from `source_ip`: `resource` and
/// `pathParameters` as API Gateway fills them for a route of the route table (the path itself for
/// any other).
pub fn rest_authorizer_event_for(method: &str, path: &str, headers: &[(&str, &str)], source_ip: &str) -> Value {
    let (resource, params) = match local_gateway::downstream(method, path) {
        Some((rule, params)) => (rule.route.split_once(' ').unwrap().1.to_owned(), params),
        None => (path.to_owned(), vec![]),
    };
    let resource = local_gateway::events::Resource { path: &resource, params: &params };
    local_gateway::events::authorizer_event(method, path, &resource, &owned(headers), source_ip, "req-1")
}

/// An HTTP API payload-2.0 authorizer event for `method path` from `source_ip`: `routeKey` and
/// `pathParameters` as the HTTP API fills them for a route of the route table.
pub fn http_api_authorizer_event_for(method: &str, path: &str, headers: &[(&str, &str)], source_ip: &str) -> Value {
    let mut event = http_api_authorizer_event(headers);
    let (route_key, params) = match local_gateway::downstream(method, path) {
        Some((rule, params)) => (rule.route.to_owned(), params),
        None => (format!("{method} {path}"), vec![]),
    };
    let params: Map<String, Value> = params.into_iter().map(|(k, v)| (k, json!(v))).collect();
    event["routeKey"] = json!(route_key);
    event["requestContext"]["routeKey"] = json!(route_key);
    event["rawPath"] = json!(path);
    event["pathParameters"] = json!(params);
    event["requestContext"]["http"]["method"] = json!(method);
    event["requestContext"]["http"]["path"] = json!(path);
    event["requestContext"]["http"]["sourceIp"] = json!(source_ip);
    event
}

/// An HTTP API payload-2.0 authorizer event with `headers` (names lowercased, as HTTP APIs send them).
pub fn http_api_authorizer_event(headers: &[(&str, &str)]) -> Value {
    let headers: Map<String, Value> = headers.iter().map(|(k, v)| (k.to_ascii_lowercase(), json!(v))).collect();
    json!({
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": "arn:aws:execute-api:us-east-1:123456789012:abcdef123/test/GET/v1/whoami",
        "identitySource": [],
        "routeKey": "GET /v1/whoami",
        "rawPath": "/v1/whoami",
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012", "apiId": "abcdef123", "domainName": "id.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "id", "http": {"method": "GET", "path": "/v1/whoami", "protocol": "HTTP/1.1",
            "sourceIp": "127.0.0.1", "userAgent": "tests"}, "requestId": "id", "routeKey": "GET /v1/whoami",
            "stage": "test", "time": "12/Mar/2020:19:03:58 +0000", "timeEpoch": 1583348638390u64
        }
    })
}

/// The authorizer's answer to `event` at `now`, the way Lambda hands it over: the event's JSON
/// text decoded by [`authorizer::AuthorizerEvent::from_slice`] (an undecodable event is the
/// function's `BadEvent` error). Ask the answer `is_allowed()` and `context()`.
pub async fn authorize_at<S: overten::store::KeyLookup>(
    store: &S,
    event: &Value,
    now: i64,
) -> Result<authorizer::AuthorizerResponse, authorizer::AuthorizerError> {
    let event = authorizer::AuthorizerEvent::from_slice(&serde_json::to_vec(event).expect("JSON"))
        .map_err(|e| authorizer::AuthorizerError::BadEvent(authorizer::bad_event(&e)))?;
    match authorizer::authorize_at(store, &event, "req-test", now).await {
        // A key problem on the REST API is the Lambda error `Unauthorized` (401 at the gateway,
        // whose body cannot say which problem). Tests of the decision read it as the refusal it
        // is, with the code the authorizer judged; the wire form itself is checked where it
        // matters (the authorizer's unit tests, tests/gateway.rs).
        Err(authorizer::AuthorizerError::Unauthorized(err)) => Ok(refusal(&err, event.headers())),
        other => other,
    }
}

/// The REST `Deny` a key problem stands for in tests: `anonymous`, the error's code and message.
fn refusal(err: &overten::Error, headers: &http::HeaderMap) -> authorizer::AuthorizerResponse {
    use aws_lambda_events::apigw::{ApiGatewayCustomAuthorizerPolicy, ApiGatewayCustomAuthorizerResponse};
    use aws_lambda_events::iam::{IamPolicyEffect, IamPolicyStatement};
    let mut statement = IamPolicyStatement::default();
    statement.action = vec!["execute-api:Invoke".into()];
    statement.effect = IamPolicyEffect::Deny;
    statement.resource = vec!["*".into()];
    let mut policy = ApiGatewayCustomAuthorizerPolicy::default();
    policy.version = Some("2012-10-17".into());
    policy.statement = vec![statement];
    let mut response = ApiGatewayCustomAuthorizerResponse::<authorizer::AuthContext>::default();
    response.principal_id = Some("anonymous".into());
    response.policy_document = policy;
    response.context = authorizer::AuthContext {
        error_code: Some(err.code().into()),
        error_message: Some(err.public_message()),
        user_agent: overten::access_log::user_agent(headers),
        ..Default::default()
    };
    authorizer::AuthorizerResponse::Rest(response)
}

/// [`authorize_at`] now.
pub async fn authorize<S: overten::store::KeyLookup>(
    store: &S,
    event: &Value,
) -> Result<authorizer::AuthorizerResponse, authorizer::AuthorizerError> {
    authorize_at(store, event, overten::clock::now_secs()).await
}

fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// The response body as JSON (`Null` when empty).
pub fn body_json(response: &lambda_http::Response<lambda_http::Body>) -> Value {
    match response.body() {
        lambda_http::Body::Text(t) => serde_json::from_str(t).unwrap_or(Value::Null),
        lambda_http::Body::Binary(b) => serde_json::from_slice(b).unwrap_or(Value::Null),
        _ => Value::Null,
    }
}
