//! The caching, refetch, back-off and staleness rules on a paused clock with a scripted source,
//! and the HTTP source's request against a socket of our own.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;

/// A set whose body is a JSON object of id → key.
struct TestKeys;

impl KeySetFormat for TestKeys {
    type Key = String;
    const WHAT: &'static str = "test keys";

    fn parse(body: &[u8]) -> Result<HashMap<String, String>, String> {
        serde_json::from_slice(body).map_err(|e| e.to_string())
    }

    fn unknown_key() -> Error {
        Error::InvalidSignature
    }
}

/// A scripted answer: a body and its max-age in seconds, or a fetch error.
type Answer = Result<(String, Option<u64>), String>;

/// Answers from a script (the last answer repeats), counting fetches, each taking `delay`.
#[derive(Default)]
struct Script {
    answers: Mutex<VecDeque<Answer>>,
    calls: AtomicUsize,
    delay: Duration,
}

impl Script {
    fn then(self, answer: Result<(&str, Option<u64>), &str>) -> Self {
        self.answers.lock().unwrap().push_back(answer.map(|(b, m)| (b.to_owned(), m)).map_err(str::to_owned));
        self
    }
}

impl KeySource for Arc<Script> {
    async fn fetch(&self) -> Result<Fetched, String> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(self.delay).await;
        let mut answers = self.answers.lock().unwrap();
        let answer = if answers.len() > 1 { answers.pop_front() } else { answers.front().cloned() };
        let (body, max_age) = answer.expect("a scripted answer")?;
        Ok(Fetched { body: body.into_bytes(), max_age: max_age.map(Duration::from_secs) })
    }
}

fn cache(script: Script) -> (KeySetCache<TestKeys, Arc<Script>>, Arc<Script>) {
    let script = Arc::new(script);
    (KeySetCache::with_source(script.clone()), script)
}

