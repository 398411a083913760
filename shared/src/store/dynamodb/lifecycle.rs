//! A key's life after creation: listing, revoking, rolling, renaming, and moving expired keys out
//! of the active run so they stop counting toward the 100-key limit.
//!
//! The count rule: `META.active_keys` is the number of `KEY#` items without `released`. A roll
//! releases the old key (it ends at its grace period) and adds the new one, so a roll leaves the
//! count as it is and never meets the limit. An expired key still counts until `retire_expired`
//! moves it to `REVOKED#`: a create that meets the limit does so first, and so does a listing that
//! met an expired key, so expired keys stop counting the moment a create needs their room.
//!
//! The grace rule: `META.grace_keys` is the number of `KEY#` items with `released` (rolled, in
//! or past their grace period, not yet moved out). A roll with grace adds one, conditioned on
//! fewer than `MAX_GRACE_KEYS`; a revoke of a released key and the move of expired released keys
//! take theirs off. A roll that meets the limit moves expired keys first and tries once more.

use aws_sdk_dynamodb::types::{AttributeValue, Delete, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update};

use super::DynamoStore;
use super::items::{
    ACTIVE, GRACE_COUNTED, Item, META, RELEASED, REVOKED, counts, get_n, get_s, grace_counted, key_sk, key_summary, n,
    put, revoked_sk, s,
};
use super::retry::build_error;
use super::transaction::{Step, Transaction};
use crate::audit::{Audit, Change, RevokedReason};
use crate::clock::rfc3339;
use crate::error::Error;
use crate::store::MAX_GRACE_KEYS;
use crate::store::records::{KeyPage, KeySummary, ListQuery, NewKey, Rolled};

/// How often a revoke, roll or rename re-reads the key when it changed between the read and the
/// transaction (a concurrent call); past that, 503.
const CHANGED_RETRIES: usize = 3;

/// Expired keys moved per transaction (two items each, plus the count: within DynamoDB's limit).
const RETIRE_CHUNK: usize = 12;

/// Items of the active run read per page when moving expired keys out of it (a full run, 100
/// active and 100 in grace, is two pages), and the most pages read: room for eight full runs.
const RETIRE_PAGE_ITEMS: i32 = 100;
const RETIRE_MAX_PAGES: usize = 16;

impl DynamoStore {
    pub(super) async fn list_keys_at(&self, org_id: &str, query: &ListQuery, now: i64) -> Result<KeyPage, Error> {
        let want = query.limit + 1;
        let cursor = query.cursor.as_deref();
        // The default listing leaves expired keys out on the server side (they still cost reads,
        // once: a listing that met one moves them out of the active run).
        let live_only = (!query.include_revoked).then_some(now);
        let (mut items, mut read_units, skipped) = self.query_keys(org_id, ACTIVE, cursor, want, live_only).await?;
        if query.include_revoked {
            // Two sorted runs (active, ended), merged in creation order (key ids sort by time).
            let (mut ended, units, _) = self.query_keys(org_id, REVOKED, cursor, want, None).await?;
            read_units += units;
            // A key that ended between the two reads is in both: its ended copy (read second) is
            // the newer, and the only one listed. The stable sort keeps it ahead of the active copy.
            ended.append(&mut items);
            items = ended;
            items.sort_by_key(|item| get_s(item, "key_id").ok());
            items.dedup_by(|later, first| get_s(later, "key_id").ok() == get_s(first, "key_id").ok());
        }
        let has_more = items.len() > query.limit;
        items.truncate(query.limit);
        let hashes: Vec<String> = items.iter().filter_map(|i| get_s(i, "key_hash").ok()).collect();
        let (last_used, units) = self.last_used(&hashes.iter().map(String::as_str).collect::<Vec<_>>()).await?;
        read_units += units;
        let data = items
            .iter()
            .map(|item| {
                let hash = get_s(item, "key_hash")?;
                key_summary(item, last_used.get(&hash).copied(), now)
            })
            .collect::<Result<Vec<_>, Error>>()?;
        if skipped > 0 {
            // Housekeeping never fails a listing.
            if let Err(err) = self.retire_expired(org_id, now).await {
                tracing::warn!(org_id, error = %err, "could not move expired keys out of the active run");
            }
        }
        let next_cursor = if has_more { data.last().map(|k| k.id.clone()) } else { None };
        Ok(KeyPage { data, next_cursor, read_units })
    }

