//! One request as the logs tell it. Two sources, one shape ([`UsageLine`]):
//!
//! - the API Gateway access log (`template.yaml`'s `AccessLogSetting`): every request that passed
//!   the authorizer, or that it refused with a `Deny` (403), names its key (`keyId`, `orgId`);
//! - the `key usage` line the functions write where that log cannot name the key: the
//!   authorizer's 401 for a revoked or expired key (a Lambda error `Unauthorized` carries no
//!   context) and every `/verify` call with a key of ours (no authorizer fronts `/verify`).
//!   [`emit`] writes it; a subscription filter (`{ $.fields.message = "key usage" }`) sends only
//!   those lines on.
//!
//! Everything here is outside data: each field is checked (ids by their format, addresses
//! parsed, text cut to a length) and a line that is not one of ours is skipped, never an error
//! that would make the batch retry forever.

use std::net::IpAddr;

use serde::Deserialize;

use crate::ids::{is_valid_key_id, is_valid_org_id};

/// The message of the functions' usage lines, which the subscription filter matches.
pub const USAGE_MESSAGE: &str = "key usage";

/// Longest route kept (`POST /v1/generations/{format}`): API Gateway's resource paths are the
/// template's own, so anything longer is not one.
pub const MAX_ROUTE_LEN: usize = 200;

/// Longest user agent kept: the access log's own bound ([`crate::access_log::MAX_LEN`]).
pub const MAX_USER_AGENT_LEN: usize = crate::access_log::MAX_LEN;

/// One request of one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageLine {
    /// When, in milliseconds since the epoch (the request's time; else the log event's).
    pub at_ms: i64,
    pub org_id: String,
    pub key_id: String,
    pub status: u16,
    /// `METHOD /resource/{param}`, the route as the gateway matched it.
    pub route: Option<String>,
    /// The format the route's path named, when it is a valid slug.
    pub format: Option<String>,
    /// The source address, canonical (`::ffff:a.b.c.d` as `a.b.c.d`).
    pub ip: Option<String>,
    /// Escaped by the authorizer ([`crate::access_log::escape`]): printable ASCII.
    pub user_agent: Option<String>,
    /// Why it was refused: `permission_denied`, `revoked_api_key`, `expired_api_key`.
    pub refused: Option<String>,
}

/// The access log's fields (the template's format: every value a JSON string).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AccessLogLine {
    request_time_epoch: Option<String>,
    ip: Option<String>,
    http_method: Option<String>,
    resource_path: Option<String>,
    status: Option<String>,
    org_id: Option<String>,
    key_id: Option<String>,
    user_agent: Option<String>,
    authorizer_error: Option<String>,
    key_format: Option<String>,
}

/// A function's log line as `overten::logging` writes it: `{"level", "fields": {...}}`.
#[derive(Deserialize)]
struct FunctionLine {
    fields: LineFields,
}

/// `{"message": "key usage", "usage": {"org_id": …, "key_id": …, …}}` ([`emit`]).
#[derive(Deserialize)]
struct LineFields {
    message: String,
    usage: Option<Written>,
}

/// The request as [`emit`] writes it: an object; or, as the release before wrote it, that
/// object's JSON text in a string — read too, so batches written before a deploy and delivered
/// after it (or after a rollback) still count.
#[derive(Deserialize)]
#[serde(untagged)]
enum Written {
    Object(UsageFields),
    Text(String),
}

#[derive(Deserialize)]
struct UsageFields {
    org_id: Option<String>,
    key_id: Option<String>,
    status: Option<u16>,
    route: Option<String>,
    format: Option<String>,
    ip: Option<String>,
    user_agent: Option<String>,
    refused: Option<String>,
}

