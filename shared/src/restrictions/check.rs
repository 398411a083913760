//! The rule: whether a restricted key may make a request. Pure, no I/O: the authorizer and
//! `/verify` call it with the record their one read returned.

use std::net::IpAddr;

use super::networks::{allows, parse_source};
use super::{Permission, Restrictions, is_format_slug};

/// What a request asks of a key, as the route table reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteMatch<'a> {
    /// A route of the table: the permission it needs (none: any valid key), and the format its
    /// path names (`Some("")` or an unknown value when the route names one the request lacks).
    Known { permission: Option<Permission>, format: Option<&'a str> },
    /// A route missing from the table (`METHOD /path`): refused to keys restricted in what they
    /// may call.
    Unknown(&'a str),
    /// No route: `/verify` asking only about the caller's address and, if given, an action.
    Action { permission: Option<Permission>, format: Option<&'a str> },
}

/// Why a restricted key was refused: `403 permission_denied`, the message naming what is missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denied {
    Permission(Permission),
    /// The format, when it is a format slug (only slugs are echoed back).
    Format(Option<String>),
    /// The source address, when the request had one that parsed.
    Address(Option<IpAddr>),
    /// `METHOD /path` of a route missing from the table, when it is safe to echo.
    Route(Option<String>),
}

impl Denied {
    /// The contract's message.
    pub fn message(&self) -> String {
        match self {
            Denied::Permission(p) => format!("this key lacks {p}"),
            Denied::Format(Some(f)) => format!("this key may not act on format {f}"),
            Denied::Format(None) => "this key may not act on this format".into(),
            Denied::Address(Some(ip)) => format!("this key may not be used from {ip}"),
            Denied::Address(None) => "this key may not be used from an unknown source address".into(),
            Denied::Route(Some(route)) => {
                format!("this key may not call {route}: restricted keys call only the routes of the route table")
            }
            Denied::Route(None) => {
                "this key may not call this route: restricted keys call only the routes of the route table".into()
            }
        }
    }

    /// The body's `required` object: the permission or the format that is missing (`null` for
    /// the other, and for both when the refusal is about the address or the route).
    pub fn required(&self) -> serde_json::Value {
        let (permission, format) = match self {
            Denied::Permission(p) => (Some(p.to_string()), None),
            Denied::Format(f) => (None, f.clone()),
            Denied::Address(_) | Denied::Route(_) => (None, None),
        };
        serde_json::json!({"permission": permission, "format": format})
    }
}

impl Restrictions {
    /// Whether the key may make a request from `source` (API Gateway's `sourceIp`) to `route`.
    /// An unrestricted key may make every request. The address is judged first: a key used from
    /// outside its networks is refused whatever it asks.
    pub fn check(&self, route: RouteMatch<'_>, source: Option<&str>) -> Result<(), Denied> {
        if let Some(networks) = &self.allowed_ips {
            let address = source.and_then(parse_source);
            if !address.is_some_and(|a| allows(networks, a)) {
                return Err(Denied::Address(address));
            }
        }
        match route {
            RouteMatch::Known { permission, format } | RouteMatch::Action { permission, format } => {
                self.check_action(permission, format)
            }
            RouteMatch::Unknown(_) if self.permissions.is_none() && self.formats.is_none() => Ok(()),
            RouteMatch::Unknown(name) => Err(Denied::Route(safe_route(name).then(|| name.to_owned()))),
        }
    }

    /// Whether the key may take an action needing `permission` on `format`: what a downstream
    /// service checks for what the gate cannot see (with the lists from the authorizer's context).
    pub fn check_action(&self, permission: Option<Permission>, format: Option<&str>) -> Result<(), Denied> {
        if let (Some(held), Some(needed)) = (&self.permissions, permission)
            && !held.iter().any(|p| p.grants(needed))
        {
            return Err(Denied::Permission(needed));
        }
        if let (Some(formats), Some(format)) = (&self.formats, format)
            && !formats.iter().any(|f| f == format)
        {
            return Err(Denied::Format(is_format_slug(format).then(|| format.to_owned())));
        }
        Ok(())
    }
}

/// A route name echoed in a message only when it is the `METHOD /path` shape API Gateway's
/// resources have: the gateway response inserts the message into its JSON without escaping.
fn safe_route(name: &str) -> bool {
    name.len() <= 200 && super::routes::check_route(name).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::restrictions::{RestrictionsPatch, routes};

    fn key(permissions: &[&str], formats: &[&str], ips: &[&str]) -> Restrictions {
        let list = |l: &[&str]| (!l.is_empty()).then(|| Some(l.iter().map(|s| s.to_string()).collect()));
        RestrictionsPatch::parse((list(permissions), list(formats), list(ips))).unwrap().apply(&Restrictions::default())
    }

    fn at(route: &str, format: Option<&'static str>) -> RouteMatch<'static> {
        let rule = routes::find_route_key(route).expect("a route of the table");
        RouteMatch::Known { permission: rule.required_permission(), format }
    }

    #[test]
    fn the_contract_example_generations_write_and_pdf() {
        let k = key(&["generations:write"], &["pdf"], &[]);
        let ip = Some("198.51.100.1");
        assert_eq!(k.check(at("POST /v1/generations/{format}", Some("pdf")), ip), Ok(()));
        assert_eq!(k.check(at("GET /v1/generations/{generation_id}", None), ip), Ok(()), "write includes read");
        assert_eq!(
            k.check(at("POST /v1/generations/{format}", Some("docx")), ip),
            Err(Denied::Format(Some("docx".into())))
        );
        let denied = k.check(at("GET /v1/runs/{run_id}", None), ip).unwrap_err();
        assert_eq!(denied.message(), "this key lacks runs:read");
        assert_eq!(k.check(at("GET /v1/whoami", None), ip), Ok(()), "any valid key");
        assert_eq!(k.check(RouteMatch::Unknown("GET /v1/other"), ip), Err(Denied::Route(Some("GET /v1/other".into()))));
        let unrestricted = Restrictions::default();
        for route in [at("GET /v1/runs/{run_id}", None), RouteMatch::Unknown("GET /v1/other")] {
            assert_eq!(unrestricted.check(route, None), Ok(()));
        }
    }

    #[test]
    fn networks_are_judged_first_and_fail_closed() {
        let k = key(&["runs:read"], &[], &["203.0.113.0/24", "2001:db8::/32"]);
        let runs = at("GET /v1/runs/{run_id}", None);
        assert_eq!(k.check(runs, Some("203.0.113.7")), Ok(()));
        assert_eq!(k.check(runs, Some("2001:db8::7")), Ok(()));
        assert_eq!(k.check(runs, Some("::ffff:203.0.113.7")), Ok(()), "IPv4-mapped is its IPv4 address");
        let outside = k.check(runs, Some("198.51.100.7")).unwrap_err();
        assert_eq!(outside.message(), "this key may not be used from 198.51.100.7");
        assert_eq!(k.check(runs, None), Err(Denied::Address(None)), "no source address: refused");
        assert_eq!(k.check(runs, Some("bogus")), Err(Denied::Address(None)));
        // Outside the networks, even a route it may call is refused for the address.
        assert!(matches!(k.check(at("POST /v1/runs", None), Some("198.51.100.7")), Err(Denied::Address(_))));
        // Only networks: any route of the table, and routes outside it too (it restricts where from,
        // not what).
        let only_ips = key(&[], &[], &["203.0.113.0/24"]);
        assert_eq!(only_ips.check(RouteMatch::Unknown("GET /v1/other"), Some("203.0.113.1")), Ok(()));
        assert_eq!(only_ips.check(at("POST /v1/files", None), Some("203.0.113.1")), Ok(()));
    }

    #[test]
    fn formats_only_and_what_is_echoed() {
        let k = key(&[], &["pdf"], &[]);
        assert_eq!(k.check(at("POST /v1/runs", None), None), Ok(()), "no permission list: any permission");
        assert_eq!(k.check(at("POST /v1/generations/{format}", Some("pdf")), None), Ok(()));
        let odd = k.check(at("POST /v1/generations/{format}", Some("\"}x")), None).unwrap_err();
        assert_eq!(odd, Denied::Format(None), "a value that is no slug is never echoed");
        assert!(matches!(k.check(RouteMatch::Unknown("GET /v1/other"), None), Err(Denied::Route(_))));
        assert_eq!(
            k.check(RouteMatch::Unknown("GET /v1/\"x"), None),
            Err(Denied::Route(None)),
            "an odd route is not echoed"
        );
        assert!(Denied::Route(None).message().contains("this route"));
        assert!(Denied::Address(None).message().contains("unknown source address"));
        assert!(Denied::Format(None).message().contains("this format"));
        // A downstream service's check, from the authorizer's context.
        let ctx = Restrictions::from_authorizer_context(Some("files:write,runs:read"), Some("pdf,docx")).unwrap();
        assert_eq!(ctx.check_action(Permission::parse("files:read"), Some("docx")), Ok(()));
        assert!(ctx.check_action(Permission::parse("generations:read"), None).is_err());
        assert!(ctx.check_action(None, Some("csv")).is_err());
        assert_eq!(Restrictions::from_authorizer_context(None, None).unwrap(), Restrictions::default());
        assert!(Restrictions::from_authorizer_context(Some("files:delete"), None).is_err());
        assert!(Restrictions::from_authorizer_context(None, Some("PDF")).is_err());
        assert_eq!(ctx.permissions_csv().as_deref(), Some("files:write,runs:read"));
        assert_eq!(ctx.formats_csv().as_deref(), Some("pdf,docx"));
        assert!(ctx.is_restricted() && !Restrictions::default().is_restricted());
        // Any one list makes a key restricted (the authorizer judges only restricted keys).
        for one in [key(&["runs:read"], &[], &[]), key(&[], &["pdf"], &[]), key(&[], &[], &["192.0.2.1"])] {
            assert!(one.is_restricted(), "{one:?}");
        }
    }
}
