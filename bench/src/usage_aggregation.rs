//! Key usage's aggregation (README, "Key usage"): 100,000 access-log lines (10 keys, 3 days, 1,000
//! addresses) in 100 subscription batches of 1,000, through the aggregator's own handler into a
//! usage table on DynamoDB Local. Reports lines per second (end to end, and the decoding and
//! adding up alone) and DynamoDB item writes per 1,000 lines: they grow with keys × days per
//! batch, not with lines.

use std::time::Instant;

use overten::store::{DynamoUsage, ReadUsage};
use overten::usage::report::DayRange;
use serde_json::{Value, json};

pub const LINES: usize = 100_000;
pub const KEYS: usize = 10;
pub const DAYS: usize = 3;
pub const ADDRESSES: usize = 1_000;
pub const BATCH: usize = 1_000;

const ORG: &str = "org_2xq4k9fm3hb7wz";
const DAY_MS: i64 = 86_400_000;

fn key_id(k: usize) -> String {
    format!("key_01JD8X4Z7M2K9Q4V6T3N1B5C{k:02}")
}

/// Line `i`: key `i % 10`, day `(i / 10) % 3`, address `(i * 7) % 1000`, one of four routes.
fn line(i: usize, first_day_ms: i64) -> String {
    const ROUTES: [(&str, &str); 4] = [
        ("POST", "/v1/generations/{format}"),
        ("GET", "/v1/generations/{generation_id}"),
        ("GET", "/v1/runs/{run_id}"),
        ("POST", "/v1/files"),
    ];
    let (method, path) = ROUTES[i % 4];
    let at = first_day_ms + ((i / KEYS) % DAYS) as i64 * DAY_MS + (i as i64 % 80_000) * 1000;
    let address = (i * 7) % ADDRESSES;
    json!({"requestId": format!("r{i}"), "ip": format!("10.0.{}.{}", address / 256, address % 256),
        "requestTimeEpoch": at.to_string(), "httpMethod": method, "resourcePath": path,
        "status": if i.is_multiple_of(50) { "403" } else { "200" }, "orgId": ORG, "keyId": key_id(i % KEYS),
        "userAgent": format!("sdk/{}", i % 3), "authorizerError": if i.is_multiple_of(50) { "permission_denied" } else { "-" },
        "keyFormat": if i.is_multiple_of(4) { "pdf" } else { "-" }, "responseType": "-"})
    .to_string()
}

pub async fn run(client: aws_sdk_dynamodb::Client, table_prefix: &str) -> Value {
    let usage = DynamoUsage::new(client.clone(), format!("{table_prefix}-KeyUsage"));
    overten::store::tables::ensure_usage_table(&client, usage.table()).await.unwrap();
    let first_day_ms = (overten::clock::now_millis() as i64 / DAY_MS - 3) * DAY_MS;
    let batches: Vec<Vec<u8>> = (0..LINES / BATCH)
        .map(|b| {
            let events: Vec<(String, i64, String)> = (b * BATCH..(b + 1) * BATCH)
                .map(|i| (format!("{i:012}"), first_day_ms, line(i, first_day_ms)))
                .collect();
            usage_aggregator::subscription_event("/aws/apigateway/overten-keys-bench/access", "bench", &events)
        })
        .collect();

    // The decoding and adding up alone (no DynamoDB).
    let started = Instant::now();
    let mut days_touched = 0;
    for payload in &batches {
        let data = usage_aggregator::decode(payload).unwrap();
        days_touched += overten::usage::day::aggregate(&usage_aggregator::usage_lines(&data)).len();
    }
    let cpu_secs = started.elapsed().as_secs_f64();

    // End to end: each batch as the subscription delivers it.
    let now = overten::clock::now_secs();
    let started = Instant::now();
    let (mut written, mut transactions) = (0, 0);
    for payload in &batches {
        let summary = usage_aggregator::invoke(&usage, payload, now).await.unwrap();
        written += summary.written;
        transactions += summary.transactions;
    }
    let secs = started.elapsed().as_secs_f64();

    // Every line is counted, once.
    let range = DayRange { from: first_day_ms / DAY_MS, to: first_day_ms / DAY_MS + DAYS as i64 - 1 };
    let mut counted = 0;
    for k in 0..KEYS {
        counted += usage.key_days(ORG, &key_id(k), range).await.unwrap().values().map(|d| d.requests).sum::<u64>();
    }
    assert_eq!(counted, LINES as u64, "the usage table holds every line once");
    // Item writes: each (key, day) put, and each transaction's batch marker.
    let item_writes = written + transactions;
    json!({
        "lines": LINES, "keys": KEYS, "days": DAYS, "addresses": ADDRESSES, "batches": batches.len(),
        "lines_per_sec": (LINES as f64 / secs).round(),
        "decode_and_add_lines_per_sec": (LINES as f64 / cpu_secs).round(),
        "day_items_per_batch": days_touched as f64 / batches.len() as f64,
        "item_writes": item_writes,
        "transactions": transactions,
        "writes_per_1000_lines": (item_writes as f64 * 1000.0 / LINES as f64 * 100.0).round() / 100.0,
    })
}
