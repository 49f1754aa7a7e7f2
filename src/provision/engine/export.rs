//! Phase 4, export: create (after a lookup by the matching attributes), adopt a matched
//! object, update what differs (docs/entra-behaviour.md §1.4, §5.3).

use serde_json::{json, Map, Value};

use super::object::ObjectRun;
use super::report::{text_of, Outcome};
use super::scope::{ScopeDecision, SourceView};
use super::EngineError;
use crate::provision::directory::{display_name, object_id};
use crate::provision::log::{Action, ErrorInformation, ModifiedProperty, Status, StepType};
use crate::provision::shape::{create_body, patch_operations};
use crate::provision::state::{Link, ObjectKind};
use crate::scim::ResourceKind;

impl ObjectRun<'_> {
    pub async fn process_user(
        &mut self,
        user: &Map<String, Value>,
        scope: &ScopeDecision,
        hold_deletions: bool,
    ) -> Result<Outcome, EngineError> {
        let id = object_id(user).to_string();
        let name = display_name(user);
        self.step(
            "EntryImport",
            StepType::Import,
            Status::Success,
            format!("Retrieved User '{name}' from the source directory"),
            Value::Null,
        );
        self.step(
            "EntrySynchronizationScoping",
            StepType::Scoping,
            if scope.in_scope() { Status::Success } else { Status::Skipped },
            format!(
                "Active: {}, assigned: {}, passes scoping filters: {}",
                scope.active, scope.assigned, scope.passes_scoping_filters
            ),
            serde_json::to_value(scope).unwrap_or(Value::Null),
        );
        let link = self.state.link(ObjectKind::User, &id)?;
        let Some(mut link) = link else {
            if !scope.in_scope() {
                let mut o = Outcome::new(Action::Other, Status::Skipped, "");
                o.error = Some(ErrorInformation {
                    error_code: "EntrySynchronizationSkipped".into(),
                    reason: format!(
                        "User '{name}' is not in scope (active: {}, assigned: {}, scoping filters: {})",
                        scope.active, scope.assigned, scope.passes_scoping_filters
                    ),
                });
                return Ok(o);
            }
            return self.create_or_match(ResourceKind::User, user).await;
        };
        if !scope.in_scope() {
            if link.disabled {
                return Ok(Outcome::new(Action::Other, Status::Skipped, &link.target_id));
            }
            if self.job.spec.options.skip_out_of_scope_deletions {
                self.step(
                    "EntrySynchronizationSkip",
                    StepType::Processing,
                    Status::Skipped,
                    "SkipOutOfScopeDeletions is on: the account is left alone".into(),
                    Value::Null,
                );
                return Ok(Outcome::new(Action::Other, Status::Skipped, &link.target_id));
            }
            if hold_deletions {
                self.step(
                    "EntryExportUpdateSoftDelete",
                    StepType::Export,
                    Status::Skipped,
                    "Held by the accidental-deletion threshold".into(),
                    Value::Null,
                );
                return Ok(Outcome::new(Action::StagedDelete, Status::Skipped, &link.target_id));
            }
            link.unmanaged = !scope.assigned;
            return self.disable_user(user, &mut link).await;
        }
        // In scope and linked: read the target, then patch what differs.
        let current = match self.client.get(ResourceKind::User, &link.target_id).await {
            Ok(Some(c)) => c,
            Ok(None) => {
                self.state.remove_link(ObjectKind::User, &id)?;
                let mut o = Outcome::new(Action::Update, Status::Failure, &link.target_id);
                o.error = Some(ErrorInformation {
                    error_code: "InvalidAnchor".into(),
                    reason: format!("the linked target user {} no longer exists; the link was dropped and the next cycle matches again", link.target_id),
                });
                return Ok(o);
            }
            Err(e) => return Ok(Outcome::failed(Action::Update, &link.target_id, &e)),
        };
        let view = SourceView { object: user, soft_deleted: false };
        let (values, _, _) = self.evaluate(ResourceKind::User, &view, false);
        if let Some(failed) = self.expression_failure(Action::Update, &link.target_id) {
            return Ok(failed);
        }
        self.update(ResourceKind::User, &id, &mut link, &values, &current).await
    }

    pub async fn update(
        &mut self,
        kind: ResourceKind,
        source_id: &str,
        link: &mut Link,
        values: &[(String, Value)],
        current: &Value,
    ) -> Result<Outcome, EngineError> {
        let legacy_roles = kind == ResourceKind::User && !self.compliant && self.job.users.legacy_role_mapping();
        let (ops, modified) = if legacy_roles {
            legacy_role_patch(values, current)
        } else {
            patch_operations(values, current, self.compliant)
        };
        let (was_disabled, was_unmanaged) = (link.disabled, link.unmanaged);
        link.disabled = false;
        link.unmanaged = false;
        // Merge: references (manager) cached by the reference pass stay.
        for (k, v) in values {
            link.exported.insert(k.clone(), v.clone());
        }
        if ops.is_empty() {
            self.state.set_link(source_id, link)?;
            self.step(
                "EntrySynchronizationSkip",
                StepType::Export,
                Status::Skipped,
                format!("The state of the {kind} in both the source and target systems already match"),
                json!({"SkipReason": "RedundantExport"}),
            );
            return Ok(Outcome::new(Action::Other, Status::Skipped, &link.target_id));
        }
        let objects = match kind {
            ResourceKind::User => &self.job.users,
            ResourceKind::Group => &self.job.groups,
        };
        if !objects.update {
            return Ok(Outcome::new(Action::Other, Status::Skipped, &link.target_id));
        }
        match self.client.patch(kind, &link.target_id, ops).await {
            Ok(()) => {
                self.state.set_link(source_id, link)?;
                self.step(
                    "EntryExportUpdate",
                    StepType::Export,
                    Status::Success,
                    format!("{kind} '{}' was updated in the target", link.display),
                    Value::Null,
                );
                let mut o = Outcome::new(Action::Update, Status::Success, &link.target_id);
                o.modified = modified;
                Ok(o)
            }
            Err(e) => {
                link.disabled = was_disabled;
                link.unmanaged = was_unmanaged;
                self.step("EntryExportUpdate", StepType::Export, Status::Failure, e.to_string(), Value::Null);
                Ok(Outcome::failed(Action::Update, &link.target_id, &e))
            }
        }
    }

    pub async fn create_or_match(
        &mut self,
        kind: ResourceKind,
        object: &Map<String, Value>,
    ) -> Result<Outcome, EngineError> {
        let id = object_id(object).to_string();
        let name = display_name(object);
        let view = SourceView { object, soft_deleted: false };
        let (mut values, _, _) = self.evaluate(kind, &view, true);
        if let Some(failed) = self.expression_failure(Action::Create, "") {
            return Ok(failed);
        }
        let job = self.job;
        let objects = match kind {
            ResourceKind::User => &job.users,
            ResourceKind::Group => &job.groups,
        };
        let object_kind = if kind == ResourceKind::User { ObjectKind::User } else { ObjectKind::Group };
        match self.find_match(kind, objects, &values).await {
            Err(outcome) => Ok(outcome),
            Ok(Some(existing)) => self.adopt(kind, object, &existing).await,
            Ok(None) => {
                if !objects.add {
                    self.step(
                        "EntrySynchronizationSkip",
                        StepType::Processing,
                        Status::Skipped,
                        "Create is not among the target object actions".into(),
                        Value::Null,
                    );
                    return Ok(Outcome::new(Action::Other, Status::Skipped, ""));
                }
                self.step(
                    "EntrySynchronizationAdd",
                    StepType::Processing,
                    Status::Success,
                    format!("{kind} '{name}' will be created in the target ({kind} is active and assigned, but no matching {kind} was found)"),
                    Value::Null,
                );
                if kind == ResourceKind::User {
                    if let Some(manager) = self.provisioned_manager(object)? {
                        values.push(manager);
                    }
                }
                let body = create_body(kind, &values);
                match self.client.create(kind, &body).await {
                    Ok(created) => {
                        let target_id = created.get("id").and_then(Value::as_str).unwrap_or("").to_string();
                        let link = Link {
                            kind: object_kind,
                            target_id: target_id.clone(),
                            display: name.clone(),
                            exported: values.iter().cloned().collect(),
                            members: Vec::new(),
                            disabled: false,
                            created: true,
                            unmanaged: false,
                        };
                        self.state.set_link(&id, &link)?;
                        self.step(
                            "EntryExportAdd",
                            StepType::Export,
                            Status::Success,
                            format!("{kind} '{name}' was created in the target"),
                            json!({"ReportableIdentifier": name}),
                        );
                        let mut o = Outcome::new(Action::Create, Status::Success, &target_id);
                        o.modified = values
                            .iter()
                            .map(|(k, v)| ModifiedProperty {
                                display_name: k.clone(),
                                old_value: None,
                                new_value: Some(text_of(v)),
                            })
                            .collect();
                        Ok(o)
                    }
                    Err(e) => {
                        self.step(
                            "EntryExportAdd",
                            StepType::Export,
                            Status::Failure,
                            format!("Failed to create {kind} '{name}' in the target: {e}"),
                            Value::Null,
                        );
                        if e.status() == Some(409) {
                            // Created meanwhile (or by an earlier attempt whose answer was lost):
                            // match again rather than ever creating a duplicate.
                            if let Ok(Some(existing)) = self.find_match(kind, objects, &values).await {
                                return self.adopt(kind, object, &existing).await;
                            }
                        }
                        Ok(Outcome::failed(Action::Create, "", &e))
                    }
                }
            }
        }
    }

    /// Links a matched target object and brings it up to date.
    pub async fn adopt(
        &mut self,
        kind: ResourceKind,
        object: &Map<String, Value>,
        existing: &Value,
    ) -> Result<Outcome, EngineError> {
        let id = object_id(object).to_string();
        let mut link = Link {
            kind: if kind == ResourceKind::User { ObjectKind::User } else { ObjectKind::Group },
            target_id: existing.get("id").and_then(Value::as_str).unwrap_or("").to_string(),
            display: display_name(object),
            exported: Map::new(),
            members: Vec::new(),
            disabled: false,
            created: false,
            unmanaged: false,
        };
        self.state.set_link(&id, &link)?;
        let view = SourceView { object, soft_deleted: false };
        let (update_values, _, _) = self.evaluate(kind, &view, false);
        if let Some(failed) = self.expression_failure(Action::Update, &link.target_id) {
            return Ok(failed);
        }
        self.update(kind, &id, &mut link, &update_values, existing).await
    }

    /// The manager reference for a create body, when the manager already exists in the
    /// target; otherwise it is linked by a later PATCH (§1.4.3).
    pub fn provisioned_manager(&self, user: &Map<String, Value>) -> Result<Option<(String, Value)>, EngineError> {
        let Some(mapping) = self.job.users.mappings.iter().find(|m| m.reference() == Some("manager")) else {
            return Ok(None);
        };
        let manager = user.get("manager").and_then(Value::as_str).unwrap_or("");
        if manager.is_empty() {
            return Ok(None);
        }
        Ok(self
            .state
            .link(ObjectKind::User, manager)?
            .map(|link| (mapping.target.clone(), Value::String(link.target_id))))
    }

    pub async fn process_group(
        &mut self,
        group: &Map<String, Value>,
        scope: &ScopeDecision,
        hold_deletions: bool,
    ) -> Result<Outcome, EngineError> {
        let id = object_id(group).to_string();
        let name = display_name(group);
        self.step(
            "EntryImport",
            StepType::Import,
            Status::Success,
            format!("Retrieved Group '{name}' from the source directory"),
            Value::Null,
        );
        let link = self.state.link(ObjectKind::Group, &id)?;
        match (link, scope.in_scope()) {
            (None, false) => Ok(Outcome::new(Action::Other, Status::Skipped, "")),
            (None, true) => self.create_or_match(ResourceKind::Group, group).await,
            (Some(_), false) => self.process_deleted(ObjectKind::Group, &id, hold_deletions).await,
            (Some(mut link), true) => {
                let current = match self.client.get(ResourceKind::Group, &link.target_id).await {
                    Ok(Some(c)) => c,
                    Ok(None) => {
                        self.state.remove_link(ObjectKind::Group, &id)?;
                        let mut o = Outcome::new(Action::Update, Status::Failure, &link.target_id);
                        o.error = Some(ErrorInformation {
                            error_code: "InvalidAnchor".into(),
                            reason: "the linked target group no longer exists".into(),
                        });
                        return Ok(o);
                    }
                    Err(e) => return Ok(Outcome::failed(Action::Update, &link.target_id, &e)),
                };
                let view = SourceView { object: group, soft_deleted: false };
                let (values, _, _) = self.evaluate(ResourceKind::Group, &view, false);
                if let Some(failed) = self.expression_failure(Action::Update, &link.target_id) {
                    return Ok(failed);
                }
                let members = link.members.clone();
                let outcome = self.update(ResourceKind::Group, &id, &mut link, &values, &current).await?;
                link.members = members;
                Ok(outcome)
            }
        }
    }
}

