//! Job health (docs/entra-behaviour.md §5.6–5.8): escrowed failures, quarantine with
//! its documented thresholds and back-off schedule, and the status document.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::engine::CycleReport;

/// Quarantine thresholds and schedule. The defaults are Entra's; `timeScale` compresses the
/// schedule (3600: an hour of the schedule passes per second) for tests and demos.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct QuarantinePolicy {
    /// Proportion checks start at this many failed objects.
    #[serde(default = "default_min_failures")]
    pub min_failures: usize,
    /// Quarantine when more than this share of the cycle's objects failed.
    #[serde(default = "default_proportion")]
    pub failure_proportion: f64,
    /// Quarantine above this many failed objects, whatever the share.
    #[serde(default = "default_max_failures")]
    pub max_failures: usize,
    /// Quarantine above this many failures, reference failures included.
    #[serde(default = "default_max_total")]
    pub max_total_failures: usize,
    #[serde(default = "default_time_scale")]
    pub time_scale: f64,
}

fn default_min_failures() -> usize {
    5_000
}
fn default_proportion() -> f64 {
    0.4
}
fn default_max_failures() -> usize {
    40_000
}
fn default_max_total() -> usize {
    60_000
}
fn default_time_scale() -> f64 {
    1.0
}

impl Default for QuarantinePolicy {
    fn default() -> Self {
        QuarantinePolicy {
            min_failures: default_min_failures(),
            failure_proportion: default_proportion(),
            max_failures: default_max_failures(),
            max_total_failures: default_max_total(),
            time_scale: default_time_scale(),
        }
    }
}

/// Graph's `quarantineReason` values that the engine can reach.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum QuarantineReason {
    /// Credentials refused or the target unreachable on every request.
    EncounteredQuarantineException,
    EncounteredEscrowProportionThreshold,
    EncounteredTotalEscrowThreshold,
    EncounteredBaseEscrowThreshold,
    TooManyDeletes,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Quarantine {
    pub reason: QuarantineReason,
    pub detail: String,
    /// When the job entered quarantine.
    pub since: String,
    /// Cycles run while quarantined.
    pub attempts: u32,
    /// The next cycle is not due before this.
    pub next_attempt: String,
}

/// Hours after entering quarantine at which cycles are retried: 6 h, 12 h, 24 h, then
/// every 24 h (§1.8); after 28 days the job is disabled.
const SCHEDULE_HOURS: [u64; 3] = [6, 12, 24];
const DISABLE_AFTER_HOURS: u64 = 28 * 24;

impl QuarantinePolicy {
    fn scaled(&self, hours: u64) -> time::Duration {
        let seconds = hours as f64 * 3600.0 / self.time_scale.max(1e-6);
        time::Duration::seconds_f64(seconds)
    }

    /// Offset from `since` of the retry after `attempts` quarantined cycles.
    pub fn retry_offset(&self, attempts: u32) -> time::Duration {
        let hours = match SCHEDULE_HOURS.get(attempts as usize) {
            Some(h) => *h,
            None => 24 * (attempts as u64 - SCHEDULE_HOURS.len() as u64 + 2),
        };
        self.scaled(hours)
    }

    pub fn disable_after(&self) -> time::Duration {
        self.scaled(DISABLE_AFTER_HOURS)
    }

