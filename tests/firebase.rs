//! Firebase ID-token verification: the negative cases of firebase-admin-node's token-verifier
//! tests, signed tokens against a JWKS served on 127.0.0.1, the key cache, and real Auth emulator
//! tokens.

use std::time::Duration;

use overten::Error;
use overten::config::FirebaseConfig;
use overten::firebase::TokenVerifier;
use overten_tests::jwks_server::JwksServer;
use overten_tests::tokens::{SigningKey, b64, claims, sign_hs256, unsigned};
use overten_tests::{PROJECT_ID, emulator_user};
use serde_json::{Value, json};

const UID: &str = "someUid";

fn verifier(url: &str, emulator: bool) -> TokenVerifier {
    TokenVerifier::new(&FirebaseConfig {
        project_id: PROJECT_ID.into(),
        jwks_url: url.into(),
        emulator_host: emulator.then(|| "127.0.0.1:9099".into()),
        fetch_timeout: Duration::from_millis(500),
    })
    .unwrap()
}

struct Setup {
    key: SigningKey,
    server: JwksServer,
    verifier: TokenVerifier,
    now: i64,
}

async fn setup() -> Setup {
    let key = SigningKey::generate("kid-1");
    let server = JwksServer::start(&[key.jwk()], 3600).await;
    let verifier = verifier(&server.url, false);
    Setup { key, server, verifier, now: overten::clock::now_secs() }
}

fn with(mut base: Value, field: &str, value: Value) -> Value {
    if value.is_null() {
        base.as_object_mut().unwrap().remove(field);
    } else {
        base[field] = value;
    }
    base
}

fn message(err: Error) -> String {
    match err {
        Error::InvalidToken(m) => m,
        other => panic!("expected invalid_token, got {other:?}"),
    }
}

#[tokio::test]
async fn a_valid_signed_token_gives_its_uid() {
    let s = setup().await;
    let token = s.key.id_token(&claims(PROJECT_ID, UID, s.now));
    let verified = s.verifier.verify(&token).await.unwrap();
    assert_eq!(verified.uid, UID);
    assert_eq!(verified.claims["firebase"]["sign_in_provider"], "password");
}

#[tokio::test]
async fn malformed_tokens_are_invalid() {
    let s = setup().await;
    let good = s.key.id_token(&claims(PROJECT_ID, UID, s.now));
    let cases: Vec<(String, &str)> = vec![
        ("".into(), "empty"),
        ("invalid-token".into(), "three"),
        ("a.b".into(), "three"),
        (format!("{good}.extra"), "three"),
        ("!!!.e30.sig".into(), "base64url"),
        (format!("{}.e30.sig", b64(&json!("not an object"))), "JSON"),
        ("e30.e30.sig".into(), "JSON"), // header {} has no alg
        (format!("{}.!!!.sig", b64(&json!({"alg": "RS256", "kid": "kid-1"}))), "base64url"),
        (format!("{}.{}.sig", b64(&json!({"alg": "RS256", "kid": "kid-1"})), b64(&json!([1, 2]))), "JSON"),
        ("x".repeat(20 * 1024), "too long"),
    ];
    for (token, expected) in cases {
        let m = message(s.verifier.verify(&token).await.unwrap_err());
        assert!(m.contains(expected), "{:.40}: {m}", token);
    }
    assert_eq!(s.server.hits(), 0, "garbage must not cost a key fetch");
}

