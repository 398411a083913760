//! The HTTP source's requests against a socket of our own, and `Cache-Control` parsing.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;

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
            // A client that stopped reading (a body over the limit) closes early: not an error here.
            let _ = socket.write_all(response.as_bytes()).await;
            let _ = socket.shutdown().await;
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
        let Fetched::Set { body, max_age, etag } = source.fetch(None).await.unwrap() else { panic!("a set") };
        assert_eq!(body, br#"{"a": "k"}"#);
        assert_eq!(max_age, Some(Duration::from_secs(60)));
        assert_eq!(etag, None);
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
    let reset = crate::clock::now_secs() + 1800;
    let refused = http_answer(
        "403 Forbidden",
        &format!("x-ratelimit-remaining: 0\r\nx-ratelimit-reset: {reset}\r\n"),
        r#"{"message": "API rate limit exceeded"}"#,
    );
    let secondary = http_answer("429 Too Many Requests", "retry-after: 120\r\n", "");
    let failed = http_answer("502 Bad Gateway", "x-ratelimit-remaining: 12\r\nx-ratelimit-reset: 99999999999\r\n", "");
    let current = http_answer("304 Not Modified", "cache-control: public, max-age=60\r\netag: W/\"v1\"\r\n", "");
    let changed = http_answer("200 OK", "etag: W/\"v2\"\r\n", r#"{"a": "k"}"#);
    // An etag too long to send back (or empty) is not kept.
    let long = http_answer("200 OK", &format!("etag: \"{}\"\r\n", "e".repeat(300)), r#"{"a": "k"}"#);
    let empty = http_answer("200 OK", "etag: \r\n", r#"{"a": "k"}"#);
    // 256 KiB (README, "Key sets"): a hundred times Google's and GitHub's sets, so a grown set
    // still fits, and a flood from a broken or hostile endpoint stays small.
    assert_eq!(MAX_KEY_SET_BYTES, 262_144);
    let huge = http_answer("200 OK", "", &"x".repeat(MAX_KEY_SET_BYTES + 1));
    let limit = http_answer("200 OK", "", &"x".repeat(MAX_KEY_SET_BYTES));
    let (url, heads) =
        one_shot_server(vec![refused, secondary, failed, current, changed, long, empty, huge, limit]).await;
    let source = HttpSource::new(url, Duration::from_secs(2), &[]).unwrap();
    let err = source.fetch(None).await.err().unwrap();
    assert_eq!(err.message, "HTTP 403 Forbidden (rate limit exhausted)");
    let wait = err.retry_after.unwrap().as_secs();
    assert!((1795..=1800).contains(&wait), "until x-ratelimit-reset: {wait}");
    let err = source.fetch(None).await.err().unwrap();
    assert_eq!((err.message.as_str(), err.retry_after), ("HTTP 429 Too Many Requests", Some(Duration::from_secs(120))));
    let err = source.fetch(None).await.err().unwrap();
    assert_eq!((err.message.as_str(), err.retry_after), ("HTTP 502 Bad Gateway", None), "requests remain: no wait");
    let Fetched::NotModified { max_age } = source.fetch(Some("W/\"v1\"")).await.unwrap() else { panic!("304") };
    assert_eq!(max_age, Some(Duration::from_secs(60)));
    let Fetched::Set { etag, .. } = source.fetch(Some("W/\"v1\"")).await.unwrap() else { panic!("200") };
    assert_eq!(etag.as_deref(), Some("W/\"v2\""));
    for _ in 0..2 {
        let Fetched::Set { etag, .. } = source.fetch(None).await.unwrap() else { panic!("200") };
        assert_eq!(etag, None);
    }
    let err = source.fetch(None).await.err().unwrap();
    assert_eq!(err.message, format!("the key set is larger than {MAX_KEY_SET_BYTES} bytes"));
    let Fetched::Set { body, .. } = source.fetch(None).await.unwrap() else { panic!("200") };
    assert_eq!(body.len(), MAX_KEY_SET_BYTES, "exactly the limit is read");
    let heads = heads.lock().unwrap();
    assert!(!heads[0].contains("authorization"));
    assert!(!heads[0].contains("if-none-match"));
    assert!(heads[3].contains("if-none-match: w/\"v1\"\r\n"), "{}", heads[3]);
}

#[tokio::test]
async fn a_refused_credential_is_read_again_on_the_next_fetch() {
    let refused = http_answer("401 Unauthorized", "", r#"{"message": "Bad credentials"}"#);
    let ok = http_answer("200 OK", "", r#"{"a": "k"}"#);
    let (url, _) = one_shot_server(vec![refused, ok.clone(), ok]).await;
    let mut source = HttpSource::new(url, Duration::from_secs(2), &[]).unwrap();
    let token = Arc::new(CountingToken(AtomicUsize::new(0)));
    source.credential = Some(token.clone());
    let err = source.fetch(None).await.err().unwrap();
    assert_eq!(err.message, "HTTP 401 Unauthorized (the credential was refused)");
    assert!(source.fetch(None).await.is_ok());
    assert!(source.fetch(None).await.is_ok());
    assert_eq!(token.0.load(Ordering::SeqCst), 2, "read again after the 401, then kept");
}
