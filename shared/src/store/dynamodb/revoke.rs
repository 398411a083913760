//! Revoking a key: its end (`ending.rs`), `revoked_at`/`revoked_reason` (and where a leaked key
//! was found) on its `ApiKeys` item, its count and the `key.revoked` or `key.leaked` event, in one
//! transaction. Idempotent: a key that already ended writes nothing.

use aws_sdk_dynamodb::types::{TransactWriteItem, Update};

use super::items::{Item, counts, get_n, get_s, grace_counted, s};
use super::retry::build_error;
use super::transaction::{Cancelled, Step, Transaction};
use super::{CHANGED_RETRIES, DynamoStore};
use crate::audit::{Audit, Change, RevokedReason};
use crate::clock::rfc3339;
use crate::error::Error;
use crate::store::RevokeKey;

impl RevokeKey for DynamoStore {
    async fn revoke_key(&self, org_id: &str, key_id: &str, change: &Change, audit: &Audit) -> Result<bool, Error> {
        self.revoke(org_id, key_id, change, audit).await
    }
}

impl DynamoStore {
    /// `Ok(true)` when this call revoked the key, `Ok(false)` when it had already ended.
    pub(super) async fn revoke(
        &self,
        org_id: &str,
        key_id: &str,
        change: &Change,
        audit: &Audit,
    ) -> Result<bool, Error> {
        for _ in 0..CHANGED_RETRIES {
            // Revoking is idempotent: a key that already ended — revoked, or expired even if not
            // yet moved out of the active run — is done, and nothing is written.
            let Ok(item) = self.key_item(org_id, key_id).await? else { return Ok(false) };
            if get_n(&item, "expires_at").is_some_and(|at| at <= audit.at) {
                return Ok(false);
            }
            let tx = self.revoke_transaction(org_id, key_id, &item, change, audit)?;
            let Err(cancelled) = self.transact(tx).await? else { return Ok(true) };
            if let Some(err) = revoke_failure(&cancelled) {
                return Err(err);
            }
            // Changed meanwhile (revoked, rolled or retired by another call): read it again.
        }
        Err(Error::Unavailable(format!("key {key_id} kept changing during revoke")))
    }

    /// The revocation of `item` (the key's `KEY#` item as read) by `change` (`KeyRevoked` or
    /// `KeyLeaked`).
    fn revoke_transaction(
        &self,
        org_id: &str,
        key_id: &str,
        item: &Item,
        change: &Change,
        audit: &Audit,
    ) -> Result<Transaction, Error> {
        let (reason, leak) = match change {
            Change::KeyRevoked { reason } => (*reason, None),
            Change::KeyLeaked { url, source } => (RevokedReason::Leaked, Some((url, source))),
            other => return Err(Error::Internal(format!("not a revocation: {}", other.event_type()))),
        };
        let now = rfc3339(audit.at);
        // The org condition is what stops a revoke through another org.
        let mut mark = Update::builder()
            .table_name(&self.tables.api_keys)
            .key("key_hash", s(&get_s(item, "key_hash")?))
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
        let mut tx = Transaction::new();
        if let Some(uid) = audit.actor.member_uid() {
            tx.push(Step::Membership, self.member_check(org_id, uid)?);
        }
        self.end_key(
            &mut tx,
            org_id,
            item,
            None,
            &[],
            &[("revoked_at", s(&now)), ("revoked_reason", s(reason.as_str()))],
        )?;
        let mark = mark.update_expression(set).build().map_err(build_error)?;
        tx.push(Step::KeyRecord, TransactWriteItem::builder().update(mark).build());
        tx.push(Step::Event, self.event_put(org_id, Some(key_id), change, audit)?);
        // A counted key leaves the active count; a released one (in its grace period) the
        // grace count, if it is in it (not one released before the count existed).
        if counts(item) {
            tx.push(Step::OrgMeta, self.count_change(org_id, -1, 0)?);
        } else if grace_counted(item) {
            tx.push(Step::GraceCount, self.count_change(org_id, 0, -1)?);
        }
        Ok(tx)
    }
}

