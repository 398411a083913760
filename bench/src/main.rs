//! `make bench`: measures, in one run, what the authorizer costs on top of the one strongly
//! consistent `GetItem` it must do, and writes `target/bench/summary.json`.
//!
//! Expects DynamoDB Local at `AWS_ENDPOINT_URL_DYNAMODB` (make bench starts it), the release
//! `bootstrap`s in `target/release/`, and criterion's results of `cargo bench --bench hot_path`.

mod usage_aggregation;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use overten::ApiKey;
use overten::clock::now_secs;
use overten::store::{KeyLookup, NewKey, NewOrg, Orgs};
use overten_bench::runtime_api::{Done, RuntimeApi};
use overten_tests::counting::CountingStore;
use overten_tests::events::rest_authorizer_event;
use overten_tests::user;
use serde_json::value::RawValue;
use serde_json::{Value, json};

const N: usize = 5_000;
const WARMUP: usize = 300;
const COLD_STARTS: usize = 21;
const RSS_INVOCATIONS: usize = 10_000;
const FUNCTIONS: [&str; 5] = ["authorizer", "verify", "signup", "keys", "whoami"];

/// Rounds of interleaved measurements: each ratio is the median of the rounds' ratios, with their
/// spread, so DynamoDB Local's own drift shows instead of hiding in one number.
const ROUNDS: usize = 5;

