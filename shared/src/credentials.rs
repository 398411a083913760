//! Where credentials live in a request: `X-API-Key`, or `Authorization: Bearer …`.
//!
//! `http::HeaderMap` looks names up case-insensitively, and both `lambda_http` requests and
//! `aws_lambda_events` authorizer events carry one.

use http::HeaderMap;
use http::header::AUTHORIZATION;

use crate::api_key::ApiKey;
use crate::error::Error;

pub const X_API_KEY: &str = "x-api-key";

/// The API key of a request: `X-API-Key` wins when both headers are present; an empty
/// `X-API-Key` counts as absent. Shape and checksum are checked here, before any database read.
pub fn api_key_from_headers(headers: &HeaderMap) -> Result<ApiKey, Error> {
    let raw = match header_str(headers, X_API_KEY)? {
        Some(value) => value,
        None => bearer(headers)?.ok_or(Error::MissingApiKey)?,
    };
    ApiKey::parse(raw).map_err(Error::InvalidApiKey)
}

/// The Firebase ID token of a request (`Authorization: Bearer <token>`).
pub fn bearer_token(headers: &HeaderMap) -> Result<&str, Error> {
    match bearer(headers) {
        Ok(Some(token)) => Ok(token),
        Ok(None) => Err(Error::MissingToken),
        Err(_) => Err(Error::InvalidToken("the Authorization header is not valid text".into())),
    }
}

/// The credential of `Authorization: Bearer <credential>` (scheme case-insensitive), if any.
fn bearer(headers: &HeaderMap) -> Result<Option<&str>, Error> {
    let Some(value) = header_str(headers, AUTHORIZATION.as_str())? else {
        return Ok(None);
    };
    let Some((scheme, credential)) = value.split_once(' ') else {
        return Ok(None);
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Ok(None);
    }
    let credential = credential.trim();
    Ok((!credential.is_empty()).then_some(credential))
}

/// A header's value as trimmed text; `None` when absent or blank. Non-UTF-8 bytes cannot be a
/// key, so they are an invalid key rather than a missing one.
fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Result<Option<&'h str>, Error> {
    let Some(value) = headers.get(name) else {
        return Ok(None);
    };
    let text =
        value.to_str().map_err(|_| Error::InvalidApiKey(crate::api_key::KeyFormatError::InvalidCharacter))?.trim();
    Ok((!text.is_empty()).then_some(text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn reads_either_header_case_insensitively() {
        let key = ApiKey::generate();
        let k = key.expose_secret();
        for h in [
            headers(&[("x-api-key", k)]),
            headers(&[("X-API-KEY", k)]),
            headers(&[("authorization", &format!("Bearer {k}"))]),
            headers(&[("Authorization", &format!("bearer {k}"))]),
        ] {
            assert_eq!(api_key_from_headers(&h).unwrap(), key);
        }
    }

    #[test]
    fn x_api_key_wins_over_authorization() {
        let a = ApiKey::generate();
        let b = ApiKey::generate();
        let h =
            headers(&[("authorization", &format!("Bearer {}", b.expose_secret())), ("x-api-key", a.expose_secret())]);
        assert_eq!(api_key_from_headers(&h).unwrap(), a);
        // Even an invalid X-API-Key wins: it is not silently replaced by the other header.
        let h = headers(&[("x-api-key", "sk_live_nope"), ("authorization", &format!("Bearer {}", b.expose_secret()))]);
        assert!(matches!(api_key_from_headers(&h), Err(Error::InvalidApiKey(_))));
    }

    #[test]
    fn missing_and_malformed() {
        assert!(matches!(api_key_from_headers(&headers(&[])), Err(Error::MissingApiKey)));
        assert!(matches!(
            api_key_from_headers(&headers(&[("authorization", "Basic dXNlcjpwYXNz")])),
            Err(Error::MissingApiKey)
        ));
        assert!(matches!(api_key_from_headers(&headers(&[("authorization", "Bearer ")])), Err(Error::MissingApiKey)));
        assert!(matches!(api_key_from_headers(&headers(&[("x-api-key", "garbage")])), Err(Error::InvalidApiKey(_))));
        let mut raw = HeaderMap::new();
        raw.insert("x-api-key", HeaderValue::from_bytes(b"sk_live_\xff").unwrap());
        assert!(matches!(api_key_from_headers(&raw), Err(Error::InvalidApiKey(_))));
    }

    #[test]
    fn bearer_token_for_firebase_routes() {
        assert_eq!(bearer_token(&headers(&[("authorization", "Bearer a.b.c")])).unwrap(), "a.b.c");
        assert!(matches!(bearer_token(&headers(&[])), Err(Error::MissingToken)));
        assert!(matches!(bearer_token(&headers(&[("authorization", "Token a.b.c")])), Err(Error::MissingToken)));
    }
}
