//! Pieces the benchmark runner and the criterion benches share.

pub mod runtime_api;

use overten::Error;
use overten::api_key::KeyHash;
use overten::store::{KeyPage, KeyRecord, KeyStore, ListQuery, NewKey, NewOrg};

/// A store that already has the answer: what is left of an authorization is the function's own
/// work (parse, hash, policy, JSON). Only for measuring that; every other call is an error.
pub struct AnswerInHand(pub KeyRecord);

impl KeyStore for AnswerInHand {
    async fn find_key(&self, _: &KeyHash) -> Result<Option<KeyRecord>, Error> {
        Ok(Some(self.0.clone()))
    }
    async fn touch_key(&self, _: &KeyHash, _: i64) -> Result<(), Error> {
        Ok(())
    }
    async fn create_org_with_key(&self, _: &NewOrg, _: &NewKey) -> Result<(), Error> {
        Err(Error::Internal("not measured".into()))
    }
    async fn enable_api(&self, _: &str, _: &str, _: &str, _: &NewKey) -> Result<(), Error> {
        Err(Error::Internal("not measured".into()))
    }
    async fn create_org(&self, _: &NewOrg) -> Result<(), Error> {
        Err(Error::Internal("not measured".into()))
    }
    async fn is_member(&self, _: &str, _: &str) -> Result<bool, Error> {
        Err(Error::Internal("not measured".into()))
    }
    async fn create_key(&self, _: &str, _: &str, _: &NewKey) -> Result<(), Error> {
        Err(Error::Internal("not measured".into()))
    }
    async fn list_keys(&self, _: &str, _: &ListQuery) -> Result<KeyPage, Error> {
        Err(Error::Internal("not measured".into()))
    }
    async fn revoke_key(&self, _: &str, _: Option<&str>, _: &str, _: &str) -> Result<(), Error> {
        Err(Error::Internal("not measured".into()))
    }
}

/// A record whose `last_used_at` is fresh, so no touch is attempted.
pub fn fresh_record() -> KeyRecord {
    KeyRecord {
        key_id: "key_0VcAbCdEfGhIjKlMnOpQrStU".into(),
        org_id: "org_AbCdEfGhIjKlMnOpQrStUvWx".into(),
        name: "billing-service-prod".into(),
        prefix: "sk_live_AbCd".into(),
        created_at: "2026-11-27T00:00:00Z".into(),
        revoked_at: None,
        last_used_at: Some(overten::clock::now_secs() + 3600),
    }
}