#[tokio::test]
async fn header_checks_no_kid_and_wrong_algorithms() {
    let s = setup().await;
    let c = claims(PROJECT_ID, UID, s.now);
    let no_kid = s.key.sign_rs256(&json!({"alg": "RS256", "typ": "JWT"}), &c);
    assert!(message(s.verifier.verify(&no_kid).await.unwrap_err()).contains("kid"));
    let ps256 = s.key.sign_ps256(&json!({"alg": "PS256", "kid": "kid-1"}), &c);
    assert!(message(s.verifier.verify(&ps256).await.unwrap_err()).contains("algorithm"));
    let hs256 = sign_hs256(&json!({"alg": "HS256", "kid": "kid-1"}), &c, b"secret");
    assert!(message(s.verifier.verify(&hs256).await.unwrap_err()).contains("algorithm"));
    // Algorithm confusion: HMAC keyed with the RSA public key's bytes.
    let confused = sign_hs256(&json!({"alg": "HS256", "kid": "kid-1"}), &c, &s.key.public_der());
    assert!(message(s.verifier.verify(&confused).await.unwrap_err()).contains("algorithm"));
    let jwk_n = s.key.jwk()["n"].as_str().unwrap().to_owned();
    let confused_n = sign_hs256(&json!({"alg": "HS256", "kid": "kid-1"}), &c, jwk_n.as_bytes());
    assert!(s.verifier.verify(&confused_n).await.is_err());
    // alg none outside emulator mode, even with an otherwise perfect payload.
    assert!(message(s.verifier.verify(&unsigned(&c)).await.unwrap_err()).contains("unsigned"));
    // An RS256 header with the signature stripped.
    let stripped = format!("{}.", s.key.id_token(&c).rsplit_once('.').unwrap().0);
    assert!(message(s.verifier.verify(&stripped).await.unwrap_err()).contains("signature"));
}

#[tokio::test]
async fn claim_checks() {
    let s = setup().await;
    let base = claims(PROJECT_ID, UID, s.now);
    let invalid = [
        (with(base.clone(), "aud", json!("other-project")), "aud"),
        (with(base.clone(), "aud", json!(["demo-overten"])), "aud"),
        (with(base.clone(), "aud", Value::Null), "aud"),
        (
            with(
                base.clone(),
                "aud",
                json!("https://identitytoolkit.googleapis.com/google.identity.identitytoolkit.v1.IdentityToolkit"),
            ),
            "custom token",
        ),
        (with(base.clone(), "iss", json!("https://securetoken.google.com/other-project")), "iss"),
        (with(base.clone(), "iss", json!("https://accounts.google.com")), "iss"),
        (with(base.clone(), "iss", Value::Null), "iss"),
        (with(base.clone(), "sub", json!("")), "empty"),
        (with(base.clone(), "sub", json!(42)), "sub"),
        (with(base.clone(), "sub", json!({"uid": "x"})), "sub"),
        (with(base.clone(), "sub", Value::Null), "sub"),
        (with(base.clone(), "sub", json!("a".repeat(129))), "128"),
        (with(base.clone(), "iat", json!(s.now + 301)), "future"),
        (with(base.clone(), "iat", json!("yesterday")), "iat"),
        (with(base.clone(), "exp", Value::Null), "exp"),
    ];
    // Verified at the instant the claims were built: the boundaries below are one second wide,
    // and signing 2048-bit tokens under load can take longer than that.
    for (c, expected) in invalid {
        let token = s.key.id_token(&c);
        let m = message(s.verifier.verify_at(&token, s.now).await.unwrap_err());
        assert!(m.contains(expected), "{c}: {m}");
    }
    // Boundaries that pass: a 128-character sub, iat within the skew.
    let ok = with(base.clone(), "sub", json!("a".repeat(128)));
    assert_eq!(s.verifier.verify_at(&s.key.id_token(&ok), s.now).await.unwrap().uid.len(), 128);
    let ok = with(base.clone(), "iat", json!(s.now + 299));
    assert!(s.verifier.verify_at(&s.key.id_token(&ok), s.now).await.is_ok());
    // Expired: its own code.
    let expired = with(with(base.clone(), "exp", json!(s.now - 1)), "iat", json!(s.now - 3601));
    assert!(matches!(s.verifier.verify(&s.key.id_token(&expired)).await, Err(Error::TokenExpired)));
    assert_eq!(Error::TokenExpired.code(), "token_expired");
}

#[tokio::test]
async fn signature_checks() {
    let s = setup().await;
    let c = claims(PROJECT_ID, UID, s.now);
    // A signature over different claims.
    let token = s.key.id_token(&c);
    let other = s.key.id_token(&with(c.clone(), "sub", json!("attacker")));
    let (head, _) = other.rsplit_once('.').unwrap();
    let (_, sig) = token.rsplit_once('.').unwrap();
    assert!(message(s.verifier.verify(&format!("{head}.{sig}")).await.unwrap_err()).contains("signature"));
    // A key not in the set, under a kid that is.
    let rogue = SigningKey::generate("kid-1");
    assert!(message(s.verifier.verify(&rogue.id_token(&c)).await.unwrap_err()).contains("signature"));
    // A kid that is not in the set.
    let unknown = SigningKey::generate("kid-unknown");
    assert!(message(s.verifier.verify(&unknown.id_token(&c)).await.unwrap_err()).contains("kid"));
}

