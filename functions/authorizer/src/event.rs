//! The authorizer's event, decoded in one pass into what a decision reads.
//!
//! Why not `aws_lambda_events`' request types: decoding was most of the function's own work
//! (README, "Performance": ~3 of its ~4 µs in criterion, and ~11 µs between real GetItems, where
//! the caches are cold). Those types build everything an event holds — `multiValueHeaders` as a
//! second `HeaderMap`, the query maps, stage variables, a dozen `requestContext` strings — and
//! telling REST from HTTP API events took a pass of its own. Here one pass reads `version`, the
//! route (`httpMethod` + `resource`, or `routeKey`), `methodArn`, `headers`, `pathParameters` and
//! the source address (`requestContext.identity.sourceIp` or `requestContext.http.sourceIp`), and
//! skips the rest without building it. Field names and shapes are AWS's
//! ([REST API Lambda authorizer input](https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-lambda-authorizer-input.html),
//! [HTTP API payload 2.0](https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-lambda-authorizer.html));
//! `tests/functions.rs` decodes AWS's own sample events of both kinds with it.

use std::collections::HashMap;

use http::HeaderMap;
use serde::de::{IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// An authorizer invocation: a REST API REQUEST authorizer event, or an HTTP API payload 2.0 one
/// (`"version": "2.0"`).
#[derive(Debug, Clone)]
pub enum AuthorizerEvent {
    Rest(Box<RestRequest>),
    HttpApi(Box<HttpApiRequest>),
}

/// What a REST API REQUEST authorizer event carries that the authorizer reads.
#[derive(Debug, Clone, Default)]
pub struct RestRequest {
    pub method_arn: Option<String>,
    /// `httpMethod`.
    pub http_method: Option<String>,
    /// The resource path with its parameter names (`/v1/generations/{format}`).
    pub resource: Option<String>,
    pub headers: HeaderMap,
    pub path_parameters: HashMap<String, String>,
    /// `requestContext.identity.sourceIp`.
    pub source_ip: Option<String>,
}

/// What an HTTP API payload 2.0 authorizer event carries that the authorizer reads.
#[derive(Debug, Clone, Default)]
pub struct HttpApiRequest {
    /// `routeKey` (`POST /v1/runs`).
    pub route_key: Option<String>,
    pub headers: HeaderMap,
    pub path_parameters: HashMap<String, String>,
    /// `requestContext.http.sourceIp`.
    pub source_ip: Option<String>,
}

/// Both shapes' fields; which one it is, `version` says.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Wire {
    #[serde(deserialize_with = "is_v2")]
    version: bool,
    method_arn: Option<String>,
    http_method: Option<String>,
    resource: Option<String>,
    route_key: Option<String>,
    #[serde(deserialize_with = "overten::headers::deserialize")]
    headers: HeaderMap,
    #[serde(deserialize_with = "nullable")]
    path_parameters: HashMap<String, String>,
    #[serde(deserialize_with = "nullable")]
    request_context: Context,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Context {
    #[serde(deserialize_with = "nullable")]
    identity: Source,
    #[serde(deserialize_with = "nullable")]
    http: Source,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Source {
    source_ip: Option<String>,
}

impl AuthorizerEvent {
    /// Decodes an event from its JSON bytes, in one pass. A payload that is not a JSON object, a
    /// header that is not a string (or not a valid header value), or a known field of the wrong
    /// type is an error whose message names where, never what (see `bad_event`).
    pub fn from_slice(json: &[u8]) -> Result<Self, serde_json::Error> {
        if json.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            // Only an object is an event (serde would fill a struct from an array too).
            return serde_json::from_slice::<std::collections::BTreeMap<String, IgnoredAny>>(json)
                .map(|_| unreachable_object());
        }
        let wire: Wire = serde_json::from_slice(json)?;
        Ok(if wire.version {
            AuthorizerEvent::HttpApi(Box::new(HttpApiRequest {
                route_key: wire.route_key,
                headers: wire.headers,
                path_parameters: wire.path_parameters,
                source_ip: wire.request_context.http.source_ip,
            }))
        } else {
            AuthorizerEvent::Rest(Box::new(RestRequest {
                method_arn: wire.method_arn,
                http_method: wire.http_method,
                resource: wire.resource,
                headers: wire.headers,
                path_parameters: wire.path_parameters,
                source_ip: wire.request_context.identity.source_ip,
            }))
        })
    }

    /// The request's headers, whichever API sent it.
    pub fn headers(&self) -> &HeaderMap {
        match self {
            AuthorizerEvent::Rest(e) => &e.headers,
            AuthorizerEvent::HttpApi(e) => &e.headers,
        }
    }
}

/// `from_slice`'s first branch parses only what is not an object, which a map never accepts.
fn unreachable_object() -> AuthorizerEvent {
    AuthorizerEvent::Rest(Box::default())
}

/// What the Lambda runtime decodes each invocation into: the payload's raw JSON (one copy, no
/// tree) handed to [`AuthorizerEvent::from_slice`].
impl<'de> Deserialize<'de> for AuthorizerEvent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Box::<serde_json::value::RawValue>::deserialize(d)?;
        AuthorizerEvent::from_slice(raw.get().as_bytes()).map_err(serde::de::Error::custom)
    }
}

