//! A set of public keys fetched from an endpoint and cached across invocations of a warm Lambda:
//! Google's Firebase token-signing keys, GitHub's secret-scanning keys. The format of each set is
//! a [`KeySetFormat`]; the caching rules are the same for both:
//!
//! - kept for the response's `Cache-Control: max-age` (5 minutes without one, 24 hours at most);
//! - one fetch at a time: concurrent requests wait for the one in flight instead of each fetching;
//! - a failed refresh keeps the last good set (and is logged), retried at most once a minute;
//! - an unknown key id refetches at most once a minute, so forged ids cannot make us hammer the
//!   endpoint;
//! - key-endpoint failures are `Unavailable` (503), never blamed on the caller.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use crate::error::Error;

/// The least time between two fetches that were not forced by expiry.
pub const MIN_REFETCH_INTERVAL: Duration = Duration::from_secs(60);
/// Used when the endpoint sends no usable `max-age`.
const DEFAULT_MAX_AGE: Duration = Duration::from_secs(300);
/// Never trust keys longer than this, whatever the header says.
const MAX_MAX_AGE: Duration = Duration::from_secs(24 * 3600);

/// How one endpoint's key set is read.
pub trait KeySetFormat: Send + Sync + 'static {
    type Key: Clone + Send + Sync;
    /// For logs and errors, e.g. "Firebase signing keys".
    const WHAT: &'static str;
    /// The usable keys of a response body, by id (unusable entries are left out).
    fn parse(body: &[u8]) -> Result<HashMap<String, Self::Key>, String>;
    /// The caller's error for an id that names no key of the current set.
    fn unknown_key() -> Error;
}

struct KeySet<K> {
    keys: HashMap<String, K>,
    expires_at: Instant,
}

struct State<K> {
    set: Option<Arc<KeySet<K>>>,
    /// Any fetch, successful or not: bounds refetches for unknown ids.
    last_attempt: Option<Instant>,
    /// The last failed fetch: while recent, a stale set is used instead of retrying.
    last_failure: Option<Instant>,
}

pub struct KeySetCache<F: KeySetFormat> {
    url: String,
    http: reqwest::Client,
    state: RwLock<State<F::Key>>,
    /// Held while fetching: the single-flight gate.
    fetching: tokio::sync::Mutex<()>,
    fetches: std::sync::atomic::AtomicU64,
}

impl<F: KeySetFormat> KeySetCache<F> {
    /// `timeout` bounds the connection and the whole fetch.
    pub fn new(url: String, timeout: Duration) -> Result<Self, Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(timeout)
            .timeout(timeout)
            .build()
            .map_err(|e| Error::Internal(format!("building the key-set client: {e}")))?;
        Ok(KeySetCache {
            url,
            http,
            state: RwLock::new(State { set: None, last_attempt: None, last_failure: None }),
            fetching: tokio::sync::Mutex::new(()),
            fetches: Default::default(),
        })
    }

    /// How many fetches were attempted (for tests and benchmarks).
    pub fn fetch_count(&self) -> u64 {
        self.fetches.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The key named `id`, fetching the set when it is missing, expired, or lacks `id`.
    pub async fn key(&self, id: &str) -> Result<F::Key, Error> {
        let now = Instant::now();
        if let Some(found) = self.cached(id, now) {
            return found;
        }
        let _gate = self.fetching.lock().await;
        // Another request may have refreshed while we waited at the gate.
        let now = Instant::now();
        if let Some(found) = self.cached(id, now) {
            return found;
        }
        match self.fetch().await {
            Ok(set) => {
                let set = Arc::new(set);
                let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
                state.set = Some(set.clone());
                state.last_attempt = Some(now);
                state.last_failure = None;
                drop(state);
                set.keys.get(id).cloned().ok_or_else(F::unknown_key)
            }
            Err(err) => {
                let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
                state.last_attempt = Some(now);
                state.last_failure = Some(now);
                tracing::warn!(error = %err, kept_old_keys = state.set.is_some(), "refreshing {} failed", F::WHAT);
                match state.set.as_ref().and_then(|set| set.keys.get(id)) {
                    Some(key) => Ok(key.clone()),
                    None => Err(err),
                }
            }
        }
    }

    /// `Some(answer)` when the cache can answer without a fetch.
    fn cached(&self, id: &str, now: Instant) -> Option<Result<F::Key, Error>> {
        let state = self.state.read().unwrap_or_else(|p| p.into_inner());
        let recent = |t: Option<Instant>| t.is_some_and(|t| now.duration_since(t) < MIN_REFETCH_INTERVAL);
        let set = state.set.as_ref()?;
        let fresh = now < set.expires_at;
        let recently_tried = recent(state.last_attempt);
        match set.keys.get(id) {
            // Fresh, or stale but a refresh just failed: keep using the last good key.
            Some(key) if fresh || recent(state.last_failure) => Some(Ok(key.clone())),
            // An unknown id refetches at most once a minute.
            None if recently_tried => Some(Err(F::unknown_key())),
            _ => None,
        }
    }

    async fn fetch(&self) -> Result<KeySet<F::Key>, Error> {
        self.fetches.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let unavailable = |what: String| Error::Unavailable(format!("{}: {what}", F::WHAT));
        let response = self.http.get(&self.url).send().await.map_err(|e| unavailable(e.to_string()))?;
        if !response.status().is_success() {
            return Err(unavailable(format!("HTTP {}", response.status())));
        }
        let max_age = response
            .headers()
            .get(reqwest::header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .and_then(max_age)
            .unwrap_or(DEFAULT_MAX_AGE)
            .min(MAX_MAX_AGE);
        let body = response.bytes().await.map_err(|e| unavailable(e.to_string()))?;
        let keys = F::parse(&body).map_err(unavailable)?;
        if keys.is_empty() {
            return Err(unavailable("the set holds no usable key".into()));
        }
        Ok(KeySet { keys, expires_at: Instant::now() + max_age })
    }
}

/// `max-age` of a `Cache-Control` value.
fn max_age(header: &str) -> Option<Duration> {
    header
        .split(',')
        .find_map(|directive| {
            let (name, value) = directive.trim().split_once('=')?;
            name.trim().eq_ignore_ascii_case("max-age").then(|| value.trim().trim_matches('"').parse().ok())?
        })
        .map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_max_age() {
        assert_eq!(max_age("public, max-age=19830, must-revalidate, no-transform"), Some(Duration::from_secs(19830)));
        assert_eq!(max_age("MAX-AGE=5"), Some(Duration::from_secs(5)));
        assert_eq!(max_age("no-cache"), None);
        assert_eq!(max_age("max-age=abc"), None);
    }
}
