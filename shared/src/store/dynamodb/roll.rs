//! Rolling a key: a new key now, and the old one's end — scheduled (`expires_at`, `released`, one
//! more in the org's grace count) or, with grace 0, at once (`ending.rs`) — with the `key.rolled`
//! event, in one transaction.

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update};

use super::items::{Item, get_n, get_s, key_sk, n, s};
use super::restrictions::{restrictions_of, unchanged};
use super::retry::build_error;
use super::transaction::{Cancelled, Step, Transaction};
use super::{CHANGED_RETRIES, DynamoStore};
use crate::audit::{Audit, Change, RevokedReason};
use crate::clock::rfc3339;
use crate::error::Error;
use crate::store::RollKey;
use crate::store::{Inherit, MAX_GRACE_KEYS, NewKey, Rolled};

/// Only a key that is not rolled and not expired may be rolled (with the item's existence and
/// counting, which every change checks).
const ROLLABLE: &str = "attribute_not_exists(rolled_to) AND (attribute_not_exists(expires_at) OR expires_at > :now)";

/// A roll with grace that meets the grace limit first moves the org's ended keys out of the count
/// (`ending.rs`) and tries once more.
impl RollKey for DynamoStore {
    async fn roll_key(
        &self,
        org_id: &str,
        key_id: &str,
        new: &NewKey,
        inherit: &Inherit,
        grace_seconds: i64,
        audit: &Audit,
    ) -> Result<Rolled, Error> {
        let mut new = new.clone();
        let mut retired = false;
        // One more round than a change's retries: the one after moving ended keys out.
        for _ in 0..=CHANGED_RETRIES {
            let item = match self.key_item(org_id, key_id).await? {
                Ok(item) => item,
                Err(ended) if ended.contains_key("rolled_to") => return Err(Error::KeyAlreadyRolled),
                Err(_) => return Err(Error::KeyInactive),
            };
            if item.contains_key("rolled_to") {
                return Err(Error::KeyAlreadyRolled);
            }
            if get_n(&item, "expires_at").is_some_and(|at| at <= audit.at) {
                return Err(Error::KeyInactive);
            }
            if inherit.name {
                new.name = get_s(&item, "name")?;
            }
            new.restrictions = inherit.restrictions.apply(&restrictions_of(&item)?);
            let (tx, old_key_expires_at) = self.roll_transaction(org_id, key_id, &item, &new, grace_seconds, audit)?;
            let Err(cancelled) = self.transact(tx).await? else {
                return Ok(Rolled { old_key_expires_at, name: new.name, restrictions: new.restrictions });
            };
            match roll_failure(&cancelled) {
                // Keys whose grace ended still count until moved out: move them, once, and retry.
                Some(Error::GraceLimitReached(_)) if !retired && self.retire_expired(org_id, audit.at).await? > 0 => {
                    retired = true;
                }
                Some(err) => return Err(err),
                // Rolled, revoked or expired by another call meanwhile: the next read says which.
                None => {}
            }
        }
        Err(Error::Unavailable(format!("key {key_id} kept changing during roll")))
    }
}

impl DynamoStore {
    /// The roll of `item` (the old key's `KEY#` item as read) to `new`, and when the old key ends:
    /// `audit.at + grace_seconds`, cut short by its own earlier expiry; at once with grace 0.
    fn roll_transaction(
        &self,
        org_id: &str,
        key_id: &str,
        item: &Item,
        new: &NewKey,
        grace_seconds: i64,
        audit: &Audit,
    ) -> Result<(Transaction, i64), Error> {
        let now = audit.at;
        // The new key inherits the lists as read: the old key's item must still have them.
        let (lists_unchanged, rev_value) = unchanged(item);
        let rollable = format!("{ROLLABLE} AND {lists_unchanged}");
        let mut rollable_values = vec![(":now", n(now))];
        rollable_values.extend(rev_value.clone());
        let end = get_n(item, "expires_at").map_or(now + grace_seconds, |at| at.min(now + grace_seconds));
        let mut tx = Transaction::new();
        if let Some(uid) = audit.actor.member_uid() {
            tx.push(Step::Membership, self.member_check(org_id, uid)?);
        }
        let mark_key = Update::builder()
            .table_name(&self.tables.api_keys)
            .key("key_hash", s(&get_s(item, "key_hash")?))
            .condition_expression("org_id = :org AND key_id = :key AND attribute_not_exists(revoked_at)")
            .expression_attribute_values(":org", s(org_id))
            .expression_attribute_values(":key", s(key_id))
            .expression_attribute_values(":to", s(&new.key_id));
        let old_key_expires_at = if grace_seconds == 0 {
            // Revoked at once: the old key leaves the active run (-1), the new one joins (+1).
            let revoked = [
                ("revoked_at", s(&rfc3339(now))),
                ("revoked_reason", s(RevokedReason::Rolled.as_str())),
                ("rolled_to", s(&new.key_id)),
            ];
            self.end_key(&mut tx, org_id, item, Some(&rollable), &rollable_values, &revoked)?;
            let mark_key = mark_key
                .update_expression("SET revoked_at = :now, revoked_reason = :reason, rolled_to = :to")
                .expression_attribute_values(":now", s(&rfc3339(now)))
                .expression_attribute_values(":reason", s(RevokedReason::Rolled.as_str()))
                .build()
                .map_err(build_error)?;
            tx.push(Step::KeyRecord, TransactWriteItem::builder().update(mark_key).build());
            now
        } else {
            // Released: it stops counting now (-1), the new key counts (+1), and the old key joins
            // the grace count.
            let mut schedule = Update::builder()
                .table_name(&self.tables.orgs)
                .set_key(Some(self.org_key(org_id, key_sk(key_id))))
                .update_expression("SET rolled_to = :to, released = :true, grace_counted = :true, expires_at = :end")
                .condition_expression(format!(
                    "attribute_exists(sk) AND attribute_not_exists(released) AND {rollable}"
                ));
            if let Some((name, value)) = rev_value {
                schedule = schedule.expression_attribute_values(name, value);
            }
            let schedule = schedule
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
            tx.push(Step::GraceCount, self.grace_key_added(org_id)?);
            end
        };
        tx.extend(Step::NewKey, self.key_puts(org_id, new)?);
        let change = Change::KeyRolled { new_key_id: new.key_id.clone(), old_key_expires_at };
        tx.push(Step::Event, self.event_put(org_id, Some(key_id), &change, audit)?);
        Ok((tx, old_key_expires_at))
    }
}

