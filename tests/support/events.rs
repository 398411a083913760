//! API Gateway events, as the deployed REST API (and HTTP API) hand them to the functions.

use lambda_http::Request;
use serde_json::{Map, Value, json};

pub const METHOD_ARN_PREFIX: &str = "arn:aws:execute-api:us-east-1:123456789012:api123/test";

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
    let mut single = Map::new();
    let mut multi = Map::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        single.insert(k.into(), json!(v));
        multi.entry(k.to_owned()).or_insert_with(|| json!([])).as_array_mut().unwrap().push(json!(v));
    }
    let event = json!({
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": header_map(headers),
        "multiValueHeaders": headers.iter().map(|(k, v)| (k.to_string(), json!([v]))).collect::<Map<_, _>>(),
        "queryStringParameters": if single.is_empty() { Value::Null } else { Value::Object(single) },
        "multiValueQueryStringParameters": if multi.is_empty() { Value::Null } else { Value::Object(multi) },
        "pathParameters": null,
        "stageVariables": null,
        "requestContext": {
            "accountId": "123456789012",
            "resourceId": "abc123",
            "stage": "test",
            "requestId": format!("req-{}", overten::api_key::random_base62(12)),
            "identity": {"sourceIp": "127.0.0.1", "userAgent": "tests"},
            "resourcePath": path,
            "httpMethod": method,
            "apiId": "api123",
            "path": format!("/test{path}"),
            "protocol": "HTTP/1.1",
            "requestTimeEpoch": 1_700_000_000_000u64,
            "authorizer": authorizer,
        },
        "body": body,
        "isBase64Encoded": false,
    });
    lambda_http::request::from_str(&event.to_string()).expect("a valid REST proxy event")
}

/// A REST API REQUEST-authorizer event with `headers`.
pub fn rest_authorizer_event(headers: &[(&str, &str)]) -> Value {
    json!({
        "type": "REQUEST",
        "methodArn": format!("{METHOD_ARN_PREFIX}/GET/v1/whoami"),
        "resource": "/v1/whoami",
        "path": "/v1/whoami",
        "httpMethod": "GET",
        "headers": header_map(headers),
        "multiValueHeaders": headers.iter().map(|(k, v)| (k.to_string(), json!([v]))).collect::<Map<_, _>>(),
        "queryStringParameters": {},
        "pathParameters": {},
        "stageVariables": {},
        "requestContext": {"path": "/test/v1/whoami", "accountId": "123456789012", "resourceId": "r", "stage": "test",
                           "requestId": "req-1", "identity": {"sourceIp": "127.0.0.1"}, "resourcePath": "/v1/whoami",
                           "httpMethod": "GET", "apiId": "api123"}
    })
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

fn header_map(headers: &[(&str, &str)]) -> Map<String, Value> {
    headers.iter().map(|(k, v)| (k.to_string(), json!(v))).collect()
}

/// The response body as JSON (`Null` when empty).
pub fn body_json(response: &lambda_http::Response<lambda_http::Body>) -> Value {
    match response.body() {
        lambda_http::Body::Text(t) => serde_json::from_str(t).unwrap_or(Value::Null),
        lambda_http::Body::Binary(b) => serde_json::from_slice(b).unwrap_or(Value::Null),
        _ => Value::Null,
    }
}
