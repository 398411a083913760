//! Audit events: who changed what in an org, from where. Each change writes its event in the same
//! DynamoDB transaction as the change itself, so there is no change without its event and no
//! event without its change. An event never holds a key, a token, a webhook secret or a hash: its
//! fields are ids, names, times and the caller's request metadata.
//!
//! `actor` holds who made a change, `change` what changed (the event's type and data, a revoked
//! key's reason); this file the change's context, the event as listed, and event ids.

mod actor;
mod change;

pub use actor::{Actor, ActorType};
pub use change::{Change, EventType, RevokedReason};

use serde::Serialize;
use serde_json::Value;

use crate::api_key::{base62, random_base62};

/// Events are kept this long (DynamoDB TTL on the event item's `ttl` attribute).
pub const EVENT_RETENTION_DAYS: i64 = 400;

/// Longest `user_agent` kept in an event (a header can be 8 KiB; an event item stays small).
pub const MAX_USER_AGENT_CHARS: usize = 256;

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
    fn a_long_user_agent_is_cut() {
        let audit = Audit::new(Actor::user("u"), "r", 0).with_origin(Some("1.2.3.4"), Some(&"x".repeat(1000)));
        assert_eq!(audit.user_agent.unwrap().len(), MAX_USER_AGENT_CHARS);
        assert_eq!(audit.source_ip.as_deref(), Some("1.2.3.4"));
    }
}
