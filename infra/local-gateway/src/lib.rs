//! The local stand-in for the deployed REST API (`make dev`): the template's routes, the same REST
//! proxy events handed to the same handlers in-process, the authorizer run before protected
//! routes with its context passed on, and its answers turned into the template's gateway
//! responses (Deny → 401 with the contract's body, failure → 503).

pub mod events;

use lambda_http::{Body, Response};
use overten::store::DynamoStore;
use serde_json::{Value, json};

/// Largest body API Gateway accepts (10 MB); the functions refuse more than 16 KiB themselves.
pub const MAX_GATEWAY_BODY: usize = 10 * 1024 * 1024;

/// The routes of `template.yaml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Signup,
    Keys,
    Verify,
    /// Behind the authorizer.
    WhoAmI,
}

/// The route for `method path`, as API Gateway matches the template's events.
pub fn route(method: &str, path: &str) -> Option<Route> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match (method, segments.as_slice()) {
        ("POST", ["signup"]) => Some(Route::Signup),
        ("POST" | "GET", ["orgs", _, "api-keys"]) | ("DELETE", ["orgs", _, "api-keys", _]) => Some(Route::Keys),
        ("GET", ["verify"]) => Some(Route::Verify),
        ("GET", ["v1", "whoami"]) => Some(Route::WhoAmI),
        _ => None,
    }
}

/// A request as the HTTP server received it.
pub struct LocalRequest {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
}

pub struct Gateway {
    /// The store and the token verifier (one key cache), shared by every route.
    pub app: overten::http::App<DynamoStore>,
}

impl Gateway {
    pub async fn handle(&self, request: LocalRequest) -> Response<Body> {
        let request_id = format!("local-{}", overten::api_key::random_base62(16));
        let Some(route) = route(&request.method, &request.path) else {
            // What the deployed API's MISSING_AUTHENTICATION_TOKEN gateway response answers.
            return gateway_error(404, "not_found", "no such route", &request_id);
        };
        let authorizer_context = if route == Route::WhoAmI {
            let event = events::authorizer_event(&request.method, &request.path, &request.headers, &request_id);
            match authorizer::handle(&self.app.store, event, &request_id).await {
                Ok(answer) if is_allow(&answer) => {
                    let mut context = answer["context"].clone();
                    context["principalId"] = answer["principalId"].clone();
                    context
                }
                Ok(answer) => {
                    let context = &answer["context"];
                    return gateway_error(
                        401,
                        context["error_code"].as_str().unwrap_or("invalid_api_key"),
                        context["error_message"].as_str().unwrap_or("invalid API key"),
                        &request_id,
                    );
                }
                Err(_) => {
                    return gateway_error(
                        503,
                        "service_unavailable",
                        "the service is temporarily unavailable; retry with backoff",
                        &request_id,
                    );
                }
            }
        } else {
            Value::Null
        };
        let event = events::rest_proxy_event(
            &request.method,
            &request.path,
            &request.query,
            &request.headers,
            request.body.as_deref(),
            &request_id,
            authorizer_context,
        );
        let lambda_request = match lambda_http::request::from_str(&event.to_string()) {
            Ok(r) => r,
            Err(_) => return gateway_error(400, "invalid_request", "the request could not be read", &request_id),
        };
        match route {
            Route::Signup => signup::handle(&self.app, lambda_request).await,
            Route::Keys => keys::handle(&self.app, lambda_request).await,
            Route::Verify => verify::handle(&self.app.store, lambda_request).await,
            Route::WhoAmI => whoami::handle(lambda_request).await,
        }
    }
}

fn is_allow(answer: &Value) -> bool {
    answer["policyDocument"]["Statement"][0]["Effect"] == "Allow"
}

/// The template's gateway-response body.
fn gateway_error(status: u16, code: &str, message: &str, request_id: &str) -> Response<Body> {
    let body = json!({"error": {"code": code, "message": message, "request_id": request_id}});
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::Text(body.to_string()))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_match_the_template() {
        assert_eq!(route("POST", "/signup"), Some(Route::Signup));
        assert_eq!(route("GET", "/signup"), None);
        assert_eq!(route("GET", "/orgs/org_1/api-keys"), Some(Route::Keys));
        assert_eq!(route("DELETE", "/orgs/org_1/api-keys/key_1"), Some(Route::Keys));
        assert_eq!(route("DELETE", "/orgs/org_1/api-keys"), None);
        assert_eq!(route("GET", "/verify"), Some(Route::Verify));
        assert_eq!(route("GET", "/v1/whoami"), Some(Route::WhoAmI));
        assert_eq!(route("GET", "/"), None);
    }
}
