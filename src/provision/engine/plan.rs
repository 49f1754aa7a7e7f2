//! Phase 3: the plan of a cycle. Which users and groups to process (everything in an
//! initial cycle, only what changed since its watermark otherwise), which were deleted in
//! the source, in which order, and whether the accidental-deletion threshold holds the
//! disables and deletes back (docs/entra-behaviour.md §5.2, §5.5).
//!
//! A pure function of the source, the scope decisions and what the job remembers
//! (watermarks and links, read through [`PlanState`]): no HTTP, no writes.

use std::collections::{BTreeSet, HashMap, HashSet};

use super::scope::{self, ScopeDecision};
use super::EngineError;
use crate::provision::directory::{parse_each, Directory, SourceEntry};
use crate::provision::job::Job;
use crate::provision::state::{object_fingerprint, JobState, ObjectKind, StateError};

/// What the planner reads of the job's state.
pub trait PlanState {
    /// Every watermark of a kind: source id → the fingerprint of the object as last
    /// processed. One pass: at 100k users, a read per object was a fifth of an
    /// incremental cycle (docs/perf.md).
    fn watermarks(&self, kind: ObjectKind) -> Result<HashMap<String, String>, StateError>;
    /// `Some(disabled)` when the object is linked to a target object.
    fn linked(&self, kind: ObjectKind, source_id: &str) -> Result<Option<bool>, StateError>;
}

impl PlanState for JobState {
    fn watermarks(&self, kind: ObjectKind) -> Result<HashMap<String, String>, StateError> {
        Ok((**self).watermarks(kind)?.into_iter().collect())
    }
    fn linked(&self, kind: ObjectKind, source_id: &str) -> Result<Option<bool>, StateError> {
        Ok(self.link(kind, source_id)?.map(|l| l.disabled))
    }
}

/// One object to process, with its scope and the fingerprint to remember afterwards.
#[derive(Debug)]
pub struct Work<'a> {
    /// The object as the source snapshot holds it (parsed again when it is processed).
    pub entry: &'a SourceEntry,
    pub scope: ScopeDecision,
    pub fingerprint: String,
    /// Changed since the watermark (always true in an initial cycle).
    pub changed: bool,
}

#[derive(Debug)]
pub struct CyclePlan<'a> {
    /// Changed users, those without a manager first so most creates can carry the
    /// manager reference.
    pub users: Vec<Work<'a>>,
    /// Users with a watermark that are no longer in the source.
    pub gone_users: Vec<String>,
    /// Every group (memberships are checked for all in-scope groups; only changed ones
    /// are exported), empty when group provisioning is off.
    pub groups: Vec<Work<'a>>,
    pub gone_groups: Vec<String>,
    /// Disables and deletes this cycle implies.
    pub removals: usize,
    /// The removals exceed the deletion threshold and were not allowed: hold them.
    pub hold_deletions: bool,
}

/// What the plan depends on besides the source and the state.
#[derive(Debug, Clone, Copy)]
pub struct PlanInput {
    pub initial: bool,
    /// `provision allow-deletions` was given for this cycle.
    pub deletions_allowed: bool,
}

