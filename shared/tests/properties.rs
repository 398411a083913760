//! Property tests over the parsers that face untrusted input: whatever arrives, each returns a
//! value or a typed error, never panics, and accepts exactly what it should.

use http::{HeaderMap, HeaderValue};
use overten::config::FirebaseConfig;
use overten::credentials::api_key_from_headers;
use overten::firebase::TokenVerifier;
use overten::requests::{CreateKeyRequest, RollKeyRequest, SignupRequest, parse_key_update, parse_list_query};
use overten::{ApiKey, Error, KeyFormatError};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn key_parsing_is_total(input in any::<String>()) {
        let _ = ApiKey::parse(&input);
    }

    #[test]
    fn key_shaped_strings_pass_exactly_with_their_checksum(random in "[0-9A-Za-z]{22}", at in 0usize..36, to in "[0-9A-Za-z]") {
        // A key built on purpose with the checksum the spec defines (computed by the oracle below,
        // not by the code under test) parses to itself.
        let head = format!("sk_live_{random}");
        let candidate = format!("{head}{}", oracle_checksum(&head));
        let key = ApiKey::parse(&candidate);
        prop_assert!(key.is_ok(), "{:?}", key);
        let key = key.unwrap();
        prop_assert_eq!(key.expose_secret(), candidate.as_str());
        // The same key with one character changed never parses: in the prefix it is the wrong
        // prefix, anywhere else the checksum no longer matches.
        let mut changed = candidate.clone().into_bytes();
        let replacement = to.as_bytes()[0];
        prop_assume!(changed[at] != replacement);
        changed[at] = replacement;
        let changed = String::from_utf8(changed).unwrap();
        let expected = if at < 8 { KeyFormatError::WrongPrefix } else { KeyFormatError::BadChecksum };
        prop_assert_eq!(ApiKey::parse(&changed).unwrap_err(), expected);
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
        let now = overten::clock::now_secs();
        let results = [
            SignupRequest::parse(&body).err(),
            CreateKeyRequest::parse(&body, now).err(),
            RollKeyRequest::parse(&body, now).err(),
            parse_key_update(&body).err(),
        ];
        for result in results.into_iter().flatten() {
            prop_assert!(matches!(result, Error::InvalidRequest(_) | Error::PayloadTooLarge(_)), "{result:?}");
        }
    }

    #[test]
    fn json_shaped_bodies_are_total(org in proptest::option::of(".{0,120}"), existing in proptest::option::of(".{0,40}"), key in proptest::option::of(".{0,80}")) {
        // Absent optional fields are left out, as clients send them (`null` is refused on its own).
        let mut body = serde_json::Map::new();
        for (name, value) in [("org_name", &org), ("existing_org_id", &existing), ("key_name", &key)] {
            if let Some(v) = value { body.insert(name.into(), v.clone().into()); }
        }
        // The parser's rule (README): 1–max characters, not blank, no control characters.
        let valid_name = |s: &str, max: usize| {
            (1..=max).contains(&s.chars().count()) && !s.trim().is_empty() && !s.chars().any(char::is_control)
        };
        let key_ok = key.as_deref().is_none_or(|k| valid_name(k, 64));
        match SignupRequest::parse(serde_json::Value::Object(body).to_string().as_bytes()) {
            Ok(SignupRequest::NewOrg { org_name, key_name }) => {
                prop_assert!(existing.is_none());
                prop_assert_eq!(Some(&org_name), org.as_ref());
                prop_assert!(valid_name(&org_name, 100));
                prop_assert_eq!(key_name, key.clone().unwrap_or_else(|| "default".into()));
            }
            Ok(SignupRequest::ExistingOrg { org_id, key_name }) => {
                prop_assert!(org.is_none());
                prop_assert_eq!(Some(&org_id), existing.as_ref());
                prop_assert!(!org_id.is_empty());
                prop_assert_eq!(key_name, key.clone().unwrap_or_else(|| "default".into()));
            }
            Err(e) => {
                prop_assert!(matches!(e, Error::InvalidRequest(_)), "{:?}", e);
                // Refused only for a reason: both or neither, a bad name, an empty org id.
                let org_ok = org.as_deref().is_some_and(|o| valid_name(o, 100));
                let existing_ok = existing.as_deref().is_some_and(|e| !e.is_empty());
                let acceptable = key_ok && (org_ok && existing.is_none() || existing_ok && org.is_none());
                prop_assert!(!acceptable, "a valid body was refused");
            }
        }
    }

    #[test]
    fn list_queries_parse_exactly_when_valid(pairs in proptest::collection::vec((
        "(limit|cursor|include_revoked|.{0,8})",
        "([0-9]{1,4}|-1|key_[A-Za-z0-9_-]{1,70}|true|false|.{0,12})",
    ), 0..5)) {
        let refs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let valid_pair = |(k, v): &(String, String)| match k.as_str() {
            "limit" => v.parse::<usize>().is_ok_and(|n| (1..=100).contains(&n)),
            "cursor" => v.strip_prefix("key_").is_some_and(|r| (1..=64).contains(&r.len()) && r.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')),
            "include_revoked" => v == "true" || v == "false",
            _ => false,
        };
        match parse_list_query(refs) {
            Ok(q) => {
                prop_assert!(pairs.iter().all(valid_pair), "accepted {:?}", pairs);
                // The last value of each parameter wins; absent ones take their defaults.
                let last = |name: &str| pairs.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.clone());
                prop_assert_eq!(q.limit, last("limit").map_or(100, |v| v.parse().unwrap()));
                prop_assert_eq!(q.cursor, last("cursor"));
                prop_assert_eq!(q.include_revoked, last("include_revoked").as_deref() == Some("true"));
            }
            Err(e) => {
                prop_assert!(matches!(e, Error::InvalidRequest(_)));
                prop_assert!(!pairs.iter().all(valid_pair), "refused the valid {:?}", pairs);
            }
        }
    }
}

