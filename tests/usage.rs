//! Key usage (README, "Key usage"): access-log lines and the functions' `key usage` lines, in the
//! subscription event CloudWatch Logs sends, through the real aggregator into the usage table on
//! DynamoDB Local, read back through the usage routes of the local gateway (Auth emulator tokens).

use std::sync::Arc;

use lambda_http::{Body, Response};
use local_gateway::template::ApiTemplate;
use local_gateway::usage_feed::{TeeWriter, UsageFeed};
use local_gateway::{Gateway, Limits};
use overten::store::{DynamoStore, DynamoUsage, UsageReader};
use overten::usage::report::DayRange;
use overten_tests::events::body_json;
use overten_tests::{emulator_user, emulator_verifier, fresh_store};
use serde_json::{Value, json};

const DAY_MS: i64 = 86_400_000;

struct Api {
    gateway: Gateway,
    store: DynamoStore,
    usage: DynamoUsage,
    feed: Arc<UsageFeed>,
    org: String,
    uid: String,
    token: String,
}

impl Api {
    async fn new() -> Self {
        let store = fresh_store().await;
        let usage = DynamoUsage::new(store.client().clone(), format!("{}-KeyUsage", store.tables().orgs));
        overten::store::tables::ensure_usage_table(store.client(), usage.table()).await.unwrap();
        let template = ApiTemplate::load(|_| None).unwrap();
        let limits = Limits { rate: 1000.0, burst: 1000.0, signup_rate: 1000.0, signup_burst: 1000.0 };
        let app = overten::http::App::new(store.clone(), emulator_verifier());
        let reader = UsageReader { keys: store.clone(), usage: usage.clone() };
        let feed = Arc::new(UsageFeed::default());
        let gateway = Gateway::new(app, store.clone(), template, limits)
            .with_usage(overten::http::App::new(reader, emulator_verifier()))
            .with_usage_feed(feed.clone());
        let (uid, token) = emulator_user().await;
        let mut api = Api { gateway, store, usage, feed, org: String::new(), uid, token };
        let (status, signup) =
            api.dashboard(&api.token.clone(), "POST", "/signup", Some(json!({"org_name": "Usage"}))).await;
        assert_eq!(status, 201, "{signup}");
        api.org = signup["org_id"].as_str().unwrap().to_owned();
        api
    }

    async fn dashboard(&self, token: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let auth = format!("Bearer {token}");
        let response =
            self.send(method, path, &[("Authorization", &auth)], body.map(|b| b.to_string()), "127.0.0.1").await;
        (response.status().as_u16(), body_json(&response))
    }

    async fn member(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.dashboard(&self.token, method, path, body).await
    }

    async fn create(&self, name: &str) -> Value {
        let (status, created) =
            self.member("POST", &format!("/orgs/{}/api-keys", self.org), Some(json!({"name": name}))).await;
        assert_eq!(status, 201, "{created}");
        created
    }

    async fn with_key(&self, method: &str, path: &str, secret: &str, source_ip: &str) -> u16 {
        let headers = [("X-API-Key", secret), ("User-Agent", "curl/8.5.0")];
        self.send(method, path, &headers, None, source_ip).await.status().as_u16()
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
        // The functions' log lines go where the deployed ones do, and on to the feed.
        let _guard = tracing::subscriber::set_default(overten::logging::subscriber(TeeWriter(self.feed.clone())));
        self.gateway.handle(request).await
    }

    async fn key_usage(&self, key_id: &str, query: &str) -> (u16, Value) {
        self.member("GET", &format!("/orgs/{}/api-keys/{key_id}/usage{query}", self.org), None).await
    }
}

fn today_ms() -> i64 {
    overten::clock::now_millis() as i64 / DAY_MS * DAY_MS
}

fn day_name(at_ms: i64) -> String {
    overten::usage::day::day_of_ms(at_ms)
}

/// An access-log line as the stage writes it (the template's format).
fn access_line(org: &str, key: &str, at_ms: i64, route: (&str, &str), status: u16, ip: &str, agent: &str) -> String {
    let refused = if status == 403 { "permission_denied" } else { "-" };
    json!({"requestId": "r", "ip": ip, "requestTime": "-", "requestTimeEpoch": at_ms.to_string(),
        "httpMethod": route.0, "resourcePath": route.1, "status": status.to_string(), "orgId": org, "keyId": key,
        "userAgent": agent, "authorizerError": refused, "keyFormat": "-", "responseType": "-"})
    .to_string()
}