    /// Moves the org's expired `KEY#` items to `REVOKED#` (no `revoked_at`: they read as
    /// `expired`) and takes the counted ones off `active_keys`. Returns how many it moved.
    pub(super) async fn retire_expired(&self, org_id: &str, now: i64) -> Result<usize, Error> {
        // Every page: the active run holds at most MAX_ACTIVE_KEYS + MAX_GRACE_KEYS items, so a
        // few pages at most; the bound only guards against a run that somehow grew past that.
        let mut expired = Vec::new();
        let mut start = None;
        for _ in 0..RETIRE_MAX_PAGES {
            let out = self
                .run_query(org_id, ACTIVE)
                .filter_expression("expires_at <= :now")
                .expression_attribute_values(":now", n(now))
                .limit(RETIRE_PAGE_ITEMS)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| super::retry::sdk_error("Query", e))?;
            expired.extend(out.items.unwrap_or_default());
            start = out.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        let mut moved = 0;
        for chunk in expired.chunks(RETIRE_CHUNK) {
            let mut tx = Transaction::new();
            let (mut counted, mut released) = (0, 0);
            for item in chunk {
                let key_id = get_s(item, "key_id")?;
                let expires_at = get_n(item, "expires_at").unwrap_or(now);
                counted += i64::from(counts(item));
                released += i64::from(grace_counted(item));
                // Unchanged since the read: still there, same end, same counting.
                let condition = if counts(item) {
                    "attribute_exists(sk) AND expires_at = :exp AND #name = :name AND attribute_not_exists(released)"
                } else {
                    "attribute_exists(sk) AND expires_at = :exp AND #name = :name AND attribute_exists(released)"
                };
                let remove = Delete::builder()
                    .table_name(&self.tables.orgs)
                    .set_key(Some(self.org_key(org_id, key_sk(&key_id))))
                    .condition_expression(condition)
                    .expression_attribute_names("#name", "name")
                    .expression_attribute_values(":name", s(&get_s(item, "name")?))
                    .expression_attribute_values(":exp", n(expires_at))
                    .build()
                    .map_err(build_error)?;
                let mut ended = item.clone();
                ended.insert("sk".to_owned(), AttributeValue::S(revoked_sk(&key_id)));
                ended.remove(RELEASED);
                ended.remove(GRACE_COUNTED);
                tx.push(Step::OrgKey, TransactWriteItem::builder().delete(remove).build());
                tx.push(Step::EndedCopy, put(&self.tables.orgs, ended, "attribute_not_exists(sk)")?);
            }
            // Released keys (rolled) were off the active count already: they come off the grace
            // count instead.
            tx.push(Step::OrgMeta, self.count_change(org_id, -counted, -released)?);
            match self.transact(tx).await? {
                Ok(()) => moved += chunk.len(),
                // A concurrent revoke or retirement got there first; the next one finishes.
                Err(cancelled) => {
                    tracing::info!(org_id, reasons = %cancelled.describe(), "expired keys changed meanwhile")
                }
            }
        }
        Ok(moved)
    }

    /// `active_keys` += `active` and `grace_keys` += `grace` on the org's `META` item (an org from
    /// before the grace count starts it at 0).
    pub(super) fn count_change(&self, org_id: &str, active: i64, grace: i64) -> Result<TransactWriteItem, Error> {
        let mut update = Update::builder()
            .table_name(&self.tables.orgs)
            .set_key(Some(self.org_key(org_id, META.to_owned())))
            .condition_expression("attribute_exists(sk)")
            .expression_attribute_values(":delta", n(active));
        update = if grace == 0 {
            update.update_expression("SET active_keys = active_keys + :delta")
        } else {
            update
                .update_expression(
                    "SET active_keys = active_keys + :delta, grace_keys = if_not_exists(grace_keys, :zero) + :grace",
                )
                .expression_attribute_values(":grace", n(grace))
                .expression_attribute_values(":zero", n(0))
        };
        Ok(TransactWriteItem::builder().update(update.build().map_err(build_error)?).build())
    }

