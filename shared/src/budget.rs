//! How long one request of each function may run by its own bounds (README, "Timeouts"): the
//! key-set fetch it may need, one DynamoDB call at its bound, and the hot path's `last_used_at`
//! write. `tests/template.rs` checks every function's `Timeout` in `template.yaml` against these:
//! at least twice the budget (a request whose earlier calls were slow still answers its own 503
//! before Lambda stops it) and under API Gateway's integration timeout (so the function never
//! runs on after the caller got a 504).

use std::time::Duration;

use crate::config::DynamoTimeouts;

/// API Gateway's integration timeout for a REST API's Lambda integration (29 s by default).
pub const API_GATEWAY_INTEGRATION_TIMEOUT: Duration = Duration::from_secs(29);

/// The connect and read timeout of a key-set fetch (Google's keys for Firebase tokens, GitHub's
/// for secret-scanning signatures); `config.rs` sets both, and a test keeps them equal to this.
pub const KEY_SET_FETCH_TIMEOUT: Duration = Duration::from_secs(3);

/// The whole read of GitHub's token from Secrets Manager, on the first key fetch of an instance
/// that has one (`functions/secret-scanning/src/github_token.rs` sets its SDK timeouts from it).
pub const CREDENTIAL_READ_TIMEOUT: Duration = Duration::from_millis(1500);

/// What bounds one request of a function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Verifies a Firebase token or a GitHub signature, which may fetch a key set first.
    pub key_set_fetch: bool,
    /// Reads a credential for that fetch first (GitHub's token), once per instance.
    pub credential_read: bool,
    /// The DynamoDB timeouts of the function, if it calls DynamoDB.
    pub dynamo: Option<DynamoTimeouts>,
    /// Writes `last_used_at` after the read (the hot path), within `service::TOUCH_BUDGET`.
    pub touch: bool,
}

impl Budget {
    /// The longest a request with one stuck call takes before the function answers by itself.
    pub fn total(&self) -> Duration {
        let fetch = if self.key_set_fetch { KEY_SET_FETCH_TIMEOUT } else { Duration::ZERO };
        let credential = if self.credential_read { CREDENTIAL_READ_TIMEOUT } else { Duration::ZERO };
        let dynamo = self.dynamo.map(|t| dynamo_call(&t)).unwrap_or_default();
        let touch = if self.touch { crate::service::TOUCH_BUDGET } else { Duration::ZERO };
        fetch + credential + dynamo + touch
    }
}

/// The longest one DynamoDB call can take: our own retries stop once the retry budget is spent,
/// and the last attempt may still use the SDK's whole operation timeout.
pub fn dynamo_call(timeouts: &DynamoTimeouts) -> Duration {
    timeouts.retry_budget + timeouts.operation
}

/// The budget of each function, by its binary's name (`functions/<name>`).
pub fn of_function(binary: &str) -> Option<Budget> {
    let hot_path =
        Budget { key_set_fetch: false, credential_read: false, dynamo: Some(DynamoTimeouts::HOT_PATH), touch: true };
    let management =
        Budget { key_set_fetch: true, credential_read: false, dynamo: Some(DynamoTimeouts::MANAGEMENT), touch: false };
    match binary {
        "authorizer" | "verify" => Some(hot_path),
        // Signup and the key routes check a Firebase token; secret scanning checks GitHub's
        // signature. Each with the management timeouts.
        "signup" | "keys" | "usage" => Some(management),
        // Invoked by the access log's subscription, not API Gateway: no token to check.
        "usage-aggregator" => Some(Budget { key_set_fetch: false, ..management }),
        // The first fetch of an instance with GithubTokenSecretArn reads the token first.
        "secret-scanning" => Some(Budget { credential_read: true, ..management }),
        "whoami" => Some(Budget { key_set_fetch: false, credential_read: false, dynamo: None, touch: false }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_add_up() {
        assert_eq!(of_function("authorizer").unwrap().total(), Duration::from_millis(2550));
        assert_eq!(of_function("keys").unwrap().total(), Duration::from_secs(10));
        assert_eq!(of_function("secret-scanning").unwrap().total(), Duration::from_millis(11_500));
        assert_eq!(of_function("whoami").unwrap().total(), Duration::ZERO);
        assert_eq!(of_function("nope"), None);
    }
}
