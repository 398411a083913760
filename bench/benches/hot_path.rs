//! Criterion micro-benchmarks of the hot path: the authorizer's own work with the store's answer
//! already in hand, a malformed key, and one RS256 Firebase ID-token verification with cached keys.

use criterion::{Criterion, criterion_group, criterion_main};
use overten::ApiKey;
use overten::config::FirebaseConfig;
use overten::firebase::TokenVerifier;
use overten::store::FixedStore;
use overten_bench::fresh_record;
use overten_tests::events::rest_authorizer_event;
use overten_tests::jwks_server::JwksServer;
use overten_tests::tokens::{SigningKey, claims};
use serde_json::value::RawValue;

fn hot_path(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let key = ApiKey::generate();
    // The store already has the answer: what is measured is the function's own work.
    let store = FixedStore::answering(fresh_record());
    let event = serde_json::to_vec(&rest_authorizer_event(&[("X-API-Key", key.expose_secret())])).unwrap();
    c.bench_function("own_work", |b| {
        b.to_async(&runtime).iter(|| async {
            let payload: Box<RawValue> = serde_json::from_slice(&event).unwrap();
            let answer = authorizer::invoke(&store, &payload, "bench").await.unwrap();
            assert!(answer.is_allowed());
            serde_json::to_vec(&answer).unwrap()
        })
    });

    // The same with a key at the lists' limits: 20 permission entries (6 distinct exist; the
    // entries repeat so the scan is as long as a stored list can be), 50 formats, 20 networks, and
    // a request that matches the last of each (every list scanned to its end). The store decodes
    // the item GetItem returned, as the adapter does (`overten::store::decode_key_item`), so the
    // figure is the whole of the function's work for such a key: decoding its lists, judging the
    // request, answering. The item's copy is made outside the measurement.
    let restricted_event = serde_json::to_vec(&overten_tests::events::rest_authorizer_event_for(
        "POST",
        "/v1/generations/f49",
        &[("X-API-Key", key.expose_secret())],
        "2001:db8:13::1",
    ))
    .unwrap();
    let item = overten_bench::restricted_item();
    c.bench_function("own_work_restricted", |b| {
        b.to_async(&runtime).iter_batched(
            || overten_bench::DecodingStore::new(item.clone()),
            |store| {
                let event = &restricted_event;
                async move {
                    let payload: Box<RawValue> = serde_json::from_slice(event).unwrap();
                    let answer = authorizer::invoke(&store, &payload, "bench").await.unwrap();
                    assert!(answer.is_allowed());
                    serde_json::to_vec(&answer).unwrap()
                }
            },
            criterion::BatchSize::SmallInput,
        )
    });
    // The decoding alone, for the table.
    c.bench_function("restricted_item_decode", |b| {
        b.iter_batched(
            || item.clone(),
            |item| overten::store::decode_key_item(item).unwrap(),
            criterion::BatchSize::SmallInput,
        )
    });

    // `/verify`'s own work, with the production subscriber writing to a sink: the proxy event
    // decoded, the key checked, its `key usage` line written (every call writes one), the answer.
    let verify_event = serde_json::to_vec(&overten_tests::events_json(
        "GET",
        "/verify",
        &[("X-API-Key".to_owned(), key.expose_secret().to_owned())],
    ))
    .unwrap();
    let logging = tracing::subscriber::set_default(overten::logging::subscriber(std::io::sink));
    c.bench_function("verify_own_work", |b| {
        b.to_async(&runtime).iter(|| async {
            let payload: Box<RawValue> = serde_json::from_slice(&verify_event).unwrap();
            let response = verify::invoke(&store, &payload, "bench").await;
            assert_eq!(response.status_code, 200);
            serde_json::to_vec(&response).unwrap()
        })
    });
    // The usage line alone, as `/verify` writes it on every call.
    let line = overten::usage::line::Usage {
        org_id: "org_2xq4k9fm3hb7wz",
        key_id: "key_01JD8X4Z7M2K9Q4V6T3N1B5C8R",
        status: 200,
        route: Some("GET /verify"),
        format: None,
        ip: Some("203.0.113.7"),
        user_agent: Some("curl/8.5.0"),
        refused: None,
    };
    c.bench_function("usage_line", |b| b.iter(|| overten::usage::line::emit(&line)));
    drop(logging);

    let signing = SigningKey::generate("kid-bench");
    let (server, verifier) = runtime.block_on(async {
        let server = JwksServer::start(&[signing.jwk()], 3600).await;
        let verifier = TokenVerifier::new(&FirebaseConfig {
            project_id: "demo-overten".into(),
            jwks_url: server.url.clone(),
            emulator_host: None,
            fetch_timeout: std::time::Duration::from_secs(2),
        })
        .unwrap();
        (server, verifier)
    });
    let token = signing.id_token(&claims("demo-overten", "bench-uid", overten::clock::now_secs()));
    runtime.block_on(verifier.verify(&token)).expect("warm the key cache");
    c.bench_function("firebase_verify", |b| {
        b.to_async(&runtime).iter(|| async { verifier.verify(&token).await.unwrap() })
    });
    assert_eq!(server.hits(), 1, "verification fetched keys on the warm path");
}

criterion_group!(benches, hot_path);
criterion_main!(benches);
