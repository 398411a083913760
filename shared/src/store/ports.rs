//! The ports: what callers need from storage, one small trait per capability. A function asks
//! for the traits it uses (`S: KeyLookup` for the authorizer and `/verify`), so a test store or a
//! wrapper implements what it observes and nothing else.

use std::future::Future;

use super::{Inherit, KeyPage, KeyRecord, KeySummary, KeyUpdate, ListQuery, NewKey, NewOrg, Rolled};
use crate::api_key::KeyHash;
use crate::audit::{Audit, Change, EventPage, EventQuery};
use crate::error::Error;

/// Keys by hash: the authorizer's and `/verify`'s one read and their `last_used_at` write.
pub trait KeyLookup: Send + Sync {
    /// The hot path: one strongly consistent read by key hash.
    fn find_key(&self, hash: &KeyHash) -> impl Future<Output = Result<Option<KeyRecord>, Error>> + Send;

    /// Sets `last_used_at` to `now` unless another call did so less than a minute ago.
    fn touch_key(&self, hash: &KeyHash, now: i64) -> impl Future<Output = Result<(), Error>> + Send;
}

/// Many keys by hash at once: secret scanning's batch read (a hot-path store need not have it).
pub trait FindKeys: Send + Sync {
    /// The record of each hash, in the order given, in as few reads as DynamoDB allows.
    fn find_keys(&self, hashes: &[KeyHash]) -> impl Future<Output = Result<Vec<Option<KeyRecord>>, Error>> + Send;
}

/// Whether a person belongs to an org: the key routes' reads (listing, events) check it first;
/// their writes check it inside their own transaction.
pub trait Membership: Send + Sync {
    /// Whether `uid` is a member of `org_id` (strongly consistent).
    fn is_member(&self, org_id: &str, uid: &str) -> impl Future<Output = Result<bool, Error>> + Send;
}

/// Orgs and their owners as signup makes them: a new org, or API access for a dashboard org.
pub trait Orgs: Send + Sync {
    /// Signup with `org_name`: org, owner membership, first key, the owner's org count and the
    /// `org.created` event in one transaction (`OrgLimitReached` past [`MAX_ORGS_PER_USER`](super::MAX_ORGS_PER_USER)).
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
}

/// An org the way the dashboard creates one: the org and its owner, no API access yet (the
/// operator CLI's `org create`; tests' dashboard orgs).
pub trait CreateOrg: Send + Sync {
    fn create_org(&self, org: &NewOrg) -> impl Future<Output = Result<(), Error>> + Send;
}

// The key lifecycle: a port per operation, so a new operation is a new port (here), its adapter
// file and the function that serves it, and a test store implements only the operations it
// stands in for.

pub trait CreateKey: Send + Sync {
    /// A new key (`OrgNotFound`, `ApiNotEnabled`, `KeyLimitReached`), atomically with the actor's
    /// membership, the org's active-key count and the `key.created` event. Expired keys are moved
    /// out of the count first when the limit is met.
    fn create_key(&self, org_id: &str, key: &NewKey, audit: &Audit) -> impl Future<Output = Result<(), Error>> + Send;
}

pub trait ListKeys: Send + Sync {
    /// One page of an org's keys in creation order (strongly consistent), each with its status at
    /// `now`; revoked and expired keys only with `include_revoked`.
    fn list_keys(
        &self,
        org_id: &str,
        query: &ListQuery,
        now: i64,
    ) -> impl Future<Output = Result<KeyPage, Error>> + Send;
}

pub trait RevokeKey: Send + Sync {
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
}

pub trait RollKey: Send + Sync {
    /// Rolls a key: `new` is created and the old key's end scheduled at `audit.at +
    /// grace_seconds` (or its own earlier expiry; revoked at once with 0), with the `key.rolled`
    /// event, in one transaction. The new key takes what `inherit` says of the old key's name and
    /// lists.
    /// `KeyAlreadyRolled`, `KeyInactive`, `KeyNotFound`; `GraceLimitReached` when a roll with grace
    /// would leave more than [`MAX_GRACE_KEYS`](super::MAX_GRACE_KEYS) keys in grace periods (expired ones are moved
    /// out of the count first).
    fn roll_key(
        &self,
        org_id: &str,
        key_id: &str,
        new: &NewKey,
        inherit: &Inherit,
        grace_seconds: i64,
        audit: &Audit,
    ) -> impl Future<Output = Result<Rolled, Error>> + Send;
}

pub trait UpdateKey: Send + Sync {
    /// Renames and/or restricts a key (live or ended) with its `key.renamed` and `key.restricted`
    /// events; a change to what the key already has writes nothing.
    fn update_key(
        &self,
        org_id: &str,
        key_id: &str,
        update: &KeyUpdate,
        audit: &Audit,
    ) -> impl Future<Output = Result<KeySummary, Error>> + Send;
}

pub trait ListEvents: Send + Sync {
    /// One page of an org's audit events, newest first.
    fn list_events(&self, org_id: &str, query: &EventQuery) -> impl Future<Output = Result<EventPage, Error>> + Send;
}

/// A key's whole life after its org exists — create, list, revoke, roll, update (rename, restrict), and the audit
/// trail each change writes: what the keys function asks for.
pub trait KeyLifecycle: CreateKey + ListKeys + RevokeKey + RollKey + UpdateKey + ListEvents {}

impl<T: CreateKey + ListKeys + RevokeKey + RollKey + UpdateKey + ListEvents> KeyLifecycle for T {}

/// Whether a key (live or ended) belongs to an org: the usage routes answer for a revoked key too
/// (a leak investigation starts from one), and `KeyNotFound` for a key of another org.
pub trait OrgKeys: Send + Sync {
    fn has_key(&self, org_id: &str, key_id: &str) -> impl Future<Output = Result<bool, Error>> + Send;
}

/// What one batch's write did: days written, chunks a marker said were written before (a
/// delivery retried), transactions sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UsageWrite {
    pub days: usize,
    pub chunks_seen_before: usize,
    pub transactions: usize,
}

/// Key usage, the aggregator's write (README, "Key usage").
pub trait RecordUsage: Send + Sync {
    /// Adds a batch's (key, day) sums into the stored days, once per `batch_id` (a batch
    /// delivered again adds nothing), each day's lists kept bounded.
    fn record_usage(
        &self,
        batch_id: &str,
        days: &std::collections::BTreeMap<crate::usage::DayKey, crate::usage::DayUsage>,
        now: i64,
    ) -> impl Future<Output = Result<UsageWrite, Error>> + Send;
}

/// Key usage, the usage routes' reads.
pub trait ReadUsage: Send + Sync {
    /// A key's stored days in `range`, by `YYYY-MM-DD` (days without requests are absent).
    fn key_days(
        &self,
        org_id: &str,
        key_id: &str,
        range: crate::usage::report::DayRange,
    ) -> impl Future<Output = Result<std::collections::BTreeMap<String, crate::usage::DayUsage>, Error>> + Send;

    /// The org's (key id, day totals) in `range`.
    fn org_days(
        &self,
        org_id: &str,
        range: crate::usage::report::DayRange,
    ) -> impl Future<Output = Result<Vec<(String, crate::usage::report::OrgDay)>, Error>> + Send;
}
