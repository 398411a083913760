//! Request bodies and query parameters of the contract, with their validation. Parsing never
//! panics: every input gets a value or an `invalid_request` error saying what is wrong.

use serde::Deserialize;

use crate::error::Error;
use crate::ids::is_valid_key_id;
use crate::restrictions::{Restrictions, RestrictionsPatch};
use crate::store::{ListQuery, MAX_ACTIVE_KEYS};

/// Bodies larger than this are refused with 413 before parsing.
pub const MAX_BODY_BYTES: usize = 16 * 1024;
pub const MAX_ORG_NAME_CHARS: usize = 100;
pub const MAX_KEY_NAME_CHARS: usize = 64;
pub const DEFAULT_KEY_NAME: &str = "default";

/// `POST /signup`: exactly one of `org_name` and `existing_org_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignupRequest {
    NewOrg { org_name: String, key_name: String },
    ExistingOrg { org_id: String, key_name: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignupBody {
    #[serde(default, deserialize_with = "present")]
    org_name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    existing_org_id: Option<String>,
    #[serde(default, deserialize_with = "present")]
    key_name: Option<String>,
}

/// A restriction list: absent (`None`), `null` (`Some(None)`: no restriction) or a list.
fn nullable<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}

/// The three lists of a body, before validation.
struct ListsBody {
    permissions: Option<Option<Vec<String>>>,
    formats: Option<Option<Vec<String>>>,
    allowed_ips: Option<Option<Vec<String>>>,
}

impl ListsBody {
    fn parse(self) -> Result<RestrictionsPatch, Error> {
        RestrictionsPatch::parse((self.permissions, self.formats, self.allowed_ips))
    }
}

/// An optional field that, when present, must have its type: `null` is a wrong type, not absence.
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(deserializer: D) -> Result<Option<T>, D::Error> {
    T::deserialize(deserializer).map(Some)
}

impl SignupRequest {
    pub fn parse(body: &[u8]) -> Result<Self, Error> {
        let body: SignupBody = parse_json(body)?;
        let key_name = match body.key_name {
            Some(name) => validate_name("key_name", name, MAX_KEY_NAME_CHARS)?,
            None => DEFAULT_KEY_NAME.to_owned(),
        };
        match (body.org_name, body.existing_org_id) {
            (Some(org_name), None) => Ok(SignupRequest::NewOrg {
                org_name: validate_name("org_name", org_name, MAX_ORG_NAME_CHARS)?,
                key_name,
            }),
            (None, Some(org_id)) => {
                if org_id.is_empty() {
                    return Err(Error::InvalidRequest("`existing_org_id` must not be empty".into()));
                }
                Ok(SignupRequest::ExistingOrg { org_id, key_name })
            }
            (Some(_), Some(_)) => {
                Err(Error::InvalidRequest("give either `org_name` or `existing_org_id`, not both".into()))
            }
            (None, None) => {
                Err(Error::InvalidRequest("give `org_name` (new org) or `existing_org_id` (existing org)".into()))
            }
        }
    }
}

/// `expires_at` may be at most this far ahead.
pub const MAX_EXPIRY_DAYS: i64 = 366;
/// A roll's grace period: 0 (the old key is revoked at once) to 7 days; 24 hours by default.
pub const MAX_GRACE_PERIOD_SECONDS: i64 = 7 * 86_400;
pub const DEFAULT_GRACE_PERIOD_SECONDS: i64 = 86_400;
/// The events listing's page size: 1–100, 50 by default.
pub const MAX_EVENTS_LIMIT: usize = 100;
pub const DEFAULT_EVENTS_LIMIT: usize = 50;

/// `POST /orgs/{org_id}/api-keys`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateKeyRequest {
    pub name: String,
    /// Seconds since the epoch.
    pub expires_at: Option<i64>,
    /// Unrestricted unless the body gives lists.
    pub restrictions: Restrictions,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateKeyBody {
    name: String,
    #[serde(default, deserialize_with = "present")]
    expires_at: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    permissions: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "nullable")]
    formats: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "nullable")]
    allowed_ips: Option<Option<Vec<String>>>,
}

