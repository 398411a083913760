//! Faults, races and isolation: DynamoDB Local going away mid-run, parallel key creation, the
//! 100-key limit under contention, revocation racing verification, and a matrix of callers ×
//! key-management routes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use lambda_http::{Body, Response};
use overten::config::FirebaseConfig;
use overten::firebase::TokenVerifier;
use overten::store::DynamoStore;
use overten_tests::events::{authorize, body_json, rest_authorizer_event, rest_request};
use overten_tests::jwks_server::JwksServer;
use overten_tests::own_dynamo::OwnDynamo;
use overten_tests::tokens::{SigningKey, claims, unsigned};
use overten_tests::{emulator_user, emulator_verifier, fresh_store};
use serde_json::{Value, json};
use tokio::task::JoinSet;

struct Apps {
    store: DynamoStore,
    signup: signup::App<DynamoStore>,
    keys: keys::App<DynamoStore>,
}

async fn apps_on(store: DynamoStore) -> Arc<Apps> {
    Arc::new(Apps {
        signup: signup::App::new(store.clone(), emulator_verifier()),
        keys: keys::App::new(store.clone(), emulator_verifier()),
        store,
    })
}

async fn keys_call(apps: &Apps, method: &str, path: &str, token: &str, body: Option<&str>) -> Response<Body> {
    let auth = format!("Bearer {token}");
    keys::handle(&apps.keys, rest_request(method, path, &[("Authorization", &auth)], body)).await
}

