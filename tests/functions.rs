//! The four functions through their handlers, on DynamoDB Local, with real Firebase Auth emulator
//! tokens: the docs page's whole story, every error row of the contract, and the authorizer's
//! answers to API Gateway's own sample events.

use authorizer::{AuthContext, AuthorizerResponse};
use lambda_http::{Body, Response};
use overten::store::{CreateOrg, DynamoStore, Membership, NewOrg};
use overten_tests::counting::CountingStore;
use overten_tests::events::{
    authorize, body_json, http_api_authorizer_event, rest_authorizer_event, rest_request, rest_request_with_authorizer,
};
use overten_tests::tokens::{claims, unsigned};
use overten_tests::{PROJECT_ID, emulator_user, emulator_verifier, fresh_store, logs};
use serde_json::{Value, json};

struct Stack {
    store: DynamoStore,
    signup: signup::App<DynamoStore>,
    keys: keys::App<DynamoStore>,
}

impl Stack {
    async fn new() -> Self {
        let store = fresh_store().await;
        Stack {
            signup: signup::App::new(store.clone(), emulator_verifier()),
            keys: keys::App::new(store.clone(), emulator_verifier()),
            store,
        }
    }

    async fn signup(&self, token: &str, body: &str) -> Response<Body> {
        let auth = format!("Bearer {token}");
        signup::handle(&self.signup, rest_request("POST", "/signup", &[("Authorization", &auth)], Some(body))).await
    }

    async fn keys(&self, method: &str, path: &str, token: &str, body: Option<&str>) -> Response<Body> {
        let auth = format!("Bearer {token}");
        keys::handle(&self.keys, rest_request(method, path, &[("Authorization", &auth)], body)).await
    }

    async fn verify(&self, headers: &[(&str, &str)]) -> Response<Body> {
        verify::handle(&self.store, rest_request("GET", "/verify", headers, None)).await
    }

    async fn authorize(&self, headers: &[(&str, &str)]) -> AuthorizerResponse {
        authorize(&self.store, &rest_authorizer_event(headers)).await.unwrap()
    }

