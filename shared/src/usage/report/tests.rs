//! The usage routes' answers: ranges, `new`, the busiest 50, the org's report.
use super::*;
use crate::usage::day::{Count, SourceCount};

const NOW: i64 = 1_764_460_800 + 3600; // 2025-11-30T01:00:00Z

fn range(params: &[(&str, &str)]) -> Result<DayRange, Error> {
    DayRange::parse(params.iter().copied(), NOW)
}

#[test]
fn the_range_defaults_to_the_last_30_days_and_is_at_most_92() {
    let r = range(&[]).unwrap();
    assert_eq!((r.from_day().as_str(), r.to_day().as_str()), ("2025-11-01", "2025-11-30"));
    assert_eq!(r.to - r.from + 1, 30);
    let r = range(&[("from", "2025-09-01"), ("to", "2025-12-01")]).unwrap();
    assert_eq!(r.to - r.from + 1, 92);
    let err = range(&[("from", "2025-08-31"), ("to", "2025-12-01")]).unwrap_err();
    assert_eq!(err.code(), "invalid_request");
    assert!(err.to_string().contains("93 days"), "{err}");
    let r = range(&[("to", "2025-01-10")]).unwrap();
    assert_eq!(r.from_day(), "2024-12-12");
    let r = range(&[("from", "2025-11-29")]).unwrap();
    assert_eq!((r.from_day().as_str(), r.to_day().as_str()), ("2025-11-29", "2025-11-30"));
    let r = range(&[("from", "2025-11-30"), ("to", "2025-11-30")]).unwrap();
    assert_eq!(r.from, r.to);
}

#[test]
fn bad_ranges_are_invalid_requests() {
    for params in [
        vec![("from", "2025-11-31")],
        vec![("from", "2025-13-01")],
        vec![("from", "2025-1-01")],
        vec![("from", "2025-11-01T00:00:00Z")],
        vec![("to", "yesterday")],
        vec![("from", "2025-11-30"), ("to", "2025-11-29")],
        vec![("since", "2025-11-29")],
    ] {
        let err = range(&params).unwrap_err();
        assert_eq!(err.code(), "invalid_request", "{params:?}");
    }
    assert_eq!(DayRange::last(30, NOW), range(&[]).unwrap());
}

fn day(ips: &[(&str, u64)]) -> DayUsage {
    let mut usage = DayUsage::default();
    for (ip, n) in ips {
        usage.requests += n;
        *usage.by_status.entry("2xx".into()).or_default() += n;
        usage.source_ips.insert((*ip).into(), SourceCount { requests: *n, refused: 0, first_seen_ms: 1_000 });
    }
    usage
}

#[test]
fn an_address_is_new_unless_seen_in_the_30_days_before() {
    let today = NOW.div_euclid(DAY_SECS);
    let stored = BTreeMap::from([
        (day_name(today - 10), day(&[("203.0.113.7", 1)])),
        (day_name(today - 31), day(&[("198.51.100.7", 1)])),
        (day_name(today), day(&[("203.0.113.7", 2), ("198.51.100.7", 1), ("192.0.2.1", 1)])),
    ]);
    let report = key_report("key_x", DayRange { from: today, to: today }, &stored);
    let new: Vec<(&str, bool)> = report.days[0].source_ips.iter().map(|s| (s.ip.as_str(), s.new)).collect();
    assert_eq!(new, [("203.0.113.7", false), ("192.0.2.1", true), ("198.51.100.7", true)]);
    assert_eq!(report.days[0].source_ips[0].first_seen_at.as_deref(), Some("1970-01-01T00:00:01Z"));
    // 30 days before exactly is still "before".
    let stored = BTreeMap::from([
        (day_name(today - 30), day(&[("203.0.113.7", 1)])),
        (day_name(today), day(&[("203.0.113.7", 1)])),
    ]);
    let report = key_report("key_x", DayRange { from: today, to: today }, &stored);
    assert!(!report.days[0].source_ips[0].new);
}

#[test]
fn every_day_of_the_range_is_listed_and_lists_are_cut_at_50() {
    let today = NOW.div_euclid(DAY_SECS);
    let mut busy = DayUsage::default();
    for i in 0..60u64 {
        busy.routes.insert(format!("GET /r{i:02}"), Count { requests: 100 - i, refused: 0 });
        busy.user_agents.insert(format!("agent-{i:02}"), 100 - i);
        busy.source_ips.insert(format!("10.0.0.{i}"), SourceCount { requests: 100 - i, refused: 0, first_seen_ms: 0 });
    }
    busy.other.routes = 7;
    busy.other.source_ips = 3;
    busy.other.user_agents = 1;
    busy.other.refused = 2;
    busy.refused.insert("permission_denied".into(), 4);
    busy.requests = 1000;
    let stored = BTreeMap::from([(day_name(today), busy)]);
    let report = key_report("key_x", DayRange { from: today - 2, to: today }, &stored);
    assert_eq!(report.days.len(), 3);
    assert_eq!(report.days[0].requests, 0);
    assert_eq!(report.days[0].by_status, BTreeMap::from([("2xx".into(), 0), ("4xx".into(), 0), ("5xx".into(), 0)]));
    assert!(report.days[0].routes.is_empty() && report.days[0].source_ips.is_empty());
    let last = &report.days[2];
    assert_eq!(last.routes.len(), SHOWN + 1);
    assert_eq!(last.routes[0], RouteEntry { route: "GET /r00".into(), requests: 100 });
    // The 10 not shown (91..=100-59 → 50..41) plus the 7 already in other.
    let hidden: u64 = (50..60).map(|i| 100 - i).sum();
    assert_eq!(last.routes[SHOWN], RouteEntry { route: "other".into(), requests: hidden + 7 });
    assert_eq!(last.source_ips[SHOWN].requests, hidden + 3);
    assert_eq!(last.source_ips[SHOWN].first_seen_at, None);
    assert!(!last.source_ips[SHOWN].new);
    assert_eq!(last.user_agents[SHOWN], AgentEntry { user_agent: "other".into(), requests: hidden + 1 });
    assert_eq!(last.refused, BTreeMap::from([("other".into(), 2), ("permission_denied".into(), 4)]));
}

#[test]
fn the_org_report_groups_days_per_key() {
    let d = |date: &str, requests, refused| OrgDay { date: date.into(), requests, refused };
    let report = org_report(
        "org_x",
        DayRange { from: 0, to: 1 },
        vec![
            ("key_b".into(), d("1970-01-02", 3, 1)),
            ("key_a".into(), d("1970-01-01", 1, 0)),
            ("key_b".into(), d("1970-01-01", 2, 0)),
        ],
    );
    assert_eq!(report.keys.len(), 2);
    assert_eq!(report.keys[0].key_id, "key_a");
    assert_eq!((report.keys[1].requests, report.keys[1].refused), (5, 1));
    assert_eq!(report.keys[1].days[0].date, "1970-01-01");
    assert_eq!((report.from.as_str(), report.to.as_str()), ("1970-01-01", "1970-01-02"));
}
