//! The operations over a store that records what it is asked and answers what the test sets:
//! who may change what (membership, the operator, ids that cannot exist, all refused before the
//! store is asked), what reaches the store, what the caller gets back, expiry on the one read and
//! the `last_used_at` write's budget on a paused clock. The store itself is tested on DynamoDB
//! Local (`tests/`); nothing here claims to test it.
//!
//! This file is the recording store and the callers; `operations.rs` tests the lifecycle and
//! signup, `authenticate.rs` the hot path.

mod authenticate;
mod operations;

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

use http::HeaderMap;

use super::*;
use crate::api_key::KeyHash;
use crate::audit::{Actor, Event};
use crate::clock::{Clock, now_secs, parse_rfc3339};
use crate::store::{KeyLookup, KeyPage, KeyRecord, KeyStatus, Rolled, TOUCH_INTERVAL_SECS};

const ORG: &str = "org_acme";
const KEY: &str = "key_0001";
const MEMBER: &str = "uid-member";
const STRANGER: &str = "uid-stranger";
/// 2027-01-15T08:00:00Z: the fixed clock's time.
const NOW: i64 = 1_800_000_000;

/// What `touch_key` does.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Touch {
    Ok,
    Fail,
    Stall,
}

/// Records every call (in order, one line each) and the keys and orgs written; answers from
/// what the test set.
struct Recorder {
    members: HashSet<(String, String)>,
    keys: Vec<(KeyHash, KeyRecord)>,
    touch: Touch,
    /// What `revoke_key` answers (whether this call revoked the key).
    revoked: bool,
    next_cursor: Option<String>,
    rolled: Rolled,
    calls: Mutex<Vec<String>>,
    new_keys: Mutex<Vec<NewKey>>,
    new_orgs: Mutex<Vec<NewOrg>>,
}

impl Recorder {
    fn new() -> Self {
        Recorder {
            members: HashSet::from([(ORG.to_owned(), MEMBER.to_owned())]),
            keys: Vec::new(),
            touch: Touch::Ok,
            revoked: true,
            next_cursor: None,
            rolled: Rolled { old_key_expires_at: NOW + 3600, name: "kept".into(), restrictions: Default::default() },
            calls: Mutex::new(Vec::new()),
            new_keys: Mutex::new(Vec::new()),
            new_orgs: Mutex::new(Vec::new()),
        }
    }

    fn with_key(mut self, key: &ApiKey, record: KeyRecord) -> Self {
        self.keys.push((key.hash(), record));
        self
    }

    fn log(&self, call: String) {
        self.calls.lock().unwrap().push(call);
    }

    fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }

    fn new_key(&self) -> NewKey {
        let keys = self.new_keys.lock().unwrap();
        assert_eq!(keys.len(), 1, "one key written");
        keys[0].clone()
    }
}

fn summary(id: &str, name: &str) -> KeySummary {
    KeySummary {
        id: id.into(),
        name: name.into(),
        prefix: "sk_live_abcd".into(),
        created_at: rfc3339(NOW),
        last_used_at: None,
        expires_at: None,
        revoked_at: None,
        revoked_reason: None,
        status: KeyStatus::Active,
        rolled_from: None,
        rolled_to: None,
        restrictions: Default::default(),
    }
}

impl KeyLookup for Recorder {
    async fn find_key(&self, hash: &KeyHash) -> Result<Option<KeyRecord>, Error> {
        self.log("find_key".into());
        Ok(self.keys.iter().find(|(h, _)| h == hash).map(|(_, record)| record.clone()))
    }
    async fn touch_key(&self, hash: &KeyHash, now: i64) -> Result<(), Error> {
        assert!(self.keys.iter().any(|(h, _)| h == hash), "the key just read is the one written");
        self.log(format!("touch_key {now}"));
        match self.touch {
            Touch::Ok => Ok(()),
            Touch::Fail => Err(Error::Unavailable("touch failed (test)".into())),
            Touch::Stall => std::future::pending().await,
        }
    }
}

impl Membership for Recorder {
    async fn is_member(&self, org_id: &str, uid: &str) -> Result<bool, Error> {
        self.log(format!("is_member {org_id} {uid}"));
        Ok(self.members.contains(&(org_id.to_owned(), uid.to_owned())))
    }
}

impl Orgs for Recorder {
    async fn create_org_with_key(&self, org: &NewOrg, key: &NewKey, audit: &Audit) -> Result<(), Error> {
        self.log(format!("create_org_with_key {} {}", org.owner_uid, audit.request_id));
        self.new_orgs.lock().unwrap().push(org.clone());
        self.new_keys.lock().unwrap().push(key.clone());
        Ok(())
    }
    async fn enable_api(&self, org_id: &str, webhook_secret: &str, key: &NewKey, audit: &Audit) -> Result<(), Error> {
        assert!(webhook_secret.starts_with("whsec_"));
        self.log(format!("enable_api {org_id} {}", audit.request_id));
        self.new_keys.lock().unwrap().push(key.clone());
        Ok(())
    }
}

