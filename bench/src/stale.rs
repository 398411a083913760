//! A store whose every read looks stale, so each authorization also writes `last_used_at`: the
//! "stale key" path (one `GetItem` + one conditional `UpdateItem`) that a key takes at most once a
//! minute. Each write moves `now` on by more than the touch interval, so every one succeeds.

use std::sync::atomic::{AtomicI64, Ordering};

use overten::Error;
use overten::api_key::KeyHash;
use overten::store::{DynamoStore, KeyPage, KeyRecord, KeyStore, ListQuery, NewKey, NewOrg, TOUCH_INTERVAL_SECS};

pub struct AlwaysStale {
    pub inner: DynamoStore,
    shift: AtomicI64,
}

impl AlwaysStale {
    pub fn new(inner: DynamoStore) -> Self {
        AlwaysStale { inner, shift: AtomicI64::new(0) }
    }
}

impl KeyStore for AlwaysStale {
    async fn find_key(&self, hash: &KeyHash) -> Result<Option<KeyRecord>, Error> {
        Ok(self.inner.find_key(hash).await?.map(|record| KeyRecord { last_used_at: None, ..record }))
    }
    async fn touch_key(&self, hash: &KeyHash, now: i64) -> Result<(), Error> {
        let shift = self.shift.fetch_add(TOUCH_INTERVAL_SECS + 1, Ordering::SeqCst);
        self.inner.touch_key(hash, now + shift).await
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