// The functions' own runtime: current-thread Tokio.
#[tokio::main(flavor = "current_thread")]
async fn main() {
    // The functions' own logging: JSON at info, formatted and written for every request, to a
    // sink here instead of stdout.
    let _ = tracing::subscriber::set_global_default(overten::logging::subscriber(std::io::sink));
    let root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    let release = root.join("target/release");
    // Every input first: a missing one fails the run now, not as a 0 in the summary.
    let sizes: serde_json::Map<String, Value> = FUNCTIONS
        .iter()
        .map(|f| {
            let size = std::fs::metadata(release.join(f))
                .unwrap_or_else(|e| panic!("bootstrap {f} missing in target/release ({e}): make bench builds it"))
                .len();
            (f.to_string(), json!(size))
        })
        .collect();
    let bare = release.join("bare-authorizer");
    let bare_bytes = std::fs::metadata(&bare)
        .unwrap_or_else(|e| panic!("bare-authorizer missing in target/release ({e}): make bench builds it"))
        .len();
    let (restricted_ns, decode_ns) = (
        criterion_median_ns(&root.join("target/criterion/own_work_restricted")),
        criterion_median_ns(&root.join("target/criterion/restricted_item_decode")),
    );
    let (verify_own_work_ns, usage_line_ns) = (
        criterion_median_ns(&root.join("target/criterion/verify_own_work")),
        criterion_median_ns(&root.join("target/criterion/usage_line")),
    );
    let (own_work_ns, firebase_verify_ns) = (
        criterion_median_ns(&root.join("target/criterion/own_work")),
        criterion_median_ns(&root.join("target/criterion/firebase_verify")),
    );
    let store = overten_tests::fresh_store().await;
    let key = ApiKey::generate();
    let org = NewOrg {
        org_id: overten::ids::new_org_id(),
        name: "Bench".into(),
        owner_uid: "bench".into(),
        created_at: now_secs(),
        webhook_secret: Some(overten::ids::new_webhook_secret()),
    };
    let record = NewKey {
        key_id: overten::ids::new_key_id(overten::clock::now_millis()),
        hash: key.hash(),
        name: "bench".into(),
        prefix: key.display_prefix().into(),
        created_at: now_secs(),
        expires_at: None,
        rolled_from: None,
        restrictions: Default::default(),
    };
    store.create_org_with_key(&org, &record, &user(&org.owner_uid)).await.expect("seed the key");
    let event = serde_json::to_vec(&rest_authorizer_event(&[("X-API-Key", key.expose_secret())])).unwrap();

    // Authorizer and bare GetItem, interleaved (alternating which goes first).
    eprintln!("bench: authorizer vs GetItem, {N} each, interleaved");
    let getitem = || async {
        store
            .client()
            .get_item()
            .table_name(&store.tables().api_keys)
            .key("key_hash", AttributeValue::S(key.hash().as_str().to_owned()))
            .consistent_read(true)
            .send()
            .await
            .expect("GetItem")
    };
    let authorize = || authorize_once(&store, &event);
    let verify_event = serde_json::to_vec(&overten_tests::events_json(
        "GET",
        "/verify",
        &[("X-API-Key".to_owned(), key.expose_secret().to_owned())],
    ))
    .unwrap();
    let verify = || verify_once(&store, &verify_event);
    for _ in 0..WARMUP {
        authorize().await;
        getitem().await;
        verify().await;
    }
    let (auth, get, auth_ratios) = interleaved(authorize, getitem).await;
    eprintln!("bench: verify vs GetItem, {N} each, interleaved");
    let (ver, get_v, verify_ratios) = interleaved(verify, getitem).await;

    // The stale-key path: GetItem + the last_used_at UpdateItem (once a minute per key).
    eprintln!("bench: stale key (read + last_used_at write) vs GetItem, {N} each, interleaved");
    let stale_store =
        overten_tests::touching::TouchingStore::new(store.clone(), overten_tests::touching::Touch::EveryCall);
    let authorize_stale = || authorize_once(&stale_store, &event);
    let (stale, get_s, stale_ratios) = interleaved(authorize_stale, getitem).await;

    // Where the authorizer's time beyond the GetItem goes (README, "Performance"): the store's
    // read alone (the adapter's GetItem and its decoding) against the bare GetItem, and the
    // function's own work with the store's answer in hand, timed between real GetItems — as warm
    // or as cold as the caches are on the hot path, not in criterion's tight loop.
    eprintln!("bench: the store's find_key vs GetItem, {N} each, interleaved");
    let hash = key.hash();
    let find = || async { store.find_key(&hash).await.expect("find_key").expect("the key") };
    let (found, get_f, find_ratios) = interleaved(find, getitem).await;
    eprintln!("bench: the own work between GetItems, {N}");
    let fixed = overten::store::FixedStore::answering(overten_bench::fresh_record());
    let in_situ = after_each(&getitem, || authorize_once(&fixed, &event)).await;
    let verify_in_situ = after_each(&getitem, || verify_once(&fixed, &verify_event)).await;
    if std::env::args().any(|a| a == "--in-situ-only") {
        // For `perf record` over the hot paths alone (README, "Performance").
        eprintln!(
            "own work between GetItems, p50: authorizer {} ns, verify {} ns",
            pct(&in_situ, 50.0) * 1000.0,
            pct(&verify_in_situ, 50.0) * 1000.0
        );
        return;
    }

    // Malformed keys: counted through the store, must be zero calls.
    eprintln!("bench: malformed keys");
    let counting = CountingStore::new(store.clone());
    let mut bad = key.expose_secret().to_owned();
    let last = bad.pop().unwrap();
    bad.push(if last == '0' { '1' } else { '0' });
    let bad_event = serde_json::to_vec(&rest_authorizer_event(&[("X-API-Key", &bad)])).unwrap();
    let mut malformed = vec![];
    for _ in 0..N {
        malformed.push(
            timed(async {
                let payload: Box<RawValue> = serde_json::from_slice(&bad_event).unwrap();
                // A key problem is the Lambda error `Unauthorized`: what the runtime sends back.
                let refused = authorizer::invoke(&counting, &payload, "bench").await.unwrap_err();
                assert!(matches!(refused, authorizer::AuthorizerError::Unauthorized(_)));
                lambda_runtime::Diagnostic::from(refused).error_message
            })
            .await,
        );
    }

    // Cold starts, warm calls and memory of the release bootstrap against our Runtime API, beside
    // the bare baseline (lambda_runtime + one GetItem), alternating which goes first.
    eprintln!("bench: {COLD_STARTS} cold starts each of the release authorizer and the bare one, alternating");
    let bootstrap = release.join("authorizer");
    let tables = store.tables().clone();
    let (mut cold, mut bare_cold) = (vec![], vec![]);
    for i in 0..COLD_STARTS {
        if i % 2 == 0 {
            cold.push(cold_start(&bootstrap, &event, &tables).await);
            bare_cold.push(cold_start(&bare, &event, &tables).await);
        } else {
            bare_cold.push(cold_start(&bare, &event, &tables).await);
            cold.push(cold_start(&bootstrap, &event, &tables).await);
        }
    }
    eprintln!("bench: warm, the release authorizer vs the bare one through the Runtime API, {N} each");
    let (warm, bare_warm, warm_ratios) = warm_beside_bare(&bootstrap, &bare, &event, &tables).await;
    eprintln!("bench: {RSS_INVOCATIONS} invocations for peak RSS");
    let peak_rss_kb = peak_rss(&bootstrap, &event, &tables).await;

    eprintln!("bench: key usage, {} access-log lines through the aggregator", usage_aggregation::LINES);
    let usage = usage_aggregation::run(store.client().clone(), &store.tables().orgs).await;

    let (auth_p50, auth_p99) = (pct(&auth, 50.0), pct(&auth, 99.0));
    let (get_p50, get_p99) = (pct(&get, 50.0), pct(&get, 99.0));
    let summary = json!({
        "n": N,
        "authorizer_p50_us": auth_p50,
        "authorizer_p99_us": auth_p99,
        "getitem_p50_us": get_p50,
        "getitem_p99_us": get_p99,
        "ratio_p50": round3(auth_p50 / get_p50),
        "ratio_p50_rounds": spread(&auth_ratios),
        "ratio_p99": round3(auth_p99 / get_p99),
        "stale_key_p50_us": pct(&stale, 50.0),
        "stale_key_p99_us": pct(&stale, 99.0),
        "stale_key_ratio_p50": round3(pct(&stale, 50.0) / pct(&get_s, 50.0)),
        "stale_key_ratio_p50_rounds": spread(&stale_ratios),
        "find_key_ratio_p50": round3(pct(&found, 50.0) / pct(&get_f, 50.0)),
        "find_key_ratio_p50_rounds": spread(&find_ratios),
        "own_work_in_situ_p50_ns": round3(pct(&in_situ, 50.0) * 1000.0),
        "verify_own_work_in_situ_p50_ns": round3(pct(&verify_in_situ, 50.0) * 1000.0),
        "verify_own_work_ns": verify_own_work_ns,
        "usage_line_ns": usage_line_ns,
        "verify_p50_us": pct(&ver, 50.0),
        "verify_getitem_p50_us": pct(&get_v, 50.0),
        "verify_ratio_p50": round3(pct(&ver, 50.0) / pct(&get_v, 50.0)),
        "verify_ratio_p50_rounds": spread(&verify_ratios),
        "malformed_db_calls": counting.calls(),
        "malformed_p50_ns": (pct(&malformed, 50.0) * 1000.0).round(),
        "own_work_ns": own_work_ns,
        // A key at the lists' limits (20 permissions, 50 formats, 20 networks), every list
        // scanned to its end, its item decoded as the adapter does: the whole own work.
        "own_work_restricted_ns": restricted_ns,
        "restricted_item_decode_ns": decode_ns,
        "firebase_verify_ns": firebase_verify_ns,
        "cold_start_ms": {"median": round3(pct(&cold, 50.0) / 1000.0), "max": round3(pct(&cold, 100.0) / 1000.0), "n": COLD_STARTS},
        "bare_cold_start_ms": {"median": round3(pct(&bare_cold, 50.0) / 1000.0), "max": round3(pct(&bare_cold, 100.0) / 1000.0), "n": COLD_STARTS},
        "vs_bare_cold_ratio": round3(pct(&cold, 50.0) / pct(&bare_cold, 50.0)),
        "process_warm_p50_us": pct(&warm, 50.0),
        "bare_warm_p50_us": pct(&bare_warm, 50.0),
        "vs_bare_warm_ratio_p50": round3(pct(&warm, 50.0) / pct(&bare_warm, 50.0)),
        "vs_bare_warm_ratio_p50_rounds": spread(&warm_ratios),
        "bare_authorizer_bytes": bare_bytes,
        "bootstrap_bytes": sizes,
        "authorizer_peak_rss_kb": peak_rss_kb,
        "usage_aggregation": usage,
    });
    let out = root.join("target/bench");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("summary.json"), serde_json::to_string_pretty(&summary).unwrap()).unwrap();
    print_table(&summary);
}

