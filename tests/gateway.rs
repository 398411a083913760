//! The local gateway answers as the deployed stage would, gateway response type by type (README,
//! "Gateway responses"): it renders the template's own `GatewayResponses`, so these tests check
//! both the local behaviour and the template's mapping. Against DynamoDB Local, and against a
//! DynamoDB endpoint that refuses connections for the authorizer's failure.

use std::time::Duration;

use lambda_http::{Body, Response};
use local_gateway::template::{self, ApiTemplate};
use local_gateway::{Gateway, Limits, LocalRequest};
use overten::store::{DynamoStore, FixedStore, sample_record};
use overten_tests::events::body_json;
use overten_tests::{ddb_client_at, emulator_user, emulator_verifier, fresh_store, fresh_tables, user};
use serde_json::Value;

const ORIGIN: &str = "http://127.0.0.1:3390";

fn api_template() -> ApiTemplate {
    ApiTemplate::load(|name| (name == "CorsAllowedOrigin").then(|| ORIGIN.to_owned())).unwrap()
}

fn roomy() -> Limits {
    Limits { rate: 1000.0, burst: 1000.0, signup_rate: 1000.0, signup_burst: 1000.0 }
}

fn gateway(store: DynamoStore, limits: Limits) -> Gateway {
    let app = overten::http::App::new(store.clone(), emulator_verifier()).with_cors_origin(ORIGIN);
    Gateway::new(app, store, api_template(), limits)
}

fn request(method: &str, path: &str, headers: &[(&str, &str)], body: Option<&str>) -> LocalRequest {
    LocalRequest {
        method: method.into(),
        path: path.into(),
        query: Vec::new(),
        headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        body: body.map(str::to_owned),
        source_ip: "127.0.0.1".into(),
    }
}

fn header<'r>(response: &'r Response<Body>, name: &str) -> Option<&'r str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

