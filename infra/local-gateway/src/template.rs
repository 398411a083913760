//! What the local gateway reads from `template.yaml`, so it answers exactly as the deployed stage
//! would: the gateway responses (status, headers, body template), the CORS preflight, the
//! access-log format, the stage's and the routes' throttling (`MethodSettings`) and the
//! parameters they use. Nothing here is a second copy of the template.

use std::collections::BTreeMap;

use serde_yaml::Value;

pub const TEMPLATE_YAML: &str = include_str!("../../../template.yaml");

/// One `GatewayResponses` entry, its `!Sub`/`!Ref` values resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayResponse {
    pub status: Option<u16>,
    pub headers: Vec<(String, String)>,
    pub body_template: String,
}

/// The SAM `Cors` block: what the preflight (a mock integration) answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cors {
    pub allow_origin: String,
    pub allow_headers: String,
    pub allow_methods: String,
    pub max_age: String,
}

/// One `MethodSettings` entry's token bucket, its parameters resolved: the stage's (`/*`, `*`)
/// or one route's (`/~1signup`, `POST` → `POST /signup`).
#[derive(Debug, Clone, PartialEq)]
pub struct Throttle {
    /// `*` for the stage's entry.
    pub http_method: String,
    /// The resource path, `~1` decoded (`/signup`); `/*` for the stage's entry.
    pub resource_path: String,
    /// The parameters the rate and the burst come from (`SignupThrottlingRateLimit`, …).
    pub rate_parameter: String,
    pub burst_parameter: String,
    pub rate: f64,
    pub burst: f64,
}

impl Throttle {
    /// The stage's own entry (every method of every resource).
    pub fn is_stage(&self) -> bool {
        self.resource_path == "/*" && self.http_method == "*"
    }
}

#[derive(Debug, Clone)]
pub struct ApiTemplate {
    pub gateway_responses: BTreeMap<String, GatewayResponse>,
    pub cors: Cors,
    pub access_log_format: String,
    /// `MethodSettings` with a throttle, in the template's order (the stage's first).
    pub throttles: Vec<Throttle>,
    /// The authorizer function's `Timeout`: how long API Gateway waits for it.
    pub authorizer_timeout_secs: u64,
    pub parameters: BTreeMap<String, String>,
}

/// Default status of each gateway response type, from AWS's "Gateway response types for API
/// Gateway" page; a type the template does not customise falls back to `DEFAULT_4XX`/`DEFAULT_5XX`
/// with this status.
pub fn default_status(response_type: &str) -> u16 {
    match response_type {
        "BAD_REQUEST_PARAMETERS" | "BAD_REQUEST_BODY" => 400,
        "UNAUTHORIZED" => 401,
        "ACCESS_DENIED"
        | "EXPIRED_TOKEN"
        | "INVALID_API_KEY"
        | "INVALID_SIGNATURE"
        | "MISSING_AUTHENTICATION_TOKEN"
        | "WAF_FILTERED" => 403,
        "RESOURCE_NOT_FOUND" => 404,
        "REQUEST_TOO_LARGE" => 413,
        "UNSUPPORTED_MEDIA_TYPE" => 415,
        "QUOTA_EXCEEDED" | "THROTTLED" => 429,
        "INTEGRATION_FAILURE" | "INTEGRATION_TIMEOUT" => 504,
        _ => 500,
    }
}

