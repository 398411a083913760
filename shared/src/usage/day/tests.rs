//! A key's day's tests: exact totals, the capped lists and their `other`, merging two days.

use super::*;

fn line(at_ms: i64, status: u16, ip: &str, refused: Option<&str>) -> UsageLine {
    UsageLine {
        at_ms,
        org_id: "org_2xq4k9fm3hb7wz".into(),
        key_id: "key_01JD8X4Z7M2K9Q4V6T3N1B5C8R".into(),
        status,
        route: Some("POST /v1/generations/{format}".into()),
        format: Some("pdf".into()),
        ip: Some(ip.into()),
        user_agent: Some("curl/8.5.0".into()),
        refused: refused.map(str::to_owned),
    }
}

#[test]
fn days_are_utc() {
    assert_eq!(day_of_ms(1_764_460_799_999), "2025-11-29");
    assert_eq!(day_of_ms(1_764_460_800_000), "2025-11-30");
}

#[test]
fn a_batch_adds_up_per_key_and_day() {
    let lines = [
        line(1_764_460_799_000, 200, "203.0.113.7", None),
        line(1_764_460_800_000, 200, "203.0.113.7", None),
        line(1_764_460_801_000, 403, "198.51.100.7", Some("permission_denied")),
        line(1_764_460_800_500, 200, "203.0.113.7", None),
    ];
    let days = aggregate(&lines);
    assert_eq!(days.len(), 2);
    let second = days.values().nth(1).unwrap();
    assert_eq!(second.requests, 3);
    assert_eq!(second.by_status, BTreeMap::from([("2xx".into(), 2), ("4xx".into(), 1)]));
    assert_eq!(second.refused, BTreeMap::from([("permission_denied".into(), 1)]));
    assert_eq!(second.routes["POST /v1/generations/{format}"], Count { requests: 3, refused: 1 });
    assert_eq!(second.formats["pdf"], Count { requests: 3, refused: 1 });
    assert_eq!(
        second.source_ips["203.0.113.7"],
        SourceCount { requests: 2, refused: 0, first_seen_ms: 1_764_460_800_000 },
        "first seen is the earliest, whatever the order of lines"
    );
    assert_eq!(second.source_ips["198.51.100.7"].refused, 1);
    assert_eq!(second.user_agents["curl/8.5.0"], 3);
    assert_eq!(second.refused_total(), 1);
}

#[test]
fn merging_adds_every_count_and_keeps_the_earliest_first_seen() {
    let mut day = aggregate(&[line(2_000, 200, "203.0.113.7", None)]).into_values().next().unwrap();
    let batch = aggregate(&[line(1_000, 500, "203.0.113.7", Some("expired_api_key"))]).into_values().next().unwrap();
    day.merge(&batch);
    assert_eq!(day.requests, 2);
    assert_eq!(day.by_status, BTreeMap::from([("2xx".into(), 1), ("5xx".into(), 1)]));
    assert_eq!(day.refused, BTreeMap::from([("expired_api_key".into(), 1)]));
    assert_eq!(day.source_ips["203.0.113.7"], SourceCount { requests: 2, refused: 1, first_seen_ms: 1_000 });
    assert_eq!(day.routes.values().next().unwrap(), &Count { requests: 2, refused: 1 });
    assert_eq!(day.user_agents["curl/8.5.0"], 2);
    // The same status class on both sides adds up too.
    day.merge(&aggregate(&[line(3_000, 204, "203.0.113.7", None)]).into_values().next().unwrap());
    assert_eq!(day.by_status, BTreeMap::from([("2xx".into(), 2), ("5xx".into(), 1)]));
    assert_eq!(day.requests, 3);
    let with_other = DayUsage {
        other: Other { routes: 1, formats: 2, source_ips: 3, user_agents: 4, refused: 5 },
        ..DayUsage::default()
    };
    day.merge(&with_other);
    assert_eq!(day.other, with_other.other);
    assert_eq!(day.refused_total(), 6);
}

#[test]
fn a_count_without_refusals_is_stored_without_them() {
    assert_eq!(serde_json::to_string(&Count { requests: 3, refused: 0 }).unwrap(), r#"{"requests":3}"#);
    assert_eq!(serde_json::to_string(&Count { requests: 3, refused: 1 }).unwrap(), r#"{"requests":3,"refused":1}"#);
    let read: Count = serde_json::from_str(r#"{"requests":3}"#).unwrap();
    assert_eq!(read, Count { requests: 3, refused: 0 });
}

#[test]
fn a_flood_from_a_million_addresses_stays_bounded_and_adds_up() {
    let mut day = DayUsage::default();
    // The busy address first, then a flood of one-off addresses, in batches.
    let busy: Vec<UsageLine> = (0..50).map(|i| line(i, 200, "203.0.113.7", None)).collect();
    day.merge(&aggregate(&busy).into_values().next().unwrap());
    for batch in 0..100u32 {
        let lines: Vec<UsageLine> = (0..10_000u32)
            .map(|i| {
                let n = batch * 10_000 + i;
                let mut l = line(1, 200, &std::net::Ipv4Addr::from(0x0a00_0000 + n).to_string(), None);
                l.user_agent = Some(format!("agent-{n}"));
                l.route = Some(format!("GET /r{}", n % 1000));
                l.format = Some(format!("f{}", n % 1000));
                l
            })
            .collect();
        day.merge(&aggregate(&lines).into_values().next().unwrap());
    }
    assert_eq!(day.requests, 1_000_050);
    assert_eq!(day.source_ips.len(), MAX_SOURCE_IPS);
    assert_eq!(day.user_agents.len(), MAX_USER_AGENTS);
    assert_eq!(day.routes.len(), MAX_ROUTES);
    assert_eq!(day.formats.len(), MAX_FORMATS);
    assert_eq!(day.source_ips["203.0.113.7"].requests, 50, "the busy address stays, exact");
    let ips: u64 = day.source_ips.values().map(|s| s.requests).sum();
    assert_eq!(ips + day.other.source_ips, day.requests, "kept + other = all");
    let agents: u64 = day.user_agents.values().sum();
    assert_eq!(agents + day.other.user_agents, day.requests);
    let routes: u64 = day.routes.values().map(|c| c.requests).sum();
    assert_eq!(routes + day.other.routes, day.requests);
    let size = serde_json::to_string(&day).unwrap().len();
    assert!(size < 100_000, "{size} bytes");
}

#[test]
fn shedding_keeps_the_busiest_and_ties_by_name() {
    let mut map = BTreeMap::from([("b".to_owned(), 5u64), ("a".into(), 5), ("c".into(), 9), ("d".into(), 1)]);
    assert_eq!(shed(&mut map, 2, |n| *n), 6);
    assert_eq!(map, BTreeMap::from([("c".to_owned(), 9), ("a".into(), 5)]));
    assert_eq!(shed(&mut map, 2, |n| *n), 0, "at the cap nothing moves");
}

#[test]
fn refusal_codes_are_bounded_too() {
    let lines: Vec<UsageLine> =
        (0..30).map(|i| line(1, 401, "203.0.113.7", Some(&format!("code_{}", char::from(b'a' + i))))).collect();
    let day = aggregate(&lines).into_values().next().unwrap();
    assert_eq!(day.refused.len(), MAX_REFUSAL_CODES);
    assert_eq!(day.other.refused, 10);
    assert_eq!(day.refused_total(), 30);
}
