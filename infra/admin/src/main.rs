//! `overten-admin`: the operator's CLI, with the same configuration by environment as the
//! functions (`API_KEYS_TABLE`, `ORGS_TABLE`, AWS credentials; locally `AWS_ENDPOINT_URL_DYNAMODB`).
//!
//!   overten-admin org create --name NAME --owner-uid UID   an org as the dashboard makes it
//!   overten-admin key lookup <raw key | prefix>              which org and key, for a reported leak
//!   overten-admin key revoke <raw key>                       revoke it now (an `operator` event)
//!
//! Local development only — GitHub's side of secret scanning, with a key pair of our own:
//!
//!   overten-admin github keys --dir DIR          a P-256 key pair in DIR (kept), its key set in
//!                                                DIR/public_keys.json, shaped like GitHub's
//!   overten-admin github deliver --dir DIR --url URL TOKEN...
//!                                                a delivery of TOKENs signed with DIR's key, POSTed
//!
//! Output is JSON on stdout; errors go to stderr with exit code 1 (2 for usage). A raw key is
//! never printed back, only its prefix.

use overten::audit::{Actor, Audit};
use overten::secret_scanning::signature::{LocalSigner, key_set_document};
use overten::service;
use overten::store::{CreateOrg, DynamoStore, KeyLookup, KeyRecord, KeyStatus, NewOrg};
use overten::{ApiKey, Error};
use serde_json::{Value, json};

const USAGE: &str = "usage:
  overten-admin org create --name NAME --owner-uid UID
  overten-admin key lookup <raw key | prefix>
  overten-admin key revoke <raw key>
  overten-admin github keys --dir DIR
  overten-admin github deliver --dir DIR --url URL TOKEN...";

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
    if let Command::GithubKeys { .. } | Command::GithubDeliver { .. } = command {
        return match github(command).await {
            Ok(output) => println!("{}", serde_json::to_string_pretty(&output).unwrap_or_default()),
            Err(message) => {
                eprintln!("overten-admin: {message}");
                std::process::exit(1);
            }
        };
    }
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
    GithubKeys { dir: &'a str },
    GithubDeliver { dir: &'a str, url: &'a str, tokens: Vec<&'a str> },
}

/// `--name value` pairs, and the words after them.
type Options<'a> = (Vec<(&'a str, &'a str)>, Vec<&'a str>);

/// `--name value` options, then the remaining words.
fn options<'a>(mut rest: &[&'a str], known: &[&str]) -> Result<Options<'a>, String> {
    let mut found = Vec::new();
    while let Some(flag) = rest.first().filter(|f| f.starts_with("--")) {
        if !known.contains(flag) {
            return Err(format!("unknown option {flag}"));
        }
        let value = rest.get(1).ok_or_else(|| format!("{flag} needs a value"))?;
        found.push((*flag, *value));
        rest = &rest[2..];
    }
    Ok((found, rest.to_vec()))
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
        ["github", "keys", rest @ ..] => match options(rest, &["--dir"])? {
            (opts, words) if words.is_empty() => {
                Ok(Command::GithubKeys { dir: opts.iter().find(|o| o.0 == "--dir").ok_or("--dir is required")?.1 })
            }
            _ => Err("github keys takes only --dir".into()),
        },
        ["github", "deliver", rest @ ..] => {
            let (opts, tokens) = options(rest, &["--dir", "--url"])?;
            let get = |name: &str| opts.iter().find(|o| o.0 == name).map(|o| o.1).ok_or(format!("{name} is required"));
            if tokens.is_empty() {
                return Err("give at least one token to report".into());
            }
            Ok(Command::GithubDeliver { dir: get("--dir")?, url: get("--url")?, tokens })
        }
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
                created_at: overten::clock::now_secs(),
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
        Command::GithubKeys { .. } | Command::GithubDeliver { .. } => {
            Err(Error::Internal("github commands need no store".into()))
        }
        Command::Revoke(input) => {
            let key = ApiKey::parse(input).map_err(|e| Error::InvalidRequest(format!("not a valid key: {e}")))?;
            let record = store.find_key(&key.hash()).await?.ok_or(Error::KeyNotFound)?;
            // The operator is named by the shell's user; the event says `operator` either way.
            let who = std::env::var("USER").ok();
            let request_id = format!("op_{}", overten::api_key::random_base62(20));
            let audit =
                Audit::at_millis(Actor::operator(who.as_deref()), &request_id, overten::clock::now_millis() as i64);
            service::revoke_key(store, &record.org_id, &record.key_id, &audit).await?;
            let record = store.find_key(&key.hash()).await?.ok_or(Error::KeyNotFound)?;
            Ok(describe(&record))
        }
    }
}

