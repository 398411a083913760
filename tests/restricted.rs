//! Restricted keys (README, "Restricted keys"): set, shown, enforced and lifted, through the local
//! gateway with curl-shaped requests (it renders the template's gateway responses and runs the
//! authorizer as API Gateway does) and through the authorizer with REST and HTTP API events.
//! Against DynamoDB Local and the Auth emulator.

use lambda_http::{Body, Response};
use local_gateway::template::ApiTemplate;
use local_gateway::{Gateway, Limits};
use overten::store::DynamoStore;
use overten_tests::events::{authorize, body_json, http_api_authorizer_event_for, rest_authorizer_event_for};
use overten_tests::{emulator_user, emulator_verifier, fresh_store};
use serde_json::{Value, json};

const ORIGIN: &str = "http://127.0.0.1:3390";

struct Api {
    gateway: Gateway,
    store: DynamoStore,
    org: String,
    token: String,
}

impl Api {
    async fn new() -> Self {
        let store = fresh_store().await;
        let template = ApiTemplate::load(|name| (name == "CorsAllowedOrigin").then(|| ORIGIN.to_owned())).unwrap();
        let limits = Limits { rate: 1000.0, burst: 1000.0, signup_rate: 1000.0, signup_burst: 1000.0 };
        let app = overten::http::App::new(store.clone(), emulator_verifier()).with_cors_origin(ORIGIN);
        let gateway = Gateway::new(app, store.clone(), template, limits);
        let (_, token) = emulator_user().await;
        let mut api = Api { gateway, store, org: String::new(), token };
        let (status, signup) = api.dashboard("POST", "/signup", Some(json!({"org_name": "Restricted"}))).await;
        assert_eq!(status, 201, "{signup}");
        api.org = signup["org_id"].as_str().unwrap().to_owned();
        api
    }

    /// A dashboard call with the member's Firebase token.
    async fn dashboard(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let auth = format!("Bearer {}", self.token);
        let response =
            self.send(method, path, &[("Authorization", &auth)], body.map(|b| b.to_string()), "127.0.0.1").await;
        (response.status().as_u16(), body_json(&response))
    }

    async fn create(&self, body: Value) -> Value {
        let (status, created) = self.dashboard("POST", &format!("/orgs/{}/api-keys", self.org), Some(body)).await;
        assert_eq!(status, 201, "{created}");
        created
    }

    /// `curl -X METHOD path -H "X-API-Key: …"` from `source_ip`.
    async fn with_key(&self, method: &str, path: &str, secret: &str, source_ip: &str) -> (u16, Value) {
        let response = self.send(method, path, &[("X-API-Key", secret)], None, source_ip).await;
        (response.status().as_u16(), body_json(&response))
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<String>,
        source_ip: &str,
    ) -> Response<Body> {
        let request = overten_tests::gateway_request(method, path, headers, body, source_ip);
        self.gateway.handle(request).await
    }
}

/// A 403 in the contract's body, naming what is missing.
fn assert_denied(answer: &(u16, Value), message: &str, required: Value) {
    let (status, body) = answer;
    assert_eq!(*status, 403, "{body}");
    assert_eq!(body["error"]["code"], "permission_denied", "{body}");
    assert_eq!(body["error"]["message"], message, "{body}");
    assert_eq!(body["error"]["required"], required, "{body}");
    assert!(body["error"]["request_id"].as_str().is_some_and(|id| id.starts_with("local-")), "{body}");
}