/// A log event's text, from either source, at the event's `timestamp`; `None` for a line that is
/// not a request of a key of ours (an access-log line without a key: signup, the key routes, a
/// refusal of a missing or unknown key).
pub fn parse(message: &str, timestamp_ms: i64) -> Option<UsageLine> {
    let text = message.trim();
    if !text.starts_with('{') {
        return None;
    }
    if text.contains("\"fields\"") {
        let line: FunctionLine = serde_json::from_str(text).ok()?;
        if line.fields.message != USAGE_MESSAGE {
            return None;
        }
        let fields = match line.fields.usage? {
            Written::Object(fields) => fields,
            Written::Text(text) => serde_json::from_str(&text).ok()?,
        };
        return build(timestamp_ms, fields);
    }
    let mut line: AccessLogLine = serde_json::from_str(text).ok()?;
    // API Gateway logs a variable without a value as `-`.
    for field in [
        &mut line.request_time_epoch,
        &mut line.ip,
        &mut line.http_method,
        &mut line.resource_path,
        &mut line.status,
        &mut line.org_id,
        &mut line.key_id,
        &mut line.user_agent,
        &mut line.authorizer_error,
        &mut line.key_format,
    ] {
        if field.as_deref() == Some("-") {
            *field = None;
        }
    }
    let at_ms = line.request_time_epoch.as_deref().and_then(|t| t.parse::<i64>().ok()).unwrap_or(timestamp_ms);
    let status = line.status.as_deref().and_then(|s| s.parse::<u16>().ok());
    // An empty method or path makes no route: `build` keeps only `METHOD /path`.
    let route = match (line.http_method.as_deref(), line.resource_path.as_deref()) {
        (Some(method), Some(path)) => Some(format!("{method} {path}")),
        _ => None,
    };
    let fields = UsageFields {
        org_id: line.org_id,
        key_id: line.key_id,
        status,
        route,
        format: line.key_format,
        ip: line.ip,
        user_agent: line.user_agent,
        refused: line.authorizer_error,
    };
    build(at_ms, fields)
}

/// A request of a key of ours from its fields, each checked; `None` without valid ids and status.
fn build(at_ms: i64, f: UsageFields) -> Option<UsageLine> {
    Some(UsageLine {
        at_ms,
        org_id: f.org_id.filter(|o| is_valid_org_id(o))?,
        key_id: f.key_id.filter(|k| is_valid_key_id(k))?,
        status: f.status.filter(|s| (100..=599).contains(s))?,
        route: f.route.filter(|r| is_route(r)),
        format: f.format.filter(|f| crate::restrictions::is_format_slug(f)),
        ip: f.ip.as_deref().and_then(canonical_ip),
        user_agent: f.user_agent.filter(|u| !u.is_empty()).map(|u| cut(u, MAX_USER_AGENT_LEN)),
        refused: f.refused.filter(|c| is_code(c)),
    })
}

/// `METHOD /path` of printable ASCII without quotes or backslashes, within [`MAX_ROUTE_LEN`].
fn is_route(route: &str) -> bool {
    let Some((method, path)) = route.split_once(' ') else { return false };
    route.len() <= MAX_ROUTE_LEN
        && !method.is_empty()
        && method.bytes().all(|b| b.is_ascii_uppercase())
        && path.starts_with('/')
        && path.bytes().all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
}

/// An error code as the contract writes them: `[a-z_]{1,40}`.
fn is_code(code: &str) -> bool {
    (1..=40).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
}

/// The address in canonical form, an IPv4-mapped IPv6 address as its IPv4 one.
pub fn canonical_ip(text: &str) -> Option<String> {
    let ip: IpAddr = text.parse().ok()?;
    Some(ip.to_canonical().to_string())
}

/// `text` cut to at most `max` bytes, on a character boundary.
fn cut(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

/// A request of a key as a function writes it ([`emit`]): borrowed from the request and the key's
/// record, serialised once.
#[derive(Debug, serde::Serialize)]
pub struct Usage<'a> {
    pub org_id: &'a str,
    pub key_id: &'a str,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<&'a str>,
    /// `sourceIp` as the gateway gave it: the aggregator parses it and keeps its canonical form
    /// ([`parse`]), so the hot path does not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<&'a str>,
    /// Escaped as the access log escapes it ([`crate::access_log::user_agent`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<&'a str>,
}

/// What a function writes for a request the access log cannot attribute (see the module docs):
/// one `key usage` line at INFO, which `overten::logging` keeps whatever `LOG_LEVEL` says.
///
/// `/verify` writes one for every call, so it is cheap: the request serialised once, and written
/// by `overten::logging` as it is (`{"level":"INFO","fields":{"message":"key usage","usage":{…}}}`)
/// instead of through the JSON formatter's field visitor. Its time is the log event's.
pub fn emit(usage: &Usage<'_>) {
    // The line's size up front: the fields, their names and quotes (~110 bytes), no regrowth.
    let size = 128
        + [usage.org_id, usage.key_id].iter().map(|f| f.len()).sum::<usize>()
        + [usage.route, usage.format, usage.ip, usage.user_agent, usage.refused]
            .iter()
            .map(|f| f.map_or(0, str::len))
            .sum::<usize>();
    let mut text = Vec::with_capacity(size);
    if serde_json::to_writer(&mut text, usage).is_ok()
        && let Ok(text) = std::str::from_utf8(&text)
    {
        tracing::info!(target: USAGE_TARGET, usage = text, "key usage");
    }
}

