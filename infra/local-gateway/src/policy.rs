//! How API Gateway reads a REST authorizer's answer: an explicit `Deny` matching the method ARN
//! wins, then a matching `Allow`; no matching statement is an implicit deny. Both denials are
//! the `ACCESS_DENIED` gateway response. An answer without a policy is the authorizer's failure.

use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    ExplicitDeny,
    ImplicitDeny,
    /// Not an authorizer answer API Gateway can use (no principal or policy).
    Malformed,
}

pub fn evaluate(answer: &Value, method_arn: &str) -> Decision {
    let Some(statements) = answer["policyDocument"]["Statement"].as_array() else { return Decision::Malformed };
    if !answer["principalId"].is_string() {
        return Decision::Malformed;
    }
    let matching = |effect: &str| {
        statements.iter().any(|s| {
            s["Effect"] == effect
                && actions(&s["Action"]).iter().any(|a| *a == "execute-api:Invoke" || *a == "*")
                && resources(&s["Resource"]).iter().any(|r| arn_matches(r, method_arn))
        })
    };
    if matching("Deny") {
        Decision::ExplicitDeny
    } else if matching("Allow") {
        Decision::Allow
    } else {
        Decision::ImplicitDeny
    }
}

fn actions(v: &Value) -> Vec<&str> {
    match v {
        Value::String(s) => vec![s.as_str()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn resources(v: &Value) -> Vec<&str> {
    actions(v)
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
    use serde_json::json;

    const ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:local/local/GET/v1/whoami";

    fn answer(effect: &str, resource: &str) -> Value {
        json!({"principalId": "p", "policyDocument": {"Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": [resource]}]}})
    }

    #[test]
    fn decisions() {
        let stage = "arn:aws:execute-api:us-east-1:123456789012:local/local/*";
        assert_eq!(evaluate(&answer("Allow", stage), ARN), Decision::Allow);
        assert_eq!(evaluate(&answer("Deny", stage), ARN), Decision::ExplicitDeny);
        let other = "arn:aws:execute-api:us-east-1:123456789012:local/prod/*";
        assert_eq!(evaluate(&answer("Allow", other), ARN), Decision::ImplicitDeny);
        assert_eq!(evaluate(&json!({"principalId": "p"}), ARN), Decision::Malformed);
        assert_eq!(evaluate(&json!({"policyDocument": {"Statement": []}}), ARN), Decision::Malformed);
        let mut both = answer("Allow", "*");
        both["policyDocument"]["Statement"].as_array_mut().unwrap().push(json!({
            "Action": ["execute-api:Invoke"], "Effect": "Deny", "Resource": ARN}));
        assert_eq!(evaluate(&both, ARN), Decision::ExplicitDeny, "an explicit Deny wins");
    }

    #[test]
    fn only_the_invoke_action_counts() {
        let mut other_action = answer("Allow", "*");
        other_action["policyDocument"]["Statement"][0]["Action"] = json!("s3:GetObject");
        assert_eq!(evaluate(&other_action, ARN), Decision::ImplicitDeny);
        let mut any_action = answer("Allow", "*");
        any_action["policyDocument"]["Statement"][0]["Action"] = json!(["*"]);
        assert_eq!(evaluate(&any_action, ARN), Decision::Allow);
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
