//! A key's end, written once: the move of its `KEY#` item to `REVOKED#` (revoke, roll with grace
//! 0, the move of expired keys), the org's counts, and moving expired keys out of the active run
//! so they stop counting toward the limits.
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

use aws_sdk_dynamodb::types::{AttributeValue, Delete, TransactWriteItem, Update};

use super::DynamoStore;
use super::items::{
    ACTIVE, GRACE_COUNTED, Item, META, RELEASED, counts, get_n, get_s, grace_counted, key_sk, n, put, revoked_sk, s,
};
use super::retry::build_error;
use super::transaction::{Step, Transaction};
use crate::error::Error;
use crate::store::MAX_GRACE_KEYS;

/// Expired keys moved per transaction (two items each, plus the count: within DynamoDB's limit).
const RETIRE_CHUNK: usize = 12;

/// Items of the active run read per page when moving expired keys out of it (a full run, 100
/// active and 100 in grace, is two pages), and the most pages read: room for eight full runs.
const RETIRE_PAGE_ITEMS: i32 = 100;
const RETIRE_MAX_PAGES: usize = 16;

impl DynamoStore {
    /// A key's end, the one move every ending makes (a revoke, a roll with grace 0, an expired key
    /// moved out): its `KEY#` item is deleted — only if it is still as it was read: the same name
    /// (a concurrent rename), the same counting (a concurrent roll), and `condition` (whose
    /// placeholders `values` binds) — and its copy is put at `REVOKED#`, without the active run's
    /// marks (`released`, `grace_counted`) and with `ended` added.
    pub(super) fn end_key(
        &self,
        tx: &mut Transaction,
        org_id: &str,
        item: &Item,
        condition: Option<&str>,
        values: &[(&str, AttributeValue)],
        ended: &[(&str, AttributeValue)],
    ) -> Result<(), Error> {
        let key_id = get_s(item, "key_id")?;
        let counting = if counts(item) { "attribute_not_exists(released)" } else { "attribute_exists(released)" };
        let mut unchanged = format!("attribute_exists(sk) AND #name = :name AND {counting}");
        if let Some(condition) = condition {
            unchanged = format!("{unchanged} AND {condition}");
        }
        let mut remove = Delete::builder()
            .table_name(&self.tables.orgs)
            .set_key(Some(self.org_key(org_id, key_sk(&key_id))))
            .condition_expression(unchanged)
            .expression_attribute_names("#name", "name")
            .expression_attribute_values(":name", s(&get_s(item, "name")?));
        for (name, value) in values {
            remove = remove.expression_attribute_values(*name, value.clone());
        }
        let mut copy = item.clone();
        copy.insert("sk".to_owned(), AttributeValue::S(revoked_sk(&key_id)));
        copy.remove(RELEASED);
        copy.remove(GRACE_COUNTED);
        copy.extend(ended.iter().map(|(name, value)| ((*name).to_owned(), value.clone())));
        tx.push(Step::OrgKey, TransactWriteItem::builder().delete(remove.build().map_err(build_error)?).build());
        tx.push(Step::EndedCopy, put(&self.tables.orgs, copy, "attribute_not_exists(sk)")?);
        Ok(())
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
                counted += i64::from(counts(item));
                released += i64::from(grace_counted(item));
                // Unchanged since the read: the same end too.
                let expires_at = get_n(item, "expires_at").unwrap_or(now);
                self.end_key(&mut tx, org_id, item, Some("expires_at = :exp"), &[(":exp", n(expires_at))], &[])?;
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
    pub(super) fn grace_key_added(&self, org_id: &str) -> Result<TransactWriteItem, Error> {
        self.capped_increment(self.org_key(org_id, META.to_owned()), "grace_keys", MAX_GRACE_KEYS, true)
    }

    /// `attribute` + 1 on the `Orgs` item `key`, refused once it holds `max` (an absent count is
    /// 0): the org's grace count, a person's count of orgs created. With `item_exists` the item
    /// must be there already (an org's `META`); without, the increment creates it.
    pub(super) fn capped_increment(
        &self,
        key: Item,
        attribute: &str,
        max: usize,
        item_exists: bool,
    ) -> Result<TransactWriteItem, Error> {
        let under_cap = "(attribute_not_exists(#count) OR #count < :max)";
        let condition =
            if item_exists { format!("attribute_exists(sk) AND {under_cap}") } else { under_cap.to_owned() };
        let update = Update::builder()
            .table_name(&self.tables.orgs)
            .set_key(Some(key))
            .update_expression("SET #count = if_not_exists(#count, :zero) + :one")
            .condition_expression(condition)
            .expression_attribute_names("#count", attribute)
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":max", n(max as i64))
            .build()
            .map_err(build_error)?;
        Ok(TransactWriteItem::builder().update(update).build())
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{active_item, delete_condition, store, update_of};
    use super::*;

    #[test]
    fn a_keys_end_deletes_it_as_read_and_copies_it_without_the_active_runs_marks() {
        let store = store();
        let mut item = active_item("key_1", "ci");
        item.insert(RELEASED.into(), AttributeValue::Bool(true));
        item.insert(GRACE_COUNTED.into(), AttributeValue::Bool(true));
        let mut tx = Transaction::new();
        store
            .end_key(&mut tx, "org_1", &item, Some("expires_at = :exp"), &[(":exp", n(5))], &[("revoked_at", s("t"))])
            .unwrap();
        assert_eq!(tx.steps(), [Step::OrgKey, Step::EndedCopy]);
        assert_eq!(
            delete_condition(&tx, 0),
            "attribute_exists(sk) AND #name = :name AND attribute_exists(released) AND expires_at = :exp"
        );
        let delete = tx.items()[0].delete().unwrap();
        assert_eq!(delete.key()["sk"].as_s().unwrap(), "KEY#key_1");
        let values = delete.expression_attribute_values().unwrap();
        assert_eq!((values[":name"].as_s().unwrap().as_str(), values[":exp"].as_n().unwrap().as_str()), ("ci", "5"));
        let copy = tx.items()[1].put().unwrap();
        assert_eq!(copy.condition_expression(), Some("attribute_not_exists(sk)"));
        let copy = copy.item();
        assert_eq!(copy["sk"].as_s().unwrap(), "REVOKED#key_1");
        assert_eq!(copy["revoked_at"].as_s().unwrap(), "t");
        assert!(!copy.contains_key(RELEASED) && !copy.contains_key(GRACE_COUNTED));
        assert_eq!(copy["name"].as_s().unwrap(), "ci", "everything else as read");
        // A counted key: its counting must be unchanged too.
        let mut tx = Transaction::new();
        store.end_key(&mut tx, "org_1", &active_item("key_2", "b"), None, &[], &[]).unwrap();
        assert_eq!(
            delete_condition(&tx, 0),
            "attribute_exists(sk) AND #name = :name AND attribute_not_exists(released)"
        );
    }

    #[test]
    fn counts_move_together_and_the_grace_count_has_its_limit() {
        let store = store();
        let active = store.count_change("org_1", -2, 0).unwrap();
        let active = active.update().unwrap();
        assert_eq!(active.update_expression(), "SET active_keys = active_keys + :delta");
        assert_eq!(active.expression_attribute_values().unwrap()[":delta"].as_n().unwrap(), "-2");
        let both = store.count_change("org_1", -1, -3).unwrap();
        let both = both.update().unwrap();
        assert!(both.update_expression().contains("grace_keys = if_not_exists(grace_keys, :zero) + :grace"));
        assert_eq!(both.expression_attribute_values().unwrap()[":grace"].as_n().unwrap(), "-3");
        assert_eq!(both.key()["sk"].as_s().unwrap(), "META");
        let mut tx = Transaction::new();
        tx.push(Step::GraceCount, store.grace_key_added("org_1").unwrap());
        let added = update_of(&tx, 0);
        assert_eq!(
            added.condition_expression(),
            Some("attribute_exists(sk) AND (attribute_not_exists(#count) OR #count < :max)")
        );
        assert_eq!(added.expression_attribute_names().unwrap()["#count"], "grace_keys");
        assert_eq!(added.expression_attribute_values().unwrap()[":max"].as_n().unwrap(), "100");
        assert_eq!(added.key()["sk"].as_s().unwrap(), "META");
    }
}
