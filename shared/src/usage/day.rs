//! A key's day: the counts of one (key, UTC day), bounded whatever the traffic.
//!
//! The totals (`requests`, `by_status`) are exact. The busiest entries of each list (routes,
//! formats, source addresses, user agents, refusal codes) are kept up to a cap; past it the
//! smallest are summed into `other`, so a flood from a million addresses keeps the item a few tens
//! of KB (DynamoDB's limit is 400 KB) and the entries plus `other` always add up to `requests`.
//! An entry pushed out and seen again later counts from then on (its earlier requests stay in
//! `other`): a count shown is never more than what was sent.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::line::UsageLine;

/// Routes kept per day (the response shows the busiest [`super::report::SHOWN`]).
pub const MAX_ROUTES: usize = 100;
/// Formats kept per day.
pub const MAX_FORMATS: usize = 100;
/// Source addresses kept per day.
pub const MAX_SOURCE_IPS: usize = 200;
/// User agents kept per day (each at most 256 characters).
pub const MAX_USER_AGENTS: usize = 100;
/// Refusal codes kept per day (the service has three; this bounds what a forged line could add).
pub const MAX_REFUSAL_CODES: usize = 20;

/// Which key, which day.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DayKey {
    pub org_id: String,
    pub key_id: String,
    /// `YYYY-MM-DD`, UTC.
    pub day: String,
}

/// Requests and how many of them were refused.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Count {
    pub requests: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub refused: u64,
}

/// A source address's day: its counts and when it was first seen that day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceCount {
    pub requests: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub refused: u64,
    /// Milliseconds since the epoch.
    pub first_seen_ms: i64,
}

/// What was summed into `other` per list once it was full.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Other {
    #[serde(default)]
    pub routes: u64,
    #[serde(default)]
    pub formats: u64,
    #[serde(default)]
    pub source_ips: u64,
    #[serde(default)]
    pub user_agents: u64,
    #[serde(default)]
    pub refused: u64,
}

/// One key's day. Serialised compactly as the usage item's `detail`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayUsage {
    pub requests: u64,
    /// `2xx`, `4xx`, `5xx` (and `1xx`, `3xx` when any).
    #[serde(default)]
    pub by_status: BTreeMap<String, u64>,
    /// Refusals by code.
    #[serde(default)]
    pub refused: BTreeMap<String, u64>,
    #[serde(default)]
    pub routes: BTreeMap<String, Count>,
    #[serde(default)]
    pub formats: BTreeMap<String, Count>,
    #[serde(default)]
    pub source_ips: BTreeMap<String, SourceCount>,
    #[serde(default)]
    pub user_agents: BTreeMap<String, u64>,
    #[serde(default)]
    pub other: Other,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The UTC day (`YYYY-MM-DD`) of a time in milliseconds since the epoch.
pub fn day_of_ms(at_ms: i64) -> String {
    let mut day = crate::clock::rfc3339(at_ms.div_euclid(1000));
    day.truncate(10);
    day
}

impl DayUsage {
    /// Counts one request.
    pub fn add(&mut self, line: &UsageLine) {
        let refused = u64::from(line.refused.is_some());
        self.requests += 1;
        *self.by_status.entry(format!("{}xx", line.status / 100)).or_default() += 1;
        if let Some(code) = &line.refused {
            *self.refused.entry(code.clone()).or_default() += 1;
        }
        let one = Count { requests: 1, refused };
        if let Some(route) = &line.route {
            self.routes.entry(route.clone()).or_default().add(one);
        }
        if let Some(format) = &line.format {
            self.formats.entry(format.clone()).or_default().add(one);
        }
        if let Some(ip) = &line.ip {
            let seen = SourceCount { requests: 1, refused, first_seen_ms: line.at_ms };
            self.source_ips.entry(ip.clone()).and_modify(|s| s.add(seen)).or_insert(seen);
        }
        if let Some(agent) = &line.user_agent {
            *self.user_agents.entry(agent.clone()).or_default() += 1;
        }
    }