fn events(lines: &[String], first_id: usize) -> Vec<(String, i64, String)> {
    lines.iter().enumerate().map(|(i, l)| (format!("{:08}", first_id + i), 0, l.clone())).collect()
}

#[tokio::test]
async fn three_keys_over_three_days_count_exactly_once() {
    let api = Api::new().await;
    let keys: Vec<String> = [api.create("a").await, api.create("b").await, api.create("c").await]
        .iter()
        .map(|k| k["id"].as_str().unwrap().to_owned())
        .collect();
    let today = today_ms();
    let days = [today - 2 * DAY_MS, today - DAY_MS, today];
    // Key k on day d: (d + 1) * (k + 1) requests of GET /v1/runs/{run_id} from 203.0.113.<k> with
    // curl, and one refused POST /v1/files from 198.51.100.9 with agent "sdk/1".
    let mut by_day: Vec<Vec<String>> = vec![vec![]; 3];
    for (d, day) in days.iter().enumerate() {
        for (k, key) in keys.iter().enumerate() {
            for i in 0..(d + 1) * (k + 1) {
                let ip = format!("203.0.113.{k}");
                by_day[d].push(access_line(
                    &api.org,
                    key,
                    day + 1000 * i as i64,
                    ("GET", "/v1/runs/{run_id}"),
                    200,
                    &ip,
                    "curl/8.5.0",
                ));
            }
            by_day[d].push(access_line(&api.org, key, day + 5000, ("POST", "/v1/files"), 403, "198.51.100.9", "sdk/1"));
        }
        // Lines without a key of ours are not counted.
        by_day[d].push(json!({"status": "401", "keyId": "-", "orgId": "-"}).to_string());
    }
    let first: Vec<String> = by_day[0].iter().chain(&by_day[1]).cloned().collect();
    let first =
        usage_aggregator::subscription_event("/aws/apigateway/overten-keys-test/access", "s1", &events(&first, 0));
    let second = usage_aggregator::subscription_event(
        "/aws/apigateway/overten-keys-test/access",
        "s2",
        &events(&by_day[2], 1000),
    );
    let now = today / 1000;
    let summary = usage_aggregator::invoke(&api.usage, &first, now).await.unwrap();
    assert_eq!((summary.days, summary.written, summary.chunks_seen_before), (6, 6, 0));
    usage_aggregator::invoke(&api.usage, &second, now).await.unwrap();
    // Lambda delivers the first batch again: nothing is added.
    let again = usage_aggregator::invoke(&api.usage, &first, now).await.unwrap();
    assert_eq!((again.written, again.chunks_seen_before, again.transactions), (0, 1, 0));

    let range = format!("?from={}&to={}", day_name(days[0]), day_name(days[2]));
    for (k, key) in keys.iter().enumerate() {
        let (status, usage) = api.key_usage(key, &range).await;
        assert_eq!(status, 200, "{usage}");
        assert_eq!(usage["key_id"], key.as_str());
        assert_eq!(usage["days"].as_array().unwrap().len(), 3);
        for (d, day) in usage["days"].as_array().unwrap().iter().enumerate() {
            let ok = ((d + 1) * (k + 1)) as u64;
            assert_eq!(day["date"], day_name(days[d]));
            assert_eq!(day["requests"], ok + 1, "{day}");
            assert_eq!(day["by_status"], json!({"2xx": ok, "4xx": 1, "5xx": 0}), "{day}");
            assert_eq!(day["refused"], json!({"permission_denied": 1}), "{day}");
            assert_eq!(
                day["routes"],
                json!([{"route": "GET /v1/runs/{run_id}", "requests": ok}, {"route": "POST /v1/files", "requests": 1}]),
                "{day}"
            );
            let ips: Vec<(String, u64)> = day["source_ips"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| (s["ip"].as_str().unwrap().to_owned(), s["requests"].as_u64().unwrap()))
                .collect();
            // Busiest first, ties by address.
            let mut expected = vec![(format!("203.0.113.{k}"), ok), ("198.51.100.9".to_owned(), 1)];
            expected.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            assert_eq!(ips, expected, "{day}");
            assert_eq!(
                day["user_agents"],
                json!([{"user_agent": "curl/8.5.0", "requests": ok}, {"user_agent": "sdk/1", "requests": 1}]),
                "{day}"
            );
        }
        // The first day's first address: seen at its first request.
        let ours = format!("203.0.113.{k}");
        let first_day = usage["days"][0]["source_ips"].as_array().unwrap();
        let first_seen = &first_day.iter().find(|s| s["ip"] == ours.as_str()).unwrap()["first_seen_at"];
        assert_eq!(first_seen.as_str(), Some(overten::clock::rfc3339(days[0] / 1000).as_str()));
    }

    // The org's usage: per key, per day.
    let (status, org) = api.member("GET", &format!("/orgs/{}/usage{range}", api.org), None).await;
    assert_eq!(status, 200, "{org}");
    let listed: Vec<&str> = org["keys"].as_array().unwrap().iter().map(|k| k["key_id"].as_str().unwrap()).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(listed, sorted.iter().map(String::as_str).collect::<Vec<_>>());
    for entry in org["keys"].as_array().unwrap() {
        let k = keys.iter().position(|key| key == entry["key_id"].as_str().unwrap()).unwrap();
        let expected: Vec<Value> = (0..3)
            .map(|d| json!({"date": day_name(days[d]), "requests": (d + 1) * (k + 1) + 1, "refused": 1}))
            .collect();
        assert_eq!(entry["days"], Value::Array(expected));
        assert_eq!(entry["refused"], 3);
    }

    // Another org's member: as for every org route, 404. A range of 93 days: 400.
    let (_, stranger) = emulator_user().await;
    let (status, body) =
        api.dashboard(&stranger, "GET", &format!("/orgs/{}/api-keys/{}/usage", api.org, keys[0]), None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("org_not_found")), "{body}");
    let (status, body) = api.dashboard(&stranger, "GET", &format!("/orgs/{}/usage", api.org), None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("org_not_found")), "{body}");
    let wide = format!("?from={}&to={}", day_name(today - 92 * DAY_MS), day_name(today));
    let (status, body) = api.key_usage(&keys[0], &wide).await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_request")), "{body}");
    let (status, _) =
        api.key_usage(&keys[0], &format!("?from={}&to={}", day_name(today - 91 * DAY_MS), day_name(today))).await;
    assert_eq!(status, 200, "92 days is the most");
    let (status, body) = api.key_usage("key_01JD8X4Z7M2K9Q4V6T3N1B5C8R", "").await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("key_not_found")), "{body}");
}

