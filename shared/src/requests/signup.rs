//! `POST /signup`.

use serde::Deserialize;

use super::body::{MAX_KEY_NAME_CHARS, MAX_ORG_NAME_CHARS, parse_json, present, validate_name};
use crate::error::Error;

pub const DEFAULT_KEY_NAME: &str = "default";

/// `POST /signup`: exactly one of `org_name` and `existing_org_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignupRequest {
    NewOrg { org_name: String, key_name: String },
    ExistingOrg { org_id: String, key_name: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignupBody {
    #[serde(default, deserialize_with = "present")]
    org_name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    existing_org_id: Option<String>,
    #[serde(default, deserialize_with = "present")]
    key_name: Option<String>,
}

impl SignupRequest {
    pub fn parse(body: &[u8]) -> Result<Self, Error> {
        let body: SignupBody = parse_json(body)?;
        let key_name = match body.key_name {
            Some(name) => validate_name("key_name", name, MAX_KEY_NAME_CHARS)?,
            None => DEFAULT_KEY_NAME.to_owned(),
        };
        match (body.org_name, body.existing_org_id) {
            (Some(org_name), None) => Ok(SignupRequest::NewOrg {
                org_name: validate_name("org_name", org_name, MAX_ORG_NAME_CHARS)?,
                key_name,
            }),
            (None, Some(org_id)) => {
                if org_id.is_empty() {
                    return Err(Error::InvalidRequest("`existing_org_id` must not be empty".into()));
                }
                Ok(SignupRequest::ExistingOrg { org_id, key_name })
            }
            (Some(_), Some(_)) => {
                Err(Error::InvalidRequest("give either `org_name` or `existing_org_id`, not both".into()))
            }
            (None, None) => {
                Err(Error::InvalidRequest("give `org_name` (new org) or `existing_org_id` (existing org)".into()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::requests::MAX_BODY_BYTES;

    fn bad(body: &str) -> String {
        match SignupRequest::parse(body.as_bytes()) {
            Err(Error::InvalidRequest(m)) => m,
            other => panic!("{body}: {other:?}"),
        }
    }

    #[test]
    fn signup_bodies() {
        assert_eq!(
            SignupRequest::parse(br#"{"org_name":"Acme"}"#).unwrap(),
            SignupRequest::NewOrg { org_name: "Acme".into(), key_name: "default".into() }
        );
        assert_eq!(
            SignupRequest::parse(br#"{"existing_org_id":"org_x","key_name":"ci"}"#).unwrap(),
            SignupRequest::ExistingOrg { org_id: "org_x".into(), key_name: "ci".into() }
        );
        assert!(bad(r#"{"org_name":"A","existing_org_id":"org_x"}"#).contains("not both"));
        assert!(bad("{}").contains("org_name"));
        assert!(bad("{").contains("not valid JSON"));
        assert!(bad("").contains("empty"));
        assert!(bad(r#"{"org_name":5}"#).contains("shape"));
        assert!(bad(r#"{"org_name":""}"#).contains("empty"));
        assert!(bad(r#"{"org_name":"   "}"#).contains("empty"));
        assert!(bad(&format!(r#"{{"org_name":"{}"}}"#, "a".repeat(101))).contains("100"));
        assert!(SignupRequest::parse(format!(r#"{{"org_name":"{}"}}"#, "é".repeat(100)).as_bytes()).is_ok());
        assert!(bad(r#"{"org_name":"a\u0007b"}"#).contains("control"));
        assert!(bad(r#"{"org_name":"A","key_name":""}"#).contains("key_name"));
        assert!(bad(&format!(r#"{{"org_name":"A","key_name":"{}"}}"#, "k".repeat(65))).contains("64"));
        assert!(bad(r#"{"org_name":"A","extra":1}"#).contains("unknown field"));
        assert!(bad(r#"["org_name"]"#).contains("object"));
        assert!(bad(r#"{"existing_org_id":""}"#).contains("empty"));
        assert!(bad(r#"{"org_name":"A","key_name":null}"#).contains("shape"));
        assert!(bad(r#"{"org_name":null,"existing_org_id":"org_1"}"#).contains("shape"));
        assert!(matches!(SignupRequest::parse(&vec![b' '; MAX_BODY_BYTES + 1]), Err(Error::PayloadTooLarge(_))));
    }
}