pub fn plan<'a>(
    job: &Job,
    dir: &'a Directory,
    input: PlanInput,
    state: &impl PlanState,
) -> Result<CyclePlan<'a>, EngineError> {
    let skip_out_of_scope = job.spec.options.skip_out_of_scope_deletions;
    let assigned_members = scope::members_of_assigned_groups(job, dir)?;
    let user_marks = state.watermarks(ObjectKind::User)?;
    let mut users = Vec::new();
    let mut removals = 0;
    parse_each(dir.users(), |entry, user| {
        let id = entry.id();
        let scope = scope::of_user(job, &user, &assigned_members);
        let fingerprint = object_fingerprint(&user, scope.in_scope());
        let changed = input.initial || user_marks.get(id) != Some(&fingerprint);
        if !changed {
            return Ok::<_, EngineError>(());
        }
        let active_link = state.linked(ObjectKind::User, id)? == Some(false);
        if active_link && !scope.in_scope() && !skip_out_of_scope {
            removals += 1;
        }
        users.push(Work { entry, scope, fingerprint, changed });
        Ok(())
    })?;
    users.sort_by_key(|w| w.entry.manager().is_some());

    // The directory's id index answers for users; no second set of 100k ids.
    let gone_users = gone(&user_marks, |id| dir.user(id).is_some());
    for id in &gone_users {
        if state.linked(ObjectKind::User, id)?.is_some() {
            removals += 1;
        }
    }
    // Groups count toward the threshold too: deleted in the source, or left scope.
    let (groups, gone_groups) = if job.groups.enabled {
        let group_marks = state.watermarks(ObjectKind::Group)?;
        let mut groups = Vec::new();
        parse_each(dir.groups(), |entry, group| {
            let id = entry.id();
            let scope = scope::of_group(job, &group);
            let fingerprint = object_fingerprint(&group, scope.in_scope());
            let changed = input.initial || group_marks.get(id) != Some(&fingerprint);
            if changed && !scope.in_scope() && state.linked(ObjectKind::Group, id)?.is_some() {
                removals += 1;
            }
            groups.push(Work { entry, scope, fingerprint, changed });
            Ok::<_, EngineError>(())
        })?;
        let group_ids: HashSet<&str> = dir.groups().iter().map(SourceEntry::id).collect();
        let gone_groups = gone(&group_marks, |id| group_ids.contains(id));
        for id in &gone_groups {
            if state.linked(ObjectKind::Group, id)?.is_some() {
                removals += 1;
            }
        }
        (groups, gone_groups)
    } else {
        (Vec::new(), Vec::new())
    };
    let threshold = job.spec.options.deletion_threshold;
    let hold_deletions = threshold > 0 && removals > threshold && !input.deletions_allowed;
    Ok(CyclePlan { users, gone_users, groups, gone_groups, removals, hold_deletions })
}

/// Objects with a watermark that are no longer in the source, in id order.
fn gone(marks: &HashMap<String, String>, present: impl Fn(&str) -> bool) -> Vec<String> {
    let gone: BTreeSet<&String> = marks.keys().filter(|id| !present(id.as_str())).collect();
    gone.into_iter().cloned().collect()
}

