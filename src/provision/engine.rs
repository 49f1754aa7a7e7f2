//! The provisioning cycle (entra-provisioning-client.md §5): import, scope, match, then
//! create / update / disable / delete, then references (manager) and group memberships.
//! Only objects this engine created or matched (its links) are ever changed.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures_util::stream::{self, StreamExt};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::directory::{display_name, object_id, Directory, DirectoryError};
use super::expr::{EvalContext, SourceObject, Val};
use super::health::{self, JobStatus, Quarantine, QuarantineReason, Transition};
use super::job::{CompiledObject, FlowType, Job, ScopeMode, Source};
use super::log::{Action, ErrorInformation, Identity, LogEntry, ModifiedProperty, Status, Step, StepType};
use super::scoping::{in_scope, ClauseResult};
use super::shape::{create_body, member_operations, patch_operations, to_json};
use super::state::{object_fingerprint, JobState, Link, ObjectKind, StateError};
use crate::client::{Body, ClientError, Exchange, HttpOptions, Request, ScimClient, TlsOptions, Transport};
use crate::clock::{rfc3339, Clock};
use crate::filter::{parse_filter, FilterLimits};
use crate::scim::{ResourceKind, ResourceType};

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Directory(#[from] DirectoryError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("{0}")]
    NotFound(String),
    #[error("the job is disabled: {0}; `provision restart` enables it again")]
    Disabled(String),
    #[error("the job is paused; `provision resume` continues it")]
    Paused,
}

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
    /// Failures of manager and member updates (included in `failed`; quarantine
    /// thresholds on objects leave them out, §5.6).
    pub reference_failed: usize,
    /// Failures by Entra error code.
    pub failure_codes: BTreeMap<String, usize>,
    pub duration_ms: u64,
}

impl CycleReport {
    fn count(&mut self, outcome: &Outcome) {
        if outcome.status == Status::Failure {
            let code = outcome.error.as_ref().map_or("Unknown", |e| e.error_code.as_str());
            *self.failure_codes.entry(code.to_string()).or_default() += 1;
        }
        match (outcome.status, outcome.action) {
            (_, Action::StagedDelete) => self.held_deletions += 1,
            (Status::Failure, _) => self.failed += 1,
            (Status::Skipped, _) => self.skipped += 1,
            (_, Action::Create) => self.created += 1,
            (_, Action::Update) => self.updated += 1,
            (_, Action::Disable) => self.disabled += 1,
            (_, Action::Delete) => self.deleted += 1,
            (_, Action::Other) => self.skipped += 1,
        }
    }

    fn count_reference(&mut self, outcome: &Outcome) {
        if outcome.status == Status::Failure {
            self.reference_failed += 1;
        }
        self.count(outcome);
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

/// A source object with Entra's computed attributes (`IsSoftDeleted`) overlaid.
struct SourceView<'a> {
    object: &'a Map<String, Value>,
    soft_deleted: bool,
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
#[derive(Debug, Clone, Serialize)]
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

/// One object's processing, for logs and on-demand traces.
struct Outcome {
    action: Action,
    status: Status,
    target_id: String,
    error: Option<ErrorInformation>,
    modified: Vec<ModifiedProperty>,
}

impl Outcome {
    fn new(action: Action, status: Status, target_id: &str) -> Self {
        Outcome { action, status, target_id: target_id.to_string(), error: None, modified: Vec::new() }
    }

    fn failed(action: Action, target_id: &str, e: &ClientError) -> Self {
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
}

pub struct Engine {
    job: Job,
    client: ScimClient,
    state: JobState,
    clock: Arc<dyn Clock>,
    rng: Mutex<StdRng>,
    users_rt: ResourceType,
    groups_rt: ResourceType,
    compliant: bool,
    cycle_id: String,
}

/// The processing of one object: the engine's shared parts, borrowed, and the object's own
/// steps. Objects are processed concurrently (bounded by `options.concurrency`), each in
/// its own run.
struct ObjectRun<'a> {
    job: &'a Job,
    client: &'a ScimClient,
    state: &'a JobState,
    clock: &'a dyn Clock,
    rng: &'a Mutex<StdRng>,
    users_rt: &'a ResourceType,
    groups_rt: &'a ResourceType,
    compliant: bool,
    cycle_id: &'a str,
    steps: Vec<Step>,
    /// When the object's first step was recorded (its log duration).
    object_started: Option<Instant>,
}

fn random_id(rng: &Mutex<StdRng>) -> String {
    let bytes: [u8; 16] = rng.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).gen();
    uuid::Builder::from_random_bytes(bytes).into_uuid().to_string()
}

impl Engine {
    pub fn new(job: Job, state: JobState, clock: Arc<dyn Clock>, seed: u64) -> Result<Self, EngineError> {
        let client = ScimClient::new(&job.target_endpoint(), job.spec.options.retry.clone(), Arc::clone(&clock))?;
        let compliant = job.spec.options.aad_opt_scim_062020 || client.url_flag_compliant;
        Ok(Engine {
            job,
            client,
            state,
            clock,
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
            users_rt: ResourceType::user(),
            groups_rt: ResourceType::group(),
            compliant,
            cycle_id: String::new(),
        })
    }

