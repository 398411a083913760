//! `make dev` end to end over real HTTP, on non-default ports: the quickstart, the authorizer in
//! front of a protected route, the operator CLI on the same tables, and Ctrl-C stopping it all.
//! `make test` builds `local-gateway` and `overten-admin` first (cargo test holds the build lock).

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const DDB_PORT: u16 = 8211;
const AUTH_PORT: u16 = 9211;
const API_PORT: u16 = 3211;
const GITHUB_PORT: u16 = 9511;

fn binary(name: &str) -> PathBuf {
    overten_tests::built_binary(name)
}

struct DevStack {
    child: Child,
    scratch: PathBuf,
}

impl DevStack {
    fn start() -> Self {
        let scratch = std::env::temp_dir().join(format!("overten-dev-{}", overten::api_key::random_base62(8)));
        std::fs::create_dir_all(&scratch).unwrap();
        let log = std::fs::File::create(scratch.join("dev.log")).unwrap();
        let child = Command::new("make")
            .args(["-s", "dev"])
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
            .env("DDB_PORT", DDB_PORT.to_string())
            .env("AUTH_EMULATOR_PORT", AUTH_PORT.to_string())
            .env("FIREBASE_HUB_PORT", "4611")
            .env("API_PORT", API_PORT.to_string())
            .env("GITHUB_KEYS_PORT", GITHUB_PORT.to_string())
            .env("DEV_DATA_DIR", scratch.join("data"))
            .env("RUN_DIR", scratch.join("run"))
            .env("DEV_FRESH", "1")
            .env("LOCAL_GATEWAY_BIN", binary("local-gateway"))
            .env("GITHUB_KEYS_BIN", binary("github-keys"))
            .env_remove("FIREBASE_AUTH_EMULATOR_HOST")
            .env_remove("AWS_ENDPOINT_URL_DYNAMODB")
            .env_remove("FIREBASE_JWKS_URL")
            .env_remove("GITHUB_SECRET_SCANNING_KEYS_URL")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0)
            .spawn()
            .unwrap();
        DevStack { child, scratch }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.scratch.join("dev.log")).unwrap_or_default()
    }

    /// What a terminal's Ctrl-C does: SIGINT to the whole process group.
    fn interrupt(&mut self) {
        let _ = Command::new("kill").args(["-INT", "--", &format!("-{}", self.child.id())]).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if self.child.try_wait().unwrap().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for DevStack {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", self.child.id())]).status();
        }
    }
}

fn admin(args: &[&str]) -> (bool, Value, String) {
    let out = Command::new(binary("overten-admin"))
        .args(args)
        .env("AWS_ENDPOINT_URL_DYNAMODB", format!("http://127.0.0.1:{DDB_PORT}"))
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "local")
        .env("AWS_SECRET_ACCESS_KEY", "local")
        .env("API_KEYS_TABLE", "overten-local-ApiKeys")
        .env("ORGS_TABLE", "overten-local-Orgs")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.success(), serde_json::from_str(&stdout).unwrap_or(Value::Null), stdout)
}

