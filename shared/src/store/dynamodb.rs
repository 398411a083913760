//! The DynamoDB adapter of [`KeyStore`].
//!
//! `ApiKeys` (partition key `key_hash`) serves the hot path; `Orgs` (partition key `org_id`, sort
//! key `sk` = `META` | `MEMBER#<uid>` | `KEY#<key_id>` for an active key | `REVOKED#<key_id>`
//! once revoked) holds everything per org, and one `USER#<uid>`/`ORG_COUNT` item per person
//! counts the orgs they created by signup. Revoking moves a key from `KEY#` to `REVOKED#`, so
//! listing active keys never reads a revoked one. Writes that belong together are one
//! `TransactWriteItems` whose conditions make them all-or-nothing.

use std::collections::HashMap;
use std::fmt::Debug;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, ConditionCheck, Delete, KeysAndAttributes, Put, ReturnConsumedCapacity,
    ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use rand::TryRngCore;

use super::records::{KeyPage, KeyRecord, KeySummary, ListQuery, NewKey, NewOrg};
use super::{KeyStore, MAX_ACTIVE_KEYS};
use crate::api_key::KeyHash;
use crate::clock::rfc3339;
use crate::config::Tables;
use crate::error::Error;

type Item = HashMap<String, AttributeValue>;

/// `last_used_at` is written at most this often per key, so the hot path stays one read.
pub const TOUCH_INTERVAL_SECS: i64 = 60;

/// Transactions on one org's `META` item conflict when keys are created in parallel; DynamoDB
/// cancels them with `TransactionConflict` (or, under load, with a throttling reason) and the SDK
/// does not retry a cancelled transaction, so we do, within the retry budget; the same budget
/// bounds re-reading a batch's unprocessed keys.
const CONFLICT_RETRIES: u32 = 12;

const META: &str = "META";
const ACTIVE: &str = "KEY#";
const REVOKED: &str = "REVOKED#";

/// Most orgs one person (Firebase uid) may create with `POST /signup` + `org_name`.
pub const MAX_ORGS_PER_USER: usize = 10;

#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    tables: Tables,
    retry_budget: Duration,
}

impl DynamoStore {
    pub fn new(client: Client, tables: Tables) -> Self {
        DynamoStore { client, tables, retry_budget: crate::config::DynamoTimeouts::MANAGEMENT.retry_budget }
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
        let key_item = HashMap::from([
            ("key_hash".to_owned(), s(key.hash.as_str())),
            ("key_id".to_owned(), s(&key.key_id)),
            ("org_id".to_owned(), s(org_id)),
            ("name".to_owned(), s(&key.name)),
            ("prefix".to_owned(), s(&key.prefix)),
            ("created_at".to_owned(), s(&key.created_at)),
        ]);
        Ok([
            put(&self.tables.orgs, org_item, "attribute_not_exists(sk)")?,
            put(&self.tables.api_keys, key_item, "attribute_not_exists(key_hash)")?,
        ])
    }

    /// Runs a transaction, retrying conflicts and throttling. `Ok(Err(reasons))` when a condition
    /// failed.
    async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<Result<(), Vec<CancellationReason>>, Error> {
        let send = || self.client.transact_write_items().set_transact_items(Some(items.clone())).send();
        retry_transaction(send, self.retry_budget).await
    }

