//! Structured JSON logs, one object per line, as CloudWatch Logs Insights reads them.
//!
//! What may be logged: request ids, routes, statuses, org and key ids, error codes. Never a key,
//! a token, a webhook secret or a header value: the types that hold secrets redact their `Debug`.

use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;

use crate::usage::line::USAGE_TARGET;

/// Installs the JSON subscriber on stdout once per cold start. `LOG_LEVEL`
/// (error|warn|info|debug) overrides the default `info`.
pub fn init() {
    let _ = tracing::subscriber::set_global_default(subscriber(std::io::stdout));
}

/// The production subscriber writing to `writer` (tests capture logs through it).
pub fn subscriber<W>(writer: W) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let level = match std::env::var("LOG_LEVEL").ok().as_deref().map(str::to_ascii_lowercase).as_deref() {
        Some("error") => tracing::Level::ERROR,
        Some("warn") => tracing::Level::WARN,
        Some("debug") => tracing::Level::DEBUG,
        _ => tracing::Level::INFO,
    };
    // Key usage lines (`crate::usage::line::emit`) are data, not diagnostics: kept at any level.
    let targets = Targets::new().with_default(level).with_target(USAGE_TARGET, tracing::Level::INFO);
    tracing_subscriber::fmt()
        .json()
        .with_writer(writer)
        .with_max_level(level.max(tracing::Level::INFO))
        .with_target(false)
        .with_current_span(false)
        .with_span_list(false)
        .without_time()
        .finish()
        .with(targets)
}