/// Sends a request and reads the answer as (status, JSON body; `Null` when empty).
async fn call(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request.send().await.expect("the local gateway answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn port_open(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(200)).is_ok()
}

#[tokio::test(flavor = "multi_thread")]
async fn make_dev_serves_the_quickstart_over_http() {
    let mut stack = DevStack::start();
    let api = format!("http://127.0.0.1:{API_PORT}");
    let http = reqwest::Client::new();
    let started = Instant::now();
    while http.get(format!("{api}/verify")).send().await.is_err() {
        assert!(started.elapsed() < Duration::from_secs(120), "make dev never answered:\n{}", stack.log());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!("make dev answered after {:?}", started.elapsed());
    // The banner follows the gateway's first answer.
    while !stack.log().contains("local stack ready") {
        assert!(started.elapsed() < Duration::from_secs(130), "no banner:\n{}", stack.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A developer gets an emulator token as the quickstart says: `make -s token EMAIL=…`, twice
    // (signed up, then signed in: the same user).
    let token_of = |email: &str| {
        let out = Command::new("make")
            .args(["-s", "token", &format!("EMAIL={email}")])
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
            .env("AUTH_EMULATOR_PORT", AUTH_PORT.to_string())
            .env_remove("FIREBASE_AUTH_EMULATOR_HOST")
            .output()
            .unwrap();
        assert!(out.status.success(), "make token: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    let uid_of = |token: &str| {
        use base64::Engine;
        let payload = token.split('.').nth(1).unwrap();
        let claims: Value =
            serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        claims["sub"].as_str().unwrap().to_owned()
    };
    let token = token_of("dev@example.com");
    let again = token_of("dev@example.com");
    let uid = uid_of(&token);
    assert_eq!(uid_of(&again), uid, "make token signs an existing user in");
    let (token, uid) = (token.as_str(), uid.as_str());
    let bearer = format!("Bearer {token}");
    let (status, signup) =
        call(http.post(format!("{api}/signup")).header("authorization", &bearer).json(&json!({"org_name": "Acme"})))
            .await;
    assert_eq!(status, 201);
    let (org, secret) = (signup["org_id"].as_str().unwrap(), signup["secret"].as_str().unwrap());

    // The key on /verify and through the authorizer, both headers.
    let (_, verified) = call(http.get(format!("{api}/verify")).header("x-api-key", secret)).await;
    assert_eq!(verified["org_id"], org);
    let whoami = call(http.get(format!("{api}/v1/whoami")).bearer_auth(secret)).await;
    assert_eq!(whoami, (200, json!({"org_id": org, "key_id": signup["key"]["id"]})));

    // A second key, the listing, revoking the first.
    let keys = format!("{api}/orgs/{org}/api-keys");
    let restricted = json!({"name": "ci", "permissions": ["generations:write"], "formats": ["pdf"]});
    let (_, second) = call(http.post(&keys).header("authorization", &bearer).json(&restricted)).await;
    // make dev serves the route table's routes (a dev-only echo): a restricted key with curl.
    let second_secret = second["secret"].as_str().unwrap();
    let (status, echo) = call(http.post(format!("{api}/v1/generations/pdf")).header("x-api-key", second_secret)).await;
    assert_eq!((status, &echo["authorizer"]["formats"]), (200, &json!("pdf")), "{echo}");
    let (status, denied) =
        call(http.post(format!("{api}/v1/generations/docx")).header("x-api-key", second_secret)).await;
    assert_eq!((status, &denied["error"]["required"]["format"]), (403, &json!("docx")), "{denied}");
    let (_, list) = call(http.get(format!("{keys}?limit=10")).header("authorization", &bearer)).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 2);
    let first_id = signup["key"]["id"].as_str().unwrap();
    let (status, _) = call(http.delete(format!("{keys}/{first_id}")).header("authorization", &bearer)).await;
    assert_eq!(status, 204);
    let (status, denied) = call(http.get(format!("{api}/v1/whoami")).header("x-api-key", secret)).await;
    assert_eq!((status, &denied["error"]["code"]), (401, &json!("invalid_api_key")));
    // Behind the gateway every key problem is the one fixed 401 (README, "Gateway responses").
    let (status, missing) = call(http.get(format!("{api}/v1/whoami"))).await;
    assert_eq!((status, &missing["error"]["code"]), (401, &json!("invalid_api_key")));

    // The access log: one JSON line per request, the deployed stage's fields, readable by key id.
    let access_log = std::fs::read_to_string(stack.scratch.join("run/access.log")).unwrap();
    let lines: Vec<Value> = access_log.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let by_key: Vec<&Value> = lines.iter().filter(|l| l["keyId"] == signup["key"]["id"]).collect();
    assert_eq!(by_key.len(), 1, "the one authorized call of the first key: {access_log}");
    assert_eq!((by_key[0]["status"].as_str(), by_key[0]["resourcePath"].as_str()), (Some("200"), Some("/v1/whoami")));
    assert!(lines.iter().any(|l| l["status"] == "401" && l["responseType"] == "UNAUTHORIZED"));
    assert!(
        lines
            .iter()
            .any(|l| l["status"] == "403" && l["responseType"] == "ACCESS_DENIED" && l["keyId"] == second["id"])
    );
    assert_eq!(call(http.get(format!("{api}/nowhere"))).await.0, 404);

    // Key usage (README, "Key usage"): the same traffic, fed to the aggregator about once a
    // second, in the usage routes within seconds: the first key's /verify (its own usage line),
    // its whoami (the access log) and, after its revocation, the refused whoami (the
    // authorizer's line).
    let usage_url = format!("{keys}/{first_id}/usage");
    let started = Instant::now();
    let today = loop {
        let (status, usage) = call(http.get(&usage_url).header("authorization", &bearer)).await;
        assert_eq!(status, 200, "{usage}");
        let today = usage["days"].as_array().unwrap().last().unwrap().clone();
        if today["requests"] == 3 {
            break today;
        }
        assert!(started.elapsed() < Duration::from_secs(15), "usage never showed the traffic: {usage}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    eprintln!("usage showed the traffic after {:?}", started.elapsed());
    assert_eq!(today["refused"], json!({"revoked_api_key": 1}), "{today}");
    let routes: Vec<&str> = today["routes"].as_array().unwrap().iter().map(|r| r["route"].as_str().unwrap()).collect();
    assert_eq!(routes, ["GET /v1/whoami", "GET /verify"], "{today}");
    assert_eq!(today["source_ips"][0]["ip"], "127.0.0.1", "{today}");

    // The operator CLI on the same tables: a dashboard org, then signup with existing_org_id.
    let (ok, created, raw) = admin(&["org", "create", "--name", "Dashboard org", "--owner-uid", uid]);
    assert!(ok, "{raw}");
    let dashboard_org = created["org_id"].as_str().unwrap();
    let (status, _) = call(
        http.post(format!("{api}/signup"))
            .header("authorization", &bearer)
            .json(&json!({"existing_org_id": dashboard_org})),
    )
    .await;
    assert_eq!(status, 201);
    // Lookup by raw key and by prefix; the raw key is never printed back.
    let (ok, found, raw) = admin(&["key", "lookup", second_secret]);
    assert!(ok && !raw.contains(second_secret), "{raw}");
    assert_eq!(found[0]["org_id"], org);
    assert_eq!((&found[0]["formats"], &found[0]["allowed_ips"]), (&json!(["pdf"]), &Value::Null));
    assert_eq!(found[0]["revoked"], false);
    let (ok, found, _) = admin(&["key", "lookup", &second_secret[..12]]);
    assert!(ok && found.as_array().unwrap().iter().any(|k| k["key_id"] == second["id"]));
    let (ok, revoked, raw) = admin(&["key", "revoke", second_secret]);
    assert!(ok && revoked["revoked"] == true, "{raw}");
    assert_eq!((revoked["status"].as_str(), revoked["revoked_reason"].as_str()), (Some("revoked"), Some("operator")));
    assert_eq!(call(http.get(format!("{api}/verify")).header("x-api-key", second_secret)).await.0, 401);
    // The CLI's revoke is on the org's audit trail, as the operator's; read through the gateway.
    let (status, events) =
        call(http.get(format!("{api}/orgs/{org}/events?limit=1")).header("authorization", &bearer)).await;
    assert_eq!(status, 200, "{events}");
    let event = &events["data"][0];
    assert_eq!((event["type"].as_str(), event["actor"]["type"].as_str()), (Some("key.revoked"), Some("operator")));
    assert_eq!((event["key_id"].clone(), event["data"]["reason"].as_str()), (second["id"].clone(), Some("operator")));
    // Roll and rename through the gateway too (their resources exist locally as in the template).
    let (status, third) = call(http.post(&keys).header("authorization", &bearer).json(&json!({"name": "ci-2"}))).await;
    assert_eq!(status, 201);
    let third_id = third["id"].as_str().unwrap();
    let (status, rolled) = call(
        http.post(format!("{keys}/{third_id}/roll"))
            .header("authorization", &bearer)
            .json(&json!({"grace_period_seconds": 0})),
    )
    .await;
    assert_eq!((status, rolled["rolled_from"].as_str()), (201, Some(third_id)), "{rolled}");
    let (status, renamed) = call(
        http.patch(format!("{keys}/{third_id}")).header("authorization", &bearer).json(&json!({"name": "old ci"})),
    )
    .await;
    assert_eq!((status, renamed["name"].as_str(), renamed["status"].as_str()), (200, Some("old ci"), Some("revoked")));

    // GitHub's secret scanning, locally: make dev serves its own key set; the CLI signs a delivery
    // of the rolled-to key with that key, as GitHub would, and the key is revoked as leaked.
    let leaked = rolled["secret"].as_str().unwrap();
    let url = format!("{api}/secret-scanning/github");
    let github_dir = stack.scratch.join("run/github");
    let (ok, delivered, raw) =
        admin(&["github", "deliver", "--dir", github_dir.to_str().unwrap(), "--url", &url, leaked]);
    assert!(ok, "{raw}");
    assert_eq!(
        (delivered["status"].as_u64(), delivered["answer"][0]["label"].as_str()),
        (Some(200), Some("true_positive")),
        "{raw}"
    );
    assert!(!raw.contains(leaked), "the CLI never prints a key back");
    assert_eq!(call(http.get(format!("{api}/verify")).header("x-api-key", leaked)).await.0, 401);
    let (ok, found, raw) = admin(&["key", "lookup", leaked]);
    assert!(ok, "{raw}");
    assert_eq!(
        (found[0]["revoked_reason"].as_str(), found[0]["leak"]["source"].as_str()),
        (Some("leaked"), Some("content"))
    );
    assert_eq!(found[0]["leak"]["url"], "https://github.com/example/app/blob/main/.env");
    // An unsigned delivery is the gateway's answer too: 401 invalid_signature.
    let (status, error) = call(http.post(&url).body("[]")).await;
    assert_eq!((status, error["error"]["code"].as_str()), (401, Some("invalid_signature")));
    let (ok, _, _) = admin(&["key", "lookup", "sk_live_not-a-key"]);
    assert!(!ok);

    // Ctrl-C stops everything it started.
    stack.interrupt();
    for port in [API_PORT, DDB_PORT, AUTH_PORT, GITHUB_PORT] {
        let deadline = Instant::now() + Duration::from_secs(15);
        while port_open(port) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(200));
        }
        assert!(!port_open(port), "port {port} still open after Ctrl-C:\n{}", stack.log());
    }
    // No key, token or webhook secret this test was issued is in the dev log or the access log.
    let logs = stack.log() + &std::fs::read_to_string(stack.scratch.join("run/access.log")).unwrap();
    let webhook_secret = signup["webhook_secret"].as_str().unwrap();
    for issued in [secret, second_secret, webhook_secret, token] {
        assert!(!issued.is_empty() && !logs.contains(issued), "an issued secret in the logs");
    }
}
