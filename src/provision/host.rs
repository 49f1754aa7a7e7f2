//! Jobs hosted by the server (`scimlab serve --job job.json`): each runs its cycles in the
//! background on its interval (or on the quarantine schedule), and is controlled over
//! `/admin/jobs`. The engine stays a SCIM client: a hosted job reaches its target, even this
//! very server, over HTTP.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use tokio::sync::{mpsc, oneshot};

use super::engine::{CycleReport, Engine, EngineError, JobControl, NoProgress, OnDemandTrace};
use super::health::JobStatus;
use super::log::LogEntry;
use super::state::{JobLease, PgJobStore};
use super::{Job, JobState};
use crate::clock::Clock;
use crate::postgres::PgDatabase;

/// Where hosted jobs keep their state.
pub enum JobStorage<'a> {
    /// sled under `root/<job name>`, or in memory without a root.
    Local(Option<&'a Path>),
    /// PostgreSQL shared with other replicas hosting the same jobs: one replica at a time
    /// runs a job's cycles (its [`JobLease`]), every replica answers about it.
    Shared(Arc<PgDatabase>),
}

/// How often a standby replica tries to take a job's lease: the longest a job waits for a
/// new runner after its runner died.
const LEASE_POLL: std::time::Duration = std::time::Duration::from_secs(1);

/// Hears about every finished cycle of a hosted job (the server's metrics do).
pub trait CycleObserver: Send + Sync {
    fn observe_cycle(&self, job: &str, report: &CycleReport);
}

/// A request to a job's supervisor; handled between cycles.
#[derive(Debug)]
pub enum Command {
    RunNow,
    Restart {
        clear_state: bool,
    },
    AllowDeletions,
    /// Provision one object now; the traces (members first for a group) come back on `reply`.
    OnDemand {
        subject: OnDemandSubject,
        reply: oneshot::Sender<Result<Vec<OnDemandTrace>, EngineError>>,
    },
    /// Run with this configuration from now on.
    Reconfigure {
        job: Box<Job>,
        reply: oneshot::Sender<Result<(), EngineError>>,
    },
    /// Test the connection (Entra's Test Connection) with this job's target, or with the
    /// given job's (other credentials).
    TestConnection {
        job: Option<Box<Job>>,
        reply: oneshot::Sender<Result<(), EngineError>>,
    },
}

/// What to provision on demand: a user or a group of the source directory, by any key the
/// directory knows it by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnDemandSubject {
    User(String),
    Group(String),
}

struct Hosted {
    /// The configuration the job runs with (the file's, or the Graph API's latest).
    job: Arc<RwLock<Job>>,
    state: JobState,
    control: JobControl,
    commands: mpsc::UnboundedSender<Command>,
    /// Whether this replica runs the job's cycles now (always, without a shared store).
    running_here: Arc<AtomicBool>,
}

/// The registry the admin API talks to.
#[derive(Default)]
pub struct JobHost {
    jobs: BTreeMap<String, Hosted>,
}

/// Runs one job's cycles; spawned when the server starts.
pub struct Supervisor {
    engine: Engine,
    clock: Arc<dyn Clock>,
    commands: mpsc::UnboundedReceiver<Command>,
    observer: Arc<dyn CycleObserver>,
    /// With a shared store: the lease this replica must hold to run cycles.
    lease: Option<JobLease>,
    running_here: Arc<AtomicBool>,
}

