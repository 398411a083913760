//! CORS in a real browser: headless Chromium (Debian's package) loads a page from the dashboard's
//! origin, signs up on the Auth emulator, and makes every call the dashboard makes on the local
//! gateway with `fetch` — signup, create, list, rename (`PATCH`), roll, revoke (`DELETE`) and the
//! events — reading every status and body, an error of a function and an answer of the gateway
//! itself included. The same page from another origin can read none of them. Each method with
//! `Authorization` and `content-type: application/json` needs the preflight to allow it, which the
//! local gateway answers from the template's `Cors`, as API Gateway does.
//! `make test` builds `local-gateway` first and installs Chromium when it is missing.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

fn binary(name: &str) -> PathBuf {
    overten_tests::built_binary(name)
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The dashboard's side: every call the dashboard makes, each result posted back to the page's
/// own server (same origin, always readable).
const PAGE: &str = r#"<!doctype html><html><body><script>
const api = "__API__", emulator = "__EMULATOR__";
const results = [];
// What goes back to the test (and into a failure message) never holds a secret or a token.
const redact = (value) => JSON.stringify(value, (k, v) =>
  ["secret", "webhook_secret", "idToken", "refreshToken"].includes(k) ? "<redacted>" : v);
async function step(name, run) {
  try {
    const response = await run();
    const text = await response.text();
    const value = text ? JSON.parse(text) : null;
    results.push({step: name, status: response.status, body: value === null ? "" : redact(value)});
    return value;
  } catch (e) {
    results.push({step: name, error: String(e)});
    return null;
  }
}
(async () => {
  const email = "browser-" + Math.random().toString(36).slice(2) + "@example.com";
  const user = await step("emulator sign-up", () => fetch(emulator + "/identitytoolkit.googleapis.com/v1/accounts:signUp?key=fake-api-key", {
    method: "POST", headers: {"content-type": "application/json"},
    body: JSON.stringify({email, password: "correct-horse-battery", returnSecureToken: true})}));
  const auth = {"authorization": "Bearer " + (user && user.idToken), "content-type": "application/json"};
  const org = await step("signup", () => fetch(api + "/signup", {method: "POST", headers: auth, body: JSON.stringify({org_name: "Browser Co"})}));
  const orgId = (org && org.org_id) || "org_unknown";
  const key = await step("create", () => fetch(api + "/orgs/" + orgId + "/api-keys", {method: "POST", headers: auth, body: JSON.stringify({name: "ci"})}));
  await step("list", () => fetch(api + "/orgs/" + orgId + "/api-keys", {headers: auth}));
  const keyUrl = api + "/orgs/" + orgId + "/api-keys/" + ((key && key.id) || "key_unknown");
  await step("rename", () => fetch(keyUrl, {method: "PATCH", headers: auth, body: JSON.stringify({name: "renamed in the browser"})}));
  const rolled = await step("roll", () => fetch(keyUrl + "/roll", {method: "POST", headers: auth, body: JSON.stringify({grace_period_seconds: 0})}));
  await step("revoke", () => fetch(api + "/orgs/" + orgId + "/api-keys/" + ((rolled && rolled.id) || "key_unknown"), {method: "DELETE", headers: auth}));
  await step("events", () => fetch(api + "/orgs/" + orgId + "/events", {headers: auth}));
  await step("function error", () => fetch(api + "/orgs/org_nope/api-keys", {headers: auth}));
  await step("gateway error", () => fetch(api + "/v1/whoami"));
  await fetch("/results", {method: "POST", body: JSON.stringify(results)});
})();
</script></body></html>"#;

/// Serves the page on 127.0.0.1:`port` and hands over what the page posts to `/results`.
fn serve_page(port: u16, page: String) -> mpsc::Receiver<Value> {
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            stream.set_read_timeout(Some(Duration::from_secs(10))).ok();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            if request_line.starts_with("POST /results") {
                let mut body = vec![0u8; length];
                reader.read_exact(&mut body).ok();
                let _ = stream.write_all(b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n");
                let _ = sender.send(serde_json::from_slice(&body).unwrap_or(Value::Null));
            } else if request_line.starts_with("GET / ") {
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    page.len()
                );
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(page.as_bytes());
            } else {
                let _ = stream.write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            }
        }
    });
    receiver
}

/// Loads `url` in headless Chromium and returns what the page posted back.
fn run_page(url: &str, results: &mpsc::Receiver<Value>) -> Vec<Value> {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "chromium".into());
    let profile = std::env::temp_dir().join(format!("overten-chromium-{}", overten::api_key::random_base62(8)));
    let browser = Killed(
        Command::new(&chromium)
            .args(["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions"])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg(url)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{chromium} could not start ({e}): make deps installs Debian's chromium")),
    );
    let posted = results.recv_timeout(Duration::from_secs(60)).expect("the page posted its results within 60 s");
    drop(browser);
    std::fs::remove_dir_all(&profile).ok();
    posted.as_array().cloned().unwrap_or_default()
}

