//! Property: over random keys (restricted by any of the three lists, or not at all), routes of
//! the table and routes outside it, formats and source addresses, REST and HTTP API events, the
//! authorizer allows exactly when an independent oracle — the contract's rules written out again
//! here, with its own route table and its own network arithmetic — says so.

use std::net::IpAddr;

use overten::restrictions::{Restrictions, RestrictionsPatch};
use overten::store::{FixedStore, KeyRecord, sample_record};
use proptest::prelude::*;
use serde_json::{Value, json};

/// A line of the oracle's table: (method, resource, (resource, access) needed, format parameter).
type Line = (&'static str, &'static str, Option<(&'static str, &'static str)>, Option<&'static str>);

/// The contract's table, copied.
const TABLE: [Line; 7] = [
    ("POST", "/v1/generations/{format}", Some(("generations", "write")), Some("format")),
    ("GET", "/v1/generations/{generation_id}", Some(("generations", "read")), None),
    ("POST", "/v1/runs", Some(("runs", "write")), None),
    ("GET", "/v1/runs/{run_id}", Some(("runs", "read")), None),
    ("POST", "/v1/files", Some(("files", "write")), None),
    ("GET", "/v1/files/{file_id}", Some(("files", "read")), None),
    ("GET", "/v1/whoami", None, None),
];
const UNKNOWN: [(&str, &str); 3] =
    [("GET", "/v1/reports/{id}"), ("DELETE", "/v1/runs/{run_id}"), ("POST", "/v1/whoami")];
const PERMISSIONS: [&str; 6] =
    ["generations:read", "generations:write", "runs:read", "runs:write", "files:read", "files:write"];
const FORMATS: [&str; 4] = ["pdf", "docx", "csv", "png"];
const NETWORKS: [&str; 5] = ["203.0.113.0/24", "198.51.100.0/25", "2001:db8::/32", "10.0.0.0/8", "192.0.2.7"];
const SOURCES: [&str; 10] = [
    "203.0.113.5",
    "198.51.100.127",
    "198.51.100.128",
    "2001:db8::1",
    "2001:db9::1",
    "::ffff:203.0.113.9",
    "::ffff:10.1.2.3",
    "192.0.2.7",
    "192.0.2.8",
    "not-an-address",
];

/// A list: absent (not restricted) or a non-empty subset of `pool`.
fn list(pool: &'static [&'static str]) -> impl Strategy<Value = Option<Vec<&'static str>>> {
    proptest::option::of(proptest::sample::subsequence(pool, 1..=pool.len()))
}

/// `(resource, access)` held grants `needed`: the same resource, and write includes read.
fn grants(held: &str, (resource, access): (&str, &str)) -> bool {
    let (r, a) = held.split_once(':').unwrap();
    r == resource && (a == "write" || access == "read")
}

/// Network membership by hand: prefix bits compared on the 128-bit form, IPv4 as IPv4-mapped.
fn in_network(network: &str, source: &str) -> bool {
    fn bits(addr: IpAddr) -> (u128, u32) {
        match addr {
            IpAddr::V4(v4) => ((0xffff_u128 << 32) | u128::from(u32::from(v4)), 96),
            IpAddr::V6(v6) => (u128::from(v6), 0),
        }
    }
    let Ok(source) = source.parse::<IpAddr>() else { return false };
    let (addr, len) = network.split_once('/').unwrap_or((network, ""));
    let net: IpAddr = addr.parse().unwrap();
    let (net_bits, offset) = bits(net);
    let prefix = match len {
        "" => 128,
        len => len.parse::<u32>().unwrap() + offset,
    };
    let (source_bits, _) = bits(source);
    let mask = if prefix == 0 { 0 } else { u128::MAX << (128 - prefix) };
    net_bits & mask == source_bits & mask
}