#[tokio::test]
async fn keys_are_cached_for_max_age_and_refetched_after() {
    let key = SigningKey::generate("kid-1");
    let server = JwksServer::start(&[key.jwk()], 1).await;
    let verifier = verifier(&server.url, false);
    let now = overten::clock::now_secs();
    let token = key.id_token(&claims(PROJECT_ID, UID, now));
    verifier.verify(&token).await.unwrap();
    verifier.verify(&token).await.unwrap();
    assert_eq!(server.hits(), 1, "the second verification must not fetch");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    verifier.verify(&token).await.unwrap();
    assert_eq!(server.hits(), 2, "after max-age the keys are refetched");
}

#[tokio::test]
async fn concurrent_first_requests_share_one_fetch() {
    let key = SigningKey::generate("kid-1");
    let server = JwksServer::start(&[key.jwk()], 3600).await;
    server.set(|a| a.delay = Duration::from_millis(100));
    let verifier = verifier(&server.url, false);
    let token = key.id_token(&claims(PROJECT_ID, UID, overten::clock::now_secs()));
    let results = futures_join_all((0..20).map(|_| verifier.verify(&token))).await;
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(server.hits(), 1);
}

async fn futures_join_all<F: std::future::Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    // A join without an extra crate: poll them all on one task.
    let futures: Vec<_> = futures.map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    let mut futures: Vec<Option<_>> = futures.into_iter().map(Some).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (slot, out) in futures.iter_mut().zip(outputs.iter_mut()) {
            if let Some(f) = slot {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => {
                        *out = Some(v);
                        *slot = None;
                    }
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending { std::task::Poll::Pending } else { std::task::Poll::Ready(()) }
    })
    .await;
    outputs.into_iter().map(Option::unwrap).collect()
}

#[tokio::test]
async fn a_failed_refresh_keeps_the_last_good_keys() {
    let key = SigningKey::generate("kid-1");
    let server = JwksServer::start(&[key.jwk()], 1).await;
    let verifier = verifier(&server.url, false);
    let token = key.id_token(&claims(PROJECT_ID, UID, overten::clock::now_secs()));
    verifier.verify(&token).await.unwrap();
    server.set(|a| a.status = 500);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    verifier.verify(&token).await.expect("old keys still verify while the endpoint fails");
    assert_eq!(server.hits(), 2);
    // And the failing endpoint is not hammered: nothing is fetched during the back-off.
    verifier.verify(&token).await.unwrap();
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn a_cold_verifier_while_googles_keys_fail_fetches_a_handful_of_times() {
    let key = SigningKey::generate("kid-1");
    let server = JwksServer::start(&[key.jwk()], 3600).await;
    server.set(|a| a.status = 500);
    let verifier = verifier(&server.url, false);
    let token = key.id_token(&claims(PROJECT_ID, UID, overten::clock::now_secs()));
    let started = std::time::Instant::now();
    for _ in 0..100 {
        let err = verifier.verify(&token).await.unwrap_err();
        assert_eq!(err.code(), "service_unavailable");
    }
    // One fetch, then one per back-off period (1, 2, 4 … s).
    let elapsed = started.elapsed().as_secs();
    let bound = 2 + (64 - (elapsed + 1).leading_zeros()) as usize;
    assert!((1..=bound).contains(&server.hits()), "{} fetches in {elapsed} s", server.hits());
    // Google recovers: after the back-off the next sign-in fetches and verifies.
    server.set(|a| a.status = 200);
    let mut verified = false;
    for _ in 0..70 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if verifier.verify(&token).await.is_ok() {
            verified = true;
            break;
        }
    }
    assert!(verified, "verified once the endpoint answers again, within the longest back-off");
}

