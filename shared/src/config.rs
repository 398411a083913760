//! Configuration, read once per cold start from the environment Lambda (or `make dev`) sets.

use std::time::Duration;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("environment variable {0} is not set (see README, \"Configuration\")")]
    Missing(&'static str),
    #[error("environment variable {0} is invalid: {1}")]
    Invalid(&'static str, String),
    /// A development-only setting inside a deployed function: the cold start stops here.
    #[error("environment variable {0} is not allowed in a deployed function: {1}")]
    Unsafe(&'static str, &'static str),
}

/// Whether this process is a deployed Lambda function: Lambda sets `AWS_LAMBDA_FUNCTION_NAME`;
/// `sam local` sets it too, but also `AWS_SAM_LOCAL=true`.
pub fn in_lambda(get: &impl Fn(&str) -> Option<String>) -> bool {
    get("AWS_LAMBDA_FUNCTION_NAME").is_some_and(|v| !v.trim().is_empty())
        && get("AWS_SAM_LOCAL").as_deref() != Some("true")
}

/// A key-set URL the service fetches keys from: inside Lambda it must be `https://`, since a key
/// set fetched in clear text could be swapped for one that signs anything.
pub fn key_set_url(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: &str,
) -> Result<String, ConfigError> {
    let url = optional(get, name).unwrap_or_else(|| default.to_owned());
    if in_lambda(get) && !url.starts_with("https://") {
        return Err(ConfigError::Unsafe(name, "key sets are fetched over https:// only"));
    }
    Ok(url)
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

/// How long a function waits for DynamoDB, chosen per function (README, "Timeouts"). Without these
/// the SDK has no operation or attempt timeout: a stuck DynamoDB (a partition, a frozen node) holds
/// the request until Lambda kills the function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DynamoTimeouts {
    /// TCP + TLS set-up of one connection.
    pub connect: Duration,
    /// One attempt (request sent → response read); a stuck attempt is abandoned and retried.
    pub attempt: Duration,
    /// The whole call, retries included: past it the caller gets `503 service_unavailable`.
    pub operation: Duration,
    /// Attempts per call, first included (the SDK's standard retry: throttling, 5xx, timeouts).
    pub max_attempts: u32,
    /// Our own retries (transaction conflicts and throttled transactions) stop once this much
    /// time has passed, within the function's budget.
    pub retry_budget: Duration,
}

impl DynamoTimeouts {
    /// The authorizer and `/verify`: one `GetItem` whose p99 in-region is a few milliseconds. Two
    /// quick attempts fit in the 1.5 s operation timeout, so a stuck table answers 503 in under
    /// 2 s, well before the authorizer's 6 s function timeout; no caller waits longer for a "no".
    pub const HOT_PATH: DynamoTimeouts = DynamoTimeouts {
        connect: Duration::from_millis(300),
        attempt: Duration::from_millis(500),
        operation: Duration::from_millis(1500),
        max_attempts: 3,
        retry_budget: Duration::from_millis(1000),
    };

    /// Signup and the key routes: transactions of up to 5 items and queries, each still tens of
    /// milliseconds in-region; 4 s for the whole call keeps a stuck table's 503 under 5 s and the
    /// request well inside the functions' 20 s timeout (a token check with its own 3 s key-set
    /// fetch may come first).
    pub const MANAGEMENT: DynamoTimeouts = DynamoTimeouts {
        connect: Duration::from_millis(500),
        attempt: Duration::from_millis(1500),
        operation: Duration::from_millis(4000),
        max_attempts: 3,
        retry_budget: Duration::from_millis(3000),
    };

    /// Applies the timeouts and the retry policy to an SDK config loader.
    pub fn apply(&self, loader: aws_config::ConfigLoader) -> aws_config::ConfigLoader {
        loader
            .timeout_config(
                aws_config::timeout::TimeoutConfig::builder()
                    .connect_timeout(self.connect)
                    .operation_attempt_timeout(self.attempt)
                    .operation_timeout(self.operation)
                    .build(),
            )
            .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(self.max_attempts))
    }
}

