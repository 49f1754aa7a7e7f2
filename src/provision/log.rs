//! Provisioning log records (docs/entra-behaviour.md §6.1): one per object per action.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Action {
    Create,
    Update,
    Delete,
    Disable,
    StagedDelete,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Status {
    Success,
    Failure,
    Skipped,
    Warning,
}

impl Status {
    pub fn parse(s: &str) -> Option<Status> {
        match s.to_ascii_lowercase().as_str() {
            "success" => Some(Status::Success),
            "failure" => Some(Status::Failure),
            "skipped" => Some(Status::Skipped),
            "warning" => Some(Status::Warning),
            _ => None,
        }
    }

    /// An optional `status` filter of log queries (CLI and admin API).
    pub fn parse_filter(s: Option<&str>) -> Result<Option<Status>, String> {
        s.map(|s| {
            Status::parse(s).ok_or_else(|| format!("status must be success, failure, skipped or warning, not '{s}'"))
        })
        .transpose()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum StepType {
    Import,
    Scoping,
    Matching,
    Processing,
    ReferenceResolution,
    Export,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Step {
    pub name: String,
    pub provisioning_step_type: StepType,
    pub status: Status,
    pub description: String,
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub details: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModifiedProperty {
    pub display_name: String,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Identity {
    pub id: String,
    pub display_name: String,
    pub identity_type: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorInformation {
    pub error_code: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogEntry {
    pub id: String,
    pub activity_date_time: String,
    pub job_id: String,
    pub cycle_id: String,
    pub change_id: String,
    pub provisioning_action: Action,
    pub status: Status,
    pub duration_in_milliseconds: u64,
    pub source_identity: Identity,
    pub target_identity: Identity,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_information: Option<ErrorInformation>,
    pub provisioning_steps: Vec<Step>,
    pub modified_properties: Vec<ModifiedProperty>,
}

/// CSV with one row per record (steps and properties folded into columns).
pub fn to_csv(entries: &[LogEntry]) -> Result<String, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "activityDateTime",
        "jobId",
        "cycleId",
        "changeId",
        "action",
        "status",
        "durationMs",
        "sourceId",
        "sourceDisplayName",
        "targetId",
        "identityType",
        "errorCode",
        "errorReason",
        "modifiedProperties",
        "steps",
    ])?;
    for e in entries {
        let props: Vec<String> = e
            .modified_properties
            .iter()
            .map(|p| {
                format!(
                    "{}: {} -> {}",
                    p.display_name,
                    p.old_value.as_deref().unwrap_or(""),
                    p.new_value.as_deref().unwrap_or("")
                )
            })
            .collect();
        let steps: Vec<String> = e.provisioning_steps.iter().map(|s| format!("{} ({:?})", s.name, s.status)).collect();
        let action = serde_json::to_value(e.provisioning_action)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let status =
            serde_json::to_value(e.status).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
        w.write_record([
            e.activity_date_time.as_str(),
            &e.job_id,
            &e.cycle_id,
            &e.change_id,
            &action,
            &status,
            &e.duration_in_milliseconds.to_string(),
            &e.source_identity.id,
            &e.source_identity.display_name,
            &e.target_identity.id,
            &e.source_identity.identity_type,
            e.error_information.as_ref().map(|i| i.error_code.as_str()).unwrap_or(""),
            e.error_information.as_ref().map(|i| i.reason.as_str()).unwrap_or(""),
            &props.join("; "),
            &steps.join("; "),
        ])?;
    }
    let bytes = w.into_inner().map_err(|e| e.into_error())?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// What to do about an error code, as the portal's log details suggest it.
fn recommended_action(code: &str) -> &'static str {
    match code {
        "Unauthorized" | "InsufficientRights" => "Check the target's credentials (the secret token or OAuth client) and test the connection.",
        "SystemForCrossDomainIdentityManagementBadRequest" => "The target refused the request; the reason holds its SCIM error detail. Fix the mapped value or the target's validation.",
        "EntryConflict" => "An object with the same unique attribute exists in the target but was not matched; check the matching attributes.",
        "DuplicateTargetEntries" => "Several target objects match; make the matching attribute unique in the target.",
        "InvalidAnchor" => "The linked target object is gone; the next cycle matches the object again.",
        "UnableToResolveReferenceAttributeValue" => "The referenced object (manager or member) is not provisioned yet; it is retried on the next cycle.",
        "ExpressionEvaluationFailed" => "Fix the attribute mapping's expression named in the reason; try it with `scimlab provision expr`.",
        "SystemForCrossDomainIdentityManagementServiceIncompatible" => "The target does not answer as a SCIM endpoint; check the tenant URL and run `scimlab validate` against it.",
        "SslConnectionError" => "The target's certificate is not trusted; set target.caCert or fix the certificate.",
        "TooManyRequests" | "Timeout" | "InternalServerError" | "WebExceptionProtocolError" => "A transient failure; the object is retried on the next cycle.",
        _ => "See the reason; the object is retried on the next cycle.",
    }
}

impl LogEntry {
    /// The record in Graph's `provisioningObjectSummary` shape (docs/entra-behaviour.md §6.1):
    /// status and error under `provisioningStatusInfo` with an error category and a
    /// recommended action, and the systems and initiator of the record.
    pub fn to_graph(&self) -> serde_json::Value {
        let pascal = |v: &dyn std::fmt::Debug| format!("{v:?}");
        let error = self.error_information.as_ref().map(|e| {
            let transient = matches!(
                e.error_code.as_str(),
                "TooManyRequests"
                    | "Timeout"
                    | "InternalServerError"
                    | "WebExceptionProtocolError"
                    | "UnableToResolveReferenceAttributeValue"
            );
            serde_json::json!({
                "errorCode": e.error_code,
                "reason": e.reason,
                "errorCategory": if transient { "Transient" } else { "NonServiceFailure" },
                "additionalDetails": serde_json::Value::Null,
                "recommendedAction": recommended_action(&e.error_code),
            })
        });
        let identity = |i: &Identity| serde_json::json!({"id": i.id, "displayName": i.display_name, "identityType": i.identity_type, "details": {}});
        serde_json::json!({
            "id": self.id,
            "activityDateTime": self.activity_date_time,
            "tenantId": "scimlab",
            "jobId": self.job_id,
            "cycleId": self.cycle_id,
            "changeId": self.change_id,
            "provisioningAction": self.provisioning_action,
            "durationInMilliseconds": self.duration_in_milliseconds,
            "provisioningStatusInfo": {"status": self.status, "errorInformation": error},
            "initiatedBy": {"id": "", "displayName": "Azure AD Provisioning Service", "initiatorType": "system"},
            "servicePrincipal": {"id": self.job_id, "displayName": self.job_id},
            "sourceSystem": {"id": "", "displayName": "Azure Active Directory", "details": {}},
            "targetSystem": {"id": "", "displayName": "customappsso", "details": {}},
            "sourceIdentity": identity(&self.source_identity),
            "targetIdentity": identity(&self.target_identity),
            "modifiedProperties": self.modified_properties,
            "provisioningSteps": self.provisioning_steps.iter().map(|s| serde_json::json!({
                "name": s.name,
                "provisioningStepType": pascal(&s.provisioning_step_type).to_lowercase(),
                "status": s.status,
                "description": s.description,
                "details": s.details,
            })).collect::<Vec<_>>(),
        })
    }
}

/// The steps of every record, one row each, joined to the summary by `changeId` (the
/// portal's download comes as the summary, its steps and its modified properties).
pub fn steps_csv(entries: &[LogEntry]) -> Result<String, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["changeId", "stepNumber", "name", "provisioningStepType", "status", "description"])?;
    for e in entries {
        for (i, s) in e.provisioning_steps.iter().enumerate() {
            let kind = format!("{:?}", s.provisioning_step_type);
            let status = format!("{:?}", s.status);
            w.write_record([e.change_id.as_str(), &(i + 1).to_string(), &s.name, &kind, &status, &s.description])?;
        }
    }
    csv_text(w)
}

/// The modified properties of every record, one row each, joined by `changeId`.
pub fn modified_properties_csv(entries: &[LogEntry]) -> Result<String, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["changeId", "displayName", "oldValue", "newValue"])?;
    for e in entries {
        for p in &e.modified_properties {
            let (old, new) = (p.old_value.as_deref().unwrap_or(""), p.new_value.as_deref().unwrap_or(""));
            w.write_record([e.change_id.as_str(), &p.display_name, old, new])?;
        }
    }
    csv_text(w)
}

fn csv_text(w: csv::Writer<Vec<u8>>) -> Result<String, csv::Error> {
    let bytes = w.into_inner().map_err(|e| csv::Error::from(std::io::Error::other(e.to_string())))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}
