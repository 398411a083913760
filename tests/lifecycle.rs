//! The key lifecycle on DynamoDB Local with Firebase Auth emulator tokens: expiry judged on the one
//! read, rolls with and without a grace period, renames, why a key stopped working, and the audit
//! trail each change writes in its own transaction. Time that matters is a fixed clock the test
//! sets (`App::with_clock`, `verify::handle_at`, `authorizer::authorize_at`).

use lambda_http::{Body, Response};
use overten::audit::{Actor, Audit};
use overten::clock::{Clock, now_secs, rfc3339};
use overten::service;
use overten::store::{CreateKey, CreateOrg, DynamoStore, KeyLookup, RollKey};
use overten_tests::counting::CountingStore;
use overten_tests::events::{self, body_json, rest_authorizer_event, rest_request};
use overten_tests::{emulator_user, emulator_verifier, fresh_store};
use serde_json::{Value, json};

const AGENT: &str = "overten-tests/1.0";

struct Stack {
    store: DynamoStore,
    signup: signup::App<DynamoStore>,
    keys: keys::App<DynamoStore>,
    clock: Clock,
}

/// A member with an org: its id, the caller's token and uid, and the first key's id and secret.
#[derive(Clone)]
struct Org {
    id: String,
    uid: String,
    token: String,
    first_id: String,
    first_secret: String,
    webhook_secret: String,
}

impl Stack {
    async fn new() -> Self {
        let store = fresh_store().await;
        let clock = Clock::fixed(now_secs());
        Stack {
            signup: signup::App::new(store.clone(), emulator_verifier()).with_clock(clock.clone()),
            keys: keys::App::new(store.clone(), emulator_verifier()).with_clock(clock.clone()),
            store,
            clock,
        }
    }

    fn now(&self) -> i64 {
        self.clock.now_secs()
    }

