//! `PATCH` of a key (live or ended): its name and its lists, on its item in the org and its
//! `ApiKeys` item, with a `key.renamed` and/or a `key.restricted` event, in one transaction;
//! a change to nothing writes nothing.

use aws_sdk_dynamodb::types::{TransactWriteItem, Update};

use super::items::{Item, get_s, key_sk, key_summary, revoked_sk, s};
use super::restrictions::{
    ALLOWED_IPS, FORMATS, PERMISSIONS, REVISION, restriction_attributes, restrictions_of, unchanged,
};
use super::retry::build_error;
use super::transaction::{Cancelled, Step, Transaction};
use super::{CHANGED_RETRIES, DynamoStore};
use crate::audit::{Audit, Change};
use crate::error::Error;
use crate::restrictions::Restrictions;
use crate::store::{KeySummary, KeyUpdate, UpdateKey};

impl UpdateKey for DynamoStore {
    async fn update_key(
        &self,
        org_id: &str,
        key_id: &str,
        update: &KeyUpdate,
        audit: &Audit,
    ) -> Result<KeySummary, Error> {
        for _ in 0..CHANGED_RETRIES {
            let (sk, item) = match self.key_item(org_id, key_id).await? {
                Ok(item) => (key_sk(key_id), item),
                Err(ended) => (revoked_sk(key_id), ended),
            };
            let hash = get_s(&item, "key_hash")?;
            let change = Changed::of(&item, update)?;
            let mut updated = item.clone();
            updated.insert("name".to_owned(), s(&change.name.1));
            for list in [PERMISSIONS, FORMATS, ALLOWED_IPS] {
                updated.remove(list);
            }
            updated.extend(restriction_attributes(&change.lists.1));
            let (last_used, _) = self.last_used(&[hash.as_str()]).await?;
            let summary = key_summary(&updated, last_used.get(&hash).copied(), audit.at)?;
            if !change.renamed() && !change.restricted() {
                // Nothing changes, so nothing is written and no event is recorded.
                return Ok(summary);
            }
            let tx = self.update_transaction(org_id, key_id, &sk, &item, &change, audit)?;
            let Err(cancelled) = self.transact(tx).await? else { return Ok(summary) };
            if let Some(err) = update_failure(&cancelled) {
                return Err(err);
            }
            // Changed, or moved to REVOKED#, by another call meanwhile: read it again.
        }
        Err(Error::Unavailable(format!("key {key_id} kept changing during its update")))
    }
}

/// A key's name and lists, as read and as the update leaves them.
struct Changed {
    name: (String, String),
    lists: (Restrictions, Restrictions),
}

impl Changed {
    fn of(item: &Item, update: &KeyUpdate) -> Result<Self, Error> {
        let name = get_s(item, "name")?;
        let lists = restrictions_of(item)?;
        let new_name = update.name.clone().unwrap_or_else(|| name.clone());
        let new_lists = update.restrictions.apply(&lists);
        Ok(Changed { name: (name, new_name), lists: (lists, new_lists) })
    }

    fn renamed(&self) -> bool {
        self.name.0 != self.name.1
    }

    fn restricted(&self) -> bool {
        self.lists.0 != self.lists.1
    }
}

