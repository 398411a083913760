//! Renaming a key (live or ended): its item in the org and its `ApiKeys` item, with the
//! `key.renamed` event, in one transaction; the same name writes nothing.

use aws_sdk_dynamodb::types::{TransactWriteItem, Update};

use super::items::{Item, get_s, key_sk, key_summary, revoked_sk, s};
use super::retry::build_error;
use super::transaction::{Cancelled, Step, Transaction};
use super::{CHANGED_RETRIES, DynamoStore};
use crate::audit::{Audit, Change};
use crate::error::Error;
use crate::store::KeySummary;
use crate::store::RenameKey;

impl RenameKey for DynamoStore {
    async fn rename_key(&self, org_id: &str, key_id: &str, name: &str, audit: &Audit) -> Result<KeySummary, Error> {
        self.rename(org_id, key_id, name, audit).await
    }
}

impl DynamoStore {
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
            let tx = self.rename_transaction(org_id, key_id, &sk, &item, name, audit)?;
            let Err(cancelled) = self.transact(tx).await? else { return Ok(summary) };
            if let Some(err) = rename_failure(&cancelled) {
                return Err(err);
            }
            // Renamed, or moved to REVOKED#, by another call meanwhile: read it again.
        }
        Err(Error::Unavailable(format!("key {key_id} kept changing during rename")))
    }

    /// The rename of `item` (the key's item at `sk`, as read) to `name`: conditioned on the name
    /// read, so a concurrent rename is never lost.
    fn rename_transaction(
        &self,
        org_id: &str,
        key_id: &str,
        sk: &str,
        item: &Item,
        name: &str,
        audit: &Audit,
    ) -> Result<Transaction, Error> {
        let from = get_s(item, "name")?;
        let mut tx = Transaction::new();
        if let Some(uid) = audit.actor.member_uid() {
            tx.push(Step::Membership, self.member_check(org_id, uid)?);
        }
        let org_item = Update::builder()
            .table_name(&self.tables.orgs)
            .set_key(Some(self.org_key(org_id, sk.to_owned())))
            .update_expression("SET #name = :to")
            .condition_expression("attribute_exists(sk) AND #name = :from")
            .expression_attribute_names("#name", "name")
            .expression_attribute_values(":to", s(name))
            .expression_attribute_values(":from", s(&from))
            .build()
            .map_err(build_error)?;
        let key_item = Update::builder()
            .table_name(&self.tables.api_keys)
            .key("key_hash", s(&get_s(item, "key_hash")?))
            .update_expression("SET #name = :to")
            .condition_expression("org_id = :org AND key_id = :key")
            .expression_attribute_names("#name", "name")
            .expression_attribute_values(":to", s(name))
            .expression_attribute_values(":org", s(org_id))
            .expression_attribute_values(":key", s(key_id))
            .build()
            .map_err(build_error)?;
        tx.push(Step::OrgKey, TransactWriteItem::builder().update(org_item).build());
        tx.push(Step::KeyRecord, TransactWriteItem::builder().update(key_item).build());
        let change = Change::KeyRenamed { from, to: name.to_owned() };
        tx.push(Step::Event, self.event_put(org_id, Some(key_id), &change, audit)?);
        Ok(tx)
    }
}

/// The error a cancelled rename is, or `None` when the key changed meanwhile (read it again).
fn rename_failure(cancelled: &Cancelled) -> Option<Error> {
    if cancelled.failed(Step::Membership) {
        return Some(Error::OrgNotFound);
    }
    // The ApiKeys item names another org (or key): not this org's key.
    if cancelled.failed(Step::KeyRecord) {
        return Some(Error::KeyNotFound);
    }
    if cancelled.failed(Step::OrgKey) {
        return None;
    }
    Some(Error::Internal(format!("rename transaction cancelled: {}", cancelled.describe())))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{active_item, audit, cancelled, store, update_of};
    use super::*;

    #[test]
    fn a_rename_changes_both_items_on_the_name_it_read_and_records_from_and_to() {
        let store = store();
        let item = active_item("key_1", "old");
        let tx = store.rename_transaction("org_1", "key_1", "REVOKED#key_1", &item, "new", &audit()).unwrap();
        assert_eq!(tx.steps(), [Step::Membership, Step::OrgKey, Step::KeyRecord, Step::Event]);
        let org_item = update_of(&tx, 1);
        assert_eq!(org_item.key()["sk"].as_s().unwrap(), "REVOKED#key_1", "an ended key too");
        assert_eq!(org_item.expression_attribute_values().unwrap()[":from"].as_s().unwrap(), "old");
        assert_eq!(update_of(&tx, 2).condition_expression(), Some("org_id = :org AND key_id = :key"));
        let event = tx.items()[3].put().unwrap().item();
        assert_eq!(event["data"].as_s().unwrap(), r#"{"from":"old","to":"new"}"#);
    }

    #[test]
    fn failures_map_to_their_cause() {
        let steps = [Step::Membership, Step::OrgKey, Step::KeyRecord, Step::Event];
        assert!(matches!(rename_failure(&cancelled(&steps, Step::Membership)), Some(Error::OrgNotFound)));
        assert!(matches!(rename_failure(&cancelled(&steps, Step::KeyRecord)), Some(Error::KeyNotFound)));
        assert!(rename_failure(&cancelled(&steps, Step::OrgKey)).is_none(), "renamed meanwhile");
        assert!(matches!(rename_failure(&cancelled(&steps, Step::Event)), Some(Error::Internal(_))));
    }
}
