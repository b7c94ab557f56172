//! Two log streams: the JSON access log (one line per request, target `portcullis::access`) to stdout, a
//! file or nowhere; and the diagnostic log (human-readable) to stderr.

use portcullis_config::LogSection;
use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::filter::{filter_fn, EnvFilter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

const ACCESS_TARGET: &str = "portcullis::access";

/// Installs the global subscriber; keep the guard alive so buffered lines are flushed at exit.
pub fn init(cfg: &LogSection) -> Result<Option<WorkerGuard>, String> {
    let diag_filter = EnvFilter::try_new(&cfg.level).map_err(|e| format!("log.level: {e}"))?;
    let diag = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .with_filter(filter_fn(|m| m.target() != ACCESS_TARGET))
        .with_filter(diag_filter);

    let (writer, guard) = match cfg.access.as_str() {
        "off" => (None, None),
        "stdout" => {
            let (w, g) = tracing_appender::non_blocking(std::io::stdout());
            (Some(w), Some(g))
        }
        path => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| format!("log.access: cannot open {path}: {e}"))?;
            let (w, g) = tracing_appender::non_blocking(file);
            (Some(w), Some(g))
        }
    };
    let access = writer.map(|w| {
        tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .with_target(false)
            .with_writer(w)
            .with_filter(filter_fn(|m| m.target() == ACCESS_TARGET))
    });
    tracing_subscriber::registry().with(diag).with(access).try_init().map_err(|e| e.to_string())?;
    Ok(guard)
}