impl CyclePlan<'_> {
    /// Objects the progress bar counts.
    pub fn total(&self) -> usize {
        self.users.len() + self.gone_users.len() + self.groups.len() + self.gone_groups.len()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Map, Value};

    use super::*;

    /// Watermarks and links in maps: the planner's whole view of the state.
    #[derive(Default)]
    struct Remembered {
        watermarks: HashMap<(ObjectKind, String), String>,
        links: HashMap<(ObjectKind, String), bool>,
    }

    impl PlanState for Remembered {
        fn watermarks(&self, kind: ObjectKind) -> Result<HashMap<String, String>, StateError> {
            let of_kind = self.watermarks.iter().filter(|((k, _), _)| *k == kind);
            Ok(of_kind.map(|((_, id), fp)| (id.clone(), fp.clone())).collect())
        }
        fn linked(&self, kind: ObjectKind, id: &str) -> Result<Option<bool>, StateError> {
            Ok(self.links.get(&(kind, id.to_string())).copied())
        }
    }

    fn job(options: Value) -> Job {
        let spec = serde_json::from_value(json!({
            "name": "plan",
            "target": {"url": "http://127.0.0.1:1/scim/v2", "token": "t"},
            "source": {"directory": "directory.json"},
            "scope": "all",
            "options": options
        }))
        .unwrap();
        Job::from_spec(spec, std::path::PathBuf::from(".")).unwrap()
    }

    fn user(id: &str, manager: Option<&str>, enabled: bool) -> Map<String, Value> {
        let mut u =
            json!({"objectId": id, "userPrincipalName": format!("{id}@contoso.com"), "accountEnabled": enabled});
        if let Some(m) = manager {
            u["manager"] = json!(m);
        }
        u.as_object().unwrap().clone()
    }

    fn directory(users: Vec<Map<String, Value>>) -> Directory {
        Directory::new(users, Vec::new()).unwrap()
    }

    fn remember_all(dir: &Directory, job: &Job) -> Remembered {
        let initial = plan(job, dir, PlanInput { initial: true, deletions_allowed: false }, &Remembered::default());
        let mut state = Remembered::default();
        for w in initial.unwrap().users {
            let id = w.entry.id().to_string();
            state.watermarks.insert((ObjectKind::User, id.clone()), w.fingerprint);
            state.links.insert((ObjectKind::User, id), false);
        }
        state
    }

    fn ids(work: &[Work<'_>]) -> Vec<String> {
        work.iter().map(|w| w.entry.id().to_string()).collect()
    }

    #[test]
    fn an_initial_cycle_plans_every_user_with_managers_before_their_reports() {
        let job = job(json!({}));
        let dir = directory(vec![user("report", Some("boss"), true), user("boss", None, true)]);
        let plan = plan(&job, &dir, PlanInput { initial: true, deletions_allowed: false }, &Remembered::default());
        let plan = plan.unwrap();
        assert_eq!(ids(&plan.users), ["boss", "report"]);
        assert!(plan.gone_users.is_empty() && !plan.hold_deletions && plan.removals == 0);
    }

    #[test]
    fn an_incremental_cycle_plans_only_changed_and_deleted_users() {
        let job = job(json!({}));
        let before = directory(vec![user("a", None, true), user("b", None, true), user("c", None, true)]);
        let state = remember_all(&before, &job);
        let after = directory(vec![user("a", None, true), user("b", None, false)]);
        let plan = plan(&job, &after, PlanInput { initial: false, deletions_allowed: false }, &state).unwrap();
        assert_eq!(ids(&plan.users), ["b"], "a is unchanged, b was disabled");
        assert!(!plan.users[0].scope.in_scope());
        assert_eq!(plan.gone_users, ["c"]);
        assert_eq!(plan.removals, 2, "one disable and one delete");
    }

    #[test]
    fn removals_over_the_threshold_are_held_unless_allowed() {
        let job = job(json!({"deletionThreshold": 1}));
        let before = directory(vec![user("a", None, true), user("b", None, true), user("c", None, true)]);
        let state = remember_all(&before, &job);
        let after = directory(vec![user("a", None, true)]);
        let held = plan(&job, &after, PlanInput { initial: false, deletions_allowed: false }, &state).unwrap();
        assert_eq!((held.removals, held.hold_deletions), (2, true));
        let allowed = plan(&job, &after, PlanInput { initial: false, deletions_allowed: true }, &state).unwrap();
        assert!(!allowed.hold_deletions, "allow-deletions lets them through");
        let at_threshold = directory(vec![user("a", None, true), user("b", None, true)]);
        let one = plan(&job, &at_threshold, PlanInput { initial: false, deletions_allowed: false }, &state).unwrap();
        assert_eq!((one.removals, one.hold_deletions), (1, false), "the threshold itself is not exceeded");
    }

    #[test]
    fn deleted_groups_count_toward_the_threshold() {
        let job = job(json!({"deletionThreshold": 1}));
        let groups = vec![
            json!({"objectId": "g1", "displayName": "One"}).as_object().unwrap().clone(),
            json!({"objectId": "g2", "displayName": "Two"}).as_object().unwrap().clone(),
        ];
        let before = Directory::new(Vec::new(), groups).unwrap();
        let mut state = Remembered::default();
        let first = plan(&job, &before, PlanInput { initial: true, deletions_allowed: false }, &state).unwrap();
        for w in first.groups {
            let id = w.entry.id().to_string();
            state.watermarks.insert((ObjectKind::Group, id.clone()), w.fingerprint);
            state.links.insert((ObjectKind::Group, id), false);
        }
        let after = Directory::new(Vec::new(), Vec::new()).unwrap();
        let p = plan(&job, &after, PlanInput { initial: false, deletions_allowed: false }, &state).unwrap();
        assert_eq!(p.gone_groups, ["g1", "g2"]);
        assert_eq!((p.removals, p.hold_deletions), (2, true), "two group deletes exceed a threshold of 1");
    }

    #[test]
    fn skip_out_of_scope_deletions_does_not_count_disables_and_disabled_links_do_not_count_again() {
        let job_skipping = job(json!({"skipOutOfScopeDeletions": true, "deletionThreshold": 1}));
        let before = directory(vec![user("a", None, true), user("b", None, true)]);
        let state = remember_all(&before, &job_skipping);
        let after = directory(vec![user("a", None, false), user("b", None, false)]);
        let plan_skip = plan(&job_skipping, &after, PlanInput { initial: false, deletions_allowed: false }, &state);
        assert_eq!(plan_skip.unwrap().removals, 0);

        let plain = job(json!({}));
        let mut state = remember_all(&before, &plain);
        state.links.insert((ObjectKind::User, "a".into()), true);
        let p = plan(&plain, &after, PlanInput { initial: false, deletions_allowed: false }, &state).unwrap();
        assert_eq!(p.removals, 1, "a is already disabled in the target");
    }
}
