//! The core of the Overten API-key service, shared by the Lambda functions in `functions/`.
//!
//! - [`api_key`], [`ids`]: the credentials and identifiers the service mints;
//! - [`credentials`]: where a request carries them;
//! - [`firebase`]: Firebase ID-token verification for `/signup` and `/orgs/...`;
//! - [`store`]: the storage port and its DynamoDB adapter;
//! - [`service`]: the operations of the contract, over the store's ports ([`store::KeyLookup`], [`store::Orgs`], …);
//! - [`error`]: the one error type and its mapping to the contract's responses;
//! - [`access_log`]: a client's text made safe for API Gateway's JSON access log.

pub mod access_log;
pub mod api_key;
pub mod audit;
pub mod budget;
pub mod clock;
pub mod config;
pub mod credentials;
pub mod error;
pub mod firebase;
pub mod headers;
pub mod ids;
pub mod key_set;
pub mod logging;
pub mod requests;
pub mod restrictions;
pub mod role;
pub mod secret_scanning;
pub mod service;
pub mod store;
pub mod text;
pub mod usage;

#[cfg(feature = "http")]
pub mod http;

pub use api_key::{ApiKey, KeyFormatError, KeyHash};
pub use error::Error;

/// Builds the DynamoDB client from the Lambda environment (region, credentials and, locally,
/// `AWS_ENDPOINT_URL_DYNAMODB`) with the function's timeouts. Called once per cold start.
pub async fn dynamodb_client(timeouts: &config::DynamoTimeouts) -> aws_sdk_dynamodb::Client {
    let loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    aws_sdk_dynamodb::Client::new(&timeouts.apply(loader).load().await)
}

/// The key store of a function, from `API_KEYS_TABLE`/`ORGS_TABLE` and the Lambda environment.
pub async fn store_from_env(timeouts: config::DynamoTimeouts) -> Result<store::DynamoStore, config::ConfigError> {
    let tables = config::Tables::from_env()?;
    Ok(store::DynamoStore::new(dynamodb_client(&timeouts).await, tables).with_retry_budget(timeouts.retry_budget))
}