#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("no hosted job named '{0}'")]
    Unknown(String),
    #[error("the job '{0}' is not running (the server is shutting down)")]
    Stopped(String),
    #[error("the job '{0}' is paused: start or resume it, then provision on demand")]
    Paused(String),
    #[error("another replica runs the job '{0}' now: send commands to that replica (this one answers about the job, and takes it over if that replica stops)")]
    Standby(String),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl JobHost {
    /// Loads every job file, with its state where `storage` says.
    pub fn load(
        paths: &[PathBuf],
        storage: JobStorage<'_>,
        clock: Arc<dyn Clock>,
        observer: Arc<dyn CycleObserver>,
    ) -> anyhow::Result<(JobHost, Vec<Supervisor>)> {
        let mut host = JobHost::default();
        let mut supervisors = Vec::new();
        for path in paths {
            let mut job = Job::load(path)?;
            let name = job.spec.name.clone();
            if host.jobs.contains_key(&name) {
                anyhow::bail!("{}: a hosted job named '{name}' is already loaded", path.display());
            }
            let (state, lease) = match &storage {
                JobStorage::Local(Some(root)) => (JobState::open(&root.join(&name))?, None),
                JobStorage::Local(None) => (JobState::temporary()?, None),
                JobStorage::Shared(database) => (
                    JobState::with_store(Arc::new(PgJobStore::new(Arc::clone(database), &name))),
                    Some(JobLease::new(Arc::clone(database), &name)),
                ),
            };
            // A replica that must take a lease first is a standby until it holds it.
            let running_here = Arc::new(AtomicBool::new(lease.is_none()));
            if let Some(configured) = state.configuration()? {
                // Changed over the Graph API since the file was written: that wins.
                let spec = serde_json::from_value(configured).map_err(|e| {
                    anyhow::anyhow!("{}: the configuration stored by the Graph API does not load: {e}", path.display())
                })?;
                job = Job::from_spec(spec, job.base_dir.clone())?;
                tracing::warn!(job = %name, "running with the configuration last set over the Graph API, not the job file's");
            }
            let engine = Engine::new(job.clone(), state.clone(), Arc::clone(&clock), rand::random())?;
            let (tx, rx) = mpsc::unbounded_channel();
            let control = engine.control();
            if control.is_paused()? {
                // Paused before a restart: the gate closes again before any request.
                control.pause()?;
            }
            host.jobs.insert(
                name,
                Hosted {
                    job: Arc::new(RwLock::new(job)),
                    state,
                    control,
                    commands: tx,
                    running_here: Arc::clone(&running_here),
                },
            );
            supervisors.push(Supervisor {
                engine,
                clock: Arc::clone(&clock),
                commands: rx,
                observer: Arc::clone(&observer),
                lease,
                running_here,
            });
        }
        Ok((host, supervisors))
    }

    pub fn is_empty(&self) -> bool {
        self.jobs.is_empty()
    }

    fn get(&self, name: &str) -> Result<&Hosted, HostError> {
        self.jobs.get(name).ok_or_else(|| HostError::Unknown(name.to_string()))
    }

    /// The job, when this replica runs it: commands change what the runner does, so a
    /// standby replica refuses them rather than race the runner.
    fn runner(&self, name: &str) -> Result<&Hosted, HostError> {
        let hosted = self.get(name)?;
        if !hosted.running_here.load(Ordering::SeqCst) {
            return Err(HostError::Standby(name.to_string()));
        }
        Ok(hosted)
    }

    /// Whether this replica runs the job's cycles now.
    pub fn runs_here(&self, name: &str) -> Result<bool, HostError> {
        Ok(self.get(name)?.running_here.load(Ordering::SeqCst))
    }

    pub fn statuses(&self) -> Result<Vec<JobStatus>, HostError> {
        self.jobs.keys().map(|name| self.status(name)).collect()
    }

    pub fn status(&self, name: &str) -> Result<JobStatus, HostError> {
        let h = self.get(name)?;
        let mut status = h.control.status(&self.job(name)?)?;
        status.runs_here = h.running_here.load(Ordering::SeqCst);
        Ok(status)
    }

    /// The names of the hosted jobs.
    pub fn names(&self) -> Vec<String> {
        self.jobs.keys().cloned().collect()
    }

    /// Stops every request of the job at once (a cycle in progress waits where it is).
    pub fn pause(&self, name: &str) -> Result<(), HostError> {
        Ok(self.runner(name)?.control.pause()?)
    }

    /// Continues a paused job where it stopped.
    pub fn resume(&self, name: &str) -> Result<(), HostError> {
        self.runner(name)?.control.resume()?;
        self.send(name, Command::RunNow)
    }

    /// Graph's `start`: resumes, lifts a quarantine, and runs a cycle now.
    pub fn start(&self, name: &str) -> Result<(), HostError> {
        self.runner(name)?.control.start()?;
        self.send(name, Command::RunNow)
    }

    /// Hands a command to the job's supervisor (handled between cycles).
    pub fn send(&self, name: &str, command: Command) -> Result<(), HostError> {
        self.runner(name)?.commands.send(command).map_err(|_| HostError::Stopped(name.to_string()))
    }

    /// Runs one user or group through the engine now, between cycles (the engine is the
    /// job's single writer), and returns every step.
    pub async fn provision_on_demand(
        &self,
        name: &str,
        subject: OnDemandSubject,
    ) -> Result<Vec<OnDemandTrace>, HostError> {
        let hosted = self.runner(name)?;
        // A paused job's requests wait at its gate: say so instead of hanging.
        if hosted.control.requests_held() {
            return Err(HostError::Paused(name.to_string()));
        }
        let (reply, answer) = oneshot::channel();
        self.send(name, Command::OnDemand { subject, reply })?;
        Ok(answer.await.map_err(|_| HostError::Stopped(name.to_string()))??)
    }

    /// The job as it runs now (its mappings and scoping, for the admin page and Graph).
    pub fn job(&self, name: &str) -> Result<Job, HostError> {
        let hosted = self.get(name)?;
        let job = hosted.job.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        Ok(job.clone())
    }

    /// Runs the job with a changed job file from the next request on, and keeps the change
    /// in the job's state so a restarted server runs it too.
    pub async fn reconfigure(&self, name: &str, spec: super::job::JobSpec) -> Result<(), HostError> {
        let hosted = self.runner(name)?;
        let base_dir = self.job(name)?.base_dir;
        let job = Job::from_spec(spec, base_dir).map_err(|e| HostError::Invalid(e.to_string()))?;
        let (reply, answer) = oneshot::channel();
        self.send(name, Command::Reconfigure { job: Box::new(job.clone()), reply })?;
        answer.await.map_err(|_| HostError::Stopped(name.to_string()))??;
        let stored = serde_json::to_value(&job.spec).map_err(|e| HostError::Invalid(e.to_string()))?;
        hosted.state.set_configuration(Some(&stored)).map_err(EngineError::from)?;
        *hosted.job.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = job;
        Ok(())
    }

    /// Entra's Test Connection against the job's target, or against `job`'s (other
    /// credentials) when given.
    pub async fn test_connection(&self, name: &str, job: Option<Job>) -> Result<(), HostError> {
        let (reply, answer) = oneshot::channel();
        self.send(name, Command::TestConnection { job: job.map(Box::new), reply })?;
        Ok(answer.await.map_err(|_| HostError::Stopped(name.to_string()))??)
    }

    pub fn logs(&self, name: &str) -> Result<Vec<LogEntry>, HostError> {
        Ok(self.get(name)?.state.logs().map_err(EngineError::from)?)
    }

    /// Graceful shutdown: no further request leaves, and every job's state is on disk.
    pub fn shutdown(&self) {
        for (name, h) in &self.jobs {
            if let Err(e) = h.control.pause_in_memory_and_flush() {
                tracing::error!(job = %name, error = %e, "could not flush the job state");
            }
        }
    }
}

