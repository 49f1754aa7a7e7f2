//! Logging setup: `pretty` for people, `json` for machines. `RUST_LOG` overrides the level.
//! Lines are written by a background thread in batches, so a request never waits on stderr
//! (a terminal or a pipe) and does not wake a thread per line; when the writer falls far
//! behind, the logging thread writes the backlog itself rather than drop lines.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use tracing_subscriber::EnvFilter;

use crate::batching::{BatchWorker, WhenFull};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    #[default]
    Pretty,
    Json,
}

/// Lines waiting for the writer before a logging thread writes them itself.
const BACKLOG_LINES: usize = 16 * 1024;
/// How long lines gather after a batch is written: how stale a log line can be.
const GATHER: Duration = Duration::from_millis(10);

/// Where [`write_request_line`] writes: the batch writer `init` installed, in its format.
/// Unset on a colour terminal, where tracing writes the line with its colours.
static REQUEST_LINES: std::sync::OnceLock<(Arc<BatchWorker<Vec<u8>>>, LogFormat)> = std::sync::OnceLock::new();

/// What a served request's log line says.
pub struct RequestLine<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub status: u16,
    pub latency_ms: f64,
    pub request_id: &'a str,
}

impl RequestLine<'_> {
    /// The event's level and message: a 5xx is an error.
    fn level_and_message(&self) -> (&'static str, &'static str) {
        if self.status >= 500 {
            ("ERROR", "request failed")
        } else {
            ("INFO", "request")
        }
    }

    /// The line exactly as tracing-subscriber's formatter writes the event
    /// `http::request_logger` falls back to (a test holds the two equal), at `now`.
    fn format(&self, format: LogFormat, now: time::OffsetDateTime) -> Vec<u8> {
        use std::fmt::Write as _;
        let timestamp = format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
            now.year(),
            u8::from(now.month()),
            now.day(),
            now.hour(),
            now.minute(),
            now.second(),
            now.microsecond()
        );
        let (level, message) = self.level_and_message();
        let mut line = String::with_capacity(192);
        match format {
            LogFormat::Pretty => {
                let _ = writeln!(
                    line,
                    "{timestamp} {level:>5} {message} method={} path={:?} status={} latency_ms={:?} request_id={:?}",
                    self.method, self.path, self.status, self.latency_ms, self.request_id
                );
            }
            LogFormat::Json => {
                let event = serde_json::json!({
                    "timestamp": timestamp,
                    "level": level,
                    "message": message,
                    "method": self.method,
                    "path": self.path,
                    "status": self.status,
                    "latency_ms": self.latency_ms,
                    "request_id": self.request_id,
                    "target": "scimlab::http",
                });
                line = event.to_string();
                line.push('\n');
            }
        }
        line.into_bytes()
    }
}

/// Writes a served request's line straight to the log writer: formatting it through
/// tracing-subscriber cost 7 % of a GET by id (docs/perf.md, round 2). False when the
/// caller must log the event through tracing instead (no batch writer, or a colour terminal).
pub fn write_request_line(line: &RequestLine<'_>) -> bool {
    let Some((lines, format)) = REQUEST_LINES.get() else { return false };
    let enabled = match line.status >= 500 {
        true => tracing::enabled!(target: "scimlab::http", tracing::Level::ERROR),
        false => tracing::enabled!(target: "scimlab::http", tracing::Level::INFO),
    };
    if enabled {
        lines.push(line.format(*format, time::OffsetDateTime::now_utc()));
    }
    true
}

/// Keeps the log writer running; dropping it writes what is queued. Hold it for as long as
/// the command runs.
pub struct LogGuard(Option<Arc<BatchWorker<Vec<u8>>>>);

impl Drop for LogGuard {
    fn drop(&mut self) {
        if let Some(lines) = &self.0 {
            lines.settle(Duration::from_secs(5));
        }
    }
}

/// Hands each formatted event to the batch writer as one line.
#[derive(Clone)]
struct BatchedLines(Arc<BatchWorker<Vec<u8>>>);

/// One event's bytes, queued when the formatter is done with it.
struct Line<'a> {
    lines: &'a BatchWorker<Vec<u8>>,
    bytes: Vec<u8>,
}

impl Write for Line<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for Line<'_> {
    fn drop(&mut self) {
        if !self.bytes.is_empty() {
            self.lines.push(std::mem::take(&mut self.bytes));
        }
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for BatchedLines {
    type Writer = Line<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        Line { lines: &self.0, bytes: Vec::new() }
    }
}

fn write_lines(stderr: &mut std::io::BufWriter<std::io::Stderr>, batch: Vec<Vec<u8>>) {
    // A closed stderr has nowhere to report to; the lines are gone either way.
    for line in batch {
        let _ = stderr.write_all(&line);
    }
    let _ = stderr.flush();
}

