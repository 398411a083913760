//! A [`KeyStore`] that passes every call to the store it wraps, except the `last_used_at` write,
//! which it stalls forever or fails: what a slow or failing DynamoDB write looks like to the hot
//! path.

use std::sync::atomic::{AtomicUsize, Ordering};

use overten::Error;
use overten::api_key::KeyHash;
use overten::store::{KeyPage, KeyRecord, KeyStore, ListQuery, NewKey, NewOrg};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Touch {
    Stall,
    Fail,
}

pub struct StallingTouch<S> {
    pub inner: S,
    pub touch: Touch,
    pub touches: AtomicUsize,
}

impl<S> StallingTouch<S> {
    pub fn new(inner: S, touch: Touch) -> Self {
        StallingTouch { inner, touch, touches: AtomicUsize::new(0) }
    }
}

impl<S: KeyStore> KeyStore for StallingTouch<S> {
    async fn find_key(&self, hash: &KeyHash) -> Result<Option<KeyRecord>, Error> {
        self.inner.find_key(hash).await
    }
    async fn touch_key(&self, _: &KeyHash, _: i64) -> Result<(), Error> {
        self.touches.fetch_add(1, Ordering::SeqCst);
        match self.touch {
            Touch::Stall => std::future::pending().await,
            Touch::Fail => Err(Error::Unavailable("the last_used_at write failed (test)".into())),
        }
    }
    async fn create_org_with_key(&self, org: &NewOrg, key: &NewKey) -> Result<(), Error> {
        self.inner.create_org_with_key(org, key).await
    }
    async fn enable_api(&self, org_id: &str, uid: &str, webhook_secret: &str, key: &NewKey) -> Result<(), Error> {
        self.inner.enable_api(org_id, uid, webhook_secret, key).await
    }
    async fn create_org(&self, org: &NewOrg) -> Result<(), Error> {
        self.inner.create_org(org).await
    }
    async fn is_member(&self, org_id: &str, uid: &str) -> Result<bool, Error> {
        self.inner.is_member(org_id, uid).await
    }
    async fn create_key(&self, org_id: &str, uid: &str, key: &NewKey) -> Result<(), Error> {
        self.inner.create_key(org_id, uid, key).await
    }
    async fn list_keys(&self, org_id: &str, query: &ListQuery) -> Result<KeyPage, Error> {
        self.inner.list_keys(org_id, query).await
    }
    async fn revoke_key(&self, org_id: &str, uid: Option<&str>, key_id: &str, now: &str) -> Result<(), Error> {
        self.inner.revoke_key(org_id, uid, key_id, now).await
    }
}
