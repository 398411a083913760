//! Orgs and membership: signup (a new org with its owner, first key, the owner's org count and the
//! `org.created` event; or API access turned on for a dashboard org), the CLI's `org create`,
//! and the membership check every key route makes.

use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};

use super::items::{META, member_sk, n, put, s, user_pk};
use super::retry::build_error;
use super::transaction::{Cancelled, Step, Transaction};
use super::{DynamoStore, MAX_ORGS_PER_USER};
use crate::audit::{Audit, Change};
use crate::clock::rfc3339;
use crate::error::Error;
use crate::store::{CreateOrg, Membership, NewKey, NewOrg, Orgs};

impl Membership for DynamoStore {
    async fn is_member(&self, org_id: &str, uid: &str) -> Result<bool, Error> {
        Ok(self.get_org_item(org_id, member_sk(uid)).await?.is_some())
    }
}

impl crate::store::OrgKeys for DynamoStore {
    /// The key's `KEY#` item, else its `REVOKED#` copy.
    async fn has_key(&self, org_id: &str, key_id: &str) -> Result<bool, Error> {
        match self.key_item(org_id, key_id).await {
            Ok(_) => Ok(true),
            Err(Error::KeyNotFound) => Ok(false),
            Err(err) => Err(err),
        }
    }
}

impl Orgs for DynamoStore {
    async fn create_org_with_key(&self, org: &NewOrg, key: &NewKey, audit: &Audit) -> Result<(), Error> {
        match self.transact(self.signup_transaction(org, key, audit)?).await? {
            Ok(()) => Ok(()),
            Err(cancelled) => Err(signup_failure(&cancelled)),
        }
    }
    async fn enable_api(&self, org_id: &str, webhook_secret: &str, key: &NewKey, audit: &Audit) -> Result<(), Error> {
        match self.transact(self.enable_transaction(org_id, webhook_secret, key, audit)?).await? {
            Ok(()) => Ok(()),
            Err(cancelled) => Err(enable_failure(&cancelled)),
        }
    }
}

impl CreateOrg for DynamoStore {
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
}

impl DynamoStore {
    /// Signup with `org_name`: the person's org count goes up in the same transaction as the org,
    /// its first key and its event, so the cap holds under retries and parallel signups alike.
    fn signup_transaction(&self, org: &NewOrg, key: &NewKey, audit: &Audit) -> Result<Transaction, Error> {
        let count = self.capped_increment(
            self.org_key(&user_pk(&org.owner_uid), "ORG_COUNT".to_owned()),
            "orgs_created",
            MAX_ORGS_PER_USER,
            false,
        )?;
        let mut tx = Transaction::new();
        tx.push(Step::OrgCount, count);
        tx.extend(Step::NewOrg, self.org_puts(org, Some(1))?);
        tx.extend(Step::NewKey, self.key_puts(&org.org_id, key)?);
        tx.push(Step::Event, self.event_put(&org.org_id, Some(&key.key_id), &Change::OrgCreated, audit)?);
        Ok(tx)
    }

    /// Signup with `existing_org_id`: API access turned on for an org the actor is a member of.
    fn enable_transaction(
        &self,
        org_id: &str,
        webhook_secret: &str,
        key: &NewKey,
        audit: &Audit,
    ) -> Result<Transaction, Error> {
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
            .expression_attribute_values(":at", s(&rfc3339(key.created_at)))
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
        Ok(tx)
    }
}

/// 131-bit keys and 143-bit org ids do not collide; if they ever do, nothing was written.
fn signup_failure(cancelled: &Cancelled) -> Error {
    if cancelled.failed(Step::OrgCount) {
        return Error::OrgLimitReached(MAX_ORGS_PER_USER);
    }
    Error::Internal(format!("signup transaction cancelled: {}", cancelled.describe()))
}

/// The old `META` item tells "no such org" from "already enabled".
fn enable_failure(cancelled: &Cancelled) -> Error {
    if cancelled.failed(Step::Membership) {
        return Error::OrgNotFound;
    }
    match cancelled.old_item(Step::OrgMeta) {
        Some(old) if old.is_empty() => Error::OrgNotFound,
        Some(_) => Error::ApiAlreadyEnabled,
        None => Error::Internal(format!("enable-api transaction cancelled: {}", cancelled.describe())),
    }
}

impl DynamoStore {
    pub(super) fn member_check(&self, org_id: &str, uid: &str) -> Result<TransactWriteItem, Error> {
        let check = ConditionCheck::builder()
            .table_name(&self.tables.orgs)
            .set_key(Some(self.org_key(org_id, member_sk(uid))))
            .condition_expression("attribute_exists(sk)")
            .build()
            .map_err(build_error)?;
        Ok(TransactWriteItem::builder().condition_check(check).build())
    }

