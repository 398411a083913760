//! The DynamoDB adapter of [`KeyStore`].
//!
//! `ApiKeys` (partition key `key_hash`) serves the hot path; `Orgs` (partition key `org_id`, sort
//! key `sk` = `META` | `MEMBER#<uid>` | `KEY#<key_id>` for a key that has not ended |
//! `REVOKED#<key_id>` once it ended (revoked, or expired and moved) | `EVENT#<event_id>` for its
//! audit events) holds everything per org, and one `USER#<uid>`/`ORG_COUNT` item per person
//! counts the orgs they created by signup. Ending moves a key from `KEY#` to `REVOKED#`, so
//! listing live keys never reads an ended one. Writes that belong together, and the event that
//! records them, are one `TransactWriteItems` whose conditions make them all-or-nothing.

mod batch;
mod events;
mod items;
mod lifecycle;
mod retry;
mod transaction;

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, ReturnConsumedCapacity, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
    Update,
};

use self::items::{Item, META, get_n, get_s, key_record, key_sk, member_sk, n, put, s, user_pk};
pub(crate) use self::retry::sdk_error;
use self::retry::{build_error, retry_transaction};
use self::transaction::{Cancelled, Step, Transaction};
use super::records::{KeyPage, KeyRecord, KeySummary, ListQuery, NewKey, NewOrg, Rolled};
use super::{KeyStore, MAX_ACTIVE_KEYS};
use crate::api_key::KeyHash;
use crate::audit::{Audit, Change, EventPage, EventQuery};
use crate::config::Tables;
use crate::error::Error;

/// `last_used_at` is written at most this often per key, so the hot path stays one read.
pub const TOUCH_INTERVAL_SECS: i64 = 60;

/// Most orgs one person (Firebase uid) may create with `POST /signup` + `org_name`.
pub const MAX_ORGS_PER_USER: usize = 10;

#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    tables: Tables,
    retry_budget: Duration,
    /// Tests only: every transaction gets an item that changes nothing in its middle.
    #[cfg(feature = "testing")]
    padded: bool,
}

impl DynamoStore {
    pub fn new(client: Client, tables: Tables) -> Self {
        DynamoStore {
            client,
            tables,
            retry_budget: crate::config::DynamoTimeouts::MANAGEMENT.retry_budget,
            #[cfg(feature = "testing")]
            padded: false,
        }
    }

    /// Tests only: puts an item that changes nothing in the middle of every transaction, so a
    /// test can show that every cancellation is still mapped to its cause (by step, not position).
    #[cfg(feature = "testing")]
    pub fn with_padded_transactions(mut self) -> Self {
        self.padded = true;
        self
    }

