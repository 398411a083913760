//! Property tests over the parsers that face untrusted input: whatever arrives, each returns a
//! value or a typed error, never panics, and accepts exactly what it should.

use http::{HeaderMap, HeaderValue};
use overten::config::FirebaseConfig;
use overten::credentials::api_key_from_headers;
use overten::firebase::TokenVerifier;
use overten::requests::{CreateKeyRequest, SignupRequest, parse_list_query};
use overten::{ApiKey, Error};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn key_parsing_is_total(input in any::<String>()) {
        let _ = ApiKey::parse(&input);
    }

    #[test]
    fn key_shaped_strings_pass_only_with_their_checksum(body in "[0-9A-Za-z]{28}") {
        let candidate = format!("sk_live_{body}");
        if let Ok(key) = ApiKey::parse(&candidate) {
            // Accepted means the checksum matched: the key re-parses to itself.
            prop_assert_eq!(key.expose_secret(), candidate.as_str());
        }
    }

    #[test]
    fn generated_keys_survive_any_surrounding_header_form(spaces in " {0,3}", scheme in "(?i)bearer") {
        let key = ApiKey::generate();
        let mut headers = HeaderMap::new();
        let value = format!("{scheme} {spaces}{}{spaces}", key.expose_secret());
        headers.insert("authorization", HeaderValue::from_str(&value).unwrap());
        prop_assert_eq!(api_key_from_headers(&headers).unwrap(), key);
    }

    #[test]
    fn header_extraction_is_total(x_api_key in proptest::option::of(any::<Vec<u8>>()), auth in proptest::option::of(any::<Vec<u8>>())) {
        let mut headers = HeaderMap::new();
        if let Some(Ok(v)) = x_api_key.map(|b| HeaderValue::from_bytes(&b)) { headers.insert("x-api-key", v); }
        if let Some(Ok(v)) = auth.map(|b| HeaderValue::from_bytes(&b)) { headers.insert("authorization", v); }
        match api_key_from_headers(&headers) {
            Ok(_) | Err(Error::MissingApiKey) | Err(Error::InvalidApiKey(_)) => {}
            Err(other) => prop_assert!(false, "unexpected {other:?}"),
        }
    }

    #[test]
    fn body_parsers_are_total(body in any::<Vec<u8>>()) {
        for result in [SignupRequest::parse(&body).err(), CreateKeyRequest::parse(&body).err()].into_iter().flatten() {
            prop_assert!(matches!(result, Error::InvalidRequest(_) | Error::PayloadTooLarge(_)), "{result:?}");
        }
    }

    #[test]
    fn json_shaped_bodies_are_total(org in proptest::option::of(".{0,120}"), existing in proptest::option::of(".{0,40}"), key in proptest::option::of(".{0,80}")) {
        let body = serde_json::json!({"org_name": org, "existing_org_id": existing, "key_name": key});
        match SignupRequest::parse(body.to_string().as_bytes()) {
            Ok(SignupRequest::NewOrg { org_name, key_name }) => {
                prop_assert!((1..=100).contains(&org_name.chars().count()));
                prop_assert!((1..=64).contains(&key_name.chars().count()));
            }
            Ok(SignupRequest::ExistingOrg { org_id, .. }) => prop_assert!(!org_id.is_empty()),
            Err(e) => prop_assert!(matches!(e, Error::InvalidRequest(_))),
        }
    }

    #[test]
    fn list_queries_are_total(pairs in proptest::collection::vec((".{0,20}", ".{0,20}"), 0..5)) {
        let refs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        if let Ok(q) = parse_list_query(refs) {
            prop_assert!((1..=100).contains(&q.limit));
        }
    }
}

fn emulator_verifier() -> TokenVerifier {
    TokenVerifier::new(&FirebaseConfig {
        project_id: "demo-overten".into(),
        // Nothing listens there: a token that gets as far as a key fetch fails fast with 503.
        jwks_url: "http://127.0.0.1:9/jwks".into(),
        emulator_host: Some("127.0.0.1:9099".into()),
        fetch_timeout: std::time::Duration::from_millis(200),
    })
    .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn token_decoding_is_total(token in "[A-Za-z0-9_.=-]{0,300}|.{0,100}") {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let result = runtime.block_on(emulator_verifier().verify(&token));
        if let Err(err) = result {
            prop_assert!(matches!(err, Error::InvalidToken(_) | Error::TokenExpired | Error::Unavailable(_)), "{err:?}");
        }
    }

    #[test]
    fn emulator_tokens_with_arbitrary_claims_are_total(claims in proptest::collection::btree_map("(aud|iss|sub|iat|exp|x)", prop_oneof![
        Just(serde_json::Value::Null),
        any::<i64>().prop_map(serde_json::Value::from),
        ".{0,140}".prop_map(serde_json::Value::from),
        Just(serde_json::json!(["demo-overten"])),
    ], 0..6)) {
        use base64::Engine;
        let b64 = |v: &serde_json::Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        let token = format!("{}.{}.", b64(&serde_json::json!({"alg": "none"})), b64(&serde_json::json!(claims)));
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        if let Ok(verified) = runtime.block_on(emulator_verifier().verify(&token)) {
            prop_assert!(!verified.uid.is_empty() && verified.uid.chars().count() <= 128);
        }
    }
}
