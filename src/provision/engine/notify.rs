//! Notifications: the job's webhook hears about quarantine, deletion-threshold stops and
//! failed cycles (docs/entra-behaviour.md §5.8). Sending never fails a cycle.

use serde_json::{json, Value};

use crate::client::{Body, HttpOptions, Request, RetryPolicy, TlsOptions, Transport};

/// Where a job's events go.
pub(crate) struct Notifier {
    job: String,
    url: Option<String>,
    retry: RetryPolicy,
}

impl Notifier {
    pub fn new(job: &str, url: Option<String>, retry: RetryPolicy) -> Notifier {
        Notifier { job: job.to_string(), url, retry }
    }

    /// Posts `{"event", "job", "at", "details"}`, retrying a few times.
    pub async fn send(&self, event: &str, at: &str, details: Value) {
        let Some(url) = &self.url else { return };
        let body = json!({"event": event, "job": self.job, "at": at, "details": details});
        let options = HttpOptions {
            tls: TlsOptions::with_ca(None, false),
            ..HttpOptions::with_timeout(std::time::Duration::from_secs(10))
        };
        let transport = match Transport::new(&options) {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(url, error = %e, event, "webhook client cannot be built");
                return;
            }
        };
        let attempts = self.retry.max_attempts.max(1);
        for attempt in 1..=attempts {
            let request = Request { body: Some(Body::Json(&body)), ..Request::new("POST", url) };
            match transport.send(request).await {
                Ok(res) if res.is_success() => return,
                Ok(res) => tracing::warn!(url, status = res.status, event, "webhook refused the notification"),
                Err(e) => tracing::warn!(url, error = %e, event, "webhook unreachable"),
            }
            if attempt < attempts {
                tokio::time::sleep(self.retry.backoff(attempt)).await;
            }
        }
    }
}
