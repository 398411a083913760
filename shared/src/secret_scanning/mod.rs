//! GitHub's secret-scanning partner program: GitHub finds strings that look like our keys in
//! public repositories and POSTs them here, signed ([`signature`]). Each token is checked offline
//! first (shape and CRC-32 checksum: garbage costs no read), the well-formed ones are looked up by
//! hash in as few reads as DynamoDB allows (`BatchGetItem`), a live key is revoked at once
//! (`revoked_reason: leaked`, a `key.leaked` event with where it was found), and every token gets
//! its label in input order. A redelivery gets the same answer and changes nothing.

pub mod signature;

use serde::{Deserialize, Serialize};

use crate::api_key::{ApiKey, KeyHash};
use crate::audit::{Audit, Change};
use crate::error::Error;
use crate::store::{FindKeys, RevokeKey};

/// Most tokens one delivery may report.
pub const MAX_TOKENS: usize = 1000;
/// Largest delivery accepted (the other routes take 16 KiB).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Longest `url` and `source` kept in an event (what support needs, not an unbounded string).
const MAX_URL_CHARS: usize = 2048;
const MAX_SOURCE_CHARS: usize = 64;

/// One reported match. `token` is never logged or stored; only its hash leaves this module.
#[derive(Deserialize)]
pub struct Match {
    pub token: String,
    #[serde(rename = "type")]
    pub token_type: String,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
}

impl std::fmt::Debug for Match {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Match").field("token_type", &self.token_type).field("source", &self.source).finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Label {
    /// A key this service issued (active, revoked or expired).
    TruePositive,
    FalsePositive,
}

/// One entry of the answer, in the order of the delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub token_hash: String,
    pub token_type: String,
    pub label: Label,
}

/// What a delivery did, for the log line and the tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    pub tokens: usize,
    pub well_formed: usize,
    pub true_positives: usize,
    pub revoked: usize,
}

/// The body: a JSON array of matches, at most [`MAX_TOKENS`]. Call only after the signature.
pub fn parse_delivery(body: &[u8]) -> Result<Vec<Match>, Error> {
    if body.len() > MAX_BODY_BYTES {
        return Err(Error::PayloadTooLarge(MAX_BODY_BYTES));
    }
    let matches: Vec<Match> = serde_json::from_slice(body).map_err(|e| Error::InvalidRequest(delivery_error(&e)))?;
    if matches.len() > MAX_TOKENS {
        return Err(Error::InvalidRequest(format!("a delivery holds at most {MAX_TOKENS} tokens")));
    }
    Ok(matches)
}

/// What was wrong with a delivery, without any of its text: serde's own messages quote the value
/// they met (`invalid type: string "sk_live_…", expected …`), which may be a token.
fn delivery_error(e: &serde_json::Error) -> String {
    const SHAPE: &str = "the delivery must be a JSON array of {\"token\": string, \"type\": string, \"url\": string or null, \"source\": string or null}";
    let position = format!("line {}, column {}", e.line(), e.column());
    match e.classify() {
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
            format!("the delivery is not valid JSON ({position})")
        }
        // "missing field `token`" names a field of ours and nothing of the body.
        _ if e.to_string().starts_with("missing field `") => {
            let field = e.to_string().split('`').nth(1).unwrap_or_default().to_owned();
            format!("{SHAPE}: an entry has no `{field}` ({position})")
        }
        _ => format!("{SHAPE}: an entry or a field has another type ({position})"),
    }
}

