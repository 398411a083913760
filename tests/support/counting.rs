//! A key lookup ([`KeyLookup`], [`FindKeys`]) that counts the calls reaching the real DynamoDB adapter, to prove that
//! malformed keys cost no database read and a key costs one.

use std::sync::atomic::{AtomicUsize, Ordering};

use overten::Error;
use overten::api_key::KeyHash;
use overten::audit::{Audit, Change};
use overten::store::{DynamoStore, FindKeys, KeyLookup, KeyRecord, RevokeKey};

pub struct CountingStore {
    pub inner: DynamoStore,
    calls: AtomicUsize,
    reads: AtomicUsize,
}

impl CountingStore {
    pub fn new(inner: DynamoStore) -> Self {
        CountingStore { inner, calls: AtomicUsize::new(0), reads: AtomicUsize::new(0) }
    }

    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// Calls that read the keys table (`find_key`, `find_keys`).
    pub fn key_reads(&self) -> usize {
        self.reads.load(Ordering::SeqCst)
    }

    fn count(&self) {
        self.calls.fetch_add(1, Ordering::SeqCst);
    }
}

impl KeyLookup for CountingStore {
    async fn find_key(&self, hash: &KeyHash) -> Result<Option<KeyRecord>, Error> {
        self.count();
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.inner.find_key(hash).await
    }
    async fn touch_key(&self, hash: &KeyHash, now: i64) -> Result<(), Error> {
        self.count();
        self.inner.touch_key(hash, now).await
    }
}

impl FindKeys for CountingStore {
    async fn find_keys(&self, hashes: &[KeyHash]) -> Result<Vec<Option<KeyRecord>>, Error> {
        self.count();
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.inner.find_keys(hashes).await
    }
}

impl RevokeKey for CountingStore {
    async fn revoke_key(&self, org_id: &str, key_id: &str, change: &Change, audit: &Audit) -> Result<bool, Error> {
        self.count();
        self.inner.revoke_key(org_id, key_id, change, audit).await
    }
}
