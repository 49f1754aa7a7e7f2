//! The exchange log: each request and its response as sent and received, so on-demand
//! traces and validator reports can show the exact traffic.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde_json::Value;

/// Exchanges kept (the most recent ones).
pub const EXCHANGE_LOG_CAPACITY: usize = 2_000;

/// One request and its response, as sent and received.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Exchange {
    pub method: String,
    pub url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<Value>,
    pub status: u16,
    #[serde(skip_serializing_if = "Value::is_null")]
    pub response: Value,
}

/// A bounded log of exchanges, each with a sequence number so a reader can take only the
/// ones made since a point it remembered.
#[derive(Debug, Default)]
pub struct ExchangeLog {
    inner: Mutex<LogInner>,
    keeping: Keeping,
    /// Live [`Tracing`] guards.
    tracers: AtomicUsize,
}

/// When a log keeps what is pushed to it.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Keeping {
    #[default]
    Always,
    /// Only while a [`Tracing`] guard lives (see [`ExchangeLog::on_request`]).
    WhileTraced,
    /// Never: for clients whose traffic nobody shows (a source read page by page).
    Never,
}

/// While alive, an on-request log keeps exchanges.
#[must_use = "the log keeps exchanges only while the guard lives"]
pub struct Tracing(Arc<ExchangeLog>);

impl Drop for Tracing {
    fn drop(&mut self) {
        self.0.tracers.fetch_sub(1, Ordering::AcqRel);
    }
}

#[derive(Debug, Default)]
struct LogInner {
    entries: Vec<(u64, Exchange)>,
    next: u64,
}

impl ExchangeLog {
    pub fn off() -> ExchangeLog {
        ExchangeLog { keeping: Keeping::Never, ..ExchangeLog::default() }
    }

    /// Keeps exchanges only while someone traces them: a provisioning engine's cycles are
    /// shown to nobody, and copying every body of a 100k-object cycle cost the engine time
    /// and kept up to 2,000 bodies in memory.
    pub fn on_request() -> ExchangeLog {
        ExchangeLog { keeping: Keeping::WhileTraced, ..ExchangeLog::default() }
    }

    /// Keeps exchanges until the guard is dropped (only an on-request log needs one).
    pub fn trace(self: &Arc<Self>) -> Tracing {
        self.tracers.fetch_add(1, Ordering::AcqRel);
        Tracing(Arc::clone(self))
    }

    /// Whether a pushed exchange would be kept: callers skip building one otherwise.
    pub fn keeps(&self) -> bool {
        match self.keeping {
            Keeping::Always => true,
            Keeping::WhileTraced => self.tracers.load(Ordering::Acquire) > 0,
            Keeping::Never => false,
        }
    }

    pub fn push(&self, exchange: Exchange) {
        if !self.keeps() {
            return;
        }
        if let Ok(mut log) = self.inner.lock() {
            if log.entries.len() >= EXCHANGE_LOG_CAPACITY {
                // Bounded: a 100k-object cycle must not keep every body in memory.
                log.entries.drain(..EXCHANGE_LOG_CAPACITY / 2);
            }
            let seq = log.next;
            log.next += 1;
            log.entries.push((seq, exchange));
        }
    }

    /// The sequence number the next exchange will get.
    pub fn mark(&self) -> u64 {
        self.inner.lock().map(|l| l.next).unwrap_or_default()
    }

    /// The last exchange made at or after `mark`, if any.
    pub fn last_since(&self, mark: u64) -> Option<Exchange> {
        let log = self.inner.lock().ok()?;
        log.entries.last().filter(|(seq, _)| *seq >= mark).map(|(_, e)| e.clone())
    }

    pub fn len(&self) -> usize {
        self.inner.lock().map(|l| l.entries.len()).unwrap_or_default()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every exchange kept so far; the log is emptied.
    pub fn take(&self) -> Vec<Exchange> {
        self.inner
            .lock()
            .map(|mut l| std::mem::take(&mut l.entries).into_iter().map(|(_, e)| e).collect())
            .unwrap_or_default()
    }
}
