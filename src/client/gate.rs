//! Holding requests back: a job's pause switch, and the hold a 429 puts on every request
//! of the job until its `Retry-After` has passed.

use std::sync::{Arc, Mutex};

/// Pause/resume for a job: while paused, no request is sent; a paused cycle continues
/// where it stopped once resumed.
#[derive(Clone)]
pub struct PauseGate {
    paused: Arc<tokio::sync::watch::Sender<bool>>,
}

impl Default for PauseGate {
    fn default() -> Self {
        PauseGate { paused: Arc::new(tokio::sync::watch::channel(false).0) }
    }
}

impl PauseGate {
    pub fn pause(&self) {
        self.paused.send_replace(true);
    }

    pub fn resume(&self) {
        self.paused.send_replace(false);
    }

    pub fn is_paused(&self) -> bool {
        *self.paused.borrow()
    }

    /// Requests waiting at the gate right now (each waiter holds a subscription while it
    /// waits): lets a caller see that a paused job's next request is being held.
    pub fn waiting(&self) -> usize {
        self.paused.receiver_count()
    }

    /// Returns at once when running, or when resumed.
    pub async fn wait_running(&self) {
        let mut rx = self.paused.subscribe();
        // The sender lives in `self`, so the channel cannot close while we wait.
        if rx.wait_for(|paused| !paused).await.is_err() {
            tracing::debug!("pause gate closed while waiting");
        }
    }
}

/// The latest instant a 429 asked every request to wait for.
#[derive(Clone, Default)]
pub(crate) struct RateHold {
    until: Arc<Mutex<Option<tokio::time::Instant>>>,
}

impl RateHold {
    pub(crate) fn extend(&self, wait: std::time::Duration) {
        if let Ok(mut hold) = self.until.lock() {
            let until = tokio::time::Instant::now() + wait;
            *hold = Some(hold.map_or(until, |h| h.max(until)));
        }
    }

    pub(crate) async fn wait(&self) {
        let hold = self.until.lock().ok().and_then(|h| *h);
        if let Some(until) = hold {
            if until > tokio::time::Instant::now() {
                tokio::time::sleep_until(until).await;
            }
        }
    }
}
