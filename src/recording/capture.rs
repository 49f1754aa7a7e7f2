//! The recorder's writer thread: the request path captures an exchange (cheap copies of its
//! head and bodies) and queues it; this thread parses, redacts, encodes and stores it.
//! Bounded: when the thread cannot keep up, captures are dropped and counted, never queued
//! without end. Readers settle the queue first, so they see every request answered before
//! they asked.

use std::sync::Arc;
use std::time::Duration;

use crate::batching::{BatchWorker, WhenFull};

use super::{
    recorded_request_body, recorded_response_body, redact_header, redact_query, summarize_unauthenticated,
    RequestRecord, RingStore,
};

/// Captures waiting for the writer, at most.
const QUEUE_DEPTH: usize = 4096;

/// One exchange as the request path saw it: the record with its head copied as it came
/// (headers and query not yet redacted) and its bodies still raw. The writer redacts and
/// parses them before the record is stored, so nothing unredacted is stored or served.
pub struct Capture {
    pub record: RequestRecord,
    pub request_body: Option<bytes::Bytes>,
    pub response_body: bytes::Bytes,
}

impl Capture {
    fn into_record(self) -> RequestRecord {
        let mut record = self.record;
        for (name, value) in record.request_headers.iter_mut().chain(record.response_headers.iter_mut()) {
            *value = redact_header(name, value);
        }
        record.query = redact_query(&record.query);
        record.request_body = self.request_body.as_deref().and_then(recorded_request_body);
        record.response_body = recorded_response_body(&self.response_body);
        if record.status == 401 {
            // No credentials, no detail: a client without a token cannot fill the ring.
            summarize_unauthenticated(&mut record);
        }
        record
    }
}

/// How long the writer lets captures gather after a batch: under load it wakes about this
/// often instead of once per request (see [`crate::batching`]).
const GATHER: Duration = Duration::from_millis(2);

pub(crate) struct Queue {
    writer: Option<BatchWorker<Capture>>,
}

impl Queue {
    /// Starts the writer thread; it ends when the queue is dropped.
    pub(crate) fn start(store: Arc<RingStore>) -> Queue {
        let writer =
            BatchWorker::start("scimlab-recorder", QUEUE_DEPTH, WhenFull::Drop, GATHER, move |batch: Vec<Capture>| {
                for captured in batch {
                    store.record(captured.into_record());
                }
            });
        let writer = writer
            .map_err(|e| tracing::error!(error = %e, "cannot start the request recorder's writer; requests are not recorded"))
            .ok();
        Queue { writer }
    }

    pub(crate) fn submit(&self, captured: Capture) {
        if let Some(writer) = &self.writer {
            writer.push(captured);
        }
    }

    pub(crate) fn dropped(&self) -> u64 {
        self.writer.as_ref().map_or(0, BatchWorker::dropped)
    }

    /// Waits (briefly: the writer stores a record in microseconds) until what was queued
    /// before this call is stored.
    pub(crate) fn settle(&self) {
        if let Some(writer) = &self.writer {
            if !writer.settle(Duration::from_secs(2)) {
                tracing::warn!("the request recorder is behind; answering with what it has");
            }
        }
    }
}