/// The legacy dialect's role update (docs/entra-behaviour.md §1.4.6): roles from
/// `AppRoleAssignmentsComplex` or `SingleAppRoleAssignment` are only ever added, each as a
/// JSON *string* `{"id":…,"value":…,"displayName":…}` in `value`; every other attribute goes
/// out as usual.
fn legacy_role_patch(values: &[(String, Value)], current: &Value) -> (Vec<Value>, Vec<ModifiedProperty>) {
    let (roles, others): (Vec<_>, Vec<_>) = values.iter().cloned().partition(|(path, _)| path == "roles");
    let (mut ops, mut modified) = patch_operations(&others, current, false);
    let present: Vec<&str> = current
        .get("roles")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| r.get("value").and_then(Value::as_str))
        .collect();
    let wanted = roles.iter().flat_map(|(_, v)| v.as_array().cloned().unwrap_or_else(|| vec![v.clone()]));
    let added: Vec<(String, String)> = wanted
        .filter_map(|r| r.get("value").and_then(Value::as_str).map(str::to_string))
        .filter(|value| !present.iter().any(|p| p == value || p.contains(&format!("\"value\":\"{value}\""))))
        .map(|value| {
            let id = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, value.as_bytes()).to_string();
            let text = json!({"id": id, "value": value, "displayName": value}).to_string();
            (value, text)
        })
        .collect();
    if !added.is_empty() {
        let entries: Vec<Value> = added.iter().map(|(_, text)| json!({"value": text})).collect();
        ops.push(json!({"op": "Add", "path": "roles", "value": entries}));
        modified.push(ModifiedProperty {
            display_name: "roles".into(),
            old_value: None,
            new_value: Some(added.iter().map(|(v, _)| v.as_str()).collect::<Vec<_>>().join(",")),
        });
    }
    (ops, modified)
}
