//! How transient failures are retried: exponential backoff with jitter, and `Retry-After`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How transient failures are retried within a cycle. 429 suspends every request of the
/// job for `Retry-After` (capped); 5xx, timeouts and connection errors back off
/// exponentially with jitter. Other 4xx are never retried: they are logged and the object
/// is escrowed for the next cycle.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RetryPolicy {
    /// Attempts per request, the first included.
    #[serde(default = "default_attempts")]
    pub max_attempts: u32,
    #[serde(default = "default_base_delay")]
    pub base_delay_ms: u64,
    #[serde(default = "default_max_delay")]
    pub max_delay_ms: u64,
    /// A longer `Retry-After` is cut to this.
    #[serde(default = "default_max_retry_after")]
    pub max_retry_after_seconds: u64,
}

fn default_attempts() -> u32 {
    4
}
fn default_base_delay() -> u64 {
    200
}
fn default_max_delay() -> u64 {
    10_000
}
fn default_max_retry_after() -> u64 {
    300
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: default_attempts(),
            base_delay_ms: default_base_delay(),
            max_delay_ms: default_max_delay(),
            max_retry_after_seconds: default_max_retry_after(),
        }
    }
}

impl RetryPolicy {
    /// Exponential backoff with "equal jitter": half fixed, half random, so concurrent
    /// workers that failed together do not retry together.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = self.base_delay_ms.saturating_mul(1u64 << attempt.saturating_sub(1).min(20));
        let capped = exp.min(self.max_delay_ms);
        let half = capped / 2;
        Duration::from_millis(half + rand::random::<u64>() % (half + 1))
    }
}

/// `Retry-After` as delay-seconds or an HTTP-date (RFC 9110 §10.2.3).
pub fn parse_retry_after(value: &str, now: time::OffsetDateTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc2822).ok()?;
    Some(Duration::try_from(at - now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = time::macros::datetime!(2026-01-01 00:00:00 UTC);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("Thu, 01 Jan 2026 00:00:30 +0000", now), Some(Duration::from_secs(30)));
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn backoff_stays_within_the_cap() {
        let policy = RetryPolicy { base_delay_ms: 100, max_delay_ms: 1_000, ..RetryPolicy::default() };
        for attempt in 1..30 {
            let d = policy.backoff(attempt).as_millis() as u64;
            assert!(d <= 1_000, "attempt {attempt}: {d} ms");
        }
        assert!(policy.backoff(1).as_millis() >= 50);
    }
}
