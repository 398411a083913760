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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const PROJECT: &str = "demo-overten";
    const ISSUER: &str = "https://securetoken.google.com/demo-overten";
    const NOW: i64 = 1_800_000_000;

    fn valid() -> Map<String, Value> {
        json!({"aud": PROJECT, "iss": ISSUER, "sub": "uid-1", "iat": NOW - 10, "exp": NOW + 3600, "email": "a@b.c"})
            .as_object()
            .unwrap()
            .clone()
    }

    fn with(name: &str, value: Value) -> Map<String, Value> {
        let mut claims = valid();
        claims.insert(name.into(), value);
        claims
    }

    fn without(name: &str) -> Map<String, Value> {
        let mut claims = valid();
        claims.remove(name);
        claims
    }

    /// The message of the `invalid_token` error, or the error's code.
    fn refusal(claims: Map<String, Value>) -> String {
        match check(claims, PROJECT, ISSUER, NOW) {
            Ok(token) => panic!("accepted uid {}", token.uid),
            Err(Error::InvalidToken(message)) => message,
            Err(other) => other.code().to_owned(),
        }
    }

    #[test]
    fn valid_claims_give_the_uid_and_keep_the_claims() {
        let token = check(valid(), PROJECT, ISSUER, NOW).unwrap();
        assert_eq!(token.uid, "uid-1");
        assert_eq!(token.claims["email"], "a@b.c");
        assert_eq!(format!("{token:?}"), "VerifiedToken { uid: \"uid-1\", .. }");
    }

    #[test]
    fn the_audience_must_be_the_project() {
        assert!(refusal(with("aud", json!("other-project"))).contains("\"aud\""));
        assert!(refusal(without("aud")).contains("\"aud\""));
        assert!(refusal(with("aud", json!([PROJECT]))).contains("\"aud\""));
        assert!(refusal(with("aud", json!(CUSTOM_TOKEN_AUDIENCE))).contains("custom token"));
    }

    #[test]
    fn the_issuer_must_be_the_projects() {
        assert!(refusal(with("iss", json!("https://securetoken.google.com/other"))).contains("\"iss\""));
        assert!(refusal(without("iss")).contains("\"iss\""));
    }

    #[test]
    fn the_subject_must_be_a_non_empty_string_of_at_most_128_characters() {
        assert!(refusal(with("sub", json!(""))).contains("empty \"sub\""));
        assert!(refusal(with("sub", json!("é".repeat(129)))).contains("longer than 128"));
        assert_eq!(check(with("sub", json!("é".repeat(128))), PROJECT, ISSUER, NOW).unwrap().uid, "é".repeat(128));
        assert!(refusal(with("sub", json!(42))).contains("no string \"sub\""));
        assert!(refusal(without("sub")).contains("no string \"sub\""));
    }

    #[test]
    fn issued_at_may_be_at_most_the_skew_in_the_future() {
        assert!(check(with("iat", json!(NOW + CLOCK_SKEW_SECS)), PROJECT, ISSUER, NOW).is_ok());
        assert!(refusal(with("iat", json!(NOW + CLOCK_SKEW_SECS + 1))).contains("in the future"));
        assert!(refusal(without("iat")).contains("\"iat\""));
        assert!(refusal(with("iat", json!("yesterday"))).contains("\"iat\""));
    }

    #[test]
    fn the_token_expires_at_exp_with_no_leeway() {
        assert!(check(with("exp", json!(NOW + 1)), PROJECT, ISSUER, NOW).is_ok());
        assert_eq!(refusal(with("exp", json!(NOW))), "token_expired");
        assert_eq!(refusal(with("exp", json!(NOW - 1))), "token_expired");
        assert!(refusal(without("exp")).contains("\"exp\""));
    }
}
