//! A key lookup ([`KeyLookup`]) that passes every call to the lookup it wraps and controls the `last_used_at`
//! write: stalled forever or failed (what a slow or failing DynamoDB write looks like to the hot
//! path), or made on every call (every read looks stale; `make bench`'s stale-key path).

use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};

use overten::Error;
use overten::api_key::KeyHash;
use overten::store::{KeyLookup, KeyRecord, TOUCH_INTERVAL_SECS};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Touch {
    Stall,
    Fail,
    /// Every read looks over a minute old and every write goes through: each one moves `now` on
    /// by more than the touch interval, so its condition holds.
    EveryCall,
}

pub struct TouchingStore<S> {
    pub inner: S,
    pub touch: Touch,
    pub touches: AtomicUsize,
    shift: AtomicI64,
}

impl<S> TouchingStore<S> {
    pub fn new(inner: S, touch: Touch) -> Self {
        TouchingStore { inner, touch, touches: AtomicUsize::new(0), shift: AtomicI64::new(0) }
    }
}

impl<S: KeyLookup> KeyLookup for TouchingStore<S> {
    async fn find_key(&self, hash: &KeyHash) -> Result<Option<KeyRecord>, Error> {
        let found = self.inner.find_key(hash).await?;
        Ok(match self.touch {
            Touch::EveryCall => found.map(|record| KeyRecord { last_used_at: None, ..record }),
            _ => found,
        })
    }
    async fn touch_key(&self, hash: &KeyHash, now: i64) -> Result<(), Error> {
        self.touches.fetch_add(1, Ordering::SeqCst);
        match self.touch {
            Touch::Stall => std::future::pending().await,
            Touch::Fail => Err(Error::Unavailable("the last_used_at write failed (test)".into())),
            Touch::EveryCall => {
                let shift = self.shift.fetch_add(TOUCH_INTERVAL_SECS + 1, Ordering::SeqCst);
                self.inner.touch_key(hash, now + shift).await
            }
        }
    }
}