async fn signup(apps: &Apps, token: &str) -> Value {
    let auth = format!("Bearer {token}");
    let response = signup::handle(
        &apps.signup,
        rest_request("POST", "/signup", &[("Authorization", &auth)], Some(r#"{"org_name":"Acme"}"#)),
    )
    .await;
    assert_eq!(response.status(), 201);
    body_json(&response)
}

async fn verify_status(store: &DynamoStore, key: &str) -> u16 {
    verify::handle(store, rest_request("GET", "/verify", &[("X-API-Key", key)], None)).await.status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_parallel_creations_give_fifty_working_keys() {
    let apps = apps_on(fresh_store().await).await;
    let (_, token) = emulator_user().await;
    let org = signup(&apps, &token).await["org_id"].as_str().unwrap().to_owned();
    let mut tasks = JoinSet::new();
    for i in 0..50 {
        let (apps, token, org) = (apps.clone(), token.clone(), org.clone());
        tasks.spawn(async move {
            let body = format!(r#"{{"name":"parallel-{i}"}}"#);
            let response = keys_call(&apps, "POST", &format!("/orgs/{org}/api-keys"), &token, Some(&body)).await;
            (response.status().as_u16(), body_json(&response))
        });
    }
    let created: Vec<(u16, Value)> = tasks.join_all().await;
    assert!(
        created.iter().all(|(s, _)| *s == 201),
        "{:?}",
        created.iter().map(|(s, b)| (s, &b["error"])).collect::<Vec<_>>()
    );
    let mut secrets: Vec<String> = created.iter().map(|(_, b)| b["secret"].as_str().unwrap().to_owned()).collect();
    secrets.sort();
    secrets.dedup();
    assert_eq!(secrets.len(), 50);
    let list = body_json(&keys_call(&apps, "GET", &format!("/orgs/{org}/api-keys"), &token, None).await);
    assert_eq!(list["data"].as_array().unwrap().len(), 51, "the 50 and the signup key, all listed");
    for secret in &secrets {
        assert_eq!(verify_status(&apps.store, secret).await, 200);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_creations_cannot_pass_one_hundred_active_keys() {
    let apps = apps_on(fresh_store().await).await;
    let (_, token) = emulator_user().await;
    let org = signup(&apps, &token).await["org_id"].as_str().unwrap().to_owned();
    for i in 1..95 {
        let response =
            keys_call(&apps, "POST", &format!("/orgs/{org}/api-keys"), &token, Some(&format!(r#"{{"name":"k{i}"}}"#)))
                .await;
        assert_eq!(response.status(), 201);
    }
    let mut tasks = JoinSet::new();
    for i in 0..20 {
        let (apps, token, org) = (apps.clone(), token.clone(), org.clone());
        tasks.spawn(async move {
            let response = keys_call(
                &apps,
                "POST",
                &format!("/orgs/{org}/api-keys"),
                &token,
                Some(&format!(r#"{{"name":"race{i}"}}"#)),
            )
            .await;
            (response.status().as_u16(), body_json(&response)["error"]["code"].as_str().unwrap_or_default().to_owned())
        });
    }
    let results = tasks.join_all().await;
    let created = results.iter().filter(|(s, _)| *s == 201).count();
    let refused = results.iter().filter(|(s, c)| *s == 409 && c == "key_limit_reached").count();
    assert_eq!((created, refused), (5, 15), "{results:?}");
    let list = body_json(&keys_call(&apps, "GET", &format!("/orgs/{org}/api-keys"), &token, None).await);
    assert_eq!(list["data"].as_array().unwrap().len(), 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_call_after_the_revokes_204_succeeds() {
    let apps = apps_on(fresh_store().await).await;
    let (_, token) = emulator_user().await;
    let created = signup(&apps, &token).await;
    let (org, secret, key_id) = (
        created["org_id"].as_str().unwrap(),
        created["secret"].as_str().unwrap().to_owned(),
        created["key"]["id"].as_str().unwrap(),
    );
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut checkers = JoinSet::new();
    for _ in 0..4 {
        let (apps, secret, stop) = (apps.clone(), secret.clone(), stop.clone());
        checkers.spawn(async move {
            let mut seen = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let started = Instant::now();
                let status = verify_status(&apps.store, &secret).await;
                let answer = authorize(&apps.store, &rest_authorizer_event(&[("X-API-Key", &secret)])).await.unwrap();
                seen.push((started, status, answer.is_allowed()));
            }
            seen
        });
    }
    tokio::time::sleep(Duration::from_millis(150)).await;
    let response = keys_call(&apps, "DELETE", &format!("/orgs/{org}/api-keys/{key_id}"), &token, None).await;
    assert_eq!(response.status(), 204);
    let revoked_at = Instant::now();
    tokio::time::sleep(Duration::from_millis(150)).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let seen: Vec<_> = checkers.join_all().await.into_iter().flatten().collect();
    let before = seen.iter().filter(|(t, _, _)| *t < revoked_at).count();
    let after: Vec<_> = seen.iter().filter(|(t, _, _)| *t > revoked_at).collect();
    assert!(before > 0 && !after.is_empty(), "the race did not happen: {before} before, {} after", after.len());
    for (_, status, allowed) in after {
        assert_eq!((*status, *allowed), (401, false), "a call started after the 204 succeeded");
    }
}

/// The matrix runs with RS256 ID tokens signed by a key generated here and served from a JWKS
/// endpoint on 127.0.0.1, verified exactly as in production (emulator tokens are covered in
/// `tests/functions.rs`; here an unsigned one is refused).
#[tokio::test]
async fn every_caller_gets_exactly_the_contracts_answer_on_every_route() {
    const PROJECT: &str = "overten-matrix";
    let signing = SigningKey::generate("matrix-key");
    let stranger_key = SigningKey::generate("not-googles-key");
    let jwks = JwksServer::start(&[signing.jwk()], 3600).await;
    let verifier = || {
        TokenVerifier::new(&FirebaseConfig {
            project_id: PROJECT.into(),
            jwks_url: jwks.url.clone(),
            emulator_host: None,
            fetch_timeout: Duration::from_secs(2),
        })
        .unwrap()
    };
    let store = fresh_store().await;
    let apps = Arc::new(Apps {
        signup: signup::App::new(store.clone(), verifier()),
        keys: keys::App::new(store.clone(), verifier()),
        store,
    });
    let now = overten::clock::now_secs();
    let token = |uid: &str| signing.id_token(&claims(PROJECT, uid, now));
    let (owner_a, owner_b, stranger) = (token("uid-owner-a"), token("uid-owner-b"), token("uid-stranger"));
    let a = signup(&apps, &owner_a).await;
    let b = signup(&apps, &owner_b).await;
    let org_a = a["org_id"].as_str().unwrap();
    let key_a = a["key"]["id"].as_str().unwrap();
    let mut expired = claims(PROJECT, "uid-owner-a", now - 7200);
    expired["exp"] = json!(now - 60);
    let expired = signing.id_token(&expired);
    let other_project = signing.id_token(&claims("another-project", "uid-owner-a", now));
    let forged = stranger_key.id_token(&claims(PROJECT, "uid-owner-a", now));
    let unsigned_owner = unsigned(&claims(PROJECT, "uid-owner-a", now));
    let a_data = [
        key_a.to_owned(),
        a["key"]["prefix"].as_str().unwrap().to_owned(),
        a["webhook_secret"].as_str().unwrap().to_owned(),
    ];

    let routes = [
        ("POST", format!("/orgs/{org_a}/api-keys"), Some(r#"{"name":"matrix"}"#), 201),
        ("GET", format!("/orgs/{org_a}/api-keys"), None, 200),
        ("DELETE", format!("/orgs/{org_a}/api-keys/{key_a}"), None, 204),
    ];
    // (who, their token, the error every route must give them; None = the owner, who succeeds)
    type Expected<'a> = Option<(u16, &'a str)>;
    let callers: [(&str, &str, Expected); 7] = [
        ("member of B", &owner_b, Some((404, "org_not_found"))),
        ("no membership", &stranger, Some((404, "org_not_found"))),
        ("expired token", &expired, Some((401, "token_expired"))),
        ("another project's token", &other_project, Some((401, "invalid_token"))),
        ("A's uid signed by another key", &forged, Some((401, "invalid_token"))),
        ("A's uid in an unsigned token", &unsigned_owner, Some((401, "invalid_token"))),
        // Last, so the revoke does not change what the others see.
        ("owner of A", &owner_a, None),
    ];
    for (who, token, expected) in callers {
        for (method, path, body, success) in &routes {
            let response = keys_call(&apps, method, path, token, *body).await;
            let json = body_json(&response);
            match expected {
                Some((status, code)) => {
                    assert_eq!(
                        (response.status().as_u16(), json["error"]["code"].as_str()),
                        (status, Some(code)),
                        "{who}: {method} {path}"
                    );
                    let text = json.to_string();
                    for secret in &a_data {
                        assert!(!text.contains(secret.as_str()), "{who}: {method} {path} leaked org A's data");
                    }
                }
                None => assert_eq!(response.status().as_u16(), *success, "{who}: {method} {path}: {json}"),
            }
        }
    }
    // B's own listing never shows A's keys.
    let list = body_json(
        &keys_call(&apps, "GET", &format!("/orgs/{}/api-keys", b["org_id"].as_str().unwrap()), &owner_b, None).await,
    );
    assert!(!list.to_string().contains(key_a));
}

#[tokio::test]
async fn dynamodb_going_away_fails_closed_and_recovers_on_its_own() {
    let port = 8251;
    let ddb = OwnDynamo::start(port, true);
    let client = overten_tests::ddb_client_at(&format!("http://127.0.0.1:{port}")).await;
    let tables = overten_tests::fresh_tables().await;
    overten::store::tables::ensure_tables(&client, &tables).await.unwrap();
    let apps = apps_on(DynamoStore::new(client, tables)).await;
    let (_, token) = emulator_user().await;
    let secret = signup(&apps, &token).await["secret"].as_str().unwrap().to_owned();
    assert_eq!(verify_status(&apps.store, &secret).await, 200);

    ddb.services("stop");
    let response = verify::handle(&apps.store, rest_request("GET", "/verify", &[("X-API-Key", &secret)], None)).await;
    assert_eq!(
        (response.status().as_u16(), body_json(&response)["error"]["code"].as_str()),
        (503, Some("service_unavailable"))
    );
    let answer = authorize(&apps.store, &rest_authorizer_event(&[("X-API-Key", &secret)])).await;
    assert!(answer.is_err(), "the authorizer answered while DynamoDB was down: {answer:?}");
    let auth = format!("Bearer {token}");
    let response = signup::handle(
        &apps.signup,
        rest_request("POST", "/signup", &[("Authorization", &auth)], Some(r#"{"org_name":"B"}"#)),
    )
    .await;
    assert_eq!(response.status(), 503);

    // Back again: the same warm clients recover without a restart.
    ddb.services("start");
    let deadline = Instant::now() + Duration::from_secs(30);
    while verify_status(&apps.store, &secret).await != 200 {
        assert!(Instant::now() < deadline, "did not recover");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let answer = authorize(&apps.store, &rest_authorizer_event(&[("X-API-Key", &secret)])).await.unwrap();
    assert!(answer.is_allowed());
}

fn record(bodies: &mut Vec<(String, String)>, label: &str, response: &Response<Body>) {
    bodies.push((label.to_owned(), body_json(response).to_string()));
}

/// Every response body and log line of a session that touches every route and error path: a
/// full key appears only in the response that created it, a webhook secret only in signup's, and
/// no JWT anywhere.
#[tokio::test]
async fn secrets_appear_only_where_the_contract_allows() {
    let (_guard, logs) = overten_tests::logs::capture();
    let apps = apps_on(fresh_store().await).await;
    let (_, token) = emulator_user().await;
    let auth = format!("Bearer {token}");
    let mut bodies: Vec<(String, String)> = Vec::new();

    let response = signup::handle(
        &apps.signup,
        rest_request("POST", "/signup", &[("Authorization", &auth)], Some(r#"{"org_name":"A"}"#)),
    )
    .await;
    let created = body_json(&response);
    record(&mut bodies, "signup", &response);
    let (org, first) = (created["org_id"].as_str().unwrap().to_owned(), created["secret"].as_str().unwrap().to_owned());
    let whsec = created["webhook_secret"].as_str().unwrap().to_owned();
    let response =
        keys_call(&apps, "POST", &format!("/orgs/{org}/api-keys"), &token, Some(r#"{"name":"second"}"#)).await;
    let second = body_json(&response)["secret"].as_str().unwrap().to_owned();
    record(&mut bodies, "create", &response);
    record(
        &mut bodies,
        "list",
        &keys_call(&apps, "GET", &format!("/orgs/{org}/api-keys?include_revoked=true"), &token, None).await,
    );
    for (label, headers) in [
        ("verify", vec![("X-API-Key", first.as_str())]),
        ("verify-bearer", vec![("Authorization", &*format!("Bearer {second}"))]),
        ("verify-bad", vec![("X-API-Key", "sk_live_definitely-not-a-valid-key")]),
    ] {
        record(&mut bodies, label, &verify::handle(&apps.store, rest_request("GET", "/verify", &headers, None)).await);
    }
    for headers in [vec![("X-API-Key", first.as_str())], vec![("X-API-Key", "garbage")]] {
        let answer = authorize(&apps.store, &rest_authorizer_event(&headers)).await.unwrap();
        bodies.push(("authorizer".into(), serde_json::to_string(&answer).unwrap()));
    }
    let key_id = created["key"]["id"].as_str().unwrap();
    record(
        &mut bodies,
        "revoke",
        &keys_call(&apps, "DELETE", &format!("/orgs/{org}/api-keys/{key_id}"), &token, None).await,
    );
    record(
        &mut bodies,
        "revoked",
        &verify::handle(&apps.store, rest_request("GET", "/verify", &[("X-API-Key", &first)], None)).await,
    );
    record(
        &mut bodies,
        "bad-body",
        &keys_call(&apps, "POST", &format!("/orgs/{org}/api-keys"), &token, Some(&format!(r#"{{"name":"{token}"}}"#)))
            .await,
    );
    record(&mut bodies, "bad-token", &keys_call(&apps, "GET", &format!("/orgs/{org}/api-keys"), &first, None).await);

    let full_key = |text: &str| {
        text.match_indices("sk_live_").any(|(i, _)| {
            let rest = &text[i + 8..];
            rest.len() >= 28 && rest[..28].bytes().all(|b| b.is_ascii_alphanumeric())
        })
    };
    for (label, text) in &bodies {
        let allowed_key = matches!(label.as_str(), "signup" | "create");
        assert!(allowed_key || !full_key(text), "{label} returned a full key: {text}");
        assert!(label == "signup" || !text.contains("whsec_"), "{label} returned a webhook secret");
        // The token itself, not the text "eyJ" (a random key may hold those three characters).
        assert!(!text.contains(&token[..24]), "{label} returned the ID token");
    }
    let log = logs.text();
    // Every HTTP call logs its request line but a 200 of /verify; the authorizer logs its
    // denials, not each allow (README, "Logs": the hot paths' successes are debug lines).
    let http_calls =
        bodies.iter().filter(|(label, _)| !matches!(label.as_str(), "authorizer" | "verify" | "verify-bearer")).count();
    assert!(log.lines().count() > http_calls, "the session was not logged");
    assert!(!full_key(&log) && !log.contains(&first[..20]) && !log.contains(&second[..20]), "a key in the logs");
    assert!(!log.contains(&whsec) && !log.contains("whsec_"), "a webhook secret in the logs");
    assert!(!log.contains("eyJ") && !log.contains(&token), "a token in the logs");
}
