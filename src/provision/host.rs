//! Jobs hosted by the server (`scimlab serve --job job.json`): each runs its cycles in the
//! background on its interval (or on the quarantine schedule), and is controlled over
//! `/admin/jobs`. The engine stays a SCIM client: a hosted job reaches its target, even this
//! very server, over HTTP.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use tokio::sync::{mpsc, oneshot};

use super::engine::{CycleReport, Engine, EngineError, JobControl, NoProgress, OnDemandTrace};
use super::health::JobStatus;
use super::log::LogEntry;
use super::{Job, JobState};
use crate::clock::Clock;

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
}

#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("no hosted job named '{0}'")]
    Unknown(String),
    #[error("the job '{0}' is not running (the server is shutting down)")]
    Stopped(String),
    #[error("the job '{0}' is paused: start or resume it, then provision on demand")]
    Paused(String),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl JobHost {
    /// Loads every job file; state lives under `state_root/<job name>` (or in memory).
    pub fn load(
        paths: &[PathBuf],
        state_root: Option<&Path>,
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
            let state = match state_root {
                Some(root) => JobState::open(&root.join(&name))?,
                None => JobState::temporary()?,
            };
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
            host.jobs.insert(name, Hosted { job: Arc::new(RwLock::new(job)), state, control, commands: tx });
            supervisors.push(Supervisor {
                engine,
                clock: Arc::clone(&clock),
                commands: rx,
                observer: Arc::clone(&observer),
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

    pub fn statuses(&self) -> Result<Vec<JobStatus>, HostError> {
        self.jobs.keys().map(|name| self.status(name)).collect()
    }

    pub fn status(&self, name: &str) -> Result<JobStatus, HostError> {
        let h = self.get(name)?;
        Ok(h.control.status(&self.job(name)?)?)
    }

    /// The names of the hosted jobs.
    pub fn names(&self) -> Vec<String> {
        self.jobs.keys().cloned().collect()
    }

    /// Stops every request of the job at once (a cycle in progress waits where it is).
    pub fn pause(&self, name: &str) -> Result<(), HostError> {
        Ok(self.get(name)?.control.pause()?)
    }

    /// Continues a paused job where it stopped.
    pub fn resume(&self, name: &str) -> Result<(), HostError> {
        self.get(name)?.control.resume()?;
        self.send(name, Command::RunNow)
    }

    /// Graph's `start`: resumes, lifts a quarantine, and runs a cycle now.
    pub fn start(&self, name: &str) -> Result<(), HostError> {
        self.get(name)?.control.start()?;
        self.send(name, Command::RunNow)
    }

    /// Hands a command to the job's supervisor (handled between cycles).
    pub fn send(&self, name: &str, command: Command) -> Result<(), HostError> {
        self.get(name)?.commands.send(command).map_err(|_| HostError::Stopped(name.to_string()))
    }

    /// Runs one user or group through the engine now, between cycles (the engine is the
    /// job's single writer), and returns every step.
    pub async fn provision_on_demand(
        &self,
        name: &str,
        subject: OnDemandSubject,
    ) -> Result<Vec<OnDemandTrace>, HostError> {
        let hosted = self.get(name)?;
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
        let hosted = self.get(name)?;
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

impl Supervisor {
    /// Cycles until the host goes away: one at start, then on the interval or quarantine
    /// schedule, or when a command asks.
    pub async fn run(mut self) {
        let name = self.engine.job().spec.name.clone();
        loop {
            match self.engine.run_cycle(&NoProgress).await {
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
