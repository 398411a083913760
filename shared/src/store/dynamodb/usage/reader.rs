//! What the usage routes read: membership and the key's org in `Orgs`, the days in `KeyUsage`.

use std::collections::BTreeMap;

use super::DynamoUsage;
use crate::error::Error;
use crate::store::{DynamoStore, Membership, OrgKeys, ReadUsage};
use crate::usage::DayUsage;
use crate::usage::report::{DayRange, OrgDay};

/// The usage function's store: the key store for who may read, the usage table for what.
#[derive(Debug, Clone)]
pub struct UsageReader {
    pub keys: DynamoStore,
    pub usage: DynamoUsage,
}

impl Membership for UsageReader {
    async fn is_member(&self, org_id: &str, uid: &str) -> Result<bool, Error> {
        self.keys.is_member(org_id, uid).await
    }
}

impl OrgKeys for UsageReader {
    async fn has_key(&self, org_id: &str, key_id: &str) -> Result<bool, Error> {
        self.keys.has_key(org_id, key_id).await
    }
}

impl ReadUsage for UsageReader {
    async fn key_days(&self, org_id: &str, key_id: &str, range: DayRange) -> Result<BTreeMap<String, DayUsage>, Error> {
        self.usage.key_days(org_id, key_id, range).await
    }

    async fn org_days(&self, org_id: &str, range: DayRange) -> Result<Vec<(String, OrgDay)>, Error> {
        self.usage.org_days(org_id, range).await
    }
}