fn oracle(
    permissions: &Option<Vec<&str>>,
    formats: &Option<Vec<&str>>,
    networks: &Option<Vec<&str>>,
    route: Option<usize>,
    format: &str,
    source: &str,
) -> bool {
    if let Some(networks) = networks
        && !networks.iter().any(|n| in_network(n, source))
    {
        return false;
    }
    let Some(index) = route else { return permissions.is_none() && formats.is_none() };
    let (_, _, needed, format_param) = TABLE[index];
    if let (Some(held), Some(needed)) = (permissions, needed)
        && !held.iter().any(|h| grants(h, needed))
    {
        return false;
    }
    if let (Some(formats), Some(_)) = (formats, format_param)
        && !formats.contains(&format)
    {
        return false;
    }
    true
}

fn record(permissions: &Option<Vec<&str>>, formats: &Option<Vec<&str>>, networks: &Option<Vec<&str>>) -> KeyRecord {
    let owned = |l: &Option<Vec<&str>>| l.as_ref().map(|l| Some(l.iter().map(|s| s.to_string()).collect()));
    let restrictions: Restrictions = RestrictionsPatch::parse((owned(permissions), owned(formats), owned(networks)))
        .unwrap()
        .apply(&Restrictions::default());
    KeyRecord { restrictions, last_used_at: Some(overten::clock::now_secs() + 3600), ..sample_record("key_1", false) }
}

fn event(http_api: bool, method: &str, resource: &str, params: Value, source: &str, secret: &str) -> Value {
    if http_api {
        json!({"version": "2.0", "type": "REQUEST", "routeKey": format!("{method} {resource}"),
            "routeArn": "arn:aws:execute-api:us-east-1:123456789012:abc/prod/GET/x",
            "headers": {"x-api-key": secret}, "pathParameters": params,
            "requestContext": {"http": {"method": method, "path": "/x", "sourceIp": source}}})
    } else {
        json!({"type": "REQUEST", "methodArn": format!("arn:aws:execute-api:us-east-1:123456789012:abc/prod/{method}/x"),
            "resource": resource, "httpMethod": method, "headers": {"x-api-key": secret}, "multiValueHeaders": {},
            "pathParameters": params, "requestContext": {"identity": {"sourceIp": source}}})
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn the_authorizer_allows_exactly_when_the_oracle_does(
        permissions in list(&PERMISSIONS),
        formats in list(&FORMATS),
        networks in list(&NETWORKS),
        route in 0..TABLE.len() + UNKNOWN.len(),
        format in proptest::sample::select(&["pdf", "docx", "csv", "png", "gif", "PDF", ""][..]),
        source in proptest::sample::select(&SOURCES[..]),
        http_api in any::<bool>(),
    ) {
        let key = overten::ApiKey::generate();
        let store = FixedStore::with_keys(vec![(key.hash(), record(&permissions, &formats, &networks))]);
        let (method, resource, in_table) = match route.checked_sub(TABLE.len()) {
            None => (TABLE[route].0, TABLE[route].1, Some(route)),
            Some(i) => (UNKNOWN[i].0, UNKNOWN[i].1, None),
        };
        let params = match resource {
            "/v1/generations/{format}" => json!({"format": format}),
            _ => json!({}),
        };
        let event = event(http_api, method, resource, params, source, key.expose_secret());
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        let payload = serde_json::value::to_raw_value(&event).unwrap();
        let answer = runtime.block_on(authorizer::invoke(&store, &payload, "prop")).unwrap();
        let expected = oracle(&permissions, &formats, &networks, in_table, format, source);
        prop_assert_eq!(answer.is_allowed(), expected, "{} {} {:?}", method, resource, answer.context());
        let context = answer.context();
        if expected {
            prop_assert_eq!(context.permissions.clone(), permissions.as_ref().map(|p| p.join(",")));
            prop_assert_eq!(context.formats.clone(), formats.as_ref().map(|f| f.join(",")));
            prop_assert!(context.error_code.is_none());
        } else {
            prop_assert_eq!(context.error_code.as_deref(), Some("permission_denied"));
            let required: Value = serde_json::from_str(context.required.as_deref().unwrap()).unwrap();
            prop_assert!(required.is_object());
        }
    }
}
