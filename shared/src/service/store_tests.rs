//! The operations over a store that records what it is asked and answers what the test sets:
//! who may change what (membership, the operator, ids that cannot exist, all refused before the
//! store is asked), what reaches the store, what the caller gets back, expiry on the one read and
//! the `last_used_at` write's budget on a paused clock. The store itself is tested on DynamoDB
//! Local (`tests/`); nothing here claims to test it.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

use super::*;
use crate::api_key::KeyHash;
use crate::audit::{Actor, Event};
use crate::clock::{Clock, now_secs, parse_rfc3339};
use crate::store::{KeyPage, KeyStatus, Rolled};

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
    async fn find_keys(&self, _: &[KeyHash]) -> Result<Vec<Option<KeyRecord>>, Error> {
        unreachable!("not an operation of service.rs")
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
    async fn create_org(&self, _: &NewOrg) -> Result<(), Error> {
        unreachable!("not an operation of service.rs")
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

#[tokio::test]
async fn signup_with_an_org_name_creates_the_org_and_its_first_key_for_the_actor() {
    let store = Recorder::new();
    let request = SignupRequest::NewOrg { org_name: "Acme".into(), key_name: "first".into() };
    let response = signup(&store, &member(), request).await.unwrap();
    assert_eq!(store.calls(), [format!("create_org_with_key {MEMBER} req-member")]);
    let org = store.new_orgs.lock().unwrap()[0].clone();
    let key = store.new_key();
    assert_eq!(
        (org.org_id.as_str(), org.name.as_str(), org.owner_uid.as_str()),
        (response.org_id.as_str(), "Acme", MEMBER)
    );
    assert!(is_valid_org_id(&response.org_id));
    assert_eq!(org.webhook_secret.as_deref(), Some(response.webhook_secret.as_str()));
    assert_eq!(org.created_at, key.created_at);
    assert_secret_is_stored(&response.secret, &key);
    assert_eq!((key.name.as_str(), key.expires_at, key.rolled_from.as_deref()), ("first", None, None));
    assert_eq!(
        response.key,
        KeyView {
            id: key.key_id.clone(),
            name: "first".into(),
            prefix: key.prefix.clone(),
            created_at: rfc3339(key.created_at)
        }
    );
    assert_created_now(&response.key.created_at);
    assert!(is_valid_key_id(&response.key.id));

    // Only a person signs up: the operator and GitHub are refused before the store is asked.
    for audit in [operator(), github()] {
        let store = Recorder::new();
        let request = SignupRequest::NewOrg { org_name: "Acme".into(), key_name: "first".into() };
        assert!(matches!(signup(&store, &audit, request).await, Err(Error::OrgNotFound)));
        assert!(store.calls().is_empty());
    }
}

#[tokio::test]
async fn signup_with_an_existing_org_id_enables_that_org_and_refuses_impossible_ids_unread() {
    let store = Recorder::new();
    let request = SignupRequest::ExistingOrg { org_id: ORG.into(), key_name: "first".into() };
    let response = signup(&store, &member(), request).await.unwrap();
    assert_eq!(store.calls(), [format!("enable_api {ORG} req-member")]);
    assert_eq!(response.org_id, ORG);
    assert!(response.webhook_secret.starts_with("whsec_"));
    assert_secret_is_stored(&response.secret, &store.new_key());
    assert_eq!(response.key.name, "first");

    for bad in BAD_ORG_IDS {
        let store = Recorder::new();
        let request = SignupRequest::ExistingOrg { org_id: bad.into(), key_name: "first".into() };
        assert!(matches!(signup(&store, &member(), request).await, Err(Error::OrgNotFound)), "{bad}");
        assert!(store.calls().is_empty(), "{bad}");
    }
}

#[tokio::test]
async fn create_key_stores_the_hash_and_returns_the_key_once() {
    let store = Recorder::new();
    let expires_at = NOW + 86_400;
    let request =
        CreateKeyRequest { name: "ci".into(), expires_at: Some(expires_at), restrictions: Default::default() };
    let created = create_key(&store, ORG, request, &member()).await.unwrap();
    assert_eq!(store.calls(), [format!("create_key {ORG} req-member")]);
    let key = store.new_key();
    assert_secret_is_stored(&created.secret, &key);
    assert_eq!((created.id.as_str(), created.name.as_str()), (key.key_id.as_str(), "ci"));
    assert_eq!(
        (created.prefix.as_str(), created.created_at.as_str()),
        (key.prefix.as_str(), rfc3339(key.created_at).as_str())
    );
    assert_eq!((key.expires_at, key.rolled_from), (Some(expires_at), None));
    assert_eq!(created.expires_at.as_deref(), Some(rfc3339(expires_at).as_str()));
    assert_created_now(&created.created_at);

    for bad in BAD_ORG_IDS {
        let store = Recorder::new();
        let request = CreateKeyRequest { name: "ci".into(), expires_at: None, restrictions: Default::default() };
        assert!(matches!(create_key(&store, bad, request, &member()).await, Err(Error::OrgNotFound)), "{bad}");
        assert!(store.calls().is_empty(), "{bad}");
    }
}

#[tokio::test]
async fn listings_are_for_members_only_and_say_whether_more_follows() {
    let query = ListQuery { limit: 20, cursor: None, include_revoked: false };
    for next in [None, Some("key_0002".to_owned())] {
        let store = Recorder { next_cursor: next.clone(), ..Recorder::new() };
        let list = list_keys(&store, MEMBER, ORG, &query, NOW).await.unwrap();
        assert_eq!(store.calls(), [format!("is_member {ORG} {MEMBER}"), format!("list_keys {ORG} 20 {NOW}")]);
        assert_eq!((list.has_more, list.next_cursor), (next.is_some(), next));
        assert_eq!(list.data, [summary(KEY, "k")]);
    }
    let events = EventQuery { limit: 7, cursor: None };
    let store = Recorder::new();
    let page = list_events(&store, MEMBER, ORG, &events).await.unwrap();
    assert_eq!(store.calls(), [format!("is_member {ORG} {MEMBER}"), format!("list_events {ORG} 7")]);
    assert_eq!(page.data.len(), 1);

    // A stranger, and an org id that cannot exist, look the same: 404, and nothing listed.
    let store = Recorder::new();
    assert!(matches!(list_keys(&store, STRANGER, ORG, &query, NOW).await, Err(Error::OrgNotFound)));
    assert!(matches!(list_events(&store, STRANGER, ORG, &events).await, Err(Error::OrgNotFound)));
    assert_eq!(store.calls(), [format!("is_member {ORG} {STRANGER}"), format!("is_member {ORG} {STRANGER}")]);
    for bad in BAD_ORG_IDS {
        let store = Recorder::new();
        assert!(matches!(list_keys(&store, MEMBER, bad, &query, NOW).await, Err(Error::OrgNotFound)), "{bad}");
        assert!(matches!(list_events(&store, MEMBER, bad, &events).await, Err(Error::OrgNotFound)), "{bad}");
        assert!(store.calls().is_empty(), "{bad}: not even a membership read");
    }
}

#[tokio::test]
async fn a_revoke_records_who_revoked_and_passes_on_whether_it_did() {
    for revoked in [true, false] {
        let store = Recorder { revoked, ..Recorder::new() };
        assert_eq!(revoke_key(&store, ORG, KEY, &member()).await.unwrap(), revoked);
        assert_eq!(
            store.calls(),
            [format!("is_member {ORG} {MEMBER}"), format!("revoke_key {ORG} {KEY} revoked req-member")]
        );
    }
    // The operator and GitHub need no membership; only the operator's revoke reads `operator`.
    let store = Recorder::new();
    assert!(revoke_key(&store, ORG, KEY, &operator()).await.unwrap());
    assert!(revoke_key(&store, ORG, KEY, &github()).await.unwrap());
    assert_eq!(
        store.calls(),
        [format!("revoke_key {ORG} {KEY} operator req-operator"), format!("revoke_key {ORG} {KEY} revoked req-github")]
    );
}

/// Every change to one key, as each actor: who is refused, with what, after which reads.
#[tokio::test]
async fn a_change_to_a_key_needs_membership_a_possible_org_and_a_possible_key_id() {
    type Outcome = Result<(), &'static str>;
    async fn each_change(store: &Recorder, org: &str, key: &str, audit: &Audit) -> [Outcome; 3] {
        let code = |e: Error| e.code();
        [
            revoke_key(store, org, key, audit).await.map(drop).map_err(code),
            roll_key(store, org, key, roll_request(None), audit).await.map(drop).map_err(code),
            update_key(store, org, key, &rename("renamed"), audit).await.map(drop).map_err(code),
        ]
    }
    let refused = |code| [Err(code); 3];

    // A stranger is refused on membership, before anything about the key is read.
    let store = Recorder::new();
    assert_eq!(each_change(&store, ORG, KEY, &stranger()).await, refused("org_not_found"));
    assert_eq!(store.calls(), vec![format!("is_member {ORG} {STRANGER}"); 3]);
    let store = Recorder::new();
    assert_eq!(each_change(&store, ORG, "not-a-key", &stranger()).await, refused("org_not_found"));
    assert_eq!(store.calls(), vec![format!("is_member {ORG} {STRANGER}"); 3]);

    for audit in [member(), operator()] {
        // An org id that cannot exist: 404 without a read, whoever asks.
        for bad in BAD_ORG_IDS {
            let store = Recorder::new();
            assert_eq!(each_change(&store, bad, KEY, &audit).await, refused("org_not_found"), "{bad}");
            assert!(store.calls().is_empty(), "{bad}");
        }
        // A key id that cannot exist: 404 key_not_found, the store never asked about the key.
        for bad in BAD_KEY_IDS {
            let store = Recorder::new();
            assert_eq!(each_change(&store, ORG, bad, &audit).await, refused("key_not_found"), "{bad}");
            assert!(store.calls().iter().all(|c| c.starts_with("is_member")), "{bad}: {:?}", store.calls());
        }
        let store = Recorder::new();
        assert_eq!(each_change(&store, ORG, KEY, &audit).await, [Ok(()); 3]);
        assert_eq!(store.calls().iter().filter(|c| !c.starts_with("is_member")).count(), 3);
    }
}

#[tokio::test]
async fn a_roll_passes_its_grace_and_name_and_answers_what_the_store_did() {
    // Without a name the new key keeps the old one's, which only the store knows.
    let store = Recorder::new();
    let rolled = roll_key(&store, ORG, KEY, roll_request(None), &member()).await.unwrap();
    assert_eq!(
        store.calls(),
        [format!("is_member {ORG} {MEMBER}"), format!("roll_key {ORG} {KEY} keep_name=true grace=600 req-member")]
    );
    let new = store.new_key();
    assert_eq!((new.rolled_from.as_deref(), new.expires_at), (Some(KEY), Some(NOW + 86_400)));
    assert_secret_is_stored(&rolled.key.secret, &new);
    assert_eq!((rolled.key.id.as_str(), rolled.key.name.as_str()), (new.key_id.as_str(), "kept"));
    assert_eq!(rolled.key.expires_at.as_deref(), Some(rfc3339(NOW + 86_400).as_str()));
    assert_eq!((rolled.rolled_from.as_str(), rolled.old_key_expires_at.as_str()), (KEY, rfc3339(NOW + 3600).as_str()));
    assert_created_now(&rolled.key.created_at);

    let store = Recorder {
        rolled: Rolled { old_key_expires_at: NOW, name: "v2".into(), restrictions: Default::default() },
        ..Recorder::new()
    };
    let rolled = roll_key(&store, ORG, KEY, roll_request(Some("v2")), &operator()).await.unwrap();
    assert_eq!(store.calls(), [format!("roll_key {ORG} {KEY} keep_name=false grace=600 req-operator")]);
    assert_eq!(store.new_key().name, "v2");
    assert_eq!((rolled.key.name.as_str(), rolled.old_key_expires_at), ("v2", rfc3339(NOW)));

    let store = Recorder::new();
    let renamed = update_key(&store, ORG, KEY, &rename("renamed"), &member()).await.unwrap();
    assert_eq!(renamed, summary(KEY, "renamed"));
    assert_eq!(store.calls()[1], format!("update_key {ORG} {KEY} renamed req-member"));
}

fn headers(key: &ApiKey) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("x-api-key", key.expose_secret().parse().unwrap());
    headers
}

fn record(expires_at: Option<i64>, last_used_at: Option<i64>) -> KeyRecord {
    KeyRecord {
        key_id: KEY.into(),
        org_id: ORG.into(),
        name: "k".into(),
        prefix: "sk_live_abcd".into(),
        created_at: NOW - 86_400,
        revoked_at: None,
        revoked_reason: None,
        last_used_at,
        expires_at,
        rolled_to: None,
        leaked_url: None,
        leaked_source: None,
        restrictions: Default::default(),
    }
}

/// Expiry is judged on the one read against the clock: live the second before `expires_at`,
/// `expired_api_key` at it; a revoked key is unknown; no key, no read.
#[tokio::test]
async fn a_key_is_live_until_the_second_before_it_expires_and_never_once_revoked() {
    let key = ApiKey::generate();
    let clock = Clock::fixed(NOW - 1);
    let store = Recorder::new().with_key(&key, record(Some(NOW), Some(NOW - 10)));
    let found = authenticate_at(&store, &headers(&key), clock.now_secs()).await.unwrap();
    assert_eq!(found, record(Some(NOW), Some(NOW - 10)));
    clock.set(NOW);
    let expired = authenticate_at(&store, &headers(&key), clock.now_secs()).await;
    assert!(matches!(expired, Err(Error::ExpiredApiKey)), "{expired:?}");
    assert_eq!(store.calls(), ["find_key"; 2], "one read each, and a key used 10 s ago is not written");

    let mut revoked = record(None, None);
    revoked.revoked_at = Some(NOW - 5);
    let store = Recorder::new().with_key(&key, revoked);
    assert!(matches!(authenticate_at(&store, &headers(&key), NOW).await, Err(Error::UnknownApiKey)));
    assert_eq!(store.calls(), ["find_key"], "a revoked key is never written");

    let store = Recorder::new();
    assert!(matches!(authenticate_at(&store, &headers(&key), NOW).await, Err(Error::UnknownApiKey)));
    assert!(matches!(authenticate_at(&store, &HeaderMap::new(), NOW).await, Err(Error::MissingApiKey)));
    assert_eq!(store.calls(), ["find_key"], "no key in the request, no read");

    // `authenticate` judges by the system clock.
    let store = Recorder::new().with_key(&key, record(Some(now_secs() - 1), None));
    assert!(matches!(authenticate(&store, &headers(&key)).await, Err(Error::ExpiredApiKey)));
    let store = Recorder::new().with_key(&key, record(Some(now_secs() + 3600), Some(now_secs())));
    assert_eq!(authenticate(&store, &headers(&key)).await.unwrap().key_id, KEY);
}

/// On a paused clock: a stale `last_used_at` is written with the time of the call; a stuck write
/// costs the key exactly `TOUCH_BUDGET`, a failed one nothing, and neither refuses it.
#[tokio::test(start_paused = true)]
async fn last_used_at_is_written_when_stale_within_its_budget_and_never_refuses_the_key() {
    let key = ApiKey::generate();
    for last_used_at in [None, Some(NOW - TOUCH_INTERVAL_SECS - 1)] {
        for touch in [Touch::Ok, Touch::Fail, Touch::Stall] {
            let store = Recorder { touch, ..Recorder::new() }.with_key(&key, record(None, last_used_at));
            let started = tokio::time::Instant::now();
            let found = authenticate_at(&store, &headers(&key), NOW).await.expect("a valid key is never refused");
            assert_eq!(found.key_id, KEY);
            assert_eq!(store.calls(), ["find_key".to_owned(), format!("touch_key {NOW}")], "{touch:?}");
            let budget = if touch == Touch::Stall { TOUCH_BUDGET } else { Duration::ZERO };
            assert_eq!(started.elapsed(), budget, "{touch:?}");
        }
    }
    let store = Recorder { touch: Touch::Stall, ..Recorder::new() }
        .with_key(&key, record(None, Some(NOW - TOUCH_INTERVAL_SECS)));
    let started = tokio::time::Instant::now();
    authenticate_at(&store, &headers(&key), NOW).await.unwrap();
    assert_eq!((store.calls(), started.elapsed()), (vec!["find_key".to_owned()], Duration::ZERO), "fresh: no write");
    assert_eq!(TOUCH_BUDGET, Duration::from_millis(50));
}
