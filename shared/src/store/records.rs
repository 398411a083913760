//! What the store reads and writes, independent of DynamoDB's item format.

use crate::api_key::KeyHash;
use crate::restrictions::Restrictions;

/// A key as the authorizer and `/verify` see it (the `ApiKeys` item).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    pub key_id: String,
    pub org_id: String,
    pub name: String,
    pub prefix: String,
    /// Seconds since the epoch, as every time of a record (RFC 3339 only where it is shown).
    pub created_at: i64,
    pub revoked_at: Option<i64>,
    /// Why it was revoked, once it was.
    pub revoked_reason: Option<crate::audit::RevokedReason>,
    /// Seconds since the epoch.
    pub last_used_at: Option<i64>,
    /// Seconds since the epoch: from this instant on the key is refused.
    pub expires_at: Option<i64>,
    /// The key that replaced this one in a roll.
    pub rolled_to: Option<String>,
    /// Where secret scanning found the key (`url`, `source`), when it was revoked as leaked.
    pub leaked_url: Option<String>,
    pub leaked_source: Option<String>,
    /// What the key may call, act on and be used from (unrestricted by default).
    pub restrictions: Restrictions,
}

impl KeyRecord {
    /// Whether the key is refused at `now`: revoked, or at or past its `expires_at`.
    pub fn is_live_at(&self, now: i64) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|at| now < at)
    }
}

/// A key about to be written. Holds the hash, never the raw key.
#[derive(Debug, Clone)]
pub struct NewKey {
    pub key_id: String,
    pub hash: KeyHash,
    pub name: String,
    pub prefix: String,
    /// Seconds since the epoch.
    pub created_at: i64,
    /// Seconds since the epoch.
    pub expires_at: Option<i64>,
    /// The key this one replaces (a roll).
    pub rolled_from: Option<String>,
    pub restrictions: Restrictions,
}

/// An org about to be written, with its owner. Its `Debug` redacts the webhook secret.
#[derive(Clone)]
pub struct NewOrg {
    pub org_id: String,
    pub name: String,
    pub owner_uid: String,
    /// Seconds since the epoch.
    pub created_at: i64,
    /// `Some` when the org is created with API access (signup), `None` for a dashboard org.
    pub webhook_secret: Option<String>,
}

impl std::fmt::Debug for NewOrg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewOrg")
            .field("org_id", &self.org_id)
            .field("name", &self.name)
            .field("owner_uid", &self.owner_uid)
            .field("created_at", &self.created_at)
            .field("webhook_secret", &self.webhook_secret.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// Where a key stands, as the listing tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyStatus {
    Active,
    /// Active, with an `expires_at` (an expiry given at creation, or the end of a roll's grace).
    Expiring,
    Expired,
    Revoked,
}

impl KeyStatus {
    pub fn at(revoked: bool, expires_at: Option<i64>, now: i64) -> Self {
        match expires_at {
            _ if revoked => KeyStatus::Revoked,
            Some(at) if at <= now => KeyStatus::Expired,
            Some(_) => KeyStatus::Expiring,
            None => KeyStatus::Active,
        }
    }

    /// In the default listing (without `include_revoked`).
    pub fn is_listed_by_default(self) -> bool {
        matches!(self, KeyStatus::Active | KeyStatus::Expiring)
    }
}

/// A key as listed: public fields only.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct KeySummary {
    pub id: String,
    pub name: String,
    pub prefix: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub expires_at: Option<String>,
    pub revoked_at: Option<String>,
    pub revoked_reason: Option<String>,
    pub status: KeyStatus,
    pub rolled_from: Option<String>,
    pub rolled_to: Option<String>,
    /// `permissions`, `formats`, `allowed_ips`: `null` when not restricted.
    #[serde(flatten)]
    pub restrictions: Restrictions,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    pub limit: usize,
    /// The last key id of the previous page.
    pub cursor: Option<String>,
    pub include_revoked: bool,
}

/// What a roll's new key takes from the old one: its name (unless the roll names the new key),
/// and its lists, except those the roll's body gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inherit {
    pub name: bool,
    pub restrictions: crate::restrictions::RestrictionsPatch,
}

impl Inherit {
    /// The old key's name and all its lists.
    pub const ALL: Inherit = Inherit { name: true, restrictions: crate::restrictions::RestrictionsPatch::KEEP };
}

/// `PATCH` of a key: a new name, changed lists, or both (`None` and an empty patch change nothing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyUpdate {
    pub name: Option<String>,
    pub restrictions: crate::restrictions::RestrictionsPatch,
}

/// What a roll did to the old key: its end (`old_key_expires_at`; `now` with grace 0, when it
/// is revoked at once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rolled {
    pub old_key_expires_at: i64,
    /// The new key's name.
    pub name: String,
    /// The new key's lists (inherited or given).
    pub restrictions: Restrictions,
}

#[derive(Debug, Clone, PartialEq)]
pub struct KeyPage {
    pub data: Vec<KeySummary>,
    pub next_cursor: Option<String>,
    /// Read capacity the page cost (DynamoDB's `ConsumedCapacity`), for tests and metrics.
    pub read_units: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_and_liveness_follow_revocation_and_expiry() {
        let now = 1_800_000_000;
        assert_eq!(KeyStatus::at(false, None, now), KeyStatus::Active);
        assert_eq!(KeyStatus::at(false, Some(now + 1), now), KeyStatus::Expiring);
        assert_eq!(KeyStatus::at(false, Some(now), now), KeyStatus::Expired, "expired at the instant itself");
        assert_eq!(KeyStatus::at(true, Some(now + 1), now), KeyStatus::Revoked);
        assert!(KeyStatus::Expiring.is_listed_by_default() && KeyStatus::Active.is_listed_by_default());
        assert!(!KeyStatus::Expired.is_listed_by_default() && !KeyStatus::Revoked.is_listed_by_default());
        let mut record = crate::store::KeyRecord {
            key_id: "key_1".into(),
            org_id: "org_1".into(),
            name: "n".into(),
            prefix: "sk_live_ab".into(),
            created_at: 1_767_225_600,
            revoked_at: None,
            revoked_reason: None,
            last_used_at: None,
            expires_at: Some(now),
            rolled_to: None,
            leaked_url: None,
            leaked_source: None,
            restrictions: Restrictions::default(),
        };
        assert!(record.is_live_at(now - 1) && !record.is_live_at(now) && !record.is_live_at(now + 1));
        record.expires_at = None;
        assert!(record.is_live_at(now));
        record.revoked_at = Some(1_767_312_000);
        assert!(!record.is_live_at(now));
    }

    #[test]
    fn debug_never_shows_the_webhook_secret() {
        let secret = crate::ids::new_webhook_secret();
        let org = NewOrg {
            org_id: "org_1".into(),
            name: "Acme".into(),
            owner_uid: "uid-1".into(),
            created_at: 1_767_225_600,
            webhook_secret: Some(secret.clone()),
        };
        let shown = format!("{org:?} {org:#?}");
        assert!(!shown.contains(&secret), "{shown}");
        assert!(shown.contains("<redacted>") && shown.contains("org_1") && shown.contains("uid-1"));
        let without = NewOrg { webhook_secret: None, ..org };
        assert!(format!("{without:?}").contains("webhook_secret: None"));
    }
}
