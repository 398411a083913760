//! The DynamoDB adapter against DynamoDB Local: transactions, conditions, consistency.

use overten::ApiKey;
use overten::Error;
use overten::clock::now_secs;
use overten::ids::{new_key_id, new_org_id, new_webhook_secret};
use overten::store::{
    CreateKey, CreateOrg, Inherit, KeyLookup, KeyUpdate, ListKeys, ListQuery, Membership, NewKey, NewOrg, Orgs,
    RevokeKey, RollKey, UpdateKey,
};
use overten_tests::{fresh_store, revoked, user};

fn new_key(name: &str) -> (ApiKey, NewKey) {
    let key = ApiKey::generate();
    let record = NewKey {
        key_id: new_key_id(overten::clock::now_millis()),
        hash: key.hash(),
        name: name.into(),
        prefix: key.display_prefix().into(),
        created_at: now_secs(),
        expires_at: None,
        rolled_from: None,
        restrictions: Default::default(),
    };
    (key, record)
}

fn rename(name: &str) -> KeyUpdate {
    KeyUpdate { name: Some(name.into()), restrictions: Default::default() }
}

fn new_org(owner: &str, with_api: bool) -> NewOrg {
    NewOrg {
        org_id: new_org_id(),
        name: "Acme".into(),
        owner_uid: owner.into(),
        created_at: now_secs(),
        webhook_secret: with_api.then(new_webhook_secret),
    }
}

fn all() -> ListQuery {
    ListQuery { limit: 100, cursor: None, include_revoked: true }
}

#[tokio::test]
async fn org_owner_and_first_key_are_written_together_and_read_back_consistently() {
    let store = fresh_store().await;
    let org = new_org("uid-owner", true);
    let (key, record) = new_key("default");
    store.create_org_with_key(&org, &record, &user(&org.owner_uid)).await.unwrap();

    // Strongly consistent reads right after the write see everything.
    let found = store.find_key(&key.hash()).await.unwrap().expect("key readable right after signup");
    assert_eq!(
        (found.org_id.as_str(), found.key_id.as_str(), found.name.as_str()),
        (org.org_id.as_str(), record.key_id.as_str(), "default")
    );
    assert_eq!(found.prefix, key.display_prefix());
    assert!(found.revoked_at.is_none());
    assert!(store.is_member(&org.org_id, "uid-owner").await.unwrap());
    assert!(!store.is_member(&org.org_id, "uid-stranger").await.unwrap());
    let page = store.list_keys(&org.org_id, &all(), overten::clock::now_secs()).await.unwrap();
    assert_eq!(page.data.len(), 1);
    assert_eq!(page.data[0].id, record.key_id);

    // Only the hash is stored: no attribute of any item holds the raw key.
    let scan = store.client().scan().table_name(&store.tables().api_keys).send().await.unwrap();
    let dump = format!("{:?}", scan.items());
    assert!(!dump.contains(key.expose_secret()));
    assert!(dump.contains(key.hash().as_str()));
}

