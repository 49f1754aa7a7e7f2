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
    LogGuard(installed.ok().map(|_| lines))
}