    /// Why this cycle puts the job in quarantine, if it does.
    pub fn evaluate(&self, report: &CycleReport) -> Option<(QuarantineReason, String)> {
        if report.held_deletions > 0 {
            return Some((
                QuarantineReason::TooManyDeletes,
                format!(
                    "{} disables/deletes exceed the accidental-deletion threshold; run `provision allow-deletions` to apply them",
                    report.held_deletions
                ),
            ));
        }
        // A collection that answers a query with 404 is not SCIM-compliant: Entra quarantines
        // at once, whatever else succeeded (docs/entra-behaviour.md §1.3).
        if let Some(n) = report.failure_codes.get("SystemForCrossDomainIdentityManagementServiceIncompatible") {
            return Some((
                QuarantineReason::EncounteredQuarantineException,
                format!("SCIM compliance issue: {n} requests were not answered as SCIM (for example a filter query answered 404 instead of 200 with a ListResponse)"),
            ));
        }
        let object_failures = report.failed;
        let all_failures = report.all_failures();
        let successes = report.created + report.updated + report.disabled + report.deleted;
        let unreachable = [
            "Unauthorized",
            "InsufficientRights",
            "WebExceptionProtocolError",
            "Timeout",
            "SslConnectionError",
            "SystemForCrossDomainIdentityManagementServiceIncompatible",
        ];
        if all_failures > 0
            && successes == 0
            && report.failure_codes.keys().all(|code| unreachable.contains(&code.as_str()))
        {
            let codes: Vec<&str> = report.failure_codes.keys().map(String::as_str).collect();
            return Some((
                QuarantineReason::EncounteredQuarantineException,
                format!("every request failed ({}): check the target URL and credentials", codes.join(", ")),
            ));
        }
        if all_failures > self.max_total_failures {
            return Some((
                QuarantineReason::EncounteredBaseEscrowThreshold,
                format!("{all_failures} failures (references included) exceed {}", self.max_total_failures),
            ));
        }
        if object_failures > self.max_failures {
            return Some((
                QuarantineReason::EncounteredTotalEscrowThreshold,
                format!("{object_failures} failed objects exceed {}", self.max_failures),
            ));
        }
        let events = report.processed.max(1);
        if object_failures >= self.min_failures && object_failures as f64 / events as f64 > self.failure_proportion {
            return Some((
                QuarantineReason::EncounteredEscrowProportionThreshold,
                format!(
                    "{object_failures} of {events} objects failed (more than {:.0} %)",
                    self.failure_proportion * 100.0
                ),
            ));
        }
        None
    }
}

/// What a cycle's outcome does to the job's quarantine.
#[derive(Debug, Clone, PartialEq)]
pub enum Transition {
    Healthy,
    Entered(Quarantine),
    Continued(Quarantine),
    Lifted(Quarantine),
    Disabled(Quarantine),
}

pub fn transition(
    policy: &QuarantinePolicy,
    current: Option<Quarantine>,
    verdict: Option<(QuarantineReason, String)>,
    now: OffsetDateTime,
) -> Transition {
    let rfc = crate::clock::rfc3339;
    match (current, verdict) {
        (None, None) => Transition::Healthy,
        (Some(q), None) => Transition::Lifted(q),
        (None, Some((reason, detail))) => Transition::Entered(Quarantine {
            reason,
            detail,
            since: rfc(now),
            attempts: 0,
            next_attempt: rfc(now + policy.retry_offset(0)),
        }),
        (Some(q), Some((reason, detail))) => {
            let since = crate::clock::parse_rfc3339(&q.since).unwrap_or(now);
            let attempts = q.attempts + 1;
            let next = Quarantine {
                reason,
                detail,
                since: q.since,
                attempts,
                next_attempt: rfc(since + policy.retry_offset(attempts)),
            };
            if now - since >= policy.disable_after() {
                Transition::Disabled(next)
            } else {
                Transition::Continued(next)
            }
        }
    }
}

fn runs_here_by_default() -> bool {
    true
}

/// The job's state, as the Entra provisioning page shows it (§6.5).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct JobStatus {
    pub job: String,
    pub state: RunState,
    /// Whether this process runs the job's cycles (false on a standby replica, which
    /// answers from the shared state and takes over when the runner stops).
    #[serde(default = "runs_here_by_default")]
    pub runs_here: bool,
    pub initial_cycle_complete: bool,
    /// Initial cycle done and the last cycle ran without failures.
    pub steady_state: bool,
    /// Disables and deletes the deletion threshold is holding back.
    pub held_removals: usize,
    pub last_cycle: Option<CycleReport>,
    pub quarantine: Option<Quarantine>,
    /// Objects whose last attempt failed; they are retried on the next cycle.
    pub escrowed: usize,
    pub last_error: Option<String>,
    /// Objects linked in the target (the connector data store).
    pub users: usize,
    pub groups: usize,
    /// Cycles that came due while the job was paused and did not run (since the process
    /// started).
    #[serde(default)]
    pub skipped_while_paused: u64,
    /// The running cycle: objects processed of the planned total.
    pub progress: Option<super::engine::CycleProgress>,
    /// Statistics to date.
    pub statistics: crate::provision::state::Totals,
    pub last_successful_cycle_at: Option<String>,
    pub steady_state_at: Option<String>,
    /// The last cycles, oldest first.
    #[serde(default)]
    pub recent_cycles: Vec<crate::provision::state::CyclePoint>,
    /// The ids the Graph-shaped API serves the job under.
    pub graph: crate::provision::graph::GraphIds,
}

