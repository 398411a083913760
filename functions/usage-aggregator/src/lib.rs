//! Key usage's aggregator (README, "Key usage"): a CloudWatch Logs subscription invokes it with a
//! batch of log events — the API Gateway access log, and the authorizer's and `/verify`'s
//! `key usage` lines — and it adds the batch into the usage table: one write per (key, day) the
//! batch touches, never one per request, and nothing on the authorizer's path.
//!
//! The event is `{"awslogs": {"data": base64(gzip(JSON))}}` (the CloudWatch Logs subscription
//! format, <https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/SubscriptionFilters.html>),
//! whose JSON is `aws_lambda_events`' [`LogData`]. Its own `LogsEvent` decoder inflates without a
//! bound, so the envelope is decoded here: at most [`MAX_PAYLOAD`] of base64, [`MAX_INFLATED`]
//! of JSON and [`MAX_LOG_EVENTS`] events.
//!
//! Lambda retries an asynchronous invocation that fails (twice, then the dead-letter queue), so a
//! batch may arrive more than once: its id ([`batch_id`], from the log group, stream and every
//! event's id) makes the store add it once.

use std::io::Read;

use aws_lambda_events::cloudwatch_logs::LogData;
use base64::Engine;
use overten::store::{RecordUsage, UsageWrite};
use overten::usage::UsageLine;
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// Longest `awslogs.data` taken: Lambda's asynchronous payload limit is 1 MB.
pub const MAX_PAYLOAD: usize = 1 << 20;
/// Most JSON one batch may inflate to (a batch of 1 MB of log events is a few MB of JSON).
pub const MAX_INFLATED: u64 = 16 << 20;
/// Most log events one batch may hold (CloudWatch Logs puts at most 10,000 in one `PutLogEvents`).
pub const MAX_LOG_EVENTS: usize = 50_000;

#[derive(Debug, thiserror::Error)]
pub enum AggregatorError {
    /// Not a subscription event, or over a bound: retrying cannot help (the dead-letter queue
    /// keeps it for a look).
    #[error("not a CloudWatch Logs subscription batch: {0}")]
    BadEvent(String),
    #[error(transparent)]
    Store(#[from] overten::Error),
}

impl From<AggregatorError> for lambda_runtime::Diagnostic {
    fn from(err: AggregatorError) -> Self {
        let error_type = match &err {
            AggregatorError::BadEvent(_) => "BadEvent",
            AggregatorError::Store(e) if e.code() == "service_unavailable" => "ServiceUnavailable",
            AggregatorError::Store(_) => "InternalError",
        };
        lambda_runtime::Diagnostic { error_type: error_type.into(), error_message: err.to_string() }
    }
}

#[derive(Deserialize)]
struct Envelope {
    awslogs: Data,
}

#[derive(Deserialize)]
struct Data {
    data: String,
}

/// What one batch did, for the log and the bench.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    pub log_events: usize,
    /// Log events that were a request of a key of ours.
    pub requests: usize,
    /// (key, day) items the batch touched.
    pub days: usize,
    pub written: usize,
    pub chunks_seen_before: usize,
    pub transactions: usize,
}

/// The batch inside a subscription event, bounded ([`MAX_PAYLOAD`], [`MAX_INFLATED`],
/// [`MAX_LOG_EVENTS`]).
pub fn decode(payload: &[u8]) -> Result<LogData, AggregatorError> {
    let bad = |why: &str| AggregatorError::BadEvent(why.to_owned());
    if payload.len() > MAX_PAYLOAD + 64 {
        return Err(bad("payload over 1 MiB"));
    }
    let envelope: Envelope = serde_json::from_slice(payload).map_err(|_| bad("no awslogs.data"))?;
    let gzipped = base64::engine::general_purpose::STANDARD
        .decode(envelope.awslogs.data.as_bytes())
        .map_err(|_| bad("awslogs.data is not base64"))?;
    let mut json = Vec::new();
    flate2::read::GzDecoder::new(gzipped.as_slice())
        .take(MAX_INFLATED + 1)
        .read_to_end(&mut json)
        .map_err(|_| bad("awslogs.data is not gzip"))?;
    if json.len() as u64 > MAX_INFLATED {
        return Err(bad("awslogs.data inflates past 16 MiB"));
    }
    let data: LogData = serde_json::from_slice(&json).map_err(|_| bad("awslogs.data is not a log batch"))?;
    if data.log_events.len() > MAX_LOG_EVENTS {
        return Err(bad("more than 50,000 log events"));
    }
    Ok(data)
}

