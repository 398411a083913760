//! A store with a fixed answer, for unit tests, property tests, fuzzing and benchmarks of code
//! above the store (feature `testing`). It knows one key record at most and nothing else; every
//! write is an error. Nothing that claims to test the store uses it: those tests run on
//! DynamoDB Local.

use super::{KeyPage, KeyRecord, KeyStore, ListQuery, NewKey, NewOrg};
use crate::api_key::KeyHash;
use crate::error::Error;

pub struct FixedStore(pub Option<KeyRecord>);

impl FixedStore {
    /// Knows no key.
    pub fn empty() -> Self {
        FixedStore(None)
    }
}

fn not_here() -> Error {
    Error::Internal("FixedStore answers key lookups only".into())
}

impl KeyStore for FixedStore {
    async fn find_key(&self, _: &KeyHash) -> Result<Option<KeyRecord>, Error> {
        Ok(self.0.clone())
    }
    async fn touch_key(&self, _: &KeyHash, _: i64) -> Result<(), Error> {
        Ok(())
    }
    async fn create_org_with_key(&self, _: &NewOrg, _: &NewKey) -> Result<(), Error> {
        Err(not_here())
    }
    async fn enable_api(&self, _: &str, _: &str, _: &str, _: &NewKey) -> Result<(), Error> {
        Err(not_here())
    }
    async fn create_org(&self, _: &NewOrg) -> Result<(), Error> {
        Err(not_here())
    }
    async fn is_member(&self, _: &str, _: &str) -> Result<bool, Error> {
        Err(not_here())
    }
    async fn create_key(&self, _: &str, _: &str, _: &NewKey) -> Result<(), Error> {
        Err(not_here())
    }
    async fn list_keys(&self, _: &str, _: &ListQuery) -> Result<KeyPage, Error> {
        Err(not_here())
    }
    async fn revoke_key(&self, _: &str, _: Option<&str>, _: &str, _: &str) -> Result<(), Error> {
        Err(not_here())
    }
}

/// A store that knows a set of keys by hash — live, revoked, whatever the test puts in — or that
/// fails every read as an unreachable DynamoDB does (feature `testing`). For the authorizer's
/// property test and fuzz target: `Allow` exactly for a live key's bytes, never on a failure.
pub struct KeySetStore {
    keys: Vec<(KeyHash, KeyRecord)>,
    failing: bool,
}

impl KeySetStore {
    pub fn new(keys: Vec<(KeyHash, KeyRecord)>) -> Self {
        KeySetStore { keys, failing: false }
    }

    /// Every read fails with `Unavailable`.
    pub fn failing() -> Self {
        KeySetStore { keys: Vec::new(), failing: true }
    }
}

impl KeyStore for KeySetStore {
    async fn find_key(&self, hash: &KeyHash) -> Result<Option<KeyRecord>, Error> {
        if self.failing {
            return Err(Error::Unavailable("KeySetStore is failing (test)".into()));
        }
        Ok(self.keys.iter().find(|(h, _)| h == hash).map(|(_, record)| record.clone()))
    }
    async fn touch_key(&self, _: &KeyHash, _: i64) -> Result<(), Error> {
        Ok(())
    }
    async fn create_org_with_key(&self, _: &NewOrg, _: &NewKey) -> Result<(), Error> {
        Err(not_here())
    }
    async fn enable_api(&self, _: &str, _: &str, _: &str, _: &NewKey) -> Result<(), Error> {
        Err(not_here())
    }
    async fn create_org(&self, _: &NewOrg) -> Result<(), Error> {
        Err(not_here())
    }
    async fn is_member(&self, _: &str, _: &str) -> Result<bool, Error> {
        Err(not_here())
    }
    async fn create_key(&self, _: &str, _: &str, _: &NewKey) -> Result<(), Error> {
        Err(not_here())
    }
    async fn list_keys(&self, _: &str, _: &ListQuery) -> Result<KeyPage, Error> {
        Err(not_here())
    }
    async fn revoke_key(&self, _: &str, _: Option<&str>, _: &str, _: &str) -> Result<(), Error> {
        Err(not_here())
    }
}