/// The error a cancelled revoke is, or `None` when the key changed meanwhile (read it again).
fn revoke_failure(cancelled: &Cancelled) -> Option<Error> {
    if cancelled.failed(Step::Membership) {
        return Some(Error::OrgNotFound);
    }
    // The ApiKeys item names another org (or key): not this org's key.
    if cancelled.failed(Step::KeyRecord) {
        return Some(Error::KeyNotFound);
    }
    if cancelled.failed(Step::OrgKey) || cancelled.failed(Step::EndedCopy) {
        return None;
    }
    Some(Error::Internal(format!("revoke transaction cancelled: {}", cancelled.describe())))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{active_item, audit, cancelled, delete_condition, store, update_of};
    use super::*;
    use crate::audit::Actor;

    #[test]
    fn a_members_revocation_ends_the_key_marks_its_record_records_the_event_and_counts() {
        let store = store();
        let item = active_item("key_1", "ci");
        let change = Change::KeyRevoked { reason: RevokedReason::Revoked };
        let tx = store.revoke_transaction("org_1", "key_1", &item, &change, &audit()).unwrap();
        assert_eq!(
            tx.steps(),
            [Step::Membership, Step::OrgKey, Step::EndedCopy, Step::KeyRecord, Step::Event, Step::OrgMeta]
        );
        let condition = delete_condition(&tx, 1);
        assert!(condition.contains("#name = :name") && condition.contains("attribute_not_exists(released)"));
        let copy = tx.items()[2].put().unwrap().item();
        assert_eq!(copy["sk"].as_s().unwrap(), "REVOKED#key_1");
        assert_eq!(copy["revoked_reason"].as_s().unwrap(), "revoked");
        let mark = update_of(&tx, 3);
        assert_eq!(mark.update_expression(), "SET revoked_at = :now, revoked_reason = :reason");
        assert_eq!(mark.condition_expression(), Some("org_id = :org AND key_id = :key"));
        let count = update_of(&tx, 5);
        assert_eq!(count.expression_attribute_values().unwrap()[":delta"].as_n().unwrap(), "-1");
    }

    #[test]
    fn a_leak_keeps_where_it_was_found_and_a_key_in_grace_leaves_the_grace_count() {
        let store = store();
        let mut item = active_item("key_1", "ci");
        item.insert("released".into(), aws_sdk_dynamodb::types::AttributeValue::Bool(true));
        item.insert("grace_counted".into(), aws_sdk_dynamodb::types::AttributeValue::Bool(true));
        let change = Change::KeyLeaked { url: Some("https://github.com/a/b".into()), source: None };
        let github = Audit::new(Actor::github_secret_scanning(), "req", 1_800_000_000);
        let tx = store.revoke_transaction("org_1", "key_1", &item, &change, &github).unwrap();
        assert_eq!(tx.steps(), [Step::OrgKey, Step::EndedCopy, Step::KeyRecord, Step::Event, Step::GraceCount]);
        let grace = update_of(&tx, 4).expression_attribute_values().unwrap();
        assert_eq!((grace[":delta"].as_n().unwrap().as_str(), grace[":grace"].as_n().unwrap().as_str()), ("0", "-1"));
        assert!(delete_condition(&tx, 0).contains("attribute_exists(released)"));
        let copy = tx.items()[1].put().unwrap().item();
        assert!(!copy.contains_key("released") && !copy.contains_key("grace_counted"));
        let mark = update_of(&tx, 2);
        assert_eq!(
            mark.update_expression(),
            "SET revoked_at = :now, revoked_reason = :reason, leaked_url = :leaked_url"
        );
        // A key released before the grace count existed leaves no count.
        item.remove("grace_counted");
        let tx = store.revoke_transaction("org_1", "key_1", &item, &change, &github).unwrap();
        assert_eq!(tx.steps(), [Step::OrgKey, Step::EndedCopy, Step::KeyRecord, Step::Event]);
        assert!(store.revoke_transaction("org_1", "key_1", &item, &Change::KeyCreated, &github).is_err());
    }

    #[test]
    fn failures_map_to_their_cause() {
        let steps = [Step::Membership, Step::OrgKey, Step::EndedCopy, Step::KeyRecord, Step::Event];
        assert!(matches!(revoke_failure(&cancelled(&steps, Step::Membership)), Some(Error::OrgNotFound)));
        assert!(matches!(revoke_failure(&cancelled(&steps, Step::KeyRecord)), Some(Error::KeyNotFound)));
        assert!(revoke_failure(&cancelled(&steps, Step::OrgKey)).is_none(), "changed meanwhile");
        assert!(revoke_failure(&cancelled(&steps, Step::EndedCopy)).is_none(), "changed meanwhile");
        assert!(matches!(revoke_failure(&cancelled(&steps, Step::Event)), Some(Error::Internal(_))));
    }
}