impl ApiTemplate {
    /// Parses the template; `parameter` overrides a parameter's default (e.g. the CORS origin).
    pub fn load(parameter: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let t: Value = serde_yaml::from_str(TEMPLATE_YAML).map_err(|e| format!("template.yaml: {e}"))?;
        let mut parameters = BTreeMap::new();
        for (name, p) in t["Parameters"].as_mapping().ok_or("template.yaml has no Parameters")? {
            let name = name.as_str().unwrap_or_default().to_owned();
            let default = match &p["Default"] {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => String::new(),
            };
            parameters.insert(name.clone(), parameter(&name).unwrap_or(default));
        }
        let api = &t["Resources"]["Api"]["Properties"];
        let resolve = |v: &Value| resolve(v, &parameters);
        let mut gateway_responses = BTreeMap::new();
        for (kind, entry) in api["GatewayResponses"].as_mapping().ok_or("no GatewayResponses")? {
            // The template quotes every status code, as API Gateway's API types it (a string).
            let status = match entry["StatusCode"].as_str() {
                Some(s) => Some(s.parse().map_err(|_| format!("bad StatusCode {s}"))?),
                None => None,
            };
            let mut headers = Vec::new();
            if let Some(map) = entry["ResponseParameters"]["Headers"].as_mapping() {
                for (name, value) in map {
                    headers.push((name.as_str().unwrap_or_default().to_owned(), unquote(&resolve(value))));
                }
            }
            let body_template = entry["ResponseTemplates"]["application/json"].as_str().unwrap_or_default().to_owned();
            gateway_responses.insert(
                kind.as_str().unwrap_or_default().to_owned(),
                GatewayResponse { status, headers, body_template },
            );
        }
        let cors = &api["Cors"];
        let cors = Cors {
            allow_origin: unquote(&resolve(&cors["AllowOrigin"])),
            allow_headers: unquote(&resolve(&cors["AllowHeaders"])),
            allow_methods: unquote(&resolve(&cors["AllowMethods"])),
            max_age: unquote(&resolve(&cors["MaxAge"])),
        };
        let access_log_format = api["AccessLogSetting"]["Format"].as_str().ok_or("no AccessLogSetting")?.to_owned();
        let mut throttles = Vec::new();
        for setting in api["MethodSettings"].as_sequence().ok_or("no MethodSettings")? {
            let (Some(rate_parameter), Some(burst_parameter)) =
                (reference(&setting["ThrottlingRateLimit"]), reference(&setting["ThrottlingBurstLimit"]))
            else {
                continue;
            };
            let number = |name: &str| {
                parameters
                    .get(name)
                    .and_then(|v| v.parse::<f64>().ok())
                    .ok_or(format!("parameter {name} is not a number"))
            };
            let path = setting["ResourcePath"].as_str().ok_or("a MethodSettings entry without ResourcePath")?;
            throttles.push(Throttle {
                http_method: setting["HttpMethod"].as_str().unwrap_or("*").to_owned(),
                // A patch path: `/` then the resource path with `/` as `~1` and `~` as `~0`
                // (`/~1signup` is `/signup`); `/*` is every resource.
                resource_path: match path {
                    "/*" => path.to_owned(),
                    _ => path.strip_prefix('/').unwrap_or(path).replace("~1", "/").replace("~0", "~"),
                },
                rate: number(&rate_parameter)?,
                burst: number(&burst_parameter)?,
                rate_parameter,
                burst_parameter,
            });
        }
        let authorizer_timeout_secs =
            t["Resources"]["AuthorizerFunction"]["Properties"]["Timeout"].as_u64().ok_or("no authorizer Timeout")?;
        Ok(ApiTemplate { gateway_responses, cors, access_log_format, throttles, authorizer_timeout_secs, parameters })
    }

    /// The entry API Gateway uses for `response_type`: its own, else the `DEFAULT_4XX`/`5XX`
    /// fallback with the type's default status.
    pub fn gateway_response(&self, response_type: &str) -> GatewayResponse {
        if let Some(own) = self.gateway_responses.get(response_type) {
            let mut own = own.clone();
            own.status = own.status.or(Some(default_status(response_type)));
            return own;
        }
        let status = default_status(response_type);
        let fallback = if status >= 500 { "DEFAULT_5XX" } else { "DEFAULT_4XX" };
        let mut entry = self.gateway_responses.get(fallback).cloned().unwrap_or(GatewayResponse {
            status: None,
            headers: Vec::new(),
            body_template: String::new(),
        });
        entry.status = Some(status);
        entry
    }
}

/// Substitutes `$context.x.y` as API Gateway does in gateway-response and access-log templates:
/// a variable with no value becomes the empty string. Gateway responses have no `$util`, so a
/// value is inserted as it is; the tests keep every value the authorizer emits JSON-safe.
pub fn render(template: &str, context: &impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(at) = rest.find("$context.") {
        out.push_str(&rest[..at]);
        let after = &rest[at + "$context.".len()..];
        let len = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.')).unwrap_or(after.len());
        let name = after[..len].trim_end_matches('.');
        out.push_str(&context(name).unwrap_or_default());
        rest = &after[name.len()..];
    }
    out.push_str(rest);
    out
}

/// `!Sub "…${Param}…"` or a plain string (what the gateway responses and `Cors` use), with the
/// parameters' values; any other tag resolves to nothing.
fn resolve(value: &Value, parameters: &BTreeMap<String, String>) -> String {
    match value {
        Value::Tagged(tagged) if tagged.tag == "!Sub" => {
            let mut s = tagged.value.as_str().unwrap_or_default().to_owned();
            for (name, v) in parameters {
                s = s.replace(&format!("${{{name}}}"), v);
            }
            s
        }
        Value::String(s) => s.clone(),
        _ => String::new(),
    }
}

/// `!Ref Name` → `Name`.
fn reference(value: &Value) -> Option<String> {
    match value {
        Value::Tagged(tagged) if tagged.tag == "!Ref" => tagged.value.as_str().map(str::to_owned),
        _ => None,
    }
}

