//! The one error type of the service, and the one place that maps it to the contract's status
//! codes and JSON body. Internal details (`Unavailable`, `Internal`) are logged, never returned.

use serde_json::{Value, json};

use crate::api_key::KeyFormatError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    InvalidRequest(String),
    #[error("no API key: send it as `X-API-Key: sk_live_…` or `Authorization: Bearer sk_live_…`")]
    MissingApiKey,
    /// Wrong shape or checksum (`Some`), or unknown/revoked (`None`): the caller is told the same.
    #[error("invalid API key")]
    InvalidApiKey(KeyFormatError),
    #[error("invalid API key")]
    UnknownApiKey,
    /// Past its `expires_at` (the caller may tell this from revoked: the key itself said when).
    #[error("invalid API key")]
    ExpiredApiKey,
    #[error("no Firebase ID token: send it as `Authorization: Bearer <token>`")]
    MissingToken,
    #[error("{0}")]
    InvalidToken(String),
    #[error("the Firebase ID token has expired: get a fresh one from the Firebase SDK")]
    TokenExpired,
    #[error("no such org, or you are not a member of it")]
    OrgNotFound,
    #[error("no such API key in this org")]
    KeyNotFound,
    #[error("API access is already enabled for this org")]
    ApiAlreadyEnabled,
    #[error("API access is not enabled for this org: call POST /signup with `existing_org_id` first")]
    ApiNotEnabled,
    #[error("this API key was rolled before: roll its replacement (`rolled_to`) instead")]
    KeyAlreadyRolled,
    #[error("this API key is revoked or expired: only an active key can be rolled")]
    KeyInactive,
    /// Secret scanning: a delivery without a valid signature by one of GitHub's keys.
    #[error("missing or invalid signature")]
    InvalidSignature,
    #[error("this org already has the maximum of {0} active API keys: revoke one first")]
    KeyLimitReached(usize),
    /// A roll with grace that would leave more than this many keys in grace periods at once.
    #[error(
        "this org already has the maximum of {0} keys in a roll's grace period: roll with \"grace_period_seconds\": 0, or revoke a rolled key still in its grace period"
    )]
    GraceLimitReached(usize),
    #[error("you have created the maximum of {0} orgs: use an existing one (`existing_org_id`) or ask support")]
    OrgLimitReached(usize),
    #[error("the request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    /// A valid key whose restrictions refuse the request (README, "Restricted keys"): 403, the
    /// message naming what is missing, the body's `required` object.
    #[error("{}", .0.message())]
    PermissionDenied(crate::restrictions::Denied),
    /// A key refused at API Gateway: the REST API's `UNAUTHORIZED` response, whose body is fixed
    /// (an authorizer that fails with `Unauthorized` has no context to tell which key problem it
    /// was; `GET /verify` tells). The functions never return it.
    #[error(
        "missing or invalid API key: send a live key as `X-API-Key: sk_live_…` or `Authorization: Bearer sk_live_…`; GET /verify with it says what is wrong"
    )]
    ApiKeyRefused,
    #[error("no such route")]
    RouteNotFound,
    #[error("method not allowed on this route")]
    MethodNotAllowed,
    /// Over a throttling limit. The functions never return it: API Gateway does (its `THROTTLED`
    /// response in `template.yaml`, checked against this variant by `tests/template.rs`).
    #[error("too many requests; retry with backoff")]
    RateLimited,
    /// DynamoDB throttled or unreachable, or the key endpoint down. The string is for the log.
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// A bug or an unexpected answer. The string is for the log.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub fn status(&self) -> u16 {
        match self {
            Error::InvalidRequest(_) => 400,
            Error::MissingApiKey
            | Error::InvalidApiKey(_)
            | Error::UnknownApiKey
            | Error::ExpiredApiKey
            | Error::ApiKeyRefused
            | Error::InvalidSignature
            | Error::MissingToken
            | Error::InvalidToken(_)
            | Error::TokenExpired => 401,
            Error::PermissionDenied(_) => 403,
            Error::OrgNotFound | Error::KeyNotFound | Error::RouteNotFound => 404,
            Error::MethodNotAllowed => 405,
            Error::ApiAlreadyEnabled
            | Error::ApiNotEnabled
            | Error::KeyLimitReached(_)
            | Error::GraceLimitReached(_)
            | Error::OrgLimitReached(_)
            | Error::KeyAlreadyRolled
            | Error::KeyInactive => 409,
            Error::PayloadTooLarge(_) => 413,
            Error::RateLimited => 429,
            Error::Internal(_) => 500,
            Error::Unavailable(_) => 503,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidRequest(_) => "invalid_request",
            Error::MissingApiKey => "missing_api_key",
            Error::InvalidApiKey(_) | Error::UnknownApiKey | Error::ExpiredApiKey | Error::ApiKeyRefused => {
                "invalid_api_key"
            }
            Error::PermissionDenied(_) => "permission_denied",
            Error::InvalidSignature => "invalid_signature",
            Error::KeyAlreadyRolled => "key_already_rolled",
            Error::KeyInactive => "key_inactive",
            Error::MissingToken => "missing_token",
            Error::InvalidToken(_) => "invalid_token",
            Error::TokenExpired => "token_expired",
            Error::OrgNotFound => "org_not_found",
            Error::KeyNotFound => "key_not_found",
            Error::ApiAlreadyEnabled => "api_already_enabled",
            Error::ApiNotEnabled => "api_not_enabled",
            Error::KeyLimitReached(_) | Error::GraceLimitReached(_) => "key_limit_reached",
            Error::OrgLimitReached(_) => "org_limit_reached",
            Error::PayloadTooLarge(_) => "payload_too_large",
            Error::RouteNotFound => "not_found",
            Error::MethodNotAllowed => "method_not_allowed",
            Error::RateLimited => "rate_limited",
            Error::Internal(_) => "internal_error",
            Error::Unavailable(_) => "service_unavailable",
        }
    }

    /// What the caller may read. Server-side failures say nothing about their cause.
    pub fn public_message(&self) -> String {
        match self {
            Error::Internal(_) => "an internal error occurred; quote the request id to support".into(),
            Error::Unavailable(_) => "the service is temporarily unavailable; retry with backoff".into(),
            Error::InvalidApiKey(detail) => format!("invalid API key: {detail}"),
            Error::UnknownApiKey => "invalid API key: unknown or revoked".into(),
            Error::ExpiredApiKey => "invalid API key: expired".into(),
            other => other.to_string(),
        }
    }

    pub fn is_server_error(&self) -> bool {
        self.status() >= 500
    }

    /// The contract's body: `{"error": {"code", "message", "request_id"}}`, and `required` for a
    /// permission denial.
    pub fn body(&self, request_id: &str) -> Value {
        let mut body =
            json!({"error": {"code": self.code(), "message": self.public_message(), "request_id": request_id}});
        if let Error::PermissionDenied(denied) = self {
            body["error"]["required"] = denied.required();
        }
        body
    }

    /// Logs server-side failures with their internal detail (which never reaches the caller).
    pub fn log(&self, request_id: &str) {
        if self.is_server_error() {
            tracing::error!(request_id, code = self.code(), detail = %self, "request failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::restrictions::Denied;

    #[test]
    fn server_errors_hide_their_detail() {
        let err = Error::Internal("ConditionalCheckFailed on table prod-ApiKeys".into());
        let body = err.body("req-1");
        assert_eq!(body["error"]["code"], "internal_error");
        assert_eq!(body["error"]["request_id"], "req-1");
        assert!(!body.to_string().contains("ApiKeys"));
        let err = Error::Unavailable("dispatch failure: connection refused 127.0.0.1:8000".into());
        assert_eq!(err.status(), 503);
        assert!(!err.body("r").to_string().contains("127.0.0.1"));
    }

    #[test]
    fn public_messages_say_what_the_caller_may_know() {
        assert_eq!(
            Error::Internal("table prod-ApiKeys missing".into()).public_message(),
            "an internal error occurred; quote the request id to support"
        );
        assert_eq!(
            Error::Unavailable("connection refused".into()).public_message(),
            "the service is temporarily unavailable; retry with backoff"
        );
        assert_eq!(
            Error::InvalidApiKey(KeyFormatError::BadChecksum).public_message(),
            "invalid API key: the API key's checksum does not match (mistyped or truncated key?)"
        );
        assert_eq!(Error::UnknownApiKey.public_message(), "invalid API key: unknown or revoked");
        assert_eq!(Error::RateLimited.public_message(), "too many requests; retry with backoff");
        assert_eq!(Error::KeyLimitReached(100).public_message(), Error::KeyLimitReached(100).to_string());
        assert!(Error::OrgLimitReached(10).public_message().contains("10 orgs"));
        assert_eq!(Error::InvalidRequest("`limit` is bad".into()).public_message(), "`limit` is bad");
        // The body carries exactly that message.
        let body = Error::UnknownApiKey.body("req-9");
        assert_eq!(body["error"]["message"], "invalid API key: unknown or revoked");
    }

    #[test]
    fn only_5xx_are_server_errors() {
        assert!(Error::Internal(String::new()).is_server_error());
        assert!(Error::Unavailable(String::new()).is_server_error());
        for client in [
            Error::MissingApiKey,
            Error::OrgNotFound,
            Error::KeyLimitReached(1),
            Error::PayloadTooLarge(1),
            Error::RateLimited,
        ] {
            assert!(!client.is_server_error(), "{client:?}");
        }
    }

    #[test]
    fn server_errors_are_logged_with_their_detail_client_errors_are_not() {
        let text = crate::logging::capture(|| {
            Error::Unavailable("GetItem: dispatch failure".into()).log("req-5xx");
            Error::OrgNotFound.log("req-4xx");
        });
        assert!(text.contains("req-5xx") && text.contains("GetItem: dispatch failure"), "{text}");
        assert!(text.contains("service_unavailable"));
        assert!(!text.contains("req-4xx"), "a client error was logged: {text}");
    }

    #[test]
    fn statuses_follow_the_contract() {
        let cases: Vec<(Error, u16, &str)> = vec![
            (Error::InvalidRequest("x".into()), 400, "invalid_request"),
            (Error::MissingApiKey, 401, "missing_api_key"),
            (Error::InvalidApiKey(KeyFormatError::BadChecksum), 401, "invalid_api_key"),
            (Error::UnknownApiKey, 401, "invalid_api_key"),
            (Error::MissingToken, 401, "missing_token"),
            (Error::InvalidToken("x".into()), 401, "invalid_token"),
            (Error::TokenExpired, 401, "token_expired"),
            (Error::OrgNotFound, 404, "org_not_found"),
            (Error::KeyNotFound, 404, "key_not_found"),
            (Error::ApiAlreadyEnabled, 409, "api_already_enabled"),
            (Error::KeyLimitReached(100), 409, "key_limit_reached"),
            (Error::GraceLimitReached(100), 409, "key_limit_reached"),
            (Error::OrgLimitReached(10), 409, "org_limit_reached"),
            (Error::PayloadTooLarge(16384), 413, "payload_too_large"),
            (Error::ExpiredApiKey, 401, "invalid_api_key"),
            (Error::InvalidSignature, 401, "invalid_signature"),
            (Error::KeyAlreadyRolled, 409, "key_already_rolled"),
            (Error::KeyInactive, 409, "key_inactive"),
            (Error::RouteNotFound, 404, "not_found"),
            (Error::MethodNotAllowed, 405, "method_not_allowed"),
            (Error::RateLimited, 429, "rate_limited"),
            (Error::Internal("x".into()), 500, "internal_error"),
            (Error::Unavailable("x".into()), 503, "service_unavailable"),
            (Error::ApiKeyRefused, 401, "invalid_api_key"),
            (Error::PermissionDenied(Denied::Format(None)), 403, "permission_denied"),
        ];
        for (err, status, code) in cases {
            assert_eq!((err.status(), err.code()), (status, code), "{err:?}");
        }
    }

    #[test]
    fn a_permission_denial_names_what_is_missing_in_message_and_required() {
        use crate::restrictions::{Access, Permission, Resource};
        let denied = |d| Error::PermissionDenied(d).body("req-1");
        let body = denied(Denied::Permission(Permission::new(Resource::Runs, Access::Read)));
        assert_eq!(
            body,
            json!({"error": {"code": "permission_denied", "message": "this key lacks runs:read", "request_id": "req-1",
                "required": {"permission": "runs:read", "format": null}}})
        );
        let body = denied(Denied::Format(Some("docx".into())));
        assert_eq!(body["error"]["message"], "this key may not act on format docx");
        assert_eq!(body["error"]["required"], json!({"permission": null, "format": "docx"}));
        let body = denied(Denied::Address(Some("203.0.113.9".parse().unwrap())));
        assert_eq!(body["error"]["message"], "this key may not be used from 203.0.113.9");
        assert_eq!(body["error"]["required"], json!({"permission": null, "format": null}));
        assert!(Error::UnknownApiKey.body("r")["error"].get("required").is_none(), "only a denial has `required`");
    }
}