    /// Up to `want` items of one sort-key run (`KEY#` or `REVOKED#`) after the key id `after`, in
    /// key-id order, and the read capacity the queries consumed.
    async fn query_keys(
        &self,
        org_id: &str,
        prefix: &str,
        after: Option<&str>,
        want: usize,
    ) -> Result<(Vec<Item>, f64), Error> {
        let mut items: Vec<Item> = Vec::new();
        let mut units = 0.0;
        let mut start = after.map(|id| self.org_key(org_id, format!("{prefix}{id}")));
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.tables.orgs)
                .consistent_read(true)
                .key_condition_expression("org_id = :org AND begins_with(sk, :prefix)")
                .expression_attribute_values(":org", s(org_id))
                .expression_attribute_values(":prefix", s(prefix))
                .limit((want - items.len()) as i32)
                .set_exclusive_start_key(start.take())
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await
                .map_err(|e| sdk_error("Query", e))?;
            units += out.consumed_capacity.and_then(|c| c.capacity_units).unwrap_or(0.0);
            items.extend(out.items.unwrap_or_default());
            match out.last_evaluated_key {
                Some(last) if items.len() < want => start = Some(last),
                _ => return Ok((items, units)),
            }
        }
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

    /// `last_used_at` of each hash, read consistently from `ApiKeys`.
    async fn last_used(&self, hashes: Vec<String>) -> Result<(HashMap<String, i64>, f64), Error> {
        let mut found = HashMap::new();
        let mut units = 0.0;
        if hashes.is_empty() {
            return Ok((found, units));
        }
        let keys = hashes.into_iter().map(|h| HashMap::from([("key_hash".to_owned(), AttributeValue::S(h))])).collect();
        let mut request = Some(
            KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .consistent_read(true)
                .projection_expression("key_hash, last_used_at")
                .build()
                .map_err(build_error)?,
        );
        let mut retries = RetryBudget::new(self.retry_budget);
        while let Some(keys) = request.take() {
            let out = self
                .client
                .batch_get_item()
                .request_items(&self.tables.api_keys, keys)
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await
                .map_err(|e| sdk_error("BatchGetItem", e))?;
            units += out.consumed_capacity.unwrap_or_default().iter().filter_map(|c| c.capacity_units).sum::<f64>();
            for item in out.responses.unwrap_or_default().remove(&self.tables.api_keys).unwrap_or_default() {
                if let (Ok(hash), Some(at)) = (get_s(&item, "key_hash"), get_n(&item, "last_used_at")) {
                    found.insert(hash, at);
                }
            }
            request = out.unprocessed_keys.and_then(|mut u| u.remove(&self.tables.api_keys));
            if request.is_some() && !retries.wait().await {
                return Err(Error::Unavailable("BatchGetItem left keys unprocessed".into()));
            }
        }
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

    async fn create_org_with_key(&self, org: &NewOrg, key: &NewKey) -> Result<(), Error> {
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
        let mut items = vec![TransactWriteItem::builder().update(count).build()];
        items.extend(self.org_puts(org, Some(1))?);
        items.extend(self.key_puts(&org.org_id, key)?);
        match self.transact(items).await? {
            Ok(()) => Ok(()),
            Err(reasons) if failed(&reasons, 0) => Err(Error::OrgLimitReached(MAX_ORGS_PER_USER)),
            // 131-bit keys and 143-bit org ids do not collide; if they ever do, nothing was written.
            Err(reasons) => Err(Error::Internal(format!("signup transaction cancelled: {}", describe(&reasons)))),
        }
    }

    async fn enable_api(&self, org_id: &str, uid: &str, webhook_secret: &str, key: &NewKey) -> Result<(), Error> {
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
        let mut items = vec![self.member_check(org_id, uid)?, TransactWriteItem::builder().update(enable).build()];
        items.extend(self.key_puts(org_id, key)?);
        let Err(reasons) = self.transact(items).await? else { return Ok(()) };
        if failed(&reasons, 0) {
            return Err(Error::OrgNotFound);
        }
        if failed(&reasons, 1) {
            // The old META item tells "no such org" from "already enabled".
            let exists = reasons[1].item().is_some_and(|item| !item.is_empty());
            return Err(if exists { Error::ApiAlreadyEnabled } else { Error::OrgNotFound });
        }
        Err(Error::Internal(format!("enable-api transaction cancelled: {}", describe(&reasons))))
    }

    async fn create_org(&self, org: &NewOrg) -> Result<(), Error> {
        match self.transact(self.org_puts(org, None)?.to_vec()).await? {
            Ok(()) => Ok(()),
            Err(reasons) => Err(Error::Internal(format!("create-org transaction cancelled: {}", describe(&reasons)))),
        }
    }

    async fn is_member(&self, org_id: &str, uid: &str) -> Result<bool, Error> {
        Ok(self.get_org_item(org_id, member_sk(uid)).await?.is_some())
    }

    async fn create_key(&self, org_id: &str, uid: &str, key: &NewKey) -> Result<(), Error> {
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
        let mut items = vec![self.member_check(org_id, uid)?, TransactWriteItem::builder().update(count).build()];
        items.extend(self.key_puts(org_id, key)?);
        let Err(reasons) = self.transact(items).await? else { return Ok(()) };
        if failed(&reasons, 0) {
            return Err(Error::OrgNotFound);
        }
        if failed(&reasons, 1) {
            let old = reasons[1].item().cloned().unwrap_or_default();
            return Err(if old.is_empty() {
                Error::OrgNotFound
            } else if !matches!(old.get("api_enabled"), Some(AttributeValue::Bool(true))) {
                Error::ApiNotEnabled
            } else {
                Error::KeyLimitReached(MAX_ACTIVE_KEYS)
            });
        }
        Err(Error::Internal(format!("create-key transaction cancelled: {}", describe(&reasons))))
    }

    async fn list_keys(&self, org_id: &str, query: &ListQuery) -> Result<KeyPage, Error> {
        let want = query.limit + 1;
        let cursor = query.cursor.as_deref();
        let (mut items, mut read_units) = self.query_keys(org_id, ACTIVE, cursor, want).await?;
        if query.include_revoked {
            // Two sorted runs (active, revoked), merged in creation order (key ids sort by time).
            let (revoked, units) = self.query_keys(org_id, REVOKED, cursor, want).await?;
            read_units += units;
            items.extend(revoked);
            items.sort_by_key(|item| get_s(item, "key_id").ok());
        }
        let has_more = items.len() > query.limit;
        items.truncate(query.limit);
        let (last_used, units) =
            self.last_used(items.iter().filter_map(|i| get_s(i, "key_hash").ok()).collect()).await?;
        read_units += units;
        let data = items
            .iter()
            .map(|item| {
                let hash = get_s(item, "key_hash")?;
                Ok(KeySummary {
                    id: get_s(item, "key_id")?,
                    name: get_s(item, "name")?,
                    prefix: get_s(item, "prefix")?,
                    created_at: get_s(item, "created_at")?,
                    last_used_at: last_used.get(&hash).map(|&t| rfc3339(t)),
                    revoked_at: get_s(item, "revoked_at").ok(),
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let next_cursor = if has_more { data.last().map(|k| k.id.clone()) } else { None };
        Ok(KeyPage { data, next_cursor, read_units })
    }

    async fn revoke_key(&self, org_id: &str, uid: Option<&str>, key_id: &str, now: &str) -> Result<(), Error> {
        let Some(item) = self.get_org_item(org_id, key_sk(key_id)).await? else {
            // Revoking is idempotent: a key already moved to REVOKED# is done.
            return match self.get_org_item(org_id, revoked_sk(key_id)).await? {
                Some(_) => Ok(()),
                None => Err(Error::KeyNotFound),
            };
        };
        let hash = get_s(&item, "key_hash")?;
        // The active item leaves KEY#, the same item (with revoked_at) appears under REVOKED#.
        let remove_active = Delete::builder()
            .table_name(&self.tables.orgs)
            .set_key(Some(self.org_key(org_id, key_sk(key_id))))
            .condition_expression("attribute_exists(sk)")
            .build()
            .map_err(build_error)?;
        let mut revoked_item = item.clone();
        revoked_item.insert("sk".to_owned(), AttributeValue::S(revoked_sk(key_id)));
        revoked_item.insert("revoked_at".to_owned(), s(now));
        // The org condition is what stops a revoke through another org.
        let mark_key = Update::builder()
            .table_name(&self.tables.api_keys)
            .key("key_hash", s(&hash))
            .update_expression("SET revoked_at = :now")
            .condition_expression("org_id = :org AND key_id = :key")
            .expression_attribute_values(":now", s(now))
            .expression_attribute_values(":org", s(org_id))
            .expression_attribute_values(":key", s(key_id))
            .build()
            .map_err(build_error)?;
        let count = Update::builder()
            .table_name(&self.tables.orgs)
            .set_key(Some(self.org_key(org_id, META.to_owned())))
            .update_expression("SET active_keys = active_keys - :one")
            .condition_expression("attribute_exists(sk)")
            .expression_attribute_values(":one", n(1))
            .build()
            .map_err(build_error)?;
        let mut items = Vec::with_capacity(5);
        if let Some(uid) = uid {
            items.push(self.member_check(org_id, uid)?);
        }
        let first = items.len();
        items.extend([
            TransactWriteItem::builder().delete(remove_active).build(),
            put(&self.tables.orgs, revoked_item, "attribute_not_exists(sk)")?,
            TransactWriteItem::builder().update(mark_key).build(),
            TransactWriteItem::builder().update(count).build(),
        ]);
        let Err(reasons) = self.transact(items).await? else { return Ok(()) };
        if first == 1 && failed(&reasons, 0) {
            return Err(Error::OrgNotFound);
        }
        if failed(&reasons, first) || failed(&reasons, first + 1) {
            // Revoked by a concurrent call in the meantime: revoking is idempotent.
            return Ok(());
        }
        if failed(&reasons, first + 2) {
            return Err(Error::KeyNotFound);
        }
        Err(Error::Internal(format!("revoke transaction cancelled: {}", describe(&reasons))))
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

fn key_record(item: &Item) -> Result<KeyRecord, Error> {
    Ok(KeyRecord {
        key_id: get_s(item, "key_id")?,
        org_id: get_s(item, "org_id")?,
        name: get_s(item, "name")?,
        prefix: get_s(item, "prefix")?,
        created_at: get_s(item, "created_at")?,
        revoked_at: get_s(item, "revoked_at").ok(),
        last_used_at: get_n(item, "last_used_at"),
    })
}

fn member_sk(uid: &str) -> String {
    format!("MEMBER#{uid}")
}

fn key_sk(key_id: &str) -> String {
    format!("{ACTIVE}{key_id}")
}

fn revoked_sk(key_id: &str) -> String {
    format!("{REVOKED}{key_id}")
}

/// The partition of one person's own items (their org count); never a valid org id.
fn user_pk(uid: &str) -> String {
    format!("USER#{uid}")
}

fn put(table: &str, item: Item, condition: &str) -> Result<TransactWriteItem, Error> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression(condition)
        .build()
        .map_err(build_error)?;
    Ok(TransactWriteItem::builder().put(put).build())
}

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn get_s(item: &Item, name: &str) -> Result<String, Error> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Ok(v.clone()),
        _ => Err(Error::Internal(format!("item lacks string attribute {name}"))),
    }
}

fn get_n(item: &Item, name: &str) -> Option<i64> {
    match item.get(name) {
        Some(AttributeValue::N(v)) => v.parse().ok(),
        _ => None,
    }
}

/// Why DynamoDB cancelled a transaction, from its cancellation reasons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cancellation {
    /// Another transaction touched the same item: retry.
    Conflict,
    /// Throttled (`ThrottlingError`, `ProvisionedThroughputExceeded`, `RequestLimitExceeded`):
    /// retry with backoff, then 503. Never a failed condition.
    Throttled,
    /// A condition failed (or a validation error): the caller interprets the reasons.
    Conditions,
}

pub(crate) fn classify(reasons: &[CancellationReason]) -> Cancellation {
    let codes = || reasons.iter().filter_map(|r| r.code());
    if codes().any(|c| matches!(c, "ThrottlingError" | "ProvisionedThroughputExceeded" | "RequestLimitExceeded")) {
        Cancellation::Throttled
    } else if codes().any(|c| c == "TransactionConflict") {
        Cancellation::Conflict
    } else {
        Cancellation::Conditions
    }
}

/// Sends a transaction until it succeeds, a condition fails, or conflicts and throttling outlast
/// `budget` (jittered backoff between attempts) — then `Unavailable` (503).
pub(crate) async fn retry_transaction<F, Fut, O, R>(
    mut send: F,
    budget: Duration,
) -> Result<Result<(), Vec<CancellationReason>>, Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<O, SdkError<TransactWriteItemsError, R>>>,
    R: Debug,
{
    let mut retries = RetryBudget::new(budget);
    loop {
        let err = match send().await {
            Ok(_) => return Ok(Ok(())),
            Err(err) => err,
        };
        if let SdkError::ServiceError(service) = &err
            && let TransactWriteItemsError::TransactionCanceledException(cancelled) = service.err()
        {
            let reasons = cancelled.cancellation_reasons().to_vec();
            let why = classify(&reasons);
            if why == Cancellation::Conditions {
                return Ok(Err(reasons));
            }
            if !retries.wait().await {
                let attempts = retries.attempt;
                return Err(Error::Unavailable(format!("transaction cancelled ({why:?}) after {attempts} attempts")));
            }
            continue;
        }
        return Err(sdk_error("TransactWriteItems", err));
    }
}

fn failed(reasons: &[CancellationReason], index: usize) -> bool {
    reasons.get(index).and_then(|r| r.code()) == Some("ConditionalCheckFailed")
}

fn describe(reasons: &[CancellationReason]) -> String {
    reasons.iter().map(|r| r.code().unwrap_or("?")).collect::<Vec<_>>().join(",")
}

/// Our own retries (cancelled transactions, unprocessed batch keys): jittered exponential backoff
/// for at most `CONFLICT_RETRIES` attempts and never past the function's retry budget.
struct RetryBudget {
    started: tokio::time::Instant,
    budget: Duration,
    attempt: u32,
}

impl RetryBudget {
    fn new(budget: Duration) -> Self {
        RetryBudget { started: tokio::time::Instant::now(), budget, attempt: 0 }
    }

    /// Sleeps before the next attempt, or `false` when the attempts or the budget are spent.
    async fn wait(&mut self) -> bool {
        self.attempt += 1;
        let pause = backoff(self.attempt);
        if self.attempt > CONFLICT_RETRIES || self.started.elapsed() + pause > self.budget {
            return false;
        }
        tokio::time::sleep(pause).await;
        true
    }
}

/// Jittered exponential backoff: 10 ms, 20 ms, … capped at 500 ms.
fn backoff(attempt: u32) -> Duration {
    let base = 10u64.saturating_mul(1 << attempt.min(6)).min(500);
    let jitter = u64::from(rand::rngs::OsRng.try_next_u32().unwrap_or(0)) % base.max(1);
    Duration::from_millis(base / 2 + jitter / 2)
}

fn build_error(err: aws_sdk_dynamodb::error::BuildError) -> Error {
    Error::Internal(format!("request build: {err}"))
}

/// Throttling, timeouts and unreachable endpoints are `Unavailable` (503; the authorizer fails
/// closed); anything else is `Internal`.
pub(crate) fn sdk_error<E, R>(operation: &str, err: SdkError<E, R>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: Debug,
{
    let unavailable = match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => true,
        SdkError::ServiceError(service) => {
            matches!(
                service.err().code(),
                Some(
                    "ProvisionedThroughputExceededException"
                        | "ThrottlingException"
                        | "RequestLimitExceeded"
                        | "InternalServerError"
                        | "ServiceUnavailable"
                )
            )
        }
        _ => false,
    };
    let detail = format!("{operation}: {}", DisplayErrorContext(&err));
    if unavailable { Error::Unavailable(detail) } else { Error::Internal(detail) }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use aws_sdk_dynamodb::operation::get_item::GetItemError;
    use aws_sdk_dynamodb::types::error::{
        ProvisionedThroughputExceededException, ResourceNotFoundException, TransactionCanceledException,
    };

    use super::*;

    fn reason(code: &str) -> CancellationReason {
        CancellationReason::builder().code(code).build()
    }

    /// A cancelled transaction as the SDK surfaces it, its reasons in item order.
    fn cancelled(codes: &[&str]) -> SdkError<TransactWriteItemsError, ()> {
        let exception = TransactionCanceledException::builder()
            .set_cancellation_reasons(Some(codes.iter().map(|c| reason(c)).collect()))
            .build();
        SdkError::service_error(TransactWriteItemsError::TransactionCanceledException(exception), ())
    }

    #[test]
    fn cancellation_reasons_are_classified() {
        let of = |codes: &[&str]| classify(&codes.iter().map(|c| reason(c)).collect::<Vec<_>>());
        assert_eq!(of(&["None", "ThrottlingError"]), Cancellation::Throttled);
        assert_eq!(of(&["ProvisionedThroughputExceeded", "None"]), Cancellation::Throttled);
        assert_eq!(of(&["RequestLimitExceeded"]), Cancellation::Throttled);
        // Throttling wins over a failed condition: the condition may not even have been evaluated.
        assert_eq!(of(&["ConditionalCheckFailed", "ThrottlingError"]), Cancellation::Throttled);
        assert_eq!(of(&["TransactionConflict", "None"]), Cancellation::Conflict);
        assert_eq!(of(&["ConditionalCheckFailed", "None"]), Cancellation::Conditions);
        assert_eq!(of(&["None", "ValidationError"]), Cancellation::Conditions);
    }

    #[tokio::test(start_paused = true)]
    async fn throttled_transactions_are_retried_then_answered_503() {
        let attempts = Cell::new(0);
        let send = || {
            attempts.set(attempts.get() + 1);
            async { Err::<(), _>(cancelled(&["None", "ThrottlingError"])) }
        };
        let err = retry_transaction(send, Duration::from_secs(3)).await.unwrap_err();
        assert_eq!((err.status(), err.code()), (503, "service_unavailable"));
        assert!(attempts.get() > 3, "retried: {} attempts", attempts.get());

        // Throttled twice, then through: the caller sees success.
        let attempts = Cell::new(0);
        let send = || {
            attempts.set(attempts.get() + 1);
            let n = attempts.get();
            async move { if n < 3 { Err(cancelled(&["ProvisionedThroughputExceeded"])) } else { Ok(()) } }
        };
        assert!(matches!(retry_transaction(send, Duration::from_secs(3)).await, Ok(Ok(()))));
        assert_eq!(attempts.get(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn retries_stop_within_the_budget() {
        let started = tokio::time::Instant::now();
        let send = || async { Err::<(), _>(cancelled(&["TransactionConflict"])) };
        let err = retry_transaction(send, Duration::from_millis(300)).await.unwrap_err();
        assert_eq!(err.code(), "service_unavailable");
        assert!(started.elapsed() <= Duration::from_millis(300), "{:?}", started.elapsed());
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_condition_is_returned_at_once_not_retried() {
        let attempts = Cell::new(0);
        let send = || {
            attempts.set(attempts.get() + 1);
            async { Err::<(), _>(cancelled(&["ConditionalCheckFailed", "None"])) }
        };
        let reasons = retry_transaction(send, Duration::from_secs(3)).await.unwrap().unwrap_err();
        assert_eq!(attempts.get(), 1);
        assert!(failed(&reasons, 0) && !failed(&reasons, 1));
    }

    #[test]
    fn sdk_errors_map_to_503_or_500() {
        // As the SDK parses DynamoDB's answer: the exception with its error code in the metadata.
        let meta =
            aws_sdk_dynamodb::error::ErrorMetadata::builder().code("ProvisionedThroughputExceededException").build();
        let throttled = GetItemError::ProvisionedThroughputExceededException(
            ProvisionedThroughputExceededException::builder().message("slow down").meta(meta).build(),
        );
        let err = sdk_error("GetItem", SdkError::<GetItemError, ()>::service_error(throttled, ()));
        assert_eq!(err.status(), 503);
        let timeout = sdk_error("GetItem", SdkError::<GetItemError, ()>::timeout_error("operation timeout"));
        assert_eq!(timeout.status(), 503);
        let missing = GetItemError::ResourceNotFoundException(ResourceNotFoundException::builder().build());
        let other = sdk_error("GetItem", SdkError::<GetItemError, ()>::service_error(missing, ()));
        assert_eq!(other.status(), 500);
    }
}
