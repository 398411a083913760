//! DynamoDB item shapes: sort keys, attribute helpers, and items read back as records.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};

use super::retry::build_error;
use crate::clock::rfc3339;
use crate::error::Error;
use crate::store::records::{KeyRecord, KeyStatus, KeySummary};

pub(super) type Item = HashMap<String, AttributeValue>;

pub(super) const META: &str = "META";
/// A key that has not ended: active, expiring, or expired but not yet moved (see `retire`).
pub(super) const ACTIVE: &str = "KEY#";
/// A key that ended: revoked, or expired and moved out of the active run.
pub(super) const REVOKED: &str = "REVOKED#";
pub(super) const EVENT: &str = "EVENT#";

/// On an active-run item: it no longer counts toward the org's `active_keys` (a rolled key
/// during its grace period).
pub(super) const RELEASED: &str = "released";

/// On a released item: it is one of `META.grace_keys` (every key released since the grace count
/// exists; keys released before it have `released` alone, and their end leaves the count alone).
pub(super) const GRACE_COUNTED: &str = "grace_counted";

pub(super) fn member_sk(uid: &str) -> String {
    format!("MEMBER#{uid}")
}

pub(super) fn key_sk(key_id: &str) -> String {
    format!("{ACTIVE}{key_id}")
}

pub(super) fn revoked_sk(key_id: &str) -> String {
    format!("{REVOKED}{key_id}")
}

pub(super) fn event_sk(event_id: &str) -> String {
    format!("{EVENT}{event_id}")
}

/// The partition of one person's own items (their org count); never a valid org id.
pub(super) fn user_pk(uid: &str) -> String {
    format!("USER#{uid}")
}

pub(super) fn put(table: &str, item: Item, condition: &str) -> Result<TransactWriteItem, Error> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression(condition)
        .build()
        .map_err(build_error)?;
    Ok(TransactWriteItem::builder().put(put).build())
}

pub(super) fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

pub(super) fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub(super) fn get_s(item: &Item, name: &str) -> Result<String, Error> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Ok(v.clone()),
        _ => Err(lacks(name)),
    }
}

/// A required string attribute that is missing or of another type: the item is not ours to guess.
fn lacks(name: &str) -> Error {
    Error::Internal(format!("item lacks string attribute {name}"))
}

pub(super) fn opt_s(item: &Item, name: &str) -> Option<String> {
    get_s(item, name).ok()
}

pub(super) fn get_n(item: &Item, name: &str) -> Option<i64> {
    item.get(name).and_then(number)
}

/// An `ApiKeys` item as the hot path reads it. Takes the item: its strings move into the record
/// instead of being copied (the one read's answer is not needed afterwards), in one pass over its
/// attributes rather than a hashed lookup per name.
pub(super) fn key_record(item: Item) -> Result<KeyRecord, Error> {
    use super::restrictions::{ALLOWED_IPS, FORMATS, PERMISSIONS};
    let (mut key_id, mut org_id, mut name, mut prefix, mut created_at) = (None, None, None, None, None);
    let (mut revoked_at, mut revoked_reason, mut last_used_at, mut expires_at) = (None, None, None, None);
    let (mut rolled_to, mut leaked_url, mut leaked_source) = (None, None, None);
    let (mut permissions, mut formats, mut allowed_ips) = (None, None, None);
    for (attribute, value) in item {
        match attribute.as_str() {
            "key_id" => key_id = string(value),
            "org_id" => org_id = string(value),
            "name" => name = string(value),
            "prefix" => prefix = string(value),
            "created_at" => created_at = Some(time(value, "created_at")?),
            "revoked_at" => revoked_at = Some(time(value, "revoked_at")?),
            "revoked_reason" => revoked_reason = string(value),
            "last_used_at" => last_used_at = number(&value),
            "expires_at" => expires_at = number(&value),
            "rolled_to" => rolled_to = string(value),
            "leaked_url" => leaked_url = string(value),
            "leaked_source" => leaked_source = string(value),
            PERMISSIONS => permissions = Some(value),
            FORMATS => formats = Some(value),
            ALLOWED_IPS => allowed_ips = Some(value),
            _ => {}
        }
    }
    Ok(KeyRecord {
        key_id: key_id.ok_or_else(|| lacks("key_id"))?,
        org_id: org_id.ok_or_else(|| lacks("org_id"))?,
        name: name.ok_or_else(|| lacks("name"))?,
        prefix: prefix.ok_or_else(|| lacks("prefix"))?,
        created_at: created_at.ok_or_else(|| lacks("created_at"))?,
        // Whether it was revoked decides whether its reason is read at all.
        revoked_reason: revoked_at.map(|_| crate::audit::RevokedReason::parse(revoked_reason.as_deref())),
        revoked_at,
        last_used_at,
        expires_at,
        rolled_to,
        leaked_url,
        leaked_source,
        restrictions: super::restrictions::decode_lists(permissions, formats, allowed_ips)?,
    })
}

