//! The GitHub token sent with the key-set fetch, from Secrets Manager: read on the first fetch
//! (not at cold start: most instances never fetch more than once), kept for the instance's life,
//! never logged. Without it, GitHub allows 60 unauthenticated requests an hour per source address
//! (<https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api>), and Lambda
//! instances share their addresses.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use overten::key_set::Credential;

/// Longest token accepted (GitHub's fine-grained tokens are 93 characters; room for growth).
const MAX_TOKEN_LEN: usize = 255;

/// `GetSecretValue` on one secret; its `SecretString` is the token itself.
pub struct SecretsManagerToken {
    client: aws_sdk_secretsmanager::Client,
    secret_arn: String,
}

impl SecretsManagerToken {
    /// The client is built here, at cold start (no network); the secret is read on first use.
    /// Its timeouts: an attempt of at most 1 s, `CREDENTIAL_READ_TIMEOUT` (1.5 s) in all, which the
    /// function's budget counts (`overten::budget`).
    pub async fn new(secret_arn: String) -> Self {
        let timeouts = aws_config::timeout::TimeoutConfig::builder()
            .connect_timeout(Duration::from_millis(500))
            .operation_attempt_timeout(Duration::from_millis(1000))
            .operation_timeout(overten::budget::CREDENTIAL_READ_TIMEOUT)
            .build();
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .timeout_config(timeouts)
            .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(2))
            .load()
            .await;
        SecretsManagerToken { client: aws_sdk_secretsmanager::Client::new(&config), secret_arn }
    }
}

impl Credential for SecretsManagerToken {
    fn authorization(&self) -> Pin<Box<dyn Future<Output = Result<String, String>> + Send + '_>> {
        Box::pin(async move {
            let out = self
                .client
                .get_secret_value()
                .secret_id(&self.secret_arn)
                .send()
                .await
                // The SDK's error names the operation and the service's code, never the value.
                .map_err(|e| {
                    format!(
                        "reading the GitHub token secret: {}",
                        aws_sdk_secretsmanager::error::DisplayErrorContext(&e)
                    )
                })?;
            bearer(out.secret_string().unwrap_or_default())
        })
    }
}

/// `Bearer <token>` for a secret's text; the error never contains the text.
pub fn bearer(secret: &str) -> Result<String, String> {
    let token = secret.trim();
    if token.is_empty() || token.len() > MAX_TOKEN_LEN || !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(format!("the GitHub token secret must hold one token: 1–{MAX_TOKEN_LEN} visible ASCII characters"));
    }
    Ok(format!("Bearer {token}"))
}

#[cfg(test)]
mod tests {
    use super::bearer;

    #[test]
    fn a_secret_is_one_token_and_errors_never_echo_it() {
        assert_eq!(bearer("ghp_abc123\n").unwrap(), "Bearer ghp_abc123");
        for bad in ["", "   ", "ghp_a b", "ghp_\u{7f}x", "ghp_é", &"x".repeat(256), "{\"token\": \"ghp_x\"}x y"] {
            let err = bearer(bad).unwrap_err();
            assert!(bad.trim().is_empty() || !err.contains(bad.trim()), "{err}");
        }
        assert!(bearer(&"x".repeat(255)).is_ok());
    }
}
