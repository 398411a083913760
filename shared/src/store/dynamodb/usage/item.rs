//! A (key, day) item of the usage table, both ways.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::super::items::{Item, get_n, get_s, n, s};
use crate::error::Error;
use crate::usage::{DayKey, DayUsage, RETENTION_DAYS};

/// The partition of one key's days.
pub(super) fn org_key(org_id: &str, key_id: &str) -> String {
    format!("{org_id}/{key_id}")
}

/// The primary key of a day's item.
pub(super) fn day_item_key(key: &DayKey) -> Item {
    HashMap::from([("org_key".to_owned(), s(&org_key(&key.org_id, &key.key_id))), ("day".to_owned(), s(&key.day))])
}

/// The item of `usage` for `key`, at `version`, kept [`RETENTION_DAYS`] after its day.
pub(super) fn day_item(key: &DayKey, usage: &DayUsage, version: i64) -> Result<Item, Error> {
    let detail = serde_json::to_string(usage).map_err(|e| Error::Internal(format!("usage detail: {e}")))?;
    let day_start = crate::clock::parse_rfc3339(&format!("{}T00:00:00Z", key.day))
        .ok_or_else(|| Error::Internal(format!("usage day {:?}", key.day)))?;
    let mut item = day_item_key(key);
    item.extend([
        ("org_id".to_owned(), s(&key.org_id)),
        ("key_id".to_owned(), s(&key.key_id)),
        ("day_key".to_owned(), s(&format!("{}#{}", key.day, key.key_id))),
        ("requests".to_owned(), n(usage.requests as i64)),
        ("refused".to_owned(), n(usage.refused_total() as i64)),
        ("detail".to_owned(), AttributeValue::S(detail)),
        ("version".to_owned(), n(version)),
        ("ttl".to_owned(), n(day_start + (RETENTION_DAYS + 1) * 86_400)),
    ]);
    Ok(item)
}

/// A stored day and the version it was read at.
pub(super) fn read_day(item: &Item) -> Result<(DayUsage, i64), Error> {
    let detail = get_s(item, "detail")?;
    let usage = serde_json::from_str(&detail).map_err(|e| Error::Internal(format!("stored usage detail: {e}")))?;
    Ok((usage, get_n(item, "version").unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usage::UsageLine;

    #[test]
    fn an_item_reads_back_as_it_was_written() {
        let key = DayKey { org_id: "org_1".into(), key_id: "key_1".into(), day: "2026-11-29".into() };
        let line = UsageLine {
            at_ms: 1_795_000_000_000,
            org_id: "org_1".into(),
            key_id: "key_1".into(),
            status: 401,
            route: Some("GET /v1/runs/{run_id}".into()),
            format: None,
            ip: Some("198.51.100.7".into()),
            user_agent: Some("curl/8.5.0".into()),
            refused: Some("revoked_api_key".into()),
        };
        let mut usage = DayUsage::default();
        usage.add(&line);
        let item = day_item(&key, &usage, 3).unwrap();
        assert_eq!(read_day(&item).unwrap(), (usage, 3));
        assert_eq!(get_s(&item, "org_key").unwrap(), "org_1/key_1");
        assert_eq!(get_s(&item, "day_key").unwrap(), "2026-11-29#key_1");
        assert_eq!(get_n(&item, "requests"), Some(1));
        assert_eq!(get_n(&item, "refused"), Some(1));
        // 2026-11-29T00:00:00Z + 401 days.
        assert_eq!(get_n(&item, "ttl"), Some(1_764_374_400 + 365 * 86_400 + 401 * 86_400));
        let bad = DayKey { day: "soon".into(), ..key };
        assert!(day_item(&bad, &DayUsage::default(), 1).is_err());
        let mut broken = item.clone();
        broken.insert("detail".into(), s("{"));
        assert_eq!(read_day(&broken).unwrap_err().code(), "internal_error");
    }
}
