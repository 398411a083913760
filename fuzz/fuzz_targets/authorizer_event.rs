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
}

static KEYS: LazyLock<Keys> = LazyLock::new(|| Keys { live: ApiKey::generate(), revoked: ApiKey::generate() });

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let text = text.replace("LIVE_KEY", KEYS.live.expose_secret()).replace("REVOKED_KEY", KEYS.revoked.expose_secret());
    // Straight from the bytes into the typed event, as the function decodes an invocation.
    let Ok(event) = AuthorizerEvent::from_slice(text.as_bytes()) else { return };
    let store = FixedStore::with_keys(vec![
        (KEYS.live.hash(), sample_record("key_live", false)),
        (KEYS.revoked.hash(), sample_record("key_revoked", true)),
    ]);
    if let Ok(answer) = RUNTIME.block_on(authorizer::authorize(&store, &event, "fuzz")) {
        if answer.is_allowed() {
            assert_eq!(answer.context().key_id.as_deref(), Some("key_live"), "Allow for another key: {answer:?}");
            assert!(text.contains(KEYS.live.expose_secret()), "Allow without the live key");
        }
    }
    if let Ok(answer) = RUNTIME.block_on(authorizer::authorize(&FixedStore::failing(), &event, "fuzz")) {
        assert!(!answer.is_allowed(), "Allow from a failing store");
    }
});