/// An optional Secrets Manager secret ARN (`arn:<partition>:secretsmanager:<region>:<account>:secret:<name>-<6 characters>`):
/// the full ARN, with the six random characters Secrets Manager appends to the name, so the
/// function's IAM grant (on this ARN) matches the secret: `GetSecretValue` accepts a partial ARN,
/// IAM would refuse it ("[ARN] … must include the 6 random characters", AWS's troubleshooting page).
fn secret_arn(get: &impl Fn(&str) -> Option<String>, name: &'static str) -> Result<Option<String>, ConfigError> {
    let Some(arn) = optional(get, name) else { return Ok(None) };
    let parts: Vec<&str> = arn.splitn(7, ':').collect();
    let valid = parts.len() == 7
        && parts[0] == "arn"
        && !parts[1].is_empty()
        && parts[2] == "secretsmanager"
        && !parts[3].is_empty()
        && parts[4].len() == 12
        && parts[4].bytes().all(|b| b.is_ascii_digit())
        && parts[5] == "secret"
        && parts[6].rsplit_once('-').is_some_and(|(name, suffix)| {
            !name.is_empty() && suffix.len() == 6 && suffix.bytes().all(|b| b.is_ascii_alphanumeric())
        })
        && arn.len() <= 2048;
    if !valid {
        return Err(ConfigError::Invalid(
            name,
            "a Secrets Manager secret's full ARN: arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-XXXXXX".into(),
        ));
    }
    Ok(Some(arn))
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

/// Where GitHub publishes its secret-scanning keys.
pub const GITHUB_SECRET_SCANNING_KEYS_URL: &str = "https://api.github.com/meta/public_keys/secret_scanning";

/// The secret-scanning endpoint's key set: `GITHUB_SECRET_SCANNING_KEYS_URL` (https inside
/// Lambda), its fetch timeout — 3 s, as for Google's keys: GitHub retries a 503 — and
/// `GITHUB_TOKEN_SECRET_ARN`, the Secrets Manager secret holding a GitHub token to send with the
/// fetch (optional: unauthenticated calls are limited to 60 an hour per source address, shared by
/// every Lambda instance behind the same address).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GithubKeysConfig {
    pub keys_url: String,
    pub fetch_timeout: Duration,
    /// The secret's ARN (never the token: that is read on first use).
    pub token_secret_arn: Option<String>,
}

impl GithubKeysConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(GithubKeysConfig {
            keys_url: key_set_url(&get, "GITHUB_SECRET_SCANNING_KEYS_URL", GITHUB_SECRET_SCANNING_KEYS_URL)?,
            fetch_timeout: Duration::from_secs(3),
            token_secret_arn: secret_arn(&get, "GITHUB_TOKEN_SECRET_ARN")?,
        })
    }
}

impl FirebaseConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let project_id = required(&get, "FIREBASE_PROJECT_ID")?;
        if project_id.len() > 128 || !project_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(ConfigError::Invalid("FIREBASE_PROJECT_ID", "not a Firebase project id".into()));
        }
        let emulator_host = optional(&get, "FIREBASE_AUTH_EMULATOR_HOST");
        if emulator_host.is_some() {
            // Emulator mode accepts unsigned tokens: never in a deployed function, and locally
            // only for an emulator-only project (Firebase's `demo-` convention), so a real
            // project's users can never be impersonated by a token anyone can write.
            if in_lambda(&get) {
                return Err(ConfigError::Unsafe(
                    "FIREBASE_AUTH_EMULATOR_HOST",
                    "it makes unsigned emulator tokens valid",
                ));
            }
            if !project_id.starts_with("demo-") {
                return Err(ConfigError::Invalid(
                    "FIREBASE_AUTH_EMULATOR_HOST",
                    "emulator mode needs a demo- project id in FIREBASE_PROJECT_ID".into(),
                ));
            }
        }
        Ok(FirebaseConfig {
            project_id,
            jwks_url: key_set_url(&get, "FIREBASE_JWKS_URL", GOOGLE_JWKS_URL)?,
            emulator_host,
            fetch_timeout: Duration::from_secs(3),
        })
    }
}

/// `CORS_ALLOWED_ORIGIN`: one exact origin (`https://dashboard.example.com`, no path, no `*`),
/// or none (no CORS headers at all).
pub fn cors_origin(get: &impl Fn(&str) -> Option<String>) -> Result<Option<String>, ConfigError> {
    let Some(origin) = optional(get, "CORS_ALLOWED_ORIGIN") else { return Ok(None) };
    let (scheme, rest) = origin.split_once("://").unwrap_or(("", ""));
    let host_ok = !rest.is_empty()
        && rest.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'));
    if !matches!(scheme, "https" | "http") || !host_ok {
        return Err(ConfigError::Invalid("CORS_ALLOWED_ORIGIN", "one origin: scheme://host[:port], no path".into()));
    }
    Ok(Some(origin))
}

fn required(get: &impl Fn(&str) -> Option<String>, name: &'static str) -> Result<String, ConfigError> {
    optional(get, name).ok_or(ConfigError::Missing(name))
}

fn optional(get: &impl Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    get(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests;