const A: Result<(&str, Option<u64>), &str> = Ok((r#"{"a": "key-a"}"#, Some(600)));
const AB: Result<(&str, Option<u64>), &str> = Ok((r#"{"a": "key-a2", "b": "key-b"}"#, Some(600)));
const DOWN: Result<(&str, Option<u64>), &str> = Err("HTTP 500");

fn is_unavailable(r: &Result<String, Error>) -> bool {
    matches!(r, Err(Error::Unavailable(_)))
}

fn is_unknown(r: &Result<String, Error>) -> bool {
    matches!(r, Err(Error::InvalidSignature))
}

async fn wait(secs: u64) {
    tokio::time::advance(Duration::from_secs(secs)).await;
}

#[tokio::test(start_paused = true)]
async fn a_fresh_set_answers_known_ids_without_fetching_until_its_max_age() {
    let (keys, script) = cache(Script::default().then(A).then(AB));
    assert_eq!(keys.key("a").await.unwrap(), "key-a");
    wait(599).await;
    assert_eq!(keys.key("a").await.unwrap(), "key-a", "fresh for its max-age");
    assert_eq!(script.calls.load(Ordering::SeqCst), 1);
    wait(1).await;
    assert_eq!(keys.key("a").await.unwrap(), "key-a2", "refetched at expiry");
    assert_eq!(keys.fetch_count(), 2);
}

#[tokio::test(start_paused = true)]
async fn max_age_defaults_to_five_minutes_and_is_capped_at_a_day() {
    let (keys, script) = cache(
        Script::default()
            .then(Ok((r#"{"a": "1"}"#, None)))
            .then(Ok((r#"{"a": "2"}"#, Some(10_000_000))))
            .then(Ok((r#"{"a": "3"}"#, None))),
    );
    keys.key("a").await.unwrap();
    wait(299).await;
    assert_eq!(keys.key("a").await.unwrap(), "1");
    wait(1).await;
    assert_eq!(keys.key("a").await.unwrap(), "2", "no max-age: 300 s");
    wait(24 * 3600 - 1).await;
    assert_eq!(keys.key("a").await.unwrap(), "2");
    wait(1).await;
    assert_eq!(keys.key("a").await.unwrap(), "3", "capped at 24 h");
    assert_eq!(script.calls.load(Ordering::SeqCst), 3);
}

#[tokio::test(start_paused = true)]
async fn an_unknown_id_refetches_at_most_once_a_minute() {
    let (keys, script) = cache(Script::default().then(A).then(A).then(AB));
    keys.key("a").await.unwrap();
    wait(60).await;
    assert!(is_unknown(&keys.key("b").await), "refetched, still unknown");
    assert_eq!(script.calls.load(Ordering::SeqCst), 2);
    for _ in 0..50 {
        assert!(is_unknown(&keys.key("b").await));
    }
    wait(59).await;
    assert!(is_unknown(&keys.key("zz").await));
    assert_eq!(script.calls.load(Ordering::SeqCst), 2, "no refetch within the minute");
    wait(1).await;
    assert_eq!(keys.key("b").await.unwrap(), "key-b", "a minute later the rotated key is found");
    assert_eq!(script.calls.load(Ordering::SeqCst), 3);
}

#[tokio::test(start_paused = true)]
async fn a_cold_cache_with_a_failing_endpoint_backs_off() {
    let (keys, script) = cache(Script::default().then(DOWN));
    for _ in 0..100 {
        assert!(is_unavailable(&keys.key("a").await));
    }
    assert_eq!(script.calls.load(Ordering::SeqCst), 1, "one fetch, then the back-off answers");
    // The back-off doubles while failures continue: 1, 2, 4, 8, 16, 32, 60, 60 s.
    let mut fetches = 1;
    for wait_secs in [1, 2, 4, 8, 16, 32, 60, 60] {
        tokio::time::advance(Duration::from_secs(wait_secs) - Duration::from_millis(1)).await;
        assert!(is_unavailable(&keys.key("a").await));
        assert_eq!(script.calls.load(Ordering::SeqCst), fetches, "still backing off before {wait_secs} s");
        tokio::time::advance(Duration::from_millis(1)).await;
        assert!(is_unavailable(&keys.key("a").await));
        fetches += 1;
        assert_eq!(script.calls.load(Ordering::SeqCst), fetches, "one fetch after {wait_secs} s");
    }
}

#[tokio::test(start_paused = true)]
async fn recovery_ends_the_back_off_and_resets_it() {
    let (keys, script) = cache(Script::default().then(DOWN).then(DOWN).then(A).then(DOWN).then(A));
    assert!(is_unavailable(&keys.key("a").await));
    wait(1).await;
    assert!(is_unavailable(&keys.key("a").await));
    wait(2).await;
    assert_eq!(keys.key("a").await.unwrap(), "key-a");
    // Expired, and the refresh fails: the first failure backs off 1 s again, not 4.
    wait(600).await;
    assert_eq!(keys.key("a").await.unwrap(), "key-a", "stale but usable");
    wait(1).await;
    assert_eq!(keys.key("a").await.unwrap(), "key-a");
    assert_eq!(script.calls.load(Ordering::SeqCst), 5);
}

#[tokio::test(start_paused = true)]
async fn stale_keys_are_used_for_a_day_past_expiry_and_never_after() {
    let (keys, script) = cache(Script::default().then(A).then(DOWN));
    keys.key("a").await.unwrap();
    wait(600).await;
    // From here every refresh fails; the back-off is at most a minute.
    let mut elapsed = 0;
    while elapsed < 24 * 3600 - 60 {
        assert_eq!(keys.key("a").await.unwrap(), "key-a", "{elapsed} s past expiry");
        wait(60).await;
        elapsed += 60;
    }
    assert!(script.calls.load(Ordering::SeqCst) < 24 * 60 + 10, "at most one fetch per back-off period");
    wait(60).await;
    // 24 h past expiry: the last good set is no longer trusted, fetch or not.
    assert!(is_unavailable(&keys.key("a").await));
    let calls = script.calls.load(Ordering::SeqCst);
    assert!(is_unavailable(&keys.key("a").await), "backing off, and the stale key is not used");
    assert_eq!(script.calls.load(Ordering::SeqCst), calls);
    assert!(is_unavailable(&keys.key("b").await), "an unknown id while the endpoint fails is 503, not 401");
}

#[tokio::test(start_paused = true)]
async fn an_unknown_id_after_a_failed_refetch_is_unavailable_not_unknown() {
    let (keys, script) = cache(Script::default().then(A).then(DOWN).then(AB));
    keys.key("a").await.unwrap();
    wait(60).await;
    assert!(is_unavailable(&keys.key("b").await));
    assert_eq!(keys.key("a").await.unwrap(), "key-a", "known keys still answer from the fresh set");
    wait(1).await;
    assert_eq!(keys.key("b").await.unwrap(), "key-b", "after the back-off, one refetch");
    assert_eq!(script.calls.load(Ordering::SeqCst), 3);
}

#[tokio::test(start_paused = true)]
async fn concurrent_requests_share_one_fetch() {
    let (keys, script) = cache(Script { delay: Duration::from_millis(500), ..Script::default() }.then(A));
    let keys = Arc::new(keys);
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            tokio::spawn({
                let keys = keys.clone();
                async move { keys.key("a").await }
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap(), "key-a");
    }
    assert_eq!(script.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn an_empty_or_unparsable_set_is_a_failure() {
    let (keys, script) = cache(Script::default().then(Ok(("{}", Some(600)))).then(Ok(("not json", Some(600)))).then(A));
    assert!(is_unavailable(&keys.key("a").await));
    wait(1).await;
    assert!(is_unavailable(&keys.key("a").await));
    wait(1).await;
    assert!(is_unavailable(&keys.key("a").await), "second failure: 2 s back-off");
    wait(1).await;
    assert_eq!(keys.key("a").await.unwrap(), "key-a");
    assert_eq!(script.calls.load(Ordering::SeqCst), 3);
}

#[test]
fn backoff_doubles_from_one_second_to_a_minute() {
    let secs: Vec<u64> = (1..=9).map(|n| backoff(n).as_secs()).collect();
    assert_eq!(secs, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
    assert_eq!(backoff(u32::MAX), MAX_BACKOFF);
}

#[test]
fn reads_max_age() {
    assert_eq!(max_age("public, max-age=19830, must-revalidate, no-transform"), Some(Duration::from_secs(19830)));
    assert_eq!(max_age("MAX-AGE=5"), Some(Duration::from_secs(5)));
    assert_eq!(max_age("private, max-age=\"60\", s-maxage=60"), Some(Duration::from_secs(60)));
    assert_eq!(max_age("no-cache"), None);
    assert_eq!(max_age("max-age=abc"), None);
}

/// The HTTP source against a socket that records each request head and answers `response`.
async fn one_shot_server(responses: Vec<String>) -> (String, Arc<Mutex<Vec<String>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/keys", listener.local_addr().unwrap());
    let heads = Arc::new(Mutex::new(Vec::new()));
    let seen = heads.clone();
    tokio::spawn(async move {
        for response in responses {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = socket.read(&mut buf).await.unwrap();
                head.extend_from_slice(&buf[..n]);
            }
            seen.lock().unwrap().push(String::from_utf8_lossy(&head).to_lowercase());
            socket.write_all(response.as_bytes()).await.unwrap();
            socket.shutdown().await.unwrap();
        }
    });
    (url, heads)
}

fn http_answer(status: &str, extra: &str, body: &str) -> String {
    format!("HTTP/1.1 {status}\r\n{extra}content-length: {}\r\nconnection: close\r\n\r\n{body}", body.len())
}

struct CountingToken(AtomicUsize);

impl Credential for CountingToken {
    fn authorization(&self) -> Pin<Box<dyn Future<Output = Result<String, String>> + Send + '_>> {
        Box::pin(async move {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok("Bearer test-token-value".to_owned())
        })
    }
}

#[tokio::test]
async fn the_http_source_names_itself_sends_the_formats_headers_and_reads_the_credential_once() {
    let ok = http_answer("200 OK", "cache-control: private, max-age=60, s-maxage=60\r\n", r#"{"a": "k"}"#);
    let (url, heads) = one_shot_server(vec![ok.clone(), ok]).await;
    let mut source =
        HttpSource::new(url, Duration::from_secs(2), &[("accept", "application/vnd.github+json")]).unwrap();
    let token = Arc::new(CountingToken(AtomicUsize::new(0)));
    source.credential = Some(token.clone());
    for _ in 0..2 {
        let fetched = source.fetch().await.unwrap();
        assert_eq!(fetched.body, br#"{"a": "k"}"#);
        assert_eq!(fetched.max_age, Some(Duration::from_secs(60)));
    }
    assert_eq!(token.0.load(Ordering::SeqCst), 1, "read on first use, then kept");
    let heads = heads.lock().unwrap();
    assert_eq!(heads.len(), 2);
    for head in heads.iter() {
        assert!(head.contains(&format!("user-agent: {}\r\n", USER_AGENT.to_lowercase())), "{head}");
        assert!(head.contains("accept: application/vnd.github+json\r\n"), "{head}");
        assert!(head.contains("authorization: bearer test-token-value\r\n"));
    }
    assert!(USER_AGENT.starts_with("overten-api-keys/") && USER_AGENT.len() > "overten-api-keys/".len());
}

#[tokio::test]
async fn the_http_source_sends_no_authorization_without_a_credential_and_reports_refusals() {
    let refused =
        http_answer("403 Forbidden", "x-ratelimit-remaining: 0\r\n", r#"{"message": "API rate limit exceeded"}"#);
    let failed = http_answer("502 Bad Gateway", "x-ratelimit-remaining: 12\r\n", "");
    let (url, heads) = one_shot_server(vec![refused, failed]).await;
    let source = HttpSource::new(url, Duration::from_secs(2), &[]).unwrap();
    let err = source.fetch().await.err().unwrap();
    assert_eq!(err, "HTTP 403 Forbidden (rate limit exhausted)");
    assert_eq!(source.fetch().await.err().unwrap(), "HTTP 502 Bad Gateway");
    assert!(!heads.lock().unwrap()[0].contains("authorization"));
}