    /// Adds `other`'s counts (a batch's) into this day, then bounds it.
    pub fn merge(&mut self, other: &DayUsage) {
        self.requests += other.requests;
        add_all(&mut self.by_status, &other.by_status, |a, b| *a += b);
        add_all(&mut self.refused, &other.refused, |a, b| *a += b);
        add_all(&mut self.routes, &other.routes, |a, b| a.add(*b));
        add_all(&mut self.formats, &other.formats, |a, b| a.add(*b));
        add_all(&mut self.source_ips, &other.source_ips, |a, b| a.add(*b));
        add_all(&mut self.user_agents, &other.user_agents, |a, b| *a += b);
        self.other.routes += other.other.routes;
        self.other.formats += other.other.formats;
        self.other.source_ips += other.other.source_ips;
        self.other.user_agents += other.other.user_agents;
        self.other.refused += other.other.refused;
        self.bound();
    }

    /// Keeps the busiest entries of each list, summing the rest into `other`.
    pub fn bound(&mut self) {
        self.other.routes += shed(&mut self.routes, MAX_ROUTES, |c| c.requests);
        self.other.formats += shed(&mut self.formats, MAX_FORMATS, |c| c.requests);
        self.other.source_ips += shed(&mut self.source_ips, MAX_SOURCE_IPS, |c| c.requests);
        self.other.user_agents += shed(&mut self.user_agents, MAX_USER_AGENTS, |n| *n);
        self.other.refused += shed(&mut self.refused, MAX_REFUSAL_CODES, |n| *n);
    }

    /// Refusals, all codes together.
    pub fn refused_total(&self) -> u64 {
        self.refused.values().fold(self.other.refused, |sum, n| sum.saturating_add(*n))
    }
}

impl Count {
    fn add(&mut self, other: Count) {
        self.requests += other.requests;
        self.refused += other.refused;
    }
}

impl SourceCount {
    fn add(&mut self, other: SourceCount) {
        self.requests += other.requests;
        self.refused += other.refused;
        self.first_seen_ms = self.first_seen_ms.min(other.first_seen_ms);
    }
}

fn add_all<V: Copy>(into: &mut BTreeMap<String, V>, from: &BTreeMap<String, V>, add: impl Fn(&mut V, &V)) {
    for (name, value) in from {
        match into.get_mut(name) {
            Some(existing) => add(existing, value),
            None => {
                into.insert(name.clone(), *value);
            }
        }
    }
}

/// Removes all but the `cap` busiest entries (ties: the first by name stays), returning the
/// requests removed.
fn shed<V>(map: &mut BTreeMap<String, V>, cap: usize, requests: impl Fn(&V) -> u64) -> u64 {
    if map.len() <= cap {
        return 0;
    }
    let mut ranked: Vec<(u64, String)> = map.iter().map(|(name, v)| (requests(v), name.clone())).collect();
    ranked.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    ranked[cap..].iter().map(|(_, name)| map.remove(name).map_or(0, |v| requests(&v))).sum()
}

/// A batch's lines, added up per (key, day): what the aggregator writes, one item per entry.
pub fn aggregate<'a>(lines: impl IntoIterator<Item = &'a UsageLine>) -> BTreeMap<DayKey, DayUsage> {
    let mut days: BTreeMap<DayKey, DayUsage> = BTreeMap::new();
    for line in lines {
        let key = DayKey { org_id: line.org_id.clone(), key_id: line.key_id.clone(), day: day_of_ms(line.at_ms) };
        days.entry(key).or_default().add(line);
    }
    for day in days.values_mut() {
        day.bound();
    }
    days
}

#[cfg(test)]
mod tests {
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
        let batch =
            aggregate(&[line(1_000, 500, "203.0.113.7", Some("expired_api_key"))]).into_values().next().unwrap();
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
}
