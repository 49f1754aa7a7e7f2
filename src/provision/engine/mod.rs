//! The provisioning engine (docs/entra-behaviour.md §5), one file per phase of a cycle:
//!
//! 1. read the source (`Engine::load_source`);
//! 2. scope each object ([`scope`]);
//! 3. **plan** which objects to process and whether removals are held ([`plan`], a pure
//!    function);
//! 4. execute: match, create, update, disable, delete ([`cycle`], [`export`], [`removal`]);
//! 5. references: managers and group members ([`references`]);
//! 6. record: logs, escrows, watermarks and quarantine ([`object`], [`control`]).
//!
//! Only objects this engine created or matched (its links) are ever changed.

mod control;
mod cycle;
mod export;
mod notify;
mod object;
pub mod plan;
mod references;
mod removal;
mod report;
pub mod scope;

use std::sync::{Arc, Mutex};

use rand::rngs::StdRng;
use rand::SeedableRng;

pub use control::{status_of, JobControl};
pub use report::{summary, CycleProgress, CycleReport, NoProgress, OnDemandTrace, Progress, ResolvedAttribute};
pub use scope::ScopeDecision;

use self::object::{random_id, ObjectRun};
use self::scope::SourceView;
use super::directory::{object_id, Directory, DirectoryError};
use super::job::{Job, Source};
use super::log::Status;
use super::state::{object_fingerprint, JobState, ObjectKind, StateError};
use crate::client::{ClientError, ScimClient};
use crate::clock::Clock;
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
    notifier: notify::Notifier,
    skipped_while_paused: Arc<std::sync::atomic::AtomicU64>,
    /// The running cycle's progress (none between cycles).
    running: Arc<Mutex<Option<report::CycleProgress>>>,
    /// Set by [`Engine::keep_exchanges`]: cycles keep their traffic too.
    keeping_exchanges: Option<crate::client::Tracing>,
}

