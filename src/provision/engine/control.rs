//! Controlling a job, in one place for the CLI and the hosted jobs of the server: pause,
//! resume, start, restart, allow deletions, and the status document (docs/entra-behaviour.md
//! §5.9, §6.5).

use super::report::CycleReport;
use super::EngineError;
use crate::client::PauseGate;
use crate::provision::health::{JobStatus, Quarantine};
use crate::provision::job::Job;
use crate::provision::state::{JobState, ObjectKind};

/// The controls of one job: its durable state and the pause gate its requests wait on.
#[derive(Clone)]
pub struct JobControl {
    state: JobState,
    gate: PauseGate,
}

impl JobControl {
    pub fn new(state: JobState, gate: PauseGate) -> JobControl {
        JobControl { state, gate }
    }

    /// The status document.
    pub fn status(&self, job: &Job) -> Result<JobStatus, EngineError> {
        status_of(job, &self.state, self.gate.is_paused())
    }

    /// Pauses the job: the running cycle stops sending requests, and no cycle starts.
    pub fn pause(&self) -> Result<(), EngineError> {
        self.gate.pause();
        self.state.set_meta("paused", "true")?;
        self.state.flush()?;
        Ok(())
    }

    /// Resumes a paused job where it stopped.
    pub fn resume(&self) -> Result<(), EngineError> {
        self.state.remove_meta("paused")?;
        self.state.flush()?;
        self.gate.resume();
        Ok(())
    }

    /// Graph's `start`: resumes a paused job and lifts a quarantine, so a cycle may run now.
    pub fn start(&self) -> Result<(), EngineError> {
        self.state.remove_meta("quarantine")?;
        self.resume()
    }

    /// Like the portal's "Restart provisioning": the next cycle is initial. Clears the
    /// watermark, escrows, quarantine and a disabled state; links stay unless `clear_links`.
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

    /// Shutdown: no further request leaves, and the state is on disk; the job is not
    /// marked paused, so it runs again after a restart.
    pub fn pause_in_memory_and_flush(&self) -> Result<(), EngineError> {
        self.gate.pause();
        Ok(self.state.flush()?)
    }

    /// Whether the state says the job is paused (a restarted process pauses its gate).
    pub fn is_paused(&self) -> Result<bool, EngineError> {
        Ok(self.state.meta("paused")?.as_deref() == Some("true"))
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