/// Installs the global subscriber once; later calls are ignored (tests call it repeatedly).
pub fn init(format: LogFormat, default_level: &str) -> LogGuard {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    // Colours only for a person at a terminal: redirected logs stay plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let mut stderr = std::io::BufWriter::with_capacity(64 * 1024, std::io::stderr());
    let worker = BatchWorker::start("log-writer", BACKLOG_LINES, WhenFull::ConsumeInline, GATHER, move |batch| {
        write_lines(&mut stderr, batch)
    });
    let lines = match worker {
        Ok(worker) => Arc::new(worker),
        Err(e) => {
            // Without a writer thread, lines go straight to stderr.
            let fallback = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
            let _ = fallback.try_init();
            tracing::warn!(error = %e, "cannot start the log writer thread; logging synchronously");
            return LogGuard(None);
        }
    };
    let builder =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(BatchedLines(Arc::clone(&lines))).with_ansi(ansi);
    let installed = match format {
        LogFormat::Pretty => builder.with_target(false).try_init(),
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).try_init(),
    };
    // Already installed (tests call this repeatedly): the first subscriber and writer stay.
    let installed = installed.ok().map(|_| lines);
    if let (Some(lines), false) = (&installed, ansi) {
        let _ = REQUEST_LINES.set((Arc::clone(lines), format));
    }
    LogGuard(installed)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What tracing-subscriber writes for the event `http::request_logger` falls back to.
    fn through_tracing(format: LogFormat, line: &RequestLine<'_>) -> String {
        let buffer = Arc::new(std::sync::Mutex::new(Vec::<u8>::new()));
        let sink = Arc::clone(&buffer);
        let writer = move || SharedBuffer(Arc::clone(&sink));
        let builder = tracing_subscriber::fmt().with_writer(writer).with_ansi(false);
        let (method, path, status, latency_ms, request_id) =
            (line.method, line.path, line.status, line.latency_ms, line.request_id.to_string());
        let emit = || {
            if status >= 500 {
                tracing::error!(target: "scimlab::http", %method, path, status, latency_ms, request_id, "request failed");
            } else {
                tracing::info!(target: "scimlab::http", %method, path, status, latency_ms, request_id, "request");
            }
        };
        match format {
            LogFormat::Pretty => tracing::subscriber::with_default(builder.with_target(false).finish(), emit),
            LogFormat::Json => tracing::subscriber::with_default(
                builder.json().flatten_event(true).with_current_span(true).finish(),
                emit,
            ),
        }
        let bytes = buffer.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    struct SharedBuffer(Arc<std::sync::Mutex<Vec<u8>>>);

    impl Write for SharedBuffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Everything but the timestamp, which the two writers read at different moments.
    fn without_timestamp(format: LogFormat, text: &str) -> String {
        match format {
            LogFormat::Pretty => text.split_once(' ').map(|(_, rest)| rest.to_string()).unwrap_or_default(),
            LogFormat::Json => {
                let mut event: serde_json::Value = serde_json::from_str(text).unwrap();
                event["timestamp"] = serde_json::Value::Null;
                event.to_string()
            }
        }
    }

    #[test]
    fn request_lines_are_written_as_tracing_writes_them() {
        let now = time::macros::datetime!(2026-11-30 16:01:24.586605 UTC);
        let lines = [
            RequestLine { method: "GET", path: "/scim/v2/Users/1", status: 200, latency_ms: 0.412, request_id: "4a65" },
            RequestLine { method: "PATCH", path: "/a \"q\"\\b\u{7}é", status: 404, latency_ms: 12.0, request_id: "x" },
            RequestLine { method: "POST", path: "/scim/v2/Bulk", status: 503, latency_ms: 1e-7, request_id: "\"" },
        ];
        for format in [LogFormat::Pretty, LogFormat::Json] {
            for line in &lines {
                let ours = String::from_utf8(line.format(format, now)).unwrap();
                let theirs = through_tracing(format, line);
                assert!(ours.ends_with('\n') && theirs.ends_with('\n'), "{ours:?} {theirs:?}");
                assert_eq!(without_timestamp(format, &ours), without_timestamp(format, &theirs), "{format:?}");
            }
        }
        // The timestamp as tracing-subscriber's clock writes it: RFC 3339, microseconds, UTC.
        let ours = String::from_utf8(lines[0].format(LogFormat::Pretty, now)).unwrap();
        assert!(ours.starts_with("2026-11-30T16:01:24.586605Z  INFO request "), "{ours}");
        let theirs = through_tracing(LogFormat::Pretty, &lines[0]);
        let stamp = theirs.split(' ').next().unwrap();
        let shape = |s: &str| s.chars().map(|c| if c.is_ascii_digit() { '9' } else { c }).collect::<String>();
        assert_eq!(shape(stamp), shape("2026-11-30T16:01:24.586605Z"), "{theirs}");
    }
}
