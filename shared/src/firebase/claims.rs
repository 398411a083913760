//! The claim checks of the Firebase Admin SDKs, applied to signed and emulator tokens alike.

use serde_json::{Map, Value};

use super::invalid;
use crate::error::Error;

/// How far `iat` may lie in the future (clock skew between Google and us), as the Admin SDKs allow.
pub const CLOCK_SKEW_SECS: i64 = 300;

const CUSTOM_TOKEN_AUDIENCE: &str =
    "https://identitytoolkit.googleapis.com/google.identity.identitytoolkit.v1.IdentityToolkit";

/// A verified ID token. `Debug` shows the uid only.
pub struct VerifiedToken {
    pub uid: String,
    pub claims: Map<String, Value>,
}

impl std::fmt::Debug for VerifiedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedToken").field("uid", &self.uid).finish_non_exhaustive()
    }
}

pub(super) fn check(
    claims: Map<String, Value>,
    project_id: &str,
    issuer: &str,
    now: i64,
) -> Result<VerifiedToken, Error> {
    match claims.get("aud").and_then(Value::as_str) {
        Some(aud) if aud == project_id => {}
        Some(CUSTOM_TOKEN_AUDIENCE) => {
            return Err(invalid(
                "a custom token was given where an ID token was expected: exchange it for an ID token first",
            ));
        }
        _ => {
            return Err(invalid(format!(
                "the ID token has an incorrect \"aud\" (audience) claim; expected {project_id:?}"
            )));
        }
    }
    if claims.get("iss").and_then(Value::as_str) != Some(issuer) {
        return Err(invalid(format!("the ID token has an incorrect \"iss\" (issuer) claim; expected {issuer:?}")));
    }
    let uid = match claims.get("sub") {
        Some(Value::String(sub)) if sub.is_empty() => {
            return Err(invalid("the ID token has an empty \"sub\" (subject) claim"));
        }
        Some(Value::String(sub)) if sub.chars().count() > 128 => {
            return Err(invalid("the ID token has a \"sub\" (subject) claim longer than 128 characters"));
        }
        Some(Value::String(sub)) => sub.clone(),
        _ => return Err(invalid("the ID token has no string \"sub\" (subject) claim")),
    };
    let Some(exp) = claims.get("exp").and_then(Value::as_i64) else {
        return Err(invalid("the ID token has no numeric \"exp\" (expiry) claim"));
    };
    let Some(iat) = claims.get("iat").and_then(Value::as_i64) else {
        return Err(invalid("the ID token has no numeric \"iat\" (issued-at) claim"));
    };
    if iat > now + CLOCK_SKEW_SECS {
        return Err(invalid("the ID token's \"iat\" (issued-at) claim is in the future"));
    }
    if exp <= now {
        return Err(Error::TokenExpired);
    }
    Ok(VerifiedToken { uid, claims })
}
