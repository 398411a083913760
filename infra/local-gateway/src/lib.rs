//! The local stand-in for the deployed REST API (`make dev`): the template's routes, the same REST
//! proxy events handed to the same handlers in-process, the authorizer run before protected
//! routes (with its timeout, its policy evaluated, its context passed on), the stage's and the
//! routes' throttling, the CORS preflight, and every answer API Gateway gives itself rendered from the
//! template's own `GatewayResponses` ([`template`]). Each request leaves one access-log line in
//! the template's format.

pub mod events;
pub mod policy;
pub mod template;
pub mod throttle;
pub mod usage_feed;

use std::collections::HashMap;
use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use lambda_http::{Body, Response};
use overten::restrictions::route_table::ROUTE_TABLE;
use overten::restrictions::routes::RouteRule;
use overten::store::DynamoStore;
use policy::Decision;
use serde_json::Value;
use template::ApiTemplate;
use throttle::TokenBucket;

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
    /// GitHub's signed deliveries.
    SecretScanning,
    /// A downstream route of the route table (`overten::restrictions::route_table`), behind the
    /// authorizer: `make dev` answers it with a dev-only echo of the authorizer's context, so a
    /// restricted key can be tried with curl. The deployed API's downstream routes belong to the
    /// teams that own them.
    Downstream,
    /// Key usage's routes (`functions/usage`).
    Usage,
}

/// The route for `method path`, as API Gateway matches the template's events.
pub fn route(method: &str, path: &str) -> Option<Route> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match (method, segments.as_slice()) {
        ("POST", ["signup"]) => Some(Route::Signup),
        ("POST" | "GET", ["orgs", _, "api-keys"])
        | ("DELETE" | "PATCH", ["orgs", _, "api-keys", _])
        | ("POST", ["orgs", _, "api-keys", _, "roll"])
        | ("GET", ["orgs", _, "events"]) => Some(Route::Keys),
        ("GET", ["orgs", _, "api-keys", _, "usage" | "suggested-restrictions"] | ["orgs", _, "usage"]) => {
            Some(Route::Usage)
        }
        ("GET", ["verify"]) => Some(Route::Verify),
        ("GET", ["v1", "whoami"]) => Some(Route::WhoAmI),
        ("POST", ["secret-scanning", "github"]) => Some(Route::SecretScanning),
        _ => downstream(method, path).map(|_| Route::Downstream),
    }
}

/// The route table's line matching `method path`, with its path parameters: the resource
/// (`/v1/generations/{format}`) and `pathParameters` API Gateway would send. Any other `/v1/…`
/// path matches [`DEV_PROXY`], as a downstream API's `{proxy+}` resource would.
pub fn downstream(method: &str, path: &str) -> Option<(&'static RouteRule, Vec<(String, String)>)> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let in_table = ROUTE_TABLE.iter().find_map(|rule| {
        let (rule_method, pattern) = rule.route.split_once(' ')?;
        let parts: Vec<&str> = pattern.split('/').filter(|s| !s.is_empty()).collect();
        if rule_method != method || parts.len() != segments.len() {
            return None;
        }
        let mut params = vec![];
        for (part, segment) in parts.iter().zip(&segments) {
            match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                Some(name) => params.push((name.to_owned(), segment.to_string())),
                None if part == segment => {}
                None => return None,
            }
        }
        Some((rule, params))
    });
    in_table.or_else(|| match segments.as_slice() {
        ["v1", rest @ ..] if !rest.is_empty() => Some((&DEV_PROXY, vec![("proxy".to_owned(), rest.join("/"))])),
        _ => None,
    })
}

/// `make dev`'s catch-all downstream resource, not in the route table: what a route the table
/// lacks looks like to the authorizer (refused to restricted keys, allowed to unrestricted ones).
pub static DEV_PROXY: RouteRule = RouteRule { route: "ANY /v1/{proxy+}", permission: None, format_from: None };

/// A request as the HTTP server received it.
pub struct LocalRequest {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
    /// The client's address (`requestContext.identity.sourceIp`): the TCP peer.
    pub source_ip: String,
}

/// The stage's bucket and `POST /signup`'s; by default the template's parameter defaults. Every
/// other route with its own `MethodSettings` entry (`POST /secret-scanning/github`) gets its bucket
/// from the template's values ([`ApiTemplate::throttles`]), which `make dev` overrides from the
/// environment ([`parameter_env_name`]).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub rate: f64,
    pub burst: f64,
    pub signup_rate: f64,
    pub signup_burst: f64,
}

