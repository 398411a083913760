//! Google's token-signing keys, cached across invocations of a warm Lambda.
//!
//! - kept for the response's `Cache-Control: max-age`;
//! - one fetch at a time: concurrent requests wait for the one in flight instead of each fetching;
//! - a failed refresh keeps the last good set (and is logged), retried at most once a minute;
//! - an unknown `kid` refetches at most once a minute, so forged kids cannot make us hammer Google;
//! - key-endpoint failures are `Unavailable` (503), never blamed on the caller.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::JwkSet;

use crate::error::Error;

/// The least time between two fetches that were not forced by expiry.
pub const MIN_REFETCH_INTERVAL: Duration = Duration::from_secs(60);
/// Used when the endpoint sends no usable `max-age`.
const DEFAULT_MAX_AGE: Duration = Duration::from_secs(300);
/// Never trust keys longer than this, whatever the header says.
const MAX_MAX_AGE: Duration = Duration::from_secs(24 * 3600);

struct KeySet {
    keys: HashMap<String, DecodingKey>,
    expires_at: Instant,
}

#[derive(Default)]
struct State {
    set: Option<Arc<KeySet>>,
    /// Any fetch, successful or not: bounds refetches for unknown kids.
    last_attempt: Option<Instant>,
    /// The last failed fetch: while recent, a stale set is used instead of retrying.
    last_failure: Option<Instant>,
}

pub struct JwksCache {
    url: String,
    http: reqwest::Client,
    state: RwLock<State>,
    /// Held while fetching: the single-flight gate.
    fetching: tokio::sync::Mutex<()>,
    fetches: std::sync::atomic::AtomicU64,
}

impl JwksCache {
    pub fn new(url: String, timeout: Duration) -> Result<Self, Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(timeout)
            .timeout(timeout)
            .build()
            .map_err(|e| Error::Internal(format!("building the JWKS client: {e}")))?;
        Ok(JwksCache {
            url,
            http,
            state: RwLock::new(State::default()),
            fetching: tokio::sync::Mutex::new(()),
            fetches: Default::default(),
        })
    }

    /// How many fetches were attempted (for tests and benchmarks).
    pub fn fetch_count(&self) -> u64 {
        self.fetches.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The key named `kid`, fetching the set when it is missing, expired, or lacks `kid`.
    pub async fn key(&self, kid: &str) -> Result<DecodingKey, Error> {
        let now = Instant::now();
        if let Some(found) = self.cached(kid, now) {
            return found;
        }
        let _gate = self.fetching.lock().await;
        // Another request may have refreshed while we waited at the gate.
        let now = Instant::now();
        if let Some(found) = self.cached(kid, now) {
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
                set.keys.get(kid).cloned().ok_or_else(unknown_kid)
            }
            Err(err) => {
                let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
                state.last_attempt = Some(now);
                state.last_failure = Some(now);
                tracing::warn!(error = %err, kept_old_keys = state.set.is_some(), "refreshing Firebase signing keys failed");
                match state.set.as_ref().and_then(|set| set.keys.get(kid)) {
                    Some(key) => Ok(key.clone()),
                    None => Err(err),
                }
            }
        }
    }

    /// `Some(answer)` when the cache can answer without a fetch.
    fn cached(&self, kid: &str, now: Instant) -> Option<Result<DecodingKey, Error>> {
        let state = self.state.read().unwrap_or_else(|p| p.into_inner());
        let recent = |t: Option<Instant>| t.is_some_and(|t| now.duration_since(t) < MIN_REFETCH_INTERVAL);
        let set = state.set.as_ref()?;
        let fresh = now < set.expires_at;
        let recently_tried = recent(state.last_attempt);
        match set.keys.get(kid) {
            // Fresh, or stale but a refresh just failed: keep using the last good key.
            Some(key) if fresh || recent(state.last_failure) => Some(Ok(key.clone())),
            // An unknown kid refetches at most once a minute.
            None if recently_tried => Some(Err(unknown_kid())),
            _ => None,
        }
    }

    async fn fetch(&self) -> Result<KeySet, Error> {
        self.fetches.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let unavailable = |what: String| Error::Unavailable(format!("Firebase signing keys: {what}"));
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
        let set: JwkSet = serde_json::from_slice(&body).map_err(|e| unavailable(format!("not a JWK set: {e}")))?;
        let keys: HashMap<String, DecodingKey> = set
            .keys
            .iter()
            .filter_map(|jwk| Some((jwk.common.key_id.clone()?, DecodingKey::from_jwk(jwk).ok()?)))
            .collect();
        if keys.is_empty() {
            return Err(unavailable("the set holds no usable key".into()));
        }
        Ok(KeySet { keys, expires_at: Instant::now() + max_age })
    }
}

fn unknown_kid() -> Error {
    Error::InvalidToken("the ID token's \"kid\" names no current Firebase signing key".into())
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
