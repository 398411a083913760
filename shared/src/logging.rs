//! Structured JSON logs, one object per line, as CloudWatch Logs Insights reads them.
//!
//! What may be logged: request ids, routes, statuses, org and key ids, error codes. Never a key,
//! a token, a webhook secret or a header value: the types that hold secrets redact their `Debug`.

use std::fmt;

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::format::{Format, Json, JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;

use crate::usage::line::{USAGE_MESSAGE, USAGE_TARGET};

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
    subscriber_at(level(std::env::var("LOG_LEVEL").ok().as_deref()), writer)
}

/// [`subscriber`] at `level`, whatever `LOG_LEVEL` says.
fn subscriber_at<W>(level: tracing::Level, writer: W) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    // Key usage lines (`crate::usage::line::emit`) are data, not diagnostics: kept at any level.
    let targets = Targets::new().with_default(level).with_target(USAGE_TARGET, tracing::Level::INFO);
    let json = tracing_subscriber::fmt::format()
        .json()
        .with_target(false)
        .with_current_span(false)
        .with_span_list(false)
        .without_time();
    tracing_subscriber::fmt()
        .fmt_fields(JsonFields::new())
        .event_format(Lines(json))
        .with_writer(writer)
        .with_max_level(level.max(tracing::Level::INFO))
        .finish()
        .with(targets)
}

/// The level `LOG_LEVEL` names (any case), `info` for anything else.
fn level(var: Option<&str>) -> tracing::Level {
    match var.map(str::to_ascii_lowercase).as_deref() {
        Some("error") => tracing::Level::ERROR,
        Some("warn") => tracing::Level::WARN,
        Some("debug") => tracing::Level::DEBUG,
        _ => tracing::Level::INFO,
    }
}

/// `tracing_subscriber`'s JSON lines (`{"level", "fields": {"message", …}}`), except for key usage
/// lines: `/verify` writes one on every call, already JSON ([`crate::usage::line::emit`]), so it is
/// written as it is, in the same shape, rather than visited and escaped field by field.
struct Lines(Format<Json, ()>);

impl<S, N> FormatEvent<S, N> for Lines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        if event.metadata().target() != USAGE_TARGET {
            return self.0.format_event(ctx, writer, event);
        }
        let mut usage = UsageField { writer: &mut writer, result: Ok(()) };
        event.record(&mut usage);
        usage.result
    }
}

/// Writes the line of a usage event's `usage` field: the JSON object `emit` serialised. Only
/// `emit` logs at [`USAGE_TARGET`]; anything else there (no field, not an object) writes nothing.
struct UsageField<'a, 'w> {
    writer: &'a mut Writer<'w>,
    result: fmt::Result,
}

impl Visit for UsageField<'_, '_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "usage" && value.starts_with('{') && value.ends_with('}') {
            self.result =
                writeln!(self.writer, r#"{{"level":"INFO","fields":{{"message":"{USAGE_MESSAGE}","usage":{value}}}}}"#);
        }
    }

    fn record_debug(&mut self, _: &Field, _: &dyn fmt::Debug) {}
}

/// What the production subscriber writes while `f` runs (unit tests of what is logged, here and
/// in the functions' crates through the `testing` feature).
#[cfg(any(test, feature = "testing"))]
pub fn capture(f: impl FnOnce()) -> String {
    capture_at(tracing::Level::INFO, f)
}

/// [`capture`] with the subscriber at `level` (as `LOG_LEVEL` would set it).
#[cfg(any(test, feature = "testing"))]
pub fn capture_at(level: tracing::Level, f: impl FnOnce()) -> String {
    use std::sync::{Arc, Mutex};
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buffer = Buffer::default();
    let writer = buffer.clone();
    tracing::subscriber::with_default(subscriber_at(level, move || writer.clone()), f);
    String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_level_names_a_level_in_any_case_and_defaults_to_info() {
        use tracing::Level;
        for (var, expected) in [
            (Some("error"), Level::ERROR),
            (Some("WARN"), Level::WARN),
            (Some("Debug"), Level::DEBUG),
            (Some("info"), Level::INFO),
            (Some("trace"), Level::INFO),
            (None, Level::INFO),
        ] {
            assert_eq!(level(var), expected, "{var:?}");
        }
    }

    #[test]
    fn other_lines_are_the_json_formatter_s() {
        let text = capture(|| {
            tracing::warn!(code = "store_unavailable", attempts = 3, "gave up");
            tracing::debug!("below the level");
        });
        assert_eq!(
            text,
            "{\"level\":\"WARN\",\"fields\":{\"message\":\"gave up\",\"code\":\"store_unavailable\",\"attempts\":3}}\n"
        );
    }

    #[test]
    fn a_usage_line_is_its_object_as_it_is_and_nothing_else_at_its_target() {
        let text = capture(|| {
            tracing::info!(target: USAGE_TARGET, usage = r#"{"key_id":"k"}"#, "key usage");
            tracing::info!(target: USAGE_TARGET, usage = "not an object", "key usage");
            tracing::info!(target: USAGE_TARGET, usage = "{not closed", "key usage");
            tracing::info!(target: USAGE_TARGET, usage = "not open}", "key usage");
            tracing::info!(target: USAGE_TARGET, other = "{}", "key usage");
            tracing::info!(target: USAGE_TARGET, "key usage");
        });
        assert_eq!(text, "{\"level\":\"INFO\",\"fields\":{\"message\":\"key usage\",\"usage\":{\"key_id\":\"k\"}}}\n");
    }
}
