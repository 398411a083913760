//! GitHub's secret-scanning deliveries on DynamoDB Local, signed by a P-256 key the test
//! generates and serves as GitHub would: labels, revocation of live leaked keys with their event,
//! signature failures that read nothing, a failing or hanging key endpoint, the 1,000-token limit,
//! redelivery, and no raw token in any log line or stored item. GitHub's key endpoint is the
//! strict stand-in (`infra/github-keys`): `User-Agent` required, 60 anonymous requests an hour.

use std::time::{Duration, Instant};

use github_keys::{GithubKeys, Outage};
use lambda_http::{Body, Response};
use overten::ApiKey;
use overten::api_key::KeyHash;
use overten::config::GithubKeysConfig;
use overten::secret_scanning::signature::{LocalSigner, key_set_document};
use overten::store::{DynamoStore, KeyLookup};
use overten_tests::counting::CountingStore;
use overten_tests::events::{body_json, rest_request};
use overten_tests::{emulator_user, emulator_verifier, fresh_store, logs};
use serde_json::{Value, json};

const PATH: &str = "/secret-scanning/github";

struct Stack {
    store: DynamoStore,
    signup: signup::App<DynamoStore>,
    keys: keys::App<DynamoStore>,
    scanning: secret_scanning::App<CountingStore>,
    signer: LocalSigner,
    github: GithubKeys,
}

struct Org {
    id: String,
    token: String,
    secrets: Vec<String>,
    ids: Vec<String>,
}

impl Stack {
    async fn new() -> Self {
        Self::with_fetch_timeout(Duration::from_secs(1)).await
    }

    async fn with_fetch_timeout(fetch_timeout: Duration) -> Self {
        let store = fresh_store().await;
        let signer = LocalSigner::generate().unwrap();
        let retired = LocalSigner::generate().unwrap();
        let document = key_set_document(&[retired.key_set_entry(false), signer.key_set_entry(true)]);
        let github = start_github(document, Some(GITHUB_TOKEN)).await;
        let config = GithubKeysConfig { keys_url: github.url.clone(), fetch_timeout, token_secret_arn: None };
        Stack {
            signup: signup::App::new(store.clone(), emulator_verifier()),
            keys: keys::App::new(store.clone(), emulator_verifier()),
            scanning: secret_scanning::App::new(CountingStore::new(store.clone()), &config).unwrap(),
            store,
            signer,
            github,
        }
    }