/// `null` is the default, as API Gateway sends `"pathParameters": null` for a route without any.
fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(d: D) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// `"2.0"` and nothing else is an HTTP API payload 2.0 event; any other value (or none) is read
/// as a REST event, as API Gateway's REST events carry no `version`.
fn is_v2<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    struct V;
    impl<'v> Visitor<'v> for V {
        type Value = bool;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_str<E>(self, v: &str) -> Result<bool, E> {
            Ok(v == "2.0")
        }
        fn visit_bool<E>(self, _: bool) -> Result<bool, E> {
            Ok(false)
        }
        fn visit_i64<E>(self, _: i64) -> Result<bool, E> {
            Ok(false)
        }
        fn visit_u64<E>(self, _: u64) -> Result<bool, E> {
            Ok(false)
        }
        fn visit_f64<E>(self, _: f64) -> Result<bool, E> {
            Ok(false)
        }
        fn visit_unit<E>(self) -> Result<bool, E> {
            Ok(false)
        }
        fn visit_seq<A: serde::de::SeqAccess<'v>>(self, mut seq: A) -> Result<bool, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(false)
        }
        fn visit_map<A: MapAccess<'v>>(self, mut map: A) -> Result<bool, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(false)
        }
    }
    d.deserialize_any(V)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_pass_reads_the_route_the_headers_and_the_source_of_either_shape() {
        let rest = br#"{"type":"REQUEST","methodArn":"arn:x","resource":"/v1/runs/{run_id}","path":"/v1/runs/r",
            "httpMethod":"GET","headers":{"X-API-Key":"k","User-Agent":"ua"},"multiValueHeaders":{"X-API-Key":["k"]},
            "queryStringParameters":{"a":"b"},"pathParameters":{"run_id":"r"},"stageVariables":null,
            "requestContext":{"identity":{"sourceIp":"203.0.113.9","userAgent":"ua"},"stage":"prod"}}"#;
        let AuthorizerEvent::Rest(e) = AuthorizerEvent::from_slice(rest).unwrap() else { panic!("REST") };
        assert_eq!(
            (e.method_arn.as_deref(), e.http_method.as_deref(), e.resource.as_deref(), e.source_ip.as_deref()),
            (Some("arn:x"), Some("GET"), Some("/v1/runs/{run_id}"), Some("203.0.113.9"))
        );
        assert_eq!((e.headers["x-api-key"].to_str().unwrap(), e.headers.len()), ("k", 2));
        assert_eq!(e.path_parameters["run_id"], "r");
        let v2 = br#"{"version":"2.0","routeKey":"POST /v1/runs","headers":{"x-api-key":"k"},"pathParameters":null,
            "requestContext":{"http":{"method":"POST","sourceIp":"2001:db8::1"},"identity":null}}"#;
        let AuthorizerEvent::HttpApi(e) = AuthorizerEvent::from_slice(v2).unwrap() else { panic!("HTTP API") };
        assert_eq!((e.route_key.as_deref(), e.source_ip.as_deref()), (Some("POST /v1/runs"), Some("2001:db8::1")));
        assert!(e.path_parameters.is_empty());
        // Nulls and absences are empty, not errors.
        let bare = AuthorizerEvent::from_slice(br#"{"headers":null,"requestContext":null}"#).unwrap();
        assert!(bare.headers().is_empty());
        // What is not an event.
        for bad in [
            &br#"[1]"#[..],
            b"null",
            b"\"x\"",
            br#"{"headers":5}"#,
            br#"{"headers":{"a":1}}"#,
            b"{\"headers\":{\"x-api-key\":\"\\u0000\"}}",
            br#"{"pathParameters":{"a":1}}"#,
            br#"{"requestContext":{"identity":{"sourceIp":5}}}"#,
            br#"{"headers":{}} x"#,
        ] {
            assert!(AuthorizerEvent::from_slice(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        // A header the authorizer does not read is not judged: a client's odd header is no error.
        let odd =
            AuthorizerEvent::from_slice("{\"headers\":{\"a b\":\"c\",\"Referer\":\"https://exämple\"}}".as_bytes());
        assert!(odd.unwrap().headers().is_empty());
        assert!(matches!(unreachable_object(), AuthorizerEvent::Rest(_)));
    }
}
