//! Splitting a compact JWS and decoding its header and payload ourselves: jsonwebtoken cannot
//! decode `alg: none`, and a precise message for each malformed shape helps the caller.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::invalid;
use crate::error::Error;

#[derive(Debug, Deserialize)]
pub(super) struct Header {
    pub alg: String,
    #[serde(default)]
    pub kid: Option<String>,
}

pub(super) struct Segments<'t> {
    pub header: Header,
    payload: &'t str,
    /// `header.payload`, what the signature covers.
    pub signing_input: &'t str,
    pub signature: &'t str,
}

impl Segments<'_> {
    pub fn payload<T: DeserializeOwned>(&self) -> Result<T, Error> {
        decode_json(self.payload, "payload")
    }
}

pub(super) fn split(token: &str) -> Result<Segments<'_>, Error> {
    if token.is_empty() {
        return Err(invalid("the ID token is empty"));
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid("the ID token is not a JWT (expected three dot-separated segments)"));
    };
    let signing_input = &token[..header.len() + 1 + payload.len()];
    Ok(Segments { header: decode_json(header, "header")?, payload, signing_input, signature })
}

fn decode_json<T: DeserializeOwned>(segment: &str, what: &str) -> Result<T, Error> {
    let bytes = URL_SAFE_NO_PAD
        .decode(segment.trim_end_matches('='))
        .map_err(|_| invalid(format!("the ID token's {what} is not base64url")))?;
    serde_json::from_slice(&bytes).map_err(|_| invalid(format!("the ID token's {what} is not the expected JSON")))
}
