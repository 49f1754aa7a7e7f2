//! The Graph synchronization API's view of a job (docs/graph-api.md): the ids Graph serves
//! it under, `synchronizationJob` with its schedule and status, the `synchronizationSchema`
//! (export and import), secrets, and the OData `$filter` of `/auditLogs/provisioning`.
//! Shapes follow Microsoft Graph v1.0; nothing here knows HTTP.

pub mod odata;
pub mod schema;
pub mod secrets;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::health::{JobStatus, RunState};
use super::Job;

/// The service principal and job ids of a job, as `GET …/synchronization/jobs` shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GraphIds {
    pub service_principal_id: String,
    pub job_id: String,
}

impl GraphIds {
    /// The job file's ids, or ids derived from the job's name: stable across restarts and
    /// machines, distinct per job. Job ids look like Entra's (`scim.` and 32 hex digits).
    pub fn of(job: &Job) -> GraphIds {
        job.spec.graph.clone().unwrap_or_else(|| {
            let name = &job.spec.name;
            let sp = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, format!("scimlab:sp:{name}").as_bytes());
            let job = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, format!("scimlab:job:{name}").as_bytes());
            GraphIds { service_principal_id: sp.to_string(), job_id: format!("scim.{}", job.simple()) }
        })
    }
}

/// .NET's `DateTimeOffset.MinValue`: Graph's "never" for the steady-state times.
const NEVER: &str = "0001-01-01T00:00:00Z";

/// `synchronizationJob` (Graph v1.0) from scimlab's status document.
pub fn synchronization_job(job: &Job, status: &JobStatus) -> Value {
    let ids = GraphIds::of(job);
    let schedule_state = match status.state {
        RunState::Paused => "Paused",
        RunState::Disabled => "Disabled",
        _ => "Active",
    };
    let code = match status.state {
        RunState::NotRun => "NotRun",
        RunState::Active => "Active",
        RunState::Paused => "Paused",
        RunState::Quarantine | RunState::Disabled => "Quarantine",
    };
    let execution = |cycle: &super::CycleReport| {
        json!({
            "activityIdentifier": cycle.cycle_id,
            "countEntitled": cycle.processed,
            "countEntitledForProvisioning": cycle.processed,
            "countEscrowed": cycle.failed,
            "countEscrowedRaw": cycle.failed,
            "countExported": cycle.created + cycle.updated + cycle.disabled + cycle.deleted,
            "countExports": cycle.created + cycle.updated + cycle.disabled + cycle.deleted + cycle.failed,
            "countImported": cycle.processed,
            "countImportedDeltas": cycle.processed,
            "countImportedReferenceDeltas": cycle.references_updated,
            "error": null,
            "state": if cycle.all_failures() == 0 { "Succeeded" } else { "EntryLevelErrors" },
            "timeBegan": cycle.started_at,
            "timeEnded": cycle.finished_at,
        })
    };
    let last = status.last_cycle.as_ref().map(execution);
    let last_success = status
        .last_cycle
        .as_ref()
        .filter(|c| c.all_failures() == 0 && status.last_successful_cycle_at.as_deref() == Some(c.finished_at.as_str()))
        .map(execution);
    let progress: Vec<Value> = status
        .progress
        .iter()
        .map(|p| {
            json!({"completedUnits": p.processed, "totalUnits": p.total, "units": "Objects",
                       "progressObservationDateTime": status.last_cycle.as_ref().map(|c| c.finished_at.clone())})
        })
        .collect();
    let quarantine = status.quarantine.as_ref().map(|q| {
        json!({
            "currentBegan": q.since,
            "nextAttempt": q.next_attempt,
            "reason": q.reason,
            "seriesBegan": q.since,
            "seriesCount": q.attempts,
            "error": {"code": format!("{:?}", q.reason), "message": q.detail, "tenantActionable": true},
        })
    });
    let steady = status.steady_state_at.clone().unwrap_or_else(|| NEVER.to_string());
    let steady_last = if status.steady_state { status.last_successful_cycle_at.clone() } else { None };
    json!({
        "id": ids.job_id,
        "templateId": "scim",
        "schedule": {
            "expiration": null,
            "interval": format!("PT{}S", job.spec.options.interval_seconds),
            "state": schedule_state,
        },
        "status": {
            "code": code,
            "countSuccessiveCompleteFailures": if status.last_cycle.as_ref().is_some_and(|c| c.processed > 0 && c.failed == c.processed) { 1 } else { 0 },
            "escrowsPruned": false,
            "lastExecution": last,
            "lastSuccessfulExecution": last_success,
            "lastSuccessfulExecutionWithExports": last_success,
            "progress": progress,
            "quarantine": quarantine,
            "steadyStateFirstAchievedTime": steady,
            "steadyStateLastAchievedTime": steady_last.unwrap_or_else(|| NEVER.to_string()),
            "synchronizedEntryCountByType": [
                {"key": "user to User", "value": status.users},
                {"key": "group to Group", "value": status.groups},
            ],
            "troubleshootingUrl": null,
        },
        "synchronizationJobSettings": [
            {"name": "QuarantineTooManyDeletesThreshold", "value": job.spec.options.deletion_threshold.to_string()},
        ],
    })
}
