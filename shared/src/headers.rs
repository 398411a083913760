//! Request headers as API Gateway's events carry them (`"headers": {"Name": "value"}` or `null`),
//! decoded straight into a `HeaderMap`: the authorizer's and `/verify`'s one-pass events.
//!
//! Only the headers those functions read are built ([`READ`]): a real event carries a dozen or two
//! (`Host`, `Via`, `X-Forwarded-*`, CloudFront's), and a `HeaderMap` entry is an allocation each.
//! The others are still checked as `HeaderMap` would check them, and skipped unbuilt like the
//! event's other fields.

use http::header::{AUTHORIZATION, USER_AGENT};
use http::{HeaderMap, HeaderName, HeaderValue};
use serde::Deserializer;
use serde::de::{MapAccess, Visitor};

/// What the hot paths read: the key (`X-API-Key`, or `Authorization: Bearer`) and the user agent
/// (the access log's and usage's).
pub static READ: [HeaderName; 3] = [HeaderName::from_static(crate::credentials::X_API_KEY), AUTHORIZATION, USER_AGENT];

/// `headers`: an object of strings (or `null`), each a valid header name and value; the
/// [`READ`] ones kept.
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
            while let Some((name, value)) = map.next_entry::<std::borrow::Cow<'v, str>, std::borrow::Cow<'v, str>>()? {
                // The messages say what is wrong, never the value (it may hold a key).
                let read = READ.iter().find(|r| name.eq_ignore_ascii_case(r.as_str()));
                match read {
                    Some(read) => {
                        let value =
                            HeaderValue::from_str(&value).map_err(|_| A::Error::custom("an invalid header value"))?;
                        headers.append(read.clone(), value);
                    }
                    None if !is_token(&name) => return Err(A::Error::custom("an invalid header name")),
                    None if !is_field_value(&value) => return Err(A::Error::custom("an invalid header value")),
                    None => {}
                }
            }
            Ok(headers)
        }
    }
    d.deserialize_option(V)
}

/// A header name `HeaderName` accepts: a non-empty token (RFC 9110, section 5.6.2).
fn is_token(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// A header value `HeaderValue::from_str` accepts: visible ASCII, spaces and tabs.
fn is_field_value(value: &str) -> bool {
    value.bytes().all(|b| (b' '..=b'~').contains(&b) || b == b'\t')
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
    fn every_header_is_checked_as_a_header_map_would() {
        for bad in [
            r#"{"a b":"c"}"#,
            r#"{"":"c"}"#,
            r#"{"a":"\u0000"}"#,
            r#"{"a":"\u007f"}"#,
            r#"{"a":"é"}"#,
            r#"{"x-api-key":"\u0000"}"#,
            r#"{"a":1}"#,
            "5",
        ] {
            assert!(decode(bad).is_err(), "{bad}");
        }
        let err = decode("5").unwrap_err().to_string();
        assert!(err.contains("an object of header names to strings"), "{err}");
        for good in [r#"{"a-B_c.1~!#$%&'*+^`|":"v"}"#, r#"{"a":" \tvisible ~"}"#, r#"{"a":""}"#] {
            assert!(decode(good).is_ok(), "{good}");
        }
        // The same rules as the http crate's, byte by byte.
        for b in 0u8..=127 {
            let name = String::from(char::from(b));
            assert_eq!(is_token(&name), HeaderName::from_bytes(name.as_bytes()).is_ok(), "name byte {b}");
            assert_eq!(is_field_value(&name), HeaderValue::from_str(&name).is_ok(), "value byte {b}");
        }
    }
}