    /// How long our own retries (conflicts, throttled transactions) may go on.
    pub fn with_retry_budget(mut self, budget: Duration) -> Self {
        self.retry_budget = budget;
        self
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn tables(&self) -> &Tables {
        &self.tables
    }

    fn org_key(&self, org_id: &str, sk: String) -> Item {
        HashMap::from([("org_id".to_owned(), s(org_id)), ("sk".to_owned(), AttributeValue::S(sk))])
    }

    fn member_check(&self, org_id: &str, uid: &str) -> Result<TransactWriteItem, Error> {
        let check = ConditionCheck::builder()
            .table_name(&self.tables.orgs)
            .set_key(Some(self.org_key(org_id, member_sk(uid))))
            .condition_expression("attribute_exists(sk)")
            .build()
            .map_err(build_error)?;
        Ok(TransactWriteItem::builder().condition_check(check).build())
    }

    /// The `KEY#` item in `Orgs` and the `ApiKeys` item of a new key, each refused if it exists.
    fn key_puts(&self, org_id: &str, key: &NewKey) -> Result<[TransactWriteItem; 2], Error> {
        let mut org_item = self.org_key(org_id, key_sk(&key.key_id));
        org_item.extend([
            ("key_id".to_owned(), s(&key.key_id)),
            ("key_hash".to_owned(), s(key.hash.as_str())),
            ("name".to_owned(), s(&key.name)),
            ("prefix".to_owned(), s(&key.prefix)),
            ("created_at".to_owned(), s(&key.created_at)),
        ]);
        let mut key_item = HashMap::from([
            ("key_hash".to_owned(), s(key.hash.as_str())),
            ("key_id".to_owned(), s(&key.key_id)),
            ("org_id".to_owned(), s(org_id)),
            ("name".to_owned(), s(&key.name)),
            ("prefix".to_owned(), s(&key.prefix)),
            ("created_at".to_owned(), s(&key.created_at)),
        ]);
        if let Some(at) = key.expires_at {
            // On both items: the hot path reads it from ApiKeys, the listing from Orgs.
            org_item.insert("expires_at".to_owned(), n(at));
            key_item.insert("expires_at".to_owned(), n(at));
        }
        if let Some(from) = &key.rolled_from {
            org_item.insert("rolled_from".to_owned(), s(from));
        }
        Ok([
            put(&self.tables.orgs, org_item, "attribute_not_exists(sk)")?,
            put(&self.tables.api_keys, key_item, "attribute_not_exists(key_hash)")?,
        ])
    }

    /// Runs a transaction, retrying conflicts and throttling. `Ok(Err(cancelled))` when a
    /// condition failed: ask it which step's.
    #[cfg_attr(not(feature = "testing"), allow(unused_mut))]
    async fn transact(&self, mut tx: Transaction) -> Result<Result<(), Cancelled>, Error> {
        #[cfg(feature = "testing")]
        if self.padded {
            tx.pad(&self.tables.orgs)?;
        }
        let send = || self.client.transact_write_items().set_transact_items(Some(tx.items().to_vec())).send();
        Ok(retry_transaction(send, self.retry_budget).await?.map_err(|reasons| tx.cancelled(reasons)))
    }

    /// Up to `want` items of one sort-key run (`KEY#` or `REVOKED#`) after the key id `after`, in
    /// key-id order; with `live_at`, only items not expired at that instant. Also returns the
    /// read capacity the queries consumed and how many items the filter left out.
    async fn query_keys(
        &self,
        org_id: &str,
        prefix: &str,
        after: Option<&str>,
        want: usize,
        live_at: Option<i64>,
    ) -> Result<(Vec<Item>, f64, usize), Error> {
        let mut items: Vec<Item> = Vec::new();
        let mut units = 0.0;
        let mut skipped = 0;
        let mut start = after.map(|id| self.org_key(org_id, format!("{prefix}{id}")));
        loop {
            let mut query = self
                .run_query(org_id, prefix)
                .limit((want - items.len()) as i32)
                .set_exclusive_start_key(start.take())
                .return_consumed_capacity(ReturnConsumedCapacity::Total);
            if let Some(now) = live_at {
                query = query
                    .filter_expression("attribute_not_exists(expires_at) OR expires_at > :now")
                    .expression_attribute_values(":now", n(now));
            }
            let out = query.send().await.map_err(|e| sdk_error("Query", e))?;
            units += out.consumed_capacity.and_then(|c| c.capacity_units).unwrap_or(0.0);
            let found = out.items.unwrap_or_default();
            skipped += (out.scanned_count.max(0) as usize).saturating_sub(found.len());
            items.extend(found);
            match out.last_evaluated_key {
                Some(last) if items.len() < want => start = Some(last),
                _ => return Ok((items, units, skipped)),
            }
        }
    }

    /// A strongly consistent query of one sort-key run of an org's partition (`KEY#`,
    /// `REVOKED#`, `EVENT#`), for the caller to refine.
    fn run_query(&self, org_id: &str, prefix: &str) -> QueryFluentBuilder {
        self.client
            .query()
            .table_name(&self.tables.orgs)
            .consistent_read(true)
            .key_condition_expression("org_id = :org AND begins_with(sk, :prefix)")
            .expression_attribute_values(":org", s(org_id))
            .expression_attribute_values(":prefix", s(prefix))
    }

    async fn get_org_item(&self, org_id: &str, sk: String) -> Result<Option<Item>, Error> {
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.orgs)
            .set_key(Some(self.org_key(org_id, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("GetItem", e))?;
        Ok(out.item)
    }

    /// `last_used_at` of each hash, read consistently from `ApiKeys`, and the read units.
    async fn last_used(&self, hashes: &[&str]) -> Result<(HashMap<String, i64>, f64), Error> {
        if hashes.is_empty() {
            return Ok((HashMap::new(), 0.0));
        }
        let (items, units) = self.batch_get_keys(hashes, Some("key_hash, last_used_at")).await?;
        let found = items
            .iter()
            .filter_map(|item| Some((get_s(item, "key_hash").ok()?, get_n(item, "last_used_at")?)))
            .collect();
        Ok((found, units))
    }
}

impl KeyStore for DynamoStore {
    async fn find_key(&self, hash: &KeyHash) -> Result<Option<KeyRecord>, Error> {
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.api_keys)
            .key("key_hash", s(hash.as_str()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("GetItem", e))?;
        out.item.as_ref().map(key_record).transpose()
    }

    async fn touch_key(&self, hash: &KeyHash, now: i64) -> Result<(), Error> {
        let result = self
            .client
            .update_item()
            .table_name(&self.tables.api_keys)
            .key("key_hash", s(hash.as_str()))
            .update_expression("SET last_used_at = :now")
            .condition_expression(
                "attribute_exists(key_hash) AND (attribute_not_exists(last_used_at) OR last_used_at < :stale)",
            )
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":stale", n(now - TOUCH_INTERVAL_SECS))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // Another invocation touched it first: that is the point of the condition.
            Err(err) if err.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Ok(()),
            Err(err) => Err(sdk_error("UpdateItem", err)),
        }
    }

