//! The usage routes' answers (CONTRACT.md, "Key usage"): the range asked for, a key's days as the
//! contract shapes them (the busiest [`SHOWN`] per list, the rest as `other`, `new` addresses),
//! and the org's days per key.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::day::{DayUsage, day_of_ms};
use crate::error::Error;

/// Entries shown per list and day; the rest are summed as `other`.
pub const SHOWN: usize = 50;
/// The longest range one request may ask for.
pub const MAX_RANGE_DAYS: i64 = 92;
/// The range when none is given: the last 30 days, today included.
pub const DEFAULT_RANGE_DAYS: i64 = 30;
/// An address is `new` on a day when the key did not use it in this many days before.
pub const NEW_AFTER_DAYS: i64 = 30;

const DAY_SECS: i64 = 86_400;

/// A range of UTC days, both ends included, as days since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayRange {
    pub from: i64,
    pub to: i64,
}

impl DayRange {
    /// `?from=YYYY-MM-DD&to=YYYY-MM-DD` (both optional: `to` is today, `from` 29 days before `to`);
    /// at most [`MAX_RANGE_DAYS`] days, `from` not after `to`. Unknown parameters are refused.
    pub fn parse<'a>(params: impl IntoIterator<Item = (&'a str, &'a str)>, now_secs: i64) -> Result<Self, Error> {
        let (mut from, mut to) = (None, None);
        for (name, value) in params {
            match name {
                "from" => from = Some(parse_day(value, "from")?),
                "to" => to = Some(parse_day(value, "to")?),
                other => {
                    let shown: String = other.chars().take(40).collect();
                    return Err(Error::InvalidRequest(format!("unknown query parameter `{shown}`")));
                }
            }
        }
        let to = to.unwrap_or_else(|| now_secs.div_euclid(DAY_SECS));
        let from = from.unwrap_or(to - (DEFAULT_RANGE_DAYS - 1));
        if from > to {
            return Err(Error::InvalidRequest("`from` is after `to`".into()));
        }
        if to - from + 1 > MAX_RANGE_DAYS {
            return Err(Error::InvalidRequest(format!(
                "at most {MAX_RANGE_DAYS} days per request: `from` to `to` spans {} days",
                to - from + 1
            )));
        }
        Ok(DayRange { from, to })
    }

    /// The last `days` days up to and including today.
    pub fn last(days: i64, now_secs: i64) -> Self {
        let to = now_secs.div_euclid(DAY_SECS);
        DayRange { from: to - (days - 1), to }
    }

    /// `YYYY-MM-DD` of each end.
    pub fn from_day(&self) -> String {
        day_name(self.from)
    }

    pub fn to_day(&self) -> String {
        day_name(self.to)
    }

    /// Each day's name, in order.
    pub fn days(&self) -> impl Iterator<Item = String> + use<> {
        (self.from..=self.to).map(day_name)
    }

    /// This range with the [`NEW_AFTER_DAYS`] before it: what must be read to tell `new`.
    pub fn with_lookback(&self) -> DayRange {
        DayRange { from: self.from - NEW_AFTER_DAYS, to: self.to }
    }
}

/// `YYYY-MM-DD` of a day since the epoch.
pub fn day_name(day: i64) -> String {
    day_of_ms(day * DAY_SECS * 1000)
}

fn parse_day(value: &str, field: &str) -> Result<i64, Error> {
    let bad = || Error::InvalidRequest(format!("`{field}` must be a date, YYYY-MM-DD"));
    if value.len() != 10 {
        return Err(bad());
    }
    let secs = crate::clock::parse_rfc3339(&format!("{value}T00:00:00Z")).ok_or_else(bad)?;
    let day = secs.div_euclid(DAY_SECS);
    // The parser may roll 2026-02-30 over; a date is only what it names.
    if day_name(day) != value { Err(bad()) } else { Ok(day) }
}