/// N timings of `subject` and of `baseline` in ROUNDS rounds, alternating which runs first so
/// neither gets the warmer caches; and each round's p50 ratio.
async fn interleaved<A, B, FA, FB>(subject: A, baseline: B) -> (Vec<f64>, Vec<f64>, Vec<f64>)
where
    A: Fn() -> FA,
    B: Fn() -> FB,
    FA: std::future::Future,
    FB: std::future::Future,
{
    let (mut s, mut b, mut ratios) = (Vec::with_capacity(N), Vec::with_capacity(N), Vec::with_capacity(ROUNDS));
    for _ in 0..ROUNDS {
        let (mut rs, mut rb) = (Vec::new(), Vec::new());
        for i in 0..N / ROUNDS {
            if i % 2 == 0 {
                rs.push(timed(subject()).await);
                rb.push(timed(baseline()).await);
            } else {
                rb.push(timed(baseline()).await);
                rs.push(timed(subject()).await);
            }
        }
        ratios.push(pct(&rs, 50.0) / pct(&rb, 50.0));
        s.extend(rs);
        b.extend(rb);
    }
    (s, b, ratios)
}

/// The median of the rounds' ratios, and their min and max.
fn spread(ratios: &[f64]) -> Value {
    let mut sorted = ratios.to_vec();
    sorted.sort_by(f64::total_cmp);
    json!({"median": round3(sorted[sorted.len() / 2]), "min": round3(sorted[0]), "max": round3(sorted[sorted.len() - 1]), "rounds": sorted.len()})
}

