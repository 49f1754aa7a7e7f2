//! The processing of one object: its steps, the attribute values its mappings produce,
//! the lookup of a matching target object, and the provisioning log record it leaves.

use std::sync::Mutex;
use std::time::Instant;

use rand::rngs::StdRng;
use rand::Rng;
use serde_json::{json, Map, Value};

use super::report::{Outcome, ResolvedAttribute};
use super::scope::SourceView;
use super::EngineError;
use crate::client::ScimClient;
use crate::clock::{rfc3339, Clock};
use crate::filter::{parse_filter, FilterLimits};
use crate::provision::directory::{display_name, object_id};
use crate::provision::expr::{EvalContext, Val};
use crate::provision::job::{CompiledObject, FlowType, Job};
use crate::provision::log::{Action, ErrorInformation, Identity, LogEntry, Status, Step, StepType};
use crate::provision::shape::to_json;
use crate::provision::state::{JobState, ObjectKind};
use crate::scim::{ResourceKind, ResourceType};

/// The processing of one object: the engine's shared parts, borrowed, and the object's own
/// steps. Objects are processed concurrently (bounded by `options.concurrency`), each in
/// its own run.
pub(crate) struct ObjectRun<'a> {
    pub job: &'a Job,
    pub client: &'a ScimClient,
    pub state: &'a JobState,
    pub clock: &'a dyn Clock,
    pub rng: &'a Mutex<StdRng>,
    pub users_rt: &'a ResourceType,
    pub groups_rt: &'a ResourceType,
    pub compliant: bool,
    pub cycle_id: &'a str,
    pub steps: Vec<Step>,
    /// When the object's first step was recorded (its log duration).
    pub object_started: Option<Instant>,
    /// Values produced by `Redact()`: scrubbed from logs, steps and traces.
    pub secrets: Vec<String>,
    /// Mappings whose expression failed in the last evaluation.
    pub expression_errors: Vec<String>,
}

pub(crate) fn random_id(rng: &Mutex<StdRng>) -> String {
    let bytes: [u8; 16] = rng.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).gen();
    uuid::Builder::from_random_bytes(bytes).into_uuid().to_string()
}