impl Limits {
    /// `THROTTLING_RATE_LIMIT`, `THROTTLING_BURST_LIMIT`, `SIGNUP_THROTTLING_RATE_LIMIT`,
    /// `SIGNUP_THROTTLING_BURST_LIMIT`, else the template's defaults.
    pub fn from_template(template: &ApiTemplate, get: impl Fn(&str) -> Option<String>) -> Self {
        let value = |parameter: &str| {
            get(&parameter_env_name(parameter))
                .or_else(|| template.parameters.get(parameter).cloned())
                .and_then(|v| v.parse().ok())
                .unwrap_or(f64::MAX)
        };
        Limits {
            rate: value("ThrottlingRateLimit"),
            burst: value("ThrottlingBurstLimit"),
            signup_rate: value("SignupThrottlingRateLimit"),
            signup_burst: value("SignupThrottlingBurstLimit"),
        }
    }
}

/// The environment variable that overrides a template parameter locally:
/// `SecretScanningThrottlingRateLimit` → `SECRET_SCANNING_THROTTLING_RATE_LIMIT`.
pub fn parameter_env_name(parameter: &str) -> String {
    let mut name = String::with_capacity(parameter.len() + 8);
    for (i, c) in parameter.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            name.push('_');
        }
        name.push(c.to_ascii_uppercase());
    }
    name
}

/// One route's own token bucket (a `MethodSettings` entry other than the stage's).
struct RouteBucket {
    method: String,
    resource_path: String,
    bucket: TokenBucket,
}

pub struct Gateway {
    /// The store and the token verifier (one key cache) of signup and the key routes.
    pub app: overten::http::App<DynamoStore>,
    /// The store of `/verify` and the authorizer, with the hot path's timeouts.
    pub hot_store: DynamoStore,
    pub template: ApiTemplate,
    stage_bucket: TokenBucket,
    route_buckets: Vec<RouteBucket>,
    access_log: Option<Mutex<std::fs::File>>,
    secret_scanning: Option<secret_scanning::App<DynamoStore>>,
    usage: Option<overten::http::App<overten::store::UsageReader>>,
    usage_feed: Option<std::sync::Arc<usage_feed::UsageFeed>>,
}

/// What one request leaves for the access log: the `$context` variables API Gateway would set.
#[derive(Default)]
struct Context {
    vars: HashMap<String, String>,
}

impl Context {
    /// A new request: its id, as API Gateway assigns one to every request it answers.
    fn for_request() -> Self {
        let mut context = Context::default();
        context.set("requestId", format!("local-{}", overten::api_key::random_base62(16)));
        context
    }

    fn set(&mut self, name: &str, value: impl Into<String>) {
        self.vars.insert(name.to_owned(), value.into());
    }

    fn get(&self, name: &str) -> Option<String> {
        self.vars.get(name).cloned()
    }
}

impl Gateway {
    pub fn new(
        app: overten::http::App<DynamoStore>,
        hot_store: DynamoStore,
        template: ApiTemplate,
        limits: Limits,
    ) -> Self {
        let route_buckets = template
            .throttles
            .iter()
            .filter(|t| !t.is_stage())
            .map(|t| {
                let signup = t.http_method == "POST" && t.resource_path == "/signup";
                let (rate, burst) = if signup { (limits.signup_rate, limits.signup_burst) } else { (t.rate, t.burst) };
                RouteBucket {
                    method: t.http_method.clone(),
                    resource_path: t.resource_path.clone(),
                    bucket: TokenBucket::new(rate, burst),
                }
            })
            .collect();
        Gateway {
            app,
            hot_store,
            template,
            stage_bucket: TokenBucket::new(limits.rate, limits.burst),
            route_buckets,
            access_log: None,
            secret_scanning: None,
            usage: None,
            usage_feed: None,
        }
    }

    /// Replaces the bucket of `method resource_path` (a route the template throttles on its own).
    pub fn with_route_limit(mut self, method: &str, resource_path: &str, rate: f64, burst: f64) -> Self {
        for route in &mut self.route_buckets {
            if route.method == method && route.resource_path == resource_path {
                route.bucket = TokenBucket::new(rate, burst);
            }
        }
        self
    }

    /// Whether the route's own bucket (if the template gives it one) has a token for this request.
    fn route_bucket_allows(&self, method: &str, resource_path: &str) -> bool {
        self.route_buckets
            .iter()
            .filter(|r| (r.method == method || r.method == "*") && r.resource_path == resource_path)
            .all(|r| r.bucket.try_take())
    }

