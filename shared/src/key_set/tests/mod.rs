//! The caching, refetch, back-off and staleness rules on a paused clock with a scripted source
//! (`script.rs`).

mod script;

use std::sync::atomic::Ordering;

use script::*;

use super::*;

#[tokio::test(start_paused = true)]
async fn a_fresh_set_answers_known_ids_without_fetching_until_its_max_age() {
    let (keys, script) = cache(Script::default().then(A).then(AB));
    assert_eq!(keys.key("a").await.unwrap(), "key-a");
    wait(599).await;
    assert_eq!(keys.key("a").await.unwrap(), "key-a", "fresh for its max-age");
    assert_eq!(script.calls.load(Ordering::SeqCst), 1);
    wait(1).await;
    assert_eq!(keys.key("a").await.unwrap(), "key-a2", "refetched at expiry");
    assert_eq!(keys.fetch_count(), 2);
}

#[tokio::test(start_paused = true)]
async fn max_age_defaults_to_five_minutes_and_is_capped_at_a_day() {
    let (keys, script) = cache(
        Script::default()
            .then(Answer::Set(r#"{"a": "1"}"#, None, None))
            .then(Answer::Set(r#"{"a": "2"}"#, Some(10_000_000), None))
            .then(Answer::Set(r#"{"a": "3"}"#, None, None)),
    );
    keys.key("a").await.unwrap();
    wait(299).await;
    assert_eq!(keys.key("a").await.unwrap(), "1");
    wait(1).await;
    assert_eq!(keys.key("a").await.unwrap(), "2", "no max-age: 300 s");
    wait(24 * 3600 - 1).await;
    assert_eq!(keys.key("a").await.unwrap(), "2");
    wait(1).await;
    assert_eq!(keys.key("a").await.unwrap(), "3", "capped at 24 h");
    assert_eq!(script.calls.load(Ordering::SeqCst), 3);
}

#[tokio::test(start_paused = true)]
async fn an_unknown_id_refetches_at_most_once_a_minute() {
    let (keys, script) = cache(Script::default().then(A).then(A).then(AB));
    keys.key("a").await.unwrap();
    wait(60).await;
    assert!(is_unknown(&keys.key("b").await), "refetched, still unknown");
    assert_eq!(script.calls.load(Ordering::SeqCst), 2);
    for _ in 0..50 {
        assert!(is_unknown(&keys.key("b").await));
    }
    wait(59).await;
    assert!(is_unknown(&keys.key("zz").await));
    assert_eq!(script.calls.load(Ordering::SeqCst), 2, "no refetch within the minute");
    wait(1).await;
    assert_eq!(keys.key("b").await.unwrap(), "key-b", "a minute later the rotated key is found");
    assert_eq!(script.calls.load(Ordering::SeqCst), 3);
}

#[tokio::test(start_paused = true)]
async fn a_cold_cache_with_a_failing_endpoint_backs_off() {
    let (keys, script) = cache(Script::default().then(DOWN));
    for _ in 0..100 {
        assert!(is_unavailable(&keys.key("a").await));
    }
    assert_eq!(script.calls.load(Ordering::SeqCst), 1, "one fetch, then the back-off answers");
    // The back-off doubles while failures continue: 1, 2, 4, 8, 16, 32, 60, 60 s.
    let mut fetches = 1;
    for wait_secs in [1, 2, 4, 8, 16, 32, 60, 60] {
        tokio::time::advance(Duration::from_secs(wait_secs) - Duration::from_millis(1)).await;
        assert!(is_unavailable(&keys.key("a").await));
        assert_eq!(script.calls.load(Ordering::SeqCst), fetches, "still backing off before {wait_secs} s");
        tokio::time::advance(Duration::from_millis(1)).await;
        assert!(is_unavailable(&keys.key("a").await));
        fetches += 1;
        assert_eq!(script.calls.load(Ordering::SeqCst), fetches, "one fetch after {wait_secs} s");
    }
}

#[tokio::test(start_paused = true)]
async fn recovery_ends_the_back_off_and_resets_it() {
    let (keys, script) = cache(Script::default().then(DOWN).then(DOWN).then(A).then(DOWN).then(A));
    assert!(is_unavailable(&keys.key("a").await));
    wait(1).await;
    assert!(is_unavailable(&keys.key("a").await));
    wait(2).await;
    assert_eq!(keys.key("a").await.unwrap(), "key-a");
    // Expired, and the refresh fails: the first failure backs off 1 s again, not 4.
    wait(600).await;
    assert_eq!(keys.key("a").await.unwrap(), "key-a", "stale but usable");
    wait(1).await;
    assert_eq!(keys.key("a").await.unwrap(), "key-a");
    assert_eq!(script.calls.load(Ordering::SeqCst), 5);
}

#[tokio::test(start_paused = true)]
async fn stale_keys_are_used_for_a_day_past_expiry_and_never_after() {
    let (keys, script) = cache(Script::default().then(A).then(DOWN));
    keys.key("a").await.unwrap();
    wait(600).await;
    assert_eq!(keys.key("a").await.unwrap(), "key-a", "expired, the refresh failed: the last good key");
    assert_eq!(keys.key("a").await.unwrap(), "key-a", "within the back-off: the last good key, no fetch");
    assert_eq!(script.calls.load(Ordering::SeqCst), 2);
    wait(1).await;
    // From here every refresh fails; the back-off is at most a minute.
    let mut elapsed = 0;
    while elapsed < 24 * 3600 - 60 {
        assert_eq!(keys.key("a").await.unwrap(), "key-a", "{elapsed} s past expiry");
        wait(60).await;
        elapsed += 60;
    }
    assert!(script.calls.load(Ordering::SeqCst) < 24 * 60 + 10, "at most one fetch per back-off period");
    wait(60).await;
    // 24 h past expiry: the last good set is no longer trusted, fetch or not.
    assert!(is_unavailable(&keys.key("a").await));
    let calls = script.calls.load(Ordering::SeqCst);
    assert!(is_unavailable(&keys.key("a").await), "backing off, and the stale key is not used");
    assert_eq!(script.calls.load(Ordering::SeqCst), calls);
    assert!(is_unavailable(&keys.key("b").await), "an unknown id while the endpoint fails is 503, not 401");
}

#[tokio::test(start_paused = true)]
async fn an_unknown_id_after_a_failed_refetch_is_unavailable_not_unknown() {
    let (keys, script) = cache(Script::default().then(A).then(DOWN).then(AB));
    keys.key("a").await.unwrap();
    wait(60).await;
    assert!(is_unavailable(&keys.key("b").await));
    assert_eq!(keys.key("a").await.unwrap(), "key-a", "known keys still answer from the fresh set");
    wait(1).await;
    assert_eq!(keys.key("b").await.unwrap(), "key-b", "after the back-off, one refetch");
    assert_eq!(script.calls.load(Ordering::SeqCst), 3);
}

#[tokio::test(start_paused = true)]
async fn concurrent_requests_share_one_fetch() {
    let (keys, script) = cache(Script { delay: Duration::from_millis(500), ..Script::default() }.then(A));
    let keys = Arc::new(keys);
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            tokio::spawn({
                let keys = keys.clone();
                async move { keys.key("a").await }
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap(), "key-a");
    }
    assert_eq!(script.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn an_empty_or_unparsable_set_is_a_failure() {
    let (keys, script) = cache(
        Script::default()
            .then(Answer::Set("{}", Some(600), None))
            .then(Answer::Set("not json", Some(600), None))
            .then(A),
    );
    assert!(is_unavailable(&keys.key("a").await));
    wait(1).await;
    assert!(is_unavailable(&keys.key("a").await));
    wait(1).await;
    assert!(is_unavailable(&keys.key("a").await), "second failure: 2 s back-off");
    wait(1).await;
    assert_eq!(keys.key("a").await.unwrap(), "key-a");
    assert_eq!(script.calls.load(Ordering::SeqCst), 3);
}

#[test]
fn backoff_doubles_from_one_second_to_a_minute() {
    let secs: Vec<u64> = (1..=9).map(|n| backoff(n).as_secs()).collect();
    assert_eq!(secs, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
    assert_eq!(backoff(u32::MAX), MAX_BACKOFF);
}

#[tokio::test(start_paused = true)]
async fn the_back_off_starts_when_a_hanging_fetch_gives_up() {
    // Each fetch hangs 3 s (the fetch timeout) before failing.
    let (keys, script) = cache(Script { delay: Duration::from_secs(3), ..Script::default() }.then(DOWN));
    assert!(is_unavailable(&keys.key("a").await));
    // 1 s of back-off from the end of the 3 s fetch, not from its start.
    tokio::time::advance(Duration::from_millis(999)).await;
    assert!(is_unavailable(&keys.key("a").await));
    assert_eq!(script.calls.load(Ordering::SeqCst), 1, "no fetch within the back-off");
    tokio::time::advance(Duration::from_millis(1)).await;
    assert!(is_unavailable(&keys.key("a").await));
    assert_eq!(script.calls.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn an_endpoint_that_says_when_to_come_back_is_not_asked_before() {
    // Rate-limited with 10 minutes to the reset: no fetch before then, and the last good keys
    // keep answering meanwhile.
    let (keys, script) = cache(Script::default().then(A).then(Answer::Fail(Some(600))).then(AB));
    keys.key("a").await.unwrap();
    wait(600).await;
    assert_eq!(keys.key("a").await.unwrap(), "key-a", "stale but usable");
    wait(599).await;
    assert_eq!(keys.key("a").await.unwrap(), "key-a");
    assert!(is_unavailable(&keys.key("b").await), "unknown ids wait for the reset too");
    assert_eq!(script.calls.load(Ordering::SeqCst), 2);
    wait(1).await;
    assert_eq!(keys.key("b").await.unwrap(), "key-b");
    assert_eq!(script.calls.load(Ordering::SeqCst), 3);
    // An absurd wait is capped at an hour.
    let (keys, script) = cache(Script::default().then(Answer::Fail(Some(1_000_000))).then(A));
    assert!(is_unavailable(&keys.key("a").await));
    wait(3599).await;
    assert!(is_unavailable(&keys.key("a").await));
    wait(1).await;
    assert_eq!(keys.key("a").await.unwrap(), "key-a");
    assert_eq!(script.calls.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn an_expired_set_is_revalidated_with_its_etag_and_a_304_keeps_it() {
    let (keys, script) = cache(
        Script::default()
            .then(Answer::Set(r#"{"a": "key-a"}"#, Some(60), Some("W/\"v1\"")))
            .then(Answer::NotModified(Some(60)))
            .then(Answer::Set(r#"{"b": "key-b"}"#, Some(60), Some("W/\"v2\""))),
    );
    assert_eq!(keys.key("a").await.unwrap(), "key-a");
    wait(60).await;
    assert_eq!(keys.key("a").await.unwrap(), "key-a", "304: the same keys");
    wait(59).await;
    assert_eq!(keys.key("a").await.unwrap(), "key-a", "fresh for the 304's max-age");
    assert_eq!(script.calls.load(Ordering::SeqCst), 2);
    wait(1).await;
    assert!(is_unknown(&keys.key("a").await), "a changed set replaces the old one");
    wait(60).await;
    assert_eq!(keys.key("b").await.unwrap(), "key-b");
    let etags = script.etags.lock().unwrap().clone();
    assert_eq!(etags[..3], [None, Some("W/\"v1\"".into()), Some("W/\"v1\"".into())]);
    assert_eq!(etags[3], Some("W/\"v2\"".into()), "the new set's own ETag");
}

#[tokio::test(start_paused = true)]
async fn a_304_without_a_set_is_a_failure() {
    let (keys, _) = cache(Script::default().then(Answer::NotModified(Some(60))));
    assert!(is_unavailable(&keys.key("a").await));
}

#[tokio::test(start_paused = true)]
async fn the_last_good_set_ends_exactly_a_day_past_its_expiry() {
    let (keys, _) = cache(Script::default().then(A).then(DOWN));
    keys.key("a").await.unwrap();
    // Expired at 600 s; refreshes fail from then on. One millisecond before the day is up the key
    // still answers (each failed fetch serves it), at the instant itself it does not.
    tokio::time::advance(Duration::from_secs(600) + MAX_STALENESS - Duration::from_millis(1)).await;
    assert_eq!(keys.key("a").await.unwrap(), "key-a");
    tokio::time::advance(Duration::from_millis(1)).await;
    assert!(is_unavailable(&keys.key("a").await), "backing off, and the set is past its end");
}