    /// `META` and the owner's `MEMBER#` item of a new org; with `active_keys`, API access is on.
    fn org_puts(&self, org: &NewOrg, active_keys: Option<i64>) -> Result<[TransactWriteItem; 2], Error> {
        let mut meta = self.org_key(&org.org_id, META.to_owned());
        meta.extend([("name".to_owned(), s(&org.name)), ("created_at".to_owned(), s(&rfc3339(org.created_at)))]);
        match (active_keys, &org.webhook_secret) {
            (Some(count), Some(secret)) => meta.extend([
                ("api_enabled".to_owned(), AttributeValue::Bool(true)),
                ("api_enabled_at".to_owned(), s(&rfc3339(org.created_at))),
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
            ("created_at".to_owned(), s(&rfc3339(org.created_at))),
        ]);
        Ok([
            put(&self.tables.orgs, meta, "attribute_not_exists(sk)")?,
            put(&self.tables.orgs, member, "attribute_not_exists(sk)")?,
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::super::items::Item;
    use super::super::tests::{audit, store, update_of};
    use super::*;
    use crate::audit::Actor;

    fn org(webhook_secret: Option<&str>) -> NewOrg {
        NewOrg {
            org_id: "org_1".into(),
            name: "Acme".into(),
            owner_uid: "uid_member".into(),
            created_at: 1_767_225_600,
            webhook_secret: webhook_secret.map(str::to_owned),
        }
    }

    fn key() -> NewKey {
        NewKey {
            key_id: "key_1".into(),
            hash: crate::api_key::ApiKey::generate().hash(),
            name: "default".into(),
            prefix: "sk_live_abcd".into(),
            created_at: 1_767_225_600,
            expires_at: None,
            rolled_from: None,
            restrictions: Default::default(),
        }
    }

    #[test]
    fn a_new_org_is_its_meta_and_its_owner_with_api_access_only_at_signup() {
        let store = store();
        let [meta, owner] = store.org_puts(&org(Some("whsec_x")), Some(1)).unwrap();
        let meta = meta.put().unwrap().item();
        assert_eq!((meta["sk"].as_s().unwrap().as_str(), meta["api_enabled"].as_bool().unwrap()), ("META", &true));
        assert_eq!(meta["active_keys"].as_n().unwrap(), "1");
        assert_eq!(meta["webhook_secret"].as_s().unwrap(), "whsec_x");
        let owner = owner.put().unwrap();
        assert_eq!(owner.item()["sk"].as_s().unwrap(), "MEMBER#uid_member");
        assert_eq!(owner.item()["role"].as_s().unwrap(), "owner");
        assert_eq!(owner.condition_expression(), Some("attribute_not_exists(sk)"));
        let [dashboard, _] = store.org_puts(&org(None), None).unwrap();
        let dashboard = dashboard.put().unwrap().item();
        assert_eq!(dashboard["api_enabled"].as_bool(), Ok(&false));
        assert_eq!(dashboard["active_keys"].as_n().unwrap(), "0");
        assert!(!dashboard.contains_key("webhook_secret"));
        let check = store.member_check("org_1", "uid_x").unwrap();
        let check = check.condition_check().unwrap();
        assert_eq!(check.key()["sk"].as_s().unwrap(), "MEMBER#uid_x");
        assert_eq!(check.condition_expression(), "attribute_exists(sk)");
    }

    #[test]
    fn signup_counts_the_persons_orgs_in_its_own_transaction() {
        let store = store();
        let tx = store.signup_transaction(&org(Some("whsec_x")), &key(), &audit()).unwrap();
        assert_eq!(tx.steps(), [Step::OrgCount, Step::NewOrg, Step::NewOrg, Step::NewKey, Step::NewKey, Step::Event]);
        let count = update_of(&tx, 0);
        assert_eq!(count.key()["org_id"].as_s().unwrap(), "USER#uid_member");
        assert_eq!(count.condition_expression(), Some("(attribute_not_exists(#count) OR #count < :max)"));
        assert_eq!(count.expression_attribute_names().unwrap()["#count"], "orgs_created");
        assert_eq!(count.expression_attribute_values().unwrap()[":max"].as_n().unwrap(), "10");
        let tx = store.enable_transaction("org_1", "whsec_x", &key(), &audit()).unwrap();
        assert_eq!(tx.steps(), [Step::Membership, Step::OrgMeta, Step::NewKey, Step::NewKey, Step::Event]);
        let operator = Audit::new(Actor::operator(None), "r", 0);
        assert!(matches!(store.enable_transaction("org_1", "w", &key(), &operator), Err(Error::OrgNotFound)));
    }

    #[test]
    fn failures_map_to_their_cause() {
        let signup = [Step::OrgCount, Step::NewOrg, Step::NewKey, Step::Event];
        assert!(matches!(signup_failure(&Cancelled::of(&signup, Step::OrgCount, None)), Error::OrgLimitReached(10)));
        assert!(matches!(signup_failure(&Cancelled::of(&signup, Step::NewKey, None)), Error::Internal(_)));
        let enable = [Step::Membership, Step::OrgMeta, Step::NewKey, Step::Event];
        let failed = |step, old| enable_failure(&Cancelled::of(&enable, step, old));
        assert!(matches!(failed(Step::Membership, None), Error::OrgNotFound));
        assert!(matches!(failed(Step::OrgMeta, Some(Item::new())), Error::OrgNotFound));
        let enabled = Item::from([("api_enabled".to_owned(), AttributeValue::Bool(true))]);
        assert!(matches!(failed(Step::OrgMeta, Some(enabled)), Error::ApiAlreadyEnabled));
        assert!(matches!(failed(Step::Event, None), Error::Internal(_)));
    }
}