/// What the release authorizer bootstrap does with an invocation: the payload's text
/// (lambda_runtime's one copy), the typed event, the decision (an Allow), the response's bytes.
async fn authorize_once<S: KeyLookup>(store: &S, event: &[u8]) -> Vec<u8> {
    let payload: Box<RawValue> = serde_json::from_slice(event).unwrap();
    let answer = authorizer::invoke(store, &payload, "bench").await.expect("authorizer");
    assert!(answer.is_allowed());
    serde_json::to_vec(&answer).unwrap()
}

/// What the release `/verify` bootstrap does: the payload's text, the one-pass proxy event, the
/// answer (a 200), the proxy response's bytes.
async fn verify_once<S: KeyLookup>(store: &S, event: &[u8]) -> Vec<u8> {
    let payload: Box<RawValue> = serde_json::from_slice(event).unwrap();
    let response = verify::invoke(store, &payload, "bench").await;
    assert_eq!(response.status_code, 200);
    serde_json::to_vec(&response).unwrap()
}

/// `work` timed right after a real `GetItem`, N times: its cost with the caches as cold as the hot
/// path leaves them.
async fn after_each<B, FB, W, FW>(getitem: B, work: W) -> Vec<f64>
where
    B: Fn() -> FB,
    W: Fn() -> FW,
    FB: std::future::Future,
    FW: std::future::Future,
{
    let mut samples = Vec::with_capacity(N);
    for _ in 0..N {
        getitem().await;
        samples.push(timed(work()).await);
    }
    samples
}

async fn timed<F: std::future::Future>(f: F) -> f64 {
    let started = Instant::now();
    std::hint::black_box(f.await);
    started.elapsed().as_nanos() as f64 / 1000.0
}

/// Percentile in microseconds (nearest rank).
fn pct(samples: &[f64], p: f64) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    (sorted[rank.min(sorted.len()) - 1] * 10.0).round() / 10.0
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

async fn spawn_bootstrap(
    bootstrap: &Path,
    api: &RuntimeApi,
    tables: &overten::config::Tables,
) -> tokio::process::Child {
    // Lambda's environment as the template deploys it: no LOG_LEVEL, so JSON logs at info.
    tokio::process::Command::new(bootstrap)
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", api.addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "authorizer")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/authorizer")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "bench")
        .env("AWS_SECRET_ACCESS_KEY", "bench")
        .env("AWS_SESSION_TOKEN", "bench")
        .env("AWS_ENDPOINT_URL_DYNAMODB", std::env::var("AWS_ENDPOINT_URL_DYNAMODB").unwrap())
        .env("API_KEYS_TABLE", &tables.api_keys)
        .env("ORGS_TABLE", &tables.orgs)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn the release authorizer (make bench builds it)")
}