    async fn create_org_with_key(&self, org: &NewOrg, key: &NewKey, audit: &Audit) -> Result<(), Error> {
        // The person's org count goes up in the same transaction, so the cap holds under retries
        // and parallel signups alike.
        let count = Update::builder()
            .table_name(&self.tables.orgs)
            .set_key(Some(self.org_key(&user_pk(&org.owner_uid), "ORG_COUNT".to_owned())))
            .update_expression("SET orgs_created = if_not_exists(orgs_created, :zero) + :one")
            .condition_expression("attribute_not_exists(orgs_created) OR orgs_created < :max")
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":max", n(MAX_ORGS_PER_USER as i64))
            .build()
            .map_err(build_error)?;
        let mut tx = Transaction::new();
        tx.push(Step::OrgCount, TransactWriteItem::builder().update(count).build());
        tx.extend(Step::NewOrg, self.org_puts(org, Some(1))?);
        tx.extend(Step::NewKey, self.key_puts(&org.org_id, key)?);
        tx.push(Step::Event, self.event_put(&org.org_id, Some(&key.key_id), &Change::OrgCreated, audit)?);
        match self.transact(tx).await? {
            Ok(()) => Ok(()),
            Err(cancelled) if cancelled.failed(Step::OrgCount) => Err(Error::OrgLimitReached(MAX_ORGS_PER_USER)),
            // 131-bit keys and 143-bit org ids do not collide; if they ever do, nothing was written.
            Err(cancelled) => Err(Error::Internal(format!("signup transaction cancelled: {}", cancelled.describe()))),
        }
    }

    async fn enable_api(&self, org_id: &str, webhook_secret: &str, key: &NewKey, audit: &Audit) -> Result<(), Error> {
        let uid = audit.actor.member_uid().ok_or(Error::OrgNotFound)?;
        let enable = Update::builder()
            .table_name(&self.tables.orgs)
            .set_key(Some(self.org_key(org_id, META.to_owned())))
            .update_expression(
                "SET api_enabled = :true, api_enabled_at = :at, webhook_secret = :whsec, active_keys = :one",
            )
            .condition_expression(
                "attribute_exists(sk) AND (attribute_not_exists(api_enabled) OR api_enabled = :false)",
            )
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .expression_attribute_values(":false", AttributeValue::Bool(false))
            .expression_attribute_values(":at", s(&key.created_at))
            .expression_attribute_values(":whsec", s(webhook_secret))
            .expression_attribute_values(":one", n(1))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(build_error)?;
        let mut tx = Transaction::new();
        tx.push(Step::Membership, self.member_check(org_id, uid)?);
        tx.push(Step::OrgMeta, TransactWriteItem::builder().update(enable).build());
        tx.extend(Step::NewKey, self.key_puts(org_id, key)?);
        tx.push(Step::Event, self.event_put(org_id, Some(&key.key_id), &Change::ApiEnabled, audit)?);
        let Err(cancelled) = self.transact(tx).await? else { return Ok(()) };
        if cancelled.failed(Step::Membership) {
            return Err(Error::OrgNotFound);
        }
        if let Some(old) = cancelled.old_item(Step::OrgMeta) {
            // The old META item tells "no such org" from "already enabled".
            return Err(if old.is_empty() { Error::OrgNotFound } else { Error::ApiAlreadyEnabled });
        }
        Err(Error::Internal(format!("enable-api transaction cancelled: {}", cancelled.describe())))
    }

    async fn create_org(&self, org: &NewOrg) -> Result<(), Error> {
        let mut tx = Transaction::new();
        tx.extend(Step::NewOrg, self.org_puts(org, None)?);
        match self.transact(tx).await? {
            Ok(()) => Ok(()),
            Err(cancelled) => {
                Err(Error::Internal(format!("create-org transaction cancelled: {}", cancelled.describe())))
            }
        }
    }

    async fn is_member(&self, org_id: &str, uid: &str) -> Result<bool, Error> {
        Ok(self.get_org_item(org_id, member_sk(uid)).await?.is_some())
    }

    async fn create_key(&self, org_id: &str, key: &NewKey, audit: &Audit) -> Result<(), Error> {
        match self.try_create_key(org_id, key, audit).await {
            // Expired keys still count until they are moved out of the active run: move them and
            // try once more, so they never hold the limit against a create.
            Err(Error::KeyLimitReached(max)) => {
                if self.retire_expired(org_id, audit.at).await? == 0 {
                    return Err(Error::KeyLimitReached(max));
                }
                self.try_create_key(org_id, key, audit).await
            }
            other => other,
        }
    }

    async fn list_keys(&self, org_id: &str, query: &ListQuery, now: i64) -> Result<KeyPage, Error> {
        self.list_keys_at(org_id, query, now).await
    }

    async fn revoke_key(&self, org_id: &str, key_id: &str, change: &Change, audit: &Audit) -> Result<bool, Error> {
        self.revoke(org_id, key_id, change, audit).await
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
        self.roll(org_id, key_id, new, keep_name, grace_seconds, audit).await
    }

    async fn rename_key(&self, org_id: &str, key_id: &str, name: &str, audit: &Audit) -> Result<KeySummary, Error> {
        self.rename(org_id, key_id, name, audit).await
    }

    async fn list_events(&self, org_id: &str, query: &EventQuery) -> Result<EventPage, Error> {
        self.query_events(org_id, query).await
    }

    async fn find_keys(&self, hashes: &[KeyHash]) -> Result<Vec<Option<KeyRecord>>, Error> {
        self.batch_find_keys(hashes).await
    }
}

