//! RSA keys generated at test time and JWTs signed with them (aws-lc-rs directly, independent of
//! the jsonwebtoken code under test).

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{KeyPair, RSA_PKCS1_SHA256, RSA_PSS_SHA256, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

pub struct SigningKey {
    pub kid: String,
    pair: RsaKeyPair,
}

impl SigningKey {
    pub fn generate(kid: &str) -> Self {
        SigningKey { kid: kid.into(), pair: RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap() }
    }

    /// The public key as a JWK, as Google serves it.
    pub fn jwk(&self) -> Value {
        let public = self.pair.public_key();
        json!({
            "kty": "RSA", "alg": "RS256", "use": "sig", "kid": self.kid,
            "n": URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
            "e": URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()),
        })
    }

    /// The DER bytes of the public key (for the algorithm-confusion test).
    pub fn public_der(&self) -> Vec<u8> {
        self.pair.public_key().as_ref().to_vec()
    }

    pub fn sign_rs256(&self, header: &Value, claims: &Value) -> String {
        self.sign_with(header, claims, &RSA_PKCS1_SHA256)
    }

    pub fn sign_ps256(&self, header: &Value, claims: &Value) -> String {
        self.sign_with(header, claims, &RSA_PSS_SHA256)
    }

    fn sign_with(&self, header: &Value, claims: &Value, alg: &'static dyn aws_lc_rs::signature::RsaEncoding) -> String {
        let input = signing_input(header, claims);
        let mut sig = vec![0; self.pair.public_modulus_len()];
        self.pair.sign(alg, &SystemRandom::new(), input.as_bytes(), &mut sig).unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
    }

    /// A standard RS256 ID token for `claims`.
    pub fn id_token(&self, claims: &Value) -> String {
        self.sign_rs256(&json!({"alg": "RS256", "typ": "JWT", "kid": self.kid}), claims)
    }
}

pub fn signing_input(header: &Value, claims: &Value) -> String {
    format!("{}.{}", b64(header), b64(claims))
}

pub fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

/// HS256 over the signing input with `secret`.
pub fn sign_hs256(header: &Value, claims: &Value, secret: &[u8]) -> String {
    let input = signing_input(header, claims);
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
    let tag = aws_lc_rs::hmac::sign(&key, input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
}

/// An unsigned token as the Auth emulator makes them.
pub fn unsigned(claims: &Value) -> String {
    format!("{}.", signing_input(&json!({"alg": "none", "typ": "JWT"}), claims))
}

/// Valid claims for `project` and `uid` at time `now`.
pub fn claims(project: &str, uid: &str, now: i64) -> Value {
    json!({
        "iss": format!("https://securetoken.google.com/{project}"),
        "aud": project,
        "auth_time": now - 10,
        "user_id": uid,
        "sub": uid,
        "iat": now - 10,
        "exp": now + 3600,
        "firebase": {"identities": {}, "sign_in_provider": "password"},
    })
}
