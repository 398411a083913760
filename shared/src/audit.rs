//! Audit events: who changed what in an org, from where. Each change writes its event in the same
//! DynamoDB transaction as the change itself, so there is no change without its event and no
//! event without its change. An event never holds a key, a token, a webhook secret or a hash: its
//! fields are ids, names, times and the caller's request metadata.

use serde::Serialize;
use serde_json::Value;

use crate::api_key::{base62, random_base62};
use crate::clock::rfc3339;

/// Events are kept this long (DynamoDB TTL on the event item's `ttl` attribute).
pub const EVENT_RETENTION_DAYS: i64 = 400;

/// Longest `user_agent` kept in an event (a header can be 8 KiB; an event item stays small).
pub const MAX_USER_AGENT_CHARS: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorType {
    /// A member, by Firebase uid.
    User,
    /// The operator CLI (`overten-admin`).
    Operator,
    /// GitHub's secret-scanning partner program, reporting a leaked key.
    GithubSecretScanning,
}

impl ActorType {
    pub fn as_str(self) -> &'static str {
        match self {
            ActorType::User => "user",
            ActorType::Operator => "operator",
            ActorType::GithubSecretScanning => "github_secret_scanning",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [ActorType::User, ActorType::Operator, ActorType::GithubSecretScanning].into_iter().find(|a| a.as_str() == s)
    }
}

/// Who made a change. A user always has an id (the Firebase uid), and is also who must be a
/// member of the org; the operator may name themselves; GitHub has no id. Serialised as the
/// contract's `{"type", "id"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    User { uid: String },
    Operator { who: Option<String> },
    GithubSecretScanning,
}

impl Actor {
    pub fn user(uid: &str) -> Self {
        Actor::User { uid: uid.to_owned() }
    }

    pub fn operator(who: Option<&str>) -> Self {
        Actor::Operator { who: who.map(str::to_owned) }
    }

    pub fn github_secret_scanning() -> Self {
        Actor::GithubSecretScanning
    }

    /// The actor as stored: its type and id. `None` when they do not make an actor (a user
    /// without an id, an unknown type).
    pub fn from_parts(kind: &str, id: Option<String>) -> Option<Self> {
        match (ActorType::parse(kind)?, id) {
            (ActorType::User, Some(uid)) => Some(Actor::User { uid }),
            (ActorType::User, None) => None,
            (ActorType::Operator, who) => Some(Actor::Operator { who }),
            (ActorType::GithubSecretScanning, _) => Some(Actor::GithubSecretScanning),
        }
    }

    pub fn kind(&self) -> ActorType {
        match self {
            Actor::User { .. } => ActorType::User,
            Actor::Operator { .. } => ActorType::Operator,
            Actor::GithubSecretScanning => ActorType::GithubSecretScanning,
        }
    }

    pub fn id(&self) -> Option<&str> {
        match self {
            Actor::User { uid } => Some(uid),
            Actor::Operator { who } => who.as_deref(),
            Actor::GithubSecretScanning => None,
        }
    }

    /// The uid whose membership the change needs (`None`: operator and GitHub need none).
    pub fn member_uid(&self) -> Option<&str> {
        match self {
            Actor::User { uid } => Some(uid),
            _ => None,
        }
    }
}

impl Serialize for Actor {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut actor = serializer.serialize_struct("Actor", 2)?;
        actor.serialize_field("type", &self.kind())?;
        actor.serialize_field("id", &self.id())?;
        actor.end()
    }
}

/// Who, from where and when: what every change carries to its event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audit {
    pub actor: Actor,
    pub request_id: String,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    /// Seconds since the epoch: the change's time, also the event's `created_at`.
    pub at: i64,
    /// The same instant in milliseconds: the event id's time (ids sort by it).
    pub at_millis: i64,
}

impl Audit {
    /// A change at `at` (seconds).
    pub fn new(actor: Actor, request_id: &str, at: i64) -> Self {
        Self::at_millis(actor, request_id, at * 1000)
    }

    /// A change at `at_millis` (milliseconds), e.g. a function's `Clock::now_millis`.
    pub fn at_millis(actor: Actor, request_id: &str, at_millis: i64) -> Self {
        Audit {
            actor,
            request_id: request_id.to_owned(),
            source_ip: None,
            user_agent: None,
            at: at_millis.div_euclid(1000),
            at_millis,
        }
    }

    pub fn with_origin(mut self, source_ip: Option<&str>, user_agent: Option<&str>) -> Self {
        self.source_ip = source_ip.map(str::to_owned);
        self.user_agent = user_agent.map(|ua| ua.chars().take(MAX_USER_AGENT_CHARS).collect());
        self
    }
}

