//! Identifiers and the webhook secret, all from the OS CSPRNG.

use crate::api_key::{base62, random_base62};

/// `org_` + 24 random base62 characters (~143 bits).
pub fn new_org_id() -> String {
    format!("org_{}", random_base62(24))
}

/// `key_` + 8 base62 digits of the creation time in milliseconds + 16 random characters (~95
/// bits). The time part makes ids sort by creation, so a listing is in creation order and a
/// cursor is simply the last id returned.
pub fn new_key_id(now_millis: u64) -> String {
    format!("key_{}{}", base62(now_millis, 8), random_base62(16))
}

/// `whsec_` + 32 random base62 characters (~190 bits).
pub fn new_webhook_secret() -> String {
    format!("whsec_{}", random_base62(32))
}

/// Whether `s` could be an org id: `org_` + 1–64 of `[0-9A-Za-z_-]`. Orgs are also created by the
/// dashboard, so this accepts more than `new_org_id` makes; it only keeps garbage out of the
/// database.
pub fn is_valid_org_id(s: &str) -> bool {
    is_id_with_prefix(s, "org_")
}

/// Whether `s` could be a key id (same rule as org ids, with `key_`).
pub fn is_valid_key_id(s: &str) -> bool {
    is_id_with_prefix(s, "key_")
}

fn is_id_with_prefix(s: &str, prefix: &str) -> bool {
    let Some(rest) = s.strip_prefix(prefix) else {
        return false;
    };
    (1..=64).contains(&rest.len()) && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_their_prefix_and_length_and_validate() {
        let org = new_org_id();
        assert!(org.starts_with("org_") && org.len() == 28 && is_valid_org_id(&org));
        let key = new_key_id(1_790_000_000_000);
        assert!(key.starts_with("key_") && key.len() == 28 && is_valid_key_id(&key));
        let secret = new_webhook_secret();
        assert!(secret.starts_with("whsec_") && secret.len() == 38);
        assert!(secret[6..].bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(new_org_id(), new_org_id());
        assert_ne!(new_webhook_secret(), new_webhook_secret());
    }

    #[test]
    fn key_ids_sort_by_creation_time() {
        let earlier = new_key_id(1_790_000_000_000);
        let later = new_key_id(1_790_000_000_001);
        assert!(earlier[..12] < later[..12]);
        let much_later = new_key_id(1_890_000_000_000);
        assert!(later < much_later);
    }

    #[test]
    fn id_validation_rejects_garbage() {
        for bad in ["", "org_", "org", "key_abc", "org_a b", "org_../x", "org_é", &format!("org_{}", "a".repeat(65))] {
            assert!(!is_valid_org_id(bad), "{bad:?}");
        }
        assert!(!is_valid_key_id("org_abc"));
        assert!(is_valid_org_id("org_dashboard-made_1"));
    }
}