    /// One more key in a grace period, unless the org has `MAX_GRACE_KEYS` already.
    fn grace_key_added(&self, org_id: &str) -> Result<TransactWriteItem, Error> {
        let update = Update::builder()
            .table_name(&self.tables.orgs)
            .set_key(Some(self.org_key(org_id, META.to_owned())))
            .update_expression("SET grace_keys = if_not_exists(grace_keys, :zero) + :one")
            .condition_expression("attribute_exists(sk) AND (attribute_not_exists(grace_keys) OR grace_keys < :max)")
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":max", n(MAX_GRACE_KEYS as i64))
            .build()
            .map_err(build_error)?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// The key's `KEY#` item, or else whether it ended (`REVOKED#`): `Err(KeyNotFound)` when
    /// neither exists.
    async fn key_item(&self, org_id: &str, key_id: &str) -> Result<Result<Item, Item>, Error> {
        if let Some(item) = self.get_org_item(org_id, key_sk(key_id)).await? {
            return Ok(Ok(item));
        }
        match self.get_org_item(org_id, revoked_sk(key_id)).await? {
            Some(ended) => Ok(Err(ended)),
            None => Err(Error::KeyNotFound),
        }
    }

    /// `Ok(true)` when this call revoked the key, `Ok(false)` when it had already ended.
    pub(super) async fn revoke(
        &self,
        org_id: &str,
        key_id: &str,
        change: &Change,
        audit: &Audit,
    ) -> Result<bool, Error> {
        let (reason, leak) = match change {
            Change::KeyRevoked { reason } => (*reason, None),
            Change::KeyLeaked { url, source } => (RevokedReason::Leaked, Some((url, source))),
            other => return Err(Error::Internal(format!("not a revocation: {}", other.event_type()))),
        };
        let now = rfc3339(audit.at);
        for _ in 0..CHANGED_RETRIES {
            // Revoking is idempotent: a key that already ended — revoked, or expired even if not
            // yet moved out of the active run — is done, and nothing is written.
            let Ok(item) = self.key_item(org_id, key_id).await? else { return Ok(false) };
            if get_n(&item, "expires_at").is_some_and(|at| at <= audit.at) {
                return Ok(false);
            }
            let hash = get_s(&item, "key_hash")?;
            // The copy below must be of the item as it is: unchanged name (a concurrent rename)
            // and counting (a concurrent roll), else read it again.
            let condition = if counts(&item) {
                "attribute_exists(sk) AND #name = :name AND attribute_not_exists(released)"
            } else {
                "attribute_exists(sk) AND #name = :name AND attribute_exists(released)"
            };
            let remove_active = Delete::builder()
                .table_name(&self.tables.orgs)
                .set_key(Some(self.org_key(org_id, key_sk(key_id))))
                .condition_expression(condition)
                .expression_attribute_names("#name", "name")
                .expression_attribute_values(":name", s(&get_s(&item, "name")?))
                .build()
                .map_err(build_error)?;
            let mut ended = item.clone();
            ended.insert("sk".to_owned(), AttributeValue::S(revoked_sk(key_id)));
            ended.remove(RELEASED);
            ended.remove(GRACE_COUNTED);
            ended.insert("revoked_at".to_owned(), s(&now));
            ended.insert("revoked_reason".to_owned(), s(reason.as_str()));
            // The org condition is what stops a revoke through another org.
            let mut mark = Update::builder()
                .table_name(&self.tables.api_keys)
                .key("key_hash", s(&hash))
                .condition_expression("org_id = :org AND key_id = :key")
                .expression_attribute_values(":now", s(&now))
                .expression_attribute_values(":reason", s(reason.as_str()))
                .expression_attribute_values(":org", s(org_id))
                .expression_attribute_values(":key", s(key_id));
            let mut set = "SET revoked_at = :now, revoked_reason = :reason".to_owned();
            if let Some((url, source)) = leak {
                for (name, value) in [("leaked_url", url), ("leaked_source", source)] {
                    if let Some(value) = value {
                        set.push_str(&format!(", {name} = :{name}"));
                        mark = mark.expression_attribute_values(format!(":{name}"), s(value));
                    }
                }
            }
            let mark = mark.update_expression(set).build().map_err(build_error)?;
            let mut tx = Transaction::new();
            if let Some(uid) = audit.actor.member_uid() {
                tx.push(Step::Membership, self.member_check(org_id, uid)?);
            }
            tx.push(Step::OrgKey, TransactWriteItem::builder().delete(remove_active).build());
            tx.push(Step::EndedCopy, put(&self.tables.orgs, ended, "attribute_not_exists(sk)")?);
            tx.push(Step::KeyRecord, TransactWriteItem::builder().update(mark).build());
            tx.push(Step::Event, self.event_put(org_id, Some(key_id), change, audit)?);
            // A counted key leaves the active count; a released one (in its grace period) the
            // grace count, if it is in it (not one released before the count existed).
            if counts(&item) {
                tx.push(Step::OrgMeta, self.count_change(org_id, -1, 0)?);
            } else if grace_counted(&item) {
                tx.push(Step::GraceCount, self.count_change(org_id, 0, -1)?);
            }
            let Err(cancelled) = self.transact(tx).await? else { return Ok(true) };
            if cancelled.failed(Step::Membership) {
                return Err(Error::OrgNotFound);
            }
            // The ApiKeys item names another org (or key): not this org's key.
            if cancelled.failed(Step::KeyRecord) {
                return Err(Error::KeyNotFound);
            }
            if !(cancelled.failed(Step::OrgKey) || cancelled.failed(Step::EndedCopy)) {
                return Err(Error::Internal(format!("revoke transaction cancelled: {}", cancelled.describe())));
            }
            // Changed meanwhile (revoked, rolled or retired by another call): read it again.
        }
        Err(Error::Unavailable(format!("key {key_id} kept changing during revoke")))
    }