impl Engine {
    pub fn new(job: Job, state: JobState, clock: Arc<dyn Clock>, seed: u64) -> Result<Self, EngineError> {
        // Only on-demand runs (and the validator's flows) show their traffic.
        let client = ScimClient::new(&job.target_endpoint(), job.spec.options.retry.clone(), Arc::clone(&clock))?
            .exchanges_on_request();
        let compliant = job.spec.options.aad_opt_scim_062020 || client.url_flag_compliant;
        let notifier =
            notify::Notifier::new(&job.spec.name, job.spec.options.webhook_url.clone(), job.spec.options.retry.clone());
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
            notifier,
            skipped_while_paused: Arc::default(),
            running: Arc::default(),
            keeping_exchanges: None,
        })
    }

    /// Keeps the traffic of every cycle in the client's exchange log (the most recent
    /// [`crate::client::EXCHANGE_LOG_CAPACITY`]), for callers that read it: tests and the
    /// validator's flows. Otherwise only on-demand runs keep theirs.
    pub fn keep_exchanges(&mut self) {
        self.keeping_exchanges = Some(self.client.trace_exchanges());
    }

    /// Runs the job with a new configuration (Graph's `PUT …/schema` or `…/secrets`): a new
    /// client for a possibly new target, the same state, pause gate and progress, so the
    /// job's controls keep working. A changed mapping makes the next cycle a full one.
    pub fn reconfigure(&mut self, job: Job) -> Result<(), EngineError> {
        let mut client =
            ScimClient::new(&job.target_endpoint(), job.spec.options.retry.clone(), Arc::clone(&self.clock))?
                .exchanges_on_request();
        client.gate = self.client.gate.clone();
        self.compliant = job.spec.options.aad_opt_scim_062020 || client.url_flag_compliant;
        self.notifier =
            notify::Notifier::new(&job.spec.name, job.spec.options.webhook_url.clone(), job.spec.options.retry.clone());
        if self.keeping_exchanges.is_some() {
            self.keeping_exchanges = Some(client.trace_exchanges());
        }
        self.client = client;
        self.job = job;
        Ok(())
    }

    /// A handle on the job's controls (pause, resume, restart, …) sharing this engine's
    /// state and pause gate.
    pub fn control(&self) -> JobControl {
        JobControl::new(
            self.state.clone(),
            self.client.gate.clone(),
            Arc::clone(&self.skipped_while_paused),
            Arc::clone(&self.running),
        )
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
            secrets: Vec::new(),
            expression_errors: Vec::new(),
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

    /// Test connection (§1.3): look up a user, and a group when groups are provisioned,
    /// that cannot exist, by the first matching attribute; each answer must be 200 with an
    /// empty ListResponse.
    pub async fn test_connection(&mut self) -> Result<String, EngineError> {
        let mut checked = Vec::new();
        for (kind, object) in [(ResourceKind::User, &self.job.users), (ResourceKind::Group, &self.job.groups)] {
            if !object.enabled {
                continue;
            }
            let default = if kind == ResourceKind::User { "userName" } else { "displayName" };
            let attribute = object.matching().first().map(|m| m.target.clone()).unwrap_or_else(|| default.into());
            let probe = self.new_id();
            let filter =
                parse_filter(&format!("{attribute} eq \"{probe}\""), FilterLimits::default()).map_err(|e| {
                    EngineError::NotFound(format!("matching attribute '{attribute}' cannot be used in a filter: {e}"))
                })?;
            let found = self.client.find(kind, &filter.to_string()).await?;
            if !found.is_empty() {
                return Err(EngineError::NotFound(format!(
                    "GET /{}?filter={filter} returned {} resources for a random value; the endpoint ignores filters",
                    kind.endpoint(),
                    found.len()
                )));
            }
            checked.push(format!("GET {}/{}?filter={filter}", self.client.base(), kind.endpoint()));
        }
        Ok(format!("{} answered 200 with an empty ListResponse", checked.join(" and ")))
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
                )?
                .without_exchange_log();
                crate::provision::scim_source::load(&source, spec.page_size).await
            }
        }
    }

    /// Runs one user through the same code path as a cycle, recording every step (§5.10).
    pub async fn provision_on_demand(&mut self, key: &str) -> Result<OnDemandTrace, EngineError> {
        let dir = self.load_source().await?;
        let user = dir.find_user(key)?.ok_or_else(|| {
            EngineError::NotFound(format!(
                "no user '{key}' (objectId, userPrincipalName or mail) in the source directory"
            ))
        })?;
        self.cycle_id = format!("on-demand-{}", self.new_id());
        self.client.take_exchanges();
        let _tracing = self.client.trace_exchanges();
        let assigned = scope::members_of_assigned_groups(&self.job, &dir)?;
        let scope = scope::of_user(&self.job, &user, &assigned);
        let view = SourceView { object: &user, soft_deleted: !scope.in_scope() };
        let creating = self.state.link(ObjectKind::User, object_id(&user))?.is_none();
        let mut run = self.run();
        let (_, attributes, _) = run.evaluate(ResourceKind::User, &view, creating);
        // Shown per attribute in the trace; the run below evaluates again and fails on them.
        run.expression_errors.clear();
        let outcome = run.process_user(&user, &scope, false).await?;
        let (action, status) = (outcome.action, outcome.status);
        let mut log = run.log(ObjectKind::User, &user, outcome)?;
        let mut reference_run = self.run();
        if let Some(entry) = dir.user(object_id(&user)) {
            if let Some(reference) = reference_run.link_manager(&dir, entry, &assigned).await? {
                log.modified_properties.extend(reference.modified);
                log.provisioning_steps.extend(reference_run.steps);
            }
        }
        let fp = object_fingerprint(&user, scope.in_scope());
        if status != Status::Failure {
            self.state.set_watermark(ObjectKind::User, object_id(&user), &fp)?;
        }
        self.state.flush()?;
        // The requests as sent, but never a `Redact()` value (a generated password).
        let mut exchanges = self.client.take_exchanges();
        for x in &mut exchanges {
            if let Some(body) = &mut x.request {
                run.scrub_json(body);
            }
            run.scrub_json(&mut x.response);
        }
        Ok(OnDemandTrace { result: status, action, scope, attributes, log, exchanges })
    }

    /// The status document (§6.5).
    pub fn status(&self) -> Result<crate::provision::health::JobStatus, EngineError> {
        self.control().status(&self.job)
    }

    /// Pauses the job: the running cycle stops sending requests, and no cycle starts.
    pub fn pause(&self) -> Result<(), EngineError> {
        self.control().pause()
    }

    /// Graph's `start`: resumes a paused job and lifts a quarantine.
    pub fn start(&self) -> Result<(), EngineError> {
        self.control().start()
    }

    /// Resumes a paused job where it stopped.
    pub fn resume(&self) -> Result<(), EngineError> {
        self.control().resume()
    }

    /// The next cycle is initial; `clear_links` also forgets every link.
    pub fn restart(&self, clear_links: bool) -> Result<(), EngineError> {
        self.control().restart(clear_links)
    }

    /// Lets the next cycle carry out the disables/deletes the threshold held.
    pub fn allow_deletions(&self) -> Result<(), EngineError> {
        self.control().allow_deletions()
    }

    /// A group on demand, as Entra allows it (§5.10): up to five of its members first, each
    /// through the user path, then the group and its memberships. The group's trace is last.
    pub async fn provision_group_on_demand(&mut self, key: &str) -> Result<Vec<OnDemandTrace>, EngineError> {
        let dir = self.load_source().await?;
        let group = dir.find_group(key)?.ok_or_else(|| {
            EngineError::NotFound(format!("no group '{key}' (objectId or displayName) in the source directory"))
        })?;
        let members: Vec<String> =
            Directory::members(&group).into_iter().filter(|m| dir.user(m).is_some()).take(5).collect();
        let mut traces = Vec::new();
        for member in members {
            traces.push(self.provision_on_demand(&member).await?);
        }
        self.cycle_id = format!("on-demand-{}", self.new_id());
        self.client.take_exchanges();
        let _tracing = self.client.trace_exchanges();
        let scope = scope::of_group(&self.job, &group);
        let mut run = self.run();
        let outcome = run.process_group(&group, &scope, false).await?;
        let (action, status) = (outcome.action, outcome.status);
        let mut log = run.log(ObjectKind::Group, &group, outcome)?;
        let mut members_run = self.run();
        if let Some(update) = members_run.sync_members(&dir, &group).await? {
            log.modified_properties.extend(update.modified);
            log.provisioning_steps.extend(members_run.steps);
        }
        if status != Status::Failure {
            let fp = object_fingerprint(&group, scope.in_scope());
            self.state.set_watermark(ObjectKind::Group, object_id(&group), &fp)?;
        }
        self.state.flush()?;
        let exchanges = self.client.take_exchanges();
        traces.push(OnDemandTrace { result: status, action, scope, attributes: Vec::new(), log, exchanges });
        Ok(traces)
    }
}
