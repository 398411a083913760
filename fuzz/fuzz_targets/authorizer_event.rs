//! The authorizer on arbitrary events, decoded from their bytes as in production
//! ([`AuthorizerEvent::from_slice`]), against a store that holds a live and a revoked key
//! and against a store that fails. The input's `LIVE_KEY` and `REVOKED_KEY` are replaced by those
//! keys (generated at start-up, so no key is committed in the corpus). `Allow` only for the live
//! key's bytes, never from the failing store, never a panic.
#![no_main]

use std::sync::LazyLock;

use authorizer::AuthorizerEvent;
use libfuzzer_sys::fuzz_target;
use overten::ApiKey;
use overten::store::{FixedStore, sample_record};

static RUNTIME: LazyLock<tokio::runtime::Runtime> =
    LazyLock::new(|| tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap());

struct Keys {
    live: ApiKey,
    revoked: ApiKey,
    /// Restricted to `runs:read`, `pdf` and `203.0.113.0/24`.
    restricted: ApiKey,
}

static KEYS: LazyLock<Keys> = LazyLock::new(|| Keys {
    live: ApiKey::generate(),
    revoked: ApiKey::generate(),
    restricted: ApiKey::generate(),
});

fn restricted_record() -> overten::store::KeyRecord {
    let list = |l: &str| Some(Some(vec![l.to_owned()]));
    let restrictions = overten::restrictions::RestrictionsPatch::parse((list("runs:read"), list("pdf"), list("203.0.113.0/24")))
        .unwrap()
        .apply(&Default::default());
    overten::store::KeyRecord { restrictions, ..sample_record("key_restricted", false) }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let text = text
        .replace("LIVE_KEY", KEYS.live.expose_secret())
        .replace("REVOKED_KEY", KEYS.revoked.expose_secret())
        .replace("RESTRICTED_KEY", KEYS.restricted.expose_secret());
    // Straight from the bytes into the typed event, as the function decodes an invocation.
    let Ok(event) = AuthorizerEvent::from_slice(text.as_bytes()) else { return };
    let store = FixedStore::with_keys(vec![
        (KEYS.live.hash(), sample_record("key_live", false)),
        (KEYS.revoked.hash(), sample_record("key_revoked", true)),
        (KEYS.restricted.hash(), restricted_record()),
    ]);
    if let Ok(answer) = RUNTIME.block_on(authorizer::authorize(&store, &event, "fuzz")) {
        let context = answer.context();
        if answer.is_allowed() {
            let key_id = context.key_id.as_deref();
            assert!(matches!(key_id, Some("key_live" | "key_restricted")), "Allow for another key: {answer:?}");
            if key_id == Some("key_live") {
                assert!(text.contains(KEYS.live.expose_secret()), "Allow without the live key");
            } else {
                assert_eq!(context.permissions.as_deref(), Some("runs:read"));
            }
        } else if context.error_code.as_deref() == Some("permission_denied") {
            // The ACCESS_DENIED template inserts both raw: they must stay JSON whatever the event.
            let message = context.error_message.as_deref().unwrap();
            assert!(!message.contains('"') && !message.contains('\\') && !message.chars().any(char::is_control), "{message:?}");
            let required: serde_json::Value = serde_json::from_str(context.required.as_deref().unwrap()).unwrap();
            assert!(required.is_object());
        }
    }
    if let Ok(answer) = RUNTIME.block_on(authorizer::authorize(&FixedStore::failing(), &event, "fuzz")) {
        assert!(!answer.is_allowed(), "Allow from a failing store");
    }
});
