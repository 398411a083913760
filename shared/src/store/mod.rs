//! The key store: what the functions need from storage, as a trait (the port), and its DynamoDB
//! implementation (the adapter). Tests and benchmarks wrap the real adapter, e.g. to count calls.

mod dynamodb;
#[cfg(feature = "testing")]
mod fixed;
mod records;
pub mod tables;

use std::future::Future;

pub use dynamodb::{DynamoStore, MAX_ORGS_PER_USER, TOUCH_INTERVAL_SECS};
#[cfg(feature = "testing")]
pub use fixed::{FixedStore, sample_record};
pub use records::{KeyPage, KeyRecord, KeySummary, ListQuery, NewKey, NewOrg};

use crate::api_key::KeyHash;
use crate::error::Error;

/// Most active keys an org may hold.
pub const MAX_ACTIVE_KEYS: usize = 100;

pub trait KeyStore: Send + Sync {
    /// The hot path: one strongly consistent read by key hash.
    fn find_key(&self, hash: &KeyHash) -> impl Future<Output = Result<Option<KeyRecord>, Error>> + Send;

    /// Sets `last_used_at` to `now` unless another call did so less than a minute ago.
    fn touch_key(&self, hash: &KeyHash, now: i64) -> impl Future<Output = Result<(), Error>> + Send;

    /// Signup with `org_name`: org, owner membership, first key and the owner's org count in one
    /// transaction (`OrgLimitReached` past [`MAX_ORGS_PER_USER`]).
    fn create_org_with_key(&self, org: &NewOrg, key: &NewKey) -> impl Future<Output = Result<(), Error>> + Send;

    /// Signup with `existing_org_id`: turns API access on for an org `uid` is a member of, with its
    /// first key and webhook secret, in one transaction (`OrgNotFound`, `ApiAlreadyEnabled`).
    fn enable_api(
        &self,
        org_id: &str,
        uid: &str,
        webhook_secret: &str,
        key: &NewKey,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// Creates an org the way the dashboard does: the org and its owner, no API access yet.
    fn create_org(&self, org: &NewOrg) -> impl Future<Output = Result<(), Error>> + Send;

    /// Whether `uid` is a member of `org_id` (strongly consistent).
    fn is_member(&self, org_id: &str, uid: &str) -> impl Future<Output = Result<bool, Error>> + Send;

    /// A new key for a member (`OrgNotFound`, `ApiNotEnabled`, `KeyLimitReached`), atomically with
    /// the membership check and the org's active-key count.
    fn create_key(&self, org_id: &str, uid: &str, key: &NewKey) -> impl Future<Output = Result<(), Error>> + Send;

    /// One page of an org's keys in creation order (strongly consistent); revoked keys are read
    /// only with `include_revoked`.
    fn list_keys(&self, org_id: &str, query: &ListQuery) -> impl Future<Output = Result<KeyPage, Error>> + Send;

    /// Revokes a key of `org_id`; idempotent (`KeyNotFound`, `OrgNotFound`). `uid` must be a
    /// member; `None` is the operator CLI, which needs no membership.
    fn revoke_key(
        &self,
        org_id: &str,
        uid: Option<&str>,
        key_id: &str,
        now: &str,
    ) -> impl Future<Output = Result<(), Error>> + Send;
}
