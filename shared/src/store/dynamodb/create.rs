//! A new key: its two items (`KEY#` in the org, the `ApiKeys` item), written with the actor's
//! membership, the org's active-key count and the `key.created` event in one transaction.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update};

use super::DynamoStore;
use super::items::{META, key_sk, n, put, s};
use super::retry::build_error;
use super::transaction::{Cancelled, Step, Transaction};
use crate::audit::{Audit, Change};
use crate::clock::rfc3339;
use crate::error::Error;
use crate::store::CreateKey;
use crate::store::{MAX_ACTIVE_KEYS, NewKey};

/// A create that meets the limit first moves the org's expired keys out of the count
/// (`ending.rs`) and tries once more.
impl CreateKey for DynamoStore {
    async fn create_key(&self, org_id: &str, key: &NewKey, audit: &Audit) -> Result<(), Error> {
        match self.create(org_id, key, audit).await {
            Err(Error::KeyLimitReached(_)) if self.retire_expired(org_id, audit.at).await? > 0 => {
                self.create(org_id, key, audit).await
            }
            other => other,
        }
    }
}

impl DynamoStore {
    /// The `KEY#` item in `Orgs` and the `ApiKeys` item of a new key, each refused if it exists.
    pub(super) fn key_puts(&self, org_id: &str, key: &NewKey) -> Result<[TransactWriteItem; 2], Error> {
        let mut org_item = self.org_key(org_id, key_sk(&key.key_id));
        org_item.extend([
            ("key_id".to_owned(), s(&key.key_id)),
            ("key_hash".to_owned(), s(key.hash.as_str())),
            ("name".to_owned(), s(&key.name)),
            ("prefix".to_owned(), s(&key.prefix)),
            ("created_at".to_owned(), s(&rfc3339(key.created_at))),
        ]);
        let mut key_item = HashMap::from([
            ("key_hash".to_owned(), s(key.hash.as_str())),
            ("key_id".to_owned(), s(&key.key_id)),
            ("org_id".to_owned(), s(org_id)),
            ("name".to_owned(), s(&key.name)),
            ("prefix".to_owned(), s(&key.prefix)),
            ("created_at".to_owned(), s(&rfc3339(key.created_at))),
        ]);
        if let Some(at) = key.expires_at {
            // On both items: the hot path reads it from ApiKeys, the listing from Orgs.
            org_item.insert("expires_at".to_owned(), n(at));
            key_item.insert("expires_at".to_owned(), n(at));
        }
        if let Some(from) = &key.rolled_from {
            org_item.insert("rolled_from".to_owned(), s(from));
        }
        // On both items, as expires_at.
        for (name, value) in super::restrictions::restriction_attributes(&key.restrictions) {
            org_item.insert(name.clone(), value.clone());
            key_item.insert(name, value);
        }
        Ok([
            put(&self.tables.orgs, org_item, "attribute_not_exists(sk)")?,
            put(&self.tables.api_keys, key_item, "attribute_not_exists(key_hash)")?,
        ])
    }

    pub(super) async fn create(&self, org_id: &str, key: &NewKey, audit: &Audit) -> Result<(), Error> {
        let tx = self.create_transaction(org_id, key, audit)?;
        match self.transact(tx).await? {
            Ok(()) => Ok(()),
            Err(cancelled) => Err(create_failure(&cancelled)),
        }
    }

    /// The new key with the actor's membership, the org's count (API access on, under the limit)
    /// and the `key.created` event.
    fn create_transaction(&self, org_id: &str, key: &NewKey, audit: &Audit) -> Result<Transaction, Error> {
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
        Ok(tx)
    }
}

/// What a cancelled create is: the org's `META` as it was tells a missing org from API access
/// off from the limit.
fn create_failure(cancelled: &Cancelled) -> Error {
    if cancelled.failed(Step::Membership) {
        return Error::OrgNotFound;
    }
    match cancelled.old_item(Step::OrgMeta) {
        Some(old) if old.is_empty() => Error::OrgNotFound,
        Some(old) if !matches!(old.get("api_enabled"), Some(AttributeValue::Bool(true))) => Error::ApiNotEnabled,
        Some(_) => Error::KeyLimitReached(MAX_ACTIVE_KEYS),
        None => Error::Internal(format!("create-key transaction cancelled: {}", cancelled.describe())),
    }
}