impl CreateKeyRequest {
    /// `now`: seconds since the epoch, against which `expires_at` must lie in the future.
    pub fn parse(body: &[u8], now: i64) -> Result<Self, Error> {
        let request: CreateKeyBody = parse_json(body)?;
        let lists =
            ListsBody { permissions: request.permissions, formats: request.formats, allowed_ips: request.allowed_ips };
        Ok(CreateKeyRequest {
            name: validate_name("name", request.name, MAX_KEY_NAME_CHARS)?,
            expires_at: request.expires_at.map(|at| parse_expiry(&at, now)).transpose()?,
            restrictions: lists.parse()?.apply(&Restrictions::default()),
        })
    }
}

/// `POST /orgs/{org_id}/api-keys/{key_id}/roll`: every field optional, an empty body too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollKeyRequest {
    pub grace_period_seconds: i64,
    /// The new key's name; the old key's when `None`.
    pub name: Option<String>,
    pub expires_at: Option<i64>,
    /// The lists the body gives; the others are the old key's.
    pub restrictions: RestrictionsPatch,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RollKeyBody {
    #[serde(default, deserialize_with = "present")]
    grace_period_seconds: Option<i64>,
    #[serde(default, deserialize_with = "present")]
    name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    expires_at: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    permissions: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "nullable")]
    formats: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "nullable")]
    allowed_ips: Option<Option<Vec<String>>>,
}

impl RollKeyRequest {
    pub fn parse(body: &[u8], now: i64) -> Result<Self, Error> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(RollKeyRequest {
                grace_period_seconds: DEFAULT_GRACE_PERIOD_SECONDS,
                name: None,
                expires_at: None,
                restrictions: RestrictionsPatch::KEEP,
            });
        }
        let request: RollKeyBody = parse_json(body)?;
        let grace = request.grace_period_seconds.unwrap_or(DEFAULT_GRACE_PERIOD_SECONDS);
        if !(0..=MAX_GRACE_PERIOD_SECONDS).contains(&grace) {
            return Err(Error::InvalidRequest(format!(
                "`grace_period_seconds` must be an integer from 0 to {MAX_GRACE_PERIOD_SECONDS} (7 days)"
            )));
        }
        Ok(RollKeyRequest {
            grace_period_seconds: grace,
            name: request.name.map(|name| validate_name("name", name, MAX_KEY_NAME_CHARS)).transpose()?,
            expires_at: request.expires_at.map(|at| parse_expiry(&at, now)).transpose()?,
            restrictions: ListsBody {
                permissions: request.permissions,
                formats: request.formats,
                allowed_ips: request.allowed_ips,
            }
            .parse()?,
        })
    }
}

/// `PATCH /orgs/{org_id}/api-keys/{key_id}`: `name`, the lists, or both; at least one.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateKeyBody {
    #[serde(default, deserialize_with = "present")]
    name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    permissions: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "nullable")]
    formats: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "nullable")]
    allowed_ips: Option<Option<Vec<String>>>,
}

/// Parses a `PATCH` body into the store's [`crate::store::KeyUpdate`].
pub fn parse_key_update(body: &[u8]) -> Result<crate::store::KeyUpdate, Error> {
    let request: UpdateKeyBody = parse_json(body)?;
    let restrictions =
        ListsBody { permissions: request.permissions, formats: request.formats, allowed_ips: request.allowed_ips }
            .parse()?;
    if request.name.is_none() && restrictions.is_empty() {
        return Err(Error::InvalidRequest(
            "give `name`, `permissions`, `formats` or `allowed_ips` (a list, or null to lift it)".into(),
        ));
    }
    Ok(crate::store::KeyUpdate {
        name: request.name.map(|name| validate_name("name", name, MAX_KEY_NAME_CHARS)).transpose()?,
        restrictions,
    })
}

/// An `expires_at`: RFC 3339 in UTC (`Z`), after `now` and at most [`MAX_EXPIRY_DAYS`] ahead.
/// Fractions of a second are dropped (keys expire on whole seconds).
pub fn parse_expiry(text: &str, now: i64) -> Result<i64, Error> {
    let bad = || {
        Error::InvalidRequest(format!(
            "`expires_at` must be an RFC 3339 UTC time such as `2027-01-31T00:00:00Z`, in the future and at most \
             {MAX_EXPIRY_DAYS} days ahead"
        ))
    };
    if !text.ends_with('Z') {
        return Err(bad());
    }
    let at = crate::clock::parse_rfc3339(text).ok_or_else(bad)?;
    if at <= now || at > now + MAX_EXPIRY_DAYS * 86_400 {
        return Err(bad());
    }
    Ok(at)
}

