//! The key bodies: create, roll, update (`PATCH`), and the `expires_at` they share.

use serde::Deserialize;

use super::body::{ListsBody, MAX_KEY_NAME_CHARS, nullable, parse_json, present, validate_name};
use crate::error::Error;
use crate::restrictions::{Restrictions, RestrictionsPatch};

/// `expires_at` may be at most this far ahead.
pub const MAX_EXPIRY_DAYS: i64 = 366;
/// A roll's grace period: 0 (the old key is revoked at once) to 7 days; 24 hours by default.
pub const MAX_GRACE_PERIOD_SECONDS: i64 = 7 * 86_400;
pub const DEFAULT_GRACE_PERIOD_SECONDS: i64 = 86_400;

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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn update_bodies() {
        assert_eq!(parse_key_update(br#"{"name":"new"}"#).unwrap().name.as_deref(), Some("new"));
        for body in ["{}", r#"{"name":""}"#, r#"{"name":"x","extra":1}"#] {
            assert!(matches!(parse_key_update(body.as_bytes()), Err(Error::InvalidRequest(_))), "{body}");
        }
    }
}
