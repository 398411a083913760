//! The hot path: expiry on the one read, and the `last_used_at` write's budget.

use super::*;

fn headers(key: &ApiKey) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("x-api-key", key.expose_secret().parse().unwrap());
    headers
}

fn record(expires_at: Option<i64>, last_used_at: Option<i64>) -> KeyRecord {
    KeyRecord {
        key_id: KEY.into(),
        org_id: ORG.into(),
        name: "k".into(),
        prefix: "sk_live_abcd".into(),
        created_at: NOW - 86_400,
        revoked_at: None,
        revoked_reason: None,
        last_used_at,
        expires_at,
        rolled_to: None,
        leaked_url: None,
        leaked_source: None,
        restrictions: Default::default(),
    }
}

/// Expiry is judged on the one read against the clock: live the second before `expires_at`,
/// `expired_api_key` at it; a revoked key is unknown; no key, no read.
#[tokio::test]
async fn a_key_is_live_until_the_second_before_it_expires_and_never_once_revoked() {
    let key = ApiKey::generate();
    let clock = Clock::fixed(NOW - 1);
    let store = Recorder::new().with_key(&key, record(Some(NOW), Some(NOW - 10)));
    let found = authenticate_at(&store, &headers(&key), clock.now_secs()).await.unwrap();
    assert_eq!(found, record(Some(NOW), Some(NOW - 10)));
    clock.set(NOW);
    let expired = authenticate_at(&store, &headers(&key), clock.now_secs()).await;
    assert!(matches!(expired, Err(Error::ExpiredApiKey)), "{expired:?}");
    assert_eq!(store.calls(), ["find_key"; 2], "one read each, and a key used 10 s ago is not written");

    let mut revoked = record(None, None);
    revoked.revoked_at = Some(NOW - 5);
    let store = Recorder::new().with_key(&key, revoked);
    assert!(matches!(authenticate_at(&store, &headers(&key), NOW).await, Err(Error::UnknownApiKey)));
    assert_eq!(store.calls(), ["find_key"], "a revoked key is never written");

    let store = Recorder::new();
    assert!(matches!(authenticate_at(&store, &headers(&key), NOW).await, Err(Error::UnknownApiKey)));
    assert!(matches!(authenticate_at(&store, &HeaderMap::new(), NOW).await, Err(Error::MissingApiKey)));
    assert_eq!(store.calls(), ["find_key"], "no key in the request, no read");

    // `authenticate` judges by the system clock.
    let store = Recorder::new().with_key(&key, record(Some(now_secs() - 1), None));
    assert!(matches!(authenticate(&store, &headers(&key)).await, Err(Error::ExpiredApiKey)));
    let store = Recorder::new().with_key(&key, record(Some(now_secs() + 3600), Some(now_secs())));
    assert_eq!(authenticate(&store, &headers(&key)).await.unwrap().key_id, KEY);
}

/// A refusal keeps the record of a key of ours that ended, and names it for that key's usage
/// more finely than the response does; an unknown key has no record and no usage code.
#[tokio::test]
async fn a_refusal_keeps_an_ended_key_and_says_how_it_ended() {
    let key = ApiKey::generate();
    let mut revoked = record(None, None);
    revoked.revoked_at = Some(NOW - 5);
    let store = Recorder::new().with_key(&key, revoked);
    let refused = authenticate_key_at(&store, &headers(&key), NOW).await.unwrap_err();
    assert!(matches!(refused.error, Error::UnknownApiKey), "the response must not tell revoked from unknown");
    assert_eq!(
        (refused.key.as_ref().map(|k| k.key_id.as_str()), refused.usage_code()),
        (Some(KEY), Some("revoked_api_key"))
    );

    let store = Recorder::new().with_key(&key, record(Some(NOW), None));
    let refused = authenticate_key_at(&store, &headers(&key), NOW).await.unwrap_err();
    assert!(matches!(refused.error, Error::ExpiredApiKey));
    assert_eq!(
        (refused.key.as_ref().map(|k| k.key_id.as_str()), refused.usage_code()),
        (Some(KEY), Some("expired_api_key"))
    );

    let refused = authenticate_key_at(&Recorder::new(), &headers(&key), NOW).await.unwrap_err();
    assert!(matches!(refused.error, Error::UnknownApiKey));
    assert!(refused.key.is_none() && refused.usage_code().is_none(), "not ours: nothing to count");
}

/// On a paused clock: a stale `last_used_at` is written with the time of the call; a stuck write
/// costs the key exactly `TOUCH_BUDGET`, a failed one nothing, and neither refuses it.
#[tokio::test(start_paused = true)]
async fn last_used_at_is_written_when_stale_within_its_budget_and_never_refuses_the_key() {
    let key = ApiKey::generate();
    for last_used_at in [None, Some(NOW - TOUCH_INTERVAL_SECS - 1)] {
        for touch in [Touch::Ok, Touch::Fail, Touch::Stall] {
            let store = Recorder { touch, ..Recorder::new() }.with_key(&key, record(None, last_used_at));
            let started = tokio::time::Instant::now();
            let found = authenticate_at(&store, &headers(&key), NOW).await.expect("a valid key is never refused");
            assert_eq!(found.key_id, KEY);
            assert_eq!(store.calls(), ["find_key".to_owned(), format!("touch_key {NOW}")], "{touch:?}");
            let budget = if touch == Touch::Stall { TOUCH_BUDGET } else { Duration::ZERO };
            assert_eq!(started.elapsed(), budget, "{touch:?}");
        }
    }
    let store = Recorder { touch: Touch::Stall, ..Recorder::new() }
        .with_key(&key, record(None, Some(NOW - TOUCH_INTERVAL_SECS)));
    let started = tokio::time::Instant::now();
    authenticate_at(&store, &headers(&key), NOW).await.unwrap();
    assert_eq!((store.calls(), started.elapsed()), (vec!["find_key".to_owned()], Duration::ZERO), "fresh: no write");
    assert_eq!(TOUCH_BUDGET, Duration::from_millis(50));
}