/// Where a job stands (Graph's synchronizationStatus `code`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RunState {
    NotRun,
    Active,
    Paused,
    Quarantine,
    Disabled,
}

impl std::fmt::Display for RunState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self, f)
    }
}

/// How long a scheduler waits before the next cycle.
pub fn next_delay(interval: Duration, quarantine: Option<&Quarantine>, now: OffsetDateTime) -> Duration {
    match quarantine.and_then(|q| crate::clock::parse_rfc3339(&q.next_attempt)) {
        Some(at) => Duration::try_from(at - now).unwrap_or(Duration::ZERO),
        None => interval,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(processed: usize, failed: usize, codes: &[&str]) -> CycleReport {
        CycleReport {
            processed,
            failed,
            created: processed - failed,
            failure_codes: codes.iter().map(|c| (c.to_string(), 1)).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn documented_threshold_examples() {
        let p = QuarantinePolicy::default();
        assert_eq!(p.evaluate(&report(10_000, 4_000, &["InternalServerError"])), None, "4,000 failures → no");
        assert!(p.evaluate(&report(100_000, 45_000, &["InternalServerError"])).is_some(), "45,000 → yes");
        assert_eq!(
            p.evaluate(&report(35_000, 30_000, &["InternalServerError"])).unwrap().0,
            QuarantineReason::EncounteredEscrowProportionThreshold,
            "30,000 fail + 5,000 success → yes"
        );
        assert_eq!(p.evaluate(&report(120_000, 20_000, &["InternalServerError"])), None, "20k of 120k → no");
        let mut with_refs = report(100_000, 40_000, &["InternalServerError"]);
        with_refs.reference_failed = 21_000;
        assert_eq!(
            p.evaluate(&with_refs).unwrap().0,
            QuarantineReason::EncounteredBaseEscrowThreshold,
            "40,000 user + 21,000 manager failures → yes"
        );
    }

    #[test]
    fn refused_credentials_quarantine_at_once() {
        let p = QuarantinePolicy::default();
        let r = CycleReport { processed: 3, failed: 3, ..report(3, 3, &["Unauthorized"]) };
        assert_eq!(p.evaluate(&r).unwrap().0, QuarantineReason::EncounteredQuarantineException);
    }

    #[test]
    fn schedule_is_6_12_24_then_daily_and_disables_after_28_days() {
        let p = QuarantinePolicy { time_scale: 3600.0, ..Default::default() };
        assert_eq!(p.retry_offset(0), time::Duration::seconds(6));
        assert_eq!(p.retry_offset(1), time::Duration::seconds(12));
        assert_eq!(p.retry_offset(2), time::Duration::seconds(24));
        assert_eq!(p.retry_offset(3), time::Duration::seconds(48));
        assert_eq!(p.disable_after(), time::Duration::seconds(28 * 24));

        let t0 = time::macros::datetime!(2026-01-01 0:00 UTC);
        let verdict = || Some((QuarantineReason::EncounteredEscrowProportionThreshold, "x".to_string()));
        let Transition::Entered(q) = transition(&p, None, verdict(), t0) else { panic!("enters") };
        assert_eq!(q.next_attempt, "2026-01-01T00:00:06Z");
        let Transition::Continued(q) = transition(&p, Some(q), verdict(), t0 + time::Duration::seconds(6)) else {
            panic!("continues")
        };
        assert_eq!((q.attempts, q.next_attempt.as_str()), (1, "2026-01-01T00:00:12Z"));
        assert!(matches!(transition(&p, Some(q.clone()), None, t0), Transition::Lifted(_)));
        assert!(matches!(
            transition(&p, Some(q), verdict(), t0 + time::Duration::seconds(28 * 24)),
            Transition::Disabled(_)
        ));
    }
}
