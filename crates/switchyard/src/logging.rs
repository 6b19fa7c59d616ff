//! Structured logs through `tracing`: level from `RUST_LOG` (default `info`), text by
//! default or JSON lines with `SWITCHYARD_LOG_FORMAT=json`. Writes go through a
//! non-blocking writer so a slow terminal never stalls request handling.

use std::io::IsTerminal;
use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;

pub fn init() -> WorkerGuard {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let (writer, guard) = tracing_appender::non_blocking(std::io::stderr());
    let json = std::env::var("SWITCHYARD_LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(true);
    if json {
        builder.json().flatten_event(true).init();
    } else {
        builder.compact().init();
    }
    guard
}
