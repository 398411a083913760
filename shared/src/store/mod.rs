//! The key store: what the functions need from storage, as small traits by capability (the
//! ports, [`ports`]: a key lookup, a batch find, membership, orgs, the key lifecycle), each function asking only
//! for those it uses, and their DynamoDB implementation (the adapter). Tests and benchmarks wrap
//! the real adapter, or stand in for one capability, e.g. to count the calls of a lookup.

mod dynamodb;
#[cfg(feature = "testing")]
mod fixed;
mod ports;
mod records;
pub mod tables;

#[cfg(feature = "testing")]
pub use dynamodb::decode_key_item;
pub use dynamodb::{DynamoStore, DynamoUsage, MAX_ORGS_PER_USER, TOUCH_INTERVAL_SECS, USAGE_ORG_INDEX, UsageReader};
#[cfg(feature = "testing")]
pub use fixed::{FixedStore, sample_record};
pub use ports::{
    CreateKey, CreateOrg, FindKeys, KeyLifecycle, KeyLookup, ListEvents, ListKeys, Membership, OrgKeys, Orgs,
    ReadUsage, RecordUsage, RevokeKey, RollKey, UpdateKey, UsageWrite,
};
pub use records::{Inherit, KeyPage, KeyRecord, KeyStatus, KeySummary, KeyUpdate, ListQuery, NewKey, NewOrg, Rolled};

/// Most active keys an org may hold (keys in a roll's grace period and expired keys do not
/// count).
pub const MAX_ACTIVE_KEYS: usize = 100;

/// Most keys of an org in a roll's grace period at once: with [`MAX_ACTIVE_KEYS`], at most 200
/// keys of one org authenticate at any instant.
pub const MAX_GRACE_KEYS: usize = 100;