    fn run(&self) -> ObjectRun<'_> {
        ObjectRun {
            job: &self.job,
            client: &self.client,
            state: &self.state,
            clock: self.clock.as_ref(),
            rng: &self.rng,
            users_rt: &self.users_rt,
            groups_rt: &self.groups_rt,
            compliant: self.compliant,
            cycle_id: &self.cycle_id,
            steps: Vec::new(),
            object_started: None,
        }
    }

    fn new_id(&self) -> String {
        random_id(&self.rng)
    }

    pub fn job(&self) -> &Job {
        &self.job
    }

    pub fn state(&self) -> &JobState {
        &self.state
    }

    pub fn client(&self) -> &ScimClient {
        &self.client
    }

    /// Test connection (§1.3): look up a user that cannot exist by the first matching
    /// attribute; the answer must be 200 with an empty ListResponse.
    pub async fn test_connection(&mut self) -> Result<String, EngineError> {
        let attribute =
            self.job.users.matching().first().map(|m| m.target.clone()).unwrap_or_else(|| "userName".into());
        let probe = self.new_id();
        let filter = parse_filter(&format!("{attribute} eq \"{probe}\""), FilterLimits::default()).map_err(|e| {
            EngineError::NotFound(format!("matching attribute '{attribute}' cannot be used in a filter: {e}"))
        })?;
        let found = self.client.find(ResourceKind::User, &filter).await?;
        if !found.is_empty() {
            return Err(EngineError::NotFound(format!(
                "GET /Users?filter={filter} returned {} resources for a random value; the endpoint ignores filters",
                found.len()
            )));
        }
        Ok(format!("GET {}/Users?filter={filter} answered 200 with an empty ListResponse", self.client.base()))
    }

    /// Reads the whole source: a directory file/folder, or a SCIM endpoint with paging.
    async fn load_source(&self) -> Result<Directory, EngineError> {
        match self.job.source() {
            Source::Directory(path) => Ok(Directory::load(&path)?),
            Source::Scim(spec) => {
                let source = ScimClient::new(
                    &self.job.source_endpoint(&spec),
                    self.job.spec.options.retry.clone(),
                    Arc::clone(&self.clock),
                )?;
                let users = source.list_all(ResourceKind::User, spec.page_size).await?;
                let groups = source.list_all(ResourceKind::Group, spec.page_size).await?;
                Ok(Directory::from_scim(&users, &groups))
            }
        }
    }

    /// Direct members of the groups assigned to the app (assignment includes members, §4.1).
    fn members_of_assigned_groups(&self, dir: &Directory) -> HashSet<String> {
        self.job.spec.assignments.groups.iter().filter_map(|g| dir.find_group(g)).flat_map(Directory::members).collect()
    }

    fn scope_of_user(&self, user: &Map<String, Value>, members_of_assigned_groups: &HashSet<String>) -> ScopeDecision {
        let id = object_id(user);
        let active = user.get("accountEnabled").and_then(Value::as_bool).unwrap_or(true)
            && !user.get("softDeleted").and_then(Value::as_bool).unwrap_or(false);
        let sync_all = self.job.spec.scope == ScopeMode::All;
        let assigned = sync_all || {
            let a = &self.job.spec.assignments;
            let upn = user.get("userPrincipalName").and_then(Value::as_str).unwrap_or("");
            a.users.iter().any(|u| u == id || u.eq_ignore_ascii_case(upn)) || members_of_assigned_groups.contains(id)
        };
        let mut clauses = Vec::new();
        let view = SourceView { object: user, soft_deleted: false };
        let passes = in_scope(&self.job.users.scope, &view, &mut clauses);
        ScopeDecision { active, assigned, scope_sync_all: sync_all, passes_scoping_filters: passes, clauses }
    }