    /// An org with `n` live keys.
    async fn org(&self, n: usize) -> Org {
        let (_, token) = emulator_user().await;
        let auth = format!("Bearer {token}");
        let request = rest_request("POST", "/signup", &[("Authorization", &auth)], Some(r#"{"org_name":"Acme"}"#));
        let body = body_json(&signup::handle(&self.signup, request).await);
        let mut org = Org {
            id: body["org_id"].as_str().unwrap().into(),
            token,
            secrets: vec![body["secret"].as_str().unwrap().into()],
            ids: vec![body["key"]["id"].as_str().unwrap().into()],
        };
        for i in 1..n {
            let (status, created) = self
                .keys("POST", &format!("/orgs/{}/api-keys", org.id), &org, Some(&format!(r#"{{"name":"k{i}"}}"#)))
                .await;
            assert_eq!(status, 201, "{created}");
            org.secrets.push(created["secret"].as_str().unwrap().into());
            org.ids.push(created["id"].as_str().unwrap().into());
        }
        org
    }

    async fn keys(&self, method: &str, path: &str, org: &Org, body: Option<&str>) -> (u16, Value) {
        let auth = format!("Bearer {}", org.token);
        let response = keys::handle(&self.keys, rest_request(method, path, &[("Authorization", &auth)], body)).await;
        (response.status().as_u16(), body_json(&response))
    }

    async fn listed(&self, org: &Org, key_id: &str) -> Value {
        let path = format!("/orgs/{}/api-keys?include_revoked=true", org.id);
        let (_, list) = self.keys("GET", &path, org, None).await;
        list["data"].as_array().unwrap().iter().find(|k| k["id"] == key_id).unwrap().clone()
    }

    async fn events(&self, org: &Org) -> Vec<Value> {
        let (_, page) = self.keys("GET", &format!("/orgs/{}/events?limit=100", org.id), org, None).await;
        page["data"].as_array().unwrap().clone()
    }

    /// Delivers `body` with the given identifier and signature headers.
    async fn deliver_with(&self, body: &str, identifier: Option<&str>, signature: Option<&str>) -> (u16, Value) {
        let mut headers = vec![("Content-Type", "application/json"), ("User-Agent", "GitHub-Hookshot/secret-scanning")];
        if let Some(id) = identifier {
            headers.push(("Github-Public-Key-Identifier", id));
        }
        if let Some(signature) = signature {
            headers.push(("Github-Public-Key-Signature", signature));
        }
        let response: Response<Body> =
            secret_scanning::handle(&self.scanning, rest_request("POST", PATH, &headers, Some(body))).await;
        (response.status().as_u16(), body_json(&response))
    }

    /// Delivers `body` signed by GitHub's current key, as GitHub does.
    async fn deliver(&self, body: &str) -> (u16, Value) {
        let signature = self.signer.sign(body.as_bytes());
        self.deliver_with(body, Some(&self.signer.key_identifier()), Some(&signature)).await
    }
}

/// The token the stand-in accepts (generated per run would be no safer: it guards nothing real).
const GITHUB_TOKEN: &str = "ghp_stand_in_token_for_tests";

async fn start_github(document: String, token: Option<&str>) -> GithubKeys {
    GithubKeys::start("127.0.0.1:0".parse().unwrap(), github_keys::Document::Text(document), token.map(str::to_owned))
        .await
        .unwrap()
}

/// A credential with a fixed value, as Secrets Manager would return it.
struct StaticToken(&'static str);

impl overten::key_set::Credential for StaticToken {
    fn authorization(
        &self,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<String, String>> + Send + '_>> {
        Box::pin(async move { secret_scanning::github_token::bearer(self.0) })
    }
}

fn matches(tokens: &[&str]) -> String {
    let entries: Vec<Value> = tokens
        .iter()
        .map(|t| {
            json!({"token": t, "type": "overten_api_key", "url": "https://github.com/acme/app/blob/abc123/.env", "source": "content"})
        })
        .collect();
    Value::Array(entries).to_string()
}

async fn verify_status(store: &DynamoStore, secret: &str) -> u16 {
    verify::handle(store, rest_request("GET", "/verify", &[("X-API-Key", secret)], None)).await.status().as_u16()
}

#[tokio::test]
async fn a_signed_delivery_labels_every_token_and_revokes_the_live_leaked_key() {
    let (_guard, logs) = logs::capture();
    let stack = Stack::new().await;
    let org = stack.org(2).await;
    let (live, revoked) = (&org.secrets[0], &org.secrets[1]);
    assert_eq!(stack.keys("DELETE", &format!("/orgs/{}/api-keys/{}", org.id, org.ids[1]), &org, None).await.0, 204);
    let never_issued = ApiKey::generate();
    let garbage = "sk_live_this-is-not-a-key";
    let tokens = [live.as_str(), revoked.as_str(), never_issued.expose_secret(), garbage];
    let body = matches(&tokens);

    let (status, answer) = stack.deliver(&body).await;
    assert_eq!(status, 200, "{answer}");
    let expected: Vec<Value> = tokens
        .iter()
        .zip(["true_positive", "true_positive", "false_positive", "false_positive"])
        .map(|(t, label)| json!({"token_hash": KeyHash::of(t).as_str(), "token_type": "overten_api_key", "label": label}))
        .collect();
    assert_eq!(answer, Value::Array(expected));
    assert_eq!(stack.scanning.store.key_reads(), 1, "three well-formed keys, one BatchGetItem; garbage costs no read");
    assert_eq!(stack.scanning.store.calls(), 2, "the lookup and one revocation: the revoked key is left alone");

    // The live key stops at once; support and the customer can see why.
    assert_eq!(verify_status(&stack.store, live).await, 401);
    let listed = stack.listed(&org, &org.ids[0]).await;
    assert_eq!((listed["status"].as_str(), listed["revoked_reason"].as_str()), (Some("revoked"), Some("leaked")));
    let leaked: Vec<Value> = stack.events(&org).await.into_iter().filter(|e| e["type"] == "key.leaked").collect();
    assert_eq!(leaked.len(), 1);
    assert_eq!(leaked[0]["key_id"], org.ids[0].as_str());
    assert_eq!(leaked[0]["actor"], json!({"type": "github_secret_scanning", "id": null}));
    assert_eq!(leaked[0]["data"], json!({"url": "https://github.com/acme/app/blob/abc123/.env", "source": "content"}));
    assert_eq!(leaked[0]["user_agent"], "GitHub-Hookshot/secret-scanning");
    let record = stack.store.find_key(&ApiKey::parse(live).unwrap().hash()).await.unwrap().unwrap();
    assert_eq!(record.leaked_url.as_deref(), Some("https://github.com/acme/app/blob/abc123/.env"));
    assert_eq!(record.revoked_reason, Some(overten::audit::RevokedReason::Leaked));
    // The member's own revocation of the other key stays what it was.
    assert_eq!(stack.listed(&org, &org.ids[1]).await["revoked_reason"], "revoked");

    // GitHub redelivers: the same answer, no second event, nothing changed.
    let events_before = stack.events(&org).await.len();
    let (status, again) = stack.deliver(&body).await;
    assert_eq!((status, &again), (200, &answer));
    assert_eq!(stack.events(&org).await.len(), events_before);

    // No raw token in any log line or any stored item.
    let mut stored = String::new();
    for table in [&stack.store.tables().api_keys, &stack.store.tables().orgs] {
        let scan = stack.store.client().scan().table_name(table).send().await.unwrap();
        stored.push_str(&format!("{:?}", scan.items()));
    }
    let logged = logs.text();
    let deliveries: Vec<Value> = logged
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l.to_string().contains("secret-scanning delivery"))
        .collect();
    assert_eq!(deliveries.len(), 2, "one line per delivery: {logged}");
    let counts = |line: &Value| {
        let fields = if line["fields"].is_object() { &line["fields"] } else { line };
        ["tokens", "well_formed", "true_positives", "revoked"].map(|k| fields[k].as_u64().unwrap_or(u64::MAX))
    };
    assert_eq!(counts(&deliveries[0]), [4, 3, 2, 1]);
    assert_eq!(counts(&deliveries[1]), [4, 3, 2, 0], "the redelivery revoked nothing");
    for token in tokens {
        assert!(!stored.contains(token), "a raw token was stored");
        assert!(!logged.contains(token), "a raw token was logged");
    }
}

#[tokio::test]
async fn unsigned_or_wrongly_signed_deliveries_are_refused_before_any_read() {
    let stack = Stack::new().await;
    let org = stack.org(1).await;
    let body = matches(&[&org.secrets[0]]);
    let id = stack.signer.key_identifier();
    let good = stack.signer.sign(body.as_bytes());
    let other = LocalSigner::generate().unwrap();
    // The same JSON, re-serialised with other whitespace: the bytes GitHub signed are gone.
    let reserialised = serde_json::to_string_pretty(&serde_json::from_str::<Value>(&body).unwrap()).unwrap();
    let cases: Vec<(&str, String, Option<String>, Option<String>)> = vec![
        ("no headers", body.clone(), None, None),
        ("no signature", body.clone(), Some(id.clone()), None),
        ("no identifier", body.clone(), None, Some(good.clone())),
        ("signed by another key", body.clone(), Some(id.clone()), Some(other.sign(body.as_bytes()))),
        ("not base64", body.clone(), Some(id.clone()), Some("%%%".into())),
        ("not a DER signature", body.clone(), Some(id.clone()), Some("AAAA".into())),
        ("a re-serialised body", reserialised, Some(id.clone()), Some(good.clone())),
    ];
    for (what, body, identifier, signature) in cases {
        let (status, error) = stack.deliver_with(&body, identifier.as_deref(), signature.as_deref()).await;
        assert_eq!((status, error["error"]["code"].as_str()), (401, Some("invalid_signature")), "{what}");
    }
    assert_eq!(stack.github.requests(), 1, "the key set was fetched once and cached");

    // An unknown identifier: one refetch (GitHub may have rotated), then refused without another.
    for _ in 0..3 {
        let (status, error) =
            stack.deliver_with(&body, Some(&other.key_identifier()), Some(&other.sign(body.as_bytes()))).await;
        assert_eq!((status, error["error"]["code"].as_str()), (401, Some("invalid_signature")));
    }
    // The set was fetched moments ago: an unknown identifier waits out the minute, no refetch.
    assert_eq!(stack.github.requests(), 1, "unknown identifiers refetch at most once a minute");

    assert_eq!(stack.scanning.store.key_reads(), 0, "no read of the keys table");
    assert_eq!(verify_status(&stack.store, &org.secrets[0]).await, 200, "nothing revoked");
}

#[tokio::test]
async fn an_unknown_identifier_on_a_cold_start_refetches_once_then_is_refused() {
    let stack = Stack::new().await;
    let stranger = LocalSigner::generate().unwrap();
    let body = matches(&["sk_live_x"]);
    // An empty or absurdly long identifier is refused before the key set is even fetched.
    let signature = stack.signer.sign(body.as_bytes());
    for identifier in [String::new(), "a".repeat(600)] {
        assert_eq!(stack.deliver_with(&body, Some(&identifier), Some(&signature)).await.0, 401);
    }
    assert_eq!(stack.github.requests(), 0);
    for _ in 0..3 {
        let (status, _) =
            stack.deliver_with(&body, Some(&stranger.key_identifier()), Some(&stranger.sign(body.as_bytes()))).await;
        assert_eq!(status, 401);
    }
    assert_eq!(stack.github.requests(), 1, "fetched for the first unknown identifier, not again within the minute");
}

#[tokio::test]
async fn a_failing_or_hanging_key_endpoint_is_503_and_revokes_nothing() {
    let stack = Stack::new().await;
    let org = stack.org(1).await;
    let body = matches(&[&org.secrets[0]]);
    stack.github.set_outage(Some(Outage::Status(500)));
    let (status, error) = stack.deliver(&body).await;
    assert_eq!((status, error["error"]["code"].as_str()), (503, Some("service_unavailable")));

    // A key endpoint that accepts the connection and never answers: 503 within the fetch timeout.
    let hanging = Stack::with_fetch_timeout(Duration::from_millis(500)).await;
    hanging.github.set_outage(Some(Outage::Hang));
    let started = Instant::now();
    let (status, _) = hanging.deliver(&body).await;
    assert_eq!(status, 503);
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());

    assert_eq!(stack.scanning.store.key_reads() + hanging.scanning.store.key_reads(), 0);
    assert_eq!(verify_status(&stack.store, &org.secrets[0]).await, 200, "nothing revoked");
}

#[tokio::test]
async fn a_thousand_tokens_are_answered_and_one_more_is_refused() {
    let stack = Stack::new().await;
    let org = stack.org(100).await;
    let never_issued: Vec<ApiKey> = (0..900).map(|_| ApiKey::generate()).collect();
    let mut tokens: Vec<&str> = org.secrets.iter().map(String::as_str).collect();
    tokens.extend(never_issued.iter().map(ApiKey::expose_secret));
    let body = matches(&tokens);
    assert!(body.len() < 1024 * 1024, "{} bytes", body.len());

    let started = Instant::now();
    let (status, answer) = stack.deliver(&body).await;
    let elapsed = started.elapsed();
    assert_eq!(status, 200);
    let labels: Vec<&str> = answer.as_array().unwrap().iter().map(|v| v["label"].as_str().unwrap()).collect();
    assert_eq!(labels.len(), 1000);
    assert!(
        labels[..100].iter().all(|l| *l == "true_positive") && labels[100..].iter().all(|l| *l == "false_positive")
    );
    eprintln!("1,000 tokens (100 live keys revoked, 900 never issued): answered in {elapsed:?} on DynamoDB Local");
    let leaked = stack.events(&org).await.into_iter().filter(|e| e["type"] == "key.leaked").count();
    assert_eq!(leaked, 100);
    for secret in &org.secrets[..3] {
        assert_eq!(verify_status(&stack.store, secret).await, 401);
    }

    let mut over = tokens.clone();
    over.push("sk_live_one-more");
    let (status, error) = stack.deliver(&matches(&over)).await;
    assert_eq!((status, error["error"]["code"].as_str()), (400, Some("invalid_request")));
    let (status, error) = stack.deliver("{\"not\": \"an array\"}").await;
    assert_eq!((status, error["error"]["code"].as_str()), (400, Some("invalid_request")));
    let huge = format!("[{}]", " ".repeat(1024 * 1024));
    let (status, error) = stack.deliver(&huge).await;
    assert_eq!((status, error["error"]["code"].as_str()), (413, Some("payload_too_large")));
}

#[tokio::test]
async fn the_github_stand_in_refuses_what_github_refuses() {
    let github =
        start_github(key_set_document(&[LocalSigner::generate().unwrap().key_set_entry(true)]), Some(GITHUB_TOKEN))
            .await;
    // reqwest sends no User-Agent unless told to: GitHub answers 403 (and so does the stand-in).
    let bare = reqwest::Client::new();
    let refused = bare.get(&github.url).send().await.unwrap();
    assert_eq!(refused.status(), 403);
    assert!(refused.text().await.unwrap().contains("User-Agent"));
    let client = reqwest::Client::builder().user_agent("overten-tests").build().unwrap();
    let mut last_remaining = 60;
    for i in 1..=60 {
        let ok = client.get(&github.url).send().await.unwrap();
        assert_eq!(ok.status(), 200, "request {i}");
        let header = |name: &str| ok.headers()[name].to_str().unwrap().to_owned();
        assert_eq!(header("x-ratelimit-limit"), "60");
        assert_eq!(header("x-ratelimit-used"), i.to_string());
        let remaining: u32 = header("x-ratelimit-remaining").parse().unwrap();
        assert_eq!(remaining, last_remaining - 1);
        last_remaining = remaining;
        assert!(header("x-ratelimit-reset").parse::<u64>().unwrap() > overten::clock::now_secs() as u64);
        assert_eq!(header("cache-control"), "public, max-age=60, s-maxage=60");
    }
    let limited = client.get(&github.url).send().await.unwrap();
    assert_eq!(limited.status(), 403, "the 61st anonymous request in the hour");
    assert_eq!(limited.headers()["x-ratelimit-remaining"], "0");
    assert!(limited.text().await.unwrap().contains("API rate limit exceeded"));
    // A token has its own, larger budget; a wrong one is 401 Bad credentials.
    let with_token = client.get(&github.url).bearer_auth(GITHUB_TOKEN).send().await.unwrap();
    assert_eq!(with_token.status(), 200);
    assert_eq!(with_token.headers()["x-ratelimit-limit"], "5000");
    assert_eq!(with_token.headers()["cache-control"], "private, max-age=60, s-maxage=60");
    let wrong = client.get(&github.url).header("authorization", "token ghp_wrong").send().await.unwrap();
    assert_eq!(wrong.status(), 401);
    assert_eq!(github.served(), 61);
    // A conditional request with the current etag is 304; authenticated, it costs nothing.
    let etag = with_token.headers()["etag"].to_str().unwrap().to_owned();
    for _ in 0..3 {
        let current =
            client.get(&github.url).bearer_auth(GITHUB_TOKEN).header("if-none-match", &etag).send().await.unwrap();
        assert_eq!(current.status(), 304);
        assert_eq!(current.headers()["x-ratelimit-used"], "1");
    }
    assert_eq!(github.not_modified(), 3);
    // An API version GitHub does not know is 400; the one we send is accepted.
    let unknown = client.get(&github.url).bearer_auth(GITHUB_TOKEN).header("x-github-api-version", "2021-01-01");
    assert_eq!(unknown.send().await.unwrap().status(), 400);
    let known = client.get(&github.url).bearer_auth(GITHUB_TOKEN).header("x-github-api-version", "2022-11-28");
    assert_eq!(known.send().await.unwrap().status(), 200);
    // GitHub answers an exhausted limit with 403 or 429.
    github.set_limit_status(429);
    assert_eq!(client.get(&github.url).send().await.unwrap().status(), 429);
}

#[tokio::test]
async fn the_service_fetches_githubs_keys_anonymously_until_the_hourly_limit_and_with_a_token_beyond_it() {
    let stack = Stack::new().await;
    let org = stack.org(1).await;
    let body = matches(&[&org.secrets[0]]);
    // Anonymous, as deployed without GithubTokenSecretArn: the stand-in served it, so the service
    // sent a User-Agent.
    let (status, answer) = stack.deliver(&body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(stack.github.served(), 1);

    // Other clients behind the same address used up the hour's 60 anonymous requests.
    let neighbour = reqwest::Client::builder().user_agent("a-neighbour").build().unwrap();
    for _ in 0..=60 {
        if neighbour.get(&stack.github.url).send().await.unwrap().status() != 200 {
            break;
        }
    }
    let config = GithubKeysConfig {
        keys_url: stack.github.url.clone(),
        fetch_timeout: Duration::from_secs(1),
        token_secret_arn: None,
    };
    let anonymous = secret_scanning::App::new(CountingStore::new(stack.store.clone()), &config).unwrap();
    let response = secret_scanning::handle(&anonymous, signed(&stack.signer, &body)).await;
    assert_eq!(response.status(), 503, "rate-limited: GitHub retries the delivery later");
    // GitHub said when the limit resets (within the hour): no more asking before then.
    let asked = stack.github.requests();
    for _ in 0..5 {
        assert_eq!(secret_scanning::handle(&anonymous, signed(&stack.signer, &body)).await.status(), 503);
    }
    assert_eq!(stack.github.requests(), asked, "no request while rate-limited");

    // With a token the same instance's neighbours' budget does not matter.
    let with_token = secret_scanning::App::new(CountingStore::new(stack.store.clone()), &config)
        .unwrap()
        .with_github_credential(std::sync::Arc::new(StaticToken(GITHUB_TOKEN)));
    let response = secret_scanning::handle(&with_token, signed(&stack.signer, &body)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(with_token.github_keys.fetch_count(), 1);
    // A wrong token is GitHub's 401, which the service reports as its own 503 (not the caller's fault).
    let wrong = secret_scanning::App::new(CountingStore::new(stack.store.clone()), &config)
        .unwrap()
        .with_github_credential(std::sync::Arc::new(StaticToken("ghp_revoked")));
    assert_eq!(secret_scanning::handle(&wrong, signed(&stack.signer, &body)).await.status(), 503);
}

/// A delivery of `body` signed by `signer`, as GitHub sends it.
fn signed(signer: &LocalSigner, body: &str) -> lambda_http::Request {
    let identifier = signer.key_identifier();
    let signature = signer.sign(body.as_bytes());
    rest_request(
        "POST",
        PATH,
        &[
            ("Content-Type", "application/json"),
            ("Github-Public-Key-Identifier", &identifier),
            ("Github-Public-Key-Signature", &signature),
        ],
        Some(body),
    )
}

#[tokio::test]
async fn forged_deliveries_to_a_cold_instance_while_github_is_down_cause_a_handful_of_fetches() {
    let stack = Stack::new().await;
    stack.github.set_outage(Some(Outage::Status(502)));
    let body = matches(&["sk_live_x"]);
    let forger = LocalSigner::generate().unwrap();
    // Unsigned: refused before any fetch.
    for _ in 0..100 {
        assert_eq!(stack.deliver_with(&body, None, None).await.0, 401);
        assert_eq!(stack.deliver_with(&body, Some(&forger.key_identifier()), None).await.0, 401);
    }
    assert_eq!(stack.github.requests(), 0, "no signature headers, no fetch");
    // Signed by a key GitHub never published, while GitHub fails: each is 503 (GitHub would
    // retry), and the back-off keeps the fetches to a handful.
    let started = Instant::now();
    for _ in 0..100 {
        let (status, _) =
            stack.deliver_with(&body, Some(&forger.key_identifier()), Some(&forger.sign(body.as_bytes()))).await;
        assert_eq!(status, 503);
    }
    let fetches = stack.github.requests();
    let elapsed = started.elapsed().as_secs();
    // One fetch, then one per back-off period (1, 2, 4 … s): at most 1 + log2(elapsed + 1) + 1.
    let bound = 2 + (64 - (elapsed + 1).leading_zeros()) as usize;
    assert!(fetches <= bound, "{fetches} fetches in {elapsed} s (bound {bound})");
    assert!(fetches >= 1);
    assert_eq!(stack.scanning.store.key_reads(), 0);
}

#[tokio::test]
async fn a_mistyped_delivery_is_400_and_its_message_holds_no_token() {
    let stack = Stack::new().await;
    let secret = ApiKey::generate();
    let token = secret.expose_secret();
    for body in [
        format!(r#"["{token}"]"#),
        format!(r#"[{{"token":"{token}","type":7}}]"#),
        format!(r#"[{{"token":{{"value":"{token}"}},"type":"overten_api_key"}}]"#),
    ] {
        let (status, error) = stack.deliver(&body).await;
        assert_eq!((status, error["error"]["code"].as_str()), (400, Some("invalid_request")), "{error}");
        assert!(!error.to_string().contains(token) && !error.to_string().contains("sk_live_"), "{error}");
    }
}

#[tokio::test]
async fn an_expired_key_set_is_revalidated_and_a_304_keeps_it() {
    let stack = Stack::new().await;
    stack.github.set_max_age(1);
    let org = stack.org(2).await;
    let (status, _) = stack.deliver(&matches(&[&org.secrets[0]])).await;
    assert_eq!(status, 200);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    // The set expired: the service asks with its etag, GitHub answers 304, the keys stay.
    let (status, answer) = stack.deliver(&matches(&[&org.secrets[1]])).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!((stack.github.served(), stack.github.not_modified()), (1, 1));
}