impl DynamoStore {
    async fn try_create_key(&self, org_id: &str, key: &NewKey, audit: &Audit) -> Result<(), Error> {
        let uid = audit.actor.member_uid().ok_or(Error::OrgNotFound)?;
        let count = Update::builder()
            .table_name(&self.tables.orgs)
            .set_key(Some(self.org_key(org_id, META.to_owned())))
            .update_expression("SET active_keys = active_keys + :one")
            .condition_expression("api_enabled = :true AND active_keys < :max")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .expression_attribute_values(":max", n(MAX_ACTIVE_KEYS as i64))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(build_error)?;
        let mut tx = Transaction::new();
        tx.push(Step::Membership, self.member_check(org_id, uid)?);
        tx.push(Step::OrgMeta, TransactWriteItem::builder().update(count).build());
        tx.extend(Step::NewKey, self.key_puts(org_id, key)?);
        tx.push(Step::Event, self.event_put(org_id, Some(&key.key_id), &Change::KeyCreated, audit)?);
        let Err(cancelled) = self.transact(tx).await? else { return Ok(()) };
        if cancelled.failed(Step::Membership) {
            return Err(Error::OrgNotFound);
        }
        if let Some(old) = cancelled.old_item(Step::OrgMeta) {
            return Err(if old.is_empty() {
                Error::OrgNotFound
            } else if !matches!(old.get("api_enabled"), Some(AttributeValue::Bool(true))) {
                Error::ApiNotEnabled
            } else {
                Error::KeyLimitReached(MAX_ACTIVE_KEYS)
            });
        }
        Err(Error::Internal(format!("create-key transaction cancelled: {}", cancelled.describe())))
    }
}

impl DynamoStore {
    /// Keys whose display prefix starts with `prefix` (operator CLI only: a full scan, which no
    /// function does and none has the permission for).
    pub async fn scan_keys_by_prefix(&self, prefix: &str) -> Result<Vec<KeyRecord>, Error> {
        let mut found = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .scan()
                .table_name(&self.tables.api_keys)
                .filter_expression("begins_with(prefix, :p)")
                .expression_attribute_values(":p", s(prefix))
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| sdk_error("Scan", e))?;
            for item in out.items.unwrap_or_default() {
                found.push(key_record(&item)?);
            }
            match out.last_evaluated_key {
                Some(last) => start = Some(last),
                None => return Ok(found),
            }
        }
    }

    /// `META` and the owner's `MEMBER#` item of a new org; with `active_keys`, API access is on.
    fn org_puts(&self, org: &NewOrg, active_keys: Option<i64>) -> Result<[TransactWriteItem; 2], Error> {
        let mut meta = self.org_key(&org.org_id, META.to_owned());
        meta.extend([("name".to_owned(), s(&org.name)), ("created_at".to_owned(), s(&org.created_at))]);
        match (active_keys, &org.webhook_secret) {
            (Some(count), Some(secret)) => meta.extend([
                ("api_enabled".to_owned(), AttributeValue::Bool(true)),
                ("api_enabled_at".to_owned(), s(&org.created_at)),
                ("webhook_secret".to_owned(), s(secret)),
                ("active_keys".to_owned(), n(count)),
            ]),
            _ => {
                meta.extend([("api_enabled".to_owned(), AttributeValue::Bool(false)), ("active_keys".to_owned(), n(0))])
            }
        }
        let mut member = self.org_key(&org.org_id, member_sk(&org.owner_uid));
        member.extend([
            ("uid".to_owned(), s(&org.owner_uid)),
            ("role".to_owned(), s("owner")),
            ("created_at".to_owned(), s(&org.created_at)),
        ]);
        Ok([
            put(&self.tables.orgs, meta, "attribute_not_exists(sk)")?,
            put(&self.tables.orgs, member, "attribute_not_exists(sk)")?,
        ])
    }
}