fn assert_contract_error(response: &Response<Body>, status: u16, code: &str) -> Value {
    let body = body_json(response);
    assert_eq!((response.status().as_u16(), body["error"]["code"].as_str()), (status, Some(code)), "{body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    assert!(body["error"]["request_id"].as_str().is_some_and(|id| id.starts_with("local-")), "{body}");
    // Every answer of the gateway carries the dashboard's origin, so a browser can read it.
    assert_eq!(header(response, "access-control-allow-origin"), Some(ORIGIN));
    assert_eq!(header(response, "vary"), Some("Origin"));
    body
}

/// A store whose endpoint refuses connections: every call fails as DynamoDB being down does.
async fn unreachable_store() -> DynamoStore {
    DynamoStore::new(ddb_client_at("http://127.0.0.1:9").await, fresh_tables().await)
}

#[tokio::test]
async fn an_authorizer_that_fails_closed_reaches_the_caller_as_503() {
    let gateway = gateway(unreachable_store().await, roomy());
    let key = overten::ApiKey::generate();
    let started = std::time::Instant::now();
    let response = gateway.handle(request("GET", "/v1/whoami", &[("X-API-Key", key.expose_secret())], None)).await;
    assert_contract_error(&response, 503, "service_unavailable");
    assert!(started.elapsed() < Duration::from_secs(api_template().authorizer_timeout_secs + 1));
}

/// Key problems are the authorizer's error `Unauthorized`: API Gateway's UNAUTHORIZED, 401, one
/// fixed body (no context reaches it), whatever the problem was.
#[tokio::test]
async fn key_problems_are_401_with_the_fixed_body() {
    let gateway = gateway(fresh_store().await, roomy());
    let unknown = overten::ApiKey::generate();
    for headers in [vec![], vec![("X-API-Key", unknown.expose_secret())], vec![("X-API-Key", "sk_live_x")]] {
        let response = gateway.handle(request("GET", "/v1/whoami", &headers, None)).await;
        let body = assert_contract_error(&response, 401, "invalid_api_key");
        assert_eq!(body["error"]["message"], overten::Error::ApiKeyRefused.public_message());
        assert_eq!(header(&response, "www-authenticate"), Some("Bearer"));
    }
}

#[tokio::test]
async fn an_allowed_key_reaches_the_route_with_its_org() {
    let store = fresh_store().await;
    let (uid, _) = emulator_user().await;
    let request_body = overten::requests::SignupRequest::parse(br#"{"org_name":"Acme"}"#).unwrap();
    let created = overten::service::signup(&store, &user(&uid), request_body).await.unwrap();
    let log = std::env::temp_dir().join(format!("access-{}.log", overten::api_key::random_base62(8)));
    let gateway = gateway(store, roomy()).with_access_log(std::fs::File::create(&log).unwrap());
    let response = gateway
        .handle(request("GET", "/v1/whoami", &[("X-API-Key", &created.secret), ("User-Agent", "tests/1")], None))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(body_json(&response)["org_id"], created.org_id.as_str());
    gateway.handle(request("GET", "/v1/whoami", &[], None)).await;

    // The access log: the template's format, one JSON line per request, the same fields as AWS.
    let text = std::fs::read_to_string(&log).unwrap();
    std::fs::remove_file(&log).ok();
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(lines[0]["status"], "200");
    assert_eq!(lines[0]["keyId"], created.key.id.as_str());
    assert_eq!(lines[0]["orgId"], created.org_id.as_str());
    // From the authorizer's context, not API Gateway's raw $context.identity.userAgent.
    assert_eq!(lines[0]["userAgent"], "tests/1");
    assert_eq!(lines[0]["resourcePath"], "/v1/whoami");
    assert!(lines[0]["authorizerLatency"].as_str().unwrap().parse::<u64>().is_ok());
    assert_eq!(lines[0]["responseType"], "");
    // A key problem is the authorizer's error `Unauthorized`: no context, so no code in the line
    // (the authorizer's own log line has it).
    assert_eq!(lines[1]["status"], "401");
    assert_eq!(lines[1]["responseType"], "UNAUTHORIZED");
    assert_eq!(lines[1]["authorizerError"], "");
    assert!(!text.contains(&created.secret), "the access log never holds a key");
}

#[tokio::test]
async fn unknown_routes_preflight_throttling_and_oversized_bodies() {
    let limits = Limits { rate: 1000.0, burst: 1000.0, signup_rate: 0.001, signup_burst: 1.0 };
    let gateway = gateway(fresh_store().await, limits);
    for (method, path) in [("GET", "/nope"), ("GET", "/signup"), ("DELETE", "/orgs/org_1/api-keys")] {
        let response = gateway.handle(request(method, path, &[], None)).await;
        assert_contract_error(&response, 404, "not_found");
    }
    let preflight = gateway.handle(request("OPTIONS", "/orgs/org_1/api-keys", &[("Origin", ORIGIN)], None)).await;
    assert_eq!(preflight.status(), 200);
    assert_eq!(header(&preflight, "access-control-allow-origin"), Some(ORIGIN));
    assert!(header(&preflight, "access-control-allow-headers").unwrap().contains("Authorization"));
    assert!(header(&preflight, "access-control-allow-methods").unwrap().contains("DELETE"));

    // The first signup spends the burst of 1; the next is throttled before any function runs.
    let first = gateway.handle(request("POST", "/signup", &[], Some("{}"))).await;
    assert_contract_error(&first, 401, "missing_token");
    let second = gateway.handle(request("POST", "/signup", &[], Some("{}"))).await;
    assert_contract_error(&second, 429, "rate_limited");
    let verify = gateway.handle(request("GET", "/verify", &[], None)).await;
    assert_eq!(verify.status(), 401, "the stage's own bucket still has room");

    let too_large = gateway.gateway_answer("REQUEST_TOO_LARGE");
    let body = assert_contract_error(&too_large, 413, "payload_too_large");
    assert!(body["error"]["message"].as_str().unwrap().contains("10485760"), "API Gateway's limit, not 16 KiB");
}

#[tokio::test]
async fn the_stage_bucket_counts_preflights_too() {
    let limits = Limits { rate: 0.001, burst: 1.0, signup_rate: 1000.0, signup_burst: 1000.0 };
    let gateway = gateway(fresh_store().await, limits);
    let preflight = || request("OPTIONS", "/signup", &[("Origin", ORIGIN)], None);
    assert_eq!(gateway.handle(preflight()).await.status(), 200);
    assert_contract_error(&gateway.handle(preflight()).await, 429, "rate_limited");
}

#[tokio::test]
async fn the_functions_own_answers_carry_the_origin_too() {
    let gateway = gateway(fresh_store().await, roomy());
    let (_, token) = emulator_user().await;
    let auth = format!("Bearer {token}");
    let created =
        gateway.handle(request("POST", "/signup", &[("Authorization", &auth)], Some(r#"{"org_name":"A"}"#))).await;
    assert_eq!(created.status(), 201);
    assert_eq!(header(&created, "access-control-allow-origin"), Some(ORIGIN));
    assert_eq!(header(&created, "vary"), Some("Origin"));
    let refused = gateway.handle(request("GET", "/orgs/org_nope/api-keys", &[("Authorization", &auth)], None)).await;
    assert_eq!(refused.status(), 404);
    assert_eq!(header(&refused, "access-control-allow-origin"), Some(ORIGIN));
}

/// Every message the authorizer can put in a Deny's context, rendered into the ACCESS_DENIED
/// template (which has no escaping: gateway responses have no `$util`), stays valid JSON with the
/// same code and message.
/// The ACCESS_DENIED template inserts the authorizer's message and `required` raw: every denial
/// the authorizer can give — over routes in and out of the table, formats that are and are not
/// slugs, odd source addresses — renders as the contract's JSON with the same fields.
#[tokio::test]
async fn every_denial_renders_as_valid_json() {
    let key = overten::ApiKey::generate();
    let mut record = sample_record("key_1", false);
    let lists = |l: &[&str]| Some(Some(l.iter().map(|s| s.to_string()).collect()));
    record.restrictions = overten::restrictions::RestrictionsPatch::parse((
        lists(&["files:read"]),
        lists(&["pdf"]),
        lists(&["203.0.113.0/24"]),
    ))
    .unwrap()
    .apply(&Default::default());
    let store = FixedStore::answering(record);
    let headers = [("X-API-Key", key.expose_secret())];
    let cases = [
        ("POST", "/v1/generations/docx", "203.0.113.1"),
        ("POST", "/v1/generations/%22%7D,%22x%22:%22", "203.0.113.1"),
        ("POST", "/v1/generations/\"}", "203.0.113.1"),
        ("GET", "/v1/runs/run_1", "203.0.113.1"),
        ("GET", "/v1/other\"", "203.0.113.1"),
        ("DELETE", "/v1/files/f", "203.0.113.1"),
        ("GET", "/v1/files/f", "198.51.100.7"),
        ("GET", "/v1/files/f", "::ffff:198.51.100.7"),
        ("GET", "/v1/files/f", "\"}"),
        ("GET", "/v1/files/f", ""),
    ];
    let denied = api_template().gateway_response("ACCESS_DENIED");
    assert_eq!(denied.status, Some(403));
    for (method, path, source) in cases {
        let event = overten_tests::events::rest_authorizer_event_for(method, path, &headers, source);
        let answer = overten_tests::events::authorize(&store, &event).await.unwrap();
        assert!(!answer.is_allowed(), "{method} {path} from {source}");
        let context = answer.context().clone();
        let body = template::render(&denied.body_template, &|name| match name {
            "authorizer.error_code" => context.error_code.clone(),
            "authorizer.error_message" => context.error_message.clone(),
            "authorizer.required" => context.required.clone(),
            "requestId" => Some("r".into()),
            _ => None,
        });
        let parsed: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{body}: {e}"));
        assert_eq!(parsed["error"]["code"], "permission_denied");
        assert_eq!(parsed["error"]["message"], context.error_message.unwrap().as_str());
        assert_eq!(parsed["error"].as_object().unwrap().len(), 4, "{parsed}");
        assert!(parsed["error"]["required"].is_object(), "{parsed}");
    }
}

/// API Gateway inserts `$context` values into the access-log format raw, and the local gateway
/// does the same (no kinder). Whatever a client sends as its user agent — quotes, backslashes,
/// control characters, a forged field — every line still parses as JSON with the same fields and
/// the real values: the format holds no variable a client can write, and the user agent it logs
/// is the authorizer's escaped copy (on Allow and on Deny; none where the authorizer did not run).
#[tokio::test]
async fn access_log_lines_stay_json_whatever_the_user_agent() {
    let store = fresh_store().await;
    let (uid, _) = emulator_user().await;
    let request_body = overten::requests::SignupRequest::parse(br#"{"org_name":"Agents"}"#).unwrap();
    let created = overten::service::signup(&store, &user(&uid), request_body).await.unwrap();
    let log = std::env::temp_dir().join(format!("access-{}.log", overten::api_key::random_base62(8)));
    let gateway = gateway(store, roomy()).with_access_log(std::fs::File::create(&log).unwrap());
    // What HTTP carries in a header value (quotes, backslashes, tab, any UTF-8), then control
    // characters HTTP does not (the authorizer cannot even read such a header: its answer there
    // is not the point, the log line is).
    let agents = [
        (r#"quote" and "#, true),
        (r#"x","keyId":"key_forged","status":"200"#, true),
        (r#"back\slash\"#, true),
        ("\\\"", true),
        ("tab\there", true),
        ("\u{2028}\u{2029} é ✓ }", true),
        ("new\nline\rreturn\u{0}nul\u{1b}esc\u{7f}del\u{8}", false),
    ];
    let mut expected = Vec::new();
    for (agent, http_carries_it) in agents {
        // What the authorizer puts in its context, and so what the line says: printable ASCII but
        // `"`, `\` and `%` as it is, every other byte `%XX`.
        let escaped = overten::access_log::escape(agent.as_bytes());
        assert!(!escaped.contains(['"', '\\']) && escaped.bytes().all(|b| b.is_ascii_graphic() || b == b' '));
        let headers = [("X-API-Key", created.secret.as_str()), ("User-Agent", agent)];
        let status = gateway.handle(request("GET", "/v1/whoami", &headers, None)).await.status();
        assert!(status == 200 || !http_carries_it, "{agent:?}: {status}");
        // The authorizer answered (Allow, or Deny for a header it cannot read): its user agent.
        let logged = if status == 200 { escaped.clone() } else { String::new() };
        let key_id = if status == 200 { created.key.id.as_str() } else { "" };
        expected.push((status.as_u16().to_string(), key_id, logged));
        let headers = [("User-Agent", agent)];
        let status = gateway.handle(request("GET", "/v1/whoami", &headers, None)).await.status();
        assert!(status == 401 || !http_carries_it, "{agent:?}: {status}");
        // A key problem is the authorizer's error: no context reaches the line, no user agent.
        expected.push((status.as_u16().to_string(), "", String::new()));
        // The preflight runs no authorizer: no user agent.
        let headers = [("User-Agent", agent), ("Origin", ORIGIN)];
        let status = gateway.handle(request("OPTIONS", "/orgs/org_1/api-keys", &headers, None)).await.status();
        assert_eq!(status, 200);
        expected.push((status.as_u16().to_string(), "", String::new()));
    }
    let format: serde_json::Map<String, Value> = serde_json::from_str(&api_template().access_log_format).unwrap();
    assert!(format.contains_key("userAgent"), "the user agent is logged again, escaped");
    let text = std::fs::read_to_string(&log).unwrap();
    std::fs::remove_file(&log).ok();
    assert!(!text.contains(&created.secret), "the access log never holds a key");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), agents.len() * 3, "one line per request: {text}");
    for (i, line) in lines.iter().enumerate() {
        let parsed: serde_json::Map<String, Value> =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("line {i} is not JSON ({e}): {line}"));
        let fields: Vec<&String> = parsed.keys().collect();
        assert_eq!(fields, format.keys().collect::<Vec<_>>(), "line {i}: the format's fields, none forged");
        assert!(parsed["requestId"].as_str().unwrap().starts_with("local-"), "{line}");
        let (status, key_id, user_agent) = &expected[i];
        assert_eq!(
            (parsed["status"].as_str(), parsed["keyId"].as_str(), parsed["userAgent"].as_str()),
            (Some(status.as_str()), Some(*key_id), Some(user_agent.as_str())),
            "{line}"
        );
        // The forged field is text inside userAgent (its quotes escaped), never a field of its own.
        assert!(!line.contains(r#""key_forged""#), "{line}");
    }
}

/// `POST /secret-scanning/github` spends from its own bucket, the template's
/// (`SecretScanningThrottling*`), before the stage's room runs out.
#[tokio::test]
async fn the_secret_scanning_route_has_the_templates_own_bucket() {
    let template = api_template();
    let scanning = template.throttles.iter().find(|t| t.resource_path == "/secret-scanning/github").unwrap();
    let burst = scanning.burst as usize;
    let gateway = gateway(fresh_store().await, roomy());
    let mut statuses = Vec::new();
    for _ in 0..burst * 2 {
        statuses.push(gateway.handle(request("POST", "/secret-scanning/github", &[], Some("[]"))).await.status());
    }
    assert!(statuses[..burst].iter().all(|s| *s != 429), "the burst of {burst} passes: {statuses:?}");
    let throttled = statuses.iter().filter(|s| **s == 429).count();
    assert!(throttled > 0, "over the burst of {burst} at {}/s: {statuses:?}", scanning.rate);
    // The stage's bucket still has room: keyed traffic and the authorizer are unaffected.
    assert_eq!(gateway.handle(request("GET", "/verify", &[], None)).await.status(), 401);

    // And the bucket is the route's alone, set like any other.
    let tight =
        self::gateway(fresh_store().await, roomy()).with_route_limit("POST", "/secret-scanning/github", 0.001, 1.0);
    assert_ne!(tight.handle(request("POST", "/secret-scanning/github", &[], Some("[]"))).await.status(), 429);
    assert_contract_error(
        &tight.handle(request("POST", "/secret-scanning/github", &[], Some("[]"))).await,
        429,
        "rate_limited",
    );
}

/// The preflight of every browser-facing resource allows every method the template routes there
/// (rename's PATCH included), with the headers the dashboard sends: from the template's `Cors`.
#[tokio::test]
async fn preflights_allow_every_browser_facing_method() {
    let gateway = gateway(fresh_store().await, roomy());
    for route in overten_tests::template_routes() {
        let (method, path) = route.split_once(' ').unwrap();
        if !(path == "/signup" || path.starts_with("/orgs/")) {
            continue;
        }
        let concrete = path.replace("{org_id}", "org_1").replace("{key_id}", "key_1");
        let headers = [
            ("Origin", ORIGIN),
            ("Access-Control-Request-Method", method),
            ("Access-Control-Request-Headers", "authorization,content-type"),
        ];
        let preflight = gateway.handle(request("OPTIONS", &concrete, &headers, None)).await;
        assert_eq!(preflight.status(), 200, "{route}");
        assert_eq!(header(&preflight, "access-control-allow-origin"), Some(ORIGIN));
        let methods = header(&preflight, "access-control-allow-methods").unwrap();
        assert!(methods.split(',').any(|m| m.trim() == method), "{route}: {methods}");
        let allowed_headers = header(&preflight, "access-control-allow-headers").unwrap().to_ascii_lowercase();
        assert!(allowed_headers.contains("authorization") && allowed_headers.contains("content-type"), "{route}");
    }
}