    /// Serves `POST /secret-scanning/github` with this function.
    pub fn with_secret_scanning(mut self, app: secret_scanning::App<DynamoStore>) -> Self {
        self.secret_scanning = Some(app);
        self
    }

    /// Serves key usage's routes with this function.
    pub fn with_usage(mut self, app: overten::http::App<overten::store::UsageReader>) -> Self {
        self.usage = Some(app);
        self
    }

    /// Hands every access-log line to `feed` too (key usage's subscription, `make dev`).
    pub fn with_usage_feed(mut self, feed: std::sync::Arc<usage_feed::UsageFeed>) -> Self {
        self.usage_feed = Some(feed);
        self
    }

    /// Appends one access-log line per request, in the template's `AccessLogSetting` format.
    pub fn with_access_log(mut self, file: std::fs::File) -> Self {
        self.access_log = Some(Mutex::new(file));
        self
    }

    pub async fn handle(&self, request: LocalRequest) -> Response<Body> {
        let started = Instant::now();
        let mut context = Context::for_request();
        context.set("identity.sourceIp", request.source_ip.clone());
        context.set("httpMethod", request.method.clone());
        context.set("requestTime", overten::clock::rfc3339(overten::clock::now_secs()));
        context.set("requestTimeEpoch", overten::clock::now_millis().to_string());
        if let Some((_, agent)) = request.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("user-agent")) {
            context.set("identity.userAgent", agent.clone());
        }
        let response = self.route_request(request, &mut context).await;
        context.set("status", response.status().as_u16().to_string());
        context.set("responseLatency", started.elapsed().as_millis().to_string());
        self.log_access(&context);
        response
    }

    /// An answer API Gateway gives itself (`REQUEST_TOO_LARGE` from the HTTP layer, for one).
    pub fn gateway_answer(&self, response_type: &str) -> Response<Body> {
        let mut context = Context::for_request();
        let response = self.gateway_response(response_type, &mut context);
        context.set("status", response.status().as_u16().to_string());
        self.log_access(&context);
        response
    }

    async fn route_request(&self, request: LocalRequest, context: &mut Context) -> Response<Body> {
        let resource = resource_for(&request.method, &request.path);
        let preflight = request.method == "OPTIONS" && resource.is_some();
        let route = route(&request.method, &request.path);
        if route.is_none() && !preflight {
            // API Gateway answers an unknown route or method with MISSING_AUTHENTICATION_TOKEN.
            return self.gateway_response("MISSING_AUTHENTICATION_TOKEN", context);
        }
        let resource = resource.unwrap_or_default();
        context.set("resourcePath", resource.clone());
        // The stage's bucket counts every method, the preflight's mock integration included; a
        // route with its own MethodSettings entry (POST /signup, POST /secret-scanning/github)
        // spends from its own bucket too.
        if !self.stage_bucket.try_take() || (route.is_some() && !self.route_bucket_allows(&request.method, &resource)) {
            return self.gateway_response("THROTTLED", context);
        }
        let Some(route) = route else {
            // SAM's Cors: a mock integration on every resource, without the authorizer.
            return self.preflight();
        };
        let request_id = context.get("requestId").unwrap_or_default();
        let authorizer_context = if matches!(route, Route::WhoAmI | Route::Downstream) {
            match self.authorize(&request, &request_id, context).await {
                Ok(authorizer_context) => authorizer_context,
                Err(response_type) => return self.gateway_response(response_type, context),
            }
        } else {
            Value::Null
        };
        let mut event = events::rest_proxy_event(
            &request.method,
            &request.path,
            &request.query,
            &request.headers,
            request.body.as_deref(),
            &request_id,
            authorizer_context,
        );
        // The caller's address, as API Gateway puts it in every event (`/verify` judges a key's
        // allowed_ips by it).
        event["requestContext"]["identity"]["sourceIp"] = request.source_ip.clone().into();
        let lambda_request = match lambda_http::request::from_str(&event.to_string()) {
            Ok(r) => r,
            Err(_) => return self.gateway_response("BAD_REQUEST_BODY", context),
        };
        let integration_started = Instant::now();
        let response = match route {
            Route::Signup => signup::handle(&self.app, lambda_request).await,
            Route::Keys => keys::handle(&self.app, lambda_request).await,
            Route::Verify => verify::handle(&self.hot_store, lambda_request).await,
            Route::WhoAmI => whoami::handle(lambda_request).await,
            Route::Downstream => echo(&request, &resource, &event),
            Route::Usage => match &self.usage {
                Some(app) => usage::handle(app, lambda_request).await,
                None => return self.gateway_response("INTEGRATION_FAILURE", context),
            },
            Route::SecretScanning => match &self.secret_scanning {
                Some(app) => secret_scanning::handle(app, lambda_request).await,
                // A gateway built without it (tests of other routes) has no integration there.
                None => return self.gateway_response("INTEGRATION_FAILURE", context),
            },
        };
        context.set("integrationLatency", integration_started.elapsed().as_millis().to_string());
        response
    }

    /// The REQUEST authorizer as API Gateway runs it: the event, the function's timeout, the
    /// policy evaluated against the method ARN. `Err` is the gateway response type to answer.
    async fn authorize(
        &self,
        request: &LocalRequest,
        request_id: &str,
        context: &mut Context,
    ) -> Result<Value, &'static str> {
        let resource = resource_for(&request.method, &request.path).unwrap_or_else(|| request.path.clone());
        let params = downstream(&request.method, &request.path).map(|(_, params)| params).unwrap_or_default();
        let event = events::authorizer_event(
            &request.method,
            &request.path,
            &events::Resource { path: &resource, params: &params },
            &request.headers,
            &request.source_ip,
            request_id,
        );
        let method_arn = event["methodArn"].as_str().unwrap_or_default().to_owned();
        let started = Instant::now();
        let timeout = Duration::from_secs(self.template.authorizer_timeout_secs);
        // The event's JSON text, as Lambda hands it to the function.
        let payload = serde_json::value::to_raw_value(&event).map_err(|_| "AUTHORIZER_CONFIGURATION_ERROR")?;
        let answer =
            tokio::time::timeout(timeout, Box::pin(authorizer::invoke(&self.hot_store, &payload, request_id))).await;
        context.set("authorizer.latency", started.elapsed().as_millis().to_string());
        let answer = match answer {
            Ok(Ok(answer)) => answer,
            // The Lambda error `Unauthorized`: API Gateway's UNAUTHORIZED response (401).
            Ok(Err(authorizer::AuthorizerError::Unauthorized(_))) => return Err("UNAUTHORIZED"),
            // Any other function error, or a timeout: API Gateway could not get a decision.
            Ok(Err(_)) | Err(_) => return Err("AUTHORIZER_CONFIGURATION_ERROR"),
        };
        let mut authorizer_context =
            serde_json::to_value(answer.context()).map_err(|_| "AUTHORIZER_CONFIGURATION_ERROR")?;
        // `$context.authorizer.<key>`, on Allow and on Deny: each value stringified and, as API
        // Gateway does, inserted raw wherever a template names it (the access log's `userAgent`
        // is safe because the authorizer escaped it, not because we do).
        if let Some(fields) = authorizer_context.as_object() {
            for (k, v) in fields {
                context.set(&format!("authorizer.{k}"), v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string()));
            }
        }
        match policy::evaluate(&answer, &method_arn) {
            Decision::Allow => {
                authorizer_context["principalId"] = answer.principal_id().into();
                Ok(authorizer_context)
            }
            Decision::ExplicitDeny | Decision::ImplicitDeny => Err("ACCESS_DENIED"),
            Decision::Malformed => Err("AUTHORIZER_CONFIGURATION_ERROR"),
        }
    }

    /// The template's entry for `response_type`, rendered with this request's `$context`.
    fn gateway_response(&self, response_type: &str, context: &mut Context) -> Response<Body> {
        context.set("error.responseType", response_type);
        let entry = self.template.gateway_response(response_type);
        let body = template::render(&entry.body_template, &|name| context.get(name));
        let mut builder =
            Response::builder().status(entry.status.unwrap_or(500)).header("content-type", "application/json");
        for (name, value) in &entry.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        builder.body(Body::Text(body)).unwrap_or_default()
    }

    fn preflight(&self) -> Response<Body> {
        let cors = &self.template.cors;
        Response::builder()
            .status(200)
            .header("access-control-allow-origin", cors.allow_origin.as_str())
            .header("access-control-allow-headers", cors.allow_headers.as_str())
            .header("access-control-allow-methods", cors.allow_methods.as_str())
            .header("access-control-max-age", cors.max_age.as_str())
            .body(Body::Empty)
            .unwrap_or_default()
    }

    fn log_access(&self, context: &Context) {
        if self.access_log.is_none() && self.usage_feed.is_none() {
            return;
        }
        let line = template::render(&self.template.access_log_format, &|name| context.get(name));
        if let Some(feed) = &self.usage_feed {
            feed.push_access(&line);
        }
        if let Some(file) = &self.access_log {
            let mut file = file.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let _ = writeln!(file, "{line}");
        }
    }
}

