//! What changed: an event's type and data, and why a key was revoked.

use serde::Serialize;
use serde_json::Value;

use crate::clock::rfc3339;

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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn reasons_round_trip() {
        for r in [RevokedReason::Revoked, RevokedReason::Rolled, RevokedReason::Leaked, RevokedReason::Operator] {
            assert_eq!(RevokedReason::parse(Some(r.as_str())), r);
        }
        assert_eq!(RevokedReason::parse(None), RevokedReason::Revoked);
    }
}
