//! The recorder's writer thread: the request path captures an exchange (cheap copies of its
//! head and bodies) and queues it; this thread parses, redacts, encodes and stores it.
//! Bounded: when the thread cannot keep up, captures are dropped and counted, never queued
//! without end. Readers settle the queue first, so they see every request answered before
//! they asked.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use super::{recorded_request_body, recorded_response_body, summarize_unauthenticated, RequestRecord, RingStore};

/// Captures waiting for the writer, at most.
const QUEUE_DEPTH: usize = 4096;

/// One exchange as the request path saw it: the record with its head filled in (headers
/// and query already redacted) and its bodies still raw; the writer parses and redacts them.
pub struct Capture {
    pub record: RequestRecord,
    pub request_body: Option<bytes::Bytes>,
    pub response_body: bytes::Bytes,
}

impl Capture {
    fn into_record(self) -> RequestRecord {
        let mut record = self.record;
        record.request_body = self.request_body.as_deref().and_then(recorded_request_body);
        record.response_body = recorded_response_body(&self.response_body);
        if record.status == 401 {
            // No credentials, no detail: a client without a token cannot fill the ring.
            summarize_unauthenticated(&mut record);
        }
        record
    }
}

/// Counts of captures queued and stored, with a signal when the stored count moves.
#[derive(Default)]
struct Progress {
    stored: Mutex<u64>,
    moved: Condvar,
}

pub(crate) struct Queue {
    sender: SyncSender<Capture>,
    queued: AtomicU64,
    dropped: AtomicU64,
    progress: Arc<Progress>,
}

impl Queue {
    /// Starts the writer thread; it ends when the queue is dropped.
    pub(crate) fn start(store: Arc<RingStore>) -> Queue {
        let (sender, receiver) = sync_channel::<Capture>(QUEUE_DEPTH);
        let progress = Arc::new(Progress::default());
        let writer_progress = Arc::clone(&progress);
        let spawned = std::thread::Builder::new().name("scimlab-recorder".into()).spawn(move || {
            while let Ok(captured) = receiver.recv() {
                store.record(captured.into_record());
                let mut stored = writer_progress.stored.lock().unwrap_or_else(|p| p.into_inner());
                *stored += 1;
                writer_progress.moved.notify_all();
            }
        });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the request recorder's writer; requests are not recorded");
        }
        Queue { sender, queued: AtomicU64::new(0), dropped: AtomicU64::new(0), progress }
    }

    pub(crate) fn submit(&self, captured: Capture) {
        // Counted before it is sent, so a reader settling meanwhile waits for it.
        self.queued.fetch_add(1, Ordering::SeqCst);
        match self.sender.try_send(captured) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.queued.fetch_sub(1, Ordering::SeqCst);
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Waits (briefly: the writer stores a record in microseconds) until what was queued
    /// before this call is stored.
    pub(crate) fn settle(&self) {
        let target = self.queued.load(Ordering::SeqCst);
        let mut stored = self.progress.stored.lock().unwrap_or_else(|p| p.into_inner());
        let deadline = std::time::Instant::now() + Duration::from_secs(2);
        while *stored < target {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                tracing::warn!(
                    queued = target,
                    stored = *stored,
                    "the request recorder is behind; answering with what it has"
                );
                return;
            }
            stored = self.progress.moved.wait_timeout(stored, left).unwrap_or_else(|p| p.into_inner()).0;
        }
    }
}
