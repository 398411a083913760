//! GitHub's signature on a secret-scanning delivery: ECDSA P-256 with SHA-256, ASN.1 DER, base64,
//! over the raw request body; the public key named by `Github-Public-Key-Identifier`, from
//! GitHub's key set (cached by [`KeySetCache`]).

use std::collections::HashMap;
use std::sync::Arc;

use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1, ParsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::HeaderMap;
use serde::Deserialize;

use crate::error::Error;
use crate::key_set::{KeySetCache, KeySetFormat};

pub const KEY_IDENTIFIER_HEADER: &str = "github-public-key-identifier";
pub const SIGNATURE_HEADER: &str = "github-public-key-signature";

/// Longest identifier or signature header we look at (a DER P-256 signature is at most 72
/// bytes, 96 in base64; GitHub's identifiers are 64 hex characters).
const MAX_HEADER_LEN: usize = 512;

/// GitHub's secret-scanning key set: `{"public_keys": [{"key_identifier", "key", "is_current"}]}`.
pub struct GithubKeys;

#[derive(Deserialize)]
struct Document {
    public_keys: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    key_identifier: String,
    key: String,
}

impl KeySetFormat for GithubKeys {
    /// Parsed once per fetch, shared by every verification.
    type Key = Arc<ParsedPublicKey>;
    const WHAT: &'static str = "GitHub secret-scanning keys";
    /// What GitHub's REST API asks every client to send (besides the `User-Agent` it requires):
    /// <https://docs.github.com/en/rest/using-the-rest-api/getting-started-with-the-rest-api#headers>.
    const REQUEST_HEADERS: &'static [(&'static str, &'static str)] =
        &[("accept", "application/vnd.github+json"), ("x-github-api-version", "2022-11-28")];

    fn parse(body: &[u8]) -> Result<HashMap<String, Self::Key>, String> {
        let document: Document =
            serde_json::from_slice(body).map_err(|e| format!("not GitHub's public-key document: {e}"))?;
        // Every listed key, current or not: a delivery names the one it was signed with, and
        // GitHub rotates by listing the next key before it signs with it.
        Ok(document
            .public_keys
            .into_iter()
            .filter_map(|entry| {
                let der = pem_public_key(&entry.key)?;
                let key = ParsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, der).ok()?;
                Some((entry.key_identifier, Arc::new(key)))
            })
            .collect())
    }

    fn unknown_key() -> Error {
        Error::InvalidSignature
    }
}

pub type GithubKeyCache = KeySetCache<GithubKeys>;

/// The DER of a `-----BEGIN PUBLIC KEY-----` PEM block (an X.509 SubjectPublicKeyInfo).
fn pem_public_key(pem: &str) -> Option<Vec<u8>> {
    let body = pem.trim().strip_prefix("-----BEGIN PUBLIC KEY-----")?.strip_suffix("-----END PUBLIC KEY-----")?;
    let base64: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    STANDARD.decode(base64).ok()
}

/// Checks the delivery's signature before anything else looks at the body: `InvalidSignature`
/// (401) for a missing, malformed or wrong signature or an unknown key identifier;
/// `Unavailable` (503) when GitHub's key endpoint fails.
pub async fn verify(keys: &GithubKeyCache, headers: &HeaderMap, body: &[u8]) -> Result<(), Error> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty() && v.len() <= MAX_HEADER_LEN)
            .ok_or(Error::InvalidSignature)
    };
    let identifier = header(KEY_IDENTIFIER_HEADER)?;
    let signature = STANDARD.decode(header(SIGNATURE_HEADER)?).map_err(|_| Error::InvalidSignature)?;
    let key = keys.key(identifier).await?;
    key.verify_sig(body, &signature).map_err(|_| Error::InvalidSignature)
}

/// GitHub's side of the signature, for local development and tests: a P-256 key pair of our own,
/// its entry in a key set shaped like GitHub's, and signatures the way GitHub makes them.
pub struct LocalSigner {
    key_pair: aws_lc_rs::signature::EcdsaKeyPair,
    pkcs8: Vec<u8>,
}

impl LocalSigner {
    pub fn generate() -> Result<Self, Error> {
        use aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1_SIGNING;
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let pkcs8 = aws_lc_rs::signature::EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
            .map_err(|_| Error::Internal("generating a P-256 key".into()))?;
        Self::from_pkcs8(pkcs8.as_ref())
    }

