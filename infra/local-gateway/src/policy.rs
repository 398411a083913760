//! How API Gateway reads a REST authorizer's answer: an explicit `Deny` matching the method ARN
//! wins, then a matching `Allow`; no matching statement is an implicit deny. Both denials are
//! the `ACCESS_DENIED` gateway response. An answer without a principal, or not a REST policy at
//! all, is the authorizer's failure.

use authorizer::{AuthorizerResponse, IamPolicyEffect};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    ExplicitDeny,
    ImplicitDeny,
    /// Not an authorizer answer a REST API can use (no principal, or the HTTP API's simple
    /// response).
    Malformed,
}

pub fn evaluate(answer: &AuthorizerResponse, method_arn: &str) -> Decision {
    let AuthorizerResponse::Rest(answer) = answer else { return Decision::Malformed };
    if answer.principal_id.is_none() {
        return Decision::Malformed;
    }
    let statements = &answer.policy_document.statement;
    let matching = |effect: IamPolicyEffect| {
        statements.iter().any(|s| {
            s.effect == effect
                && s.action.iter().any(|a| a == "execute-api:Invoke" || a == "*")
                && s.resource.iter().any(|r| arn_matches(r, method_arn))
        })
    };
    if matching(IamPolicyEffect::Deny) {
        Decision::ExplicitDeny
    } else if matching(IamPolicyEffect::Allow) {
        Decision::Allow
    } else {
        Decision::ImplicitDeny
    }
}

/// IAM resource matching: `*` matches any run of characters, `?` any one.
pub fn arn_matches(pattern: &str, arn: &str) -> bool {
    fn go(p: &[u8], s: &[u8]) -> bool {
        match (p.first(), s.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], s) || (!s.is_empty() && go(p, &s[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &s[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &s[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), arn.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    const ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:local/local/GET/v1/whoami";

    fn answer(effect: &str, resource: &str) -> Value {
        json!({"principalId": "p", "policyDocument": {"Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": [resource]}]}})
    }

    /// An answer as API Gateway reads it from the function's JSON.
    fn rest(answer: Value) -> AuthorizerResponse {
        AuthorizerResponse::Rest(serde_json::from_value(answer).unwrap())
    }

    #[test]
    fn decisions() {
        let stage = "arn:aws:execute-api:us-east-1:123456789012:local/local/*";
        assert_eq!(evaluate(&rest(answer("Allow", stage)), ARN), Decision::Allow);
        assert_eq!(evaluate(&rest(answer("Deny", stage)), ARN), Decision::ExplicitDeny);
        let other = "arn:aws:execute-api:us-east-1:123456789012:local/prod/*";
        assert_eq!(evaluate(&rest(answer("Allow", other)), ARN), Decision::ImplicitDeny);
        assert_eq!(evaluate(&rest(json!({"policyDocument": {"Statement": []}})), ARN), Decision::Malformed);
        let simple = AuthorizerResponse::HttpApi(serde_json::from_value(json!({"isAuthorized": true})).unwrap());
        assert_eq!(evaluate(&simple, ARN), Decision::Malformed, "not a REST API answer");
        let mut both = answer("Allow", "*");
        both["policyDocument"]["Statement"].as_array_mut().unwrap().push(json!({
            "Action": ["execute-api:Invoke"], "Effect": "Deny", "Resource": ARN}));
        assert_eq!(evaluate(&rest(both), ARN), Decision::ExplicitDeny, "an explicit Deny wins");
    }

    #[test]
    fn only_the_invoke_action_counts() {
        let mut other_action = answer("Allow", "*");
        other_action["policyDocument"]["Statement"][0]["Action"] = json!("s3:GetObject");
        assert_eq!(evaluate(&rest(other_action), ARN), Decision::ImplicitDeny);
        let mut any_action = answer("Allow", "*");
        any_action["policyDocument"]["Statement"][0]["Action"] = json!(["*"]);
        assert_eq!(evaluate(&rest(any_action), ARN), Decision::Allow);
    }

    #[test]
    fn wildcards() {
        assert!(arn_matches("*", ARN));
        assert!(arn_matches("arn:aws:execute-api:*:*:local/local/GET/*", ARN));
        assert!(!arn_matches("arn:aws:execute-api:*:*:local/local/POST/*", ARN));
        assert!(arn_matches("arn:aws:execute-api:us-east-?:*", ARN));
        assert!(!arn_matches("", ARN));
    }
}
