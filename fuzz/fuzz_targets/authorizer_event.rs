//! The authorizer's event decoding on arbitrary JSON: a Deny or an error, never an Allow (the
//! store knows no key) and never a panic.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use overten::store::FixedStore;

static RUNTIME: LazyLock<tokio::runtime::Runtime> =
    LazyLock::new(|| tokio::runtime::Builder::new_current_thread().build().unwrap());

fuzz_target!(|data: &[u8]| {
    let Ok(event) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    if let Ok(answer) = RUNTIME.block_on(authorizer::handle(&FixedStore::empty(), event, "fuzz")) {
        assert!(answer["isAuthorized"] != true);
        assert!(answer["policyDocument"]["Statement"][0]["Effect"] != "Allow");
    }
});
