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

/// An org about to be written, with its owner.
#[derive(Debug, Clone)]
pub struct NewOrg {
    pub org_id: String,
    pub name: String,
    pub owner_uid: String,
    pub created_at: String,
    /// `Some` when the org is created with API access (signup), `None` for a dashboard org.
    pub webhook_secret: Option<String>,
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

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPage {
    pub data: Vec<KeySummary>,
    pub next_cursor: Option<String>,
}
