//! Least privilege from evidence: the `PATCH` body that would restrict a key to exactly what it
//! did in the last 30 days (its requests that were not refused).
//!
//! A list is suggested only when the evidence covers it; otherwise the field is left out, which a
//! `PATCH` reads as "leave as it is":
//! - `permissions`: the table's permission of each route used (`write` covering `read` of the same
//!   resource); left out when a route outside the table was used (a restricted key could no
//!   longer call it) or when some routes were summed into `other`;
//! - `formats`: the formats named by the routes used; left out when none was named, or some were
//!   summed into `other`, or more than the 50 a key may hold;
//! - `allowed_ips`: the networks used, IPv4 as /24 and IPv6 as /64 (a client's address moves
//!   within its network); left out when addresses were summed into `other` or more than 20
//!   networks were used.
//!
//! No traffic at all suggests nothing: `{}`.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use ipnet::IpNet;
use serde::Serialize;

use super::day::DayUsage;
use crate::restrictions::{Access, MAX_ALLOWED_IPS, MAX_FORMATS, MAX_PERMISSIONS, Permission, routes};

/// The days of evidence.
pub const EVIDENCE_DAYS: i64 = 30;

/// Routes of this service itself, callable with any key and not behind the authorizer: they say
/// nothing about the downstream routes a key needs.
pub const OWN_ROUTES: [&str; 1] = ["GET /verify"];

/// The suggestion, shaped as the `PATCH` body.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct Suggestion {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permissions: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub formats: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_ips: Option<Vec<String>>,
}

/// The suggestion from a key's stored days.
pub fn suggest<'a>(days: impl IntoIterator<Item = &'a DayUsage>) -> Suggestion {
    let mut routes_used = BTreeSet::new();
    let mut formats = BTreeSet::new();
    let mut networks = BTreeSet::new();
    let (mut routes_complete, mut formats_complete, mut networks_complete) = (true, true, true);
    for day in days {
        routes_used.extend(day.routes.iter().filter(|(_, c)| c.requests > c.refused).map(|(r, _)| r.as_str()));
        formats.extend(day.formats.iter().filter(|(_, c)| c.requests > c.refused).map(|(f, _)| f.clone()));
        networks.extend(
            day.source_ips
                .iter()
                .filter(|(_, s)| s.requests > s.refused)
                .filter_map(|(ip, _)| network_of(ip.parse().ok()?)),
        );
        routes_complete &= day.other.routes == 0;
        formats_complete &= day.other.formats == 0;
        networks_complete &= day.other.source_ips == 0;
    }
    Suggestion {
        permissions: routes_complete.then(|| permissions(&routes_used)).flatten(),
        formats: (formats_complete && !formats.is_empty() && formats.len() <= MAX_FORMATS)
            .then(|| formats.into_iter().collect()),
        allowed_ips: (networks_complete && !networks.is_empty() && networks.len() <= MAX_ALLOWED_IPS)
            .then(|| networks.iter().map(IpNet::to_string).collect()),
    }
}

/// The permissions the routes need, fewest first: `None` when a route outside the table was used
/// or none needs one.
fn permissions(routes_used: &BTreeSet<&str>) -> Option<Vec<String>> {
    let mut needed: BTreeMap<crate::restrictions::Resource, Access> = BTreeMap::new();
    for route in routes_used.iter().filter(|r| !OWN_ROUTES.contains(r)) {
        let rule = routes::find_route_key(route)?;
        if let Some(p) = rule.required_permission() {
            let access = needed.entry(p.resource).or_insert(p.access);
            if p.access == Access::Write {
                *access = Access::Write;
            }
        }
    }
    let list: Vec<String> =
        needed.into_iter().map(|(resource, access)| Permission::new(resource, access).to_string()).collect();
    (!list.is_empty() && list.len() <= MAX_PERMISSIONS).then_some(list)
}

