//! Phase 2: is an object in scope? Active, assigned (or sync all), and passing the
//! scoping filters (docs/entra-behaviour.md §4).

use std::collections::HashSet;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::provision::directory::{object_id, Directory, DirectoryError};
use crate::provision::expr::{SourceObject, Val};
use crate::provision::job::{Job, ScopeMode};
use crate::provision::scoping::{in_scope, ClauseResult};

/// A source object with Entra's computed attributes (`IsSoftDeleted`) overlaid.
pub(crate) struct SourceView<'a> {
    pub object: &'a Map<String, Value>,
    pub soft_deleted: bool,
}

impl SourceObject for SourceView<'_> {
    fn attribute(&self, name: &str) -> Val {
        if name.eq_ignore_ascii_case("IsSoftDeleted") {
            return Val::bool(self.soft_deleted);
        }
        self.object.attribute(name)
    }
}

/// The scope decision for one object, with its reasons (on-demand step 3).
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ScopeDecision {
    pub active: bool,
    pub assigned: bool,
    pub scope_sync_all: bool,
    pub passes_scoping_filters: bool,
    pub clauses: Vec<ClauseResult>,
}

impl ScopeDecision {
    pub fn in_scope(&self) -> bool {
        self.active && self.assigned && self.passes_scoping_filters
    }
}

/// Direct members of the groups assigned to the app (assignment includes members, §4.1).
pub fn members_of_assigned_groups(job: &Job, dir: &Directory) -> Result<HashSet<String>, DirectoryError> {
    let mut members = HashSet::new();
    for key in &job.spec.assignments.groups {
        if let Some(group) = dir.find_group(key)? {
            members.extend(Directory::members(&group));
        }
    }
    Ok(members)
}

pub fn of_user(job: &Job, user: &Map<String, Value>, members_of_assigned_groups: &HashSet<String>) -> ScopeDecision {
    let id = object_id(user);
    let active = user.get("accountEnabled").and_then(Value::as_bool).unwrap_or(true)
        && !user.get("softDeleted").and_then(Value::as_bool).unwrap_or(false);
    let sync_all = job.spec.scope == ScopeMode::All;
    let assigned = sync_all || {
        let a = &job.spec.assignments;
        let upn = user.get("userPrincipalName").and_then(Value::as_str).unwrap_or("");
        a.users.iter().any(|u| u == id || u.eq_ignore_ascii_case(upn)) || members_of_assigned_groups.contains(id)
    };
    let mut clauses = Vec::new();
    let view = SourceView { object: user, soft_deleted: false };
    let passes = in_scope(&job.users.scope, &view, &mut clauses);
    ScopeDecision { active, assigned, scope_sync_all: sync_all, passes_scoping_filters: passes, clauses }
}

pub fn of_group(job: &Job, group: &Map<String, Value>) -> ScopeDecision {
    let sync_all = job.spec.scope == ScopeMode::All;
    let id = object_id(group);
    let name = group.get("displayName").and_then(Value::as_str).unwrap_or("");
    let assigned = sync_all || job.spec.assignments.groups.iter().any(|g| g == id || g.eq_ignore_ascii_case(name));
    let mut clauses = Vec::new();
    let view = SourceView { object: group, soft_deleted: false };
    let passes = in_scope(&job.groups.scope, &view, &mut clauses);
    ScopeDecision { active: true, assigned, scope_sync_all: sync_all, passes_scoping_filters: passes, clauses }
}