    fn scope_of_group(&self, group: &Map<String, Value>) -> ScopeDecision {
        let sync_all = self.job.spec.scope == ScopeMode::All;
        let id = object_id(group);
        let name = group.get("displayName").and_then(Value::as_str).unwrap_or("");
        let assigned =
            sync_all || self.job.spec.assignments.groups.iter().any(|g| g == id || g.eq_ignore_ascii_case(name));
        let mut clauses = Vec::new();
        let view = SourceView { object: group, soft_deleted: false };
        let passes = in_scope(&self.job.groups.scope, &view, &mut clauses);
        ScopeDecision { active: true, assigned, scope_sync_all: sync_all, passes_scoping_filters: passes, clauses }
    }

    /// Runs one cycle: initial if the job never completed one or its configuration changed,
    /// otherwise incremental (only objects whose source changed since the watermark).
    pub async fn run_cycle(&mut self, progress: &dyn Progress) -> Result<CycleReport, EngineError> {
        if let Some(reason) = self.state.meta("disabled")? {
            return Err(EngineError::Disabled(reason));
        }
        if self.state.meta("paused")?.as_deref() == Some("true") {
            return Err(EngineError::Paused);
        }
        match self.cycle(progress).await {
            Ok(report) => {
                self.after_cycle(&report).await?;
                Ok(report)
            }
            Err(e) => {
                self.state.set_meta("last_error", &e.to_string())?;
                self.notify("cycleFailed", json!({"error": e.to_string()})).await;
                Err(e)
            }
        }
    }