/// One verifier and one runtime for all cases (a verifier holds an HTTP client, costly to build
/// per case). Nothing listens at the key-set URL: a token that gets as far as a key fetch fails
/// fast with 503.
static VERIFIER: std::sync::LazyLock<TokenVerifier> = std::sync::LazyLock::new(build_verifier);
static RUNTIME: std::sync::LazyLock<tokio::runtime::Runtime> =
    std::sync::LazyLock::new(|| tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap());

fn emulator_verifier() -> &'static TokenVerifier {
    &VERIFIER
}

fn build_verifier() -> TokenVerifier {
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
        let runtime = &*RUNTIME;
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
        let token = unsigned(&serde_json::json!(claims));
        let runtime = &*RUNTIME;
        if let Ok(verified) = runtime.block_on(emulator_verifier().verify(&token)) {
            prop_assert!(!verified.uid.is_empty() && verified.uid.chars().count() <= 128);
        }
    }

    /// Valid claims pass with their uid; breaking any one claim refuses the token with that
    /// claim's error.
    #[test]
    fn one_broken_claim_refuses_the_token(sub in "[A-Za-z0-9]{1,128}", age in 0i64..3000, life in 1i64..3600, broken in 0usize..7) {
        let now = overten::clock::now_secs();
        let mut claims = serde_json::json!({
            "aud": "demo-overten", "iss": "https://securetoken.google.com/demo-overten",
            "sub": sub, "iat": now - age, "exp": now + life,
        });
        let runtime = &*RUNTIME;
        let verifier = emulator_verifier();
        let verified = runtime.block_on(verifier.verify_at(&unsigned(&claims), now));
        prop_assert_eq!(verified.map(|v| v.uid).ok(), Some(sub.clone()));
        let (name, value, expect_expired) = match broken {
            0 => ("aud", serde_json::json!("another-project"), false),
            1 => ("iss", serde_json::json!("https://securetoken.google.com/another-project"), false),
            2 => ("sub", serde_json::json!(""), false),
            3 => ("sub", serde_json::json!("x".repeat(129)), false),
            4 => ("iat", serde_json::json!(now + 301 + age), false),
            5 => ("exp", serde_json::json!(now - age), true),
            _ => ("exp", serde_json::Value::Null, false),
        };
        claims[name] = value;
        let err = runtime.block_on(verifier.verify_at(&unsigned(&claims), now)).unwrap_err();
        if expect_expired {
            prop_assert!(matches!(err, Error::TokenExpired), "{:?}", err);
        } else {
            prop_assert!(matches!(&err, Error::InvalidToken(m) if m.contains(&format!("\"{name}\""))), "{name}: {:?}", err);
        }
    }
}

/// An emulator (`alg: none`) token with these claims.
fn unsigned(claims: &serde_json::Value) -> String {
    use base64::Engine;
    let b64 = |v: &serde_json::Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    format!("{}.{}.", b64(&serde_json::json!({"alg": "none"})), b64(claims))
}

/// The checksum as the key format defines it (CRC-32/IEEE of the first 30 characters, 6 base62
/// digits, most significant first), computed independently of `api_key.rs`.
fn oracle_checksum(head: &str) -> String {
    let mut crc: u32 = 0xFFFF_FFFF;
    for byte in head.bytes() {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    let mut n = u64::from(!crc);
    let alphabet = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut digits = [b'0'; 6];
    for slot in digits.iter_mut().rev() {
        *slot = alphabet[(n % 62) as usize];
        n /= 62;
    }
    String::from_utf8(digits.to_vec()).unwrap()
}
