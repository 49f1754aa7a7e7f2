//! What a cycle did: the report, each object's outcome, progress, and on-demand traces.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::scope::ScopeDecision;
use crate::client::{ClientError, Exchange};
use crate::provision::log::{Action, ErrorInformation, LogEntry, ModifiedProperty, Status};

/// What one cycle did.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct CycleReport {
    pub cycle_id: String,
    pub initial: bool,
    pub started_at: String,
    pub finished_at: String,
    pub processed: usize,
    pub created: usize,
    pub updated: usize,
    pub disabled: usize,
    pub deleted: usize,
    pub skipped: usize,
    pub failed: usize,
    /// Disables/deletes held back by the accidental-deletion threshold.
    pub held_deletions: usize,
    /// Manager and membership updates that went out.
    pub references_updated: usize,
    /// Manager and membership updates that failed (not in `failed`, which counts objects;
    /// quarantine thresholds on objects leave them out, §5.6).
    pub reference_failed: usize,
    /// Manager references left unresolved (retried next cycle).
    pub unresolved_references: usize,
    /// Failures by Entra error code.
    pub failure_codes: BTreeMap<String, usize>,
    pub duration_ms: u64,
}

impl CycleReport {
    /// Counts one processed object in exactly one outcome, so that `processed` equals
    /// created + updated + disabled + deleted + skipped + failed (held removals are
    /// skipped objects, also counted in `held_deletions`).
    pub(crate) fn count(&mut self, outcome: &Outcome) {
        self.processed += 1;
        if outcome.status == Status::Failure {
            let code = outcome.error.as_ref().map_or("Unknown", |e| e.error_code.as_str());
            *self.failure_codes.entry(code.to_string()).or_default() += 1;
        }
        match (outcome.status, outcome.action) {
            (Status::Failure, _) => self.failed += 1,
            (_, Action::StagedDelete) => {
                self.held_deletions += 1;
                self.skipped += 1;
            }
            (Status::Skipped, _) | (_, Action::Other) => self.skipped += 1,
            (_, Action::Create) => self.created += 1,
            (_, Action::Update) => self.updated += 1,
            (_, Action::Disable) => self.disabled += 1,
            (_, Action::Delete) => self.deleted += 1,
        }
    }

    /// A manager or membership update: its own counters, never an extra object.
    pub(crate) fn count_reference(&mut self, outcome: &Outcome) {
        if outcome.status == Status::Failure {
            let code = outcome.error.as_ref().map_or("Unknown", |e| e.error_code.as_str());
            *self.failure_codes.entry(code.to_string()).or_default() += 1;
            self.reference_failed += 1;
        } else {
            self.references_updated += 1;
        }
    }

    /// Objects and references that failed (both are escrowed and retried).
    pub fn all_failures(&self) -> usize {
        self.failed + self.reference_failed
    }
}

/// Receives progress during a cycle (the CLI draws a progress bar from it).
pub trait Progress: Send + Sync {
    fn start(&self, _total: usize) {}
    fn advance(&self, _label: &str) {}
    fn finish(&self) {}
}

pub struct NoProgress;
impl Progress for NoProgress {}

/// The running cycle's progress, readable from elsewhere (the status document).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CycleProgress {
    pub processed: usize,
    pub total: usize,
    pub percent: u8,
    /// Objects processed per second since the cycle started (by the engine's clock).
    pub objects_per_second: f64,
    #[serde(skip)]
    started_unix_ms: i128,
}

/// Passes progress on and keeps the running cycle's counts for the status document.
pub(crate) struct Tracked<'a> {
    pub inner: &'a dyn Progress,
    pub running: &'a std::sync::Mutex<Option<CycleProgress>>,
    pub clock: &'a dyn crate::clock::Clock,
}

impl Tracked<'_> {
    fn now_ms(&self) -> i128 {
        self.clock.now().unix_timestamp_nanos() / 1_000_000
    }

    fn update(&self, change: impl FnOnce(&mut Option<CycleProgress>)) {
        let now = self.now_ms();
        let mut running = self.running.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        change(&mut running);
        if let Some(p) = running.as_mut() {
            p.percent = (p.processed * 100).checked_div(p.total).map_or(100, |pct| pct.min(100) as u8);
            let elapsed_ms = now - p.started_unix_ms;
            if elapsed_ms > 0 {
                p.objects_per_second = p.processed as f64 * 1000.0 / elapsed_ms as f64;
            }
        }
    }
}

impl Progress for Tracked<'_> {
    fn start(&self, total: usize) {
        let started_unix_ms = self.now_ms();
        self.update(|r| *r = Some(CycleProgress { total, started_unix_ms, ..CycleProgress::default() }));
        self.inner.start(total);
    }
    fn advance(&self, label: &str) {
        self.update(|r| {
            if let Some(p) = r.as_mut() {
                p.processed += 1;
            }
        });
        self.inner.advance(label);
    }
    fn finish(&self) {
        self.update(|r| *r = None);
        self.inner.finish();
    }
}