/// The query of `GET /orgs/{org_id}/events`: `limit` (1–100, default 50), `cursor`.
pub fn parse_events_query<'a>(
    params: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<crate::audit::EventQuery, Error> {
    let mut query = crate::audit::EventQuery { limit: DEFAULT_EVENTS_LIMIT, cursor: None };
    for (name, value) in params {
        match name {
            "limit" => {
                query.limit = parse_limit(value, MAX_EVENTS_LIMIT)?;
            }
            "cursor" => {
                if !crate::audit::is_valid_event_id(value) {
                    return Err(Error::InvalidRequest("`cursor` is not a cursor this API returned".into()));
                }
                query.cursor = Some(value.to_owned());
            }
            other => {
                return Err(Error::InvalidRequest(format!("unknown query parameter `{}`", truncate(other, 40))));
            }
        }
    }
    Ok(query)
}

/// The query of `GET /orgs/{org_id}/api-keys`: `limit` (1–100, default 100), `cursor`,
/// `include_revoked` (`true`/`false`). Unknown parameters are refused, as unknown body fields are.
pub fn parse_list_query<'a>(params: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<ListQuery, Error> {
    let mut query = ListQuery { limit: MAX_ACTIVE_KEYS, cursor: None, include_revoked: false };
    for (name, value) in params {
        match name {
            "limit" => {
                query.limit = parse_limit(value, MAX_ACTIVE_KEYS)?;
            }
            "cursor" => {
                if !is_valid_key_id(value) {
                    return Err(Error::InvalidRequest("`cursor` is not a cursor this API returned".into()));
                }
                query.cursor = Some(value.to_owned());
            }
            "include_revoked" => {
                query.include_revoked = match value {
                    "true" => true,
                    "false" => false,
                    _ => return Err(Error::InvalidRequest("`include_revoked` must be `true` or `false`".into())),
                };
            }
            other => {
                return Err(Error::InvalidRequest(format!("unknown query parameter `{}`", truncate(other, 40))));
            }
        }
    }
    Ok(query)
}

/// A page size: an integer from 1 to `max`.
fn parse_limit(value: &str, max: usize) -> Result<usize, Error> {
    value
        .parse()
        .ok()
        .filter(|n| (1..=max).contains(n))
        .ok_or_else(|| Error::InvalidRequest(format!("`limit` must be an integer from 1 to {max}")))
}

fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Error> {
    if body.len() > MAX_BODY_BYTES {
        return Err(Error::PayloadTooLarge(MAX_BODY_BYTES));
    }
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        None => return Err(Error::InvalidRequest("the request body is empty; send a JSON object".into())),
        // serde would also read a struct from a JSON array; the contract's bodies are objects.
        Some(b'{') => {}
        Some(_) => return Err(Error::InvalidRequest("the request body must be a JSON object".into())),
    }
    serde_json::from_slice(body).map_err(|e| {
        use serde_json::error::Category;
        let what = match e.classify() {
            Category::Syntax | Category::Eof | Category::Io => "the request body is not valid JSON".to_owned(),
            // serde's data messages name the field and the expected type, which is what a caller needs.
            Category::Data => {
                format!("the request body does not match the expected shape: {}", strip_position(&e.to_string()))
            }
        };
        Error::InvalidRequest(what)
    })
}

/// A name: 1–`max` characters, not blank, no control characters.
fn validate_name(field: &str, name: String, max: usize) -> Result<String, Error> {
    let chars = name.chars().count();
    if name.trim().is_empty() {
        return Err(Error::InvalidRequest(format!("`{field}` must not be empty")));
    }
    if chars > max {
        return Err(Error::InvalidRequest(format!("`{field}` must be at most {max} characters")));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::InvalidRequest(format!("`{field}` must not contain control characters")));
    }
    Ok(name)
}