/// The resource of `method path`: the template's, else the route table's.
pub fn resource_for(method: &str, path: &str) -> Option<String> {
    resource_path(path)
        .or_else(|| downstream(method, path).and_then(|(rule, _)| Some(rule.route.split_once(' ')?.1.to_owned())))
}

/// The dev-only integration of a downstream route: what the route would receive, echoed (the
/// route, its path parameters, the authorizer's context) so a restricted key can be tried locally.
fn echo(request: &LocalRequest, resource: &str, event: &Value) -> Response<Body> {
    let body = serde_json::json!({
        "route": format!("{} {resource}", request.method),
        "path_parameters": downstream(&request.method, &request.path)
            .map(|(_, params)| params.into_iter().map(|(k, v)| (k, Value::String(v))).collect::<serde_json::Map<_, _>>()),
        "authorizer": event["requestContext"]["authorizer"],
        "dev_only": "make dev's echo of a downstream route; the deployed routes belong to their teams",
    });
    Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(Body::Text(body.to_string()))
        .unwrap_or_default()
}

/// The template's resource path for `path` (`/orgs/{org_id}/api-keys`), whatever the method.
pub fn resource_path(path: &str) -> Option<String> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let resource = match segments.as_slice() {
        ["signup"] => "/signup",
        ["orgs", _, "api-keys"] => "/orgs/{org_id}/api-keys",
        ["orgs", _, "api-keys", _] => "/orgs/{org_id}/api-keys/{key_id}",
        ["orgs", _, "api-keys", _, "roll"] => "/orgs/{org_id}/api-keys/{key_id}/roll",
        ["orgs", _, "events"] => "/orgs/{org_id}/events",
        ["orgs", _, "usage"] => "/orgs/{org_id}/usage",
        ["orgs", _, "api-keys", _, "usage"] => "/orgs/{org_id}/api-keys/{key_id}/usage",
        ["orgs", _, "api-keys", _, "suggested-restrictions"] => {
            "/orgs/{org_id}/api-keys/{key_id}/suggested-restrictions"
        }
        ["verify"] => "/verify",
        ["v1", "whoami"] => "/v1/whoami",
        ["secret-scanning", "github"] => "/secret-scanning/github",
        _ => return None,
    };
    Some(resource.to_owned())
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
        assert_eq!(route("PATCH", "/orgs/org_1/api-keys/key_1"), Some(Route::Keys));
        assert_eq!(route("POST", "/orgs/org_1/api-keys/key_1/roll"), Some(Route::Keys));
        assert_eq!(route("GET", "/orgs/org_1/api-keys/key_1/roll"), None);
        assert_eq!(route("GET", "/orgs/org_1/events"), Some(Route::Keys));
        assert_eq!(route("POST", "/secret-scanning/github"), Some(Route::SecretScanning));
        assert_eq!(route("GET", "/secret-scanning/github"), None);
        assert_eq!(resource_path("/secret-scanning/github").as_deref(), Some("/secret-scanning/github"));
        assert_eq!(route("POST", "/orgs/org_1/events"), None);
        assert_eq!(resource_path("/orgs/o/api-keys/k/roll").as_deref(), Some("/orgs/{org_id}/api-keys/{key_id}/roll"));
        assert_eq!(resource_path("/orgs/o/events").as_deref(), Some("/orgs/{org_id}/events"));
        assert_eq!(route("GET", "/verify"), Some(Route::Verify));
        assert_eq!(route("GET", "/v1/whoami"), Some(Route::WhoAmI));
        assert_eq!(route("GET", "/"), None);
        assert_eq!(resource_path("/orgs/o/api-keys/k").as_deref(), Some("/orgs/{org_id}/api-keys/{key_id}"));
        assert_eq!(resource_path("/nope"), None);
    }

    #[test]
    fn parameters_map_to_environment_names() {
        assert_eq!(parameter_env_name("ThrottlingRateLimit"), "THROTTLING_RATE_LIMIT");
        assert_eq!(parameter_env_name("SignupThrottlingBurstLimit"), "SIGNUP_THROTTLING_BURST_LIMIT");
        assert_eq!(parameter_env_name("SecretScanningThrottlingRateLimit"), "SECRET_SCANNING_THROTTLING_RATE_LIMIT");
    }
}