/// Returns when the lease is no longer held (checked every [`LEASE_POLL`]).
async fn lease_lost(lease: &JobLease) {
    loop {
        tokio::time::sleep(LEASE_POLL).await;
        if !matches!(lease.hold().await, Ok(true)) {
            return;
        }
    }
}

impl Supervisor {
    /// Cycles until the host goes away: one at start, then on the interval or quarantine
    /// schedule, or when a command asks.
    pub async fn run(mut self) {
        let name = self.engine.job().spec.name.clone();
        loop {
            if !self.hold_lease(&name).await {
                return;
            }
            // With a lease, the cycle runs only as long as the lease is held: a runner whose
            // lease connection died stops at once, since a standby may be starting.
            let finished = match &self.lease {
                Some(lease) => tokio::select! {
                    outcome = self.engine.run_cycle(&NoProgress) => Some(outcome),
                    _ = lease_lost(lease) => None,
                },
                None => Some(self.engine.run_cycle(&NoProgress).await),
            };
            let Some(outcome) = finished else {
                self.stand_by(&name, "the job's lease was lost during a cycle; the cycle stopped here");
                continue;
            };
            match outcome {
                Ok(report) => {
                    self.observer.observe_cycle(&name, &report);
                    tracing::info!(job = %name, "{}", super::engine::summary(&report))
                }
                Err(EngineError::Paused) => tracing::info!(job = %name, "paused; waiting for resume"),
                Err(e) => tracing::warn!(job = %name, error = %e, "cycle failed"),
            }
            let delay = self
                .engine
                .next_delay()
                .unwrap_or_else(|_| std::time::Duration::from_secs(self.engine.job().spec.options.interval_seconds));
            let due = tokio::time::Instant::now() + delay;
            // Waits for the next cycle: on-demand requests are served in the meantime and
            // do not move it; any other command makes it due now.
            loop {
                tokio::select! {
                    command = self.commands.recv() => {
                        let Some(command) = command else { return };
                        // Work that is not a cycle leaves the schedule alone.
                        let on_demand = matches!(command, Command::OnDemand { .. } | Command::TestConnection { .. });
                        self.handle(&name, command).await;
                        if !on_demand {
                            break;
                        }
                    }
                    _ = tokio::time::sleep_until(due) => break,
                }
            }
        }
    }

