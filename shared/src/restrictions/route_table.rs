//! THE ROUTE TABLE: what each downstream route needs from a restricted key.
//!
//! Teams that own a downstream route add one line here (README, "Restricted keys"):
//! - `route`: `METHOD /path/{param}` exactly as the REST API's resource (`resource` +
//!   `httpMethod`) and the HTTP API's `routeKey` name it;
//! - `permission`: `<resource>:<access>` the key must hold (`write` includes `read`), or `None`
//!   for a route any valid key may call (still subject to `allowed_ips`);
//! - `format_from`: the path parameter holding a format slug, checked against the key's `formats`.
//!
//! A route missing here is refused to restricted keys and allowed to unrestricted ones. The table
//! is compiled into the authorizer (nothing is read at cold start); `routes.rs`'s tests keep it
//! well-formed: every route `METHOD /path`, every permission known, every `format_from` a
//! parameter of its path, no route twice.

use super::routes::RouteRule;

pub const ROUTE_TABLE: &[RouteRule] = &[
    RouteRule {
        route: "POST /v1/generations/{format}",
        permission: Some("generations:write"),
        format_from: Some("format"),
    },
    RouteRule { route: "GET /v1/generations/{generation_id}", permission: Some("generations:read"), format_from: None },
    RouteRule { route: "POST /v1/runs", permission: Some("runs:write"), format_from: None },
    RouteRule { route: "GET /v1/runs/{run_id}", permission: Some("runs:read"), format_from: None },
    RouteRule { route: "POST /v1/files", permission: Some("files:write"), format_from: None },
    RouteRule { route: "GET /v1/files/{file_id}", permission: Some("files:read"), format_from: None },
    RouteRule { route: "GET /v1/whoami", permission: None, format_from: None },
];
