//! The DynamoDB adapter of [`KeyStore`].
//!
//! `ApiKeys` (partition key `key_hash`) serves the hot path; `Orgs` (partition key `org_id`, sort
//! key `sk` = `META` | `MEMBER#<uid>` | `KEY#<key_id>`) holds everything per org. Writes that
//! belong together are one `TransactWriteItems` whose conditions make them all-or-nothing.

use std::collections::HashMap;
use std::fmt::Debug;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, ConditionCheck, KeysAndAttributes, Put, ReturnValuesOnConditionCheckFailure,
    TransactWriteItem, Update,
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
/// cancels them with `TransactionConflict` and the SDK does not retry that, so we do.
const CONFLICT_RETRIES: u32 = 12;

const META: &str = "META";

#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    tables: Tables,
}

impl DynamoStore {
    pub fn new(client: Client, tables: Tables) -> Self {
        DynamoStore { client, tables }
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

    /// Runs a transaction, retrying conflicts. `Ok(Err(reasons))` when a condition failed.
    async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<Result<(), Vec<CancellationReason>>, Error> {
        let mut attempt = 0;
        loop {
            let result = self.client.transact_write_items().set_transact_items(Some(items.clone())).send().await;
            let err = match result {
                Ok(_) => return Ok(Ok(())),
                Err(err) => err,
            };
            if let SdkError::ServiceError(service) = &err
                && let TransactWriteItemsError::TransactionCanceledException(cancelled) = service.err()
            {
                let reasons = cancelled.cancellation_reasons().to_vec();
                let conflict = reasons.iter().any(|r| r.code() == Some("TransactionConflict"));
                if !conflict {
                    return Ok(Err(reasons));
                }
                if attempt < CONFLICT_RETRIES {
                    attempt += 1;
                    tokio::time::sleep(backoff(attempt)).await;
                    continue;
                }
                return Err(Error::Unavailable("transaction conflicts persisted after retries".into()));
            }
            return Err(sdk_error("TransactWriteItems", err));
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
    async fn last_used(&self, hashes: Vec<String>) -> Result<HashMap<String, i64>, Error> {
        let mut found = HashMap::new();
        if hashes.is_empty() {
            return Ok(found);
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
        let mut attempt = 0;
        while let Some(keys) = request.take() {
            let out = self
                .client
                .batch_get_item()
                .request_items(&self.tables.api_keys, keys)
                .send()
                .await
                .map_err(|e| sdk_error("BatchGetItem", e))?;
            for item in out.responses.unwrap_or_default().remove(&self.tables.api_keys).unwrap_or_default() {
                if let (Ok(hash), Some(at)) = (get_s(&item, "key_hash"), get_n(&item, "last_used_at")) {
                    found.insert(hash, at);
                }
            }
            request = out.unprocessed_keys.and_then(|mut u| u.remove(&self.tables.api_keys));
            if request.is_some() {
                attempt += 1;
                if attempt > CONFLICT_RETRIES {
                    return Err(Error::Unavailable("BatchGetItem left keys unprocessed".into()));
                }
                tokio::time::sleep(backoff(attempt)).await;
            }
        }
        Ok(found)
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
        let mut items = self.org_puts(org, Some(1))?.to_vec();
        items.extend(self.key_puts(&org.org_id, key)?);
        match self.transact(items).await? {
            Ok(()) => Ok(()),
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
        let mut items: Vec<Item> = Vec::new();
        let mut start = query.cursor.as_deref().map(|c| self.org_key(org_id, key_sk(c)));
        loop {
            let mut request = self
                .client
                .query()
                .table_name(&self.tables.orgs)
                .consistent_read(true)
                .key_condition_expression("org_id = :org AND begins_with(sk, :key)")
                .expression_attribute_values(":org", s(org_id))
                .expression_attribute_values(":key", s("KEY#"))
                .limit((query.limit + 1) as i32)
                .set_exclusive_start_key(start.take());
            if !query.include_revoked {
                request = request.filter_expression("attribute_not_exists(revoked_at)");
            }
            let out = request.send().await.map_err(|e| sdk_error("Query", e))?;
            items.extend(out.items.unwrap_or_default());
            match out.last_evaluated_key {
                Some(last) if items.len() <= query.limit => start = Some(last),
                _ => break,
            }
        }
        let has_more = items.len() > query.limit;
        items.truncate(query.limit);
        let last_used = self.last_used(items.iter().filter_map(|i| get_s(i, "key_hash").ok()).collect()).await?;
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
        Ok(KeyPage { data, next_cursor })
    }

    async fn revoke_key(&self, org_id: &str, uid: Option<&str>, key_id: &str, now: &str) -> Result<(), Error> {
        let Some(item) = self.get_org_item(org_id, key_sk(key_id)).await? else {
            return Err(Error::KeyNotFound);
        };
        if item.contains_key("revoked_at") {
            return Ok(());
        }
        let hash = get_s(&item, "key_hash")?;
        let mark_org_item = Update::builder()
            .table_name(&self.tables.orgs)
            .set_key(Some(self.org_key(org_id, key_sk(key_id))))
            .update_expression("SET revoked_at = :now")
            .condition_expression("attribute_exists(sk) AND attribute_not_exists(revoked_at)")
            .expression_attribute_values(":now", s(now))
            .build()
            .map_err(build_error)?;
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
        let mut items = Vec::with_capacity(4);
        if let Some(uid) = uid {
            items.push(self.member_check(org_id, uid)?);
        }
        let first = items.len();
        items.extend([
            TransactWriteItem::builder().update(mark_org_item).build(),
            TransactWriteItem::builder().update(mark_key).build(),
            TransactWriteItem::builder().update(count).build(),
        ]);
        let Err(reasons) = self.transact(items).await? else { return Ok(()) };
        if first == 1 && failed(&reasons, 0) {
            return Err(Error::OrgNotFound);
        }
        if failed(&reasons, first) {
            // Revoked by a concurrent call in the meantime: revoking is idempotent.
            return Ok(());
        }
        if failed(&reasons, first + 1) {
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
    format!("KEY#{key_id}")
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

fn failed(reasons: &[CancellationReason], index: usize) -> bool {
    reasons.get(index).and_then(|r| r.code()) == Some("ConditionalCheckFailed")
}

fn describe(reasons: &[CancellationReason]) -> String {
    reasons.iter().map(|r| r.code().unwrap_or("?")).collect::<Vec<_>>().join(",")
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