fn step<'r>(results: &'r [Value], name: &str) -> &'r Value {
    results.iter().find(|r| r["step"] == name).unwrap_or_else(|| panic!("no step {name}: {results:?}"))
}

#[test]
fn the_dashboard_origin_reads_every_answer_and_another_origin_none() {
    let (allowed_port, other_port, api_port) = (free_port(), free_port(), free_port());
    let allowed_origin = format!("http://127.0.0.1:{allowed_port}");
    let emulator = format!("http://{}", overten_tests::auth_emulator_host());
    let suffix = overten::api_key::random_base62(8);
    let log_path = std::env::temp_dir().join(format!("gateway-{suffix}.log"));
    let log = std::fs::File::create(&log_path).unwrap();
    let mut gateway = Killed(
        Command::new(binary("local-gateway"))
            .env("API_PORT", api_port.to_string())
            .env("CORS_ALLOWED_ORIGIN", &allowed_origin)
            .env("FIREBASE_PROJECT_ID", overten_tests::PROJECT_ID)
            .env("FIREBASE_AUTH_EMULATOR_HOST", overten_tests::auth_emulator_host())
            .env("AWS_ENDPOINT_URL_DYNAMODB", overten_tests::ddb_endpoint())
            .env("API_KEYS_TABLE", format!("browser-{suffix}-ApiKeys"))
            .env("ORGS_TABLE", format!("browser-{suffix}-Orgs"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", api_port)).is_err() {
        let exited = gateway.0.try_wait().unwrap().is_some();
        assert!(
            !exited && Instant::now() < deadline,
            "the local gateway did not listen: {}",
            std::fs::read_to_string(&log_path).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let page = PAGE.replace("__API__", &format!("http://127.0.0.1:{api_port}")).replace("__EMULATOR__", &emulator);
    let allowed = serve_page(allowed_port, page.clone());
    let other = serve_page(other_port, page);

    let results = run_page(&format!("{allowed_origin}/"), &allowed);
    assert_eq!(step(&results, "emulator sign-up")["status"], 200, "{results:?}");
    let calls = [
        ("signup", 201),
        ("create", 201),
        ("list", 200),
        ("rename", 200),
        ("roll", 201),
        ("revoke", 204),
        ("events", 200),
    ];
    for (name, status) in calls {
        assert_eq!(step(&results, name)["status"], status, "{name}: {results:?}");
    }
    let body = |name: &str| -> Value { serde_json::from_str(step(&results, name)["body"].as_str().unwrap()).unwrap() };
    let (created, renamed, rolled) = (body("create"), body("rename"), body("roll"));
    assert_eq!(renamed["id"], created["id"], "{renamed}");
    assert_eq!(renamed["name"], "renamed in the browser", "{renamed}");
    assert_eq!(rolled["rolled_from"], created["id"], "{rolled}");
    assert_eq!(rolled["secret"], "<redacted>", "the page read the new key (and passed it on redacted)");
    let events = body("events");
    let types: Vec<&str> = events["data"].as_array().unwrap().iter().filter_map(|e| e["type"].as_str()).collect();
    for kind in ["key.created", "key.renamed", "key.rolled", "key.revoked"] {
        assert!(types.contains(&kind), "{kind} in the events the page read: {types:?}");
    }
    let signup: Value = serde_json::from_str(step(&results, "signup")["body"].as_str().unwrap()).unwrap();
    assert!(signup["org_id"].as_str().unwrap().starts_with("org_"));
    assert_eq!(signup["secret"], "<redacted>", "the page read the key (and passed it on redacted)");
    let list: Value = serde_json::from_str(step(&results, "list")["body"].as_str().unwrap()).unwrap();
    assert_eq!(list["data"].as_array().unwrap().len(), 2, "the signup key and the created one: {list}");
    let function_error: Value =
        serde_json::from_str(step(&results, "function error")["body"].as_str().unwrap()).unwrap();
    assert_eq!(
        (step(&results, "function error")["status"].as_u64(), &function_error["error"]["code"]),
        (Some(404), &Value::from("org_not_found"))
    );
    let gateway_error: Value = serde_json::from_str(step(&results, "gateway error")["body"].as_str().unwrap()).unwrap();
    assert_eq!(step(&results, "gateway error")["status"], 401);
    assert_eq!(gateway_error["error"]["code"], "invalid_api_key");

    // From another origin the browser lets the page read nothing the API answers.
    let results = run_page(&format!("http://127.0.0.1:{other_port}/"), &other);
    assert_eq!(step(&results, "emulator sign-up")["status"], 200, "the emulator itself allows any origin");
    for name in ["signup", "create", "list", "rename", "roll", "revoke", "events", "function error", "gateway error"] {
        let r = step(&results, name);
        assert!(r.get("status").is_none(), "{name} was readable from another origin: {r}");
        assert!(r["error"].as_str().unwrap().contains("TypeError"), "{name}: {r}");
    }
}