/// The batch's identity: the same delivery always has it, another never does (log event ids are
/// unique within a log group).
pub fn batch_id(data: &LogData) -> String {
    let mut hash = Sha256::new();
    for part in [&data.log_group, &data.log_stream] {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    for event in &data.log_events {
        hash.update(event.id.as_bytes());
        hash.update([0]);
    }
    let digest = hash.finalize();
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// The requests of keys of ours in a batch.
pub fn usage_lines(data: &LogData) -> Vec<UsageLine> {
    data.log_events.iter().filter_map(|e| overten::usage::line::parse(&e.message, e.timestamp)).collect()
}

/// One invocation: the event's bytes, decoded and added. A control message (sent when the
/// subscription is created) adds nothing.
pub async fn invoke<S: RecordUsage>(store: &S, payload: &[u8], now: i64) -> Result<Summary, AggregatorError> {
    overten::role::scope(env!("CARGO_PKG_NAME"), async {
        let data = decode(payload).inspect_err(|e| tracing::error!(error = %e, "usage batch refused"))?;
        let summary =
            aggregate(store, &data, now).await.inspect_err(|e| tracing::error!(error = %e, "usage batch failed"))?;
        tracing::info!(
            log_events = summary.log_events,
            requests = summary.requests,
            days = summary.days,
            written = summary.written,
            chunks_seen_before = summary.chunks_seen_before,
            "usage batch"
        );
        Ok(summary)
    })
    .await
}

/// Adds a decoded batch.
pub async fn aggregate<S: RecordUsage>(store: &S, data: &LogData, now: i64) -> Result<Summary, AggregatorError> {
    let mut summary = Summary { log_events: data.log_events.len(), ..Summary::default() };
    if data.message_type != "DATA_MESSAGE" {
        return Ok(summary);
    }
    let lines = usage_lines(data);
    summary.requests = lines.len();
    let days = overten::usage::day::aggregate(&lines);
    summary.days = days.len();
    if days.is_empty() {
        return Ok(summary);
    }
    let UsageWrite { days: written, chunks_seen_before, transactions } =
        store.record_usage(&batch_id(data), &days, now).await?;
    summary.written = written;
    summary.chunks_seen_before = chunks_seen_before;
    summary.transactions = transactions;
    Ok(summary)
}

/// A subscription event of `log_events` (id, timestamp ms, message) from `log_group`, as
/// CloudWatch Logs sends it: what `make dev`, the tests and the bench feed [`invoke`].
pub fn subscription_event(log_group: &str, log_stream: &str, log_events: &[(String, i64, String)]) -> Vec<u8> {
    let data = serde_json::json!({
        "messageType": "DATA_MESSAGE",
        "owner": "123456789012",
        "logGroup": log_group,
        "logStream": log_stream,
        "subscriptionFilters": ["overten-usage"],
        "logEvents": log_events
            .iter()
            .map(|(id, timestamp, message)| serde_json::json!({"id": id, "timestamp": timestamp, "message": message}))
            .collect::<Vec<_>>(),
    });
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, data.to_string().as_bytes()).expect("writing to memory");
    let gzipped = gz.finish().expect("writing to memory");
    let data = base64::engine::general_purpose::STANDARD.encode(gzipped);
    serde_json::json!({"awslogs": {"data": data}}).to_string().into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORG: &str = "org_2xq4k9fm3hb7wz";
    const KEY: &str = "key_01JD8X4Z7M2K9Q4V6T3N1B5C8R";

    fn access_line(status: &str) -> String {
        serde_json::json!({"requestTimeEpoch": "1764460800000", "status": status, "orgId": ORG, "keyId": KEY,
            "httpMethod": "GET", "resourcePath": "/v1/runs/{run_id}", "ip": "203.0.113.7"})
        .to_string()
    }

    #[test]
    fn an_event_decodes_to_its_batch() {
        let events = vec![("1".to_owned(), 5, access_line("200")), ("2".to_owned(), 6, "not ours".to_owned())];
        let data = decode(&subscription_event("/aws/apigateway/x/access", "s", &events)).unwrap();
        assert_eq!(data.log_group, "/aws/apigateway/x/access");
        assert_eq!(data.log_events.len(), 2);
        assert_eq!(data.log_events[1].timestamp, 6);
        assert_eq!(usage_lines(&data).len(), 1);
    }

    #[test]
    fn bad_or_oversized_events_are_refused() {
        for payload in [&b"{}"[..], b"[]", br#"{"awslogs":{"data":"!!"}}"#, br#"{"awslogs":{"data":"aGVsbG8="}}"#] {
            assert!(matches!(decode(payload), Err(AggregatorError::BadEvent(_))), "{payload:?}");
        }
        // A bomb: 17 MiB of zeros inflate from a few KB.
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        std::io::Write::write_all(&mut gz, &vec![b' '; 17 << 20]).unwrap();
        let data = base64::engine::general_purpose::STANDARD.encode(gz.finish().unwrap());
        let bomb = serde_json::json!({"awslogs": {"data": data}}).to_string();
        let Err(AggregatorError::BadEvent(why)) = decode(bomb.as_bytes()) else { panic!("a bomb was inflated") };
        assert!(why.contains("16 MiB"), "{why}");
        let big = vec![b'x'; MAX_PAYLOAD + 65];
        let Err(AggregatorError::BadEvent(why)) = decode(&big) else { panic!("an oversized payload was read") };
        assert!(why.contains("1 MiB"), "{why}");
        let many: Vec<(String, i64, String)> =
            (0..=MAX_LOG_EVENTS).map(|i| (i.to_string(), 0, String::new())).collect();
        let Err(AggregatorError::BadEvent(why)) = decode(&subscription_event("g", "s", &many)) else { panic!() };
        assert!(why.contains("50,000"), "{why}");
        let at_bound: Vec<(String, i64, String)> = many[..MAX_LOG_EVENTS].to_vec();
        assert!(decode(&subscription_event("g", "s", &at_bound)).is_ok());
    }

    /// A store that counts the writes it was asked for.
    #[derive(Default)]
    struct Counting(std::sync::atomic::AtomicUsize);

    impl RecordUsage for Counting {
        async fn record_usage(
            &self,
            _: &str,
            days: &std::collections::BTreeMap<overten::usage::DayKey, overten::usage::DayUsage>,
            _: i64,
        ) -> Result<UsageWrite, overten::Error> {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(UsageWrite { days: days.len(), chunks_seen_before: 0, transactions: 1 })
        }
    }

    #[tokio::test]
    async fn a_control_message_or_a_batch_without_our_keys_writes_nothing() {
        // CloudWatch Logs' check when the subscription is created.
        let control = serde_json::json!({"messageType": "CONTROL_MESSAGE", "owner": "CloudwatchLogs",
            "logGroup": "", "logStream": "", "subscriptionFilters": [],
            "logEvents": [{"id": "", "timestamp": 1, "message": "CWL CONTROL MESSAGE: Checking health of destination Lambda."}]});
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut gz, control.to_string().as_bytes()).unwrap();
        let data = base64::engine::general_purpose::STANDARD.encode(gz.finish().unwrap());
        let payload = serde_json::json!({"awslogs": {"data": data}}).to_string();
        let store = Counting::default();
        let summary = invoke(&store, payload.as_bytes(), 0).await.unwrap();
        assert_eq!((summary.log_events, summary.requests, summary.days), (1, 0, 0));
        let unrelated =
            subscription_event("g", "s", &[("1".to_owned(), 5, r#"{"status":"201","keyId":"-"}"#.to_owned())]);
        let summary = invoke(&store, &unrelated, 0).await.unwrap();
        assert_eq!((summary.log_events, summary.requests, summary.written), (1, 0, 0));
        assert_eq!(store.0.load(std::sync::atomic::Ordering::SeqCst), 0, "nothing was written");
    }

    #[tokio::test]
    async fn a_data_message_with_our_lines_is_written() {
        let store = Counting::default();
        let events = vec![("1".to_owned(), 5, access_line("200")), ("2".to_owned(), 6, access_line("403"))];
        let summary = invoke(&store, &subscription_event("g", "s", &events), 0).await.unwrap();
        assert_eq!((summary.requests, summary.days, summary.written), (2, 1, 1));
        assert_eq!(store.0.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[test]
    fn the_bounds_are_exact() {
        // At the payload bound: read (and refused for what it is, not for its size).
        let at = vec![b' '; MAX_PAYLOAD + 64];
        let Err(AggregatorError::BadEvent(why)) = decode(&at) else { panic!() };
        assert!(!why.contains("1 MiB"), "{why}");
        // Inflating to exactly the bound: read.
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        std::io::Write::write_all(&mut gz, &vec![b' '; MAX_INFLATED as usize]).unwrap();
        let data = base64::engine::general_purpose::STANDARD.encode(gz.finish().unwrap());
        let exact = serde_json::json!({"awslogs": {"data": data}}).to_string();
        let Err(AggregatorError::BadEvent(why)) = decode(exact.as_bytes()) else { panic!() };
        assert_eq!(why, "awslogs.data is not a log batch");
    }

    #[test]
    fn failures_reach_lambda_with_their_error_type() {
        let of = |err: AggregatorError| lambda_runtime::Diagnostic::from(err).error_type;
        assert_eq!(of(AggregatorError::BadEvent("x".into())), "BadEvent");
        assert_eq!(of(AggregatorError::Store(overten::Error::Unavailable("x".into()))), "ServiceUnavailable");
        assert_eq!(of(AggregatorError::Store(overten::Error::Internal("x".into()))), "InternalError");
    }

    #[test]
    fn a_batch_id_is_the_same_for_the_same_delivery_only() {
        let events = vec![("1".to_owned(), 5, access_line("200"))];
        let data = decode(&subscription_event("g", "s", &events)).unwrap();
        let again = decode(&subscription_event("g", "s", &events)).unwrap();
        assert_eq!(batch_id(&data), batch_id(&again));
        assert_eq!(batch_id(&data).len(), 32);
        for (group, stream, id) in [("h", "s", "1"), ("g", "t", "1"), ("g", "s", "2")] {
            let other = decode(&subscription_event(group, stream, &[(id.to_owned(), 5, access_line("200"))])).unwrap();
            assert_ne!(batch_id(&data), batch_id(&other), "{group} {stream} {id}");
        }
    }
}
