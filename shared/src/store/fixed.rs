//! A key lookup with fixed answers, for unit tests, property tests, fuzzing and benchmarks of the
//! hot path above the store (feature `testing`): no key, one answer for every hash, a set of keys
//! by hash, or failing reads. It implements [`KeyLookup`] only: nothing else of the store is asked
//! of it. Nothing that claims to test the store uses it: those tests run on DynamoDB Local.

use super::{KeyLookup, KeyRecord};
use crate::api_key::KeyHash;
use crate::error::Error;

pub struct FixedStore {
    keys: Vec<(KeyHash, KeyRecord)>,
    /// Answers every hash with this record.
    any: Option<KeyRecord>,
    failing: bool,
}

impl FixedStore {
    /// Knows no key.
    pub fn empty() -> Self {
        FixedStore { keys: Vec::new(), any: None, failing: false }
    }

    /// Answers every lookup with `record`, whatever the hash (benches of the code above the store).
    pub fn answering(record: KeyRecord) -> Self {
        FixedStore { any: Some(record), ..Self::empty() }
    }

    /// Knows these keys by hash — live, revoked, whatever the test puts in: `Allow` must come
    /// exactly for a live key's bytes.
    pub fn with_keys(keys: Vec<(KeyHash, KeyRecord)>) -> Self {
        FixedStore { keys, ..Self::empty() }
    }

    /// Every read fails with `Unavailable`, as an unreachable DynamoDB does.
    pub fn failing() -> Self {
        FixedStore { failing: true, ..Self::empty() }
    }
}

/// A key record as the hot path reads it (org `org_1`), live or revoked, for stores with fixed
/// answers.
pub fn sample_record(key_id: &str, revoked: bool) -> KeyRecord {
    KeyRecord {
        key_id: key_id.into(),
        org_id: "org_1".into(),
        name: "k".into(),
        prefix: "sk_live_abcd".into(),
        created_at: 1_767_225_600,
        revoked_at: revoked.then_some(1_767_312_000),
        revoked_reason: revoked.then_some(crate::audit::RevokedReason::Revoked),
        last_used_at: None,
        expires_at: None,
        rolled_to: None,
        leaked_url: None,
        leaked_source: None,
        restrictions: Default::default(),
    }
}

impl KeyLookup for FixedStore {
    async fn find_key(&self, hash: &KeyHash) -> Result<Option<KeyRecord>, Error> {
        if self.failing {
            return Err(Error::Unavailable("FixedStore is failing (test)".into()));
        }
        let known = self.keys.iter().find(|(h, _)| h == hash).map(|(_, record)| record.clone());
        Ok(known.or_else(|| self.any.clone()))
    }
    async fn touch_key(&self, _: &KeyHash, _: i64) -> Result<(), Error> {
        Ok(())
    }
}
