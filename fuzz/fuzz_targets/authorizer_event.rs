//! The authorizer's event decoding on arbitrary JSON: a Deny or an error, never an Allow (the
//! store knows no key) and never a panic.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use overten::Error;
use overten::api_key::KeyHash;
use overten::store::{KeyPage, KeyRecord, KeyStore, ListQuery, NewKey, NewOrg};

struct Empty;

impl KeyStore for Empty {
    async fn find_key(&self, _: &KeyHash) -> Result<Option<KeyRecord>, Error> {
        Ok(None)
    }
    async fn touch_key(&self, _: &KeyHash, _: i64) -> Result<(), Error> {
        Ok(())
    }
    async fn create_org_with_key(&self, _: &NewOrg, _: &NewKey) -> Result<(), Error> {
        unreachable!()
    }
    async fn enable_api(&self, _: &str, _: &str, _: &str, _: &NewKey) -> Result<(), Error> {
        unreachable!()
    }
    async fn create_org(&self, _: &NewOrg) -> Result<(), Error> {
        unreachable!()
    }
    async fn is_member(&self, _: &str, _: &str) -> Result<bool, Error> {
        unreachable!()
    }
    async fn create_key(&self, _: &str, _: &str, _: &NewKey) -> Result<(), Error> {
        unreachable!()
    }
    async fn list_keys(&self, _: &str, _: &ListQuery) -> Result<KeyPage, Error> {
        unreachable!()
    }
    async fn revoke_key(&self, _: &str, _: Option<&str>, _: &str, _: &str) -> Result<(), Error> {
        unreachable!()
    }
}

static RUNTIME: LazyLock<tokio::runtime::Runtime> =
    LazyLock::new(|| tokio::runtime::Builder::new_current_thread().build().unwrap());

fuzz_target!(|data: &[u8]| {
    let Ok(event) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    if let Ok(answer) = RUNTIME.block_on(authorizer::handle(&Empty, event, "fuzz")) {
        assert!(answer["isAuthorized"] != true);
        assert!(answer["policyDocument"]["Statement"][0]["Effect"] != "Allow");
    }
});
