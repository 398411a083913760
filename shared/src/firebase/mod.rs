//! Firebase ID-token verification, as strict as the Firebase Admin SDKs
//! (firebase-admin-node `token-verifier.ts`, firebase-admin-go `token_verifier.go`).
//!
//! The algorithm is fixed to RS256 and never read from the token; `kid` must name a key of
//! Google's current set ([`jwks`]); every claim is checked by [`claims`]. With
//! `FIREBASE_AUTH_EMULATOR_HOST` set (local development only), the Auth emulator's unsigned
//! `alg: none` tokens pass the same claim checks without a signature, as the Admin SDK does.

pub mod claims;
pub mod jwks;
mod segments;

use jsonwebtoken::Algorithm;

use crate::config::FirebaseConfig;
use crate::error::Error;
pub use claims::{CLOCK_SKEW_SECS, VerifiedToken};
pub use jwks::JwksCache;

/// Longest token we decode: Firebase ID tokens are 1–2 KiB with custom claims of at most 1,000
/// bytes, so this only bounds work spent on garbage.
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

pub struct TokenVerifier {
    project_id: String,
    issuer: String,
    emulator: bool,
    jwks: JwksCache,
}

impl TokenVerifier {
    /// Builds the verifier; nothing is fetched until the first token arrives.
    pub fn new(config: &FirebaseConfig) -> Result<Self, Error> {
        Ok(TokenVerifier {
            project_id: config.project_id.clone(),
            issuer: format!("https://securetoken.google.com/{}", config.project_id),
            emulator: config.emulator_host.is_some(),
            jwks: JwksCache::new(config.jwks_url.clone(), config.fetch_timeout)?,
        })
    }

    pub fn jwks(&self) -> &JwksCache {
        &self.jwks
    }

    /// Verifies `token` and returns its uid (`sub`) and claims.
    pub async fn verify(&self, token: &str) -> Result<VerifiedToken, Error> {
        self.verify_at(token, crate::clock::now_secs()).await
    }

    pub async fn verify_at(&self, token: &str, now: i64) -> Result<VerifiedToken, Error> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(invalid("the ID token is too long"));
        }
        let parts = segments::split(token)?;
        let signed = match (parts.header.alg.as_str(), self.emulator) {
            ("RS256", _) => true,
            ("none", true) => false,
            ("none", false) => {
                return Err(invalid(
                    "the ID token is unsigned (alg \"none\"); such tokens are accepted only from the Auth emulator",
                ));
            }
            (other, _) => {
                return Err(invalid(format!("the ID token has incorrect algorithm {other:?}; expected \"RS256\"")));
            }
        };
        if signed && parts.header.kid.is_none() {
            return Err(invalid("the ID token has no \"kid\" header"));
        }
        // Claims first, as the Admin SDKs do: a wrong audience or an expired token never costs a
        // key fetch or an RSA operation.
        let verified = claims::check(parts.payload()?, &self.project_id, &self.issuer, now)?;
        if let (true, Some(kid)) = (signed, parts.header.kid.as_deref()) {
            let key = self.jwks.key(kid).await?;
            let valid =
                jsonwebtoken::crypto::verify(parts.signature, parts.signing_input.as_bytes(), &key, Algorithm::RS256)
                    .unwrap_or(false);
            if !valid {
                return Err(invalid("the ID token has an invalid signature"));
            }
        }
        Ok(verified)
    }
}

fn invalid(message: impl Into<String>) -> Error {
    Error::InvalidToken(message.into())
}
