//! Phase 4, removal: disable (out of scope: the IsSoftDeleted mappings, usually
//! `active` false) and delete (gone from the source), docs/entra-behaviour.md §5.4.

use serde_json::{json, Map, Value};

use super::object::ObjectRun;
use super::report::{text_of, Outcome};
use super::scope::SourceView;
use super::EngineError;
use crate::client::ClientError;
use crate::provision::directory::object_id;
use crate::provision::log::{Action, ModifiedProperty, Status, StepType};
use crate::provision::state::{Link, ObjectKind};
use crate::scim::ResourceKind;

impl ObjectRun<'_> {
    pub async fn disable_user(&mut self, user: &Map<String, Value>, link: &mut Link) -> Result<Outcome, EngineError> {
        let id = object_id(user).to_string();
        let view = SourceView { object: user, soft_deleted: true };
        let soft_delete_targets: Vec<String> = self
            .job
            .users
            .mappings
            .iter()
            .filter(|m| {
                m.program
                    .as_ref()
                    .is_some_and(|p| p.attributes().iter().any(|a| a.eq_ignore_ascii_case("IsSoftDeleted")))
            })
            .map(|m| m.target.clone())
            .collect();
        if soft_delete_targets.is_empty() {
            self.step(
                "EntrySynchronizationSkip",
                StepType::Processing,
                Status::Skipped,
                "No mapping uses IsSoftDeleted, so nothing is sent".into(),
                Value::Null,
            );
            return Ok(Outcome::new(Action::Other, Status::Skipped, &link.target_id));
        }
        let (values, _, _) = self.evaluate(ResourceKind::User, &view, false);
        if let Some(failed) = self.expression_failure(Action::Disable, &link.target_id) {
            return Ok(failed);
        }
        let values: Vec<(String, Value)> =
            values.into_iter().filter(|(t, _)| soft_delete_targets.contains(t)).collect();
        // One op per attribute with an explicit path, in either dialect (§1.4.4).
        let (ops, modified) = disable_operations(&values, self.compliant);
        match self.client.patch(ResourceKind::User, &link.target_id, ops).await {
            Ok(()) => {
                link.disabled = true;
                self.state.set_link(&id, link)?;
                self.step(
                    "EntryExportUpdateSoftDelete",
                    StepType::Export,
                    Status::Success,
                    format!("User '{}' was disabled in the target", link.display),
                    Value::Null,
                );
                let mut o = Outcome::new(Action::Disable, Status::Success, &link.target_id);
                o.modified = modified;
                Ok(o)
            }
            Err(ClientError::Http { status: 404, .. }) => {
                self.state.remove_link(ObjectKind::User, &id)?;
                Ok(Outcome::new(Action::Disable, Status::Skipped, &link.target_id))
            }
            Err(e) => Ok(Outcome::failed(Action::Disable, &link.target_id, &e)),
        }
    }

    /// Hard-deleted in the source: DELETE in the target when Delete is a target action.
    pub async fn process_deleted(&mut self, kind: ObjectKind, id: &str, hold: bool) -> Result<Outcome, EngineError> {
        let Some(link) = self.state.link(kind, id)? else {
            return Ok(Outcome::new(Action::Other, Status::Skipped, ""));
        };
        if link.unmanaged {
            self.step(
                "EntrySynchronizationSkip",
                StepType::Processing,
                Status::Skipped,
                format!(
                    "'{}' was unassigned and disabled, so it is no longer managed: no DELETE is sent",
                    link.display
                ),
                Value::Null,
            );
            return Ok(Outcome::new(Action::Other, Status::Skipped, &link.target_id));
        }
        let (resource, allowed) = match kind {
            ObjectKind::User => (ResourceKind::User, self.job.users.delete),
            ObjectKind::Group => (ResourceKind::Group, self.job.groups.delete),
        };
        self.step(
            "EntryImportDelete",
            StepType::Import,
            Status::Success,
            format!("{resource} '{}' was deleted in the source", link.display),
            Value::Null,
        );
        if !allowed {
            return Ok(Outcome::new(Action::Other, Status::Skipped, &link.target_id));
        }
        if hold {
            return Ok(Outcome::new(Action::StagedDelete, Status::Skipped, &link.target_id));
        }
        match self.client.delete(resource, &link.target_id).await {
            Ok(_) => {
                self.state.remove_link(kind, id)?;
                self.step(
                    "EntryExportDelete",
                    StepType::Export,
                    Status::Success,
                    format!("{resource} '{}' was deleted in the target", link.display),
                    Value::Null,
                );
                Ok(Outcome::new(Action::Delete, Status::Success, &link.target_id))
            }
            Err(e) => Ok(Outcome::failed(Action::Delete, &link.target_id, &e)),
        }
    }
}

/// The soft-delete PATCH: `{"op":"Replace","path":"active","value":"False"}` in Entra's
/// legacy dialect, `{"op":"replace","path":"active","value":false}` with aadOptscim062020.
fn disable_operations(values: &[(String, Value)], compliant: bool) -> (Vec<Value>, Vec<ModifiedProperty>) {
    let mut ops = Vec::new();
    let mut modified = Vec::new();
    for (path, value) in values {
        let sent = match (value, compliant) {
            (Value::Bool(b), false) => Value::String(if *b { "True" } else { "False" }.into()),
            (other, _) => other.clone(),
        };
        ops.push(json!({"op": if compliant { "replace" } else { "Replace" }, "path": path, "value": sent}));
        modified.push(ModifiedProperty {
            display_name: path.clone(),
            old_value: None,
            new_value: Some(text_of(value)),
        });
    }
    (ops, modified)
}