fn string(value: AttributeValue) -> Option<String> {
    match value {
        AttributeValue::S(v) => Some(v),
        _ => None,
    }
}

fn number(value: &AttributeValue) -> Option<i64> {
    match value {
        AttributeValue::N(v) => v.parse().ok(),
        _ => None,
    }
}

/// An RFC 3339 attribute as seconds since the epoch; anything else is an internal error.
fn time(value: AttributeValue, name: &str) -> Result<i64, Error> {
    match value {
        AttributeValue::S(v) => crate::clock::parse_rfc3339(&v)
            .ok_or_else(|| Error::Internal(format!("attribute {name} is not an RFC 3339 time"))),
        _ => Err(lacks(name)),
    }
}

/// An `Orgs` key item (`KEY#` or `REVOKED#`) as listed at `now`.
pub(super) fn key_summary(item: &Item, last_used_at: Option<i64>, now: i64) -> Result<KeySummary, Error> {
    let revoked_at = opt_s(item, "revoked_at");
    let expires_at = get_n(item, "expires_at");
    let status = KeyStatus::at(revoked_at.is_some(), expires_at, now);
    Ok(KeySummary {
        id: get_s(item, "key_id")?,
        name: get_s(item, "name")?,
        prefix: get_s(item, "prefix")?,
        created_at: get_s(item, "created_at")?,
        last_used_at: last_used_at.map(rfc3339),
        expires_at: expires_at.map(rfc3339),
        revoked_reason: revoked_at
            .as_ref()
            .map(|_| crate::audit::RevokedReason::parse(opt_s(item, "revoked_reason").as_deref()).as_str().to_owned()),
        revoked_at,
        status,
        rolled_from: opt_s(item, "rolled_from"),
        rolled_to: opt_s(item, "rolled_to"),
        restrictions: super::restrictions::restrictions_of(item)?,
    })
}

/// Whether an active-run item still counts toward `active_keys`.
pub(super) fn counts(item: &Item) -> bool {
    !item.contains_key(RELEASED)
}

/// Whether the item is one of the org's `grace_keys`.
pub(super) fn grace_counted(item: &Item) -> bool {
    item.contains_key(RELEASED) && item.contains_key(GRACE_COUNTED)
}

#[cfg(test)]
mod tests {
    use super::super::tests::active_item;
    use super::*;

    #[test]
    fn sort_keys_and_puts_are_what_the_tables_hold() {
        assert_eq!((key_sk("key_1"), revoked_sk("key_1")), ("KEY#key_1".to_owned(), "REVOKED#key_1".to_owned()));
        assert_eq!(
            (member_sk("u"), event_sk("evt_1"), user_pk("u")),
            ("MEMBER#u".into(), "EVENT#evt_1".into(), "USER#u".into())
        );
        let item = put("t", Item::from([("a".to_owned(), s("b"))]), "attribute_not_exists(a)").unwrap();
        let item = item.put().unwrap();
        assert_eq!((item.table_name(), item.condition_expression()), ("t", Some("attribute_not_exists(a)")));
    }