    /// Returns once this replica may run the job's cycles: at once without a shared store;
    /// with one, when it holds the job's lease (trying again every [`LEASE_POLL`]). False
    /// when the host went away meanwhile.
    async fn hold_lease(&mut self, name: &str) -> bool {
        let Some(lease) = &self.lease else { return true };
        loop {
            match lease.hold().await {
                Ok(true) => {
                    if !self.running_here.load(Ordering::SeqCst) {
                        // The only writer from now on: the state may be read from memory.
                        if let Err(e) = self.engine.state().hold_exclusively(true) {
                            tracing::error!(job = %name, error = %e, "cannot read the job's state; trying again");
                            tokio::time::sleep(LEASE_POLL).await;
                            continue;
                        }
                        self.running_here.store(true, Ordering::SeqCst);
                        tracing::info!(job = %name, "this replica runs the job now");
                        // Paused by the previous runner: the gate closes here too.
                        if let Err(e) = self.engine.control().is_paused().and_then(|paused| {
                            if paused {
                                self.engine.control().pause()
                            } else {
                                Ok(())
                            }
                        }) {
                            tracing::error!(job = %name, error = %e, "cannot read the job's state");
                        }
                    }
                    return true;
                }
                Ok(false) => self.stand_by(name, "another replica runs the job now"),
                Err(e) => {
                    self.stand_by(name, "the job's lease is lost");
                    tracing::warn!(job = %name, error = %e, "cannot reach the database for the job's lease");
                }
            }
            // Standby: the host refuses commands; one sent just before the lease was lost
            // is dropped here, which its sender sees as the job having stopped.
            tokio::select! {
                command = self.commands.recv() => if command.is_none() { return false },
                _ = tokio::time::sleep(LEASE_POLL) => {}
            }
        }
    }

    /// Stops being the job's runner: another replica may write its state from now on.
    fn stand_by(&self, name: &str, why: &str) {
        if self.running_here.swap(false, Ordering::SeqCst) {
            tracing::warn!(job = %name, "{why}");
        }
        if let Err(e) = self.engine.state().hold_exclusively(false) {
            tracing::error!(job = %name, error = %e, "cannot release the job's state");
        }
    }

    async fn handle(&mut self, name: &str, command: Command) {
        let result = match command {
            Command::RunNow => Ok(()),
            Command::Restart { clear_state } => self.engine.restart(clear_state),
            Command::AllowDeletions => self.engine.allow_deletions(),
            Command::OnDemand { subject, reply } => {
                let traces = match &subject {
                    OnDemandSubject::User(key) => self.engine.provision_on_demand(key).await.map(|t| vec![t]),
                    OnDemandSubject::Group(key) => self.engine.provision_group_on_demand(key).await,
                };
                // The asker may have gone (a closed page); the work is done either way.
                let _ = reply.send(traces);
                Ok(())
            }
            Command::Reconfigure { job, reply } => {
                let _ = reply.send(self.engine.reconfigure(*job));
                Ok(())
            }
            Command::TestConnection { job, reply } => {
                let result = match job {
                    None => self.engine.test_connection().await.map(|_| ()),
                    Some(job) => {
                        let probe = JobState::temporary()
                            .map_err(EngineError::from)
                            .and_then(|state| Engine::new(*job, state, Arc::clone(&self.clock), rand::random()));
                        match probe {
                            Ok(mut probe) => probe.test_connection().await.map(|_| ()),
                            Err(e) => Err(e),
                        }
                    }
                };
                let _ = reply.send(result);
                Ok(())
            }
        };
        if let Err(e) = result {
            tracing::error!(job = %name, error = %e, "command failed");
        }
    }
}
