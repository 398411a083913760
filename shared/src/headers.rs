//! Request headers as API Gateway's events carry them (`"headers": {"Name": "value"}` or `null`),
//! decoded straight into a `HeaderMap`: the authorizer's and `/verify`'s one-pass events.
//!
//! Only the headers those functions read are built ([`READ`]): a real event carries a dozen or two
//! (`Host`, `Via`, `X-Forwarded-*`, CloudFront's), and a `HeaderMap` entry is an allocation each.
//! The others are skipped unbuilt like the event's other fields, and unjudged: a client's UTF-8
//! `Referer` is no reason to fail the event (the authorizer's error is API Gateway's 500).
//! A read header's value is taken as `HeaderValue::from_bytes` takes it: bytes past ASCII are kept
//! (a key with them is an invalid key, a user agent with them is escaped), control characters
//! are not.

use http::header::{AUTHORIZATION, USER_AGENT};
use http::{HeaderMap, HeaderName, HeaderValue};
use serde::Deserializer;
use serde::de::{MapAccess, Visitor};

use crate::text::Text;

/// What the hot paths read: the key (`X-API-Key`, or `Authorization: Bearer`) and the user agent
/// (the access log's and usage's).
pub static READ: [HeaderName; 3] = [HeaderName::from_static(crate::credentials::X_API_KEY), AUTHORIZATION, USER_AGENT];

/// `headers`: an object of strings (or `null`); the [`READ`] ones kept, each a valid header
/// value, the others skipped.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<HeaderMap, D::Error> {
    struct V;
    impl<'v> Visitor<'v> for V {
        type Value = HeaderMap;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an object of header names to strings")
        }
        fn visit_unit<E>(self) -> Result<HeaderMap, E> {
            Ok(HeaderMap::new())
        }
        fn visit_none<E>(self) -> Result<HeaderMap, E> {
            Ok(HeaderMap::new())
        }
        fn visit_some<D2: Deserializer<'v>>(self, d: D2) -> Result<HeaderMap, D2::Error> {
            d.deserialize_map(V)
        }
        fn visit_map<A: MapAccess<'v>>(self, mut map: A) -> Result<HeaderMap, A::Error> {
            use serde::de::Error;
            // Bounded: API Gateway limits a request's headers to 10 KB in all, and only the READ
            // names are kept (the event's single-value map holds each name once).
            let mut headers = HeaderMap::with_capacity(READ.len());
            while let Some((name, value)) = map.next_entry::<Text<'v>, Text<'v>>()? {
                // The message says what is wrong, never the value (it may hold a key).
                if let Some(read) = READ.iter().find(|r| name.eq_ignore_ascii_case(r.as_str())) {
                    let value = HeaderValue::from_bytes(value.as_bytes())
                        .map_err(|_| A::Error::custom("an invalid header value"))?;
                    headers.append(read.clone(), value);
                }
            }
            Ok(headers)
        }
    }
    d.deserialize_option(V)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(json: &str) -> Result<HeaderMap, serde_json::Error> {
        let mut d = serde_json::Deserializer::from_str(json);
        deserialize(&mut d)
    }

    #[test]
    fn the_read_headers_are_kept_whatever_their_case_and_the_others_skipped() {
        let headers = decode(
            r#"{"X-API-Key":"k","AUTHORIZATION":"Bearer t","user-agent":"curl/8","Host":"api.example","Via":"2.0 x (CloudFront)","X-Forwarded-For":"203.0.113.7"}"#,
        )
        .unwrap();
        assert_eq!(headers.len(), 3);
        assert_eq!(headers["x-api-key"], "k");
        assert_eq!(headers["authorization"], "Bearer t");
        assert_eq!(headers["user-agent"], "curl/8");
        assert!(decode("null").unwrap().is_empty());
        assert!(decode("{}").unwrap().is_empty());
    }

    #[test]
    fn a_read_header_is_checked_and_the_others_are_not_judged() {
        for bad in [r#"{"x-api-key":"\u0000"}"#, r#"{"User-Agent":"a\u007fb"}"#, r#"{"a":1}"#, "5"] {
            assert!(decode(bad).is_err(), "{bad}");
        }
        let err = decode("5").unwrap_err().to_string();
        assert!(err.contains("an object of header names to strings"), "{err}");
        // Unread: whatever its name or bytes, skipped.
        let headers = decode(r#"{"a b":"c","Referer":"https://exämple.test/\u0000","x-api-key":"k"}"#).unwrap();
        assert_eq!((headers.len(), headers["x-api-key"].as_bytes()), (1, &b"k"[..]));
        // Read: bytes past ASCII kept as they came, tabs and spaces too.
        let headers = decode(r#"{"User-Agent":"café\tx y"}"#).unwrap();
        assert_eq!(headers["user-agent"].as_bytes(), "café\tx y".as_bytes());
        assert!(decode(r#"{"authorization":""}"#).unwrap()["authorization"].is_empty());
    }
}