    #[test]
    fn records_and_summaries_read_back_what_was_written() {
        let mut item = active_item("key_1", "ci");
        assert!(counts(&item) && !grace_counted(&item));
        let summary = key_summary(&item, Some(1_800_000_000), 1_800_000_000).unwrap();
        assert_eq!(
            (summary.status, summary.expires_at.as_deref()),
            (KeyStatus::Expiring, Some("2030-03-17T17:46:40Z"))
        );
        assert_eq!(summary.last_used_at.as_deref(), Some("2027-01-15T08:00:00Z"));
        assert_eq!(summary.revoked_reason, None);
        item.insert("revoked_at".into(), s("2027-01-01T00:00:00Z"));
        let summary = key_summary(&item, None, 1_800_000_000).unwrap();
        assert_eq!((summary.status, summary.revoked_reason.as_deref()), (KeyStatus::Revoked, Some("revoked")));
        item.insert("revoked_reason".into(), s("leaked"));
        assert_eq!(key_summary(&item, None, 0).unwrap().revoked_reason.as_deref(), Some("leaked"));
        item.insert(RELEASED.into(), AttributeValue::Bool(true));
        assert!(!counts(&item) && !grace_counted(&item), "released before the grace count");
        item.insert(GRACE_COUNTED.into(), AttributeValue::Bool(true));
        assert!(grace_counted(&item));
        let record = key_record(item.clone()).unwrap();
        assert_eq!((record.org_id.as_str(), record.expires_at), ("org_1", Some(1_900_000_000)));
        assert_eq!((record.created_at, record.revoked_at), (1_767_225_600, Some(1_798_761_600)), "RFC 3339 read back");
        assert_eq!(record.revoked_reason, Some(crate::audit::RevokedReason::Leaked));
        // The lists come back with the record the hot path reads.
        let mut listed = item.clone();
        listed.insert("formats".into(), AttributeValue::L(vec![s("pdf")]));
        assert_eq!(key_record(listed).unwrap().restrictions.formats, Some(vec!["pdf".to_owned()]));
        item.insert("created_at".into(), s("yesterday"));
        assert!(key_record(item.clone()).is_err(), "a time that is not RFC 3339 is an internal error");
        item.insert("created_at".into(), s("2026-01-01T00:00:00Z"));
        item.remove("prefix");
        assert!(key_record(item.clone()).is_err(), "a missing attribute is an internal error, not a guess");
        assert_eq!(get_n(&Item::from([("x".to_owned(), s("1"))]), "x"), None, "a string is not a number");
    }

    #[test]
    fn a_key_record_is_read_in_one_pass_and_every_required_attribute_checked() {
        let mut item = active_item("key_1", "ci");
        item.insert("key_hash".into(), s("ab12"));
        item.insert("rolled_to".into(), s("key_2"));
        item.insert("leaked_url".into(), s("https://github.com/o/r/blob/x"));
        item.insert("leaked_source".into(), s("github"));
        item.insert("last_used_at".into(), n(1_800_000_100));
        item.insert("permissions".into(), AttributeValue::L(vec![s("runs:read")]));
        item.insert("allowed_ips".into(), AttributeValue::L(vec![s("203.0.113.0/24")]));
        let record = key_record(item.clone()).unwrap();
        assert_eq!(
            (record.key_id.as_str(), record.name.as_str(), record.prefix.as_str(), record.created_at),
            ("key_1", "ci", "sk_live_abcd", 1_767_225_600)
        );
        assert_eq!(
            (record.rolled_to.as_deref(), record.leaked_url.as_deref(), record.leaked_source.as_deref()),
            (Some("key_2"), Some("https://github.com/o/r/blob/x"), Some("github"))
        );
        assert_eq!(record.last_used_at, Some(1_800_000_100));
        assert_eq!((record.revoked_at, record.revoked_reason), (None, None), "not revoked: no reason read");
        assert_eq!(record.restrictions.permissions.map(|p| p.len()), Some(1));
        assert_eq!(record.restrictions.allowed_ips.map(|a| a.len()), Some(1));
        // Optional attributes of another type are absent, not errors.
        let mut odd = item.clone();
        odd.insert("rolled_to".into(), n(1));
        odd.insert("last_used_at".into(), s("soon"));
        let record = key_record(odd).unwrap();
        assert_eq!((record.rolled_to, record.last_used_at), (None, None));
        // Revoked without a reason: the reason the parser gives to none.
        let mut revoked = item.clone();
        revoked.insert("revoked_at".into(), s("2027-01-01T00:00:00Z"));
        assert_eq!(key_record(revoked.clone()).unwrap().revoked_reason, Some(crate::audit::RevokedReason::parse(None)));
        revoked.insert("revoked_at".into(), n(5));
        assert!(key_record(revoked).is_err(), "a revocation time that is not a string is an internal error");
        for required in ["key_id", "org_id", "name", "prefix", "created_at"] {
            let mut missing = item.clone();
            missing.remove(required);
            let err = key_record(missing).unwrap_err();
            assert!(err.to_string().contains(required), "{required}: {err}");
            let mut wrong = item.clone();
            wrong.insert(required.into(), AttributeValue::Bool(true));
            assert!(key_record(wrong).is_err(), "{required} of another type");
        }
        let mut bad_list = item.clone();
        bad_list.insert("allowed_ips".into(), AttributeValue::L(vec![s("not a network")]));
        assert!(key_record(bad_list).is_err(), "a list that does not parse is never unrestricted");
    }
}
