//! `overten-admin`: the operator's CLI, with the same configuration by environment as the
//! functions (`API_KEYS_TABLE`, `ORGS_TABLE`, AWS credentials; locally `AWS_ENDPOINT_URL_DYNAMODB`).
//!
//!   overten-admin org create --name NAME --owner-uid UID   an org as the dashboard makes it
//!   overten-admin key lookup <raw key | prefix>              which org and key, for a reported leak
//!   overten-admin key revoke <raw key>                       revoke it now (an `operator` event)
//!
//! Output is JSON on stdout; errors go to stderr with exit code 1 (2 for usage). A raw key is
//! never printed back, only its prefix.

use overten::audit::{Actor, Audit};
use overten::service;
use overten::store::{DynamoStore, KeyRecord, KeyStatus, KeyStore, NewOrg};
use overten::{ApiKey, Error};
use serde_json::{Value, json};

const USAGE: &str = "usage:
  overten-admin org create --name NAME --owner-uid UID
  overten-admin key lookup <raw key | prefix>
  overten-admin key revoke <raw key>";

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let command = match parse(&args) {
        Ok(c) => c,
        Err(message) => {
            eprintln!("overten-admin: {message}\n{USAGE}");
            std::process::exit(2);
        }
    };
    let store = match overten::store_from_env(overten::config::DynamoTimeouts::MANAGEMENT).await {
        Ok(s) => s,
        Err(err) => {
            eprintln!("overten-admin: {err}");
            std::process::exit(2);
        }
    };
    match run(&store, command).await {
        Ok(output) => println!("{}", serde_json::to_string_pretty(&output).unwrap_or_default()),
        Err(err) => {
            eprintln!("overten-admin: {err}");
            std::process::exit(1);
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Command<'a> {
    CreateOrg { name: &'a str, owner_uid: &'a str },
    Lookup(&'a str),
    Revoke(&'a str),
}

fn parse<'a>(args: &[&'a str]) -> Result<Command<'a>, String> {
    match args {
        ["org", "create", rest @ ..] => {
            let (mut name, mut owner) = (None, None);
            let mut it = rest.iter();
            while let Some(flag) = it.next() {
                let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
                match *flag {
                    "--name" => name = Some(*value),
                    "--owner-uid" => owner = Some(*value),
                    other => return Err(format!("unknown option {other}")),
                }
            }
            let name = name.filter(|n| !n.trim().is_empty()).ok_or("--name is required")?;
            let owner_uid = owner.filter(|o| !o.trim().is_empty()).ok_or("--owner-uid is required")?;
            if name.chars().count() > overten::requests::MAX_ORG_NAME_CHARS || owner_uid.chars().count() > 128 {
                return Err("--name is at most 100 characters, --owner-uid at most 128".into());
            }
            Ok(Command::CreateOrg { name, owner_uid })
        }
        ["key", "lookup", key] => Ok(Command::Lookup(key)),
        ["key", "revoke", key] => Ok(Command::Revoke(key)),
        _ => Err("unknown command".into()),
    }
}

async fn run(store: &DynamoStore, command: Command<'_>) -> Result<Value, Error> {
    match command {
        Command::CreateOrg { name, owner_uid } => {
            let org = NewOrg {
                org_id: overten::ids::new_org_id(),
                name: name.to_owned(),
                owner_uid: owner_uid.to_owned(),
                created_at: overten::clock::rfc3339(overten::clock::now_secs()),
                webhook_secret: None,
            };
            store.create_org(&org).await?;
            Ok(json!({"org_id": org.org_id}))
        }
        Command::Lookup(input) => {
            let keys = match ApiKey::parse(input) {
                Ok(key) => store.find_key(&key.hash()).await?.into_iter().collect(),
                Err(_) if input.starts_with(overten::api_key::KEY_PREFIX) && input.len() <= 12 => {
                    store.scan_keys_by_prefix(input).await?
                }
                Err(err) => return Err(Error::InvalidRequest(format!("not a key or a key prefix: {err}"))),
            };
            Ok(Value::Array(keys.iter().map(describe).collect()))
        }
        Command::Revoke(input) => {
            let key = ApiKey::parse(input).map_err(|e| Error::InvalidRequest(format!("not a valid key: {e}")))?;
            let record = store.find_key(&key.hash()).await?.ok_or(Error::KeyNotFound)?;
            // The operator is named by the shell's user; the event says `operator` either way.
            let who = std::env::var("USER").ok();
            let request_id = format!("op_{}", overten::api_key::random_base62(20));
            let audit = Audit::new(Actor::operator(who.as_deref()), &request_id, overten::clock::now_secs());
            service::revoke_key(store, &record.org_id, &record.key_id, &audit).await?;
            let record = store.find_key(&key.hash()).await?.ok_or(Error::KeyNotFound)?;
            Ok(describe(&record))
        }
    }
}

/// What support needs about a key: where it stands, why it stopped working, and — for a leaked
/// key — where it was found and when it was revoked. Never the key or its hash.
fn describe(key: &KeyRecord) -> Value {
    let status = KeyStatus::at(key.revoked_at.is_some(), key.expires_at, overten::clock::now_secs());
    json!({
        "org_id": key.org_id,
        "key_id": key.key_id,
        "name": key.name,
        "prefix": key.prefix,
        "created_at": key.created_at,
        "last_used_at": key.last_used_at.map(overten::clock::rfc3339),
        "status": status,
        "expires_at": key.expires_at.map(overten::clock::rfc3339),
        "revoked": key.revoked_at.is_some(),
        "revoked_at": key.revoked_at,
        "revoked_reason": key.revoked_reason,
        "rolled_to": key.rolled_to,
        "leak": key.leaked_url.as_ref().or(key.leaked_source.as_ref()).map(|_| json!({
            "url": key.leaked_url,
            "source": key.leaked_source,
            "revoked_at": key.revoked_at,
        })),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_commands() {
        assert_eq!(
            parse(&["org", "create", "--name", "Acme", "--owner-uid", "u1"]),
            Ok(Command::CreateOrg { name: "Acme", owner_uid: "u1" })
        );
        assert_eq!(parse(&["key", "lookup", "sk_live_abcd"]), Ok(Command::Lookup("sk_live_abcd")));
        assert!(parse(&["org", "create", "--name"]).is_err());
        assert!(parse(&["org", "create", "--owner-uid", "u"]).is_err());
        assert!(parse(&["key", "delete", "x"]).is_err());
        assert!(parse(&[]).is_err());
    }
}