    /// Signs up a new org: (org_id, secret, full body).
    async fn new_org(&self, token: &str) -> (String, String, Value) {
        let response = self.signup(token, r#"{"org_name":"Acme"}"#).await;
        assert_eq!(response.status(), 201, "{:?}", body_json(&response));
        let body = body_json(&response);
        (body["org_id"].as_str().unwrap().into(), body["secret"].as_str().unwrap().into(), body)
    }
}

fn status_and_code(response: &Response<Body>) -> (u16, String) {
    let body = body_json(response);
    (response.status().as_u16(), body["error"]["code"].as_str().unwrap_or_default().to_owned())
}

fn assert_error(response: &Response<Body>, status: u16, code: &str) {
    let body = body_json(response);
    assert_eq!(status_and_code(response), (status, code.to_owned()), "{body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert!(body["error"]["request_id"].as_str().is_some_and(|m| !m.is_empty()));
}

fn is_key(s: &str) -> bool {
    s.len() == 36 && s.starts_with("sk_live_") && s[8..].bytes().all(|b| b.is_ascii_alphanumeric())
}

#[tokio::test]
async fn the_docs_page_story_end_to_end() {
    let (_guard, logs) = logs::capture();
    let stack = Stack::new().await;
    let (uid, token) = emulator_user().await;

    // Sign up: org, key (once), webhook secret.
    let (org_id, first, body) = stack.new_org(&token).await;
    assert!(org_id.starts_with("org_"));
    assert!(is_key(&first));
    assert!(body["webhook_secret"].as_str().unwrap().starts_with("whsec_"));
    assert_eq!(body["key"]["name"], "default");
    assert_eq!(body["key"]["prefix"], &first[..12]);
    assert!(body["key"]["id"].as_str().unwrap().starts_with("key_"));
    assert!(body["key"]["created_at"].as_str().unwrap().ends_with('Z'));
    assert!(stack.store.is_member(&org_id, &uid).await.unwrap());

    // The key works on /verify and through the authorizer, with both header forms.
    let bearer = format!("Bearer {first}");
    for headers in [vec![("X-API-Key", first.as_str())], vec![("Authorization", bearer.as_str())]] {
        let response = stack.verify(&headers).await;
        assert_eq!(response.status(), 200);
        let verified = body_json(&response);
        assert_eq!(
            verified,
            json!({"org_id": org_id, "key_id": body["key"]["id"], "key_name": "default", "expires_at": null,
                "permissions": null, "formats": null, "allowed_ips": null})
        );
        let answer = stack.authorize(&headers).await;
        assert!(answer.is_allowed());
        let key_id = body["key"]["id"].as_str().unwrap();
        let expected = AuthContext { org_id: Some(org_id.clone()), key_id: Some(key_id.into()), ..Default::default() };
        assert_eq!(answer.context(), &expected);
        assert_eq!(answer.principal_id(), Some(key_id));
    }

    // A second key: its secret in this response only.
    let response = stack
        .keys("POST", &format!("/orgs/{org_id}/api-keys"), &token, Some(r#"{"name":"billing-service-prod"}"#))
        .await;
    assert_eq!(response.status(), 201);
    let second = body_json(&response);
    let second_secret = second["secret"].as_str().unwrap().to_owned();
    assert!(is_key(&second_secret));
    assert_eq!(second["name"], "billing-service-prod");
    assert_eq!(second["prefix"], &second_secret[..12]);

    // The listing shows both by prefix, and no secret or hash anywhere.
    let response = stack.keys("GET", &format!("/orgs/{org_id}/api-keys"), &token, None).await;
    assert_eq!(response.status(), 200);
    let list = body_json(&response);
    let text = list.to_string();
    assert_eq!(list["data"].as_array().unwrap().len(), 2);
    assert_eq!(list["has_more"], false);
    assert_eq!(list["next_cursor"], Value::Null);
    assert!(!text.contains(&first) && !text.contains(&second_secret));
    assert!(!text.contains("secret"));
    assert!(!text.contains(overten::ApiKey::parse(&first).unwrap().hash().as_str()));
    let prefixes: Vec<&str> = list["data"].as_array().unwrap().iter().map(|k| k["prefix"].as_str().unwrap()).collect();
    assert!(prefixes.contains(&&first[..12]) && prefixes.contains(&&second_secret[..12]));
    // /verify recorded its use.
    let first_listed = list["data"].as_array().unwrap().iter().find(|k| k["id"] == body["key"]["id"]).unwrap();
    assert!(first_listed["last_used_at"].as_str().is_some(), "{first_listed}");
    assert_eq!(first_listed["revoked_at"], Value::Null);

    // Rotate: both work, then revoke the old one.
    assert_eq!(stack.verify(&[("X-API-Key", &second_secret)]).await.status(), 200);
    assert_eq!(stack.verify(&[("X-API-Key", &first)]).await.status(), 200);
    let old_id = body["key"]["id"].as_str().unwrap();
    let response = stack.keys("DELETE", &format!("/orgs/{org_id}/api-keys/{old_id}"), &token, None).await;
    assert_eq!(response.status(), 204);
    assert!(matches!(response.body(), Body::Empty));

    // The very next call with the revoked key: 401 invalid_api_key, and a Deny.
    assert_error(&stack.verify(&[("X-API-Key", &first)]).await, 401, "invalid_api_key");
    let answer = stack.authorize(&[("X-API-Key", &first)]).await;
    assert!(!answer.is_allowed());
    assert_eq!(answer.context().error_code.as_deref(), Some("invalid_api_key"));
    assert_eq!(stack.verify(&[("X-API-Key", &second_secret)]).await.status(), 200);
    // Revoking again is still 204; the listing hides it unless asked.
    let response = stack.keys("DELETE", &format!("/orgs/{org_id}/api-keys/{old_id}"), &token, None).await;
    assert_eq!(response.status(), 204);
    let active = body_json(&stack.keys("GET", &format!("/orgs/{org_id}/api-keys"), &token, None).await);
    assert_eq!(active["data"].as_array().unwrap().len(), 1);
    let all =
        body_json(&stack.keys("GET", &format!("/orgs/{org_id}/api-keys?include_revoked=true"), &token, None).await);
    assert_eq!(all["data"].as_array().unwrap().len(), 2);
    assert!(all["data"].as_array().unwrap().iter().any(|k| k["revoked_at"].is_string()));

    // Nothing secret reached the logs, while the story did log.
    let text = logs.text();
    assert!(text.contains("\"request_id\""), "no request was logged: {text}");
    assert!(!text.contains("sk_live_"), "a key in the logs");
    assert!(!text.contains("whsec_"), "a webhook secret in the logs");
    assert!(!text.contains(&token) && !text.contains("eyJ"), "a token in the logs");
}

#[tokio::test]
async fn signup_with_an_existing_org() {
    let stack = Stack::new().await;
    let (owner, owner_token) = emulator_user().await;
    let (_, stranger_token) = emulator_user().await;
    let org = NewOrg {
        org_id: overten::ids::new_org_id(),
        name: "Dashboard org".into(),
        owner_uid: owner.clone(),
        created_at: overten::clock::now_secs(),
        webhook_secret: None,
    };
    stack.store.create_org(&org).await.unwrap();
    let body = format!(r#"{{"existing_org_id":"{}","key_name":"ci"}}"#, org.org_id);

    // Keys cannot be created before API access is on.
    let response =
        stack.keys("POST", &format!("/orgs/{}/api-keys", org.org_id), &owner_token, Some(r#"{"name":"x"}"#)).await;
    assert_error(&response, 409, "api_not_enabled");
    // A non-member: 404, and nothing written.
    assert_error(&stack.signup(&stranger_token, &body).await, 404, "org_not_found");
    assert_error(&stack.signup(&owner_token, r#"{"existing_org_id":"org_doesnotexist"}"#).await, 404, "org_not_found");
    assert_error(&stack.signup(&owner_token, r#"{"existing_org_id":"not an id"}"#).await, 404, "org_not_found");
    // The member: API access on, same org.
    let response = stack.signup(&owner_token, &body).await;
    assert_eq!(response.status(), 201);
    let created = body_json(&response);
    assert_eq!(created["org_id"], org.org_id.as_str());
    assert_eq!(created["key"]["name"], "ci");
    let secret = created["secret"].as_str().unwrap();
    assert_eq!(body_json(&stack.verify(&[("X-API-Key", secret)]).await)["org_id"], org.org_id.as_str());
    // Again: already enabled.
    assert_error(&stack.signup(&owner_token, &body).await, 409, "api_already_enabled");
}

#[tokio::test]
async fn members_of_one_org_cannot_touch_another() {
    let stack = Stack::new().await;
    let (_, token_a) = emulator_user().await;
    let (_, token_b) = emulator_user().await;
    let (org_a, secret_a, body_a) = stack.new_org(&token_a).await;
    let (org_b, _, _) = stack.new_org(&token_b).await;
    let key_a = body_a["key"]["id"].as_str().unwrap();

    let list = stack.keys("GET", &format!("/orgs/{org_a}/api-keys"), &token_b, None).await;
    assert_error(&list, 404, "org_not_found");
    assert!(!body_json(&list).to_string().contains(key_a));
    assert_error(
        &stack.keys("POST", &format!("/orgs/{org_a}/api-keys"), &token_b, Some(r#"{"name":"x"}"#)).await,
        404,
        "org_not_found",
    );
    assert_error(
        &stack.keys("DELETE", &format!("/orgs/{org_a}/api-keys/{key_a}"), &token_b, None).await,
        404,
        "org_not_found",
    );
    // Through B's own org, A's key does not exist.
    assert_error(
        &stack.keys("DELETE", &format!("/orgs/{org_b}/api-keys/{key_a}"), &token_b, None).await,
        404,
        "key_not_found",
    );
    assert_error(
        &stack.keys("DELETE", &format!("/orgs/{org_b}/api-keys/garbage"), &token_b, None).await,
        404,
        "key_not_found",
    );
    // A's key still works.
    assert_eq!(stack.verify(&[("X-API-Key", &secret_a)]).await.status(), 200);
}

#[tokio::test]
async fn bad_requests_get_the_contracts_errors() {
    let stack = Stack::new().await;
    let (_, token) = emulator_user().await;
    let (org, _, _) = stack.new_org(&token).await;
    let keys_path = format!("/orgs/{org}/api-keys");

    for body in [
        "{",
        "[]",
        "{}",
        r#"{"org_name":"A","existing_org_id":"org_x"}"#,
        r#"{"org_name":""}"#,
        r#"{"org_name":7}"#,
        r#"{"org_name":null}"#,
        r#"{"org_name":"a\u0000b"}"#,
        r#"{"org_name":"A","key_name":""}"#,
        r#"{"org_name":"A","unknown":true}"#,
        "",
    ] {
        assert_error(&stack.signup(&token, body).await, 400, "invalid_request");
    }
    let long_org = format!(r#"{{"org_name":"{}"}}"#, "o".repeat(101));
    assert_error(&stack.signup(&token, &long_org).await, 400, "invalid_request");
    let long_key = format!(r#"{{"name":"{}"}}"#, "k".repeat(65));
    for body in ["{}", r#"{"name":""}"#, r#"{"name":["x"]}"#, "nope", &long_key] {
        assert_error(&stack.keys("POST", &keys_path, &token, Some(body)).await, 400, "invalid_request");
    }
    for query in ["limit=0", "limit=101", "limit=ten", "cursor=abc", "include_revoked=maybe"] {
        assert_error(&stack.keys("GET", &format!("{keys_path}?{query}"), &token, None).await, 400, "invalid_request");
    }
    // Over 16 KiB: 413, before anything is parsed.
    let huge = format!(r#"{{"org_name":"{}"}}"#, "x".repeat(17 * 1024));
    assert_error(&stack.signup(&token, &huge).await, 413, "payload_too_large");
    assert_error(&stack.keys("POST", &keys_path, &token, Some(&huge)).await, 413, "payload_too_large");
    // Unknown routes and methods.
    assert_error(&stack.keys("GET", "/orgs", &token, None).await, 404, "not_found");
    assert_error(&stack.keys("PUT", &keys_path, &token, None).await, 405, "method_not_allowed");
    assert_error(&verify::handle(&stack.store, rest_request("GET", "/nope", &[], None)).await, 404, "not_found");
    assert_error(
        &verify::handle(&stack.store, rest_request("POST", "/verify", &[], None)).await,
        405,
        "method_not_allowed",
    );
    let response = signup::handle(&stack.signup, rest_request("GET", "/signup", &[], None)).await;
    assert_error(&response, 405, "method_not_allowed");
}

#[tokio::test]
async fn firebase_routes_need_a_valid_token() {
    let stack = Stack::new().await;
    let now = overten::clock::now_secs();
    let no_auth =
        signup::handle(&stack.signup, rest_request("POST", "/signup", &[], Some(r#"{"org_name":"A"}"#))).await;
    assert_error(&no_auth, 401, "missing_token");
    assert_error(&stack.signup("not-a-jwt", r#"{"org_name":"A"}"#).await, 401, "invalid_token");
    let mut expired = claims(PROJECT_ID, "uid-x", now - 7200);
    expired["exp"] = json!(now - 3600);
    assert_error(&stack.signup(&unsigned(&expired), r#"{"org_name":"A"}"#).await, 401, "token_expired");
    let other_project = claims("another-project", "uid-x", now);
    assert_error(&stack.signup(&unsigned(&other_project), r#"{"org_name":"A"}"#).await, 401, "invalid_token");
    assert_error(&stack.keys("GET", "/orgs/org_x/api-keys", "", None).await, 401, "missing_token");
    // An API key is not a Firebase token.
    let key = overten::ApiKey::generate();
    assert_error(&stack.keys("GET", "/orgs/org_x/api-keys", key.expose_secret(), None).await, 401, "invalid_token");
}

#[tokio::test]
async fn malformed_keys_cost_no_database_call() {
    let stack = Stack::new().await;
    let counting = CountingStore::new(stack.store.clone());
    let good = overten::ApiKey::generate();
    let mut typo = good.expose_secret().to_owned();
    let last = typo.pop().unwrap();
    typo.push(if last == 'a' { 'b' } else { 'a' });
    for headers in [
        vec![],
        vec![("X-API-Key", "sk_live_short")],
        vec![("X-API-Key", typo.as_str())],
        vec![("Authorization", "Basic abc")],
    ] {
        let response = verify::handle(&counting, rest_request("GET", "/verify", &headers, None)).await;
        assert_eq!(response.status(), 401);
        let answer = authorize(&counting, &rest_authorizer_event(&headers)).await.unwrap();
        assert!(!answer.is_allowed());
    }
    assert_error(&verify::handle(&counting, rest_request("GET", "/verify", &[], None)).await, 401, "missing_api_key");
    assert_eq!(counting.calls(), 0);
    // A well-formed unknown key costs exactly one read.
    let response =
        verify::handle(&counting, rest_request("GET", "/verify", &[("X-API-Key", good.expose_secret())], None)).await;
    assert_error(&response, 401, "invalid_api_key");
    assert_eq!(counting.calls(), 1);
}

#[tokio::test]
async fn authorizer_answers_aws_sample_events() {
    let stack = Stack::new().await;
    let (_, token) = emulator_user().await;
    let (org, secret, body) = stack.new_org(&token).await;

    // The REST REQUEST-authorizer sample from aws_lambda_events, with a key header added.
    let mut event: Value =
        serde_json::from_str(include_str!("events/aws/example-apigw-custom-auth-request-type-request.json")).unwrap();
    event["headers"]["X-API-Key"] = json!(secret);
    let answer = authorize(&stack.store, &event).await.unwrap();
    assert!(answer.is_allowed());
    // The policy as API Gateway reads it: invoke, on the whole stage.
    let wire = serde_json::to_value(&answer).unwrap();
    let statement = &wire["policyDocument"]["Statement"][0];
    assert_eq!(statement["Resource"][0], "arn:aws:execute-api:us-east-1:123456789012:s4x3opwd6i/test/*");
    assert_eq!(statement["Action"][0], "execute-api:Invoke");
    assert_eq!(answer.context().org_id.as_deref(), Some(org.as_str()));
    assert_eq!(answer.context().key_id.as_deref(), body["key"]["id"].as_str());
    // The same sample without a key: Deny carrying the error code.
    let mut no_key = event.clone();
    no_key["headers"].as_object_mut().unwrap().remove("X-API-Key");
    let answer = authorize(&stack.store, &no_key).await.unwrap();
    assert!(!answer.is_allowed());
    assert_eq!(answer.context().error_code.as_deref(), Some("missing_api_key"));
    assert_eq!(answer.context().org_id, None);

    // The HTTP API payload-2.0 sample.
    let mut v2: Value =
        serde_json::from_str(include_str!("events/aws/example-apigw-v2-custom-authorizer-v2-request.json")).unwrap();
    v2["headers"]["authorization"] = json!(format!("Bearer {secret}"));
    let answer = authorize(&stack.store, &v2).await.unwrap();
    assert!(matches!(answer, AuthorizerResponse::HttpApi(_)) && answer.is_allowed());
    assert_eq!(answer.context().org_id.as_deref(), Some(org.as_str()));
    v2["headers"]["authorization"] = json!("Bearer sk_live_wrong");
    let answer = authorize(&stack.store, &v2).await.unwrap();
    assert!(!answer.is_allowed());
    assert_eq!(answer.context().error_code.as_deref(), Some("invalid_api_key"));
    let answer = authorize(&stack.store, &http_api_authorizer_event(&[("X-API-Key", &secret)])).await.unwrap();
    assert!(answer.is_allowed());
}

#[tokio::test]
async fn the_authorizer_and_verify_fail_closed_when_dynamodb_is_down() {
    let client = overten_tests::ddb_client_at("http://127.0.0.1:9").await;
    let store = DynamoStore::new(client, overten_tests::fresh_tables().await);
    let key = overten::ApiKey::generate();
    let err = authorize(&store, &rest_authorizer_event(&[("X-API-Key", key.expose_secret())])).await.unwrap_err();
    assert!(err.to_string().contains("unavailable"), "{err}");
    let err = authorize(&store, &http_api_authorizer_event(&[("X-API-Key", key.expose_secret())])).await;
    assert!(err.is_err());
    let response =
        verify::handle(&store, rest_request("GET", "/verify", &[("X-API-Key", key.expose_secret())], None)).await;
    assert_error(&response, 503, "service_unavailable");
    assert!(!body_json(&response).to_string().contains("127.0.0.1"), "internal detail leaked");
    // The deployed /verify: DynamoDB down is 503; an event that is no proxy event is 400, no panic.
    let event = serde_json::to_string(&overten_tests::events_json(
        "GET",
        "/verify",
        &[("X-API-Key".to_owned(), key.expose_secret().to_owned())],
    ))
    .unwrap();
    let proxy = verify::invoke(&store, &serde_json::value::RawValue::from_string(event).unwrap(), "r").await;
    assert_eq!(proxy.status_code, 503);
    for bad in [r#"{"headers": 5}"#, r#"[1]"#, r#"{"queryStringParameters": {"a": 1}}"#] {
        let payload = serde_json::value::RawValue::from_string(bad.to_owned()).unwrap();
        let proxy = verify::invoke(&store, &payload, "r").await;
        assert_eq!(proxy.status_code, 400, "{bad}");
    }
    // A malformed event is an error too, never an Allow; an event without a key is refused.
    assert!(authorize(&store, &json!({"type": "REQUEST", "headers": 5})).await.is_err());
    assert!(!authorize(&store, &json!({"type": "REQUEST"})).await.unwrap().is_allowed());
}

#[tokio::test]
async fn a_downstream_route_reads_the_authorizers_context() {
    let stack = Stack::new().await;
    let (_, token) = emulator_user().await;
    let (org, secret, body) = stack.new_org(&token).await;
    // What API Gateway does: run the authorizer, then hand its context to the integration.
    let answer = stack.authorize(&[("X-API-Key", &secret)]).await;
    let context = serde_json::to_value(answer.context()).unwrap();
    let request = rest_request_with_authorizer("GET", "/v1/whoami", &[("X-API-Key", &secret)], None, context);
    let response = whoami::handle(request).await;
    assert_eq!(response.status(), 200);
    assert_eq!(body_json(&response), json!({"org_id": org, "key_id": body["key"]["id"]}));
    // Deployed without the authorizer: a server error, never an anonymous answer.
    let response = whoami::handle(rest_request("GET", "/v1/whoami", &[], None)).await;
    assert_error(&response, 500, "internal_error");
}

/// The example events of `tests/events/` (what `cargo lambda invoke --data-file` sends), with
/// their placeholders filled in, get the expected answers from each function.
#[tokio::test]
async fn the_example_events_drive_each_function() {
    let stack = Stack::new().await;
    let (_, token) = emulator_user().await;
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/events");
    let load = |name: &str, fill: &[(&str, &str)]| {
        let mut text = std::fs::read_to_string(format!("{dir}/{name}")).unwrap();
        for (placeholder, value) in fill {
            text = text.replace(placeholder, value);
        }
        assert!(!text.contains("REPLACE_WITH_"), "{name}: placeholder left");
        text
    };
    let http = |text: String| lambda_http::request::from_str(&text).unwrap();

    let signup =
        signup::handle(&stack.signup, http(load("signup.json", &[("REPLACE_WITH_FIREBASE_ID_TOKEN", &token)]))).await;
    assert_eq!(signup.status(), 201);
    let created = body_json(&signup);
    let (org, secret) = (created["org_id"].as_str().unwrap(), created["secret"].as_str().unwrap());
    let fill = [
        ("REPLACE_WITH_FIREBASE_ID_TOKEN", token.as_str()),
        ("REPLACE_WITH_ORG_ID", org),
        ("REPLACE_WITH_API_KEY", secret),
    ];

    let response = keys::handle(&stack.keys, http(load("keys-create.json", &fill))).await;
    assert_eq!(response.status(), 201);
    let new_key = body_json(&response)["id"].as_str().unwrap().to_owned();
    let response = keys::handle(&stack.keys, http(load("keys-list.json", &fill))).await;
    assert_eq!(body_json(&response)["data"].as_array().unwrap().len(), 2);
    let response = verify::handle(&stack.store, http(load("verify.json", &fill))).await;
    assert_eq!(body_json(&response)["org_id"], org);
    // The deployed function's door: the same event's text, decoded in one pass.
    let deployed = |name: &str, fill: &[(&str, &str)]| {
        let payload = serde_json::value::RawValue::from_string(load(name, fill)).unwrap();
        let store = stack.store.clone();
        async move { verify::invoke(&store, &payload, "lambda-req").await }
    };
    let proxy = deployed("verify.json", &fill).await;
    let wire = serde_json::to_value(&proxy).unwrap();
    assert_eq!((wire["statusCode"].as_i64(), wire["headers"]["cache-control"].as_str()), (Some(200), Some("no-store")));
    let body: Value = serde_json::from_str(wire["body"].as_str().unwrap()).unwrap();
    assert_eq!(body, body_json(&response), "both doors answer the same");
    for name in ["authorizer-rest.json", "authorizer-http-api.json"] {
        let event: Value = serde_json::from_str(&load(name, &fill)).unwrap();
        let answer = authorize(&stack.store, &event).await.unwrap();
        assert!(answer.is_allowed(), "{name}: {answer:?}");
    }
    let fill_key = [fill[0], fill[1], fill[2], ("REPLACE_WITH_KEY_ID", new_key.as_str())];
    let response = whoami::handle(http(load("whoami.json", &fill_key))).await;
    assert_eq!(body_json(&response)["org_id"], org);
    let response = keys::handle(&stack.keys, http(load("keys-rename.json", &fill_key))).await;
    assert_eq!((response.status().as_u16(), body_json(&response)["name"].as_str()), (200, Some("billing-service-v2")));
    let response = keys::handle(&stack.keys, http(load("keys-roll.json", &fill_key))).await;
    assert_eq!((response.status().as_u16(), body_json(&response)["rolled_from"].as_str()), (201, Some(&*new_key)));
    let response = keys::handle(&stack.keys, http(load("keys-events.json", &fill_key))).await;
    let types: Vec<Value> =
        body_json(&response)["data"].as_array().unwrap().iter().map(|e| e["type"].clone()).collect();
    assert_eq!(types, [json!("key.rolled"), json!("key.renamed"), json!("key.created"), json!("org.created")]);
    let response = keys::handle(&stack.keys, http(load("keys-revoke.json", &fill_key))).await;
    assert_eq!(response.status(), 204);

    // A restricted key: created, judged at the gate (REST and HTTP API) and at /verify, changed.
    let response = keys::handle(&stack.keys, http(load("keys-create-restricted.json", &fill))).await;
    assert_eq!(response.status(), 201);
    let restricted = body_json(&response);
    assert_eq!(restricted["allowed_ips"], json!(["203.0.113.0/24", "2001:db8::/32"]));
    let fill_restricted = [
        fill[0],
        fill[1],
        ("REPLACE_WITH_RESTRICTED_API_KEY", restricted["secret"].as_str().unwrap()),
        ("REPLACE_WITH_KEY_ID", restricted["id"].as_str().unwrap()),
    ];
    let event: Value = serde_json::from_str(&load("authorizer-rest-generations.json", &fill_restricted)).unwrap();
    let answer = authorize(&stack.store, &event).await.unwrap();
    assert!(!answer.is_allowed());
    assert_eq!(answer.context().error_message.as_deref(), Some("this key may not act on format docx"));
    let event: Value = serde_json::from_str(&load("authorizer-http-api-generations.json", &fill_restricted)).unwrap();
    assert!(authorize(&stack.store, &event).await.unwrap().is_allowed());
    let response = verify::handle(&stack.store, http(load("verify-permission.json", &fill_restricted))).await;
    assert_error(&response, 403, "permission_denied");
    let proxy = deployed("verify-permission.json", &fill_restricted).await;
    let body: Value = serde_json::from_str(serde_json::to_value(&proxy).unwrap()["body"].as_str().unwrap()).unwrap();
    assert_eq!((proxy.status_code, &body["error"]["required"]["permission"]), (403, &json!("files:write")));
    assert_eq!(body["error"]["request_id"], "c6af9ac6-7b61-11e6-9a41-93e8deadbeef", "API Gateway's request id");
    let response = keys::handle(&stack.keys, http(load("keys-restrict.json", &fill_restricted))).await;
    let changed = body_json(&response);
    assert_eq!((&changed["formats"], &changed["allowed_ips"]), (&json!(["pdf", "docx"]), &Value::Null));
    let event: Value = serde_json::from_str(&load("authorizer-rest-generations.json", &fill_restricted)).unwrap();
    assert!(authorize(&stack.store, &event).await.unwrap().is_allowed(), "docx, from anywhere, after the PATCH");
}