    async fn cycle(&mut self, progress: &dyn Progress) -> Result<CycleReport, EngineError> {
        let started = Instant::now();
        let started_at = rfc3339(self.clock.now());
        let dir = self.load_source().await?;
        let config_changed = self.state.meta("config_hash")?.as_deref() != Some(self.job.config_hash.as_str());
        if config_changed && self.state.meta("config_hash")?.is_some() {
            // New mappings or scoping: re-evaluate everything (§4.3).
            self.state.clear_watermark()?;
        }
        let initial = self.state.meta("initial_done")?.as_deref() != Some("true") || config_changed;
        self.cycle_id = self.new_id();
        let mut report = CycleReport { cycle_id: self.cycle_id.clone(), initial, started_at, ..Default::default() };

        // Plan: which objects changed, and how many disables/deletes that implies.
        let mut user_work = Vec::new();
        let mut removals = 0;
        let assigned_members = self.members_of_assigned_groups(&dir);
        for user in &dir.users {
            let scope = self.scope_of_user(user, &assigned_members);
            let fp = object_fingerprint(user, scope.in_scope());
            let changed =
                initial || self.state.watermark(ObjectKind::User, object_id(user))?.as_deref() != Some(fp.as_str());
            if changed {
                let link = self.state.link(ObjectKind::User, object_id(user))?;
                if link.as_ref().is_some_and(|l| !l.disabled)
                    && !scope.in_scope()
                    && !self.job.spec.options.skip_out_of_scope_deletions
                {
                    removals += 1;
                }
                user_work.push((user, scope, fp));
            }
        }
        // Managers before their reports, so most creates can carry the manager reference.
        user_work.sort_by_key(|(u, _, _)| u.get("manager").and_then(Value::as_str).is_some_and(|m| !m.is_empty()));
        let present: BTreeSet<&str> = dir.users.iter().map(object_id).collect();
        let gone: Vec<String> =
            self.state.watermarked(ObjectKind::User)?.into_iter().filter(|id| !present.contains(id.as_str())).collect();
        removals += gone.iter().filter(|id| self.state.link(ObjectKind::User, id).ok().flatten().is_some()).count();
        let threshold = self.job.spec.options.deletion_threshold;
        let hold_deletions =
            threshold > 0 && removals > threshold && self.state.meta("allow_deletions")?.as_deref() != Some("true");
        if hold_deletions {
            tracing::warn!(removals, threshold, "accidental-deletion threshold reached: disables and deletes are held");
        }

        let group_work: Vec<_> = if self.job.groups.enabled {
            dir.groups.iter().map(|g| (g.clone(), self.scope_of_group(g))).collect()
        } else {
            Vec::new()
        };
        progress.start(user_work.len() + gone.len() + group_work.len());
        let concurrency = self.job.spec.options.concurrency.max(1);
        let this = &*self;

        // Users: create / update / disable, up to `concurrency` at a time.
        let mut reference_users = Vec::new();
        let mut users = stream::iter(user_work)
            .map(|(user, scope, fp)| async move {
                let mut run = this.run();
                let outcome = run.process_user(user, &scope, hold_deletions).await;
                (user, scope, fp, run, outcome)
            })
            .buffer_unordered(concurrency);
        while let Some((user, scope, fp, mut run, outcome)) = users.next().await {
            let outcome = outcome?;
            let id = object_id(user).to_string();
            progress.advance(&display_name(user));
            report.processed += 1;
            report.count(&outcome);
            this.escrow(ObjectKind::User, &id, &outcome)?;
            if outcome.status != Status::Failure {
                this.state.set_watermark(ObjectKind::User, &id, &fp)?;
            }
            if scope.in_scope() {
                reference_users.push(id);
            }
            run.log(ObjectKind::User, user, outcome)?;
        }
        drop(users);

        // Users hard-deleted in the source.
        let mut deleted = stream::iter(gone)
            .map(|id| async move {
                let mut run = this.run();
                let outcome = run.process_deleted(ObjectKind::User, &id, hold_deletions).await;
                (id, run, outcome)
            })
            .buffer_unordered(concurrency);
        while let Some((id, mut run, outcome)) = deleted.next().await {
            let outcome = outcome?;
            progress.advance(&id);
            report.processed += 1;
            report.count(&outcome);
            if outcome.status != Status::Failure && outcome.action != Action::StagedDelete {
                this.state.remove_watermark(ObjectKind::User, &id)?;
            }
            let placeholder = Map::from_iter([("objectId".to_string(), Value::String(id))]);
            run.log(ObjectKind::User, &placeholder, outcome)?;
        }
        drop(deleted);

        // References: managers are linked once both users exist (§5.2 step 6).
        let dir = &dir;
        let mut managers = stream::iter(reference_users.iter().filter_map(|id| dir.user(id)))
            .map(|user| async move {
                let mut run = this.run();
                let outcome = run.link_manager(dir, user).await;
                (user, run, outcome)
            })
            .buffer_unordered(concurrency);
        while let Some((user, mut run, outcome)) = managers.next().await {
            if let Some(outcome) = outcome? {
                report.count_reference(&outcome);
                run.log(ObjectKind::User, user, outcome)?;
            }
        }
        drop(managers);

        // Groups: first the groups themselves, then memberships, so nested groups resolve.
        let mut groups = stream::iter(group_work.iter())
            .map(|(group, scope)| async move {
                let fp = object_fingerprint(group, scope.in_scope());
                let unchanged = !initial
                    && this.state.watermark(ObjectKind::Group, object_id(group))?.as_deref() == Some(fp.as_str());
                let mut run = this.run();
                let outcome = if unchanged { None } else { Some(run.process_group(group, scope).await?) };
                Ok::<_, EngineError>((group, fp, run, outcome))
            })
            .buffer_unordered(concurrency);
        while let Some(result) = groups.next().await {
            let (group, fp, mut run, outcome) = result?;
            progress.advance(&display_name(group));
            if let Some(outcome) = outcome {
                report.processed += 1;
                report.count(&outcome);
                this.escrow(ObjectKind::Group, object_id(group), &outcome)?;
                if outcome.status != Status::Failure {
                    this.state.set_watermark(ObjectKind::Group, object_id(group), &fp)?;
                }
                run.log(ObjectKind::Group, group, outcome)?;
            }
        }
        drop(groups);
        let mut memberships = stream::iter(group_work.iter().filter(|(_, scope)| scope.in_scope()))
            .map(|(group, _)| async move {
                let mut run = this.run();
                let outcome = run.sync_members(dir, group).await;
                (group, run, outcome)
            })
            .buffer_unordered(concurrency);
        while let Some((group, mut run, outcome)) = memberships.next().await {
            if let Some(outcome) = outcome? {
                report.count_reference(&outcome);
                run.log(ObjectKind::Group, group, outcome)?;
            }
        }
        drop(memberships);

        // Groups deleted in the source.
        if self.job.groups.enabled {
            let group_ids: BTreeSet<&str> = dir.groups.iter().map(object_id).collect();
            let gone_groups: Vec<String> = self
                .state
                .watermarked(ObjectKind::Group)?
                .into_iter()
                .filter(|id| !group_ids.contains(id.as_str()))
                .collect();
            for id in gone_groups {
                let mut run = this.run();
                let outcome = run.process_deleted(ObjectKind::Group, &id, false).await?;
                report.processed += 1;
                report.count(&outcome);
                if outcome.status != Status::Failure {
                    self.state.remove_watermark(ObjectKind::Group, &id)?;
                }
                let placeholder = Map::from_iter([("objectId".to_string(), Value::String(id))]);
                run.log(ObjectKind::Group, &placeholder, outcome)?;
            }
        }
        progress.finish();
        if !hold_deletions {
            self.state.set_meta("allow_deletions", "false")?;
        }
        self.state.set_meta("initial_done", "true")?;
        self.state.set_meta("config_hash", &self.job.config_hash)?;
        report.duration_ms = started.elapsed().as_millis() as u64;
        report.finished_at = rfc3339(self.clock.now());
        self.state.set_meta("last_cycle", &serde_json::to_string(&report).unwrap_or_default())?;
        self.state.prune_logs(super::state::LOG_RETENTION)?;
        self.state.flush()?;
        Ok(report)
    }

