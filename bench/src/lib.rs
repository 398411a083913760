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

/// The lists at their limits: 20 permission entries, 50 formats, 20 networks (as strings, as
/// the item stores them). The last format is `f49`, the last network `2001:db8:13::/48`.
pub fn restricted_lists() -> (Vec<String>, Vec<String>, Vec<String>) {
    let all = ["generations:read", "runs:read", "runs:write", "files:read", "files:write", "generations:write"];
    let permissions = (0..20).map(|i| all[(i * 5 / 19).min(5)].to_owned()).collect();
    let formats = (0..50).map(|i| format!("f{i}")).collect();
    let networks = (0..19).map(|i| format!("198.51.{i}.0/24")).chain(["2001:db8:13::/48".to_owned()]).collect();
    (permissions, formats, networks)
}

/// [`fresh_record`] restricted by [`restricted_lists`] (built directly: the API refuses repeated
/// permissions, a stored list can be no longer than this).
pub fn restricted_record() -> KeyRecord {
    let (permissions, formats, networks) = restricted_lists();
    let restrictions = overten::restrictions::Restrictions {
        permissions: Some(permissions.iter().map(|p| overten::restrictions::Permission::parse(p).unwrap()).collect()),
        formats: Some(formats),
        allowed_ips: Some(
            networks.iter().map(|n| overten::restrictions::networks::parse_network(n).unwrap()).collect(),
        ),
    };
    KeyRecord { restrictions, ..fresh_record() }
}

/// The `ApiKeys` item of [`restricted_record`], as GetItem returns it.
pub fn restricted_item() -> std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue> {
    use aws_sdk_dynamodb::types::AttributeValue::{L, N, S};
    let (permissions, formats, networks) = restricted_lists();
    let list = |l: Vec<String>| L(l.into_iter().map(S).collect());
    [
        ("key_hash", S("0".repeat(64))),
        ("key_id", S("key_0VcAbCdEfGhIjKlMnOpQrStU".into())),
        ("org_id", S("org_AbCdEfGhIjKlMnOpQrStUvWx".into())),
        ("name", S("billing-service-prod".into())),
        ("prefix", S("sk_live_AbCd".into())),
        ("created_at", S("2026-11-20T00:00:00Z".into())),
        ("last_used_at", N("1795737600".into())),
        ("permissions", list(permissions)),
        ("formats", list(formats)),
        ("allowed_ips", list(networks)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// A store answering one `find_key` by decoding an `ApiKeys` item as the DynamoDB adapter does:
/// the hot path's work after the GetItem, without the network.
pub struct DecodingStore {
    item: std::sync::Mutex<Option<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>>>,
}

impl DecodingStore {
    pub fn new(item: std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>) -> Self {
        DecodingStore { item: std::sync::Mutex::new(Some(item)) }
    }
}

impl overten::store::KeyLookup for DecodingStore {
    async fn find_key(&self, _: &overten::api_key::KeyHash) -> Result<Option<KeyRecord>, overten::Error> {
        let item = self.item.lock().unwrap().take();
        item.map(overten::store::decode_key_item).transpose()
    }
    async fn touch_key(&self, _: &overten::api_key::KeyHash, _: i64) -> Result<(), overten::Error> {
        Ok(())
    }
}
