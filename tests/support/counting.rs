//! A [`KeyStore`] that counts the calls reaching the real DynamoDB adapter, to prove that
//! malformed keys cost no database read.

use std::sync::atomic::{AtomicUsize, Ordering};

use overten::Error;
use overten::api_key::KeyHash;
use overten::store::{DynamoStore, KeyPage, KeyRecord, KeyStore, ListQuery, NewKey, NewOrg};

pub struct CountingStore {
    pub inner: DynamoStore,
    calls: AtomicUsize,
}

impl CountingStore {
    pub fn new(inner: DynamoStore) -> Self {
        CountingStore { inner, calls: AtomicUsize::new(0) }
    }

    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    fn count(&self) {
        self.calls.fetch_add(1, Ordering::SeqCst);
    }
}

impl KeyStore for CountingStore {
    async fn find_key(&self, hash: &KeyHash) -> Result<Option<KeyRecord>, Error> {
        self.count();
        self.inner.find_key(hash).await
    }
    async fn touch_key(&self, hash: &KeyHash, now: i64) -> Result<(), Error> {
        self.count();
        self.inner.touch_key(hash, now).await
    }
    async fn create_org_with_key(&self, org: &NewOrg, key: &NewKey) -> Result<(), Error> {
        self.count();
        self.inner.create_org_with_key(org, key).await
    }
    async fn enable_api(&self, org_id: &str, uid: &str, webhook_secret: &str, key: &NewKey) -> Result<(), Error> {
        self.count();
        self.inner.enable_api(org_id, uid, webhook_secret, key).await
    }
    async fn create_org(&self, org: &NewOrg) -> Result<(), Error> {
        self.count();
        self.inner.create_org(org).await
    }
    async fn is_member(&self, org_id: &str, uid: &str) -> Result<bool, Error> {
        self.count();
        self.inner.is_member(org_id, uid).await
    }
    async fn create_key(&self, org_id: &str, uid: &str, key: &NewKey) -> Result<(), Error> {
        self.count();
        self.inner.create_key(org_id, uid, key).await
    }
    async fn list_keys(&self, org_id: &str, query: &ListQuery) -> Result<KeyPage, Error> {
        self.count();
        self.inner.list_keys(org_id, query).await
    }
    async fn revoke_key(&self, org_id: &str, uid: Option<&str>, key_id: &str, now: &str) -> Result<(), Error> {
        self.count();
        self.inner.revoke_key(org_id, uid, key_id, now).await
    }
}