impl ObjectRun<'_> {
    fn new_id(&self) -> String {
        random_id(self.rng)
    }

    pub fn step(&mut self, name: &str, kind: StepType, status: Status, description: String, details: Value) {
        if self.steps.is_empty() {
            self.object_started = Some(Instant::now());
        }
        self.steps.push(Step { name: name.into(), provisioning_step_type: kind, status, description, details });
    }

    /// Evaluates the mappings of `object` (references excluded): target path → JSON value,
    /// in mapping order. `creating` applies ObjectAddOnly mappings and default values.
    pub fn evaluate(
        &mut self,
        kind: ResourceKind,
        view: &SourceView<'_>,
        creating: bool,
    ) -> (Vec<(String, Value)>, Vec<ResolvedAttribute>, bool) {
        let (object, rt) = match kind {
            ResourceKind::User => (&self.job.users, &self.users_rt),
            ResourceKind::Group => (&self.job.groups, &self.groups_rt),
        };
        let mut values = Vec::new();
        let mut resolved = Vec::new();
        let mut redacted = false;
        let now = self.clock.now();
        let domain = self.job.spec.options.default_domain.clone();
        for m in &object.mappings {
            if m.reference().is_some() || (m.flow_type == FlowType::ObjectAddOnly && !creating) {
                continue;
            }
            let mut rng = self.rng.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let mut ctx =
                EvalContext { source: view, now, rng: &mut rng, default_domain: &domain, taken: None, redacted: false };
            // An expression that fails is the object's failure, never a silent null.
            let (value, error) = match &m.program {
                Some(p) => match p.evaluate(&mut ctx) {
                    Ok(v) => (v, None),
                    Err(e) => (Val::Null, Some(format!("the mapping of '{}' ({}) failed: {e}", m.target, p.text()))),
                },
                None => (Val::Null, None),
            };
            if let Some(e) = &error {
                self.expression_errors.push(e.clone());
            }
            redacted |= ctx.redacted;
            let value_redacted = ctx.redacted;
            let value = match (value, creating, &m.default_value) {
                (Val::Null, true, Some(d)) => Val::Str(d.clone()),
                (v, _, _) => v,
            };
            let json = to_json(rt, &m.target, &value);
            if value_redacted {
                if let Some(v) = &json {
                    self.secrets.push(super::report::text_of(v));
                }
            }
            resolved.push(ResolvedAttribute {
                target: m.target.clone(),
                error,
                expression: m.program.as_ref().map(|p| p.text().to_string()),
                value: if value_redacted { json.as_ref().map(|_| json!("[Redact]")) } else { json.clone() },
            });
            // Null values are never provisioned (§2.3).
            if let Some(v) = json {
                values.push((m.target.clone(), v));
            }
        }
        (values, resolved, redacted)
    }

    /// The lookup filter for a matching attribute, written as Entra writes it: for a
    /// filtered path that is `emails[type eq "work"].value eq "x"` (not the RFC's
    /// `emails[type eq "work" and value eq "x"]`; docs/entra-behaviour.md §1.4.1). `None` when
    /// it would not parse.
    fn match_filter(&self, target: &str, value: &Value) -> Option<String> {
        let text = format!("{target} eq {value}");
        parse_filter(&text, FilterLimits::default()).ok().map(|_| text)
    }

    /// Looks the object up by its matching attributes in precedence order (§2.2).
    pub async fn find_match(
        &mut self,
        kind: ResourceKind,
        object: &CompiledObject,
        values: &[(String, Value)],
    ) -> Result<Option<Value>, Outcome> {
        let mut any_value = false;
        for m in object.matching() {
            let Some((_, value)) = values.iter().find(|(t, _)| t == &m.target) else { continue };
            any_value = true;
            let Some(filter) = self.match_filter(&m.target, value) else { continue };
            match self.client.find(kind, &filter).await {
                Ok(found) if found.is_empty() => {
                    self.step(
                        "EntryImport",
                        StepType::Matching,
                        Status::Success,
                        format!("No {kind} with {filter} found in the target"),
                        Value::Null,
                    );
                }
                Ok(found) if found.len() == 1 => {
                    let candidate = found.into_iter().next().unwrap_or(Value::Null);
                    self.step(
                        "EntryImport",
                        StepType::Matching,
                        Status::Success,
                        format!("Matched {kind} with {filter}"),
                        json!({"id": candidate.get("id")}),
                    );
                    return Ok(Some(candidate));
                }
                Ok(found) => {
                    let mut o = Outcome::new(Action::Other, Status::Failure, "");
                    o.error = Some(ErrorInformation {
                        error_code: "DuplicateTargetEntries".into(),
                        reason: format!(
                            "{} {kind}s in the target match {filter}; matching needs exactly one",
                            found.len()
                        ),
                    });
                    return Err(o);
                }
                Err(e) => return Err(Outcome::failed(Action::Other, "", &e)),
            }
        }
        if !any_value {
            let mut o = Outcome::new(Action::Other, Status::Skipped, "");
            o.error = Some(ErrorInformation {
                error_code: "ImportSkipped".into(),
                reason: "the object has no value for any matching attribute".into(),
            });
            return Err(o);
        }
        Ok(None)
    }

    /// The failure of an object whose mappings did not evaluate (docs/entra-behaviour.md
    /// §3): logged with every failed mapping, its expression and the error's position.
    pub fn expression_failure(&mut self, action: Action, target_id: &str) -> Option<Outcome> {
        if self.expression_errors.is_empty() {
            return None;
        }
        let reason = std::mem::take(&mut self.expression_errors).join("; ");
        self.step("EntrySynchronizationError", StepType::Processing, Status::Failure, reason.clone(), Value::Null);
        let mut o = Outcome::new(action, Status::Failure, target_id);
        o.error = Some(ErrorInformation { error_code: "ExpressionEvaluationFailed".into(), reason });
        Some(o)
    }

    /// Replaces every `Redact()` value in `text` with `[Redact]`.
    pub fn scrub(&self, text: &str) -> String {
        self.secrets.iter().filter(|s| !s.is_empty()).fold(text.to_string(), |t, s| t.replace(s.as_str(), "[Redact]"))
    }

    /// The same for a JSON value (every string in it).
    pub fn scrub_json(&self, value: &mut Value) {
        match value {
            Value::String(s) => *s = self.scrub(s),
            Value::Array(items) => items.iter_mut().for_each(|v| self.scrub_json(v)),
            Value::Object(map) => map.values_mut().for_each(|v| self.scrub_json(v)),
            _ => {}
        }
    }

    /// A log record without any `Redact()` value in it.
    fn scrubbed(&self, mut entry: LogEntry) -> LogEntry {
        if self.secrets.is_empty() {
            return entry;
        }
        for m in &mut entry.modified_properties {
            m.old_value = m.old_value.as_deref().map(|v| self.scrub(v));
            m.new_value = m.new_value.as_deref().map(|v| self.scrub(v));
        }
        for step in &mut entry.provisioning_steps {
            step.description = self.scrub(&step.description);
            self.scrub_json(&mut step.details);
        }
        if let Some(e) = &mut entry.error_information {
            e.reason = self.scrub(&e.reason);
        }
        entry
    }

    pub fn log(
        &mut self,
        kind: ObjectKind,
        object: &Map<String, Value>,
        outcome: Outcome,
    ) -> Result<LogEntry, EngineError> {
        let identity_type = match kind {
            ObjectKind::User => "User",
            ObjectKind::Group => "Group",
        };
        let entry = LogEntry {
            id: self.new_id(),
            activity_date_time: rfc3339(self.clock.now()),
            job_id: self.job.spec.name.clone(),
            cycle_id: self.cycle_id.to_string(),
            change_id: self.new_id(),
            provisioning_action: outcome.action,
            status: outcome.status,
            duration_in_milliseconds: self
                .object_started
                .take()
                .map(|t| t.elapsed().as_millis() as u64)
                .unwrap_or_default(),
            source_identity: Identity {
                id: object_id(object).into(),
                display_name: display_name(object),
                identity_type: identity_type.into(),
            },
            target_identity: Identity {
                id: outcome.target_id,
                display_name: display_name(object),
                identity_type: identity_type.into(),
            },
            error_information: outcome.error,
            provisioning_steps: std::mem::take(&mut self.steps),
            modified_properties: outcome.modified,
        };
        let entry = self.scrubbed(entry);
        self.state.append_log(&entry)?;
        Ok(entry)
    }
}