/// Labels every match and revokes the live keys among them, as `audit` (GitHub, this request).
pub async fn process<S: FindKeys + RevokeKey>(
    store: &S,
    matches: &[Match],
    audit: &Audit,
) -> Result<(Vec<Verdict>, Outcome), Error> {
    // Offline first: only well-formed keys are looked up.
    let candidates: Vec<(usize, KeyHash)> =
        matches.iter().enumerate().filter_map(|(i, m)| Some((i, ApiKey::parse(&m.token).ok()?.hash()))).collect();
    let hashes: Vec<KeyHash> = candidates.iter().map(|(_, h)| h.clone()).collect();
    let records = if hashes.is_empty() { Vec::new() } else { store.find_keys(&hashes).await? };
    let mut issued = vec![false; matches.len()];
    let mut outcome = Outcome { tokens: matches.len(), well_formed: candidates.len(), ..Outcome::default() };
    let mut seen = std::collections::HashSet::new();
    for ((index, _), record) in candidates.iter().zip(records) {
        let Some(record) = record else { continue };
        issued[*index] = true;
        outcome.true_positives += 1;
        // Revoked or expired keys are true positives with nothing left to do; the same key twice
        // in one delivery is revoked once.
        if !record.is_live_at(audit.at) || !seen.insert(record.key_id.clone()) {
            continue;
        }
        let found = &matches[*index];
        let change = Change::KeyLeaked {
            url: found.url.as_deref().map(|u| u.chars().take(MAX_URL_CHARS).collect()),
            source: found.source.as_deref().map(|s| s.chars().take(MAX_SOURCE_CHARS).collect()),
        };
        if store.revoke_key(&record.org_id, &record.key_id, &change, audit).await? {
            outcome.revoked += 1;
            tracing::warn!(org_id = %record.org_id, key_id = %record.key_id, source = ?found.source, "leaked key revoked");
        }
    }
    let verdicts = matches
        .iter()
        .zip(issued)
        .map(|(m, issued)| Verdict {
            token_hash: KeyHash::of(&m.token).as_str().to_owned(),
            token_type: m.token_type.clone(),
            label: if issued { Label::TruePositive } else { Label::FalsePositive },
        })
        .collect();
    Ok((verdicts, outcome))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deliveries_are_arrays_of_at_most_1000_matches() {
        let one =
            br#"[{"token":"sk_live_x","type":"overten_api_key","url":"https://github.com/o/r","source":"content"}]"#;
        let parsed = parse_delivery(one).unwrap();
        assert_eq!((parsed.len(), parsed[0].token_type.as_str()), (1, "overten_api_key"));
        assert!(parse_delivery(br#"[{"token":"t","type":"x"}]"#).unwrap()[0].url.is_none(), "url and source optional");
        let entry = r#"{"token":"t","type":"x","url":null,"source":null}"#;
        let at_limit = format!("[{}]", vec![entry; 1000].join(","));
        assert_eq!(parse_delivery(at_limit.as_bytes()).unwrap().len(), 1000);
        let over = format!("[{}]", vec![entry; 1001].join(","));
        assert!(matches!(parse_delivery(over.as_bytes()), Err(Error::InvalidRequest(m)) if m.contains("1000")));
        for bad in [&b"{}"[..], b"", b"[{\"type\":\"x\"}]", b"[1]"] {
            assert!(matches!(parse_delivery(bad), Err(Error::InvalidRequest(_))), "{bad:?}");
        }
        // Exactly 1 MiB is read; one byte more is refused before parsing.
        let mut big = b"[".to_vec();
        big.resize(MAX_BODY_BYTES - 1, b' ');
        big.push(b']');
        assert!(parse_delivery(&big).unwrap().is_empty());
        big.insert(1, b' ');
        assert!(matches!(parse_delivery(&big), Err(Error::PayloadTooLarge(_))));
    }

    #[test]
    fn errors_and_debug_never_show_a_token() {
        let secret = ApiKey::generate();
        let token = secret.expose_secret();
        // Every way an entry can be mistyped around a token: serde would quote it in each.
        let bodies = [
            format!(r#"[{{"token":"{token}","type":5}}]"#),
            format!(r#"["{token}"]"#),
            format!(r#"[["{token}"]]"#),
            format!(r#"{{"token":"{token}"}}"#),
            format!(r#""{token}""#),
            format!(r#"[{{"token":["{token}"],"type":"x"}}]"#),
            format!(r#"[{{"token":"x","type":"{token}","url":["{token}"]}}]"#),
            format!(r#"[{{"token":"x","type":"x","source":{{"{token}":1}}}}]"#),
            format!(r#"[{{"token":"x","type":"x"}},"{token}"]"#),
            format!(r#"[{{"token":"{token}","type":"x"}}"#),
            format!(r#"[{{"token":"{token}" "type":"x"}}]"#),
            format!(r#"[{{"token":"{token}\q","type":"x"}}]"#),
            format!("[{token}]"),
        ];
        for body in &bodies {
            let Err(Error::InvalidRequest(message)) = parse_delivery(body.as_bytes()) else { panic!("{body:.20}") };
            assert!(!message.contains(token) && !message.contains(&token[..12]), "{message}");
            assert!(!message.contains("sk_live_"), "{message}");
        }
        let Err(Error::InvalidRequest(message)) = parse_delivery(br#"[{"type":"x"}]"#) else { panic!() };
        assert_eq!(
            message,
            "the delivery must be a JSON array of {\"token\": string, \"type\": string, \"url\": string or null, \"source\": string or null}: an entry has no `token` (line 1, column 13)"
        );
        let Err(Error::InvalidRequest(message)) = parse_delivery(b"[1]") else { panic!() };
        assert!(message.ends_with("an entry or a field has another type (line 1, column 2)"), "{message}");
        let Err(Error::InvalidRequest(message)) = parse_delivery(b"[") else { panic!() };
        assert_eq!(message, "the delivery is not valid JSON (line 1, column 1)");
        let found = Match { token: secret.expose_secret().into(), token_type: "t".into(), url: None, source: None };
        assert!(!format!("{found:?}").contains(secret.expose_secret()));
    }
}