/// What changed: the event's type and `data`.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    OrgCreated,
    ApiEnabled,
    KeyCreated,
    KeyRenamed {
        from: String,
        to: String,
    },
    /// A key's lists changed (`PATCH`): the three lists before and after.
    KeyRestricted {
        from: crate::restrictions::Restrictions,
        to: crate::restrictions::Restrictions,
    },
    KeyRolled {
        new_key_id: String,
        old_key_expires_at: i64,
    },
    KeyRevoked {
        reason: RevokedReason,
    },
    KeyLeaked {
        url: Option<String>,
        source: Option<String>,
    },
}

/// An event's `type`, as the contract names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum EventType {
    #[serde(rename = "org.created")]
    OrgCreated,
    #[serde(rename = "api.enabled")]
    ApiEnabled,
    #[serde(rename = "key.created")]
    KeyCreated,
    #[serde(rename = "key.renamed")]
    KeyRenamed,
    #[serde(rename = "key.restricted")]
    KeyRestricted,
    #[serde(rename = "key.rolled")]
    KeyRolled,
    #[serde(rename = "key.revoked")]
    KeyRevoked,
    #[serde(rename = "key.leaked")]
    KeyLeaked,
}

impl EventType {
    const ALL: [EventType; 8] = [
        EventType::OrgCreated,
        EventType::ApiEnabled,
        EventType::KeyCreated,
        EventType::KeyRenamed,
        EventType::KeyRestricted,
        EventType::KeyRolled,
        EventType::KeyRevoked,
        EventType::KeyLeaked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::OrgCreated => "org.created",
            EventType::ApiEnabled => "api.enabled",
            EventType::KeyCreated => "key.created",
            EventType::KeyRenamed => "key.renamed",
            EventType::KeyRestricted => "key.restricted",
            EventType::KeyRolled => "key.rolled",
            EventType::KeyRevoked => "key.revoked",
            EventType::KeyLeaked => "key.leaked",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

impl Change {
    pub fn kind(&self) -> EventType {
        match self {
            Change::OrgCreated => EventType::OrgCreated,
            Change::ApiEnabled => EventType::ApiEnabled,
            Change::KeyCreated => EventType::KeyCreated,
            Change::KeyRenamed { .. } => EventType::KeyRenamed,
            Change::KeyRestricted { .. } => EventType::KeyRestricted,
            Change::KeyRolled { .. } => EventType::KeyRolled,
            Change::KeyRevoked { .. } => EventType::KeyRevoked,
            Change::KeyLeaked { .. } => EventType::KeyLeaked,
        }
    }

    pub fn event_type(&self) -> &'static str {
        self.kind().as_str()
    }

    pub fn data(&self) -> Value {
        match self {
            Change::OrgCreated | Change::ApiEnabled | Change::KeyCreated => serde_json::json!({}),
            Change::KeyRenamed { from, to } => serde_json::json!({"from": from, "to": to}),
            Change::KeyRestricted { from, to } => serde_json::json!({"from": from, "to": to}),
            Change::KeyRolled { new_key_id, old_key_expires_at } => {
                serde_json::json!({"new_key_id": new_key_id, "old_key_expires_at": rfc3339(*old_key_expires_at)})
            }
            Change::KeyRevoked { reason } => serde_json::json!({"reason": reason.as_str()}),
            Change::KeyLeaked { url, source } => serde_json::json!({"url": url, "source": source}),
        }
    }
}

/// Why a key was revoked (`revoked_reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RevokedReason {
    /// A member's `DELETE`.
    Revoked,
    /// A roll with a grace period of 0.
    Rolled,
    /// Reported by secret scanning.
    Leaked,
    /// The operator CLI.
    Operator,
}

impl RevokedReason {
    pub fn as_str(self) -> &'static str {
        match self {
            RevokedReason::Revoked => "revoked",
            RevokedReason::Rolled => "rolled",
            RevokedReason::Leaked => "leaked",
            RevokedReason::Operator => "operator",
        }
    }

    /// Keys revoked before reasons were recorded read as `revoked`.
    pub fn parse(s: Option<&str>) -> Self {
        match s {
            Some("rolled") => RevokedReason::Rolled,
            Some("leaked") => RevokedReason::Leaked,
            Some("operator") => RevokedReason::Operator,
            _ => RevokedReason::Revoked,
        }
    }
}

/// An event as `GET /orgs/{org_id}/events` returns it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: EventType,
    pub created_at: String,
    pub actor: Actor,
    pub key_id: Option<String>,
    pub request_id: String,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    pub data: Value,
}

