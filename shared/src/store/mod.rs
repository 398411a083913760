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
pub use records::{KeyPage, KeyRecord, KeyStatus, KeySummary, ListQuery, NewKey, NewOrg, Rolled};

use crate::api_key::KeyHash;
use crate::audit::{Audit, Change, EventPage, EventQuery};
use crate::error::Error;

/// Most active keys an org may hold (keys in a roll's grace period and expired keys do not
/// count).
pub const MAX_ACTIVE_KEYS: usize = 100;

/// Most keys of an org in a roll's grace period at once: with [`MAX_ACTIVE_KEYS`], at most 200
/// keys of one org authenticate at any instant.
pub const MAX_GRACE_KEYS: usize = 100;

pub trait KeyStore: Send + Sync {
    /// The hot path: one strongly consistent read by key hash.
    fn find_key(&self, hash: &KeyHash) -> impl Future<Output = Result<Option<KeyRecord>, Error>> + Send;

    /// Sets `last_used_at` to `now` unless another call did so less than a minute ago.
    fn touch_key(&self, hash: &KeyHash, now: i64) -> impl Future<Output = Result<(), Error>> + Send;

    /// Many keys by hash, in the order given, in as few reads as DynamoDB allows (secret
    /// scanning).
    fn find_keys(&self, hashes: &[KeyHash]) -> impl Future<Output = Result<Vec<Option<KeyRecord>>, Error>> + Send;

    /// Signup with `org_name`: org, owner membership, first key, the owner's org count and the
    /// `org.created` event in one transaction (`OrgLimitReached` past [`MAX_ORGS_PER_USER`]).
    fn create_org_with_key(
        &self,
        org: &NewOrg,
        key: &NewKey,
        audit: &Audit,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// Signup with `existing_org_id`: turns API access on for an org the actor is a member of, with
    /// its first key, webhook secret and `api.enabled` event, in one transaction (`OrgNotFound`,
    /// `ApiAlreadyEnabled`).
    fn enable_api(
        &self,
        org_id: &str,
        webhook_secret: &str,
        key: &NewKey,
        audit: &Audit,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// Creates an org the way the dashboard does: the org and its owner, no API access yet.
    fn create_org(&self, org: &NewOrg) -> impl Future<Output = Result<(), Error>> + Send;

    /// Whether `uid` is a member of `org_id` (strongly consistent).
    fn is_member(&self, org_id: &str, uid: &str) -> impl Future<Output = Result<bool, Error>> + Send;

    /// A new key (`OrgNotFound`, `ApiNotEnabled`, `KeyLimitReached`), atomically with the actor's
    /// membership, the org's active-key count and the `key.created` event. Expired keys are moved
    /// out of the count first when the limit is met.
    fn create_key(&self, org_id: &str, key: &NewKey, audit: &Audit) -> impl Future<Output = Result<(), Error>> + Send;

    /// One page of an org's keys in creation order (strongly consistent), each with its status at
    /// `now`; revoked and expired keys only with `include_revoked`.
    fn list_keys(
        &self,
        org_id: &str,
        query: &ListQuery,
        now: i64,
    ) -> impl Future<Output = Result<KeyPage, Error>> + Send;

    /// Revokes a key of `org_id` with its event (`change` is `KeyRevoked` or `KeyLeaked`).
    /// `Ok(true)` if this call revoked it, `Ok(false)` if it had already ended (no event then).
    /// A `user` actor must be a member (`OrgNotFound`); `KeyNotFound` for a key not in the org.
    fn revoke_key(
        &self,
        org_id: &str,
        key_id: &str,
        change: &Change,
        audit: &Audit,
    ) -> impl Future<Output = Result<bool, Error>> + Send;

    /// Rolls a key: `new` is created and the old key's end scheduled at `audit.at +
    /// grace_seconds` (or its own earlier expiry; revoked at once with 0), with the `key.rolled`
    /// event, in one transaction. With `keep_name` the new key takes the old key's name.
    /// `KeyAlreadyRolled`, `KeyInactive`, `KeyNotFound`; `GraceLimitReached` when a roll with grace
    /// would leave more than [`MAX_GRACE_KEYS`] keys in grace periods (expired ones are moved
    /// out of the count first).
    fn roll_key(
        &self,
        org_id: &str,
        key_id: &str,
        new: &NewKey,
        keep_name: bool,
        grace_seconds: i64,
        audit: &Audit,
    ) -> impl Future<Output = Result<Rolled, Error>> + Send;

    /// Renames a key (live or ended) with its `key.renamed` event; the same name writes nothing.
    fn rename_key(
        &self,
        org_id: &str,
        key_id: &str,
        name: &str,
        audit: &Audit,
    ) -> impl Future<Output = Result<KeySummary, Error>> + Send;

    /// One page of an org's audit events, newest first.
    fn list_events(&self, org_id: &str, query: &EventQuery) -> impl Future<Output = Result<EventPage, Error>> + Send;
}
