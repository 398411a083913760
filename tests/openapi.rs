//! `openapi.yaml` describes exactly the routes the template deploys and the local gateway serves,
//! and the contract's error codes.

use std::collections::BTreeSet;

use serde_yaml::Value;

fn spec() -> Value {
    serde_yaml::from_str(include_str!("../openapi.yaml")).expect("openapi.yaml parses")
}

fn spec_routes(spec: &Value) -> BTreeSet<String> {
    let mut routes = BTreeSet::new();
    for (path, item) in spec["paths"].as_mapping().unwrap() {
        for (method, _) in item.as_mapping().unwrap() {
            let method = method.as_str().unwrap();
            if ["get", "post", "put", "patch", "delete"].contains(&method) {
                routes.insert(format!("{} {}", method.to_uppercase(), path.as_str().unwrap()));
            }
        }
    }
    routes
}

#[test]
fn the_spec_is_openapi_3_1() {
    assert_eq!(spec()["openapi"].as_str(), Some("3.1.0"));
}

#[test]
fn the_spec_the_template_and_the_gateway_agree_on_routes() {
    let spec = spec();
    let routes = spec_routes(&spec);
    assert_eq!(routes, overten_tests::template_routes());
    for route in &routes {
        let (method, path) = route.split_once(' ').unwrap();
        let concrete = path.replace("{org_id}", "org_1").replace("{key_id}", "key_1");
        assert!(local_gateway::route(method, &concrete).is_some(), "the local gateway does not serve {route}");
    }
    // And the gateway serves nothing the spec does not list.
    for (method, path) in [("GET", "/signup"), ("PUT", "/orgs/org_1/api-keys"), ("GET", "/orgs"), ("GET", "/")] {
        assert!(local_gateway::route(method, path).is_none(), "{method} {path}");
    }
}

#[test]
fn the_spec_lists_every_error_code_of_the_contract() {
    let spec = spec();
    let codes: BTreeSet<&str> =
        spec["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]["enum"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
    use overten::Error;
    let errors = [
        Error::InvalidRequest(String::new()),
        Error::MissingApiKey,
        Error::UnknownApiKey,
        Error::MissingToken,
        Error::InvalidToken(String::new()),
        Error::TokenExpired,
        Error::OrgNotFound,
        Error::KeyNotFound,
        Error::ApiAlreadyEnabled,
        Error::ApiNotEnabled,
        Error::KeyLimitReached(100),
        Error::OrgLimitReached(10),
        Error::ExpiredApiKey,
        Error::KeyAlreadyRolled,
        Error::KeyInactive,
        Error::InvalidSignature,
        Error::PayloadTooLarge(16384),
        Error::RouteNotFound,
        Error::MethodNotAllowed,
        Error::Internal(String::new()),
        Error::Unavailable(String::new()),
        Error::PermissionDenied(overten::restrictions::Denied::Format(None)),
        Error::ApiKeyRefused,
    ];
    let mut ours: BTreeSet<&str> = errors.iter().map(Error::code).collect();
    // And the codes API Gateway answers with itself (the template's gateway responses).
    let template = local_gateway::template::ApiTemplate::load(|_| None).unwrap();
    let gateway_codes: Vec<String> = template
        .gateway_responses
        .values()
        .filter_map(|r| r.body_template.split(r#""code":""#).nth(1)?.split('"').next().map(str::to_owned))
        .filter(|code| !code.starts_with('$'))
        .collect();
    assert!(gateway_codes.iter().any(|c| c == "rate_limited"), "{gateway_codes:?}");
    ours.extend(gateway_codes.iter().map(String::as_str));
    assert_eq!(codes, ours);
}
