//! Structured JSON logs, one object per line, as CloudWatch Logs Insights reads them.
//!
//! What may be logged: request ids, routes, statuses, org and key ids, error codes. Never a key,
//! a token, a webhook secret or a header value: the types that hold secrets redact their `Debug`.

/// Installs the JSON subscriber once per cold start. `LOG_LEVEL` (error|warn|info|debug)
/// overrides the default `info`.
pub fn init() {
    let level = match std::env::var("LOG_LEVEL").ok().as_deref().map(str::to_ascii_lowercase).as_deref() {
        Some("error") => tracing::Level::ERROR,
        Some("warn") => tracing::Level::WARN,
        Some("debug") => tracing::Level::DEBUG,
        _ => tracing::Level::INFO,
    };
    let _ = tracing_subscriber::fmt()
        .json()
        .with_max_level(level)
        .with_target(false)
        .with_current_span(false)
        .with_span_list(false)
        .without_time()
        .try_init();
}
