//! `allowed_ips`: IPv4 and IPv6 networks, kept in canonical form, and the source-address check.
//!
//! Canonical form: host bits cleared (`203.0.113.9/24` is `203.0.113.0/24`), a bare address is a
//! /32 or /128, IPv6 as `Ipv6Addr` prints it (lower case, zeros compressed), and an IPv4-mapped
//! IPv6 network (`::ffff:203.0.113.0/120`) is its IPv4 network (`203.0.113.0/24`). A source address
//! is compared in the same canonical form, so a dual-stack front end that reports
//! `::ffff:203.0.113.9` matches `203.0.113.0/24` and nothing else does by accident.

use std::net::IpAddr;

pub use ipnet::IpNet;
use ipnet::Ipv4Net;

/// The longest entry that can parse: `ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255/128`, 49
/// characters; anything longer is refused before parsing.
const MAX_ENTRY_LEN: usize = 49;
/// The longest source address: the same without its prefix, 45 characters.
const MAX_SOURCE_LEN: usize = 45;

/// An entry of `allowed_ips`, in canonical form; `None` if it is no address or network.
pub fn parse_network(text: &str) -> Option<IpNet> {
    if text.len() > MAX_ENTRY_LEN {
        return None;
    }
    let net = match text.parse::<IpNet>() {
        Ok(net) => net,
        Err(_) => IpNet::from(text.parse::<IpAddr>().ok()?),
    };
    Some(canonical(net))
}

fn canonical(net: IpNet) -> IpNet {
    match net {
        IpNet::V6(v6) if v6.prefix_len() >= 96 => match v6.addr().to_ipv4_mapped() {
            Some(v4) => IpNet::V4(Ipv4Net::new(v4, v6.prefix_len() - 96).expect("96..=128 minus 96 is a valid prefix")),
            None => net.trunc(),
        },
        _ => net,
    }
    .trunc()
}

/// A request's source address (API Gateway's `sourceIp`) in canonical form: an IPv4-mapped IPv6
/// address as the IPv4 address it is.
pub fn parse_source(text: &str) -> Option<IpAddr> {
    if text.len() > MAX_SOURCE_LEN {
        return None;
    }
    text.parse::<IpAddr>().ok().map(|addr| addr.to_canonical())
}

/// Whether `source` lies in one of `networks`.
pub fn allows(networks: &[IpNet], source: IpAddr) -> bool {
    let source = source.to_canonical();
    networks.iter().any(|net| net.contains(&source))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(text: &str) -> Option<String> {
        parse_network(text).map(|n| n.to_string())
    }

    #[test]
    fn entries_are_kept_in_canonical_form() {
        assert_eq!(shown("203.0.113.0/24").as_deref(), Some("203.0.113.0/24"));
        assert_eq!(shown("203.0.113.9/24").as_deref(), Some("203.0.113.0/24"), "host bits cleared");
        assert_eq!(shown("198.51.100.7").as_deref(), Some("198.51.100.7/32"));
        assert_eq!(shown("2001:DB8:0:0::/32").as_deref(), Some("2001:db8::/32"));
        assert_eq!(shown("2001:db8::1").as_deref(), Some("2001:db8::1/128"));
        assert_eq!(shown("::ffff:203.0.113.0/120").as_deref(), Some("203.0.113.0/24"));
        assert_eq!(shown("::ffff:203.0.113.9").as_deref(), Some("203.0.113.9/32"));
        assert_eq!(shown("::ffff:0:0/96").as_deref(), Some("0.0.0.0/0"));
        assert_eq!(shown("::/0").as_deref(), Some("::/0"), "a short IPv6 prefix is no mapped network");
        assert_eq!(shown("0.0.0.0/0").as_deref(), Some("0.0.0.0/0"));
        for bad in ["", "203.0.113.0/33", "2001:db8::/129", "203.0.113", "localhost", "203.0.113.0/24 ", "1.2.3.4/-1"] {
            assert_eq!(parse_network(bad), None, "{bad:?}");
        }
        assert_eq!(parse_network(&"1".repeat(65)), None);
        // The longest that parses is accepted; the length bound refuses only what cannot.
        let longest = "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255/128";
        assert_eq!((longest.len(), shown(longest).is_some()), (MAX_ENTRY_LEN, true));
        assert!(parse_source(&longest[..MAX_SOURCE_LEN]).is_some());
        assert!(
            parse_network(&format!("{longest} ")).is_none() && parse_source(&format!("{} ", &longest[..45])).is_none()
        );
        // An IPv4-mapped address under a prefix shorter than /96 is an IPv6 network, not IPv4.
        assert_eq!(shown("::ffff:1.2.3.4/80").as_deref(), Some("::/80"));
    }

    #[test]
    fn sources_match_their_networks_ipv4_mapped_included() {
        let nets: Vec<IpNet> = ["203.0.113.0/24", "2001:db8::/32"].iter().map(|t| parse_network(t).unwrap()).collect();
        let ok = |s: &str| allows(&nets, parse_source(s).unwrap());
        assert!(ok("203.0.113.0") && ok("203.0.113.255") && ok("2001:db8::1") && ok("2001:db8:ffff::9"));
        assert!(!ok("203.0.114.0") && !ok("203.0.112.255") && !ok("2001:db9::1") && !ok("::1"));
        assert!(ok("::ffff:203.0.113.9"), "an IPv4-mapped source is its IPv4 address");
        assert!(!ok("::ffff:203.0.114.9"));
        assert_eq!(parse_source("::ffff:203.0.113.9"), Some("203.0.113.9".parse().unwrap()));
        // Without the canonical source, the mapped address would be compared as IPv6.
        assert!(allows(&nets, "::ffff:203.0.113.9".parse().unwrap()));
        assert_eq!(parse_source("not an address"), None);
        assert_eq!(parse_source(&"1".repeat(65)), None);
        assert!(!allows(&[], "203.0.113.1".parse().unwrap()));
    }
}
