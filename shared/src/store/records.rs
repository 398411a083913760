//! What the store reads and writes, independent of DynamoDB's item format.

use crate::api_key::KeyHash;

/// A key as the authorizer and `/verify` see it (the `ApiKeys` item).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    pub key_id: String,
    pub org_id: String,
    pub name: String,
    pub prefix: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
    /// Seconds since the epoch.
    pub last_used_at: Option<i64>,
}

/// A key about to be written. Holds the hash, never the raw key.
#[derive(Debug, Clone)]
pub struct NewKey {
    pub key_id: String,
    pub hash: KeyHash,
    pub name: String,
    pub prefix: String,
    pub created_at: String,
}

/// An org about to be written, with its owner. Its `Debug` redacts the webhook secret.
#[derive(Clone)]
pub struct NewOrg {
    pub org_id: String,
    pub name: String,
    pub owner_uid: String,
    pub created_at: String,
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

/// A key as listed: public fields only.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct KeySummary {
    pub id: String,
    pub name: String,
    pub prefix: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    pub limit: usize,
    /// The last key id of the previous page.
    pub cursor: Option<String>,
    pub include_revoked: bool,
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
    fn debug_never_shows_the_webhook_secret() {
        let secret = crate::ids::new_webhook_secret();
        let org = NewOrg {
            org_id: "org_1".into(),
            name: "Acme".into(),
            owner_uid: "uid-1".into(),
            created_at: "2026-01-01T00:00:00Z".into(),
            webhook_secret: Some(secret.clone()),
        };
        let shown = format!("{org:?} {org:#?}");
        assert!(!shown.contains(&secret), "{shown}");
        assert!(shown.contains("<redacted>") && shown.contains("org_1") && shown.contains("uid-1"));
        let without = NewOrg { webhook_secret: None, ..org };
        assert!(format!("{without:?}").contains("webhook_secret: None"));
    }
}