#[tokio::test]
async fn an_unknown_kid_refetches_at_most_once_a_minute() {
    let key = SigningKey::generate("kid-1");
    let server = JwksServer::start(&[key.jwk()], 3600).await;
    let verifier = verifier(&server.url, false);
    let now = overten::clock::now_secs();
    verifier.verify(&key.id_token(&claims(PROJECT_ID, UID, now))).await.unwrap();
    let forged = SigningKey::generate("kid-forged").id_token(&claims(PROJECT_ID, UID, now));
    for _ in 0..10 {
        assert!(matches!(verifier.verify(&forged).await, Err(Error::InvalidToken(_))));
    }
    assert_eq!(server.hits(), 1, "forged kids must not trigger fetches within the minute");
}

#[tokio::test]
async fn a_new_kid_after_rotation_is_fetched_once() {
    let old = SigningKey::generate("kid-old");
    let server = JwksServer::start(&[old.jwk()], 3600).await;
    let verifier = verifier(&server.url, false);
    let now = overten::clock::now_secs();
    let new = SigningKey::generate("kid-new");
    server.set_keys(&[old.jwk(), new.jwk()]);
    // First use of the cache: no set yet, so one fetch gets both keys.
    verifier.verify(&new.id_token(&claims(PROJECT_ID, UID, now))).await.unwrap();
    verifier.verify(&old.id_token(&claims(PROJECT_ID, UID, now))).await.unwrap();
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn key_endpoint_failures_are_503_not_the_callers_fault() {
    let key = SigningKey::generate("kid-1");
    let token = key.id_token(&claims(PROJECT_ID, UID, overten::clock::now_secs()));
    // Down.
    let down = verifier("http://127.0.0.1:9/jwks", false);
    let err = down.verify(&token).await.unwrap_err();
    assert_eq!((err.status(), err.code()), (503, "service_unavailable"));
    // Erroring.
    let server = JwksServer::start(&[key.jwk()], 3600).await;
    server.set(|a| a.status = 503);
    let err = verifier(&server.url, false).verify(&token).await.unwrap_err();
    assert_eq!(err.code(), "service_unavailable");
    // Answering garbage.
    let server = JwksServer::start(&[], 3600).await;
    server.set(|a| a.body = "<html>".into());
    let err = verifier(&server.url, false).verify(&token).await.unwrap_err();
    assert_eq!(err.code(), "service_unavailable");
    // Too slow: the timeout answers, not the function's own deadline.
    let server = JwksServer::start(&[key.jwk()], 3600).await;
    server.set(|a| a.delay = Duration::from_secs(5));
    let started = std::time::Instant::now();
    let err = verifier(&server.url, false).verify(&token).await.unwrap_err();
    assert_eq!(err.code(), "service_unavailable");
    assert!(started.elapsed() < Duration::from_secs(3), "the fetch timeout did not apply");
}

#[tokio::test]
async fn unsigned_tokens_pass_claim_checks_only_in_emulator_mode() {
    let now = overten::clock::now_secs();
    let emulator = verifier("http://127.0.0.1:9/unused", true);
    assert_eq!(emulator.verify(&unsigned(&claims(PROJECT_ID, UID, now))).await.unwrap().uid, UID);
    for (c, code) in [
        (with(claims(PROJECT_ID, UID, now), "aud", json!("other")), "invalid_token"),
        (with(claims(PROJECT_ID, UID, now), "exp", json!(now - 5)), "token_expired"),
        (with(claims(PROJECT_ID, UID, now), "sub", json!("")), "invalid_token"),
    ] {
        assert_eq!(emulator.verify(&unsigned(&c)).await.unwrap_err().code(), code);
    }
}

#[tokio::test]
async fn real_auth_emulator_tokens() {
    let (uid, token) = emulator_user().await;
    let verified = overten_tests::emulator_verifier().verify(&token).await.unwrap();
    assert_eq!(verified.uid, uid);
    // The same token without the emulator variable: refused, without any fetch.
    let key = SigningKey::generate("kid-1");
    let server = JwksServer::start(&[key.jwk()], 3600).await;
    let strict = verifier(&server.url, false);
    assert!(message(strict.verify(&token).await.unwrap_err()).contains("unsigned"));
    assert_eq!(server.hits(), 0);
}