/// `evt_` + 8 base62 digits of the time in milliseconds + 4 of this process's sequence + 12
/// random characters: ids sort by time, and the events one instance writes within the same
/// millisecond (or the same instant of a fixed clock) sort in the order they were made. So
/// newest-first is the sort key read backwards and a cursor is the last id returned.
pub fn new_event_id(at_millis: u64) -> String {
    static SEQUENCE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let sequence = SEQUENCE.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 62u64.pow(4);
    format!("evt_{}{}{}", base62(at_millis, 8), base62(sequence, 4), random_base62(12))
}

/// Whether `s` could be an event id (a cursor this API returned).
pub fn is_valid_event_id(s: &str) -> bool {
    s.strip_prefix("evt_").is_some_and(|rest| rest.len() == 24 && rest.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// The `ttl` of an event written at `at`: DynamoDB deletes it some time after this instant.
pub fn expiry_of_event(at: i64) -> i64 {
    at + EVENT_RETENTION_DAYS * 86_400
}

/// `GET /orgs/{org_id}/events`: `limit` 1–100 (default 50), `cursor`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventQuery {
    pub limit: usize,
    pub cursor: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventPage {
    pub data: Vec<Event>,
    pub has_more: bool,
    pub next_cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_sort_by_time_and_are_recognised() {
        let a = new_event_id(1_800_000_000_000);
        let b = new_event_id(1_800_000_000_001);
        assert!(a < b, "{a} < {b}");
        // The same instant: in the order they were made.
        let same: Vec<String> = (0..50).map(|_| new_event_id(1_800_000_000_000)).collect();
        assert!(same.windows(2).all(|w| w[0] < w[1]), "{same:?}");
        assert!(same.iter().all(|id| id < &b && id.len() == a.len()));
        assert!(is_valid_event_id(&a));
        for bad in ["evt_", "key_abc", "evt_short", &format!("{a}x"), &a.replace('_', "-")] {
            assert!(!is_valid_event_id(bad), "{bad}");
        }
    }

    #[test]
    fn events_expire_after_400_days() {
        assert_eq!(expiry_of_event(0), 400 * 24 * 3600);
    }

    #[test]
    fn change_data_is_what_the_contract_names() {
        let rolled = Change::KeyRolled { new_key_id: "key_new".into(), old_key_expires_at: 0 };
        assert_eq!(rolled.event_type(), "key.rolled");
        assert_eq!(
            rolled.data(),
            serde_json::json!({"new_key_id": "key_new", "old_key_expires_at": "1970-01-01T00:00:00Z"})
        );
        let renamed = Change::KeyRenamed { from: "a".into(), to: "b".into() };
        assert_eq!(
            (renamed.event_type(), renamed.data()),
            ("key.renamed", serde_json::json!({"from": "a", "to": "b"}))
        );
        let revoked = Change::KeyRevoked { reason: RevokedReason::Operator };
        assert_eq!(revoked.data(), serde_json::json!({"reason": "operator"}));
        let leaked =
            Change::KeyLeaked { url: Some("https://github.com/o/r/blob/x".into()), source: Some("commit".into()) };
        assert_eq!(leaked.event_type(), "key.leaked");
        assert_eq!(leaked.data()["url"], "https://github.com/o/r/blob/x");
        for (c, t) in [
            (Change::OrgCreated, "org.created"),
            (Change::ApiEnabled, "api.enabled"),
            (Change::KeyCreated, "key.created"),
        ] {
            assert_eq!((c.event_type(), c.data()), (t, serde_json::json!({})));
        }
    }

    #[test]
    fn reasons_and_actors_round_trip() {
        for r in [RevokedReason::Revoked, RevokedReason::Rolled, RevokedReason::Leaked, RevokedReason::Operator] {
            assert_eq!(RevokedReason::parse(Some(r.as_str())), r);
        }
        assert_eq!(RevokedReason::parse(None), RevokedReason::Revoked);
        for a in [ActorType::User, ActorType::Operator, ActorType::GithubSecretScanning] {
            assert_eq!(ActorType::parse(a.as_str()), Some(a));
            assert_eq!(serde_json::to_value(a).unwrap(), a.as_str());
        }
        assert_eq!(ActorType::parse("root"), None);
        assert_eq!(Actor::user("u1").member_uid(), Some("u1"));
        assert_eq!(Actor::operator(Some("ops")).member_uid(), None);
        assert_eq!(Actor::github_secret_scanning().member_uid(), None);
    }

    #[test]
    fn a_long_user_agent_is_cut() {
        let audit = Audit::new(Actor::user("u"), "r", 0).with_origin(Some("1.2.3.4"), Some(&"x".repeat(1000)));
        assert_eq!(audit.user_agent.unwrap().len(), MAX_USER_AGENT_CHARS);
        assert_eq!(audit.source_ip.as_deref(), Some("1.2.3.4"));
    }
}
