//! The configuration readers' tests: every variable, its default, and the production guards.

use super::*;
use std::collections::HashMap;

fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    move |name| map.get(name).cloned()
}

#[test]
fn a_missing_variable_is_named() {
    let err = Tables::from_lookup(lookup(&[("API_KEYS_TABLE", "k")])).unwrap_err();
    assert_eq!(err, ConfigError::Missing("ORGS_TABLE"));
    assert!(err.to_string().contains("ORGS_TABLE"));
    let err = FirebaseConfig::from_lookup(lookup(&[("FIREBASE_PROJECT_ID", " ")])).unwrap_err();
    assert_eq!(err, ConfigError::Missing("FIREBASE_PROJECT_ID"));
}

#[test]
fn defaults_and_overrides() {
    let t = Tables::from_lookup(lookup(&[("API_KEYS_TABLE", "k"), ("ORGS_TABLE", "o")])).unwrap();
    assert_eq!(t, Tables { api_keys: "k".into(), orgs: "o".into() });
    let f = FirebaseConfig::from_lookup(lookup(&[("FIREBASE_PROJECT_ID", "demo-overten")])).unwrap();
    assert_eq!(f.jwks_url, GOOGLE_JWKS_URL);
    assert_eq!(f.emulator_host, None);
    let f = FirebaseConfig::from_lookup(lookup(&[
        ("FIREBASE_PROJECT_ID", "demo-overten"),
        ("FIREBASE_JWKS_URL", "http://127.0.0.1:9/jwks"),
        ("FIREBASE_AUTH_EMULATOR_HOST", "127.0.0.1:9099"),
    ]))
    .unwrap();
    assert_eq!(f.jwks_url, "http://127.0.0.1:9/jwks");
    assert_eq!(f.emulator_host.as_deref(), Some("127.0.0.1:9099"));
    assert!(FirebaseConfig::from_lookup(lookup(&[("FIREBASE_PROJECT_ID", "a/b")])).is_err());
}

#[test]
fn the_cors_origin_is_one_exact_origin() {
    let get = |v: &'static str| move |name: &str| (name == "CORS_ALLOWED_ORIGIN").then(|| v.to_owned());
    assert_eq!(
        cors_origin(&get("https://dashboard.overten.com")).unwrap().as_deref(),
        Some("https://dashboard.overten.com")
    );
    assert_eq!(cors_origin(&get("http://127.0.0.1:3390")).unwrap().as_deref(), Some("http://127.0.0.1:3390"));
    assert_eq!(cors_origin(&lookup(&[])).unwrap(), None);
    for bad in ["*", "https://a.com/", "https://a.com/path", "dashboard.overten.com", "https://", "https://a b"] {
        assert!(cors_origin(&get(bad)).is_err(), "{bad}");
    }
}

#[tokio::test]
async fn the_timeouts_reach_the_sdk_config() {
    for timeouts in [DynamoTimeouts::HOT_PATH, DynamoTimeouts::MANAGEMENT] {
        let loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("a", "b", None, None, "test"));
        let config = timeouts.apply(loader).load().await;
        let applied = config.timeout_config().expect("a timeout config");
        assert_eq!(applied.connect_timeout(), Some(timeouts.connect));
        assert_eq!(applied.operation_attempt_timeout(), Some(timeouts.attempt));
        assert_eq!(applied.operation_timeout(), Some(timeouts.operation));
        assert_eq!(config.retry_config().expect("a retry config").max_attempts(), timeouts.max_attempts);
    }
    // Each bound fits the function it serves (README, "Timeouts").
    assert!(DynamoTimeouts::HOT_PATH.operation < Duration::from_secs(2));
    assert!(DynamoTimeouts::MANAGEMENT.operation < Duration::from_secs(5));
}

const LAMBDA: (&str, &str) = ("AWS_LAMBDA_FUNCTION_NAME", "overten-keys-prod-signup");

#[test]
fn githubs_key_url_has_a_default_an_override_and_the_https_guard() {
    let g = GithubKeysConfig::from_lookup(lookup(&[])).unwrap();
    assert_eq!(g.keys_url, GITHUB_SECRET_SCANNING_KEYS_URL);
    let local = GithubKeysConfig::from_lookup(lookup(&[("GITHUB_SECRET_SCANNING_KEYS_URL", "http://127.0.0.1:1/k")]));
    assert_eq!(local.unwrap().keys_url, "http://127.0.0.1:1/k", "plain http is for local development");
    let deployed = GithubKeysConfig::from_lookup(lookup(&[
        ("AWS_LAMBDA_FUNCTION_NAME", "overten-keys-prod-secret-scanning"),
        ("GITHUB_SECRET_SCANNING_KEYS_URL", "http://127.0.0.1:1/k"),
    ]));
    assert!(matches!(deployed, Err(ConfigError::Unsafe("GITHUB_SECRET_SCANNING_KEYS_URL", _))));
}

