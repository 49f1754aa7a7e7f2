//! Controlling a job, in one place for the CLI and the hosted jobs of the server: pause,
//! resume, start, restart, allow deletions, and the status document (docs/entra-behaviour.md
//! §5.9, §6.5).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::report::CycleProgress;
use super::EngineError;
use crate::client::PauseGate;
use crate::provision::health::{JobStatus, RunState};
use crate::provision::job::Job;
use crate::provision::state::{JobState, ObjectKind};

/// The controls of one job: its durable state and the pause gate its requests wait on.
#[derive(Clone)]
pub struct JobControl {
    state: JobState,
    gate: PauseGate,
    /// Cycles that were due but did not run because the job is paused (this process).
    skipped_while_paused: Arc<AtomicU64>,
    running: Arc<std::sync::Mutex<Option<CycleProgress>>>,
}

impl JobControl {
    pub(crate) fn new(
        state: JobState,
        gate: PauseGate,
        skipped_while_paused: Arc<AtomicU64>,
        running: Arc<std::sync::Mutex<Option<CycleProgress>>>,
    ) -> JobControl {
        JobControl { state, gate, skipped_while_paused, running }
    }

    /// The status document.
    pub fn status(&self, job: &Job) -> Result<JobStatus, EngineError> {
        let mut status = status_of(job, &self.state, self.gate.is_paused())?;
        status.skipped_while_paused = self.skipped_while_paused.load(Ordering::Relaxed);
        status.progress = *self.running.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        Ok(status)
    }

    /// Pauses the job: the running cycle stops sending requests, and no cycle starts.
    pub fn pause(&self) -> Result<(), EngineError> {
        self.gate.pause();
        self.state.update_meta(|m| m.paused = true)?;
        self.state.flush()?;
        Ok(())
    }

    /// Resumes a paused job where it stopped.
    pub fn resume(&self) -> Result<(), EngineError> {
        self.state.update_meta(|m| m.paused = false)?;
        self.state.flush()?;
        self.gate.resume();
        Ok(())
    }

    /// Graph's `start`: resumes a paused job and lifts a quarantine, so a cycle may run now.
    pub fn start(&self) -> Result<(), EngineError> {
        self.state.update_meta(|m| m.quarantine = None)?;
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
            self.state.update_meta(|m| {
                m.quarantine = None;
                m.disabled = None;
                m.last_error = None;
            })?;
        }
        self.state.flush()?;
        Ok(())
    }

    /// Lets the next cycle execute disables/deletes held by the deletion threshold.
    /// Graph's `resetScope: ForceDeletes`: the next cycle, due at once, carries them out.
    /// The held objects are still planned (their watermarks were not advanced), so nothing
    /// else needs to be remembered.
    pub fn allow_deletions(&self) -> Result<(), EngineError> {
        self.state.update_meta(|m| {
            m.deletions_allowed = true;
            m.quarantine = None;
        })?;
        self.state.flush()?;
        Ok(())
    }

    /// Shutdown: no further request leaves, and the state is on disk; the job is not
    /// marked paused, so it runs again after a restart.
    pub fn pause_in_memory_and_flush(&self) -> Result<(), EngineError> {
        self.gate.pause();
        Ok(self.state.flush()?)
    }

    /// Whether the job's requests are held at its gate right now (paused, or shutting down).
    pub fn requests_held(&self) -> bool {
        self.gate.is_paused()
    }

    /// Whether the state says the job is paused (a restarted process pauses its gate).
    pub fn is_paused(&self) -> Result<bool, EngineError> {
        Ok(self.state.meta()?.paused)
    }
}

/// The status document of a job from its state (§6.5); `gate_paused` is a pause requested
/// in this process that the state may not show yet.
pub fn status_of(job: &Job, state: &JobState, gate_paused: bool) -> Result<JobStatus, EngineError> {
    let meta = state.meta()?;
    let run_state = if meta.disabled.is_some() {
        RunState::Disabled
    } else if meta.paused || gate_paused {
        RunState::Paused
    } else if meta.quarantine.is_some() {
        RunState::Quarantine
    } else if meta.last_cycle.is_none() {
        RunState::NotRun
    } else {
        RunState::Active
    };
    Ok(JobStatus {
        job: job.spec.name.clone(),
        state: run_state,
        runs_here: true,
        initial_cycle_complete: meta.initial_cycle_complete,
        steady_state: meta.initial_cycle_complete && meta.last_cycle.as_ref().is_some_and(|c| c.all_failures() == 0),
        held_removals: meta.held_removals,
        last_cycle: meta.last_cycle,
        quarantine: meta.quarantine,
        escrowed: state.escrows()?.len(),
        last_error: meta.last_error,
        users: state.count_links(ObjectKind::User)?,
        groups: state.count_links(ObjectKind::Group)?,
        skipped_while_paused: 0,
        progress: None,
        statistics: meta.totals,
        last_successful_cycle_at: meta.last_successful_cycle_at,
        steady_state_at: meta.steady_state_at,
        recent_cycles: meta.recent_cycles,
        graph: crate::provision::graph::GraphIds::of(job),
    })
}