    pub(super) async fn roll(
        &self,
        org_id: &str,
        key_id: &str,
        new: &NewKey,
        keep_name: bool,
        grace_seconds: i64,
        audit: &Audit,
    ) -> Result<Rolled, Error> {
        match self.try_roll(org_id, key_id, new, keep_name, grace_seconds, audit).await {
            // Keys whose grace period ended still count until they are moved out of the active
            // run: move them and try once more.
            Err(Error::GraceLimitReached(max)) => {
                if self.retire_expired(org_id, audit.at).await? == 0 {
                    return Err(Error::GraceLimitReached(max));
                }
                self.try_roll(org_id, key_id, new, keep_name, grace_seconds, audit).await
            }
            other => other,
        }
    }

    async fn try_roll(
        &self,
        org_id: &str,
        key_id: &str,
        new: &NewKey,
        keep_name: bool,
        grace_seconds: i64,
        audit: &Audit,
    ) -> Result<Rolled, Error> {
        let now = audit.at;
        let mut new = new.clone();
        for _ in 0..CHANGED_RETRIES {
            let item = match self.key_item(org_id, key_id).await? {
                Ok(item) => item,
                Err(ended) if ended.contains_key("rolled_to") => return Err(Error::KeyAlreadyRolled),
                Err(_) => return Err(Error::KeyInactive),
            };
            if item.contains_key("rolled_to") {
                return Err(Error::KeyAlreadyRolled);
            }
            let own_end = get_n(&item, "expires_at");
            if own_end.is_some_and(|at| at <= now) {
                return Err(Error::KeyInactive);
            }
            let end = own_end.map_or(now + grace_seconds, |at| at.min(now + grace_seconds));
            let hash = get_s(&item, "key_hash")?;
            if keep_name {
                new.name = get_s(&item, "name")?;
            }
            let mut tx = Transaction::new();
            if let Some(uid) = audit.actor.member_uid() {
                tx.push(Step::Membership, self.member_check(org_id, uid)?);
            }
            // Only a key that is still there, not rolled and not expired may be rolled.
            let rollable = "attribute_exists(sk) AND attribute_not_exists(rolled_to) AND attribute_not_exists(released) \
                            AND (attribute_not_exists(expires_at) OR expires_at > :now)";
            let mark_key = Update::builder()
                .table_name(&self.tables.api_keys)
                .key("key_hash", s(&hash))
                .condition_expression("org_id = :org AND key_id = :key AND attribute_not_exists(revoked_at)")
                .expression_attribute_values(":org", s(org_id))
                .expression_attribute_values(":key", s(key_id))
                .expression_attribute_values(":to", s(&new.key_id));
            if grace_seconds == 0 {
                // Revoked at once: the old key leaves the active run (-1), the new one joins (+1).
                // The item is copied to REVOKED#: it must still carry the name read.
                let remove = Delete::builder()
                    .table_name(&self.tables.orgs)
                    .set_key(Some(self.org_key(org_id, key_sk(key_id))))
                    .condition_expression(format!("{rollable} AND #name = :name"))
                    .expression_attribute_names("#name", "name")
                    .expression_attribute_values(":name", s(&get_s(&item, "name")?))
                    .expression_attribute_values(":now", n(now))
                    .build()
                    .map_err(build_error)?;
                let mut ended = item.clone();
                ended.insert("sk".to_owned(), AttributeValue::S(revoked_sk(key_id)));
                ended.insert("revoked_at".to_owned(), s(&rfc3339(now)));
                ended.insert("revoked_reason".to_owned(), s(RevokedReason::Rolled.as_str()));
                ended.insert("rolled_to".to_owned(), s(&new.key_id));
                let mark_key = mark_key
                    .update_expression("SET revoked_at = :now, revoked_reason = :reason, rolled_to = :to")
                    .expression_attribute_values(":now", s(&rfc3339(now)))
                    .expression_attribute_values(":reason", s(RevokedReason::Rolled.as_str()))
                    .build()
                    .map_err(build_error)?;
                tx.push(Step::OrgKey, TransactWriteItem::builder().delete(remove).build());
                tx.push(Step::KeyRecord, TransactWriteItem::builder().update(mark_key).build());
                tx.push(Step::EndedCopy, put(&self.tables.orgs, ended, "attribute_not_exists(sk)")?);
            } else {
                // Released: it stops counting now (-1) and the new key counts (+1).
                let schedule = Update::builder()
                    .table_name(&self.tables.orgs)
                    .set_key(Some(self.org_key(org_id, key_sk(key_id))))
                    .update_expression(
                        "SET rolled_to = :to, released = :true, grace_counted = :true, expires_at = :end",
                    )
                    .condition_expression(rollable)
                    .expression_attribute_values(":to", s(&new.key_id))
                    .expression_attribute_values(":true", AttributeValue::Bool(true))
                    .expression_attribute_values(":end", n(end))
                    .expression_attribute_values(":now", n(now))
                    .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
                    .build()
                    .map_err(build_error)?;
                let mark_key = mark_key
                    .update_expression("SET expires_at = :end, rolled_to = :to")
                    .expression_attribute_values(":end", n(end))
                    .build()
                    .map_err(build_error)?;
                tx.push(Step::OrgKey, TransactWriteItem::builder().update(schedule).build());
                tx.push(Step::KeyRecord, TransactWriteItem::builder().update(mark_key).build());
                // The old key joins the grace count (not with grace 0: it is revoked at once).
                tx.push(Step::GraceCount, self.grace_key_added(org_id)?);
            }
            tx.extend(Step::NewKey, self.key_puts(org_id, &new)?);
            let old_key_expires_at = if grace_seconds == 0 { now } else { end };
            let change = Change::KeyRolled { new_key_id: new.key_id.clone(), old_key_expires_at };
            tx.push(Step::Event, self.event_put(org_id, Some(key_id), &change, audit)?);
            let Err(cancelled) = self.transact(tx).await? else {
                return Ok(Rolled { old_key_expires_at, name: new.name });
            };
            if cancelled.failed(Step::Membership) {
                return Err(Error::OrgNotFound);
            }
            if cancelled.failed(Step::GraceCount) {
                return Err(Error::GraceLimitReached(MAX_GRACE_KEYS));
            }
            if !(cancelled.failed(Step::OrgKey) || cancelled.failed(Step::KeyRecord)) {
                return Err(Error::Internal(format!("roll transaction cancelled: {}", cancelled.describe())));
            }
            // Rolled, revoked or expired by another call meanwhile: the next read says which.
        }
        Err(Error::Unavailable(format!("key {key_id} kept changing during roll")))
    }