impl CreateKey for Recorder {
    async fn create_key(&self, org_id: &str, key: &NewKey, audit: &Audit) -> Result<(), Error> {
        self.log(format!("create_key {org_id} {}", audit.request_id));
        self.new_keys.lock().unwrap().push(key.clone());
        Ok(())
    }
}

impl ListKeys for Recorder {
    async fn list_keys(&self, org_id: &str, query: &ListQuery, now: i64) -> Result<KeyPage, Error> {
        self.log(format!("list_keys {org_id} {} {now}", query.limit));
        Ok(KeyPage { data: vec![summary(KEY, "k")], next_cursor: self.next_cursor.clone(), read_units: 0.5 })
    }
}

impl RevokeKey for Recorder {
    async fn revoke_key(&self, org_id: &str, key_id: &str, change: &Change, audit: &Audit) -> Result<bool, Error> {
        let Change::KeyRevoked { reason } = change else { panic!("a revoke records KeyRevoked: {change:?}") };
        self.log(format!("revoke_key {org_id} {key_id} {} {}", reason.as_str(), audit.request_id));
        Ok(self.revoked)
    }
}

impl RollKey for Recorder {
    async fn roll_key(
        &self,
        org_id: &str,
        key_id: &str,
        new: &NewKey,
        inherit: &Inherit,
        grace_seconds: i64,
        audit: &Audit,
    ) -> Result<Rolled, Error> {
        self.log(format!(
            "roll_key {org_id} {key_id} keep_name={} grace={grace_seconds} {}",
            inherit.name, audit.request_id
        ));
        self.new_keys.lock().unwrap().push(new.clone());
        Ok(self.rolled.clone())
    }
}

impl UpdateKey for Recorder {
    async fn update_key(
        &self,
        org_id: &str,
        key_id: &str,
        update: &KeyUpdate,
        audit: &Audit,
    ) -> Result<KeySummary, Error> {
        let name = update.name.as_deref().unwrap_or("k");
        self.log(format!("update_key {org_id} {key_id} {name} {}", audit.request_id));
        Ok(summary(key_id, name))
    }
}

fn rename(name: &str) -> KeyUpdate {
    KeyUpdate { name: Some(name.into()), restrictions: Default::default() }
}

impl ListEvents for Recorder {
    async fn list_events(&self, org_id: &str, query: &EventQuery) -> Result<EventPage, Error> {
        self.log(format!("list_events {org_id} {}", query.limit));
        let event = Event {
            id: "evt_1".into(),
            kind: crate::audit::EventType::KeyCreated,
            created_at: rfc3339(NOW),
            actor: Actor::user(MEMBER),
            key_id: Some(KEY.into()),
            request_id: "req-1".into(),
            source_ip: None,
            user_agent: None,
            data: serde_json::json!({}),
        };
        Ok(EventPage { data: vec![event], has_more: false, next_cursor: None })
    }
}

fn member() -> Audit {
    Audit::new(Actor::user(MEMBER), "req-member", NOW)
}

fn stranger() -> Audit {
    Audit::new(Actor::user(STRANGER), "req-stranger", NOW)
}

fn operator() -> Audit {
    Audit::new(Actor::operator(Some("ops")), "req-operator", NOW)
}

fn github() -> Audit {
    Audit::new(Actor::github_secret_scanning(), "req-github", NOW)
}

/// Ids no store could hold: refused before any read.
const BAD_ORG_IDS: [&str; 4] = ["acme", "org_", "org_a/b", "key_0001"];
const BAD_KEY_IDS: [&str; 4] = ["0001", "key_", "key_a b", "org_acme"];

fn roll_request(name: Option<&str>) -> RollKeyRequest {
    RollKeyRequest {
        grace_period_seconds: 600,
        name: name.map(str::to_owned),
        expires_at: Some(NOW + 86_400),
        restrictions: Default::default(),
    }
}

/// A key created now: its `created_at` is this second (not a millisecond count, not 1970).
fn assert_created_now(created_at: &str) {
    let at = parse_rfc3339(created_at).expect("RFC 3339");
    assert!((now_secs() - at).abs() <= 5, "{created_at}");
}

/// The raw key handed back is the one whose hash and prefix were stored.
fn assert_secret_is_stored(secret: &str, stored: &NewKey) {
    let key = ApiKey::parse(secret).expect("a valid key");
    assert_eq!(key.hash(), stored.hash);
    assert_eq!(key.display_prefix(), stored.prefix);
}