/// The tracing target of [`emit`]'s lines, which logging keeps at INFO under any `LOG_LEVEL`.
/// Not a module path (`overten::usage` is one): no other event of the crate can land on it.
pub const USAGE_TARGET: &str = "overten.key_usage";

#[cfg(test)]
mod tests {
    use super::*;

    const ORG: &str = "org_2xq4k9fm3hb7wz";
    const KEY: &str = "key_01JD8X4Z7M2K9Q4V6T3N1B5C8R";

    fn access(fields: &[(&str, &str)]) -> String {
        let mut map = serde_json::Map::new();
        for (k, v) in fields {
            map.insert((*k).into(), (*v).into());
        }
        serde_json::Value::Object(map).to_string()
    }

    #[test]
    fn an_access_log_line_with_a_key_is_a_request_of_that_key() {
        let text = access(&[
            ("requestId", "r1"),
            ("requestTimeEpoch", "1764460800123"),
            ("ip", "::ffff:203.0.113.7"),
            ("httpMethod", "POST"),
            ("resourcePath", "/v1/generations/{format}"),
            ("status", "403"),
            ("orgId", ORG),
            ("keyId", KEY),
            ("userAgent", "curl/8.5.0"),
            ("authorizerError", "permission_denied"),
            ("keyFormat", "docx"),
        ]);
        let line = parse(&text, 5).unwrap();
        assert_eq!(
            line,
            UsageLine {
                at_ms: 1_764_460_800_123,
                org_id: ORG.into(),
                key_id: KEY.into(),
                status: 403,
                route: Some("POST /v1/generations/{format}".into()),
                format: Some("docx".into()),
                ip: Some("203.0.113.7".into()),
                user_agent: Some("curl/8.5.0".into()),
                refused: Some("permission_denied".into()),
            }
        );
    }

    #[test]
    fn lines_without_a_key_of_ours_are_skipped() {
        let base = [("status", "200"), ("orgId", ORG), ("keyId", KEY)];
        assert!(parse(&access(&base), 0).is_some());
        for (field, value) in
            [("keyId", "-"), ("keyId", ""), ("orgId", ""), ("keyId", "api_x"), ("orgId", "org"), ("status", "abc")]
        {
            let mut fields = base.to_vec();
            fields.retain(|(k, _)| *k != field);
            fields.push((field, value));
            assert!(parse(&access(&fields), 0).is_none(), "{field}={value}");
        }
        for status in ["99", "600"] {
            assert!(parse(&access(&[("status", status), ("orgId", ORG), ("keyId", KEY)]), 0).is_none(), "{status}");
        }
        assert!(parse(&access(&[("status", "100"), ("orgId", ORG), ("keyId", KEY)]), 0).is_some());
        assert!(parse(&access(&[("status", "599"), ("orgId", ORG), ("keyId", KEY)]), 0).is_some());
        for junk in ["", "not json", "[1]", "{\"fields\":1}", "{", "START RequestId: x"] {
            assert!(parse(junk, 0).is_none(), "{junk}");
        }
    }

