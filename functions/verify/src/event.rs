//! The deployed function's door: the REST proxy event decoded in one pass into what `/verify`
//! reads (`httpMethod`, `path`, `headers`, `queryStringParameters`, `requestContext.requestId`
//! and `identity.sourceIp`), the rest skipped unbuilt, and the proxy response written directly.
//! Field names are AWS's ([Lambda proxy integration input](https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html#api-gateway-simple-proxy-for-lambda-input-format));
//! `tests/functions.rs` runs the example events and AWS's own sample through it.

use std::collections::HashMap;

use overten::store::KeyLookup;
use overten::text::Text;
use serde::{Deserialize, Serialize};

use crate::{Call, answer_at, header_pairs};

/// What `/verify` reads of a REST proxy event; its strings borrowed from the payload's text where
/// they hold no escapes ([`Text`]: no copy on the hot path).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct VerifyEvent<'a> {
    #[serde(borrow)]
    pub http_method: Option<Text<'a>>,
    #[serde(borrow)]
    pub path: Option<Text<'a>>,
    #[serde(deserialize_with = "overten::headers::deserialize")]
    pub headers: http::HeaderMap,
    #[serde(borrow, deserialize_with = "nullable")]
    pub query_string_parameters: HashMap<Text<'a>, Text<'a>>,
    #[serde(borrow, deserialize_with = "nullable")]
    request_context: Context<'a>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct Context<'a> {
    #[serde(borrow)]
    request_id: Option<Text<'a>>,
    #[serde(borrow, deserialize_with = "nullable")]
    identity: Identity<'a>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct Identity<'a> {
    #[serde(borrow)]
    source_ip: Option<Text<'a>>,
}

fn nullable<'de, D: serde::Deserializer<'de>, T: Deserialize<'de> + Default>(d: D) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// The proxy response API Gateway reads: `statusCode`, `headers`, `body` (the optional
/// `multiValueHeaders` and `isBase64Encoded` are left out: one value per header, a text body).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProxyResponse {
    pub status_code: u16,
    /// [`crate::header_pairs`] of the status: static, no map built per call.
    #[serde(serialize_with = "pairs")]
    pub headers: &'static [(&'static str, &'static str)],
    pub body: String,
}

fn pairs<S: serde::Serializer>(headers: &&'static [(&'static str, &'static str)], s: S) -> Result<S::Ok, S::Error> {
    s.collect_map(headers.iter().copied())
}

/// One invocation as the Lambda runtime hands it over (the payload's JSON text): the proxy
/// response. An event that does not decode is a 400 in the contract's body, never a panic.
pub async fn invoke<S: KeyLookup>(
    store: &S,
    payload: &serde_json::value::RawValue,
    lambda_request_id: &str,
) -> ProxyResponse {
    let answer = match serde_json::from_str::<VerifyEvent>(payload.get()) {
        Ok(event) => {
            let request_id = event.request_context.request_id.as_deref().unwrap_or(lambda_request_id);
            let call = Call {
                method: event.http_method.as_deref().unwrap_or_default(),
                path: event.path.as_deref().unwrap_or_default(),
                headers: &event.headers,
                query: event.query_string_parameters.iter().map(|(k, v)| (&**k, &**v)).collect(),
                source_ip: event.request_context.identity.source_ip.as_deref(),
                request_id,
            };
            answer_at(store, &call, overten::clock::now_secs()).await
        }
        Err(e) => {
            let err = overten::Error::InvalidRequest(format!(
                "not an API Gateway proxy event ({:?} at line {}, column {})",
                e.classify(),
                e.line(),
                e.column()
            ));
            crate::Answer { status: 400, body: err.body(lambda_request_id).to_string() }
        }
    };
    ProxyResponse { status_code: answer.status, headers: header_pairs(answer.status), body: answer.body }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_event_s_strings_are_borrowed_from_the_payload() {
        use std::borrow::Cow;
        let text = r#"{"httpMethod":"GET","path":"/verify","headers":{"User-Agent":"curl/8"},
            "queryStringParameters":{"format":"pdf"},
            "requestContext":{"requestId":"r-1","identity":{"sourceIp":"203.0.113.7"}}}"#;
        let event: VerifyEvent = serde_json::from_str(text).unwrap();
        for text in [
            &event.http_method,
            &event.path,
            &event.request_context.request_id,
            &event.request_context.identity.source_ip,
        ] {
            assert!(matches!(text.as_ref().map(|t| &t.0), Some(Cow::Borrowed(_))), "{text:?}");
        }
        assert_eq!(event.query_string_parameters.iter().next().map(|(k, v)| (&**k, &**v)), Some(("format", "pdf")));
        assert_eq!(event.headers["user-agent"], "curl/8");
    }

    #[test]
    fn the_proxy_response_carries_the_answer_s_headers() {
        for (status, expected) in [
            (200, serde_json::json!({"content-type": "application/json", "cache-control": "no-store"})),
            (
                401,
                serde_json::json!({"content-type": "application/json", "cache-control": "no-store", "www-authenticate": "Bearer"}),
            ),
        ] {
            let response = ProxyResponse { status_code: status, headers: header_pairs(status), body: "{}".into() };
            let wire = serde_json::to_value(&response).unwrap();
            assert_eq!(wire, serde_json::json!({"statusCode": status, "headers": expected, "body": "{}"}));
            // The lambda_http door sends the same.
            let map = crate::headers(status);
            let names: serde_json::Map<String, serde_json::Value> =
                map.iter().map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap().into())).collect();
            assert_eq!(serde_json::Value::Object(names), expected);
        }
    }
}
