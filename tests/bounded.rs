//! Bounded time and bounded growth (README, "Timeouts" and "Tables"): a frozen DynamoDB answers
//! 503 within each function's bound and the same warm clients recover; a stuck `last_used_at`
//! write delays a valid key by at most `TOUCH_BUDGET`; listing active keys costs the same with
//! 1,000 revoked keys as with none; one person's signups stop at the org cap with nothing
//! half-written.

use std::sync::Arc;
use std::time::{Duration, Instant};

use local_gateway::template::ApiTemplate;
use local_gateway::{Gateway, Limits, LocalRequest};
use overten::config::DynamoTimeouts;
use overten::requests::SignupRequest;
use overten::service::{self, TOUCH_BUDGET};
use overten::store::{FixedStore, ListKeys, ListQuery, MAX_ORGS_PER_USER, RevokeKey, sample_record};
use overten_tests::events::{body_json, rest_request};
use overten_tests::own_dynamo::OwnDynamo;
use overten_tests::touching::{Touch, TouchingStore};
use overten_tests::{emulator_user, emulator_verifier, fresh_store, fresh_tables, function_store_at, named, user};

#[tokio::test]
async fn a_frozen_dynamodb_answers_503_in_time_and_the_warm_clients_recover() {
    let port = 8261;
    let ddb = OwnDynamo::start(port, false);
    let endpoint = format!("http://127.0.0.1:{port}");
    let tables = fresh_tables().await;
    let hot = function_store_at(&endpoint, tables.clone(), DynamoTimeouts::HOT_PATH).await;
    let management = function_store_at(&endpoint, tables, DynamoTimeouts::MANAGEMENT).await;
    overten::store::tables::ensure_tables(management.client(), management.tables()).await.unwrap();
    let app = overten::http::App::new(management.clone(), emulator_verifier());
    let template = ApiTemplate::load(|_| None).unwrap();
    let limits = Limits { rate: 1e6, burst: 1e6, signup_rate: 1e6, signup_burst: 1e6 };
    let gateway = Gateway::new(app, hot.clone(), template, limits);
    let (_, token) = emulator_user().await;
    let auth = format!("Bearer {token}");
    let signup = |body: &'static str| {
        let request = rest_request("POST", "/signup", &[("Authorization", &auth)], Some(body));
        signup::handle(&gateway.app, request)
    };
    let created = signup(r#"{"org_name":"Frozen"}"#).await;
    assert_eq!(created.status(), 201);
    let secret = body_json(&created)["secret"].as_str().unwrap().to_owned();
    let whoami = || LocalRequest {
        method: "GET".into(),
        path: "/v1/whoami".into(),
        query: Vec::new(),
        headers: vec![("X-API-Key".into(), secret.clone())],
        body: None,
        source_ip: "127.0.0.1".into(),
    };
    assert_eq!(gateway.handle(whoami()).await.status(), 200);

    ddb.signal("-STOP");
    let (verify_took, authorizer_took, signup_took) = (
        answers_503_within(Duration::from_secs(2), "/verify", || {
            verify::handle(&hot, rest_request("GET", "/verify", &[("X-API-Key", &secret)], None))
        })
        .await,
        answers_503_within(Duration::from_secs(2), "the authorizer", || gateway.handle(whoami())).await,
        answers_503_within(Duration::from_secs(5), "signup", || signup(r#"{"org_name":"While frozen"}"#)).await,
    );
    eprintln!("frozen DynamoDB: /verify {verify_took:?}, authorizer {authorizer_took:?}, signup {signup_took:?}");

    // Thawed: the same process, the same warm clients, answer again by themselves.
    ddb.signal("-CONT");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let response = verify::handle(&hot, rest_request("GET", "/verify", &[("X-API-Key", &secret)], None)).await;
        if response.status() == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "/verify did not recover: {}", response.status());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(gateway.handle(whoami()).await.status(), 200);
    assert_eq!(signup(r#"{"org_name":"Thawed"}"#).await.status(), 201);
}

/// Calls `call`, checks it answered `503 service_unavailable` within `bound`, and returns how long
/// it took.
async fn answers_503_within<F, Fut>(bound: Duration, what: &str, call: F) -> Duration
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = lambda_http::Response<lambda_http::Body>>,
{
    let started = Instant::now();
    let response = call().await;
    let took = started.elapsed();
    let code = body_json(&response)["error"]["code"].as_str().map(str::to_owned);
    assert_eq!((response.status().as_u16(), code.as_deref()), (503, Some("service_unavailable")), "{what}");
    assert!(took < bound, "{what} took {took:?}");
    took
}

fn key_headers(key: &overten::ApiKey) -> http::HeaderMap {
    let mut headers = http::HeaderMap::new();
    headers.insert("x-api-key", key.expose_secret().parse().unwrap());
    headers
}

/// On a paused clock: a stuck write costs a valid key exactly the budget, a failed one nothing,
/// and neither refuses it.
#[tokio::test(start_paused = true)]
async fn a_stuck_last_used_write_costs_at_most_its_budget() {
    let key = overten::ApiKey::generate();
    for touch in [Touch::Stall, Touch::Fail] {
        let store = TouchingStore::new(FixedStore::answering(sample_record("key_1", false)), touch);
        let started = tokio::time::Instant::now();
        let record = service::authenticate(&store, &key_headers(&key)).await.expect("a valid key is never refused");
        assert_eq!(record.key_id, "key_1");
        let waited = started.elapsed();
        assert_eq!(store.touches.load(std::sync::atomic::Ordering::SeqCst), 1, "{touch:?}: the write was tried");
        let expected = if touch == Touch::Stall { TOUCH_BUDGET } else { Duration::ZERO };
        assert_eq!(waited, expected, "{touch:?}: a stuck write is abandoned at the budget, a failed one costs nothing");
    }
    // A key used within the minute is not written at all.
    let mut recent = sample_record("key_1", false);
    recent.last_used_at = Some(overten::clock::now_secs());
    let store = TouchingStore::new(FixedStore::answering(recent), Touch::Stall);
    service::authenticate(&store, &key_headers(&key)).await.unwrap();
    assert_eq!(store.touches.load(std::sync::atomic::Ordering::SeqCst), 0);
}

/// The same on DynamoDB Local through `/verify`: the read is real, the write stalls.
#[tokio::test]
async fn verify_answers_a_valid_key_while_its_write_is_stuck() {
    let store = fresh_store().await;
    let (uid, _) = emulator_user().await;
    let created =
        service::signup(&store, &user(&uid), SignupRequest::parse(br#"{"org_name":"Slow"}"#).unwrap()).await.unwrap();
    let stalling = TouchingStore::new(store, Touch::Stall);
    let started = Instant::now();
    let response =
        verify::handle(&stalling, rest_request("GET", "/verify", &[("X-API-Key", &created.secret)], None)).await;
    assert_eq!(response.status(), 200);
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    assert_eq!(stalling.touches.load(std::sync::atomic::Ordering::SeqCst), 1);
}

fn all(include_revoked: bool, cursor: Option<String>) -> ListQuery {
    ListQuery { limit: 100, cursor, include_revoked }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn revoked_keys_cost_nothing_when_listing_active_ones() {
    let store = Arc::new(fresh_store().await);
    let (uid, _) = emulator_user().await;
    let signup = |name: &'static str| {
        let store = store.clone();
        let uid = uid.clone();
        async move {
            let body = format!(r#"{{"org_name":"{name}"}}"#);
            service::signup(&*store, &user(&uid), SignupRequest::parse(body.as_bytes()).unwrap()).await.unwrap()
        }
    };
    let busy = signup("Busy").await;
    let quiet = signup("Quiet").await;
    // 1,000 keys created and revoked in the busy org, 90 at a time (the org holds at most 100).
    let mut revoked = 0;
    while revoked < 1000 {
        let batch = (1000 - revoked).min(90);
        let mut created = tokio::task::JoinSet::new();
        for i in 0..batch {
            let (store, uid, org) = (store.clone(), uid.clone(), busy.org_id.clone());
            created.spawn(async move {
                service::create_key(&*store, &org, named(format!("old-{i}")), &user(&uid)).await.unwrap().id
            });
        }
        let ids = created.join_all().await;
        let mut revokes = tokio::task::JoinSet::new();
        for id in ids {
            let (store, uid, org) = (store.clone(), uid.clone(), busy.org_id.clone());
            revokes.spawn(
                async move { store.revoke_key(&org, &id, &overten_tests::revoked(), &user(&uid)).await.unwrap() },
            );
        }
        revokes.join_all().await;
        revoked += batch;
    }
    // Two more active keys each, so both orgs hold 3 active keys with names of the same length.
    for org in [&busy.org_id, &quiet.org_id] {
        for name in ["live-1", "live-2"] {
            service::create_key(&*store, org, named(name), &user(&uid)).await.unwrap();
        }
    }

    let busy_page = store.list_keys(&busy.org_id, &all(false, None), overten::clock::now_secs()).await.unwrap();
    let quiet_page = store.list_keys(&quiet.org_id, &all(false, None), overten::clock::now_secs()).await.unwrap();
    assert_eq!((busy_page.data.len(), quiet_page.data.len()), (3, 3));
    assert!(busy_page.data.iter().all(|k| k.revoked_at.is_none()));
    assert!(quiet_page.read_units > 0.0, "DynamoDB reports consumed capacity");
    assert_eq!(busy_page.read_units, quiet_page.read_units, "1,000 revoked keys were read");
    eprintln!(
        "listing 3 active keys: {} read units with 1,000 revoked keys, {} with none",
        busy_page.read_units, quiet_page.read_units
    );

    // include_revoked pages through all 1,003 in creation order.
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = store.list_keys(&busy.org_id, &all(true, cursor), overten::clock::now_secs()).await.unwrap();
        seen.extend(page.data);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(seen.len(), 1003);
    assert!(seen.windows(2).all(|w| w[0].id < w[1].id), "creation order, no repeats");
    assert_eq!(seen.iter().filter(|k| k.revoked_at.is_some()).count(), 1000);
    assert_eq!(seen[0].id, busy.key.id, "the signup key, created first, comes first");
}

#[tokio::test]
async fn one_person_creates_at_most_the_org_cap() {
    let store = fresh_store().await;
    let (_, token) = emulator_user().await;
    let app = overten::http::App::new(store.clone(), emulator_verifier());
    let auth = format!("Bearer {token}");
    let signup = |name: String| {
        let body = format!(r#"{{"org_name":"{name}"}}"#);
        let request = rest_request("POST", "/signup", &[("Authorization", &auth)], Some(&body));
        signup::handle(&app, request)
    };
    let mut secrets = Vec::new();
    for i in 0..MAX_ORGS_PER_USER {
        let response = signup(format!("Org {i}")).await;
        assert_eq!(response.status(), 201, "signup {i}");
        secrets.push(body_json(&response)["secret"].as_str().unwrap().to_owned());
    }
    let refused = signup("One too many".into()).await;
    let body = body_json(&refused);
    assert_eq!((refused.status().as_u16(), body["error"]["code"].as_str()), (409, Some("org_limit_reached")));
    assert!(body["error"]["message"].as_str().unwrap().contains(&MAX_ORGS_PER_USER.to_string()));

    // Nothing half-written: exactly the allowed orgs and keys exist.
    let scan = |table: &str| store.client().scan().table_name(table).send();
    let keys = scan(&store.tables().api_keys).await.unwrap();
    assert_eq!(keys.count, MAX_ORGS_PER_USER as i32, "one key per allowed org, none for the refused one");
    let orgs = scan(&store.tables().orgs).await.unwrap().items.unwrap_or_default();
    let metas = orgs.iter().filter(|i| i.get("sk").and_then(|v| v.as_s().ok()).is_some_and(|s| s == "META")).count();
    assert_eq!(metas, MAX_ORGS_PER_USER);
    for secret in &secrets {
        let ok = verify::handle(&store, rest_request("GET", "/verify", &[("X-API-Key", secret)], None)).await;
        assert_eq!(ok.status(), 200);
    }
    // Another person is not affected.
    let (_, other_token) = emulator_user().await;
    let other = format!("Bearer {other_token}");
    let request = rest_request("POST", "/signup", &[("Authorization", &other)], Some(r#"{"org_name":"Other"}"#));
    assert_eq!(signup::handle(&app, request).await.status(), 201);
}

/// The cap under a race: a person one org short of it sends eight signups at once. The count's
/// condition in each signup's transaction lets exactly one through; the others are `409
/// org_limit_reached` with nothing written, and the person ends with exactly the cap.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_signups_one_org_below_the_cap_create_exactly_one() {
    let store = fresh_store().await;
    let (uid, token) = emulator_user().await;
    let app = Arc::new(overten::http::App::new(store.clone(), emulator_verifier()));
    let auth = Arc::new(format!("Bearer {token}"));
    let signup = |name: String| {
        let (app, auth) = (app.clone(), auth.clone());
        async move {
            let body = format!(r#"{{"org_name":"{name}"}}"#);
            let response =
                signup::handle(&app, rest_request("POST", "/signup", &[("Authorization", &auth)], Some(&body))).await;
            let code = body_json(&response)["error"]["code"].as_str().map(str::to_owned);
            (response.status().as_u16(), code)
        }
    };
    for i in 0..MAX_ORGS_PER_USER - 1 {
        assert_eq!(signup(format!("Org {i}")).await, (201, None), "signup {i}");
    }
    let mut racing = tokio::task::JoinSet::new();
    for i in 0..8 {
        racing.spawn(signup(format!("Racing {i}")));
    }
    let answers = racing.join_all().await;
    assert_eq!(answers.iter().filter(|a| a.0 == 201).count(), 1, "exactly one more org: {answers:?}");
    for answer in answers.iter().filter(|a| a.0 != 201) {
        assert_eq!((answer.0, answer.1.as_deref()), (409, Some("org_limit_reached")), "{answers:?}");
    }

    // Exactly the cap, counted four ways: the person's counter, their owner memberships, the
    // orgs and the keys (one per org).
    let scan = |table: &str| store.client().scan().table_name(table).send();
    let orgs = scan(&store.tables().orgs).await.unwrap().items.unwrap_or_default();
    let attr = |item: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>, name: &str| {
        item.get(name).and_then(|v| v.as_s().ok().or(v.as_n().ok())).cloned()
    };
    let counter: Vec<_> = orgs.iter().filter_map(|i| attr(i, "orgs_created")).collect();
    assert_eq!(counter, [MAX_ORGS_PER_USER.to_string()], "the person's org count");
    let memberships = orgs.iter().filter(|i| attr(i, "uid").as_deref() == Some(uid.as_str())).count();
    assert_eq!(memberships, MAX_ORGS_PER_USER, "owner memberships");
    let metas = orgs.iter().filter(|i| attr(i, "sk").as_deref() == Some("META")).count();
    assert_eq!(metas, MAX_ORGS_PER_USER, "orgs");
    let keys = scan(&store.tables().api_keys).await.unwrap();
    assert_eq!(keys.count, MAX_ORGS_PER_USER as i32, "one key per org, none for a refused signup");
}