/// `GET /orgs/{org_id}/api-keys/{key_id}/usage`.
#[derive(Debug, Serialize, PartialEq)]
pub struct KeyUsageReport {
    pub key_id: String,
    pub from: String,
    pub to: String,
    pub days: Vec<DayReport>,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct DayReport {
    pub date: String,
    pub requests: u64,
    pub by_status: BTreeMap<String, u64>,
    pub refused: BTreeMap<String, u64>,
    pub routes: Vec<RouteEntry>,
    pub source_ips: Vec<SourceEntry>,
    pub user_agents: Vec<AgentEntry>,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct RouteEntry {
    pub route: String,
    pub requests: u64,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct SourceEntry {
    pub ip: String,
    pub requests: u64,
    /// RFC 3339; `null` for `other`.
    pub first_seen_at: Option<String>,
    pub new: bool,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct AgentEntry {
    pub user_agent: String,
    pub requests: u64,
}

/// A key's report over `range` from its stored days (`YYYY-MM-DD` → day; the range's days and
/// the [`NEW_AFTER_DAYS`] before it). Every day of the range is listed, a day without requests
/// with zeros.
pub fn key_report(key_id: &str, range: DayRange, stored: &BTreeMap<String, DayUsage>) -> KeyUsageReport {
    let empty = DayUsage::default();
    let days = (range.from..=range.to)
        .map(|day| {
            let date = day_name(day);
            let usage = stored.get(&date).unwrap_or(&empty);
            let seen_before = seen_between(stored, day - NEW_AFTER_DAYS, day - 1);
            day_report(date, usage, &seen_before)
        })
        .collect();
    KeyUsageReport { key_id: key_id.to_owned(), from: range.from_day(), to: range.to_day(), days }
}

/// Every address the key used on the days `from..=to`.
fn seen_between(stored: &BTreeMap<String, DayUsage>, from: i64, to: i64) -> BTreeSet<&str> {
    stored.range(day_name(from)..=day_name(to)).flat_map(|(_, day)| day.source_ips.keys().map(String::as_str)).collect()
}

fn day_report(date: String, usage: &DayUsage, seen_before: &BTreeSet<&str>) -> DayReport {
    let mut by_status: BTreeMap<String, u64> = ["2xx", "4xx", "5xx"].into_iter().map(|c| (c.to_owned(), 0)).collect();
    by_status.extend(usage.by_status.iter().map(|(k, v)| (k.clone(), *v)));
    let mut refused = usage.refused.clone();
    if usage.other.refused > 0 {
        *refused.entry("other".into()).or_default() += usage.other.refused;
    }
    let (routes, other_routes) = busiest(&usage.routes, |c| c.requests);
    let mut routes: Vec<RouteEntry> =
        routes.into_iter().map(|(route, c)| RouteEntry { route: route.clone(), requests: c.requests }).collect();
    push_other(&mut routes, other_routes + usage.other.routes, |requests| RouteEntry {
        route: "other".into(),
        requests,
    });
    let (ips, other_ips) = busiest(&usage.source_ips, |s| s.requests);
    let mut source_ips: Vec<SourceEntry> = ips
        .into_iter()
        .map(|(ip, s)| SourceEntry {
            ip: ip.clone(),
            requests: s.requests,
            first_seen_at: Some(crate::clock::rfc3339(s.first_seen_ms.div_euclid(1000))),
            new: !seen_before.contains(ip.as_str()),
        })
        .collect();
    push_other(&mut source_ips, other_ips + usage.other.source_ips, |requests| SourceEntry {
        ip: "other".into(),
        requests,
        first_seen_at: None,
        new: false,
    });
    let (agents, other_agents) = busiest(&usage.user_agents, |n| *n);
    let mut user_agents: Vec<AgentEntry> =
        agents.into_iter().map(|(agent, n)| AgentEntry { user_agent: agent.clone(), requests: *n }).collect();
    push_other(&mut user_agents, other_agents + usage.other.user_agents, |requests| AgentEntry {
        user_agent: "other".into(),
        requests,
    });
    DayReport { date, requests: usage.requests, by_status, refused, routes, source_ips, user_agents }
}

/// The [`SHOWN`] busiest entries (ties by name), and the requests of the rest.
fn busiest<V>(map: &BTreeMap<String, V>, requests: impl Fn(&V) -> u64) -> (Vec<(&String, &V)>, u64) {
    let mut ranked: Vec<(&String, &V)> = map.iter().collect();
    ranked.sort_by(|a, b| requests(b.1).cmp(&requests(a.1)).then_with(|| a.0.cmp(b.0)));
    let rest = ranked.split_off(ranked.len().min(SHOWN));
    (ranked, rest.iter().map(|(_, v)| requests(v)).sum())
}

fn push_other<T>(list: &mut Vec<T>, requests: u64, entry: impl FnOnce(u64) -> T) {
    if requests > 0 {
        list.push(entry(requests));
    }
}

/// `GET /orgs/{org_id}/usage`.
#[derive(Debug, Serialize, PartialEq)]
pub struct OrgUsageReport {
    pub org_id: String,
    pub from: String,
    pub to: String,
    /// Keys with requests in the range, by key id; each lists its days with requests.
    pub keys: Vec<OrgKeyUsage>,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct OrgKeyUsage {
    pub key_id: String,
    pub requests: u64,
    pub refused: u64,
    pub days: Vec<OrgDay>,
}

/// One key's day in the org's report.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct OrgDay {
    pub date: String,
    pub requests: u64,
    pub refused: u64,
}

/// The org's report from its stored (key id, day) totals.
pub fn org_report(org_id: &str, range: DayRange, stored: Vec<(String, OrgDay)>) -> OrgUsageReport {
    let mut keys: BTreeMap<String, Vec<OrgDay>> = BTreeMap::new();
    for (key_id, day) in stored {
        keys.entry(key_id).or_default().push(day);
    }
    let keys = keys
        .into_iter()
        .map(|(key_id, mut days)| {
            days.sort_by(|a, b| a.date.cmp(&b.date));
            OrgKeyUsage {
                key_id,
                requests: days.iter().map(|d| d.requests).sum(),
                refused: days.iter().map(|d| d.refused).sum(),
                days,
            }
        })
        .collect();
    OrgUsageReport { org_id: org_id.to_owned(), from: range.from_day(), to: range.to_day(), keys }
}

#[cfg(test)]
mod tests;