/// One object's processing, for logs and on-demand traces.
pub(crate) struct Outcome {
    pub action: Action,
    pub status: Status,
    pub target_id: String,
    pub error: Option<ErrorInformation>,
    pub modified: Vec<ModifiedProperty>,
}

impl Outcome {
    pub fn new(action: Action, status: Status, target_id: &str) -> Self {
        Outcome { action, status, target_id: target_id.to_string(), error: None, modified: Vec::new() }
    }

    pub fn failed(action: Action, target_id: &str, e: &ClientError) -> Self {
        let mut o = Outcome::new(action, Status::Failure, target_id);
        o.error = Some(ErrorInformation { error_code: e.error_code().into(), reason: e.to_string() });
        o
    }
}

/// A single-user run (`provision on-demand`): every step, value and exchange.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OnDemandTrace {
    pub result: Status,
    pub action: Action,
    pub scope: ScopeDecision,
    pub attributes: Vec<ResolvedAttribute>,
    pub log: LogEntry,
    pub exchanges: Vec<Exchange>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResolvedAttribute {
    pub target: String,
    pub expression: Option<String>,
    pub value: Option<Value>,
    /// Why the expression failed, when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

pub(crate) fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Per-action counts for a summary line.
pub fn summary(report: &CycleReport) -> String {
    let mut parts = BTreeMap::new();
    parts.insert("created", report.created);
    parts.insert("updated", report.updated);
    parts.insert("disabled", report.disabled);
    parts.insert("deleted", report.deleted);
    parts.insert("skipped", report.skipped);
    parts.insert("failed", report.failed);
    format!(
        "{} cycle: {} objects processed — {} created, {} updated, {} disabled, {} deleted, {} skipped, {} failed{} ({} ms)",
        if report.initial { "initial" } else { "incremental" },
        report.processed,
        report.created,
        report.updated,
        report.disabled,
        report.deleted,
        report.skipped,
        report.failed,
        {
            let mut notes = String::new();
            if report.held_deletions > 0 {
                notes += &format!(", {} deletions held by the threshold", report.held_deletions);
            }
            if report.references_updated > 0 {
                notes += &format!(", {} references updated", report.references_updated);
            }
            if report.reference_failed > 0 {
                notes += &format!(", {} reference updates failed", report.reference_failed);
            }
            if report.unresolved_references > 0 {
                notes += &format!(", {} manager references unresolved (retried next cycle)", report.unresolved_references);
            }
            notes
        },
        report.duration_ms
    )
}

impl OnDemandTrace {
    /// The trace as Graph's `provisionOnDemand` answers (docs/entra-behaviour.md §5.10): one
    /// `stringKeyStringValuePair` whose `key` is `{"result", "details"}` and whose `value`
    /// is the provisioning record, both as JSON strings; scimlab's full trace rides along
    /// under `scimlab`.
    pub fn to_graph(&self) -> Value {
        let log = &self.log;
        let pascal = |v: &dyn std::fmt::Debug| format!("{v:?}");
        let details = match &log.error_information {
            Some(e) => json!({"errorCode": e.error_code, "errorMessage": e.reason}),
            None => json!({}),
        };
        let key = json!({"result": pascal(&self.result), "details": details});
        let record = json!({
            "action": pascal(&self.action),
            "changeId": log.change_id,
            "startTime": log.activity_date_time,
            "endTime": log.activity_date_time,
            "reportableIdentifier": log.source_identity.display_name,
            "modifiedProperties": log.modified_properties.iter().map(|m| json!({
                "displayName": m.display_name, "oldValue": m.old_value, "newValue": m.new_value
            })).collect::<Vec<_>>(),
            "provisioningSteps": log.provisioning_steps.iter().map(|s| json!({
                "name": s.name, "type": pascal(&s.provisioning_step_type), "status": pascal(&s.status),
                "description": s.description, "timestamp": log.activity_date_time, "details": s.details
            })).collect::<Vec<_>>(),
            "statusInfo": {
                "status": pascal(&log.status),
                "errorCode": log.error_information.as_ref().map(|e| e.error_code.clone()),
                "reason": log.error_information.as_ref().map(|e| e.reason.clone()),
            },
            "sourceIdentity": {"id": log.source_identity.id, "type": log.source_identity.identity_type,
                               "displayName": log.source_identity.display_name},
            "targetIdentity": {"id": log.target_identity.id,
                               "type": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
                               "displayName": log.target_identity.display_name},
            "sourceSystem": {"name": "Azure Active Directory"},
            "targetSystem": {"name": "customappsso"},
        });
        json!({
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#microsoft.graph.stringKeyStringValuePair",
            "key": key.to_string(),
            "value": record.to_string(),
            "scimlab": self,
        })
    }
}