/// Milliseconds (as µs) from spawning the bootstrap to its first response.
async fn cold_start(bootstrap: &Path, event: &[u8], tables: &overten::config::Tables) -> f64 {
    let mut api = RuntimeApi::start(event.to_vec()).await;
    api.allow(1);
    let started = Instant::now();
    let mut child = spawn_bootstrap(bootstrap, &api, tables).await;
    let done = next_done(&mut api).await;
    let _ = child.kill().await;
    done.at.duration_since(started).as_nanos() as f64 / 1000.0
}

/// The next answer of a bootstrap, which must be an `Allow`.
async fn next_done(api: &mut RuntimeApi) -> Done {
    let done = tokio::time::timeout(Duration::from_secs(10), api.done.recv())
        .await
        .expect("invocation timed out")
        .expect("the Runtime API is running");
    let body = String::from_utf8_lossy(&done.body);
    assert!(done.ok, "the authorizer failed: {body}");
    assert!(body.contains(r#""Effect":"Allow""#), "not an Allow");
    done
}

/// Warm invocations of the release authorizer and the bare one, each its own process behind its
/// own Runtime API, one call at a time, alternating which goes first, in ROUNDS rounds: each
/// call's time from the event handed out to the answer received, and each round's p50 ratio.
async fn warm_beside_bare(
    bootstrap: &Path,
    bare: &Path,
    event: &[u8],
    tables: &overten::config::Tables,
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let (mut real_api, mut bare_api) =
        (RuntimeApi::start(event.to_vec()).await, RuntimeApi::start(event.to_vec()).await);
    let mut children =
        [spawn_bootstrap(bootstrap, &real_api, tables).await, spawn_bootstrap(bare, &bare_api, tables).await];
    async fn call(api: &mut RuntimeApi) -> f64 {
        api.allow(1);
        next_done(api).await.micros()
    }
    for _ in 0..WARMUP {
        call(&mut real_api).await;
        call(&mut bare_api).await;
    }
    let (mut s, mut b, mut ratios) = (Vec::with_capacity(N), Vec::with_capacity(N), Vec::with_capacity(ROUNDS));
    for _ in 0..ROUNDS {
        let (mut rs, mut rb) = (Vec::new(), Vec::new());
        for i in 0..N / ROUNDS {
            if i % 2 == 0 {
                rs.push(call(&mut real_api).await);
                rb.push(call(&mut bare_api).await);
            } else {
                rb.push(call(&mut bare_api).await);
                rs.push(call(&mut real_api).await);
            }
        }
        ratios.push(pct(&rs, 50.0) / pct(&rb, 50.0));
        s.extend(rs);
        b.extend(rb);
    }
    for child in &mut children {
        let _ = child.kill().await;
    }
    (s, b, ratios)
}

/// Peak resident set (VmHWM) of the bootstrap after many warm invocations.
async fn peak_rss(bootstrap: &Path, event: &[u8], tables: &overten::config::Tables) -> u64 {
    let mut api = RuntimeApi::start(event.to_vec()).await;
    api.allow(RSS_INVOCATIONS);
    let mut child = spawn_bootstrap(bootstrap, &api, tables).await;
    for _ in 0..RSS_INVOCATIONS {
        next_done(&mut api).await;
    }
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id().unwrap()))
        .expect("/proc/<pid>/status of the bootstrap is readable");
    let _ = child.kill().await;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/<pid>/status")
}

fn criterion_median_ns(dir: &Path) -> Value {
    let path = dir.join("new/estimates.json");
    match std::fs::read_to_string(&path).ok().and_then(|t| serde_json::from_str::<Value>(&t).ok()) {
        Some(v) => json!(v["median"]["point_estimate"].as_f64().map(f64::round).expect("a criterion median")),
        None => {
            panic!("bench: no criterion result at {} (make bench runs cargo bench --bench hot_path)", path.display())
        }
    }
}

