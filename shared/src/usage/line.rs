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
    usage: Option<UsageFields>,
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
        return build(timestamp_ms, line.fields.usage?);
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
mod tests;