#[tokio::test]
async fn a_duplicate_hash_is_refused_and_nothing_of_that_signup_is_written() {
    let store = fresh_store().await;
    let (_key, record) = new_key("default");
    let first = new_org("uid-a", true);
    store.create_org_with_key(&first, &record, &user(&first.owner_uid)).await.unwrap();

    let second = new_org("uid-b", true);
    let mut same_hash = record.clone();
    same_hash.key_id = new_key_id(overten::clock::now_millis());
    let err = store.create_org_with_key(&second, &same_hash, &user(&second.owner_uid)).await.unwrap_err();
    assert!(matches!(err, Error::Internal(_)), "{err:?}");
    // The cancelled transaction left neither the second org nor its owner.
    assert!(!store.is_member(&second.org_id, "uid-b").await.unwrap());
    let meta = store
        .client()
        .get_item()
        .table_name(&store.tables().orgs)
        .key("org_id", aws_sdk_dynamodb::types::AttributeValue::S(second.org_id.clone()))
        .key("sk", aws_sdk_dynamodb::types::AttributeValue::S("META".into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    assert!(meta.item.is_none());
    // And the key still belongs to the first org.
    assert_eq!(store.find_key(&record.hash).await.unwrap().unwrap().org_id, first.org_id);
}

#[tokio::test]
async fn a_revoke_through_another_org_is_refused() {
    let store = fresh_store().await;
    let org_a = new_org("uid-a", true);
    let (key_a, record_a) = new_key("a");
    store.create_org_with_key(&org_a, &record_a, &user(&org_a.owner_uid)).await.unwrap();
    let org_b = new_org("uid-b", true);
    let (_, record_b) = new_key("b");
    store.create_org_with_key(&org_b, &record_b, &user(&org_b.owner_uid)).await.unwrap();

    // B's owner names A's key under B: there is no such key in B.
    let err = store.revoke_key(&org_b.org_id, &record_a.key_id, &revoked(), &user("uid-b")).await.unwrap_err();
    assert!(matches!(err, Error::KeyNotFound), "{err:?}");
    // B's owner names A's key under A: not a member of A.
    let err = store.revoke_key(&org_a.org_id, &record_a.key_id, &revoked(), &user("uid-b")).await.unwrap_err();
    assert!(matches!(err, Error::OrgNotFound), "{err:?}");
    assert!(store.find_key(&key_a.hash()).await.unwrap().unwrap().revoked_at.is_none());

    // A's owner can, and revoking again is fine.
    store.revoke_key(&org_a.org_id, &record_a.key_id, &revoked(), &user("uid-a")).await.unwrap();
    store.revoke_key(&org_a.org_id, &record_a.key_id, &revoked(), &user("uid-a")).await.unwrap();
    assert!(store.find_key(&key_a.hash()).await.unwrap().unwrap().revoked_at.is_some());
    let active = store
        .list_keys(&org_a.org_id, &ListQuery { include_revoked: false, ..all() }, overten::clock::now_secs())
        .await
        .unwrap();
    assert!(active.data.is_empty());
    assert_eq!(store.list_keys(&org_a.org_id, &all(), overten::clock::now_secs()).await.unwrap().data.len(), 1);
}

#[tokio::test]
async fn enable_api_on_a_dashboard_org() {
    let store = fresh_store().await;
    let org = new_org("uid-owner", false);
    store.create_org(&org).await.unwrap();
    let (_, record) = new_key("default");

    // Before API access, keys cannot be created.
    let err = store.create_key(&org.org_id, &record, &user("uid-owner")).await.unwrap_err();
    assert!(matches!(err, Error::ApiNotEnabled), "{err:?}");
    let err = store.enable_api(&org.org_id, "whsec_x", &record, &user("uid-stranger")).await.unwrap_err();
    assert!(matches!(err, Error::OrgNotFound), "{err:?}");
    let err = store.enable_api(&new_org_id(), "whsec_x", &record, &user("uid-owner")).await.unwrap_err();
    assert!(matches!(err, Error::OrgNotFound), "{err:?}");
    store.enable_api(&org.org_id, "whsec_x", &record, &user("uid-owner")).await.unwrap();
    let (_, again) = new_key("default");
    let err = store.enable_api(&org.org_id, "whsec_y", &again, &user("uid-owner")).await.unwrap_err();
    assert!(matches!(err, Error::ApiAlreadyEnabled), "{err:?}");
    assert!(store.find_key(&again.hash).await.unwrap().is_none(), "the refused signup wrote its key");
    assert!(store.find_key(&record.hash).await.unwrap().is_some());
}

#[tokio::test]
async fn at_most_one_hundred_active_keys() {
    let store = fresh_store().await;
    let org = new_org("uid-owner", true);
    let (_, first) = new_key("k0");
    store.create_org_with_key(&org, &first, &user(&org.owner_uid)).await.unwrap();
    for i in 1..100 {
        let (_, record) = new_key(&format!("k{i}"));
        store.create_key(&org.org_id, &record, &user("uid-owner")).await.unwrap();
    }
    let (_, extra) = new_key("k100");
    let err = store.create_key(&org.org_id, &extra, &user("uid-owner")).await.unwrap_err();
    assert!(matches!(err, Error::KeyLimitReached(100)), "{err:?}");
    assert!(store.find_key(&extra.hash).await.unwrap().is_none());
    // Revoking one frees a slot.
    store.revoke_key(&org.org_id, &first.key_id, &revoked(), &user("uid-owner")).await.unwrap();
    store.create_key(&org.org_id, &extra, &user("uid-owner")).await.unwrap();

    // Pagination walks all active keys in creation order without repeats.
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .list_keys(
                &org.org_id,
                &ListQuery { limit: 30, cursor: cursor.clone(), include_revoked: false },
                now_secs(),
            )
            .await
            .unwrap();
        seen.extend(page.data.iter().map(|k| k.id.clone()));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(seen.len(), 100);
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, seen);
    assert!(!seen.contains(&first.key_id));
}

#[tokio::test]
async fn touch_key_writes_last_used_at_at_most_once_a_minute() {
    let store = fresh_store().await;
    let org = new_org("uid-owner", true);
    let (key, record) = new_key("default");
    store.create_org_with_key(&org, &record, &user(&org.owner_uid)).await.unwrap();
    let t0 = now_secs();
    store.touch_key(&key.hash(), t0).await.unwrap();
    assert_eq!(store.find_key(&key.hash()).await.unwrap().unwrap().last_used_at, Some(t0));
    // Within the minute: the condition keeps the first value.
    store.touch_key(&key.hash(), t0 + 30).await.unwrap();
    assert_eq!(store.find_key(&key.hash()).await.unwrap().unwrap().last_used_at, Some(t0));
    store.touch_key(&key.hash(), t0 + 61).await.unwrap();
    assert_eq!(store.find_key(&key.hash()).await.unwrap().unwrap().last_used_at, Some(t0 + 61));
    // An unknown key is not created by a touch.
    let other = ApiKey::generate();
    store.touch_key(&other.hash(), t0).await.unwrap();
    assert!(store.find_key(&other.hash()).await.unwrap().is_none());
}

#[tokio::test]
async fn an_unreachable_dynamodb_is_unavailable_not_internal() {
    let client = overten_tests::ddb_client_at("http://127.0.0.1:9").await;
    let store = overten::store::DynamoStore::new(client, overten_tests::fresh_tables().await);
    let err = store.find_key(&ApiKey::generate().hash()).await.unwrap_err();
    assert!(matches!(err, Error::Unavailable(_)), "{err:?}");
    assert_eq!(err.status(), 503);
    // The last_used_at write says so too (its caller logs it): only "written less than a minute
    // ago" is no error.
    let err = store.touch_key(&ApiKey::generate().hash(), now_secs()).await.unwrap_err();
    assert!(matches!(err, Error::Unavailable(_)), "{err:?}");
}

/// Every failure a transaction can map, with an item that changes nothing put in the middle of
/// every transaction: the mapping is by step, so moving the items changes no answer.
#[tokio::test]
async fn every_cancellation_maps_to_its_cause_with_an_extra_item_in_the_middle() {
    use aws_sdk_dynamodb::types::AttributeValue;
    use overten::audit::{Actor, Audit, Change, RevokedReason};
    let (store, calls) = overten_tests::call_count::counted_store().await;
    let store = store.with_padded_transactions();
    let owner = format!("uid-{}", overten::api_key::random_base62(8));
    let stranger = user("uid-stranger");
    let now = now_secs();

    // Signup: the org cap.
    let mut orgs = Vec::new();
    for _ in 0..10 {
        let org = new_org(&owner, true);
        store.create_org_with_key(&org, &new_key("first").1, &user(&owner)).await.unwrap();
        orgs.push(org);
    }
    let over = store.create_org_with_key(&new_org(&owner, true), &new_key("k").1, &user(&owner)).await;
    assert!(matches!(over, Err(Error::OrgLimitReached(10))), "{over:?}");

    // Enabling API access: not a member, then twice.
    let dashboard = new_org(&owner, false);
    store.create_org(&dashboard).await.unwrap();
    let secret = new_webhook_secret();
    let as_stranger = store.enable_api(&dashboard.org_id, &secret, &new_key("k").1, &stranger).await;
    assert!(matches!(as_stranger, Err(Error::OrgNotFound)), "{as_stranger:?}");
    let other_dashboard = new_org(&owner, false);
    store.create_org(&other_dashboard).await.unwrap();
    let not_enabled = store.create_key(&other_dashboard.org_id, &new_key("k").1, &user(&owner)).await;
    assert!(matches!(not_enabled, Err(Error::ApiNotEnabled)), "{not_enabled:?}");
    store.enable_api(&dashboard.org_id, &secret, &new_key("k").1, &user(&owner)).await.unwrap();
    let again = store.enable_api(&dashboard.org_id, &secret, &new_key("k").1, &user(&owner)).await;
    assert!(matches!(again, Err(Error::ApiAlreadyEnabled)), "{again:?}");

    // Creating keys: not a member, then the limit.
    let org = &orgs[0];
    let as_stranger = store.create_key(&org.org_id, &new_key("k").1, &stranger).await;
    assert!(matches!(as_stranger, Err(Error::OrgNotFound)), "{as_stranger:?}");
    let mut ids = Vec::new();
    for i in 1..100 {
        let (_, key) = new_key(&format!("k{i}"));
        store.create_key(&org.org_id, &key, &user(&owner)).await.unwrap();
        ids.push(key.key_id);
    }
    let before = calls.of("TransactWriteItems");
    let full = store.create_key(&org.org_id, &new_key("k").1, &user(&owner)).await;
    assert!(matches!(full, Err(Error::KeyLimitReached(100))), "{full:?}");
    // No expired key to move out of the count: one attempt, no second.
    assert_eq!(calls.of("TransactWriteItems") - before, 1);

    // Revoking, rolling, renaming: not a member.
    let revoke = Change::KeyRevoked { reason: RevokedReason::Revoked };
    let as_stranger = store.revoke_key(&org.org_id, &ids[0], &revoke, &stranger).await;
    assert!(matches!(as_stranger, Err(Error::OrgNotFound)), "{as_stranger:?}");
    let as_stranger = store.roll_key(&org.org_id, &ids[0], &new_key("r").1, &Inherit::ALL, 60, &stranger).await;
    assert!(matches!(as_stranger, Err(Error::OrgNotFound)), "{as_stranger:?}");
    let as_stranger = store.update_key(&org.org_id, &ids[0], &rename("renamed"), &stranger).await;
    assert!(matches!(as_stranger, Err(Error::OrgNotFound)), "{as_stranger:?}");

    // A key whose ApiKeys item names another org: the key record's condition refuses the change.
    let (moved, moved_key) = new_key("moved");
    store.create_key(&orgs[1].org_id, &moved_key, &user(&owner)).await.unwrap();
    let elsewhere = store
        .client()
        .update_item()
        .table_name(&store.tables().api_keys)
        .key("key_hash", AttributeValue::S(moved.hash().as_str().to_owned()))
        .update_expression("SET org_id = :other")
        .expression_attribute_values(":other", AttributeValue::S(orgs[2].org_id.clone()));
    elsewhere.send().await.unwrap();
    let revoked = store.revoke_key(&orgs[1].org_id, &moved_key.key_id, &revoke, &user(&owner)).await;
    assert!(matches!(revoked, Err(Error::KeyNotFound)), "{revoked:?}");
    let renamed = store.update_key(&orgs[1].org_id, &moved_key.key_id, &rename("renamed"), &user(&owner)).await;
    assert!(matches!(renamed, Err(Error::KeyNotFound)), "{renamed:?}");

    // Rolling: twice, then the grace limit.
    let mut current = ids[1].clone();
    for _ in 0..100 {
        let (_, next) = new_key("rolled");
        let at = Audit::new(Actor::user(&owner), "req", now);
        store.roll_key(&org.org_id, &current, &next, &Inherit::ALL, 3600, &at).await.unwrap();
        let twice = store.roll_key(&org.org_id, &current, &new_key("again").1, &Inherit::ALL, 3600, &at).await;
        assert!(matches!(twice, Err(Error::KeyAlreadyRolled)), "{twice:?}");
        current = next.key_id;
    }
    let before = calls.of("TransactWriteItems");
    let graced = store.roll_key(&org.org_id, &current, &new_key("r").1, &Inherit::ALL, 3600, &user(&owner)).await;
    assert!(matches!(graced, Err(Error::GraceLimitReached(100))), "{graced:?}");
    // No ended grace to move out of the count: one attempt, no second.
    assert_eq!(calls.of("TransactWriteItems") - before, 1);
    // And a roll with grace 0 is not limited by it.
    store.roll_key(&org.org_id, &current, &new_key("r").1, &Inherit::ALL, 0, &user(&owner)).await.unwrap();

    // An org whose META is gone while the membership stays (a half-deleted org): not found, not
    // "API not enabled".
    store
        .client()
        .delete_item()
        .table_name(&store.tables().orgs)
        .key("org_id", AttributeValue::S(orgs[3].org_id.clone()))
        .key("sk", AttributeValue::S("META".into()))
        .send()
        .await
        .unwrap();
    let gone = store.create_key(&orgs[3].org_id, &new_key("k").1, &user(&owner)).await;
    assert!(matches!(gone, Err(Error::OrgNotFound)), "{gone:?}");
    let gone = store.enable_api(&orgs[3].org_id, &new_webhook_secret(), &new_key("k").1, &user(&owner)).await;
    assert!(matches!(gone, Err(Error::OrgNotFound)), "enabling API access on it too: {gone:?}");
}

/// The operator CLI's lookup by display prefix: every key whose prefix starts with it, from every
/// org, and nothing else.
#[tokio::test]
async fn keys_are_found_by_display_prefix() {
    let store = fresh_store().await;
    let org = new_org("uid-owner", true);
    let (first_key, first) = new_key("first");
    store.create_org_with_key(&org, &first, &user("uid-owner")).await.unwrap();
    let (_, second) = new_key("second");
    store.create_key(&org.org_id, &second, &user("uid-owner")).await.unwrap();

    let found = store.scan_keys_by_prefix(first_key.display_prefix()).await.unwrap();
    assert_eq!(found.iter().map(|k| k.key_id.as_str()).collect::<Vec<_>>(), [first.key_id.as_str()]);
    assert_eq!(found[0].org_id, org.org_id);
    let mut all: Vec<_> = store.scan_keys_by_prefix("sk_live_").await.unwrap().into_iter().map(|k| k.key_id).collect();
    all.sort();
    let mut expected = vec![first.key_id.clone(), second.key_id.clone()];
    expected.sort();
    assert_eq!(all, expected);
    assert!(store.scan_keys_by_prefix("sk_live_~").await.unwrap().is_empty());
}

/// A listing's page: `next_cursor` only when more keys follow (a page of exactly `limit` keys is
/// the last); its consumed read capacity adds up every read it made; an expired key it met is
/// moved out of the active run, and a listing that met none makes no move (one query, one batch
/// read).
#[tokio::test]
async fn a_listing_pages_exactly_counts_its_reads_and_moves_only_what_it_met() {
    use overten::store::KeyStatus;
    let (store, calls) = overten_tests::call_count::counted_store().await;
    let org = new_org("uid-owner", true);
    let (_, first) = new_key("k0");
    store.create_org_with_key(&org, &first, &user("uid-owner")).await.unwrap();
    for i in 1..3 {
        store.create_key(&org.org_id, &new_key(&format!("k{i}")).1, &user("uid-owner")).await.unwrap();
    }
    let (queries, others) = (calls.of("Query"), calls.of("Other"));
    let query = ListQuery { limit: 3, cursor: None, include_revoked: false };
    let page = store.list_keys(&org.org_id, &query, now_secs()).await.unwrap();
    assert_eq!(page.data.len(), 3);
    assert_eq!(page.next_cursor, None, "exactly `limit` keys: no next page");
    // One strongly consistent query (three small items: 1 unit) and one batch read of their
    // last_used_at (1 unit per item).
    assert_eq!(page.read_units, 4.0);
    assert_eq!((calls.of("Query") - queries, calls.of("Other") - others), (1, 1), "nothing to move, no move");
    // With a revoked key: the ended run's query adds its unit (two queries, three items read).
    store.revoke_key(&org.org_id, &first.key_id, &revoked(), &user("uid-owner")).await.unwrap();
    let with_revoked = ListQuery { limit: 3, cursor: None, include_revoked: true };
    let with_ended = store.list_keys(&org.org_id, &with_revoked, now_secs()).await.unwrap();
    assert_eq!(with_ended.data.len(), 3);
    assert_eq!(with_ended.read_units, 5.0);
    let two = ListQuery { limit: 1, cursor: None, include_revoked: false };
    assert!(store.list_keys(&org.org_id, &two, now_secs()).await.unwrap().next_cursor.is_some());

    // A key that expires: the listing leaves it out and moves it to the ended run.
    let (_, short) = new_key("short");
    let short = NewKey { expires_at: Some(now_secs() + 1), ..short };
    store.create_key(&org.org_id, &short, &user("uid-owner")).await.unwrap();
    let later = now_secs() + 5;
    let page = store.list_keys(&org.org_id, &all_active(), later).await.unwrap();
    assert!(page.data.iter().all(|k| k.id != short.key_id));
    let moved = store
        .client()
        .get_item()
        .table_name(&store.tables().orgs)
        .consistent_read(true)
        .key("org_id", aws_sdk_dynamodb::types::AttributeValue::S(org.org_id.clone()))
        .key("sk", aws_sdk_dynamodb::types::AttributeValue::S(format!("REVOKED#{}", short.key_id)))
        .send()
        .await
        .unwrap();
    assert!(moved.item.is_some(), "the expired key was moved to the ended run");
    let ended = store.list_keys(&org.org_id, &all(), later).await.unwrap();
    let listed = ended.data.iter().find(|k| k.id == short.key_id).unwrap();
    assert_eq!(listed.status, KeyStatus::Expired);
}

/// Expired keys between live ones: the listing's query pages past them (the filter leaves a page
/// short) until it has what it wants, and shows each key's `last_used_at`.
#[tokio::test]
async fn a_listing_pages_past_expired_keys_and_shows_last_used_at() {
    let store = fresh_store().await;
    let org = new_org("uid-owner", true);
    let (_, k0) = new_key("k0");
    store.create_org_with_key(&org, &k0, &user("uid-owner")).await.unwrap();
    let soon = now_secs() + 1;
    let mut live = vec![k0.key_id.clone()];
    for name in ["e1", "e2", "k3", "k4"] {
        // Key ids sort by the millisecond they were made: one after another.
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        let (_, key) = new_key(name);
        let key = if name.starts_with('e') { NewKey { expires_at: Some(soon), ..key } } else { key };
        store.create_key(&org.org_id, &key, &user("uid-owner")).await.unwrap();
        if name.starts_with('k') {
            live.push(key.key_id.clone());
        }
    }
    store.touch_key(&k0.hash, now_secs()).await.unwrap();
    let later = now_secs() + 5;
    let page = store
        .list_keys(&org.org_id, &ListQuery { limit: 2, cursor: None, include_revoked: false }, later)
        .await
        .unwrap();
    let ids: Vec<&str> = page.data.iter().map(|k| k.id.as_str()).collect();
    assert_eq!(ids, [live[0].as_str(), live[1].as_str()], "past the two expired keys");
    assert_eq!(page.next_cursor.as_deref(), Some(live[1].as_str()));
    assert!(page.data[0].last_used_at.is_some(), "the touched key's last_used_at is listed");
    assert!(page.data[1].last_used_at.is_none());
}

fn all_active() -> ListQuery {
    ListQuery { limit: 100, cursor: None, include_revoked: false }
}
