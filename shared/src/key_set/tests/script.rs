//! The tests' key-set format and scripted source: answers in order, fetches counted, the ETag of
//! each fetch recorded.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::error::Error;
use crate::key_set::{FetchError, Fetched, KeySetCache, KeySetFormat, KeySource};

/// A set whose body is a JSON object of id → key.
pub(super) struct TestKeys;

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

/// A scripted answer of the endpoint.
#[derive(Clone, Copy)]
pub(super) enum Answer {
    /// A set (JSON body), its max-age in seconds, its ETag.
    Set(&'static str, Option<u64>, Option<&'static str>),
    /// 304, with a max-age.
    NotModified(Option<u64>),
    /// A failure, with the wait the endpoint asked for, in seconds.
    Fail(Option<u64>),
}

/// Answers from a script (the last answer repeats), counting fetches and recording the ETag each
/// sent, each fetch taking `delay`.
#[derive(Default)]
pub(super) struct Script {
    pub(super) answers: Mutex<VecDeque<Answer>>,
    pub(super) calls: AtomicUsize,
    pub(super) etags: Mutex<Vec<Option<String>>>,
    pub(super) delay: Duration,
}

impl Script {
    pub(super) fn then(self, answer: Answer) -> Self {
        self.answers.lock().unwrap().push_back(answer);
        self
    }
}

impl KeySource for Arc<Script> {
    async fn fetch(&self, etag: Option<&str>) -> Result<Fetched, FetchError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.etags.lock().unwrap().push(etag.map(str::to_owned));
        tokio::time::sleep(self.delay).await;
        let answer = {
            let mut answers = self.answers.lock().unwrap();
            if answers.len() > 1 { answers.pop_front() } else { answers.front().copied() }
        };
        let secs = |s: Option<u64>| s.map(Duration::from_secs);
        match answer.expect("a scripted answer") {
            Answer::Set(body, max_age, etag) => Ok(Fetched::Set {
                body: body.as_bytes().to_vec(),
                max_age: secs(max_age),
                etag: etag.map(str::to_owned),
            }),
            Answer::NotModified(max_age) => Ok(Fetched::NotModified { max_age: secs(max_age) }),
            Answer::Fail(wait) => Err(FetchError { message: "HTTP 500".into(), retry_after: secs(wait) }),
        }
    }
}

pub(super) fn cache(script: Script) -> (KeySetCache<TestKeys, Arc<Script>>, Arc<Script>) {
    let script = Arc::new(script);
    (KeySetCache::with_source(script.clone()), script)
}

pub(super) const A: Answer = Answer::Set(r#"{"a": "key-a"}"#, Some(600), None);
pub(super) const AB: Answer = Answer::Set(r#"{"a": "key-a2", "b": "key-b"}"#, Some(600), None);
pub(super) const DOWN: Answer = Answer::Fail(None);

pub(super) fn is_unavailable(r: &Result<String, Error>) -> bool {
    matches!(r, Err(Error::Unavailable(_)))
}

pub(super) fn is_unknown(r: &Result<String, Error>) -> bool {
    matches!(r, Err(Error::InvalidSignature))
}

pub(super) async fn wait(secs: u64) {
    tokio::time::advance(Duration::from_secs(secs)).await;
}