/// Header values in API Gateway are static strings in single quotes: `'Origin'` → `Origin`.
fn unquote(value: &str) -> String {
    value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')).unwrap_or(value).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_loads_with_its_defaults_and_overrides() {
        let t = ApiTemplate::load(|_| None).unwrap();
        assert_eq!(t.cors.allow_origin, "https://dashboard.overten.com");
        assert!(t.cors.allow_methods.contains("DELETE"));
        let denied = t.gateway_response("ACCESS_DENIED");
        assert_eq!(denied.status, Some(403));
        assert!(
            denied.headers.contains(&("Access-Control-Allow-Origin".into(), "https://dashboard.overten.com".into()))
        );
        let t = ApiTemplate::load(|name| (name == "CorsAllowedOrigin").then(|| "http://127.0.0.1:1".into())).unwrap();
        assert_eq!(t.cors.allow_origin, "http://127.0.0.1:1");
        assert_eq!(t.authorizer_timeout_secs, 6);
    }

    #[test]
    fn default_statuses_are_aws_s_table() {
        // "Gateway response types for API Gateway": every type and its default status.
        let table = [
            ("ACCESS_DENIED", 403),
            ("API_CONFIGURATION_ERROR", 500),
            ("AUTHORIZER_CONFIGURATION_ERROR", 500),
            ("AUTHORIZER_FAILURE", 500),
            ("BAD_REQUEST_PARAMETERS", 400),
            ("BAD_REQUEST_BODY", 400),
            ("EXPIRED_TOKEN", 403),
            ("INTEGRATION_FAILURE", 504),
            ("INTEGRATION_TIMEOUT", 504),
            ("INVALID_API_KEY", 403),
            ("INVALID_SIGNATURE", 403),
            ("MISSING_AUTHENTICATION_TOKEN", 403),
            ("QUOTA_EXCEEDED", 429),
            ("REQUEST_TOO_LARGE", 413),
            ("RESOURCE_NOT_FOUND", 404),
            ("THROTTLED", 429),
            ("UNAUTHORIZED", 401),
            ("UNSUPPORTED_MEDIA_TYPE", 415),
            ("WAF_FILTERED", 403),
        ];
        for (kind, status) in table {
            assert_eq!(default_status(kind), status, "{kind}");
        }
    }

    #[test]
    fn only_sub_and_plain_strings_resolve() {
        let parameters = BTreeMap::from([("Origin".to_owned(), "https://a.example".to_owned())]);
        let yaml = |text: &str| serde_yaml::from_str::<Value>(text).unwrap();
        assert_eq!(resolve(&yaml("!Sub \"'${Origin}'\""), &parameters), "'https://a.example'");
        assert_eq!(resolve(&yaml("'plain'"), &parameters), "plain");
        assert_eq!(resolve(&yaml("!GetAtt Origin.Arn"), &parameters), "");
        assert_eq!(resolve(&yaml("42"), &parameters), "");
    }

    #[test]
    fn numeric_parameter_defaults_are_read() {
        let t = ApiTemplate::load(|_| None).unwrap();
        assert_eq!(t.parameters["ThrottlingRateLimit"], "1000");
        assert_eq!(t.parameters["SignupThrottlingBurstLimit"], "10");
        assert_eq!(t.parameters["Stage"], "dev");
    }

    #[test]
    fn method_settings_are_the_stage_and_route_buckets() {
        let t = ApiTemplate::load(|name| (name == "SignupThrottlingBurstLimit").then(|| "3".into())).unwrap();
        assert!(t.throttles[0].is_stage(), "{:?}", t.throttles);
        assert_eq!(t.throttles[0].rate_parameter, "ThrottlingRateLimit");
        let signup = t.throttles.iter().find(|s| s.resource_path == "/signup").unwrap();
        assert_eq!((signup.http_method.as_str(), signup.rate, signup.burst), ("POST", 5.0, 3.0));
        let scanning = t.throttles.iter().find(|s| s.resource_path == "/secret-scanning/github").unwrap();
        assert_eq!(scanning.http_method, "POST");
        assert_eq!(scanning.rate_parameter, "SecretScanningThrottlingRateLimit");
    }

    #[test]
    fn uncustomised_types_fall_back_with_their_default_status() {
        let t = ApiTemplate::load(|_| None).unwrap();
        let waf = t.gateway_response("WAF_FILTERED");
        assert_eq!(waf.status, Some(403));
        assert_eq!(waf.body_template, t.gateway_responses["DEFAULT_4XX"].body_template);
        let api = t.gateway_response("API_CONFIGURATION_ERROR");
        assert_eq!(api.status, Some(500));
        assert_eq!(api.body_template, t.gateway_responses["DEFAULT_5XX"].body_template);
    }

    #[test]
    fn render_substitutes_and_blanks_missing_variables() {
        let context = |name: &str| match name {
            "requestId" => Some("r-1".to_owned()),
            "authorizer.error_code" => Some("invalid_api_key".to_owned()),
            _ => None,
        };
        assert_eq!(
            render(r#"{"a":"$context.requestId","b":"$context.authorizer.error_code","c":"$context.nope."}"#, &context),
            r#"{"a":"r-1","b":"invalid_api_key","c":"."}"#
        );
        assert_eq!(render("no variables", &context), "no variables");
    }
}
