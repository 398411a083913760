//! A set of public keys fetched from an endpoint and cached across invocations of a warm Lambda:
//! Google's Firebase token-signing keys, GitHub's secret-scanning keys. The format of each set is
//! a [`KeySetFormat`]; where it comes from is a [`KeySource`] (HTTPS in production: [`HttpSource`],
//! in `source.rs`); the caching rules are the same for both:
//!
//! - a set is kept for its response's `Cache-Control: max-age` (5 minutes without one, 24 hours at
//!   most), and a known key is served from it without any fetch; an expired set that came with an
//!   `ETag` is revalidated with `If-None-Match`, and a `304` keeps it for another `max-age`
//!   (GitHub counts no authenticated `304` against its rate limit);
//! - one fetch at a time: concurrent requests wait for the one in flight instead of each fetching;
//! - an unknown key id refetches at most once a minute after a successful fetch, so forged ids
//!   cannot make us hammer the endpoint;
//! - after a failed fetch nothing is fetched for a back-off period (1 s, doubling with each
//!   further failure, at most 60 s): requests meanwhile are answered from the last good set if
//!   it may still be used, `Unavailable` (503) otherwise. A cold instance with a failing endpoint
//!   therefore makes at most one fetch per back-off period, whatever the request rate. The period
//!   starts when the failed fetch ends (a hanging endpoint's timeout included), and an endpoint
//!   that says when to come back (`Retry-After`, or `x-ratelimit-reset` with no requests
//!   remaining) is not asked again before then (at most an hour);
//! - stale keys have an end: while refreshes fail the last good set is used for at most
//!   [`MAX_STALENESS`] (24 hours) past its expiry, then every request is `Unavailable` until a
//!   fetch succeeds;
//! - key-endpoint failures are `Unavailable`, never blamed on the caller.

mod source;

pub use source::{Credential, FetchError, Fetched, HttpSource, KeySource, MAX_KEY_SET_BYTES, USER_AGENT};

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::time::Instant;

use crate::error::Error;

/// The least time between a successful fetch and a refetch for an unknown key id.
pub const MIN_REFETCH_INTERVAL: Duration = Duration::from_secs(60);
/// Used when the endpoint sends no usable `max-age`.
const DEFAULT_MAX_AGE: Duration = Duration::from_secs(300);
/// Never keep a set fresh longer than this, whatever the header says.
const MAX_MAX_AGE: Duration = Duration::from_secs(24 * 3600);
/// While refreshes fail, the last good set is used at most this long past its expiry.
pub const MAX_STALENESS: Duration = Duration::from_secs(24 * 3600);
/// The back-off after the first failed fetch; it doubles with each failure that follows.
pub const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// The longest back-off: a recovered endpoint is used again within a minute.
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// The longest wait an endpoint's own `Retry-After` or rate-limit reset can ask for.
pub const MAX_ENDPOINT_WAIT: Duration = Duration::from_secs(3600);
/// How one endpoint's key set is read.
pub trait KeySetFormat: Send + Sync + 'static {
    type Key: Clone + Send + Sync;
    /// For logs and errors, e.g. "Firebase signing keys".
    const WHAT: &'static str;
    /// Headers the endpoint asks its clients to send (GitHub's media type and API version).
    const REQUEST_HEADERS: &'static [(&'static str, &'static str)] = &[];
    /// The usable keys of a response body, by id (unusable entries are left out).
    fn parse(body: &[u8]) -> Result<HashMap<String, Self::Key>, String>;
    /// The caller's error for an id that names no key of the current set.
    fn unknown_key() -> Error;
}
struct KeySet<K> {
    keys: Arc<HashMap<String, K>>,
    etag: Option<String>,
    fetched_at: Instant,
    expires_at: Instant,
}

impl<K> KeySet<K> {
    /// Whether this set may still be used while refreshes fail.
    fn usable_at(&self, now: Instant) -> bool {
        now < self.expires_at + MAX_STALENESS
    }
}

struct State<K> {
    set: Option<Arc<KeySet<K>>>,
    /// Failed fetches since the last successful one.
    failures: u32,
    /// After a failure: no fetch before this instant.
    retry_at: Option<Instant>,
}

/// The back-off after `failures` consecutive failed fetches (`failures` ≥ 1).
fn backoff(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    (FIRST_BACKOFF * 2u32.pow(doublings)).min(MAX_BACKOFF)
}

pub struct KeySetCache<F: KeySetFormat, S: KeySource = HttpSource> {
    source: S,
    state: RwLock<State<F::Key>>,
    /// Held while fetching: the single-flight gate.
    fetching: tokio::sync::Mutex<()>,
    fetches: std::sync::atomic::AtomicU64,
}

