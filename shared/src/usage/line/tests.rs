//! `line.rs`'s tests: both sources parsed, fields checked, the usage line round-tripped through
//! the production subscriber.
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
    let fields = [("status", "200"), ("orgId", ORG), ("keyId", KEY), ("httpMethod", "GET"), ("resourcePath", &route)];
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
    assert!(lines[0].starts_with(r#"{"level":"INFO","fields":{"message":"key usage","usage":{"org_id":"#), "{text}");
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
    assert!(parse(r#"{"fields":{"message":"key usage","usage":"{}"}}"#, 0).is_none(), "not an object");
    assert!(parse(r#"{"fields":{"message":"key usage","usage":5}}"#, 0).is_none(), "not an object");
}

#[test]
fn cut_keeps_whole_characters() {
    assert_eq!(cut("aé".into(), 2), "a");
    assert_eq!(cut("abc".into(), 3), "abc");
    assert_eq!(cut("abcd".into(), 3), "abc");
}