    fn escrow(&self, kind: ObjectKind, id: &str, outcome: &Outcome) -> Result<(), EngineError> {
        match (&outcome.error, outcome.status) {
            (Some(e), Status::Failure) => {
                self.state.escrow(kind, id, &rfc3339(self.clock.now()), &e.error_code, &e.reason)?
            }
            _ => self.state.release_escrow(kind, id)?,
        }
        Ok(())
    }

    /// Quarantine bookkeeping and notifications after a completed cycle (§5.6, §5.8).
    async fn after_cycle(&mut self, report: &CycleReport) -> Result<(), EngineError> {
        let policy = &self.job.spec.options.quarantine;
        let current: Option<Quarantine> = self.state.meta("quarantine")?.and_then(|q| serde_json::from_str(&q).ok());
        let now = self.clock.now();
        let transition = health::transition(policy, current, policy.evaluate(report), now);
        let store = |q: &Quarantine| serde_json::to_string(q).unwrap_or_default();
        match &transition {
            Transition::Healthy => {}
            Transition::Entered(q) | Transition::Continued(q) => self.state.set_meta("quarantine", &store(q))?,
            Transition::Lifted(_) => self.state.remove_meta("quarantine")?,
            Transition::Disabled(q) => {
                self.state.set_meta("quarantine", &store(q))?;
                self.state.set_meta("disabled", "still failing after 4 weeks in quarantine")?;
            }
        }
        if report.failed == 0 {
            self.state.remove_meta("last_error")?;
        } else if let Some((code, n)) = report.failure_codes.iter().max_by_key(|(_, n)| **n) {
            self.state.set_meta("last_error", &format!("{n} objects failed with {code}"))?;
        }
        self.state.flush()?;
        let summary = serde_json::to_value(report).unwrap_or(Value::Null);
        match transition {
            Transition::Entered(q) => {
                tracing::warn!(reason = ?q.reason, detail = %q.detail, "the job is in quarantine");
                let event = if q.reason == QuarantineReason::TooManyDeletes {
                    "deletionThresholdExceeded"
                } else {
                    "quarantine"
                };
                self.notify(event, json!({"quarantine": q, "cycle": summary})).await;
            }
            Transition::Lifted(q) => self.notify("quarantineLifted", json!({"quarantine": q, "cycle": summary})).await,
            Transition::Disabled(q) => self.notify("disabled", json!({"quarantine": q, "cycle": summary})).await,
            Transition::Continued(_) | Transition::Healthy => {}
        }
        Ok(())
    }

