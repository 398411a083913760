//! The authorizer's answer: the context downstream integrations read, and the REST or HTTP API
//! response it travels in.

use aws_lambda_events::apigw::{ApiGatewayCustomAuthorizerResponse, ApiGatewayV2CustomAuthorizerSimpleResponse};
use aws_lambda_events::iam::IamPolicyEffect;
use http::HeaderMap;
use overten::restrictions::Denied;
use overten::service::Refused;
use overten::store::KeyRecord;
use serde::{Deserialize, Serialize};

/// What downstream integrations read as `requestContext.authorizer.*`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct AuthContext {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// RFC 3339, when the key has an expiry (downstream services can warn before it ends).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// The key's `permissions`, comma-separated, when it is restricted by them (downstream
    /// services check what the gate cannot see with [`overten::restrictions::Restrictions::from_authorizer_context`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permissions: Option<String>,
    /// The key's `formats`, comma-separated, when it is restricted by them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub formats: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    /// On a permission denial: the body's `required` object as JSON text, which the
    /// `ACCESS_DENIED` gateway response inserts as it is (context values are strings).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required: Option<String>,
    /// The format the route's path names (`POST /v1/generations/{format}`), when it is a valid
    /// slug: the access log's `keyFormat`, for the key's usage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_format: Option<String>,
    /// The request's `User-Agent`, [`overten::access_log::escape`]d (printable ASCII but `"`, `\`
    /// and `%` as it is, every other byte `%XX`, at most 256 characters): the access log's
    /// `userAgent`, on Allow and on Deny, which API Gateway inserts raw. None without the header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
}

/// The authorizer's answer, serialised as API Gateway reads it: the REST API's IAM policy
/// (`principalId`, `policyDocument`, `context`) or the HTTP API's simple response
/// (`isAuthorized`, `context`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum AuthorizerResponse {
    Rest(ApiGatewayCustomAuthorizerResponse<AuthContext>),
    HttpApi(ApiGatewayV2CustomAuthorizerSimpleResponse<AuthContext>),
}

impl AuthorizerResponse {
    /// Whether the request may go on: the HTTP API's `isAuthorized`; for the REST API, a policy
    /// with at least one statement, every one of them an `Allow` (an explicit `Deny` wins in IAM).
    pub fn is_allowed(&self) -> bool {
        match self {
            AuthorizerResponse::Rest(r) => {
                let statements = &r.policy_document.statement;
                !statements.is_empty() && statements.iter().all(|s| s.effect == IamPolicyEffect::Allow)
            }
            AuthorizerResponse::HttpApi(r) => r.is_authorized,
        }
    }

    /// What downstream integrations (and the gateway's templates) read as `authorizer.*`.
    pub fn context(&self) -> &AuthContext {
        match self {
            AuthorizerResponse::Rest(r) => &r.context,
            AuthorizerResponse::HttpApi(r) => &r.context,
        }
    }

    /// The REST API's `principalId` (the key id on `Allow`, `anonymous` on `Deny`); the HTTP
    /// API's simple response has none.
    pub fn principal_id(&self) -> Option<&str> {
        match self {
            AuthorizerResponse::Rest(r) => r.principal_id.as_deref(),
            AuthorizerResponse::HttpApi(_) => None,
        }
    }
}

/// The context: the key's ids (on a permission denial too, for the access log), its lists for
/// downstream services, and the error's code, message and `required` when refused.
pub(crate) fn context(
    decision: &Result<KeyRecord, Refused>,
    denied: Option<&Denied>,
    headers: &HeaderMap,
) -> AuthContext {
    let user_agent = overten::access_log::user_agent(headers);
    match (decision, denied) {
        (Ok(key), None) => AuthContext {
            org_id: Some(key.org_id.clone()),
            key_id: Some(key.key_id.clone()),
            expires_at: key.expires_at.map(overten::clock::rfc3339),
            permissions: key.restrictions.permissions_csv(),
            formats: key.restrictions.formats_csv(),
            user_agent,
            ..Default::default()
        },
        (Ok(key), Some(denied)) => {
            tracing::info!(code = "permission_denied", key_id = %key.key_id, "deny");
            AuthContext {
                org_id: Some(key.org_id.clone()),
                key_id: Some(key.key_id.clone()),
                error_code: Some("permission_denied".into()),
                error_message: Some(denied.message()),
                required: Some(denied.required().to_string()),
                user_agent,
                ..Default::default()
            }
        }
        // The key, when it is one of ours that ended, for the access log (HTTP API; a REST 401
        // has no context). The code stays the response's: the body must not tell revoked from
        // unknown.
        (Err(refused), _) => AuthContext {
            org_id: refused.key.as_ref().map(|k| k.org_id.clone()),
            key_id: refused.key.as_ref().map(|k| k.key_id.clone()),
            error_code: Some(refused.error.code().into()),
            error_message: Some(refused.error.public_message()),
            user_agent,
            ..Default::default()
        },
    }
}