    async fn org(&self) -> Org {
        let (uid, token) = emulator_user().await;
        let auth = format!("Bearer {token}");
        let headers = [("Authorization", auth.as_str()), ("User-Agent", AGENT)];
        let response =
            signup::handle(&self.signup, rest_request("POST", "/signup", &headers, Some(r#"{"org_name":"Acme"}"#)))
                .await;
        assert_eq!(response.status(), 201);
        let body = body_json(&response);
        Org {
            id: body["org_id"].as_str().unwrap().into(),
            uid,
            token,
            first_id: body["key"]["id"].as_str().unwrap().into(),
            first_secret: body["secret"].as_str().unwrap().into(),
            webhook_secret: body["webhook_secret"].as_str().unwrap().into(),
        }
    }

    /// `METHOD path` on the keys function as `token`: (status, JSON body).
    async fn call(&self, method: &str, path: &str, token: &str, body: Option<&str>) -> (u16, Value) {
        let auth = format!("Bearer {token}");
        let headers = [("Authorization", auth.as_str()), ("User-Agent", AGENT)];
        let response = keys::handle(&self.keys, rest_request(method, path, &headers, body)).await;
        (response.status().as_u16(), body_json(&response))
    }

    async fn create(&self, org: &Org, body: Value) -> Value {
        let (status, created) =
            self.call("POST", &format!("/orgs/{}/api-keys", org.id), &org.token, Some(&body.to_string())).await;
        assert_eq!(status, 201, "{created}");
        created
    }

    async fn roll(&self, org: &Org, key_id: &str, body: Value) -> (u16, Value) {
        self.call("POST", &format!("/orgs/{}/api-keys/{key_id}/roll", org.id), &org.token, Some(&body.to_string()))
            .await
    }

    async fn listing(&self, org: &Org, include_revoked: bool) -> Vec<Value> {
        let path = format!("/orgs/{}/api-keys?include_revoked={include_revoked}", org.id);
        let (status, body) = self.call("GET", &path, &org.token, None).await;
        assert_eq!(status, 200, "{body}");
        body["data"].as_array().unwrap().clone()
    }

    async fn listed(&self, org: &Org, key_id: &str) -> Value {
        let all = self.listing(org, true).await;
        all.into_iter().find(|k| k["id"] == key_id).unwrap_or_else(|| panic!("{key_id} not listed"))
    }

    async fn events(&self, org: &Org) -> Vec<Value> {
        let (status, body) = self.call("GET", &format!("/orgs/{}/events?limit=100", org.id), &org.token, None).await;
        assert_eq!(status, 200, "{body}");
        body["data"].as_array().unwrap().clone()
    }
}

/// `/verify` with `secret` at `now`: (status, body).
async fn verify_at<S: KeyLookup>(store: &S, secret: &str, now: i64) -> (u16, Value) {
    let response: Response<Body> =
        verify::handle_at(store, rest_request("GET", "/verify", &[("X-API-Key", secret)], None), now).await;
    (response.status().as_u16(), body_json(&response))
}

/// The authorizer's effect and context for `secret` at `now`.
async fn authorize_at<S: KeyLookup>(store: &S, secret: &str, now: i64) -> (String, Value) {
    let answer = events::authorize_at(store, &rest_authorizer_event(&[("X-API-Key", secret)]), now).await.unwrap();
    let effect = if answer.is_allowed() { "Allow" } else { "Deny" };
    (effect.to_owned(), serde_json::to_value(answer.context()).unwrap())
}

#[tokio::test]
async fn an_expiring_key_works_until_the_second_before_and_not_at_expires_at() {
    let stack = Stack::new().await;
    let org = stack.org().await;
    let expires_at = now_secs() + 30;
    let created = stack.create(&org, json!({"name": "ci", "expires_at": rfc3339(expires_at)})).await;
    assert_eq!(created["expires_at"], rfc3339(expires_at));
    let secret = created["secret"].as_str().unwrap();
    let counting = CountingStore::new(stack.store.clone());

    let (status, verified) = verify_at(&counting, secret, expires_at - 1).await;
    assert_eq!((status, &verified["expires_at"]), (200, &json!(rfc3339(expires_at))));
    assert_eq!(counting.key_reads(), 1, "one read per call");
    let (effect, context) = authorize_at(&counting, secret, expires_at - 1).await;
    assert_eq!((effect.as_str(), &context["expires_at"]), ("Allow", &json!(rfc3339(expires_at))));
    assert_eq!(counting.key_reads(), 2);

    let (status, refused) = verify_at(&counting, secret, expires_at).await;
    assert_eq!((status, refused["error"]["code"].as_str()), (401, Some("invalid_api_key")));
    assert_eq!(refused["error"]["message"], "invalid API key: expired");
    assert_eq!(counting.key_reads(), 3, "expiry needs no second read");
    let (effect, context) = authorize_at(&counting, secret, expires_at).await;
    assert_eq!((effect.as_str(), context["error_code"].as_str()), ("Deny", Some("invalid_api_key")));
    assert_eq!(counting.key_reads(), 4);
    // A key without expiry has `expires_at: null` and no context entry.
    let (status, verified) = verify_at(&counting, &org.first_secret, expires_at + 86_400).await;
    assert_eq!((status, &verified["expires_at"]), (200, &Value::Null));
    assert!(authorize_at(&counting, &org.first_secret, expires_at).await.1.get("expires_at").is_none());

    // The listing says why: expiring before, expired at the instant (and only with include_revoked).
    stack.clock.set(expires_at - 1);
    assert_eq!(stack.listed(&org, created["id"].as_str().unwrap()).await["status"], "expiring");
    assert_eq!(stack.listing(&org, false).await.len(), 2);
    stack.clock.set(expires_at);
    let listed = stack.listed(&org, created["id"].as_str().unwrap()).await;
    assert_eq!((listed["status"].as_str(), &listed["revoked_reason"]), (Some("expired"), &Value::Null));
    assert_eq!(listed["expires_at"], rfc3339(expires_at));
    let live = stack.listing(&org, false).await;
    assert_eq!(live.iter().map(|k| k["id"].clone()).collect::<Vec<_>>(), [json!(org.first_id)]);
    // A listing that met the expired key moved it out of the active run (and off the count):
    // still listed, still expired.
    assert_eq!(stack.listed(&org, created["id"].as_str().unwrap()).await["status"], "expired");
    let item = |sk: String| {
        let store = &stack.store;
        let org_id = org.id.clone();
        async move {
            let key = std::collections::HashMap::from([
                ("org_id".to_owned(), aws_sdk_dynamodb::types::AttributeValue::S(org_id)),
                ("sk".to_owned(), aws_sdk_dynamodb::types::AttributeValue::S(sk)),
            ]);
            let out = store
                .client()
                .get_item()
                .table_name(&store.tables().orgs)
                .set_key(Some(key))
                .consistent_read(true)
                .send()
                .await
                .unwrap();
            out.item
        }
    };
    let key_id = created["id"].as_str().unwrap();
    assert!(item(format!("KEY#{key_id}")).await.is_none(), "moved out of the active run");
    assert!(item(format!("REVOKED#{key_id}")).await.is_some());
    let meta = item("META".into()).await.unwrap();
    assert_eq!(meta["active_keys"].as_n().unwrap(), "1", "only the live key counts");
}

#[tokio::test]
async fn expires_at_must_be_in_the_future_and_within_366_days() {
    let stack = Stack::new().await;
    let org = stack.org().await;
    let path = format!("/orgs/{}/api-keys", org.id);
    for bad in [rfc3339(stack.now()), rfc3339(stack.now() + 366 * 86_400 + 1), "2027-01-01T00:00:00+01:00".into()] {
        let body = json!({"name": "ci", "expires_at": bad}).to_string();
        let (status, error) = stack.call("POST", &path, &org.token, Some(&body)).await;
        assert_eq!((status, error["error"]["code"].as_str()), (400, Some("invalid_request")), "{bad}");
    }
    assert_eq!(stack.listing(&org, true).await.len(), 1, "nothing half-written");
    stack.create(&org, json!({"name": "ci", "expires_at": rfc3339(stack.now() + 366 * 86_400)})).await;
}

#[tokio::test]
async fn roll_with_a_grace_period_then_without_one() {
    let stack = Stack::new().await;
    let org = stack.org().await;
    let counting = CountingStore::new(stack.store.clone());
    let (status, rolled) = stack.roll(&org, &org.first_id, json!({"grace_period_seconds": 3600})).await;
    assert_eq!(status, 201, "{rolled}");
    let end = stack.now() + 3600;
    assert_eq!(rolled["rolled_from"], org.first_id.as_str());
    assert_eq!(rolled["old_key_expires_at"], rfc3339(end));
    assert_eq!((rolled["name"].as_str(), &rolled["expires_at"]), (Some("default"), &Value::Null), "the old name");
    let new_secret = rolled["secret"].as_str().unwrap();
    let new_id = rolled["id"].as_str().unwrap();

    // During the grace period both keys work; at its end only the new one.
    for secret in [org.first_secret.as_str(), new_secret] {
        assert_eq!(verify_at(&counting, secret, end - 1).await.0, 200);
        assert_eq!(authorize_at(&counting, secret, end - 1).await.0, "Allow");
    }
    assert_eq!(verify_at(&counting, &org.first_secret, end).await.0, 401);
    assert_eq!(authorize_at(&counting, &org.first_secret, end).await.0, "Deny");
    assert_eq!(verify_at(&counting, new_secret, end).await.0, 200);
    assert_eq!(authorize_at(&counting, new_secret, end).await.0, "Allow");

    let old = stack.listed(&org, &org.first_id).await;
    assert_eq!((old["status"].as_str(), old["rolled_to"].as_str()), (Some("expiring"), Some(new_id)));
    assert_eq!(old["expires_at"], rfc3339(end));
    assert_eq!(stack.listed(&org, new_id).await["rolled_from"], org.first_id.as_str());

    // A key is rolled once.
    let (status, error) = stack.roll(&org, &org.first_id, json!({})).await;
    assert_eq!((status, error["error"]["code"].as_str()), (409, Some("key_already_rolled")));

    // Grace 0: the old key fails on the very next call; the new key gets its own name and expiry.
    let expires_at = stack.now() + 86_400;
    let (status, second) = stack
        .roll(&org, new_id, json!({"grace_period_seconds": 0, "name": "prod-2", "expires_at": rfc3339(expires_at)}))
        .await;
    assert_eq!(status, 201, "{second}");
    assert_eq!((second["name"].as_str(), second["expires_at"].as_str()), (Some("prod-2"), Some(&*rfc3339(expires_at))));
    assert_eq!(second["old_key_expires_at"], rfc3339(stack.now()));
    let (status, refused) = verify_at(&stack.store, new_secret, now_secs()).await;
    assert_eq!((status, refused["error"]["message"].as_str()), (401, Some("invalid API key: unknown or revoked")));
    let revoked = stack.listed(&org, new_id).await;
    assert_eq!((revoked["status"].as_str(), revoked["revoked_reason"].as_str()), (Some("revoked"), Some("rolled")));
    assert_eq!(revoked["rolled_to"], second["id"]);
    let (status, error) = stack.roll(&org, new_id, json!({})).await;
    assert_eq!((status, error["error"]["code"].as_str()), (409, Some("key_already_rolled")), "rolled, then revoked");

    // Revoked, expired and unknown keys.
    let third = second["id"].as_str().unwrap();
    let (status, _) = stack.call("DELETE", &format!("/orgs/{}/api-keys/{third}", org.id), &org.token, None).await;
    assert_eq!(status, 204);
    let (status, error) = stack.roll(&org, third, json!({})).await;
    assert_eq!((status, error["error"]["code"].as_str()), (409, Some("key_inactive")));
    let soon = stack.create(&org, json!({"name": "short", "expires_at": rfc3339(stack.now() + 10)})).await;
    stack.clock.set(stack.now() + 10);
    let (status, error) = stack.roll(&org, soon["id"].as_str().unwrap(), json!({})).await;
    assert_eq!((status, error["error"]["code"].as_str()), (409, Some("key_inactive")));
    // Revoking an expired key is a no-op, like revoking twice: it already stopped, nothing is written.
    let events = stack.events(&org).await.len();
    let path = format!("/orgs/{}/api-keys/{}", org.id, soon["id"].as_str().unwrap());
    assert_eq!(stack.call("DELETE", &path, &org.token, None).await.0, 204);
    let expired = stack.listed(&org, soon["id"].as_str().unwrap()).await;
    assert_eq!((expired["status"].as_str(), &expired["revoked_reason"]), (Some("expired"), &Value::Null));
    assert_eq!(stack.events(&org).await.len(), events);
    let (status, error) = stack.roll(&org, "key_0000000000000000000000", json!({})).await;
    assert_eq!((status, error["error"]["code"].as_str()), (404, Some("key_not_found")));
    for bad in [json!({"grace_period_seconds": 604801}), json!({"grace_period_seconds": -1}), json!({"name": ""})] {
        let (status, error) = stack.roll(&org, &org.first_id, bad.clone()).await;
        assert_eq!((status, error["error"]["code"].as_str()), (400, Some("invalid_request")), "{bad}");
    }
}

#[tokio::test]
async fn a_grace_period_ends_at_the_old_keys_own_earlier_expiry() {
    let stack = Stack::new().await;
    let org = stack.org().await;
    let own_end = stack.now() + 600;
    let key = stack.create(&org, json!({"name": "ci", "expires_at": rfc3339(own_end)})).await;
    let (status, rolled) = stack.roll(&org, key["id"].as_str().unwrap(), json!({"grace_period_seconds": 3600})).await;
    assert_eq!((status, rolled["old_key_expires_at"].as_str()), (201, Some(&*rfc3339(own_end))));
    assert_eq!(verify_at(&stack.store, key["secret"].as_str().unwrap(), own_end).await.0, 401);
    // A later own expiry does not extend the grace period.
    let later = stack.create(&org, json!({"name": "later", "expires_at": rfc3339(stack.now() + 86_400)})).await;
    let (status, rolled) = stack.roll(&org, later["id"].as_str().unwrap(), json!({"grace_period_seconds": 3600})).await;
    assert_eq!((status, rolled["old_key_expires_at"].as_str()), (201, Some(&*rfc3339(stack.now() + 3600))));
}

#[tokio::test]
async fn rolls_never_meet_the_limit_and_expired_keys_stop_counting() {
    let stack = Stack::new().await;
    let org = stack.org().await;
    let expires_at = stack.now() + 60;
    let expiring = stack.create(&org, json!({"name": "expiring", "expires_at": rfc3339(expires_at)})).await;
    for i in 0..98 {
        stack.create(&org, json!({"name": format!("k{i}")})).await;
    }
    let path = format!("/orgs/{}/api-keys", org.id);
    let (status, error) = stack.call("POST", &path, &org.token, Some(r#"{"name":"one-too-many"}"#)).await;
    assert_eq!((status, error["error"]["code"].as_str()), (409, Some("key_limit_reached")), "100 active keys");

    // At 100 active keys a roll still succeeds: the rolled key stops counting at the roll.
    let (status, rolled) = stack.roll(&org, &org.first_id, json!({})).await;
    assert_eq!(status, 201, "{rolled}");
    let (status, _) = stack.call("POST", &path, &org.token, Some(r#"{"name":"still-too-many"}"#)).await;
    assert_eq!(status, 409, "a roll adds no room either");

    // From its expiry on, the expired key no longer holds the limit against a create.
    stack.clock.set(expires_at);
    let (status, created) = stack.call("POST", &path, &org.token, Some(r#"{"name":"room-again"}"#)).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(stack.listed(&org, expiring["id"].as_str().unwrap()).await["status"], "expired");
    let (status, _) = stack.call("POST", &path, &org.token, Some(r#"{"name":"full-again"}"#)).await;
    assert_eq!(status, 409, "exactly one slot was freed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_rolls_of_one_key_exactly_one_succeeds() {
    let stack = std::sync::Arc::new(Stack::new().await);
    for grace in [3600, 0] {
        let org = stack.org().await;
        // Eight at once on separate tasks: some losers read the key after the winner's commit,
        // others fail inside their own transaction; every one must answer key_already_rolled.
        let mut rolls = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let (stack, org) = (stack.clone(), org.clone());
            rolls.spawn(async move { stack.roll(&org, &org.first_id, json!({"grace_period_seconds": grace})).await });
        }
        let answers = rolls.join_all().await;
        assert_eq!(answers.iter().filter(|a| a.0 == 201).count(), 1, "grace {grace}: {answers:?}");
        for (status, body) in answers.iter().filter(|a| a.0 != 201) {
            assert_eq!((*status, body["error"]["code"].as_str()), (409, Some("key_already_rolled")));
        }
        let keys = stack.listing(&org, true).await;
        assert_eq!(keys.len(), 2, "one new key, not two");
        assert_eq!(keys.iter().filter(|k| k["rolled_from"] == org.first_id.as_str()).count(), 1);
        assert_eq!(stack.events(&org).await.iter().filter(|e| e["type"] == "key.rolled").count(), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_revokes_of_one_key_all_succeed_with_one_event() {
    let stack = std::sync::Arc::new(Stack::new().await);
    for operator in [false, true] {
        let org = stack.org().await;
        let mut revokes = tokio::task::JoinSet::new();
        for i in 0..8 {
            let (stack, org) = (stack.clone(), org.clone());
            revokes.spawn(async move {
                if operator {
                    let audit = Audit::new(Actor::operator(Some("ops")), &format!("req-op-{i}"), now_secs());
                    service::revoke_key(&stack.store, &org.id, &org.first_id, &audit).await.map(|_| 204).unwrap_or(500)
                } else {
                    let path = format!("/orgs/{}/api-keys/{}", org.id, org.first_id);
                    stack.call("DELETE", &path, &org.token, None).await.0
                }
            });
        }
        let statuses = revokes.join_all().await;
        assert!(statuses.iter().all(|s| *s == 204), "operator {operator}: {statuses:?}");
        let revoked = stack.events(&org).await.into_iter().filter(|e| e["type"] == "key.revoked").count();
        assert_eq!(revoked, 1, "one revocation, one event");
        assert_eq!(stack.listed(&org, &org.first_id).await["status"], "revoked");
    }
}

#[tokio::test]
async fn rename_shows_in_the_listing_verify_and_the_events() {
    let stack = Stack::new().await;
    let org = stack.org().await;
    let path = format!("/orgs/{}/api-keys/{}", org.id, org.first_id);
    let (status, renamed) = stack.call("PATCH", &path, &org.token, Some(r#"{"name":"billing-v2"}"#)).await;
    assert_eq!(status, 200, "{renamed}");
    assert_eq!(renamed, stack.listed(&org, &org.first_id).await, "the listing object");
    assert_eq!(renamed["name"], "billing-v2");
    assert_eq!(verify_at(&stack.store, &org.first_secret, now_secs()).await.1["key_name"], "billing-v2");
    let event = &stack.events(&org).await[0];
    assert_eq!(
        (event["type"].as_str(), &event["data"]),
        (Some("key.renamed"), &json!({"from": "default", "to": "billing-v2"}))
    );
    // The same name again changes nothing and records nothing.
    let before = stack.events(&org).await.len();
    assert_eq!(stack.call("PATCH", &path, &org.token, Some(r#"{"name":"billing-v2"}"#)).await.0, 200);
    assert_eq!(stack.events(&org).await.len(), before);
    for (body, status) in [(r#"{"name":""}"#, 400), (r#"{"nom":"x"}"#, 400), ("", 400)] {
        assert_eq!(stack.call("PATCH", &path, &org.token, Some(body)).await.0, status, "{body}");
    }
    let unknown = format!("/orgs/{}/api-keys/key_0000000000000000000000", org.id);
    let (status, error) = stack.call("PATCH", &unknown, &org.token, Some(r#"{"name":"x"}"#)).await;
    assert_eq!((status, error["error"]["code"].as_str()), (404, Some("key_not_found")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rename_racing_a_revoke_lands_on_the_revoked_key() {
    let stack = std::sync::Arc::new(Stack::new().await);
    for round in 0..8 {
        let org = stack.org().await;
        let path = format!("/orgs/{}/api-keys/{}", org.id, org.first_id);
        let name = format!(r#"{{"name":"renamed-{round}"}}"#);
        let (renamed, revoked) = {
            let (a, b) = (stack.clone(), stack.clone());
            let (org_a, org_b, path_a, path_b) = (org.clone(), org.clone(), path.clone(), path.clone());
            tokio::join!(
                tokio::spawn(async move { a.call("PATCH", &path_a, &org_a.token, Some(&name)).await }),
                tokio::spawn(async move { b.call("DELETE", &path_b, &org_b.token, None).await.0 })
            )
        };
        let (renamed, revoked) = (renamed.unwrap(), revoked.unwrap());
        assert_eq!((renamed.0, revoked), (200, 204), "round {round}: {renamed:?}");
        // Whichever came first, the key ends revoked under its new name, with one event each.
        let listed = stack.listed(&org, &org.first_id).await;
        assert_eq!(
            (listed["status"].as_str(), listed["name"].as_str()),
            (Some("revoked"), Some(&*format!("renamed-{round}")))
        );
        let events = stack.events(&org).await;
        for kind in ["key.renamed", "key.revoked"] {
            assert_eq!(events.iter().filter(|e| e["type"] == kind).count(), 1, "round {round}: {kind}");
        }
    }
}

#[tokio::test]
async fn every_change_writes_exactly_one_event_with_its_actor_and_no_secret() {
    let stack = Stack::new().await;
    let org = stack.org().await;
    let org_path = format!("/orgs/{}/api-keys", org.id);
    let mut expected = vec![("org.created", org.first_id.clone())];
    let check = |events: &[Value], expected: &[(&str, String)]| {
        let got: Vec<(String, String)> = events
            .iter()
            .rev()
            .map(|e| (e["type"].as_str().unwrap().to_owned(), e["key_id"].as_str().unwrap_or_default().to_owned()))
            .collect();
        let want: Vec<(String, String)> = expected.iter().map(|(t, k)| ((*t).to_owned(), k.clone())).collect();
        assert_eq!(got, want);
    };
    check(&stack.events(&org).await, &expected);

    let created = stack.create(&org, json!({"name": "ci"})).await;
    let key_id = created["id"].as_str().unwrap().to_owned();
    expected.push(("key.created", key_id.clone()));
    check(&stack.events(&org).await, &expected);
    stack.call("PATCH", &format!("{org_path}/{key_id}"), &org.token, Some(r#"{"name":"ci-1"}"#)).await;
    expected.push(("key.renamed", key_id.clone()));
    let (_, rolled) = stack.roll(&org, &key_id, json!({"grace_period_seconds": 60})).await;
    expected.push(("key.rolled", key_id.clone()));
    let rolled_id = rolled["id"].as_str().unwrap().to_owned();
    assert_eq!(stack.call("DELETE", &format!("{org_path}/{rolled_id}"), &org.token, None).await.0, 204);
    expected.push(("key.revoked", rolled_id.clone()));
    // Revoking again is idempotent and changes nothing: no second event.
    assert_eq!(stack.call("DELETE", &format!("{org_path}/{rolled_id}"), &org.token, None).await.0, 204);
    // Refused changes write nothing.
    assert_eq!(stack.roll(&org, &key_id, json!({})).await.0, 409);
    let (stranger_uid, stranger) = emulator_user().await;
    let path = format!("{org_path}/{}", org.first_id);
    assert_eq!(stack.call("PATCH", &path, &stranger, Some(r#"{"name":"x"}"#)).await.0, 404);
    assert_eq!(stack.call("DELETE", &path, &stranger, None).await.0, 404);
    // The operator CLI's revoke (the same service call) is the operator's.
    let audit = Audit::new(Actor::operator(Some("ops")), "req-operator", stack.now());
    assert!(service::revoke_key(&stack.store, &org.id, &org.first_id, &audit).await.unwrap());
    expected.push(("key.revoked", org.first_id.clone()));
    let events = stack.events(&org).await;
    check(&events, &expected);

    for event in &events {
        let actor = &event["actor"];
        if event["request_id"] == "req-operator" {
            assert_eq!(actor, &json!({"type": "operator", "id": "ops"}));
            assert_eq!(event["data"], json!({"reason": "operator"}));
            continue;
        }
        assert_eq!(actor, &json!({"type": "user", "id": org.uid}), "{event}");
        assert_ne!(actor["id"], stranger_uid.as_str());
        assert!(event["request_id"].as_str().is_some_and(|r| r.starts_with("req-")), "{event}");
        assert_eq!((event["source_ip"].as_str(), event["user_agent"].as_str()), (Some("127.0.0.1"), Some(AGENT)));
        assert!(event["created_at"].as_str().unwrap().ends_with('Z'));
    }
    let by_type = |t: &str| events.iter().find(|e| e["type"] == t).unwrap().clone();
    assert_eq!(by_type("key.rolled")["data"]["new_key_id"], rolled_id.as_str());
    assert_eq!(by_type("key.rolled")["data"]["old_key_expires_at"], rolled["old_key_expires_at"]);
    let member_revoke =
        events.iter().find(|e| e["type"] == "key.revoked" && e["key_id"] == rolled_id.as_str()).unwrap();
    assert_eq!(member_revoke["data"], json!({"reason": "revoked"}));
    assert_eq!(stack.listed(&org, &org.first_id).await["revoked_reason"], "operator");

    // No event item holds a key, a token, a webhook secret or a hash, in any attribute.
    let raw = stack
        .store
        .client()
        .query()
        .table_name(&stack.store.tables().orgs)
        .key_condition_expression("org_id = :org AND begins_with(sk, :e)")
        .expression_attribute_values(":org", aws_sdk_dynamodb::types::AttributeValue::S(org.id.clone()))
        .expression_attribute_values(":e", aws_sdk_dynamodb::types::AttributeValue::S("EVENT#".into()))
        .send()
        .await
        .unwrap();
    assert_eq!(raw.items().len(), expected.len());
    let dump = format!("{:?}", raw.items());
    let secrets = [org.first_secret.as_str(), created["secret"].as_str().unwrap(), rolled["secret"].as_str().unwrap()];
    let hashes: Vec<String> =
        secrets.iter().map(|s| overten::ApiKey::parse(s).unwrap().hash().as_str().to_owned()).collect();
    for needle in secrets
        .iter()
        .copied()
        .chain([org.token.as_str(), org.webhook_secret.as_str()])
        .chain(hashes.iter().map(String::as_str))
    {
        assert!(!dump.contains(needle), "an event holds a secret or a hash");
    }
    // Each event expires 400 days after it was written (DynamoDB TTL).
    for item in raw.items() {
        let ttl: i64 = item["ttl"].as_n().unwrap().parse().unwrap();
        let at = overten::clock::parse_rfc3339(item["created_at"].as_s().unwrap()).unwrap();
        assert_eq!(ttl - at, 400 * 86_400);
    }
}

#[tokio::test]
async fn turning_api_access_on_for_a_dashboard_org_is_one_api_enabled_event() {
    let stack = Stack::new().await;
    let (uid, token) = emulator_user().await;
    let org_id = overten::ids::new_org_id();
    let dashboard = overten::store::NewOrg {
        org_id: org_id.clone(),
        name: "Dashboard".into(),
        owner_uid: uid.clone(),
        created_at: now_secs(),
        webhook_secret: None,
    };
    stack.store.create_org(&dashboard).await.unwrap();
    let auth = format!("Bearer {token}");
    let body = json!({"existing_org_id": org_id}).to_string();
    let response =
        signup::handle(&stack.signup, rest_request("POST", "/signup", &[("Authorization", &auth)], Some(&body))).await;
    assert_eq!(response.status(), 201);
    let first = body_json(&response)["key"]["id"].clone();
    let org = Org {
        id: org_id,
        uid: uid.clone(),
        token,
        first_id: String::new(),
        first_secret: String::new(),
        webhook_secret: String::new(),
    };
    let events = stack.events(&org).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!((events[0]["type"].as_str(), &events[0]["key_id"]), (Some("api.enabled"), &first));
    assert_eq!(events[0]["actor"], json!({"type": "user", "id": uid}));
    // Enabling twice is refused, and records nothing.
    let again =
        signup::handle(&stack.signup, rest_request("POST", "/signup", &[("Authorization", &auth)], Some(&body))).await;
    assert_eq!(again.status(), 409);
    assert_eq!(stack.events(&org).await.len(), 1);
}

#[tokio::test]
async fn a_change_whose_transaction_fails_writes_no_event() {
    let stack = Stack::new().await;
    let org = stack.org().await;
    let before = stack.events(&org).await.len();
    // A key whose hash is already stored: the ApiKeys put's condition cancels the transaction, the
    // event with it.
    let key = overten::ApiKey::parse(&org.first_secret).unwrap();
    let duplicate = overten::store::NewKey {
        key_id: overten::ids::new_key_id(overten::clock::now_millis()),
        hash: key.hash(),
        name: "dup".into(),
        prefix: key.display_prefix().into(),
        created_at: now_secs(),
        expires_at: None,
        rolled_from: None,
        restrictions: Default::default(),
    };
    let audit = Audit::new(Actor::user(&org.uid), "req-dup", now_secs());
    let err = stack.store.create_key(&org.id, &duplicate, &audit).await.unwrap_err();
    assert_eq!(err.status(), 500);
    let rolled =
        stack.store.roll_key(&org.id, &org.first_id, &duplicate, &inherit_lists_only(), 60, &audit).await.unwrap_err();
    assert_eq!(rolled.status(), 500);
    assert_eq!(stack.events(&org).await.len(), before);
    assert_eq!(stack.listing(&org, true).await.len(), 1, "and no key");
    assert_eq!(stack.listed(&org, &org.first_id).await["status"], "active", "the old key was not scheduled");
}

#[tokio::test]
async fn events_page_newest_first_with_a_stable_cursor_and_only_for_members() {
    let stack = Stack::new().await;
    let org = stack.org().await;
    // The changes in the order they were made; the listing must be exactly their reverse. (Event
    // ids sorted against themselves would pass whatever order DynamoDB returned.)
    let mut made = vec![("org.created".to_owned(), org.first_id.clone())];
    let created = stack.create(&org, json!({"name": "k0"})).await;
    let first_key = created["id"].as_str().unwrap().to_owned();
    made.push(("key.created".into(), first_key.clone()));
    let renamed = format!("/orgs/{}/api-keys/{first_key}", org.id);
    assert_eq!(stack.call("PATCH", &renamed, &org.token, Some(r#"{"name":"k0-1"}"#)).await.0, 200);
    made.push(("key.renamed".into(), first_key.clone()));
    for i in 1..4 {
        let created = stack.create(&org, json!({"name": format!("k{i}")})).await;
        made.push(("key.created".into(), created["id"].as_str().unwrap().to_owned()));
    }
    let path = format!("/orgs/{}/api-keys/{}", org.id, org.first_id);
    assert_eq!(stack.call("DELETE", &path, &org.token, None).await.0, 204);
    made.push(("key.revoked".into(), org.first_id.clone()));
    let all = stack.events(&org).await;
    let listed: Vec<(String, String)> = all
        .iter()
        .map(|e| (e["type"].as_str().unwrap().to_owned(), e["key_id"].as_str().unwrap_or_default().to_owned()))
        .collect();
    made.reverse();
    assert_eq!(listed, made, "newest first: the reverse of the order the changes were made in");
    assert_eq!(all.len(), 7);

    let page = |cursor: Option<String>| {
        let path = match cursor {
            Some(c) => format!("/orgs/{}/events?limit=3&cursor={c}", org.id),
            None => format!("/orgs/{}/events?limit=3", org.id),
        };
        let stack = &stack;
        let token = org.token.clone();
        async move { stack.call("GET", &path, &token, None).await.1 }
    };
    let first = page(None).await;
    assert_eq!((first["has_more"].as_bool(), first["data"].as_array().unwrap().len()), (Some(true), 3));
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();
    // A page that holds exactly what is left says so: no cursor to an empty page.
    let exact = stack.call("GET", &format!("/orgs/{}/events?limit=7", org.id), &org.token, None).await.1;
    assert_eq!(
        (exact["data"].as_array().unwrap().len(), &exact["has_more"], &exact["next_cursor"]),
        (7, &json!(false), &Value::Null)
    );
    let second = page(Some(cursor.clone())).await;
    // New events are newer than the cursor: the next page stays what it was.
    stack.create(&org, json!({"name": "later"})).await;
    assert_eq!(page(Some(cursor)).await, second, "a stable cursor");
    let third = page(second["next_cursor"].as_str().map(str::to_owned)).await;
    assert_eq!((third["has_more"].as_bool(), &third["next_cursor"]), (Some(false), &Value::Null));
    let paged: Vec<Value> = [first, second, third].iter().flat_map(|p| p["data"].as_array().unwrap().clone()).collect();
    assert_eq!(paged, all);

    let (_, stranger) = emulator_user().await;
    let (status, error) = stack.call("GET", &format!("/orgs/{}/events", org.id), &stranger, None).await;
    assert_eq!((status, error["error"]["code"].as_str()), (404, Some("org_not_found")));
    for bad in ["limit=0", "limit=101", "cursor=key_1", "since=1"] {
        let (status, _) = stack.call("GET", &format!("/orgs/{}/events?{bad}", org.id), &org.token, None).await;
        assert_eq!(status, 400, "{bad}");
    }
}

/// The org's `META` counts, read raw: (`active_keys`, `grace_keys`).
async fn counts(stack: &Stack, org: &Org) -> (i64, i64) {
    use aws_sdk_dynamodb::types::AttributeValue;
    let item = stack
        .store
        .client()
        .get_item()
        .table_name(&stack.store.tables().orgs)
        .key("org_id", AttributeValue::S(org.id.clone()))
        .key("sk", AttributeValue::S("META".into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    let number = |name: &str| item.get(name).map_or(0, |v| v.as_n().unwrap().parse().unwrap());
    (number("active_keys"), number("grace_keys"))
}

#[tokio::test]
async fn a_chain_of_rolls_keeps_at_most_100_keys_in_grace_and_200_keys_live() {
    let stack = Stack::new().await;
    let org = stack.org().await;
    let mut secrets = vec![org.first_secret.clone()];
    let mut current = org.first_id.clone();
    let mut refused = 0;
    for i in 1..=150 {
        let (status, body) = stack.roll(&org, &current, json!({"grace_period_seconds": 3600})).await;
        if i <= 100 {
            assert_eq!(status, 201, "roll {i}: {body}");
            current = body["id"].as_str().unwrap().to_owned();
            secrets.push(body["secret"].as_str().unwrap().to_owned());
        } else {
            assert_eq!((status, body["error"]["code"].as_str()), (409, Some("key_limit_reached")), "roll {i}");
            let message = body["error"]["message"].as_str().unwrap();
            assert!(message.contains("100 keys in a roll's grace period"), "{message}");
            refused += 1;
        }
    }
    assert_eq!(refused, 50);
    assert_eq!(counts(&stack, &org).await, (1, 100));
    // A roll with grace 0 revokes the old key at once: not refused by the grace limit.
    let (status, body) = stack.roll(&org, &current, json!({"grace_period_seconds": 0})).await;
    assert_eq!(status, 201, "{body}");
    current = body["id"].as_str().unwrap().to_owned();
    secrets.pop();
    secrets.push(body["secret"].as_str().unwrap().to_owned());
    // Fill the active limit too: 100 active keys and 100 in grace.
    for i in 0..99 {
        secrets.push(stack.create(&org, json!({"name": format!("k{i}")})).await["secret"].as_str().unwrap().to_owned());
    }
    let (status, _) =
        stack.call("POST", &format!("/orgs/{}/api-keys", org.id), &org.token, Some(r#"{"name":"x"}"#)).await;
    assert_eq!(status, 409);
    let mut live = 0;
    for secret in &secrets {
        live += usize::from(verify_at(&stack.store, secret, stack.now()).await.0 == 200);
    }
    assert_eq!((secrets.len(), live), (200, 200), "every key of the org that can authenticate");

    // Revoking a key in its grace period frees its place; when the grace periods end, all do.
    let in_grace = stack.listing(&org, false).await.into_iter().find(|k| k["status"] == "expiring").unwrap();
    let (status, _) = stack
        .call("DELETE", &format!("/orgs/{}/api-keys/{}", org.id, in_grace["id"].as_str().unwrap()), &org.token, None)
        .await;
    assert_eq!(status, 204);
    assert_eq!(counts(&stack, &org).await, (100, 99));
    let (status, body) = stack.roll(&org, &current, json!({"grace_period_seconds": 3600})).await;
    assert_eq!(status, 201, "{body}");
    current = body["id"].as_str().unwrap().to_owned();
    let (status, _) = stack.roll(&org, &current, json!({"grace_period_seconds": 3600})).await;
    assert_eq!(status, 409, "back at 100 in grace");
    stack.clock.set(stack.now() + 3600);
    let (status, body) = stack.roll(&org, &current, json!({"grace_period_seconds": 3600})).await;
    assert_eq!(status, 201, "ended grace periods are moved out of the count: {body}");
    assert_eq!(counts(&stack, &org).await, (100, 1));
}

#[tokio::test]
async fn expired_keys_are_moved_from_every_page_of_the_active_run() {
    let stack = Stack::new().await;
    let org = stack.org().await;
    let ends = stack.now() + 60;
    for i in 0..99 {
        stack.create(&org, json!({"name": format!("k{i}"), "expires_at": rfc3339(ends)})).await;
    }
    // 100 released keys behind them: the active run is 200 items, two pages of the move's query.
    let mut current = org.first_id.clone();
    for _ in 0..100 {
        let (status, body) = stack.roll(&org, &current, json!({"grace_period_seconds": 30})).await;
        assert_eq!(status, 201, "{body}");
        current = body["id"].as_str().unwrap().to_owned();
    }
    assert_eq!(counts(&stack, &org).await, (100, 100));
    stack.clock.set(ends);
    // At the limit, a create moves the org's 199 expired keys (both pages) and succeeds.
    stack.create(&org, json!({"name": "after"})).await;
    assert_eq!(counts(&stack, &org).await, (2, 0));
    assert_eq!(stack.listing(&org, false).await.len(), 2);
    // The ended run holds them all (a page of 100, then the rest).
    let mut expired = 0;
    let mut cursor = String::new();
    for _ in 0..3 {
        let path = format!("/orgs/{}/api-keys?include_revoked=true&limit=100{cursor}", org.id);
        let page = stack.call("GET", &path, &org.token, None).await.1;
        expired += page["data"].as_array().unwrap().iter().filter(|k| k["status"] == "expired").count();
        let Some(next) = page["next_cursor"].as_str() else { break };
        cursor = format!("&cursor={next}");
    }
    assert_eq!(expired, 199);
}

#[tokio::test]
async fn include_revoked_lists_a_key_once_while_keys_end_during_the_listing() {
    let stack = Stack::new().await;
    let org = stack.org().await;
    let mut ids = vec![org.first_id.clone()];
    for i in 0..20 {
        ids.push(stack.create(&org, json!({"name": format!("k{i}")})).await["id"].as_str().unwrap().to_owned());
    }
    // Listings race revokes: a key moving from the active run to the ended one between the two
    // reads of a listing must still appear once.
    let path = format!("/orgs/{}/api-keys?include_revoked=true&limit=100", org.id);
    let revokes = async {
        for id in &ids[1..] {
            let (status, _) = stack.call("DELETE", &format!("/orgs/{}/api-keys/{id}", org.id), &org.token, None).await;
            assert_eq!(status, 204);
        }
    };
    let listings = async {
        let mut pages = Vec::new();
        for _ in 0..40 {
            pages.push(stack.call("GET", &path, &org.token, None).await.1);
        }
        pages
    };
    let ((), pages) = tokio::join!(revokes, listings);
    for page in pages.iter().chain([&stack.call("GET", &path, &org.token, None).await.1]) {
        let listed: Vec<&str> = page["data"].as_array().unwrap().iter().map(|k| k["id"].as_str().unwrap()).collect();
        assert_eq!(listed, ids, "each key once, in creation order");
    }
}

#[tokio::test]
async fn events_past_their_retention_are_not_served_before_dynamodb_deletes_them() {
    let stack = Stack::new().await;
    let org = stack.org().await;
    // A change recorded 401 days ago: its TTL has passed, DynamoDB has not deleted it yet.
    for (request, days_ago) in [("req-old", 401), ("req-recent", 399)] {
        let key = overten::ApiKey::generate();
        let new = overten::store::NewKey {
            key_id: overten::ids::new_key_id(overten::clock::now_millis()),
            hash: key.hash(),
            name: request.into(),
            prefix: key.display_prefix().into(),
            created_at: now_secs(),
            expires_at: None,
            rolled_from: None,
            restrictions: Default::default(),
        };
        let audit = Audit::new(Actor::user(&org.uid), request, now_secs() - days_ago * 86_400);
        stack.store.create_key(&org.id, &new, &audit).await.unwrap();
    }
    let events = stack.events(&org).await;
    let requests: Vec<&str> = events.iter().map(|e| e["request_id"].as_str().unwrap()).collect();
    assert!(requests.contains(&"req-recent"), "{requests:?}");
    assert!(!requests.contains(&"req-old"), "{requests:?}");
}

#[tokio::test]
async fn an_events_id_and_created_at_are_the_same_instant() {
    let stack = Stack::new().await;
    stack.clock.set(1_900_000_000);
    let org = stack.org().await;
    for event in stack.events(&org).await {
        assert_eq!(event["created_at"], "2030-03-17T17:46:40Z");
        let id = event["id"].as_str().unwrap();
        assert_eq!(&id[.."evt_".len() + 8], &overten::audit::new_event_id(1_900_000_000_000)[..12], "{id}");
    }
}

#[tokio::test]
async fn keys_rolled_before_the_grace_count_existed_never_take_it_below_zero() {
    use aws_sdk_dynamodb::types::AttributeValue;
    let stack = Stack::new().await;
    let org = stack.org().await;
    // Two rolls, then the org as it was before the grace count: released keys without
    // `grace_counted`, and no `grace_keys`.
    let (_, first) = stack.roll(&org, &org.first_id, json!({"grace_period_seconds": 60})).await;
    let second_id = first["id"].as_str().unwrap().to_owned();
    let (_, second) = stack.roll(&org, &second_id, json!({"grace_period_seconds": 60})).await;
    let client = stack.store.client();
    let orgs = &stack.store.tables().orgs;
    for key_id in [&org.first_id, &second_id] {
        let update = client
            .update_item()
            .table_name(orgs)
            .key("org_id", AttributeValue::S(org.id.clone()))
            .key("sk", AttributeValue::S(format!("KEY#{key_id}")))
            .update_expression("REMOVE grace_counted");
        update.send().await.unwrap();
    }
    let meta = client
        .update_item()
        .table_name(orgs)
        .key("org_id", AttributeValue::S(org.id.clone()))
        .key("sk", AttributeValue::S("META".into()))
        .update_expression("REMOVE grace_keys");
    meta.send().await.unwrap();
    // Revoked in its grace period, and moved out when its grace ends: the count stays at 0.
    let (status, _) =
        stack.call("DELETE", &format!("/orgs/{}/api-keys/{}", org.id, org.first_id), &org.token, None).await;
    assert_eq!(status, 204);
    assert_eq!(counts(&stack, &org).await, (1, 0));
    stack.clock.set(stack.now() + 60);
    let (status, body) = stack.roll(&org, second["id"].as_str().unwrap(), json!({"grace_period_seconds": 60})).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(stack.listing(&org, false).await.len(), 2, "the ended legacy key was moved out");
    assert_eq!(counts(&stack, &org).await, (1, 1), "only the new roll counts");
}

/// A roll that names its new key: only the lists are inherited.
fn inherit_lists_only() -> overten::store::Inherit {
    overten::store::Inherit { name: false, ..overten::store::Inherit::ALL }
}