/// The error a cancelled roll is, or `None` when the key changed meanwhile (read it again).
fn roll_failure(cancelled: &Cancelled) -> Option<Error> {
    if cancelled.failed(Step::Membership) {
        return Some(Error::OrgNotFound);
    }
    if cancelled.failed(Step::GraceCount) {
        return Some(Error::GraceLimitReached(MAX_GRACE_KEYS));
    }
    if cancelled.failed(Step::OrgKey) || cancelled.failed(Step::KeyRecord) {
        return None;
    }
    Some(Error::Internal(format!("roll transaction cancelled: {}", cancelled.describe())))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{active_item, audit, cancelled, delete_condition, store, update_of};
    use super::*;

    fn new_key() -> NewKey {
        NewKey {
            key_id: "key_2".into(),
            hash: crate::api_key::ApiKey::generate().hash(),
            name: "ci".into(),
            prefix: "sk_live_wxyz".into(),
            created_at: 1_767_225_600,
            expires_at: None,
            rolled_from: Some("key_1".into()),
            restrictions: Default::default(),
        }
    }

    #[test]
    fn a_roll_with_grace_schedules_the_old_keys_end_and_counts_it_in_grace() {
        let store = store();
        let (tx, ends) =
            store.roll_transaction("org_1", "key_1", &active_item("key_1", "ci"), &new_key(), 3600, &audit()).unwrap();
        assert_eq!(ends, 1_800_000_000 + 3600);
        assert_eq!(
            tx.steps(),
            [
                Step::Membership,
                Step::OrgKey,
                Step::KeyRecord,
                Step::GraceCount,
                Step::NewKey,
                Step::NewKey,
                Step::Event
            ]
        );
        let schedule = update_of(&tx, 1);
        assert!(schedule.update_expression().contains("released = :true, grace_counted = :true"));
        assert!(schedule.condition_expression().unwrap().contains("attribute_not_exists(rolled_to)"));
        assert_eq!(update_of(&tx, 2).update_expression(), "SET expires_at = :end, rolled_to = :to");
        assert_eq!(update_of(&tx, 3).expression_attribute_names().unwrap()["#count"], "grace_keys");
        // The old key's own earlier expiry cuts the grace short.
        let (_, ends) = store
            .roll_transaction("org_1", "key_1", &active_item("key_1", "ci"), &new_key(), 200_000_000, &audit())
            .unwrap();
        assert_eq!(ends, 1_900_000_000);
        // Without an expiry of its own, the grace period alone.
        let mut forever = active_item("key_1", "ci");
        forever.remove("expires_at");
        let (_, ends) = store.roll_transaction("org_1", "key_1", &forever, &new_key(), 600, &audit()).unwrap();
        assert_eq!(ends, 1_800_000_600);
    }

    #[test]
    fn a_roll_without_grace_ends_the_old_key_at_once() {
        let store = store();
        let (tx, ends) =
            store.roll_transaction("org_1", "key_1", &active_item("key_1", "ci"), &new_key(), 0, &audit()).unwrap();
        assert_eq!(ends, 1_800_000_000);
        assert_eq!(
            tx.steps(),
            [Step::Membership, Step::OrgKey, Step::EndedCopy, Step::KeyRecord, Step::NewKey, Step::NewKey, Step::Event]
        );
        assert!(delete_condition(&tx, 1).contains(ROLLABLE));
        let copy = tx.items()[2].put().unwrap().item();
        assert_eq!(copy["revoked_reason"].as_s().unwrap(), "rolled");
        assert_eq!(copy["rolled_to"].as_s().unwrap(), "key_2");
        assert!(update_of(&tx, 3).update_expression().starts_with("SET revoked_at = :now"));
    }

    #[test]
    fn failures_map_to_their_cause() {
        let steps = [Step::Membership, Step::OrgKey, Step::KeyRecord, Step::GraceCount, Step::NewKey, Step::Event];
        assert!(matches!(roll_failure(&cancelled(&steps, Step::Membership)), Some(Error::OrgNotFound)));
        assert!(matches!(roll_failure(&cancelled(&steps, Step::GraceCount)), Some(Error::GraceLimitReached(100))));
        assert!(roll_failure(&cancelled(&steps, Step::OrgKey)).is_none(), "changed meanwhile");
        assert!(roll_failure(&cancelled(&steps, Step::KeyRecord)).is_none(), "changed meanwhile");
        assert!(matches!(roll_failure(&cancelled(&steps, Step::NewKey)), Some(Error::Internal(_))));
    }
}