#[tokio::test]
async fn generations_write_and_pdf_through_the_gateway() {
    let api = Api::new().await;
    let restricted =
        api.create(json!({"name": "pdf-writer", "permissions": ["generations:write"], "formats": ["pdf"]})).await;
    assert_eq!(
        (&restricted["permissions"], &restricted["formats"], &restricted["allowed_ips"]),
        (&json!(["generations:write"]), &json!(["pdf"]), &Value::Null)
    );
    let open = api.create(json!({"name": "everything"})).await;
    assert_eq!((&open["permissions"], &open["formats"]), (&Value::Null, &Value::Null));
    let (secret, open_secret) = (restricted["secret"].as_str().unwrap(), open["secret"].as_str().unwrap());
    let ip = "198.51.100.20";

    let (status, echo) = api.with_key("POST", "/v1/generations/pdf", secret, ip).await;
    assert_eq!(status, 200, "{echo}");
    assert_eq!(echo["route"], "POST /v1/generations/{format}");
    assert_eq!(echo["path_parameters"], json!({"format": "pdf"}));
    // Downstream services get the lists, comma-separated, for what the gate cannot see.
    assert_eq!(echo["authorizer"]["permissions"], "generations:write");
    assert_eq!(echo["authorizer"]["formats"], "pdf");
    assert_eq!(echo["authorizer"]["key_id"], restricted["id"]);
    let (status, _) = api.with_key("GET", "/v1/generations/gen_123", secret, ip).await;
    assert_eq!(status, 200, "write includes read");
    assert_denied(
        &api.with_key("POST", "/v1/generations/docx", secret, ip).await,
        "this key may not act on format docx",
        json!({"permission": null, "format": "docx"}),
    );
    assert_denied(
        &api.with_key("GET", "/v1/runs/run_1", secret, ip).await,
        "this key lacks runs:read",
        json!({"permission": "runs:read", "format": null}),
    );
    let not_in_table = api.with_key("GET", "/v1/reports/monthly", secret, ip).await;
    assert_denied(
        &not_in_table,
        "this key may not call GET /v1/{proxy+}: restricted keys call only the routes of the route table",
        json!({"permission": null, "format": null}),
    );
    let (status, _) = api.with_key("GET", "/v1/whoami", secret, ip).await;
    assert_eq!(status, 200, "whoami: any valid key");
    // The unrestricted key of the same org: everywhere, and its context names no lists.
    for (method, path) in [
        ("POST", "/v1/generations/pdf"),
        ("GET", "/v1/generations/gen_123"),
        ("POST", "/v1/generations/docx"),
        ("GET", "/v1/runs/run_1"),
        ("GET", "/v1/reports/monthly"),
    ] {
        let (status, echo) = api.with_key(method, path, open_secret, ip).await;
        assert_eq!(status, 200, "{method} {path}: {echo}");
        assert!(echo["authorizer"].get("permissions").is_none() && echo["authorizer"].get("formats").is_none());
    }
    // Key problems stay 401.
    let (status, body) = api.with_key("POST", "/v1/generations/pdf", "sk_live_nope", ip).await;
    assert_eq!((status, body["error"]["code"].as_str()), (401, Some("invalid_api_key")));

    // /verify asks about what the gate cannot see: one read, 200 or 403.
    let (status, verified) = api.with_key("GET", "/verify?permission=generations:read&format=pdf", secret, ip).await;
    assert_eq!(status, 200, "{verified}");
    assert_eq!((&verified["permissions"], &verified["formats"]), (&json!(["generations:write"]), &json!(["pdf"])));
    assert_denied(
        &api.with_key("GET", "/verify?permission=files:write", secret, ip).await,
        "this key lacks files:write",
        json!({"permission": "files:write", "format": null}),
    );
    assert_denied(
        &api.with_key("GET", "/verify?format=docx", secret, ip).await,
        "this key may not act on format docx",
        json!({"permission": null, "format": "docx"}),
    );
    for bad in ["/verify?permission=files:delete", "/verify?format=PDF", "/verify?scope=x"] {
        let (status, body) = api.with_key("GET", bad, secret, ip).await;
        assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_request")), "{bad}: {body}");
    }
    let (status, _) = api.with_key("GET", "/verify?permission=files:write&format=docx", open_secret, ip).await;
    assert_eq!(status, 200, "an unrestricted key may do anything");
}