fn strip_position(message: &str) -> &str {
    message.split(" at line ").next().unwrap_or(message)
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_query_parameter_is_named_at_most_40_characters_long() {
        let message = |name: &str| match parse_list_query([(name, "1")]) {
            Err(Error::InvalidRequest(m)) => m,
            other => panic!("{other:?}"),
        };
        assert_eq!(message("sort"), "unknown query parameter `sort`");
        let long = "é".repeat(50);
        assert_eq!(message(&long), format!("unknown query parameter `{}`", "é".repeat(40)));
    }

    #[test]
    fn the_body_limit_is_16_kib_inclusive() {
        assert_eq!(MAX_BODY_BYTES, 16_384, "the contract's 16 KiB");
        // Exactly at the limit is read; one byte more is 413 before any parsing.
        let mut body = br#"{"name":"at-the-limit"}"#.to_vec();
        body.resize(MAX_BODY_BYTES, b' ');
        assert_eq!(CreateKeyRequest::parse(&body, 0).unwrap().name, "at-the-limit");
        body.push(b' ');
        assert!(matches!(CreateKeyRequest::parse(&body, 0), Err(Error::PayloadTooLarge(16_384))));
    }

    fn bad(body: &str) -> String {
        match SignupRequest::parse(body.as_bytes()) {
            Err(Error::InvalidRequest(m)) => m,
            other => panic!("{body}: {other:?}"),
        }
    }

    #[test]
    fn signup_bodies() {
        assert_eq!(
            SignupRequest::parse(br#"{"org_name":"Acme"}"#).unwrap(),
            SignupRequest::NewOrg { org_name: "Acme".into(), key_name: "default".into() }
        );
        assert_eq!(
            SignupRequest::parse(br#"{"existing_org_id":"org_x","key_name":"ci"}"#).unwrap(),
            SignupRequest::ExistingOrg { org_id: "org_x".into(), key_name: "ci".into() }
        );
        assert!(bad(r#"{"org_name":"A","existing_org_id":"org_x"}"#).contains("not both"));
        assert!(bad("{}").contains("org_name"));
        assert!(bad("{").contains("not valid JSON"));
        assert!(bad("").contains("empty"));
        assert!(bad(r#"{"org_name":5}"#).contains("shape"));
        assert!(bad(r#"{"org_name":""}"#).contains("empty"));
        assert!(bad(r#"{"org_name":"   "}"#).contains("empty"));
        assert!(bad(&format!(r#"{{"org_name":"{}"}}"#, "a".repeat(101))).contains("100"));
        assert!(SignupRequest::parse(format!(r#"{{"org_name":"{}"}}"#, "é".repeat(100)).as_bytes()).is_ok());
        assert!(bad(r#"{"org_name":"a\u0007b"}"#).contains("control"));
        assert!(bad(r#"{"org_name":"A","key_name":""}"#).contains("key_name"));
        assert!(bad(&format!(r#"{{"org_name":"A","key_name":"{}"}}"#, "k".repeat(65))).contains("64"));
        assert!(bad(r#"{"org_name":"A","extra":1}"#).contains("unknown field"));
        assert!(bad(r#"["org_name"]"#).contains("object"));
        assert!(bad(r#"{"existing_org_id":""}"#).contains("empty"));
        assert!(bad(r#"{"org_name":"A","key_name":null}"#).contains("shape"));
        assert!(bad(r#"{"org_name":null,"existing_org_id":"org_1"}"#).contains("shape"));
        assert!(matches!(SignupRequest::parse(&vec![b' '; MAX_BODY_BYTES + 1]), Err(Error::PayloadTooLarge(_))));
    }

    #[test]
    fn create_key_bodies() {
        assert_eq!(
            CreateKeyRequest::parse(br#"{"name":"billing-service-prod"}"#, 0).unwrap(),
            CreateKeyRequest {
                name: "billing-service-prod".into(),
                expires_at: None,
                restrictions: Default::default()
            }
        );
        for body in [r#"{}"#, r#"{"name":null}"#, r#"{"name":""}"#, r#"{"name":"a\nb"}"#, "null"] {
            assert!(matches!(CreateKeyRequest::parse(body.as_bytes(), 0), Err(Error::InvalidRequest(_))), "{body}");
        }
    }

    #[test]
    fn expiry_is_rfc3339_utc_in_the_future_within_366_days() {
        let now = 1_795_746_993; // 2026-11-27T02:36:33Z
        let at = |text: &str| parse_expiry(text, now);
        assert_eq!(at("2026-11-27T02:36:34Z").unwrap(), now + 1, "one second ahead");
        assert_eq!(at("2026-11-27T02:36:34.900Z").unwrap(), now + 1, "fractions dropped");
        assert_eq!(at("2027-11-28T02:36:33Z").unwrap(), now + 366 * 86_400, "366 days is the most");
        for bad in [
            "2026-11-27T02:36:33Z",      // now is not the future
            "2020-01-01T00:00:00Z",      // past
            "2027-11-28T02:36:34Z",      // 366 days and a second
            "2027-01-01T00:00:00+01:00", // not UTC
            "2027-01-01",                // no time
            "tomorrow",
            "",
        ] {
            assert!(matches!(at(bad), Err(Error::InvalidRequest(_))), "{bad}");
        }
        let body = br#"{"name":"ci","expires_at":"2026-12-01T00:00:00Z"}"#;
        assert!(CreateKeyRequest::parse(body, now).unwrap().expires_at.is_some());
        for body in [r#"{"name":"ci","expires_at":null}"#, r#"{"name":"ci","expires_at":5}"#] {
            assert!(matches!(CreateKeyRequest::parse(body.as_bytes(), now), Err(Error::InvalidRequest(_))), "{body}");
        }
    }

    #[test]
    fn roll_bodies() {
        let now = 1_795_746_993;
        let default = RollKeyRequest {
            grace_period_seconds: 86_400,
            name: None,
            expires_at: None,
            restrictions: Default::default(),
        };
        assert_eq!(RollKeyRequest::parse(b"", now).unwrap(), default);
        assert_eq!(RollKeyRequest::parse(b"{}", now).unwrap(), default);
        let full = RollKeyRequest::parse(
            br#"{"grace_period_seconds":0,"name":"ci-2","expires_at":"2026-12-01T00:00:00Z"}"#,
            now,
        )
        .unwrap();
        assert_eq!((full.grace_period_seconds, full.name.as_deref()), (0, Some("ci-2")));
        assert!(full.expires_at.is_some());
        assert_eq!(
            RollKeyRequest::parse(br#"{"grace_period_seconds":604800}"#, now).unwrap().grace_period_seconds,
            604_800
        );
        for body in [
            r#"{"grace_period_seconds":604801}"#,
            r#"{"grace_period_seconds":-1}"#,
            r#"{"grace_period_seconds":1.5}"#,
            r#"{"grace_period_seconds":null}"#,
            r#"{"name":""}"#,
            r#"{"expires_at":"yesterday"}"#,
            r#"{"other":1}"#,
            "[]",
        ] {
            assert!(matches!(RollKeyRequest::parse(body.as_bytes(), now), Err(Error::InvalidRequest(_))), "{body}");
        }
    }

    #[test]
    fn rename_bodies_and_event_queries() {
        assert_eq!(parse_key_update(br#"{"name":"new"}"#).unwrap().name.as_deref(), Some("new"));
        for body in ["{}", r#"{"name":""}"#, r#"{"name":"x","extra":1}"#] {
            assert!(matches!(parse_key_update(body.as_bytes()), Err(Error::InvalidRequest(_))), "{body}");
        }
        let q = parse_events_query([]).unwrap();
        assert_eq!((q.limit, q.cursor), (50, None));
        let cursor = crate::audit::new_event_id(1);
        let q = parse_events_query([("limit", "100"), ("cursor", cursor.as_str())]).unwrap();
        assert_eq!((q.limit, q.cursor.as_deref()), (100, Some(cursor.as_str())));
        for (k, v) in [("limit", "0"), ("limit", "101"), ("cursor", "key_abc"), ("include_revoked", "true")] {
            assert!(matches!(parse_events_query([(k, v)]), Err(Error::InvalidRequest(_))), "{k}={v}");
        }
    }

    #[test]
    fn list_queries() {
        let q = parse_list_query([]).unwrap();
        assert_eq!((q.limit, q.cursor, q.include_revoked), (100, None, false));
        let q = parse_list_query([("limit", "5"), ("include_revoked", "true"), ("cursor", "key_abc")]).unwrap();
        assert_eq!((q.limit, q.cursor.as_deref(), q.include_revoked), (5, Some("key_abc"), true));
        for (k, v) in [
            ("limit", "0"),
            ("limit", "101"),
            ("limit", "x"),
            ("limit", "-1"),
            ("cursor", "zzz"),
            ("include_revoked", "yes"),
            ("foo", "1"),
        ] {
            assert!(matches!(parse_list_query([(k, v)]), Err(Error::InvalidRequest(_))), "{k}={v}");
        }
    }
}
