//! `make dev`'s stand-in for the CloudWatch Logs subscriptions of key usage (README, "Key usage"):
//! the access-log lines the gateway writes and the functions' `key usage` lines, batched about
//! once a second into the same subscription event CloudWatch Logs sends (base64, gzip, JSON),
//! handed to the aggregator's own handler, into DynamoDB Local.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use overten::store::DynamoUsage;

/// How often the feed delivers: CloudWatch Logs batches a subscription's events for about as long.
pub const FLUSH_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Most events one delivery carries (CloudWatch Logs puts at most 10,000 in one batch); the rest
/// wait for the next.
pub const MAX_EVENTS_PER_BATCH: usize = 10_000;

/// Most lines waiting per log group: past it (DynamoDB Local down, a flood) new lines are
/// dropped and logged, as a throttled subscription would lose them, instead of growing memory.
pub const MAX_WAITING: usize = 100_000;

/// Lines waiting for the next delivery, per log group.
#[derive(Default)]
pub struct UsageFeed {
    access: Mutex<Vec<(String, i64, String)>>,
    functions: Mutex<Vec<(String, i64, String)>>,
    sequence: AtomicU64,
}

impl UsageFeed {
    fn event(&self, line: &str) -> (String, i64, String) {
        // Log event ids are unique within a log group, as CloudWatch's are.
        let id = format!("{:020}", self.sequence.fetch_add(1, Ordering::Relaxed));
        (id, overten::clock::now_millis() as i64, line.to_owned())
    }

    /// An access-log line, as the access log's subscription (no filter) sends every line.
    pub fn push_access(&self, line: &str) {
        let event = self.event(line);
        push_bounded(&self.access, event);
    }

    /// A function's log line; only `key usage` lines pass, as the subscription filter
    /// `{ $.fields.message = "key usage" }` lets only those through.
    pub fn push_function_line(&self, line: &str) {
        let Ok(value) = serde_json::from_str::<serde_json::Value>(line.trim()) else { return };
        if value["fields"]["message"] != overten::usage::line::USAGE_MESSAGE {
            return;
        }
        let event = self.event(line.trim());
        push_bounded(&self.functions, event);
    }

    /// Delivers what is waiting, one subscription event per log group. A delivery the aggregator
    /// refuses is logged and dropped, as a dead-lettered batch would be.
    pub async fn flush(&self, store: &DynamoUsage) {
        for (group, queue) in [
            ("/aws/apigateway/overten-keys-local/access", &self.access),
            ("/aws/lambda/overten-keys-local-functions", &self.functions),
        ] {
            let events: Vec<_> = {
                let mut queue = queue.lock().unwrap_or_else(|e| e.into_inner());
                let take = queue.len().min(MAX_EVENTS_PER_BATCH);
                queue.drain(..take).collect()
            };
            if events.is_empty() {
                continue;
            }
            let payload = usage_aggregator::subscription_event(group, "local", &events);
            if let Err(e) = usage_aggregator::invoke(store, &payload, overten::clock::now_secs()).await {
                tracing::error!(error = %e, "local usage feed: batch refused");
            }
        }
    }
}

fn push_bounded(queue: &Mutex<Vec<(String, i64, String)>>, event: (String, i64, String)) {
    let mut queue = queue.lock().unwrap_or_else(|e| e.into_inner());
    if queue.len() < MAX_WAITING {
        queue.push(event);
    } else {
        // Not through tracing: this writer feeds tracing's own lines here.
        eprintln!("local usage feed: {MAX_WAITING} lines waiting, one dropped");
    }
}

/// A log writer for the gateway's process: each line to stdout, and the functions' `key usage`
/// lines to the feed too.
#[derive(Clone)]
pub struct TeeWriter(pub std::sync::Arc<UsageFeed>);

impl std::io::Write for TeeWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(text) = std::str::from_utf8(buf) {
            for line in text.lines() {
                self.0.push_function_line(line);
            }
        }
        std::io::stdout().write_all(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stdout().flush()
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for TeeWriter {
    type Writer = TeeWriter;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_usage_lines_of_the_functions_are_fed() {
        let feed = UsageFeed::default();
        feed.push_function_line(r#"{"level":"INFO","fields":{"message":"deny","code":"invalid_api_key"}}"#);
        feed.push_function_line("not json");
        feed.push_function_line(r#"{"level":"INFO","fields":{"message":"key usage","status":200}}"#);
        feed.push_access(r#"{"status":"200"}"#);
        feed.push_access(r#"{"status":"401"}"#);
        assert_eq!(feed.functions.lock().unwrap().len(), 1);
        let access = feed.access.lock().unwrap();
        assert_eq!(access.len(), 2);
        assert_ne!(access[0].0, access[1].0, "every event has its own id");
    }

    #[test]
    fn waiting_lines_are_bounded() {
        let feed = UsageFeed::default();
        for _ in 0..MAX_WAITING + 5 {
            feed.push_access("{}");
        }
        assert_eq!(feed.access.lock().unwrap().len(), MAX_WAITING);
    }
}
