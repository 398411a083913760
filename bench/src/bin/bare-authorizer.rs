//! The bare baseline `make bench` puts beside the release `authorizer`: `lambda_runtime` and one
//! strongly consistent `GetItem` by the key's sha256, Allow or Deny, nothing else — no config
//! checks, no logging, no timeouts or retry policy of its own, no checksum, no expiry or
//! `last_used_at`. What the real authorizer costs beyond this, cold and warm, is what it does
//! for a living.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The one field read of the REST REQUEST authorizer event.
#[derive(Deserialize)]
struct Event {
    #[serde(default)]
    headers: HashMap<String, String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Answer {
    principal_id: &'static str,
    policy_document: Policy,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Policy {
    version: &'static str,
    statement: [Statement; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Statement {
    action: &'static str,
    effect: &'static str,
    resource: &'static str,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let client = aws_sdk_dynamodb::Client::new(&config);
    let table = std::env::var("API_KEYS_TABLE")?;
    let (client, table) = (&client, table.as_str());
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Event>| async move {
        let key = event.payload.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("x-api-key")).map(|(_, v)| v);
        let allow = match key {
            Some(key) => {
                let hash: String = Sha256::digest(key.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
                let out = client
                    .get_item()
                    .table_name(table)
                    .key("key_hash", AttributeValue::S(hash))
                    .consistent_read(true)
                    .send()
                    .await?;
                out.item.is_some_and(|item| !item.contains_key("revoked_at"))
            }
            None => false,
        };
        Ok::<_, Error>(Answer {
            principal_id: if allow { "key" } else { "anonymous" },
            policy_document: Policy {
                version: "2012-10-17",
                statement: [Statement {
                    action: "execute-api:Invoke",
                    effect: if allow { "Allow" } else { "Deny" },
                    resource: "*",
                }],
            },
        })
    }))
    .await
}