impl DynamoStore {
    /// The update of `item` (the key's item at `sk`, as read): conditioned on the name and the
    /// lists' revision read, so a concurrent change is never lost.
    fn update_transaction(
        &self,
        org_id: &str,
        key_id: &str,
        sk: &str,
        item: &Item,
        change: &Changed,
        audit: &Audit,
    ) -> Result<Transaction, Error> {
        let mut tx = Transaction::new();
        if let Some(uid) = audit.actor.member_uid() {
            tx.push(Step::Membership, self.member_check(org_id, uid)?);
        }
        let (revision, rev_value) = unchanged(item);
        let mut org_item = Update::builder()
            .table_name(&self.tables.orgs)
            .set_key(Some(self.org_key(org_id, sk.to_owned())))
            .condition_expression(format!("attribute_exists(sk) AND #name = :from AND {revision}"))
            .expression_attribute_names("#name", "name")
            .expression_attribute_values(":from", s(&change.name.0));
        if let Some((name, value)) = rev_value {
            org_item = org_item.expression_attribute_values(name, value);
        }
        let mut key_item = Update::builder()
            .table_name(&self.tables.api_keys)
            .key("key_hash", s(&get_s(item, "key_hash")?))
            .condition_expression("org_id = :org AND key_id = :key")
            .expression_attribute_values(":org", s(org_id))
            .expression_attribute_values(":key", s(key_id));
        let (mut set, mut remove) = (vec![], vec![]);
        if change.renamed() {
            set.push("#name = :to".to_owned());
            org_item = org_item.expression_attribute_values(":to", s(&change.name.1));
            key_item = key_item
                .expression_attribute_names("#name", "name")
                .expression_attribute_values(":to", s(&change.name.1));
        }
        let mut org_set = vec![];
        if change.restricted() {
            let written = restriction_attributes(&change.lists.1);
            for (placeholder, list) in [("#perms", PERMISSIONS), ("#formats", FORMATS), ("#ips", ALLOWED_IPS)] {
                org_item = org_item.expression_attribute_names(placeholder, list);
                key_item = key_item.expression_attribute_names(placeholder, list);
                match written.iter().find(|(name, _)| name == list) {
                    Some((_, value)) => {
                        let v = format!(":{}", &placeholder[1..]);
                        set.push(format!("{placeholder} = {v}"));
                        org_item = org_item.expression_attribute_values(&v, value.clone());
                        key_item = key_item.expression_attribute_values(&v, value.clone());
                    }
                    None => remove.push(placeholder.to_owned()),
                }
            }
            org_set.push(format!("{REVISION} = if_not_exists({REVISION}, :zero) + :one"));
            org_item = org_item
                .expression_attribute_values(":zero", super::items::n(0))
                .expression_attribute_values(":one", super::items::n(1));
        }
        let expression = |set: Vec<String>| {
            let mut e = String::new();
            if !set.is_empty() {
                e = format!("SET {}", set.join(", "));
            }
            if !remove.is_empty() {
                e = format!("{e} REMOVE {}", remove.join(", ")).trim().to_owned();
            }
            e
        };
        let org_expression = expression(set.iter().cloned().chain(org_set).collect());
        let key_expression = expression(set);
        let org_item = org_item.update_expression(org_expression).build().map_err(build_error)?;
        let key_item = key_item.update_expression(key_expression).build().map_err(build_error)?;
        tx.push(Step::OrgKey, TransactWriteItem::builder().update(org_item).build());
        tx.push(Step::KeyRecord, TransactWriteItem::builder().update(key_item).build());
        if change.renamed() {
            let renamed = Change::KeyRenamed { from: change.name.0.clone(), to: change.name.1.clone() };
            tx.push(Step::Event, self.event_put(org_id, Some(key_id), &renamed, audit)?);
        }
        if change.restricted() {
            let restricted = Change::KeyRestricted { from: change.lists.0.clone(), to: change.lists.1.clone() };
            tx.push(Step::Event, self.event_put(org_id, Some(key_id), &restricted, audit)?);
        }
        Ok(tx)
    }
}