    /// A key pair saved with [`LocalSigner::pkcs8`].
    pub fn from_pkcs8(pkcs8: &[u8]) -> Result<Self, Error> {
        use aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1_SIGNING;
        let key_pair = aws_lc_rs::signature::EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8)
            .map_err(|_| Error::Internal("not a P-256 PKCS#8 key".into()))?;
        Ok(LocalSigner { key_pair, pkcs8: pkcs8.to_vec() })
    }

    /// The private key (PKCS#8 DER), to keep between runs of `make dev`.
    pub fn pkcs8(&self) -> &[u8] {
        &self.pkcs8
    }

    /// The public key as GitHub publishes it: `-----BEGIN PUBLIC KEY-----` (X.509 SPKI, PEM).
    pub fn public_key_pem(&self) -> String {
        use aws_lc_rs::encoding::AsDer;
        use aws_lc_rs::signature::KeyPair;
        let der = self.key_pair.public_key().as_der().map(|d| d.as_ref().to_vec()).unwrap_or_default();
        let base64 = STANDARD.encode(der);
        let lines: Vec<&str> =
            base64.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap_or_default()).collect();
        format!("-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n", lines.join("\n"))
    }

    /// An identifier as GitHub's look: the sha256 hex of the public key.
    pub fn key_identifier(&self) -> String {
        crate::api_key::KeyHash::of(&self.public_key_pem()).as_str().to_owned()
    }

    /// `{"key_identifier", "key", "is_current"}`, one entry of the key set.
    pub fn key_set_entry(&self, is_current: bool) -> serde_json::Value {
        serde_json::json!({"key_identifier": self.key_identifier(), "key": self.public_key_pem(), "is_current": is_current})
    }

    /// The `Github-Public-Key-Signature` of `body`: base64 of the ASN.1 DER ECDSA signature.
    pub fn sign(&self, body: &[u8]) -> String {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        self.key_pair.sign(&rng, body).map(|s| STANDARD.encode(s.as_ref())).unwrap_or_default()
    }
}

/// A key set document shaped like GitHub's.
pub fn key_set_document(entries: &[serde_json::Value]) -> String {
    serde_json::json!({ "public_keys": entries }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// GitHub's own sample from its partner documentation (github/docs, "Validation sample in
    /// Python"): a payload, its signature and the public key, as GitHub publishes them.
    #[tokio::test]
    async fn githubs_published_sample_signature_verifies() {
        let document = serde_json::json!({"public_keys": [{
            "key_identifier": "90a421169f0a406205f1563a953312f0be898d3c7b6c06b681aa86a874555f4a",
            "key": "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE9MJJHnMfn2+H4xL4YaPDA4RpJqUq\nkCmRCBnYERxZanmcpzQSXs1X/AljlKkbJ8qpVIW4clayyef9gWhFbNHWAA==\n-----END PUBLIC KEY-----",
            "is_current": true
        }]});
        let keys = GithubKeys::parse(document.to_string().as_bytes()).unwrap();
        let payload = br#"[{"token":"some_token","type":"some_type","url":"some_url"}]"#;
        let signature = STANDARD
            .decode("MEUCIQDKZokqnCjrRtw0tni+2Ltvl/uiMJ1EGumEsp1BsNr32AIgQY1YXD2nlj+XNfGK4rBfkMJ1JDOQcYXxa2sY8FNkrKc=")
            .unwrap();
        let key = &keys["90a421169f0a406205f1563a953312f0be898d3c7b6c06b681aa86a874555f4a"];
        assert!(key.verify_sig(payload, &signature).is_ok());
        assert!(
            key.verify_sig(br#"[{"token":"some_token","type":"some_type","url":"some_urL"}]"#, &signature).is_err()
        );
    }

    #[test]
    fn a_local_signature_verifies_with_the_published_key_and_nothing_else() {
        let signer = LocalSigner::generate().unwrap();
        let other = LocalSigner::generate().unwrap();
        let document = key_set_document(&[signer.key_set_entry(true), other.key_set_entry(false)]);
        let keys = GithubKeys::parse(document.as_bytes()).unwrap();
        assert_eq!(keys.len(), 2);
        let body = br#"[{"token":"x","type":"t","url":null,"source":"content"}]"#;
        let signature = STANDARD.decode(signer.sign(body)).unwrap();
        let key = &keys[&signer.key_identifier()];
        assert!(key.verify_sig(body, &signature).is_ok());
        assert!(key.verify_sig(b"[ ]", &signature).is_err(), "another body");
        assert!(keys[&other.key_identifier()].verify_sig(body, &signature).is_err(), "another key");
        let again = LocalSigner::from_pkcs8(signer.pkcs8()).unwrap();
        assert_eq!(again.key_identifier(), signer.key_identifier(), "a saved key is the same key");
        let id = signer.key_identifier();
        assert!(id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
        assert_ne!(id, other.key_identifier());
    }

    #[test]
    fn reads_only_public_key_pem_blocks() {
        assert_eq!(pem_public_key("-----BEGIN PUBLIC KEY-----\nAAEC\n-----END PUBLIC KEY-----\n"), Some(vec![0, 1, 2]));
        assert_eq!(
            pem_public_key("-----BEGIN PUBLIC KEY-----\r\nAA\r\nEC\r\n-----END PUBLIC KEY-----"),
            Some(vec![0, 1, 2])
        );
        assert_eq!(pem_public_key("-----BEGIN CERTIFICATE-----\nAAEC\n-----END CERTIFICATE-----"), None);
        assert_eq!(pem_public_key("-----BEGIN PUBLIC KEY-----\n!!\n-----END PUBLIC KEY-----"), None);
        assert_eq!(pem_public_key("AAEC"), None);
    }

    #[test]
    fn unusable_entries_are_left_out_and_garbage_is_refused() {
        let body = br#"{"public_keys":[{"key_identifier":"a","key":"-----BEGIN PUBLIC KEY-----\nAAEC\n-----END PUBLIC KEY-----","is_current":true}]}"#;
        assert!(GithubKeys::parse(body).unwrap().is_empty(), "not a P-256 key");
        assert!(GithubKeys::parse(b"[]").is_err());
        assert!(matches!(GithubKeys::unknown_key(), Error::InvalidSignature));
    }
}
