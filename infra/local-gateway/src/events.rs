//! API Gateway events as the deployed REST API builds them, so local requests reach the handlers
//! in exactly the shape Lambda delivers.

use serde_json::{Map, Value, json};

pub const ACCOUNT_ID: &str = "123456789012";
pub const API_ID: &str = "local";
pub const STAGE: &str = "local";

/// A REST API proxy event. `authorizer` is the authorizer's context for protected routes, else
/// `Null`.
pub fn rest_proxy_event(
    method: &str,
    path: &str,
    query: &[(String, String)],
    headers: &[(String, String)],
    body: Option<&str>,
    request_id: &str,
    authorizer: Value,
) -> Value {
    let (single, multi) = group(query);
    let (single_headers, multi_headers) = group(headers);
    let object_or_null = |m: Map<String, Value>| if m.is_empty() { Value::Null } else { Value::Object(m) };
    json!({
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": single_headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": object_or_null(single),
        "multiValueQueryStringParameters": object_or_null(multi),
        "pathParameters": null,
        "stageVariables": null,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "resourceId": "local",
            "stage": STAGE,
            "requestId": request_id,
            "identity": {"sourceIp": "127.0.0.1"},
            "resourcePath": path,
            "httpMethod": method,
            "apiId": API_ID,
            "path": format!("/{STAGE}{path}"),
            "protocol": "HTTP/1.1",
            "authorizer": authorizer,
        },
        "body": body,
        "isBase64Encoded": false,
    })
}

/// The single-value (last wins) and multi-value maps API Gateway puts side by side.
fn group(pairs: &[(String, String)]) -> (Map<String, Value>, Map<String, Value>) {
    let mut single = Map::new();
    let mut multi: Map<String, Value> = Map::new();
    for (k, v) in pairs {
        single.insert(k.clone(), json!(v));
        if let Value::Array(values) = multi.entry(k.clone()).or_insert_with(|| json!([])) {
            values.push(json!(v));
        }
    }
    (single, multi)
}

/// The resource a request matched (`/v1/generations/{format}`) and its path parameters.
pub struct Resource<'a> {
    pub path: &'a str,
    pub params: &'a [(String, String)],
}

/// A REQUEST-authorizer event for `method path`, matched to `resource`, from `source_ip`.
pub fn authorizer_event(
    method: &str,
    path: &str,
    resource: &Resource<'_>,
    headers: &[(String, String)],
    source_ip: &str,
    request_id: &str,
) -> Value {
    let (single, multi) = group(headers);
    let params: Map<String, Value> = resource.params.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
    json!({
        "type": "REQUEST",
        "methodArn": format!("arn:aws:execute-api:us-east-1:{ACCOUNT_ID}:{API_ID}/{STAGE}/{method}{path}"),
        "resource": resource.path,
        "path": path,
        "httpMethod": method,
        "headers": single,
        "multiValueHeaders": multi,
        "queryStringParameters": {},
        "pathParameters": params,
        "stageVariables": {},
        "requestContext": {"path": format!("/{STAGE}{path}"), "accountId": ACCOUNT_ID, "resourceId": "local",
                           "stage": STAGE, "requestId": request_id, "identity": {"sourceIp": source_ip},
                           "resourcePath": resource.path, "httpMethod": method, "apiId": API_ID}
    })
}
