//! A [`KeyStore`] that passes every call to the store it wraps and controls the `last_used_at`
//! write: stalled forever or failed (what a slow or failing DynamoDB write looks like to the hot
//! path), or made on every call (every read looks stale; `make bench`'s stale-key path).

use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};

use overten::Error;
use overten::api_key::KeyHash;
use overten::audit::{Audit, Change, EventPage, EventQuery};
use overten::store::{
    KeyPage, KeyRecord, KeyStore, KeySummary, ListQuery, NewKey, NewOrg, Rolled, TOUCH_INTERVAL_SECS,
};

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

impl<S: KeyStore> KeyStore for TouchingStore<S> {
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
    async fn find_keys(&self, hashes: &[KeyHash]) -> Result<Vec<Option<KeyRecord>>, Error> {
        self.inner.find_keys(hashes).await
    }
    async fn create_org_with_key(&self, org: &NewOrg, key: &NewKey, audit: &Audit) -> Result<(), Error> {
        self.inner.create_org_with_key(org, key, audit).await
    }
    async fn enable_api(&self, org_id: &str, webhook_secret: &str, key: &NewKey, audit: &Audit) -> Result<(), Error> {
        self.inner.enable_api(org_id, webhook_secret, key, audit).await
    }
    async fn create_org(&self, org: &NewOrg) -> Result<(), Error> {
        self.inner.create_org(org).await
    }
    async fn is_member(&self, org_id: &str, uid: &str) -> Result<bool, Error> {
        self.inner.is_member(org_id, uid).await
    }
    async fn create_key(&self, org_id: &str, key: &NewKey, audit: &Audit) -> Result<(), Error> {
        self.inner.create_key(org_id, key, audit).await
    }
    async fn list_keys(&self, org_id: &str, query: &ListQuery, now: i64) -> Result<KeyPage, Error> {
        self.inner.list_keys(org_id, query, now).await
    }
    async fn revoke_key(&self, org_id: &str, key_id: &str, change: &Change, audit: &Audit) -> Result<bool, Error> {
        self.inner.revoke_key(org_id, key_id, change, audit).await
    }
    async fn roll_key(
        &self,
        org_id: &str,
        key_id: &str,
        new: &NewKey,
        keep_name: bool,
        grace_seconds: i64,
        audit: &Audit,
    ) -> Result<Rolled, Error> {
        self.inner.roll_key(org_id, key_id, new, keep_name, grace_seconds, audit).await
    }
    async fn rename_key(&self, org_id: &str, key_id: &str, name: &str, audit: &Audit) -> Result<KeySummary, Error> {
        self.inner.rename_key(org_id, key_id, name, audit).await
    }
    async fn list_events(&self, org_id: &str, query: &EventQuery) -> Result<EventPage, Error> {
        self.inner.list_events(org_id, query).await
    }
}
