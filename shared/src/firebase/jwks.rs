//! Google's token-signing keys (a JWK set), cached by [`KeySetCache`](crate::key_set::KeySetCache).

use std::collections::HashMap;

use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::JwkSet;

use crate::error::Error;
use crate::key_set::{KeySetCache, KeySetFormat};

pub use crate::key_set::MIN_REFETCH_INTERVAL;

/// Google's JWK set, by `kid`.
pub struct FirebaseKeys;

impl KeySetFormat for FirebaseKeys {
    type Key = DecodingKey;
    const WHAT: &'static str = "Firebase signing keys";

    fn parse(body: &[u8]) -> Result<HashMap<String, DecodingKey>, String> {
        let set: JwkSet = serde_json::from_slice(body).map_err(|e| format!("not a JWK set: {e}"))?;
        Ok(set
            .keys
            .iter()
            .filter_map(|jwk| Some((jwk.common.key_id.clone()?, DecodingKey::from_jwk(jwk).ok()?)))
            .collect())
    }

    fn unknown_key() -> Error {
        Error::InvalidToken("the ID token's \"kid\" names no current Firebase signing key".into())
    }
}

pub type JwksCache = KeySetCache<FirebaseKeys>;
