//! Logging setup: `pretty` for people, `json` for machines. `RUST_LOG` overrides the level.
//! Lines are written by a background thread, so a request never waits on stderr (a
//! terminal or a pipe); a full buffer makes writers wait rather than drop lines.

use tracing_subscriber::EnvFilter;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    #[default]
    Pretty,
    Json,
}

/// Keeps the log writer running; dropping it flushes what is buffered. Hold it for as long
/// as the command runs.
pub struct LogGuard(#[allow(dead_code)] Option<tracing_appender::non_blocking::WorkerGuard>);

/// Installs the global subscriber once; later calls are ignored (tests call it repeatedly).
pub fn init(format: LogFormat, default_level: &str) -> LogGuard {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    // Colours only for a person at a terminal: redirected logs stay plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let (writer, guard) =
        // Buffered: the writer thread drains every queued line, then flushes once.
        tracing_appender::non_blocking::NonBlockingBuilder::default()
            .lossy(false)
            .finish(std::io::BufWriter::with_capacity(64 * 1024, std::io::stderr()));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer).with_ansi(ansi);
    let installed = match format {
        LogFormat::Pretty => builder.with_target(false).try_init(),
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).try_init(),
    };
    // Already installed (tests call this repeatedly): the first subscriber and writer stay.
    LogGuard(installed.ok().map(|_| guard))
}
