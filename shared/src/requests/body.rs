//! What the bodies share: the JSON object reader with its limit and messages, the `present` and
//! `nullable` field readers, names, and the three restriction lists.

use serde::Deserialize;

use crate::error::Error;
use crate::restrictions::RestrictionsPatch;

/// Bodies larger than this are refused with 413 before parsing.
pub const MAX_BODY_BYTES: usize = 16 * 1024;
pub const MAX_ORG_NAME_CHARS: usize = 100;
pub const MAX_KEY_NAME_CHARS: usize = 64;

/// A restriction list: absent (`None`), `null` (`Some(None)`: no restriction) or a list.
pub(super) fn nullable<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}

/// The three lists of a body, before validation. Each body declares the three fields itself and
/// hands them over here: serde's `flatten` would read them once, but it cannot be combined with
/// `deny_unknown_fields` (serde's documentation, "Struct flattening"), and an unknown field must
/// stay a 400.
pub(super) struct ListsBody {
    pub(super) permissions: Option<Option<Vec<String>>>,
    pub(super) formats: Option<Option<Vec<String>>>,
    pub(super) allowed_ips: Option<Option<Vec<String>>>,
}

impl ListsBody {
    pub(super) fn parse(self) -> Result<RestrictionsPatch, Error> {
        RestrictionsPatch::parse((self.permissions, self.formats, self.allowed_ips))
    }
}

/// An optional field that, when present, must have its type: `null` is a wrong type, not absence.
pub(super) fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(deserializer).map(Some)
}

pub(super) fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Error> {
    if body.len() > MAX_BODY_BYTES {
        return Err(Error::PayloadTooLarge(MAX_BODY_BYTES));
    }
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        None => return Err(Error::InvalidRequest("the request body is empty; send a JSON object".into())),
        // serde would also read a struct from a JSON array; the contract's bodies are objects.
        Some(b'{') => {}
        Some(_) => return Err(Error::InvalidRequest("the request body must be a JSON object".into())),
    }
    serde_json::from_slice(body).map_err(|e| {
        use serde_json::error::Category;
        let what = match e.classify() {
            Category::Syntax | Category::Eof | Category::Io => "the request body is not valid JSON".to_owned(),
            // serde's data messages name the field and the expected type, which is what a caller needs.
            Category::Data => {
                format!("the request body does not match the expected shape: {}", strip_position(&e.to_string()))
            }
        };
        Error::InvalidRequest(what)
    })
}

/// A name: 1–`max` characters, not blank, no control characters.
pub(super) fn validate_name(field: &str, name: String, max: usize) -> Result<String, Error> {
    let chars = name.chars().count();
    if name.trim().is_empty() {
        return Err(Error::InvalidRequest(format!("`{field}` must not be empty")));
    }
    if chars > max {
        return Err(Error::InvalidRequest(format!("`{field}` must be at most {max} characters")));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::InvalidRequest(format!("`{field}` must not contain control characters")));
    }
    Ok(name)
}

fn strip_position(message: &str) -> &str {
    message.split(" at line ").next().unwrap_or(message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::requests::CreateKeyRequest;

    #[test]
    fn the_body_limit_is_16_kib_inclusive() {
        assert_eq!(MAX_BODY_BYTES, 16_384, "the contract's 16 KiB");
        // Exactly at the limit is read; one byte more is 413 before any parsing.
        let mut body = br#"{"name":"at-the-limit"}"#.to_vec();
        body.resize(MAX_BODY_BYTES, b' ');
        assert_eq!(CreateKeyRequest::parse(&body, 0).unwrap().name, "at-the-limit");
        body.push(b' ');
        assert!(matches!(CreateKeyRequest::parse(&body, 0), Err(Error::PayloadTooLarge(16_384))));
    }
}
