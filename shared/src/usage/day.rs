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
mod tests;
