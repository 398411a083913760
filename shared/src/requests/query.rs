//! The listings' query strings: `GET /orgs/{org_id}/api-keys` and `GET /orgs/{org_id}/events`.
//! Unknown parameters are refused, as unknown body fields are.

use crate::error::Error;
use crate::ids::is_valid_key_id;
use crate::store::{ListQuery, MAX_ACTIVE_KEYS};

/// The events listing's page size: 1–100, 50 by default.
pub const MAX_EVENTS_LIMIT: usize = 100;
pub const DEFAULT_EVENTS_LIMIT: usize = 50;

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

    #[test]
    fn event_queries() {
        let q = parse_events_query([]).unwrap();
        assert_eq!((q.limit, q.cursor), (50, None));
        let cursor = crate::audit::new_event_id(1);
        let q = parse_events_query([("limit", "100"), ("cursor", cursor.as_str())]).unwrap();
        assert_eq!((q.limit, q.cursor.as_deref()), (100, Some(cursor.as_str())));
        for (k, v) in [("limit", "0"), ("limit", "101"), ("cursor", "key_abc"), ("include_revoked", "true")] {
            assert!(matches!(parse_events_query([(k, v)]), Err(Error::InvalidRequest(_))), "{k}={v}");
        }
    }
}
