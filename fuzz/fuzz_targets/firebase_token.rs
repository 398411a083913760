//! The Firebase token decoder (segments, base64url, JSON, claims) through the emulator path, which
//! decodes everything without a signature; a token that reaches a key fetch fails fast (nothing
//! listens on the JWKS URL).
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use overten::config::FirebaseConfig;
use overten::firebase::TokenVerifier;

static RUNTIME: LazyLock<tokio::runtime::Runtime> =
    LazyLock::new(|| tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap());
static VERIFIER: LazyLock<TokenVerifier> = LazyLock::new(|| {
    TokenVerifier::new(&FirebaseConfig {
        project_id: "demo-overten".into(),
        jwks_url: "http://127.0.0.1:9/jwks".into(),
        emulator_host: Some("127.0.0.1:9099".into()),
        fetch_timeout: std::time::Duration::from_millis(100),
    })
    .unwrap()
});

fuzz_target!(|data: &[u8]| {
    if let Ok(token) = std::str::from_utf8(data) {
        if let Ok(verified) = RUNTIME.block_on(VERIFIER.verify(token)) {
            assert!(!verified.uid.is_empty() && verified.uid.chars().count() <= 128);
        }
    }
});
