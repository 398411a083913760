//! Request headers as API Gateway's events carry them (`"headers": {"Name": "value"}` or `null`),
//! decoded straight into a `HeaderMap`: the authorizer's and `/verify`'s one-pass events.

use http::{HeaderMap, HeaderName, HeaderValue};
use serde::Deserializer;
use serde::de::{MapAccess, Visitor};

/// `headers`: an object of strings (or `null`), each a valid header name and value.
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
            // Bounded: API Gateway limits a request's headers to 10 KB in all.
            let mut headers = HeaderMap::with_capacity(map.size_hint().unwrap_or(16).min(64));
            while let Some((name, value)) = map.next_entry::<std::borrow::Cow<'v, str>, std::borrow::Cow<'v, str>>()? {
                // The messages say what is wrong, never the value (it may hold a key).
                let name =
                    HeaderName::from_bytes(name.as_bytes()).map_err(|_| A::Error::custom("an invalid header name"))?;
                let value = HeaderValue::from_str(&value).map_err(|_| A::Error::custom("an invalid header value"))?;
                headers.append(name, value);
            }
            Ok(headers)
        }
    }
    d.deserialize_option(V)
}