impl<F: KeySetFormat> KeySetCache<F, HttpSource> {
    /// Keys from `url`; `timeout` bounds the connection and the whole fetch.
    pub fn new(url: String, timeout: Duration) -> Result<Self, Error> {
        Ok(Self::with_source(HttpSource::new(url, timeout, F::REQUEST_HEADERS)?))
    }

    /// Sends `Authorization` (read from `credential` on the first fetch) with every fetch.
    pub fn with_credential(mut self, credential: Arc<dyn Credential>) -> Self {
        self.source.credential = Some(credential);
        self
    }
}

impl<F: KeySetFormat, S: KeySource> KeySetCache<F, S> {
    pub fn with_source(source: S) -> Self {
        KeySetCache {
            source,
            state: RwLock::new(State { set: None, failures: 0, retry_at: None }),
            fetching: tokio::sync::Mutex::new(()),
            fetches: Default::default(),
        }
    }

    /// How many fetches were attempted (for tests and benchmarks).
    pub fn fetch_count(&self) -> u64 {
        self.fetches.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The key named `id`, fetching the set when it is missing, expired, or lacks `id`.
    pub async fn key(&self, id: &str) -> Result<F::Key, Error> {
        if let Some(found) = self.cached(id, Instant::now()) {
            return found;
        }
        let _gate = self.fetching.lock().await;
        // Another request may have fetched while we waited at the gate.
        let now = Instant::now();
        if let Some(found) = self.cached(id, now) {
            return found;
        }
        self.fetches.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let current = self.state.read().unwrap_or_else(|p| p.into_inner()).set.clone();
        let fetched = self.source.fetch(current.as_ref().and_then(|set| set.etag.as_deref())).await;
        // Times count from the answer: a slow or hanging fetch does not eat its own back-off.
        let now = Instant::now();
        let fresh_for = |max_age: Option<Duration>| max_age.unwrap_or(DEFAULT_MAX_AGE).min(MAX_MAX_AGE);
        let fetched = fetched.and_then(|fetched| match fetched {
            Fetched::Set { body, max_age, etag } => {
                let keys = F::parse(&body)?;
                if keys.is_empty() {
                    return Err("the set holds no usable key".to_owned().into());
                }
                Ok(KeySet { keys: Arc::new(keys), etag, fetched_at: now, expires_at: now + fresh_for(max_age) })
            }
            // Still current: the same keys, fresh for another max-age.
            Fetched::NotModified { max_age } => match &current {
                Some(set) => Ok(KeySet {
                    keys: set.keys.clone(),
                    etag: set.etag.clone(),
                    fetched_at: now,
                    expires_at: now + fresh_for(max_age),
                }),
                None => Err("304 Not Modified without a set to keep".to_owned().into()),
            },
        });
        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        match fetched {
            Ok(set) => {
                let set = Arc::new(set);
                state.set = Some(set.clone());
                state.failures = 0;
                state.retry_at = None;
                drop(state);
                set.keys.get(id).cloned().ok_or_else(F::unknown_key)
            }
            Err(err) => {
                state.failures = state.failures.saturating_add(1);
                let asked = err.retry_after.map_or(Duration::ZERO, |wait| wait.min(MAX_ENDPOINT_WAIT));
                let wait = backoff(state.failures).max(asked);
                state.retry_at = Some(now + wait);
                let stale = state.set.as_ref().filter(|set| set.usable_at(now));
                tracing::warn!(
                    error = %err.message,
                    failures = state.failures,
                    backoff_ms = wait.as_millis() as u64,
                    kept_old_keys = stale.is_some(),
                    "fetching {} failed",
                    F::WHAT
                );
                match stale.and_then(|set| set.keys.get(id)) {
                    Some(key) => Ok(key.clone()),
                    None => Err(Error::Unavailable(format!("{}: {}", F::WHAT, err.message))),
                }
            }
        }
    }

    /// `Some(answer)` when the cache can answer without a fetch.
    fn cached(&self, id: &str, now: Instant) -> Option<Result<F::Key, Error>> {
        let state = self.state.read().unwrap_or_else(|p| p.into_inner());
        let backing_off = state.retry_at.is_some_and(|at| now < at);
        if let Some(set) = &state.set {
            match set.keys.get(id) {
                Some(key) if now < set.expires_at => return Some(Ok(key.clone())),
                // Stale: refreshing failed a moment ago, so keep using the last good key.
                Some(key) if backing_off && set.usable_at(now) => return Some(Ok(key.clone())),
                Some(_) => {}
                // Unknown: refetch at most once a minute after a successful fetch.
                None if !backing_off && now.duration_since(set.fetched_at) < MIN_REFETCH_INTERVAL => {
                    return Some(Err(F::unknown_key()));
                }
                None => {}
            }
        }
        // Nothing usable, and the endpoint failed a moment ago: no fetch until the back-off ends.
        backing_off.then(|| Err(Error::Unavailable(format!("{}: backing off after a failed fetch", F::WHAT))))
    }
}

#[cfg(test)]
mod tests;