/// The same matrix straight through the authorizer, with REST and HTTP API payload 2.0 events.
#[tokio::test]
async fn generations_write_and_pdf_through_rest_and_http_api_events() {
    let api = Api::new().await;
    let restricted = api.create(json!({"name": "pdf", "permissions": ["generations:write"], "formats": ["pdf"]})).await;
    let open = api.create(json!({"name": "open"})).await;
    let cases = [
        ("POST", "/v1/generations/pdf", true),
        ("GET", "/v1/generations/gen_1", true),
        ("POST", "/v1/generations/docx", false),
        ("GET", "/v1/runs/run_1", false),
        ("GET", "/v1/reports/monthly", false),
        ("GET", "/v1/whoami", true),
    ];
    for http_api in [false, true] {
        for (method, path, allowed) in cases {
            for (key, expected) in [(&restricted, allowed), (&open, true)] {
                let headers = [("X-API-Key", key["secret"].as_str().unwrap())];
                let event = if http_api {
                    http_api_authorizer_event_for(method, path, &headers, "198.51.100.20")
                } else {
                    rest_authorizer_event_for(method, path, &headers, "198.51.100.20")
                };
                let answer = authorize(&api.store, &event).await.unwrap();
                assert_eq!(answer.is_allowed(), expected, "{method} {path} http_api={http_api} key={}", key["name"]);
                let context = answer.context();
                assert_eq!(context.key_id.as_deref(), key["id"].as_str(), "the key is named on a denial too");
                if !expected {
                    assert_eq!(context.error_code.as_deref(), Some("permission_denied"));
                    let required: Value = serde_json::from_str(context.required.as_deref().unwrap()).unwrap();
                    match path {
                        "/v1/generations/docx" => assert_eq!(required["format"], "docx"),
                        "/v1/runs/run_1" => assert_eq!(required["permission"], "runs:read"),
                        _ => assert_eq!(required, json!({"permission": null, "format": null})),
                    }
                }
            }
        }
    }
}

#[tokio::test]
async fn allowed_ips_inside_and_outside_ipv4_mapped_included() {
    let api = Api::new().await;
    let key = api.create(json!({"name": "office", "allowed_ips": ["203.0.113.0/24", "2001:DB8::/32"]})).await;
    assert_eq!(key["allowed_ips"], json!(["203.0.113.0/24", "2001:db8::/32"]), "stored in canonical form");
    let secret = key["secret"].as_str().unwrap();
    for inside in ["203.0.113.7", "2001:db8::7", "::ffff:203.0.113.7"] {
        let (status, echo) = api.with_key("GET", "/v1/runs/run_1", secret, inside).await;
        assert_eq!(status, 200, "{inside}: {echo}");
        let (status, _) = api.with_key("GET", "/verify", secret, inside).await;
        assert_eq!(status, 200, "/verify from {inside}");
    }
    for (outside, named) in
        [("198.51.100.7", "198.51.100.7"), ("2001:db9::1", "2001:db9::1"), ("::ffff:198.51.100.7", "198.51.100.7")]
    {
        let message = format!("this key may not be used from {named}");
        assert_denied(
            &api.with_key("GET", "/v1/runs/run_1", secret, outside).await,
            &message,
            json!({"permission": null, "format": null}),
        );
        assert_denied(
            &api.with_key("GET", "/verify", secret, outside).await,
            &message,
            json!({"permission": null, "format": null}),
        );
    }
    // Only networks: a route outside the table is still allowed from inside (it restricts where
    // from, not what).
    let (status, _) = api.with_key("GET", "/v1/reports/monthly", secret, "203.0.113.7").await;
    assert_eq!(status, 200);
    // HTTP API events, from their sourceIp.
    for (source, allowed) in [("203.0.113.9", true), ("::ffff:203.0.113.9", true), ("192.0.2.1", false)] {
        let event = http_api_authorizer_event_for("GET", "/v1/runs/run_1", &[("X-API-Key", secret)], source);
        assert_eq!(authorize(&api.store, &event).await.unwrap().is_allowed(), allowed, "{source}");
    }
}

