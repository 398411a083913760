//! Configuration, read once per cold start from the environment Lambda (or `make dev`) sets.

use std::time::Duration;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("environment variable {0} is not set (see README, \"Configuration\")")]
    Missing(&'static str),
    #[error("environment variable {0} is invalid: {1}")]
    Invalid(&'static str, String),
}

/// DynamoDB table names (`API_KEYS_TABLE`, `ORGS_TABLE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tables {
    pub api_keys: String,
    pub orgs: String,
}

impl Tables {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Tables { api_keys: required(&get, "API_KEYS_TABLE")?, orgs: required(&get, "ORGS_TABLE")? })
    }
}

/// How Firebase ID tokens are verified (`FIREBASE_PROJECT_ID`, `FIREBASE_JWKS_URL`,
/// `FIREBASE_AUTH_EMULATOR_HOST`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirebaseConfig {
    pub project_id: String,
    pub jwks_url: String,
    /// Set only for local development: unsigned emulator tokens are then accepted.
    pub emulator_host: Option<String>,
    /// Connect and whole-request timeouts for the key endpoint, so a slow endpoint cannot hold a
    /// request past the function's own timeout.
    pub fetch_timeout: Duration,
}

pub const GOOGLE_JWKS_URL: &str =
    "https://www.googleapis.com/service_accounts/v1/jwk/securetoken@system.gserviceaccount.com";

impl FirebaseConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let project_id = required(&get, "FIREBASE_PROJECT_ID")?;
        if project_id.len() > 128 || !project_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(ConfigError::Invalid("FIREBASE_PROJECT_ID", "not a Firebase project id".into()));
        }
        Ok(FirebaseConfig {
            project_id,
            jwks_url: optional(&get, "FIREBASE_JWKS_URL").unwrap_or_else(|| GOOGLE_JWKS_URL.to_owned()),
            emulator_host: optional(&get, "FIREBASE_AUTH_EMULATOR_HOST"),
            fetch_timeout: Duration::from_secs(3),
        })
    }
}

fn required(get: &impl Fn(&str) -> Option<String>, name: &'static str) -> Result<String, ConfigError> {
    optional(get, name).ok_or(ConfigError::Missing(name))
}

fn optional(get: &impl Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    get(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn a_missing_variable_is_named() {
        let err = Tables::from_lookup(lookup(&[("API_KEYS_TABLE", "k")])).unwrap_err();
        assert_eq!(err, ConfigError::Missing("ORGS_TABLE"));
        assert!(err.to_string().contains("ORGS_TABLE"));
        let err = FirebaseConfig::from_lookup(lookup(&[("FIREBASE_PROJECT_ID", " ")])).unwrap_err();
        assert_eq!(err, ConfigError::Missing("FIREBASE_PROJECT_ID"));
    }

    #[test]
    fn defaults_and_overrides() {
        let t = Tables::from_lookup(lookup(&[("API_KEYS_TABLE", "k"), ("ORGS_TABLE", "o")])).unwrap();
        assert_eq!(t, Tables { api_keys: "k".into(), orgs: "o".into() });
        let f = FirebaseConfig::from_lookup(lookup(&[("FIREBASE_PROJECT_ID", "demo-overten")])).unwrap();
        assert_eq!(f.jwks_url, GOOGLE_JWKS_URL);
        assert_eq!(f.emulator_host, None);
        let f = FirebaseConfig::from_lookup(lookup(&[
            ("FIREBASE_PROJECT_ID", "demo-overten"),
            ("FIREBASE_JWKS_URL", "http://127.0.0.1:9/jwks"),
            ("FIREBASE_AUTH_EMULATOR_HOST", "127.0.0.1:9099"),
        ]))
        .unwrap();
        assert_eq!(f.jwks_url, "http://127.0.0.1:9/jwks");
        assert_eq!(f.emulator_host.as_deref(), Some("127.0.0.1:9099"));
        assert!(FirebaseConfig::from_lookup(lookup(&[("FIREBASE_PROJECT_ID", "a/b")])).is_err());
    }
}