#[cfg(test)]
mod tests {
    use super::super::items::{Item, n};
    use super::super::tests::{audit, store, update_of};
    use super::*;
    use crate::audit::Actor;

    pub(crate) fn new_key(expires_at: Option<i64>, rolled_from: Option<&str>) -> NewKey {
        NewKey {
            key_id: "key_new".into(),
            hash: crate::api_key::ApiKey::generate().hash(),
            name: "ci".into(),
            prefix: "sk_live_wxyz".into(),
            created_at: 1_767_225_600,
            expires_at,
            rolled_from: rolled_from.map(str::to_owned),
            restrictions: Default::default(),
        }
    }

    #[test]
    fn a_new_key_is_two_items_refused_if_they_exist_with_expiry_on_both() {
        let store = store();
        let key = new_key(Some(1_900_000_000), Some("key_old"));
        let [org_item, key_item] = store.key_puts("org_1", &key).unwrap();
        let (org_item, key_item) = (org_item.put().unwrap(), key_item.put().unwrap());
        assert_eq!(org_item.table_name(), "t-Orgs");
        assert_eq!(org_item.item()["sk"].as_s().unwrap(), "KEY#key_new");
        assert_eq!(org_item.condition_expression(), Some("attribute_not_exists(sk)"));
        assert_eq!(org_item.item()["rolled_from"].as_s().unwrap(), "key_old");
        assert_eq!(key_item.table_name(), "t-ApiKeys");
        assert_eq!(key_item.item()["key_hash"].as_s().unwrap(), key.hash.as_str());
        assert_eq!(key_item.condition_expression(), Some("attribute_not_exists(key_hash)"));
        for item in [org_item.item(), key_item.item()] {
            assert_eq!(item["expires_at"], n(1_900_000_000));
        }
        assert!(!key_item.item().contains_key("rolled_from"));
        let [org_item, _] = store.key_puts("org_1", &new_key(None, None)).unwrap();
        assert!(!org_item.put().unwrap().item().contains_key("expires_at"));
    }

    #[test]
    fn a_create_checks_membership_and_counts_under_the_limit() {
        let store = store();
        let tx = store.create_transaction("org_1", &new_key(None, None), &audit()).unwrap();
        assert_eq!(tx.steps(), [Step::Membership, Step::OrgMeta, Step::NewKey, Step::NewKey, Step::Event]);
        assert_eq!(update_of(&tx, 1).condition_expression(), Some("api_enabled = :true AND active_keys < :max"));
        let operator = Audit::new(Actor::operator(Some("ops")), "r", 0);
        assert!(matches!(store.create_transaction("org_1", &new_key(None, None), &operator), Err(Error::OrgNotFound)));
    }

    #[test]
    fn failures_map_to_their_cause() {
        let steps = [Step::Membership, Step::OrgMeta, Step::NewKey, Step::NewKey, Step::Event];
        let failed = |step, old: Option<Item>| create_failure(&Cancelled::of(&steps, step, old));
        assert!(matches!(failed(Step::Membership, None), Error::OrgNotFound));
        assert!(matches!(failed(Step::OrgMeta, Some(Item::new())), Error::OrgNotFound));
        let off = Item::from([("api_enabled".to_owned(), AttributeValue::Bool(false))]);
        assert!(matches!(failed(Step::OrgMeta, Some(off)), Error::ApiNotEnabled));
        let on = Item::from([("api_enabled".to_owned(), AttributeValue::Bool(true))]);
        assert!(matches!(failed(Step::OrgMeta, Some(on)), Error::KeyLimitReached(100)));
        assert!(matches!(failed(Step::NewKey, None), Error::Internal(_)));
    }
}