    /// Posts an event to the job's webhook, retrying a few times; never fails the cycle.
    async fn notify(&self, event: &str, details: Value) {
        let Some(url) = &self.job.spec.options.webhook_url else { return };
        let body =
            json!({"event": event, "job": self.job.spec.name, "at": rfc3339(self.clock.now()), "details": details});
        let policy = &self.job.spec.options.retry;
        let transport = match Transport::new(&HttpOptions {
            tls: TlsOptions::with_ca(None, false),
            ..HttpOptions::with_timeout(std::time::Duration::from_secs(10))
        }) {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(url, error = %e, event, "webhook client cannot be built");
                return;
            }
        };
        for attempt in 1..=policy.max_attempts.max(1) {
            let request = Request { body: Some(Body::Json(&body)), ..Request::new("POST", url) };
            match transport.send(request).await {
                Ok(res) if res.is_success() => return,
                Ok(res) => tracing::warn!(url, status = res.status, event, "webhook refused the notification"),
                Err(e) => tracing::warn!(url, error = %e, event, "webhook unreachable"),
            }
            if attempt < policy.max_attempts {
                tokio::time::sleep(policy.backoff(attempt)).await;
            }
        }
    }

    /// The status document (§6.5).
    pub fn status(&self) -> Result<JobStatus, EngineError> {
        status_of(&self.job, &self.state, self.client.gate.is_paused())
    }

    /// Pauses the job: the running cycle stops sending requests, and no cycle starts.
    pub fn pause(&self) -> Result<(), EngineError> {
        self.client.gate.pause();
        self.state.set_meta("paused", "true")?;
        self.state.flush()?;
        Ok(())
    }

    /// Graph's `start`: resumes a paused job and lifts a quarantine, so a cycle may run now.
    pub fn start(&self) -> Result<(), EngineError> {
        self.state.remove_meta("quarantine")?;
        self.resume()
    }

    /// Resumes a paused job where it stopped.
    pub fn resume(&self) -> Result<(), EngineError> {
        self.state.remove_meta("paused")?;
        self.state.flush()?;
        self.client.gate.resume();
        Ok(())
    }

    /// How long a scheduler should wait before the next cycle (interval, or the
    /// quarantine schedule).
    pub fn next_delay(&self) -> Result<std::time::Duration, EngineError> {
        let quarantine: Option<Quarantine> = self.state.meta("quarantine")?.and_then(|q| serde_json::from_str(&q).ok());
        let interval = std::time::Duration::from_secs(self.job.spec.options.interval_seconds);
        Ok(health::next_delay(interval, quarantine.as_ref(), self.clock.now()))
    }

    /// Runs one user through the same code path as a cycle, recording every step (§5.10).
    pub async fn provision_on_demand(&mut self, key: &str) -> Result<OnDemandTrace, EngineError> {
        let dir = self.load_source().await?;
        let user = dir.find_user(key).cloned().ok_or_else(|| {
            EngineError::NotFound(format!(
                "no user '{key}' (objectId, userPrincipalName or mail) in the source directory"
            ))
        })?;
        self.cycle_id = format!("on-demand-{}", self.new_id());
        self.client.take_exchanges();
        let scope = self.scope_of_user(&user, &self.members_of_assigned_groups(&dir));
        let view = SourceView { object: &user, soft_deleted: !scope.in_scope() };
        let creating = self.state.link(ObjectKind::User, object_id(&user))?.is_none();
        let mut run = self.run();
        let (_, attributes, _) = run.evaluate(ResourceKind::User, &view, creating);
        let outcome = run.process_user(&user, &scope, false).await?;
        let (action, status) = (outcome.action, outcome.status);
        let mut log = run.log(ObjectKind::User, &user, outcome)?;
        let mut reference_run = self.run();
        if let Some(reference) = reference_run.link_manager(&dir, &user).await? {
            log.modified_properties.extend(reference.modified);
            log.provisioning_steps.extend(reference_run.steps);
        }
        let fp = object_fingerprint(&user, scope.in_scope());
        if status != Status::Failure {
            self.state.set_watermark(ObjectKind::User, object_id(&user), &fp)?;
        }
        self.state.flush()?;
        Ok(OnDemandTrace { result: status, action, scope, attributes, log, exchanges: self.client.take_exchanges() })
    }

    /// Drops the watermark (and with `clear_links`, every link): the next cycle is initial.
    /// Like the portal's "Restart provisioning": clears the watermark, escrows, quarantine
    /// and a disabled state; links stay unless `clear_links`.
    pub fn restart(&self, clear_links: bool) -> Result<(), EngineError> {
        if clear_links {
            self.state.clear_all()?;
        } else {
            self.state.clear_watermark()?;
            self.state.clear_escrows()?;
            for key in ["quarantine", "disabled", "last_error"] {
                self.state.remove_meta(key)?;
            }
        }
        self.state.flush()?;
        Ok(())
    }

    /// Lets the next cycle execute disables/deletes held by the deletion threshold.
    /// Graph's `resetScope: ForceDeletes`: the next cycle, due at once, carries them out.
    pub fn allow_deletions(&self) -> Result<(), EngineError> {
        self.state.set_meta("allow_deletions", "true")?;
        self.state.clear_watermark()?;
        self.state.remove_meta("quarantine")?;
        self.state.flush()?;
        Ok(())
    }
}