/// The error a cancelled update is, or `None` when the key changed meanwhile (read it again).
fn update_failure(cancelled: &Cancelled) -> Option<Error> {
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
    Some(Error::Internal(format!("update transaction cancelled: {}", cancelled.describe())))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{active_item, audit, cancelled, store, update_of};
    use super::*;
    use crate::restrictions::RestrictionsPatch;

    fn rename(to: &str) -> KeyUpdate {
        KeyUpdate { name: Some(to.into()), restrictions: RestrictionsPatch::default() }
    }

    fn restrict(formats: &[&str]) -> KeyUpdate {
        let list = Some(Some(formats.iter().map(|f| f.to_string()).collect()));
        KeyUpdate { name: None, restrictions: RestrictionsPatch::parse((None, list, None)).unwrap() }
    }

    #[test]
    fn a_rename_changes_both_items_on_the_name_it_read_and_records_from_and_to() {
        let store = store();
        let item = active_item("key_1", "old");
        let change = Changed::of(&item, &rename("new")).unwrap();
        let tx = store.update_transaction("org_1", "key_1", "REVOKED#key_1", &item, &change, &audit()).unwrap();
        assert_eq!(tx.steps(), [Step::Membership, Step::OrgKey, Step::KeyRecord, Step::Event]);
        let org_item = update_of(&tx, 1);
        assert_eq!(org_item.key()["sk"].as_s().unwrap(), "REVOKED#key_1", "an ended key too");
        assert_eq!(org_item.expression_attribute_values().unwrap()[":from"].as_s().unwrap(), "old");
        assert_eq!(org_item.update_expression(), "SET #name = :to");
        assert_eq!(
            org_item.condition_expression(),
            Some("attribute_exists(sk) AND #name = :from AND attribute_not_exists(restrictions_rev)")
        );
        assert_eq!(update_of(&tx, 2).condition_expression(), Some("org_id = :org AND key_id = :key"));
        assert_eq!(update_of(&tx, 2).update_expression(), "SET #name = :to");
        let event = tx.items()[3].put().unwrap().item();
        assert_eq!(event["data"].as_s().unwrap(), r#"{"from":"old","to":"new"}"#);
    }

    #[test]
    fn a_restriction_sets_and_lifts_lists_on_both_items_with_its_event() {
        let store = store();
        let mut item = active_item("key_1", "ci");
        item.insert(PERMISSIONS.into(), aws_sdk_dynamodb::types::AttributeValue::L(vec![s("runs:read")]));
        item.insert(REVISION.into(), super::super::items::n(4));
        let mut update = restrict(&["pdf"]);
        update.restrictions.permissions = Some(None);
        let change = Changed::of(&item, &update).unwrap();
        assert!(change.restricted() && !change.renamed());
        let tx = store.update_transaction("org_1", "key_1", "KEY#key_1", &item, &change, &audit()).unwrap();
        assert_eq!(tx.steps(), [Step::Membership, Step::OrgKey, Step::KeyRecord, Step::Event]);
        let org_item = update_of(&tx, 1);
        assert_eq!(
            org_item.update_expression(),
            "SET #formats = :formats, restrictions_rev = if_not_exists(restrictions_rev, :zero) + :one REMOVE #perms, #ips"
        );
        assert!(org_item.condition_expression().unwrap().ends_with("AND restrictions_rev = :rev"));
        assert_eq!(org_item.expression_attribute_values().unwrap()[":rev"].as_n().unwrap(), "4");
        assert_eq!(update_of(&tx, 2).update_expression(), "SET #formats = :formats REMOVE #perms, #ips");
        let event = tx.items()[3].put().unwrap().item();
        assert_eq!(event["type"].as_s().unwrap(), "key.restricted");
        let data: serde_json::Value = serde_json::from_str(event["data"].as_s().unwrap()).unwrap();
        assert_eq!(data["from"]["permissions"], serde_json::json!(["runs:read"]));
        assert_eq!(data["to"], serde_json::json!({"permissions": null, "formats": ["pdf"], "allowed_ips": null}));
        // Both at once: two events in the one transaction.
        let mut both = restrict(&["docx"]);
        both.name = Some("renamed".into());
        let change = Changed::of(&item, &both).unwrap();
        let tx = store.update_transaction("org_1", "key_1", "KEY#key_1", &item, &change, &audit()).unwrap();
        assert_eq!(tx.steps(), [Step::Membership, Step::OrgKey, Step::KeyRecord, Step::Event, Step::Event]);
        assert_eq!(
            update_of(&tx, 2).update_expression(),
            "SET #name = :to, #perms = :perms, #formats = :formats REMOVE #ips",
            "the lists it keeps are written as they are"
        );
        // The same lists: no change.
        assert!(
            !Changed::of(&item, &KeyUpdate { name: None, restrictions: RestrictionsPatch::default() })
                .unwrap()
                .restricted()
        );
    }

    #[test]
    fn failures_map_to_their_cause() {
        let steps = [Step::Membership, Step::OrgKey, Step::KeyRecord, Step::Event];
        assert!(matches!(update_failure(&cancelled(&steps, Step::Membership)), Some(Error::OrgNotFound)));
        assert!(matches!(update_failure(&cancelled(&steps, Step::KeyRecord)), Some(Error::KeyNotFound)));
        assert!(update_failure(&cancelled(&steps, Step::OrgKey)).is_none(), "changed meanwhile");
        assert!(matches!(update_failure(&cancelled(&steps, Step::Event)), Some(Error::Internal(_))));
    }
}