fn print_table(s: &Value) {
    let row = |name: &str, value: String, target: &str| println!("{name:<28} {value:>14}   {target}");
    println!("\n{:<28} {:>14}   target", "metric", "measured");
    row("authorizer p50 / p99 (µs)", format!("{} / {}", s["authorizer_p50_us"], s["authorizer_p99_us"]), "");
    row("GetItem p50 / p99 (µs)", format!("{} / {}", s["getitem_p50_us"], s["getitem_p99_us"]), "");
    row("ratio p50", s["ratio_p50"].to_string(), "<= 1.05");
    let rounds = |name: &str| {
        let r = &s[name];
        format!("{} [{}, {}]", r["median"], r["min"], r["max"])
    };
    row("ratio p50, rounds", rounds("ratio_p50_rounds"), "median [min, max]");
    row("ratio p99", s["ratio_p99"].to_string(), "<= 1.30");
    row("verify ratio p50", s["verify_ratio_p50"].to_string(), "<= 1.05");
    row("verify ratio p50, rounds", rounds("verify_ratio_p50_rounds"), "median [min, max]");
    row("stale key p50 / p99 (µs)", format!("{} / {}", s["stale_key_p50_us"], s["stale_key_p99_us"]), "");
    row("stale key ratio p50", s["stale_key_ratio_p50"].to_string(), "(read + write, once a minute)");
    row("find_key / GetItem p50", s["find_key_ratio_p50"].to_string(), "the adapter's read and decoding");
    row("own work between GetItems (ns)", s["own_work_in_situ_p50_ns"].to_string(), "p50, caches as on the hot path");
    row("verify own work between GetItems (ns)", s["verify_own_work_in_situ_p50_ns"].to_string(), "p50");
    row("malformed DB calls", s["malformed_db_calls"].to_string(), "= 0");
    row("malformed p50 (ns)", s["malformed_p50_ns"].to_string(), "");
    row("own work (ns)", s["own_work_ns"].to_string(), "<= 10000");
    row(
        "own work, restricted key (ns)",
        s["own_work_restricted_ns"].to_string(),
        "<= 10000 (20 perms, 50 formats, 20 nets)",
    );
    row("  of which decoding the item (ns)", s["restricted_item_decode_ns"].to_string(), "");
    row("verify own work (ns)", s["verify_own_work_ns"].to_string(), "criterion, with its usage line");
    row("  of which the usage line (ns)", s["usage_line_ns"].to_string(), "");
    row("Firebase verify (ns)", s["firebase_verify_ns"].to_string(), "<= 100000");
    row("cold start median (ms)", s["cold_start_ms"]["median"].to_string(), "<= 15");
    row("cold start max (ms)", s["cold_start_ms"]["max"].to_string(), "");
    row("bare cold start median (ms)", s["bare_cold_start_ms"]["median"].to_string(), "lambda_runtime + GetItem");
    row("cold start / bare", s["vs_bare_cold_ratio"].to_string(), "<= 1.05");
    row(
        "warm p50 / bare (µs)",
        format!("{} / {}", s["process_warm_p50_us"], s["bare_warm_p50_us"]),
        "via the Runtime API",
    );
    row("warm ratio p50 vs bare", s["vs_bare_warm_ratio_p50"].to_string(), "<= 1.05");
    row("warm vs bare, rounds", rounds("vs_bare_warm_ratio_p50_rounds"), "median [min, max]");
    for (f, b) in s["bootstrap_bytes"].as_object().unwrap() {
        let target = if f == "authorizer" { "<= 8 MB" } else { "<= 10 MB" };
        row(&format!("bootstrap {f} (bytes)"), b.to_string(), target);
    }
    row("authorizer peak RSS (kB)", s["authorizer_peak_rss_kb"].to_string(), "<= 15000");
    let u = &s["usage_aggregation"];
    row("usage: lines per second", u["lines_per_sec"].to_string(), "100k lines, 10 keys, 3 days, 1,000 addresses");
    row("usage: decode + add up, lines per second", u["decode_and_add_lines_per_sec"].to_string(), "no DynamoDB");
    row(
        "usage: item writes per 1,000 lines",
        u["writes_per_1000_lines"].to_string(),
        "keys x days per batch + 1, not lines",
    );
    println!("\nwritten to target/bench/summary.json");
}