#[tokio::test]
async fn patch_lifts_at_once_records_from_and_to_and_a_roll_inherits() {
    let api = Api::new().await;
    let key = api.create(json!({"name": "narrow", "permissions": ["runs:read"], "formats": ["pdf"]})).await;
    let (id, secret) = (key["id"].as_str().unwrap(), key["secret"].as_str().unwrap());
    let ip = "198.51.100.20";
    let (status, _) = api.with_key("POST", "/v1/runs", secret, ip).await;
    assert_eq!(status, 403);
    let path = format!("/orgs/{}/api-keys/{id}", api.org);
    let (status, updated) = api.dashboard("PATCH", &path, Some(json!({"permissions": ["runs:write"]}))).await;
    assert_eq!((status, &updated["permissions"], &updated["formats"]), (200, &json!(["runs:write"]), &json!(["pdf"])));
    let (status, _) = api.with_key("POST", "/v1/runs", secret, ip).await;
    assert_eq!(status, 200, "the very next request");
    // null lifts.
    let (status, updated) = api.dashboard("PATCH", &path, Some(json!({"permissions": null, "formats": null}))).await;
    assert_eq!((status, &updated["permissions"], &updated["formats"]), (200, &Value::Null, &Value::Null));
    let (status, _) = api.with_key("POST", "/v1/files", secret, ip).await;
    assert_eq!(status, 200, "unrestricted again");
    // One key.restricted event per change, from and to.
    let (_, events) = api.dashboard("GET", &format!("/orgs/{}/events?limit=100", api.org), None).await;
    let restricted: Vec<&Value> =
        events["data"].as_array().unwrap().iter().filter(|e| e["type"] == "key.restricted").collect();
    assert_eq!(restricted.len(), 2, "{events}");
    assert_eq!(
        restricted[0]["data"],
        json!({"from": {"permissions": ["runs:write"], "formats": ["pdf"], "allowed_ips": null},
               "to": {"permissions": null, "formats": null, "allowed_ips": null}})
    );
    assert_eq!(restricted[1]["data"]["from"]["permissions"], json!(["runs:read"]));
    // The same lists again: nothing written, no event.
    let (status, _) = api.dashboard("PATCH", &path, Some(json!({"formats": null}))).await;
    assert_eq!(status, 200);
    let (_, again) = api.dashboard("GET", &format!("/orgs/{}/events?limit=100", api.org), None).await;
    assert_eq!(again["data"].as_array().unwrap().len(), events["data"].as_array().unwrap().len());

    // A roll's new key carries the old key's lists, unless the body gives others.
    api.dashboard("PATCH", &path, Some(json!({"formats": ["pdf"], "allowed_ips": ["198.51.100.0/24"]}))).await;
    let (status, rolled) =
        api.dashboard("POST", &format!("{path}/roll"), Some(json!({"grace_period_seconds": 0}))).await;
    assert_eq!(status, 201, "{rolled}");
    assert_eq!(
        (&rolled["formats"], &rolled["allowed_ips"], &rolled["permissions"]),
        (&json!(["pdf"]), &json!(["198.51.100.0/24"]), &Value::Null)
    );
    let new_secret = rolled["secret"].as_str().unwrap();
    let (status, _) = api.with_key("POST", "/v1/generations/docx", new_secret, ip).await;
    assert_eq!(status, 403, "the inherited formats hold");
    let new_id = rolled["id"].as_str().unwrap();
    let (status, rolled_again) = api
        .dashboard(
            "POST",
            &format!("/orgs/{}/api-keys/{new_id}/roll", api.org),
            Some(json!({"grace_period_seconds": 0, "formats": null})),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!((&rolled_again["formats"], &rolled_again["allowed_ips"]), (&Value::Null, &json!(["198.51.100.0/24"])));
    // The listing shows the lists.
    let (_, listing) = api.dashboard("GET", &format!("/orgs/{}/api-keys", api.org), None).await;
    let listed = listing["data"].as_array().unwrap().iter().find(|k| k["id"] == rolled_again["id"]).unwrap().clone();
    assert_eq!((&listed["formats"], &listed["allowed_ips"]), (&Value::Null, &json!(["198.51.100.0/24"])));
}

#[tokio::test]
async fn bad_lists_are_400_and_write_nothing() {
    let api = Api::new().await;
    let path = format!("/orgs/{}/api-keys", api.org);
    for body in [
        json!({"name": "x", "permissions": []}),
        json!({"name": "x", "permissions": ["runs:admin"]}),
        json!({"name": "x", "formats": ["PDF"]}),
        json!({"name": "x", "formats": ["pdf", "pdf"]}),
        json!({"name": "x", "allowed_ips": ["example.com"]}),
        json!({"name": "x", "allowed_ips": "203.0.113.0/24"}),
        json!({"name": "x", "formats": (0..51).map(|i| format!("f{i}")).collect::<Vec<_>>()}),
    ] {
        let (status, answer) = api.dashboard("POST", &path, Some(body.clone())).await;
        assert_eq!((status, answer["error"]["code"].as_str()), (400, Some("invalid_request")), "{body}: {answer}");
    }
    let (_, listing) = api.dashboard("GET", &path, None).await;
    assert_eq!(listing["data"].as_array().unwrap().len(), 1, "only the signup key: {listing}");
    let first = listing["data"][0]["id"].as_str().unwrap().to_owned();
    let (status, answer) = api.dashboard("PATCH", &format!("{path}/{first}"), Some(json!({}))).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (400, Some("invalid_request")), "an empty PATCH");
}