/// The network an address is suggested as: IPv4 /24, IPv6 /64.
fn network_of(ip: IpAddr) -> Option<IpNet> {
    let prefix = if ip.is_ipv4() { 24 } else { 64 };
    IpNet::new(ip, prefix).ok().map(|n| n.trunc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usage::day::{Count, SourceCount};

    fn day(routes: &[(&str, u64, u64)], formats: &[(&str, u64)], ips: &[(&str, u64, u64)]) -> DayUsage {
        let mut usage = DayUsage::default();
        for (route, requests, refused) in routes {
            usage.routes.insert((*route).into(), Count { requests: *requests, refused: *refused });
        }
        for (format, requests) in formats {
            usage.formats.insert((*format).into(), Count { requests: *requests, refused: 0 });
        }
        for (ip, requests, refused) in ips {
            usage
                .source_ips
                .insert((*ip).into(), SourceCount { requests: *requests, refused: *refused, first_seen_ms: 0 });
        }
        usage
    }

    #[test]
    fn exactly_what_the_key_did() {
        let days = [
            day(&[("GET /v1/runs/{run_id}", 3, 0)], &[], &[("203.0.113.7", 3, 0)]),
            day(
                &[("POST /v1/generations/{format}", 5, 0), ("GET /verify", 1, 0), ("POST /v1/files", 2, 2)],
                &[("pdf", 5)],
                &[("203.0.113.200", 5, 0), ("198.51.100.7", 2, 2)],
            ),
        ];
        let s = suggest(&days);
        assert_eq!(s.permissions, Some(vec!["generations:write".into(), "runs:read".into()]));
        assert_eq!(s.formats, Some(vec!["pdf".into()]));
        assert_eq!(s.allowed_ips, Some(vec!["203.0.113.0/24".into()]), "refused traffic is no evidence");
        let body = serde_json::to_value(&s).unwrap();
        let patch = crate::requests::parse_key_update(body.to_string().as_bytes()).unwrap();
        assert!(patch.restrictions.permissions.is_some(), "a PATCH body the API takes");
    }

    #[test]
    fn write_covers_read_and_whoami_needs_nothing() {
        let s = suggest(&[day(
            &[
                ("GET /v1/generations/{generation_id}", 1, 0),
                ("POST /v1/generations/{format}", 1, 0),
                ("GET /v1/whoami", 1, 0),
            ],
            &[],
            &[("2001:db8::7", 1, 0)],
        )]);
        assert_eq!(s.permissions, Some(vec!["generations:write".into()]));
        assert_eq!(s.formats, None, "no format named: left as it is");
        assert_eq!(s.allowed_ips, Some(vec!["2001:db8::/64".into()]));
        assert_eq!(suggest(&[day(&[("GET /v1/whoami", 1, 0)], &[], &[])]).permissions, None, "nothing needed");
    }

    #[test]
    fn incomplete_evidence_leaves_a_list_out() {
        let s = suggest(&[day(&[("GET /v1/runs/{run_id}", 1, 0), ("GET /v1/{proxy+}", 1, 0)], &[], &[])]);
        assert_eq!(s.permissions, None, "a route outside the table");
        let mut crowded = day(&[("GET /v1/runs/{run_id}", 1, 0)], &[("pdf", 1)], &[("203.0.113.7", 1, 0)]);
        crowded.other.routes = 1;
        crowded.other.formats = 1;
        crowded.other.source_ips = 1;
        assert_eq!(suggest(&[crowded]), Suggestion::default());
        let many: Vec<(String, u64, u64)> = (0..21).map(|i| (format!("10.0.{i}.1"), 1, 0)).collect();
        let many: Vec<(&str, u64, u64)> = many.iter().map(|(ip, r, f)| (ip.as_str(), *r, *f)).collect();
        assert_eq!(suggest(&[day(&[], &[], &many)]).allowed_ips, None, "more than 20 networks");
        let twenty = &many[..20];
        assert_eq!(suggest(&[day(&[], &[], twenty)]).allowed_ips.unwrap().len(), 20);
        assert_eq!(serde_json::to_string(&suggest(&[])).unwrap(), "{}");
    }
}