/// The local stand-in for GitHub's signing key, kept in `dir` so restarts of `make dev` keep it.
fn local_signer(dir: &str) -> Result<LocalSigner, String> {
    let path = std::path::Path::new(dir).join("signing-key.pk8");
    if let Ok(saved) = std::fs::read(&path) {
        return LocalSigner::from_pkcs8(&saved).map_err(|e| format!("{}: {e}", path.display()));
    }
    let signer = LocalSigner::generate().map_err(|e| e.to_string())?;
    std::fs::create_dir_all(dir).map_err(|e| format!("{dir}: {e}"))?;
    std::fs::write(&path, signer.pkcs8()).map_err(|e| format!("{}: {e}", path.display()))?;
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).map_err(|e| e.to_string())?;
    Ok(signer)
}

async fn github(command: Command<'_>) -> Result<Value, String> {
    match command {
        Command::GithubKeys { dir } => {
            let signer = local_signer(dir)?;
            let path = std::path::Path::new(dir).join("public_keys.json");
            std::fs::write(&path, key_set_document(&[signer.key_set_entry(true)])).map_err(|e| e.to_string())?;
            Ok(json!({"key_identifier": signer.key_identifier(), "key_set": path.display().to_string()}))
        }
        Command::GithubDeliver { dir, url, tokens } => {
            let signer = local_signer(dir)?;
            // What GitHub sends: each match with where it was found.
            let matches: Vec<Value> = tokens
                .iter()
                .map(|t| json!({"token": t, "type": "overten_api_key", "url": "https://github.com/example/app/blob/main/.env", "source": "content"}))
                .collect();
            let body = Value::Array(matches).to_string();
            let response = reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(30))
                .build()
                .map_err(|e| e.to_string())?
                .post(url)
                .header("content-type", "application/json")
                .header("github-public-key-identifier", signer.key_identifier())
                .header("github-public-key-signature", signer.sign(body.as_bytes()))
                .body(body)
                .send()
                .await
                .map_err(|e| format!("{url}: {e}"))?;
            let status = response.status().as_u16();
            let text = response.text().await.map_err(|e| e.to_string())?;
            Ok(json!({"status": status, "answer": serde_json::from_str::<Value>(&text).unwrap_or(Value::String(text))}))
        }
        _ => Err("not a github command".into()),
    }
}

/// What support needs about a key: where it stands, why it stopped working, and — for a leaked
/// key — where it was found and when it was revoked. Never the key or its hash.
fn describe(key: &KeyRecord) -> Value {
    let status = KeyStatus::at(key.revoked_at.is_some(), key.expires_at, overten::clock::now_secs());
    let lists = serde_json::to_value(&key.restrictions).unwrap_or_default();
    json!({
        "permissions": lists["permissions"],
        "formats": lists["formats"],
        "allowed_ips": lists["allowed_ips"],
        "org_id": key.org_id,
        "key_id": key.key_id,
        "name": key.name,
        "prefix": key.prefix,
        "created_at": overten::clock::rfc3339(key.created_at),
        "last_used_at": key.last_used_at.map(overten::clock::rfc3339),
        "status": status,
        "expires_at": key.expires_at.map(overten::clock::rfc3339),
        "revoked": key.revoked_at.is_some(),
        "revoked_at": key.revoked_at.map(overten::clock::rfc3339),
        "revoked_reason": key.revoked_reason,
        "rolled_to": key.rolled_to,
        "leak": key.leaked_url.as_ref().or(key.leaked_source.as_ref()).map(|_| json!({
            "url": key.leaked_url,
            "source": key.leaked_source,
            "revoked_at": key.revoked_at.map(overten::clock::rfc3339),
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
        assert_eq!(parse(&["github", "keys", "--dir", "d"]), Ok(Command::GithubKeys { dir: "d" }));
        assert_eq!(
            parse(&["github", "deliver", "--dir", "d", "--url", "u", "t1", "t2"]),
            Ok(Command::GithubDeliver { dir: "d", url: "u", tokens: vec!["t1", "t2"] })
        );
        assert!(parse(&["github", "deliver", "--dir", "d", "--url", "u"]).is_err(), "no token");
        assert!(parse(&["github", "deliver", "--url", "u", "t"]).is_err(), "no --dir");
        assert!(parse(&["github", "keys"]).is_err());
        assert!(parse(&["github", "keys", "--dir", "d", "extra"]).is_err());
        assert!(parse(&["github", "keys", "--dri", "d"]).is_err());
        assert!(parse(&[]).is_err());
    }
}
