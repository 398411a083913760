//! Looking a request's route up in [`ROUTE_TABLE`](super::route_table::ROUTE_TABLE).

use super::Permission;
use super::route_table::ROUTE_TABLE;

/// One line of the route table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteRule {
    /// `METHOD /path/{param}`.
    pub route: &'static str,
    /// `<resource>:<access>`, or `None`: any valid key.
    pub permission: Option<&'static str>,
    /// The path parameter that names a format, if any.
    pub format_from: Option<&'static str>,
}

impl RouteRule {
    /// The permission this route needs (the table's test proves every entry parses).
    pub fn required_permission(&self) -> Option<Permission> {
        self.permission.and_then(Permission::parse)
    }
}

/// The table's line for `METHOD /resource` (REST: `httpMethod` and `resource`), if any.
pub fn find(method: &str, resource: &str) -> Option<&'static RouteRule> {
    ROUTE_TABLE.iter().find(|rule| rule.route.split_once(' ') == Some((method, resource)))
}

/// The table's line for an HTTP API `routeKey` (`POST /v1/runs`), if any.
pub fn find_route_key(route_key: &str) -> Option<&'static RouteRule> {
    ROUTE_TABLE.iter().find(|rule| rule.route == route_key)
}

/// Why a table entry is malformed, if it is.
pub fn check_rule(rule: &RouteRule) -> Result<(), String> {
    let params = check_route(rule.route)?;
    if let Some(p) = rule.permission {
        Permission::parse(p).ok_or(format!("unknown permission {p}"))?;
    }
    if let Some(f) = rule.format_from
        && !params.contains(&f)
    {
        return Err(format!("format_from {f} is not a parameter of {}", rule.route));
    }
    Ok(())
}

/// The path parameters of a well-formed `METHOD /path/{param}`, or why it is not one.
pub fn check_route(route: &str) -> Result<Vec<&str>, String> {
    const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
    let (method, path) = route.split_once(' ').ok_or("not `METHOD /path`")?;
    if !METHODS.contains(&method) {
        return Err(format!("unknown method {method}"));
    }
    let Some(rest) = path.strip_prefix('/') else {
        return Err(format!("path {path} must start with /"));
    };
    let mut params = vec![];
    // `/` alone has no segment; otherwise an empty one (`//`, a trailing `/`) is refused below.
    for segment in rest.split('/').filter(|_| !rest.is_empty()) {
        let name_char = |c: char| c.is_ascii_alphanumeric() || c == '_';
        match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(name) if !name.is_empty() && name.trim_end_matches('+').chars().all(name_char) => params.push(name),
            Some(_) => return Err(format!("bad parameter {segment}")),
            None if !segment.is_empty() && segment.chars().all(|c| name_char(c) || "-.~".contains(c)) => {}
            None => return Err(format!("bad segment {segment:?}")),
        }
    }
    Ok(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_route_table_is_well_formed() {
        for rule in ROUTE_TABLE {
            assert_eq!(check_rule(rule), Ok(()), "{}", rule.route);
        }
        let mut routes: Vec<_> = ROUTE_TABLE.iter().map(|r| r.route).collect();
        routes.sort_unstable();
        let before = routes.len();
        routes.dedup();
        assert_eq!(routes.len(), before, "a route is in the table twice");
        // The contract's seven routes are there.
        assert_eq!(find("POST", "/v1/generations/{format}").unwrap().format_from, Some("format"));
        assert_eq!(find("GET", "/v1/runs/{run_id}").unwrap().required_permission().unwrap().to_string(), "runs:read");
        assert_eq!(find_route_key("GET /v1/whoami").unwrap().permission, None);
        assert!(ROUTE_TABLE.len() >= 7);
    }

    #[test]
    fn malformed_entries_are_refused() {
        let rule = |route, permission, format_from| RouteRule { route, permission, format_from };
        assert!(check_rule(&rule("GET /v1/x", Some("runs:read"), None)).is_ok());
        assert!(check_rule(&rule("GET /v1/{id}", Some("runs:read"), Some("id"))).is_ok());
        assert!(check_rule(&rule("GET /v1/{proxy+}", None, None)).is_ok());
        assert_eq!(check_route("GET /"), Ok(vec![]), "the root is a route");
        assert_eq!(check_route("POST /v1/{a}/x/{b}"), Ok(vec!["a", "b"]));
        for (route, permission, format_from) in [
            ("GET/v1/x", None, None),
            ("FETCH /v1/x", None, None),
            ("get /v1/x", None, None),
            ("GET v1/x", None, None),
            ("GET /v1/x/", None, None),
            ("GET /v1//x", None, None),
            ("GET /v1/{}", None, None),
            ("GET /v1/{a b}", None, None),
            ("GET /v1/a b", None, None),
            ("GET /v1/x", Some("runs:admin"), None),
            ("GET /v1/x", Some("jobs:read"), None),
            ("GET /v1/{id}", None, Some("format")),
            ("GET /v1/format", None, Some("format")),
        ] {
            assert!(
                check_rule(&rule(route, permission, format_from)).is_err(),
                "{route} {permission:?} {format_from:?}"
            );
        }
    }

    #[test]
    fn lookups_match_method_and_path_exactly() {
        assert!(find("GET", "/v1/runs/{run_id}").is_some());
        assert!(find("POST", "/v1/runs/{run_id}").is_none());
        assert!(find("GET", "/v1/runs").is_none());
        assert!(find("GET", "/v1/runs/{run_id}/").is_none());
        assert!(find_route_key("POST /v1/runs").is_some());
        assert!(find_route_key("POST  /v1/runs").is_none());
        assert!(find_route_key("$default").is_none());
    }
}