impl ObjectRun<'_> {
    fn new_id(&self) -> String {
        random_id(self.rng)
    }

    fn step(&mut self, name: &str, kind: StepType, status: Status, description: String, details: Value) {
        if self.steps.is_empty() {
            self.object_started = Some(Instant::now());
        }
        self.steps.push(Step { name: name.into(), provisioning_step_type: kind, status, description, details });
    }

    /// Evaluates the mappings of `object` (references excluded): target path → JSON value,
    /// in mapping order. `creating` applies ObjectAddOnly mappings and default values.
    fn evaluate(
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
            let value = match &m.program {
                Some(p) => p.evaluate(&mut ctx).unwrap_or(Val::Null),
                None => Val::Null,
            };
            redacted |= ctx.redacted;
            let value = match (value, creating, &m.default_value) {
                (Val::Null, true, Some(d)) => Val::Str(d.clone()),
                (v, _, _) => v,
            };
            let json = to_json(rt, &m.target, &value);
            resolved.push(ResolvedAttribute {
                target: m.target.clone(),
                expression: m.program.as_ref().map(|p| p.text().to_string()),
                value: if ctx.redacted { json.as_ref().map(|_| json!("[Redact]")) } else { json.clone() },
            });
            // Null values are never provisioned (§2.3).
            if let Some(v) = json {
                values.push((m.target.clone(), v));
            }
        }
        (values, resolved, redacted)
    }

    fn match_filter(&self, target: &str, value: &Value) -> Option<crate::filter::Filter> {
        let literal = match value {
            Value::String(s) => Value::String(s.clone()),
            other => other.clone(),
        };
        parse_filter(&format!("{target} eq {literal}"), FilterLimits::default()).ok()
    }

    /// Looks the object up by its matching attributes in precedence order (§2.2).
    async fn find_match(
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

    fn log(
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
        self.state.append_log(&entry)?;
        Ok(entry)
    }

    async fn process_user(
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
        self.update(ResourceKind::User, &id, &mut link, &values, &current).await
    }

    async fn update(
        &mut self,
        kind: ResourceKind,
        source_id: &str,
        link: &mut Link,
        values: &[(String, Value)],
        current: &Value,
    ) -> Result<Outcome, EngineError> {
        let (ops, modified) = patch_operations(values, current, self.compliant);
        let was_disabled = link.disabled;
        link.disabled = false;
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
                let _ = was_disabled;
                Ok(o)
            }
            Err(e) => {
                link.disabled = was_disabled;
                self.step("EntryExportUpdate", StepType::Export, Status::Failure, e.to_string(), Value::Null);
                Ok(Outcome::failed(Action::Update, &link.target_id, &e))
            }
        }
    }

    async fn create_or_match(
        &mut self,
        kind: ResourceKind,
        object: &Map<String, Value>,
    ) -> Result<Outcome, EngineError> {
        let id = object_id(object).to_string();
        let name = display_name(object);
        let view = SourceView { object, soft_deleted: false };
        let (mut values, _, _) = self.evaluate(kind, &view, true);
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
    async fn adopt(
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
        };
        self.state.set_link(&id, &link)?;
        let view = SourceView { object, soft_deleted: false };
        let (update_values, _, _) = self.evaluate(kind, &view, false);
        self.update(kind, &id, &mut link, &update_values, existing).await
    }

    /// The manager reference for a create body, when the manager already exists in the
    /// target; otherwise it is linked by a later PATCH (§1.4.3).
    fn provisioned_manager(&self, user: &Map<String, Value>) -> Result<Option<(String, Value)>, EngineError> {
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

    /// Out of scope: send the IsSoftDeleted-driven mappings (`active` → false), §5.4.
    async fn disable_user(&mut self, user: &Map<String, Value>, link: &mut Link) -> Result<Outcome, EngineError> {
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
    async fn process_deleted(&mut self, kind: ObjectKind, id: &str, hold: bool) -> Result<Outcome, EngineError> {
        let Some(link) = self.state.link(kind, id)? else {
            return Ok(Outcome::new(Action::Other, Status::Skipped, ""));
        };
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

    /// Links the enterprise manager once both users exist in the target (§1.4.5).
    async fn link_manager(
        &mut self,
        dir: &Directory,
        user: &Map<String, Value>,
    ) -> Result<Option<Outcome>, EngineError> {
        let Some(mapping) = self.job.users.mappings.iter().find(|m| m.reference() == Some("manager")).cloned() else {
            return Ok(None);
        };
        let id = object_id(user).to_string();
        let Some(mut link) = self.state.link(ObjectKind::User, &id)? else { return Ok(None) };
        let manager_source = user.get("manager").and_then(Value::as_str).unwrap_or("");
        let desired = if manager_source.is_empty() {
            None
        } else {
            match self.state.link(ObjectKind::User, manager_source)? {
                Some(m) if dir.user(manager_source).is_some() => Some(m.target_id),
                _ => None,
            }
        };
        let exported = link.exported.get(&mapping.target).and_then(Value::as_str).map(str::to_string);
        if desired == exported || desired.is_none() {
            return Ok(None);
        }
        let Some(manager_id) = desired else { return Ok(None) };
        let op = json!({"op": if self.compliant { "add" } else { "Add" }, "path": mapping.target, "value": manager_id});
        self.step(
            "EntryReferenceResolution",
            StepType::ReferenceResolution,
            Status::Success,
            format!("Resolved manager {manager_source} to {manager_id}"),
            Value::Null,
        );
        match self.client.patch(ResourceKind::User, &link.target_id, vec![op]).await {
            Ok(()) => {
                link.exported.insert(mapping.target.clone(), Value::String(manager_id.clone()));
                self.state.set_link(&id, &link)?;
                let mut o = Outcome::new(Action::Update, Status::Success, &link.target_id);
                o.modified = vec![ModifiedProperty {
                    display_name: "manager".into(),
                    old_value: exported,
                    new_value: Some(manager_id),
                }];
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

    async fn process_group(
        &mut self,
        group: &Map<String, Value>,
        scope: &ScopeDecision,
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
            (Some(_), false) => self.process_deleted(ObjectKind::Group, &id, false).await,
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
                let members = link.members.clone();
                let outcome = self.update(ResourceKind::Group, &id, &mut link, &values, &current).await?;
                link.members = members;
                Ok(outcome)
            }
        }
    }

    /// Brings the target group's members in line with the source, against the cached
    /// membership (§1.5): members not provisioned are skipped.
    async fn sync_members(
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

/// The status document of a job from its state (§6.5); `gate_paused` is a pause requested
/// in this process that the state may not show yet.
pub fn status_of(job: &Job, state: &JobState, gate_paused: bool) -> Result<JobStatus, EngineError> {
    let last_cycle: Option<CycleReport> = state.meta("last_cycle")?.and_then(|c| serde_json::from_str(&c).ok());
    let quarantine: Option<Quarantine> = state.meta("quarantine")?.and_then(|q| serde_json::from_str(&q).ok());
    let initial_cycle_complete = state.meta("initial_done")?.as_deref() == Some("true");
    let status = if state.meta("disabled")?.is_some() {
        "Disabled"
    } else if state.meta("paused")?.as_deref() == Some("true") || gate_paused {
        "Paused"
    } else if quarantine.is_some() {
        "Quarantine"
    } else if last_cycle.is_none() {
        "NotRun"
    } else {
        "Active"
    };
    Ok(JobStatus {
        job: job.spec.name.clone(),
        state: status.into(),
        initial_cycle_complete,
        steady_state: initial_cycle_complete && last_cycle.as_ref().is_some_and(|c| c.failed == 0),
        last_cycle,
        quarantine,
        escrowed: state.escrows()?.len(),
        last_error: state.meta("last_error")?,
        users: state.count_links(ObjectKind::User),
        groups: state.count_links(ObjectKind::Group),
    })
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

fn text_of(v: &Value) -> String {
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
        if report.held_deletions > 0 { format!(", {} deletions held by the threshold", report.held_deletions) } else { String::new() },
        report.duration_ms
    )
}