#[tokio::test]
async fn revoked_and_expired_keys_are_counted_as_refusals_under_the_key() {
    let api = Api::new().await;
    let revoked = api.create("leaked").await;
    let (revoked_id, revoked_secret) = (revoked["id"].as_str().unwrap(), revoked["secret"].as_str().unwrap());
    let (status, _) = api.member("DELETE", &format!("/orgs/{}/api-keys/{revoked_id}", api.org), None).await;
    assert_eq!(status, 204);
    // A key whose expiry has passed (written as it would stand a moment after it ended).
    let expired = overten::ApiKey::generate();
    let now = overten::clock::now_secs();
    let record = overten::store::NewKey {
        key_id: overten::ids::new_key_id(overten::clock::now_millis()),
        hash: expired.hash(),
        name: "old".into(),
        prefix: expired.display_prefix().into(),
        created_at: now - 100,
        expires_at: Some(now - 10),
        rolled_from: None,
        restrictions: Default::default(),
    };
    overten::store::CreateKey::create_key(&api.store, &api.org, &record, &overten_tests::user(&api.uid)).await.unwrap();

    assert_eq!(api.with_key("GET", "/v1/runs/run_1", revoked_secret, "198.51.100.7").await, 401);
    assert_eq!(api.with_key("GET", "/verify", revoked_secret, "198.51.100.7").await, 401);
    assert_eq!(api.with_key("POST", "/v1/generations/pdf", expired.expose_secret(), "198.51.100.8").await, 401);
    api.feed.flush(&api.usage).await;

    let (status, usage) = api.key_usage(revoked_id, "").await;
    assert_eq!(status, 200, "{usage}");
    let today = usage["days"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(today["requests"], 2, "{today}");
    assert_eq!(today["refused"], json!({"revoked_api_key": 2}));
    assert_eq!(today["by_status"]["4xx"], 2);
    assert_eq!(
        today["routes"],
        json!([{"route": "GET /v1/runs/{run_id}", "requests": 1}, {"route": "GET /verify", "requests": 1}])
    );
    assert_eq!(today["source_ips"][0]["ip"], "198.51.100.7", "where the leaked key is still used from");
    assert_eq!(today["source_ips"][0]["new"], true);
    assert_eq!(today["user_agents"], json!([{"user_agent": "curl/8.5.0", "requests": 2}]));
    let (_, usage) = api.key_usage(&record.key_id, "").await;
    let today = usage["days"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(today["refused"], json!({"expired_api_key": 1}), "{today}");
    assert_eq!(today["routes"], json!([{"route": "POST /v1/generations/{format}", "requests": 1}]));
    // No response body named the key: the 401s are the gateway's fixed body.
    let body =
        body_json(&api.send("GET", "/v1/runs/run_1", &[("X-API-Key", revoked_secret)], None, "198.51.100.7").await);
    assert!(!body.to_string().contains(revoked_id), "{body}");
}

#[tokio::test]
async fn an_address_is_new_unless_the_key_used_it_in_the_30_days_before() {
    let api = Api::new().await;
    let key = api.create("k").await["id"].as_str().unwrap().to_owned();
    let today = today_ms();
    let lines = [
        access_line(
            &api.org,
            &key,
            today - 10 * DAY_MS,
            ("GET", "/v1/runs/{run_id}"),
            200,
            "203.0.113.7",
            "curl/8.5.0",
        ),
        access_line(&api.org, &key, today + 1, ("GET", "/v1/runs/{run_id}"), 200, "203.0.113.7", "curl/8.5.0"),
        access_line(&api.org, &key, today + 2, ("GET", "/v1/runs/{run_id}"), 200, "198.51.100.7", "curl/8.5.0"),
    ];
    let batch = usage_aggregator::subscription_event("/aws/apigateway/x/access", "s", &events(&lines, 0));
    usage_aggregator::invoke(&api.usage, &batch, today / 1000).await.unwrap();
    let (status, usage) = api.key_usage(&key, &format!("?from={}", day_name(today - 10 * DAY_MS))).await;
    assert_eq!(status, 200, "{usage}");
    let days = usage["days"].as_array().unwrap();
    assert_eq!(days.len(), 11);
    assert_eq!(
        days[0]["source_ips"],
        json!([{"ip": "203.0.113.7", "requests": 1,
        "first_seen_at": overten::clock::rfc3339((today - 10 * DAY_MS) / 1000), "new": true}])
    );
    let news: Vec<(&str, bool)> = days[10]["source_ips"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["ip"].as_str().unwrap(), s["new"].as_bool().unwrap()))
        .collect();
    assert_eq!(news, [("198.51.100.7", true), ("203.0.113.7", false)]);
}

#[tokio::test]
async fn the_suggestion_is_exactly_the_evidence_and_applying_it_keeps_that_traffic() {
    let api = Api::new().await;
    let created = api.create("worker").await;
    let (id, secret) = (created["id"].as_str().unwrap(), created["secret"].as_str().unwrap());
    for (method, path, ip) in [
        ("GET", "/v1/runs/run_1", "203.0.113.7"),
        ("POST", "/v1/generations/pdf", "203.0.113.99"),
        ("GET", "/v1/runs/run_2", "203.0.113.99"),
    ] {
        assert_eq!(api.with_key(method, path, secret, ip).await, 200, "{method} {path}");
    }
    api.feed.flush(&api.usage).await;
    let path = format!("/orgs/{}/api-keys/{id}/suggested-restrictions", api.org);
    let (status, suggestion) = api.member("GET", &path, None).await;
    assert_eq!(status, 200, "{suggestion}");
    assert_eq!(
        suggestion,
        json!({"permissions": ["generations:write", "runs:read"], "formats": ["pdf"], "allowed_ips": ["203.0.113.0/24"]})
    );
    let (status, patched) = api.member("PATCH", &format!("/orgs/{}/api-keys/{id}", api.org), Some(suggestion)).await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(api.with_key("GET", "/v1/runs/run_3", secret, "203.0.113.50").await, 200);
    assert_eq!(api.with_key("POST", "/v1/generations/pdf", secret, "203.0.113.7").await, 200);
    // And nothing more.
    assert_eq!(api.with_key("POST", "/v1/generations/docx", secret, "203.0.113.7").await, 403);
    assert_eq!(api.with_key("POST", "/v1/files", secret, "203.0.113.7").await, 403);
    assert_eq!(api.with_key("GET", "/v1/runs/run_3", secret, "198.51.100.7").await, 403);
    // The refusals are counted as refusals, and suggest nothing new.
    api.feed.flush(&api.usage).await;
    let (_, again) = api.member("GET", &path, None).await;
    assert_eq!(again["allowed_ips"], json!(["203.0.113.0/24"]));
    let (_, usage) = api.key_usage(id, "").await;
    let today = usage["days"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(today["refused"], json!({"permission_denied": 3}), "{today}");
    assert_eq!(today["requests"], 8);
    let (status, body) = api.member("GET", &format!("{path}?days=7"), None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_request")));
}

/// The example subscription event (`tests/events/usage-aggregator-batch.json`) drives the
/// aggregator as CloudWatch Logs would, and a second delivery of it adds nothing.
#[tokio::test]
async fn the_example_subscription_batch_drives_the_aggregator() {
    use overten::store::ReadUsage;
    let store = fresh_store().await;
    let usage = DynamoUsage::new(store.client().clone(), format!("{}-KeyUsage", store.tables().orgs));
    overten::store::tables::ensure_usage_table(store.client(), usage.table()).await.unwrap();
    let payload = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/events/usage-aggregator-batch.json")).unwrap();
    let summary = usage_aggregator::invoke(&usage, &payload, overten::clock::now_secs()).await.unwrap();
    assert_eq!((summary.log_events, summary.requests, summary.days, summary.written), (4, 3, 1, 1));
    let again = usage_aggregator::invoke(&usage, &payload, overten::clock::now_secs()).await.unwrap();
    assert_eq!((again.written, again.chunks_seen_before), (0, 1));
    let day = DayRange::parse([("from", "2026-11-29"), ("to", "2026-11-29")], 0).unwrap();
    let days = usage.key_days("org_2xq4k9fm3hb7wz", "key_01JD8X4Z7M2K9Q4V6T3N1B5C8R", day).await.unwrap();
    let stored = &days["2026-11-29"];
    assert_eq!(stored.requests, 3);
    assert_eq!(stored.refused.get("permission_denied"), Some(&1));
    assert_eq!(stored.formats["pdf"].requests, 1);
    let org = usage.org_days("org_2xq4k9fm3hb7wz", day).await.unwrap();
    assert_eq!(org.len(), 1);
    assert_eq!((org[0].1.requests, org[0].1.refused), (3, 1));
}

/// A batch touching more (key, day) items than one transaction holds is written in chunks, each
/// with its marker: every chunk once, a second delivery nothing. Two deliveries racing on the
/// same days both count (the loser reads the winner's version and retries).
#[tokio::test]
async fn chunks_count_once_and_racing_deliveries_both_count() {
    use overten::store::ReadUsage;
    let store = fresh_store().await;
    let usage = DynamoUsage::new(store.client().clone(), format!("{}-KeyUsage", store.tables().orgs));
    overten::store::tables::ensure_usage_table(store.client(), usage.table()).await.unwrap();
    let org = overten::ids::new_org_id();
    let today = today_ms();
    // 40 keys × 2 days = 80 (key, day) items: three chunks of at most 36.
    let keys: Vec<String> = (0..40).map(|k| format!("key_01JD8X4Z7M2K9Q4V6T3N1B{k:04}")).collect();
    let lines: Vec<String> = keys
        .iter()
        .flat_map(|key| {
            [today - DAY_MS, today]
                .map(|day| access_line(&org, key, day + 1, ("GET", "/v1/runs/{run_id}"), 200, "203.0.113.7", "a"))
        })
        .collect();
    let batch = usage_aggregator::subscription_event("/aws/apigateway/x/access", "s", &events(&lines, 0));
    let first = usage_aggregator::invoke(&usage, &batch, today / 1000).await.unwrap();
    assert_eq!((first.days, first.written, first.transactions, first.chunks_seen_before), (80, 80, 3, 0));
    let again = usage_aggregator::invoke(&usage, &batch, today / 1000).await.unwrap();
    assert_eq!((again.written, again.transactions, again.chunks_seen_before), (0, 0, 3));

    // Two other batches over the same items, delivered at once.
    let racing = |stream: &str, first_id: usize| {
        usage_aggregator::subscription_event("/aws/apigateway/x/access", stream, &events(&lines, first_id))
    };
    let (a, b) = (racing("s2", 100), racing("s3", 200));
    let (ra, rb) = tokio::join!(
        usage_aggregator::invoke(&usage, &a, today / 1000),
        usage_aggregator::invoke(&usage, &b, today / 1000)
    );
    assert_eq!((ra.unwrap().written, rb.unwrap().written), (80, 80));
    let range = DayRange { from: (today - DAY_MS) / DAY_MS, to: today / DAY_MS };
    let days = usage.org_days(&org, range).await.unwrap();
    assert_eq!(days.len(), 80);
    assert!(days.iter().all(|(_, day)| day.requests == 3), "one batch, its duplicate ignored, two racing: 3 each");
    let key_days = usage.key_days(&org, &keys[7], range).await.unwrap();
    assert_eq!(key_days.values().map(|d| d.requests).collect::<Vec<_>>(), [3, 3]);
}
