//! Helpers for the integration tests: real DynamoDB Local tables, real Firebase Auth emulator
//! users, RSA-signed tokens with a JWKS served on 127.0.0.1, API Gateway events, and log capture.
//!
//! `make test` starts the services and sets `AWS_ENDPOINT_URL_DYNAMODB` and
//! `FIREBASE_AUTH_EMULATOR_HOST`; each test makes its own tables, so tests run in parallel.

pub mod call_count;
pub mod counting;
pub mod events;
pub mod iam_calls;
pub mod jwks_server;
pub mod logs;
pub mod own_dynamo;
pub mod tokens;
pub mod touching;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use overten::config::{FirebaseConfig, Tables};
use overten::firebase::TokenVerifier;
use overten::store::DynamoStore;
use serde_json::Value;

pub const PROJECT_ID: &str = "demo-overten";

pub fn ddb_endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL_DYNAMODB")
        .unwrap_or_else(|_| format!("http://127.0.0.1:{}", std::env::var("DDB_PORT").unwrap_or_else(|_| "8000".into())))
}

pub fn auth_emulator_host() -> String {
    std::env::var("FIREBASE_AUTH_EMULATOR_HOST").unwrap_or_else(|_| "127.0.0.1:9099".into())
}

/// The real SDK client, pointed at DynamoDB Local with dummy credentials.
pub async fn ddb_client() -> Client {
    ddb_client_at(&ddb_endpoint()).await
}

pub async fn ddb_client_at(endpoint: &str) -> Client {
    let config = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
        .endpoint_url(endpoint)
        .load()
        .await;
    recording_client(&config)
}

/// A client whose calls made inside a function's handler are recorded for the IAM check
/// ([`iam_calls`]).
fn recording_client(config: &aws_config::SdkConfig) -> Client {
    Client::from_conf(aws_sdk_dynamodb::config::Builder::from(config).interceptor(iam_calls::Recorder).build())
}

/// The store a function builds (`overten::store_from_env`): its timeouts, retry policy and retry
/// budget, pointed at `endpoint`.
pub async fn function_store_at(
    endpoint: &str,
    tables: Tables,
    timeouts: overten::config::DynamoTimeouts,
) -> DynamoStore {
    let loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
        .endpoint_url(endpoint);
    DynamoStore::new(recording_client(&timeouts.apply(loader).load().await), tables)
        .with_retry_budget(timeouts.retry_budget)
}

/// Fresh, uniquely named tables for one test.
pub async fn fresh_tables() -> Tables {
    let suffix = overten::api_key::random_base62(10);
    Tables { api_keys: format!("test-{suffix}-ApiKeys"), orgs: format!("test-{suffix}-Orgs") }
}

/// A store over fresh tables on DynamoDB Local.
pub async fn fresh_store() -> DynamoStore {
    let client = ddb_client().await;
    let tables = fresh_tables().await;
    overten::store::tables::ensure_tables(&client, &tables).await.expect("create tables on DynamoDB Local");
    DynamoStore::new(client, tables)
}

/// A verifier in emulator mode, as `make dev` runs it. The JWKS URL points nowhere: emulator
/// tokens are unsigned.
pub fn emulator_verifier() -> TokenVerifier {
    TokenVerifier::new(&FirebaseConfig {
        project_id: PROJECT_ID.into(),
        jwks_url: "http://127.0.0.1:9/unused".into(),
        emulator_host: Some(auth_emulator_host()),
        fetch_timeout: std::time::Duration::from_secs(1),
    })
    .unwrap()
}

/// A user signed up through the Auth emulator's REST API: `(uid, id_token)`.
pub async fn emulator_user() -> (String, String) {
    let email = format!("dev-{}@example.com", overten::api_key::random_base62(12).to_lowercase());
    let url =
        format!("http://{}/identitytoolkit.googleapis.com/v1/accounts:signUp?key=fake-api-key", auth_emulator_host());
    let response: Value = reqwest::Client::new()
        .post(url)
        .json(&serde_json::json!({"email": email, "password": "correct-horse-battery", "returnSecureToken": true}))
        .send()
        .await
        .expect("the Firebase Auth emulator is running (make test starts it)")
        .json()
        .await
        .unwrap();
    let uid = response["localId"].as_str().expect("localId").to_owned();
    let token = response["idToken"].as_str().expect("idToken").to_owned();
    (uid, token)
}

/// `METHOD /path` of every API event in `template.yaml`.
pub fn template_routes() -> std::collections::BTreeSet<String> {
    let template: serde_yaml::Value =
        serde_yaml::from_str(include_str!("../../template.yaml")).expect("template parses");
    let mut routes = std::collections::BTreeSet::new();
    for (_, resource) in template["Resources"].as_mapping().expect("resources") {
        let Some(events) = resource["Properties"]["Events"].as_mapping() else { continue };
        for (_, event) in events {
            let p = &event["Properties"];
            routes.insert(format!("{} {}", p["Method"].as_str().unwrap().to_uppercase(), p["Path"].as_str().unwrap()));
        }
    }
    routes
}

/// A REST proxy event as JSON (for benchmarks that parse it the way Lambda delivers it).
pub fn events_json(method: &str, path: &str, headers: &[(String, String)]) -> serde_json::Value {
    local_gateway::events::rest_proxy_event(method, path, &[], headers, None, "bench", serde_json::Value::Null)
}

/// A binary of this workspace built in debug mode (`make test` builds them before `cargo test`,
/// which holds the build lock and cannot build them itself).
pub fn built_binary(name: &str) -> std::path::PathBuf {
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target")));
    let path = target.join("debug").join(name);
    assert!(path.exists(), "{} is missing: run `cargo build -p {name}` (make test does)", path.display());
    path
}

/// A change by the Firebase user `uid`, now, as the functions record it.
pub fn user(uid: &str) -> overten::audit::Audit {
    overten::audit::Audit::new(overten::audit::Actor::user(uid), "req-test", overten::clock::now_secs())
}

/// A member's revocation (`DELETE`).
pub fn revoked() -> overten::audit::Change {
    overten::audit::Change::KeyRevoked { reason: overten::audit::RevokedReason::Revoked }
}

/// `POST /orgs/{org_id}/api-keys` with a name and no expiry.
pub fn named(name: impl Into<String>) -> overten::requests::CreateKeyRequest {
    overten::requests::CreateKeyRequest { name: name.into(), expires_at: None, restrictions: Default::default() }
}

/// A request as curl would send it to the local gateway: `path` may carry a query (no
/// percent-decoding: the tests' queries need none), from `source_ip`.
pub fn gateway_request(
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<String>,
    source_ip: &str,
) -> local_gateway::LocalRequest {
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    let query = query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    local_gateway::LocalRequest {
        method: method.into(),
        path: path.into(),
        query,
        headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        body,
        source_ip: source_ip.into(),
    }
}