    pub(super) async fn rename(
        &self,
        org_id: &str,
        key_id: &str,
        name: &str,
        audit: &Audit,
    ) -> Result<KeySummary, Error> {
        for _ in 0..CHANGED_RETRIES {
            let (sk, item) = match self.key_item(org_id, key_id).await? {
                Ok(item) => (key_sk(key_id), item),
                Err(ended) => (revoked_sk(key_id), ended),
            };
            let hash = get_s(&item, "key_hash")?;
            let from = get_s(&item, "name")?;
            let mut renamed = item.clone();
            renamed.insert("name".to_owned(), s(name));
            let (last_used, _) = self.last_used(&[hash.as_str()]).await?;
            let summary = key_summary(&renamed, last_used.get(&hash).copied(), audit.at)?;
            if from == name {
                // Nothing changes, so nothing is written and no event is recorded.
                return Ok(summary);
            }
            let mut tx = Transaction::new();
            if let Some(uid) = audit.actor.member_uid() {
                tx.push(Step::Membership, self.member_check(org_id, uid)?);
            }
            let org_item = Update::builder()
                .table_name(&self.tables.orgs)
                .set_key(Some(self.org_key(org_id, sk)))
                .update_expression("SET #name = :to")
                .condition_expression("attribute_exists(sk) AND #name = :from")
                .expression_attribute_names("#name", "name")
                .expression_attribute_values(":to", s(name))
                .expression_attribute_values(":from", s(&from))
                .build()
                .map_err(build_error)?;
            let key_item = Update::builder()
                .table_name(&self.tables.api_keys)
                .key("key_hash", s(&hash))
                .update_expression("SET #name = :to")
                .condition_expression("org_id = :org AND key_id = :key")
                .expression_attribute_names("#name", "name")
                .expression_attribute_values(":to", s(name))
                .expression_attribute_values(":org", s(org_id))
                .expression_attribute_values(":key", s(key_id))
                .build()
                .map_err(build_error)?;
            let change = Change::KeyRenamed { from, to: name.to_owned() };
            tx.push(Step::OrgKey, TransactWriteItem::builder().update(org_item).build());
            tx.push(Step::KeyRecord, TransactWriteItem::builder().update(key_item).build());
            tx.push(Step::Event, self.event_put(org_id, Some(key_id), &change, audit)?);
            let Err(cancelled) = self.transact(tx).await? else { return Ok(summary) };
            if cancelled.failed(Step::Membership) {
                return Err(Error::OrgNotFound);
            }
            if cancelled.failed(Step::KeyRecord) {
                return Err(Error::KeyNotFound);
            }
            if !cancelled.failed(Step::OrgKey) {
                return Err(Error::Internal(format!("rename transaction cancelled: {}", cancelled.describe())));
            }
        }
        Err(Error::Unavailable(format!("key {key_id} kept changing during rename")))
    }
}
