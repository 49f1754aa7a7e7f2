//! Phase 5, references: the manager of each user once both exist in the target, and
//! group memberships against the cached membership (docs/entra-behaviour.md §1.4.5, §1.5).

use std::collections::{BTreeSet, HashSet};

use serde_json::{json, Map, Value};

use super::object::ObjectRun;
use super::report::Outcome;
use super::scope;
use super::EngineError;
use crate::provision::directory::{object_id, Directory, SourceEntry};
use crate::provision::log::{Action, ErrorInformation, ModifiedProperty, Status, StepType};
use crate::provision::shape::member_operations;
use crate::provision::state::ObjectKind;
use crate::scim::ResourceKind;

impl ObjectRun<'_> {
    /// Links the enterprise manager once both users exist in the target (§1.4.5).
    ///
    /// A manager that is in scope but not provisioned yet (its create failed and was
    /// escrowed) is a reference failure: the caller keeps the user planned, so the next
    /// cycle links it once the manager exists (docs/entra-behaviour.md §5.6).
    ///
    /// Reads only the user's id and manager from the snapshot: a cycle calls this for every
    /// in-scope user, changed or not.
    pub async fn link_manager(
        &mut self,
        dir: &Directory,
        user: &SourceEntry,
        assigned_members: &HashSet<String>,
    ) -> Result<Option<Outcome>, EngineError> {
        let Some(mapping) = self.job.users.mappings.iter().find(|m| m.reference() == Some("manager")).cloned() else {
            return Ok(None);
        };
        let id = user.id().to_string();
        let Some(mut link) = self.state.link(ObjectKind::User, &id)? else { return Ok(None) };
        let manager_source = user.manager().unwrap_or("");
        let manager = user.manager().and_then(|m| dir.user(m));
        // No manager in the source (or one that is not in the directory): a set manager is cleared.
        let cleared = manager.is_none();
        let desired = match manager {
            None => None,
            Some(manager) => match self.state.link(ObjectKind::User, manager_source)? {
                Some(m) => Some(m.target_id),
                None if scope::of_user(self.job, &manager.parse()?, assigned_members).in_scope() => {
                    return Ok(Some(self.unresolved_manager(manager_source, &link.target_id)));
                }
                None => None,
            },
        };
        let exported =
            link.exported.get(&mapping.target).and_then(Value::as_str).filter(|v| !v.is_empty()).map(str::to_string);
        if desired == exported || (desired.is_none() && !(cleared && exported.is_some())) {
            return Ok(None);
        }
        let op = manager_operation(&mapping.target, exported.is_some(), desired.as_deref(), self.compliant);
        let description = match &desired {
            Some(manager_id) => format!("Resolved manager {manager_source} to {manager_id}"),
            None => "The manager was removed in the source: cleared in the target".into(),
        };
        self.step("EntryReferenceResolution", StepType::ReferenceResolution, Status::Success, description, Value::Null);
        match self.client.patch(ResourceKind::User, &link.target_id, vec![op]).await {
            Ok(()) => {
                let stored = Value::String(desired.clone().unwrap_or_default());
                link.exported.insert(mapping.target.clone(), stored);
                self.state.set_link(&id, &link)?;
                let mut o = Outcome::new(Action::Update, Status::Success, &link.target_id);
                o.modified =
                    vec![ModifiedProperty { display_name: "manager".into(), old_value: exported, new_value: desired }];
                Ok(Some(o))
            }
            Err(e) => {
                let mut o = Outcome::failed(Action::Update, &link.target_id, &e);
                if let Some(info) = &mut o.error {
                    info.error_code = "UnableToResolveReferenceAttributeValue".into();
                }
                Ok(Some(o))
            }
        }
    }

    fn unresolved_manager(&mut self, manager_source: &str, target_id: &str) -> Outcome {
        let reason = format!(
            "the manager {manager_source} is in scope but not provisioned yet (its create failed); the reference is retried next cycle"
        );
        self.step(
            "EntryReferenceResolution",
            StepType::ReferenceResolution,
            Status::Failure,
            reason.clone(),
            Value::Null,
        );
        let mut o = Outcome::new(Action::Update, Status::Failure, target_id);
        o.error = Some(ErrorInformation { error_code: "UnableToResolveReferenceAttributeValue".into(), reason });
        o
    }

    /// Brings the target group's members in line with the source, against the cached
    /// membership (§1.5): members not provisioned are skipped.
    pub async fn sync_members(
        &mut self,
        dir: &Directory,
        group: &Map<String, Value>,
    ) -> Result<Option<Outcome>, EngineError> {
        if !self.job.groups.mappings.iter().any(|m| m.reference() == Some("members")) {
            return Ok(None);
        }
        let id = object_id(group).to_string();
        let Some(mut link) = self.state.link(ObjectKind::Group, &id)? else { return Ok(None) };
        let mut desired = BTreeSet::new();
        for member in Directory::members(group) {
            let linked = match self.state.link(ObjectKind::User, &member)? {
                Some(l) if !l.disabled && dir.user(&member).is_some() => Some(l),
                Some(_) => None,
                None => self.state.link(ObjectKind::Group, &member)?,
            };
            if let Some(l) = linked {
                desired.insert(l.target_id);
            }
        }
        let cached: BTreeSet<String> = link.members.iter().cloned().collect();
        let add: Vec<String> = desired.difference(&cached).cloned().collect();
        let remove: Vec<String> = cached.difference(&desired).cloned().collect();
        if add.is_empty() && remove.is_empty() {
            return Ok(None);
        }
        let ops = member_operations(&add, &remove, self.compliant);
        match self.client.patch(ResourceKind::Group, &link.target_id, ops).await {
            Ok(()) => {
                link.members = desired.into_iter().collect();
                self.state.set_link(&id, &link)?;
                self.step(
                    "EntryExportUpdate",
                    StepType::Export,
                    Status::Success,
                    format!("Group '{}' members: {} added, {} removed", link.display, add.len(), remove.len()),
                    Value::Null,
                );
                let mut o = Outcome::new(Action::Update, Status::Success, &link.target_id);
                o.modified = vec![ModifiedProperty {
                    display_name: "members".into(),
                    old_value: (!remove.is_empty()).then(|| remove.join(",")),
                    new_value: (!add.is_empty()).then(|| add.join(",")),
                }];
                Ok(Some(o))
            }
            Err(e) => {
                let mut o = Outcome::failed(Action::Update, &link.target_id, &e);
                if let Some(info) = &mut o.error {
                    info.error_code = "UnableToResolveReferenceAttributeValue".into();
                    info.reason = format!("We were unable to assign members of {}: {e}", link.display);
                }
                Ok(Some(o))
            }
        }
    }
}

/// The manager PATCH as Entra sends it (docs/entra-behaviour.md §1.4.5): `add` with the
/// manager's id the first time, `replace` when it changes, and `replace` with an empty value
/// when the source has no manager any more. Operation names follow the dialect.
fn manager_operation(path: &str, had_manager: bool, desired: Option<&str>, compliant: bool) -> Value {
    let op = match (had_manager, compliant) {
        (false, true) => "add",
        (false, false) => "Add",
        (true, true) => "replace",
        (true, false) => "Replace",
    };
    json!({"op": op, "path": path, "value": desired.unwrap_or("")})
}