#[test]
fn githubs_token_is_an_optional_secret_arn() {
    assert_eq!(GithubKeysConfig::from_lookup(lookup(&[])).unwrap().token_secret_arn, None);
    assert_eq!(
        GithubKeysConfig::from_lookup(lookup(&[("GITHUB_TOKEN_SECRET_ARN", "  ")])).unwrap().token_secret_arn,
        None
    );
    let arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:overten/github-token-AbCdEf";
    let g = GithubKeysConfig::from_lookup(lookup(&[("GITHUB_TOKEN_SECRET_ARN", arn)])).unwrap();
    assert_eq!(g.token_secret_arn.as_deref(), Some(arn));
    for bad in [
        "ghp_notanarn",
        "arn:aws:ssm:eu-west-1:123456789012:parameter/x",
        "arn:aws:secretsmanager:eu-west-1:1234:secret:x",
        "arn:aws:secretsmanager:eu-west-1:12345678901x:secret:x",
        "arn:aws:secretsmanager::123456789012:secret:x",
        "arn::secretsmanager:eu-west-1:123456789012:secret:x",
        "arn:aws:secretsmanager:eu-west-1:123456789012:secrets:x",
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:",
        "aws:aws:secretsmanager:eu-west-1:123456789012:secret:x-AbCdEf",
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:overten/github-token",
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:-AbCdEf",
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:token-AbCdE",
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:token-AbCd_f",
    ] {
        let err = GithubKeysConfig::from_lookup(lookup(&[("GITHUB_TOKEN_SECRET_ARN", bad)])).unwrap_err();
        assert!(matches!(err, ConfigError::Invalid("GITHUB_TOKEN_SECRET_ARN", _)), "{bad}");
        assert!(!err.to_string().contains(bad), "the value is not echoed");
    }
    let long = format!("arn:aws:secretsmanager:eu-west-1:123456789012:secret:{}", "x".repeat(2000));
    assert!(GithubKeysConfig::from_lookup(lookup(&[("GITHUB_TOKEN_SECRET_ARN", &long)])).is_err());
}

#[test]
fn a_production_environment_with_the_real_defaults_starts() {
    let f = FirebaseConfig::from_lookup(lookup(&[LAMBDA, ("FIREBASE_PROJECT_ID", "overten-prod")])).unwrap();
    assert_eq!(f.jwks_url, GOOGLE_JWKS_URL);
    assert_eq!(f.emulator_host, None);
    let https = ("FIREBASE_JWKS_URL", "https://keys.example.com/jwks");
    let f = FirebaseConfig::from_lookup(lookup(&[LAMBDA, ("FIREBASE_PROJECT_ID", "overten-prod"), https])).unwrap();
    assert_eq!(f.jwks_url, "https://keys.example.com/jwks");
}

#[test]
fn the_emulator_is_refused_inside_lambda() {
    let env = [LAMBDA, ("FIREBASE_PROJECT_ID", "demo-overten"), ("FIREBASE_AUTH_EMULATOR_HOST", "127.0.0.1:9099")];
    let err = FirebaseConfig::from_lookup(lookup(&env)).unwrap_err();
    assert!(matches!(err, ConfigError::Unsafe("FIREBASE_AUTH_EMULATOR_HOST", _)), "{err:?}");
    assert!(err.to_string().contains("FIREBASE_AUTH_EMULATOR_HOST"));
    // `sam local` is local development, not a deployed function.
    let sam_local = [env[0], env[1], env[2], ("AWS_SAM_LOCAL", "true")];
    assert!(FirebaseConfig::from_lookup(lookup(&sam_local)).is_ok());
}

#[test]
fn a_clear_text_key_set_url_is_refused_inside_lambda() {
    for url in ["http://127.0.0.1:9/jwks", "ftp://keys", "HTTPS-ish://x"] {
        let env = [LAMBDA, ("FIREBASE_PROJECT_ID", "overten-prod"), ("FIREBASE_JWKS_URL", url)];
        let err = FirebaseConfig::from_lookup(lookup(&env)).unwrap_err();
        assert_eq!(err, ConfigError::Unsafe("FIREBASE_JWKS_URL", "key sets are fetched over https:// only"));
        assert!(err.to_string().contains("FIREBASE_JWKS_URL"));
    }
    // Outside Lambda, tests and `make dev` serve key sets on 127.0.0.1.
    let local = [("FIREBASE_PROJECT_ID", "overten-prod"), ("FIREBASE_JWKS_URL", "http://127.0.0.1:9/jwks")];
    assert!(FirebaseConfig::from_lookup(lookup(&local)).is_ok());
}

#[test]
fn emulator_mode_needs_a_demo_project_outside_lambda() {
    let emulator = ("FIREBASE_AUTH_EMULATOR_HOST", "127.0.0.1:9099");
    let err = FirebaseConfig::from_lookup(lookup(&[("FIREBASE_PROJECT_ID", "overten-prod"), emulator])).unwrap_err();
    assert!(matches!(err, ConfigError::Invalid("FIREBASE_AUTH_EMULATOR_HOST", _)), "{err:?}");
    assert!(err.to_string().contains("demo-"));
    assert!(FirebaseConfig::from_lookup(lookup(&[("FIREBASE_PROJECT_ID", "demo-overten"), emulator])).is_ok());
    // An empty AWS_LAMBDA_FUNCTION_NAME is not Lambda.
    let env = [("AWS_LAMBDA_FUNCTION_NAME", " "), ("FIREBASE_PROJECT_ID", "demo-x"), emulator];
    assert!(FirebaseConfig::from_lookup(lookup(&env)).is_ok());
}

#[test]
fn a_firebase_project_id_is_at_most_128_letters_digits_and_hyphens() {
    let project = |id: &str| FirebaseConfig::from_lookup(lookup(&[("FIREBASE_PROJECT_ID", id)]));
    assert_eq!(project(&"a".repeat(128)).unwrap().project_id.len(), 128);
    for bad in ["a".repeat(129), "a".repeat(1000), "demo_overten".into(), "demo overten".into()] {
        let err = project(&bad).unwrap_err();
        assert_eq!(err, ConfigError::Invalid("FIREBASE_PROJECT_ID", "not a Firebase project id".into()), "{bad}");
    }
}