    #[test]
    fn a_field_that_is_not_what_it_claims_is_dropped_not_the_line() {
        let line = parse(
            &access(&[
                ("status", "200"),
                ("orgId", ORG),
                ("keyId", KEY),
                ("requestTimeEpoch", "soon"),
                ("ip", "203.0.113.300"),
                ("httpMethod", "get"),
                ("resourcePath", "/v1/files"),
                ("keyFormat", "PDF"),
                ("authorizerError", "Not-A-Code"),
                ("userAgent", "-"),
            ]),
            77,
        )
        .unwrap();
        assert_eq!(line.at_ms, 77, "the log event's time when the line has none");
        assert_eq!((line.ip, line.route, line.format, line.refused, line.user_agent), (None, None, None, None, None));
        let long = "a".repeat(MAX_USER_AGENT_LEN + 10);
        let line = parse(&access(&[("status", "200"), ("orgId", ORG), ("keyId", KEY), ("userAgent", &long)]), 0);
        assert_eq!(line.unwrap().user_agent.unwrap().len(), MAX_USER_AGENT_LEN);
        let route = format!("/{}", "a".repeat(MAX_ROUTE_LEN));
        let fields =
            [("status", "200"), ("orgId", ORG), ("keyId", KEY), ("httpMethod", "GET"), ("resourcePath", &route)];
        assert_eq!(parse(&access(&fields), 0).unwrap().route, None);
        assert!(is_route("GET /"));
        for (method, path) in [("", "/v1/files"), ("GET", "")] {
            let fields =
                [("status", "200"), ("orgId", ORG), ("keyId", KEY), ("httpMethod", method), ("resourcePath", path)];
            assert_eq!(parse(&access(&fields), 0).unwrap().route, None, "{method:?} {path:?}");
        }
        assert!(!is_route("GET /a\"b") && !is_route("GET a") && !is_route(" /a") && !is_route("GET"));
        assert!(is_code(&"a".repeat(40)) && !is_code(&"a".repeat(41)) && !is_code(""));
    }

    #[test]
    fn a_function_usage_line_as_logging_writes_it() {
        let sent = Usage {
            org_id: ORG,
            key_id: KEY,
            status: 401,
            route: Some("GET /v1/runs/{run_id}"),
            format: None,
            ip: Some("::ffff:198.51.100.7"),
            user_agent: Some("curl/8.5.0 (x; \"quoted\")"),
            refused: Some("revoked_api_key"),
        };
        // Written by the production subscriber, even at LOG_LEVEL=error, which drops the others.
        let text = crate::logging::capture_at(tracing::Level::ERROR, || {
            emit(&sent);
            tracing::warn!("not a usage line");
        });
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1, "{text}");
        assert!(
            lines[0].starts_with(r#"{"level":"INFO","fields":{"message":"key usage","usage":{"org_id":"#),
            "{text}"
        );
        let line = parse(lines[0], 1_764_460_800_000).unwrap();
        let expected = UsageLine {
            at_ms: 1_764_460_800_000,
            org_id: ORG.into(),
            key_id: KEY.into(),
            status: 401,
            route: Some("GET /v1/runs/{run_id}".into()),
            format: None,
            ip: Some("198.51.100.7".into()),
            user_agent: Some("curl/8.5.0 (x; \"quoted\")".into()),
            refused: Some("revoked_api_key".into()),
        };
        assert_eq!(line, expected);
        let other = lines[0].replace("key usage", "deny");
        assert!(parse(&other, 0).is_none(), "other log lines of a function are not usage");
        // A user agent at its longest (the line's buffer is sized from the fields).
        let agent = "a".repeat(MAX_USER_AGENT_LEN);
        let text = crate::logging::capture(|| emit(&Usage { user_agent: Some(&agent), ..sent }));
        assert_eq!(parse(text.trim_end(), 0).unwrap().user_agent.as_deref(), Some(agent.as_str()));
        assert!(parse(r#"{"fields":{"message":"key usage"}}"#, 0).is_none(), "no usage field");
        // The release before wrote the object as a string: still read.
        let text = serde_json::to_string(&serde_json::json!({"level": "INFO", "fields": {
            "message": "key usage",
            "usage": serde_json::json!({"org_id": ORG, "key_id": KEY, "status": 200, "ip": "203.0.113.7"}).to_string(),
        }}))
        .unwrap();
        let line = parse(&text, 9).unwrap();
        assert_eq!((line.key_id.as_str(), line.status, line.ip.as_deref()), (KEY, 200, Some("203.0.113.7")));
        assert!(parse(r#"{"fields":{"message":"key usage","usage":"{"}}"#, 0).is_none(), "not JSON");
        assert!(parse(r#"{"fields":{"message":"key usage","usage":5}}"#, 0).is_none(), "neither shape");
    }

    #[test]
    fn cut_keeps_whole_characters() {
        assert_eq!(cut("aé".into(), 2), "a");
        assert_eq!(cut("abc".into(), 3), "abc");
        assert_eq!(cut("abcd".into(), 3), "abc");
    }
}
