//! Pieces the benchmark runner and the criterion benches share.

pub mod runtime_api;

use overten::store::KeyRecord;

/// A record whose `last_used_at` is fresh, so no touch is attempted.
pub fn fresh_record() -> KeyRecord {
    KeyRecord {
        org_id: "org_AbCdEfGhIjKlMnOpQrStUvWx".into(),
        name: "billing-service-prod".into(),
        prefix: "sk_live_AbCd".into(),
        created_at: 1_795_737_600,
        last_used_at: Some(overten::clock::now_secs() + 3600),
        ..overten::store::sample_record("key_0VcAbCdEfGhIjKlMnOpQrStU", false)
    }
}
