//! The hot path of `/verify` and the authorizer: a key from the headers to its live record.

use http::HeaderMap;

use crate::credentials::api_key_from_headers;
use crate::error::Error;
use crate::store::{KeyLookup, KeyRecord, TOUCH_INTERVAL_SECS};

/// The hot path of `/verify` and the authorizer: the key from the headers, checked offline
/// (shape and checksum), then one strongly consistent read. `last_used_at` is written only when
/// the stored value is over a minute old, waited for at most [`TOUCH_BUDGET`]; a failure to write
/// it never refuses a valid key.
pub async fn authenticate<S: KeyLookup>(store: &S, headers: &HeaderMap) -> Result<KeyRecord, Error> {
    authenticate_at(store, headers, crate::clock::now_secs()).await
}

/// [`authenticate`] at `now` (seconds since the epoch): expiry is judged against it, on the record
/// the one read returned.
pub async fn authenticate_at<S: KeyLookup>(store: &S, headers: &HeaderMap, now: i64) -> Result<KeyRecord, Error> {
    authenticate_key_at(store, headers, now).await.map_err(|refused| refused.error)
}

/// A refused key: why, and the key's record when it is one of ours that ended (revoked or
/// expired), so its usage counts the attempt (README, "Key usage").
#[derive(Debug)]
pub struct Refused {
    pub error: Error,
    pub key: Option<Box<KeyRecord>>,
}

impl Refused {
    /// The refusal's code in the key's usage: finer than the response's `invalid_api_key`, for
    /// the key's own org.
    pub fn usage_code(&self) -> Option<&'static str> {
        let key = self.key.as_ref()?;
        Some(if key.revoked_at.is_some() { "revoked_api_key" } else { "expired_api_key" })
    }
}

impl From<Error> for Refused {
    fn from(error: Error) -> Self {
        Refused { error, key: None }
    }
}

/// [`authenticate_at`], keeping the record of a key that ended.
pub async fn authenticate_key_at<S: KeyLookup>(store: &S, headers: &HeaderMap, now: i64) -> Result<KeyRecord, Refused> {
    let key = api_key_from_headers(headers)?;
    let hash = key.hash();
    let record = store.find_key(&hash).await?.ok_or(Error::UnknownApiKey)?;
    if record.revoked_at.is_some() {
        return Err(Refused { error: Error::UnknownApiKey, key: Some(Box::new(record)) });
    }
    if !record.is_live_at(now) {
        return Err(Refused { error: Error::ExpiredApiKey, key: Some(Box::new(record)) });
    }
    if needs_touch(record.last_used_at, now) {
        // Bookkeeping never stalls or refuses a valid key: past TOUCH_BUDGET the write is
        // abandoned (a later call within the minute writes it).
        match tokio::time::timeout(TOUCH_BUDGET, store.touch_key(&hash, now)).await {
            Ok(Ok(())) => {}
            Ok(Err(err)) => tracing::warn!(key_id = %record.key_id, error = %err, "could not record last_used_at"),
            Err(_) => tracing::warn!(key_id = %record.key_id, "last_used_at write abandoned after its time budget"),
        }
    }
    Ok(record)
}

/// Whether `last_used_at` is stale enough to write: never written, or over a minute old.
fn needs_touch(last_used_at: Option<i64>, now: i64) -> bool {
    last_used_at.is_none_or(|at| at < now - TOUCH_INTERVAL_SECS)
}

/// The longest a valid key waits for its `last_used_at` write (an in-region `UpdateItem` takes a
/// few milliseconds; this bounds the stuck case).
pub const TOUCH_BUDGET: std::time::Duration = std::time::Duration::from_millis(50);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_used_at_is_written_at_most_once_a_minute() {
        let now = 1_800_000_000;
        assert!(needs_touch(None, now));
        assert!(needs_touch(Some(now - TOUCH_INTERVAL_SECS - 1), now));
        assert!(!needs_touch(Some(now - TOUCH_INTERVAL_SECS), now), "exactly a minute ago is still fresh");
        assert!(!needs_touch(Some(now - 1), now));
        assert!(!needs_touch(Some(now + 30), now), "a clock ahead of ours is not stale");
    }
}
